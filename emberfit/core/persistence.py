"""The Learner's files and memory: ``save``, ``load``, ``export``, ``purge`` and ``destroy``, as fastai v1 named them.

:class:`Persistence` is a mixin of :class:`~emberfit.core.learner.Learner`; the work is done by
:mod:`emberfit.core.checkpoint` (training checkpoints) and :mod:`emberfit.core.export` (inference
exports). Where a v1 call wrote a pickle (``export('export.pkl')``, ``save`` to a ``.pth``), emberfit
writes safetensors with a JSON header under the name given, and ``export`` says so in one line.

Differences from v1, on purpose: after :meth:`Persistence.destroy` any use of the learner raises an
``AttributeError`` that says it was destroyed (v1 printed a message and returned None, which made the
next line fail far from the cause); ``device`` in :meth:`Persistence.load` changes nothing, as the
weights are copied into the model where it already lives.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import torch

from .checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from .export import export_learner, is_stream

__all__ = ["Persistence", "DestroyedLearner"]

# what a fit leaves behind that nothing needs afterwards: the last batch, its output and loss
_CACHED = ("xb", "yb", "pred", "loss", "training_dl", "_handlers", "valid_loss", "metric_values")


class DestroyedLearner:
    """What ``learn.destroy()`` leaves: the object still exists, every attribute is gone.

    >>> d = object.__new__(DestroyedLearner); d
    <destroyed Learner>
    >>> hasattr(d, 'model')
    False
    """

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            return object.__getattribute__(self, name)
        raise AttributeError(
            f"this Learner was destroyed (learn.destroy() or export(destroy=True)), so it has no {name!r} "
            "any more; build a new one, or load_learner(path, file) the one you exported"
        )

    def __repr__(self) -> str:
        return "<destroyed Learner>"


class Persistence:
    """``save`` / ``load`` training checkpoints, ``export`` for inference, and free memory (``purge``, ``destroy``)."""

    def _ckpt_path(self, name: Any) -> Any:
        if is_stream(name):
            return name
        if name is None:
            raise ValueError("give a name for the checkpoint file, e.g. learn.save('stage-1')")
        return checkpoint_path(self.path / self.model_dir, name)

    def save(
        self, file: Any = None, return_path: bool = False, with_opt: bool = True, **extra
    ) -> Path | None:
        """Save the weights (and optimizer state, RNG) to ``path/model_dir/file.safetensors``, atomically.

        ``file`` may also be a binary stream (``io.BytesIO()``). Returns None, or the file's path with
        ``return_path=True``. ``extra`` JSON values are kept in the file's header (the resume machinery
        uses them).
        """
        f = save_checkpoint(self._ckpt_path(file), self.model, self.opt, with_opt, **extra)
        return f if return_path and not is_stream(file) else None

    def load(
        self,
        file: Any = None,
        device: Any = None,
        strict: bool = True,
        with_opt: bool | None = None,
        purge: bool = False,
        remove_module: bool = False,
    ):
        """Load a checkpoint written by :meth:`save` (a name or a binary stream); returns the Learner.

        ``with_opt=None`` loads the optimizer state when the file has one; ``remove_module`` drops the
        ``module.`` prefix DataParallel/DDP models wrote; ``purge`` first calls :meth:`purge`
        (keeping the optimizer).
        """
        if purge:
            self.purge(clear_opt=False)
        self._load_state(file, with_opt, strict, remove_module)
        return self

    def _load_state(
        self, file: Any, with_opt: bool | None = None, strict: bool = True, remove_module=False
    ) -> dict:
        """Load a checkpoint and return its metadata (epoch, run length...), for resuming a run."""

        def get_opt():  # built only when the file holds optimizer state to load into it
            return self.opt if self.opt is not None else self.create_opt()

        return load_checkpoint(self._ckpt_path(file), self.model, get_opt, with_opt, strict, remove_module)

    def export(
        self, file: Any = "export.pkl", destroy: bool = False, return_path: bool = False
    ) -> Path | None:
        """Write what inference needs (weights, model spec, processors, classes) to ``path/file``, or a stream.

        The file is safetensors with a JSON header whatever its name (no pickle, nothing
        executable); a ``.pkl`` name is kept and a line says so. Rebuild the learner with
        :func:`~emberfit.core.export.load_learner`. ``destroy=True`` then calls :meth:`destroy`.
        Returns None, or the file's path with ``return_path=True``.
        """
        f = export_learner(self, file)
        if not is_stream(file) and f.suffix == ".pkl" and not self.silent:
            print(
                f"{f.name}: written as safetensors + JSON, not a pickle (emberfit never pickles); "
                f"read it back with load_learner(path, {f.name!r})"
            )
        if destroy:
            self.destroy()
        return f if return_path and f is not None else None

    def export_extra(self) -> dict:
        """Learner state an application wants back after ``load_learner`` (JSON-able values and tensors)."""
        return {}

    def restore_extra(self, state: dict) -> None:
        """Take back what :meth:`export_extra` gave (after ``load_learner``)."""

    def purge(self, clear_opt: bool = True):
        """Free memory a fit left behind: the last batch, its output and loss; returns the Learner.

        The model, data, callbacks and recorder stay. ``clear_opt`` also empties the optimizer's
        state (Adam's moving averages; the next fit starts them afresh, as after v1's purge).
        """
        for a in _CACHED:
            self.__dict__.pop(a, None)
        if clear_opt and self.opt is not None:
            self.opt.state.clear()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return self

    def destroy(self) -> None:
        """Free everything the learner holds; the object remains, unusable (see :class:`DestroyedLearner`)."""
        self.__dict__.clear()
        self.__class__ = DestroyedLearner
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        print("this Learner object self-destroyed - it still exists, but no longer usable")

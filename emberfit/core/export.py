"""Inference exports: ``learn.export()`` writes one file, :func:`load_learner` rebuilds the Learner.

The file is safetensors with a JSON header: the weights, the fitted processors and label
classes (no data), the registered name of the model factory and its JSON arguments, and the
learner's class. No pickle and nothing executable: every class the header names is looked up
in the registry (:mod:`emberfit.core.registry`). As in fastai v1 the default name is
``export.pkl``: the name is kept, the content is still safetensors. A binary stream
(``io.BytesIO``) can stand in for the file on both sides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data_block.labelling import LabelLists
from .io import (
    flatten_state,
    load_tensors,
    save_tensors,
    tensors_from_bytes,
    tensors_to_bytes,
    unflatten_state,
)
from .registry import build, lookup, registered_name

__all__ = ["export_learner", "load_learner", "is_stream"]


def is_stream(file: Any) -> bool:
    """Whether ``file`` is an open binary stream (v1's ``PathLikeOrBinaryStream``) rather than a name.

    >>> import io; is_stream(io.BytesIO()), is_stream('export.pkl')
    (True, False)
    """
    return hasattr(file, "read") or hasattr(file, "write")


def _export_file(folder: Path, file: str | Path) -> Path:
    f = Path(file)
    f = f if f.is_absolute() else folder / f
    if not f.exists() and f.suffix == ".pkl" and f.with_suffix(".safetensors").exists():
        return f.with_suffix(".safetensors")  # emberfit before 0.x wrote 'export.pkl' as 'export.safetensors'
    return f


def export_learner(learn: Any, file: Any = "export.pkl") -> Path | None:
    """Write what inference needs (weights, model spec, processors, classes) to ``learn.path/file``.

    ``file`` may be a binary stream; then nothing is written to disk and None is returned.
    """
    if learn.model_init is None:
        raise ValueError(
            "this learner's model was not built by an emberfit factory, so export cannot rebuild it; "
            "use learn.save() and rebuild the model yourself, or load_learner(..., model=...)"
        )
    lls = learn.data.label_lists
    if lls is None:
        raise ValueError("export needs data built with the data block API (the processors are saved)")
    tensors = {f"model.{k}": v for k, v in learn.model.state_dict().items()}
    data_tensors, data_meta = lls.export_state()
    tensors.update({f"data.{k}": v for k, v in data_tensors.items()})
    meta = {
        "format": "emberfit-export",
        "version": 1,
        "learner_cls": registered_name(learn),
        "model_init": learn.model_init,
        "data": data_meta,
        # tensors in export_extra() go to the safetensors body, the rest stays JSON
        "learner_state": flatten_state(learn.export_extra(), "extra", tensors),
    }
    if is_stream(file):
        file.write(tensors_to_bytes(tensors, meta))
        return None
    f = Path(file)
    return save_tensors(f if f.is_absolute() else Path(learn.path) / f, tensors, meta)


def load_learner(
    path: str | Path,
    file: Any = "export.pkl",
    test=None,
    model: nn.Module | None = None,
    device=None,
):
    """Rebuild a Learner for inference from ``learn.export()`` (CPU by default).

    ``file`` is a name in ``path`` (v1's default ``'export.pkl'``; the content is safetensors) or a
    binary stream ``learn.export`` wrote to (read from its current position, or from the start
    when that is its end). ``path`` becomes the learner's ``path``. ``test`` (an ItemList) adds a
    test set; ``model`` is a module to load the weights into instead of the one the file names.

    >>> df = pd.DataFrame({'a': [0., 1., 2., 3., 4., 5.], 'b': [1., 0., 1., 0., 1., 0.],
    ...                    'y': ['no', 'yes', 'no', 'yes', 'no', 'yes']})
    >>> data = ItemList.from_df(df, cols=['a', 'b']).split_by_idx([4, 5]).label_from_df('y').databunch(bs=2)
    >>> learn = Learner(data, MLP(2, [8], 2), silent=True)
    >>> # how export rebuilds the model (emberfit's learner factories set this for you)
    >>> learn.model_init = {'cls': 'core.MLP', 'kwargs': {'n_in': 2, 'layers': [8], 'n_out': 2}}
    >>> import io; buf = io.BytesIO()
    >>> learn.export(buf)  # or learn.export() -> learn.path/'export.pkl', then load_learner(learn.path)
    >>> learn2 = load_learner('.', buf)
    >>> learn2.data.classes
    ['no', 'yes']
    >>> row = np.array([2., 1.], dtype=np.float32)
    >>> torch.allclose(learn.predict(row)[2].cpu(), learn2.predict(row)[2])
    True
    """
    path = Path(path)
    if is_stream(file):
        f, raw = "(stream)", file.read()
        if not raw and file.seekable():  # the stream was just written: read it from the start
            file.seek(0)
            raw = file.read()
        tensors, meta = tensors_from_bytes(raw, "exported learner", f)
    else:
        f = _export_file(path, file)
        tensors, meta = load_tensors(f, what="exported learner")
    if not isinstance(meta, dict) or meta.get("format") != "emberfit-export":
        raise ValueError(f"{f} is not an emberfit export (write one with learn.export())")
    device = torch.device(device) if device is not None else torch.device("cpu")
    try:
        learn = _rebuild_learner(meta, tensors, path, device, model)
    except ValueError as e:
        raise ValueError(f"{f}: {e}") from None
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError, OverflowError) as e:
        # A damaged or tampered header: say so instead of failing deep inside a constructor.
        raise ValueError(
            f"{f}: the export's header is damaged or from an incompatible emberfit version "
            f"({type(e).__name__}: {e}); re-export it with learn.export() (nothing was loaded)"
        ) from None
    if test is not None:
        lls = learn.data.label_lists
        lls.add_test(test)
        learn.data.test_dl = lls.loaders(bs=64, val_bs=64, device=device)[2]
    return learn


def _rebuild_learner(meta: dict, tensors: dict, path: Path, device, model: nn.Module | None):
    """The Learner an export's header describes; every class it names comes from the registry."""
    learner_cls = lookup(meta.get("learner_cls"), "learner", "learner_cls")
    data_tensors = {k[5:]: v for k, v in tensors.items() if k.startswith("data.")}
    lls = LabelLists.from_export_state(data_tensors, meta["data"], path)
    data = lls.bunch_class()(None, None, device=device, path=path, label_lists=lls, allow_empty=True)
    init = meta.get("model_init")
    if model is None:
        if not isinstance(init, dict):
            raise ValueError(f"model_init must be a JSON object, got {type(init).__name__}")
        model = build(init.get("cls"), "model", init.get("kwargs"), "model_init")
        if not isinstance(model, nn.Module):
            raise ValueError(f"model_init {init.get('cls')!r} did not build a torch module")
    sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise ValueError(f"weights do not fit the rebuilt model: {e}") from None
    learn = learner_cls._for_inference(data, model)
    learn.model_init = init
    learn.restore_extra(unflatten_state(meta.get("learner_state", {}), tensors))
    learn.model.eval()
    return learn

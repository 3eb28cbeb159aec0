"""Inference exports: ``learn.export()`` writes one file, :func:`load_learner` rebuilds the Learner.

The file is safetensors with a JSON header: the weights, the fitted processors and label
classes (no data), the registered name of the model factory and its JSON arguments, and the
learner's class. No pickle and nothing executable: every class the header names is looked up
in the registry (:mod:`emberfit.core.registry`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data_block.labelling import LabelLists
from .io import flatten_state, load_tensors, save_tensors, unflatten_state
from .registry import build, lookup, registered_name

__all__ = ["export_learner", "load_learner"]


def _export_file(folder: Path, fname: str | Path) -> Path:
    f = Path(fname)
    if f.suffix == ".pkl":  # the lesson's default name; the content is still safetensors
        f = f.with_suffix(".safetensors")
    return f if f.is_absolute() else folder / f


def export_learner(learn: Any, fname: str | Path = "export.safetensors") -> Path:
    """Write what inference needs (weights, model spec, processors, classes) to ``learn.path/fname``."""
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
    return save_tensors(_export_file(learn.path, fname), tensors, meta)


def load_learner(
    path: str | Path,
    fname: str | Path = "export.safetensors",
    test=None,
    model: nn.Module | None = None,
    device=None,
):
    """Rebuild a Learner for inference from ``learn.export()`` (CPU by default).

    >>> df = pd.DataFrame({'a': [0., 1., 2., 3., 4., 5.], 'b': [1., 0., 1., 0., 1., 0.],
    ...                    'y': ['no', 'yes', 'no', 'yes', 'no', 'yes']})
    >>> data = ItemList.from_df(df, cols=['a', 'b']).split_by_idx([4, 5]).label_from_df('y').databunch(bs=2)
    >>> learn = Learner(data, MLP(2, [8], 2), silent=True)
    >>> # how export rebuilds the model (emberfit's learner factories set this for you)
    >>> learn.model_init = {'cls': 'core.MLP', 'kwargs': {'n_in': 2, 'layers': [8], 'n_out': 2}}
    >>> learn.export().name  # written in learn.path ('.' here)
    'export.safetensors'
    >>> learn2 = load_learner('.')
    >>> learn2.data.classes
    ['no', 'yes']
    >>> row = np.array([2., 1.], dtype=np.float32)
    >>> torch.allclose(learn.predict(row)[2].cpu(), learn2.predict(row)[2])
    True
    """
    path = Path(path)
    f = _export_file(path, fname)
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

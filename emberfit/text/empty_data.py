"""fastai v1's ``data.export()`` and ``load_empty``: text data without the texts, for inference.

``data.export('export.pkl')`` writes the fitted processor (vocabulary, tokenizer rules) and the
label classes, and no documents, to one file: safetensors with a JSON header whatever its name
(a ``.pkl`` name is kept, as ``learn.export`` keeps it; no pickle). ``TextClasDataBunch.load_empty(path, 'export.pkl')``
reads it back as an empty DataBunch that a learner can be built on, then
``learn.load('stage-2')`` and ``learn.predict(text)``. ``load_empty`` also reads the data part of
a ``learn.export()`` file. Every class the file names comes from emberfit's registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..core.data import DataBunch
from ..core.data_block.labelling import LabelLists
from ..core.io import load_tensors, save_tensors

__all__ = ["export_empty", "load_empty"]

_FORMAT = "emberfit-empty-data"


def _file(path: str | Path, fname: str | Path, reading: bool = False) -> Path:
    f = Path(fname)
    f = f if f.is_absolute() else Path(path) / f
    if reading and not f.exists() and f.suffix == ".pkl" and f.with_suffix(".safetensors").exists():
        return f.with_suffix(".safetensors")  # what an older emberfit wrote for 'export.pkl'
    return f


def export_empty(data: DataBunch, file: str | Path = "export.pkl") -> Path:
    """Write ``data``'s processors and classes (no items) to ``data.path/file``; returns the path written."""
    if data.label_lists is None:
        raise ValueError(
            "export needs data built with the data block API or a TextDataBunch factory (its processors are saved)"
        )
    tensors, meta = data.label_lists.export_state()
    header = {"format": _FORMAT, "version": 1, "data": meta}
    return save_tensors(_file(data.path, file), tensors, header)


def load_empty(
    cls: type[DataBunch], path: str | Path, fname: str | Path = "export.pkl", device: Any = None
) -> DataBunch:
    """The empty DataBunch in ``path/fname`` (from ``data.export()`` or ``learn.export()``), as a ``cls``."""
    f = _file(path, fname, reading=True)
    tensors, meta = load_tensors(f, what="exported data")
    if isinstance(meta, dict) and meta.get("format") == "emberfit-export":  # learn.export(): its data part
        tensors = {k[5:]: v for k, v in tensors.items() if k.startswith("data.")}
    elif not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"{f} is not exported data; write it with data.export() (or learn.export())")
    try:
        lls = LabelLists.from_export_state(tensors, meta["data"], Path(path))
    except ValueError as e:
        raise ValueError(f"{f}: {e}") from None
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError) as e:
        raise ValueError(
            f"{f}: the exported data's header is damaged or from an incompatible emberfit version "
            f"({type(e).__name__}: {e}); export it again (nothing was loaded)"
        ) from None
    device = torch.device(device) if device is not None else None
    data = lls.bunch_class()(None, None, device=device, path=Path(path), label_lists=lls, allow_empty=True)
    if not isinstance(data, cls):
        raise ValueError(
            f"{f} holds {type(data).__name__} data, not {cls.__name__}; load it with {type(data).__name__}.load_empty"
        )
    return data

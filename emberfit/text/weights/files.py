"""Reading pretrained AWD-LSTM files safely: weights (``.pth``/``.safetensors``) and vocabularies (``.pkl``/``.json``).

fast.ai's files are a ``torch.save``'d state dict (``lstm_fwd.pth``) and a pickled ``list[str]``
vocabulary (``itos_wt103.pkl``). Neither is unpickled the usual way: the ``.pth`` goes through
``torch.load(weights_only=True)`` and the ``.pkl`` through an unpickler that cannot import
anything, so it can only ever build lists and strings. emberfit's own format is a safetensors
file plus the vocabulary as a JSON list.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import torch
from torch import Tensor

from emberfit.core.io import load_tensors

__all__ = ["load_itos", "load_weights"]


class _NoImportUnpickler(pickle.Unpickler):
    # Every way a pickle can reach a callable (GLOBAL, STACK_GLOBAL, INST, OBJ, EXT*) goes through
    # find_class, so refusing it here means the file can build only lists, strings and numbers.
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(
            f"it refers to {module}.{name}; a vocabulary pickle may only hold strings"
        )

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it uses persistent ids; a vocabulary pickle may only hold strings")


def load_itos(path: str | os.PathLike) -> list[str]:
    """Read a vocabulary (a list of token strings) from a fast.ai ``.pkl`` or a JSON list, safely.

    >>> import tempfile; p = Path(tempfile.mkdtemp()) / "itos.json"; _ = p.write_text('["xxunk", "xxpad"]')
    >>> load_itos(p)
    ['xxunk', 'xxpad']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary file not found: {path}")
    if path.suffix == ".json":
        try:
            itos = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"vocabulary file {path} is not valid JSON ({e})") from None
        if isinstance(itos, dict) and "itos" in itos:
            itos = itos["itos"]
    else:
        try:
            with open(path, "rb") as f:
                itos = _NoImportUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError) as e:
            raise ValueError(f"refusing to read vocabulary pickle {path}: {e}") from None
    if not isinstance(itos, list) or not all(isinstance(s, str) for s in itos):
        what = type(itos).__name__ if not isinstance(itos, list) else "a list with non-string items"
        raise ValueError(f"vocabulary file {path} must hold a list of strings, got {what}")
    return itos


def load_weights(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a state dict from ``.pth``/``.pt`` (``torch.load(weights_only=True)``) or ``.safetensors``.

    A ``{'model': state_dict, 'opt': ...}`` checkpoint is unwrapped to its model part.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        sd, _ = load_tensors(path, what="weights file")
    else:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
            raise ValueError(
                f"cannot read weights file {path} with torch.load(weights_only=True): {type(e).__name__}: {e}"
            ) from None
        if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
            sd = sd["model"]
    if not isinstance(sd, dict) or not all(isinstance(v, Tensor) for v in sd.values()):
        raise ValueError(f"weights file {path} does not hold a state dict (a dict of tensors)")
    return dict(sd)

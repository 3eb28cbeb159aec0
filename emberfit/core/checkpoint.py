"""Training checkpoints: a model's weights, its optimizer state and the RNG, in one safetensors file.

``learn.save(name)`` and ``learn.load(name)`` call these. A checkpoint holds everything needed to
continue a run exactly (``fit_one_cycle(..., resume=name)``); an inference export is another
file, written by :mod:`emberfit.core.export`. No pickle: tensors plus a JSON header.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .distributed import is_main, unwrap
from .io import (
    flatten_state,
    load_tensors,
    save_tensors,
    tensors_from_bytes,
    tensors_to_bytes,
    unflatten_state,
)

__all__ = ["checkpoint_path", "save_checkpoint", "load_checkpoint"]


def checkpoint_path(folder: Path, name: str | Path) -> Path:
    """``folder/name.safetensors`` (an absolute ``name`` is kept as it is; the suffix is added if missing).

    >>> checkpoint_path(Path("models"), "stage-1").as_posix()
    'models/stage-1.safetensors'
    """
    name = Path(name)
    if name.suffix not in (".safetensors",):
        name = name.with_name(name.name + ".safetensors")
    return name if name.is_absolute() else folder / name


def save_checkpoint(
    f: Path | Any, model: nn.Module, opt: torch.optim.Optimizer | None, with_opt: bool = True, **extra
) -> Path | Any:
    """Write the weights (and optimizer state, RNG, ``extra`` metadata) to ``f``, atomically.

    ``f`` is a path, or a binary stream (anything with ``write``) that receives the same bytes.
    """
    if not is_main():  # under DDP only rank 0 writes
        return f
    tensors = {f"model.{k}": v for k, v in unwrap(model).state_dict().items()}
    meta: dict[str, Any] = {"format": "emberfit-checkpoint", "version": 1, **extra}
    if with_opt and opt is not None:
        meta["opt"] = flatten_state(opt.state_dict(), "opt", tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    if hasattr(f, "write"):
        f.write(tensors_to_bytes(tensors, meta))
        return f
    return save_tensors(f, tensors, meta)


def load_checkpoint(
    f: Path,
    model: nn.Module,
    get_opt: Callable[[], torch.optim.Optimizer],
    with_opt: bool | None = None,
    strict: bool = True,
    remove_module: bool = False,
) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and ``get_opt()``); returns its metadata.

    ``f`` is a path or a binary stream (anything with ``read``). The whole file is read and checked
    before the model changes, so a damaged file changes nothing. ``get_opt`` is only called when the
    file holds optimizer state to load. ``remove_module`` drops the ``module.`` prefix of weights
    saved from a DataParallel / DDP wrapper.
    """
    if hasattr(f, "read"):
        tensors, meta = tensors_from_bytes(f.read(), "checkpoint", "(stream)")
    else:
        tensors, meta = load_tensors(f, what="checkpoint")
    if not isinstance(meta, dict) or meta.get("format") != "emberfit-checkpoint":
        raise ValueError(f"{f} is not an emberfit checkpoint (written by learn.save)")
    sd = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    if remove_module:
        sd = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in sd.items()}
    opt_state = None
    if (with_opt is None or with_opt) and "opt" in meta:
        try:  # read the optimizer part before changing anything, so a bad file changes nothing
            opt_state = unflatten_state(meta["opt"], tensors)
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise ValueError(
                f"checkpoint {f}: its optimizer state is damaged ({type(e).__name__}: {e})"
            ) from None
    try:
        unwrap(model).load_state_dict(sd, strict=strict)
    except RuntimeError as e:
        raise ValueError(f"checkpoint {f} does not fit this model: {e}") from None
    if opt_state is not None:
        opt = get_opt()
        try:
            opt.load_state_dict(opt_state)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
            raise ValueError(
                f"checkpoint {f}: its optimizer state does not fit this learner ({type(e).__name__}: {e}); "
                "load the weights alone with learn.load(name, with_opt=False)"
            ) from None
    if "rng.torch" in tensors and meta.get("epoch") is not None:
        torch.set_rng_state(tensors["rng.torch"])
    return meta

"""Whether ``fit(..., resume=name)`` / ``fit_one_cycle(..., resume=name)`` can continue a checkpoint as asked.

A checkpoint written by ``SaveModelCallback(every='epoch')`` holds ``epoch`` (the last complete
one), ``n_epoch`` (the run's length) and, since this check exists, ``fit_method`` (the method that
wrote it). Resuming continues *that* run; anything else would silently train zero epochs or a
different learning-rate schedule, so it is refused before anything is loaded. Checkpoints
without ``n_epoch`` or ``fit_method`` (older ones) skip the checks they cannot make.
"""

from __future__ import annotations

import json
from pathlib import Path

from .io import META_KEY

__all__ = ["peek_meta", "resume_epoch"]


def peek_meta(path: str | Path) -> dict | None:
    """A checkpoint's metadata without reading its tensors; None when it cannot be read (``load`` will say why)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get(META_KEY, "{}"))
    except Exception:  # missing or damaged: learn.load reports it with its own clear message
        return None
    return meta if isinstance(meta, dict) else None


def resume_epoch(name: str, meta: dict, epochs: int, method: str) -> int:
    """The epoch to start at when ``method(epochs, ..., resume=name)`` continues the run in ``meta``.

    >>> resume_epoch("ckpt", {"epoch": 1, "n_epoch": 4, "fit_method": "fit_one_cycle"}, 4, "fit_one_cycle")
    2
    >>> resume_epoch("ckpt", {"epoch": 1, "n_epoch": 2}, 4, "fit_one_cycle")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: fit_one_cycle(4, resume='ckpt'): the checkpoint is from a 2-epoch cycle ...
    """
    if meta.get("epoch") is None:
        raise ValueError(f"checkpoint {name!r} has no epoch; write it with SaveModelCallback(every='epoch')")
    done = int(meta["epoch"]) + 1  # epochs completed
    n_epoch = meta.get("n_epoch")
    wrote = meta.get("fit_method")
    asked = f"{method}({epochs}, resume={name!r})"
    fresh = f"learn.load({name!r}) and then a new learn.{method}(...)"
    if wrote is not None and wrote != method:
        # the other method's learning rates differ from the next batch on
        again = f"{wrote}({n_epoch}, ..., resume={name!r})" if n_epoch else f"{wrote}(..., resume={name!r})"
        raise ValueError(
            f"{asked}: the checkpoint was written by {wrote}, whose learning-rate schedule {method} would not "
            f"continue; call {again} to finish that run, or start afresh from its weights with {fresh}"
        )
    if method == "fit_one_cycle" and n_epoch is not None and int(n_epoch) != epochs:
        # the cycle's shape depends on its length: another length is another schedule
        raise ValueError(
            f"{asked}: the checkpoint is from a {n_epoch}-epoch cycle ({done} epoch(s) done), not a "
            f"{epochs}-epoch one, so its schedule would not continue; call fit_one_cycle({n_epoch}, ..., "
            f"resume={name!r}) to finish it, or start a new cycle from its weights with {fresh}"
        )
    if done >= epochs:
        if n_epoch is not None and done < int(n_epoch):  # fit() asked for fewer epochs than were run
            raise ValueError(
                f"{asked}: the checkpoint already holds {done} epoch(s), at least the {epochs} asked for; "
                f"call fit({n_epoch}, ..., resume={name!r}) to finish its {n_epoch}-epoch run, or start "
                f"afresh from its weights with {fresh}"
            )
        held = f"all {n_epoch} epochs of its run" if n_epoch is not None else f"{done} epoch(s)"
        more = (
            f"; or ask for more in all, e.g. fit({done + 1}, ..., resume={name!r})" if method == "fit" else ""
        )
        raise ValueError(
            f"{asked}: the checkpoint already holds {held} ({done} done), so nothing is left to train; "
            f"to train on from it, use {fresh}{more}"
        )
    return done

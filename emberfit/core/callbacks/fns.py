"""``learn.callback_fns``: fastai v1's callbacks made fresh for every fit.

A v1 user lists *makers* of callbacks, not callbacks: a Callback class, a ``functools.partial`` of
one (``partial(SaveModelCallback, every='epoch')``), or any function returning one. Each fit calls
every maker once, so no state is carried from one fit to the next. v1 called each maker with the
learner; emberfit's own callbacks get the learner as ``cb.learn`` instead, so the learner is passed
only to makers whose first argument is named ``learn`` (a callback written for v1 takes it in its
``__init__``); the others are called with no argument.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .base import Callback, attach

__all__ = ["check_callback_fns", "callbacks_from_fns"]


def _takes_learner(fn: Callable) -> bool:
    """Whether ``fn``'s first positional parameter (not already bound by a partial) is the learner."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    first = next((p for p in params if p.kind in kinds), None)
    return first is not None and first.name in ("learn", "learner")


def check_callback_fns(fns: Any, where: str = "callback_fns") -> list:
    """``fns`` as a list of callback makers (None -> [], one maker -> [maker]); anything else is refused.

    >>> from functools import partial
    >>> from emberfit.core.callbacks.training import CSVLogger
    >>> [type(f).__name__ for f in check_callback_fns(partial(CSVLogger, append=True))]
    ['partial']
    """
    if fns is None:
        return []
    if callable(fns) and not isinstance(fns, Callback):
        fns = [fns]
    if isinstance(fns, (str, bytes, Callback)) or not hasattr(fns, "__iter__"):
        fns = [fns]
    out = list(fns)
    for f in out:
        if isinstance(f, Callback):
            raise TypeError(
                f"{where}: {f!r} is a callback instance, but callback_fns holds what makes one afresh "
                f"for each fit (a class or partial, e.g. partial({type(f).__name__}, ...)); "
                "pass instances with callbacks=[...] instead"
            )
        if not callable(f):
            raise TypeError(
                f"{where}: {f!r} ({type(f).__name__}) cannot make a callback; give a Callback class, a "
                "functools.partial of one, or a function returning one"
            )
    return out


def callbacks_from_fns(fns: Any, learn: Any) -> list[Callback]:
    """One fresh callback from each maker in ``fns`` for this fit of ``learn`` (see the module docstring)."""
    out = []
    for f in check_callback_fns(fns, "learn.callback_fns"):
        cb = f(learn) if _takes_learner(f) else f()
        if not isinstance(cb, Callback):
            raise TypeError(
                f"learn.callback_fns: {f!r} made {cb!r} ({type(cb).__name__}), not a Callback; each entry "
                "must build an emberfit Callback"
            )
        out.append(attach(cb, learn))
    return out

"""The Learner's positional arguments, in fastai v1's order, and what to do with a loss given third.

v1's order is ``Learner(data, model, opt_func, loss_func, metrics, true_wd, bn_wd, wd, train_bn, path,
model_dir, callback_fns, callbacks, layer_groups, add_time, silent)``. Before it followed v1, emberfit
took ``loss_func`` third; a call written that way (``Learner(data, model, F.mse_loss, metrics=...)``)
still works, with a DeprecationWarning, when the third argument is plainly a loss and no
``loss_func`` is given. With a ``loss_func`` too it is ambiguous, and a TypeError names the fix.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["looks_like_loss", "opt_and_loss"]

_PRED_NAMES = {"input", "inp", "pred", "preds", "out", "output", "outputs", "logits", "yhat", "y_pred", "x"}
_TARG_NAMES = {"target", "targ", "targs", "targets", "y", "y_true", "label", "labels", "yb"}


def looks_like_loss(f: Any) -> bool:
    """Whether ``f`` is plainly a loss, not an optimizer factory: a module instance, a
    ``torch.nn.functional`` function, or a function whose first arguments are a prediction and a target.

    >>> from torch.nn import functional as F
    >>> looks_like_loss(F.mse_loss), looks_like_loss(nn.CrossEntropyLoss()), looks_like_loss(torch.optim.SGD)
    (True, True, False)
    """
    if isinstance(f, nn.Module):
        return True
    while isinstance(f, functools.partial):
        f = f.func
    if isinstance(f, type) or not callable(f):
        return False
    if getattr(f, "__module__", None) == "torch.nn.functional":
        return True
    try:
        params = list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        return False
    return len(params) >= 2 and params[0] in _PRED_NAMES and params[1] in _TARG_NAMES


def opt_and_loss(opt_func: Callable | None, loss_func: Callable | None) -> tuple[Any, Any]:
    """``(opt_func, loss_func)`` as meant: a loss given third (emberfit's old order) moves to ``loss_func``."""
    if opt_func is None or not looks_like_loss(opt_func):
        return opt_func, loss_func
    name = getattr(opt_func, "__name__", None) or type(opt_func).__name__
    if loss_func is not None:
        raise TypeError(
            f"Learner(data, model, {name}, ...): the third positional argument is opt_func (fastai v1's "
            f"order), but {name} is a loss and loss_func={loss_func!r} is given too; pass them by keyword, "
            f"e.g. Learner(data, model, loss_func={name}, metrics=...)"
        )
    warnings.warn(
        f"Learner(data, model, {name}): the third positional argument is opt_func, as in fastai v1; "
        f"{name} is a loss, so it is used as loss_func. Write Learner(data, model, loss_func={name})",
        DeprecationWarning,
        stacklevel=3,
    )
    return None, opt_func

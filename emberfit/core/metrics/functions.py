"""fastai v1's metric functions: each is a plain ``f(pred, targ) -> tensor`` on one batch or a whole set.

In ``metrics=[...]`` the means (``accuracy``, ``fbeta``, ``mae``...) are averaged over the batches
weighted by batch size, which is exact; the others (``rmse``, ``exp_rmspe``, ``r2_score``,
``explained_variance``, ``dice``, ``foreground_acc``, ``auc_roc_score``) accumulate through the
Metric classes that compute them exactly over the whole set (see ``register_exact`` in ``base``).
Argument names are v1's, so keyword calls and ``partial(fbeta, thresh=0.2)`` work as they did.
"""

from __future__ import annotations

import types

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = [
    "accuracy",
    "error_rate",
    "accuracy_thresh",
    "top_k_accuracy",
    "fbeta",
    "dice",
    "foreground_acc",
    "mean_absolute_error",
    "mae",
    "mean_squared_error",
    "mse",
    "root_mean_squared_error",
    "rmse",
    "mean_squared_logarithmic_error",
    "msle",
    "exp_rmspe",
    "r2_score",
    "explained_variance",
    "roc_curve",
    "auc_roc_score",
]


def flatten_check(pred: Tensor, targ: Tensor) -> tuple[Tensor, Tensor]:
    """Both flattened; a ValueError when they do not hold as many values."""
    pred, targ = pred.contiguous().view(-1), targ.contiguous().view(-1)
    if pred.numel() != targ.numel():
        raise ValueError(f"predictions and targets differ in size: {pred.numel()} vs {targ.numel()}")
    return pred, targ


def accuracy(input: Tensor, targs: Tensor) -> Tensor:
    """Share of rows whose argmax is the target (works for (bs, seq, vocab) LM outputs too).

    >>> accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
    tensor(0.5000)
    """
    n = targs.shape[0]
    return (input.argmax(-1).view(n, -1) == targs.view(n, -1)).float().mean()


def error_rate(input: Tensor, targs: Tensor) -> Tensor:
    """1 - accuracy.

    >>> error_rate(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
    tensor(0.5000)
    """
    return 1 - accuracy(input, targs)


def accuracy_thresh(y_pred: Tensor, y_true: Tensor, thresh: float = 0.5, sigmoid: bool = True) -> Tensor:
    """Multi-label accuracy: share of (row, label) pairs right after thresholding.

    >>> accuracy_thresh(torch.tensor([[2., -2.], [2., 2.]]), torch.tensor([[1, 0], [0, 1]]))
    tensor(0.7500)
    """
    p = y_pred.sigmoid() if sigmoid else y_pred
    return ((p > thresh) == y_true.bool()).float().mean()


def top_k_accuracy(input: Tensor, targs: Tensor, k: int = 5) -> Tensor:
    """Share of rows whose target is among the ``k`` highest scores (all of them when ``k`` is larger).

    >>> top_k_accuracy(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]), torch.tensor([1, 0]), k=2)
    tensor(0.5000)
    """
    top = input.topk(k=min(k, input.shape[-1]), dim=-1)[1]
    return (top == targs.unsqueeze(-1)).any(-1).float().mean()


def fbeta(
    y_pred: Tensor,
    y_true: Tensor,
    thresh: float = 0.2,
    beta: float = 2,
    eps: float = 1e-9,
    sigmoid: bool = True,
) -> Tensor:
    """Multi-label F-beta of each row (after ``sigmoid`` and ``> thresh``), averaged over the rows.

    (The confusion-matrix metric for single-label classes is the class :class:`FBeta`.)

    >>> fbeta(torch.tensor([[1., 0., 1.], [0., 1., 0.]]), torch.tensor([[1, 0, 0], [0, 1, 0]]),
    ...       thresh=0.5, beta=1, sigmoid=False)
    tensor(0.8333)
    """
    b2 = beta**2
    p = y_pred.sigmoid() if sigmoid else y_pred
    p, t = (p > thresh).float(), y_true.float()
    tp = (p * t).sum(1)
    prec, rec = tp / (p.sum(1) + eps), tp / (t.sum(1) + eps)
    return ((1 + b2) * prec * rec / (b2 * prec + rec + eps)).mean()


def dice_counts(input: Tensor, targs: Tensor) -> tuple[Tensor, Tensor]:
    n = targs.shape[0]
    p, t = input.argmax(1).view(n, -1), targs.view(n, -1)
    return (p * t).sum().float(), (p + t).sum().float()


def dice_value(inter: float, union: float, iou: bool, eps: float) -> float:
    if union <= 0:
        return 1.0
    return inter / (union - inter + eps) if iou else 2.0 * inter / union


def dice(input: Tensor, targs: Tensor, iou: bool = False, eps: float = 1e-8) -> Tensor:
    """Dice coefficient (``iou=True``: intersection over union) of a binary segmentation.

    ``input`` holds class scores on dim 1; the prediction is their argmax.

    >>> logits = torch.tensor([[[[0., 1.], [1., 0.]], [[1., 0.], [0., 1.]]]])  # (1, 2 classes, 2, 2)
    >>> dice(logits, torch.tensor([[[1, 1], [0, 0]]]))
    tensor(0.5000)
    """
    inter, union = dice_counts(input, targs)
    return torch.tensor(dice_value(float(inter), float(union), iou, eps))


def foreground_acc(input: Tensor, target: Tensor, void_code: int) -> Tensor:
    """Accuracy over the pixels whose target is not ``void_code`` (``target`` may have a channel dim 1).

    >>> foreground_acc(torch.tensor([[[[0., 1.]], [[1., 0.]]]]), torch.tensor([[[[1, 0]]]]), void_code=0)
    tensor(1.)
    """
    target = target.squeeze(1)
    keep = target != void_code
    return (input.argmax(1)[keep] == target[keep]).float().mean()


def mean_absolute_error(pred: Tensor, targ: Tensor) -> Tensor:
    """Mean of ``|targ - pred|``.

    >>> mean_absolute_error(torch.tensor([1., 2., 4.]), torch.tensor([1., 3., 2.]))
    tensor(1.)
    """
    pred, targ = flatten_check(pred, targ)
    return (targ - pred).abs().mean()


def mean_squared_error(pred: Tensor, targ: Tensor) -> Tensor:
    """Mean of ``(targ - pred) ** 2``.

    >>> mean_squared_error(torch.tensor([1., 2., 4.]), torch.tensor([1., 3., 2.]))
    tensor(1.6667)
    """
    pred, targ = flatten_check(pred, targ)
    return F.mse_loss(pred.float(), targ.float())


def root_mean_squared_error(pred: Tensor, targ: Tensor) -> Tensor:
    """Square root of the mean squared error.

    >>> root_mean_squared_error(torch.tensor([1., 2., 4.]), torch.tensor([1., 3., 3.]))
    tensor(0.8165)
    """
    return mean_squared_error(pred, targ).sqrt()


def mean_squared_logarithmic_error(pred: Tensor, targ: Tensor) -> Tensor:
    """Mean squared error of ``log(1 + pred)`` against ``log(1 + targ)``.

    >>> mean_squared_logarithmic_error(torch.tensor([0., 3.]), torch.tensor([0., 0.]))
    tensor(0.9609)
    """
    pred, targ = flatten_check(pred, targ)
    return F.mse_loss(torch.log1p(pred.float()), torch.log1p(targ.float()))


def exp_rmspe(pred: Tensor, targ: Tensor) -> Tensor:
    """Root mean squared percentage error of ``exp(pred)`` vs ``exp(targ)`` (log-target regression).

    >>> exp_rmspe(torch.log(torch.tensor([90., 100.])), torch.log(torch.tensor([100., 100.])))
    tensor(0.0707)
    """
    pred, targ = flatten_check(pred, targ)
    p, t = pred.float().exp(), targ.float().exp()
    return (((t - p) / t) ** 2).mean().sqrt()


def r2_score(pred: Tensor, targ: Tensor) -> Tensor:
    """Coefficient of determination: ``1 - sum((targ - pred)**2) / sum((targ - mean(targ))**2)``.

    >>> r2_score(torch.tensor([1., 2., 2.]), torch.tensor([1., 2., 3.]))
    tensor(0.5000)
    """
    pred, targ = flatten_check(pred, targ)
    pred, targ = pred.float(), targ.float()
    return 1 - ((targ - pred) ** 2).sum() / ((targ - targ.mean()) ** 2).sum()


def explained_variance(pred: Tensor, targ: Tensor) -> Tensor:
    """``1 - var(targ - pred) / var(targ)``.

    >>> explained_variance(torch.tensor([2., 3., 4.]), torch.tensor([1., 2., 3.]))  # an offset explains all
    tensor(1.)
    """
    pred, targ = flatten_check(pred, targ)
    pred, targ = pred.float(), targ.float()
    return 1 - (targ - pred).var() / targ.var()


def roc_curve(input: Tensor, targ: Tensor) -> tuple[Tensor, Tensor]:
    """``(fpr, tpr)`` of a binary task, one point per distinct score (highest first), from (0, 0).

    >>> roc_curve(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([1, 0, 1, 0]))
    (tensor([0.0000, 0.0000, 0.5000, 0.5000, 1.0000]), tensor([0.0000, 0.5000, 0.5000, 1.0000, 1.0000]))
    """
    s, t = flatten_check(input.float(), targ)
    order = torch.argsort(s, descending=True)
    s, t = s[order], t[order].float()
    last = torch.cat([(s[1:] != s[:-1]).nonzero().view(-1), torch.tensor([len(s) - 1])])  # end of each tie
    tps = t.cumsum(0)[last]
    fps = (last + 1).float() - tps
    zero = torch.zeros(1)
    tps, fps = torch.cat([zero, tps]), torch.cat([zero, fps])
    return fps / fps[-1], tps / tps[-1]


def auc_roc_score(input: Tensor, targ: Tensor) -> Tensor:
    """Area under the ROC curve (trapezoids; a tie counts half) of scores ``input`` for 0/1 ``targ``.

    >>> auc_roc_score(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([1, 0, 1, 0]))
    tensor(0.7500)
    """
    fpr, tpr = roc_curve(input, targ)
    return torch.trapezoid(tpr, fpr)


def _alias(f: types.FunctionType, name: str) -> types.FunctionType:
    """The same function under v1's other name (its own ``__name__``, so it names its own column)."""
    g = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
    g.__kwdefaults__, g.__doc__, g.__module__ = f.__kwdefaults__, f.__doc__, f.__module__
    g.__qualname__, g.__annotations__ = name, dict(f.__annotations__)
    return g


mae = _alias(mean_absolute_error, "mae")
mse = _alias(mean_squared_error, "mse")
rmse = _alias(root_mean_squared_error, "rmse")
msle = _alias(mean_squared_logarithmic_error, "msle")

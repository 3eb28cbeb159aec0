"""The other whole-set metrics: AUROC, multi-label F-beta, perplexity, and the segmentation ones.

Each accumulates what it needs (scores, counts or sums) over the batches and computes its value once,
so it is exact over the whole validation set; the states add up (or concatenate) across DDP ranks.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from . import functions as fn
from .base import Metric, register_exact

__all__ = ["AUROC", "MultiLabelFbeta", "Perplexity", "Dice", "ForegroundAcc"]


class AUROC(Metric):
    """Area under the ROC curve of a binary task over the whole set (a tie counts half).

    The score is the softmax probability of the last class for a (n, classes) output, else the
    output itself.

    >>> m = AUROC(); m.accumulate(torch.tensor([0.9, 0.8]), torch.tensor([1, 0])); m.accumulate(torch.tensor([0.3, 0.1]), torch.tensor([1, 0]))
    >>> m.value
    0.75
    """

    name = "auroc"
    state_keys = ("scores", "targs")

    def __init__(self):
        self.reset()

    def reset(self):
        self.scores, self.targs = [], []

    def accumulate(self, pred, targ):
        pred = pred.detach().float()
        if pred.ndim > 1 and pred.shape[-1] > 1:
            s = F.softmax(pred, -1)[..., -1]
        else:
            s = pred
        self.scores.append(s.reshape(-1).cpu())
        self.targs.append(targ.detach().reshape(-1).cpu())

    @property
    def value(self):
        if not self.scores:
            return float("nan")
        t = torch.cat(self.targs)
        n_pos = int((t > 0).sum())
        if n_pos == 0 or n_pos == t.numel():
            return float("nan")
        return float(fn.auc_roc_score(torch.cat(self.scores).double(), (t > 0).long()))


class MultiLabelFbeta(Metric):
    """F-beta of multi-label predictions (``sigmoid`` then ``> thresh``) from counts over the whole set.

    ``average``: ``'micro'`` (from the total counts), ``'macro'`` (mean of the per-label scores),
    ``'weighted'`` (weighted by each label's number of targets), or ``None`` / ``'none'`` (the
    per-label scores). v1 built it as ``MultiLabelFbeta(learn, ...)``; a learner given first is ignored.

    >>> m = MultiLabelFbeta(beta=1, thresh=0.5, sigmoid=False)
    >>> m.accumulate(torch.tensor([[1., 0., 1.], [0., 1., 0.]]), torch.tensor([[1, 0, 0], [0, 1, 0]]))
    >>> round(m.value, 4)  # tp 2, predicted 3, actual 2
    0.8
    """

    name = "multi_label_fbeta"
    state_keys = ("tp", "n_pred", "n_targ")

    def __init__(self, beta=2, eps=1e-15, thresh=0.3, sigmoid=True, average="micro"):
        if not isinstance(beta, (int, float)) and hasattr(beta, "model"):  # v1's MultiLabelFbeta(learn, ...)
            beta = 2
        if average not in ("micro", "macro", "weighted", None, "none"):
            raise ValueError(f"average must be 'micro', 'macro', 'weighted' or None, got {average!r}")
        self.beta, self.eps, self.thresh, self.sigmoid = beta, eps, thresh, sigmoid
        self.average = None if average == "none" else average
        self.reset()

    def reset(self):
        self.tp = self.n_pred = self.n_targ = None

    def accumulate(self, pred, targ):
        p = pred.detach().float()
        p = (p.sigmoid() if self.sigmoid else p) > self.thresh
        p, t = (
            p.double().reshape(-1, p.shape[-1]).cpu(),
            targ.detach().double().reshape(-1, p.shape[-1]).cpu(),
        )
        counts = ((p * t).sum(0), p.sum(0), t.sum(0))
        if self.tp is None:
            self.tp, self.n_pred, self.n_targ = counts
        else:
            self.tp, self.n_pred, self.n_targ = (
                a + b for a, b in zip((self.tp, self.n_pred, self.n_targ), counts)
            )

    def _f(self, tp, n_pred, n_targ):
        b2 = self.beta**2
        prec, rec = tp / (n_pred + self.eps), tp / (n_targ + self.eps)
        return (1 + b2) * prec * rec / (b2 * prec + rec + self.eps)

    @property
    def value(self):
        if self.tp is None:
            return float("nan")
        if self.average == "micro":
            return float(self._f(self.tp.sum(), self.n_pred.sum(), self.n_targ.sum()))
        per_label = self._f(self.tp, self.n_pred, self.n_targ)
        if self.average is None:
            return per_label.float()
        if self.average == "macro":
            return float(per_label.mean())
        return float((per_label * self.n_targ).sum() / self.n_targ.sum())


class Perplexity(Metric):
    """exp(mean cross-entropy per token) over the whole set.

    >>> m = Perplexity(); m.accumulate(torch.zeros(1, 2, 4), torch.tensor([[0, 3]]))  # uniform over 4 tokens
    >>> round(m.value, 4)
    4.0
    """

    name = "perplexity"

    def __init__(self):
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def accumulate(self, pred, targ):
        self.total += float(
            F.cross_entropy(
                pred.detach().float().reshape(-1, pred.shape[-1]), targ.reshape(-1), reduction="sum"
            )
        )
        self.count += targ.numel()

    @property
    def value(self):
        return math.exp(self.total / self.count) if self.count else float("nan")


class Dice(Metric):
    """:func:`dice` (``iou=True``: intersection over union) from the whole set's counts."""

    name = "dice"
    state_keys = ("inter", "union")

    def __init__(self, iou: bool = False, eps: float = 1e-8):
        self.iou, self.eps = iou, eps
        self.reset()

    def reset(self):
        self.inter, self.union = 0.0, 0.0

    def accumulate(self, pred, targ):
        inter, union = fn.dice_counts(pred.detach(), targ.detach())
        self.inter, self.union = self.inter + float(inter), self.union + float(union)

    @property
    def value(self):
        return fn.dice_value(self.inter, self.union, self.iou, self.eps)


class ForegroundAcc(Metric):
    """:func:`foreground_acc` from the whole set's counts (pixels whose target is not ``void_code``)."""

    name = "foreground_acc"

    def __init__(self, void_code: int):
        self.void_code = void_code
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def accumulate(self, pred, targ):
        t = targ.detach().squeeze(1)
        keep = t != self.void_code
        self.total += float((pred.detach().argmax(1)[keep] == t[keep]).sum())
        self.count += int(keep.sum())

    @property
    def value(self):
        return self.total / self.count if self.count else float("nan")


register_exact(fn.auc_roc_score, AUROC)
register_exact(fn.dice, Dice)
register_exact(fn.foreground_acc, ForegroundAcc)

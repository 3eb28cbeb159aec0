"""Single-label classification metrics read off the confusion matrix accumulated over the whole set.

``ConfusionMatrix`` counts ``cm[actual, predicted]`` (prediction: the argmax of the scores; a
one-column output is a binary sigmoid score, class 1 when above ``thresh``, default 0.5). The
others are fastai v1's ``CMScores`` family with sklearn's ``average`` meanings:

* ``'binary'``: the score of class ``pos_label`` (with more than two classes v1 warned and used
  ``'macro'``; so does this);
* ``'micro'``: from the total counts (for single-label data precision = recall = F = accuracy);
* ``'macro'``: the unweighted mean of the per-class scores;
* ``'weighted'``: their mean weighted by each class's number of targets;
* ``None``: the per-class scores as a tensor.

A class that is never predicted (or never a target) scores 0 where its precision (recall) would
divide by zero.
"""

from __future__ import annotations

import math
import warnings

import torch

from .base import Metric

__all__ = ["ConfusionMatrix", "CMScores", "Precision", "Recall", "FBeta", "KappaScore", "MatthewsCorreff"]

AVERAGES = ("binary", "micro", "macro", "weighted", None)


def _predicted_classes(pred: torch.Tensor, thresh: float | None) -> tuple[torch.Tensor, int]:
    if pred.ndim > 1 and pred.shape[-1] > 1:
        return pred.argmax(-1), pred.shape[-1]
    p = pred.reshape(-1).float().sigmoid()
    return (p > (0.5 if thresh is None else thresh)).long(), 2


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return num / torch.where(den > 0, den, torch.ones_like(den))


class ConfusionMatrix(Metric):
    """``cm[actual, predicted]`` counts over the whole set; ``value`` is the matrix (a float tensor).

    >>> m = ConfusionMatrix(); m.accumulate(torch.tensor([[.9, .1], [.2, .8], [.3, .7]]), torch.tensor([0, 1, 0]))
    >>> m.value
    tensor([[1., 1.],
            [0., 1.]])
    """

    name = "confusion_matrix"
    state_keys = ("cm",)

    def __init__(self, thresh: float | None = None):
        self.thresh = thresh
        self.reset()

    def reset(self):
        self.cm: torch.Tensor | None = None

    def accumulate(self, pred, targ):
        p, n_cls = _predicted_classes(pred.detach(), self.thresh)
        t = targ.detach().long().reshape(-1).cpu()
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n_cls):
            raise ValueError(
                f"{self.name}: targets must be class indices in [0, {n_cls}), got {t.unique().tolist()}"
            )
        idx = t * n_cls + p.reshape(-1).cpu()
        cm = torch.bincount(idx, minlength=n_cls * n_cls).view(n_cls, n_cls).double()
        self.cm = cm if self.cm is None else self.cm + cm

    @property
    def value(self):
        return self.cm.float() if self.cm is not None else float("nan")


class CMScores(ConfusionMatrix):
    """Base of :class:`Precision`, :class:`Recall` and :class:`FBeta` (v1's arguments and order)."""

    def __init__(self, average: str | None = "binary", pos_label: int = 1, eps: float = 1e-9, thresh=None):
        if average not in AVERAGES:
            hint = " (beta is a keyword: FBeta(beta=1))" if isinstance(average, (int, float)) else ""
            raise ValueError(f"average must be one of {AVERAGES}, got {average!r}{hint}")
        if average == "binary" and pos_label not in (0, 1):
            raise ValueError(f"pos_label must be 0 or 1 with average='binary', got {pos_label!r}")
        self.average, self.pos_label, self.eps = average, pos_label, eps
        super().__init__(thresh)

    def _counts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """True positives, predictions and targets of each class."""
        return self.cm.diag(), self.cm.sum(0), self.cm.sum(1)

    def _kind(self) -> str | None:
        if self.average == "binary" and self.cm.shape[0] != 2:
            warnings.warn(
                f"{type(self).__name__}: average='binary' with {self.cm.shape[0]} classes; using 'macro' (as v1 did)",
                stacklevel=3,
            )
            return "macro"
        return self.average

    def _average(self, per_class: torch.Tensor, micro: float, kind: str | None):
        if kind is None:
            return per_class.float()
        if kind == "binary":
            return float(per_class[self.pos_label])
        if kind == "micro":
            return micro
        if kind == "macro":
            return float(per_class.mean())
        support = self.cm.sum(1)
        return float((per_class * support).sum() / support.sum())

    def _fbeta(self, prec, rec, beta: float):
        b2 = beta**2
        return (1 + b2) * prec * rec / (b2 * prec + rec + self.eps)

    def _score(self, which: str, beta: float = 1.0):
        if self.cm is None:
            return float("nan")
        tp, n_pred, n_targ = self._counts()
        prec, rec = _ratio(tp, n_pred), _ratio(tp, n_targ)
        micro_p = float(tp.sum() / n_pred.sum().clamp(min=1))
        micro_r = float(tp.sum() / n_targ.sum().clamp(min=1))
        per_class, micro = {
            "precision": (prec, micro_p),
            "recall": (rec, micro_r),
            "fbeta": (self._fbeta(prec, rec, beta), self._fbeta(micro_p, micro_r, beta)),
        }[which]
        return self._average(per_class, micro, self._kind())


class Precision(CMScores):
    """Precision (``tp / predicted``) over the whole set; see the module for ``average``.

    >>> m = Precision(); m.accumulate(torch.tensor([[.9, .1], [.2, .8], [.3, .7]]), torch.tensor([0, 1, 0]))
    >>> m.value  # 2 predicted class 1, 1 of them right
    0.5
    """

    name = "precision"

    @property
    def value(self):
        return self._score("precision")


class Recall(CMScores):
    """Recall (``tp / actual``) over the whole set; see the module for ``average``.

    >>> m = Recall(average='macro'); m.accumulate(torch.tensor([[.9, .1], [.2, .8], [.3, .7]]), torch.tensor([0, 1, 0]))
    >>> m.value  # class 0: 1 of 2, class 1: 1 of 1
    0.75
    """

    name = "recall"

    @property
    def value(self):
        return self._score("recall")


class FBeta(CMScores):
    """F-beta from precision and recall over the whole set (v1: ``FBeta(average, pos_label, eps, beta=2)``).

    >>> m = FBeta(beta=1); m.accumulate(torch.tensor([[.9, .1], [.2, .8], [.3, .7]]), torch.tensor([0, 1, 0]))
    >>> round(m.value, 4)  # precision 1/2, recall 1/1
    0.6667
    """

    def __init__(self, average="binary", pos_label=1, eps=1e-9, beta: float = 2, thresh=None):
        super().__init__(average, pos_label, eps, thresh)
        self.beta = beta
        self.name = "fbeta" if beta != 1 else "f1_score"

    @property
    def value(self):
        return self._score("fbeta", self.beta)


class KappaScore(ConfusionMatrix):
    """Cohen's kappa over the whole set; ``weights`` None, ``'linear'`` or ``'quadratic'`` (ordinal classes).

    >>> m = KappaScore(); m.accumulate(torch.tensor([[.9, .1], [.2, .8], [.3, .7], [.6, .4]]), torch.tensor([0, 1, 0, 1]))
    >>> m.value  # observed agreement 1/2, chance agreement 1/2
    0.0
    """

    name = "kappa_score"

    def __init__(self, weights: str | None = None, thresh=None):
        if weights not in (None, "linear", "quadratic"):
            raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
        self.weights = weights
        super().__init__(thresh)

    @property
    def value(self):
        if self.cm is None:
            return float("nan")
        n = self.cm.shape[0]
        expected = torch.outer(self.cm.sum(1), self.cm.sum(0)) / self.cm.sum()
        i = torch.arange(n, dtype=torch.double)
        dist = (i[:, None] - i[None, :]).abs()
        w = {None: (dist > 0).double(), "linear": dist, "quadratic": dist**2}[self.weights]
        den = float((w * expected).sum())
        return 1 - float((w * self.cm).sum()) / den if den > 0 else float("nan")


class MatthewsCorreff(ConfusionMatrix):
    """Matthews correlation coefficient over the whole set (the multi-class form for more than 2 classes).

    >>> m = MatthewsCorreff(); m.accumulate(torch.tensor([[.9, .1], [.2, .8], [.3, .7], [.1, .9]]), torch.tensor([0, 1, 0, 1]))
    >>> round(m.value, 4)
    0.5774
    """

    name = "matthews_correff"

    @property
    def value(self):
        if self.cm is None:
            return float("nan")
        t_sum, p_sum, n = self.cm.sum(1), self.cm.sum(0), float(self.cm.sum())
        cov_tp = float(self.cm.trace()) * n - float(t_sum @ p_sum)
        cov_pp, cov_tt = n * n - float(p_sum @ p_sum), n * n - float(t_sum @ t_sum)
        return cov_tp / math.sqrt(cov_tt * cov_pp) if cov_tt * cov_pp > 0 else 0.0

"""Metrics, computed exactly over a whole validation set (uneven last batches included).

A metric is either a plain function ``f(pred, targ) -> scalar tensor`` (its batch values are
averaged weighted by batch size) or a :class:`Metric` that accumulates what it needs and
computes once at the end (``rmse`` is the root of the total mean squared error, not a mean
of per-batch roots).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch

__all__ = [
    "Metric",
    "AvgMetric",
    "accuracy",
    "error_rate",
    "accuracy_thresh",
    "rmse",
    "mae",
    "mse",
    "exp_rmspe",
    "fbeta",
    "FBeta",
    "AUROC",
    "auroc",
    "Perplexity",
    "perplexity",
    "as_metric",
    "as_metrics",
]


class Metric:
    """Accumulates over batches; ``value`` is the metric over everything seen since ``reset``."""

    name = "metric"
    state_keys: tuple[str, ...] = ("total", "count")  # what is summed (or concatenated) across ranks

    def reset(self) -> None:
        raise NotImplementedError

    def accumulate(self, pred: torch.Tensor, targ: torch.Tensor) -> None:
        raise NotImplementedError

    @property
    def value(self) -> float:
        raise NotImplementedError


class AvgMetric(Metric):
    """Wraps ``f(pred, targ)``; the value is the batch-size-weighted mean (exact for means)."""

    def __init__(self, func: Callable):
        self.func, self.name = func, getattr(func, "__name__", "metric")
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def accumulate(self, pred, targ):
        n = targ.shape[0] if isinstance(targ, torch.Tensor) and targ.ndim else 1
        self.total += float(self.func(pred, targ)) * n
        self.count += n

    @property
    def value(self):
        return self.total / self.count if self.count else float("nan")


def merge_states(m: Metric, states: list[dict]) -> None:
    """Combine the accumulated states of the same metric from several ranks into ``m``."""
    for k in m.state_keys:
        vals = [s[k] for s in states if s.get(k) is not None]
        if not vals:
            continue
        if isinstance(vals[0], list):
            setattr(m, k, [o for v in vals for o in v])
        else:
            total = vals[0]
            for v in vals[1:]:
                total = total + v
            setattr(m, k, total)


def as_metric(m) -> Metric:
    """A Metric from a Metric instance, a Metric class, or a plain function."""
    if isinstance(m, Metric):
        return m
    if isinstance(m, type) and issubclass(m, Metric):
        return m()
    if callable(m):
        return AvgMetric(m)
    raise TypeError(f"metrics must be functions or Metric objects, got {m!r} ({type(m).__name__})")


def as_metrics(metrics) -> list[Metric]:
    """A learner's own Metric objects from None, one metric or a list of them.

    They are copies: a metric accumulates state, so two learners must not share one.

    >>> [m.name for m in as_metrics([accuracy, error_rate])]
    ['accuracy', 'error_rate']
    """
    if metrics is None:
        metrics = []
    elif callable(metrics) or isinstance(metrics, Metric):
        metrics = [metrics]
    return [copy.deepcopy(as_metric(m)) for m in metrics]


def _flat_pred(pred: torch.Tensor, targ: torch.Tensor) -> torch.Tensor:
    if pred.ndim == targ.ndim + 1 and pred.shape[-1] == 1:
        pred = pred.squeeze(-1)
    return pred


def accuracy(pred: torch.Tensor, targ: torch.Tensor) -> torch.Tensor:
    """Share of rows whose argmax is the target (works for (bs, seq, vocab) LM outputs too).

    >>> accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
    tensor(0.5000)
    """
    n = targ.shape[0]
    return (pred.argmax(-1).view(n, -1) == targ.view(n, -1)).float().mean()


def error_rate(pred: torch.Tensor, targ: torch.Tensor) -> torch.Tensor:
    """1 - accuracy."""
    return 1 - accuracy(pred, targ)


def accuracy_thresh(
    pred: torch.Tensor, targ: torch.Tensor, thresh: float = 0.5, sigmoid: bool = True
) -> torch.Tensor:
    """Multi-label accuracy: share of (row, label) pairs right after thresholding."""
    p = pred.sigmoid() if sigmoid else pred
    return ((p > thresh) == targ.bool()).float().mean()


class _SumMetric(Metric):
    def __init__(self):
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def _add(self, values: torch.Tensor):
        self.total += float(values.sum())
        self.count += values.numel()


class RMSE(_SumMetric):
    """Root mean squared error over the whole set."""

    name = "rmse"

    def accumulate(self, pred, targ):
        self._add((_flat_pred(pred, targ).float() - targ.float()) ** 2)

    @property
    def value(self):
        return math.sqrt(self.total / self.count) if self.count else float("nan")


class MAE(_SumMetric):
    """Mean absolute error over the whole set."""

    name = "mae"

    def accumulate(self, pred, targ):
        self._add((_flat_pred(pred, targ).float() - targ.float()).abs())

    @property
    def value(self):
        return self.total / self.count if self.count else float("nan")


class MSE(MAE):
    """Mean squared error over the whole set."""

    name = "mse"

    def accumulate(self, pred, targ):
        self._add((_flat_pred(pred, targ).float() - targ.float()) ** 2)


class ExpRMSPE(_SumMetric):
    """Root mean squared percentage error of ``exp(pred)`` vs ``exp(targ)`` (log-target regression)."""

    name = "exp_rmspe"

    def accumulate(self, pred, targ):
        p, t = _flat_pred(pred, targ).float().exp(), targ.float().exp()
        self._add(((t - p) / t) ** 2)

    @property
    def value(self):
        return math.sqrt(self.total / self.count) if self.count else float("nan")


# Instances are what users pass: ``metrics=[rmse]``. Each Learner copies them (see Learner).
rmse, mae, mse, exp_rmspe = RMSE(), MAE(), MSE(), ExpRMSPE()


class FBeta(Metric):
    """F-beta from the accumulated confusion counts; ``average`` 'binary' (class ``pos_label``) or 'macro'."""

    def __init__(
        self, beta: float = 2.0, average: str = "binary", pos_label: int = 1, thresh: float | None = None
    ):
        if average not in ("binary", "macro"):
            raise ValueError(f"average must be 'binary' or 'macro', got {average!r}")
        self.beta, self.average, self.pos_label, self.thresh = beta, average, pos_label, thresh
        self.name = "fbeta" if beta != 1 else "f1_score"
        self.reset()

    state_keys = ("cm",)

    def reset(self):
        self.cm: torch.Tensor | None = None

    def accumulate(self, pred, targ):
        n_cls = max(pred.shape[-1], 2) if pred.ndim > 1 else 2
        if pred.ndim > 1 and pred.shape[-1] > 1:
            p = pred.argmax(-1)
        else:
            p = (_flat_pred(pred, targ).sigmoid() > (self.thresh or 0.5)).long()
        idx = targ.long().view(-1) * n_cls + p.view(-1)
        cm = torch.bincount(idx.cpu(), minlength=n_cls * n_cls).view(n_cls, n_cls).double()
        self.cm = cm if self.cm is None else self.cm + cm

    @property
    def value(self):
        if self.cm is None:
            return float("nan")
        tp = self.cm.diag()
        prec = tp / self.cm.sum(0).clamp(min=1e-12)
        rec = tp / self.cm.sum(1).clamp(min=1e-12)
        b2 = self.beta**2
        f = (1 + b2) * prec * rec / (b2 * prec + rec).clamp(min=1e-12)
        return float(f[self.pos_label] if self.average == "binary" else f.mean())


def fbeta(beta: float = 2.0, **kwargs) -> FBeta:
    """An :class:`FBeta` metric (``metrics=[fbeta(1)]`` for F1)."""
    return FBeta(beta, **kwargs)


class AUROC(Metric):
    """Area under the ROC curve for a binary task (ties handled by average ranks)."""

    name = "auroc"
    state_keys = ("scores", "targs")

    def __init__(self):
        self.reset()

    def reset(self):
        self.scores, self.targs = [], []

    def accumulate(self, pred, targ):
        if pred.ndim > 1 and pred.shape[-1] == 2:
            s = torch.softmax(pred.float(), -1)[:, 1]
        else:
            s = _flat_pred(pred, targ).float().view(-1)
        self.scores.append(s.detach().cpu())
        self.targs.append(targ.detach().cpu().view(-1))

    @property
    def value(self):
        if not self.scores:
            return float("nan")
        s, t = torch.cat(self.scores).double(), torch.cat(self.targs).bool()
        n_pos, n_neg = int(t.sum()), int((~t).sum())
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        order = torch.argsort(s)
        ranks = torch.empty_like(s)
        ranks[order] = torch.arange(1, len(s) + 1, dtype=torch.double)
        # average ranks over ties
        uniq, inv = torch.unique(s, return_inverse=True)
        sums = torch.zeros(len(uniq), dtype=torch.double).index_add_(0, inv, ranks)
        cnts = torch.zeros(len(uniq), dtype=torch.double).index_add_(0, inv, torch.ones_like(ranks))
        ranks = (sums / cnts)[inv]
        return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


auroc = AUROC


class Perplexity(Metric):
    """exp(mean cross-entropy per token) over the whole set."""

    name = "perplexity"

    def __init__(self):
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def accumulate(self, pred, targ):
        self.total += float(
            torch.nn.functional.cross_entropy(
                pred.float().reshape(-1, pred.shape[-1]), targ.reshape(-1), reduction="sum"
            )
        )
        self.count += targ.numel()

    @property
    def value(self):
        return math.exp(self.total / self.count) if self.count else float("nan")


perplexity = Perplexity

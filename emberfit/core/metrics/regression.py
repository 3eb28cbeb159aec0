"""Regression metrics that accumulate sums, so each value is exact over the whole validation set.

``rmse`` in ``metrics=[...]`` is the root of the total mean squared error (not a mean of per-batch
roots); ``r2_score`` and ``explained_variance`` likewise use the whole set's sums. The sums are
float64 and are added across ranks under DDP.
"""

from __future__ import annotations

import math

import torch

from . import functions as fn
from .base import Metric, register_exact

__all__ = ["RMSE", "MAE", "MSE", "MSLE", "ExpRMSPE", "R2Score", "ExplainedVariance"]


def _pair(pred: torch.Tensor, targ: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    p, t = fn.flatten_check(pred.detach(), targ.detach())
    return p.double(), t.double()


def _sum(x: torch.Tensor) -> float:
    return float(x.sum())


class _SumMetric(Metric):
    """Sums of ``_terms(p, t)`` and their count; ``_finish(mean)`` turns the mean into the value."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def accumulate(self, pred, targ):
        p, t = _pair(pred, targ)
        self.total += _sum(self._terms(p, t))
        self.count += t.numel()

    def _terms(self, p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _finish(self, mean: float) -> float:
        return mean

    @property
    def value(self):
        return self._finish(self.total / self.count) if self.count else float("nan")


class MAE(_SumMetric):
    """Mean absolute error over the whole set.

    >>> m = MAE(); m.accumulate(torch.tensor([1., 2.]), torch.tensor([1., 3.])); m.accumulate(torch.tensor([4.]), torch.tensor([2.]))
    >>> m.value
    1.0
    """

    name = "mae"

    def _terms(self, p, t):
        return (t - p).abs()


class MSE(_SumMetric):
    """Mean squared error over the whole set.

    >>> m = MSE(); m.accumulate(torch.tensor([1., 2.]), torch.tensor([1., 3.])); m.accumulate(torch.tensor([4.]), torch.tensor([2.]))
    >>> round(m.value, 4)
    1.6667
    """

    name = "mse"

    def _terms(self, p, t):
        return (t - p) ** 2


class RMSE(MSE):
    """Root mean squared error over the whole set.

    >>> m = RMSE(); m.accumulate(torch.tensor([1., 2.]), torch.tensor([1., 3.])); m.accumulate(torch.tensor([4.]), torch.tensor([3.]))
    >>> round(m.value, 4)
    0.8165
    """

    name = "rmse"

    def _finish(self, mean):
        return math.sqrt(mean)


class MSLE(_SumMetric):
    """Mean squared logarithmic error (of ``log(1 + x)``) over the whole set."""

    name = "msle"

    def _terms(self, p, t):
        return (torch.log1p(t) - torch.log1p(p)) ** 2


class ExpRMSPE(_SumMetric):
    """Root mean squared percentage error of ``exp(pred)`` vs ``exp(targ)`` (log-target regression).

    >>> m = ExpRMSPE(); m.accumulate(torch.log(torch.tensor([90., 100.])), torch.log(torch.tensor([100., 100.])))
    >>> round(m.value, 4)
    0.0707
    """

    name = "exp_rmspe"

    def _terms(self, p, t):
        p, t = p.exp(), t.exp()
        return ((t - p) / t) ** 2

    def _finish(self, mean):
        return math.sqrt(mean)


class R2Score(Metric):
    """Coefficient of determination over the whole set, from sums (``1 - SS_res / SS_tot``).

    >>> m = R2Score(); m.accumulate(torch.tensor([1., 2.]), torch.tensor([1., 2.])); m.accumulate(torch.tensor([2.]), torch.tensor([3.]))
    >>> m.value
    0.5
    """

    name = "r2_score"
    state_keys = ("n", "s_t", "s_tt", "s_rr")

    def __init__(self):
        self.reset()

    def reset(self):
        self.n, self.s_t, self.s_tt, self.s_rr = 0, 0.0, 0.0, 0.0

    def accumulate(self, pred, targ):
        p, t = _pair(pred, targ)
        self.n += t.numel()
        self.s_t, self.s_tt = self.s_t + _sum(t), self.s_tt + _sum(t * t)
        self.s_rr += _sum((t - p) ** 2)

    @property
    def value(self):
        ss_tot = self.s_tt - self.s_t**2 / self.n if self.n else 0.0
        return 1 - self.s_rr / ss_tot if ss_tot > 0 else float("nan")


class ExplainedVariance(Metric):
    """``1 - var(targ - pred) / var(targ)`` over the whole set, from sums.

    >>> m = ExplainedVariance(); m.accumulate(torch.tensor([2., 3.]), torch.tensor([1., 2.])); m.accumulate(torch.tensor([4.]), torch.tensor([3.]))
    >>> m.value
    1.0
    """

    name = "explained_variance"
    state_keys = ("n", "s_t", "s_tt", "s_r", "s_rr")

    def __init__(self):
        self.reset()

    def reset(self):
        self.n, self.s_t, self.s_tt, self.s_r, self.s_rr = 0, 0.0, 0.0, 0.0, 0.0

    def accumulate(self, pred, targ):
        p, t = _pair(pred, targ)
        r = t - p
        self.n += t.numel()
        self.s_t, self.s_tt = self.s_t + _sum(t), self.s_tt + _sum(t * t)
        self.s_r, self.s_rr = self.s_r + _sum(r), self.s_rr + _sum(r * r)

    @property
    def value(self):
        if not self.n:
            return float("nan")
        var_t = self.s_tt - self.s_t**2 / self.n
        var_r = max(self.s_rr - self.s_r**2 / self.n, 0.0)
        return 1 - var_r / var_t if var_t > 0 else float("nan")


for _f, _cls in [
    (fn.mae, MAE),
    (fn.mean_absolute_error, MAE),
    (fn.mse, MSE),
    (fn.mean_squared_error, MSE),
    (fn.rmse, RMSE),
    (fn.root_mean_squared_error, RMSE),
    (fn.msle, MSLE),
    (fn.mean_squared_logarithmic_error, MSLE),
    (fn.exp_rmspe, ExpRMSPE),
    (fn.r2_score, R2Score),
    (fn.explained_variance, ExplainedVariance),
]:
    register_exact(_f, _cls)

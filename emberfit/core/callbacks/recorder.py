"""The Recorder: what a fit did, batch by batch and epoch by epoch (``learn.recorder``).

It keeps per-batch learning rates, momenta and smoothed losses, per-epoch losses, metrics and
times, stops a fit whose loss turns NaN/inf, and draws those figures (see :mod:`emberfit.core.plots`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd

from .. import plots
from ..distributed import all_sum, world_size
from .base import Callback, CancelFitException

__all__ = ["Recorder", "SmoothenValue"]


class SmoothenValue:
    """Debiased exponential moving average (beta=0.98), as the original's smoothed loss."""

    def __init__(self, beta: float = 0.98):
        self.beta, self.n, self.mov_avg = beta, 0, 0.0

    def add(self, val: float) -> float:
        self.n += 1
        self.mov_avg = self.beta * self.mov_avg + (1 - self.beta) * val
        self.smooth = self.mov_avg / (1 - self.beta**self.n)
        return self.smooth


class Recorder(Callback):
    """Records per-batch LR, momentum and smoothed loss, and per-epoch losses, metrics and times.

    It also guards against a NaN/inf loss: training stops before the bad step is taken
    (the check runs after backward, before the optimizer step),
    with a message naming the epoch and batch (``recorder.nan_at``).

    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # (bs, 2) -> (bs,)
    >>> learn = Learner(data, model, loss_func=F.mse_loss, silent=True)
    >>> learn.fit(2, 1e-2)
    >>> rec = learn.recorder  # each fit gets a fresh one
    >>> len(rec.losses), len(rec.lrs), len(rec.val_losses)  # per batch, per batch, per epoch
    (6, 6, 2)
    >>> list(rec.history().columns)
    ['epoch', 'train_loss', 'valid_loss', 'time']
    """

    order = -10
    name = "recorder"

    def __init__(self):
        self.lrs: list[float] = []
        self.moms: list[float] = []
        self.losses: list[float] = []  # smoothed
        self.raw_losses: list[float] = []
        self.nb_batches: list[int] = []
        self.val_losses: list[float] = []
        self.metrics: list[list[float]] = []
        self.epoch_times: list[float] = []
        self.train_losses: list[float] = []  # reported train_loss per epoch
        self.nan_at: tuple[int, int] | None = None
        self.suggested_lr: float | None = None
        self.min_grad_lr: float | None = None  # v1's name for the suggested LR

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.learn.metrics]

    @property
    def add_time(self) -> bool:
        """Whether the results table has v1's ``time`` column (``Learner(add_time=False)`` drops it)."""
        return getattr(self.learn, "add_time", True)

    @property
    def names(self) -> list[str]:
        return [
            "epoch",
            "train_loss",
            "valid_loss",
            *self.metrics_names,
            *(["time"] if self.add_time else []),
        ]

    def before_fit(self):
        self.smooth = SmoothenValue()
        self.nan_at = None

    def before_epoch(self):
        self.t0 = time.perf_counter()
        self.n_batches = 0

    def after_backward(self):
        # Checked after every after_loss callback (which may change the loss) and before
        # the optimizer step, so a non-finite loss never reaches the weights.
        loss = self.learn.loss.detach().item()
        if not math.isfinite(loss):
            self.nan_at = (self.learn.epoch, self.learn.iter)
            self.learn.stop_reason = (
                f"training stopped: the loss is {loss} at epoch {self.learn.epoch}, batch {self.learn.iter}; "
                "the weights are those of the last good step (lower the learning rate, or check the data "
                "for NaN/inf values)"
            )
            raise CancelFitException(self.learn.stop_reason)
        self.raw_losses.append(loss)
        self.losses.append(self.smooth.add(loss))
        g = self.learn.opt.param_groups[-1]
        self.lrs.append(g["lr"])
        self.moms.append(g["betas"][0] if "betas" in g else g.get("momentum", 0.0))
        self.n_batches += 1

    def after_validate(self):
        self.val_losses.append(self.learn.valid_loss)
        self.metrics.append(list(self.learn.metric_values))

    def after_epoch(self):
        self.nb_batches.append(self.n_batches)
        self.epoch_times.append(time.perf_counter() - self.t0)
        local = self.smooth.smooth if self.smooth.n else float("nan")
        ws = world_size()
        self.train_losses.append(all_sum([local])[0] / ws if ws > 1 else local)

    def epoch_row(self, i: int = -1) -> list[Any]:
        """One row of the results table: epoch, train_loss, valid_loss, metrics..., time."""
        val = self.val_losses[i] if self.val_losses else None
        mets = self.metrics[i] if self.metrics else [None] * len(self.metrics_names)
        t = self.epoch_times[i]
        row = [self.learn.epoch, self.train_losses[i], val, *mets]
        return [*row, f"{int(t // 60):02d}:{int(t % 60):02d}"] if self.add_time else row

    def history(self) -> pd.DataFrame:
        """All epochs of this recorder as a DataFrame."""
        rows = []
        for i in range(len(self.epoch_times)):
            val = self.val_losses[i] if i < len(self.val_losses) else None
            mets = self.metrics[i] if i < len(self.metrics) else [None] * len(self.metrics_names)
            rows.append(
                [i, self.train_losses[i], val, *mets, *([self.epoch_times[i]] if self.add_time else [])]
            )
        return pd.DataFrame(rows, columns=self.names)

    # the figures are drawn in core/plots.py; these are fastai v1's entry points and arguments
    def plot(
        self,
        skip_start: int = 10,
        skip_end: int = 5,
        suggestion: bool = False,
        return_fig: bool | None = None,
    ):
        """Loss against learning rate (log scale) after ``lr_find``; draws it and returns None (the figure with ``return_fig``).

        ``suggestion=True`` marks the suggested LR on the curve, prints it and keeps it in
        ``recorder.min_grad_lr`` (the rule: :mod:`emberfit.core.lr_suggest`).
        """
        return plots.plot_lr_find(self, skip_start, skip_end, suggestion, return_fig)

    def plot_losses(self, skip_start: int = 0, skip_end: int = 0, return_fig: bool | None = None):
        """Training (smoothed, per batch) and validation (per epoch) losses."""
        return plots.plot_losses(self, skip_start, skip_end, return_fig)

    def plot_lr(
        self, show_moms: bool = False, skip_start: int = 0, skip_end: int = 0, return_fig: bool | None = None
    ):
        """Learning rate (and momentum with ``show_moms``) per batch."""
        return plots.plot_lr(self, show_moms, skip_start, skip_end, return_fig)

    def plot_metrics(self, skip_start: int = 0, skip_end: int = 0, return_fig: bool | None = None):
        """Each metric at the end of each epoch."""
        return plots.plot_metrics(self, skip_start, skip_end, return_fig)

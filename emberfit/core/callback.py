"""Callbacks: the fixed list of events of the ``fit`` loop, the Recorder and the progress display.

Events, in the order the loop fires them (see ``Learner._fit``)::

    before_fit
      before_epoch
        before_batch -> after_pred -> after_loss -> after_backward -> after_batch   (each training batch)
        before_validate
          before_batch -> after_pred -> after_loss -> after_batch                   (each validation batch)
        after_validate
      after_epoch
    after_fit

A callback reads and writes the learner's state (``learn.xb``, ``learn.pred``, ``learn.loss``,
``learn.epoch``, ``learn.iter``, ``learn.training``...). To stop early it raises
:class:`CancelFitException` (the loop still runs ``after_fit``). Only the events a callback
overrides are called, so idle callbacks cost nothing per batch.
"""

from __future__ import annotations

import inspect
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .data import in_notebook

if TYPE_CHECKING:
    from .learner import Learner

__all__ = [
    "EVENTS",
    "Callback",
    "CancelFitException",
    "Recorder",
    "ProgressBar",
    "SmoothenValue",
    "as_callback",
    "as_callbacks",
]

EVENTS = (
    "before_fit",
    "before_epoch",
    "before_batch",
    "after_pred",
    "after_loss",
    "after_backward",
    "after_batch",
    "before_validate",
    "after_validate",
    "after_epoch",
    "after_fit",
)


class CancelFitException(Exception):
    """Raised by a callback to end ``fit`` cleanly."""


class Callback:
    """Base class: override any of the events in :data:`EVENTS`; ``order`` sorts callbacks."""

    order = 0
    name: str | None = None  # if set, the learner exposes the callback as ``learn.<name>``
    learn: Learner

    def before_fit(self): ...
    def before_epoch(self): ...
    def before_batch(self): ...
    def after_pred(self): ...
    def after_loss(self): ...
    def after_backward(self): ...
    def after_batch(self): ...
    def before_validate(self): ...
    def after_validate(self): ...
    def after_epoch(self): ...
    def after_fit(self): ...

    def handlers(self) -> dict[str, Any]:
        """The events this callback actually overrides, as bound methods."""
        return {e: getattr(self, e) for e in EVENTS if getattr(type(self), e) is not getattr(Callback, e)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def as_callback(cb: Any, where: str = "callbacks") -> Callback:
    """``cb`` as a Callback instance: instances pass, a Callback class that needs no arguments is built.

    fastai v1 took classes (``callback_fns``) and v2 instances, so both are accepted; anything
    else fails here, naming it, instead of deep inside ``fit``.

    >>> as_callback(Recorder)
    Recorder()
    """
    if isinstance(cb, Callback):
        return cb
    if isinstance(cb, type) and issubclass(cb, Callback):
        needed = _required_args(cb)
        if needed:
            example = ", ".join(f"{a}=..." for a in needed)
            raise TypeError(
                f"{where}: got the class {cb.__name__}, which needs arguments ({', '.join(needed)}); "
                f"pass an instance instead, e.g. {cb.__name__}({example})"
            )
        return cb()
    raise TypeError(
        f"{where}: expected a Callback instance (or a Callback class), got {cb!r} ({type(cb).__name__}); "
        "callbacks subclass emberfit.core.callback.Callback, e.g. SaveModelCallback(every='epoch')"
    )


def as_callbacks(cbs: Any, where: str = "callbacks") -> list[Callback]:
    """A list of Callback instances from None, one callback, or an iterable of them (see :func:`as_callback`)."""
    if cbs is None:
        return []
    if isinstance(cbs, (Callback, type)):  # one callback given without a list
        return [as_callback(cbs, where)]
    if isinstance(cbs, (str, bytes)) or not hasattr(cbs, "__iter__"):
        raise TypeError(f"{where} must be a list of Callback instances, got {cbs!r} ({type(cbs).__name__})")
    return [as_callback(cb, where) for cb in cbs]


def _required_args(cls: type) -> list[str]:
    """Names of the constructor arguments of ``cls`` that have no default."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: assume it can be built bare
        return []
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return [p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]


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

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.learn.metrics]

    @property
    def names(self) -> list[str]:
        return ["epoch", "train_loss", "valid_loss", *self.metrics_names, "time"]

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
        from .distributed import all_sum, world_size

        local = self.smooth.smooth if self.smooth.n else float("nan")
        ws = world_size()
        self.train_losses.append(all_sum([local])[0] / ws if ws > 1 else local)

    def epoch_row(self, i: int = -1) -> list[Any]:
        """One row of the results table: epoch, train_loss, valid_loss, metrics..., time."""
        val = self.val_losses[i] if self.val_losses else None
        mets = self.metrics[i] if self.metrics else [None] * len(self.metrics_names)
        t = self.epoch_times[i]
        return [self.learn.epoch, self.train_losses[i], val, *mets, f"{int(t // 60):02d}:{int(t % 60):02d}"]

    def history(self) -> pd.DataFrame:
        """All epochs of this recorder as a DataFrame."""
        rows = []
        for i in range(len(self.epoch_times)):
            val = self.val_losses[i] if i < len(self.val_losses) else None
            mets = self.metrics[i] if i < len(self.metrics) else [None] * len(self.metrics_names)
            rows.append([i, self.train_losses[i], val, *mets, self.epoch_times[i]])
        return pd.DataFrame(rows, columns=self.names)

    # plots live in plots.py; these are the lesson's entry points
    def plot(self, skip_start: int = 10, skip_end: int = 5, suggestion: bool = True, **kwargs):
        """Loss against learning rate (log scale) after ``lr_find``; returns the suggested LR."""
        from .plots import plot_lr_find

        return plot_lr_find(self, skip_start, skip_end, suggestion, **kwargs)

    def plot_losses(self, skip_start: int = 0, **kwargs):
        """Training (smoothed, per batch) and validation (per epoch) losses."""
        from .plots import plot_losses

        return plot_losses(self, skip_start, **kwargs)

    def plot_lr(self, show_moms: bool = False, **kwargs):
        """Learning rate (and momentum) per batch."""
        from .plots import plot_lr

        return plot_lr(self, show_moms, **kwargs)

    def plot_metrics(self, **kwargs):
        """Each metric per epoch."""
        from .plots import plot_metrics

        return plot_metrics(self, **kwargs)


def _fmt(v: Any) -> str:
    if v is None:
        return "#na#"
    if isinstance(v, float):
        return f"{v:.6f}" if math.isfinite(v) else str(v)
    return str(v)


class ProgressBar(Callback):
    """Progress bars over epochs and batches (tqdm: terminal or live in Jupyter) and the results table."""

    order = 10
    name = "progress"

    def __init__(self, show_batches: bool | None = None):
        self.show_batches = show_batches

    def before_fit(self):
        from tqdm.auto import tqdm

        self.tqdm = tqdm
        self.rows: list[list[str]] = []
        self.nb = in_notebook()
        self.handle = None
        self.header_printed = False
        # disable=None: bars only where they can render (a terminal or a notebook), not in CI logs.
        disable = None if self.show_batches is None else not self.show_batches
        self.disable = disable
        self.ebar = None

    def before_epoch(self):
        if self.learn.training_dl is None:
            return
        self.bar = self.tqdm(
            total=len(self.learn.training_dl),
            leave=False,
            disable=self.disable,
            desc=f"epoch {self.learn.epoch}",
            mininterval=0.25,
        )
        self.count = 0

    def after_batch(self):
        if self.learn.training:
            self.count += 1
            if self.count % 8 == 0:  # tqdm.update is cheap but not free; batch it
                self.bar.update(8)

    def before_validate(self):
        self.bar.update(self.count % 8)

    def after_epoch(self):
        self.bar.close()
        rec = self.learn.recorder
        row = [_fmt(v) for v in rec.epoch_row()]
        self.rows.append(row)
        if self.nb:
            from IPython.display import HTML, display

            df = pd.DataFrame(self.rows, columns=rec.names)
            html = df.to_html(index=False)
            if self.handle is None:
                self.handle = display(HTML(html), display_id=True)
            else:
                self.handle.update(HTML(html))
        else:
            widths = [max(len(n), 9) for n in rec.names]
            if not self.header_printed:
                self.tqdm.write("  ".join(n.ljust(w) for n, w in zip(rec.names, widths)))
                self.header_printed = True
            self.tqdm.write("  ".join(v.ljust(w) for v, w in zip(row, widths)))

    def after_fit(self):
        if getattr(self, "bar", None) is not None:
            self.bar.close()
        reason = getattr(self.learn, "stop_reason", None)
        if reason:
            self.tqdm.write(reason)


def _np(a) -> np.ndarray:
    return np.asarray(a, dtype=float)

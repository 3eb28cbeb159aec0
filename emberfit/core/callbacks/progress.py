"""The progress display of a fit: the results table, a row per epoch as it ends, and a bar over the batches.

Where it draws depends on where the output goes (:func:`emberfit.core.reporting.output_mode`):

* in a Jupyter kernel, one live HTML output (a bar over the epochs, the table, a bar over the
  batches), updated in place; it renders in Jupyter, JupyterLab and VS Code with no extension;
* in a terminal, tqdm bars on stdout and the table's lines above them;
* in a log (stdout is a file or a pipe), plain lines flushed as they happen: the table's rows as
  epochs end, and a line on the batches every ``log_every`` seconds in a long epoch.

:mod:`.progress_views` holds the three views.
"""

from __future__ import annotations

import math
from typing import Any

from ..reporting import output_mode
from .base import Callback
from .progress_views import VIEWS

__all__ = ["ProgressBar"]


def _fmt(v: Any) -> str:
    if v is None:
        return "#na#"
    if isinstance(v, float):
        return f"{v:.6f}" if math.isfinite(v) else str(v)
    return str(v)


class ProgressBar(Callback):
    """The results table (epoch, train_loss, valid_loss, metrics, time) and progress over the batches.

    ``show_batches=False`` keeps only the table (no bars, no batch lines). ``log_every``: seconds
    between the batch lines in a log (None: none). The Learner adds one to each fit unless it is
    ``silent`` (or a ProgressBar was given).

    >>> import torch; from emberfit.core import DataBunch, Learner
    >>> x, y = torch.randn(32, 2), torch.randn(32, 1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device="cpu")
    >>> learn = Learner(data, torch.nn.Linear(2, 1), loss_func=torch.nn.functional.mse_loss, silent=True)
    >>> learn.fit(2, 1e-2, callbacks=[ProgressBar(show_batches=False)])  # doctest: +ELLIPSIS
    epoch      train_loss  valid_loss  time
    0          ...
    1          ...
    """

    order = 10
    name = "progress"

    def __init__(self, show_batches: bool | None = None, log_every: float | None = 10.0):
        self.show_batches, self.log_every = show_batches, log_every

    def before_fit(self):
        learn = self.learn
        view = VIEWS[output_mode()]
        bars = self.show_batches is not False
        self.view = view(learn.recorder.names, learn.n_epoch, bars, self.log_every)

    def before_epoch(self):
        dl = self.learn.training_dl
        if dl is not None:
            self.view.phase(f"epoch {self.learn.epoch + 1}/{self.learn.n_epoch}", len(dl))

    def after_batch(self):
        learn = self.learn
        if learn.training:
            losses = learn.recorder.losses
            self.view.step(losses[-1] if losses else None)
        else:
            self.view.step(None)

    def before_validate(self):
        learn = self.learn
        dl = learn.data.valid_dl
        if dl is not None and not learn.skip_validate:
            self.view.phase("validating", len(dl))

    def after_epoch(self):
        self.view.row([_fmt(v) for v in self.learn.recorder.epoch_row()])

    def after_fit(self):
        self.view.close(getattr(self.learn, "stop_reason", None))

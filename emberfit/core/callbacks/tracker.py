"""Callbacks that watch one recorded value each epoch and act on it (fastai v1's ``callbacks.tracker``).

:class:`TrackerCallback` keeps the best value of ``monitor`` so far; :class:`EarlyStoppingCallback`
stops training, :class:`SaveModelCallback` saves the model and :class:`ReduceLROnPlateauCallback`
lowers the learning rate when it stops improving.

Each is built in one of two ways:

* emberfit's, without the learner: ``SaveModelCallback(every='epoch', name='ckpt')`` in
  ``callbacks=[...]``;
* fastai v1's, with the learner first: ``SaveModelCallback(learn, every='improvement', name='best')``,
  or ``partial(EarlyStoppingCallback, monitor='accuracy', patience=3)`` in ``callback_fns`` (which
  passes the learner). Built this way a callback has v1's meaning where the two differ: a
  ``patience`` of ``p`` acts after ``p + 1`` epochs without improvement (v1 counted ``wait > patience``;
  default 0), where emberfit's form acts after ``p`` (default 1); ``SaveModelCallback(learn,
  every='epoch', name='m')`` writes ``m_0``, ``m_1``... (v1), where emberfit's form keeps one ``m``
  with what ``resume=`` needs; and they print v1's lines (``Better model found at epoch 0 with
  valid_loss value: ...``, ``Epoch 3: early stopping``) unless the learner is ``silent``.

``mode='auto'`` minimizes losses, errors, ``rmse``, ``mae`` and ``perplexity`` and maximizes the rest
(v1 minimized only names containing 'loss'). A ``monitor`` that is not recorded is a ValueError
naming the recorded ones (v1 warned and did nothing).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import CancelFitException
from .v1_events import LearnerCallback, _default

__all__ = [
    "TrackerCallback",
    "EarlyStoppingCallback",
    "SaveModelCallback",
    "ReduceLROnPlateauCallback",
    "EarlyStopping",
    "SaveModel",
]

_MIN_NAMES = ("rmse", "mae", "mse", "perplexity")


def _auto_mode(monitor: str) -> str:
    return "min" if ("loss" in monitor or "error" in monitor or monitor in _MIN_NAMES) else "max"


class TrackerCallback(LearnerCallback):
    """Keeps ``best``, the best value of ``monitor`` so far this fit (v1's base of the tracking callbacks).

    ``get_monitor_value()`` reads this epoch's value (None without a validation set); ``operator``
    is ``np.less`` or ``np.greater`` per ``mode``, as in v1, so a v1 subclass runs as written.

    >>> class PrintBest(TrackerCallback):
    ...     def after_epoch(self):
    ...         v = self.get_monitor_value()
    ...         if self.operator(v, self.best):
    ...             self.best = v
    ...             print('new best at epoch', self.learn.epoch)
    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> learn = Learner(data, nn.Sequential(nn.Linear(2, 1), nn.Flatten(0)), loss_func=F.mse_loss, silent=True)
    >>> learn.fit(1, 1e-2, callbacks=[PrintBest(learn, monitor='valid_loss')])
    new best at epoch 0
    """

    def __init__(self, learn: Any = None, monitor: str = "valid_loss", mode: str = "auto"):
        name = type(self).__name__
        if isinstance(learn, str):
            raise TypeError(
                f"{name}({learn!r}): the first argument is the learner (fastai v1's form); pass the "
                f"value to watch by keyword: {name}(monitor={learn!r}, ...) or {name}(learn, monitor={learn!r})"
            )
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"{name}(monitor=...): expected the name of a recorded value, got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{name}(mode=...): expected 'auto', 'min' or 'max', got {mode!r}")
        super().__init__(learn)
        self.v1 = learn is not None  # built as in v1 (the learner first): v1's meaning where they differ
        self.monitor = monitor
        self.mode = _auto_mode(monitor) if mode == "auto" else mode
        self.operator = np.less if self.mode == "min" else np.greater

    def before_fit(self):
        self.best = math.inf if self.mode == "min" else -math.inf

    @_default
    def on_train_begin(self, **kwargs):  # v1 subclasses call it through super()
        self.before_fit()

    def get_monitor_value(self) -> float | None:
        """This epoch's value of ``monitor`` (None when it was not computed, e.g. no validation set)."""
        rec = self.learn.recorder
        names = ["train_loss", "valid_loss", *rec.metrics_names]
        if self.monitor not in names:
            raise ValueError(f"monitor={self.monitor!r} is not recorded; choose one of {names}")
        v = rec.epoch_row()[1 + names.index(self.monitor)]
        return None if v is None else float(v)

    def _better(self, v: float, min_delta: float = 0.0) -> bool:
        """Whether ``v`` beats ``best`` by more than ``min_delta``."""
        return bool(self.operator(v - min_delta if self.mode == "max" else v + min_delta, self.best))

    def _patience_limit(self, patience: int | None, what: str) -> int:
        """Epochs without improvement before acting: ``patience + 1`` in v1's form, ``patience`` in emberfit's."""
        if patience is None:
            patience = 0 if self.v1 else 1
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"{what}(patience=...): expected an int >= 0, got {patience!r}")
        self.patience = patience
        return patience + 1 if self.v1 else max(1, patience)

    def _say(self, line: str) -> None:
        if self.v1 and not getattr(self.learn, "silent", False):
            print(line)


class EarlyStoppingCallback(TrackerCallback):
    """Stops training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With the learner first (v1's form) it stops after ``patience + 1`` such epochs, as v1 did.

    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # (bs, 2) -> (bs,)
    >>> learn = Learner(data, model, loss_func=F.mse_loss, silent=True)
    >>> # valid_loss never improves by 100 here, so it stops once patience (1 epoch) runs out
    >>> stop = EarlyStoppingCallback(monitor='valid_loss', min_delta=100., patience=1)
    >>> learn.fit(10, 1e-2, callbacks=[stop])
    >>> len(learn.recorder.val_losses)
    2
    >>> learn.stop_reason
    'early stop: valid_loss did not improve for 1 epoch(s)'
    >>> learn.fit(10, 1e-2, callbacks=[EarlyStoppingCallback(learn, min_delta=100., patience=1)])  # v1's form
    >>> len(learn.recorder.val_losses)  # the first epoch sets the best, two more do not beat it
    3
    """

    order = 25

    def __init__(
        self,
        learn: Any = None,
        monitor: str = "valid_loss",
        mode: str = "auto",
        min_delta: float = 0.0,
        patience: int | None = None,
    ):
        super().__init__(learn, monitor, mode)
        self.min_delta = abs(min_delta)
        self.limit = self._patience_limit(patience, "EarlyStoppingCallback")

    def before_fit(self):
        super().before_fit()
        self.wait = 0

    def after_epoch(self):
        v = self.get_monitor_value()
        if v is None:
            return
        if self._better(v, self.min_delta):
            self.best, self.wait = v, 0
            return
        self.wait += 1
        if self.wait >= self.limit:
            learn = self.learn
            learn.stop_reason = f"early stop: {self.monitor} did not improve for {self.wait} epoch(s)"
            self._say(f"Epoch {learn.epoch}: early stopping")
            raise CancelFitException()


class SaveModelCallback(TrackerCallback):
    """Saves checkpoints atomically: ``every='improvement'`` (best ``monitor``, reloaded at the end) or ``'epoch'``.

    ``every='epoch'`` writes ``name`` after each epoch with the epoch number, optimizer and RNG
    state, so ``learn.fit_one_cycle(..., resume=name)`` continues an interrupted run exactly. With
    the learner first (v1's form) it writes ``name_0``, ``name_1``... instead, as v1 did.

    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # (bs, 2) -> (bs,)
    >>> learn = Learner(data, model, loss_func=F.mse_loss, silent=True)
    >>> learn.fit(2, 1e-2, callbacks=[SaveModelCallback(monitor='valid_loss', name='best')])
    >>> sorted(p.name for p in Path('models').iterdir())  # in learn.path: the best epoch, reloaded at the end
    ['best.safetensors']
    >>> # every epoch, with the optimizer state: an interrupted run continues with fit(..., resume='last')
    >>> learn.fit(2, 1e-2, callbacks=[SaveModelCallback(every='epoch', name='last')])
    >>> Path('models/last.safetensors').exists()
    True
    >>> learn.fit(2, 1e-2, callbacks=[SaveModelCallback(learn, every='epoch', name='v1')])  # v1's form
    >>> sorted(p.name for p in Path('models').glob('v1_*'))
    ['v1_0.safetensors', 'v1_1.safetensors']
    """

    order = 30

    def __init__(
        self,
        learn: Any = None,
        monitor: str = "valid_loss",
        mode: str = "auto",
        every: str = "improvement",
        name: str = "bestmodel",
        with_opt: bool = True,
    ):
        if every not in ("improvement", "epoch"):
            raise ValueError(
                f"SaveModelCallback(every=...): expected 'improvement' or 'epoch', got {every!r}"
            )
        if not isinstance(name, str) or not name:
            raise TypeError(f"SaveModelCallback(name=...): expected a file name, got {name!r}")
        super().__init__(learn, monitor, mode)
        self.every, self.name, self.with_opt = every, name, with_opt
        self.saved = False

    def after_epoch(self):
        learn = self.learn
        if self.every == "epoch":
            self._save(f"{self.name}_{learn.epoch}" if self.v1 else self.name)
            return
        v = self.get_monitor_value()
        if v is not None and self._better(v):
            self._say(f"Better model found at epoch {learn.epoch} with {self.monitor} value: {v}.")
            self.best = v
            self._save(self.name)

    def _save(self, name: str) -> None:
        learn = self.learn
        # the run's length and method let resume= refuse what would not continue this run
        run = {"n_epoch": learn.n_epoch, "fit_method": getattr(learn, "fit_method", None)}
        learn.save(name, with_opt=self.with_opt, epoch=learn.epoch, **run)
        self.saved = True

    def after_fit(self):
        if self.every == "improvement" and self.saved and self.learn.recorder.nan_at is None:
            self.learn.load(self.name, with_opt=False)


class ReduceLROnPlateauCallback(TrackerCallback):
    """Multiplies every learning rate by ``factor`` (not below ``min_lr``) when ``monitor`` stops improving.

    It acts after ``patience`` epochs without an improvement of ``min_delta`` (``patience + 1`` with
    the learner first, as v1), then waits again. Use it with ``fit``: ``fit_one_cycle`` sets the
    learning rate at every batch, so a change would not last (as in v1). The layer groups keep their
    ratios (v1 set every group to the last group's new rate).

    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> learn = Learner(data, nn.Sequential(nn.Linear(2, 1), nn.Flatten(0)), loss_func=F.mse_loss, silent=True)
    >>> # valid_loss never improves by 100: the LR drops 10x after each of the 2 epochs after the first
    >>> learn.fit(3, 1e-2, callbacks=[ReduceLROnPlateauCallback(min_delta=100., factor=0.1, min_lr=1e-6)])
    >>> round(learn.opt.param_groups[-1]['lr'], 6)
    0.0001
    """

    order = 20

    def __init__(
        self,
        learn: Any = None,
        monitor: str = "valid_loss",
        mode: str = "auto",
        patience: int | None = None,
        factor: float = 0.2,
        min_delta: float = 0.0,
        min_lr: float = 0.001,
    ):
        super().__init__(learn, monitor, mode)
        if not 0 < factor < 1:
            raise ValueError(
                f"ReduceLROnPlateauCallback(factor=...): expected 0 < factor < 1, got {factor!r}"
            )
        if min_lr < 0:
            raise ValueError(f"ReduceLROnPlateauCallback(min_lr=...): expected >= 0, got {min_lr!r}")
        self.factor, self.min_delta, self.min_lr = factor, abs(min_delta), min_lr
        self.limit = self._patience_limit(patience, "ReduceLROnPlateauCallback")

    def before_fit(self):
        super().before_fit()
        self.wait = 0

    def after_epoch(self):
        v = self.get_monitor_value()
        if v is None:
            return
        if self._better(v, self.min_delta):
            self.best, self.wait = v, 0
            return
        groups = self.learn.opt.param_groups
        if groups[-1]["lr"] <= self.min_lr:
            return
        self.wait += 1
        if self.wait >= self.limit:
            for g in groups:
                g["lr"] = float(max(self.min_lr, g["lr"] * self.factor))
            self.wait = 0
            self._say(f"Epoch {self.learn.epoch}: reducing lr to {groups[-1]['lr']}")


# Short names used in the issue and in v2.
EarlyStopping = EarlyStoppingCallback
SaveModel = SaveModelCallback

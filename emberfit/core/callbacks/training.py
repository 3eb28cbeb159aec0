"""The training callbacks: the one-cycle schedule, the LR finder, gradient clipping and the CSV log of
the results table. Early stopping and checkpoints live in :mod:`.tracker` (still importable from here)."""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import numpy as np
import torch

from ..distributed import unwrap
from ..schedule import OneCycleSchedule, annealing_exp
from .base import Callback, CancelFitException
from .recorder import SmoothenValue
from .tracker import EarlyStopping, EarlyStoppingCallback, SaveModel, SaveModelCallback  # their home before

__all__ = [
    "OneCycleScheduler",
    "LRFinder",
    "GradientClipping",
    "EarlyStoppingCallback",
    "SaveModelCallback",
    "CSVLogger",
    "EarlyStopping",
    "SaveModel",
]


class OneCycleScheduler(Callback):
    """Sets LR and momentum every training batch from a :class:`OneCycleSchedule`.

    ``start_epoch`` resumes the schedule where an interrupted run stopped.
    """

    order = -5

    def __init__(
        self, max_lr, moms=(0.95, 0.85), div_factor=25.0, pct_start=0.3, final_div=None, start_epoch=0
    ):
        self.max_lr, self.moms, self.div_factor = max_lr, moms, div_factor
        self.pct_start, self.final_div, self.start_epoch = pct_start, final_div, start_epoch

    def before_fit(self):
        n_per_epoch = len(self.learn.data.train_dl)
        self.sched = OneCycleSchedule(
            n_per_epoch * self.learn.n_epoch,
            self.max_lr,
            self.moms,
            self.div_factor,
            self.pct_start,
            self.final_div,
        )
        self.k = n_per_epoch * self.start_epoch
        # The whole schedule at once: per batch only a table lookup and a few dict writes.
        self.lrs, self.moms = self.sched.table()
        self.groups = [(g, g.get("layer_group", 0), "betas" in g) for g in self.learn.opt.param_groups]

    def before_batch(self):
        if self.learn.training:
            k = min(self.k, len(self.lrs) - 1)
            row, mom = self.lrs[k], None if self.moms is None else self.moms[k]
            for g, i, has_betas in self.groups:
                g["lr"] = row[i] if len(row) > 1 else row[0]
                if mom is not None:
                    if has_betas:
                        g["betas"] = (mom, g["betas"][1])
                    elif "momentum" in g:
                        g["momentum"] = mom

    def after_batch(self):
        if self.learn.training:
            self.k += 1


class LRFinder(Callback):
    """Raises the LR exponentially from ``start_lr`` to ``end_lr`` over ``num_it`` batches, then restores everything.

    Stops early when the smoothed loss exceeds 4x its minimum (``stop_div``) or is not finite.
    The model's weights and buffers, the optimizer (or its absence) and the RNG state are
    put back exactly as they were.
    """

    order = -5

    def __init__(self, start_lr, end_lr, num_it: int = 100, stop_div: bool = True):
        self.start_lr, self.end_lr = np.asarray(start_lr, float), np.asarray(end_lr, float)
        self.num_it, self.stop_div = num_it, stop_div

    def before_fit(self):
        learn = self.learn
        self.saved_model = {k: v.detach().clone() for k, v in learn.model.state_dict().items()}
        self.saved_opt = copy.deepcopy(learn.opt.state_dict()) if learn._opt_existed else None
        self.rng = torch.get_rng_state()
        learn.skip_validate = True
        self.i, self.best = 0, math.inf
        self.smooth = SmoothenValue()

    def before_batch(self):
        if self.learn.training:
            lr = annealing_exp(self.start_lr, self.end_lr, self.i / max(1, self.num_it - 1))
            self.learn.set_hypers(lr=lr)

    def after_loss(self):
        if not self.learn.training:
            return
        loss = self.learn.loss.detach().item()
        smooth = self.smooth.add(loss) if math.isfinite(loss) else math.inf
        if self.stop_div and (not math.isfinite(smooth) or smooth > 4 * self.best):
            raise CancelFitException()
        self.best = min(self.best, smooth)

    def after_batch(self):
        if self.learn.training:
            self.i += 1
            if self.i >= self.num_it:
                raise CancelFitException()

    def after_fit(self):
        learn = self.learn
        learn.skip_validate = False
        learn.model.load_state_dict(self.saved_model)
        if self.saved_opt is None:
            learn.opt = None
        else:
            learn.opt.load_state_dict(self.saved_opt)
        torch.set_rng_state(self.rng)
        if hasattr(learn.model, "reset"):
            unwrap(learn.model).reset()


class GradientClipping(Callback):
    """Clips the global gradient norm to ``clip`` after each backward pass.

    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # (bs, 2) -> (bs,)
    >>> learn = Learner(data, model, loss_func=F.mse_loss, silent=True)
    >>> learn.fit(1, 1e-2, callbacks=[GradientClipping(clip=0.1)])  # gradient norm <= 0.1 at every step
    >>> len(learn.recorder.losses)
    3
    """

    def __init__(self, clip: float = 0.1):
        if clip <= 0:
            raise ValueError(f"clip must be > 0, got {clip}")
        self.clip = clip

    def after_backward(self):
        learn = self.learn
        if learn.grad_scaler is not None:
            learn.grad_scaler.unscale_(learn.opt)
        torch.nn.utils.clip_grad_norm_(learn.trainable_params(), self.clip)


class CSVLogger(Callback):
    """Appends each epoch's row of the results table to ``learn.path/filename``.

    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # (bs, 2) -> (bs,)
    >>> learn = Learner(data, model, loss_func=F.mse_loss, silent=True)
    >>> learn.fit(2, 1e-2, callbacks=[CSVLogger('history.csv')])
    >>> log = pd.read_csv('history.csv')  # in learn.path ('.' here)
    >>> list(log.columns), len(log)
    (['epoch', 'train_loss', 'valid_loss', 'time'], 2)
    """

    order = 5

    def __init__(self, filename: str = "history.csv", append: bool = False):
        self.filename, self.append = filename, append

    def before_fit(self):
        self.path = Path(self.learn.path) / self.filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not (self.append and self.path.exists())
        self.f = open(self.path, "a" if self.append else "w", newline="")
        self.w = csv.writer(self.f)
        if new:
            self.w.writerow(self.learn.recorder.names)

    def after_epoch(self):
        self.w.writerow(self.learn.recorder.epoch_row())
        self.f.flush()

    def after_fit(self):
        self.f.close()

"""The callbacks a pretraining run adds to its fit: mid-epoch checkpoints and the progress lines (tokens/s, ETA)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ...core.callbacks.base import Callback, CancelFitException
from ...core.distributed import all_sum, is_main, world_size
from .settings import CKPT

__all__ = ["TimedCheckpoint", "PretrainProgress"]


class TimedCheckpoint(Callback):
    """Writes the checkpoint every ``minutes`` in the middle of an epoch (resuming restarts that epoch)."""

    order = 31  # after SaveModelCallback

    def __init__(self, minutes: float, name: str = CKPT):
        self.seconds, self.name = minutes * 60, name

    def before_fit(self):
        self.last = time.monotonic()

    def after_batch(self):
        if self.learn.training and time.monotonic() - self.last >= self.seconds:
            learn = self.learn
            # epoch - 1: the last *complete* epoch, so that --resume restarts this one
            learn.save(self.name, epoch=learn.epoch - 1, n_epoch=learn.n_epoch, mid_epoch=learn.epoch)
            self.last = time.monotonic()

    def after_epoch(self):
        self.last = time.monotonic()


class PretrainProgress(Callback):
    """Prints tokens/s, the smoothed loss, elapsed time and the ETA every ``every`` seconds (rank 0)."""

    order = 40

    def __init__(
        self, every: float = 30.0, log: Callable = print, deadline: float | None = None, start_epoch: int = 0
    ):
        self.every, self.log, self.deadline, self.start_epoch = every, log, deadline, start_epoch
        self.t0 = self.t1 = 0.0  # nothing counted until a fit starts (a finished run resumes without one)
        self.tokens, self.batches, self.valid_s = 0, 0, []

    def before_fit(self):
        self.t0 = self.last = self.t1 = time.perf_counter()
        self.tokens, self.batches, self.valid_s = 0, 0, []
        self.todo = (self.learn.n_epoch - self.start_epoch) * len(self.learn.data.train_dl)

    @property
    def train_seconds(self) -> float:
        """Seconds spent training (validation excluded)."""
        return self.t1 - self.t0 - sum(self.valid_s)

    def after_batch(self):
        learn = self.learn
        if not learn.training:
            return
        self.tokens += learn.xb.numel() * world_size()
        self.batches += 1
        now = self.t1 = time.perf_counter()
        # every rank must stop at the same batch (DDP): decide together, every 16 batches
        if (
            self.deadline is not None
            and self.batches % 16 == 0
            and all_sum([float(now > self.deadline)])[0] > 0
        ):
            learn.stop_reason = "time budget used up: training stopped early"
            raise CancelFitException(learn.stop_reason)
        if now - self.last >= self.every and is_main():
            self.last = now
            el = now - self.t0 - sum(self.valid_s)
            rate = self.batches / max(el, 1e-9)
            eta = (self.todo - self.batches) / rate + self._valid_eta()
            loss = learn.recorder.losses[-1] if learn.recorder.losses else float("nan")
            self.log(
                f"epoch {learn.epoch + 1}/{learn.n_epoch} batch {learn.iter + 1}/{len(learn.data.train_dl)}"
                f" | {self.tokens / max(el, 1e-9):,.0f} tokens/s | loss {loss:.3f}"
                f" | elapsed {_mmss(now - self.t0)} | ETA {_mmss(eta)}",
                flush=True,
            )

    def _valid_eta(self) -> float:
        left = self.learn.n_epoch - self.learn.epoch - (0 if self.learn.training else 1)
        return (np.mean(self.valid_s) if self.valid_s else 0.0) * left

    def before_validate(self):
        self.tv = time.perf_counter()

    def after_validate(self):
        self.valid_s.append(time.perf_counter() - self.tv)
        self.t1 = time.perf_counter()


def _mmss(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"

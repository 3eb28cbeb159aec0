"""Sizing a pretraining run: measure the training speed, pick the precision, plan epochs and batches to a budget.

A plan is ``{"epochs", "batches_per_epoch", "full_epoch_batches", "valid_batches"}``; it is
stored in ``run.json`` so that ``--resume`` continues the same run. When less than a full pass
fits, each epoch reads only its first batches (:class:`FirstBatches`), a fresh random share of
the shuffled corpus.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

import torch

from ...core.callbacks.base import Callback
from ...core.callbacks.precision import cpu_has_fast_bf16
from ...core.distributed import all_sum, rank, unwrap, world_size
from ..language_learner import LanguageLearner
from .settings import PretrainSettings

__all__ = ["FirstBatches", "measure_speed", "choose_precision", "plan_epochs", "plan_run", "apply_plan"]


class FirstBatches:
    """The first ``n`` batches of each epoch of a loader: a fresh random share of the corpus each epoch.

    >>> import numpy as np
    >>> from emberfit.text.loaders import LMLoader
    >>> dl = FirstBatches(LMLoader(np.arange(50), np.array([0, 50]), bs=2, bptt=5), 2)
    >>> len(dl), len(list(dl))
    (2, 2)
    """

    def __init__(self, dl, n: int):
        self.dl, self.n = dl, int(n)
        self.backwards = getattr(dl, "backwards", False)
        self.order = None

    def __len__(self) -> int:
        return min(self.n, len(self.dl))

    def __iter__(self):
        return itertools.islice(iter(self.dl), len(self))

    def shard(self, rank: int, world_size: int) -> FirstBatches:
        return FirstBatches(self.dl.shard(rank, world_size), self.n)


class _BatchTimer(Callback):
    """Times the training batches after the first ``skip`` (warm-up) ones, for :func:`measure_speed`."""

    order = 50

    def __init__(self, skip: int):
        self.skip, self.t0, self.n = skip, None, 0

    def before_batch(self):
        if self.learn.training and self.learn.iter == self.skip:
            _sync(self.learn)
            self.t0 = time.perf_counter()

    def after_batch(self):
        # the clock stops at the last batch: end-of-fit work is not per-batch cost
        if self.learn.training and self.t0 is not None:
            self.n += 1
            _sync(self.learn)
            self.t1 = time.perf_counter()


def _sync(learn) -> None:
    # CUDA runs asynchronously: wait for the queued work before reading the clock
    if learn.data.device.type == "cuda":
        torch.cuda.synchronize()


def measure_speed(learn: LanguageLearner, n_batches: int = 12, lr: float = 1e-4) -> tuple[float, float]:
    """Seconds per training batch and per validation batch, from a few real steps; the weights and RNG are restored."""
    model, data = unwrap(learn.model), learn.data
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if data.device.type == "cuda" else None
    train_dl, silent = data.train_dl, learn.silent
    skip = min(3, n_batches // 3)
    timer = _BatchTimer(skip)
    try:
        data.train_dl, learn.silent, learn.skip_validate = FirstBatches(train_dl, n_batches), True, True
        learn.fit(1, lr, callbacks=[timer])
        t_train = (timer.t1 - timer.t0) / max(timer.n, 1)
        vdl = FirstBatches(data.valid_dl, max(2, n_batches // 2))
        _sync(learn)
        t0 = time.perf_counter()
        learn.validate(dl=vdl.shard(rank(), world_size()) if world_size() > 1 else vdl)
        _sync(learn)
        t_valid = (time.perf_counter() - t0) / len(vdl)
    finally:
        data.train_dl, learn.silent, learn.skip_validate = train_dl, silent, False
        model.load_state_dict(saved)
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        learn.opt = None
    ws = world_size()
    t_train, t_valid = (v / ws for v in all_sum([t_train, t_valid])) if ws > 1 else (t_train, t_valid)
    return t_train, t_valid


def plan_epochs(
    s: PretrainSettings,
    n_full: int,
    t_batch: float | None,
    t_valid: float,
    n_valid: int,
    seconds: float | None,
    extra_valid: int = 1,
):
    """(epochs, batches per epoch) for the settings, a full epoch of ``n_full`` batches and the measured speed.

    ``extra_valid``: validation passes after training (the per-corpus perplexities).
    """
    total = (s.epochs or 1) * n_full
    if s.max_tokens is not None:
        total = min(total, math.ceil(s.max_tokens / (s.bs * s.bptt)))
    if seconds is not None:
        cap = (s.epochs * n_full) if s.epochs else math.inf
        epochs = 1
        for _ in range(4):  # more epochs mean more validations: settle the count
            fit = (seconds - (epochs + extra_valid) * t_valid * n_valid) / t_batch
            total = max(1, int(min(cap, fit)))
            epochs = s.epochs or max(1, math.ceil(total / n_full))
    epochs = s.epochs or max(1, math.ceil(total / n_full))
    return epochs, max(1, min(n_full, math.ceil(total / epochs)))


def choose_precision(learn, precision: str, log: Callable) -> tuple[str, tuple | None]:
    """Apply a precision; ``fastest`` (GPU) times bf16 and fp16 on a few batches and keeps the faster.

    Returns the precision and, when measured, its ``measure_speed`` result.
    """
    dev = learn.data.device
    if precision == "fastest" and dev.type == "cuda":
        speeds = {}
        for p in ("bf16", "fp16"):
            choose_precision(learn, p, log)
            try:
                speeds[p] = measure_speed(learn)
            except RuntimeError as e:  # e.g. a cuDNN without bf16 RNNs
                log(f"{p}: not usable here ({str(e)[:80]})", flush=True)
        if not speeds:
            raise RuntimeError("neither bf16 nor fp16 training works on this GPU; use precision='fp32'")
        best = min(speeds, key=lambda p: speeds[p][0])
        log(
            "precision: "
            + ", ".join(f"{p} {1 / t[0]:.1f} batches/s" for p, t in speeds.items())
            + f" -> {best}"
        )
        return choose_precision(learn, best, log)[0], speeds[best]
    if precision in ("auto", "fastest"):
        if dev.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:  # bf16 only where the CPU multiplies it natively; emulated it is slower than fp32
            precision = "bf16" if cpu_has_fast_bf16() else "fp32"
    {"bf16": learn.to_bf16, "fp16": learn.to_fp16, "fp32": learn.to_fp32}[precision]()
    return precision, None


def plan_run(
    learn: LanguageLearner,
    s: PretrainSettings,
    run: dict | None,
    speed: tuple | None,
    extra_valid: int,
    t_start: float,
    log: Callable,
) -> dict:
    """The plan of a run: the resumed run's own, or sized to the settings (and, with a time budget, to the speed).

    ``speed``: ``measure_speed``'s result when the precision choice already measured it;
    ``extra_valid``: validation passes after training (the per-corpus perplexities).
    """
    data = learn.data
    n_full, valid_batches = len(data.train_dl), len(data.valid_dl)
    if run is not None and "plan" in run:
        epochs, per_epoch = run["plan"]["epochs"], run["plan"]["batches_per_epoch"]
        valid_batches = min(valid_batches, run["plan"].get("valid_batches", valid_batches))
    else:
        t_batch = t_valid = None
        seconds = None
        if s.time_budget is not None:
            t_batch, t_valid = speed or measure_speed(learn)
            seconds = s.time_budget * 60 * 0.97 - (time.perf_counter() - t_start)
            log(
                f"measured {s.bs * s.bptt / t_batch:,.0f} tokens/s training; planning {seconds:.0f} s",
                flush=True,
            )
        if seconds is not None:
            # a big held-out set must not eat the budget: validation gets at most a tenth of it
            passes = (s.epochs or 2) + extra_valid
            valid_batches = min(valid_batches, max(4, int(0.1 * seconds / (passes * t_valid))))
        epochs, per_epoch = plan_epochs(
            s, n_full, t_batch, t_valid or 0.0, valid_batches, seconds, extra_valid
        )
    return {
        "epochs": epochs,
        "batches_per_epoch": per_epoch,
        "full_epoch_batches": n_full,
        "valid_batches": valid_batches,
    }


def apply_plan(data, plan: dict, log: Callable) -> None:
    """Cut the loaders of ``data`` to the plan's batches per epoch and validation batches."""
    if plan["batches_per_epoch"] < plan["full_epoch_batches"]:
        data.train_dl = FirstBatches(data.train_dl, plan["batches_per_epoch"])
    valid_batches = plan["valid_batches"]
    if valid_batches < len(data.valid_dl):
        log(
            f"validation limited to the first {valid_batches:,} of {len(data.valid_dl):,} held-out batches "
            "(a tenth of the time budget)",
            flush=True,
        )
        data.valid_dl = FirstBatches(data.valid_dl, valid_batches)

"""``emberfit pretrain``: train your own AWD-LSTM language model on your own text.

    emberfit pretrain --corpus books/ reviews.csv.gz --out my_lm --preset small --epochs 2

reads the corpora (see :mod:`emberfit.text.corpus` for the formats), tokenizes them with the
cached tokenizer, builds the vocabulary, and trains with ``fit_one_cycle``, gradient clipping
and, on a GPU, bf16 (or fp16) mixed precision. It writes to ``--out``:

* ``lm.safetensors`` and ``itos.json``: load them with
  ``language_model_learner(data, AWD_LSTM, config=<the preset>, pretrained_fnames=(weights, itos))``;
* ``model_card.json``: corpus, tokens, epochs, final validation perplexity, preset and settings;
* ``checkpoints/``: ``checkpoint.safetensors`` (atomic, after every epoch and every
  ``--checkpoint-minutes``) and ``run.json`` (the settings and the plan).

``--resume`` continues a killed run from its last checkpoint with the one-cycle schedule where
it stopped; after an end-of-epoch checkpoint the result is the same as that of an
uninterrupted run. A checkpoint written in the middle of an epoch keeps its weights but
restarts that epoch (same learning rates, a new shuffle).

``--time-budget MIN`` measures the training speed on a few batches, then sizes the run to end
within MIN minutes (each epoch reads a fresh random share of the corpus when less than a
full pass fits); ``--max-tokens N`` caps the tokens trained on. Under ``torchrun`` the same
command trains on every process with DistributedDataParallel (``--bs`` is the global batch).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import itertools
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from ..core.callback import Callback, CancelFitException
from ..core.callbacks import GradientClipping, SaveModelCallback
from ..core.distributed import (
    all_sum,
    init_distributed,
    is_main,
    rank,
    shutdown_distributed,
    unwrap,
    world_size,
)
from ..core.io import atomic_write, read_json
from ..core.learner import cpu_has_fast_bf16, set_seed
from ..core.registry import check_kwargs
from .corpus import LMCorpus, lm_databunch_from_arrays, prepare_corpus
from .learner import AWD_LSTM, BUNDLED_DIR, LanguageLearner, bundled_pretrained, language_model_learner
from .loaders import LMLoader, ragged_take
from .models.awd_lstm import AWDLSTMConfig, awd_lstm_lm_config, awd_lstm_small_lm_config
from .pretrained import find_pretrained, load_itos, load_pretrained, save_pretrained
from .transform import Tokenizer

__all__ = ["PretrainSettings", "PRESETS", "train_lm", "pretrain", "main"]

PRESETS = {"small": awd_lstm_small_lm_config, "full": awd_lstm_lm_config}
WEIGHTS, ITOS, CARD, CKPT = "lm.safetensors", "itos.json", "model_card.json", "checkpoint"


@dataclass
class PretrainSettings:
    """Everything that decides a pretraining run's result (stored in ``checkpoints/run.json``)."""

    preset: str = "small"
    epochs: int | None = None  # None: 1, or as many as --time-budget allows
    bs: int = 64
    bptt: int = 70
    lr: float = 5e-3
    moms: tuple[float, float] = (0.8, 0.7)
    div_factor: float = 10.0
    pct_start: float = 0.25
    wd: float = 0.1
    drop_mult: float = 0.2
    clip: float = 0.1
    alpha: float = 2.0
    beta: float = 1.0
    max_vocab: int = 60000
    min_freq: int = 3
    backwards: bool = False
    valid_pct: float = 0.1
    seed: int = 42
    precision: str = "auto"  # auto (GPU: bf16 if it has it, else fp16; CPU: bf16 if native, else fp32), fastest, bf16, fp16, fp32
    max_tokens: int | None = None
    time_budget: float | None = None  # minutes
    save_dtype: str = "fp32"  # fp16 halves the weights file
    init: str | None = None  # start from a pretrained LM: a folder (weights + itos) or "bundled"

    def __post_init__(self):
        self.moms = tuple(self.moms)
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        for name in ("bs", "bptt", "max_vocab"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name in ("epochs", "max_tokens"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be a positive int or None, got {v!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}; e.g. 5e-3")
        if not 0 < self.valid_pct < 1:
            raise ValueError(f"valid_pct must be in (0, 1), got {self.valid_pct!r}; e.g. 0.1")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be a positive number of minutes, got {self.time_budget!r}")
        if self.precision not in ("auto", "fastest", "bf16", "fp16", "fp32"):
            raise ValueError(f"precision must be auto, fastest, bf16, fp16 or fp32, got {self.precision!r}")
        if self.save_dtype not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"save_dtype must be fp32, fp16 or bf16, got {self.save_dtype!r}")
        if self.init is not None and not isinstance(self.init, str):
            self.init = str(self.init)

    @property
    def config(self):
        return PRESETS[self.preset]


# ------------------------------------------------------------------------------- callbacks
class FirstBatches:
    """The first ``n`` batches of each epoch of a loader: a fresh random share of the corpus each epoch.

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


class _BatchTimer(Callback):
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
    if learn.data.device.type == "cuda":
        torch.cuda.synchronize()


def _mmss(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


# ---------------------------------------------------------------------------------- training
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


def _plan(
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


def _precision(learn, precision: str, log: Callable) -> tuple[str, tuple | None]:
    """Apply a precision; ``fastest`` (GPU) times bf16 and fp16 on a few batches and keeps the faster.

    Returns the precision and, when measured, its ``measure_speed`` result.
    """
    dev = learn.data.device
    if precision == "fastest" and dev.type == "cuda":
        speeds = {}
        for p in ("bf16", "fp16"):
            _precision(learn, p, log)
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
        return _precision(learn, best, log)[0], speeds[best]
    if precision in ("auto", "fastest"):
        if dev.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:  # bf16 only where the CPU multiplies it natively; emulated it is slower than fp32
            precision = "bf16" if cpu_has_fast_bf16() else "fp32"
    {"bf16": learn.to_bf16, "fp16": learn.to_fp16, "fp32": learn.to_fp32}[precision]()
    return precision, None


def train_lm(
    corpus: LMCorpus,
    out: str | Path,
    settings: PretrainSettings | None = None,
    resume: bool = False,
    checkpoints: bool = True,
    checkpoint_minutes: float = 30.0,
    log_every: float = 30.0,
    callbacks: Sequence[Callback] = (),
    device=None,
    log: Callable | None = print,
    extra_card: dict | None = None,
    config: AWDLSTMConfig | None = None,
    run_info: dict | None = None,
) -> tuple[LanguageLearner, dict]:
    """Train an AWD-LSTM language model on a prepared corpus; write weights, itos and model card to ``out``.

    ``config`` replaces the preset's model sizes and dropouts (e.g. a tiny model for tests);
    ``run_info`` is stored in ``checkpoints/run.json`` with the settings (the CLI keeps the corpus paths there).
    Returns the learner and the model card (a dict).

    >>> # corpus = prepare_corpus(["books/"]); learn, card = train_lm(corpus, "my_lm", PretrainSettings(epochs=2))
    """
    t_start = time.perf_counter()
    s = settings or PretrainSettings()
    out = Path(out)
    quiet = log is None
    log = log if (log is not None and is_main()) else (lambda *a, **k: None)
    run_file = out / "checkpoints" / "run.json"
    itos_hash = hashlib.sha256(json.dumps(corpus.itos).encode()).hexdigest()
    existing = read_json(run_file, "pretraining run record") if run_file.is_file() else {}
    run = existing if resume and existing else None
    if run is not None and run.get("itos_sha256") != itos_hash:
        raise ValueError(
            f"--resume: the corpus now gives a different vocabulary than the run in {out} was started with; "
            "resume with the same corpus files and settings"
        )
    train_idx, valid_idx = corpus.split(s.valid_pct, s.seed)
    n_valid_tokens = int(np.diff(corpus.offsets)[valid_idx].sum())
    val_bs = max(1, min(s.bs, (n_valid_tokens - 1) // (2 * s.bptt)))
    data = lm_databunch_from_arrays(
        corpus.ids, corpus.offsets, corpus.itos, train_idx, valid_idx, bs=s.bs, val_bs=val_bs, bptt=s.bptt,
        backwards=s.backwards, device=device, path=out,
    )  # fmt: skip
    set_seed(s.seed)
    learn = language_model_learner(
        data, AWD_LSTM, config=config or s.config, drop_mult=s.drop_mult, pretrained=False, alpha=s.alpha, beta=s.beta,
        path=out, model_dir="checkpoints", wd=s.wd, silent=quiet,
    )  # fmt: skip
    init_info = _load_init(learn, s.init, corpus.itos, log) if s.init is not None else None
    learn.add_cb(GradientClipping(s.clip))
    if world_size() > 1:
        learn.to_distributed()
    precision, speed = _precision(learn, s.precision, log)
    n_full = len(data.train_dl)
    valid_batches = len(data.valid_dl)
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
        extra = 1 if len(corpus.source_names) > 1 else 0
        if seconds is not None:
            # a big held-out set must not eat the budget: validation gets at most a tenth of it
            passes = (s.epochs or 2) + extra
            valid_batches = min(valid_batches, max(4, int(0.1 * seconds / (passes * t_valid))))
        epochs, per_epoch = _plan(s, n_full, t_batch, t_valid or 0.0, valid_batches, seconds, extra)
    if per_epoch < n_full:
        data.train_dl = FirstBatches(data.train_dl, per_epoch)
    if valid_batches < len(data.valid_dl):
        log(
            f"validation limited to the first {valid_batches:,} of {len(data.valid_dl):,} held-out batches "
            "(a tenth of the time budget)",
            flush=True,
        )
        data.valid_dl = FirstBatches(data.valid_dl, valid_batches)
    plan = {
        "epochs": epochs,
        "batches_per_epoch": per_epoch,
        "full_epoch_batches": n_full,
        "valid_batches": valid_batches,
    }
    if is_main() and checkpoints:
        info = {
            **existing,
            **(run_info or {}),
            "settings": dataclasses.asdict(s),
            "itos_sha256": itos_hash,
            "plan": plan,
        }
        atomic_write(run_file, json.dumps(info, indent=1, default=str).encode())
    log(
        f"training {epochs} epoch(s) of {per_epoch:,} batches (a full pass is {n_full:,}) | bs {s.bs}, bptt {s.bptt}, "
        f"{precision}, {data.device}, {world_size()} process(es) | {len(train_idx):,} train / {len(valid_idx):,} valid docs",
        flush=True,
    )
    ckpt = out / "checkpoints" / f"{CKPT}.safetensors"
    resume_from = CKPT if resume and ckpt.is_file() else None
    deadline = t_start + s.time_budget * 60 * 1.05 if s.time_budget is not None and run is None else None
    start_epoch = 0
    if resume_from is not None:
        start_epoch = int(_ckpt_meta(learn, CKPT).get("epoch", -1)) + 1
    # stopped after its last epoch but before writing its outputs: nothing is left to train
    finished = resume_from is not None and start_epoch >= epochs
    if finished:
        log(f"{ckpt} holds all {epochs} epoch(s) of the run; writing the outputs from it", flush=True)
    elif resume_from is not None:
        log(f"resuming from {ckpt} at epoch {start_epoch + 1}", flush=True)
    prog = PretrainProgress(log_every, log, deadline, start_epoch)
    cbs = [prog, *callbacks]
    if checkpoints:
        cbs += [SaveModelCallback(every="epoch", name=CKPT), TimedCheckpoint(checkpoint_minutes)]
    t_fit = time.perf_counter()
    if finished:  # fit_one_cycle refuses a checkpoint at the end of its cycle; its weights are the result
        learn.load(CKPT, with_opt=False)
        learn.stop_reason = None
    else:
        learn.fit_one_cycle(
            epochs,
            s.lr,
            moms=s.moms,
            div_factor=s.div_factor,
            pct_start=s.pct_start,
            callbacks=cbs,
            resume=resume_from,
        )
    fit_s = time.perf_counter() - t_fit
    card = _model_card(
        learn, corpus, s, config or s.config, plan, precision, train_idx, valid_idx, val_bs, fit_s
    )
    # tokens: the epochs done before a resume (planned) plus those counted in this process
    per_epoch_tokens = min(per_epoch * s.bptt, (card["train_tokens"] - 1) // s.bs) * s.bs
    card["tokens_trained"] = start_epoch * per_epoch_tokens + prog.tokens
    card["tokens_per_second"] = round(prog.tokens / max(prog.train_seconds, 1e-9), 1)
    card["stopped_early"] = learn.stop_reason
    if init_info is not None:
        card["init"] = init_info
    card.update(extra_card or {})
    if is_main():
        card = write_outputs(learn, out, corpus.itos, card, s.save_dtype)
        log(
            f"valid perplexity {card['final_valid_perplexity']:.2f} | wrote {out / WEIGHTS}, {out / ITOS}, {out / CARD}",
            flush=True,
        )
    return learn, card


def init_files(init: str | Path) -> tuple[Path, Path]:
    """``(weights, itos)`` of the model ``--init`` names: ``"bundled"`` (emberfit's small model) or a folder.

    >>> init_files("/no/such/model")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FileNotFoundError: --init /no/such/model: no such folder; ...
    """
    if str(init) == "bundled":
        files = bundled_pretrained()
        if files is None:
            raise FileNotFoundError(
                f"--init bundled: this installation has no bundled model (looked in {BUNDLED_DIR}); "
                "pass a folder holding lm.safetensors + itos.json instead"
            )
        return files
    folder = Path(init).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"--init {init}: no such folder; pass the --out folder of an earlier `emberfit pretrain` run "
            "(it holds lm.safetensors + itos.json) or 'bundled'"
        )
    return find_pretrained(folder)


def _load_init(learn, init: str, itos: Sequence[str], log: Callable) -> dict:
    """Load the ``--init`` model into ``learn`` (mapped onto the corpus vocabulary); returns what the card records."""
    weights, itos_file = init_files(init)
    load_pretrained(unwrap(learn.model), weights, itos_file, itos)
    old = load_itos(itos_file)
    shared = len(set(old) & set(itos))
    info = {"from": str(init), "weights": weights.name, "vocab_shared": shared, "vocab_size": len(old)}
    card_file = weights.parent / CARD
    if card_file.is_file():  # what the starting model itself was trained on
        prev = read_json(card_file, "model card")
        info.update({k: prev[k] for k in ("corpus", "tokens_trained", "final_valid_perplexity") if k in prev})
    log(
        f"starting from {weights} ({shared:,} of the {len(itos):,} tokens were in its vocabulary)", flush=True
    )
    return info


def _ckpt_meta(learn, name: str) -> dict:
    from ..core.io import load_tensors

    return load_tensors(learn._ckpt_path(name), what="checkpoint")[1]


def _valid_by_source(
    learn, corpus: LMCorpus, valid_idx: np.ndarray, val_bs: int, s: PretrainSettings, max_batches: int
) -> dict:
    """Validation loss and perplexity of each source's held-out documents (at most ``max_batches`` batches each)."""
    out = {}
    for i, name in enumerate(corpus.source_names):
        idx = valid_idx[corpus.sources[valid_idx] == i]
        n_tok = int(np.diff(corpus.offsets)[idx].sum())
        if n_tok < 2 * s.bptt:
            continue
        ids, offs = ragged_take(corpus.ids, corpus.offsets, idx)
        dl = LMLoader(ids, offs, bs=max(1, min(val_bs, (n_tok - 1) // s.bptt)), bptt=s.bptt, backwards=s.backwards,
                      device=learn.data.device)  # fmt: skip
        dl = FirstBatches(dl, max_batches)
        if world_size() > 1:
            dl = dl.shard(rank(), world_size())
        loss, _, ppl = learn.validate(dl=dl)[:3]
        out[name] = {
            "valid_tokens": n_tok,
            "valid_batches": len(dl),
            "valid_loss": loss,
            "valid_perplexity": ppl,
        }
    return out


def _model_card(learn, corpus, s, config, plan, precision, train_idx, valid_idx, val_bs, fit_s) -> dict:
    rec = learn.recorder
    if rec.val_losses and rec.val_losses[-1] is not None:
        loss, (acc, ppl) = rec.val_losses[-1], rec.metrics[-1][:2]
    else:  # resumed after the last epoch: nothing was trained in this process
        loss, acc, ppl = learn.validate()[:3]
    lengths = np.diff(corpus.offsets)
    by_source = (
        _valid_by_source(learn, corpus, valid_idx, val_bs, s, plan["valid_batches"])
        if len(corpus.source_names) > 1
        else {}
    )
    cfg = dataclasses.asdict(config)
    card = {
        "format": "emberfit-model-card",
        "version": 1,
        "arch": "AWD_LSTM",
        "preset": s.preset if config == s.config else "custom",
        "config": cfg,
        "drop_mult": s.drop_mult,
        "backwards": s.backwards,
        "files": {"weights": WEIGHTS, "itos": ITOS},
        "vocab_size": len(corpus.itos),
        "corpus": corpus.source_stats(),
        "tokens": corpus.n_tokens,
        "train_tokens": int(lengths[train_idx].sum()),
        "valid_tokens": int(lengths[valid_idx].sum()),
        "epochs": plan["epochs"],
        "batches_per_epoch": plan["batches_per_epoch"],
        "full_epoch_batches": plan["full_epoch_batches"],
        "valid_batches": plan["valid_batches"],
        "final_valid_loss": float(loss),
        "final_valid_perplexity": float(ppl),  # exact per token (the loss weighs windows by rows)
        "final_valid_accuracy": None if acc is None else float(acc),
        "valid_by_corpus": by_source,
        "settings": dataclasses.asdict(s),
        "precision": precision,
        "train_seconds": round(fit_s, 1),
        "tokenizer": Tokenizer().to_json(),
        "device": str(torch.cuda.get_device_name())
        if learn.data.device.type == "cuda"
        else platform.processor() or "cpu",
        "processes": world_size(),
        "torch": torch.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "usage": "language_model_learner(data, AWD_LSTM, config=<preset config>, pretrained_fnames=(weights, itos))",
    }
    return card


def write_outputs(learn, out: str | Path, itos: Sequence[str], card: dict, save_dtype: str = "fp32") -> dict:
    """Write ``lm.safetensors`` (in ``save_dtype``), ``itos.json`` and ``model_card.json`` to ``out``, atomically.

    Returns the card as written (with the weights file's dtype and size).
    """
    out = Path(out)
    model = unwrap(learn.model)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[save_dtype]
    if dtype != torch.float32:
        model = copy.deepcopy(model).to(dtype)
    w, i = save_pretrained(model, list(itos), out / WEIGHTS, out / ITOS)
    card = {**card, "weights_dtype": save_dtype, "weights_bytes": w.stat().st_size}
    atomic_write(out / CARD, json.dumps(card, indent=1, ensure_ascii=False).encode("utf-8"))
    return card


# ----------------------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="emberfit pretrain",
        description="Pretrain an AWD-LSTM language model on your own text (see emberfit.text.pretrain).",
    )
    p.add_argument(
        "--corpus", nargs="+", help="folders/files: .txt, .jsonl(.gz), .csv(.gz), WikiText .tokens"
    )
    p.add_argument("--out", required=True, help="output folder (weights, itos, model card, checkpoints)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--prepare-only", action="store_true", help="tokenize (fill the cache) and exit")
    p.add_argument("--preset", choices=sorted(PRESETS), help="model size (default small)")
    p.add_argument("--epochs", type=int, help="epochs (default 1; with --time-budget, the most)")
    p.add_argument("--bs", type=int, help="global batch size (default 64)")
    p.add_argument("--bptt", type=int, help="tokens per window (default 70)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 5e-3)")
    p.add_argument("--wd", type=float, help="weight decay (default 0.1)")
    p.add_argument("--drop-mult", type=float, help="dropout multiplier (default 0.2)")
    p.add_argument("--clip", type=float, help="gradient norm clip (default 0.1)")
    p.add_argument("--max-vocab", type=int, help="vocabulary size (default 60000)")
    p.add_argument("--min-freq", type=int, help="minimum count of a vocabulary token (default 3)")
    p.add_argument("--backwards", action="store_true", default=None, help="train a backwards language model")
    p.add_argument("--valid-pct", type=float, help="share of documents held out (default 0.1)")
    p.add_argument("--seed", type=int, help="random seed (default 42)")
    p.add_argument("--precision", choices=["auto", "fastest", "bf16", "fp16", "fp32"], help="default auto")
    p.add_argument("--max-tokens", type=int, help="stop after training on about N tokens")
    p.add_argument("--time-budget", type=float, help="minutes of training; the run is sized to fit")
    p.add_argument("--save-dtype", choices=["fp32", "fp16", "bf16"], help="dtype of the weights file")
    p.add_argument(
        "--checkpoint-minutes", type=float, default=30.0, help="mid-epoch checkpoint period (0: off)"
    )
    p.add_argument(
        "--init", help="start from a pretrained LM: the --out folder of an earlier run, or 'bundled'"
    )
    p.add_argument("--log-every", type=float, default=30.0, help="seconds between progress lines")
    p.add_argument("--text-field", default="text", help="JSONL field holding the text")
    p.add_argument("--text-col", default="text", help="CSV column holding the text")
    return p


_RESULT_ARGS = [f.name for f in dataclasses.fields(PretrainSettings)]


def pretrain(
    argv: Sequence[str], callbacks: Sequence[Callback] = (), config: AWDLSTMConfig | None = None
) -> dict:
    """Run ``emberfit pretrain`` with command-line arguments; returns the model card (``{}`` with --prepare-only).

    ``callbacks`` are added to the fit; ``config`` replaces the preset's model (see :func:`train_lm`).

    >>> # pretrain(["--corpus", "books/", "--out", "my_lm", "--epochs", "2"])
    """
    a = _parser().parse_args(list(argv))
    out = Path(a.out)
    given = {k: getattr(a, k) for k in _RESULT_ARGS if getattr(a, k, None) is not None}
    run_file = out / "checkpoints" / "run.json"
    if a.resume:
        if not run_file.is_file():
            raise FileNotFoundError(
                f"--resume: nothing to resume in {out} (no {run_file}); start without --resume"
            )
        run = read_json(run_file, "pretraining run record")
        saved = run.get("settings")
        if not isinstance(saved, dict) or not isinstance(run.get("corpus_paths", []), list):
            raise ValueError(f"{run_file} has no settings to resume from; start a new run in another --out")
        changed = {k: (saved.get(k), v) for k, v in given.items() if _norm(saved.get(k)) != _norm(v)}
        if changed:
            raise ValueError(
                "--resume continues the run with its own settings; these differ from it: "
                + ", ".join(f"{k} (run: {old!r}, now: {new!r})" for k, (old, new) in changed.items())
                + ". Leave them out, or start a new run in another --out"
            )
        saved = {k: v for k, v in saved.items() if k in _RESULT_ARGS}
        settings = PretrainSettings(**check_kwargs(PretrainSettings, saved, f"{run_file} settings"))
        corpus_paths = a.corpus or run["corpus_paths"]
    else:
        if run_file.is_file() and is_main():
            raise ValueError(
                f"{out} already holds a pretraining run; pass --resume to continue it, or choose another --out"
            )
        if not a.corpus:
            raise ValueError("--corpus is required: one or more folders or files of text")
        settings = PretrainSettings(**given)
        corpus_paths = a.corpus
    for p in corpus_paths:
        if not Path(p).exists():
            raise FileNotFoundError(f"--corpus {p}: no such file or folder")
    init_distributed()
    corpus = _prepare_ranked(corpus_paths, settings, a)
    if a.prepare_only:
        shutdown_distributed()
        return {}
    minutes = a.checkpoint_minutes if a.checkpoint_minutes > 0 else math.inf
    _, card = train_lm(
        corpus,
        out,
        settings,
        resume=a.resume,
        checkpoint_minutes=minutes,
        log_every=a.log_every,
        callbacks=callbacks,
        config=config,
        run_info={"corpus_paths": [str(p) for p in corpus_paths]},
    )
    shutdown_distributed()  # all ranks leave together (rank 0 may still be writing the card)
    return card


def _norm(v):
    return list(v) if isinstance(v, tuple) else v


def _prepare_ranked(paths, s: PretrainSettings, a) -> LMCorpus:
    """Rank 0 tokenizes first (filling the cache); the other ranks then read the cache."""
    import torch.distributed as dist

    many = world_size() > 1
    if many and not is_main():
        dist.barrier()
    corpus = prepare_corpus(
        paths, s.max_vocab, s.min_freq, a.text_field, a.text_col, log=print if is_main() else None
    )
    if many and is_main():
        dist.barrier()
    return corpus


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``emberfit pretrain`` (called by ``emberfit.cli``); returns the exit status."""
    try:
        pretrain(sys.argv[1:] if argv is None else argv)
    except (ValueError, KeyError, FileNotFoundError, TypeError) as e:
        print(f"emberfit pretrain: error: {e}", file=sys.stderr)
        return 2
    return 0

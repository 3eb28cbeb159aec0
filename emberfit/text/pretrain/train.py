"""The pretraining run: a prepared corpus in, a language model's weights, vocabulary and model card out.

:func:`train_lm` goes through these steps, each a function below: read the run record (to
resume), split the corpus and build the data, build the learner (from ``--init`` if given),
choose the precision and plan the run (:mod:`.planning`), record the plan in ``run.json``,
find where a resumed run continues, fit with one-cycle, then write the model card and the
files (:mod:`.model_card`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ...core.callbacks.base import Callback
from ...core.callbacks.training import GradientClipping, SaveModelCallback
from ...core.distributed import is_main, unwrap, world_size
from ...core.io import atomic_write, load_tensors, read_json
from ...core.seed import set_seed
from ..corpus import LMCorpus, lm_databunch_from_arrays
from ..language_learner import LanguageLearner
from ..learner import language_model_learner
from ..models.awd_lstm import AWD_LSTM, AWDLSTMConfig
from ..weights.convert import load_pretrained
from ..weights.files import load_itos
from ..weights.find import init_files
from .callbacks import PretrainProgress, TimedCheckpoint
from .model_card import model_card, record_training, write_outputs
from .planning import apply_plan, choose_precision, plan_run
from .settings import CARD, CKPT, ITOS, WEIGHTS, PretrainSettings, run_record

__all__ = ["train_lm"]


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
    existing, run, itos_hash = _read_run_record(out, corpus, resume)
    split = _Split.of(corpus, s)
    data = lm_databunch_from_arrays(
        corpus.ids, corpus.offsets, corpus.itos, split.train_idx, split.valid_idx, bs=s.bs, val_bs=split.val_bs,
        bptt=s.bptt, backwards=s.backwards, device=device, path=out,
    )  # fmt: skip
    learn, init_info = _build_learner(data, s, config, out, quiet, corpus.itos, log)
    precision, speed = choose_precision(learn, s.precision, log)
    plan = plan_run(learn, s, run, speed, 1 if len(corpus.source_names) > 1 else 0, t_start, log)
    apply_plan(data, plan, log)
    if is_main() and checkpoints:
        _write_run_record(out, {**existing, **(run_info or {})}, s, itos_hash, plan)
    log(_plan_line(plan, s, precision, learn, split), flush=True)
    resume_from, start_epoch, finished = _resume_point(learn, out, resume, plan["epochs"], log)
    # a resumed run keeps its plan: no new deadline cuts it short
    deadline = t_start + s.time_budget * 60 * 1.05 if s.time_budget is not None and run is None else None
    progress = PretrainProgress(log_every, log, deadline, start_epoch)
    cbs = [progress, *callbacks]
    if checkpoints:
        cbs += [SaveModelCallback(every="epoch", name=CKPT), TimedCheckpoint(checkpoint_minutes)]
    fit_s = _fit(learn, s, plan["epochs"], cbs, resume_from, finished)
    card = model_card(learn, corpus, s, config or s.config, plan, precision, split.train_idx, split.valid_idx,
                      split.val_bs, fit_s)  # fmt: skip
    record_training(card, s, plan, start_epoch, progress, learn.stop_reason)
    if init_info is not None:
        card["init"] = init_info
    card.update(extra_card or {})
    if is_main():
        card = _write_outputs(learn, out, corpus.itos, card, s.save_dtype, log)
    return learn, card


# ------------------------------------------------------------------------------------- steps
def _read_run_record(out: Path, corpus: LMCorpus, resume: bool) -> tuple[dict, dict | None, str]:
    """``(the record in out, the run to resume or None, the corpus vocabulary's hash)``.

    A resumed run must see the vocabulary it started with, or the token ids would mean other words.
    """
    run_file = run_record(out)
    itos_hash = hashlib.sha256(json.dumps(corpus.itos).encode()).hexdigest()
    existing = read_json(run_file, "pretraining run record") if run_file.is_file() else {}
    run = existing if resume and existing else None
    if run is not None and run.get("itos_sha256") != itos_hash:
        raise ValueError(
            f"--resume: the corpus now gives a different vocabulary than the run in {out} was started with; "
            "resume with the same corpus files and settings"
        )
    return existing, run, itos_hash


@dataclasses.dataclass
class _Split:
    """The documents held out for validation, and a validation batch size that still gives two windows a row."""

    train_idx: np.ndarray
    valid_idx: np.ndarray
    val_bs: int

    @classmethod
    def of(cls, corpus: LMCorpus, s: PretrainSettings) -> _Split:
        train_idx, valid_idx = corpus.split(s.valid_pct, s.seed)
        n_valid_tokens = int(np.diff(corpus.offsets)[valid_idx].sum())
        val_bs = max(1, min(s.bs, (n_valid_tokens - 1) // (2 * s.bptt)))
        return cls(train_idx, valid_idx, val_bs)


def _build_learner(data, s: PretrainSettings, config, out: Path, quiet: bool, itos, log: Callable):
    """The language model learner (seeded, from ``--init`` if given, clipped, on every process); and the init's card info."""
    set_seed(s.seed)
    learn = language_model_learner(
        data, AWD_LSTM, config=config or s.config, drop_mult=s.drop_mult, pretrained=False, alpha=s.alpha, beta=s.beta,
        path=out, model_dir="checkpoints", wd=s.wd, silent=quiet,
    )  # fmt: skip
    init_info = _load_init(learn, s.init, itos, log) if s.init is not None else None
    learn.add_cb(GradientClipping(s.clip))
    if world_size() > 1:
        learn.to_distributed()
    return learn, init_info


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


def _write_run_record(out: Path, record: dict, s: PretrainSettings, itos_hash: str, plan: dict) -> None:
    """``checkpoints/run.json``: what ``--resume`` needs to continue this very run."""
    info = {**record, "settings": dataclasses.asdict(s), "itos_sha256": itos_hash, "plan": plan}
    atomic_write(run_record(out), json.dumps(info, indent=1, default=str).encode())


def _plan_line(plan: dict, s: PretrainSettings, precision: str, learn, split: _Split) -> str:
    return (
        f"training {plan['epochs']} epoch(s) of {plan['batches_per_epoch']:,} batches (a full pass is "
        f"{plan['full_epoch_batches']:,}) | bs {s.bs}, bptt {s.bptt}, {precision}, {learn.data.device}, "
        f"{world_size()} process(es) | {len(split.train_idx):,} train / {len(split.valid_idx):,} valid docs"
    )


def _resume_point(learn, out: Path, resume: bool, epochs: int, log: Callable) -> tuple[str | None, int, bool]:
    """``(checkpoint to resume from or None, first epoch to train, whether the run had already finished)``."""
    ckpt = out / "checkpoints" / f"{CKPT}.safetensors"
    resume_from = CKPT if resume and ckpt.is_file() else None
    start_epoch = 0
    if resume_from is not None:
        meta = load_tensors(learn._ckpt_path(CKPT), what="checkpoint")[1]
        start_epoch = int(meta.get("epoch", -1)) + 1
    # stopped after its last epoch but before writing its outputs: nothing is left to train
    finished = resume_from is not None and start_epoch >= epochs
    if finished:
        log(f"{ckpt} holds all {epochs} epoch(s) of the run; writing the outputs from it", flush=True)
    elif resume_from is not None:
        log(f"resuming from {ckpt} at epoch {start_epoch + 1}", flush=True)
    return resume_from, start_epoch, finished


def _fit(
    learn, s: PretrainSettings, epochs: int, cbs: list, resume_from: str | None, finished: bool
) -> float:
    """Train with one-cycle (continuing ``resume_from``); returns the seconds it took."""
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
    return time.perf_counter() - t_fit


def _write_outputs(learn, out: Path, itos, card: dict, save_dtype: str, log: Callable) -> dict:
    card = write_outputs(learn, out, itos, card, save_dtype)
    log(
        f"valid perplexity {card['final_valid_perplexity']:.2f} | wrote {out / WEIGHTS}, {out / ITOS}, {out / CARD}",
        flush=True,
    )
    return card

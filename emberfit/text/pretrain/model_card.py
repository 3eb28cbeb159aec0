"""The model card of a pretraining run (``model_card.json``) and the files written next to it.

The card records what the model is (preset, config, vocabulary), what it read (corpora, tokens,
the train/valid split), how it trained (plan, precision, speed, device) and how well (final
validation loss, perplexity and accuracy, and per corpus when there are several).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from ...core.distributed import rank, unwrap, world_size
from ...core.io import atomic_write
from ..corpus import LMCorpus
from ..loaders import LMLoader, ragged_take
from ..tokenizer import Tokenizer
from ..weights.convert import save_pretrained
from .callbacks import PretrainProgress
from .planning import FirstBatches
from .settings import CARD, ITOS, WEIGHTS, PretrainSettings

__all__ = ["model_card", "record_training", "write_outputs"]


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


def model_card(learn, corpus, s, config, plan, precision, train_idx, valid_idx, val_bs, fit_s) -> dict:
    """The card of a trained run: its validation results are the recorder's last (or a fresh validation after a resume)."""
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


def record_training(
    card: dict,
    s: PretrainSettings,
    plan: dict,
    start_epoch: int,
    progress: PretrainProgress,
    stop_reason: str | None,
) -> dict:
    """Add the tokens trained on, the speed and why training stopped early (if it did) to ``card``."""
    # tokens: the epochs done before a resume (planned) plus those counted in this process
    per_epoch_tokens = min(plan["batches_per_epoch"] * s.bptt, (card["train_tokens"] - 1) // s.bs) * s.bs
    card["tokens_trained"] = start_epoch * per_epoch_tokens + progress.tokens
    card["tokens_per_second"] = round(progress.tokens / max(progress.train_seconds, 1e-9), 1)
    card["stopped_early"] = stop_reason
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

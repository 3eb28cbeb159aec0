"""ULMFiT on the full IMDB on one GPU, in minutes, from pre-tokenized arrays; then the small pretrained model to ship.

Two steps (``benchmarks/imdb_full_gpu.sh`` wraps both):

``prep --data DIR`` (CPU, here): tokenizes all IMDB reviews (train + test + unsup, from
``../shared/data/imdb/*.csv.gz``) and part of the Gutenberg books (``../shared/data/gutenberg``,
licence header/footer stripped) with the cached tokenizer, builds the two vocabularies (IMDB's
60,000 for the full-size model; Gutenberg + IMDB unsup, 28,000, for the small preset) and writes
compact arrays to DIR: uint16 token ids and uint32 document lengths, xz-compressed, plus the
vocabularies as JSON (about 50 MB in all; the GPU machine needs no tokenizer).

``run --data DIR --out OUT`` (GPU): three phases, each on a time budget that the script
enforces (it measures the speed on a few batches and sizes the epochs to fit):

A. pretrain a full-size AWD-LSTM language model on all IMDB text (bf16/fp16 autocast, large
   batches), from scratch (no WikiText-103 here);
B. fine-tune the classifier on the 25,000 training reviews with ULMFiT's gradual unfreezing
   (moms (0.8, 0.7), discriminative rates /2.6) and evaluate on the 25,000 test reviews;
C. pretrain the small preset on the Gutenberg books + IMDB unsup (the model emberfit ships):
   weights (fp16, split in parts under 16 MB), itos and model card go to OUT.

Results go to ``OUT/results.json`` after every phase (a cut-off run keeps what it finished).
``--tiny`` runs the whole thing on the CPU in a minute or two on a few thousand reviews
with a tiny model, to test the script.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import lzma
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emberfit.core.callbacks.base import Callback
from emberfit.core.data import DatasetType
from emberfit.core.io import atomic_write
from emberfit.core.seed import set_seed
from emberfit.text.corpus import LMCorpus, clas_databunch_from_arrays
from emberfit.text.corpus_files import read_corpus
from emberfit.text.learner import text_classifier_learner
from emberfit.text.loaders import ragged_take
from emberfit.text.models import (
    AWD_LSTM,
    awd_lstm_clas_config,
    awd_lstm_small_clas_config,
    awd_lstm_small_lm_config,
)
from emberfit.text.pretrain.planning import FirstBatches
from emberfit.text.pretrain.settings import PretrainSettings
from emberfit.text.pretrain.train import train_lm

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
T0 = time.perf_counter()
TINY_LM = dataclasses.replace(awd_lstm_small_lm_config, emb_sz=32, n_hid=64)
TINY_CLAS = dataclasses.replace(awd_lstm_small_clas_config, emb_sz=32, n_hid=64)


def say(*a, **_):
    print(f"[{time.perf_counter() - T0:7.1f}s]", *a, flush=True)


# ------------------------------------------------------------------------------ array files
def save_xz(path: Path, arr: np.ndarray) -> int:
    data = lzma.compress(np.ascontiguousarray(arr).tobytes(), preset=6)
    atomic_write(path, data)
    return len(data)


def load_xz(path: Path, dtype) -> np.ndarray:
    return np.frombuffer(lzma.decompress(path.read_bytes()), dtype=dtype).copy()


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


# ------------------------------------------------------------------------------------- prep
def prep(args) -> None:
    from emberfit.core.download import Config
    from emberfit.text.rules import BOS
    from emberfit.text.token_store import concat_corpora
    from emberfit.text.tokenizer import Tokenizer
    from emberfit.text.vocab import Vocab

    out = Path(args.data)
    out.mkdir(parents=True, exist_ok=True)
    tok, cache = Tokenizer(), Config.home() / "cache" / "tokens"
    frames = []
    for split in ("train", "test", "unsup"):
        df = pd.read_csv(Path(args.imdb) / f"{split}.csv.gz", keep_default_na=False)
        if args.tiny:
            df = df.groupby("label", group_keys=False).head(args.tiny // (2 if split != "unsup" else 1))
        df["split"] = split
        frames.append(df[["text", "label", "split"]])
    df = pd.concat(frames, ignore_index=True)
    corpora = []
    for split in ("train", "test", "unsup"):
        texts = [f"{BOS} {t}" for t in df.text[df.split == split]]
        say(f"tokenizing IMDB {split}: {len(texts):,} reviews")
        corpora.append(tok.process_corpus(texts, cache_dir=cache))
    imdb = concat_corpora(corpora)
    vocab = Vocab.create(imdb, max_vocab=args.max_vocab, min_freq=3)
    ids = vocab.numericalize_corpus(imdb, dtype=np.int64)
    assert len(vocab.itos) <= 65536
    sizes = {
        "imdb_ids.u16.xz": save_xz(out / "imdb_ids.u16.xz", ids.astype(np.uint16)),
        "imdb_lengths.u32.xz": save_xz(out / "imdb_lengths.u32.xz", np.diff(imdb.offsets).astype(np.uint32)),
        "imdb_split.i8.xz": save_xz(out / "imdb_split.i8.xz", df.split.map({"train": 0, "test": 1, "unsup": 2}).to_numpy(np.int8)),
        "imdb_label.i8.xz": save_xz(out / "imdb_label.i8.xz", df.label.map({"neg": 0, "pos": 1}).fillna(-1).to_numpy(np.int8)),
    }  # fmt: skip
    meta = {"itos": vocab.itos, "classes": ["neg", "pos"], "n_docs": len(df), "n_tokens": imdb.n_tokens}
    atomic_write(out / "imdb.json", json.dumps(meta).encode())
    say(f"IMDB: {imdb.n_tokens:,} tokens, vocabulary {len(vocab.itos):,}")

    # Gutenberg: whole books in a seeded random order until about --gutenberg-tokens
    texts, groups = read_corpus(args.gutenberg)
    chars = np.bincount(groups, weights=[len(t) for t in texts])
    order = np.random.default_rng(0).permutation(len(chars))
    budget_chars = args.gutenberg_tokens * 4.2  # about 4.2 characters per token in these books
    keep = order[: max(1, int(np.searchsorted(np.cumsum(chars[order]), budget_chars)))]
    keep_mask = np.isin(groups, keep)
    texts = [t for t, k in zip(texts, keep_mask) if k]
    groups = groups[keep_mask]
    if args.tiny:
        texts, groups = texts[:40], groups[:40]
    say(f"tokenizing Gutenberg: {len(np.unique(groups))} books, {len(texts):,} pieces")
    gut = tok.process_corpus(texts, cache_dir=cache)
    small = Vocab.create(concat_corpora([gut, corpora[2]]), max_vocab=args.small_vocab, min_freq=3)
    gids = small.numericalize_corpus(gut, dtype=np.int64)
    _, groups = np.unique(groups, return_inverse=True)
    sizes.update({
        "gut_ids.u16.xz": save_xz(out / "gut_ids.u16.xz", gids.astype(np.uint16)),
        "gut_lengths.u32.xz": save_xz(out / "gut_lengths.u32.xz", np.diff(gut.offsets).astype(np.uint32)),
        "gut_groups.u32.xz": save_xz(out / "gut_groups.u32.xz", groups.astype(np.uint32)),
    })  # fmt: skip
    atomic_write(out / "small.json", json.dumps({"itos": small.itos, "n_tokens": gut.n_tokens}).encode())
    total = sum(sizes.values()) + sum(f.stat().st_size for f in out.glob("*.json"))
    say(f"Gutenberg: {gut.n_tokens:,} tokens; small vocabulary {len(small.itos):,}")
    say(
        f"wrote {out}: {total / 2**20:.1f} MiB ({', '.join(f'{k} {v / 2**20:.1f}' for k, v in sizes.items())})"
    )


# -------------------------------------------------------------------------------------- run
class Results:
    """results.json in OUT, rewritten (atomically) after every phase."""

    def __init__(self, out: Path, **info):
        self.path, self.d = out / "results.json", {"info": info, "phases": {}}
        self.save()

    def __setitem__(self, phase, value):
        self.d["phases"][phase] = value
        self.save()

    def save(self):
        self.d["elapsed_s"] = round(time.perf_counter() - T0, 1)
        atomic_write(self.path, json.dumps(self.d, indent=1, default=float).encode())


class StageTimer(Callback):
    """Training and validation seconds of each epoch (an epoch cut short counts its training time)."""

    order = 60

    def before_fit(self):
        self.train_s, self.valid_s, self.batches = [], [], []
        self.in_train = False

    def before_epoch(self):
        self.t, self.n, self.in_train = time.perf_counter(), 0, True

    def after_batch(self):
        self.n += self.learn.training

    def _end_train(self):
        if self.in_train:
            _sync()
            self.train_s.append(time.perf_counter() - self.t)
            self.batches.append(self.n)
            self.in_train = False

    def before_validate(self):
        self._end_train()
        self.tv = time.perf_counter()

    def after_validate(self):
        if not self.learn.skip_validate:
            _sync()
            self.valid_s.append(time.perf_counter() - self.tv)

    def after_fit(self):
        self._end_train()


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def load_data(d: Path):
    imdb = json.loads((d / "imdb.json").read_text())
    data = {
        "itos": imdb["itos"],
        "classes": imdb["classes"],
        "ids": load_xz(d / "imdb_ids.u16.xz", np.uint16).astype(np.int32),
        "offsets": offsets_of(load_xz(d / "imdb_lengths.u32.xz", np.uint32).astype(np.int64)),
        "split": load_xz(d / "imdb_split.i8.xz", np.int8),
        "label": load_xz(d / "imdb_label.i8.xz", np.int8).astype(np.int64),
    }
    small = json.loads((d / "small.json").read_text())
    data["small_itos"] = small["itos"]
    data["gut_ids"] = load_xz(d / "gut_ids.u16.xz", np.uint16).astype(np.int32)
    data["gut_offsets"] = offsets_of(load_xz(d / "gut_lengths.u32.xz", np.uint32).astype(np.int64))
    data["gut_groups"] = load_xz(d / "gut_groups.u32.xz", np.uint32).astype(np.int64)
    return data


def phase_lm(a, D, out: Path, minutes: float):
    n = len(D["offsets"]) - 1
    corpus = LMCorpus(D["ids"], D["offsets"], D["itos"], np.arange(n), np.zeros(n, np.int16), ["imdb"])
    s = PretrainSettings(
        preset="full", bs=a.lm_bs, bptt=a.lm_bptt, lr=a.lm_lr, drop_mult=a.lm_drop_mult, valid_pct=a.lm_valid_pct,
        precision=a.precision, time_budget=minutes, max_vocab=len(D["itos"]), seed=a.seed,
    )  # fmt: skip
    timer = StageTimer()
    learn, card = train_lm(corpus, out / "lm_full", s, checkpoints=False, log_every=a.log_every, log=say,
                           callbacks=[timer], config=TINY_LM if a.tiny else None)  # fmt: skip
    keys = ("final_valid_loss", "final_valid_perplexity", "final_valid_accuracy", "epochs", "batches_per_epoch",
            "full_epoch_batches", "tokens_trained", "tokens_per_second", "train_seconds", "precision", "tokens",
            "stopped_early")  # fmt: skip
    res = {k: card[k] for k in keys}
    res["epoch_train_seconds"] = [round(t, 1) for t in timer.train_s]
    res["epoch_valid_seconds"] = [round(t, 1) for t in timer.valid_s]
    learn.save_encoder(out / "imdb_enc")
    return learn, res


ULMFIT_STAGES = [  # (freeze_to, max lr, epochs): the lesson's recipe
    (-1, 2e-2, 1),
    (-2, 1e-2, 1),
    (-3, 5e-3, 1),
    (0, 1e-3, 2),
]


def phase_clas(a, D, out: Path, minutes: float, precision: str):
    t_start = time.perf_counter()
    rng = np.random.default_rng(a.seed)
    train = np.nonzero(D["split"] == 0)[0]
    test = np.nonzero(D["split"] == 1)[0]
    if a.test_limit:  # a quicker check of the script: a random part of the test set
        test = np.sort(rng.permutation(test)[: a.test_limit])
    monitor = np.sort(
        rng.permutation(test)[: min(a.monitor, len(test))]
    )  # per-epoch validation: part of test
    data = clas_databunch_from_arrays(
        D["ids"], D["offsets"], D["label"], D["classes"], D["itos"], train, monitor, test,
        bs=a.clas_bs, val_bs=a.clas_bs * 2, path=out / "lm_full",
    )  # fmt: skip
    set_seed(a.seed)
    cfg = TINY_CLAS if a.tiny else awd_lstm_clas_config
    learn = text_classifier_learner(
        data, AWD_LSTM, config=cfg, drop_mult=a.clas_drop_mult, pretrained=False, silent=False
    )
    {"bf16": learn.to_bf16, "fp16": learn.to_fp16, "fp32": learn.to_fp32}[precision]()
    learn.load_encoder(out / "imdb_enc")  # the language model's encoder; freezes
    timer = StageTimer()
    full = data.train_dl
    res = {"stages": []}
    per_batch = None  # seconds per training batch of the last stage
    n_test_batches = len(data.test_dl)
    valid_per_batch = None
    for i, (freeze_to, lr, epochs) in enumerate(ULMFIT_STAGES):
        left = minutes * 60 - (time.perf_counter() - t_start)
        test_est = (valid_per_batch or 0.05) * n_test_batches * 1.1
        # each unfreezing step costs more per batch than the last (longer backward pass)
        est = None if per_batch is None else per_batch * {-2: 1.3, -3: 1.6, 0: 1.6}[freeze_to]
        valid_est = (valid_per_batch or 0.0) * len(data.valid_dl) * epochs
        room = left - test_est - valid_est
        n = len(full) * epochs if est is None else int(room / est)
        if n < 0.15 * len(full):
            say(f"classifier: no time for stage {i + 1} (freeze_to {freeze_to}); stopping the schedule")
            break
        epochs = min(epochs, max(1, math.ceil(n / len(full))))
        per_epoch = min(len(full), n // epochs)
        data.train_dl = FirstBatches(full, per_epoch) if per_epoch < len(full) else full
        if freeze_to:
            learn.freeze_to(freeze_to)
        else:
            learn.unfreeze()
        lrs = slice(lr / 2.6**4, lr) if freeze_to != -1 else lr
        learn.fit_one_cycle(epochs, lrs, moms=(0.8, 0.7), callbacks=[timer])
        data.train_dl = full
        per_batch = sum(timer.train_s) / max(1, sum(timer.batches))
        valid_per_batch = sum(timer.valid_s) / max(1, len(timer.valid_s) * len(data.valid_dl))
        stage = {
            "freeze_to": freeze_to, "lr": lr, "epochs": epochs, "batches_per_epoch": per_epoch,
            "full_epoch_batches": len(full), "train_seconds": [round(t, 1) for t in timer.train_s],
            "monitor_accuracy": [float(m[0]) for m in learn.recorder.metrics],
        }  # fmt: skip
        res["stages"].append(stage)
        say(f"classifier stage {i + 1}: {stage}")
    t = time.perf_counter()
    probs, y = learn.get_preds(DatasetType.Test)[:2]
    res["test_accuracy"] = float((probs.argmax(1) == y).float().mean())
    res["test_reviews"] = len(y)
    res["test_eval_seconds"] = round(time.perf_counter() - t, 1)
    res["seconds"] = round(time.perf_counter() - t_start, 1)
    say(f"classifier: test accuracy {res['test_accuracy']:.4f} on {len(y):,} reviews")
    return res


def phase_small(a, D, out: Path, minutes: float, precision: str):
    small_itos = D["small_itos"]
    stoi = {t: i for i, t in enumerate(small_itos)}
    remap = np.array([stoi.get(t, 0) for t in D["itos"]], dtype=np.int32)  # IMDB vocab -> small vocab
    unsup = np.nonzero(D["split"] == 2)[0]
    u_ids, u_off = ragged_take(D["ids"], D["offsets"], unsup)
    g_ids, g_off = D["gut_ids"], D["gut_offsets"]
    ids = np.concatenate([g_ids, remap[u_ids]])
    offsets = np.concatenate([g_off, g_off[-1] + u_off[1:]])
    n_g, n_u = len(g_off) - 1, len(u_off) - 1
    groups = np.concatenate([D["gut_groups"], D["gut_groups"].max() + 1 + np.arange(n_u)])
    sources = np.concatenate([np.zeros(n_g, np.int16), np.ones(n_u, np.int16)])
    corpus = LMCorpus(ids, offsets, small_itos, groups, sources, ["gutenberg", "imdb_unsup"])
    s = PretrainSettings(
        preset="small", bs=a.small_bs, bptt=70, lr=a.small_lr, drop_mult=a.small_drop_mult, valid_pct=a.small_valid_pct,
        precision=precision, time_budget=minutes, max_vocab=len(small_itos), seed=a.seed, save_dtype="fp16",
    )  # fmt: skip
    folder = out / "small_lm"
    _, card = train_lm(corpus, folder, s, checkpoints=False, log_every=a.log_every, log=say,
                       config=TINY_LM if a.tiny else None,
                       extra_card={"note": "emberfit's bundled small model: Gutenberg books (licence stripped) + IMDB unsup"})  # fmt: skip
    return folder, card


def ship(folder: Path, OUT: Path, limit: int = 15 * 2**20) -> dict:
    """Copy itos + card to OUT, and the weights in parts under ``limit`` bytes (the transfer's file limit)."""
    w = (folder / "lm.safetensors").read_bytes()
    parts = [w[i : i + limit] for i in range(0, len(w), limit)]
    names = ["lm.safetensors"] if len(parts) == 1 else [f"lm.safetensors.part{i}" for i in range(len(parts))]
    for name, part in zip(names, parts):
        atomic_write(OUT / name, part)
    for name in ("itos.json", "model_card.json"):
        atomic_write(OUT / name, (folder / name).read_bytes())
    return {"weights_parts": names, "weights_bytes": len(w), "weights_sha256": hashlib.sha256(w).hexdigest()}


def run(a) -> None:
    OUT = Path(a.out)
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(a.work)
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        dev = torch.cuda.get_device_name()
    else:
        dev = "cpu"
        if not a.tiny:
            say("WARNING: no GPU; this will be slow (use --tiny to test the script)")
    R = Results(OUT, device=dev, torch=torch.__version__, args=vars(a))
    budget = a.total_minutes * 60
    say(f"device {dev}; total budget {a.total_minutes} min; loading {a.data}")
    D = load_data(Path(a.data))
    say(f"loaded: {len(D['ids']):,} IMDB tokens, {len(D['gut_ids']):,} Gutenberg tokens")

    def minutes(want, later):  # this phase's budget, leaving the later phases theirs
        left = budget - (time.perf_counter() - T0) - later * 60
        return max(0.2, min(want, left / 60))

    def do_small(later):
        small_min = minutes(a.small_minutes, later)
        say(f"phase C: small preset on Gutenberg + IMDB unsup, {small_min:.2f} min")
        folder, card = phase_small(a, D, work, small_min, precision)
        R["small"] = {**{k: card[k] for k in ("final_valid_perplexity", "valid_by_corpus", "epochs", "batches_per_epoch",
                                              "tokens_trained", "tokens_per_second", "train_seconds", "vocab_size", "weights_bytes")},
                      **ship(folder, OUT)}  # fmt: skip
        say(f"phase C done: {R.d['phases']['small']}")
        _free()

    precision = a.precision
    if a.small_first:  # the shipped model first, when device time is short
        do_small(a.lm_minutes + a.clas_minutes + 0.3)
    small_later = 0.0 if a.small_first else a.small_minutes
    lm_min = minutes(a.lm_minutes, a.clas_minutes + small_later + 0.3)
    say(f"phase A: language model on all IMDB text, {lm_min:.2f} min")
    learn, res = phase_lm(a, D, work, lm_min)
    R["lm"] = res
    say(f"phase A done: {res}")
    precision = res["precision"]
    del learn
    _free()
    clas_min = minutes(a.clas_minutes, small_later + 0.2)
    say(f"phase B: classifier with gradual unfreezing, {clas_min:.2f} min")
    R["classifier"] = phase_clas(a, D, work, clas_min, precision)
    _free()
    if not a.small_first:
        do_small(0.15)
    say(f"all done in {time.perf_counter() - T0:.0f} s; results in {OUT / 'results.json'}")


def _free():
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prep", help="tokenize IMDB and Gutenberg into compact arrays (CPU)")
    pp.add_argument("--data", required=True, help="folder to write the arrays to")
    pp.add_argument("--imdb", default=str(SHARED / "imdb"))
    pp.add_argument("--gutenberg", default=str(SHARED / "gutenberg"))
    pp.add_argument("--max-vocab", type=int, default=60000)
    pp.add_argument(
        "--small-vocab", type=int, default=28000, help="the shipped model's vocabulary (<= 25 MB in fp16)"
    )
    pp.add_argument("--gutenberg-tokens", type=float, default=18e6, help="about this many Gutenberg tokens")
    pp.add_argument("--tiny", type=int, default=0, help="only this many reviews per split (script test)")
    rp = sub.add_parser("run", help="the GPU run (three time-budgeted phases)")
    rp.add_argument("--data", required=True)
    rp.add_argument("--out", default=os.environ.get("OUT", "imdb_gpu_out"))
    rp.add_argument("--work", default="/tmp/imdb_gpu_work", help="scratch folder (encoder, model files)")
    rp.add_argument("--tiny", action="store_true", help="CPU test: tiny models, budgets in seconds")
    rp.add_argument("--total-minutes", type=float, default=8.0)
    rp.add_argument("--lm-minutes", type=float, default=3.4)
    rp.add_argument("--clas-minutes", type=float, default=2.4)
    rp.add_argument("--small-minutes", type=float, default=1.5)
    rp.add_argument("--precision", default="fastest", choices=["fastest", "auto", "bf16", "fp16", "fp32"])
    rp.add_argument("--lm-bs", type=int, default=256)
    rp.add_argument("--lm-bptt", type=int, default=80)
    rp.add_argument("--lm-lr", type=float, default=1e-2)
    rp.add_argument("--lm-drop-mult", type=float, default=0.1)
    rp.add_argument("--lm-valid-pct", type=float, default=0.02)
    rp.add_argument("--clas-bs", type=int, default=64)
    rp.add_argument("--clas-drop-mult", type=float, default=0.5)
    rp.add_argument("--monitor", type=int, default=2000, help="test reviews used as the per-epoch validation")
    rp.add_argument("--small-bs", type=int, default=128)
    rp.add_argument("--small-lr", type=float, default=1e-2)
    rp.add_argument("--small-drop-mult", type=float, default=0.1)
    rp.add_argument("--small-valid-pct", type=float, default=0.02)
    rp.add_argument(
        "--test-limit", type=int, default=0, help="evaluate on this many test reviews (0: all 25,000)"
    )
    rp.add_argument("--seed", type=int, default=42)
    rp.add_argument("--small-first", action="store_true", help="run phase C (the model to ship) first")
    rp.add_argument("--log-every", type=float, default=15.0)
    a = p.parse_args(argv)
    if a.cmd == "prep":
        prep(a)
    else:
        if a.tiny:
            torch.set_num_threads(1)
            a.lm_bs, a.clas_bs, a.small_bs, a.lm_bptt, a.monitor = 16, 16, 16, 30, 200
            a.lm_valid_pct = a.small_valid_pct = 0.03
            a.precision = "fp32"
        run(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ULMFiT on a CPU: the lesson's IMDB-sample path with and without LM pretraining, LM speed vs fastai v2, WT103 load.

Three parts (``--parts speed,sample,load``):

* speed  - language-model training throughput (forward + backward + optimizer step, tokens/s)
  on the IMDB sample (bs 64, bptt 72, vocab ~7k): emberfit's and fastai v2's full-size
  AWD-LSTM side by side (fp32), plus emberfit in bf16 autocast and the small CPU preset. Each
  run is its own process: "peak MB" is its peak RSS, "train MB" the growth of RSS from the
  start of training to the peak. fastai runs with ``~/.cache/fastai-venv/bin/python`` when
  that venv exists (made by ../shared/tools/fastai-venv.sh; this script never creates it).
* sample - the lesson's path on the shipped IMDB sample with the small preset (LM fine-tuned
  on texts.csv, ``save_encoder``, classifier with gradual unfreezing, evaluated on the sample's
  200 ``is_valid`` reviews), twice with the same settings and seed: from random weights, and
  from a language model first pretrained on ``--pretrain-reviews`` IMDB ``unsup`` reviews
  (real unlabelled text, none of them in the sample) for ``--pretrain-epochs`` epochs.
  The defaults come from a scan of this same code on a GPU (one seed, so +-3 points): the
  classifier reached 0.61 from random weights, 0.685 / 0.74 after 2.4M tokens of unsup
  pretraining (1 / 2 classifier epochs per stage), 0.77 after 15M tokens.
* load   - a synthetic WikiText-103-format checkpoint (published key names and shapes, vocab
  60k): helper script ``benchmarks/pretrained_load.py``, and the whole
  ``language_model_learner(data, pretrained_model=URLs.WT103)`` call with those files in place.

Threads: torch's default unless ``--threads`` is given. On the 2-vCPU machine this was written
on, 2 intra-op threads ran the LSTMs (oneDNN, both libraries) about 2x faster than 1 while the
machine was otherwise idle, but up to 5x slower than 1 while other work kept a vCPU busy (the
LSTM syncs its threads at every time step); ``--threads 1`` is the robust choice on a shared
machine, and ``--also-threads N`` adds small-preset rows at N threads.

``--pretrained DIR`` makes the pretrained arm start from the output of a longer
``emberfit pretrain`` run (or ``bundled``) instead of pretraining here; ``--same-torch`` adds
rows ``emberfit*``: emberfit run by the fastai venv's python, so on the same torch build as fastai.

    python benchmarks/ulmfit_imdb.py [--parts speed,sample,load] [--threads 1] [--also-threads 2] [--bf16]
        [--pretrained DIR | --pretrain-reviews 8000 --pretrain-epochs 1] [--lm-epochs 1] [--clas-epochs 2]
        [--lm-lrs 1e-2,3e-3] [--speed-batches 5] [--same-torch] [--no-fastai] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FASTAI_PY = Path.home() / ".cache" / "fastai-venv" / "bin" / "python"

# ------------------------------------------------------------------------------ speed workers
# Both workers: build LM data from the sample's texts.csv, then time `batches` training steps
# after `warm` warm-up steps inside the library's own fit loop, and report JSON.
COMMON = r"""
import json, resource, sys, time
a = json.loads(sys.argv[1])
import torch
torch.set_num_threads(a["threads"] or torch.get_num_threads())

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

EMBERFIT_SPEED = (
    COMMON
    + r"""
import dataclasses
from emberfit.core.callbacks.base import Callback, CancelFitException
from emberfit.core.download import URLs, untar_data
from emberfit.core.seed import set_seed
from emberfit.text.databunch import TextLMDataBunch
from emberfit.text.learner import language_model_learner
from emberfit.text.models import AWD_LSTM, awd_lstm_lm_config, awd_lstm_small_lm_config

set_seed(0)
data = TextLMDataBunch.from_csv(untar_data(URLs.IMDB_SAMPLE), "texts.csv", text_cols="text", valid_pct=0.1,
                                bs=64, bptt=72, device="cpu")
cfg = awd_lstm_small_lm_config if a["model"] == "small" else awd_lstm_lm_config
learn = language_model_learner(data, AWD_LSTM, config=cfg, drop_mult=0.3, pretrained=False, silent=True)
if a["bf16"]:
    learn.to_bf16()

class Timer(Callback):
    def before_batch(self):
        if self.learn.training and self.learn.iter == a["warm"]:
            self.t0, self.tokens = time.perf_counter(), 0
    def after_batch(self):
        if self.learn.training and self.learn.iter >= a["warm"]:
            self.tokens += self.learn.xb.numel()
            if self.learn.iter == a["warm"] + a["batches"] - 1:
                self.dt = time.perf_counter() - self.t0
                raise CancelFitException

timer, rss0 = Timer(), rss_mb()
learn.fit(1, 1e-3, callbacks=[timer])
print(json.dumps({"tok_s": timer.tokens / timer.dt, "peak_mb": peak_mb(), "train_mb": peak_mb() - rss0,
                  "vocab": len(data.vocab.itos), "torch": torch.__version__}))
"""
)

FASTAI_SPEED = (
    COMMON
    + r"""
import pandas as pd
from fastai.text.all import (AWD_LSTM, Callback, CancelFitException, ColReader, DataBlock, RandomSplitter,
                             TextBlock, awd_lstm_lm_config, language_model_learner, set_seed)
set_seed(0)
df = pd.read_csv(a["csv"])
block = DataBlock(blocks=TextBlock.from_df("text", is_lm=True, min_freq=2, seq_len=72),
                  get_x=ColReader("text"), splitter=RandomSplitter(0.1, seed=0))
dls = block.dataloaders(df, bs=64, seq_len=72, device="cpu")
cfg = dict(awd_lstm_lm_config)
if a["model"] == "small":
    cfg.update(emb_sz=200, n_hid=600)
learn = language_model_learner(dls, AWD_LSTM, config=cfg, drop_mult=0.3, pretrained=False)

class Timer(Callback):
    def before_batch(self):
        if self.training and self.iter == a["warm"]:
            self.t0, self.tokens = time.perf_counter(), 0
    def after_batch(self):
        if self.training and self.iter >= a["warm"]:
            self.tokens += self.xb[0].numel()
            if self.iter == a["warm"] + a["batches"] - 1:
                self.dt = time.perf_counter() - self.t0
                raise CancelFitException

timer, rss0 = Timer(), rss_mb()
with learn.no_bar(), learn.no_logging():
    learn.fit(1, 1e-3, cbs=[timer])
print(json.dumps({"tok_s": timer.tokens / timer.dt, "peak_mb": peak_mb(), "train_mb": peak_mb() - rss0,
                  "vocab": len(dls.vocab), "torch": torch.__version__}))
"""
)


def run_worker(python: str, code: str, args: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([python, "-c", code, json.dumps(args)], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:120]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def fastai_python() -> str | None:
    if not FASTAI_PY.exists():
        return None
    ok = subprocess.run([str(FASTAI_PY), "-c", "import fastai.text.all"], capture_output=True).returncode == 0
    return str(FASTAI_PY) if ok else None


def part_speed(a) -> None:
    from emberfit.core.download import URLs, untar_data

    csv = str(untar_data(URLs.IMDB_SAMPLE) / "texts.csv")
    t = a.threads or os.cpu_count()
    runs = [  # (system, preset, bf16, threads)
        ("emberfit", "full", False, t),
        ("fastai", "full", False, t),
        ("emberfit", "full", True, t),
        ("emberfit", "small", False, t),
        ("fastai", "small", False, t),
        ("emberfit", "small", True, t),
    ]
    if a.same_torch:  # emberfit under the fastai venv's python: the same torch build as fastai's rows
        runs += [("emberfit*", m, False, t) for m in ("full", "small")]
    if a.also_threads:  # the same small runs at another thread count
        runs += [(s, "small", False, a.also_threads) for s in ("emberfit", "fastai")]
    runs = [r for r in runs if r[1] in a.speed_models.split(",")]
    fpy = None if a.no_fastai else fastai_python()
    print(f"\n## LM training speed (IMDB sample, bs 64, bptt 72, {a.speed_batches} timed batches after 2)")
    if fpy is None:
        print("fastai v2 venv (~/.cache/fastai-venv) absent or --no-fastai: fastai rows skipped")
    print(
        f"{'system':<10}{'model':<7}{'precision':<10}{'threads':>8}{'vocab':>7}{'tokens/s':>10}{'peak MB':>9}"
        f"{'train MB':>10}  torch"
    )
    for system, model, bf16, threads in runs:
        if system in ("fastai", "emberfit*") and fpy is None:
            continue
        args = {
            "threads": threads,
            "warm": 2,
            "batches": a.speed_batches,
            "csv": csv,
            "model": model,
            "bf16": bf16,
        }
        code, py = {
            "fastai": (FASTAI_SPEED, fpy),
            "emberfit": (EMBERFIT_SPEED, sys.executable),
            "emberfit*": (EMBERFIT_SPEED, fpy),
        }[system]
        r = run_worker(py, code, args)
        prec = "bf16" if bf16 else "fp32"
        if "error" in r:
            print(f"{system:<10}{model:<7}{prec:<10}{threads:>8} failed: {r['error']}")
            continue
        print(
            f"{system:<10}{model:<7}{prec:<10}{threads:>8}{r['vocab']:>7}{r['tok_s']:>10.0f}{r['peak_mb']:>9.0f}"
            f"{r['train_mb']:>10.0f}  {r['torch']}",
            flush=True,
        )


# ----------------------------------------------------------------------------- sample path
def unsup_data(a):
    """LM data from the first ``--pretrain-reviews`` IMDB unsup reviews that are not in the sample (2% held out)."""
    import pandas as pd

    from emberfit.core.download import URLs, untar_data
    from emberfit.core.seed import set_seed
    from emberfit.text.item_lists import TextList

    sample = set(pd.read_csv(untar_data(URLs.IMDB_SAMPLE) / "texts.csv").text)
    unsup = pd.read_csv(a.unsup, keep_default_na=False, usecols=["text"])
    texts = [t for t in unsup.text[: a.pretrain_reviews + 100] if t not in sample][: a.pretrain_reviews]
    set_seed(a.seed)
    return (
        TextList.from_df(pd.DataFrame({"text": texts}), cols="text", max_vocab=a.pretrain_vocab, min_freq=3)
        .split_by_rand_pct(0.02)
        .label_for_lm()
        .databunch(bs=64, bptt=70, device=a.device)
    )


def pretrain_unsup(a, out: Path, data=None) -> dict:
    """Pretrain the small-preset LM on IMDB unsup reviews (none in the sample); returns files and stats."""
    from emberfit.text.learner import language_model_learner
    from emberfit.text.models import AWD_LSTM, awd_lstm_small_lm_config
    from emberfit.text.weights import save_pretrained

    t0 = time.perf_counter()
    data = unsup_data(a) if data is None else data
    t_data = time.perf_counter() - t0
    learn = language_model_learner(
        data, AWD_LSTM, config=awd_lstm_small_lm_config, drop_mult=0.1, pretrained=False, silent=not a.verbose
    )
    if a.bf16:
        learn.to_bf16()
    t1 = time.perf_counter()
    learn.fit_one_cycle(a.pretrain_epochs, a.pretrain_lr, moms=(0.8, 0.7))
    t_fit = time.perf_counter() - t1
    loss, acc, ppl = learn.validate()
    files = save_pretrained(
        learn.model, data.vocab.itos, out / "unsup_lm.safetensors", out / "unsup_itos.json"
    )
    return {
        "files": files,
        "tokens": int(data.train_dl.n_tokens),
        "vocab": len(data.vocab.itos),
        "data_s": t_data,
        "fit_s": t_fit,
        "acc": acc,
        "ppl": ppl,
    }


def pretrained_from(folder: str) -> dict:
    """An ``emberfit pretrain`` output folder (or 'bundled') as the pretrained arm's start, with its card's figures."""
    from emberfit.text.weights import init_files

    weights, itos = init_files(folder)
    card_file = weights.parent / "model_card.json"
    card = json.loads(card_file.read_text()) if card_file.is_file() else {}
    return {
        "files": (weights, itos),
        "tokens": int(card.get("tokens_trained") or 0),
        "vocab": int(card.get("vocab_size") or 0),
        "data_s": 0.0,
        "fit_s": float(card.get("train_seconds") or 0.0),
        "acc": card.get("final_valid_accuracy") or float("nan"),
        "ppl": card.get("final_valid_perplexity") or float("nan"),
        "from": str(weights.parent),
        "card": card,
    }


def part_sample(a) -> None:
    import torch

    from emberfit.text.demo import sample_path

    torch.set_num_threads(a.threads or torch.get_num_threads())
    budget = a.pretrained or f"{a.pretrain_reviews} unsup reviews x {a.pretrain_epochs} epoch(s)"
    print(
        f"\n## IMDB sample path, small preset ({torch.get_num_threads()} thread(s), {'bf16' if a.bf16 else 'fp32'}, seed {a.seed})"
    )
    print(
        f"LM: texts.csv (1,000 reviews, 10% held out), 1 epoch frozen + {a.lm_epochs} unfrozen; classifier: 800/200 is_valid"
    )
    print(
        f"split, head + freeze_to(-2) + freeze_to(-3) + unfreeze, {a.clas_epochs} epoch(s) each. Pretraining: {budget}."
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lm_lrs = tuple(float(v) for v in a.lm_lrs.split(","))
        kw = dict(
            lm_epochs=a.lm_epochs, clas_epochs=a.clas_epochs, seed=a.seed, bf16=a.bf16, verbose=a.verbose,
            lm_lrs=lm_lrs,
        )  # fmt: skip
        if "none" in a.arms:
            t = time.perf_counter()
            res = sample_path(model_dir=tmp / "none", **kw)
            rows.append(("no pretraining", None, res, time.perf_counter() - t))
            print(f"[no pretraining] generated: {res['generated']}", flush=True)
        if "pretrained" in a.arms:
            pre = pretrained_from(a.pretrained) if a.pretrained else pretrain_unsup(a, tmp)
            if a.pretrained:
                c = pre["card"]
                print(
                    f"[pretraining] from {pre['from']}: {pre['tokens']:,} tokens trained in {pre['fit_s'] / 60:.1f} min "
                    f"on {c.get('device', '?')} ({c.get('precision', '?')}), vocab {pre['vocab']:,}, "
                    f"held-out accuracy {pre['acc']:.3f}, perplexity {pre['ppl']:.1f}"
                    + (f"; it started from {c['init']['from']}" if c.get("init") else ""),
                    flush=True,
                )
            else:
                print(
                    f"[pretraining] {pre['tokens']:,} tokens, vocab {pre['vocab']:,}, tokenize {pre['data_s']:.0f} s, "
                    f"train {pre['fit_s'] / 60:.1f} min ({pre['tokens'] * a.pretrain_epochs / pre['fit_s']:.0f} "
                    f"tokens/s), held-out unsup accuracy {pre['acc']:.3f}, perplexity {pre['ppl']:.1f}",
                    flush=True,
                )
            t = time.perf_counter()
            res = sample_path(pretrained_fnames=pre["files"], model_dir=tmp / "pre", **kw)
            rows.append(("unsup pretraining", pre, res, time.perf_counter() - t))
            print(f"[pretrained] generated: {res['generated']}", flush=True)
    print(
        f"\n{'start':<20}{'pretrain min':>13}{'LM acc':>8}{'LM ppl':>8}{'clas acc':>10}{'sample-path min':>17}"
    )
    for name, pre, res, secs in rows:
        pmin = f"{(pre['data_s'] + pre['fit_s']) / 60:.1f}" if pre else "-"
        print(
            f"{name:<20}{pmin:>13}{res['LM accuracy']:>8.3f}{res['LM perplexity']:>8.1f}"
            f"{res['classifier accuracy']:>10.3f}{secs / 60:>17.1f}"
        )


# ------------------------------------------------------------------------------------ load
def part_load(a) -> None:
    import importlib.util
    import warnings

    print("\n## WT103-format checkpoint (synthetic, published key names/shapes, vocab 60,000)")
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pretrained_load.py")], capture_output=True, text=True
    )
    print(p.stdout.strip() or p.stderr.strip().splitlines()[-1])
    spec = importlib.util.spec_from_file_location(
        "pretrained_load", ROOT / "benchmarks" / "pretrained_load.py"
    )
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    with tempfile.TemporaryDirectory() as home:
        os.environ["EMBERFIT_HOME"] = home
        folder = Path(home) / "models" / "wt103-fwd"
        folder.mkdir(parents=True)
        helper.write_checkpoint(folder)
        from emberfit.core.download import URLs, untar_data
        from emberfit.text.databunch import TextLMDataBunch
        from emberfit.text.learner import language_model_learner

        data = TextLMDataBunch.from_csv(
            untar_data(URLs.IMDB_SAMPLE), "texts.csv", text_cols="text", device="cpu"
        )
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            learn = language_model_learner(data, pretrained_model=URLs.WT103, drop_mult=0.3, silent=True)
        dt = time.perf_counter() - t
    frozen = sum(not p.requires_grad for p in learn.model.parameters())
    print(
        f"language_model_learner(data_lm, pretrained_model=URLs.WT103) with lstm_fwd.pth + itos_wt103.pkl in place: "
        f"{dt:.1f} s (model built, 60k -> {len(data.vocab.itos):,} tokens mapped, {frozen} tensors frozen)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="speed,sample,load")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch's default)")
    p.add_argument(
        "--also-threads", type=int, default=0, help="also time the small preset at this thread count"
    )
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for the sample path and pretraining")
    p.add_argument("--unsup", default=str(DATA / "imdb" / "unsup.csv.gz"), help="IMDB unsup reviews (csv.gz)")
    p.add_argument(
        "--pretrained",
        help="the pretrained arm starts from this `emberfit pretrain --out` folder (or 'bundled') instead of "
        "pretraining on --pretrain-reviews here",
    )
    p.add_argument("--pretrain-reviews", type=int, default=8000)
    p.add_argument("--pretrain-epochs", type=int, default=1)
    p.add_argument("--pretrain-vocab", type=int, default=15000)
    p.add_argument("--pretrain-lr", type=float, default=2e-2)
    p.add_argument(
        "--arms", default="none,pretrained", help="sample-path runs: none (random start), pretrained"
    )
    p.add_argument("--lm-epochs", type=int, default=1)
    p.add_argument("--lm-lrs", default="1e-2,3e-3", help="LM fine-tuning LRs: frozen epoch, unfrozen epochs")
    p.add_argument("--clas-epochs", type=int, default=2)
    p.add_argument("--speed-batches", type=int, default=5)
    p.add_argument("--speed-models", default="full,small", help="which presets the speed part times")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-fastai", action="store_true")
    p.add_argument(
        "--same-torch",
        action="store_true",
        help="also time emberfit (rows 'emberfit*') with the fastai venv's python and torch "
        "(needs safetensors installed there)",
    )
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    t = time.perf_counter()
    parts = a.parts.split(",")
    print(
        f"emberfit ULMFiT benchmark: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} at start"
    )
    # load first: a child process inherits its parent's peak RSS (ru_maxrss survives exec), so
    # the small helper runs before this process has held any big data
    if "load" in parts:
        part_load(a)
    if "speed" in parts:
        part_speed(a)
    if "sample" in parts:
        part_sample(a)
    print(
        f"\ntotal {(time.perf_counter() - t) / 60:.1f} min; load average {os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()

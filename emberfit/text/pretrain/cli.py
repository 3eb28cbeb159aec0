"""The ``emberfit pretrain`` command: its arguments, resuming a run's own settings, and :func:`pretrain`.

``emberfit.cli`` calls :func:`main`; :func:`pretrain` runs the same command from Python and
returns the model card. The training itself is :func:`emberfit.text.pretrain.train.train_lm`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist

from ...core.callbacks.base import Callback
from ...core.distributed import init_distributed, is_main, shutdown_distributed, world_size
from ...core.io import read_json
from ...core.registry import check_kwargs
from ...core.threads import parse_threads, set_threads
from ..corpus import LMCorpus, prepare_corpus
from ..models.awd_lstm import AWDLSTMConfig
from .settings import PRESETS, PretrainSettings, run_record
from .train import train_lm

__all__ = ["pretrain", "main"]


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
    p.add_argument(
        "--threads",
        help="torch threads per process: a number, or 'auto' (the command's default: the cores free now; "
        "--resume then keeps the run's own)",
    )
    p.add_argument("--text-field", default="text", help="JSONL field holding the text")
    p.add_argument("--text-col", default="text", help="CSV column holding the text")
    return p


_RESULT_ARGS = [f.name for f in dataclasses.fields(PretrainSettings)]


def _resumed_settings(a: argparse.Namespace, given: dict, out: Path, run_file: Path):
    """The settings and corpus paths of the run in ``out``; settings given again must not differ."""
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
    return settings, a.corpus or run["corpus_paths"]


def _new_settings(a: argparse.Namespace, given: dict, out: Path, run_file: Path):
    """The settings and corpus paths of a new run; ``out`` must not hold one already."""
    if run_file.is_file() and is_main():
        raise ValueError(
            f"{out} already holds a pretraining run; pass --resume to continue it, or choose another --out"
        )
    if not a.corpus:
        raise ValueError("--corpus is required: one or more folders or files of text")
    return PretrainSettings(**given), a.corpus


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
    run_file = run_record(out)
    pick = _resumed_settings if a.resume else _new_settings
    settings, corpus_paths = pick(a, given, out, run_file)
    for p in corpus_paths:
        if not Path(p).exists():
            raise FileNotFoundError(f"--corpus {p}: no such file or folder")
    _set_threads(a.threads, run_file if a.resume else None)
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
        run_info={"corpus_paths": [str(p) for p in corpus_paths], "threads": torch.get_num_threads()},
    )
    shutdown_distributed()  # all ranks leave together (rank 0 may still be writing the card)
    return card


def _set_threads(threads: str | None, resumed_run: Path | None) -> None:
    """torch's threads for each process from ``--threads`` (None: leave them as they are).

    ``auto``: the free cores, shared by torchrun's processes on this machine; when resuming, the
    threads the run started with (so the numbers come out as in an uninterrupted run).
    """
    if threads is None:
        return
    n = parse_threads(threads)
    first = os.environ.get("LOCAL_RANK", "0") == "0"  # torchrun's processes on this machine say it once
    if n is None and resumed_run is not None and resumed_run.is_file():
        saved = read_json(resumed_run, "pretraining run record").get("threads")
        if isinstance(saved, int) and not isinstance(saved, bool) and saved > 0:
            torch.set_num_threads(saved)
            if first:
                print(f"torch threads: {saved} (as the run started; --threads N to choose)", flush=True)
            return
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    set_threads(n, log=print if first else None, processes=local, hint="--threads N to choose")


def _norm(v):
    # JSON gives lists where the settings hold tuples (moms): compare them alike
    return list(v) if isinstance(v, tuple) else v


def _prepare_ranked(paths, s: PretrainSettings, a) -> LMCorpus:
    """Rank 0 tokenizes first (filling the cache); the other ranks then read the cache."""
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
    """Entry point of ``emberfit pretrain`` (called by ``emberfit.cli``); returns the exit status.

    The command chooses torch's threads (``--threads auto`` unless given); :func:`pretrain` leaves them.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(x == "--threads" or x.startswith("--threads=") for x in argv):
        argv += ["--threads", "auto"]
    try:
        pretrain(argv)
    except (ValueError, KeyError, FileNotFoundError, TypeError) as e:
        print(f"emberfit pretrain: error: {e}", file=sys.stderr)
        return 2
    return 0

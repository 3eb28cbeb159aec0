"""MovieLens 100k, the lesson's collaborative filtering: emberfit against fastai v2, side by side.

Settings (the lesson's): ratings merged with titles, ``valid_pct=0.1, seed=42``, ``n_factors=40``,
``y_range=(0, 5.5)``, ``wd=0.1``, ``fit_one_cycle(5, 5e-3)``, at bs=64 and bs=1024, for the dot
product and the ``use_nn=True`` model. Each run is its own process (so peak memory is per run);
fastai v2 runs with ``~/.cache/fastai-venv/bin/python`` on exactly the same split when that venv
exists (``../shared/tools/fastai-venv.sh`` makes it), and the table says so when it does not.

    python benchmarks/collab_ml100k.py [--data ../shared/data/ml-100k] [--bs 64 1024] [--no-fastai]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
FASTAI_PY = Path.home() / ".cache" / "fastai-venv" / "bin" / "python"
SETTINGS = dict(valid_pct=0.1, seed=42, n_factors=40, y_range=(0, 5.5), wd=0.1, epochs=5, lr=5e-3)

# Shared by both sides: the lesson's frame and the split (core's split_by_rand_pct: a numpy
# default_rng(seed) permutation, the first int(valid_pct * n) rows sorted are validation).
LOAD = """
import json, resource, time
import numpy as np, pandas as pd
def load(data):
    ratings = pd.read_csv(f"{data}/u.data", sep="\\t", header=None, names=["user", "item", "rating", "timestamp"])
    movies = pd.read_csv(f"{data}/u.item", sep="|", encoding="latin-1", header=None, usecols=[0, 1],
                         names=["item", "title"])
    return ratings.merge(movies[["item", "title"]])
def split(n, valid_pct, seed):
    perm = np.random.default_rng(seed).permutation(n)
    valid = np.sort(perm[: int(valid_pct * n)])
    return np.setdiff1d(np.arange(n), valid), valid
def threads(n):
    import torch
    if n > 0:
        torch.set_num_threads(n)
    return torch.get_num_threads()
def report(**kw):
    kw["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(kw))
"""

EMBERFIT_RUN = (
    LOAD
    + """
import sys, torch
from emberfit.collab import *
data_dir, bs, use_nn, S = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "nn", json.loads(sys.argv[4])
n_threads = threads(S["threads"])
df = load(data_dir)
_, valid = split(len(df), S["valid_pct"], S["seed"])
set_seed(S["seed"])
data = CollabDataBunch.from_df(df, seed=S["seed"], valid_pct=S["valid_pct"], item_name="title", bs=bs)
learn = collab_learner(data, n_factors=S["n_factors"], use_nn=use_nn, y_range=S["y_range"], wd=S["wd"],
                       metrics=[rmse], silent=True, **S.get("extra", {}))
t0 = time.perf_counter()
learn.fit_one_cycle(S["epochs"], S["lr"])
sec = (time.perf_counter() - t0) / S["epochs"]
epoch_times = learn.recorder.epoch_times  # each: one training pass + validation
# our split must be the shared one (same ratings in valid), or the fastai comparison is not like for like
assert np.isclose(data.valid_ds.y.items.sum(), df.rating.values[valid].sum()) and len(data.valid_ds) == len(valid)
report(sec_per_epoch=sec, epoch_times=epoch_times, rmse=learn.validate()[1], torch=torch.__version__, batches=len(data.train_dl),
       threads=n_threads, split_check=float(df.rating.values[valid].sum() + df.user.values[valid].sum()))
"""
)

FASTAI_RUN = (
    LOAD
    + """
import sys, torch, fastai
from fastai.collab import *
from fastai.tabular.all import *
data_dir, bs, use_nn, S = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "nn", json.loads(sys.argv[4])
n_threads = threads(S["threads"])
df = load(data_dir)
train, valid = split(len(df), S["valid_pct"], S["seed"])
set_seed(S["seed"])
to = TabularCollab(df, [Categorify], ["user", "title"], y_names=["rating"], y_block=TransformBlock(),
                   splits=(list(train), list(valid)))
dls = to.dataloaders(bs=bs)
kw = dict(layers=[100, 50]) if use_nn else {}
learn = collab_learner(dls, n_factors=S["n_factors"], use_nn=use_nn, y_range=S["y_range"], metrics=rmse, **kw)
class EpochTimes(Callback):  # one training pass + validation, as emberfit's recorder measures
    order = -100
    def before_fit(self): self.times = []
    def before_epoch(self): self.t = time.perf_counter()
    def after_epoch(self): self.times.append(time.perf_counter() - self.t)
timer = EpochTimes()
with learn.no_bar(), learn.no_logging():
    t0 = time.perf_counter()
    learn.fit_one_cycle(S["epochs"], S["lr"], wd=S["wd"], cbs=[timer])
    sec = (time.perf_counter() - t0) / S["epochs"]
    res = learn.validate()
report(sec_per_epoch=sec, epoch_times=timer.times, rmse=float(res[1]), torch=torch.__version__, fastai=fastai.__version__,
       batches=len(dls.train), threads=n_threads, split_check=float(df.rating.values[valid].sum() + df.user.values[valid].sum()))
"""
)


def run(python: str, code: str, data: Path, bs: int, model: str, settings: dict, env=None) -> dict:
    """Run one training in a fresh process and return its RESULT line as a dict (or the error)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    try:
        p = subprocess.run(
            [python, f.name, str(data), str(bs), model, json.dumps(settings)],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
    finally:
        os.unlink(f.name)
    for line in p.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit code {p.returncode}"}


def fastai_available() -> tuple[bool, str]:
    if not FASTAI_PY.exists():
        return (
            False,
            f"fastai v2: not run ({FASTAI_PY} does not exist; ../shared/tools/fastai-venv.sh makes it)",
        )
    p = subprocess.run(
        [str(FASTAI_PY), "-c", "import fastai; print(fastai.__version__)"], capture_output=True, text=True
    )
    if p.returncode:
        return False, f"fastai v2: not run ({FASTAI_PY} cannot import fastai)"
    return True, f"fastai v2: {p.stdout.strip()} ({FASTAI_PY})"


# emberfit-only variant: the lesson's recipe with biases left out of weight decay and wd 0.15
TUNED = {"wd": 0.15, "extra": {"bn_wd": False}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with u.data and u.item")
    ap.add_argument("--bs", type=int, nargs="+", default=[64, 1024])
    ap.add_argument("--no-fastai", action="store_true", help="skip the fastai v2 side")
    ap.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads for both sides (0: torch's default). 1 is fastest for these tiny "
        "batches and, on a shared machine, the only setting that gives steady timings",
    )
    args = ap.parse_args()
    if not (args.data / "u.data").is_file():
        sys.exit(f"no u.data under {args.data}; pass --data /path/to/ml-100k")
    settings = {**SETTINGS, "epochs": args.epochs, "threads": args.threads}
    have_fastai, fastai_note = (
        (False, "fastai v2: skipped (--no-fastai)") if args.no_fastai else fastai_available()
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    rows = []
    for bs in args.bs:
        for model in ("dot", "nn"):
            r = run(sys.executable, EMBERFIT_RUN, args.data, bs, model, settings, env)
            rows.append(("emberfit", model, bs, r))
            if have_fastai:
                rows.append(
                    ("fastai v2", model, bs, run(str(FASTAI_PY), FASTAI_RUN, args.data, bs, model, settings))
                )
        r = run(sys.executable, EMBERFIT_RUN, args.data, bs, "dot", {**settings, **TUNED}, env)
        rows.append(("emberfit", "dot, tuned", bs, r))
    print_table(rows, settings, fastai_note, have_fastai)


def steady(r: dict) -> float:
    """Median epoch time leaving out the first epoch (lazy initialisation, allocator warm-up)."""
    t = sorted(r["epoch_times"][1:] or r["epoch_times"])
    return t[len(t) // 2] if len(t) % 2 else (t[len(t) // 2 - 1] + t[len(t) // 2]) / 2


def print_table(rows, settings, fastai_note, have_fastai) -> None:
    s = settings
    print(
        f"\nMovieLens 100k (ratings + titles), valid_pct={s['valid_pct']}, seed={s['seed']}, "
        f"n_factors={s['n_factors']}, y_range={tuple(s['y_range'])}, wd={s['wd']}, "
        f"fit_one_cycle({s['epochs']}, {s['lr']}); nn: layers [100, 50]; "
        f"tuned: bn_wd=False (biases undecayed), wd={TUNED['wd']}; torch threads: {s['threads'] or 'default'}"
    )
    print(fastai_note)
    print(
        "\ns/epoch: median over epochs 2..n of one training pass + validation; fit/epoch: the whole "
        "fit_one_cycle call (optimizer creation and first-epoch warm-up included) / epochs"
    )
    print(
        "\n| library | model | bs | batches/epoch | s/epoch | fit/epoch | valid RMSE | peak RSS (MB) | torch |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    res = {}
    for lib, model, bs, r in rows:
        res[(lib, model, bs)] = r
        if "error" in r:
            print(f"| {lib} | {model} | {bs} | - | - | - | - | - | failed: {r['error'][:120]} |")
            continue
        print(
            f"| {lib} | {model} | {bs} | {r['batches']} | {steady(r):.2f} | {r['sec_per_epoch']:.2f} | {r['rmse']:.4f} | "
            f"{r['peak_rss_mb']:.0f} | {r['torch']} |"
        )
    print()
    for (lib, model, bs), r in res.items():
        if lib != "emberfit" or "error" in r:
            continue
        f = res.get(("fastai v2", model, bs), {})
        line = f"{model} bs={bs}: RMSE {r['rmse']:.4f}"
        if model.startswith("dot") and bs == 64:  # the accuracy target is set at the lesson's setting
            line += f" (target <= 0.89: {'met' if r['rmse'] <= 0.89 else 'NOT met'})"
        if have_fastai and "sec_per_epoch" in f:
            ratio = steady(r) / steady(f)
            same = "same split" if abs(f["split_check"] - r["split_check"]) < 1e-6 else "SPLIT DIFFERS"
            line += (
                f"; s/epoch emberfit/fastai = {ratio:.2f} (target <= 0.33: {'met' if ratio <= 1 / 3 else 'NOT met'})"
                f"; fastai RMSE {f['rmse']:.4f}; {same}"
            )
        print(line)


if __name__ == "__main__":
    main()

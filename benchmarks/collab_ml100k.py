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
df = load(data_dir)
_, valid = split(len(df), S["valid_pct"], S["seed"])
set_seed(S["seed"])
data = CollabDataBunch.from_df(df, seed=S["seed"], valid_pct=S["valid_pct"], item_name="title", bs=bs)
learn = collab_learner(data, n_factors=S["n_factors"], use_nn=use_nn, y_range=S["y_range"], wd=S["wd"],
                       metrics=[rmse], silent=True, **S.get("extra", {}))
t0 = time.perf_counter()
learn.fit_one_cycle(S["epochs"], S["lr"])
sec = (time.perf_counter() - t0) / S["epochs"]
report(sec_per_epoch=sec, rmse=learn.validate()[1], torch=torch.__version__, batches=len(data.train_dl),
       split_check=float(df.rating.values[valid].sum() + df.user.values[valid].sum()),
       n_valid_ds=len(data.valid_ds), split_same=bool(np.isclose(data.valid_ds.y.items.sum(), df.rating.values[valid].sum())))
"""
)

FASTAI_RUN = (
    LOAD
    + """
import sys, torch, fastai
from fastai.collab import *
from fastai.tabular.all import *
data_dir, bs, use_nn, S = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "nn", json.loads(sys.argv[4])
df = load(data_dir)
train, valid = split(len(df), S["valid_pct"], S["seed"])
set_seed(S["seed"])
to = TabularCollab(df, [Categorify], ["user", "title"], y_names=["rating"], y_block=TransformBlock(),
                   splits=(list(train), list(valid)))
dls = to.dataloaders(bs=bs)
kw = dict(layers=[100, 50]) if use_nn else {}
learn = collab_learner(dls, n_factors=S["n_factors"], use_nn=use_nn, y_range=S["y_range"], metrics=rmse, **kw)
with learn.no_bar(), learn.no_logging():
    t0 = time.perf_counter()
    learn.fit_one_cycle(S["epochs"], S["lr"], wd=S["wd"])
    sec = (time.perf_counter() - t0) / S["epochs"]
    res = learn.validate()
report(sec_per_epoch=sec, rmse=float(res[1]), torch=torch.__version__, fastai=fastai.__version__,
       batches=len(dls.train), split_check=float(df.rating.values[valid].sum() + df.user.values[valid].sum()))
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with u.data and u.item")
    ap.add_argument("--bs", type=int, nargs="+", default=[64, 1024])
    ap.add_argument("--no-fastai", action="store_true", help="skip the fastai v2 side")
    ap.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    args = ap.parse_args()
    if not (args.data / "u.data").is_file():
        sys.exit(f"no u.data under {args.data}; pass --data /path/to/ml-100k")
    settings = {**SETTINGS, "epochs": args.epochs}
    have_fastai, fastai_note = (
        (False, "fastai v2: skipped (--no-fastai)") if args.no_fastai else fastai_available()
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    rows = []
    for bs in args.bs:
        for model in ("dot", "nn"):
            rows.append(
                (
                    "emberfit",
                    model,
                    bs,
                    run(sys.executable, EMBERFIT_RUN, args.data, bs, model, settings, env),
                )
            )
            if have_fastai:
                rows.append(
                    ("fastai v2", model, bs, run(str(FASTAI_PY), FASTAI_RUN, args.data, bs, model, settings))
                )
    print_table(rows, settings, fastai_note, have_fastai)


def print_table(rows, settings, fastai_note, have_fastai) -> None:
    s = settings
    print(
        f"\nMovieLens 100k (ratings + titles), valid_pct={s['valid_pct']}, seed={s['seed']}, n_factors={s['n_factors']}, "
        f"y_range={tuple(s['y_range'])}, wd={s['wd']}, fit_one_cycle({s['epochs']}, {s['lr']}); nn: layers [100, 50]"
    )
    print(fastai_note)
    print("\n| library | model | bs | batches/epoch | s/epoch | valid RMSE | peak RSS (MB) | torch |")
    print("|---|---|---|---|---|---|---|---|")
    res = {}
    for lib, model, bs, r in rows:
        res[(lib, model, bs)] = r
        if "error" in r:
            print(f"| {lib} | {model} | {bs} | - | - | - | - | failed: {r['error'][:120]} |")
            continue
        print(
            f"| {lib} | {model} | {bs} | {r['batches']} | {r['sec_per_epoch']:.2f} | {r['rmse']:.4f} | "
            f"{r['peak_rss_mb']:.0f} | {r['torch']} |"
        )
    print()
    for (lib, model, bs), r in res.items():
        if lib != "emberfit" or "error" in r:
            continue
        f = res.get(("fastai v2", model, bs), {})
        line = f"{model} bs={bs}: RMSE {r['rmse']:.4f} (target <= 0.89: {'met' if r['rmse'] <= 0.89 else 'NOT met'})"
        if have_fastai and "sec_per_epoch" in f:
            ratio = r["sec_per_epoch"] / f["sec_per_epoch"]
            same = "same split" if abs(f["split_check"] - r["split_check"]) < 1e-6 else "SPLIT DIFFERS"
            line += (
                f"; speed emberfit/fastai = {ratio:.2f} (target <= 0.33: {'met' if ratio <= 1 / 3 else 'NOT met'})"
                f"; fastai RMSE {f['rmse']:.4f}; {same}"
            )
        print(line)


if __name__ == "__main__":
    main()

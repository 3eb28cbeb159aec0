"""UCI Adult, the lesson's tabular model: emberfit against fastai v2 and LightGBM, side by side.

Rows of the table (each run is its own process, so "peak MB" is that run's peak RSS):

* lesson  - the lesson's setting on the shipped ``adult_sample``: rows 800..999 validate, 6 cat +
  3 cont columns, ``layers=[200,100]``, ``fit(1, 1e-2)``, bs=64 (200 validation rows: noisy).
* speed   - ``adult_sample``, a random 20% validation split (26,049 training rows), the same 9
  columns, bs=64, ``fit_one_cycle(3, 1e-2)``: seconds per epoch (training + validation).
* uci     - train on UCI ``adult.data`` (32,561 rows), evaluate on ``adult.test`` (16,281 rows; its
  first line is skipped and the trailing "." of its labels removed), all 14 features (8 cat,
  6 cont), ``fit_one_cycle(3, 1e-2)``, at the lesson's bs=64 and at bs=256 (the setting chosen for
  the >= 0.855 target; mean and range over ``--seeds`` seeds). LightGBM with default settings on
  the same split (categoricals as pandas categories) is the reference.
* preset  - the same UCI split with ``tabular_learner(data, preset='strong')`` and
  ``learn.fit_preset()``: PLE numerical embeddings, value codes for capital-gain and capital-loss, 4 MLP members, early stopping on 15% of
  ``adult.data`` (``adult.test`` is only scored at the end); mean over ``--seeds`` seeds.
* diamonds - a second real table: ggplot2's ``diamonds`` (53,940 diamonds, 3 ordinal categorical
  + 6 continuous columns), as shipped inside the ``plotnine`` wheel (no download; ``bench`` extra).
  Regression of log(price) on a random 20% test split (numpy default_rng(42)), scored by RMSE:
  the lesson's model (``fit_one_cycle(3, 1e-2)``, bs 256), the preset, fastai v2 and LightGBM.
* 1M      - synthetic 1,000,000 rows x 20 columns (10 categorical with 2..10,000 levels as text,
  10 continuous with NaNs): preprocessing time, one epoch at bs=1024, peak memory; and the preset.

fastai v2 runs with ``~/.cache/fastai-venv/bin/python`` (``../shared/tools/fastai-venv.sh``) on the
same splits and settings, with its own procs order ``[Categorify, FillMissing, Normalize]``.
Both sides use ``--threads`` intra-op threads (default 1: fastest for these small models, and not
hurt by other work on the machine). Seconds per epoch are measured by a callback at each epoch end
(training + validation) and averaged over epochs 2..n; the first epoch, which also carries the
process's one-time warm-up, is shown on its own. Wall seconds suffer when other work shares the
machine (the load average is printed); CPU seconds per epoch are robust to it.

    python benchmarks/tabular_adult.py [--seeds 3] [--threads 1] [--no-fastai] [--no-1m] [--parts uci,preset,...]

The worker scripts (one process each) are in ``benchmarks/tabular_workers.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FASTAI_PY = Path.home() / ".cache" / "fastai-venv" / "bin" / "python"

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tabular_workers.py, beside this file
from tabular_workers import BIG_RUN, EMBERFIT_RUN, FASTAI_RUN, LGBM_RUN  # noqa: E402

PARTS = ("lesson", "speed", "uci", "preset", "diamonds", "lgbm", "1m")


def diamonds_csv() -> str | None:
    """ggplot2's diamonds table inside the installed plotnine package (found without importing plotnine)."""
    spec = importlib.util.find_spec("plotnine")
    if spec is None or not spec.submodule_search_locations:
        return None
    f = Path(list(spec.submodule_search_locations)[0]) / "data" / "diamonds.csv"
    return str(f) if f.is_file() else None


def run(python: str, script: str, settings: dict, timeout: int = 1800) -> dict:
    """Run one worker in its own process; its last 'RESULT {json}' line, or {'error': ...}."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    try:
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        p = subprocess.run(
            [python, f.name, json.dumps(settings)], capture_output=True, text=True, timeout=timeout, env=env
        )
    finally:
        os.unlink(f.name)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode or not lines:
        return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]}
    return json.loads(lines[-1][len("RESULT ") :])


def fastai_ok() -> str | None:
    """None when the fastai venv runs, else why not."""
    if not FASTAI_PY.exists():
        return f"{FASTAI_PY} does not exist (make it with ../shared/tools/fastai-venv.sh)"
    p = subprocess.run([str(FASTAI_PY), "-c", "import fastai"], capture_output=True, text=True)
    return None if p.returncode == 0 else f"{FASTAI_PY} cannot import fastai: {p.stderr.strip()[-200:]}"


def fmt(r: dict, key: str, spec: str) -> str:
    v = r.get(key)
    return "-" if v is None else format(v, spec)


def _runs(parts: set[str]) -> list[tuple[str, str, dict]]:
    """(part, setting label, config) of every network run, in the order of the table."""
    lesson, uci, dia = "1cycle(3,1e-2)", "uci: data->test, 14 feat,", "diamonds: 20% random, log price,"
    runs = [
        ("lesson", "lesson: sample, rows 800-999, fit(1,1e-2)", dict(setting="lesson", bs=64, epochs=1, lr=1e-2, sched="fit")),
        ("speed", f"speed: sample, 20% random, {lesson}", dict(setting="speed", bs=64, epochs=3, lr=1e-2, sched="1cycle")),
        ("uci", f"{uci} {lesson}", dict(setting="uci", bs=64, epochs=3, lr=1e-2, sched="1cycle")),
        ("uci", f"{uci} {lesson}", dict(setting="uci", bs=256, epochs=3, lr=1e-2, sched="1cycle")),
        ("preset", f"{uci} preset='strong'", dict(setting="uci", bs=256, sched="preset")),
        ("diamonds", f"{dia} {lesson}", dict(setting="diamonds", bs=256, epochs=3, lr=1e-2, sched="1cycle")),
        ("diamonds", f"{dia} preset='strong'", dict(setting="diamonds", bs=256, sched="preset")),
    ]  # fmt: skip
    return [r for r in runs if r[0] in parts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-fastai", action="store_true")
    ap.add_argument("--no-1m", action="store_true")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    args = ap.parse_args()
    parts = set(args.parts.split(",")) - ({"1m"} if args.no_1m else set())
    if parts - set(PARTS):
        ap.error(f"--parts: unknown {sorted(parts - set(PARTS))}; choose from {','.join(PARTS)}")
    no_fastai = "--no-fastai given" if args.no_fastai else fastai_ok()
    csv = diamonds_csv()
    if csv is None and "diamonds" in parts:
        print("diamonds not run: install plotnine (pip install -e '.[bench]'), whose wheel ships the table")
        parts.discard("diamonds")
    base = dict(data=args.data, threads=args.threads, seed=0, diamonds_csv=csv)
    load0 = os.getloadavg()[0]  # other work on the machine inflates wall times; cpu s/ep is robust to it
    rows = []
    for _part, label, cfg in _runs(parts):
        several = (cfg["setting"] == "uci" and cfg["bs"] == 256) or cfg["setting"] == "diamonds"
        seeds = range(args.seeds) if several else [0]
        res = [run(sys.executable, EMBERFIT_RUN, {**base, **cfg, "seed": s}) for s in seeds]
        rows.append((label, "emberfit", cfg["bs"], _merge(res)))
        if not no_fastai and cfg["sched"] != "preset":
            rows.append((label, "fastai v2", cfg["bs"], run(str(FASTAI_PY), FASTAI_RUN, {**base, **cfg})))
    if "lgbm" in parts:
        for setting, label in (
            ("uci", "uci: data->test, 14 feat, defaults"),
            ("speed", "speed: sample, 20% random"),
            ("diamonds", "diamonds: 20% random, log price, defaults"),
        ):
            if setting != "diamonds" or csv is not None:
                rows.append(
                    (label, "LightGBM", None, run(sys.executable, LGBM_RUN, {**base, "setting": setting}))
                )
    big = {}
    if "1m" in parts:
        for preset, label in ((False, "1cycle(1,1e-2)"), (True, "preset='strong'")):
            big = run(sys.executable, BIG_RUN, {**base, "rows": 1_000_000, "bs": 1024, "preset": preset})
            rows.append((f"1M rows x 20 cols synthetic, {label}", "emberfit", 1024, big))
    load1 = os.getloadavg()[0]
    _print_table(rows, args, no_fastai, load0, load1, big)


def _print_table(rows, args, no_fastai, load0: float, load1: float, big: dict) -> None:
    print(
        f"torch threads: {args.threads}; CPU only; each row is its own process; load average before/after: "
        f"{load0:.1f}/{load1:.1f} on {os.cpu_count()} cores"
    )
    if no_fastai:
        print(f"fastai v2 not run: {no_fastai}")
    head = (
        f"{'setting':<48} {'system':<9} {'bs':>5} {'train':>7} {'valid':>6} {'score':>22} {'s/epoch':>8} "
        f"{'cpu s/ep':>8} {'1st ep':>7} {'epochs':>6} {'fit s':>7} {'prep s':>7} {'peak MB':>8}"
    )
    print(head)
    print("-" * len(head))
    for label, system, bs, r in rows:
        if "error" in r:
            print(f"{label:<48} {system:<9} {bs or '-':>5}  ERROR: {r['error']}")
            continue
        score = f"{r['score']:.4f}"
        if "score_min" in r:
            score = f"{r['score']:.4f} ({r['score_min']:.4f}-{r['score_max']:.4f})"
        epochs = fmt(r, "epochs_run", ".1f") if "epochs_run" in r else "-"
        print(
            f"{label:<48} {system:<9} {bs or '-':>5} {r['n_train']:>7} {r['n_valid']:>6} {score:>22} "
            f"{fmt(r, 'sec_per_epoch', '.2f'):>8} {fmt(r, 'cpu_per_epoch', '.2f'):>8} {fmt(r, 'first_epoch_s', '.2f'):>7} "
            f"{epochs:>6} {fmt(r, 'fit_total_s', '.1f'):>7} {fmt(r, 'prep_s', '.2f'):>7} {r['peak_rss_mb']:>8.0f}"
        )
    print("score: test accuracy (uci, speed, lesson, 1M) or RMSE of log(price) (diamonds, lower is better);")
    print("  mean over seeds with (min-max) where several ran")
    print(
        "s/epoch, cpu s/ep: mean over epochs 2..n (training + validation), so the process's one-time warm-up,"
    )
    print(
        "  which lands in the first epoch ('1st ep', wall seconds), is left out; fit(1) rows show the first epoch"
    )
    print(
        "fit s: building the learner and the whole fit (the preset: all its epochs, early stopping included;"
    )
    print("  LightGBM: its total fit, default settings: 100 rounds, 31 leaves; --threads threads)")
    print("preset rows: 'epochs' is the mean number run before early stopping on held-out training rows")
    _ratios(rows)
    if "df_mb" in big:
        print(
            f"1M rows: DataFrame {big['df_mb']:.0f} MB (RSS {big['rss_after_df_mb']:.0f} MB once built), processed "
            f"arrays {big['arrays_mb']:.0f} MB, preprocessing {big['prep_s']:.1f} s"
        )
    versions = [r for _, s, _, r in rows if s == "fastai v2" and "fastai" in r]
    if versions:
        print(
            f"fastai {versions[0]['fastai']} on torch {versions[0]['torch']}; emberfit on torch {rows[0][3].get('torch')}"
        )


def _merge(res: list[dict]) -> dict:
    """Several seeds of one setting: mean score and times, with the score's range."""
    ok = [r for r in res if "error" not in r]
    if not ok:
        return res[0]
    if len(ok) == 1:
        return ok[0]
    out = dict(ok[0])
    for k in ok[0]:
        if (
            isinstance(ok[0][k], (int, float))
            and not isinstance(ok[0][k], bool)
            and k not in ("n_train", "n_valid")
        ):
            vals = [r[k] for r in ok if r.get(k) is not None]
            out[k] = sum(vals) / len(vals) if vals else None
    out["score_min"], out["score_max"] = min(r["score"] for r in ok), max(r["score"] for r in ok)
    return out


def _ratios(rows) -> None:
    by = {(label, bs, system): r for label, system, bs, r in rows if "sec_per_epoch" in r}
    for (label, bs, system), r in by.items():
        ref = by.get((label, bs, "fastai v2"))
        if system == "emberfit" and ref:
            print(
                f"emberfit / fastai v2 per epoch, {label.split(':')[0]} bs={bs}: "
                f"wall {r['sec_per_epoch'] / ref['sec_per_epoch']:.2f}, cpu {r['cpu_per_epoch'] / ref['cpu_per_epoch']:.2f}"
            )


if __name__ == "__main__":
    main()

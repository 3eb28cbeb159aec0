"""The ``emberfit`` command: ``emberfit demo`` trains the lesson's models on the bundled samples.

``emberfit demo [--only collab,tabular,text] [--quiet] [--threads N|auto]`` shows each part, its
stages and each epoch's results as they happen (tqdm bars in a terminal, plain lines in a log),
then prints one results table and the time of each part. Each application contributes a
``run_demo(verbose)`` in ``emberfit/<app>/demo.py`` returning rows of
``{'app', 'dataset', 'metric', 'value', 'seconds'}``. ``emberfit pretrain`` is
:mod:`emberfit.text.pretrain`. Both choose torch's threads from the cores free when they start
(:mod:`emberfit.core.threads`) unless ``--threads`` says how many.
"""

from __future__ import annotations

import argparse
import sys
import time

from .core.threads import parse_threads, set_threads

APPS = ("collab", "tabular", "text")
WHAT = {
    "collab": "collab_learner on the MovieLens sample, 3 epochs",
    "tabular": "tabular_learner on the Adult sample, 1 epoch",
    "text": "ULMFiT on the IMDB sample: language model, then classifier; a few minutes on a CPU",
}


def _run_part(app: str, k: int, n: int, quiet: bool) -> tuple[list[dict], float]:
    """One part of the demo: its rows and its seconds."""
    mod = _demo_module(app)
    if not quiet:
        print(f"\n[{app}] part {k}/{n}: {WHAT[app]}", flush=True)
    t = time.perf_counter()
    rows = mod.run_demo(verbose=not quiet)
    seconds = time.perf_counter() - t
    if not quiet:
        print(f"[{app}] part {k}/{n} done in {seconds:.1f} s", flush=True)
    return rows, seconds


def _demo(only: list[str], quiet: bool = False, threads: int | None = None) -> int:
    say = None if quiet else (lambda line, **kw: print(f"[demo] {line}", **kw))
    n_threads = set_threads(threads, log=say, hint="--threads N to choose")
    rows, failed, times = [], [], {}
    t_all = time.perf_counter()
    for k, app in enumerate(only, 1):
        try:
            part, times[app] = _run_part(app, k, len(only), quiet)
            rows += part
        except Exception as e:  # report and go on: one broken part should not hide the others
            failed.append(app)
            print(f"[{app}] FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    print()
    print(f"{'app':<9}{'dataset':<22}{'metric':<28}{'value':>10}{'seconds':>10}")
    for r in rows:
        v = r["value"]
        vs = f"{v:.4f}" if isinstance(v, float) else str(v)
        print(f"{r['app']:<9}{r['dataset']:<22}{r['metric']:<28}{vs:>10}{r['seconds']:>10.1f}")
    parts = ", ".join(f"{a} {s:.0f} s" for a, s in times.items())
    print(
        f"\ntotal {time.perf_counter() - t_all:.0f} s ({parts}); torch threads: {n_threads}"
        + (f"; FAILED: {', '.join(failed)}" if failed else ""),
        flush=True,
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``emberfit`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # pretrain's options go to its own parser (argparse.REMAINDER would drop leading --options)
    if argv[:1] == ["pretrain"]:
        return _pretrain(argv[1:])
    p = argparse.ArgumentParser(prog="emberfit", description="fast.ai lesson 4 on today's PyTorch")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser(
        "demo", help="train the lesson's models on the bundled samples and print a results table"
    )
    d.add_argument("--only", default=",".join(APPS), help=f"comma-separated subset of {','.join(APPS)}")
    d.add_argument("--quiet", action="store_true", help="no progress: print only the results table")
    d.add_argument(
        "--threads", default="auto", help="torch threads: a number, or 'auto' (the cores free now; default)"
    )
    pre = sub.add_parser("pretrain", help="pretrain an AWD-LSTM language model on your own corpus")
    pre.add_argument("args", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    if a.cmd == "demo":
        only = [s.strip() for s in a.only.split(",") if s.strip()]
        unknown = [s for s in only if s not in APPS]
        if unknown:
            p.error(f"--only: unknown application(s) {unknown}; choose from {list(APPS)}")
        try:
            threads = parse_threads(a.threads)
        except ValueError as e:
            p.error(str(e))
        return _demo(only, quiet=a.quiet, threads=threads)
    if a.cmd == "pretrain":
        return _pretrain(a.args)
    return 2


def _demo_module(app: str):
    """The demo module of one application, imported only when its part runs (torch loads slowly)."""
    if app == "collab":
        from .collab import demo
    elif app == "tabular":
        from .tabular import demo
    else:
        from .text import demo
    return demo


def _pretrain(args: list[str]) -> int:
    from .text.pretrain.cli import main

    return main(args)


if __name__ == "__main__":
    sys.exit(main())

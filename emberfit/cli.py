"""The ``emberfit`` command: ``emberfit demo`` trains the lesson's models on the bundled samples.

``emberfit demo [--only collab,tabular,text]`` prints one results table. Each application
contributes a ``run_demo()`` in ``emberfit/<app>/demo.py`` returning rows of
``{'app', 'dataset', 'metric', 'value', 'seconds'}``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

APPS = ("collab", "tabular", "text")


def _demo(only: list[str]) -> int:
    rows, failed = [], []
    t_all = time.perf_counter()
    for app in only:
        try:
            mod = importlib.import_module(f"emberfit.{app}.demo")
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith(f"emberfit.{app}"):
                print(f"[{app}] no demo in this version, skipped")
                continue
            raise
        print(f"[{app}] running the lesson's {app} demo...", flush=True)
        try:
            rows += mod.run_demo()
        except Exception as e:  # report and go on: one broken part should not hide the others
            failed.append(app)
            print(f"[{app}] FAILED: {type(e).__name__}: {e}", file=sys.stderr)
    print()
    print(f"{'app':<9}{'dataset':<22}{'metric':<28}{'value':>10}{'seconds':>10}")
    for r in rows:
        v = r["value"]
        vs = f"{v:.4f}" if isinstance(v, float) else str(v)
        print(f"{r['app']:<9}{r['dataset']:<22}{r['metric']:<28}{vs:>10}{r['seconds']:>10.1f}")
    print(
        f"\ntotal {time.perf_counter() - t_all:.0f} s" + (f"; FAILED: {', '.join(failed)}" if failed else "")
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
    pre = sub.add_parser("pretrain", help="pretrain an AWD-LSTM language model on your own corpus")
    pre.add_argument("args", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    if a.cmd == "demo":
        only = [s.strip() for s in a.only.split(",") if s.strip()]
        unknown = [s for s in only if s not in APPS]
        if unknown:
            p.error(f"--only: unknown application(s) {unknown}; choose from {list(APPS)}")
        return _demo(only)
    if a.cmd == "pretrain":
        return _pretrain(a.args)
    return 2


def _pretrain(args: list[str]) -> int:
    try:
        mod = importlib.import_module("emberfit.text.pretrain.cli")
    except ModuleNotFoundError:
        print("emberfit pretrain is not available in this version", file=sys.stderr)
        return 2
    return mod.main(args)


if __name__ == "__main__":
    sys.exit(main())

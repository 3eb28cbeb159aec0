"""Tokenizer benchmark: all 100,000 IMDB reviews, first and cached run, side by side with fastai v2.

    python benchmarks/tokenize_imdb.py [--n-cpus 2] [--sample 5000] [--cache-dir DIR] [--no-fastai]

Prints reviews/s, tokens/s and peak RSS for emberfit's ``Tokenizer.process_all`` over
../shared/data/imdb/{train,test,unsup}.csv.gz (first run into an empty cache, then the cached
run), then both libraries on the same sample of reviews (every 20th review), and how often
their tokens agree on the fast.ai IMDB sample. Each measurement runs in a fresh process so
that peak RSS (``ru_maxrss``; worker processes reported separately) belongs to that run alone.
fastai v2 runs from the venv made by ../shared/tools/fastai-venv.sh, if it exists.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FASTAI_PY = Path.home() / ".cache" / "fastai-venv" / "bin" / "python"

V2_DIFFERENCES = """\
Where fastai v2's default rules differ from v1's (which emberfit follows, for WT103 compatibility):
  - v2 puts spaces around / # and backslash but not around newlines: '<br /><br />' gives one '\\n\\n'
    token in v2 and one '\\n \\n ' token in v1 (newlines are tokens in both);
  - v2 replace_rep fires at 3 repeated characters ('!!!' -> xxrep 3 !), v1 at 4;
  - v2 replace_wrep matches whitespace-separated words 3+ times; v1 a word plus any separator 4+ times;
  - v2 marks capitals on whitespace-separated words before spaCy, ASCII A-Z only: '"Mr' or '(Hello'
    get no xxmaj and 'ÉCOLE' no xxup, while "I've" gets xxmaj (v1 sees the one-letter token 'I');
    v1 marks spaCy's tokens, with Unicode isupper/islower;
  - v2 lowercases before spaCy, so spaCy's exceptions for 'Mr.', 'Dr.' ... no longer apply ('mr .');
  - v2 fix_html also turns '...' into ' …' and does not undo ' @,@ ' or space a backslash;
  - v2 adds xxbos itself (here emberfit gets 'xxbos ' + text, as the v1 item lists do)."""


def peak_mb() -> tuple[float, float]:
    """Peak RSS in MB of this process and of its largest finished child (Linux reports KB)."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def read_imdb() -> list[str]:
    import pandas as pd

    return [
        t
        for s in ("train", "test", "unsup")
        for t in pd.read_csv(DATA / "imdb" / f"{s}.csv.gz", keep_default_na=False)["text"]
    ]


# ------------------------------------------------------------------- phases (child processes)
def phase_emberfit(args: argparse.Namespace) -> dict:
    from emberfit.text.tokenizer import Tokenizer

    t0 = time.perf_counter()
    texts = read_imdb()
    if args.sample:
        texts = texts[:: len(texts) // args.sample][: args.sample]
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    toks = Tokenizer(n_cpus=args.n_cpus).process_all(texts, cache_dir=args.cache_dir or None)
    secs = time.perf_counter() - t0
    me, kids = peak_mb()
    return dict(n=len(texts), tokens=sum(map(len, toks)), secs=secs, read_s=read_s, rss=me, worker_rss=kids)


FASTAI_CODE = """
import json, resource, sys, time
from fastai.text.core import tokenize_texts
texts = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
toks = tokenize_texts(texts, n_workers=int(sys.argv[2]))
secs = time.perf_counter() - t0
if sys.argv[3]:
    json.dump([list(t) for t in toks], open(sys.argv[3], "w"))
ru = resource.getrusage
print(json.dumps(dict(n=len(texts), tokens=sum(map(len, toks)), secs=secs,
                      rss=ru(resource.RUSAGE_SELF).ru_maxrss / 1024, worker_rss=ru(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)))
"""


def run_child(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_fastai(texts: list[str], n_workers: int, tmp: Path, dump: Path | None = None) -> dict:
    inp = tmp / f"texts-{len(texts)}.json"
    inp.write_text(json.dumps(texts))
    return run_child([str(FASTAI_PY), "-c", FASTAI_CODE, str(inp), str(n_workers), str(dump or "")])


# ------------------------------------------------------------------------------ report
def row(name: str, r: dict) -> str:
    return (
        f"| {name} | {r['n']:,} | {r['tokens']:,} | {r['secs']:.1f} | {r['n'] / r['secs']:,.0f} | "
        f"{r['tokens'] / r['secs']:,.0f} | {r['rss']:,.0f} | {r['worker_rss']:,.0f} |"
    )


def agreement(ours: list[list[str]], theirs: list[list[str]]) -> tuple[float, float, Counter, dict]:
    same = matched = total = 0
    diffs, examples = Counter(), {}
    for a, b in zip(ours, theirs):
        same += a == b
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        matched += 2 * sum(m.size for m in sm.get_matching_blocks())
        total += len(a) + len(b)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op != "equal":
                key = (" ".join(a[i1:i2]), " ".join(b[j1:j2]))
                diffs[key] += 1
                examples.setdefault(key, " ".join(a[max(0, i1 - 3) : i2 + 3]))
    return same / len(ours), matched / total, diffs, examples


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-cpus", type=int, default=2)
    p.add_argument("--sample", type=int, default=5000, help="reviews for the side-by-side run")
    p.add_argument("--cache-dir", default="", help="keep the token cache here (default: a temp dir)")
    p.add_argument("--no-fastai", action="store_true")
    p.add_argument("--phase", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:  # child process: one measurement, printed as JSON
        args.sample = args.sample if args.phase == "sample" else 0
        print(json.dumps(phase_emberfit(args)))
        return

    me = [sys.executable, __file__, "--n-cpus", str(args.n_cpus)]
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cache = args.cache_dir or str(tmp / "cache")
        rows = [("emberfit, first run (all IMDB)", run_child([*me, "--phase", "full", "--cache-dir", cache]))]
        rows.append(
            ("emberfit, cached run (all IMDB)", run_child([*me, "--phase", "full", "--cache-dir", cache]))
        )
        for n in (args.n_cpus, 1):
            r = run_child(
                [
                    sys.executable,
                    __file__,
                    "--n-cpus",
                    str(n),
                    "--phase",
                    "sample",
                    "--sample",
                    str(args.sample),
                ]
            )
            rows.append((f"emberfit, {n} process{'es' if n > 1 else ''}, sample", r))
        have_fastai = FASTAI_PY.exists() and not args.no_fastai
        if have_fastai:
            texts = read_imdb()
            texts = texts[:: len(texts) // args.sample][: args.sample]
            for n in (args.n_cpus, 0):
                label = f"{n} workers" if n else "in-process"
                rows.append((f"fastai v2 Tokenizer, {label}, sample", run_fastai(texts, n, tmp)))
        print(
            f"\nsample = every {100_000 // args.sample}th review ({args.sample:,}); times exclude reading the CSVs"
        )
        print(
            "| run | reviews | tokens | seconds | reviews/s | tokens/s | peak RSS MB | worker peak RSS MB |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, r in rows:
            print(row(name, r))
        if not have_fastai:
            print(
                f"| fastai v2 | not run: {FASTAI_PY} not found (make it with ../shared/tools/fastai-venv.sh) |||||||"
            )
            return
        ours = {n: r for n, r in rows if n.startswith("emberfit") and "sample" in n}
        v2 = {n: r for n, r in rows if n.startswith("fastai")}
        speed = lambda r: r["tokens"] / r["secs"]  # noqa: E731
        best_ours, best_v2 = max(map(speed, ours.values())), max(map(speed, v2.values()))
        full = speed(rows[0][1])
        print(f"\nspeed-up on the sample (best of each): {best_ours / best_v2:.1f}x fastai v2's tokens/s")
        print(f"first run over all IMDB: {full / best_v2:.1f}x fastai v2's best tokens/s on the sample")
        print("(emberfit caches each distinct space-separated piece, so it gets faster as a corpus grows)")
        print(f"cached run: {rows[1][1]['secs']:.1f} s for all 100,000 reviews")

        import pandas as pd

        from emberfit.text.tokenizer import Tokenizer

        sample = pd.read_csv(DATA / "imdb_sample" / "texts.csv", keep_default_na=False)["text"].tolist()
        run_fastai(sample, 0, tmp, dump=tmp / "v2.json")
        theirs = json.loads((tmp / "v2.json").read_text())
        mine = Tokenizer(n_cpus=1).process_all(["xxbos " + t for t in sample])
        same, tok_agree, diffs, examples = agreement(mine, theirs)
        print(
            f"\nagreement with fastai v2 on the IMDB sample ({len(sample):,} texts): {tok_agree:.2%} of tokens, {same:.1%} of texts identical"
        )
        print("most frequent differences (emberfit -> fastai v2: count, context in emberfit):")
        for (a, b), c in diffs.most_common(10):
            print(f"  {a!r:>14} -> {b!r:<14} {c:5d}   ... {examples[(a, b)]!r}")
        print(V2_DIFFERENCES)


if __name__ == "__main__":
    main()

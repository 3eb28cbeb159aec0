"""``emberfit demo`` as a user sees it in a log: each stage and each epoch's row as it happens, then the table.

The demo runs in a subprocess with stdout a pipe (not a terminal), read line by line with the time each
line arrived. Its epochs are made slower by a pause after each training pass (``Learner._train_epoch``
wrapped in the child), so rows that are printed as epochs end arrive seconds apart, while rows held in
a buffer until the end would arrive together.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from emberfit.cli import main

ROW = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(\d+\.\d+|#na#)\s+(\d+\.\d+)\s+(\d\d:\d\d)$")

CHILD = """
import sys, time
import emberfit.core.learner as L
train = L.Learner._train_epoch
def slow(self):
    train(self)
    time.sleep(float(sys.argv[1]))
L.Learner._train_epoch = slow
from emberfit.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_piped(args: list[str], pause: float, tmp_path) -> tuple[int, list[tuple[float, str]], str]:
    """``(exit status, [(seconds since start, line)], stderr)`` of ``emberfit <args>`` with slowed epochs."""
    err = tmp_path / "stderr.txt"
    # as a user's shell runs it: Python block-buffers a pipe unless told otherwise (this test's own
    # environment may set PYTHONUNBUFFERED, which would hide a missing flush)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    t0 = time.perf_counter()
    with open(err, "w") as ferr:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(pause), *args],
            stdout=subprocess.PIPE,
            stderr=ferr,
            text=True,
            env=env,
        )
        lines = [(time.perf_counter() - t0, line.rstrip("\n")) for line in proc.stdout]
        proc.wait(timeout=600)
    return proc.returncode, lines, err.read_text()


def when(lines, pattern: str) -> float:
    found = [t for t, s in lines if re.search(pattern, s)]
    assert found, f"no line matches {pattern!r}:\n" + "\n".join(s for _, s in lines)
    return found[0]


@pytest.mark.slow
def test_demo_shows_each_epoch_as_it_ends_when_stdout_is_a_log(tmp_path):
    rc, lines, err = run_piped(["demo", "--only", "collab", "--threads", "1"], 1.0, tmp_path)
    assert rc == 0, err
    text = [s for _, s in lines]
    assert not any("\r" in s for s in text), "a log gets plain lines, no redrawn bars"
    assert "[demo] torch threads: 1 (asked for 1)" in text
    header = when(lines, r"^epoch\s+train_loss\s+valid_loss\s+rmse\s+time$")
    rows = [(t, ROW.match(s)) for t, s in lines if ROW.match(s)]
    assert [int(m[1]) for _, m in rows] == [0, 1, 2]
    # each row arrives as its epoch ends: a slowed epoch (>= 1 s) after the one before
    times = [t for t, _ in rows]
    assert times[1] - times[0] > 0.7 and times[2] - times[1] > 0.7, times
    training = when(lines, r"^\[collab\] 2/3 collab_learner\(.*\)\.fit_one_cycle\(3, 5e-3\)")
    assert header - training > 0.7  # the stage line came before the first epoch, not with it
    end = lines[-1][0]
    assert end - times[0] > 1.4  # the first row did not wait for the end of the run
    # the part's total time, and the results table with every part's time
    assert re.search(r"\[collab\] part 1/1 done in \d+\.\d s", "\n".join(text))
    assert re.fullmatch(r"total \d+ s \(collab \d+ s\); torch threads: 1", text[-1])
    table = text.index(next(s for s in text if s.startswith("app ")))
    assert text[table + 1].startswith("collab   movie_lens_sample     valid RMSE")


@pytest.mark.slow
def test_demo_quiet_prints_only_the_results(tmp_path):
    rc, lines, err = run_piped(["demo", "--only", "collab", "--quiet"], 0.0, tmp_path)
    assert rc == 0, err
    text = [s for _, s in lines if s]
    assert text[0].startswith("app ") and len(text) == 5, text  # header, 3 rows, total
    assert not any(ROW.match(s) or s.startswith("[") for s in text)
    assert re.fullmatch(r"total \d+ s \(collab \d+ s\); torch threads: \d+", text[-1])


def test_bad_threads_or_parts_name_the_flag_the_value_and_the_fix(capsys):
    with pytest.raises(SystemExit) as e:
        main(["demo", "--threads", "0"])
    assert e.value.code == 2
    assert (
        "--threads: expected a positive integer or 'auto', got '0'; e.g. --threads 2"
        in capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        main(["demo", "--only", "vision"])
    assert "--only: unknown application(s) ['vision']; choose from" in capsys.readouterr().err


def test_pretrain_takes_threads_too(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("A tiny corpus. " * 20)
    assert main(["pretrain", "--corpus", str(corpus), "--out", str(tmp_path / "o"), "--threads", "many"]) == 2
    assert "--threads: expected a positive integer or 'auto', got 'many'" in capsys.readouterr().err


def test_tokenizing_a_corpus_shows_its_progress(capsys):
    from emberfit.text.tokenizer import Tokenizer

    texts = [f"Review number {i}: GREAT film!!!" for i in range(300)]
    corpus = Tokenizer(n_cpus=1).process_corpus(texts, progress=True)
    out = capsys.readouterr().out
    assert (
        re.fullmatch(r"tokenizing: 300 texts in \d+\.\d s \([\d,]+ texts/s\)\n", out) and len(corpus) == 300
    )
    Tokenizer(n_cpus=1).process_corpus(texts)
    assert capsys.readouterr().out == ""

"""What a fit shows while it runs: plain lines in a log, tqdm bars in a terminal, a live HTML table in Jupyter.

The three views of ProgressBar get a real fit of a tiny learner each; the notebook view's ``display`` is
replaced by a recorder of what would reach the kernel. The real kernel is ``tests/test_notebooks.py``.
"""

import io
import re
import time

import pytest
import torch

import emberfit.core.live_html as live_html
from emberfit.core import Callback, DataBunch, Learner
from emberfit.core.callbacks.progress import ProgressBar
from emberfit.core.live_html import bar_html, fmt_time, table_html
from emberfit.core.reporting import ItemProgress, Stages, output_mode

ROW = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(\d+\.\d+|#na#)\s+(\d\d:\d\d)$")


def tiny_learner(n=96, bs=8, silent=True):
    torch.manual_seed(0)
    x = torch.randn(n + 32, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    data = DataBunch.from_tensors(x[:n], y[:n], x[n:], y[n:], bs=bs, device="cpu")
    return Learner(data, torch.nn.Linear(3, 1), loss_func=torch.nn.functional.mse_loss, silent=silent)


class Slow(Callback):
    """Each training batch takes ``s`` seconds longer."""

    def __init__(self, s):
        self.s = s

    def after_batch(self):
        if self.learn.training:
            time.sleep(self.s)


class TTY(io.StringIO):
    def isatty(self):
        return True


def test_log_mode_prints_the_table_as_epochs_end_and_batch_lines(capsys):
    assert output_mode() == "log"  # pytest captures stdout: not a terminal
    learn = tiny_learner()
    learn.fit(3, 1e-2, callbacks=[ProgressBar(log_every=0.02), Slow(0.005)])
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = lines.index("epoch      train_loss  valid_loss  time")
    rows = [ROW.match(s) for s in lines[header + 1 :] if ROW.match(s)]
    assert [int(r[1]) for r in rows] == [0, 1, 2]
    hist = learn.recorder.history()
    assert [float(r[3]) for r in rows] == pytest.approx(hist["valid_loss"].tolist(), abs=1e-6)
    # while an epoch runs (12 batches of 5 ms, a line every 20 ms), lines say where it is
    batch_lines = [s for s in lines[:header] if s.strip().startswith("epoch 1/3: batch")]
    assert batch_lines and re.search(
        r"batch \d+/12 \(\d+%\), loss \d+\.\d+, \d\d:\d\d<\d\d:\d\d", batch_lines[0]
    )
    assert "\r" not in out  # no bar redrawing in a log


def test_log_mode_without_batches_prints_only_the_table(capsys):
    tiny_learner().fit(1, 1e-2, callbacks=[ProgressBar(show_batches=False, log_every=0.0), Slow(0.002)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("epoch") and ROW.match(lines[1]) and len(lines) == 2


def test_a_learner_that_is_not_silent_shows_progress_and_lr_find_too(capsys):
    learn = tiny_learner(silent=False)
    learn.fit(1, 1e-2)
    out = capsys.readouterr().out
    assert "train_loss" in out and ROW.match(out.splitlines()[1])
    learn.lr_find(num_it=30)  # 12 batches an epoch: three epochs, the table rows have no valid loss
    out = capsys.readouterr().out
    assert any(ROW.match(s) and s.split()[2] == "#na#" for s in out.splitlines()), out
    assert "LR Finder is complete" in out
    tiny_learner(silent=True).fit(1, 1e-2)
    assert capsys.readouterr().out == ""


def test_terminal_mode_draws_tqdm_bars(monkeypatch):
    fake = TTY()
    monkeypatch.setattr("sys.stdout", fake)
    assert output_mode() == "terminal"
    learn = tiny_learner()
    learn.fit(2, 1e-2, callbacks=[ProgressBar(), Slow(0.02)])
    out = fake.getvalue()
    assert "\r" in out and "epoch 1/2" in out and "epoch 2/2" in out and "validating" in out
    assert re.search(r"\d+/12 \[", out)  # tqdm's counter over the 12 training batches
    assert "loss " in out  # the smoothed loss after the bar
    table = [ln for ln in out.replace("\r", "\n").splitlines() if ROW.match(ln.strip())]
    assert [ln.split()[0] for ln in table] == ["0", "1"]


class FakeHandle:
    def __init__(self, shown):
        self.shown = shown

    def update(self, obj):
        self.shown.append(obj.data)


@pytest.fixture
def kernel(monkeypatch):
    """A pretend Jupyter kernel: what ProgressBar displays lands in the returned list."""
    display_mod = pytest.importorskip("IPython.display")
    shown = []

    def display(obj, display_id=None):
        assert display_id is True, "the progress output must be updatable in place"
        shown.append(obj.data)
        return FakeHandle(shown)

    monkeypatch.setattr(display_mod, "display", display)
    monkeypatch.setattr(live_html, "in_kernel", lambda: True)
    return shown


def test_notebook_mode_one_live_html_table_gaining_a_row_per_epoch(kernel, capsys):
    assert output_mode() == "notebook"
    tiny_learner().fit(3, 1e-2, callbacks=[ProgressBar(), Slow(0.03)])
    assert capsys.readouterr().out == ""  # everything went into the HTML output
    assert all('class="emberfit-progress"' in h for h in kernel)
    n_rows = [h.count("<tr>") - 1 for h in kernel]  # minus the header
    assert n_rows[0] == 0 and n_rows[-1] == 3 and n_rows == sorted(n_rows)
    # while training: a bar over the epochs and one over the batches (with the loss) under the table
    during = [h for h in kernel[:-1] if "loss " in h]
    assert during and all(h.count("<progress") == 2 for h in during)
    assert re.search(r"\[\d+/12 \d\d:\d\d&lt;\d\d:\d\d epoch 1/3 loss \d\.\d+\]", "".join(during))
    # at the end only the table stays
    assert "<progress" not in kernel[-1] and kernel[-1].count("<td>") == 3 * 4


def test_notebook_mode_says_why_a_fit_stopped(kernel):
    learn = tiny_learner()
    learn.fit(2, 1e12, callbacks=[ProgressBar()])  # the loss overflows: training stops, with a reason
    assert learn.stop_reason and "training stopped" in kernel[-1]


def test_html_pieces_escape_what_they_show():
    assert "&lt;b&gt;" in table_html(["<b>"], [])
    assert bar_html(5, 0, "x").startswith('<div><progress value="1" max="1">')
    assert fmt_time(float("nan")) == "00:00" and fmt_time(59.9) == "00:59"


def test_item_progress_in_a_log(capsys):
    with ItemProgress(100, "tokenizing", unit="texts", log_every=0.0) as bar:
        for _ in range(4):
            bar.update(25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tokenizing: 25/100 (25%) texts")
    assert re.match(r"tokenizing: 100 texts in \d+\.\d s \([\d,]+ texts/s\)$", lines[-1])
    with ItemProgress(None, "reading", enabled=False) as bar:
        bar.update(3)
    assert capsys.readouterr().out == ""


def test_stages_are_numbered_and_timed(capsys):
    stage = Stages("demo", 2)
    with stage("one"):
        time.sleep(0.11)
    with stage("two"):
        pass
    assert capsys.readouterr().out.splitlines() == [
        "[demo] 1/2 one...",
        "[demo] 1/2 done in 0.1 s",
        "[demo] 2/2 two...",
        "[demo] 2/2 done in 0.0 s",
    ]
    with Stages("demo", 1, quiet=True)("hidden"):
        pass
    assert capsys.readouterr().out == ""

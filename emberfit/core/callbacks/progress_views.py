"""Where the ProgressBar draws: a terminal (tqdm), a log (plain lines) or a notebook (live HTML).

Each view gets the same calls from :class:`~emberfit.core.callbacks.progress.ProgressBar`:
``phase(label, total)`` when a pass over a loader starts, ``step(loss)`` after each of its
batches, ``row(values)`` when an epoch's results are in, ``close(reason)`` at the end of the fit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from ..live_html import LiveHTML, bar_html, fmt_time, table_html
from ..reporting import say

__all__ = ["TerminalView", "LogView", "NotebookView", "VIEWS"]


def _eta(t0: float, done: int, total: int) -> str:
    el = time.perf_counter() - t0
    left = el * (total - done) / done if done else 0.0
    return f"{fmt_time(el)}<{fmt_time(left)}"


class _View:
    def __init__(self, names: Sequence[str], n_epochs: int, bars: bool, log_every: float | None):
        self.names, self.n_epochs, self.bars, self.log_every = list(names), n_epochs, bars, log_every
        self.widths = [max(len(n), 9) for n in self.names]
        self.rows: list[list[str]] = []
        self.label, self.total, self.count, self.loss = "", 0, 0, None
        self.t_fit = self.t_phase = self.last = time.perf_counter()

    def line(self, values: Sequence[str]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(values, self.widths)).rstrip()

    def phase(self, label: str, total: int) -> None:
        self.label, self.total, self.count, self.loss = label, total, 0, None
        self.t_phase = time.perf_counter()

    def step(self, loss: float | None) -> None:
        self.count += 1
        self.loss = loss

    def row(self, values: list[str]) -> None:
        self.rows.append(values)

    def close(self, reason: str | None) -> None:
        if reason:
            say(reason)


class TerminalView(_View):
    """tqdm bars on stdout (one per pass, removed when it ends); the table's lines printed above them."""

    def __init__(self, *args):
        super().__init__(*args)
        from tqdm import tqdm

        self.tqdm, self.bar, self.pending = tqdm, None, 0

    def phase(self, label: str, total: int) -> None:
        super().phase(label, total)
        self._close_bar()
        if self.bars:
            self.bar = self.tqdm(
                total=total, desc=label, leave=False, file=sys.stdout, mininterval=0.2, dynamic_ncols=True
            )

    def step(self, loss: float | None) -> None:
        super().step(loss)
        if self.bar is None:
            return
        self.pending += 1
        now = time.perf_counter()
        if now - self.last >= 0.1:  # tqdm.update is cheap but not free: call it 10 times a second
            self.last = now
            if loss is not None:
                self.bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)
            self.bar.update(self.pending)
            self.pending = 0

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.pending = None, 0

    def row(self, values: list[str]) -> None:
        self._close_bar()
        if not self.rows:
            self.tqdm.write(self.line(self.names), file=sys.stdout)
        super().row(values)
        self.tqdm.write(self.line(values), file=sys.stdout)
        sys.stdout.flush()

    def close(self, reason: str | None) -> None:
        self._close_bar()
        super().close(reason)


class LogView(_View):
    """Plain lines, each flushed when it is printed: the table's rows as epochs end, and a line on the
    batches every ``log_every`` seconds while nothing else was printed."""

    def step(self, loss: float | None) -> None:
        super().step(loss)
        if not self.bars or self.log_every is None:
            return
        now = time.perf_counter()
        if now - self.last >= self.log_every:
            self.last = now
            pct = 100 * self.count / max(self.total, 1)
            lo = f", loss {loss:.4f}" if loss is not None else ""
            say(f"  {self.label}: batch {self.count}/{self.total} ({pct:.0f}%){lo}, "
                f"{_eta(self.t_phase, self.count, self.total)}")  # fmt: skip

    def row(self, values: list[str]) -> None:
        if not self.rows:
            say(self.line(self.names))
        super().row(values)
        say(self.line(values))
        self.last = time.perf_counter()


class NotebookView(_View):
    """One live HTML output: a bar over the epochs, the results table gaining a row per epoch, and a
    bar over the batches of the current pass under it (redrawn at most 5 times a second). At the end
    only the table (and why the fit stopped, if it stopped early) stays."""

    def __init__(self, *args):
        super().__init__(*args)
        self.live = LiveHTML()
        self._draw()

    def _draw(self, final: bool = False, reason: str | None = None) -> None:
        parts = []
        if not final:
            done = len(self.rows)
            parts.append(bar_html(done, self.n_epochs, _eta(self.t_fit, done, self.n_epochs)))
        parts.append(table_html(self.names, self.rows))
        if not final and self.bars and self.total:
            lo = f" {self.label}" + (f" loss {self.loss:.4f}" if self.loss is not None else "")
            parts.append(bar_html(self.count, self.total, _eta(self.t_phase, self.count, self.total) + lo))
        if reason:
            parts.append(f"<p>{reason}</p>")
        self.live.show("".join(parts))

    def phase(self, label: str, total: int) -> None:
        super().phase(label, total)
        self._draw()

    def step(self, loss: float | None) -> None:
        super().step(loss)
        now = time.perf_counter()
        if self.bars and now - self.last >= 0.2:
            self.last = now
            self._draw()

    def row(self, values: list[str]) -> None:
        super().row(values)
        self._draw()

    def close(self, reason: str | None) -> None:
        import html

        self._draw(final=True, reason=html.escape(reason) if reason else None)


VIEWS = {"terminal": TerminalView, "log": LogView, "notebook": NotebookView}

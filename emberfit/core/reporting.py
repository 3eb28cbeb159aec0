"""Telling the user what a long job is doing: in a notebook, in a terminal, or in a log.

:func:`output_mode` picks how: ``'notebook'`` (live HTML in a Jupyter kernel), ``'terminal'``
(tqdm bars, stdout is a terminal) or ``'log'`` (plain lines, flushed as they happen, a line every
few seconds at most: stdout is a file or a pipe). :class:`Stages` numbers the steps of a job and
times them; :class:`ItemProgress` follows a count of items (texts tokenized, batches...).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

from . import live_html
from .live_html import LiveHTML, bar_html, fmt_time

__all__ = ["output_mode", "Stages", "ItemProgress"]


def output_mode() -> str:
    """``'notebook'`` in a Jupyter kernel, ``'terminal'`` when stdout is a terminal, else ``'log'``.

    >>> output_mode() in ("notebook", "terminal", "log")
    True
    """
    if live_html.in_kernel():
        return "notebook"
    try:
        return "terminal" if sys.stdout.isatty() else "log"
    except (AttributeError, ValueError):  # a replaced or closed stdout
        return "log"


def say(line: str) -> None:
    """Print one line now (flushed, so a log shows it as it happens)."""
    print(line, flush=True)


class Stages:
    """The numbered steps of a long job, each printed when it starts and when it ends, with its time.

    >>> stages = Stages("demo", 2)
    >>> with stages("reading the data"):
    ...     pass
    [demo] 1/2 reading the data...
    [demo] 1/2 done in 0.0 s
    """

    def __init__(self, prefix: str, total: int, quiet: bool = False):
        self.prefix, self.total, self.quiet, self.done = prefix, total, quiet, 0

    @contextlib.contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        self.done += 1
        tag = f"[{self.prefix}] {self.done}/{self.total}"
        if not self.quiet:
            say(f"{tag} {what}...")
        t = time.perf_counter()
        yield
        if not self.quiet:
            say(f"{tag} done in {time.perf_counter() - t:.1f} s")


class ItemProgress:
    """Progress over a count of items: a tqdm bar in a terminal, a live HTML bar in Jupyter, a line
    every ``log_every`` seconds in a log; and one closing line with the count and time everywhere.

    >>> with ItemProgress(3, "tokenizing", unit="texts", enabled=False) as bar:
    ...     bar.update(3)
    >>> bar.n
    3
    """

    def __init__(
        self, total: int | None, desc: str, unit: str = "items", log_every: float = 10.0, enabled: bool = True
    ):
        self.total, self.desc, self.unit, self.log_every = total, desc, unit, log_every
        self.n, self.enabled = 0, enabled
        self.mode = output_mode() if enabled else "off"
        self.t0 = self.last = time.perf_counter()
        self.bar, self.live = None, None
        if self.mode == "terminal":
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=f" {unit}", leave=False, file=sys.stdout)
        elif self.mode == "notebook":
            self.live = LiveHTML()
            self.live.show(self._html())

    def _eta(self, now: float) -> str:
        el = now - self.t0
        if not self.total or not self.n:
            return fmt_time(el)
        return f"{fmt_time(el)}<{fmt_time(el * (self.total - self.n) / self.n)}"

    def _html(self) -> str:
        return f"<b>{self.desc}</b> " + bar_html(
            self.n, self.total or max(self.n, 1), self._eta(time.perf_counter())
        )

    def update(self, n: int = 1) -> None:
        """``n`` more items done."""
        self.n += n
        if self.mode == "off":
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.perf_counter()
        if self.mode == "notebook" and now - self.last >= 0.2:
            self.last = now
            self.live.show(self._html())
        elif self.mode == "log" and now - self.last >= self.log_every:
            self.last = now
            of = f"/{self.total:,} ({100 * self.n / self.total:.0f}%)" if self.total else ""
            say(f"{self.desc}: {self.n:,}{of} {self.unit}, {self._eta(now)}")

    def close(self) -> None:
        """Remove the bar and print the closing line (count, time, rate)."""
        if self.mode == "off":
            return
        if self.bar is not None:
            self.bar.close()
        if self.live is not None:
            self.live.show(self._html())
        el = time.perf_counter() - self.t0
        say(
            f"{self.desc}: {self.n:,} {self.unit} in {el:.1f} s ({self.n / max(el, 1e-9):,.0f} {self.unit}/s)"
        )
        self.mode = "off"

    def __enter__(self) -> ItemProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Live HTML in Jupyter: progress bars and a results table that update in place in one output.

Plain HTML updated through ``IPython.display.display(..., display_id=True)``: it renders in
Jupyter, JupyterLab and VS Code notebooks with no widget extension installed. Each figure is
HTML-escaped; the outer ``<div>`` has the class ``emberfit-progress``.
"""

from __future__ import annotations

import html
import math
import sys
from collections.abc import Sequence

__all__ = ["fmt_time", "bar_html", "table_html", "LiveHTML", "in_kernel"]

_STYLE = (
    "<style>.emberfit-progress progress{width:300px;height:12px;margin-right:8px;vertical-align:middle}"
    ".emberfit-progress table{border-collapse:collapse;margin:4px 0}"
    ".emberfit-progress th,.emberfit-progress td{padding:2px 10px;text-align:right}</style>"
)


def fmt_time(seconds: float) -> str:
    """``mm:ss`` (``h:mm:ss`` from an hour), as fastai prints times.

    >>> fmt_time(75.4), fmt_time(3725)
    ('01:15', '1:02:05')
    """
    s = max(0, int(seconds)) if math.isfinite(seconds) else 0
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def bar_html(done: int, total: int, text: str) -> str:
    """One progress bar with its text after it: ``<progress>`` plus ``pct% [done/total text]``.

    >>> bar_html(1, 4, "00:01<00:03")
    '<div><progress value="1" max="4"></progress>25.00% [1/4 00:01&lt;00:03]</div>'
    """
    total = max(int(total), 1)
    done = min(max(int(done), 0), total)
    pct = 100.0 * done / total
    label = html.escape(f"{pct:.2f}% [{done}/{total} {text}]".rstrip())
    return f'<div><progress value="{done}" max="{total}"></progress>{label}</div>'


def table_html(names: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The results table: a header of ``names`` and one row per epoch (all text, escaped).

    >>> table_html(["epoch", "loss"], [["0", "0.5"]]).count("<tr>")
    2
    """
    head = "".join(f"<th>{html.escape(str(n))}</th>" for n in names)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f'<table border="1" class="dataframe"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class LiveHTML:
    """One notebook output that is shown once and then replaced in place (``display_id``).

    >>> live = LiveHTML()  # outside a kernel, show() and update() do nothing
    >>> live.show("<b>hi</b>"); live.shown
    False
    """

    def __init__(self):
        self.handle = None
        self.shown = False

    def show(self, body: str) -> None:
        """Show ``body`` (HTML) the first time, replace it afterwards."""
        try:
            from IPython.display import HTML, display
        except ImportError:
            return
        if not in_kernel():
            return
        obj = HTML(f'<div class="emberfit-progress">{_STYLE}{body}</div>')
        if self.handle is None:
            self.handle = display(obj, display_id=True)
            self.shown = self.handle is not None
        else:
            self.handle.update(obj)


def in_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, classic, VS Code, Colab): a shell with a kernel.

    >>> in_kernel()  # here: a doctest, not a kernel
    False
    """
    ip = sys.modules.get("IPython")
    if ip is None:
        return False
    try:
        shell = ip.get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None

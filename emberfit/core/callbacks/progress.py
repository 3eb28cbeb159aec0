"""The progress display of a fit: bars over epochs and batches, and the results table."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..display import in_notebook
from .base import Callback

__all__ = ["ProgressBar"]


def _fmt(v: Any) -> str:
    if v is None:
        return "#na#"
    if isinstance(v, float):
        return f"{v:.6f}" if math.isfinite(v) else str(v)
    return str(v)


class ProgressBar(Callback):
    """Progress bars over epochs and batches (tqdm: terminal or live in Jupyter) and the results table."""

    order = 10
    name = "progress"

    def __init__(self, show_batches: bool | None = None):
        self.show_batches = show_batches

    def before_fit(self):
        from tqdm.auto import tqdm

        self.tqdm = tqdm
        self.rows: list[list[str]] = []
        self.nb = in_notebook()
        self.handle = None
        self.header_printed = False
        # disable=None: bars only where they can render (a terminal or a notebook), not in CI logs.
        disable = None if self.show_batches is None else not self.show_batches
        self.disable = disable
        self.ebar = None

    def before_epoch(self):
        if self.learn.training_dl is None:
            return
        self.bar = self.tqdm(
            total=len(self.learn.training_dl),
            leave=False,
            disable=self.disable,
            desc=f"epoch {self.learn.epoch}",
            mininterval=0.25,
        )
        self.count = 0

    def after_batch(self):
        if self.learn.training:
            self.count += 1
            if self.count % 8 == 0:  # tqdm.update is cheap but not free; batch it
                self.bar.update(8)

    def before_validate(self):
        self.bar.update(self.count % 8)

    def after_epoch(self):
        self.bar.close()
        rec = self.learn.recorder
        row = [_fmt(v) for v in rec.epoch_row()]
        self.rows.append(row)
        if self.nb:
            from IPython.display import HTML, display

            df = pd.DataFrame(self.rows, columns=rec.names)
            html = df.to_html(index=False)
            if self.handle is None:
                self.handle = display(HTML(html), display_id=True)
            else:
                self.handle.update(HTML(html))
        else:
            widths = [max(len(n), 9) for n in rec.names]
            if not self.header_printed:
                self.tqdm.write("  ".join(n.ljust(w) for n, w in zip(rec.names, widths)))
                self.header_printed = True
            self.tqdm.write("  ".join(v.ljust(w) for v, w in zip(row, widths)))

    def after_fit(self):
        if getattr(self, "bar", None) is not None:
            self.bar.close()
        reason = getattr(self.learn, "stop_reason", None)
        if reason:
            self.tqdm.write(reason)

"""Showing tables: an HTML table in Jupyter, aligned text in a terminal; a raw batch as a table."""

from __future__ import annotations

import shutil
import sys
from typing import Any

import pandas as pd
import torch

__all__ = ["in_notebook", "display_frame", "generic_frame"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where tables render as HTML)."""
    ip = sys.modules.get("IPython")
    if ip is None:
        return False
    try:
        shell = ip.get_ipython()
    except Exception:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def display_frame(df: pd.DataFrame) -> None:
    """Show a DataFrame: an HTML table in Jupyter, an aligned text table in a terminal."""
    if in_notebook():
        from IPython.display import HTML, display

        display(HTML(df.to_html(index=False, escape=True)))
    else:
        width = shutil.get_terminal_size((120, 20)).columns
        with pd.option_context("display.max_colwidth", 60, "display.width", width, "display.max_columns", 50):
            print(df.to_string(index=False))


def generic_frame(xb: Any, yb: torch.Tensor | None, rows: int) -> pd.DataFrame:
    """The first ``rows`` of a batch as a table: one column per input feature (at most 8 per tensor), and ``y``."""
    cols: dict[str, Any] = {}
    xs = xb if isinstance(xb, tuple) else (xb,)
    for i, t in enumerate(xs):
        t = t[:rows].detach().cpu()
        if t.ndim == 1:
            cols[f"x{i}"] = t.numpy()
        else:
            for j in range(min(t.shape[1], 8)):
                cols[f"x{i}_{j}"] = t[:, j].numpy()
    if yb is not None:
        y = yb[:rows].detach().cpu()
        cols["y"] = list(y.numpy()) if y.ndim > 1 else y.numpy()
    return pd.DataFrame(cols)

"""The figures of :mod:`emberfit.core.interpret` (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["confusion_figure"]


def confusion_figure(
    cm: np.ndarray,
    classes: Sequence,
    normalize: bool,
    title: str,
    cmap: Any,
    norm_dec: int,
    plot_txt: bool,
    **kwargs,
):
    """A labelled heat map of ``cm[actual, predicted]`` with each cell's value written in it.

    >>> fig = confusion_figure(np.array([[5, 1], [2, 7]]), ['neg', 'pos'], False, 'cm', 'Blues', 2, True)
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['5', '1', '2', '7']
    """
    import matplotlib.pyplot as plt

    n = len(classes)
    kwargs.setdefault("figsize", (max(3.5, 0.6 * n + 2.5), max(3.0, 0.6 * n + 2.0)))
    fig = plt.figure(**kwargs)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(cm, interpolation="nearest", cmap=cmap, vmin=0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title)
    ticks = np.arange(n)
    names = [str(c) for c in classes]
    ax.set_xticks(ticks, names, rotation=90 if max(map(len, names), default=0) > 6 and n > 2 else 0)
    ax.set_yticks(ticks, names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Actual")
    if plot_txt:
        thresh = cm.max() / 2.0 if cm.size else 0
        for i in range(n):
            for j in range(n):
                txt = f"{cm[i, j]:.{norm_dec}f}" if normalize else f"{int(cm[i, j])}"
                ax.text(j, i, txt, ha="center", va="center", color="white" if cm[i, j] > thresh else "black")
    ax.grid(False)
    fig.tight_layout()
    return fig

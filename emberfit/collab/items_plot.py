"""The lesson's scatter of items on two principal components of their factors, labelled and readable.

:meth:`~emberfit.collab.interpret.CollabInterpretation.plot_items` draws it: each item a point,
coloured by its learned bias when the model has biases, labelled by its (shortened) title with labels
nudged apart so they do not overlap, and each axis saying how much of the factors' variance its
component carries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["items_figure", "shorten"]


def shorten(title: str, max_len: int = 32) -> str:
    """``title`` cut to ``max_len`` characters with an ellipsis (a year in brackets at the end is kept).

    >>> shorten('Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark) (1981)', 31)
    'Raiders of the Lost Ark… (1981)'
    >>> shorten('Alien (1979)')
    'Alien (1979)'
    """
    title = str(title)
    if len(title) <= max_len:
        return title
    tail = title[-7:] if len(title) > 7 and title[-7] == " " and title[-6] == "(" and title[-1] == ")" else ""
    keep = max(1, max_len - len(tail) - 1)
    return title[:keep].rstrip(" ,:;-(") + "…" + tail


def _overlap(box, others) -> float:
    return sum(
        max(0.0, min(box.x1, o.x1) - max(box.x0, o.x0)) * max(0.0, min(box.y1, o.y1) - max(box.y0, o.y0))
        for o in others
    )


def _spread_labels(fig, ax, texts: list, tries: int = 12) -> None:
    """Place each label (an annotation in offset points) where it covers no earlier label and no point.

    Candidates: beside its point on either side, then shifted up or down by half a line at a time; the
    first free one wins, else the one with the least overlap (leaving the axes counts as overlap). Each
    label's size is measured once; candidate boxes are then computed, not drawn. A thin line ties a
    moved label to its point.
    """
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    renderer = fig.canvas.get_renderer()
    pt_to_px = fig.dpi / 72.0
    r = 4.0  # half the size of a point's marker, in pixels
    anchors = [ax.transData.transform(t.xy) for t in texts]
    placed = [Bbox.from_extents(x - r, y - r, x + r, y + r) for x, y in anchors]
    frame = ax.get_window_extent(renderer)
    for t, (px, py) in zip(texts, anchors):
        ext = Text.get_window_extent(t, renderer)  # the text alone, not its arrow
        w, h = ext.width * 1.02, ext.height * 1.1
        gap, ha0 = abs(t.get_position()[0]), t.get_ha()
        best = None
        for k in range(tries * 2 + 1):
            dy = 0.6 * h / pt_to_px * ((k + 1) // 2) * (1 if k % 2 else -1)  # points
            for ha in (ha0, "left" if ha0 == "right" else "right"):
                x0 = px + gap * pt_to_px if ha == "left" else px - gap * pt_to_px - w
                y0 = py + dy * pt_to_px - h / 2
                box = Bbox.from_bounds(x0, y0, w, h)
                cost = _overlap(box, placed) + 4 * (w * h - _overlap(box, [frame]))  # out of the axes: worse
                if best is None or cost < best[0]:
                    best = (cost, dy, ha, box)
            if best[0] == 0:
                break
        _, dy, ha, box = best
        t.set_position((gap if ha == "left" else -gap, dy))
        t.set_ha(ha)
        placed.append(box)


def items_figure(
    xs: np.ndarray,
    ys: np.ndarray,
    names: Sequence,
    axis_labels: tuple[str, str],
    bias: np.ndarray | None = None,
    figsize: tuple[float, float] = (11, 9),
    max_title_len: int = 32,
    title: str = "Items on two principal components of their factors",
):
    """A scatter of ``(xs, ys)`` labelled by ``names``, coloured by ``bias`` when given.

    >>> fig = items_figure(np.array([0., 1.]), np.array([1., 0.]), ['A (1990)', 'B (1991)'], ('PC 1', 'PC 2'))
    >>> sorted(t.get_text() for t in fig.axes[0].texts)
    ['A (1990)', 'B (1991)']
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    if bias is not None:
        lim = float(np.abs(bias).max()) or 1.0
        sc = ax.scatter(
            xs, ys, c=bias, cmap="coolwarm_r", vmin=-lim, vmax=lim, s=36, edgecolors="0.3", lw=0.5
        )
        bar = fig.colorbar(sc, ax=ax, fraction=0.035, pad=0.02)
        bar.set_label("item bias (liked more than its factors predict →)")
    else:
        ax.scatter(xs, ys, s=36, color="#2b7bba", edgecolors="0.3", lw=0.5)
    mid = (np.min(xs) + np.max(xs)) / 2 if len(xs) else 0.0
    texts = []
    for name, x, y in zip(names, xs, ys):
        left = x > mid  # labels on the right half point left, so none runs off the figure
        texts.append(
            ax.annotate(
                shorten(name, max_title_len),
                (x, y),
                xytext=(-5 if left else 5, 0),
                textcoords="offset points",
                ha="right" if left else "left",
                va="center",
                fontsize=9,
                arrowprops=dict(arrowstyle="-", color="0.65", lw=0.6, shrinkA=1, shrinkB=3),
            )
        )
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title)
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.axvline(0, color="0.8", lw=0.8, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.margins(0.08)
    fig.tight_layout()
    _spread_labels(fig, ax, texts)
    return fig

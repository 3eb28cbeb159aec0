"""Tokens coloured by a score in [0, 1]: an HTML snippet (Jupyter, files) and a matplotlib figure (PNG).

Used by :class:`~emberfit.text.interpret.TextClassificationInterpretation` to show intrinsic attention.
As in fastai v1 the default colour map is ``'RdYlGn'`` at half opacity (low red, high green), and each
token's score is its tooltip in the HTML.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = ["value_rgba", "attention_html", "attention_figure"]


def value_rgba(x: float, cmap: Any = "RdYlGn", alpha_mult: float = 0.5) -> tuple[int, int, int, float]:
    """``(r, g, b, a)`` of ``x`` in [0, 1] on the colour map ``cmap``, opacity times ``alpha_mult``.

    >>> value_rgba(1.0, 'Greys', 1.0)
    (0, 0, 0, 1.0)
    """
    import matplotlib

    c = matplotlib.colormaps[cmap](float(x)) if isinstance(cmap, str) else cmap(float(x))
    return int(c[0] * 255), int(c[1] * 255), int(c[2] * 255), round(float(c[3]) * alpha_mult, 3)


def attention_html(
    tokens: Sequence[str],
    attns: Sequence[float],
    sep: str = " ",
    cmap: Any = "RdYlGn",
    alpha_mult: float = 0.5,
) -> str:
    """One ``<span>`` per token, its background coloured by its score (the score is the tooltip).

    >>> attention_html(['a', '<b>'], [0.0, 1.0]).count('<span title=')
    2
    """
    if len(tokens) != len(attns):
        raise ValueError(f"tokens and attns must have the same length, got {len(tokens)} and {len(attns)}")
    spans = []
    for tok, a in zip(tokens, attns):
        r, g, b, alpha = value_rgba(float(a), cmap, alpha_mult)
        spans.append(
            f'<span title="{float(a):.3f}" style="background-color: rgba({r}, {g}, {b}, {alpha});">'
            f"{html.escape(str(tok))}</span>"
        )
    return f'<span style="font-family: monospace;">{sep.join(spans)}</span>'


def _lines(tokens: Sequence[str], width: int) -> list[list[tuple[int, str, int]]]:
    """Tokens wrapped into lines of at most ``width`` characters: ``(token index, token, column)``."""
    lines: list[list[tuple[int, str, int]]] = [[]]
    col = 0
    for i, tok in enumerate(tokens):
        if col and col + len(tok) > width:
            lines.append([])
            col = 0
        lines[-1].append((i, tok, col))
        col += len(tok) + 1
    return lines


def attention_figure(
    tokens: Sequence[str],
    attns: Sequence[float],
    title: str | None = None,
    cmap: Any = "RdYlGn",
    width: int = 90,
    fontsize: float = 10,
    alpha_mult: float = 0.5,
):
    """The tokens as wrapped monospace text on backgrounds coloured by score, with a colour bar.

    >>> fig = attention_figure(['xxbos', 'a', 'great', 'film'], [0.1, 0.2, 1.0, 0.5], title='positive')
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['xxbos', 'a', 'great', 'film']
    """
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    lines = _lines([str(t) for t in tokens], width)
    char_in = 0.6 * fontsize / 72  # a monospace character is about 0.6 em wide
    line_in = 1.9 * fontsize / 72
    fig_w = max(4.0, (width + 2) * char_in)
    text_h = (len(lines) + 0.6) * line_in
    fig = plt.figure(figsize=(fig_w, text_h + 1.0))
    ax = fig.add_axes((0, 0.75 / (text_h + 1.0), 1, text_h / (text_h + 1.0)))
    ax.set_xlim(-1, width + 1)
    ax.set_ylim(len(lines) - 0.3, -0.7)
    ax.axis("off")
    for row, line in enumerate(lines):
        for i, tok, col in line:
            r, g, b, a = value_rgba(float(attns[i]), cmap, alpha_mult)
            box = dict(facecolor=(r / 255, g / 255, b / 255, a), edgecolor="none", pad=1.5)
            ax.text(col, row, tok, family="monospace", fontsize=fontsize, va="center", bbox=box)
    if title:
        ax.set_title(title, fontsize=fontsize + 1, loc="left")
    cax = fig.add_axes((0.3, 0.25 / (text_h + 1.0), 0.4, 0.15 / (text_h + 1.0)))
    sm = ScalarMappable(norm=Normalize(0, 1), cmap=cmap)
    bar = fig.colorbar(sm, cax=cax, orientation="horizontal")
    bar.solids.set_alpha(alpha_mult)
    bar.set_label("attention (normalised per text)", fontsize=fontsize - 1)
    bar.ax.tick_params(labelsize=fontsize - 2)
    return fig

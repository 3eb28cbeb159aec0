"""The bar chart of :meth:`~emberfit.tabular.importance.FeatureImportance.plot_feature_importance`."""

from __future__ import annotations

import pandas as pd

__all__ = ["importance_figure"]


def importance_figure(fi: pd.DataFrame, top: int | None = 20, figsize: tuple[float, float] | None = None):
    """Horizontal bars of ``fi.importance`` (± ``fi['std']``), the most important column on top.

    >>> fi = pd.DataFrame({'feature': ['a', 'b'], 'importance': [0.2, 0.01], 'std': [0.01, 0.005]})
    >>> fi.attrs.update(metric='accuracy', baseline=0.8)
    >>> [t.get_text() for t in importance_figure(fi).axes[0].get_yticklabels()]
    ['a', 'b']
    """
    import matplotlib.pyplot as plt

    missing = [c for c in ("feature", "importance") if c not in fi.columns]
    if missing:
        raise KeyError(
            f"fi has no column(s) {missing}; pass the table learn.feature_importance() returns "
            f"(columns: {list(fi.columns)})"
        )
    if top is not None and (not isinstance(top, int) or top < 1):
        raise ValueError(f"top must be a positive int (the number of columns shown) or None, got {top!r}")
    fi = fi.sort_values("importance", ascending=False, kind="stable")
    fi = fi.head(top) if top is not None else fi
    n = len(fi)
    fig, ax = plt.subplots(figsize=figsize or (7, 0.35 * n + 1.4))
    ys = range(n)
    vals = fi["importance"].to_numpy(dtype=float)
    colors = ["#2b7bba" if v >= 0 else "#c0504d" for v in vals]
    err = fi["std"].to_numpy(dtype=float) if "std" in fi.columns else None
    ax.barh(ys, vals, xerr=err, color=colors, ecolor="#555555", capsize=2, height=0.7)
    ax.set_yticks(list(ys), [str(f) for f in fi["feature"]])
    ax.invert_yaxis()  # most important on top
    ax.axvline(0, color="black", linewidth=0.8)
    metric = fi.attrs.get("metric", "score")
    verb = "rise" if fi.attrs.get("lower_is_better") else "drop"
    ax.set_xlabel(f"{verb} in {metric} when the column is shuffled")
    base = fi.attrs.get("baseline")
    title = "Permutation feature importance"
    ax.set_title(title + (f" ({metric} {base:.3f} unshuffled)" if base is not None else ""))
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig

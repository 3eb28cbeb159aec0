"""Permutation feature importance of a tabular model: how much worse it does when one column is shuffled.

``learn.feature_importance()`` shuffles each input column of a split (validation by default) in
turn, leaving every other column and the labels in place, and measures the drop in a score: accuracy
for classifiers, the loss otherwise, or any ``metric`` you pass. A column the model relies on costs a
lot when shuffled; a column it ignores costs nothing. The model is not retrained, so this measures
what *this* model uses, not what the data could tell.

A column is shuffled as a whole, with what the procs derived from it: ``FillMissing``'s
``<col>_na`` indicator moves with the column's values. Shuffling processed values is the same as
shuffling the raw ones, since the procs map each value on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.data import DatasetType
from ..core.plots import _show

__all__ = ["FeatureImportance", "permutation_importance"]

LOWER_IS_BETTER = {
    "loss",
    "error_rate",
    "mae",
    "mse",
    "rmse",
    "msle",
    "exp_rmspe",
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_squared_logarithmic_error",
}
"""Score names for which a larger value is worse (the drop is then ``shuffled - baseline``)."""


def _score_name(metric: Any) -> str:
    return metric if isinstance(metric, str) else getattr(metric, "__name__", type(metric).__name__)


def _column_groups(proc: Any) -> list[tuple[str, list[int], list[int]]]:
    """``(input column, positions in the cats tensor, positions in the conts tensor)`` for each input column."""
    out = []
    for name in [*proc.cat_names, *proc.cont_names]:
        cats = [j for j, n in enumerate(proc.out_cat_names) if n in (name, f"{name}_na")]
        conts = [j for j, n in enumerate(proc.out_cont_names) if n == name]
        out.append((name, cats, conts))
    return out


def _scorer(learn: Any, metric: Any) -> Callable[[Any], float]:
    """A function of a loader giving ``learn``'s score on it."""
    if metric == "loss":
        return lambda dl: float(learn.get_preds(dl=dl, with_loss=True)[2].mean())
    if hasattr(metric, "accumulate"):  # a whole-set metric such as AUROC()

        def whole(dl):
            preds, targs = learn.get_preds(dl=dl)[:2]
            metric.reset()
            metric.accumulate(preds, targs)
            return float(metric.value)

        return whole
    return lambda dl: float(metric(*learn.get_preds(dl=dl)[:2]))


def permutation_importance(
    learn: Any,
    ds_type: DatasetType = DatasetType.Valid,
    metric: Any = None,
    n_repeats: int = 3,
    seed: int | None = 42,
    lower_is_better: bool | None = None,
) -> pd.DataFrame:
    """The importance of each input column of a tabular ``learn`` (see the module): a table, most important first.

    Columns: ``feature``, ``importance`` (mean drop in the score over ``n_repeats`` shuffles),
    ``std`` (their standard deviation) and ``score`` (the mean shuffled score). The unshuffled
    score is in ``df.attrs['baseline']`` and the score's name in ``df.attrs['metric']``.

    >>> # permutation_importance(learn).head()
    """
    if not isinstance(n_repeats, int) or isinstance(n_repeats, bool) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive int (shuffles per column), got {n_repeats!r}")
    dl = learn.data.dl(ds_type)
    cats, conts = dl.x
    if metric is None:
        single = learn.data.classes is not None and not learn.data.multi_label
        metric = "accuracy" if single else "loss"
    name = _score_name(metric)
    if metric == "accuracy":

        def metric(p, t):
            return (p.argmax(-1) == t).float().mean()

    elif not (metric == "loss" or callable(metric) or hasattr(metric, "accumulate")):
        raise TypeError(f"metric must be None, 'loss', 'accuracy' or a metric function, got {metric!r}")
    lower = (name in LOWER_IS_BETTER) if lower_is_better is None else bool(lower_is_better)
    score = _scorer(learn, metric)
    baseline = score(dl)
    gen = torch.Generator().manual_seed(seed if seed is not None else int(torch.seed() % 2**31))
    rows = []
    for col, ci, ni in _column_groups(learn.data.processor):
        drops = []
        for _ in range(n_repeats):
            perm = torch.randperm(dl.n, generator=gen).to(cats.device)
            c, x = cats.clone(), conts.clone()
            if ci:
                c[:, ci] = cats[perm][:, ci]
            if ni:
                x[:, ni] = conts[perm][:, ni]
            s = score(type(dl)((c, x), dl.y, bs=dl.bs, device=dl.device))
            drops.append((s - baseline) if lower else (baseline - s))
        mean = float(np.mean(drops))
        rows.append((col, mean, float(np.std(drops)), baseline + mean if lower else baseline - mean))
    df = pd.DataFrame(rows, columns=["feature", "importance", "std", "score"])
    df = df.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
    df.attrs.update(baseline=baseline, metric=name, lower_is_better=lower)
    return df


class FeatureImportance:
    """``learn.feature_importance()`` and ``learn.plot_feature_importance()`` of a :class:`TabularLearner`."""

    def feature_importance(
        self,
        ds_type: DatasetType = DatasetType.Valid,
        metric: Any = None,
        n_repeats: int = 3,
        seed: int | None = 42,
        lower_is_better: bool | None = None,
    ) -> pd.DataFrame:
        """Permutation importance of each input column (see :func:`permutation_importance`), most important first.

        ``metric``: None (accuracy for classifiers, the loss otherwise), ``'loss'``, ``'accuracy'`` or a
        metric function ``f(preds, targets)``; ``lower_is_better`` is guessed from its name when None.
        """
        return permutation_importance(self, ds_type, metric, n_repeats, seed, lower_is_better)

    def plot_feature_importance(
        self,
        fi: pd.DataFrame | None = None,
        top: int | None = 20,
        figsize: tuple[float, float] | None = None,
        return_fig: bool = False,
        **kwargs,
    ):
        """A bar chart of :meth:`feature_importance` (``fi``, or computed with ``kwargs``), most important on top.

        Without a display it is written to ``learn.path/'plots'/'feature_importance.png'``.
        """
        from .importance_plot import importance_figure

        fi = self.feature_importance(**kwargs) if fi is None else fi
        fig = importance_figure(fi, top, figsize)
        if return_fig:
            return fig
        _show(fig, self.recorder, "feature_importance")

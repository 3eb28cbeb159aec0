"""The lesson's interpretation of a trained collab model: biases, factors and their PCA, plots.

``learn.bias(titles)``, ``learn.weight(titles).pca(3)``, ``learn.most_liked()`` /
``least_liked()`` and ``learn.plot_items()`` are methods of
:class:`~emberfit.collab.learner.CollabLearner`, which takes them from
:class:`CollabInterpretation` here. The examples use the tiny ``learn`` of
:mod:`emberfit.collab.learner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from .models import EmbeddingDotBias, factor_embedding

__all__ = ["CollabInterpretation", "FactorTensor"]


class FactorTensor(torch.Tensor):
    """The tensor ``learn.weight`` returns: a plain tensor plus :meth:`pca` (``torch.Tensor`` is not patched).

    >>> _ = torch.manual_seed(0)
    >>> df = pd.DataFrame({"user": [1, 1, 2, 2], "item": ["a", "b", "a", "c"], "rating": [5.0, 3, 4, 2]})
    >>> learn = collab_learner(CollabDataBunch.from_df(df, valid_pct=0, bs=2, device="cpu"), n_factors=5,
    ...                        y_range=(0, 5.5), silent=True)
    >>> w = learn.weight(["a", "b", "c"])  # item factors, one row per item
    >>> type(w).__name__, w.shape, isinstance(w, torch.Tensor)
    ('FactorTensor', torch.Size([3, 5]), True)
    >>> w.pca(2).shape  # the lesson's PCA of the factors
    torch.Size([3, 2])
    """

    def pca(self, k: int = 3) -> torch.Tensor:
        """Project the rows onto their first ``k`` principal components: ``(n, d) -> (n, k)``.

        >>> FactorTensor(torch.randn(10, 5)).pca(2).shape
        torch.Size([10, 2])
        """
        x = self.as_subclass(torch.Tensor).float()
        if not isinstance(k, int) or not 1 <= k <= min(x.shape):
            raise ValueError(
                f"k must be an int between 1 and {min(x.shape)} for a {tuple(x.shape)} tensor, got {k!r}"
            )
        x = x - x.mean(0)
        _, _, vh = torch.linalg.svd(x, full_matrices=False)  # rows of vh: principal directions
        comps = vh[:k]
        # an SVD's signs are arbitrary; make the largest loading of each component positive
        signs = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True)))
        return x @ (comps * signs).t()  # (n, k)


class CollabInterpretation:
    """Interpretation methods of :class:`~emberfit.collab.learner.CollabLearner`.

    They read ``self.model``, the id maps in ``self.data.processor`` and the training
    statistics the learner keeps (``item_counts``, ``item_mean``).
    """

    def bias(self, arr: Any, is_item: bool = True) -> torch.Tensor:
        """The learned bias of each user or item in ``arr`` (ids or titles), shape ``(len(arr),)``.

        >>> learn.bias(['a', 'b']).shape, learn.bias([1], is_item=False).shape
        (torch.Size([2]), torch.Size([1]))
        """
        if not isinstance(self.model, EmbeddingDotBias):
            raise TypeError("bias() needs the dot-product model; this learner was built with use_nn=True")
        emb = self.model.i_bias if is_item else self.model.u_bias
        rows = self.data.processor.index(arr, is_item)
        return emb.weight.detach()[rows.to(emb.weight.device)].squeeze(1).cpu()

    def weight(self, arr: Any, is_item: bool = True) -> FactorTensor:
        """The latent factors of each user or item in ``arr``, ``(len(arr), n_factors)``; has ``.pca(k)``.

        >>> learn.weight(['a', 'b', 'c']).pca(2).shape
        torch.Size([3, 2])
        """
        w = factor_embedding(self.model, is_item).weight.detach()
        rows = self.data.processor.index(arr, is_item)
        return w[rows.to(w.device)].cpu().as_subclass(FactorTensor)

    def _top_rated(self, among: int) -> np.ndarray:
        """The ``among`` items with the most training ratings (the lesson's ``top_movies``)."""
        counts = self.item_counts.clone()
        counts[0] = -1
        order = torch.argsort(counts, descending=True, stable=True)[: min(among, len(counts) - 1)]
        order = order[counts[order] > 0]
        return np.array([self.data.processor.item_classes[i] for i in order.tolist()], dtype=object)

    def most_liked(self, n: int = 15, among: int = 1000, least: bool = False) -> pd.DataFrame:
        """Items with the highest (``least=True``: lowest) bias among the ``among`` most-rated ones.

        >>> learn.most_liked(2).columns.tolist()
        ['item', 'bias', 'mean_rating', 'n_ratings']
        """
        items = self._top_rated(among)
        b = self.bias(items, is_item=True)
        idx = self.data.processor.index(items, True)
        df = pd.DataFrame(
            {
                str(self.data.processor.item_name): items,
                "bias": b.numpy(),
                "mean_rating": self.item_mean[idx].numpy(),
                "n_ratings": self.item_counts[idx].numpy(),
            }
        )
        return df.sort_values("bias", ascending=least, kind="stable").head(n).reset_index(drop=True)

    def least_liked(self, n: int = 15, among: int = 1000) -> pd.DataFrame:
        """Items with the lowest bias among the ``among`` most-rated ones.

        >>> len(learn.least_liked(2))
        2
        """
        return self.most_liked(n, among, least=True)

    def plot_items(
        self,
        items: Sequence | None = None,
        n: int = 50,
        components: tuple[int, int] = (0, 1),
        among: int = 1000,
        seed: int | None = 42,
        figsize: tuple[float, float] = (11, 9),
        return_fig: bool = False,
        max_title_len: int = 32,
    ):
        """Scatter ``n`` items (or ``items``) on two principal components of the item factors, labelled by title.

        The PCA runs over the ``among`` most-rated items, as in the lesson. Points are coloured by
        the item's bias (dot-product model), long titles are shortened and overlapping labels
        nudged apart; each axis says how much of the factors' variance its component holds.
        Without a display the figure is written to ``learn.path/'plots'/'items_pca.png'``.

        >>> len(learn.plot_items(n=3, return_fig=True).axes[0].texts)
        3
        """
        from ..core.plots import _show
        from .items_plot import items_figure

        if len(components) != 2 or any(not isinstance(c, int) or c < 0 for c in components):
            raise ValueError(f"components must be two non-negative ints such as (0, 1), got {components!r}")
        pool = self._top_rated(among)
        factors = self.weight(pool, is_item=True)
        proj = factors.pca(max(components) + 1)  # PCA over the pool, as in the lesson
        total = float(factors.as_subclass(torch.Tensor).float().var(0).sum()) or 1.0
        share = [float(proj[:, c].var()) / total for c in components]
        pick = _pick_items(pool, items, n, seed)
        bias = self.bias(pool[pick]).numpy() if isinstance(self.model, EmbeddingDotBias) else None
        labels = tuple(
            f"component {c + 1} ({s:.0%} of the factors' variance)" for c, s in zip(components, share)
        )
        fig = items_figure(
            proj[pick, components[0]].numpy(),
            proj[pick, components[1]].numpy(),
            [str(o) for o in pool[pick]],
            labels,
            bias=bias,
            figsize=figsize,
            max_title_len=max_title_len,
        )
        if return_fig:
            return fig
        _show(fig, self.recorder, "items_pca")


def _pick_items(pool: np.ndarray, items: Sequence | None, n: int, seed: int | None) -> np.ndarray:
    """Positions in ``pool`` of the ``items`` to plot, or of ``n`` of them drawn at random."""
    if items is None:
        rng = np.random.default_rng(seed)
        return rng.choice(len(pool), size=min(n, len(pool)), replace=False)
    where = {o: i for i, o in enumerate(pool.tolist())}
    missing = [o for o in items if o not in where]
    if missing:
        raise KeyError(f"items {missing[:5]} are not among the {len(pool)} most-rated items; raise among=")
    return np.array([where[o] for o in items])

"""Ratings for new pairs and recommendations, past the lesson: ``predict``, ``predict_df``, ``recommend``, ``similar_items``.

They are methods of :class:`~emberfit.collab.learner.CollabLearner`, which takes them from
:class:`CollabInference` here. ``recommend`` and ``similar_items`` score every item in one
batched pass. Unseen users or items never crash: they get the cold-start baseline described
in :mod:`emberfit.collab.models`, and every result says where that happened (a ``fallback`` /
``source`` field). The examples use the tiny ``learn`` of :mod:`emberfit.collab.learner`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.data_block.label_items import FloatItem
from .data import pair_of, pairs_array
from .models import factor_embedding

__all__ = ["CollabInference", "CollabPrediction", "SOURCE"]

SOURCE = {
    (False, False): "model",
    (True, False): "baseline: unknown user (global mean + item bias)",
    (False, True): "baseline: unknown item (global mean + user bias)",
    (True, True): "baseline: unknown user and item (global mean)",
}
"""What answered a row, by (user unknown, item unknown)."""


class CollabPrediction(tuple):
    """``(FloatItem(rating), tensor(rating), tensor([rating]))`` like fastai v1's ``predict``, plus ``fallback``.

    ``rating`` is the plain float; ``fallback`` is None when the model predicted, otherwise which
    cold-start baseline was used.

    >>> _ = torch.manual_seed(0)
    >>> df = pd.DataFrame({"user": [1, 1, 2, 2], "item": ["a", "b", "a", "c"], "rating": [5.0, 3, 4, 2]})
    >>> learn = collab_learner(CollabDataBunch.from_df(df, valid_pct=0, bs=2, device="cpu"), n_factors=3,
    ...                        y_range=(0, 5.5), silent=True)
    >>> p = learn.predict((1, "c"))  # a known user and item: the model answers
    >>> p
    CollabPrediction(user=1, item='c', rating=...)
    >>> rating, t, ts = p  # unpacks like Learner.predict
    >>> rating, float(rating) == p.rating, t.shape, ts.shape, p.fallback
    (FloatItem ..., True, torch.Size([]), torch.Size([1]), None)
    >>> learn.predict((9, "a")).fallback  # user 9 never rated anything: the cold-start baseline
    'baseline: unknown user (global mean + item bias)'
    """

    def __new__(cls, rating: float, fallback: str | None, user: Any, item: Any):
        t = torch.tensor(rating)
        out = super().__new__(cls, (FloatItem(rating), t, t.reshape(1)))
        out.rating, out.fallback, out.user, out.item = rating, fallback, user, item
        return out

    def __repr__(self) -> str:
        note = "" if self.fallback is None else f", fallback={self.fallback!r}"
        return f"CollabPrediction(user={self.user!r}, item={self.item!r}, rating={self.rating:.4f}{note})"


class CollabInference:
    """Prediction and recommendation methods of :class:`~emberfit.collab.learner.CollabLearner`.

    They read ``self.model``, ``self.data`` (its device and the id maps and column names in
    ``data.processor``) and the items each user rated (``seen_ptr``, ``seen_items``).
    """

    def _run(self, codes: torch.Tensor) -> torch.Tensor:
        """Model predictions (eval mode, cold-start baseline applied) for ``(n, 2)`` index pairs."""
        self.model.eval()
        with torch.no_grad():
            out = self.model(codes.to(self.data.device)).float().cpu()
        self.model.train()
        return out

    def _encode_rows(self, pairs: np.ndarray) -> torch.Tensor:
        proc = self.data.processor
        for col, is_item in ((0, False), (1, True)):
            if len(pairs):
                proc.check_id_type(pairs[0, col], is_item)
        return torch.as_tensor(proc.encode(pairs))

    def predict(self, row: Any) -> CollabPrediction:
        """Predicted rating for one ``(user, item)`` pair (a tuple, dict, Series or one-row DataFrame).

        Unknown users or items get the cold-start baseline; ``result.fallback`` says which.

        >>> rating, _, _ = learn.predict((1, 'c')); 0 < rating < 5.5, type(rating).__name__
        (True, 'FloatItem')
        """
        proc = self.data.processor
        user, item = pair_of(row, proc.user_name, proc.item_name)
        codes = self._encode_rows(pairs_array([(user, item)]))
        rating = float(self._run(codes)[0])
        cold = bool(codes[0, 0] == 0), bool(codes[0, 1] == 0)
        return CollabPrediction(rating, None if cold == (False, False) else SOURCE[cold], user, item)

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        """Predicted ratings for every row of ``df`` (same user/item columns), with a ``source`` column.

        >>> learn.predict_df(pd.DataFrame({'user': [1, 9], 'item': ['c', 'a']})).source.tolist()
        ['model', 'baseline: unknown user (global mean + item bias)']
        """
        u, i = self.data.processor.user_name, self.data.processor.item_name
        missing = [c for c in (u, i) if c not in df.columns]
        if missing:
            raise KeyError(
                f"df has no column(s) {missing}; it needs {u!r} and {i!r} (columns: {list(df.columns)})"
            )
        codes = self._encode_rows(df[[u, i]].to_numpy(dtype=object))
        out = df[[u, i]].reset_index(drop=True).copy()
        out["prediction"] = self._run(codes).numpy() if len(df) else np.zeros(0, dtype=np.float32)
        cold_u, cold_i = (codes[:, 0] == 0).numpy(), (codes[:, 1] == 0).numpy()
        out["source"] = [SOURCE[(bool(a), bool(b))] for a, b in zip(cold_u, cold_i)]
        return out

    def recommend(self, user: Any, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``n`` items with the highest predicted rating for ``user`` (all items scored in one pass).

        ``exclude_seen`` skips items the user rated in the training data. An unknown user gets
        the items with the best baseline (global mean + item bias); ``source`` says so.

        >>> learn.recommend(1, n=1).item.tolist()  # user 1 rated a and b
        ['c']
        """
        _check_n(n)
        proc = self.data.processor
        proc.check_id_type(user, is_item=False)
        u = int(proc.encode(pairs_array([(user, None)]))[0, 0])
        items = torch.arange(len(proc.item_classes))
        scores = self._run(torch.stack([torch.full_like(items, u), items], 1))  # (n_items,)
        scores[0] = -torch.inf  # '#na#' is not an item
        if exclude_seen and u:
            scores[self.seen_items[self.seen_ptr[u] : self.seen_ptr[u + 1]]] = -torch.inf
        top = torch.topk(scores, min(n, int(torch.isfinite(scores).sum())))
        return _item_table(proc, top, "prediction", top.values.numpy(), SOURCE[(u == 0, False)])

    def similar_items(self, item: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` items whose factors are closest (cosine) to ``item``'s, over all items in one pass.

        An unknown item has no factors: the result is then the items with the best baseline
        rating, and ``source`` says so.

        >>> learn.similar_items('a', n=2).shape
        (2, 3)
        """
        _check_n(n)
        proc = self.data.processor
        proc.check_id_type(item, is_item=True)
        i = int(proc.encode(pairs_array([(None, item)]))[0, 1])
        if i == 0:
            base = self.model.item_base.detach().cpu().clone() + self.model.global_mean.cpu()
            base[0] = -torch.inf
            top = torch.topk(base, min(n, len(base) - 1))
            no_sim = np.full(len(top.indices), np.nan)
            return _item_table(
                proc,
                top,
                "similarity",
                no_sim,
                "baseline: unknown item (items with the best baseline rating)",
            )
        w = torch.nn.functional.normalize(
            factor_embedding(self.model, True).weight.detach().float().cpu(), dim=1
        )
        sims = w @ w[i]  # (n_items,)
        sims[0] = sims[i] = -torch.inf
        top = torch.topk(sims, min(n, len(sims) - 2))
        return _item_table(proc, top, "similarity", top.values.numpy(), "model")


def _check_n(n: Any) -> None:
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")


def _item_table(proc, top, column: str, values: np.ndarray, source: str) -> pd.DataFrame:
    """The items of a ``torch.topk`` result by name, with a score ``column`` and their ``source``."""
    return pd.DataFrame(
        {
            str(proc.item_name): [proc.item_classes[j] for j in top.indices.tolist()],
            column: values,
            "source": source,
        }
    )

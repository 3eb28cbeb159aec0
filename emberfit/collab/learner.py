"""``collab_learner`` and :class:`CollabLearner`: training, interpretation and recommendations.

Interpretation follows the lesson: ``learn.bias(titles)``, ``learn.weight(titles).pca(3)``,
plus :meth:`CollabLearner.plot_items` and :meth:`CollabLearner.most_liked`. Inference goes
past it: ``predict`` for one pair, ``predict_df`` for a frame, ``recommend`` and
``similar_items`` over every item in one batched pass. Unseen users or items never crash:
they get the cold-start baseline described in :mod:`emberfit.collab.models`, and every
result says where that happened (a ``fallback`` / ``source`` field, or a warning).

The examples in this module use this tiny ``learn``:

>>> from emberfit.collab import CollabDataBunch, pd
>>> df = pd.DataFrame({'user': [1, 1, 2, 2, 3, 3, 4, 4], 'item': list('abacbcab'),
...                    'rating': [5., 3, 4, 2, 1, 4, 5, 3]})
>>> data = CollabDataBunch.from_df(df, valid_pct=0, bs=4, device='cpu')
>>> learn = collab_learner(data, n_factors=3, y_range=(0, 5.5), silent=True)
>>> learn.fit(2, 1e-2)
>>> learn.predict((5, 'a')).fallback  # user 5 never rated anything
'baseline: unknown user (global mean + item bias)'
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.data import DataBunch, DatasetType
from ..core.layers import emb_sz_rule
from ..core.learner import Learner
from ..core.registry import register
from .data import CollabList, _pairs_array, pair_of
from .models import EmbeddingDotBias, EmbeddingNN

__all__ = ["collab_learner", "CollabLearner", "CollabPrediction", "FactorTensor", "BASELINE_SHRINK"]

BASELINE_SHRINK = 10.0
"""Damping of the cold-start biases: ``b = sum(r - mean) / (n + 10)``, so an id with few ratings stays near the mean."""

_SOURCE = {
    (False, False): "model",
    (True, False): "baseline: unknown user (global mean + item bias)",
    (False, True): "baseline: unknown item (global mean + user bias)",
    (True, True): "baseline: unknown user and item (global mean)",
}


class FactorTensor(torch.Tensor):
    """The tensor ``learn.weight`` returns: a plain tensor plus :meth:`pca` (``torch.Tensor`` is not patched)."""

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


class CollabPrediction(tuple):
    """``(rating, tensor(rating), tensor([rating]))`` like ``Learner.predict``, plus ``fallback``.

    ``fallback`` is None when the model predicted, otherwise which cold-start baseline was used.
    """

    def __new__(cls, rating: float, fallback: str | None, user: Any, item: Any):
        t = torch.tensor(rating)
        out = super().__new__(cls, (rating, t, t.reshape(1)))
        out.rating, out.fallback, out.user, out.item = rating, fallback, user, item
        return out

    def __repr__(self) -> str:
        note = "" if self.fallback is None else f", fallback={self.fallback!r}"
        return f"CollabPrediction(user={self.user!r}, item={self.item!r}, rating={self.rating:.4f}{note})"


@register("learner", "collab.CollabLearner")
class CollabLearner(Learner):
    """A Learner for ratings with lookups by raw user id / item id (or title)."""

    def __init__(self, data: DataBunch, model: torch.nn.Module, **kwargs):
        super().__init__(data, model, **kwargs)
        kind = "EmbeddingNN" if isinstance(model, EmbeddingNN) else "EmbeddingDotBias"
        self.model_init = {"cls": f"collab.{kind}", "kwargs": asdict(model.config)}
        self._fit_baseline()

    # -- training-set statistics: cold-start baseline and seen items ------------------------
    def _fit_baseline(self) -> None:
        lls = self.data.label_lists
        codes = torch.as_tensor(lls.train.x.codes)  # (n, 2)
        r = torch.as_tensor(lls.train.y.items, dtype=torch.float64)
        mu = float(r.mean())
        n_users, n_items = len(self._proc.user_classes), len(self._proc.item_classes)
        dev = r - mu
        u_sum = torch.zeros(n_users, dtype=torch.float64).index_add_(0, codes[:, 0], dev)
        i_sum = torch.zeros(n_items, dtype=torch.float64).index_add_(0, codes[:, 1], dev)
        u_cnt = torch.bincount(codes[:, 0], minlength=n_users).double()
        i_cnt = torch.bincount(codes[:, 1], minlength=n_items).double()
        self.model.set_baseline(
            mu, (u_sum / (u_cnt + BASELINE_SHRINK)).float(), (i_sum / (i_cnt + BASELINE_SHRINK)).float()
        )
        self.item_counts = i_cnt.long()
        self.item_mean = ((i_sum + mu * i_cnt) / i_cnt.clamp(min=1)).float()
        # items each user rated, in train or valid, as CSR (ptr, indices): what recommend() skips
        known = [codes]
        if lls.valid is not None and len(lls.valid):
            known.append(torch.as_tensor(lls.valid.x.codes))
        pairs = torch.cat(known)
        pairs = pairs[(pairs != 0).all(1)]
        pairs = pairs[torch.argsort(pairs[:, 0], stable=True)]
        self.seen_ptr = torch.cat(
            [torch.zeros(1, dtype=torch.long), torch.bincount(pairs[:, 0], minlength=n_users).cumsum(0)]
        )
        self.seen_items = pairs[:, 1].clone()

    def _group_params(self, group):
        # The bias "embeddings" hold biases in a parameter named ``weight``; count them as biases,
        # so that ``bn_wd=False`` (no weight decay on BatchNorm and biases) leaves them undecayed too.
        decay, no_decay = super()._group_params(group)
        if self.bn_wd or not isinstance(self.model, EmbeddingDotBias):
            return decay, no_decay
        biases = {id(self.model.u_bias.weight), id(self.model.i_bias.weight)}
        return [p for p in decay if id(p) not in biases], no_decay + [p for p in decay if id(p) in biases]

    def export_extra(self) -> dict:
        return {
            "seen_ptr": self.seen_ptr,
            "seen_items": self.seen_items,
            "item_counts": self.item_counts,
            "item_mean": self.item_mean,
        }

    def restore_extra(self, state: dict) -> None:
        for k in ("seen_ptr", "seen_items", "item_counts", "item_mean"):
            setattr(self, k, state[k])

    # -- id lookups ---------------------------------------------------------------------------
    @property
    def _proc(self):
        return self.data.processor

    @property
    def _names(self) -> tuple[Any, Any]:
        x = self.data.label_lists.train.x
        return x.user_name, x.item_name

    def _classes(self, is_item: bool) -> list:
        return self._proc.item_classes if is_item else self._proc.user_classes

    def _check_id_type(self, o: Any, is_item: bool) -> None:
        """A str '42' for int ids (or the reverse) is a type slip, not a new user: say so."""
        classes = self._classes(is_item)
        if len(classes) < 2:
            return
        want_num = isinstance(classes[1], (int, float))
        if isinstance(o, (int, float, np.number)) != want_num:
            side = "item" if is_item else "user"
            kind = type(classes[1]).__name__
            raise TypeError(
                f"{side} id {o!r} is a {type(o).__name__} but the training {side} ids are {kind} "
                f"(e.g. {classes[1]!r}); pass the id as {kind}"
            )

    def _idx(self, ids: Any, is_item: bool) -> torch.Tensor:
        """Raw ids/titles -> embedding rows, with a KeyError naming any id the training split lacks."""
        arr = np.asarray(
            list(ids) if not isinstance(ids, (str, bytes)) and hasattr(ids, "__iter__") else [ids],
            dtype=object,
        )
        side = "item" if is_item else "user"
        pairs = np.empty((len(arr), 2), dtype=object)
        pairs[:, int(is_item)], pairs[:, 1 - int(is_item)] = arr, None
        codes = self._proc.encode(pairs)[:, int(is_item)] if len(arr) else np.zeros(0, dtype=np.int64)
        bad = [o.item() if isinstance(o, np.generic) else o for o in arr[codes == 0]]
        if bad:
            self._check_id_type(bad[0], is_item)
            outside = set(self._proc.outside_train[side])
            where = "; it appears only outside the training split (valid/test)" if bad[0] in outside else ""
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise KeyError(
                f"{side} {bad[0]!r}{more} is not among the {len(self._classes(is_item)) - 1} training {side}s{where}, "
                f"so the model has no {side} factors for it; predict() and recommend() fall back to a baseline for it"
            )
        return torch.as_tensor(codes, dtype=torch.long)

    # -- interpretation ---------------------------------------------------------------------
    def bias(self, arr: Any, is_item: bool = True) -> torch.Tensor:
        """The learned bias of each user or item in ``arr`` (ids or titles), shape ``(len(arr),)``.

        >>> learn.bias(['a', 'b']).shape, learn.bias([1], is_item=False).shape
        (torch.Size([2]), torch.Size([1]))
        """
        if not isinstance(self.model, EmbeddingDotBias):
            raise TypeError("bias() needs the dot-product model; this learner was built with use_nn=True")
        emb = self.model.i_bias if is_item else self.model.u_bias
        return emb.weight.detach()[self._idx(arr, is_item).to(emb.weight.device)].squeeze(1).cpu()

    def weight(self, arr: Any, is_item: bool = True) -> FactorTensor:
        """The latent factors of each user or item in ``arr``, ``(len(arr), n_factors)``; has ``.pca(k)``.

        >>> learn.weight(['a', 'b', 'c']).pca(2).shape
        torch.Size([3, 2])
        """
        w = self._embedding(is_item).weight.detach()
        return w[self._idx(arr, is_item).to(w.device)].cpu().as_subclass(FactorTensor)

    def _embedding(self, is_item: bool) -> torch.nn.Embedding:
        if isinstance(self.model, EmbeddingNN):
            return self.model.embeds[int(is_item)]
        return self.model.i_weight if is_item else self.model.u_weight

    def _top_rated(self, among: int) -> np.ndarray:
        """The ``among`` items with the most training ratings (the lesson's ``top_movies``)."""
        counts = self.item_counts.clone()
        counts[0] = -1
        order = torch.argsort(counts, descending=True, stable=True)[: min(among, len(counts) - 1)]
        order = order[counts[order] > 0]
        return np.array([self._proc.item_classes[i] for i in order.tolist()], dtype=object)

    def most_liked(self, n: int = 15, among: int = 1000, least: bool = False) -> pd.DataFrame:
        """Items with the highest (``least=True``: lowest) bias among the ``among`` most-rated ones.

        >>> learn.most_liked(2).columns.tolist()
        ['item', 'bias', 'mean_rating', 'n_ratings']
        """
        items = self._top_rated(among)
        b = self.bias(items, is_item=True)
        idx = self._idx(items, True)
        df = pd.DataFrame(
            {
                str(self._names[1]): items,
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
        figsize: tuple[float, float] = (12, 12),
        return_fig: bool = False,
    ):
        """Scatter ``n`` items on two principal components of the item factors, labelled by title.

        >>> len(learn.plot_items(n=3, return_fig=True).axes[0].texts)
        3
        """
        import matplotlib.pyplot as plt

        from ..core.plots import _show

        pool = self._top_rated(among)
        k = max(components) + 1
        proj = self.weight(pool, is_item=True).pca(k)  # PCA over the pool, as in the lesson
        if items is None:
            rng = np.random.default_rng(seed)
            pick = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
        else:
            where = {o: i for i, o in enumerate(pool.tolist())}
            missing = [o for o in items if o not in where]
            if missing:
                raise KeyError(
                    f"items {missing[:5]} are not among the {len(pool)} most-rated items; raise among="
                )
            pick = np.array([where[o] for o in items])
        xs, ys = proj[pick, components[0]].numpy(), proj[pick, components[1]].numpy()
        fig, ax = plt.subplots(figsize=figsize)
        ax.scatter(xs, ys)
        for name, x, y in zip(pool[pick], xs, ys):
            ax.text(x, y, str(name), fontsize=10)
        ax.set_xlabel(f"component {components[0]}")
        ax.set_ylabel(f"component {components[1]}")
        if return_fig:
            return fig
        _show(fig, self.recorder, "items_pca")

    # -- inference -----------------------------------------------------------------------
    def _run(self, codes: torch.Tensor) -> torch.Tensor:
        """Model predictions (eval mode, cold-start baseline applied) for ``(n, 2)`` index pairs."""
        self.model.eval()
        with torch.no_grad():
            out = self.model(codes.to(self.data.device)).float().cpu()
        self.model.train()
        return out

    def _encode_rows(self, pairs: np.ndarray) -> torch.Tensor:
        for col, is_item in ((0, False), (1, True)):
            if len(pairs):
                self._check_id_type(pairs[0, col], is_item)
        return torch.as_tensor(self._proc.encode(pairs))

    def predict(self, row: Any) -> CollabPrediction:
        """Predicted rating for one ``(user, item)`` pair (a tuple, dict, Series or one-row DataFrame).

        Unknown users or items get the cold-start baseline; ``result.fallback`` says which.

        >>> rating, _, _ = learn.predict((1, 'c')); 0 < rating < 5.5
        True
        """
        user, item = pair_of(row, *self._names)
        codes = self._encode_rows(_pairs_array([(user, item)]))
        rating = float(self._run(codes)[0])
        cold = bool(codes[0, 0] == 0), bool(codes[0, 1] == 0)
        return CollabPrediction(rating, None if cold == (False, False) else _SOURCE[cold], user, item)

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        """Predicted ratings for every row of ``df`` (same user/item columns), with a ``source`` column.

        >>> learn.predict_df(pd.DataFrame({'user': [1, 9], 'item': ['c', 'a']})).source.tolist()
        ['model', 'baseline: unknown user (global mean + item bias)']
        """
        u, i = self._names
        missing = [c for c in (u, i) if c not in df.columns]
        if missing:
            raise KeyError(
                f"df has no column(s) {missing}; it needs {u!r} and {i!r} (columns: {list(df.columns)})"
            )
        codes = self._encode_rows(df[[u, i]].to_numpy(dtype=object))
        out = df[[u, i]].reset_index(drop=True).copy()
        out["prediction"] = self._run(codes).numpy() if len(df) else np.zeros(0, dtype=np.float32)
        cold_u, cold_i = (codes[:, 0] == 0).numpy(), (codes[:, 1] == 0).numpy()
        out["source"] = [_SOURCE[(bool(a), bool(b))] for a, b in zip(cold_u, cold_i)]
        return out

    def recommend(self, user: Any, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``n`` items with the highest predicted rating for ``user`` (all items scored in one pass).

        ``exclude_seen`` skips items the user rated in the training data. An unknown user gets
        the items with the best baseline (global mean + item bias); ``source`` says so.

        >>> learn.recommend(1, n=1).item.tolist()  # user 1 rated a and b
        ['c']
        """
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive int, got {n!r}")
        self._check_id_type(user, is_item=False)
        u = int(self._proc.encode(_pairs_array([(user, None)]))[0, 0])
        n_items = len(self._proc.item_classes)
        items = torch.arange(n_items)
        scores = self._run(torch.stack([torch.full_like(items, u), items], 1))  # (n_items,)
        scores[0] = -torch.inf  # '#na#' is not an item
        if exclude_seen and u:
            scores[self.seen_items[self.seen_ptr[u] : self.seen_ptr[u + 1]]] = -torch.inf
        k = min(n, int(torch.isfinite(scores).sum()))
        top = torch.topk(scores, k)
        return pd.DataFrame(
            {
                str(self._names[1]): [self._proc.item_classes[j] for j in top.indices.tolist()],
                "prediction": top.values.numpy(),
                "source": _SOURCE[(u == 0, False)],
            }
        )

    def similar_items(self, item: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` items whose factors are closest (cosine) to ``item``'s, over all items in one pass.

        An unknown item has no factors: the result is then the items with the best baseline
        rating, and ``source`` says so.

        >>> learn.similar_items('a', n=2).shape
        (2, 3)
        """
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive int, got {n!r}")
        self._check_id_type(item, is_item=True)
        i = int(self._proc.encode(_pairs_array([(None, item)]))[0, 1])
        name = str(self._names[1])
        if i == 0:
            base = self.model.item_base.detach().cpu().clone() + self.model.global_mean.cpu()
            base[0] = -torch.inf
            top = torch.topk(base, min(n, len(base) - 1))
            return pd.DataFrame(
                {
                    name: [self._proc.item_classes[j] for j in top.indices.tolist()],
                    "similarity": np.full(len(top.indices), np.nan),
                    "source": "baseline: unknown item (items with the best baseline rating)",
                }
            )
        w = torch.nn.functional.normalize(self._embedding(True).weight.detach().float().cpu(), dim=1)
        sims = w @ w[i]  # (n_items,)
        sims[0] = sims[i] = -torch.inf
        top = torch.topk(sims, min(n, len(sims) - 2))
        return pd.DataFrame(
            {
                name: [self._proc.item_classes[j] for j in top.indices.tolist()],
                "similarity": top.values.numpy(),
                "source": "model",
            }
        )

    def get_preds(
        self, ds_type: DatasetType = DatasetType.Valid, activ=None, with_loss: bool = False, dl=None
    ):
        """As :meth:`Learner.get_preds`; warns when rows used the cold-start baseline (see :meth:`predict_df`)."""
        res = super().get_preds(ds_type, activ=activ, with_loss=with_loss, dl=dl)
        x = getattr(dl if dl is not None else self.data.dl(ds_type), "x", None)
        if isinstance(x, torch.Tensor) and x.ndim == 2:
            n_cold = int((x == 0).any(1).sum())
            if n_cold:
                warnings.warn(
                    f"{n_cold} of {len(x)} rows have a user or item the training split never saw; their "
                    "predictions are the cold-start baseline (global mean + the known side's bias). "
                    "learn.predict_df(df) shows which rows.",
                    stacklevel=2,
                )
        return res


def collab_learner(
    data: DataBunch,
    n_factors: int = 50,
    use_nn: bool = False,
    emb_szs: dict | None = None,
    layers: Sequence[int] | None = None,
    ps: Sequence[float] | float | None = None,
    emb_drop: float = 0.0,
    y_range: Sequence[float] | None = None,
    use_bn: bool = True,
    bn_final: bool = False,
    **learn_kwargs,
) -> CollabLearner:
    """A :class:`CollabLearner` with an :class:`EmbeddingDotBias` (or, ``use_nn=True``, an :class:`EmbeddingNN`).

    ``emb_szs`` (``use_nn`` only) maps the user / item column name to an embedding width
    (default: ``emb_sz_rule``); ``layers`` defaults to ``[100, 50]``. Other keyword
    arguments go to :class:`~emberfit.core.learner.Learner` (``wd``, ``metrics``...).

    >>> collab_learner(learn.data, n_factors=4, y_range=[0, 5.5], wd=1e-1, silent=True).model.u_weight
    Embedding(5, 4)
    """
    lls = getattr(data, "label_lists", None)
    if not isinstance(data, DataBunch) or lls is None or not isinstance(lls.train.x, CollabList):
        raise TypeError(
            f"data must come from CollabDataBunch.from_df(...), got {type(data).__name__}; build it with "
            "CollabDataBunch.from_df(ratings, ...)"
        )
    if y_range is not None:
        y_range = _check_y_range(y_range)
        _warn_out_of_range(data, y_range)
    proc = lls.train.x.processor
    n_users, n_items = len(proc.user_classes), len(proc.item_classes)
    if use_nn:
        names = (lls.train.x.user_name, lls.train.x.item_name)
        emb_szs = dict(emb_szs or {})
        unknown = [k for k in emb_szs if k not in names]
        if unknown:
            raise KeyError(
                f"emb_szs has {unknown}, but the columns are {list(names)}; key the widths by those"
            )
        widths = [emb_szs.get(nm, emb_sz_rule(n)) for nm, n in zip(names, (n_users, n_items))]
        model = EmbeddingNN(
            ((n_users, widths[0]), (n_items, widths[1])),
            layers=[100, 50] if layers is None else layers,
            ps=ps,
            emb_drop=emb_drop,
            y_range=y_range,
            use_bn=use_bn,
            bn_final=bn_final,
        )
    else:
        if not isinstance(n_factors, int) or n_factors <= 0:
            raise ValueError(f"n_factors must be a positive int, got {n_factors!r}")
        model = EmbeddingDotBias(n_factors, n_users, n_items, y_range=y_range)
    return CollabLearner(data, model, **learn_kwargs)


def _check_y_range(y_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in y_range)
    except (TypeError, ValueError):
        raise TypeError(f"y_range must be two numbers (low, high), e.g. [0, 5.5]; got {y_range!r}") from None
    if not hi > lo:
        raise ValueError(f"y_range must have low < high, got {y_range!r}; e.g. [0, 5.5]")
    return lo, hi


def _warn_out_of_range(data: DataBunch, y_range: tuple[float, float]) -> None:
    lo, hi = y_range
    lls = data.label_lists
    r = np.concatenate([lls.train.y.items] + ([lls.valid.y.items] if lls.valid is not None else []))
    outside = int(((r < lo) | (r > hi)).sum())
    edge = int(((r == lo) | (r == hi)).sum())
    if outside or edge:
        warnings.warn(
            f"{outside} rating(s) lie outside y_range=({lo}, {hi}) and {edge} on its ends (ratings span "
            f"{r.min():g}..{r.max():g}); a sigmoid never reaches them, so widen y_range "
            "(the lesson uses [0, 5.5] for 0.5-5 stars)",
            stacklevel=3,
        )

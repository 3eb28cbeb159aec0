"""``collab_learner`` and :class:`CollabLearner`: training, and lookups by raw user / item id.

A CollabLearner is a :class:`~emberfit.core.learner.Learner` that also keeps a few training-set
statistics (:mod:`emberfit.collab.baseline`), interprets its model the lesson's way
(:mod:`emberfit.collab.interpret`: ``bias``, ``weight(...).pca``, ``most_liked``,
``plot_items``) and predicts and recommends past it (:mod:`emberfit.collab.predict`:
``predict``, ``predict_df``, ``recommend``, ``similar_items``). Unseen users or items never
crash: they get the cold-start baseline described in :mod:`emberfit.collab.models`.

The examples in these modules use this tiny ``learn``:

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

import torch

from ..core.data import DataBunch, DatasetType
from ..core.layers import emb_sz_rule
from ..core.learner import Learner
from ..core.registry import register
from .baseline import loader_ratings, rating_stats
from .interpret import CollabInterpretation
from .models import EmbeddingDotBias, EmbeddingNN
from .predict import CollabInference
from .processor import CollabProcessor

__all__ = ["collab_learner", "CollabLearner"]


@register("learner", "collab.CollabLearner")
class CollabLearner(CollabInterpretation, CollabInference, Learner):
    """A Learner for ratings with lookups by raw user id / item id (or title).

    >>> _ = torch.manual_seed(0)
    >>> df = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 4, 4], "item": list("abacbcab"),
    ...                    "rating": [5.0, 3, 4, 2, 1, 4, 5, 3]})
    >>> data = CollabDataBunch.from_df(df, valid_pct=0, bs=4, device="cpu")
    >>> learn = collab_learner(data, n_factors=3, y_range=(0, 5.5), silent=True)
    >>> type(learn).__name__
    'CollabLearner'
    >>> learn.fit(2, 1e-2)
    >>> learn.predict((1, "c")).fallback is None  # a known user and item: the model answers
    True
    >>> learn.recommend(1, n=1)["item"].tolist()  # user 1 rated a and b; c is all that is left
    ['c']
    >>> learn.bias(["a", "b"]).shape, learn.weight(["a", "b", "c"]).shape  # the lesson's interpretation
    (torch.Size([2]), torch.Size([3, 3]))
    """

    def __init__(self, data: DataBunch, model: torch.nn.Module, **kwargs):
        super().__init__(data, model, **kwargs)
        kind = "EmbeddingNN" if isinstance(model, EmbeddingNN) else "EmbeddingDotBias"
        self.model_init = {"cls": f"collab.{kind}", "kwargs": asdict(model.config)}
        self._fit_baseline()

    def _fit_baseline(self) -> None:
        """The cold-start baseline into the model; item counts, means and seen items onto ``self``."""
        proc = self.data.processor
        stats = rating_stats(*loader_ratings(self.data), len(proc.user_classes), len(proc.item_classes))
        self.model.set_baseline(stats.global_mean, stats.user_base, stats.item_base)
        self.item_counts, self.item_mean = stats.item_counts, stats.item_mean
        self.seen_ptr, self.seen_items = stats.seen_ptr, stats.seen_items

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

    def get_preds(
        self,
        ds_type: DatasetType = DatasetType.Valid,
        activ=None,
        with_loss: bool = False,
        n_batch: int | None = None,
        pbar=None,
        ordered: bool = True,
        dl=None,
    ):
        """As :meth:`Learner.get_preds`; warns when rows used the cold-start baseline (see :meth:`predict_df`)."""
        res = super().get_preds(ds_type, activ, with_loss, n_batch, pbar, ordered, dl)
        x = getattr(dl if dl is not None else self.data.dl(ds_type), "x", None)
        if isinstance(x, torch.Tensor) and x.ndim == 2:
            x = x[: len(res[0])]  # the rows read (n_batch may stop early)
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

    >>> _ = torch.manual_seed(0)
    >>> df = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 4, 4], "item": list("abacbcab"),
    ...                    "rating": [5.0, 3, 4, 2, 1, 4, 5, 3]})
    >>> data = CollabDataBunch.from_df(df, valid_pct=0, bs=4, device="cpu")
    >>> learn = collab_learner(data, n_factors=4, y_range=[0, 5.5], wd=1e-1, silent=True)
    >>> learn.model.u_weight, learn.model.i_weight  # 4 users + #na#, 3 items + #na#
    (Embedding(5, 4), Embedding(4, 4))
    >>> learn.fit(1, 1e-2)
    >>> nn_learn = collab_learner(data, use_nn=True, emb_szs={"user": 6}, layers=[8], y_range=[0, 5.5], silent=True)
    >>> type(nn_learn.model).__name__, nn_learn.model.embeds[0]  # the item width comes from emb_sz_rule
    ('EmbeddingNN', Embedding(5, 6))
    """
    if not isinstance(data, DataBunch) or not isinstance(data.processor, CollabProcessor):
        raise TypeError(
            f"data must come from CollabDataBunch.from_df(...), got {type(data).__name__}; build it with "
            "CollabDataBunch.from_df(ratings, ...)"
        )
    if y_range is not None:
        y_range = _check_y_range(y_range)
        _warn_out_of_range(data, y_range)
    proc = data.processor
    n_users, n_items = len(proc.user_classes), len(proc.item_classes)
    if not use_nn:
        if not isinstance(n_factors, int) or n_factors <= 0:
            raise ValueError(f"n_factors must be a positive int, got {n_factors!r}")
        model = EmbeddingDotBias(n_factors, n_users, n_items, y_range=y_range)
        return CollabLearner(data, model, **learn_kwargs)
    names = (proc.user_name, proc.item_name)
    emb_szs = dict(emb_szs or {})
    unknown = [k for k in emb_szs if k not in names]
    if unknown:
        raise KeyError(f"emb_szs has {unknown}, but the columns are {list(names)}; key the widths by those")
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
    r = torch.cat([dl.y.cpu() for dl in (data.train_dl, data.valid_dl) if dl is not None]).numpy()
    outside = int(((r < lo) | (r > hi)).sum())
    edge = int(((r == lo) | (r == hi)).sum())
    if outside or edge:
        warnings.warn(
            f"{outside} rating(s) lie outside y_range=({lo}, {hi}) and {edge} on its ends (ratings span "
            f"{r.min():g}..{r.max():g}); a sigmoid never reaches them, so widen y_range "
            "(the lesson uses [0, 5.5] for 0.5-5 stars)",
            stacklevel=3,
        )

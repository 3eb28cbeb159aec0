"""Ratings data for collaborative filtering: ``CollabDataBunch.from_df`` and the ``CollabList`` behind it.

A ratings table has one row per (user, item, rating). Users and items are mapped to
contiguous indices learned on the training split, with index 0 reserved for ``#na#``: an
id the training split never saw (a valid/test row of a new user or item) maps there, and
the models answer such rows with the cold-start baseline (see :mod:`emberfit.collab.models`).
The id maps are the JSON state of :class:`~emberfit.collab.processor.CollabProcessor`, so
saved data and exported learners need no pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.checks import inf_rows
from ..core.data import DataBunch
from ..core.data_block.items import ItemList
from ..core.data_block.labelling import LabelLists
from ..core.data_block.labels import FloatList
from ..core.registry import register
from .processor import CollabProcessor, py_scalar

__all__ = ["CollabDataBunch", "CollabList", "check_ratings", "pair_of", "pairs_array"]


@register("items", "collab.CollabList")
class CollabList(ItemList):
    """Pairs ``(user, item)`` of raw ids; processed into an ``(n, 2)`` array of indices (``codes``).

    >>> df = pd.DataFrame({"user": [1, 1, 2, 2], "item": ["a", "b", "a", "c"], "rating": [5.0, 3.0, 4.0, 2.0]})
    >>> il = CollabList.from_df(df, cols=["user", "item"], user_name="user", item_name="item")
    >>> il.items.shape, il[3]  # raw (user, item) pairs
    ((4, 2), (2, 'c'))
    >>> lls = il.split_none().label_from_df(cols="rating", label_cls=FloatList)
    >>> lls.train.x.codes.tolist()  # indices learned on the training split, 0 = #na#
    [[1, 1], [1, 2], [2, 1], [2, 3]]
    >>> lls.train.x.decode(torch.tensor([[2, 3]]))  # indices back to raw ids
    ([2], ['c'])
    """

    processor_cls = CollabProcessor

    def __init__(self, items, path=".", inner_df=None, user_name="user", item_name="item", **kwargs):
        super().__init__(
            pairs_array(items),
            path=path,
            inner_df=inner_df,
            user_name=user_name,
            item_name=item_name,
            **kwargs,
        )
        self.codes: np.ndarray | None = None

    def new_subset(self, idx):
        out = super().new_subset(idx)
        if self.codes is not None:
            out.codes, out.processor = self.codes[np.asarray(idx, dtype=np.int64)], self.processor
        return out

    def get(self, i: int) -> tuple:
        if self.codes is not None and self.processor is not None:
            u, it = self.codes[i]
            if u and it:
                return self.processor.user_classes[u], self.processor.item_classes[it]
        return tuple(py_scalar(o) for o in self.items[i])

    def to_tensors(self) -> torch.Tensor:
        return torch.as_tensor(self.codes, dtype=torch.long)  # (n, 2): user index, item index

    def decode(self, codes: torch.Tensor) -> tuple[list, list]:
        """Raw user ids and item ids of an ``(n, 2)`` tensor of indices."""
        codes = codes.cpu().numpy()
        proc = self.processor
        return [proc.user_classes[u] for u in codes[:, 0]], [proc.item_classes[i] for i in codes[:, 1]]

    def batch_frame(self, xb, yb, lls: LabelLists, rows: int) -> pd.DataFrame:
        users, items = self.decode(xb[:rows])
        df = pd.DataFrame({str(self.user_name): users, str(self.item_name): items})
        if yb is not None and isinstance(lls.train.y, FloatList):
            df[lls.train.y.name] = lls.train.y.decode_batch(yb[:rows])
        return df

    def items_frame(self, idxs) -> pd.DataFrame:
        """The ``(user, item)`` pairs ``idxs`` (raw ids or titles) as two columns, for interpretation tables."""
        pairs = [self.get(int(i)) for i in idxs]
        return pd.DataFrame(
            {str(self.user_name): [p[0] for p in pairs], str(self.item_name): [p[1] for p in pairs]}
        )

    def item_to_batch(self, item: Any, lls: LabelLists) -> torch.Tensor:
        """A ``(user, item)`` pair (tuple, dict or Series) -> a ``(1, 2)`` tensor of indices."""
        pair = pairs_array([pair_of(item, self.user_name, self.item_name)])
        return torch.as_tensor(self.processor.encode(pair))

    def to_state(self):
        return {"codes": torch.as_tensor(self.codes)}, {}

    @classmethod
    def from_state(cls, tensors, meta, path, kwargs):
        codes = tensors["codes"].numpy()
        # raw ids are decoded on demand from the processor's classes (attached after loading)
        out = cls(codes.astype(object), path=path, **kwargs)
        out.codes = codes
        return out


def pairs_array(items: Any) -> np.ndarray:
    """Items as an ``(n, 2)`` array (from a 2-column array, or a list of pairs)."""
    arr = items if isinstance(items, np.ndarray) else None
    if arr is None or (arr.ndim == 1 and arr.dtype == object):
        pairs = list(items)
        arr = np.empty((len(pairs), 2), dtype=object)
        for r, pair in enumerate(pairs):
            arr[r] = tuple(pair)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"CollabList items must be (user, item) pairs, got an array of shape {arr.shape}")
    return arr


def pair_of(row: Any, user_name: Any, item_name: Any) -> tuple:
    """``(user, item)`` from a 2-tuple/list, a dict, a Series or a one-row DataFrame."""
    if isinstance(row, pd.DataFrame):
        if len(row) != 1:
            raise ValueError(f"pass one row at a time, got a DataFrame with {len(row)} rows")
        row = row.iloc[0]
    if isinstance(row, (dict, pd.Series)):
        missing = [n for n in (user_name, item_name) if n not in row]
        if missing:
            raise KeyError(f"row has no {missing} field(s) (it has {list(row.keys())}); pass (user, item)")
        return py_scalar(row[user_name]), py_scalar(row[item_name])
    if isinstance(row, (tuple, list)) and len(row) == 2:
        return py_scalar(row[0]), py_scalar(row[1])
    raise TypeError(
        f"expected a (user, item) pair, a dict or a one-row DataFrame with {user_name!r} and {item_name!r}; "
        f"got {type(row).__name__} {row!r}"
    )


def _column(df: pd.DataFrame, name: Any, default_pos: int, arg: str) -> Any:
    """The column named ``name`` (or at ``default_pos`` when None), with a KeyError naming what is missing."""
    if name is None:
        if df.shape[1] <= default_pos:
            raise KeyError(
                f"{arg}=None means column {default_pos}, but the ratings have only {df.shape[1]} columns "
                f"{list(df.columns)}; pass {arg}='...'"
            )
        return df.columns[default_pos]
    if name not in df.columns:
        import difflib

        close = difflib.get_close_matches(str(name), [str(c) for c in df.columns], n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise KeyError(f"{arg}={name!r} is not a column of the ratings (columns: {list(df.columns)}){hint}")
    return name


def check_ratings(df: Any, user: Any, item: Any, rating: Any, what: str = "ratings") -> None:
    """Raise a clear error for an empty frame, NaN ids, or missing / non-numeric ratings."""
    if len(df) == 0:
        raise ValueError(f"the {what} DataFrame is empty (0 rows); nothing to learn from")
    for col, arg in ((user, "user_name"), (item, "item_name")):
        n_nan = int(df[col].isna().sum())
        if n_nan:
            raise ValueError(
                f"{n_nan} row(s) of the {what} have a missing {arg[:4]} id (NaN) in column {col!r}; "
                f"drop or fill them first, e.g. df.dropna(subset=[{col!r}])"
            )
    if rating is None:
        return
    vals = df[rating]
    if not (pd.api.types.is_numeric_dtype(vals) and not pd.api.types.is_bool_dtype(vals)):
        bad = next((o for o in vals if not isinstance(o, (int, float, np.number))), vals.iloc[0])
        raise TypeError(
            f"ratings in column {rating!r} must be numbers, found {bad!r} ({type(bad).__name__}); "
            f"convert them, e.g. df[{rating!r}] = pd.to_numeric(df[{rating!r}])"
        )
    n_nan = int(vals.isna().sum())
    if n_nan:
        raise ValueError(
            f"{n_nan} rating(s) in column {rating!r} are missing (NaN); drop those rows first, "
            f"e.g. df.dropna(subset=[{rating!r}])"
        )
    n_inf = inf_rows(vals)  # inf passes the NaN check but turns the loss into NaN
    if n_inf:
        raise ValueError(
            f"{n_inf} rating(s) in column {rating!r} are infinite (inf/-inf); drop or fix those rows first, "
            f"e.g. df = df[np.isfinite(df[{rating!r}])]"
        )


class CollabDataBunch(DataBunch):
    """A DataBunch of ``(user, item) -> rating`` rows (batches: ``xb`` of shape ``(bs, 2)``, ``yb`` ``(bs,)``).

    >>> df = pd.DataFrame({'user': [1, 1, 2, 2, 3, 3], 'item': ['a', 'b', 'a', 'c', 'b', 'c'],
    ...                    'rating': [5., 3., 4., 2., 1., 4.]})
    >>> data = CollabDataBunch.from_df(df, valid_pct=0, bs=2, device='cpu')
    >>> data.n_users, tuple(data.one_batch()[0].shape)  # 3 users + '#na#'; (user, item) index pairs
    (4, (2, 2))
    """

    @classmethod
    def from_df(
        cls,
        ratings: pd.DataFrame,
        valid_pct: float = 0.2,
        seed: int | None = None,
        user_name: Any = None,
        item_name: Any = None,
        rating_name: Any = None,
        test: pd.DataFrame | None = None,
        bs: int = 64,
        val_bs: int | None = None,
        path: str | Path = ".",
        device: torch.device | str | None = None,
    ) -> CollabDataBunch:
        """Split ``ratings`` at random and build the loaders; user, item and rating are columns 0, 1, 2 unless named.

        ``item_name='title'`` makes titles the items. ``test`` (a DataFrame with the same user
        and item columns; ratings optional) becomes ``DatasetType.Test`` in its own order.
        """
        if not isinstance(ratings, pd.DataFrame):
            raise TypeError(f"ratings must be a pandas DataFrame, got {type(ratings).__name__}")
        if len(ratings) == 0:
            raise ValueError("the ratings DataFrame is empty (0 rows); nothing to learn from")
        user = _column(ratings, user_name, 0, "user_name")
        item = _column(ratings, item_name, 1, "item_name")
        rating = _column(ratings, rating_name, 2, "rating_name")
        if len({user, item, rating}) < 3:
            raise ValueError(
                f"user, item and rating must be three different columns, got {user!r}, {item!r}, {rating!r}; "
                "name them with user_name=, item_name=, rating_name="
            )
        check_ratings(ratings, user, item, rating)
        kw = dict(user_name=user, item_name=item)
        src = CollabList.from_df(ratings, path=path, cols=[user, item], **kw)
        split = src.split_by_rand_pct(valid_pct, seed=seed) if valid_pct else src.split_none()
        lls = split.label_from_df(cols=rating, label_cls=FloatList, name=str(rating))
        if test is not None:
            if not isinstance(test, pd.DataFrame):
                raise TypeError(f"test must be a pandas DataFrame, got {type(test).__name__}")
            for col, arg in ((user, "user_name"), (item, "item_name")):
                if col not in test.columns:
                    raise KeyError(
                        f"test has no column {col!r} ({arg}); its columns are {list(test.columns)}"
                    )
            check_ratings(test, user, item, None, what="test")
            lls.add_test(CollabList.from_df(test, path=path, cols=[user, item], **kw))
        return lls.databunch(bs=bs, val_bs=val_bs, device=device, path=path)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        proc = self.processor
        if isinstance(proc, CollabProcessor) and proc.user_name is None:
            # A file written before the processor kept the column names: its items still
            # carry them, so copy them over once, here, and read them from the processor after.
            x = self.label_lists.train.x
            proc.user_name, proc.item_name = x.user_name, x.item_name

    # -- what the models and the learner need ----------------------------------------------
    @property
    def user_name(self) -> Any:
        """The column of the user ids."""
        return self.processor.user_name

    @property
    def item_name(self) -> Any:
        """The column of the item ids (or titles)."""
        return self.processor.item_name

    @property
    def n_users(self) -> int:
        """Number of user rows in the embeddings (training users + 1 for ``#na#``)."""
        return len(self.processor.user_classes)

    @property
    def n_items(self) -> int:
        """Number of item rows in the embeddings (training items + 1 for ``#na#``)."""
        return len(self.processor.item_classes)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}; {self.n_users - 1} users, {self.n_items - 1} items)"


CollabList.databunch_cls = CollabDataBunch  # lls.databunch() and load_data() build a CollabDataBunch

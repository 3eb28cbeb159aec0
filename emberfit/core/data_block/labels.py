"""Labels: the item lists that hold targets, how they are fitted, encoded and decoded.

- :class:`CategoryList`: one class per item (cross-entropy; decoded to class names);
- :class:`MultiCategoryList`: several classes per item (binary cross-entropy on logits);
- :class:`FloatList`: regression targets (MSE; ``log=True`` trains on log(y));
- :class:`EmptyLabelList`: placeholder labels of an unlabelled test set.

Each names its ``loss_func``, the ``activation`` that turns outputs into predictions, and
``decode_pred`` / ``decode_batch`` to show them. ``y[i]`` and ``decode_pred`` give label items
(:mod:`~emberfit.core.data_block.label_items`: ``Category``, ``MultiCategory``, ``FloatItem``,
``EmptyLabel``), as fastai v1's ``get`` / ``reconstruct`` did. When no ``label_cls`` is given, labelling
picks one from the values (:func:`_infer_label_cls`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from ..checks import inf_rows
from ..registry import register
from .items import ItemList, _as_array
from .label_items import Category, EmptyLabel, FloatItem, MultiCategory
from .processor import PreProcessor

__all__ = [
    "CategoryProcessor",
    "CategoryList",
    "MultiCategoryList",
    "FloatList",
    "EmptyLabelList",
]


@register("processor", "core.CategoryProcessor")
class CategoryProcessor(PreProcessor):
    """Learns the sorted classes of the training labels (or takes them given) and encodes to ints."""

    state_attrs = ("classes",)

    def __init__(self, classes: Sequence | None = None):
        super().__init__()
        self.classes = list(classes) if classes is not None else None
        if self.classes is not None:
            self.fitted = True

    def _fit(self, items: ItemList) -> None:
        vals = pd.Series(items.items)
        n_nan = int(vals.isna().sum())
        if n_nan:
            raise ValueError(
                f"{n_nan} training label(s) are missing (NaN/None); drop or fill those rows first"
            )
        self.classes = [_py(o) for o in sorted(vals.unique().tolist(), key=_sort_key)]

    def process(self, items: ItemList) -> None:
        codes = _class_codes(self.classes, items.items)
        items.codes, items.classes, items.missing = codes, self.classes, codes < 0


def _class_codes(classes: list, values: Any) -> np.ndarray:
    """Index of each value in ``classes`` (-1 if absent), as a dict lookup would find it.

    Vectorised with an object-dtype index (Python hashing and equality, like the dict), so
    a million labels take ~0.1 s instead of seconds; unhashable values fall back to the loop.
    """
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if arr.ndim == 1:
        try:
            index = pd.Index(classes, dtype=object)
            return index.get_indexer(pd.Index(arr.astype(object), dtype=object)).astype(np.int64)
        except TypeError:
            pass
    lookup = {c: i for i, c in enumerate(classes)}
    return np.fromiter((lookup.get(_py(o), -1) for o in values), dtype=np.int64, count=len(values))


@register("items", "core.CategoryList")
class CategoryList(ItemList):
    """Single-label classification targets; decoded back to class names.

    >>> df = pd.DataFrame({'a': [0., 1., 2., 3.], 'pet': ['dog', 'cat', 'dog', 'cat']})
    >>> lls = ItemList.from_df(df, cols='a').split_by_idx([3]).label_from_df('pet', label_cls=CategoryList)
    >>> y = lls.train.y
    >>> y.classes, y.c
    (['cat', 'dog'], 2)
    >>> y.to_tensors()  # class indices, for cross-entropy
    tensor([1, 0, 1])
    """

    processor_cls = CategoryProcessor
    name = "target"

    def __init__(self, items, classes: Sequence | None = None, path=".", inner_df=None, **kwargs):
        super().__init__(items, path=path, inner_df=inner_df, **kwargs)
        self.classes = list(classes) if classes is not None else None
        if classes is not None:
            self._kwargs["classes"] = self.classes
            self.processor = CategoryProcessor(classes)
        self.codes: np.ndarray | None = None
        self.missing: np.ndarray | None = None

    @property
    def loss_func(self):
        return F.cross_entropy

    @property
    def c(self) -> int:
        return len(self.classes)

    @property
    def c2i(self) -> dict:
        """Class name -> index (fastai v1's ``c2i``)."""
        return {c: i for i, c in enumerate(self.classes)}

    def new_subset(self, idx):
        out = super().new_subset(idx)
        if self.codes is not None:
            out.codes, out.classes = self.codes[idx], self.classes
            out.missing = self.missing[idx]
            out.processor = self.processor
        return out

    def get(self, i: int):
        """A :class:`Category` once processed (the raw label before, or for a label outside the classes)."""
        if self.codes is None or self.codes[i] < 0:
            return self.items[i]
        return self.reconstruct(int(self.codes[i]))

    def reconstruct(self, t) -> Category:
        """The :class:`Category` of class index ``t`` (an int or a 0-d tensor)."""
        return Category(t, self.classes[int(t)])

    def analyze_pred(self, pred: torch.Tensor) -> torch.Tensor:
        """The predicted class index of one activated prediction."""
        return pred.argmax(-1)

    def to_tensors(self) -> torch.Tensor:
        return torch.as_tensor(self.codes, dtype=torch.long)

    def activation(self, out: torch.Tensor) -> torch.Tensor:
        return torch.softmax(out, dim=-1)

    def decode_pred(self, probs: torch.Tensor) -> tuple[Category, torch.Tensor, torch.Tensor]:
        """``(Category, tensor(index), probabilities)`` for one activated prediction (v1's ``predict``)."""
        idx = self.analyze_pred(probs)
        return self.reconstruct(idx), idx, probs

    def decode_batch(self, yb: torch.Tensor) -> list:
        return [self.classes[int(i)] for i in yb.cpu()]

    def to_state(self):
        return {"codes": torch.as_tensor(self.codes)}, {"classes": self.classes}

    @classmethod
    def from_state(cls, tensors, meta, path, kwargs):
        codes = tensors["codes"].numpy()
        kwargs = {k: v for k, v in kwargs.items() if k != "classes"}
        out = cls(
            np.array([meta["classes"][i] if i >= 0 else None for i in codes], dtype=object),
            path=path,
            **kwargs,
        )
        out.codes, out.classes, out.missing = codes, meta["classes"], codes < 0
        return out


@register("processor", "core.MultiCategoryProcessor")
class _MultiCategoryProcessor(CategoryProcessor):
    """Learns the sorted classes found in the training label lists; encodes each item to a 0/1 row."""

    def _fit(self, items):
        self.classes = sorted({_py(c) for o in items.items for c in o}, key=_sort_key)

    def process(self, items):
        lookup = {c: i for i, c in enumerate(self.classes)}
        codes = np.zeros((len(items.items), len(self.classes)), dtype=np.float32)
        for r, o in enumerate(items.items):
            for c in o:
                if _py(c) in lookup:
                    codes[r, lookup[_py(c)]] = 1.0
        items.codes, items.classes, items.missing = (
            codes,
            self.classes,
            np.zeros(len(items.items), dtype=bool),
        )


@register("items", "core.MultiCategoryList")
class MultiCategoryList(CategoryList):
    """Multi-label targets (each item a list of labels, or a string split by ``label_delim``).

    >>> df = pd.DataFrame({'a': [0., 1., 2., 3.], 'tags': ['sun', 'sun;rain', 'rain', 'sun']})
    >>> lls = ItemList.from_df(df, cols='a').split_by_idx([3]).label_from_df('tags', label_delim=';')
    >>> y = lls.train.y
    >>> type(y).__name__, y.classes
    ('MultiCategoryList', ['rain', 'sun'])
    >>> y.to_tensors()  # one 0/1 column per class, for binary cross-entropy
    tensor([[0., 1.],
            [1., 1.],
            [1., 0.]])
    """

    def __init__(
        self, items, classes=None, label_delim: str | None = None, path=".", inner_df=None, **kwargs
    ):
        if label_delim is not None:
            items = [
                [] if (o is None or (isinstance(o, float) and np.isnan(o))) else str(o).split(label_delim)
                for o in items
            ]
            kwargs["label_delim"] = None
        super().__init__(_as_array(items), classes=classes, path=path, inner_df=inner_df, **kwargs)
        self.processor = _MultiCategoryProcessor(classes) if classes is not None else None

    processor_cls = _MultiCategoryProcessor

    @property
    def loss_func(self):
        return F.binary_cross_entropy_with_logits

    def to_tensors(self) -> torch.Tensor:
        return torch.as_tensor(self.codes, dtype=torch.float32)

    def get(self, i):
        """A :class:`MultiCategory` once processed (the raw labels before)."""
        if self.codes is None:
            return self.items[i]
        return self.reconstruct(torch.as_tensor(self.codes[i], dtype=torch.float32))

    def reconstruct(self, t: torch.Tensor) -> MultiCategory:
        """The :class:`MultiCategory` of a 0/1 row ``t`` over the classes."""
        raw = np.nonzero(np.asarray(t.tolist()) > 0.5)[0].tolist()
        return MultiCategory(t, [self.classes[j] for j in raw], raw)

    def activation(self, out):
        return torch.sigmoid(out)

    def analyze_pred(self, pred: torch.Tensor, thresh: float = 0.5) -> torch.Tensor:
        """The 0/1 float row of the classes predicted above ``thresh``."""
        return (pred > thresh).float()

    def decode_pred(self, probs, thresh: float = 0.5):
        """``(MultiCategory, 0/1 float row, probabilities)`` for one activated prediction."""
        row = self.analyze_pred(probs, thresh)
        return self.reconstruct(row), row, probs

    def decode_batch(self, yb):
        return [";".join(c for c, m in zip(self.classes, row) if m) for row in yb.cpu().bool().tolist()]


@register("items", "core.FloatList")
class FloatList(ItemList):
    """Regression targets (one or several floats per item); ``log=True`` trains on log(y).

    >>> df = pd.DataFrame({'a': [1., 2., 3., 4.], 'price': [10., 20., 40., 80.]})
    >>> ils = ItemList.from_df(df, cols='a').split_by_idx([3])
    >>> lls = ils.label_from_df('price', label_cls=FloatList, log=True)
    >>> y = lls.train.y
    >>> y.c, y.log
    (1, True)
    >>> y.to_tensors()  # trained on log(price)
    tensor([2.3026, 2.9957, 3.6889])
    """

    name = "target"

    def __init__(self, items, log: bool = False, path=".", inner_df=None, **kwargs):
        arr = np.asarray(items)
        if arr.dtype == object:
            try:
                arr = arr.astype(np.float32)
            except (TypeError, ValueError):
                bad = next(o for o in arr.ravel() if not _is_number(o))
                raise TypeError(
                    f"regression labels must be numbers; found {bad!r} ({type(bad).__name__})"
                ) from None
        with np.errstate(over="ignore"):  # values beyond float32 become inf, refused below by name
            arr = arr.astype(np.float32)
        super().__init__(arr, path=path, inner_df=inner_df, log=log, **kwargs)
        n_nan = int(np.isnan(self.items).sum())
        if n_nan:
            raise ValueError(f"{n_nan} label(s) are NaN; drop or fill those rows before labelling")
        n_inf = inf_rows(self.items)  # also values beyond float32's range, made inf by the cast above
        if n_inf:
            raise ValueError(
                f"{n_inf} {self.name!r} label(s) are infinite (inf/-inf, or beyond float32's +-3.4e38); "
                "drop or fix those rows before labelling"
            )
        if log:
            if (self.items <= 0).any():
                raise ValueError("log=True needs strictly positive labels")
            self.items = np.log(self.items)

    @property
    def loss_func(self):
        return _mse_flat

    @property
    def c(self) -> int:
        return 1 if self.items.ndim == 1 else self.items.shape[1]

    def to_tensors(self) -> torch.Tensor:
        return torch.as_tensor(self.items, dtype=torch.float32)

    def get(self, i: int) -> FloatItem:
        """A :class:`FloatItem` (of log(y) with ``log=True``, as v1: what the model is trained on)."""
        return FloatItem(self.items[i])

    def reconstruct(self, t) -> FloatItem:
        return FloatItem(t)

    def analyze_pred(self, pred: torch.Tensor) -> torch.Tensor:
        return pred

    def activation(self, out):
        return out

    def decode_pred(self, out):
        """``(FloatItem, tensor(value), raw output)``; with ``log=True`` the value is back from log space."""
        val = out.exp() if self.log else out
        v = val.squeeze(-1) if val.ndim and val.shape[-1] == 1 else val
        return self.reconstruct(v), v, val

    def decode_batch(self, yb):
        yb = yb.cpu()
        return (yb.exp() if self.log else yb).tolist()

    def to_state(self):
        return {"items": torch.as_tensor(self.items)}, {}

    @classmethod
    def from_state(cls, tensors, meta, path, kwargs):
        out = cls(tensors["items"].numpy(), path=path, **{k: v for k, v in kwargs.items() if k != "log"})
        out.log = kwargs.get("log", False)  # items are stored already log-transformed
        return out


@register("items", "core.EmptyLabelList")
class EmptyLabelList(ItemList):
    """Placeholder labels for an unlabelled test set (or ``label_empty``): each is an :class:`EmptyLabel`.

    >>> lls = ItemList(range(4)).split_by_idx([3]).label_empty()
    >>> type(lls.train.y).__name__, lls.train[0][1], lls.train.y.to_tensors().tolist()
    ('EmptyLabelList', EmptyLabel, [0, 0, 0])
    """

    c = None  # no classes and no targets: the model's output size is the user's choice

    def to_tensors(self) -> torch.Tensor:
        return torch.zeros(len(self.items), dtype=torch.long)

    def get(self, i):
        return EmptyLabel()

    def reconstruct(self, t) -> EmptyLabel:
        return EmptyLabel()


def _mse_flat(pred: torch.Tensor, targ: torch.Tensor) -> torch.Tensor:
    """MSE that accepts ``(bs, 1)`` predictions for ``(bs,)`` targets."""
    if pred.ndim == targ.ndim + 1 and pred.shape[-1] == 1:
        pred = pred.squeeze(-1)
    if pred.shape != targ.shape:
        raise ValueError(
            f"model output shape {tuple(pred.shape)} does not fit target shape {tuple(targ.shape)} for MSE; "
            "make the model's last layer output one value per target"
        )
    return F.mse_loss(pred, targ.to(pred.dtype))


_mse_flat.__name__ = "MSELossFlat"


def _infer_label_cls(y: np.ndarray) -> type[ItemList]:
    if y.dtype.kind == "f":
        return FloatList
    return CategoryList


# -- helpers -----------------------------------------------------------------------------


def _py(o: Any) -> Any:
    """numpy scalars -> Python scalars (JSON-able class names)."""
    return o.item() if isinstance(o, np.generic) else o


def _sort_key(o: Any):
    return (0, o) if isinstance(o, (int, float, np.number)) else (1, str(o))


def _is_number(o: Any) -> bool:
    try:
        float(o)
        return True
    except (TypeError, ValueError):
        return False

"""Labelling: split items get labels, are processed, and become a DataBunch (and are saved, and loaded).

- :class:`ItemLists`: the training and validation ItemLists of a split, waiting for labels
  (``label_from_df``, ``label_from_func``, ``label_from_folder``, ``label_const``; ``label_from_re``
  and ``label_from_list`` are in :mod:`.v1_labelling`, with ``transform``);
- :class:`LabelList`: items ``x`` and labels ``y`` of one split;
- :class:`LabelLists`: the labelled splits with their fitted processors: ``add_test``,
  ``databunch``, what a DataBunch built from them is (``describe``), saving without pickle;
- :func:`load_data`: a DataBunch back from ``data.save()``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checks import check_no_inf_labels
from ..data import DataBunch, default_device
from ..io import load_tensors
from ..registry import check_json, lookup, registered_name
from .items import ItemList, _as_array, _df_cols
from .label_list import LabelListAccess
from .labels import CategoryList, EmptyLabelList, MultiCategoryList, _infer_label_cls
from .one_hot import one_hot_labels
from .processor import PreProcessor
from .v1_labelling import LabelFromMore, LabelListsTransform, LabelListTransform

__all__ = ["ItemLists", "LabelList", "LabelLists", "load_data"]


class ItemLists(LabelFromMore):
    """A training and a validation ItemList, waiting for labels.

    >>> df = pd.DataFrame({'a': [0., 1., 2., 3., 4.], 'y': ['no', 'yes', 'no', 'yes', 'no']})
    >>> ils = ItemList.from_df(df, cols='a').split_by_idx([3, 4])  # splitting gives ItemLists
    >>> type(ils).__name__, len(ils.train), len(ils.valid)
    ('ItemLists', 3, 2)
    >>> type(ils.label_from_df('y')).__name__  # labelling them gives LabelLists
    'LabelLists'
    """

    def __init__(self, path: Path, train: ItemList, valid: ItemList):
        if len(train) == 0:
            raise ValueError("the training split has no items; check the split arguments")
        self.path, self.train, self.valid = Path(path), train, valid

    def __repr__(self) -> str:
        return f"{type(self).__name__};\n\nTrain: {self.train}\n\nValid: {self.valid}"

    def _label(
        self, y_train: Iterable, y_valid: Iterable, label_cls: type[ItemList] | None, **kwargs
    ) -> LabelLists:
        y_train, y_valid = _as_array(y_train), _as_array(y_valid)
        if label_cls is None:  # as fastai v1: a label delimiter means multi-label
            label_cls = (
                MultiCategoryList if kwargs.get("label_delim") is not None else _infer_label_cls(y_train)
            )
        lls = LabelLists(
            self.path,
            LabelList(self.train, label_cls(y_train, path=self.path, **kwargs)),
            LabelList(self.valid, label_cls(y_valid, path=self.path, **kwargs)),
        )
        return lls.process()

    def label_from_df(self, cols: Any = 1, label_cls: type[ItemList] | None = None, **kwargs) -> LabelLists:
        """Labels from column(s) ``cols`` of the items' DataFrame; several 0/1 columns are one multi-label target."""
        if self.train.inner_df is None:
            raise ValueError("label_from_df needs items made with from_df/from_csv (they keep the DataFrame)")

        def col(il: ItemList) -> np.ndarray:
            v = _df_cols(il.inner_df, cols, "cols")
            return v.values[:, 0] if v.shape[1] == 1 else v.values

        y_train, y_valid = col(self.train), col(self.valid)
        names = list(_df_cols(self.train.inner_df, cols, "cols").columns)
        check_no_inf_labels(names, y_train, y_valid)
        y_train, y_valid, label_cls, kwargs = one_hot_labels(names, y_train, y_valid, label_cls, kwargs)
        return self._label(y_train, y_valid, label_cls, **kwargs)

    def label_from_func(
        self, func: Callable[[Any], Any], label_cls: type[ItemList] | None = None, **kwargs
    ) -> LabelLists:
        """Labels ``func(item)``."""
        return self._label(
            [func(o) for o in self.train.items], [func(o) for o in self.valid.items], label_cls, **kwargs
        )

    def label_from_folder(
        self, classes: Sequence | None = None, label_cls: type[ItemList] | None = None, **kw
    ) -> LabelLists:
        """Labels are the name of each file's parent folder."""
        label_cls = label_cls or CategoryList
        return self.label_from_func(lambda o: Path(o).parent.name, label_cls=label_cls, classes=classes, **kw)

    def label_const(self, const: Any = 0, label_cls: type[ItemList] | None = None, **kwargs) -> LabelLists:
        """Every item gets the label ``const``."""
        return self.label_from_func(lambda o: const, label_cls=label_cls, **kwargs)

    def label_empty(self, **kwargs) -> LabelLists:
        """No labels: every item gets an ``EmptyLabel`` (v1's ``label_empty``; give the Learner a loss)."""
        return self._label(np.zeros(len(self.train)), np.zeros(len(self.valid)), EmptyLabelList, **kwargs)


# Splitting an ItemList gives ItemLists (subclasses name their own item_lists_cls). Declared here:
# ItemLists labels with the label lists, which are ItemLists themselves, so items.py cannot import it.
ItemList.item_lists_cls = ItemLists


class LabelList(LabelListAccess, LabelListTransform):
    """Items ``x`` and their labels ``y``; ``ds[i]`` is ``(x_i, y_i)``; ``ds.vocab``, ``ds.classes``... pass through.

    >>> df = pd.DataFrame({'a': [0., 1., 2., 3., 4.], 'y': ['no', 'yes', 'no', 'yes', 'no']})
    >>> ll = ItemList.from_df(df, cols='a').split_by_idx([3, 4]).label_from_df('y').train  # a LabelList
    >>> len(ll), type(ll.x).__name__, type(ll.y).__name__
    (3, 'ItemList', 'CategoryList')
    >>> x, y = ll[1]; float(x), y, str(y)
    (1.0, Category yes, 'yes')
    """

    def __init__(self, x: ItemList, y: ItemList):
        if len(x) != len(y):
            raise ValueError(f"{len(x)} items but {len(y)} labels; they must match")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, idx: np.ndarray) -> LabelList:
        return LabelList(self.x.new_subset(idx), self.y.new_subset(idx))

    def __repr__(self) -> str:
        return f"LabelList ({len(self)} items)\nx: {self.x}\ny: {self.y}"


class LabelLists(LabelListsTransform):
    """Labelled train / valid (/ test) splits with fitted processors; ``.databunch()`` ends the chain.

    >>> df = pd.DataFrame({'a': [0., 1., 2., 3., 4., 5.], 'b': [1., 0., 1., 0., 1., 0.],
    ...                    'y': ['no', 'yes', 'no', 'yes', 'yes', 'no']})
    >>> lls = ItemList.from_df(df, cols=['a', 'b']).split_by_idx([4, 5]).label_from_df('y')
    >>> type(lls).__name__, len(lls.train), len(lls.valid)
    ('LabelLists', 4, 2)
    >>> data = lls.databunch(bs=2, device='cpu')
    >>> data.classes, data.c
    (['no', 'yes'], 2)
    >>> xb, yb = data.one_batch(); tuple(xb.shape), yb.dtype
    ((2, 2), torch.int64)
    """

    def __init__(self, path: Path, train: LabelList, valid: LabelList, test: LabelList | None = None):
        self.path, self.train, self.valid, self.test = Path(path), train, valid, test

    def lists(self) -> list[LabelList]:
        return [ll for ll in (self.train, self.valid, self.test) if ll is not None]

    def process(self) -> LabelLists:
        """Fit the x and y processors on train, then apply them to every split."""
        for attr in ("y", "x"):  # labels first: x processing may drop nothing but needs classes
            train_items = getattr(self.train, attr)
            proc = train_items.processor or (
                train_items.processor_cls() if train_items.processor_cls else None
            )
            if proc is None:
                continue
            if not proc.fitted:
                proc.fit(train_items)
            for ll in self.lists():
                items = getattr(ll, attr)
                items.processor = proc
                proc.process(items)
        self._drop_unknown_labels()
        return self

    def _drop_unknown_labels(self) -> None:
        for name in ("train", "valid"):
            ll = getattr(self, name)
            missing = getattr(ll.y, "missing", None)
            if missing is None or not missing.any():
                continue
            n = int(missing.sum())
            warnings.warn(
                f"{n} {name} item(s) have labels outside the training classes {ll.y.classes[:10]}; "
                "they were removed (call .filter_missing_y() to do this explicitly)",
                stacklevel=3,
            )
            setattr(self, name, ll.subset(np.nonzero(~missing)[0]))

    def filter_missing_y(self) -> LabelLists:
        """Remove items whose label is not one of the classes (already done, with a warning, at labelling)."""
        self._drop_unknown_labels()
        return self

    def add_test(self, items: Iterable | ItemList, label: Any = None) -> LabelLists:
        """Add a test set (labels ``label`` or empty), processed like the training set."""
        x = items if isinstance(items, ItemList) else self.train.x.new(_as_array(items))
        if isinstance(items, ItemList):
            x = self.train.x.new(items.items, inner_df=items.inner_df)
        if label is None:
            y = EmptyLabelList(np.zeros(len(x)), path=self.path)
            y.like = self.train.y
        else:
            y = self.train.y.new(np.array([label] * len(x), dtype=object))
        self.test = LabelList(x, y)
        x.processor = self.train.x.processor
        if x.processor is not None:
            x.processor.process(x)
        if label is not None and self.train.y.processor is not None:
            y.processor = self.train.y.processor
            y.processor.process(y)
        return self

    def add_test_folder(self, test_folder: str = "test", label: Any = None) -> LabelLists:
        """Add the files under ``path/test_folder`` as the test set (v1's ``add_test_folder``); see :meth:`add_test`."""
        folder = self.path / test_folder
        if not folder.is_dir():
            raise FileNotFoundError(
                f"add_test_folder(test_folder={test_folder!r}): {folder} is not a folder; "
                "pass the name of the test folder under the data's path"
            )
        return self.add_test(type(self.train.x).from_folder(folder), label=label)

    def databunch(
        self, bs: int = 64, val_bs: int | None = None, num_workers: int = 0, device=None, path=None, **kwargs
    ) -> DataBunch:
        """Build the DataBunch (loaders on ``device``: the GPU if there is one)."""
        if not isinstance(bs, int) or bs <= 0:
            raise ValueError(f"bs must be a positive int, got {bs!r}")
        device = torch.device(device) if device is not None else default_device()
        val_bs = val_bs or bs
        dls = self.loaders(bs=bs, val_bs=val_bs, device=device, **kwargs)
        data = self.bunch_class()(*dls, device=device, path=path or self.path, label_lists=self)
        data._kwargs = {"val_bs": val_bs, **kwargs}
        return data

    def loaders(self, bs: int, val_bs: int, device, **kwargs) -> list:
        """The train / valid / test loaders, built by the input items' rules (None for a missing split)."""
        return self.train.x.make_loaders(self, bs=bs, val_bs=val_bs, device=device, **kwargs)

    def bunch_class(self) -> type[DataBunch]:
        """The DataBunch subclass the input items ask for (e.g. text bunches expose ``vocab``)."""
        return getattr(self.train.x, "databunch_cls", None) or DataBunch

    def describe(self) -> dict:
        """What a DataBunch built from these lists is: x processor, label classes, ``c``, loss, label kind."""
        y = self.train.y
        return {
            "processor": self.train.x.processor,
            "classes": getattr(y, "classes", None),
            "c": y.c,
            "loss_func": y.loss_func,
            # how predictions read back (e.g. a tabular predict_df): several classes per item, or log space
            "multi_label": isinstance(y, MultiCategoryList),
            "log_labels": bool(getattr(y, "log", False)),
        }

    def batch_frame(self, xb, yb, rows: int):
        """A batch decoded to a table by the input items' rules (for ``show_batch``)."""
        return self.train.x.batch_frame(xb, yb, self, rows)

    # -- one item in, one prediction out (for ``learn.predict``) ------------------------------
    def item_batch(self, item: Any) -> Any:
        """One raw item, processed like the training items, as a model input batch of size 1."""
        return self.train.x.item_to_batch(item, self)

    def activation(self) -> Callable | None:
        """What turns model outputs into predictions for these labels (None when the labels name none)."""
        return getattr(self.train.y, "activation", None)

    def decode_pred(self, pred):
        """``(decoded prediction, class index or value, raw prediction)`` for one activated prediction."""
        return self.train.y.decode_pred(pred)

    # -- saving (no pickle) ---------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors: dict[str, torch.Tensor] = {}
        meta: dict = {"label_lists": {}}
        for name in ("train", "valid", "test"):
            ll = getattr(self, name)
            if ll is None:
                continue
            entry = {}
            for attr in ("x", "y"):
                items: ItemList = getattr(ll, attr)
                t, m = items.to_state()
                tensors.update({f"{name}.{attr}.{k}": v for k, v in t.items()})
                entry[attr] = {
                    "cls": registered_name(items),
                    "meta": m,
                    "kwargs": _jsonable_kwargs(items._kwargs),
                }
            meta["label_lists"][name] = entry
        for attr in ("x", "y"):
            proc = getattr(self.train, attr).processor
            meta[f"{attr}_proc"] = proc.state() if proc is not None else None
        return tensors, meta

    @classmethod
    def from_state(cls, tensors: dict, meta: dict, path: Path) -> LabelLists:
        procs = {
            a: PreProcessor.from_state(meta[f"{a}_proc"], f"{a}_proc") if meta.get(f"{a}_proc") else None
            for a in ("x", "y")
        }
        lists = {}
        for name, entry in meta["label_lists"].items():
            parts = {}
            for attr in ("x", "y"):
                e = entry[attr]
                sub = {
                    k[len(f"{name}.{attr}.") :]: v
                    for k, v in tensors.items()
                    if k.startswith(f"{name}.{attr}.")
                }
                where = f"label_lists.{name}.{attr}"
                items_cls = lookup(e["cls"], "items", f"{where}.cls")
                kwargs = _file_item_kwargs(items_cls, e["kwargs"], f"{where}.kwargs")
                items = items_cls.from_state(sub, e["meta"], path, kwargs)
                items.processor = procs[attr]
                parts[attr] = items
            lists[name] = LabelList(parts["x"], parts["y"])
        return cls(path, lists["train"], lists["valid"], lists.get("test"))

    def export_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """The fitted processors and label classes without the data (for ``learn.export``)."""
        none = np.array([], dtype=np.int64)
        return LabelLists(self.path, self.train.subset(none), self.train.subset(none)).to_state()

    @classmethod
    def from_export_state(cls, tensors: dict, meta: dict, path: Path) -> LabelLists:
        return cls.from_state(tensors, meta, path)

    def __repr__(self) -> str:
        return f"LabelLists;\n\nTrain: {self.train}\n\nValid: {self.valid}\n\nTest: {self.test}"


DataBunch._label_lists_cls = LabelLists  # DataBunch.create(data.train_ds, data.valid_ds) rebuilds with these


def load_data(path: str | Path, name: str = "data_save.safetensors", bs: int = 64, **kwargs) -> DataBunch:
    """Load a DataBunch written by ``data.save(name)`` (no pickle involved).

    >>> df = pd.DataFrame({'a': [0., 1., 2., 3., 4., 5.], 'y': ['no', 'yes', 'no', 'yes', 'no', 'yes']})
    >>> data = ItemList.from_df(df, cols='a').split_by_idx([4, 5]).label_from_df('y').databunch(bs=2)
    >>> data.save('tiny.safetensors').name  # written in data.path ('.' here)
    'tiny.safetensors'
    >>> data2 = load_data('.', 'tiny.safetensors', bs=2)
    >>> data2.classes, len(data2.train_ds), len(data2.valid_ds)
    (['no', 'yes'], 4, 2)
    """
    path = Path(path)
    tensors, meta = load_tensors(path / name, what="saved data")
    if "label_lists" not in meta:
        raise ValueError(
            f"{path / name} is a safetensors file but not saved data (use learn.load for weights)"
        )
    try:
        ll = LabelLists.from_state(tensors, meta, path=path)
        kw = dict(meta.get("databunch_kwargs", {}))
        check_json(kw, "databunch_kwargs")
        # Only loader options this kind of data takes may come from the file.
        sig = inspect.signature(type(ll.train.x).make_loaders).parameters
        known = {"val_bs", "num_workers"} | {n for n, p in sig.items() if p.default is not p.empty}
        unknown = sorted(set(kw) - known)
        if unknown:
            raise ValueError(
                f"databunch_kwargs has {unknown}, which this data does not take (it takes {sorted(known)})"
            )
    except ValueError as e:
        raise ValueError(f"{path / name}: {e}") from None
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError) as e:
        raise ValueError(
            f"{path / name}: the saved data's header is damaged or from an incompatible emberfit version "
            f"({type(e).__name__}: {e}); save it again with data.save() (nothing was loaded)"
        ) from None
    kw.update(kwargs)
    kw["bs"] = bs
    return ll.databunch(**kw)


# -- item list settings in files ----------------------------------------------------------


def _file_item_kwargs(items_cls: type, kwargs: Any, entry: str) -> dict:
    """ItemList settings read from a file: JSON values under plain names that shadow no method."""
    if not isinstance(kwargs, dict):
        raise ValueError(f"{entry} must be a JSON object, got {type(kwargs).__name__}")
    check_json(kwargs, entry)
    for k in kwargs:
        if not k.isidentifier() or k.startswith("_") or callable(getattr(items_cls, k, None)):
            raise ValueError(f"{entry} has setting {k[:100]!r}, which an item list does not take from a file")
    return kwargs


def _jsonable_kwargs(kw: dict) -> dict:
    out = {}
    for k, v in kw.items():
        if isinstance(v, (str, int, float, bool, type(None))) or (
            isinstance(v, list) and all(isinstance(o, (str, int, float, bool)) for o in v)
        ):
            out[k] = v
    return out

"""The data-block chain: items -> split -> label -> (add_test) -> databunch.

``ItemList.from_df(...).split_by_rand_pct(0.2).label_from_df('y').databunch(bs=64)``

Each ItemList class names a ``processor_cls``. Processors are fitted on the training split
when the data are labelled and then applied unchanged to valid and test; their fitted
state is plain JSON so that saved data and exported learners need no pickle.
Applications subclass :class:`ItemList` (e.g. ``TabularList``, ``TextList``) and, when
they need extra labelling methods, :class:`ItemLists` (``item_lists_cls``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from .checks import check_no_inf_labels, inf_rows
from .csv_io import read_csv
from .data import DataBunch, TensorLoader, default_device
from .display import generic_frame
from .registry import check_json, lookup, register, registered_name

__all__ = [
    "PreProcessor",
    "ItemList",
    "ItemLists",
    "LabelList",
    "LabelLists",
    "CategoryProcessor",
    "CategoryList",
    "MultiCategoryList",
    "FloatList",
    "EmptyLabelList",
]


class PreProcessor:
    """Something fitted on the training items and then applied to every split.

    Subclasses implement ``_fit(items)`` and ``process(items)``, and store their fitted
    state as JSON-able attributes listed in ``state_attrs``. State added after files were
    written goes in ``state_defaults`` too: the value an older file that lacks it loads with.
    """

    state_attrs: tuple[str, ...] = ()
    state_defaults: dict[str, Any] = {}

    def __init__(self):
        self.fitted = False

    def fit(self, items: ItemList) -> PreProcessor:
        self._fit(items)
        self.fitted = True
        return self

    def _fit(self, items: ItemList) -> None:
        pass

    def process(self, items: ItemList) -> None:
        raise NotImplementedError

    def state(self) -> dict:
        return {"cls": registered_name(self), **{a: getattr(self, a) for a in self.state_attrs}}

    @classmethod
    def from_state(cls, state: dict, entry: str = "processor") -> PreProcessor:
        """Rebuild a fitted processor from :meth:`state`; the class must be a registered processor."""
        if not isinstance(state, dict):
            raise ValueError(f"{entry} must be a JSON object, got {type(state).__name__}")
        proc_cls = lookup(state.get("cls"), "processor", f"{entry}.cls")
        proc = proc_cls.__new__(proc_cls)
        PreProcessor.__init__(proc)
        for a in proc.state_attrs:
            if a not in state and a in proc.state_defaults:
                setattr(proc, a, proc.state_defaults[a])
                continue
            if a not in state:
                raise ValueError(f"{entry} lacks its fitted state {a!r}")
            check_json(state[a], f"{entry}.{a}")
            setattr(proc, a, state[a])
        proc.fitted = True
        proc._restored()
        return proc

    def _restored(self) -> None:
        """Check or rebuild derived state right after :meth:`from_state` (so bad files fail at load)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fitted={self.fitted})"


@register("items", "core.ItemList")
class ItemList:
    """A list of items (file paths, texts, row indices, labels...) with the chain's methods.

    >>> il = ItemList(range(10)).split_by_idx([8, 9])
    >>> len(il.train), len(il.valid)
    (8, 2)
    """

    processor_cls: type[PreProcessor] | None = None
    loss_func: Any = None

    def __init__(
        self, items: Iterable, path: str | Path = ".", inner_df: pd.DataFrame | None = None, **kwargs
    ):
        self.items = items if isinstance(items, np.ndarray) else _as_array(items)
        self.path = Path(path)
        self.inner_df = inner_df
        self._kwargs = kwargs  # forwarded to new() so subsets keep their settings
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.processor: PreProcessor | None = None

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def from_df(cls, df: pd.DataFrame, path: str | Path = ".", cols: Any = 0, **kwargs) -> ItemList:
        """Items from column(s) ``cols`` (names or positions) of ``df``; the frame is kept for labels."""
        _check_df(df)
        df = df.reset_index(drop=True)
        values = _df_cols(df, cols, "cols").values
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        return cls(values, path=path, inner_df=df, **kwargs)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        csv_name: str,
        cols: Any = 0,
        delimiter: str | None = None,
        header="infer",
        encoding: str = "utf-8",
        **kw,
    ):
        """Items from a CSV file ``path/csv_name`` (see :meth:`from_df`); ``encoding`` is the file's (e.g. 'latin-1')."""
        path = Path(path)
        f = path / csv_name
        if not f.is_file():
            raise FileNotFoundError(
                f"from_csv: no file {f}; check path={str(path)!r} and csv_name={csv_name!r}"
            )
        # delimiter=None would make pandas sniff the separator (slow python engine, ParserWarning)
        df = read_csv(f, f"{cls.__name__}.from_csv", encoding, sep=delimiter or ",", header=header)
        return cls.from_df(df, path=path, cols=cols, **kw)

    @classmethod
    def from_folder(
        cls,
        path: str | Path = ".",
        extensions: Sequence[str] | None = None,
        recurse: bool = True,
        include: Sequence[str] | None = None,
        **kwargs,
    ) -> ItemList:
        """Every file under ``path`` (optionally only ``extensions`` and top folders in ``include``)."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"from_folder: {path} is not a folder")
        exts = (
            {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions} if extensions else None
        )
        files = []
        for p in sorted(path.rglob("*") if recurse else path.iterdir()):
            if not p.is_file() or p.name.startswith("."):
                continue
            if exts is not None and p.suffix.lower() not in exts:
                continue
            if include is not None and p.relative_to(path).parts[0] not in include:
                continue
            files.append(p)
        return cls(files, path=path, **kwargs)

    # -- list behaviour -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def get(self, i: int) -> Any:
        """The item at index ``i`` as a user sees it."""
        return self.items[i]

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)):
            return self.get(int(idx))
        return self.new_subset(np.arange(len(self))[idx])

    def new(self, items: Iterable, inner_df: pd.DataFrame | None = None, **kwargs) -> ItemList:
        """Same class and settings, other items."""
        kw = {**self._kwargs, **kwargs}
        return type(self)(items, path=self.path, inner_df=inner_df, **kw)

    def new_subset(self, idx: np.ndarray) -> ItemList:
        idx = np.asarray(idx, dtype=np.int64)
        df = None if self.inner_df is None else self.inner_df.iloc[idx].reset_index(drop=True)
        return self.new(self.items[idx], inner_df=df)

    def __repr__(self) -> str:
        shown = ", ".join(repr(self.get(i))[:40] for i in range(min(3, len(self))))
        return f"{type(self).__name__} ({len(self)} items)\n[{shown}{', ...' if len(self) > 3 else ''}]\nPath: {self.path}"

    # -- filters --------------------------------------------------------------------------
    def filter_by_func(self, func: Callable[[Any], bool]) -> ItemList:
        """Drop the items for which ``func(item)`` is True (fastai's semantics)."""
        keep = np.array([not func(o) for o in self.items], dtype=bool)
        return self.new_subset(np.nonzero(keep)[0])

    def filter_by_folder(
        self, include: Sequence[str] | None = None, exclude: Sequence[str] | None = None
    ) -> ItemList:
        """Keep items whose first folder under ``path`` is in ``include`` and not in ``exclude``."""
        if include is not None and isinstance(include, str):
            raise TypeError(
                f"include must be a list of folder names, got the string {include!r}; use [{include!r}]"
            )
        keep = []
        for i, o in enumerate(self.items):
            top = Path(o).relative_to(self.path).parts[0]
            if (include is None or top in include) and (exclude is None or top not in exclude):
                keep.append(i)
        if not keep:
            raise ValueError(
                f"filter_by_folder(include={include}, exclude={exclude}) kept no items under {self.path}"
            )
        return self.new_subset(np.array(keep))

    # -- splits ---------------------------------------------------------------------------
    item_lists_cls: type[ItemLists]  # set below, once ItemLists exists

    def _split(self, train_idx: np.ndarray, valid_idx: np.ndarray) -> ItemLists:
        return self.item_lists_cls(self.path, self.new_subset(train_idx), self.new_subset(valid_idx))

    def split_none(self) -> ItemLists:
        """Everything is training data; the validation set is empty."""
        return self._split(np.arange(len(self)), np.array([], dtype=np.int64))

    def split_by_idx(self, valid_idx: Iterable[int]) -> ItemLists:
        """Rows at ``valid_idx`` are validation, the rest training."""
        valid_idx = _check_idx(valid_idx, len(self), "valid_idx")
        mask = np.ones(len(self), dtype=bool)
        mask[valid_idx] = False
        return self._split(np.nonzero(mask)[0], valid_idx)

    def split_by_idxs(self, train_idx: Iterable[int], valid_idx: Iterable[int]) -> ItemLists:
        """Explicit training and validation indices."""
        return self._split(
            _check_idx(train_idx, len(self), "train_idx"), _check_idx(valid_idx, len(self), "valid_idx")
        )

    def split_by_rand_pct(self, valid_pct: float = 0.2, seed: int | None = None) -> ItemLists:
        """A random ``valid_pct`` of the items is validation (repeatable with ``seed``)."""
        if not 0 <= valid_pct < 1:
            raise ValueError(f"valid_pct must be in [0, 1), got {valid_pct!r}")
        rng = np.random.default_rng(seed) if seed is not None else np.random.default_rng()
        perm = rng.permutation(len(self))
        n_valid = int(valid_pct * len(self))
        if valid_pct > 0 and n_valid == 0:
            raise ValueError(
                f"split_by_rand_pct(valid_pct={valid_pct}) gives 0 validation rows out of {len(self)}; "
                "use a larger valid_pct or split_none()"
            )
        return self.split_by_idx(np.sort(perm[:n_valid])) if n_valid else self.split_none()

    random_split_by_pct = split_by_rand_pct  # the lesson-era name

    def split_from_df(self, col: Any = 2) -> ItemLists:
        """Rows whose ``col`` is True (or 'True'/1) are validation."""
        if self.inner_df is None:
            raise ValueError("split_from_df needs items made with from_df/from_csv")
        vals = _df_cols(self.inner_df, col, "col").iloc[:, 0]
        mask = vals.astype(str).str.lower().isin(["true", "1", "1.0"]).values
        return self.split_by_idx(np.nonzero(mask)[0])

    def split_by_folder(self, train: str = "train", valid: str = "valid") -> ItemLists:
        """Items in the ``train`` / ``valid`` top folder under ``path``; others are dropped."""
        tops = np.array([Path(o).relative_to(self.path).parts[0] for o in self.items])
        tr, va = np.nonzero(tops == train)[0], np.nonzero(tops == valid)[0]
        if len(tr) == 0 or len(va) == 0:
            found = sorted(set(tops.tolist()))
            raise ValueError(
                f"split_by_folder(train={train!r}, valid={valid!r}): folders under {self.path} are {found}"
            )
        return self._split(tr, va)

    def split_by_valid_func(self, func: Callable[[Any], bool]) -> ItemLists:
        """Items for which ``func(item)`` is True are validation."""
        mask = np.array([bool(func(o)) for o in self.items])
        return self.split_by_idx(np.nonzero(mask)[0])

    # -- what subclasses provide ----------------------------------------------------------
    def to_tensors(self) -> Any:
        """The processed items as tensor(s) with one row per item (for :class:`TensorLoader`)."""
        arr = np.asarray(self.items)
        if arr.dtype == object:
            raise TypeError(
                f"{type(self).__name__} items are Python objects; subclass ItemList to turn them into tensors"
            )
        return torch.as_tensor(arr.astype(np.float32) if arr.dtype.kind == "f" else arr)

    def batch_frame(self, xb, yb, lls: LabelLists, rows: int) -> pd.DataFrame:
        """Decode a batch into a DataFrame for ``show_batch``."""
        df = generic_frame(xb, None, rows)
        if yb is not None:
            df[lls.train.y.name] = lls.train.y.decode_batch(yb[:rows])
        return df

    def item_to_batch(self, item: Any, lls: LabelLists) -> Any:
        """Turn one raw item into a model input batch of size 1 (used by ``predict``)."""
        arr = np.asarray([item]) if isinstance(item, (np.ndarray, list, tuple, int, float)) else None
        one = self.new(arr if arr is not None and arr.dtype.kind in "biuf" else _as_array([item]))
        if self.processor is not None:
            self.processor.process(one)
        t = one.to_tensors()
        return t

    def make_loaders(self, lls: LabelLists, bs: int, val_bs: int, device, **kwargs) -> list:
        """Build the train / valid / test loaders (default: slices of contiguous tensors)."""
        loaders = []
        for name in ("train", "valid", "test"):
            ll = getattr(lls, name)
            if ll is None or (name != "train" and len(ll) == 0):
                loaders.append(None)
                continue
            train = name == "train"
            b = bs if train else val_bs
            loaders.append(
                TensorLoader(
                    ll.x.to_tensors(),
                    ll.y.to_tensors(),
                    bs=b,
                    shuffle=train,
                    drop_last=train and len(ll) > b,
                    device=device,
                )
            )
        return loaders

    def to_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Processed items as tensors + JSON (for ``data.save``)."""
        arr = np.asarray(self.items)
        if arr.dtype == object:
            return {}, {"items": [str(o) for o in arr.tolist()]}
        return {"items": torch.as_tensor(arr)}, {}

    @classmethod
    def from_state(cls, tensors: dict, meta: dict, path: Path, kwargs: dict) -> ItemList:
        items = tensors["items"].numpy() if "items" in tensors else meta["items"]
        return cls(items, path=path, **kwargs)


class ItemLists:
    """A training and a validation ItemList, waiting for labels."""

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
        """Labels from column(s) ``cols`` of the items' DataFrame."""
        if self.train.inner_df is None:
            raise ValueError("label_from_df needs items made with from_df/from_csv (they keep the DataFrame)")

        def col(il: ItemList) -> np.ndarray:
            v = _df_cols(il.inner_df, cols, "cols")
            return v.values[:, 0] if v.shape[1] == 1 else v.values

        y_train, y_valid = col(self.train), col(self.valid)
        check_no_inf_labels(list(_df_cols(self.train.inner_df, cols, "cols").columns), y_train, y_valid)
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


ItemList.item_lists_cls = ItemLists


class LabelList:
    """Items ``x`` and their labels ``y``; ``ds[i]`` is ``(x_i, y_i)``."""

    def __init__(self, x: ItemList, y: ItemList):
        if len(x) != len(y):
            raise ValueError(f"{len(x)} items but {len(y)} labels; they must match")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x.get(i), self.y.get(i)

    def subset(self, idx: np.ndarray) -> LabelList:
        return LabelList(self.x.new_subset(idx), self.y.new_subset(idx))

    def __repr__(self) -> str:
        return f"LabelList ({len(self)} items)\nx: {self.x}\ny: {self.y}"


class LabelLists:
    """Labelled train / valid (/ test) splits with fitted processors; ``.databunch()`` ends the chain."""

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


# -- labels ------------------------------------------------------------------------------


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
    """Single-label classification targets; decoded back to class names."""

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

    def new_subset(self, idx):
        out = super().new_subset(idx)
        if self.codes is not None:
            out.codes, out.classes = self.codes[idx], self.classes
            out.missing = self.missing[idx]
            out.processor = self.processor
        return out

    def get(self, i: int):
        return self.classes[self.codes[i]] if self.codes is not None and self.codes[i] >= 0 else self.items[i]

    def to_tensors(self) -> torch.Tensor:
        return torch.as_tensor(self.codes, dtype=torch.long)

    def activation(self, out: torch.Tensor) -> torch.Tensor:
        return torch.softmax(out, dim=-1)

    def decode_pred(self, probs: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """``(class, index, probabilities)`` for one activated prediction."""
        idx = probs.argmax(-1)
        return self.classes[int(idx)], idx, probs

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


@register("items", "core.MultiCategoryList")
class MultiCategoryList(CategoryList):
    """Multi-label targets (each item a list of labels, or a string split by ``label_delim``)."""

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

    processor_cls = None  # set below

    @property
    def loss_func(self):
        return F.binary_cross_entropy_with_logits

    def to_tensors(self) -> torch.Tensor:
        return torch.as_tensor(self.codes, dtype=torch.float32)

    def get(self, i):
        return (
            [self.classes[j] for j in np.nonzero(self.codes[i])[0]]
            if self.codes is not None
            else self.items[i]
        )

    def activation(self, out):
        return torch.sigmoid(out)

    def decode_pred(self, probs, thresh: float = 0.5):
        mask = probs > thresh
        return [c for c, m in zip(self.classes, mask.tolist()) if m], mask, probs

    def decode_batch(self, yb):
        return [";".join(c for c, m in zip(self.classes, row) if m) for row in yb.cpu().bool().tolist()]


@register("processor", "core.MultiCategoryProcessor")
class _MultiCategoryProcessor(CategoryProcessor):
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


MultiCategoryList.processor_cls = _MultiCategoryProcessor


@register("items", "core.FloatList")
class FloatList(ItemList):
    """Regression targets (one or several floats per item); ``log=True`` trains on log(y)."""

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

    def activation(self, out):
        return out

    def decode_pred(self, out):
        val = out.exp() if self.log else out
        v = val.squeeze(-1) if val.ndim and val.shape[-1] == 1 else val
        return (float(v) if v.ndim == 0 else v), v, val

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
    """Placeholder labels for an unlabelled test set."""

    def to_tensors(self) -> torch.Tensor:
        return torch.zeros(len(self.items), dtype=torch.long)

    def get(self, i):
        return None


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

# -- helpers -----------------------------------------------------------------------------


def _as_array(items: Iterable) -> np.ndarray:
    if isinstance(items, np.ndarray):
        return items
    if isinstance(items, (pd.Series, pd.Index)):
        return items.to_numpy()
    items = list(items)
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    try:  # keep numeric labels numeric
        if items and all(
            isinstance(o, (int, float, np.number, bool)) and not isinstance(o, bool) for o in items
        ):
            return np.asarray(items)
    except TypeError:
        pass
    return arr


def _check_df(df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError("the DataFrame is empty (0 rows); nothing to learn from")


def _df_cols(df: pd.DataFrame, cols: Any, arg: str) -> pd.DataFrame:
    """Select columns by name or position, with a KeyError naming what is missing."""
    cols_l = list(cols) if isinstance(cols, (list, tuple, np.ndarray, pd.Index)) else [cols]
    names = []
    for c in cols_l:
        if c in df.columns:
            names.append(c)
        elif isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c < df.shape[1]:
            names.append(df.columns[c])
        else:
            import difflib

            close = difflib.get_close_matches(str(c), [str(x) for x in df.columns], n=3)
            hint = f"; did you mean {close}?" if close else ""
            raise KeyError(
                f"{arg}={c!r} is not a column of the DataFrame (columns: {list(df.columns)[:20]}){hint}"
            )
    return df[names]


def _check_idx(idx: Iterable[int], n: int, arg: str) -> np.ndarray:
    arr = np.asarray(list(idx) if not isinstance(idx, np.ndarray) else idx)
    if arr.dtype == bool:
        raise TypeError(f"{arg} must be integer positions, got a boolean mask; use np.nonzero(mask)[0]")
    if arr.size == 0:
        raise ValueError(
            f"{arg} is empty: the split would have no rows; pass at least one index (or use split_none())"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{arg} must be integer positions, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"{arg} has positions outside 0..{n - 1} (min {arr.min()}, max {arr.max()})")
    return arr.astype(np.int64)


def _infer_label_cls(y: np.ndarray) -> type[ItemList]:
    if y.dtype.kind == "f":
        return FloatList
    return CategoryList


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

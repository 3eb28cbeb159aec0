"""Items: the first stage of the data-block chain (what to learn from, and how to split it).

An :class:`ItemList` holds the items (file paths, texts, row indices...), builds itself from a
DataFrame, a CSV or a folder, filters, and splits into training and validation (``split_*``
methods, which return an ``ItemLists`` waiting for labels). Applications subclass it
(``TabularList``, ``TextList``...) to say how their items become tensors and loaders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..csv_io import read_csv
from ..data import TensorLoader
from ..display import generic_frame
from ..registry import register
from .processor import PreProcessor

__all__ = ["ItemList"]

# The later stages (ItemLists, LabelLists: labelling.py) import this module, so it names their
# types without importing them.
ItemListsType = Any
LabelListsType = Any


def split_loaders(lls, make: Callable) -> list:
    """``[train, valid, test]`` loaders from ``make(label_list, is_train)``; None for a missing or empty valid/test.

    >>> class Split(list): pass
    >>> lls = Split(); lls.train, lls.valid, lls.test = [1, 2], [], None
    >>> split_loaders(lls, lambda ll, train: (len(ll), train))
    [(2, True), None, None]
    """
    out = []
    for name in ("train", "valid", "test"):
        ll = getattr(lls, name)
        train = name == "train"
        out.append(None if ll is None or (not train and len(ll) == 0) else make(ll, train))
    return out


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

    def filter_by_rand(self, p: float, seed: int | None = None) -> ItemList:
        """Keep each item with probability ``p`` (repeatable with ``seed``), e.g. to try ideas on a sample.

        >>> n = len(ItemList(range(1000)).filter_by_rand(0.1, seed=0)); 50 < n < 150
        True
        """
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise ValueError(f"filter_by_rand: p must be a probability in (0, 1], got p={p!r}")
        keep = np.nonzero(_rng(seed).random(len(self)) < p)[0]
        if len(keep) == 0:
            raise ValueError(f"filter_by_rand(p={p}) kept none of the {len(self)} items; use a larger p")
        return self.new_subset(keep)

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
    # What a split returns: an ItemLists. Subclasses name their own; the base class's is set in
    # labelling.py, where ItemLists lives (it labels with label lists, which are ItemLists too,
    # so this module cannot import it).
    item_lists_cls: type

    def _split(self, train_idx: np.ndarray, valid_idx: np.ndarray) -> ItemListsType:
        ils = self.item_lists_cls(self.path, self.new_subset(train_idx), self.new_subset(valid_idx))
        ils.split_idx = (np.asarray(train_idx), np.asarray(valid_idx), len(self))  # for label_from_list
        return ils

    def split_none(self) -> ItemListsType:
        """Everything is training data; the validation set is empty."""
        return self._split(np.arange(len(self)), np.array([], dtype=np.int64))

    def split_by_idx(self, valid_idx: Iterable[int]) -> ItemListsType:
        """Rows at ``valid_idx`` are validation, the rest training."""
        valid_idx = _check_idx(valid_idx, len(self), "valid_idx")
        mask = np.ones(len(self), dtype=bool)
        mask[valid_idx] = False
        return self._split(np.nonzero(mask)[0], valid_idx)

    def split_by_idxs(self, train_idx: Iterable[int], valid_idx: Iterable[int]) -> ItemListsType:
        """Explicit training and validation indices."""
        return self._split(
            _check_idx(train_idx, len(self), "train_idx"), _check_idx(valid_idx, len(self), "valid_idx")
        )

    def split_by_rand_pct(self, valid_pct: float = 0.2, seed: int | None = None) -> ItemListsType:
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

    def split_from_df(self, col: Any = 2) -> ItemListsType:
        """Rows whose ``col`` is True (or 'True'/1) are validation."""
        if self.inner_df is None:
            raise ValueError("split_from_df needs items made with from_df/from_csv")
        vals = _df_cols(self.inner_df, col, "col").iloc[:, 0]
        mask = vals.astype(str).str.lower().isin(["true", "1", "1.0"]).values
        return self.split_by_idx(np.nonzero(mask)[0])

    def split_by_folder(self, train: str = "train", valid: str = "valid") -> ItemListsType:
        """Items in the ``train`` / ``valid`` top folder under ``path``; others are dropped."""
        tops = np.array([Path(o).relative_to(self.path).parts[0] for o in self.items])
        tr, va = np.nonzero(tops == train)[0], np.nonzero(tops == valid)[0]
        if len(tr) == 0 or len(va) == 0:
            found = sorted(set(tops.tolist()))
            raise ValueError(
                f"split_by_folder(train={train!r}, valid={valid!r}): folders under {self.path} are {found}"
            )
        return self._split(tr, va)

    def split_by_valid_func(self, func: Callable[[Any], bool]) -> ItemListsType:
        """Items for which ``func(item)`` is True are validation."""
        mask = np.array([bool(func(o)) for o in self.items])
        return self.split_by_idx(np.nonzero(mask)[0])

    def split_subsets(self, train_size: float, valid_size: float, seed: int | None = None) -> ItemListsType:
        """A random ``train_size`` share of the items for training, another ``valid_size`` share for validation.

        The rest is left out (to try ideas on a part of the data). Both keep dataset order.

        >>> ils = ItemList(range(100)).split_subsets(train_size=0.5, valid_size=0.2, seed=0)
        >>> len(ils.train), len(ils.valid), len(set(ils.train.items) & set(ils.valid.items))
        (50, 20, 0)
        """
        for name, v in (("train_size", train_size), ("valid_size", valid_size)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
                raise ValueError(f"split_subsets: {name} must be a share in (0, 1), got {name}={v!r}")
        if train_size + valid_size > 1:
            raise ValueError(
                f"split_subsets: train_size + valid_size = {train_size + valid_size:g} is over 1; "
                "the two subsets cannot overlap"
            )
        n_train, n_valid = int(train_size * len(self)), int(valid_size * len(self))
        if n_train == 0 or n_valid == 0:
            raise ValueError(
                f"split_subsets(train_size={train_size}, valid_size={valid_size}) gives {n_train} training "
                f"and {n_valid} validation items out of {len(self)}; use larger shares"
            )
        perm = _rng(seed).permutation(len(self))
        return self._split(np.sort(perm[:n_train]), np.sort(perm[len(self) - n_valid :]))

    def split_by_files(self, valid_names: Iterable) -> ItemListsType:
        """Items whose file name (the last part of their path) is in ``valid_names`` are validation."""
        if isinstance(valid_names, (str, Path)):
            raise TypeError(
                f"split_by_files: valid_names must be a list of file names, got {valid_names!r}; "
                f"use [{str(valid_names)!r}]"
            )
        names = valid_names.items if isinstance(valid_names, ItemList) else valid_names
        names = {o.name if isinstance(o, Path) else str(o) for o in names}
        mask = np.array([Path(str(o)).name in names for o in self.items], dtype=bool)
        if not mask.any():
            shown = sorted(names)[:3]
            raise ValueError(
                f"split_by_files: none of the {len(self)} items has a file name in valid_names "
                f"(e.g. {shown}); the names must be file names such as {Path(str(self.items[0])).name!r}"
            )
        return self.split_by_idx(np.nonzero(mask)[0])

    def split_by_fname_file(self, fname: str | Path, path: str | Path | None = None) -> ItemListsType:
        """Validation items are those whose file names are listed, one per line, in ``path/fname``.

        ``path`` defaults to the items' path.
        """
        f = Path(path if path is not None else self.path) / fname
        if not f.is_file():
            raise FileNotFoundError(
                f"split_by_fname_file: no file {f}; check fname={str(fname)!r} and path "
                f"(default: the items' path {str(self.path)!r})"
            )
        return self.split_by_files([ln.strip() for ln in f.read_text().splitlines() if ln.strip()])

    # -- what subclasses provide ----------------------------------------------------------
    def to_tensors(self) -> Any:
        """The processed items as tensor(s) with one row per item (for :class:`TensorLoader`)."""
        arr = np.asarray(self.items)
        if arr.dtype == object:
            raise TypeError(
                f"{type(self).__name__} items are Python objects; subclass ItemList to turn them into tensors"
            )
        return torch.as_tensor(arr.astype(np.float32) if arr.dtype.kind == "f" else arr)

    def batch_frame(self, xb, yb, lls: LabelListsType, rows: int) -> pd.DataFrame:
        """Decode a batch into a DataFrame for ``show_batch``."""
        df = generic_frame(xb, None, rows)
        if yb is not None:
            df[lls.train.y.name] = lls.train.y.decode_batch(yb[:rows])
        return df

    def item_to_batch(self, item: Any, lls: LabelListsType) -> Any:
        """Turn one raw item into a model input batch of size 1 (used by ``predict``)."""
        arr = np.asarray([item]) if isinstance(item, (np.ndarray, list, tuple, int, float)) else None
        one = self.new(arr if arr is not None and arr.dtype.kind in "biuf" else _as_array([item]))
        if self.processor is not None:
            self.processor.process(one)
        t = one.to_tensors()
        return t

    def make_loaders(self, lls: LabelListsType, bs: int, val_bs: int, device, **kwargs) -> list:
        """Build the train / valid / test loaders (default: slices of contiguous tensors)."""

        def make(ll, train: bool) -> TensorLoader:
            b = bs if train else val_bs
            return TensorLoader(
                ll.x.to_tensors(),
                ll.y.to_tensors(),
                bs=b,
                shuffle=train,
                drop_last=train and len(ll) > b,
                device=device,
            )

        return split_loaders(lls, make)

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


# -- turning inputs into item arrays, with errors that name what is wrong -----------------


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed) if seed is not None else np.random.default_rng()


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

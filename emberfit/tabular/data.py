"""Tabular data: ``TabularList`` in the data-block chain, its processor, and ``TabularDataBunch``.

``TabularList.from_df(df, cat_names=..., cont_names=..., procs=[FillMissing, Categorify, Normalize])``
``.split_by_idx(...).label_from_df(cols=dep_var).databunch()``

The items are row positions in the DataFrame. Labelling fits the procs on the training rows
(:class:`~emberfit.tabular.processor.TabularProcessor`) and turns every split into two contiguous arrays: ``codes``
(int64, one column per categorical, 0 = ``#na#``) and ``conts`` (float32). Batches are slices
of those arrays (``core.TensorLoader``), ``xb = (cats, conts)``; no per-row Python objects.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.checks import check_no_inf_labels
from ..core.csv_io import read_csv
from ..core.data import DataBunch
from ..core.data_block.items import ItemList
from ..core.data_block.labelling import ItemLists, LabelLists
from ..core.registry import register
from .processor import TabularProcessor, did_you_mean, resolve_cont_names
from .procs import check_procs

__all__ = ["TabularList", "TabularItemLists", "TabularLine", "TabularDataBunch"]


class TabularLine:
    """One processed row: decoded categories and (normalised) continuous values.

    >>> df = pd.DataFrame({"c": ["a", "b", "a", "b"], "x": [1.0, None, 3.0, 4.0], "y": [0, 1, 0, 1]})
    >>> data = (TabularList.from_df(df, cat_names=["c"], cont_names=["x"], procs=[FillMissing, Categorify])
    ...         .split_by_idx([3]).label_from_df(cols="y").databunch(bs=2, device="cpu"))
    >>> line = data.train_ds.x[1]  # the second training row, processed: x was missing, filled with the median
    >>> type(line).__name__, line
    ('TabularLine', c b; x_na True; x 2.0;)
    >>> line.names, line.values
    (['c', 'x_na', 'x'], ['b', True, 2.0])
    >>> cats, conts = line.data  # what the model gets for this row (codes, 0 = #na#)
    >>> cats.tolist(), conts.tolist()
    ([2, 2], [2.0])
    """

    def __init__(self, cats: np.ndarray, conts: np.ndarray, cat_names, cont_names, classes):
        self.cats, self.conts = torch.as_tensor(cats), torch.as_tensor(conts)
        self.names = [*cat_names, *cont_names]
        self.values = [classes[n][int(c)] for n, c in zip(cat_names, cats)]
        self.values += [round(float(v), 4) for v in conts]

    @property
    def data(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cats, self.conts

    def __repr__(self) -> str:
        return "; ".join(f"{n} {v}" for n, v in zip(self.names, self.values)) + ";"


@register("items", "tabular.TabularList")
class TabularList(ItemList):
    """Rows of a DataFrame with categorical and continuous inputs (the tabular data-block start).

    >>> df = pd.DataFrame({"c": list("abab"), "x": [1.0, 2.0, None, 4.0], "y": [0, 1, 0, 1]})
    >>> data = (TabularList.from_df(df, cat_names=["c"], cont_names=["x"], procs=[FillMissing, Categorify])
    ...         .split_by_idx([3]).label_from_df(cols="y").databunch(bs=2, device="cpu"))
    >>> data.train_ds.x.cat_names, data.train_ds.x.codes.shape
    (['c', 'x_na'], (3, 2))
    """

    processor_cls = TabularProcessor

    def __init__(
        self,
        items: Iterable,
        cat_names: Sequence[str] | None = None,
        cont_names: Sequence[str] | None = None,
        procs: Sequence | None = None,
        path: str | Path = ".",
        inner_df: pd.DataFrame | None = None,
        **kwargs,
    ):
        super().__init__(
            items,
            path=path,
            inner_df=inner_df,
            cat_names=cat_names,
            cont_names=cont_names,
            procs=procs,
            **kwargs,
        )
        self.codes: np.ndarray | None = None
        self.conts: np.ndarray | None = None
        self.classes: dict[str, list] | None = None

    @classmethod
    def from_df(
        cls,
        df: pd.DataFrame,
        path: str | Path = ".",
        cat_names: Sequence[str] | None = None,
        cont_names: Sequence[str] | None = None,
        procs: Sequence | None = None,
        **kwargs,
    ) -> TabularList:
        """A TabularList over the rows of ``df``; ``cont_names=None`` means the numeric columns left over."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        if len(df) == 0:
            raise ValueError("df is empty (0 rows); there is nothing to learn from or predict")
        if not isinstance(path, (str, Path)):
            raise TypeError(
                f"path must be a folder (str or Path), got {type(path).__name__} {path!r}; "
                "pass the columns by keyword: from_df(df, path=path, cat_names=[...], cont_names=[...])"
            )
        cat_names = _check_names(df, cat_names, "cat_names")
        cont_names = None if cont_names is None else _check_names(df, cont_names, "cont_names")
        both = sorted(set(cat_names) & set(cont_names or []))
        if both:
            raise ValueError(f"column(s) {both} are in both cat_names and cont_names; keep each in one list")
        procs = check_procs(procs)
        df = df.reset_index(drop=True)  # positions are the items (pandas >= 3 copies no data here)
        return cls(np.arange(len(df)), cat_names, cont_names, procs, path=path, inner_df=df, **kwargs)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        csv_name: str,
        cat_names=None,
        cont_names=None,
        procs=None,
        encoding: str = "utf-8",
        **read_kw,
    ):
        """A TabularList over ``path/csv_name``; ``encoding`` (e.g. 'latin-1') and ``read_kw`` go to ``pd.read_csv``."""
        f = Path(path) / csv_name
        if not f.is_file():
            raise FileNotFoundError(
                f"from_csv: no file {f}; check path={str(path)!r} and csv_name={csv_name!r}"
            )
        df = read_csv(f, f"{cls.__name__}.from_csv", encoding, **read_kw)
        return cls.from_df(df, path, cat_names, cont_names, procs)

    # -- list behaviour ---------------------------------------------------------------------
    def get(self, i: int) -> Any:
        if self.codes is None:
            return self.inner_df.iloc[int(self.items[i])]
        return TabularLine(self.codes[i], self.conts[i], self.cat_names, self.cont_names, self.classes)

    def new_subset(self, idx: np.ndarray) -> TabularList:
        out = super().new_subset(idx)
        out.items = np.arange(len(out.items))  # positions in the subset's own (reset) frame
        if self.codes is not None:
            out.codes, out.conts = self.codes[idx], self.conts[idx]
            out.cat_names, out.cont_names, out.classes = self.cat_names, self.cont_names, self.classes
            out.processor = self.processor
        return out

    # -- what the engine asks for ----------------------------------------------------------
    def to_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.codes is None:
            raise ValueError(
                "this TabularList is not processed yet; label it (e.g. .label_from_df(...)) first"
            )
        return torch.from_numpy(self.codes), torch.from_numpy(self.conts)

    def batch_frame(self, xb, yb, lls: LabelLists, rows: int) -> pd.DataFrame:
        """Decoded categories (incl. ``_na`` columns), normalised continuous values, and the target."""
        cats, conts = (t[:rows].detach().cpu().numpy() for t in xb)
        cols: dict[str, Any] = {}
        for j, name in enumerate(self.cat_names):
            cols[name] = np.asarray(self.classes[name], dtype=object)[cats[:, j]]
        for j, name in enumerate(self.cont_names):
            cols[name] = np.round(conts[:, j].astype(np.float64), 4)
        if yb is not None:
            cols[getattr(lls.train.y, "name", "target")] = lls.train.y.decode_batch(yb[:rows])
        return pd.DataFrame(cols)

    def items_frame(self, idxs: Sequence[int]) -> pd.DataFrame:
        """Rows ``idxs`` with the input columns' raw values (decoded processed values when the frame is gone)."""
        idxs = np.asarray(idxs, dtype=np.int64)
        proc = self.processor
        names = [*proc.cat_names, *proc.cont_names] if proc is not None else []
        df = self.inner_df
        if df is not None and names and all(n in df.columns for n in names):
            return df.iloc[self.items[idxs]][names].reset_index(drop=True)
        xb = (torch.from_numpy(self.codes[idxs]), torch.from_numpy(self.conts[idxs]))
        return self.batch_frame(xb, None, None, len(idxs))

    def item_to_batch(self, item: Any, lls: LabelLists) -> tuple[torch.Tensor, torch.Tensor]:
        """One row (a Series such as ``df.iloc[0]``, a dict, or a one-row DataFrame) as a batch of 1."""
        df = _row_frame(item)
        return self.rows_to_tensors(df)

    def rows_to_tensors(self, df: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """Any new rows, processed with the fitted procs, as ``(cats, conts)`` tensors."""
        if self.processor is None:
            raise ValueError("this TabularList has no fitted processor; label the data first")
        return self.processor.rows_to_tensors(df)

    def to_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {"codes": torch.from_numpy(self.codes), "conts": torch.from_numpy(self.conts)}
        return tensors, {"cat_names": self.cat_names, "cont_names": self.cont_names, "classes": self.classes}

    @classmethod
    def from_state(cls, tensors: dict, meta: dict, path: Path, kwargs: dict) -> TabularList:
        codes, conts = tensors["codes"].numpy(), tensors["conts"].numpy()
        out = cls(np.arange(len(codes)), path=path, **kwargs)
        out.codes, out.conts, out.classes = codes, conts, meta["classes"]
        out.cat_names, out.cont_names = meta["cat_names"], meta["cont_names"]
        return out


class TabularItemLists(ItemLists):
    """Train/valid TabularLists; ``label_from_df`` adds the checks tabular data needs.

    >>> df = pd.DataFrame({"c": list("abab"), "x": [1.0, 2.0, 3.0, 4.0], "y": ["no", "yes", "no", "yes"]})
    >>> sd = TabularList.from_df(df, cat_names=["c"], cont_names=["x"], procs=[Categorify]).split_by_idx([3])
    >>> type(sd).__name__, len(sd.train), len(sd.valid)
    ('TabularItemLists', 3, 1)
    >>> lls = sd.label_from_df(cols="y")
    >>> lls.train.y.classes, lls.train.x.codes.tolist()
    (['no', 'yes'], [[1], [2], [1]])
    >>> sd.label_from_df(cols="x")  # a label that is also an input is refused
    Traceback (most recent call last):
    ...
    ValueError: label column(s) ['x'] are also in cat_names/cont_names; the model would see the answer. Remove them from the inputs
    """

    def label_from_df(self, cols: Any = 1, label_cls: type[ItemList] | None = None, **kwargs) -> LabelLists:
        """Labels from column(s) ``cols``; NaN labels and labels that are also inputs are refused."""
        df = self.train.inner_df
        features = {*(self.train.cat_names or []), *(self.train.cont_names or [])}
        source = _value_column(df, cols, features)
        if source is not None:
            warnings.warn(
                f"label_from_df: the DataFrame has no column {cols!r}, but it is a value of column {source!r}; "
                f"the label is 1 where {source} == {cols!r} and 0 elsewhere (the lesson-era adult.csv had this "
                f"0/1 column). Pass cols={source!r} to predict the class names instead.",
                stacklevel=2,
            )
            names = [source]
        else:
            names = _label_names(df, cols)
            inputs = [n for n in names if n in features]
            if inputs:
                raise ValueError(
                    f"label column(s) {inputs} are also in cat_names/cont_names; the model would see the answer. "
                    "Remove them from the inputs"
                )
        counts = {
            s: int(getattr(self, s).inner_df[names].isna().any(axis=1).sum()) for s in ("train", "valid")
        }
        if sum(counts.values()):
            raise ValueError(
                f"label column {names[0] if len(names) == 1 else names!r} has {sum(counts.values())} row(s) with "
                f"a missing value (NaN): {counts['train']} in the training rows, {counts['valid']} in the "
                f"validation rows; drop them first, e.g. df = df.dropna(subset={names!r})"
            )
        check_no_inf_labels(names, self.train.inner_df[names], self.valid.inner_df[names])
        for il in (self.train, self.valid):
            if il.cont_names is None:
                il.cont_names = resolve_cont_names(
                    df, il.cat_names or [], None, exclude=names, warn=il is self.train
                )
                il._kwargs["cont_names"] = il.cont_names

        def values(il: TabularList) -> np.ndarray:
            if source is not None:
                return (il.inner_df[source] == cols).to_numpy(np.int64)
            v = il.inner_df[names].to_numpy()
            return v[:, 0] if len(names) == 1 else v

        return self._label(values(self.train), values(self.valid), label_cls, **kwargs)


TabularList.item_lists_cls = TabularItemLists


class TabularDataBunch(DataBunch):
    """A DataBunch of tabular data; :meth:`from_df` is the one-call form of the data-block chain.

    >>> df = pd.DataFrame({"c": list("abcd") * 5, "x": np.arange(20.0), "y": ["no", "yes"] * 10})
    >>> data = TabularDataBunch.from_df(".", df, "y", valid_idx=range(16, 20), procs=[Categorify, Normalize],
    ...                                 cat_names=["c"], cont_names=["x"], bs=4, device="cpu")
    >>> data.classes, len(data.train_ds), len(data.valid_ds)
    (['no', 'yes'], 16, 4)
    >>> (cats, conts), y = data.one_batch()
    >>> cats.shape, conts.shape, y.shape  # (bs, n_cat), (bs, n_cont), (bs,)
    (torch.Size([4, 1]), torch.Size([4, 1]), torch.Size([4]))
    """

    @classmethod
    def from_df(
        cls,
        path: str | Path,
        df: pd.DataFrame,
        dep_var: str,
        valid_idx: Iterable[int],
        procs: Sequence | None = None,
        cat_names: Sequence[str] | None = None,
        cont_names: Sequence[str] | None = None,
        classes: Sequence | None = None,
        test_df: pd.DataFrame | None = None,
        bs: int = 64,
        val_bs: int | None = None,
        device=None,
        **kwargs,
    ) -> TabularDataBunch:
        """Build the data from one DataFrame: rows ``valid_idx`` validate, ``dep_var`` is the label.

        >>> df = pd.DataFrame({"c": list("abab") * 5, "x": np.arange(20.0), "y": [0, 1] * 10})
        >>> TabularDataBunch.from_df(".", df, "y", valid_idx=range(16, 20), cat_names=["c"], device="cpu").c
        2
        """
        il = TabularList.from_df(df, path, cat_names, cont_names, procs)
        label_kw = {} if classes is None else {"classes": classes}
        lls = il.split_by_idx(valid_idx).label_from_df(cols=dep_var, **label_kw)
        if test_df is not None:
            lls.add_test(TabularList.from_df(test_df, path, cat_names, cont_names))
        return lls.databunch(bs=bs, val_bs=val_bs, device=device, **kwargs)


TabularList.databunch_cls = TabularDataBunch  # lls.databunch() and load_data() build a TabularDataBunch


# -- checks and helpers --------------------------------------------------------------------


def _check_names(df: pd.DataFrame, names: Sequence[str] | None, arg: str) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        raise TypeError(f"{arg} must be a list of column names, got the string {names!r}; use [{names!r}]")
    names = list(names)
    for n in names:
        if n not in df.columns:
            raise KeyError(
                f"{arg} has {n!r}, but the DataFrame has no such column{did_you_mean(n, df.columns)}"
            )
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{arg} lists {dup} more than once; list each column once")
    return names


def _label_names(df: pd.DataFrame, cols: Any) -> list[str]:
    cols_l = list(cols) if isinstance(cols, (list, tuple, np.ndarray, pd.Index)) else [cols]
    names = []
    for c in cols_l:
        if c in df.columns:
            names.append(c)
        elif isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c < df.shape[1]:
            names.append(df.columns[c])
        else:
            raise KeyError(
                f"label_from_df: cols={c!r} is not a column of the DataFrame{did_you_mean(c, df.columns)}"
            )
    return names


def _value_column(df: pd.DataFrame, cols: Any, features: set) -> str | None:
    """The one non-input text column that holds the value ``cols`` (when ``cols`` is not a column)."""
    if not isinstance(cols, str) or cols in df.columns:
        return None
    hits = [
        c
        for c in df.columns
        if c not in features and not pd.api.types.is_numeric_dtype(df[c]) and (df[c] == cols).any()
    ]
    return hits[0] if len(hits) == 1 else None


def _row_frame(item: Any) -> pd.DataFrame:
    if isinstance(item, pd.DataFrame):
        if len(item) != 1:
            raise ValueError(
                f"predict takes one row, got a DataFrame with {len(item)} rows; use learn.predict_df(df) for many"
            )
        return item
    if isinstance(item, pd.Series):
        return item.to_frame().T
    if isinstance(item, dict):
        return pd.DataFrame([item])
    raise TypeError(
        f"predict needs one row as a pandas Series (e.g. df.iloc[0]), a dict or a one-row DataFrame, "
        f"got {type(item).__name__}"
    )

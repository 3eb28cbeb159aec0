"""Tabular data: ``TabularList`` in the data-block chain, its processor, and ``TabularDataBunch``.

``TabularList.from_df(df, cat_names=..., cont_names=..., procs=[FillMissing, Categorify, Normalize])``
``.split_by_idx(...).label_from_df(cols=dep_var).databunch()``

The items are row positions in the DataFrame. Labelling fits the procs on the training rows
(:class:`TabularProcessor`) and turns every split into two contiguous arrays: ``codes``
(int64, one column per categorical, 0 = ``#na#``) and ``conts`` (float32). Batches are slices
of those arrays (``core.TensorLoader``), ``xb = (cats, conts)``; no per-row Python objects.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.data import DataBunch
from ..core.data_block import ItemList, ItemLists, LabelLists, PreProcessor
from .transform import NA_CATEGORY, Categorify, TabularProc

__all__ = ["TabularProcessor", "TabularList", "TabularItemLists", "TabularLine", "TabularDataBunch"]


class TabularProcessor(PreProcessor):
    """Fits the procs on the training rows, then turns any rows into ``(codes, conts)`` arrays.

    Its state (input names, each proc's JSON state, output names, the classes of each
    categorical column with ``#na#`` first) is what ``learn.export()`` saves.
    """

    state_attrs = ("cat_names", "cont_names", "proc_states", "out_cat_names", "out_cont_names", "classes")

    def __init__(self):
        super().__init__()
        self.cat_names: list[str] = []
        self.cont_names: list[str] = []
        self.proc_states: list[dict] = []
        self.out_cat_names: list[str] = []
        self.out_cont_names: list[str] = []
        self.classes: dict[str, list] = {}

    @cached_property
    def procs_(self) -> list[TabularProc]:
        """The fitted procs (rebuilt from ``proc_states`` after loading)."""
        return [TabularProc.from_state(s) for s in self.proc_states]

    def _fit(self, items: TabularList) -> None:
        df = items.inner_df
        cats = list(items.cat_names or [])
        conts = resolve_cont_names(df, cats, items.cont_names, exclude=())
        self.cat_names, self.cont_names = list(cats), list(conts)
        work = prepare_frame(df, cats, conts, "the training rows")
        for kind, names in (("cat_names", cats), ("cont_names", conts)):
            empty = [n for n in names if not work[n].notna().any()]
            if empty:
                raise ValueError(
                    f"{kind} column(s) {empty} are entirely missing (NaN) in the {len(work)} training rows; "
                    f"drop them from {kind} or fill them before building the data"
                )
        procs = []
        for spec in list(items.procs or []):
            proc = _make_proc(spec, cats, conts)
            proc.fit(work)
            work = proc.apply(work, train=True)
            cats += [n for n in proc.cat_names if n not in cats]
            conts += [n for n in proc.cont_names if n not in conts]
            procs.append(proc)
        raw = [n for n in cats if not isinstance(work[n].dtype, pd.CategoricalDtype)]
        if raw:  # categorical inputs must end up encoded, even without Categorify in procs
            proc = Categorify(raw, []).fit(work)
            work = proc.apply(work, train=True)
            procs.append(proc)
        self.out_cat_names, self.out_cont_names = cats, conts
        self.classes = {n: [NA_CATEGORY, *work[n].cat.categories.tolist()] for n in cats}
        self.proc_states = [p.state() for p in procs]
        self.__dict__["procs_"] = procs
        # the training rows were just transformed; keep the result for process() instead of redoing it
        items._fit_arrays = self._finish(work)

    def process(self, items: TabularList) -> None:
        arrays = items.__dict__.pop("_fit_arrays", None)
        if arrays is None:
            work = prepare_frame(items.inner_df, self.cat_names, self.cont_names, "these rows")
            for proc in self.procs_:
                work = proc.apply(work, train=False)
            arrays = self._finish(work)
        items.codes, items.conts = arrays
        items.cat_names, items.cont_names = list(self.out_cat_names), list(self.out_cont_names)
        items.classes = self.classes

    def _finish(self, work: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        n = len(work)
        codes = np.empty((n, len(self.out_cat_names)), dtype=np.int64)
        for j, name in enumerate(self.out_cat_names):
            codes[:, j] = work[name].cat.codes.to_numpy() + 1  # -1 (missing/unseen) -> 0 = #na#
        conts = np.empty((n, len(self.out_cont_names)), dtype=np.float32)
        for j, name in enumerate(self.out_cont_names):
            conts[:, j] = work[name].to_numpy(np.float32)
        bad = [n for j, n in enumerate(self.out_cont_names) if not np.isfinite(conts[:, j]).all()]
        if bad:
            raise ValueError(
                f"continuous column(s) {bad} still hold NaN or infinite values after the procs; "
                "add FillMissing to procs (e.g. procs=[FillMissing, Categorify, Normalize]) or clean them"
            )
        return codes, conts


class TabularLine:
    """One processed row: decoded categories and (normalised) continuous values."""

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
        cat_names = _check_names(df, cat_names, "cat_names")
        cont_names = None if cont_names is None else _check_names(df, cont_names, "cont_names")
        both = sorted(set(cat_names) & set(cont_names or []))
        if both:
            raise ValueError(f"column(s) {both} are in both cat_names and cont_names; keep each in one list")
        procs = _check_procs(procs)
        df = df.reset_index(drop=True)  # positions are the items (copy-on-write: no data copied)
        return cls(np.arange(len(df)), cat_names, cont_names, procs, path=path, inner_df=df, **kwargs)

    @classmethod
    def from_csv(
        cls, path: str | Path, csv_name: str, cat_names=None, cont_names=None, procs=None, **read_kw
    ):
        """A TabularList over ``path/csv_name`` (``read_kw`` go to ``pd.read_csv``)."""
        f = Path(path) / csv_name
        if not f.is_file():
            raise FileNotFoundError(
                f"from_csv: no file {f}; check path={str(path)!r} and csv_name={csv_name!r}"
            )
        return cls.from_df(pd.read_csv(f, **read_kw), path, cat_names, cont_names, procs)

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

    def item_to_batch(self, item: Any, lls: LabelLists) -> tuple[torch.Tensor, torch.Tensor]:
        """One row (a Series such as ``df.iloc[0]``, a dict, or a one-row DataFrame) as a batch of 1."""
        df = _row_frame(item)
        return self.rows_to_tensors(df)

    def rows_to_tensors(self, df: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """Any new rows, processed with the fitted procs, as ``(cats, conts)`` tensors."""
        if self.processor is None:
            raise ValueError("this TabularList has no fitted processor; label the data first")
        rows = self.new(np.arange(len(df)), inner_df=df.reset_index(drop=True))
        self.processor.process(rows)
        return rows.to_tensors()

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
    """Train/valid TabularLists; ``label_from_df`` adds the checks tabular data needs."""

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
    """A DataBunch of tabular data; :meth:`from_df` is the one-call form of the data-block chain."""

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
        data = lls.databunch(bs=bs, val_bs=val_bs, device=device, **kwargs)
        out = cls(
            data.train_dl, data.valid_dl, data.test_dl, device=data.device, path=data.path, label_lists=lls
        )
        out._kwargs = data._kwargs
        return out


# -- checks and helpers --------------------------------------------------------------------


def resolve_cont_names(
    df: pd.DataFrame,
    cat_names: Sequence[str],
    cont_names: Sequence[str] | None,
    exclude: Sequence[str],
    warn=False,
) -> list[str]:
    """``cont_names`` as given, or (when None) the numeric columns not in cat_names nor ``exclude``."""
    if cont_names is not None:
        return list(cont_names)
    rest = [c for c in df.columns if c not in cat_names and c not in exclude]
    numeric = [
        c for c in rest if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
    ]
    unused = [c for c in rest if c not in numeric]
    if unused and warn:
        warnings.warn(
            f"cont_names was not given, so the numeric columns {numeric} are used; the column(s) {unused} are "
            "not numbers and are not used (list them in cat_names to use them)",
            stacklevel=4,
        )
    return numeric


def prepare_frame(
    df: pd.DataFrame, cat_names: Sequence[str], cont_names: Sequence[str], where: str
) -> pd.DataFrame:
    """The input columns of ``df``, with continuous ones as float64 (strings there are an error)."""
    missing = [n for n in (*cat_names, *cont_names) if n not in df.columns]
    if missing:
        kind = "cat_names" if missing[0] in cat_names else "cont_names"
        raise KeyError(
            f"{where} have no column {missing[0]!r} (listed in {kind}){_close(missing[0], df.columns)}; "
            f"columns present: {list(df.columns)[:30]}"
        )
    work = df[[*cat_names, *cont_names]]
    for name in cont_names:
        work[name] = _as_float(work[name], name)
    return work


def _as_float(col: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_float_dtype(col) and col.dtype == np.float64:
        return col
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return col.astype(np.float64)
    if isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_datetime64_any_dtype(col):
        raise TypeError(
            f"cont_names column {name!r} has dtype {col.dtype}, not numbers; convert it or list it in cat_names"
        )
    num = pd.to_numeric(col, errors="coerce")
    bad = num.isna().to_numpy() & col.notna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise TypeError(
            f"cont_names column {name!r} holds text that is not a number: {col.iloc[pos]!r} (row {pos}, "
            f"{int(bad.sum())} such value(s)); clean it, e.g. df[{name!r}] = pd.to_numeric(df[{name!r}], "
            "errors='coerce'), or list the column in cat_names"
        )
    return num.astype(np.float64)


def _close(name: Any, columns: Iterable) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in columns], n=3, cutoff=0.6)
    return f"; did you mean {close}?" if close else ""


def _check_names(df: pd.DataFrame, names: Sequence[str] | None, arg: str) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        raise TypeError(f"{arg} must be a list of column names, got the string {names!r}; use [{names!r}]")
    names = list(names)
    for n in names:
        if n not in df.columns:
            raise KeyError(f"{arg} has {n!r}, but the DataFrame has no such column{_close(n, df.columns)}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{arg} lists {dup} more than once; list each column once")
    return names


def _check_procs(procs: Any) -> list:
    if procs is None:
        return []
    if isinstance(procs, type) or isinstance(procs, TabularProc) or not isinstance(procs, (list, tuple)):
        procs = [procs]
    for p in procs:
        is_class = isinstance(p, type)
        ok = issubclass(p, TabularProc) if is_class else isinstance(p, TabularProc) or callable(p)
        if not ok:
            raise TypeError(
                f"procs must hold TabularProc classes such as FillMissing, Categorify, Normalize "
                f"(or partials/instances of them), got {p!r}"
            )
    return list(procs)


def _make_proc(spec: Any, cat_names: list[str], cont_names: list[str]) -> TabularProc:
    """A fresh proc from a class/partial (given the current names) or a user's unfitted instance."""
    if isinstance(spec, TabularProc):
        proc = spec
        if not proc.cat_names and not proc.cont_names:
            proc.cat_names, proc.cont_names = list(cat_names), list(cont_names)
    else:
        proc = spec(list(cat_names), list(cont_names))
    if not isinstance(proc, TabularProc):
        raise TypeError(f"procs entry {spec!r} built {type(proc).__name__}, not a TabularProc")
    return proc


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
                f"label_from_df: cols={c!r} is not a column of the DataFrame{_close(c, df.columns)}"
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

"""Fitting the procs on training rows and turning any rows into ``(codes, conts)`` arrays.

:class:`TabularProcessor` is the ``processor_cls`` of :class:`~emberfit.tabular.data.TabularList`:
the data-block chain fits it on the training split when the data are labelled, then applies it
to validation, test and predict-time rows. Its state is JSON (names, each proc's state, the
classes of every categorical column), which is what ``learn.export()`` stores.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.checks import INF_FIX, inf_by_column
from ..core.data_block.items import ItemList
from ..core.data_block.processor import PreProcessor
from ..core.registry import register
from .num_embeddings import fit_cont_bins, fit_cont_values
from .procs import NA_CATEGORY, Categorify, TabularProc, make_proc

__all__ = ["TabularProcessor", "resolve_cont_names", "prepare_frame", "did_you_mean"]


@register("processor", "tabular.TabularProcessor")
class TabularProcessor(PreProcessor):
    """Fits the procs on the training rows, then turns any rows into ``(codes, conts)`` arrays.

    Its state (input names, each proc's JSON state, output names, the classes of each
    categorical column with ``#na#`` first) is what ``learn.export()`` saves. The items it
    fits and processes are TabularLists (typed as ItemList here, so this module needs no
    import of :mod:`emberfit.tabular.data`, which imports it).

    >>> df = pd.DataFrame({"c": ["a", "b", None, "a"], "x": [1.0, None, 3.0, 4.0], "y": [0, 1, 0, 1]})
    >>> data = (TabularList.from_df(df, cat_names=["c"], cont_names=["x"], procs=[FillMissing, Categorify, Normalize])
    ...         .split_none().label_from_df(cols="y").databunch(bs=2, device="cpu"))
    >>> proc = data.processor  # fitted on the training rows when the data were labelled
    >>> proc.out_cat_names, proc.out_cont_names, proc.classes["c"]
    (['c', 'x_na'], ['x'], ['#na#', 'a', 'b'])
    >>> cats, conts = proc.rows_to_tensors(pd.DataFrame({"c": ["b", None], "x": [None, 3.0]}))
    >>> cats.tolist(), conts.shape  # 'b' -> 2, missing -> 0 (#na#); x_na: False -> 1, True -> 2
    ([[2, 2], [0, 1]], torch.Size([2, 1]))
    """

    state_attrs = (
        "cat_names",
        "cont_names",
        "proc_states",
        "out_cat_names",
        "out_cont_names",
        "classes",
        "cont_bins",
        "cont_values",
    )
    # files written before the bins / values were kept load without them
    state_defaults = {"cont_bins": None, "cont_values": None}

    def __init__(self):
        super().__init__()
        self.cat_names: list[str] = []
        self.cont_names: list[str] = []
        self.proc_states: list[dict] = []
        self.out_cat_names: list[str] = []
        self.out_cont_names: list[str] = []
        self.classes: dict[str, list] = {}
        # PLE bin edges of each output continuous column, from the processed training rows
        self.cont_bins: dict[str, list[float]] | None = None
        # the kept exact values of the spiky continuous columns, for value codes
        self.cont_values: dict[str, list[float]] | None = None

    @cached_property
    def procs_(self) -> list[TabularProc]:
        """The fitted procs (rebuilt from ``proc_states`` after loading)."""
        return [TabularProc.from_state(s) for s in self.proc_states]

    def _restored(self) -> None:
        _ = self.procs_  # rebuild the procs now: a bad proc state fails at load, not at predict

    def _fit(self, items: ItemList) -> None:
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
            proc = make_proc(spec, cats, conts)
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
        self.cont_bins = fit_cont_bins(conts, items._fit_arrays[1])  # for cont_emb='ple'
        self.cont_values = fit_cont_values(conts, items._fit_arrays[1])  # for value_emb=True

    def process(self, items: ItemList) -> None:
        arrays = items.__dict__.pop("_fit_arrays", None)
        if arrays is None:
            arrays = self._transform(items.inner_df)
        items.codes, items.conts = arrays
        items.cat_names, items.cont_names = list(self.out_cat_names), list(self.out_cont_names)
        items.classes = self.classes

    def rows_to_tensors(self, df: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """Any new rows, processed with the fitted procs, as ``(cats, conts)`` tensors."""
        codes, conts = self._transform(df.reset_index(drop=True))
        return torch.from_numpy(codes), torch.from_numpy(conts)

    def _transform(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Rows other than the training ones through the fitted procs, as ``(codes, conts)`` arrays."""
        work = prepare_frame(df, self.cat_names, self.cont_names, "these rows")
        for proc in self.procs_:
            work = proc.apply(work, train=False)
        return self._finish(work)

    def _finish(self, work: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        n = len(work)
        codes = np.empty((n, len(self.out_cat_names)), dtype=np.int64)
        for j, name in enumerate(self.out_cat_names):
            codes[:, j] = work[name].cat.codes.to_numpy() + 1  # -1 (missing/unseen) -> 0 = #na#
        conts = np.empty((n, len(self.out_cont_names)), dtype=np.float32)
        for j, name in enumerate(self.out_cont_names):
            conts[:, j] = work[name].to_numpy(np.float32)
        finite = np.isfinite(conts).all(axis=0)
        bad = [n for n, ok in zip(self.out_cont_names, finite) if not ok]
        if bad:
            raise ValueError(
                f"continuous column(s) {bad} still hold NaN or infinite values after the procs; "
                "add FillMissing to procs (e.g. procs=[FillMissing, Categorify, Normalize]) or clean them"
            )
        return codes, conts


# -- helpers --------------------------------------------------------------------------------


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
            f"{where} have no column {missing[0]!r} (listed in {kind}){did_you_mean(missing[0], df.columns)}; "
            f"columns present: {list(df.columns)[:30]}"
        )
    work = df[[*cat_names, *cont_names]]
    for name in cont_names:
        work[name] = _as_float(work[name], name)
    inf = inf_by_column(work, list(cont_names))
    if inf:  # FillMissing handles NaN only; inf would reach Normalize and the model
        listing = ", ".join(f"{n!r} ({c} row{'s' if c > 1 else ''})" for n, c in inf.items())
        raise ValueError(
            f"cont_names column(s) hold infinite values (inf/-inf) in {where}: {listing}. FillMissing fills "
            f"NaN, not inf: replace them with NaN first, e.g. {INF_FIX.format(col=next(iter(inf)))}"
        )
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


def did_you_mean(name: Any, columns: Iterable) -> str:
    """``"; did you mean [...]?"`` naming the columns close to ``name``, or ``""`` when none is."""
    close = difflib.get_close_matches(str(name), [str(c) for c in columns], n=3, cutoff=0.6)
    return f"; did you mean {close}?" if close else ""

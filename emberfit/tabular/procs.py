"""Tabular preprocessing: ``FillMissing``, ``Categorify`` and ``Normalize``.

A proc is fitted once on the training rows (``fit``) and then applied unchanged to any rows
(``apply``, which returns a new frame): training, validation, test, or a single row at predict
time. What it learned is explicit, ends in ``_`` (``fill_vals_``, ``categories_``, ``means_``...),
and is plain JSON (``state()`` / ``TabularProc.from_state``), so exported learners need no pickle.

fastai v1's calls work as they did there: ``proc(train_df)`` fits and transforms ``train_df`` **in
place**, ``proc(test_df, test=True)`` (or ``apply_test``) transforms it in place with the training
state, ``apply_train`` fits and transforms; the fitted state reads under v1's names too
(``FillMissing.na_dict``, ``Categorify.categories``, ``Normalize.means`` / ``stds``).

Procs work column by column with pandas/NumPy (no Python loop over rows), so a million rows
take about a second. The lesson's order ``[FillMissing, Categorify, Normalize]`` matters:
the ``<col>_na`` columns FillMissing adds are categorical, so Categorify encodes them.

>>> df = pd.DataFrame({"a": [1.0, None, 3.0], "c": ["x", "y", "x"]})
>>> fm = FillMissing(cat_names=["c"], cont_names=["a"]).fit(df)
>>> fm.apply(df)["a"].tolist(), fm.cat_names
([1.0, 2.0, 3.0], ['c', 'a_na'])
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core.registry import check_json, lookup, register, registered_name

__all__ = ["FillStrategy", "TabularProc", "FillMissing", "Categorify", "Normalize"]

NA_CATEGORY = "#na#"  # code 0 of every categorical column: missing, or not seen in training


class FillStrategy(enum.Enum):
    """How :class:`FillMissing` fills a continuous column: its training median, mode, or a constant.

    >>> df = pd.DataFrame({"a": [1.0, 1.0, 2.0, 8.0, None]})
    >>> [s.value for s in FillStrategy]
    ['median', 'common', 'constant']
    >>> [FillMissing(cont_names=["a"], fill_strategy=s, fill_val=-1.0).fit(df).fill_vals_["a"] for s in FillStrategy]
    [1.5, 1.0, -1.0]
    >>> FillMissing(cont_names=["a"], fill_strategy="common").fill_strategy  # a string works too
    <FillStrategy.COMMON: 'common'>
    """

    MEDIAN = "median"
    COMMON = "common"
    CONSTANT = "constant"


class TabularProc:
    """Base class of the procs: ``fit(df)`` on training rows, then ``apply(df, train=False)`` anywhere.

    Subclasses implement ``_fit(df)`` and ``_apply(df, train)`` and list their fitted,
    JSON-able attributes in ``state_attrs``. ``cat_names`` / ``cont_names`` after ``fit`` are
    the names the proc hands on to the next one (FillMissing adds ``<col>_na`` columns).

    >>> train = pd.DataFrame({"a": [1.0, None, 3.0]})
    >>> fm = FillMissing(cont_names=["a"]).fit(train)  # learn from the training rows only
    >>> isinstance(fm, TabularProc), fm.cat_names  # the names handed on: FillMissing adds a_na
    (True, ['a_na'])
    >>> fm.apply(pd.DataFrame({"a": [None, 5.0]}))["a"].tolist()  # any later rows: the training median
    [2.0, 5.0]
    >>> TabularProc.from_state(fm.state()).fill_vals_  # JSON state, what learn.export() stores
    {'a': 2.0}
    """

    state_attrs: tuple[str, ...] = ()
    init_attrs: tuple[str, ...] = ()  # constructor settings, saved alongside the fitted state

    def __init__(self, cat_names: Sequence[str] | None = None, cont_names: Sequence[str] | None = None):
        self.cat_names = list(cat_names or [])
        self.cont_names = list(cont_names or [])
        self.fitted = False

    def fit(self, df: pd.DataFrame) -> TabularProc:
        """Learn this proc's statistics from the training rows ``df``; returns ``self``."""
        self._fit(_frame(df, "fit"))
        self.fitted = True
        return self

    def apply(self, df: pd.DataFrame, train: bool = False) -> pd.DataFrame:
        """The rows ``df`` transformed with the fitted state (a new frame; ``df`` is not modified)."""
        self._check_fitted()
        return self._apply(_frame(df, "apply").copy(deep=False), train)

    def __call__(self, df: pd.DataFrame, test: bool = False) -> None:
        """fastai v1 style, in place: fit on ``df`` and transform it, or (``test=True``) only transform it.

        Returns None, as in v1; ``df`` itself holds the result. (:meth:`apply` returns a new frame.)
        """
        (self.apply_test if test else self.apply_train)(df)

    def apply_train(self, df: pd.DataFrame) -> None:
        """fastai v1: fit on the training rows ``df`` and transform them in place."""
        self.fit(_frame(df, "apply_train"))
        self._apply(df, True)

    def apply_test(self, df: pd.DataFrame) -> None:
        """fastai v1: transform ``df`` (validation or test rows) in place with the fitted state."""
        self._check_fitted()
        self._apply(_frame(df, "apply_test"), False)

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise ValueError(
                f"this {type(self).__name__} is not fitted yet; call .fit(train_df) on the training rows first"
            )

    def _fit(self, df: pd.DataFrame) -> None:
        pass

    def _apply(self, df: pd.DataFrame, train: bool) -> pd.DataFrame:
        return df

    def state(self) -> dict:
        """The proc as JSON: its class, names, settings and fitted state."""
        out = {"cls": registered_name(self), "cat_names": self.cat_names, "cont_names": self.cont_names}
        for a in (*self.init_attrs, *self.state_attrs):
            v = getattr(self, a)
            out[a] = v.value if isinstance(v, enum.Enum) else v
        return out

    @staticmethod
    def from_state(state: dict) -> TabularProc:
        """Rebuild a fitted proc from :meth:`state` (only emberfit classes are resolved)."""
        if not isinstance(state, dict):
            raise ValueError(f"a tabular proc's state must be a JSON object, got {type(state).__name__}")
        cls = lookup(state.get("cls"), "tabular_proc", "procs[].cls")
        check_json(state, "procs[]")
        proc = cls.__new__(cls)
        TabularProc.__init__(proc, state["cat_names"], state["cont_names"])
        for a in (*cls.init_attrs, *cls.state_attrs):
            setattr(proc, a, state[a])
        proc._restore()
        proc.fitted = True
        return proc

    def _restore(self) -> None:
        """Turn JSON values back into their Python types after :meth:`from_state`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cat_names={self.cat_names}, cont_names={self.cont_names}, fitted={self.fitted})"


@register("tabular_proc", "tabular.FillMissing")
class FillMissing(TabularProc):
    """Fill NaNs in continuous columns with a training statistic and flag them in ``<col>_na``.

    For each continuous column that has NaNs in the training rows, ``add_col`` adds a boolean
    ``<col>_na`` column (appended to ``cat_names``, so Categorify encodes it). A column with no
    NaN in training that has some later is filled with its training statistic and reported
    in a warning (the model has no ``_na`` input for it).

    >>> fm = FillMissing(cont_names=["a"], fill_strategy=FillStrategy.CONSTANT, fill_val=-1.0)
    >>> fm.fit(pd.DataFrame({"a": [1.0, None]})).fill_vals_
    {'a': -1.0}
    >>> df = pd.DataFrame({"a": [1.0, None, 5.0]}); fm = FillMissing([], ["a"]); fm(df)  # v1: in place
    >>> df["a"].tolist(), df["a_na"].tolist(), fm.na_dict
    ([1.0, 3.0, 5.0], [False, True, False], {'a': 3.0})
    """

    state_attrs = ("fill_vals_", "had_na_", "na_cols_")
    init_attrs = ("fill_strategy", "add_col", "fill_val")

    def __init__(
        self,
        cat_names: Sequence[str] | None = None,
        cont_names: Sequence[str] | None = None,
        fill_strategy: FillStrategy | str = FillStrategy.MEDIAN,
        add_col: bool = True,
        fill_val: float = 0.0,
    ):
        super().__init__(cat_names, cont_names)
        self.fill_strategy = _strategy(fill_strategy)
        self.add_col, self.fill_val = bool(add_col), float(fill_val)
        self.fill_vals_: dict[str, float] = {}
        self.had_na_: list[str] = []  # columns with NaN in the training rows
        self.na_cols_: list[str] = []  # those that get a <col>_na indicator (add_col)

    def _restore(self) -> None:
        self.fill_strategy = _strategy(self.fill_strategy)

    @property
    def na_dict(self) -> dict[str, float]:
        """fastai v1's name: the fill value of each column that had NaNs in the training rows."""
        return {name: self.fill_vals_[name] for name in self.had_na_}

    def _fit(self, df: pd.DataFrame) -> None:
        self.fill_vals_, self.had_na_ = {}, []
        for name in self.cont_names:
            col = df[name]
            if self.fill_strategy is FillStrategy.MEDIAN:
                val = col.median()
            elif self.fill_strategy is FillStrategy.COMMON:
                val = col.mode(dropna=True).iloc[0] if col.notna().any() else np.nan
            else:
                val = self.fill_val
            if pd.isna(val):
                raise ValueError(
                    f"FillMissing: continuous column {name!r} has no values in the training rows, so there is "
                    "nothing to fill it with; drop it from cont_names or use fill_strategy=FillStrategy.CONSTANT"
                )
            self.fill_vals_[name] = float(val)
            if col.isna().any():
                self.had_na_.append(name)
        self.na_cols_ = list(self.had_na_) if self.add_col else []
        clash = [f"{n}_na" for n in self.na_cols_ if f"{n}_na" in (*self.cat_names, *self.cont_names)]
        if clash:
            raise ValueError(
                f"FillMissing wants to add the column(s) {clash}, but they are already inputs; "
                "rename them or use FillMissing with add_col=False"
            )
        self.cat_names = self.cat_names + [f"{n}_na" for n in self.na_cols_]

    def _apply(self, df: pd.DataFrame, train: bool) -> pd.DataFrame:
        surprises = []
        for name in self.fill_vals_:
            col = df[name]
            isna = col.isna()
            n_na = int(isna.sum())
            if name in self.na_cols_:
                df[f"{name}_na"] = isna.to_numpy()
            if n_na:
                df[name] = col.fillna(self.fill_vals_[name])
                if name not in self.had_na_ and not train:
                    surprises.append(f"{name!r}: {n_na}")
        if surprises:
            warnings.warn(
                "FillMissing: NaN in column(s) that had none in the training rows, filled with the training "
                f"{self.fill_strategy.value} value (count per column: {', '.join(surprises)})",
                stacklevel=4,
            )
        return df


@register("tabular_proc", "tabular.Categorify")
class Categorify(TabularProc):
    """Encode categorical columns with the categories seen in training; 0 is ``#na#``.

    Categories are sorted. Values missing or not seen in training get code 0 (``#na#``);
    unseen ones are counted in a warning. After ``apply`` the columns are pandas categoricals
    (the processor takes ``codes + 1``).

    >>> c = Categorify(cat_names=["c"]).fit(pd.DataFrame({"c": ["b", "a", "b"]}))
    >>> c.categories_, c.apply(pd.DataFrame({"c": ["a", "z"]}))["c"].cat.codes.tolist()
    ({'c': ['a', 'b']}, [0, -1])
    >>> df = pd.DataFrame({"c": ["b", "a", "b"]}); c = Categorify(["c"], []); c(df)  # v1: in place
    >>> df["c"].cat.codes.tolist(), list(c.categories["c"])
    ([1, 0, 1], ['a', 'b'])
    """

    state_attrs = ("categories_",)

    def __init__(self, cat_names: Sequence[str] | None = None, cont_names: Sequence[str] | None = None):
        super().__init__(cat_names, cont_names)
        self.categories_: dict[str, list] = {}

    @property
    def categories(self) -> dict[str, pd.Index]:
        """fastai v1's name: the training categories of each column, as pandas Indexes (``#na#`` not included)."""
        return {name: pd.Index(cats) for name, cats in self.categories_.items()}

    def _fit(self, df: pd.DataFrame) -> None:
        self.categories_ = {name: _sorted_categories(df[name]) for name in self.cat_names}

    def _apply(self, df: pd.DataFrame, train: bool) -> pd.DataFrame:
        unseen = []
        for name, cats in self.categories_.items():
            col = df[name]
            index = pd.Index(cats)
            codes = index.get_indexer(col)
            if not train:
                new = (codes < 0) & col.notna().to_numpy()
                if new.any():
                    example = col[new].iloc[0]
                    unseen.append(f"{name!r}: {int(new.sum())} (e.g. {example!r})")
            df[name] = pd.Categorical.from_codes(codes, categories=index)
        if unseen:
            warnings.warn(
                f"Categorify: values not seen in training were mapped to {NA_CATEGORY} "
                f"(count per column: {', '.join(unseen)})",
                stacklevel=4,
            )
        return df


@register("tabular_proc", "tabular.Normalize")
class Normalize(TabularProc):
    """Scale continuous columns to ``(x - mean) / (1e-7 + std)`` with training mean and std (ddof=1).

    A constant training column (std 0) is only centred, so new values cannot blow up.

    >>> n = Normalize(cont_names=["a"]).fit(pd.DataFrame({"a": [1.0, 3.0]}))
    >>> n.apply(pd.DataFrame({"a": [2.0]}))["a"].round(4).tolist()
    [0.0]
    >>> df = pd.DataFrame({"a": [1.0, 3.0]}); n = Normalize([], ["a"]); n(df)  # v1: in place
    >>> [round(float(v), 4) for v in df["a"]], n.means, round(n.stds["a"], 4)
    ([-0.7071, 0.7071], {'a': 2.0}, 1.4142)
    """

    state_attrs = ("means_", "stds_")

    def __init__(self, cat_names: Sequence[str] | None = None, cont_names: Sequence[str] | None = None):
        super().__init__(cat_names, cont_names)
        self.means_: dict[str, float] = {}
        self.stds_: dict[str, float] = {}

    @property
    def means(self) -> dict[str, float]:
        """fastai v1's name for ``means_``: the training mean of each continuous column."""
        return self.means_

    @property
    def stds(self) -> dict[str, float]:
        """fastai v1's name for ``stds_``: the training standard deviation (ddof=1) of each continuous column."""
        return self.stds_

    def _fit(self, df: pd.DataFrame) -> None:
        self.means_, self.stds_ = {}, {}
        for name in self.cont_names:
            col = df[name]
            if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                raise TypeError(f"Normalize: column {name!r} has dtype {col.dtype}, expected numbers")
            self.means_[name] = float(col.mean())
            std = col.std(ddof=1)
            self.stds_[name] = float(std) if np.isfinite(std) and std > 0 else 1.0

    def _apply(self, df: pd.DataFrame, train: bool) -> pd.DataFrame:
        for name, mean in self.means_.items():
            df[name] = ((df[name].to_numpy(np.float64) - mean) / (1e-7 + self.stds_[name])).astype(np.float32)
        return df


def check_procs(procs: Any) -> list:
    """The ``procs`` argument as a list, refusing anything that is not a proc class, partial or instance."""
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


def make_proc(spec: Any, cat_names: list[str], cont_names: list[str]) -> TabularProc:
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


# -- helpers -----------------------------------------------------------------------------


def _frame(df: Any, where: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{where} needs a pandas DataFrame, got {type(df).__name__}")
    return df


def _strategy(s: Any) -> FillStrategy:
    if isinstance(s, FillStrategy):
        return s
    try:
        return FillStrategy(str(s).lower())
    except ValueError:
        raise ValueError(
            f"fill_strategy must be FillStrategy.MEDIAN, COMMON or CONSTANT, got {s!r}"
        ) from None


def _py(v: Any) -> Any:
    """NumPy scalars -> Python scalars, so categories are JSON-able."""
    return v.item() if isinstance(v, np.generic) else v


def _sorted_categories(col: pd.Series) -> list:
    """Distinct non-missing values, sorted (by type, then text, when types are mixed)."""
    uniq = [_py(v) for v in col.unique() if not pd.isna(v)]  # unique first: dropna would copy the column
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=lambda v: (type(v).__name__, str(v)))

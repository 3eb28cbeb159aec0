"""fastai v1's DataFrame helpers for tabular data: ``cont_cat_split``, ``add_datepart``,
``add_cyclic_datepart`` and ``series2cat``.

As in v1 they work on the frame **in place** (``add_datepart`` / ``add_cyclic_datepart`` also
return it, ``series2cat`` returns None), column by column with pandas (no loop over rows).

>>> df = pd.DataFrame({"saledate": ["2019-03-31", "2020-01-01"], "price": [1.5, 2.0]})
>>> add_datepart(df, "saledate")[["saleYear", "saleMonth", "saleIs_month_end"]].values.tolist()
[[2019, 3, True], [2020, 1, False]]
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from .processor import did_you_mean

__all__ = ["cont_cat_split", "add_datepart", "add_cyclic_datepart", "series2cat"]

_DATE_ATTRS = (
    "Year", "Month", "Week", "Day", "Dayofweek", "Dayofyear", "Is_month_end", "Is_month_start",
    "Is_quarter_end", "Is_quarter_start", "Is_year_end", "Is_year_start",
)  # fmt: skip
_TIME_ATTRS = ("Hour", "Minute", "Second")
_PANDAS_NAMES = {"Dayofweek": "day_of_week", "Dayofyear": "day_of_year"}  # pandas' current names


def cont_cat_split(df: pd.DataFrame, max_card: int = 20, dep_var: str | None = None) -> tuple[list, list]:
    """``(cont_names, cat_names)`` of ``df``, as fastai v1 split them.

    A float column is continuous, and so is an integer column with more than ``max_card``
    distinct values; every other column (text, bool, dates, small-cardinality integers) is
    categorical. ``dep_var``, the target, is in neither list.

    >>> df = pd.DataFrame({"age": range(30), "n_kids": [0, 1, 2] * 10, "job": ["a", "b", "c"] * 10,
    ...                    "income": np.linspace(0, 1, 30), "y": [0, 1] * 15})
    >>> cont_cat_split(df, max_card=20, dep_var="y")
    (['age', 'income'], ['n_kids', 'job'])
    """
    _check_frame(df, "cont_cat_split")
    if isinstance(max_card, bool) or not isinstance(max_card, (int, np.integer)) or max_card < 0:
        raise ValueError(f"cont_cat_split: max_card must be a non-negative int, got {max_card!r}")
    if dep_var is not None and dep_var not in df.columns:
        raise KeyError(
            f"cont_cat_split: dep_var={dep_var!r} is not a column of the DataFrame{did_you_mean(dep_var, df.columns)}; "
            "pass dep_var=None for a frame without the target"
        )
    cont_names, cat_names = [], []
    for name in df.columns:
        if name == dep_var:
            continue
        col = df[name]
        is_int = pd.api.types.is_integer_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if pd.api.types.is_float_dtype(col) or (is_int and col.nunique() > max_card):
            cont_names.append(name)
        else:
            cat_names.append(name)
    return cont_names, cat_names


def add_datepart(
    df: pd.DataFrame, field_name: str, prefix: str | None = None, drop: bool = True, time: bool = False
) -> pd.DataFrame:
    """Add the parts of the date in column ``field_name`` as columns of ``df`` (in place; returns ``df``).

    The new columns are ``prefix`` + Year, Month, Week (ISO week), Day, Dayofweek (Monday=0),
    Dayofyear, Is_month_end, Is_month_start, Is_quarter_end, Is_quarter_start, Is_year_end,
    Is_year_start, with ``time=True`` also Hour, Minute, Second, and Elapsed (seconds since
    1970-01-01). ``prefix`` defaults to the column name without a final 'Date'/'date';
    ``drop=True`` removes the date column. Text dates are parsed with ``pd.to_datetime``.
    A missing date gives missing parts (and a float Elapsed with NaN).

    >>> df = pd.DataFrame({"Date": pd.to_datetime(["2015-07-31 13:45:10"])})
    >>> add_datepart(df, "Date", time=True)[["Year", "Week", "Dayofweek", "Hour", "Elapsed"]].values.tolist()
    [[2015, 31, 4, 13, 1438350310]]
    """
    field = _date_column(df, field_name, "add_datepart")
    prefix = _prefix(field_name, prefix, "add_datepart")
    parts = {}
    for attr in (*_DATE_ATTRS, *(_TIME_ATTRS if time else ())):
        if attr == "Week":
            week = field.dt.isocalendar().week
            parts[attr] = week.astype(np.int64) if not week.isna().any() else week.astype("float64")
        else:
            parts[attr] = getattr(field.dt, _PANDAS_NAMES.get(attr, attr.lower()))
    parts["Elapsed"] = _elapsed_seconds(field)
    for attr, values in parts.items():
        df[prefix + attr] = values
    if drop:
        del df[field_name]
    return df


def add_cyclic_datepart(
    df: pd.DataFrame,
    field_name: str,
    prefix: str | None = None,
    drop: bool = True,
    time: bool = False,
    add_linear: bool = False,
) -> pd.DataFrame:
    """Add cos/sin features of the date's cycles in column ``field_name`` (in place; returns ``df``).

    Each cycle is a fraction ``r`` of a turn, and gives ``cos(2*pi*r)`` and ``sin(2*pi*r)``:
    weekday (``weekday/7``), day_month (``(day-1)/days in the month``), month_year
    (``(month-1)/12``), day_year (``(dayofyear-1)/days in the year``); with ``time=True`` also
    hour (``hour/24``), clock (``hour%12/12``), min (``minute/60``) and sec (``second/60``).
    The columns are named ``prefix + 'weekday_cos'``, ``'weekday_sin'``, ... as in fastai v1;
    ``add_linear=True`` adds ``year_lin``, the year plus the fraction of it elapsed.

    >>> df = pd.DataFrame({"date": pd.to_datetime(["2019-01-07"])})  # a Monday, day 7 of 31 in January
    >>> add_cyclic_datepart(df, "date").round(4).iloc[0, :4].tolist()
    [1.0, 0.0, 0.3473, 0.9378]
    """
    field = _date_column(df, field_name, "add_cyclic_datepart")
    prefix = _prefix(field_name, prefix, "add_cyclic_datepart")
    days_in_year = np.where(field.dt.is_leap_year, 366, 365)
    cycles = {
        "weekday": field.dt.day_of_week / 7,
        "day_month": (field.dt.day - 1) / field.dt.days_in_month,
        "month_year": (field.dt.month - 1) / 12,
        "day_year": (field.dt.day_of_year - 1) / days_in_year,
    }
    if time:
        cycles.update(
            hour=field.dt.hour / 24,
            clock=(field.dt.hour % 12) / 12,
            min=field.dt.minute / 60,
            sec=field.dt.second / 60,
        )
    for name, frac in cycles.items():
        turn = 2 * np.pi * frac.to_numpy(np.float64)
        df[f"{prefix}{name}_cos"], df[f"{prefix}{name}_sin"] = np.cos(turn), np.sin(turn)
    if add_linear:
        start = field.dt.to_period("Y").dt.start_time
        year_secs = days_in_year * 86400.0
        df[prefix + "year_lin"] = field.dt.year + (field - start).dt.total_seconds() / year_secs
    if drop:
        del df[field_name]
    return df


def series2cat(df: pd.DataFrame, *col_names: str) -> None:
    """Turn the columns ``col_names`` of ``df`` into ordered pandas categoricals, in place (as v1).

    >>> df = pd.DataFrame({"size": ["M", "S", "L", "S"]}); series2cat(df, "size")
    >>> df["size"].cat.categories.tolist(), df["size"].cat.codes.tolist()
    (['L', 'M', 'S'], [1, 2, 0, 2])
    """
    _check_frame(df, "series2cat")
    names = [n for c in col_names for n in (c if isinstance(c, (list, tuple)) else [c])]
    if not names:
        raise ValueError("series2cat needs at least one column name, e.g. series2cat(df, 'workclass')")
    for name in names:
        _check_column(df, name, "series2cat", "col_names")
    for name in names:
        df[name] = df[name].astype("category").cat.as_ordered()


# -- helpers -----------------------------------------------------------------------------


def _check_frame(df: Any, fn: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{fn} needs a pandas DataFrame as df, got {type(df).__name__}")


def _check_column(df: pd.DataFrame, name: Any, fn: str, arg: str) -> None:
    if name not in df.columns:
        raise KeyError(
            f"{fn}: {arg}={name!r} is not a column of the DataFrame{did_you_mean(name, df.columns)}"
        )


def _date_column(df: pd.DataFrame, field_name: str, fn: str) -> pd.Series:
    """Column ``field_name`` as datetime64 (timezone dropped, text parsed), written back into ``df``."""
    _check_frame(df, fn)
    _check_column(df, field_name, fn, "field_name")
    field = df[field_name]
    if isinstance(field.dtype, pd.DatetimeTZDtype):
        field = field.dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_any_dtype(field):
        try:
            field = pd.to_datetime(field)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"{fn}: column {field_name!r} does not hold dates ({e}); convert it first, e.g. "
                f"df[{field_name!r}] = pd.to_datetime(df[{field_name!r}], format=...) or unit='s' for timestamps"
            ) from None
    df[field_name] = field
    return field


def _prefix(field_name: str, prefix: str | None, fn: str) -> str:
    if prefix is None:
        return re.sub("[Dd]ate$", "", str(field_name))
    if not isinstance(prefix, str):
        raise TypeError(f"{fn}: prefix must be a string or None, got {type(prefix).__name__} {prefix!r}")
    return prefix


def _elapsed_seconds(field: pd.Series) -> pd.Series:
    """Whole seconds since 1970-01-01 (int64; float with NaN where a date is missing)."""
    secs = (field - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    return secs.astype(np.int64) if not secs.isna().any() else secs.astype("float64")

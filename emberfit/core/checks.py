"""Checks on user data shared by the applications: rows that hold infinite values.

NaN is refused (or filled) everywhere a target or continuous input is read; ``inf`` must be too,
or it turns the loss, a normalisation or an embedding update into NaN far from its cause.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["inf_mask", "inf_rows", "inf_by_column", "check_no_inf_labels", "INF_FIX"]

# How to get rid of them, for the messages (``{col}`` is a column name).
INF_FIX = "df[{col!r}] = df[{col!r}].replace([np.inf, -np.inf], np.nan)"


def inf_mask(values: Any) -> np.ndarray:
    """Per row, whether ``values`` (array, Series or DataFrame; 1-D or 2-D) holds +inf or -inf there.

    Text, bools and ints are never infinite; in an object column only float objects count.

    >>> inf_mask(pd.DataFrame({"a": [1.0, np.inf, 2.0], "b": ["x", "inf", "y"]})).tolist()
    [False, True, False]
    """
    if isinstance(values, pd.DataFrame):
        cols = [values.iloc[:, j] for j in range(values.shape[1])]
    else:
        arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
        cols = [arr] if arr.ndim <= 1 else [arr[:, j] for j in range(arr.shape[1])]
    masks = [_column_mask(c) for c in cols]
    return np.logical_or.reduce(masks) if masks else np.zeros(len(values), dtype=bool)


def inf_rows(values: Any) -> int:
    """How many rows of ``values`` hold +inf or -inf (see :func:`inf_mask`)."""
    return int(inf_mask(values).sum())


def inf_by_column(df: pd.DataFrame, names: list) -> dict:
    """``{column: rows holding +-inf}`` for the columns of ``names`` that have any."""
    counts = {n: inf_rows(df[n]) for n in names}
    return {n: c for n, c in counts.items() if c}


def check_no_inf_labels(names: list, train: Any, valid: Any) -> None:
    """Refuse label column(s) ``names`` holding +-inf, counting the rows of each split."""
    n_train, n_valid = inf_rows(train), inf_rows(valid)
    if n_train + n_valid:
        label = repr(names[0]) if len(names) == 1 else repr(list(names))
        finite = (
            f"np.isfinite(df[{names[0]!r}])"
            if len(names) == 1
            else f"np.isfinite(df[{list(names)!r}]).all(axis=1)"
        )
        raise ValueError(
            f"label column {label} has {n_train + n_valid} row(s) with an infinite value (inf/-inf): "
            f"{n_train} in the training rows, {n_valid} in the validation rows; drop or fix them first, "
            f"e.g. df = df[{finite}]"
        )


def _column_mask(col: Any) -> np.ndarray:
    s = col if isinstance(col, pd.Series) else pd.Series(np.asarray(col))
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
        return np.zeros(len(s), dtype=bool)
    if pd.api.types.is_float_dtype(s):
        return np.isinf(s.to_numpy(dtype=np.float64, na_value=np.nan))
    # object (or other) data: the string "inf" is a label, not a number; only real floats count
    return np.array([isinstance(o, (float, np.floating)) and math.isinf(o) for o in s], dtype=bool)

"""Tiny synthetic tables for the tabular tests (a learnable rule, a few NaNs, mixed dtypes)."""

import numpy as np
import pandas as pd
import pytest

from emberfit.tabular import Categorify, FillMissing, Normalize, TabularList

PROCS = [FillMissing, Categorify, Normalize]


def make_df(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """``y`` is 'yes' when x + (color == 'red') > 0.5: learnable from one cat and one cont column."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], n),
            "size": rng.integers(1, 4, n),  # an int categorical column
            "x": rng.normal(size=n),
            "z": rng.uniform(0, 100, n),
        }
    )
    df["y"] = np.where(df["x"] + (df["color"] == "red") > 0.5, "yes", "no")
    df["target"] = 2.0 * df["x"] + 3.0  # a regression target
    df.loc[rng.choice(n, n // 20, replace=False), "x"] = np.nan
    return df


@pytest.fixture
def df() -> pd.DataFrame:
    return make_df()


def build(df: pd.DataFrame, valid=None, label="y", procs=PROCS, bs=32, **label_kw):
    """The lesson's chain on ``df`` (last 20% validation), on the CPU."""
    valid = list(range(int(len(df) * 0.8), len(df))) if valid is None else valid
    return (
        TabularList.from_df(df, cat_names=["color", "size"], cont_names=["x", "z"], procs=procs)
        .split_by_idx(valid)
        .label_from_df(cols=label, **label_kw)
        .databunch(bs=bs, device="cpu")
    )


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one intra-op thread is faster, and immune to a busy shared CI machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

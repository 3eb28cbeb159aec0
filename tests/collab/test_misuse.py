"""Issue 12 for collab: infinite ratings are refused like NaN ones, naming the column and the count."""

import numpy as np
import pytest

from emberfit.collab import CollabDataBunch
from emberfit.collab.data import CollabList
from emberfit.core.data_block.labels import FloatList

from .synth import ratings


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_ratings_are_refused(value):
    df = ratings()
    df.loc[[3, 7], "rating"] = value
    with pytest.raises(ValueError, match=r"2 rating\(s\) in column 'rating' are infinite.*np\.isfinite"):
        CollabDataBunch.from_df(df, seed=0, device="cpu")
    clean = df[np.isfinite(df["rating"])]  # the suggested fix works
    assert len(CollabDataBunch.from_df(clean, seed=0, device="cpu").train_ds) > 0


def test_infinite_ratings_through_the_data_block_api():
    df = ratings()
    df.loc[[0, len(df) - 1], "rating"] = np.inf
    src = CollabList.from_df(df, cols=["userId", "movieId"], user_name="userId", item_name="movieId")
    split = src.split_by_idx(list(range(len(df) - 10, len(df))))
    with pytest.raises(
        ValueError, match=r"label column 'rating' has 2 row\(s\).*1 in the training rows, 1 in the validation"
    ):
        split.label_from_df(cols="rating", label_cls=FloatList)

"""CollabDataBunch.from_df: column choice, id maps, bad input, test sets, save/load."""

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.collab import CollabDataBunch, DatasetType, load_data
from emberfit.collab.processor import NA

from .synth import ratings


def test_defaults_take_columns_0_1_2_and_reserve_na():
    df = ratings()
    data = CollabDataBunch.from_df(df, seed=0, device="cpu")
    proc = data.processor
    assert data.user_name == "userId" and data.item_name == "movieId"
    assert proc.user_classes[0] == NA and proc.item_classes[0] == NA
    train_df = data.label_lists.train.x.inner_df
    assert data.n_users == train_df.userId.nunique() + 1
    assert proc.user_classes[1:] == sorted(train_df.userId.unique().tolist())
    # codes point back at the raw ids
    x = data.label_lists.train.x
    assert [proc.user_classes[c] for c in x.codes[:5, 0]] == train_df.userId.tolist()[:5]
    assert [proc.item_classes[c] for c in x.codes[:5, 1]] == train_df.movieId.tolist()[:5]
    assert len(data.train_ds) + len(data.valid_ds) == len(df)
    assert len(data.valid_ds) == int(0.2 * len(df))


def test_batches_are_index_pairs_and_ratings():
    data = CollabDataBunch.from_df(ratings(), seed=0, bs=16, device="cpu")
    xb, yb = data.one_batch()
    assert xb.shape == (16, 2) and xb.dtype == torch.long
    assert yb.shape == (16,) and yb.dtype == torch.float32
    assert int(xb.min()) >= 1  # training rows are all known ids


def test_show_batch_shows_raw_titles_and_ratings(capsys):
    df = ratings(titles=True)
    data = CollabDataBunch.from_df(df, seed=0, item_name="title", rating_name="rating", bs=8, device="cpu")
    assert data.show_batch(rows=4) is None  # v1: it shows the table and returns nothing
    shown = data.batch_table(rows=4)
    assert list(shown.columns) == ["userId", "title", "rating"]
    lookup = {(u, t): r for u, t, r in zip(df.userId, df.title, df.rating)}
    for u, t, r in shown.itertuples(index=False):
        assert lookup[(u, t)] == pytest.approx(r)
    assert "Movie" in capsys.readouterr().out


def test_named_columns_in_any_order():
    df = ratings()[["rating", "movieId", "userId"]]
    data = CollabDataBunch.from_df(
        df, user_name="userId", item_name="movieId", rating_name="rating", device="cpu"
    )
    assert data.train_ds.y.items.max() <= 5.0
    assert data.n_items == data.label_lists.train.x.inner_df.movieId.nunique() + 1


def test_unknown_column_is_a_keyerror_naming_it():
    with pytest.raises(KeyError, match="item_name='titel'.*did you mean"):
        CollabDataBunch.from_df(ratings(titles=True), item_name="titel")


@pytest.mark.parametrize(
    "mutate, exc, match",
    [
        (lambda d: d.iloc[:0], ValueError, "empty"),
        (
            lambda d: d.assign(userId=d.userId.astype(float).where(d.index != 3)),
            ValueError,
            "missing user id",
        ),
        (lambda d: d.assign(rating=d.rating.astype(str)), TypeError, "must be numbers"),
        (lambda d: d.assign(rating=d.rating.where(d.index % 7 != 0)), ValueError, r"rating\(s\) .* missing"),
    ],
)
def test_bad_input_is_a_clear_error(mutate, exc, match):
    with pytest.raises(exc, match=match):
        CollabDataBunch.from_df(mutate(ratings()))


def test_not_a_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        CollabDataBunch.from_df([(1, 2, 3.0)])


def test_ids_only_in_valid_map_to_na_and_are_remembered():
    df = ratings()
    extra = pd.DataFrame(
        {"userId": [9999], "movieId": [df.movieId.iloc[0]], "rating": [4.0], "timestamp": [0]}
    )
    df = pd.concat([df, extra], ignore_index=True)
    for seed in range(50):  # find a split that puts the new user's only row in valid
        data = CollabDataBunch.from_df(df, valid_pct=0.2, seed=seed, device="cpu")
        if 9999 in data.label_lists.valid.x.inner_df.userId.values:
            break
    else:
        pytest.fail("no seed put the row in the validation split")
    assert 9999 not in data.processor.user_classes
    valid = data.label_lists.valid.x
    row = int(np.nonzero(valid.inner_df.userId.values == 9999)[0][0])
    assert valid.codes[row, 0] == 0
    assert 9999 in data.processor.outside_train["user"]
    assert len(data.valid_ds) == int(0.2 * len(df))  # nothing dropped


def test_test_set_keeps_its_order_and_marks_unknown_ids():
    df = ratings()
    test = df.sample(10, random_state=1)[["userId", "movieId"]].reset_index(drop=True)
    test.loc[3, "userId"] = 123456
    data = CollabDataBunch.from_df(df, seed=0, test=test, bs=4, device="cpu")
    x = torch.cat([xb for xb, _ in data.dl(DatasetType.Test)])
    assert x.shape == (10, 2)
    users, items = data.label_lists.test.x.decode(x)
    for k in range(10):
        assert items[k] == test.movieId[k] or x[k, 1] == 0
        assert (users[k] == test.userId[k]) if k != 3 else (x[k, 0] == 0)


def test_test_set_must_have_the_id_columns():
    with pytest.raises(KeyError, match="test has no column 'movieId'"):
        CollabDataBunch.from_df(ratings(), test=pd.DataFrame({"userId": [100]}))


def test_save_and_load_data_round_trip(tmp_path):
    data = CollabDataBunch.from_df(
        ratings(titles=True), seed=0, item_name="title", path=tmp_path, device="cpu"
    )
    data.save("collab.safetensors")
    back = load_data(tmp_path, "collab.safetensors", bs=32)
    assert isinstance(back, CollabDataBunch)
    assert back.processor.item_classes == data.processor.item_classes
    np.testing.assert_array_equal(back.label_lists.valid.x.codes, data.label_lists.valid.x.codes)
    assert back.valid_ds[0] == data.valid_ds[0]

"""fastai v1's label items (``core``: ``ItemBase``, ``Category``, ``MultiCategory``, ``FloatItem``) as a v1
user's script met them: in ``data.train_ds[i]`` and in what ``learn.predict`` returns, for every
application (tabular classification, regression and multi-label on the adult sample, the text
classifier on IMDB reviews, collab on MovieLens).

v1's ``learn.predict(x)`` returned ``(Category, tensor(idx), tensor(probs))`` for a class,
``(MultiCategory, tensor(0/1 row), tensor(probs))`` for several, ``(FloatItem, tensor, tensor)`` for
a number.
"""

import numpy as np
import pytest

from emberfit.collab import CollabDataBunch, collab_learner
from emberfit.tabular import *  # v1: from fastai.tabular import *
from emberfit.text import AWD_LSTM, TextClasDataBunch, awd_lstm_small_clas_config, text_classifier_learner

CAT_NAMES = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex"]
CONT_NAMES = ["age", "fnlwgt", "education-num"]


@pytest.fixture(scope="module")
def adult():
    path = untar_data(URLs.ADULT_SAMPLE)
    return path, pd.read_csv(path / "adult.csv").iloc[:2000].copy()


def adult_learner(adult, label, **label_kw):
    path, df = adult
    data = (
        TabularList.from_df(df, path=path, cat_names=CAT_NAMES, cont_names=CONT_NAMES,
                            procs=[FillMissing, Categorify, Normalize])
        .split_by_idx(list(range(1600, 2000)))
        .label_from_df(cols=label, **label_kw)
        .databunch(bs=64, device="cpu")
    )  # fmt: skip
    set_seed(0)
    learn = tabular_learner(data, layers=[50, 20], silent=True)
    learn.fit(1, 1e-2)
    return learn


# ---------------------------------------------------------------------------- the items themselves
def test_items_hold_data_and_obj_and_show_the_label():
    cat = Category(torch.tensor(1), "dog")
    assert str(cat) == "dog" and repr(cat) == "Category dog" and cat.obj == "dog" and int(cat) == 1
    assert cat == "dog" and "dog" == cat and cat != "cat" and cat == Category(torch.tensor(1), "dog")
    assert cat != Category(torch.tensor(0), "dog")  # same name, other index: not the same item
    assert {cat: 1}["dog"] == 1  # hashes like its label
    multi = MultiCategory(torch.tensor([1.0, 0.0, 1.0]), ["a", "c"], [0, 2])
    assert str(multi) == "a;c" and multi.raw == [0, 2] and multi == ["a", "c"] and "c" in multi
    y = FloatItem(2.5)
    assert str(y) == "2.5" and float(y) == 2.5 and torch.equal(y.data, torch.tensor(2.5)) and 2 < y < 3
    assert isinstance(cat, ItemBase) and isinstance(y, ItemBase)
    assert str(EmptyLabel()) == "" and EmptyLabel().data == 0


def test_label_lists_give_items_back_for_each_kind(adult):
    path, df = adult
    src = TabularList.from_df(df, path=path, cat_names=CAT_NAMES, cont_names=["age"]).split_by_idx(range(10))
    df_tags = df.assign(tags=df.sex.str.strip() + ";" + df.race.str.strip())
    lls = (
        TabularList.from_df(df_tags, path=path, cat_names=["workclass"], cont_names=["age"])
        .split_by_idx(range(10))
        .label_from_df(cols="tags", label_delim=";")
    )
    y = lls.train[0][1]
    assert isinstance(y, MultiCategory) and sorted(y.obj) == sorted(df_tags.tags.iloc[10].split(";"))
    assert y.data.tolist() == [float(c in y.obj) for c in lls.train.classes]
    reg = src.label_from_df(cols="hours-per-week", label_cls=FloatList)
    assert isinstance(reg.valid[3][1], FloatItem) and float(reg.valid[3][1]) == df["hours-per-week"].iloc[3]


# --------------------------------------------------------------------------- predict, per application
def test_tabular_predict_returns_a_category(adult):
    learn = adult_learner(adult, "salary")
    _, df = adult
    cat, idx, probs = learn.predict(df.iloc[1700])
    assert isinstance(cat, Category) and isinstance(idx, torch.Tensor) and idx.ndim == 0
    assert str(cat) == learn.data.classes[int(idx)] == cat.obj and int(cat.data) == int(idx)
    assert probs.shape == (2,) and int(probs.argmax()) == int(idx) and float(probs.sum()) == pytest.approx(1)
    preds, _ = learn.get_preds(DatasetType.Valid)
    torch.testing.assert_close(probs, preds[100])  # row 1700 is the 100th validation row


def test_tabular_regression_predict_returns_a_float_item(adult):
    learn = adult_learner(adult, "hours-per-week", label_cls=FloatList)
    _, df = adult
    value, t, raw = learn.predict(df.iloc[1600])
    assert isinstance(value, FloatItem) and float(value) == pytest.approx(float(t)) and raw.shape == (1,)
    preds, _ = learn.get_preds(DatasetType.Valid)
    assert float(value) == pytest.approx(float(preds[0, 0]), rel=1e-5)


def test_multi_label_predict_returns_a_multi_category(adult):
    path, df = adult
    learn = adult_learner(
        (path, df.assign(tags=df.sex.str.strip() + ";" + df.race.str.strip())), "tags", label_delim=";"
    )
    multi, row, probs = learn.predict(df.iloc[1600])
    assert isinstance(multi, MultiCategory) and row.dtype == torch.float32
    assert row.tolist() == (probs > 0.5).float().tolist()
    assert multi.obj == [c for c, p in zip(learn.data.classes, probs) if p > 0.5] and str(multi) == ";".join(
        multi.obj
    )


def test_text_classifier_predict_returns_a_category():
    path = untar_data(URLs.IMDB_SAMPLE)
    df = pd.read_csv(path / "texts.csv").iloc[:60]
    df["text"] = df.text.str[
        :200
    ]  # the reviews' openings: an untrained LSTM over whole reviews takes long on a CPU
    data = TextClasDataBunch.from_df(path, df[:50], df[50:], text_cols="text", label_cols="label", bs=16)
    assert data.train_ds.classes == ["negative", "positive"]
    learn = text_classifier_learner(data, AWD_LSTM, config=awd_lstm_small_clas_config, pretrained=False)
    cat, idx, probs = learn.predict(df.text.iloc[55])
    assert (
        isinstance(cat, Category) and str(cat) in ("negative", "positive") and cat == data.classes[int(idx)]
    )
    preds, _ = learn.get_preds(DatasetType.Valid)  # dataset order
    torch.testing.assert_close(probs, preds[5], atol=1e-5, rtol=1e-4)


def test_collab_predict_returns_a_float_item():
    path = untar_data(URLs.ML_SAMPLE)
    ratings = pd.read_csv(path / "ratings.csv")
    data = CollabDataBunch.from_df(ratings, seed=42, device="cpu")
    set_seed(0)
    learn = collab_learner(data, n_factors=20, y_range=[0, 5.5], silent=True)
    learn.fit_one_cycle(1, 5e-3)
    user, movie = int(ratings.userId.iloc[0]), int(ratings.movieId.iloc[0])
    rating, t, raw = learn.predict((user, movie))
    assert isinstance(rating, FloatItem) and 0 < rating < 5.5 and float(rating) == pytest.approx(float(t))
    df_pred = learn.predict_df(pd.DataFrame({"userId": [user], "movieId": [movie]}))
    assert float(rating) == pytest.approx(float(df_pred.prediction.iloc[0]), rel=1e-5)
    assert np.isfinite(float(rating)) and raw.shape == (1,)

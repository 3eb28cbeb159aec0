"""tabular_learner / TabularModel / TabularLearner: training, prediction, export, regression."""

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.tabular import (
    DatasetType,
    FloatItem,
    FloatList,
    TabularConfig,
    TabularList,
    TabularModel,
    accuracy,
    load_learner,
    rmse,
    set_seed,
    tabular_learner,
)

from .conftest import build, make_df


def _trained(df, epochs=4, **kw):
    set_seed(0)
    learn = tabular_learner(build(df), layers=[32, 16], metrics=accuracy, silent=True, **kw)
    learn.fit_one_cycle(epochs, 1e-2)
    return learn


def test_learns_the_rule(df):
    learn = _trained(make_df(2000))
    hist = learn.recorder.history()
    assert hist["accuracy"].iloc[-1] > 0.85  # the rule is x + red > 0.5; chance is ~0.6
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]


def test_model_layout_follows_the_lesson(df):
    learn = tabular_learner(build(df), layers=[200, 100], emb_szs={"size": 7}, silent=True)
    m = learn.model
    assert [tuple(e.weight.shape) for e in m.embeds] == [
        (4, 3),
        (4, 7),
        (3, 3),
    ]  # rule: min(600, round(1.6 n^.56))
    assert m.bn_cont.num_features == 2
    assert m.layers[0].in_features == 3 + 7 + 3 + 2 and m.layers[-1].out_features == 2
    assert learn.model_init["kwargs"]["emb_szs"] == [[4, 3], [4, 7], [3, 3]]


def test_predict_returns_class_index_probs(df):
    learn = _trained(df)
    cls, idx, probs = learn.predict(df.iloc[0])
    assert cls in ("no", "yes") and learn.data.classes[int(idx)] == cls
    assert probs.shape == (2,) and probs.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert learn.predict(df.iloc[0].to_dict())[0] == cls  # a dict row works too


def test_predict_df_matches_get_preds_on_a_test_set(df):
    learn = _trained(df)
    new = df.iloc[50:90]
    learn.data.label_lists.add_test(
        TabularList.from_df(new, cat_names=["color", "size"], cont_names=["x", "z"])
    )
    learn.data.test_dl = learn.data.label_lists.train.x.make_loaders(learn.data.label_lists, 16, 16, "cpu")[2]
    preds, _ = learn.get_preds(DatasetType.Test)
    out = learn.predict_df(new, bs=7)
    assert list(out.columns) == ["prediction", "proba_no", "proba_yes"] and (out.index == new.index).all()
    np.testing.assert_allclose(out[["proba_no", "proba_yes"]].to_numpy(), preds.numpy(), rtol=1e-5, atol=1e-6)
    singles = [learn.predict(new.iloc[i])[0] for i in range(5)]
    assert out["prediction"].iloc[:5].tolist() == singles


def test_export_and_load_learner_give_the_same_predictions(df, tmp_path):
    learn = _trained(df)
    learn.path = tmp_path
    f = learn.export(return_path=True)
    assert f.name == "export.pkl" and f.read_bytes()[8:9] == b"{"  # v1's name, a safetensors header
    back = load_learner(tmp_path)
    assert type(back).__name__ == "TabularLearner"
    pd.testing.assert_frame_equal(back.predict_df(df.iloc[:30]), learn.predict_df(df.iloc[:30]))
    assert back.predict(df.iloc[3])[0] == learn.predict(df.iloc[3])[0]
    test = TabularList.from_df(df.iloc[:12], cat_names=["color", "size"], cont_names=["x", "z"])
    again = load_learner(tmp_path, test=test)
    preds, _ = again.get_preds(DatasetType.Test)
    np.testing.assert_allclose(
        preds.numpy(), learn.predict_df(df.iloc[:12]).iloc[:, 1:].to_numpy(), atol=1e-6
    )


def test_regression_with_y_range_and_log_target(df):
    df["target"] = np.exp(df["x"].fillna(0) / 2) * 10  # positive, so log=True is allowed
    data = build(df, label="target", label_cls=FloatList, log=True)
    assert data.c == 1
    lo, hi = np.log(df["target"]).min(), np.log(df["target"]).max()
    set_seed(0)
    learn = tabular_learner(data, layers=[32], y_range=(lo - 0.1, hi + 0.1), metrics=rmse, silent=True)
    learn.fit_one_cycle(5, 1e-2)
    hist = learn.recorder.history()
    assert hist["valid_loss"].iloc[-1] < 0.5 * np.var(np.log(df["target"]))
    value, _, _ = learn.predict(df.iloc[0])
    assert isinstance(value, FloatItem) and lo - 1 < np.log(float(value)) < hi + 1  # back from log space
    out = learn.predict_df(df.iloc[:4])
    assert list(out.columns) == ["prediction"] and out["prediction"].iloc[0] == pytest.approx(
        float(value), rel=1e-5
    )


def test_multi_label_predict_df_joins_the_classes_above_half(df):
    """Several labels per row: ``prediction`` joins those with probability > 0.5, plus one proba column each."""
    df["tags"] = np.where(df["color"] == "red", "warm;bright", np.where(df["x"] > 0, "cool", "dim"))
    data = build(df, label="tags", label_delim=";")
    assert data.multi_label and data.classes == ["bright", "cool", "dim", "warm"]
    set_seed(0)
    learn = tabular_learner(data, layers=[32], silent=True)
    learn.fit_one_cycle(4, 1e-2)
    out = learn.predict_df(df.iloc[:20])
    assert list(out.columns) == ["prediction", "proba_bright", "proba_cool", "proba_dim", "proba_warm"]
    probs = out.iloc[:, 1:].to_numpy()
    expected = [";".join(c for c, p in zip(data.classes, row) if p > 0.5) for row in probs]
    assert out["prediction"].tolist() == expected
    assert ";".join(learn.predict(df.iloc[0])[0]) == expected[0]  # predict() agrees, as a list


def test_model_without_categorical_or_continuous_inputs():
    only_cont = TabularModel(emb_szs=[], n_cont=3, out_sz=1, layers=[4])
    assert only_cont(torch.zeros(5, 0, dtype=torch.long), torch.randn(5, 3)).shape == (5, 1)
    only_cat = TabularModel(emb_szs=[(3, 2)], n_cont=0, out_sz=2, layers=[4])
    assert only_cat(torch.tensor([[1], [2]]), torch.zeros(2, 0)).shape == (2, 2)
    with pytest.raises(ValueError, match="the model has no inputs"):
        TabularModel(emb_szs=[], n_cont=0, out_sz=1)


def test_config_roundtrip():
    m = TabularModel([(5, 3)], 2, 2, layers=[6, 4], ps=[0.1, 0.2], emb_drop=0.1, y_range=None)
    again = TabularModel.from_config(m.config)
    assert again.config == m.config and isinstance(m.config, TabularConfig)
    assert sum(p.numel() for p in again.parameters()) == sum(p.numel() for p in m.parameters())


def test_save_load_weights_resume(df, tmp_path):
    learn = _trained(df, epochs=1)
    learn.path = tmp_path
    learn.save("w")
    before = learn.predict_df(df.iloc[:10])
    learn.fit(1, 1e-1)
    learn.load("w")
    pd.testing.assert_frame_equal(learn.predict_df(df.iloc[:10]), before)


def test_uses_given_opt_func(df):
    learn = tabular_learner(build(df), layers=[4], opt_func=torch.optim.SGD, silent=True)
    learn.fit(1, 1e-2)
    assert isinstance(learn.opt, torch.optim.SGD)

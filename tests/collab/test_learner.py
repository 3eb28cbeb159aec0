"""collab_learner / CollabLearner: training, lookups, cold start, recommendations, export."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.collab import (
    CollabDataBunch,
    CollabLearner,
    DatasetType,
    EmbeddingNN,
    FactorTensor,
    collab_learner,
    load_learner,
    rmse,
    set_seed,
)

from .synth import ratings


def _data(tmp_path=".", **kw):
    df = ratings(titles=True)
    kw = {"seed": 0, "item_name": "title", "bs": 32, "device": "cpu", "path": tmp_path, **kw}
    return df, CollabDataBunch.from_df(df, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    set_seed(0)
    df, data = _data(tmp_path_factory.mktemp("collab"))
    learn = collab_learner(data, n_factors=8, y_range=(0, 5.5), wd=0.1, metrics=[rmse], silent=True)
    learn.fit_one_cycle(8, 2e-2)
    return df, learn


def test_training_beats_the_mean(trained):
    df, learn = trained
    valid_y = torch.as_tensor(learn.data.valid_ds.y.items)
    mean_rmse = float(((valid_y - float(learn.data.train_ds.y.items.mean())) ** 2).mean().sqrt())
    assert learn.recorder.metrics[-1][0] < 0.9 * mean_rmse
    assert learn.recorder.losses[-1] < learn.recorder.losses[0]


def test_model_repr_and_export_spec(trained):
    _, learn = trained
    assert f"Embedding({learn.data.n_users}, 8)" in repr(learn.model)
    assert learn.model_init["cls"] == "collab.EmbeddingDotBias"


def test_bias_and_weight_by_title(trained):
    df, learn = trained
    titles = df.title.unique()[:5]
    rows = torch.tensor([learn.data.processor.item_classes.index(t) for t in titles])
    torch.testing.assert_close(learn.bias(titles), learn.model.i_bias.weight.detach()[rows, 0])
    w = learn.weight(titles)
    assert isinstance(w, FactorTensor) and w.shape == (5, 8)
    users = df.userId.unique()[:3]
    assert learn.bias(users, is_item=False).shape == (3,)
    assert learn.bias(titles[0]).shape == (1,)  # a single id works too


def test_pca_projects_on_principal_components(trained):
    df, learn = trained
    w = learn.weight(df.title.unique())
    p = w.pca(3)
    assert type(p) is torch.Tensor and p.shape == (len(w), 3)
    centred = (w - w.mean(0)).as_subclass(torch.Tensor)
    var = p.var(0)
    assert bool((var[:-1] >= var[1:] - 1e-6).all())  # components by decreasing variance
    assert float(var[0]) == pytest.approx(
        float(torch.linalg.svdvals(centred)[0] ** 2 / (len(w) - 1)), rel=1e-4
    )
    assert not hasattr(torch.Tensor, "pca")  # torch.Tensor itself is untouched
    with pytest.raises(ValueError, match="k must be"):
        w.pca(0)


def test_unknown_ids_raise_keyerror_naming_them(trained):
    _, learn = trained
    with pytest.raises(KeyError, match="'No Such Film'.*not among the .* training items"):
        learn.bias(["No Such Film"])
    with pytest.raises(TypeError, match="is a str but the training user ids are int"):
        learn.weight(["101"], is_item=False)
    learn.data.processor.outside_train["item"].append("Valid Only Film")
    try:
        with pytest.raises(KeyError, match="appears only outside the training split"):
            learn.weight(["Valid Only Film"])
    finally:
        learn.data.processor.outside_train["item"].remove("Valid Only Film")


def test_bias_needs_the_dot_model():
    _, data = _data()
    learn = collab_learner(data, use_nn=True, layers=[8], y_range=(0, 5.5), silent=True)
    with pytest.raises(TypeError, match="use_nn=True"):
        learn.bias([data.processor.item_classes[1]])
    assert learn.weight([data.processor.item_classes[1]]).shape == (1, learn.model.embeds[1].embedding_dim)


def test_most_and_least_liked_sort_by_bias(trained):
    _, learn = trained
    top, bottom = learn.most_liked(5), learn.least_liked(5)
    assert list(top.bias) == sorted(top.bias, reverse=True) and list(bottom.bias) == sorted(bottom.bias)
    assert top.bias.iloc[0] == pytest.approx(float(learn.model.i_bias.weight.detach()[1:].max()))
    assert (top.n_ratings > 0).all()


def test_plot_items_labels_each_point(trained):
    _, learn = trained
    fig = learn.plot_items(n=7, return_fig=True)
    assert len(fig.axes[0].texts) == 7 and all("Movie" in t.get_text() for t in fig.axes[0].texts)


def test_predict_known_and_cold_start(trained):
    df, learn = trained
    u, t = df.userId.iloc[0], df.title.iloc[0]
    p = learn.predict((u, t))
    rating, value, raw = p  # unpacks like Learner.predict
    assert (
        p.fallback is None and 0 < rating < 5.5 and float(value) == pytest.approx(float(rating)) == p.rating
    )
    assert learn.predict({"userId": u, "title": t}).rating == pytest.approx(rating)
    mu = float(learn.data.train_ds.y.items.mean())
    new_user = learn.predict((-1, t))
    assert "unknown user" in new_user.fallback
    i = learn.data.processor.item_classes.index(t)
    assert new_user.rating == pytest.approx(mu + float(learn.model.item_base[i]), abs=1e-5)
    new_item = learn.predict((u, "Brand New Film"))
    assert "unknown item" in new_item.fallback
    both = learn.predict((-1, "Brand New Film"))
    assert both.rating == pytest.approx(mu, abs=1e-5) and "global mean" in both.fallback
    with pytest.raises(TypeError, match="user id"):
        learn.predict((str(u), t))
    with pytest.raises(TypeError, match="pair"):
        learn.predict(u)


def test_cold_baseline_is_the_damped_mean_deviation(trained):
    df, learn = trained
    train = learn.data.label_lists.train
    codes, r = train.x.codes, train.y.items.astype(np.float64)
    mu = r.mean()
    i = int(codes[0, 1])
    dev = r[codes[:, 1] == i] - mu
    assert float(learn.model.item_base[i]) == pytest.approx(dev.sum() / (len(dev) + 10), rel=1e-4)


def test_recommend_scores_every_item_and_skips_seen(trained):
    df, learn = trained
    u = int(df.userId.value_counts().index[0])
    rec = learn.recommend(u, n=5)
    assert list(rec.columns) == ["title", "prediction", "source"] and (rec.source == "model").all()
    seen = set(df.title[df.userId == u])
    assert not seen & set(rec.title)
    assert list(rec.prediction) == sorted(rec.prediction, reverse=True)
    for t, pred in zip(rec.title, rec.prediction):
        assert learn.predict((u, t)).rating == pytest.approx(pred, abs=1e-5)
    unseen = [t for t in learn.data.processor.item_classes[1:] if t not in seen]
    best = max(learn.predict((u, t)).rating for t in unseen)
    assert rec.prediction.iloc[0] == pytest.approx(best, abs=1e-5)
    all_items = learn.recommend(u, n=1000, exclude_seen=False)
    assert len(all_items) == learn.data.n_items - 1


def test_recommend_for_a_new_user_uses_the_baseline(trained):
    _, learn = trained
    rec = learn.recommend(-5, n=3)
    assert rec.source.str.contains("unknown user").all()
    best = int(torch.argmax(learn.model.item_base[1:])) + 1
    assert rec.title.iloc[0] == learn.data.processor.item_classes[best]
    with pytest.raises(ValueError, match="n must be"):
        learn.recommend(-5, n=0)


def test_similar_items_by_cosine(trained):
    df, learn = trained
    t = df.title.iloc[0]
    sim = learn.similar_items(t, n=3)
    assert t not in set(sim.title) and len(sim) == 3
    w = learn.weight([t, sim.title.iloc[0]])
    cos = torch.nn.functional.cosine_similarity(w[:1], w[1:]).item()
    assert sim.similarity.iloc[0] == pytest.approx(cos, abs=1e-5)
    cold = learn.similar_items("Brand New Film", n=2)
    assert cold.source.str.contains("unknown item").all() and cold.similarity.isna().all()


def test_get_preds_on_a_test_frame_in_order_and_warns_about_cold_rows(tmp_path):
    df, data = _data(tmp_path)
    test = df.sample(12, random_state=3)[["userId", "title"]].reset_index(drop=True)
    test.loc[5, "userId"] = -7
    df, data = _data(tmp_path, test=test)
    set_seed(0)
    learn = collab_learner(data, n_factors=4, y_range=(0, 5.5), silent=True)
    learn.fit(1, 1e-2)
    with pytest.warns(UserWarning, match="1 of 12 rows"):
        preds, _ = learn.get_preds(DatasetType.Test)
    expected = learn.predict_df(test)
    np.testing.assert_allclose(preds.numpy(), expected.prediction.to_numpy(), atol=1e-5)
    assert expected.source[5].startswith("baseline") and (expected.source.drop(5) == "model").all()


def test_export_and_load_learner_round_trip(trained, tmp_path):
    df, learn = trained
    learn.export(tmp_path / "collab.safetensors")
    back = load_learner(tmp_path, "collab.safetensors")
    assert isinstance(back, CollabLearner)
    u = int(df.userId.iloc[0])
    pd.testing.assert_frame_equal(back.recommend(u, n=5), learn.recommend(u, n=5))
    assert back.predict((-1, df.title.iloc[1])).rating == pytest.approx(
        learn.predict((-1, df.title.iloc[1])).rating
    )
    pd.testing.assert_frame_equal(back.most_liked(3), learn.most_liked(3))
    with pytest.raises(KeyError, match="not among"):
        back.bias(["No Such Film"])


def test_exports_written_before_the_processor_kept_the_column_names_still_work(trained, tmp_path):
    """An older export has no user_name/item_name in the processor state: they come from its items."""
    from emberfit.core.io import load_tensors, save_tensors

    df, learn = trained
    f = learn.export(tmp_path / "new.safetensors", return_path=True)
    tensors, meta = load_tensors(f)
    for key in ("user_name", "item_name"):
        del meta["data"]["x_proc"][key]
    save_tensors(tmp_path / "old.safetensors", tensors, meta)
    back = load_learner(tmp_path, "old.safetensors")
    assert (back.data.user_name, back.data.item_name) == ("userId", "title")
    pd.testing.assert_frame_equal(back.predict_df(df.head(5)), learn.predict_df(df.head(5)))
    row = {"userId": df.userId.iloc[0], "title": df.title.iloc[0]}
    assert back.predict(row).rating == pytest.approx(learn.predict(row).rating)


def test_nn_learner_trains_and_exports(tmp_path):
    _, data = _data(tmp_path)
    set_seed(0)
    learn = collab_learner(
        data, use_nn=True, emb_szs={"userId": 5}, layers=[16], ps=[0.1], y_range=(0, 5.5), silent=True
    )
    assert isinstance(learn.model, EmbeddingNN) and learn.model.embeds[0].embedding_dim == 5
    learn.fit_one_cycle(3, 1e-2)
    assert learn.recorder.losses[-1] < learn.recorder.losses[0]
    learn.export(tmp_path / "nn.safetensors")
    back = load_learner(tmp_path, "nn.safetensors")
    row = (int(data.processor.user_classes[1]), data.processor.item_classes[2])
    assert back.predict(row).rating == pytest.approx(learn.predict(row).rating, abs=1e-5)
    with pytest.raises(KeyError, match="emb_szs has"):
        collab_learner(data, use_nn=True, emb_szs={"user": 5})


def test_ratings_outside_y_range_warn_with_the_count():
    df, data = _data()
    r = np.concatenate([data.train_ds.y.items, data.valid_ds.y.items])
    n_out, n_edge = int((r > 4.5).sum()), int((r == 4.5).sum())  # ratings are 0.5..5
    assert n_out and n_edge
    with pytest.warns(UserWarning, match=rf"{n_out} rating\(s\) lie outside .* and {n_edge} on its ends"):
        collab_learner(data, y_range=(0, 4.5), silent=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        collab_learner(data, y_range=(0, 5.5), silent=True)
    with pytest.raises(ValueError, match="low < high"):
        collab_learner(data, y_range=(5, 1))


def test_bad_data_and_arguments():
    with pytest.raises(TypeError, match="CollabDataBunch.from_df"):
        collab_learner("ratings.csv")
    _, data = _data()
    with pytest.raises(ValueError, match="n_factors"):
        collab_learner(data, n_factors=0)


def test_bn_wd_false_leaves_the_biases_undecayed():
    _, data = _data()
    learn = collab_learner(data, n_factors=4, wd=0.1, bn_wd=False, silent=True)
    opt = learn.create_opt(1e-2)
    no_decay = {id(p) for g in opt.param_groups if g["weight_decay"] == 0 for p in g["params"]}
    m = learn.model
    assert no_decay == {id(m.u_bias.weight), id(m.i_bias.weight)}
    default = collab_learner(data, n_factors=4, wd=0.1, silent=True).create_opt(1e-2)
    assert all(g["weight_decay"] == 0.1 for g in default.param_groups)

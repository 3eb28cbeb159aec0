"""Looking inside tabular models: learn.interpret() with the raw rows, and permutation feature importance.

Synthetic tables check the mechanics against independent computations; the adult sample checks that the
answers are the sensible ones on real data.
"""

import contextlib
import io

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.core.interpret import ClassificationInterpretation, Interpretation
from emberfit.core.seed import set_seed
from emberfit.tabular import Categorify, FillMissing, Normalize, TabularList, tabular_learner
from emberfit.tabular.importance_plot import importance_figure

PROCS = [FillMissing, Categorify, Normalize]


def keyed_table(n=600, seed=0):
    """``y`` is decided by ``key`` alone; ``shade`` and ``noise`` are noise; ``x`` (with NaNs) drives ``target``."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "key": rng.choice(list("abcd"), n),
            "shade": rng.choice(["light", "dark"], n),
            "noise": rng.normal(size=n),
            "x": rng.normal(size=n),
        }
    )
    df["y"] = np.where(df.key.isin(["a", "b"]), "yes", "no")
    df["target"] = 3.0 * df.x.fillna(0) + rng.normal(0, 0.1, n)
    df.loc[rng.choice(n, n // 10, replace=False), "x"] = np.nan
    return df


def trained(df, path, label="y", epochs=4, **kw):
    set_seed(0)
    data = (
        TabularList.from_df(df, path=path, cat_names=["key", "shade"], cont_names=["noise", "x"], procs=PROCS)
        .split_by_idx(list(range(450, len(df))))
        .label_from_df(cols=label)
        .databunch(bs=32, device="cpu")
    )
    learn = tabular_learner(data, layers=[32, 16], silent=True, **kw)
    learn.fit_one_cycle(epochs, 2e-2)
    return learn


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    return trained(keyed_table(), tmp_path_factory.mktemp("tab_interp"))


def test_the_deciding_column_matters_and_the_noise_does_not(clf):
    fi = clf.feature_importance()
    assert fi.feature.tolist()[0] == "key" and sorted(fi.feature) == [
        "key",
        "noise",
        "shade",
        "x",
    ]  # x_na goes with x
    assert fi.attrs["metric"] == "accuracy" and fi.attrs["baseline"] > 0.95
    imp = dict(zip(fi.feature, fi.importance))
    assert imp["key"] > 0.3 and all(abs(imp[c]) < 0.05 for c in ("shade", "noise", "x"))
    np.testing.assert_allclose(fi.score, fi.attrs["baseline"] - fi.importance, atol=1e-9)
    assert (fi["std"] >= 0).all()


def test_importance_is_the_accuracy_lost_by_shuffling_the_raw_column(clf):
    """Recomputed through predict_df on raw rows with the same permutation (the first column drawn: key)."""
    valid = keyed_table().iloc[450:].reset_index(drop=True)
    base = float((clf.predict_df(valid).prediction == valid.y).mean())
    perm = torch.randperm(len(valid), generator=torch.Generator().manual_seed(7)).numpy()
    shuffled = valid.assign(key=valid.key.to_numpy()[perm])
    acc = float((clf.predict_df(shuffled).prediction == shuffled.y).mean())
    fi = clf.feature_importance(n_repeats=1, seed=7)
    assert fi.attrs["baseline"] == pytest.approx(base, abs=1e-6)
    assert fi.set_index("feature").importance["key"] == pytest.approx(base - acc, abs=1e-6)


def test_regression_uses_the_loss_and_any_metric(tmp_path):
    learn = trained(keyed_table(), tmp_path, label="target", epochs=5)
    fi = learn.feature_importance()
    assert fi.attrs["metric"] == "loss" and fi.attrs["lower_is_better"] and fi.feature.iloc[0] == "x"
    preds, targs, losses = learn.get_preds(with_loss=True)
    assert fi.attrs["baseline"] == pytest.approx(float(losses.mean()), rel=1e-5)
    np.testing.assert_allclose(fi.score, fi.attrs["baseline"] + fi.importance, rtol=1e-6)

    def mae(p, t):
        return (p.view(-1) - t.view(-1)).abs().mean()

    by_mae = learn.feature_importance(metric=mae)
    assert by_mae.attrs["metric"] == "mae" and by_mae.attrs["lower_is_better"]
    assert by_mae.attrs["baseline"] == pytest.approx(float((preds.view(-1) - targs).abs().mean()), rel=1e-5)
    assert by_mae.feature.iloc[0] == "x" and by_mae.importance.iloc[0] > 1.0
    interp = learn.interpret()
    assert type(interp) is Interpretation
    torch.testing.assert_close(interp.top_losses()[0], losses.sort(descending=True).values)


def test_interpret_shows_the_raw_rows(clf):
    interp = clf.interpret()
    assert type(interp) is ClassificationInterpretation and interp.classes == ["no", "yes"]
    table = interp.top_losses_table(5)
    valid = keyed_table().iloc[450:].reset_index(drop=True)
    rows = valid.iloc[table.index][["key", "shade", "noise", "x"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(table[["key", "shade", "noise", "x"]].reset_index(drop=True), rows)
    assert table.actual.tolist() == valid.y.iloc[table.index].tolist()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        interp.plot_top_losses(3)
    assert "shade" in out.getvalue() and len(out.getvalue().strip().splitlines()) == 4


def test_the_bar_chart_is_written_without_a_display(clf):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        clf.plot_feature_importance(n_repeats=1)
    png = clf.path / "plots" / "feature_importance.png"
    assert str(png) in out.getvalue() and png.stat().st_size > 5000 and mpimg.imread(png).ndim == 3
    fi = clf.feature_importance(n_repeats=1)
    fig = clf.plot_feature_importance(fi, top=2, return_fig=True)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == fi.feature.tolist()[:2]
    assert "drop in accuracy" in fig.axes[0].get_xlabel()


def test_misuse_is_named(clf):
    with pytest.raises(ValueError, match="n_repeats must be a positive int"):
        clf.feature_importance(n_repeats=0)
    with pytest.raises(TypeError, match="metric must be"):
        clf.feature_importance(metric=3)
    with pytest.raises(KeyError, match="no column"):
        importance_figure(pd.DataFrame({"name": ["a"], "value": [1.0]}))
    with pytest.raises(ValueError, match="top must be a positive int"):
        importance_figure(pd.DataFrame({"feature": ["a"], "importance": [1.0]}), top=0)


# ------------------------------------------------------------------------------ real data
def test_adult_sample_interpretation_and_importance(tmp_path):
    from emberfit.core.download import URLs, untar_data

    df = pd.read_csv(untar_data(URLs.ADULT_SAMPLE) / "adult.csv")
    cat_names = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
    cont_names = ["age", "fnlwgt", "education-num"]
    set_seed(0)
    data = (
        TabularList.from_df(df, path=tmp_path, cat_names=cat_names, cont_names=cont_names, procs=PROCS)
        .split_by_idx(list(range(800, 2800)))
        .label_from_df(cols="salary")
        .databunch(bs=256)
    )
    learn = tabular_learner(data, layers=[200, 100], silent=True)
    learn.fit_one_cycle(2, 1e-2)
    interp = learn.interpret()
    preds, targs = learn.get_preds()
    cm = interp.confusion_matrix()
    assert cm.sum() == 2000 and cm.sum(1).tolist() == [
        int((df.salary[800:2800] == c).sum()) for c in interp.classes
    ]
    np.testing.assert_array_equal(cm, np.bincount(targs * 2 + preds.argmax(1), minlength=4).reshape(2, 2))
    assert np.trace(cm) / 2000 > 0.78
    assert interp.most_confused() == sorted(
        [(interp.classes[a], interp.classes[1 - a], int(cm[a, 1 - a])) for a in range(2)], key=lambda r: -r[2]
    )
    table = interp.top_losses_table(3)
    raw = df.iloc[800 + table.index.to_numpy()][cat_names + cont_names].reset_index(drop=True)
    pd.testing.assert_frame_equal(table[cat_names + cont_names].reset_index(drop=True), raw)
    fi = learn.feature_importance()
    order = fi.feature.tolist()
    assert order[0] in {"relationship", "marital-status", "education-num", "education", "occupation", "age"}
    assert {"relationship", "marital-status"} & set(order[:4])
    assert order.index("fnlwgt") >= 5 and order.index("race") >= 5  # a sampling weight and race: little
    with contextlib.redirect_stdout(io.StringIO()):
        learn.plot_feature_importance(fi)
        interp.plot_confusion_matrix()
    for name in ("feature_importance", "confusion_matrix"):
        assert (tmp_path / "plots" / f"{name}.png").stat().st_size > 5000


def test_saved_data_without_the_frame_shows_the_processed_rows(clf):
    """load_data keeps arrays, not the DataFrame: the table then shows decoded categories and normalised values."""
    from emberfit.core.data_block.labelling import load_data

    clf.data.save("interp_data.safetensors")
    data = load_data(clf.path, "interp_data.safetensors", bs=32, device="cpu")
    learn = tabular_learner(data, layers=[32, 16], silent=True)
    learn.model.load_state_dict(clf.model.state_dict())
    table = learn.interpret().top_losses_table(4)
    assert list(table.columns[:5]) == ["key", "shade", "x_na", "noise", "x"]
    x = data.label_lists.valid.x
    np.testing.assert_allclose(table.noise.to_numpy(), x.conts[table.index.to_numpy(), 0], atol=1e-4)
    assert table.key.tolist() == [x.classes["key"][c] for c in x.codes[table.index.to_numpy(), 0]]
    torch.testing.assert_close(learn.interpret().losses, clf.interpret().losses)

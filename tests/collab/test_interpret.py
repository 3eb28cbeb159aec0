"""Collab on the MovieLens sample with its movies' titles: recommendations, similar items, the PCA picture, interpret()."""

import contextlib
import io

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.text import Text

from emberfit.collab import CollabDataBunch, collab_learner, set_seed
from emberfit.collab.items_plot import items_figure, shorten
from emberfit.core.download import URLs, untar_data
from emberfit.core.interpret import Interpretation


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The lesson's recipe on ML_SAMPLE, items named by title (ratings merged with the bundled movies.csv)."""
    with pytest.MonkeyPatch.context() as mp:  # module scope: the autouse per-test home is not set up yet
        mp.setenv("EMBERFIT_HOME", str(tmp_path_factory.mktemp("home")))
        path = untar_data(URLs.ML_SAMPLE)
    ratings, movies = pd.read_csv(path / "ratings.csv"), pd.read_csv(path / "movies.csv")
    assert set(ratings.movieId) <= set(movies.movieId) and len(movies) == 100
    df = ratings.merge(movies[["movieId", "title"]])[["userId", "title", "rating"]]
    set_seed(42)
    data = CollabDataBunch.from_df(
        df, seed=42, valid_pct=0.1, item_name="title", bs=64, device="cpu", path=tmp_path_factory.mktemp("ml")
    )
    learn = collab_learner(data, n_factors=40, y_range=[0, 5.5], wd=1e-1, silent=True)
    learn.fit_one_cycle(5, 5e-3)
    return df, movies, learn


def test_recommendations_and_similar_items_are_titles(sample):
    df, movies, learn = sample
    titles = set(movies.title)
    user = int(df.userId.iloc[0])
    rec = learn.recommend(user, 5)
    assert list(rec.columns) == ["title", "prediction", "source"] and set(rec.title) <= titles
    train = learn.data.label_lists.train
    seen = {it for u, it in (train.x[i] for i in range(len(train))) if u == user}
    assert not set(rec.title) & seen  # only films the user has not rated
    assert list(rec.prediction) == sorted(rec.prediction, reverse=True)
    pair_preds = learn.predict_df(pd.DataFrame({"userId": [user] * 5, "title": rec.title}))
    np.testing.assert_allclose(pair_preds.prediction, rec.prediction, rtol=1e-5)
    sim = learn.similar_items("Toy Story (1995)", 5)
    assert set(sim.title) <= titles and "Toy Story (1995)" not in set(sim.title)
    w = torch.nn.functional.normalize(learn.weight(list(sim.title) + ["Toy Story (1995)"]), dim=1)
    np.testing.assert_allclose(sim.similarity, (w[:-1] @ w[-1]).numpy(), rtol=1e-5)
    liked = learn.most_liked(5)
    assert set(liked.title) <= titles


def test_the_items_picture(sample):
    _, movies, learn = sample
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        learn.plot_items(n=30)
    png = learn.path / "plots" / "items_pca.png"
    assert str(png) in out.getvalue() and png.stat().st_size > 20000 and mpimg.imread(png).shape[1] > 800
    fig = learn.plot_items(n=30, return_fig=True, max_title_len=24)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == 30 and all(len(t) <= 24 for t in labels)
    short = {shorten(t, 24) for t in movies.title}
    assert set(labels) <= short
    assert "variance" in ax.get_xlabel() and len(fig.axes) == 2  # the bias colour bar
    # the points are the first two principal components of the most-rated items' factors
    xy = ax.collections[0].get_offsets()
    pool = learn._top_rated(1000)
    proj = learn.weight(pool).pca(2).numpy()
    for x, y in np.asarray(xy):
        assert any(np.allclose((x, y), p, atol=1e-5) for p in proj)
    # labels sit where they do not cover one another
    fig.canvas.draw()
    boxes = [Text.get_window_extent(t) for t in ax.texts]  # the label, not its leader line
    overlaps = sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert overlaps <= 2


def test_interpret_shows_user_title_prediction_and_loss(sample):
    _, _, learn = sample
    interp = learn.interpret()
    assert type(interp) is Interpretation
    preds, targs = learn.get_preds()
    torch.testing.assert_close(interp.losses, (preds - targs) ** 2, rtol=1e-5, atol=1e-6)
    table = interp.top_losses_table(3)
    assert list(table.columns) == ["userId", "title", "prediction", "actual", "loss"]
    valid = learn.data.label_lists.valid.x
    assert [tuple(r) for r in table[["userId", "title"]].to_numpy()] == [valid[i] for i in table.index]
    np.testing.assert_allclose(table.loss, ((preds - targs) ** 2).sort(descending=True).values[:3], atol=1e-4)


def test_shorten_and_figure_helpers():
    import doctest

    from emberfit.collab import items_plot

    assert doctest.testmod(items_plot, extraglobs={"np": np}).failed == 0
    assert shorten("Star Wars: Episode VI - Return of the Jedi (1983)", 25) == "Star Wars: Episod… (1983)"
    assert shorten("A very long title without a year at all", 10) == "A very lo…"
    fig = items_figure(np.zeros(3), np.zeros(3), ["a", "b", "c"], ("x", "y"))  # three labels on one point
    fig.canvas.draw()
    boxes = [Text.get_window_extent(t) for t in fig.axes[0].texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])

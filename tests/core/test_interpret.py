"""ClassificationInterpretation / Interpretation / learn.interpret() on small synthetic problems.

The real-data checks are in each application's ``test_interpret.py`` (IMDB sample, adult, MovieLens sample).
"""

import contextlib
import doctest
import io

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import emberfit.core as core
from emberfit.core import (
    ClassificationInterpretation,
    DataBunch,
    DatasetType,
    Interpretation,
    Learner,
    interpret_plots,
)
from emberfit.core import interpret as interpret_mod
from emberfit.core.seed import set_seed


def three_class_learner(tmp_path, epochs=2):
    """A linear classifier of 3 overlapping blobs: it learns, but confuses some neighbours."""
    set_seed(0)
    centers = torch.tensor([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5]])
    y = torch.arange(3).repeat(100)
    x = centers[y] + torch.randn(300, 2) * 0.7
    data = DataBunch.from_tensors(x[:200], y[:200], x[200:], y[200:], bs=25, device="cpu", path=tmp_path)
    learn = Learner(data, nn.Linear(2, 3), loss_func=F.cross_entropy, silent=True)
    learn.fit(epochs, 0.1)
    return learn


@pytest.fixture(scope="module")
def learn(tmp_path_factory):
    return three_class_learner(tmp_path_factory.mktemp("interp"))


@pytest.fixture(scope="module")
def interp(learn):
    return learn.interpret()


def test_interpret_gives_the_classification_view_with_the_learners_predictions(learn, interp):
    assert type(interp) is ClassificationInterpretation
    preds, targs = learn.get_preds()
    torch.testing.assert_close(interp.preds, preds)
    assert interp.y_true.tolist() == targs.tolist() and interp.ds_type is DatasetType.Valid
    assert interp.pred_class.tolist() == preds.argmax(1).tolist()
    # the classic v1 call gives the same
    again = ClassificationInterpretation.from_learner(learn)
    torch.testing.assert_close(again.losses, interp.losses)


def test_confusion_matrix_counts_the_predictions(interp):
    cm = interp.confusion_matrix()
    assert cm.shape == (3, 3) and cm.dtype == np.int64 and cm.sum() == 100
    expected = np.zeros((3, 3), dtype=np.int64)
    for a, p in zip(interp.y_true.tolist(), interp.preds.argmax(1).tolist()):
        expected[a, p] += 1
    np.testing.assert_array_equal(cm, expected)
    assert np.trace(cm) > 50  # it learned something
    assert (cm - np.diag(np.diag(cm))).sum() > 0  # and still confuses some


def test_most_confused_lists_the_off_diagonal_cells_largest_first(interp):
    cm = interp.confusion_matrix()
    mc = interp.most_confused()
    off = {(i, j): int(cm[i, j]) for i in range(3) for j in range(3) if i != j and cm[i, j] >= 1}
    assert {(a, p): n for a, p, n in mc} == off
    assert [n for *_, n in mc] == sorted(off.values(), reverse=True)
    top = mc[0][2]
    assert interp.most_confused(min_val=top) == [r for r in mc if r[2] >= top]
    assert interp.most_confused(min_val=cm.sum() + 1) == []


def test_top_losses_are_the_per_item_losses_sorted(interp):
    own = -torch.log(interp.preds[torch.arange(100), interp.y_true])  # cross-entropy from the probabilities
    torch.testing.assert_close(interp.losses, own, rtol=1e-4, atol=1e-5)
    vals, idxs = interp.top_losses()
    assert len(vals) == 100 and sorted(idxs.tolist()) == list(range(100))
    torch.testing.assert_close(vals, own.sort(descending=True).values, rtol=1e-4, atol=1e-5)
    small, _ = interp.top_losses(5, largest=False)
    torch.testing.assert_close(small, own.sort().values[:5], rtol=1e-4, atol=1e-5)
    assert len(interp.top_losses(1000)[0]) == 100


def test_top_losses_table_shows_the_worst_items(interp):
    df = interp.top_losses_table(4)
    _, idxs = interp.top_losses(4)
    assert df.index.tolist() == idxs.tolist()
    assert list(df.columns) == ["input", "prediction", "actual", "loss", "probability"]
    i = idxs[0].item()
    assert (
        df.actual.iloc[0] == interp.y_true[i].item() and df.prediction.iloc[0] == interp.pred_class[i].item()
    )
    assert df.probability.iloc[0] == pytest.approx(interp.preds[i, interp.y_true[i]].item(), abs=1e-4)
    x0 = interp.data.valid_dl.x[i]
    assert df.input.iloc[0].startswith(f"{x0[0].item():.4g}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        interp.plot_top_losses(3)
    assert "probability" in out.getvalue() and len(out.getvalue().strip().splitlines()) == 4


def test_plot_confusion_matrix_is_written_without_a_display(interp, learn):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        interp.plot_confusion_matrix(title="three blobs", figsize=(4, 4))
    png = learn.path / "plots" / "confusion_matrix.png"
    assert str(png) in out.getvalue() and png.stat().st_size > 5000
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    fig = interp.plot_confusion_matrix(normalize=True, return_fig=True, norm_dec=3)
    vals = np.array([float(t.get_text()) for t in fig.axes[0].texts]).reshape(3, 3)
    np.testing.assert_allclose(vals.sum(1), 1.0, atol=2e-3)
    assert fig.axes[0].get_title() == "Confusion matrix"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "1", "2"]


def test_regression_gets_the_plain_interpretation(tmp_path):
    set_seed(0)
    x = torch.randn(80, 3)
    y = x @ torch.tensor([1.0, -1.0, 0.5])
    data = DataBunch.from_tensors(x[:60], y[:60], x[60:], y[60:], bs=20, device="cpu", path=tmp_path)
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))
    learn = Learner(data, model, loss_func=F.mse_loss, silent=True)
    learn.fit(1, 1e-2)
    interp = learn.interpret()
    assert type(interp) is Interpretation and not hasattr(interp, "confusion_matrix")
    preds, targs = learn.get_preds()
    torch.testing.assert_close(interp.losses, (preds - targs) ** 2)
    vals, idxs = interp.top_losses(3)
    assert idxs.tolist() == ((preds - targs) ** 2).argsort(descending=True)[:3].tolist()
    table = interp.top_losses_table(3)
    assert list(table.columns) == ["input", "prediction", "actual", "loss"]
    with pytest.raises(ValueError, match="single-label classifier"):
        ClassificationInterpretation.from_learner(learn)


def test_misuse_is_named(interp, learn):
    with pytest.raises(ValueError, match="k must be a non-negative int"):
        interp.top_losses(-1)
    with pytest.raises(ValueError, match="k must be"):
        interp.top_losses(2.5)
    with pytest.raises(TypeError, match="min_val must be an int"):
        interp.most_confused(min_val="2")
    with pytest.raises(TypeError, match="ds_type must be a DatasetType"):
        learn.interpret("valid")
    with pytest.raises(ValueError, match="no test set"):
        learn.interpret(DatasetType.Test)
    with pytest.raises(ValueError, match="one row per item"):
        ClassificationInterpretation(learn, interp.preds, interp.y_true[:5], interp.losses)


def test_the_modules_examples_run(interp, learn):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    globs = {**vars(core), "interp": interp, "learn": learn}
    for mod in (interpret_mod, interpret_plots):
        res = doctest.testmod(mod, optionflags=flags, extraglobs=globs)
        assert res.attempted > 0 and res.failed == 0


def test_a_databunch_of_torch_datasets_shows_each_items_input(tmp_path):
    from torch.utils.data import TensorDataset

    set_seed(0)
    x = torch.randn(60, 2)
    y = (x[:, 0] > 0).long()
    data = DataBunch.create(TensorDataset(x[:40], y[:40]), TensorDataset(x[40:], y[40:]), bs=10, device="cpu")
    learn = Learner(data, nn.Linear(2, 2), loss_func=F.cross_entropy, silent=True, path=tmp_path)
    interp = learn.interpret()
    table = interp.top_losses_table(2)
    assert table.input.tolist() == [str(x[40 + i]) for i in table.index]
    assert interp.confusion_matrix().sum() == 20

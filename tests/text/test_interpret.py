"""TextClassificationInterpretation: confusion matrix and top losses of a text classifier, intrinsic attention.

A tiny synthetic classifier checks the mechanics quickly (attention against an independent gradient);
the real-data test fine-tunes the bundled pretrained small model on IMDB-sample reviews for a few batches.
"""

import contextlib
import dataclasses
import io
import re

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.core.interpret import ClassificationInterpretation
from emberfit.core.seed import set_seed
from emberfit.text.attention_view import attention_figure, attention_html, value_rgba
from emberfit.text.databunch import TextClasDataBunch
from emberfit.text.interpret import TextClassificationInterpretation, _awd_lstm
from emberfit.text.learner import text_classifier_learner
from emberfit.text.models import AWD_LSTM, awd_lstm_small_clas_config

CLAS_CFG = dataclasses.replace(awd_lstm_small_clas_config, emb_sz=16, n_hid=32)
WORDS = {"pos": "great wonderful fun superb lovely".split(), "neg": "awful boring bad dull terrible".split()}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def reviews(n=96, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        lab = "pos" if i % 2 else "neg"
        rows.append(
            (
                lab,
                f"the film was {rng.choice(WORDS[lab])} and the plot {rng.choice(WORDS[lab])} .",
                i >= n - 24,
            )
        )
    return pd.DataFrame(rows, columns=["label", "text", "is_valid"])


def tiny_learner(path, backwards=False, **kw):
    df = reviews()
    set_seed(0)
    data = TextClasDataBunch.from_df(
        path, df[~df.is_valid], df[df.is_valid], text_cols="text", label_cols="label", bs=8, min_freq=1,
        backwards=backwards,
    )  # fmt: skip
    learn = text_classifier_learner(data, AWD_LSTM, config=CLAS_CFG, pretrained=False, silent=True, **kw)
    learn.fit(2, 1e-2)
    return learn


@pytest.fixture(scope="module")
def learn(tmp_path_factory):
    return tiny_learner(tmp_path_factory.mktemp("text_interp"))


@pytest.fixture(scope="module")
def interp(learn):
    return learn.interpret()


def reference_attention(learn, text, class_id):
    """The same quantity by another route: the gradient on the embedding *matrix* rows of tokens used once."""
    ids = learn.data.label_lists.item_batch(text)
    model = learn.model
    model.eval()
    model.reset()
    weight = _awd_lstm(model).encoder.weight
    weight.grad = None
    probs = torch.softmax(model(ids)[0].float(), -1)[0]
    probs[class_id].backward()
    rows = weight.grad[ids[0]].abs().sum(-1)  # one row per token; exact when every token occurs once
    weight.grad = None
    model.zero_grad(set_to_none=True)
    model.train()
    model.reset()
    return ids[0], rows / rows.max()


def test_interpret_of_a_text_classifier_is_the_text_view(learn, interp):
    assert type(interp) is TextClassificationInterpretation
    assert type(ClassificationInterpretation.from_learner(learn)) is TextClassificationInterpretation
    preds, targs, losses = learn.get_preds(with_loss=True)
    cm = interp.confusion_matrix()
    assert cm.sum() == len(learn.data.valid_ds) == 24
    expected = np.zeros((2, 2), dtype=np.int64)
    np.add.at(expected, (targs.numpy(), preds.argmax(1).numpy()), 1)
    np.testing.assert_array_equal(cm, expected)
    torch.testing.assert_close(interp.top_losses()[0], losses.sort(descending=True).values)


def test_show_top_losses_shows_the_reviews(interp, learn):
    table = interp.top_losses_table(3, max_len=4)
    _, idxs = interp.top_losses(3)
    assert list(table.columns) == ["text", "prediction", "actual", "loss", "probability"]
    valid = learn.data.label_lists.valid
    for text, i in zip(table.text, idxs.tolist()):
        tokens = str(valid.x[i]).split(" ")
        assert text == " ".join(tokens[:4]) + " ..."  # the review, cut to max_len tokens
    df = reviews()
    assert table.actual.tolist() == df[df.is_valid].label.iloc[idxs.numpy()].tolist()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        interp.show_top_losses(2)
    assert "xxbos the film was" in out.getvalue() and "probability" in out.getvalue()


def test_intrinsic_attention_is_the_normalised_embedding_gradient(interp, learn):
    text = "the film was superb and lovely"  # every token once
    for class_id in (0, 1):
        tokens, attn = interp.intrinsic_attention(text, class_id=class_id)
        ids, ref = reference_attention(learn, text, class_id)
        assert str(tokens) == "xxbos the film was superb and lovely" and tokens.data.tolist() == ids.tolist()
        assert attn.shape == (len(tokens),) and float(attn.max()) == pytest.approx(1.0)
        assert float(attn.min()) >= 0
        torch.testing.assert_close(attn, ref, rtol=1e-4, atol=1e-5)
    by_name = interp.intrinsic_attention(text, class_id="pos")[1]
    torch.testing.assert_close(by_name, interp.intrinsic_attention(text, class_id=1)[1])
    predicted = int(learn.predict(text)[1])
    torch.testing.assert_close(
        interp.intrinsic_attention(text)[1], interp.intrinsic_attention(text, predicted)[1]
    )
    assert learn.model.training and all(p.grad is None for p in learn.model.parameters())  # left as found


def test_tokens_the_classifier_never_backpropagates_through_score_zero(tmp_path):
    learn = tiny_learner(tmp_path, bptt=2, max_len=4)
    interp = learn.interpret()
    tokens, attn = interp.intrinsic_attention("the film was superb and lovely")  # 7 tokens: chunks 0,2,4,6
    assert len(attn) == 7
    assert attn[:4].tolist() == [0.0] * 4 and bool((attn[4:] > 0).all())  # only chunks 4 and 6 are kept


def test_a_backwards_classifier_reports_tokens_in_reading_order(tmp_path):
    learn = tiny_learner(tmp_path, backwards=True)
    tokens, attn = learn.interpret().intrinsic_attention("the film was superb")
    assert (
        str(tokens) == "xxbos the film was superb"
        and len(attn) == 5
        and float(attn.max()) == pytest.approx(1.0)
    )


def test_html_and_pictures_of_the_attention(interp, learn):
    text = "the film was dull and boring"
    tokens, attn = interp.intrinsic_attention(text)
    html = interp.html_intrinsic_attention(text)
    titles = [float(t) for t in re.findall(r'title="([0-9.]+)"', html)]
    assert len(titles) == len(tokens) and np.allclose(titles, attn.numpy(), atol=1e-3)
    assert ">boring</span>" in html
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        f = interp.show_intrinsic_attention(text)
        interp.plot_intrinsic_attention(text)
    assert f == learn.path / "plots" / "intrinsic_attention.html" and html in f.read_text()
    png = learn.path / "plots" / "intrinsic_attention.png"
    assert str(png) in out.getvalue() and png.stat().st_size > 3000 and mpimg.imread(png).ndim == 3
    with contextlib.redirect_stdout(io.StringIO()):
        interp.plot_confusion_matrix()
    assert (learn.path / "plots" / "confusion_matrix.png").stat().st_size > 3000


def test_attention_views():
    assert value_rgba(0.0, "Greys", 1.0) == (255, 255, 255, 1.0)
    assert value_rgba(1.0, alpha_mult=0.5)[3] == 0.5
    html = attention_html(["<b>", "ok"], [1.0, 0.25])
    assert "&lt;b&gt;" in html and 'title="0.250"' in html
    fig = attention_figure(["w"] * 60, np.linspace(0, 1, 60), width=20)
    rows = {round(t.get_position()[1]) for t in fig.axes[0].texts}
    assert rows == set(range(6))  # 60 two-character cells in lines of 20 characters: 6 lines
    with pytest.raises(ValueError, match="same length"):
        attention_html(["a"], [0.1, 0.2])


def test_misuse_is_named(interp):
    with pytest.raises(TypeError, match="text must be a string"):
        interp.intrinsic_attention(["a list"])
    with pytest.raises(KeyError, match="not a class"):
        interp.intrinsic_attention("good", class_id="maybe")
    with pytest.raises(ValueError, match=r"class_id must be in \[0, 2\)"):
        interp.intrinsic_attention("good", class_id=2)
    with pytest.raises(TypeError, match="class_id must be"):
        interp.intrinsic_attention("good", class_id=1.0)


# ------------------------------------------------------------------------------ real data
@pytest.mark.slow
def test_interpretation_of_a_classifier_fine_tuned_on_imdb_reviews(tmp_path):
    """The bundled pretrained small model, fine-tuned for 8 batches on 256 reviews; 200 `is_valid` reviews."""
    from emberfit.core.download import URLs, untar_data

    df = pd.read_csv(untar_data(URLs.IMDB_SAMPLE) / "texts.csv")
    df["text"] = df.text.str.slice(0, 400)  # the reviews' openings keep CPU time small
    train, valid = df[~df.is_valid].iloc[:256], df[df.is_valid]
    set_seed(0)
    data = TextClasDataBunch.from_df(tmp_path, train, valid, text_cols="text", label_cols="label", bs=32)
    learn = text_classifier_learner(
        data, AWD_LSTM, config=awd_lstm_small_clas_config, drop_mult=0.5, silent=True
    )
    learn.fit_one_cycle(1, 2e-2, moms=(0.8, 0.7))
    interp = learn.interpret()
    assert type(interp) is TextClassificationInterpretation and interp.classes == ["negative", "positive"]
    preds, targs, losses = learn.get_preds(with_loss=True)
    cm = interp.confusion_matrix()
    assert cm.sum() == len(valid) == 200
    assert cm.sum(1).tolist() == [int((valid.label == c).sum()) for c in interp.classes]
    for a in range(2):
        for p in range(2):
            assert cm[a, p] == int(((targs == a) & (preds.argmax(1) == p)).sum())
    assert np.trace(cm) / 200 == pytest.approx(learn.validate()[1], abs=1e-6)  # the accuracy metric agrees
    assert interp.most_confused() == sorted(
        [(interp.classes[a], interp.classes[1 - a], int(cm[a, 1 - a])) for a in range(2) if cm[a, 1 - a]],
        key=lambda r: -r[2],
    )
    torch.testing.assert_close(
        interp.losses, -torch.log(preds[torch.arange(200), targs]), rtol=1e-3, atol=1e-4
    )
    vals, idxs = interp.top_losses(5)
    torch.testing.assert_close(vals, losses.sort(descending=True).values[:5])
    table = interp.top_losses_table(5, max_len=20)
    first = data.label_lists.valid.x[idxs[0].item()]
    assert table.text.iloc[0].startswith(" ".join(str(first).split(" ")[:20]))
    assert (table.prediction != table.actual).all()  # the worst losses are mistakes
    review = valid.text.iloc[0]
    tokens, attn = interp.intrinsic_attention(review)
    n_tokens = data.label_lists.item_batch(review).shape[1]
    assert len(tokens) == len(attn) == n_tokens and float(attn.max()) == pytest.approx(1.0)
    assert float(attn.min()) >= 0 and int((attn > 0).sum()) > n_tokens // 2
    with contextlib.redirect_stdout(io.StringIO()):
        interp.plot_intrinsic_attention(review)
        interp.plot_confusion_matrix()
    for name in ("intrinsic_attention", "confusion_matrix"):
        png = tmp_path / "plots" / f"{name}.png"
        assert png.stat().st_size > 5000 and mpimg.imread(png).shape[0] > 100

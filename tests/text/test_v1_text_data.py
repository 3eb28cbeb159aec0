"""fastai v1's text data beyond the lesson, on the IMDB sample: multi-label targets from several 0/1 columns,
``from_ids`` / ``from_tokens`` round trips, ``export`` / ``load_empty``, ``no_check``, float targets."""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from emberfit.text import (
    FloatList,
    MultiCategoryList,
    TextClasDataBunch,
    TextList,
    TextLMDataBunch,
    URLs,
    untar_data,
)


@pytest.fixture(scope="module")
def path():
    return untar_data(URLs.IMDB_SAMPLE)


@pytest.fixture(scope="module")
def tok_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("tokens")  # every bunch of this module tokenizes the texts once


@pytest.fixture(scope="module")
def imdb(path) -> pd.DataFrame:
    """160 training and 40 validation reviews, with two 0/1 columns: positive, and longer than the median."""
    df = pd.read_csv(path / "texts.csv")
    df = pd.concat([df[~df.is_valid].iloc[:160], df[df.is_valid].iloc[:40]], ignore_index=True)
    n_chars = df["text"].str.len()
    return df.assign(
        pos=(df["label"] == "positive").astype(int),
        long=(n_chars > n_chars.median()).astype(int),
        log_len=np.log(n_chars.astype(float)),
        stars=np.digitize(n_chars, np.quantile(n_chars, [0.25, 0.5, 0.75])) + 1,  # an ordinal 1..4
    )


def split(df):
    return df[~df.is_valid], df[df.is_valid]


@pytest.fixture(scope="module")
def data_multi(imdb, path, tok_cache):
    train, valid = split(imdb)
    return TextClasDataBunch.from_df(path, train, valid, text_cols="text", label_cols=["pos", "long"],
                                     bs=16, cache_dir=tok_cache)  # fmt: skip


def test_two_label_columns_are_one_multi_label_target(data_multi, imdb):
    data = data_multi
    assert data.multi_label and data.classes == ["pos", "long"] and data.c == 2
    assert data.loss_func is F.binary_cross_entropy_with_logits
    train, valid = split(imdb)
    np.testing.assert_array_equal(data.train_ds.y.to_tensors().numpy(), train[["pos", "long"]].to_numpy())
    np.testing.assert_array_equal(data.valid_ds.y.to_tensors().numpy(), valid[["pos", "long"]].to_numpy())
    i = int(np.nonzero((train["pos"] == 1).to_numpy() & (train["long"] == 0).to_numpy())[0][0])
    assert str(data.train_ds[i][1]) == "pos"  # a MultiCategory of the columns that hold 1
    both = int(np.nonzero((train[["pos", "long"]] == 1).all(axis=1).to_numpy())[0][0])
    assert str(data.train_ds[both][1]) == "pos;long"
    xb, yb = data.one_batch()
    assert yb.dtype == torch.float32 and tuple(yb.shape) == (16, 2)


def test_data_block_multi_label_from_columns(imdb, path, data_multi, tok_cache):
    src = TextList.from_df(imdb, path, cols="text", vocab=data_multi.vocab, cache_dir=tok_cache)
    data = src.split_from_df(col="is_valid").label_from_df(cols=["pos", "long"], label_cls=MultiCategoryList)
    data = data.databunch(bs=16)
    assert data.multi_label and data.classes == ["pos", "long"]
    np.testing.assert_array_equal(
        data.valid_ds.y.to_tensors().numpy(), data_multi.valid_ds.y.to_tensors().numpy()
    )
    named = src.split_from_df(col="is_valid").label_from_df(
        cols=["pos", "long"], label_cls=MultiCategoryList, classes=["positive", "lengthy"]
    )
    assert named.train.y.classes == ["positive", "lengthy"]
    stars = imdb.assign(pos=imdb["stars"])  # not 0/1: refused, naming the column, the value and the fix
    bad = TextList.from_df(stars, path, cols="text", vocab=data_multi.vocab).split_from_df(col="is_valid")
    with pytest.raises(ValueError, match="column 'pos' holds [234].*make them 0/1.*label_cls=FloatList"):
        bad.label_from_df(cols=["pos", "long"])


def test_float_and_ordinal_targets(imdb, path, data_multi, tok_cache):
    src = TextList.from_df(imdb, path, cols="text", vocab=data_multi.vocab, cache_dir=tok_cache)
    reg = (
        src.split_from_df(col="is_valid").label_from_df(cols="log_len", label_cls=FloatList).databunch(bs=16)
    )
    assert reg.classes is None and reg.c == 1 and reg.loss_func.__name__ == "MSELossFlat"
    train, valid = split(imdb)
    np.testing.assert_allclose(reg.train_ds.y.items, train["log_len"], rtol=1e-6)
    ordinal = src.split_from_df(col="is_valid").label_from_df(cols="stars", label_cls=FloatList, log=True)
    y = ordinal.train.y
    assert y.items.dtype == np.float32 and set(np.round(np.exp(y.items)).astype(int)) == {1, 2, 3, 4}
    np.testing.assert_allclose(np.exp(y.items), train["stars"], rtol=1e-6)
    two = src.split_from_df(col="is_valid").label_from_df(cols=["log_len", "stars"], label_cls=FloatList)
    assert two.train.y.c == 2 and two.train.y.items.shape == (len(train), 2)


def test_from_ids_round_trip(data_multi, imdb, path):
    x, y = data_multi.train_ds.x, data_multi.train_ds.y
    train_ids = [x.get(i).data for i in range(len(x))]
    valid_ids = [data_multi.valid_ds.x.get(i).data.tolist() for i in range(len(data_multi.valid_ds))]
    labels = (imdb["label"] == "positive").astype(int).to_numpy()
    again = TextClasDataBunch.from_ids(path, data_multi.vocab, train_ids, valid_ids, test_ids=valid_ids[:5],
                                       train_lbls=labels[:160], valid_lbls=labels[160:],
                                       classes=["negative", "positive"], bs=16)  # fmt: skip
    assert again.vocab is data_multi.vocab and again.classes == ["negative", "positive"]
    for i in (0, 57, 159):
        assert (
            str(again.train_ds[i][0]) == str(x.get(i)) and str(again.train_ds[i][1]) == imdb["label"].iloc[i]
        )
    np.testing.assert_array_equal(again.valid_ds.x.ids, data_multi.valid_ds.x.ids)
    assert len(again.test_ds) == 5 and next(iter(again.test_dl))[0].shape[0] == 5
    onehot = TextClasDataBunch.from_ids(path, data_multi.vocab, train_ids, valid_ids,
                                        train_lbls=y.to_tensors().numpy().astype(int),
                                        valid_lbls=data_multi.valid_ds.y.to_tensors().numpy().astype(int),
                                        classes=["pos", "long"])  # fmt: skip
    assert onehot.multi_label and torch.equal(onehot.train_ds.y.to_tensors(), y.to_tensors())
    lm = TextLMDataBunch.from_ids(path, data_multi.vocab, train_ids, valid_ids, bs=8, bptt=20)
    assert lm.c == len(data_multi.vocab.itos) and lm.train_dl.n == 160
    xb, yb = lm.one_batch()
    assert tuple(xb.shape) == (8, 20) and torch.equal(xb[:, 1:], yb[:, :-1])
    with pytest.raises(ValueError, match=r"train_ids\[3\] holds the id 999999, outside the vocabulary"):
        TextClasDataBunch.from_ids(path, data_multi.vocab, [*train_ids[:3], [2, 999999]], valid_ids[:2],
                                   train_lbls=[0, 1, 0, 1], valid_lbls=[0, 1], classes=["a", "b"])  # fmt: skip
    with pytest.raises(TypeError, match="takes no text settings"):
        TextClasDataBunch.from_ids(path, data_multi.vocab, train_ids, valid_ids, min_freq=1)


def test_from_tokens_round_trip(data_multi, path):
    """Tokens shown by a processed list come back as the same vocabulary and ids."""
    vocab = data_multi.vocab
    tokens = [
        vocab.textify(data_multi.train_ds.x.get(i).data, sep=None) for i in range(len(data_multi.train_ds))
    ]
    valid = [
        vocab.textify(data_multi.valid_ds.x.get(i).data, sep=None) for i in range(len(data_multi.valid_ds))
    ]
    lm = TextLMDataBunch.from_tokens(path, tokens, None, valid, None, min_freq=2, bs=8, bptt=20)
    assert lm.vocab.itos == data_multi.vocab.itos  # the same counts give the same vocabulary
    np.testing.assert_array_equal(lm.train_ds.x.ids, data_multi.train_ds.x.ids)
    np.testing.assert_array_equal(lm.valid_ds.x.ids, data_multi.valid_ds.x.ids)
    clas = TextClasDataBunch.from_tokens(path, tokens, ["a", "b"] * 80, valid, ["b", "a"] * 20,
                                         vocab=data_multi.vocab, bs=8)  # fmt: skip
    assert clas.classes == ["a", "b"] and str(clas.valid_ds[0][1]) == "b"
    strict = TextLMDataBunch.from_tokens(path, tokens, None, valid, None, bs=8)  # v1's default min_freq=3
    assert set(strict.vocab.itos) < set(lm.vocab.itos)
    with pytest.raises(TypeError, match=r"trn_tok\[0\] must be a list of token strings"):
        TextLMDataBunch.from_tokens(path, ["a raw text"], None, valid, None)


def test_export_and_load_empty(data_multi, tmp_path):
    data_multi.path = tmp_path
    try:
        assert data_multi.export() is None and (tmp_path / "export.pkl").is_file()
    finally:
        data_multi.path = untar_data(URLs.IMDB_SAMPLE)
    empty = TextClasDataBunch.load_empty(tmp_path)
    assert (
        empty.vocab.itos == data_multi.vocab.itos and empty.classes == ["pos", "long"] and empty.multi_label
    )
    assert empty.train_dl is None and len(empty.train_ds) == 0
    with pytest.raises(ValueError, match="holds TextClasDataBunch data, not TextLMDataBunch"):
        TextLMDataBunch.load_empty(tmp_path)
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(ValueError):
        TextClasDataBunch.load_empty(tmp_path, "junk.pkl")


def test_no_check_is_accepted_and_changes_nothing(imdb, path, data_multi, tok_cache):
    train, valid = split(imdb)
    data = TextClasDataBunch.from_df(path, train, valid, text_cols="text", label_cols=["pos", "long"],
                                     bs=16, cache_dir=tok_cache, no_check=True)  # fmt: skip
    assert data.vocab.itos == data_multi.vocab.itos
    np.testing.assert_array_equal(data.train_ds.x.ids, data_multi.train_ds.x.ids)
    with pytest.raises(TypeError, match="does not take \\['no_chek'\\]"):
        TextClasDataBunch.from_df(path, train, valid, text_cols="text", no_chek=True)

"""Text item lists and bunches: tokens -> ids, vocab fitted on train, LM/classifier batches, save/load."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.core.data import DatasetType
from emberfit.core.data_block.labelling import LabelLists, load_data
from emberfit.core.learner import Learner
from emberfit.text.databunch import TextClasDataBunch, TextDataBunch, TextLMDataBunch
from emberfit.text.item_lists import Text, TextList
from emberfit.text.processor import TextProcessor
from emberfit.text.raw_texts import read_text_file
from emberfit.text.settings import FACTORY_SETTINGS, TextSettings

WORDS = "good bad movie film plot actor great awful boring fun".split()


def reviews(n=60, seed=0):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        words = rng.choice(WORDS, size=rng.integers(3, 15))
        texts.append(" ".join(words).capitalize() + "!")
        labels.append("pos" if i % 2 else "neg")
    return pd.DataFrame({"label": labels, "text": texts, "is_valid": [i >= n - 10 for i in range(n)]})


def clas_data(df=None, bs=4, **kw):
    df = reviews() if df is None else df
    return (
        TextList.from_df(df, cols="text", **kw)
        .split_from_df(col="is_valid")
        .label_from_df("label")
        .databunch(bs=bs)
    )


def lm_data(df=None, bs=4, **kw):
    df = reviews() if df is None else df
    return (
        TextList.from_df(df, cols="text").split_from_df(col="is_valid").label_for_lm().databunch(bs=bs, **kw)
    )


# ------------------------------------------------------------------------------ items, vocab
def test_items_print_tokens_and_give_ids():
    data = clas_data()
    assert isinstance(data, TextClasDataBunch)
    x, y = data.train_ds[0]
    assert isinstance(x, Text) and y in ("neg", "pos")
    assert str(x).startswith("xxbos xxmaj ")
    assert x.data.dtype == np.int64 and x.data[0] == data.vocab.itos.index("xxbos") == 2
    assert data.vocab.textify(x.data.tolist()) == str(x)
    assert data.vocab.itos[:2] == ["xxunk", "xxpad"]
    assert len(data.vocab.itos) % 8 == 0


def test_vocab_is_built_from_the_training_split_only():
    df = reviews()
    df.loc[59, "text"] = "Zebra zebra zebra"  # a validation row
    data = clas_data(df)
    assert "zebra" not in data.vocab.itos
    assert str(data.valid_ds[9][0]) == "xxbos xxmaj xxunk xxunk xxunk"


def test_min_freq_is_3_in_data_blocks_and_2_in_factories():
    df = reviews()
    df.loc[0, "text"] = "twice twice thrice thrice thrice"
    block = clas_data(df)
    assert "thrice" in block.vocab.itos and "twice" not in block.vocab.itos
    factory = TextDataBunch.from_df(".", df[:50], df[50:], text_cols="text", label_cols="label")
    assert "twice" in factory.vocab.itos


def test_settings_have_one_set_of_defaults_and_factories_pass_v1s_min_freq():
    assert TextSettings().min_freq == 3 and TextSettings().max_vocab == 60000
    assert FACTORY_SETTINGS == TextSettings(min_freq=2)
    assert TextList(["a"]).processor.min_freq == TextProcessor().min_freq == 3
    lm = TextLMDataBunch.from_df(".", reviews()[:50], reviews()[50:], text_cols="text", max_vocab=100, bs=4)
    assert lm.processor.max_vocab == 100 and lm.processor.min_freq == 2
    with pytest.raises(TypeError, match=r"TextProcessor does not take \['min_frq'\]"):
        TextProcessor(min_frq=2)
    with pytest.raises(ValueError, match="min_freq must be an int >= 0"):
        TextList(["a"], min_freq=-1)


def test_factories_refuse_an_unknown_option_before_tokenizing(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("tokenized before the options were checked")

    monkeypatch.setattr(TextProcessor, "tokenize", boom)
    df = reviews()
    with pytest.raises(TypeError, match=r"TextLMDataBunch.from_df does not take \['bpt'\].*'bptt'"):
        TextLMDataBunch.from_df(".", df[:50], df[50:], text_cols="text", bpt=10)
    with pytest.raises(TypeError, match=r"TextClasDataBunch.from_df does not take \['bptt'\].*'pad_first'"):
        TextClasDataBunch.from_df(".", df[:50], df[50:], text_cols="text", label_cols="label", bptt=10)


def test_mark_fields_puts_xxfld_before_each_column():
    df = reviews()
    df["title"] = "Title"
    data = (
        TextList.from_df(df, cols=["title", "text"], mark_fields=True)
        .split_from_df(col="is_valid")
        .label_from_df("label")
        .databunch(bs=4)
    )
    assert str(data.train_ds[0][0]).startswith("xxbos xxfld 1 xxmaj title xxfld 2 xxmaj ")


def test_given_vocab_is_used_as_is():
    lm = lm_data()
    data = clas_data(vocab=lm.vocab)
    assert data.vocab.itos == lm.vocab.itos
    assert data.train_ds[0][0].data.max() < len(lm.vocab.itos)


# --------------------------------------------------------------------------------- batches
def test_lm_batches_are_shifted_streams():
    data = lm_data(bptt=5)
    assert isinstance(data, TextLMDataBunch) and data.c == len(data.vocab.itos)
    x, y = data.one_batch()
    assert x.shape == y.shape == (4, 5) and x.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    out = torch.randn(4, 5, data.c)
    assert torch.isclose(
        data.loss_func((out, None), y), torch.nn.functional.cross_entropy(out.view(-1, data.c), y.view(-1))
    )


def test_lm_backwards_and_jitter_settings_reach_the_loader():
    data = lm_data(bptt=6, backwards=True, bptt_jitter=True)
    assert data.train_dl.backwards and data.train_dl.bptt_jitter and data.train_dl.bptt == 6
    assert not data.valid_dl.shuffle and not data.valid_dl.bptt_jitter
    x, _ = next(iter(data.valid_dl))
    last = data.valid_ds.x.ids[-6:][::-1]
    assert x[0].tolist() == last.tolist()


def test_classifier_batches_pad_first_and_get_preds_restores_order():
    data = clas_data(bs=4)
    xb, yb = data.one_batch(DatasetType.Valid)
    assert xb.dtype == yb.dtype == torch.int64
    lengths = (xb != 1).sum(1)
    assert (xb[:, 0] == 1).any() or lengths.min() == xb.shape[1]
    for row, n in zip(xb, lengths.tolist()):
        assert (row[: xb.shape[1] - n] == 1).all() and row[xb.shape[1] - n] == 2  # pads, then xxbos

    class Len(torch.nn.Module):  # "predicts" each document's length, to check the row order
        def forward(self, x):
            n = (x != 1).sum(1, keepdim=True).float()
            return torch.cat([n, -n], 1)

    learn = Learner(data, Len(), silent=True)
    preds, targs = learn.get_preds(DatasetType.Valid, activ=lambda o: o)
    want_len = torch.tensor([len(data.valid_ds[i][0]) for i in range(len(data.valid_ds))], dtype=torch.float)
    assert torch.equal(preds[:, 0], want_len)
    assert targs.tolist() == [data.classes.index(data.valid_ds[i][1]) for i in range(len(data.valid_ds))]


def test_show_batch_tables():
    clas = clas_data().batch_table(rows=3)
    assert list(clas.columns) == ["text", "target"] and len(clas) == 3
    assert clas.text[0].startswith("xxbos") and "xxpad" not in " ".join(clas.text)
    lm = lm_data(bptt=8).batch_table(rows=2)
    assert list(lm.columns) == ["idx", "text"] and len(lm.text[0].split()) == 8


def test_predict_input_is_one_tokenized_row():
    data = clas_data()
    xb = data.train_ds.x.item_to_batch("Good MOVIE", data.label_lists)
    assert xb.shape == (1, 5) and xb.dtype == torch.int64
    assert data.vocab.textify(xb[0].tolist()) == "xxbos xxmaj good xxup movie"


# ------------------------------------------------------------------------ save / load / export
@pytest.mark.parametrize("kind", ["lm", "clas"])
def test_save_load_round_trip(tmp_path, kind):
    df = reviews()
    src = TextList.from_df(df, path=tmp_path, cols="text").split_from_df(col="is_valid")
    lls = src.label_for_lm() if kind == "lm" else src.label_from_df("label")
    data = lls.databunch(bs=4, **({"bptt": 9} if kind == "lm" else {}))
    data.save("data.pkl")
    back = load_data(tmp_path, "data.pkl", bs=4)
    assert type(back) is type(data)
    assert back.vocab.itos == data.vocab.itos
    for a, b in ((data.train_ds, back.train_ds), (data.valid_ds, back.valid_ds)):
        assert [a[i][0] for i in range(len(a))] == [b[i][0] for i in range(len(b))]
        assert [a[i][1] for i in range(len(a))] == [b[i][1] for i in range(len(b))]
        assert str(a[0][0]) == str(b[0][0])
    torch.manual_seed(0)
    xa = data.one_batch()[0]
    torch.manual_seed(0)
    xb = back.one_batch()[0]
    assert torch.equal(xa, xb)  # same loader settings (bptt 9 for the LM) and order
    cls_ = TextLMDataBunch if kind == "lm" else TextClasDataBunch
    assert type(cls_.load(tmp_path, "data.pkl")) is cls_
    other = TextClasDataBunch if kind == "lm" else TextLMDataBunch
    with pytest.raises(ValueError, match="not a"):
        other.load(tmp_path, "data.pkl")


def test_export_state_keeps_vocab_and_tokenizer_only():
    data = clas_data()
    tensors, meta = data.label_lists.export_state()
    assert sum(t.numel() for t in tensors.values()) <= 2  # no corpus, only empty arrays
    assert meta["x_proc"]["itos"] == data.vocab.itos
    assert meta["x_proc"]["tokenizer_desc"]["post_rules"] == ["replace_all_caps", "deal_caps"]
    lls = LabelLists.from_export_state(tensors, meta, Path("."))
    xb = lls.train.x.item_to_batch("great fun", lls)
    assert xb[0].tolist() == data.train_ds.x.item_to_batch("great fun", data.label_lists)[0].tolist()


# ---------------------------------------------------------------------------- factories
def test_from_csv_gives_a_classifier_with_a_random_split(tmp_path):
    reviews(50).to_csv(tmp_path / "texts.csv", index=False)
    torch.manual_seed(0)
    data = TextDataBunch.from_csv(tmp_path, "texts.csv")
    assert isinstance(data, TextClasDataBunch) and data.classes == ["neg", "pos"]
    assert len(data.valid_ds) == int(0.2 * 50) + 1 and len(data.train_ds) == 50 - 11
    assert data.train_dl.bs == 32
    torch.manual_seed(0)
    again = TextDataBunch.from_csv(tmp_path, "texts.csv")
    assert [str(again.valid_ds[i][0]) for i in range(11)] == [str(data.valid_ds[i][0]) for i in range(11)]
    lm = TextLMDataBunch.from_csv(tmp_path, "texts.csv", bptt=10)
    assert isinstance(lm, TextLMDataBunch) and lm.train_dl.bs == 64 and lm.train_dl.bptt == 10


def test_add_test_and_multilabel(tmp_path):
    df = reviews()
    df["tags"] = ["a;b", "b"] * 30
    data = TextClasDataBunch.from_df(
        tmp_path,
        df[:50],
        df[50:],
        test_df=df[50:],
        text_cols="text",
        label_cols="tags",
        label_delim=";",
        bs=4,
    )
    assert data.c == 2 and data.test_dl is not None
    xb, _ = next(iter(data.test_dl))
    assert xb.shape[0] == 4


def write_imdb(root: Path) -> Path:
    rng = np.random.default_rng(1)
    for split, folders in (("train", ("pos", "neg", "unsup")), ("test", ("pos", "neg"))):
        for f in folders:
            (root / split / f).mkdir(parents=True)
            for i in range(8):
                words = " ".join(rng.choice(WORDS, size=6))
                (root / split / f / f"{i}_7.txt").write_text(f"{f.capitalize()} {words}.", encoding="utf-8")
    (root / "train" / "pos" / "99_9.txt").write_bytes(b"Caf\xe9 \xff\xfe movie good.")  # not UTF-8
    (root / "README").write_text("not a review")
    return root


def test_read_text_file_replaces_and_counts_bad_bytes(tmp_path):
    f = tmp_path / "r.txt"
    f.write_bytes("ok \ufffd ".encode() + b"\xe9\xff!")
    assert read_text_file(f) == ("ok \ufffd \ufffd\ufffd!", 2)  # the U+FFFD already there is not counted


def test_from_folder_lm_and_classifier(tmp_path):
    path = write_imdb(tmp_path / "imdb")
    with pytest.warns(UserWarning, match=r"1 file\(s\) were not valid UTF-8: 3 undecodable"):
        lm = (
            TextList.from_folder(path)
            .filter_by_folder(include=["train", "test"])
            .split_by_rand_pct(0.1, seed=0)
            .label_for_lm()
            .databunch(bs=2)
        )
    assert len(lm.train_ds) + len(lm.valid_ds) == 41
    with pytest.warns(UserWarning, match=r"dropped 8 file\(s\) in other folders \{'unsup': 8\}"):
        clas = (
            TextList.from_folder(path, vocab=lm.vocab)
            .split_by_folder(valid="test")
            .label_from_folder(classes=["neg", "pos"])
            .databunch(bs=4)
        )
    assert clas.classes == ["neg", "pos"] and len(clas.train_ds) == 17 and len(clas.valid_ds) == 16
    assert clas.vocab.itos == lm.vocab.itos
    fac = TextClasDataBunch.from_folder(path, valid="test", classes=["neg", "pos"])
    assert len(fac.train_ds) == 17
    with pytest.raises(FileNotFoundError, match="no .csv files"):
        TextList.from_folder(tmp_path / "imdb" / "train", extensions=[".csv"])


def test_pre_split_list_is_tokenized_once(monkeypatch):
    calls = []
    orig = TextProcessor.tokenize

    def counting(self, texts):
        calls.append(len(texts))
        return orig(self, texts)

    monkeypatch.setattr(TextProcessor, "tokenize", counting)
    lm_data()
    assert calls == [60]  # the whole list, once; train and valid are cut from it


def test_token_cache_makes_the_second_run_skip_tokenizing(tmp_path, monkeypatch):
    df = reviews()
    clas_data(df, cache_dir=tmp_path)
    assert any(tmp_path.iterdir())
    from emberfit.text.tokenizer import Tokenizer

    def boom(*a, **k):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(Tokenizer, "_chunk_results", boom)
    clas_data(df, cache_dir=tmp_path)


# --------------------------------------------------------------------------------- bad input
def test_missing_and_non_string_texts_are_counted_in_one_warning():
    df = reviews()
    df["text"] = df["text"].astype(object)
    df.loc[0, "text"], df.loc[1, "text"], df.loc[2, "text"], df.loc[3, "text"] = None, np.nan, 42, ""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        data = clas_data(df)
    msgs = [str(m.message) for m in w if "missing text" in str(m.message)]
    assert len(msgs) == 1
    assert "2 missing text(s)" in msgs[0] and "1 non-string value(s)" in msgs[0] and "42" in msgs[0]
    assert [str(data.train_ds[i][0]) for i in range(4)] == ["xxbos", "xxbos", "xxbos xxunk", "xxbos"]


def test_missing_columns_and_single_class_are_clear_errors(tmp_path):
    df = reviews()
    with pytest.raises(KeyError, match="'txt'"):
        TextList.from_df(df, cols="txt")
    with pytest.raises(KeyError, match="'lbl'"):
        TextList.from_df(df, cols="text").split_from_df(col="is_valid").label_from_df("lbl")
    df["label"] = "pos"
    with pytest.raises(ValueError, match="1 class"):
        clas_data(df)
    df2 = reviews()
    df2.loc[0, "label"] = None
    with pytest.raises(ValueError, match="missing"):
        clas_data(df2)
    with pytest.raises(TypeError, match="bptt"):
        clas_data().label_lists.databunch(bs=4, bptt=70)
    with pytest.raises(TypeError, match="vocab must be a Vocab"):
        TextList.from_df(df, cols="text", vocab=["xxunk"])
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        TextDataBunch.from_csv(tmp_path, "nope.csv")


# ------------------------------------------------------------------------------------- real data
@pytest.mark.slow
def test_imdb_sample_from_csv_like_the_lesson():
    path = Path("/work/shared/data/imdb_sample")
    if not (path / "texts.csv").is_file():
        pytest.skip("the IMDB sample is not in /work/shared/data")
    torch.manual_seed(42)
    data = TextDataBunch.from_csv(path, "texts.csv")
    assert isinstance(data, TextClasDataBunch)
    assert data.classes == ["negative", "positive"]
    assert (len(data.train_ds), len(data.valid_ds)) == (799, 201)
    assert data.vocab.itos[:9] == [
        "xxunk",
        "xxpad",
        "xxbos",
        "xxeos",
        "xxfld",
        "xxmaj",
        "xxup",
        "xxrep",
        "xxwrep",
    ]
    assert data.vocab.itos[9] == "the"
    assert 4000 < len(data.vocab.itos) < 10000 and len(data.vocab.itos) % 8 == 0
    x = data.train_ds[0][0]
    assert str(x).startswith("xxbos ") and x.data[0] == 2
    assert data.show_batch(rows=2) is None
    df = data.batch_table(rows=2)
    assert len(df) == 2
    lm = (
        TextList.from_csv(path, "texts.csv", cols="text").split_from_df(col=2).label_for_lm().databunch(bs=16)
    )
    xb, yb = lm.one_batch()
    assert xb.shape == (16, 70) and torch.equal(xb[:, 1:], yb[:, :-1])

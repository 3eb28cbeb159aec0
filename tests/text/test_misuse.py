"""Issue 12 for text: non-UTF-8 CSVs, empty texts, whitespace tokens; each error names the fix."""

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.text.databunch import TextDataBunch, TextLMDataBunch
from emberfit.text.item_lists import TextList

from .test_data import reviews


@pytest.fixture
def latin1_csv(tmp_path):
    df = reviews(30)
    df.loc[3, "text"] = "Un café crème, très bon"
    df.to_csv(tmp_path / "texts.csv", index=False, encoding="latin-1")
    return tmp_path


@pytest.mark.parametrize("factory", ["TextDataBunch", "TextLMDataBunch", "TextList"])
def test_latin1_csv_names_file_byte_and_encoding_option(latin1_csv, factory):
    with pytest.raises(ValueError) as e:
        if factory == "TextList":
            TextList.from_csv(latin1_csv, "texts.csv", cols="text")
        else:
            {"TextDataBunch": TextDataBunch, "TextLMDataBunch": TextLMDataBunch}[factory].from_csv(
                latin1_csv, "texts.csv"
            )
    msg = str(e.value)
    raw = (latin1_csv / "texts.csv").read_bytes()
    assert str(latin1_csv / "texts.csv") in msg and "not valid 'utf-8'" in msg
    assert f"byte 0xe9 at byte offset {raw.index(b'caf') + 3} (line 5" in msg
    assert f"{factory}.from_csv(..., encoding=...)" in msg and "encoding='latin-1'" in msg


def test_latin1_csv_reads_with_its_encoding(latin1_csv):
    torch.manual_seed(0)
    data = TextDataBunch.from_csv(latin1_csv, "texts.csv", encoding="latin-1", min_freq=1)
    assert "café" in data.vocab.itos
    items = TextList.from_csv(latin1_csv, "texts.csv", cols="text", encoding="latin-1")
    assert items.items[3] == "Un café crème, très bon"


def test_latin1_test_csv_is_named_too(tmp_path):
    reviews(30).to_csv(tmp_path / "texts.csv", index=False)
    pd.DataFrame({"text": ["déjà vu"] * 3}).to_csv(tmp_path / "test.csv", index=False, encoding="latin-1")
    with pytest.raises(ValueError, match=r"test\.csv is not valid 'utf-8'.*encoding='latin-1'"):
        TextDataBunch.from_csv(tmp_path, "texts.csv", test="test.csv", text_cols="text", label_cols="label")


# -- empty texts and whitespace tokens -------------------------------------------------------------


def blanked(n_blank, n=60):
    df = reviews(n)
    df["text"] = df["text"].astype(object)
    blanks = ["", "   ", "\t", "\n\n", None, " \xa0 "]
    for i in range(n_blank):
        df.loc[i, "text"] = blanks[i % len(blanks)]
    return df


@pytest.mark.parametrize("how", ["data block", "TextLMDataBunch", "TextDataBunch.from_csv"])
def test_all_empty_texts_are_refused_naming_the_column_and_rows(how, tmp_path):
    df = blanked(60)
    with pytest.raises(ValueError) as e:
        if how == "data block":
            TextList.from_df(df, cols="text").split_from_df(col="is_valid").label_for_lm().databunch(bs=4)
        elif how == "TextLMDataBunch":  # the column given by position is named in the message
            TextLMDataBunch.from_df(tmp_path, df[:50], df[50:], text_cols=1)
        else:
            df.to_csv(tmp_path / "texts.csv", index=False)
            TextDataBunch.from_csv(tmp_path, "texts.csv")
    msg = str(e.value)  # the rows of the list before splitting: all 60 are blank
    assert "all 60 texts in column 'text' are empty or only whitespace" in msg
    assert "nothing but 'xxbos'" in msg and "cols=" in msg


def test_all_empty_training_split_is_refused_even_if_valid_has_text():
    df = reviews(60)
    df.loc[~df.is_valid, "text"] = "  "
    with (
        pytest.raises(ValueError, match=r"all 50 texts in column 'text' are empty"),
        pytest.warns(UserWarning),
    ):
        TextList.from_df(df, cols="text").split_from_df(col="is_valid").label_for_lm().databunch(bs=4)


def test_some_empty_texts_warn_with_count_and_column():
    df = blanked(9)
    with pytest.warns(UserWarning) as w:
        data = TextList.from_df(df, cols="text").split_from_df(col="is_valid").label_for_lm().databunch(bs=4)
    msgs = [str(m.message) for m in w if "empty or only whitespace" in str(m.message)]
    assert len(msgs) == 1
    assert "9 of 60 texts in column 'text' are empty or only whitespace (each gives just 'xxbos')" in msgs[0]
    assert "drop them first, e.g. df = df[df['text'].fillna('').str.strip() != '']" in msgs[0]
    # each blank text is just xxbos: its whitespace made no token
    assert [str(data.train_ds[i][0]) for i in range(6)] == ["xxbos"] * 6


def test_no_whitespace_token_reaches_the_vocabulary_or_the_ids():
    df = reviews(60)
    df["text"] = df["text"] + "\tgood \xa0\xa0 bad\u3000fun<br /><br />Movie"
    df.loc[0, "text"] = "   "
    src = TextList.from_df(df, cols="text", min_freq=1).split_from_df(col="is_valid")
    with pytest.warns(UserWarning, match="1 of 60 texts"):
        data = src.label_for_lm().databunch(bs=4)
    itos = data.vocab.itos
    blank = [t for t in itos if not t.strip() and "\n" not in t]
    assert blank == [] and "xxbos" in itos and "fun" in itos
    # line breaks stay tokens, as in fastai and in the bundled model's vocabulary
    assert "\n \n " in itos
    ids = np.concatenate([data.train_ds.x.ids, data.valid_ds.x.ids])
    assert not any(not itos[i].strip() and "\n" not in itos[i] for i in np.unique(ids))
    proc = data.label_lists.train.x.processor
    assert [itos[i] for i in proc.process_one("good \t bad")] == ["xxbos", "good", "bad"]


def test_tokenizer_output_is_unchanged():
    from emberfit.text.tokenizer import Tokenizer

    assert Tokenizer(n_cpus=1).process_all(["   ", "a\tb"]) == [[" "], ["a", "\t", "b"]]  # fastai v1's tokens


def test_vocab_create_skips_whitespace_tokens():
    from emberfit.text.vocab import Vocab

    v = Vocab.create([[" ", "a", "\t", "a", "\xa0", "\n ", ""]], min_freq=1)
    assert v.itos[9:11] == ["a", "\n "] and " " not in v.itos and "\t" not in v.itos and "" not in v.itos


def test_pretraining_corpus_of_blank_documents_is_refused(tmp_path):
    from emberfit.text.corpus import prepare_corpus

    pd.DataFrame({"text": ["", "  ", "\n"], "body": ["a b", "c", "d"]}).to_csv(
        tmp_path / "c.csv", index=False
    )
    with pytest.raises(
        ValueError, match=r"c\.csv: all 3 documents are empty or only whitespace.*text_col='text'"
    ):
        prepare_corpus([tmp_path / "c.csv"], log=None, cache=False)
    corpus = prepare_corpus([tmp_path / "c.csv"], text_col="body", min_freq=1, log=None, cache=False)
    assert corpus.n_docs == 3

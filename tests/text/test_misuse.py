"""Issue 12 for text: non-UTF-8 CSVs, empty texts, whitespace tokens; each error names the fix."""

import pandas as pd
import pytest
import torch

from emberfit.text.data import TextList
from emberfit.text.databunch import TextDataBunch, TextLMDataBunch

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

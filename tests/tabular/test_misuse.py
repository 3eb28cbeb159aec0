"""Issue 12 for tabular: non-UTF-8 CSVs and infinite values; each error names the column and the fix."""

import pytest

from emberfit.tabular import TabularList

from .conftest import PROCS


def test_latin1_csv_names_the_encoding_option(df, tmp_path):
    df = df.copy()
    df["color"] = df["color"].replace({"red": "rouge foncé"})
    df.to_csv(tmp_path / "t.csv", index=False, encoding="latin-1")
    with pytest.raises(
        ValueError, match=r"t\.csv is not valid 'utf-8': byte 0xe9 at byte offset \d+ \(line \d+"
    ) as e:
        TabularList.from_csv(tmp_path, "t.csv", cat_names=["color"], cont_names=["x"], procs=PROCS)
    assert "TabularList.from_csv(..., encoding=...)" in str(e.value) and "encoding='latin-1'" in str(e.value)
    il = TabularList.from_csv(
        tmp_path, "t.csv", cat_names=["color"], cont_names=["x"], procs=PROCS, encoding="latin-1"
    )
    assert "rouge foncé" in set(il.inner_df["color"])

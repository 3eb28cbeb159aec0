"""Issue 12 for tabular: non-UTF-8 CSVs and infinite values; each error names the column and the fix."""

import numpy as np
import pytest

from emberfit.core.data_block.labels import FloatList
from emberfit.tabular import TabularList

from .conftest import PROCS, build


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


# -- infinite values: refused like NaN labels; in inputs, pointed at FillMissing via NaN -----------


def test_infinite_regression_labels_are_counted_per_split(df):
    df = df.copy()
    df.loc[[0, 1, 399], "target"] = [np.inf, -np.inf, np.inf]
    with pytest.raises(ValueError) as e:
        build(df, label="target")
    msg = str(e.value)
    assert "label column 'target' has 3 row(s) with an infinite value" in msg
    assert "2 in the training rows, 1 in the validation rows" in msg and "np.isfinite(df['target'])" in msg


def test_infinite_continuous_inputs_name_the_column_count_and_fix(df):
    df = df.copy()
    df.loc[[5, 6, 7], "z"] = np.inf
    df.loc[9, "x"] = -np.inf
    with pytest.raises(ValueError) as e:
        build(df)
    msg = str(e.value)
    assert "infinite values (inf/-inf) in the training rows: 'x' (1 row), 'z' (3 rows)" in msg
    assert "FillMissing fills NaN, not inf" in msg
    assert "df['x'] = df['x'].replace([np.inf, -np.inf], np.nan)" in msg
    for col in ("x", "z"):  # the fix in the message: FillMissing then fills them and flags them
        df[col] = df[col].replace([np.inf, -np.inf], np.nan)
    data = build(df)
    assert np.isfinite(data.train_ds.x.conts).all() and "z_na" in data.train_ds.x.cat_names


def test_infinite_inputs_in_the_validation_rows_are_refused_too(df):
    df = df.copy()
    df.loc[390, "z"] = np.inf  # only in the validation rows
    with pytest.raises(ValueError, match=r"infinite values \(inf/-inf\) in these rows: 'z' \(1 row\)"):
        build(df)


def test_floatlist_refuses_inf_and_values_beyond_float32():
    with pytest.raises(ValueError, match=r"2 'target' label\(s\) are infinite"):
        FloatList([1.0, np.inf, 1e39])

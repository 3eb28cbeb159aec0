"""TabularList / TabularDataBunch: the chain, the arrays behind the batches, show_batch, save/load."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.tabular import (
    Categorify,
    DatasetType,
    FillMissing,
    Normalize,
    TabularDataBunch,
    TabularList,
    load_data,
)

from .conftest import PROCS, build, make_df


def test_chain_builds_contiguous_arrays_fitted_on_train_only(df):
    data = build(df)
    x = data.train_ds.x
    assert x.cat_names == ["color", "size", "x_na"] and x.cont_names == ["x", "z"]
    assert x.codes.dtype == np.int64 and x.conts.dtype == np.float32
    assert x.codes.shape == (320, 3) and data.valid_ds.x.conts.shape == (80, 2)
    assert x.classes["color"] == ["#na#", "blue", "green", "red"] and x.classes["x_na"] == [
        "#na#",
        False,
        True,
    ]
    # Normalize used the training rows only: train conts are centred, the full column is not used
    assert np.abs(x.conts.mean(0)).max() < 1e-4
    train_z = df["z"].iloc[:320]
    expected = (df["z"].iloc[320] - train_z.mean()) / train_z.std()
    assert data.valid_ds.x.conts[0, 1] == pytest.approx(expected, rel=1e-4)


def test_batches_are_slices_of_the_processed_arrays(df):
    data = build(df)
    (cats, conts), yb = next(iter(data.valid_dl))
    assert cats.dtype == torch.int64 and conts.dtype == torch.float32 and cats.shape == (32, 3)
    np.testing.assert_array_equal(cats.numpy(), data.valid_ds.x.codes[:32])
    loader_cats = data.train_dl.x[0]
    assert loader_cats.data_ptr() == torch.from_numpy(data.train_ds.x.codes).data_ptr()  # no copy
    assert loader_cats.is_contiguous()


def test_train_item_decodes(df):
    data = build(df)
    line, label = data.train_ds[0]
    assert label == df["y"].iloc[0]
    assert f"color {df['color'].iloc[0]};" in repr(line)
    assert line.data[0].shape == (3,) and line.data[1].shape == (2,)


def test_show_batch_decodes_categories_and_shows_na_columns(df, capsys):
    data = build(df)
    assert data.show_batch(rows=5) is None  # v1: it shows the table and returns nothing
    table = data.batch_table(rows=5)
    assert list(table.columns) == ["color", "size", "x_na", "x", "z", "target"]
    assert len(table) == 5
    assert set(table["color"]) <= {"red", "green", "blue"} and set(table["x_na"]) <= {True, False}
    assert set(table["target"]) <= {"yes", "no"}
    assert "x_na" in capsys.readouterr().out


def test_add_test_keeps_order_and_unknown_label(df):
    test = TabularList.from_df(df.iloc[10:20].copy(), cat_names=["color", "size"], cont_names=["x", "z"])
    data = (
        TabularList.from_df(df, cat_names=["color", "size"], cont_names=["x", "z"], procs=PROCS)
        .split_by_idx(range(300, 400))
        .label_from_df(cols="y")
        .add_test(test, label=0)
        .databunch(device="cpu")
    )
    (cats, _), _ = data.one_batch(DatasetType.Test)
    np.testing.assert_array_equal(cats.numpy(), data.train_ds.x.codes[10:20])  # rows 10..19 are training rows


def test_default_cont_names_are_numeric_leftovers(df):
    df = df.drop(columns="target").assign(note="free text")
    with pytest.warns(UserWarning, match=r"the column\(s\) \['note'\] are not numbers and are not used"):
        data = (
            TabularList.from_df(df, cat_names=["color"], procs=PROCS)
            .split_by_idx(range(300, 400))
            .label_from_df(cols="y")
            .databunch(device="cpu")
        )
    assert data.train_ds.x.cont_names == ["size", "x", "z"]


def test_lesson_era_label_column_is_derived_with_a_warning(df):
    """The lesson says dep_var='>=50k'; the shipped file has salary in {'>=50k','<50k'}."""
    df = df.assign(salary=np.where(df["y"] == "yes", ">=50k", "<50k"))
    with pytest.warns(UserWarning, match=r"no column '>=50k', but it is a value of column 'salary'"):
        data = build(df, label=">=50k")
    assert data.classes == [0, 1]
    assert data.train_ds[0][1] == int(df["salary"].iloc[0] == ">=50k")


def test_databunch_from_df_one_call(df):
    data = TabularDataBunch.from_df(
        ".", df, "y", valid_idx=range(300, 400), procs=PROCS, cat_names=["color", "size"],
        cont_names=["x", "z"], test_df=df.iloc[:7], bs=16, device="cpu",
    )  # fmt: skip
    assert isinstance(data, TabularDataBunch)
    assert len(data.train_dl) == 300 // 16 and data.test_dl.n == 7 and data.c == 2


def test_procs_without_categorify_still_encode_categories(df):
    data = build(df, procs=[FillMissing, Normalize])
    assert data.train_ds.x.classes["size"] == ["#na#", 1, 2, 3]
    assert data.train_ds.x.codes[:, 1].min() >= 1


def test_procs_accept_instances_and_partials(df):
    from functools import partial

    fm = partial(FillMissing, fill_strategy="constant", fill_val=-9.0)
    data = build(df, procs=[fm, Categorify(), Normalize])
    assert data.train_ds.x.processor.procs_[0].fill_vals_["x"] == -9.0


def test_save_and_load_data_roundtrip(df, tmp_path):
    data = build(df)
    data.path = tmp_path
    data.save("tab.safetensors")
    back = load_data(tmp_path, "tab.safetensors", bs=16)
    np.testing.assert_array_equal(back.train_ds.x.codes, data.train_ds.x.codes)
    np.testing.assert_array_equal(back.valid_ds.x.conts, data.valid_ds.x.conts)
    assert back.train_ds.x.classes == data.train_ds.x.classes and back.classes == data.classes
    table = back.batch_table(rows=3)
    assert list(table.columns) == ["color", "size", "x_na", "x", "z", "target"]


def test_preprocessing_is_vectorised_on_many_rows():
    """50k rows: every value is processed (no per-row Python would be needed to get here quickly)."""
    big = make_df(50_000, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = build(big, valid=range(40_000, 50_000), bs=1024)
    assert data.train_ds.x.codes.shape == (40_000, 3)
    assert int((data.train_ds.x.codes[:, 2] == 2).sum()) == int(big["x"].iloc[:40_000].isna().sum())


def test_string_label_values_in_frame_with_extension_dtypes():
    """pandas' nullable dtypes (Int64, string, boolean) work as inputs."""
    d = make_df(200)
    d["size"] = d["size"].astype("Int64")
    d["color"] = d["color"].astype("string")
    d["flag"] = (d["z"] > 50).astype("boolean")
    data = (
        TabularList.from_df(d, cat_names=["color", "size"], cont_names=["x", "z", "flag"], procs=PROCS)
        .split_by_idx(range(150, 200))
        .label_from_df(cols="y")
        .databunch(device="cpu")
    )
    assert data.train_ds.x.conts.shape == (150, 3)
    assert pd.Series(data.train_ds.x.conts[:, 2]).nunique() == 2


def test_label_codes_follow_dict_lookup_semantics():
    """core's vectorised label encoding (used for every tabular label) matches a plain dict lookup."""
    from emberfit.core.data_block.labels import _class_codes

    values = np.array([True, np.int64(1), 1.0, "1", None, float("nan"), 0, 7], dtype=object)
    lookup = {0: 0, 1: 1}
    expected = [lookup.get(v.item() if isinstance(v, np.generic) else v, -1) for v in values]
    assert _class_codes([0, 1], values).tolist() == expected == [1, 1, 1, -1, -1, -1, 0, -1]
    assert _class_codes(["<50k", ">=50k"], np.array([">=50k", "<50k", "?"])).tolist() == [1, 0, -1]


def test_from_csv(df, tmp_path):
    df.to_csv(tmp_path / "t.csv", index=False)
    il = TabularList.from_csv(tmp_path, "t.csv", cat_names=["color"], cont_names=["x"], procs=PROCS)
    assert len(il) == len(df) and il.path == tmp_path
    with pytest.raises(FileNotFoundError, match=r"from_csv: no file .*nope.csv; check path="):
        TabularList.from_csv(tmp_path, "nope.csv")

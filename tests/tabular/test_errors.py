"""Bad input: each case raises (or warns) with a message naming the column/value and the fix."""

import numpy as np
import pandas as pd
import pytest

from emberfit.tabular import TabularList, tabular_learner

from .conftest import build


def test_missing_column_names_it_and_the_closest_ones(df):
    with pytest.raises(
        KeyError,
        match=r"cat_names has 'colour', but the DataFrame has no such column; did you mean \['color'\]",
    ):
        TabularList.from_df(df, cat_names=["colour"], cont_names=["x"])
    with pytest.raises(KeyError, match=r"cont_names has 'zz'.*did you mean \['z'\]"):
        TabularList.from_df(df, cat_names=["color"], cont_names=["zz"])


def test_names_given_as_a_string_or_twice(df):
    with pytest.raises(
        TypeError, match=r"cat_names must be a list of column names, got the string 'color'; use \['color'\]"
    ):
        TabularList.from_df(df, cat_names="color")
    with pytest.raises(ValueError, match=r"column\(s\) \['x'\] are in both cat_names and cont_names"):
        TabularList.from_df(df, cat_names=["x"], cont_names=["x"])
    with pytest.raises(ValueError, match=r"cont_names lists \['x'\] more than once"):
        TabularList.from_df(df, cont_names=["x", "x"])


def test_strings_in_a_continuous_column_name_column_and_value(df):
    df["z"] = df["z"].astype(object)
    df.loc[7, "z"] = "n/a"
    with pytest.raises(
        TypeError, match=r"cont_names column 'z' holds text that is not a number: 'n/a' \(row 7, 1 such value"
    ):
        build(df)


def test_all_nan_column(df):
    df["z"] = np.nan
    with pytest.raises(
        ValueError,
        match=r"cont_names column\(s\) \['z'\] are entirely missing \(NaN\) in the 320 training rows",
    ):
        build(df)
    df["z"], df["color"] = 1.0, None
    with pytest.raises(ValueError, match=r"cat_names column\(s\) \['color'\] are entirely missing"):
        build(df)


def test_nan_labels_are_counted_per_split(df):
    df.loc[[0, 1, 390], "y"] = np.nan
    with pytest.raises(
        ValueError,
        match=r"label column 'y' has 3 row\(s\) with a missing value \(NaN\): 2 in the training rows, 1 in the validation rows; drop them first",
    ):
        build(df)


def test_label_that_is_also_an_input(df):
    with pytest.raises(ValueError, match=r"label column\(s\) \['x'\] are also in cat_names/cont_names"):
        build(df, label="x")


def test_unknown_label_column(df):
    with pytest.raises(KeyError, match=r"label_from_df: cols='why' is not a column"):
        build(df, label="why")


def test_columns_passed_positionally_where_path_goes(df):
    with pytest.raises(
        TypeError,
        match=r"path must be a folder \(str or Path\), got list \['color'\]; pass the columns by keyword",
    ):
        TabularList.from_df(df, ["color"], ["x"])


def test_empty_dataframe(df):
    with pytest.raises(ValueError, match=r"df is empty \(0 rows\)"):
        TabularList.from_df(df.iloc[:0], cat_names=["color"])
    with pytest.raises(TypeError, match="df must be a pandas DataFrame, got dict"):
        TabularList.from_df({"a": [1]})


def test_bad_procs(df):
    with pytest.raises(TypeError, match="procs must hold TabularProc classes such as FillMissing"):
        TabularList.from_df(df, cat_names=["color"], procs=[dict])


def test_nan_left_in_continuous_inputs_without_fillmissing(df):
    with pytest.raises(
        ValueError, match=r"continuous column\(s\) \['x'\] still hold NaN.*add FillMissing to procs"
    ):
        build(df, procs=[])


def test_predict_time_problems(df):
    data = build(df)
    learn = tabular_learner(data, layers=[8], silent=True)
    row = df.iloc[0].copy()
    row["color"] = "purple"
    with pytest.warns(
        UserWarning, match=r"mapped to #na# \(count per column: 'color': 1 \(e.g. 'purple'\)\)"
    ):
        learn.predict(row)
    with pytest.raises(KeyError, match=r"have no column 'z' \(listed in cont_names\)"):
        learn.predict(df.iloc[0].drop("z"))
    with pytest.raises(
        ValueError, match=r"predict takes one row, got a DataFrame with 2 rows; use learn.predict_df"
    ):
        learn.predict(df.iloc[:2])
    with pytest.raises(TypeError, match="predict needs one row as a pandas Series"):
        learn.predict([1, 2])
    with pytest.raises(ValueError, match=r"predict_df got an empty DataFrame"):
        learn.predict_df(df.iloc[:0])


def test_learner_argument_checks(df):
    data = build(df)
    with pytest.raises(
        KeyError, match=r"emb_szs has 'colr', which is not a categorical column.*did you mean \['color'\]"
    ):
        tabular_learner(data, emb_szs={"colr": 3})
    with pytest.raises(ValueError, match=r"emb_szs\['color'\] must be a positive int, got 0"):
        tabular_learner(data, emb_szs={"color": 0})
    with pytest.raises(
        TypeError, match=r"layers must be a list of positive hidden sizes such as \[200, 100\], got 200"
    ):
        tabular_learner(data, layers=200)
    with pytest.raises(ValueError, match="y_range is for regression"):
        tabular_learner(data, y_range=(0, 1))
    with pytest.raises(ValueError, match=r"ps must give one dropout per hidden layer: got 1 values"):
        tabular_learner(data, layers=[8, 4], ps=[0.1])
    with pytest.raises(TypeError, match="tabular_learner needs a DataBunch built from a TabularList"):
        tabular_learner(object())
    one_class = df.assign(y="yes")
    with pytest.raises(ValueError, match=r"the training labels have a single class \['yes'\]"):
        tabular_learner(build(one_class))


def test_regression_y_range_checked(df):
    data = build(df, label="target")
    with pytest.raises(
        ValueError, match=r"y_range must be \(low, high\) numbers with low < high, got \(5, 1\)"
    ):
        tabular_learner(data, y_range=(5, 1))


def test_proc_json_refuses_foreign_classes():
    from emberfit.tabular import TabularProc

    with pytest.raises(ValueError, match="'os:system', which is not a registered emberfit tabular proc"):
        TabularProc.from_state({"cls": "os:system", "cat_names": [], "cont_names": []})
    with pytest.raises(ValueError, match="'core.Learner', which is a registered learner, not a tabular_proc"):
        TabularProc.from_state({"cls": "core.Learner", "cat_names": [], "cont_names": []})


def test_continuous_column_of_dates_is_refused(df):
    df["z"] = pd.date_range("2020-01-01", periods=len(df))
    with pytest.raises(
        TypeError, match=r"cont_names column 'z' has dtype datetime64.*convert it or list it in cat_names"
    ):
        build(df)

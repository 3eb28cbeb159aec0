"""fastai v1's DataFrame helpers on real data: cont_cat_split on adult, date parts of MovieLens timestamps."""

import calendar
import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from emberfit.tabular import (
    URLs,
    add_cyclic_datepart,
    add_datepart,
    cont_cat_split,
    series2cat,
    untar_data,
)


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(untar_data(URLs.ADULT_SAMPLE) / "adult.csv").iloc[:5000]


@pytest.fixture
def ratings() -> pd.DataFrame:
    df = pd.read_csv(untar_data(URLs.ML_SAMPLE) / "ratings.csv").iloc[:500].copy()
    df["date"] = pd.to_datetime(df["timestamp"], unit="s")
    return df


def test_cont_cat_split_on_adult(adult):
    cont, cat = cont_cat_split(adult, max_card=20, dep_var="salary")
    assert "salary" not in cont + cat and sorted(cont + cat) == sorted(set(adult.columns) - {"salary"})
    for name in cont:  # floats, or integers with many values
        col = adult[name]
        assert col.dtype.kind == "f" or (col.dtype.kind == "i" and col.nunique() > 20)
    for name in cat:
        col = adult[name]
        assert col.dtype.kind != "f" and not (col.dtype.kind == "i" and col.nunique() > 20)
    assert {"age", "fnlwgt", "education-num", "hours-per-week"} <= set(cont)
    assert {"workclass", "education", "sex", "native-country"} <= set(cat)
    assert cont == [c for c in adult.columns if c in cont]  # the frame's order
    # the cardinality threshold: age has 60-80 distinct values, education-num is float (NaNs) whatever the card
    n_age = adult["age"].nunique()
    cont_hi, cat_hi = cont_cat_split(adult, max_card=n_age, dep_var="salary")
    assert "age" in cat_hi and "education-num" in cont_hi
    assert "salary" in cont_cat_split(adult)[1]  # no dep_var: the target is just another text column


def test_cont_cat_split_refuses_bad_arguments(adult):
    with pytest.raises(KeyError, match="dep_var='salry' is not a column.*did you mean \\['salary'\\]"):
        cont_cat_split(adult, dep_var="salry")
    with pytest.raises(ValueError, match="max_card must be a non-negative int, got '20'"):
        cont_cat_split(adult, max_card="20")
    with pytest.raises(TypeError, match="needs a pandas DataFrame"):
        cont_cat_split(adult.to_numpy())


def test_add_datepart_on_movielens_timestamps(ratings):
    stamps = ratings["timestamp"].tolist()
    out = add_datepart(ratings, "date")
    assert out is ratings and "date" not in ratings  # in place, the date column dropped
    for i, ts in enumerate(stamps):
        d = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
        row = ratings.iloc[i]
        assert (row["Year"], row["Month"], row["Day"]) == (d.year, d.month, d.day)
        assert row["Week"] == d.isocalendar()[1] and row["Dayofweek"] == d.weekday()
        assert row["Dayofyear"] == d.timetuple().tm_yday
        last_day = calendar.monthrange(d.year, d.month)[1]
        assert row["Is_month_end"] == (d.day == last_day) and row["Is_month_start"] == (d.day == 1)
        assert row["Is_year_end"] == (d.month == 12 and d.day == 31)
        assert row["Is_quarter_start"] == (d.day == 1 and d.month in (1, 4, 7, 10))
        assert row["Elapsed"] == ts  # seconds since 1970: the MovieLens timestamp itself
    assert "Hour" not in ratings


def test_add_datepart_time_prefix_and_keep(ratings):
    add_datepart(ratings, "date", prefix="rated_", drop=False, time=True)
    assert "date" in ratings and ratings["rated_Elapsed"].tolist() == ratings["timestamp"].tolist()
    np.testing.assert_array_equal(ratings["rated_Hour"], ratings["date"].dt.hour)
    np.testing.assert_array_equal(ratings["rated_Second"], ratings["timestamp"] % 60)
    frame = pd.DataFrame({"saleDate": ["2011-02-28", None]})  # text dates, one missing; prefix drops 'Date'
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (pandas: "could not infer format" with one date)
        add_datepart(frame, "saleDate")
    assert frame["saleYear"].iloc[0] == 2011 and frame["saleIs_month_end"].iloc[0]
    assert np.isnan(frame["saleElapsed"].iloc[1]) and np.isnan(frame["saleMonth"].iloc[1])
    with pytest.raises(KeyError, match="field_name='dat' is not a column.*did you mean"):
        add_datepart(ratings, "dat")
    with pytest.raises(ValueError, match="column 'rating' does not hold dates.*pd.to_datetime"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            add_datepart(pd.DataFrame({"rating": ["good", "bad"]}), "rating")


def _turn(df: pd.DataFrame, name: str) -> np.ndarray:
    """The fraction of a turn a (cos, sin) pair encodes."""
    return np.mod(np.arctan2(df[f"{name}_sin"], df[f"{name}_cos"]) / (2 * np.pi), 1.0)


def test_add_cyclic_datepart_on_movielens_timestamps(ratings):
    stamps = ratings["timestamp"].tolist()
    add_cyclic_datepart(ratings, "date", time=True, add_linear=True)
    names = ["weekday", "day_month", "month_year", "day_year", "hour", "clock", "min", "sec"]
    assert [c for c in ratings.columns if c not in ("userId", "movieId", "rating", "timestamp")] == [
        f"{n}_{f}" for n in names for f in ("cos", "sin")
    ] + ["year_lin"]
    for name in names:
        np.testing.assert_allclose(ratings[f"{name}_cos"] ** 2 + ratings[f"{name}_sin"] ** 2, 1.0, atol=1e-9)
    want = {n: [] for n in [*names, "year_lin"]}
    for ts in stamps:
        d = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
        days_year = 366 if calendar.isleap(d.year) else 365
        want["weekday"].append(d.weekday() / 7)
        want["day_month"].append((d.day - 1) / calendar.monthrange(d.year, d.month)[1])
        want["month_year"].append((d.month - 1) / 12)
        want["day_year"].append((d.timetuple().tm_yday - 1) / days_year)
        want["hour"].append(d.hour / 24)
        want["clock"].append(d.hour % 12 / 12)
        want["min"].append(d.minute / 60)
        want["sec"].append(d.second / 60)
        start = dt.datetime(d.year, 1, 1, tzinfo=dt.timezone.utc)
        want["year_lin"].append(d.year + (d - start).total_seconds() / (days_year * 86400))
    for name in names:
        np.testing.assert_allclose(_turn(ratings, name), np.array(want[name]), atol=1e-9)
    np.testing.assert_allclose(ratings["year_lin"], want["year_lin"], rtol=0, atol=1e-6)


def test_series2cat_on_adult(adult):
    df = adult.copy()
    assert series2cat(df, "workclass", "race") is None
    for name in ("workclass", "race"):
        assert isinstance(df[name].dtype, pd.CategoricalDtype) and df[name].cat.ordered
        assert list(df[name].cat.categories) == sorted(adult[name].unique())
        np.testing.assert_array_equal(np.asarray(df[name].cat.categories)[df[name].cat.codes], adult[name])
    pd.testing.assert_series_equal(df["age"], adult["age"])  # other columns untouched
    with pytest.raises(
        KeyError, match="col_names='wrkclass' is not a column.*did you mean \\['workclass'\\]"
    ):
        series2cat(df, "wrkclass")
    with pytest.raises(ValueError, match="needs at least one column name"):
        series2cat(df)

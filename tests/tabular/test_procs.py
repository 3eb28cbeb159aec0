"""The procs: fitted state, application to new rows, JSON round trip, warnings on surprises."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from emberfit.tabular import Categorify, FillMissing, FillStrategy, Normalize, TabularProc


def _roundtrip(proc: TabularProc) -> TabularProc:
    return TabularProc.from_state(json.loads(json.dumps(proc.state())))


@pytest.mark.parametrize("cls", [FillMissing, Categorify, Normalize])
def test_proc_contract(cls):
    """Every proc: refuses to apply unfitted, does not touch its input, survives a JSON round trip."""
    train = pd.DataFrame({"c": ["a", "b", None, "a"], "x": [1.0, np.nan, 3.0, 5.0]})
    new = pd.DataFrame({"c": ["b", "a"], "x": [2.0, 4.0]})
    proc = cls(cat_names=["c"], cont_names=["x"])
    with pytest.raises(ValueError, match=f"this {cls.__name__} is not fitted yet; call .fit"):
        proc.apply(new)
    before = new.copy()
    out = proc.fit(train).apply(new)
    pd.testing.assert_frame_equal(new, before)
    again = _roundtrip(proc).apply(new)
    pd.testing.assert_frame_equal(out, again)


def test_fill_missing_median_adds_na_column_only_where_train_had_nans():
    train = pd.DataFrame({"x": [1.0, np.nan, 3.0, 10.0], "w": [1.0, 2.0, 3.0, 4.0]})
    fm = FillMissing(cont_names=["x", "w"]).fit(train)
    assert fm.fill_vals_ == {"x": 3.0, "w": 2.5}
    assert fm.na_cols_ == ["x"] and fm.cat_names == ["x_na"]
    out = fm.apply(train, train=True)
    assert out["x"].tolist() == [1.0, 3.0, 3.0, 10.0]
    assert out["x_na"].tolist() == [False, True, False, False]
    assert "w_na" not in out


def test_fill_missing_strategies():
    train = pd.DataFrame({"x": [1.0, 2.0, 2.0, 7.0, np.nan]})
    common = FillMissing(cont_names=["x"], fill_strategy=FillStrategy.COMMON).fit(train)
    const = FillMissing(cont_names=["x"], fill_strategy="constant", fill_val=-1).fit(train)
    assert common.fill_vals_["x"] == 2.0 and const.fill_vals_["x"] == -1.0
    no_col = FillMissing(cont_names=["x"], add_col=False).fit(train)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # x had NaNs in training: filling them later is no surprise
        assert no_col.cat_names == [] and "x_na" not in no_col.apply(train)
    with pytest.raises(
        ValueError, match="fill_strategy must be FillStrategy.MEDIAN, COMMON or CONSTANT, got 'mean'"
    ):
        FillMissing(fill_strategy="mean")


def test_new_nan_at_test_time_is_filled_and_reported():
    fm = FillMissing(cont_names=["w"]).fit(pd.DataFrame({"w": [1.0, 2.0, 3.0]}))
    with pytest.warns(UserWarning, match=r"NaN in column\(s\) that had none in the training rows.*'w': 2"):
        out = fm.apply(pd.DataFrame({"w": [np.nan, 5.0, np.nan]}))
    assert out["w"].tolist() == [2.0, 5.0, 2.0]


def test_categorify_codes_sorted_and_unseen_warned():
    cat = Categorify(cat_names=["c", "n"]).fit(pd.DataFrame({"c": ["b", "a", "b", None], "n": [3, 1, 2, 1]}))
    assert cat.categories_ == {"c": ["a", "b"], "n": [1, 2, 3]}
    new = pd.DataFrame({"c": ["a", "zz", None], "n": [2, 3, 9]})
    with pytest.warns(
        UserWarning, match=r"not seen in training were mapped to #na#.*'c': 1 \(e.g. 'zz'\).*'n': 1"
    ):
        out = cat.apply(new)
    assert out["c"].cat.codes.tolist() == [0, -1, -1]
    assert out["n"].cat.codes.tolist() == [1, 2, -1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the training rows themselves never warn
        cat.apply(pd.DataFrame({"c": ["a"], "n": [1]}), train=True)


def test_categorify_mixed_types_and_object_rows():
    """Mixed int/str categories sort by type; a row built from df.iloc[i] (object dtype) still matches."""
    cat = Categorify(cat_names=["m"]).fit(pd.DataFrame({"m": pd.Series([2, "b", 1, "a"], dtype=object)}))
    assert cat.categories_["m"] == [1, 2, "a", "b"]
    row = pd.DataFrame({"m": pd.Series([np.int64(2)], dtype=object)})
    assert cat.apply(row)["m"].cat.codes.tolist() == [1]


def test_normalize_uses_train_stats_and_survives_constant_columns():
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "k": [5.0, 5.0, 5.0]})
    norm = Normalize(cont_names=["x", "k"]).fit(train)
    assert norm.means_ == {"x": 2.0, "k": 5.0} and norm.stds_["x"] == pytest.approx(1.0)
    assert norm.stds_["k"] == 1.0  # constant: only centred
    out = norm.apply(pd.DataFrame({"x": [4.0], "k": [7.0]}))
    assert out["x"].dtype == np.float32
    assert out["x"].iloc[0] == pytest.approx(2.0) and out["k"].iloc[0] == pytest.approx(2.0)


def test_v1_call_style_fits_then_applies_in_place():
    train, test = pd.DataFrame({"x": [1.0, np.nan, 3.0]}), pd.DataFrame({"x": [np.nan]})
    fm = FillMissing([], ["x"])
    fm(train)
    assert train["x"].tolist() == [1.0, 2.0, 3.0] and train["x_na"].tolist() == [False, True, False]
    fm(test, test=True)
    assert test["x"].tolist() == [2.0] and fm.fill_vals_ == {"x": 2.0} and fm.na_dict == {"x": 2.0}

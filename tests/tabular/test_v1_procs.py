"""fastai v1's proc calls: ``proc(df)`` / ``apply_train`` / ``apply_test`` transform the frame in place,
and the fitted state reads under v1's names (``na_dict``, ``categories``, ``means``, ``stds``)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from emberfit.tabular import Categorify, FillMissing, Normalize, URLs, untar_data

CAT = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
CONT = ["age", "fnlwgt", "education-num"]


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    df = pd.read_csv(untar_data(URLs.ADULT_SAMPLE) / "adult.csv")
    return df.iloc[:3000].reset_index(drop=True)


def _v1_in_place(train: pd.DataFrame, valid: pd.DataFrame) -> list:
    """The v1 docs' way: each proc is called on the training frame, then with test=True on the other."""
    procs = []
    cat_names = list(CAT)
    for cls in (FillMissing, Categorify, Normalize):
        proc = cls(cat_names, list(CONT))
        assert proc(train) is None  # v1 returned nothing: the frame itself holds the result
        proc(valid, test=True)
        cat_names = proc.cat_names  # FillMissing hands on education-num_na, occupation has no NaN in cont
        procs.append(proc)
    return procs


def test_procs_in_place_give_what_apply_returns_on_adult(adult):
    train, valid = adult.iloc[:2500].copy(), adult.iloc[2500:].reset_index(drop=True).copy()
    raw_train, raw_valid = train.copy(), valid.copy()
    # out of place (emberfit's fit/apply): the inputs are not touched
    expected_train, expected_valid, cat_names = raw_train, raw_valid, list(CAT)
    for cls in (FillMissing, Categorify, Normalize):
        proc = cls(cat_names, list(CONT)).fit(expected_train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unseen validation categories are reported, that is all
            expected_valid = proc.apply(expected_valid)
        expected_train, cat_names = proc.apply(expected_train, train=True), proc.cat_names
    pd.testing.assert_frame_equal(raw_train, adult.iloc[:2500])
    # in place (v1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm, cat, norm = _v1_in_place(train, valid)
    pd.testing.assert_frame_equal(train, expected_train)
    pd.testing.assert_frame_equal(valid, expected_valid)
    # what the frame now holds, from the raw training rows
    flagged = train["education-num_na"].astype(bool)  # (a categorical now: Categorify encoded it)
    assert flagged.sum() == raw_train["education-num"].isna().sum() > 0
    assert not train[CONT].isna().any().any()
    for c in CONT:
        assert abs(float(train[c].mean())) < 1e-4 and float(train[c].std()) == pytest.approx(1.0, abs=1e-3)
    codes = train["workclass"].cat.codes.to_numpy()
    np.testing.assert_array_equal(
        np.asarray(train["workclass"].cat.categories)[codes], raw_train["workclass"]
    )
    # v1's names for the fitted state, checked against the raw training rows
    median = float(raw_train["education-num"].median())
    assert fm.na_dict == {"education-num": median}  # only the columns that had NaNs (v1), no 'age'
    assert fm.fill_vals_["age"] == float(raw_train["age"].median())  # emberfit's name keeps every column
    assert list(cat.categories["occupation"]) == sorted(raw_train["occupation"].dropna().unique())
    assert isinstance(cat.categories["race"], pd.Index) and cat.categories_["race"] == list(
        cat.categories["race"]
    )
    filled_age = raw_train["age"].astype(float)
    assert norm.means["age"] == pytest.approx(filled_age.mean()) and norm.means is norm.means_
    assert norm.stds["age"] == pytest.approx(filled_age.std(ddof=1)) and norm.stds is norm.stds_


def test_apply_train_and_apply_test_are_the_call_and_the_test_call(adult):
    a, b = adult.iloc[:1000].copy(), adult.iloc[:1000].copy()
    va, vb = adult.iloc[1000:1500].copy(), adult.iloc[1000:1500].copy()
    p, q = Normalize([], ["age", "hours-per-week"]), Normalize([], ["age", "hours-per-week"])
    p(a)
    p(va, test=True)
    assert q.apply_train(b) is None and q.apply_test(vb) is None
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(va, vb)
    # the test rows use the training statistics, not their own
    expected = (adult["age"].iloc[1000:1500] - adult["age"].iloc[:1000].mean()) / adult["age"].iloc[
        :1000
    ].std()
    np.testing.assert_allclose(va["age"].to_numpy(), expected.to_numpy(), rtol=1e-5, atol=1e-5)


def test_v1_calls_refuse_what_cannot_work():
    norm = Normalize([], ["x"])
    with pytest.raises(ValueError, match="this Normalize is not fitted yet; call .fit"):
        norm(pd.DataFrame({"x": [1.0]}), test=True)
    with pytest.raises(TypeError, match="apply_train needs a pandas DataFrame, got list"):
        norm.apply_train([1.0, 2.0])
    with pytest.raises(KeyError, match="x"):
        norm(pd.DataFrame({"y": [1.0, 2.0]}))

"""fastai v1's Rossmann recipe (lessons 6-7) written as a v1 user would, on MovieLens ratings:
add_datepart, cont_cat_split, in-place procs, FloatList with log=True, y_range as a tensor, exp_rmspe."""

import warnings

import pytest

from emberfit.tabular import *  # v1: from fastai.tabular import *


@pytest.mark.slow
def test_rossmann_style_script_on_movielens_ratings():
    path = untar_data(URLs.ML_SAMPLE)
    df = pd.read_csv(path / "ratings.csv").iloc[:2000]
    df["Date"] = pd.to_datetime(df["timestamp"], unit="s")
    add_datepart(df, "Date", drop=True)
    df = df.drop(columns=["timestamp", "Elapsed"])
    df["userId"], df["movieId"] = df["userId"].astype(str), df["movieId"].astype(str)
    cont_names, cat_names = cont_cat_split(df, max_card=20, dep_var="rating")
    assert {"Week", "Day", "Dayofyear"} <= set(cont_names)  # integers with more than 20 values
    assert {"Month", "Dayofweek", "userId", "Is_month_end"} <= set(cat_names)
    assert ("Year" in cont_names) == (df["Year"].nunique() > 20)
    procs = [FillMissing, Categorify, Normalize]
    valid_idx = range(1600, 2000)
    max_log_y = np.log(np.max(df["rating"]) * 1.2)
    y_range = torch.tensor([0, max_log_y], device="cpu")
    data = (
        TabularList.from_df(df, path=path, cat_names=cat_names, cont_names=cont_names, procs=procs)
        .split_by_idx(valid_idx)
        .label_from_df(cols="rating", label_cls=FloatList, log=True)
        .databunch(bs=64, device="cpu")
    )
    set_seed(0)
    learn = tabular_learner(data, layers=[100, 50], ps=[0.001, 0.01], emb_drop=0.04, y_range=y_range,
                            metrics=exp_rmspe, silent=True)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # users of the validation rows not seen in training are reported
        learn.fit_one_cycle(2, 1e-2)
        preds, targs = learn.get_preds()
    ratings = df["rating"].iloc[1600:].to_numpy()
    np.testing.assert_allclose(np.exp(targs.numpy().ravel()), ratings, rtol=1e-5)
    rel = (ratings - np.exp(preds.numpy().ravel())) / ratings
    assert learn.recorder.history()["exp_rmspe"].iloc[-1] == pytest.approx(
        float(np.sqrt(np.mean(rel**2))),
        rel=1e-3,
    )
    assert ((preds > 0) & (preds < max_log_y)).all()

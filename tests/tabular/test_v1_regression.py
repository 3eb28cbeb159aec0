"""The Rossmann recipe of the next lessons on real data (adult's ``age`` as the target): ``FloatList`` with
``log=True``, ``y_range`` as a tensor, ``exp_rmspe``; and ``tabular_learner``'s v1 arguments."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from emberfit.core.layers import SigmoidRange
from emberfit.tabular import (
    Categorify,
    FillMissing,
    FloatList,
    Normalize,
    TabularList,
    URLs,
    accuracy,
    exp_rmspe,
    set_seed,
    tabular_learner,
    untar_data,
)

CAT = ["workclass", "education", "marital-status", "occupation", "relationship", "sex"]
CONT = ["education-num", "hours-per-week", "capital-gain"]
N, VALID = 2000, list(range(1600, 2000))


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(untar_data(URLs.ADULT_SAMPLE) / "adult.csv").iloc[:N]


def _data(df, label, **label_kw):
    return (
        TabularList.from_df(df, cat_names=CAT, cont_names=CONT, procs=[FillMissing, Categorify, Normalize])
        .split_by_idx(VALID)
        .label_from_df(cols=label, **label_kw)
        .databunch(bs=64, device="cpu")
    )


def test_rossmann_recipe_log_labels_y_range_tensor_and_exp_rmspe(adult):
    data = _data(adult, "age", label_cls=FloatList, log=True)
    np.testing.assert_allclose(data.train_ds.y.items, np.log(adult["age"].iloc[:1600]), rtol=1e-6)
    assert data.log_labels and data.c == 1
    max_log_y = np.log(np.max(adult["age"]) * 1.2)
    y_range = torch.tensor([0, max_log_y], device="cpu")  # as the Rossmann notebook wrote it
    set_seed(0)
    learn = tabular_learner(data, layers=[200, 100], ps=[0.001, 0.01], emb_drop=0.04, y_range=y_range,
                            metrics=exp_rmspe, silent=True)  # fmt: skip
    sig = learn.model.layers[-1]
    assert isinstance(sig, SigmoidRange) and (sig.low, sig.high) == pytest.approx((0.0, max_log_y))
    learn.fit_one_cycle(3, 1e-2)
    preds, targs = learn.get_preds()
    # exp_rmspe is the RMS of the relative error of exp(pred) against the real ages
    ages = adult["age"].iloc[1600:].to_numpy(np.float64)
    np.testing.assert_allclose(np.exp(targs.numpy().ravel()), ages, rtol=1e-5)
    rel = (ages - np.exp(preds.numpy().ravel().astype(np.float64))) / ages
    by_hand = float(np.sqrt(np.mean(rel**2)))
    assert float(exp_rmspe(preds, targs)) == pytest.approx(by_hand, rel=1e-4)
    assert learn.recorder.history()["exp_rmspe"].iloc[-1] == pytest.approx(by_hand, rel=1e-3)
    # better than predicting the training mean age for everyone
    mean_age = adult["age"].iloc[:1600].mean()
    assert by_hand < float(np.sqrt(np.mean(((ages - mean_age) / ages) ** 2)))
    assert (preds.numpy() > 0).all() and (preds.numpy() < max_log_y).all()  # inside y_range
    value = learn.predict(adult.iloc[1600])[0]  # back in years, not log-years
    assert float(value) == pytest.approx(float(np.exp(preds[0].item())), rel=1e-4)


def test_tabular_learner_v1_arguments_shape_the_model(adult):
    data = _data(adult, "salary")
    learn = tabular_learner(data, layers=[60, 30], emb_szs={"education": 7, "sex": 3}, ps=[0.2, 0.1],
                            emb_drop=0.3, use_bn=False, metrics=accuracy, silent=True)  # fmt: skip
    m = learn.model
    widths = dict(zip(data.processor.out_cat_names, (e.embedding_dim for e in m.embeds)))
    assert widths["education"] == 7 and widths["sex"] == 3
    n_edu = adult["education"].iloc[:1600].nunique() + 1  # + #na#
    assert dict(zip(data.processor.out_cat_names, (e.num_embeddings for e in m.embeds)))["education"] == n_edu
    assert m.emb_drop.p == 0.3
    assert [d.p for d in m.layers.modules() if isinstance(d, nn.Dropout)] == [0.2, 0.1]
    assert not any(isinstance(b, nn.BatchNorm1d) for b in m.layers.modules())  # use_bn=False: none between
    linears = [mod for mod in m.layers.modules() if isinstance(mod, nn.Linear)]
    assert [lin.out_features for lin in linears] == [60, 30, 2]
    assert linears[0].in_features == sum(e.embedding_dim for e in m.embeds) + len(
        data.processor.out_cont_names
    )
    with_bn = tabular_learner(data, layers=[60, 30], silent=True).model
    assert sum(isinstance(b, nn.BatchNorm1d) for b in with_bn.layers.modules()) == 2
    with pytest.raises(KeyError, match="emb_szs has 'educaton'.*did you mean"):
        tabular_learner(data, emb_szs={"educaton": 4})

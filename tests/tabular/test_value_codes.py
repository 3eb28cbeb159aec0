"""Value codes for spiky continuous columns (``value_emb=True``, part of preset='strong'; issue 16)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.tabular import (
    Callback,
    CancelFitException,
    Categorify,
    FillMissing,
    Normalize,
    TabularList,
    TabularNet,
    accuracy,
    load_learner,
    set_seed,
    tabular_learner,
)
from emberfit.tabular.num_embeddings import ValueCodes, fit_cont_values
from emberfit.tabular.processor import TabularProcessor

AMOUNTS = [1055.0, 3103.0, 7298.0, 15024.0]


def spiky_df(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """``gain`` is 0 in about 70% of rows, else one of four amounts; ``y`` is 'yes' for 7298 or big ``age``."""
    rng = np.random.default_rng(seed)
    gain = np.where(rng.random(n) < 0.7, 0.0, rng.choice(AMOUNTS, n))
    age = rng.integers(18, 80, n).astype(float)
    df = pd.DataFrame({"job": rng.choice(["a", "b", "c"], n), "age": age, "gain": gain})
    df["y"] = np.where((gain == 7298.0) | (age > 70), "yes", "no")
    return df


def build(df, valid=None, bs=32):
    valid = list(range(int(len(df) * 0.8), len(df))) if valid is None else valid
    return (
        TabularList.from_df(
            df, cat_names=["job"], cont_names=["age", "gain"], procs=[FillMissing, Categorify, Normalize]
        )
        .split_by_idx(valid)
        .label_from_df(cols="y")
        .databunch(bs=bs, device="cpu")
    )


def normalized(data, name: str, raw: float) -> float:
    """``raw`` in column ``name`` as the model sees it (after Normalize)."""
    row = pd.DataFrame({"job": ["a"], "age": [30.0], "gain": [0.0]}).assign(**{name: [raw]})
    return float(data.processor.rows_to_tensors(row)[1][0, data.processor.out_cont_names.index(name)])


# -- fitted state ----------------------------------------------------------------------------------------


def test_only_the_spiky_column_gets_values_fitted_on_the_training_rows():
    df = spiky_df()
    df.loc[350:, "gain"] = 99999.0  # only in the validation rows (320..399): never a kept value
    data = build(df)
    kept = data.processor.cont_values
    assert list(kept) == ["gain"]  # age has no value in half the rows
    expected = sorted({normalized(data, "gain", v) for v in [0.0, *AMOUNTS]})
    assert kept["gain"] == pytest.approx(expected, rel=1e-6)
    assert normalized(data, "gain", 99999.0) > max(kept["gain"])  # the validation-only value is not kept


def test_fit_cont_values_keeps_the_most_frequent_values_and_names_bad_arguments():
    x = np.concatenate([np.zeros(60), np.repeat([1.0, 2.0, 3.0], [20, 15, 5])])[:, None]
    assert fit_cont_values(["g"], x, max_values=3) == {"g": [0.0, 1.0, 2.0]}  # 3.0 is the rarest
    assert fit_cont_values(["g"], x, spike_share=0.7) == {}  # 0 holds 60%, under 70%
    assert fit_cont_values(["g"], np.zeros((5, 1))) == {}  # a constant column has nothing to tell apart
    with pytest.raises(ValueError, match="spike_share must be in"):
        fit_cont_values(["g"], x, spike_share=0)
    with pytest.raises(ValueError, match=r"conts must be \(rows, 2\)"):
        fit_cont_values(["g", "h"], x)


def test_codes_match_through_rounding_and_unseen_values_get_code_zero():
    codes = ValueCodes([[-0.5, 0.25, 3.0]])
    x = torch.tensor([[-0.5], [0.25 + 1e-7], [3.0], [0.26], [100.0], [-100.0]])
    assert codes(x).tolist() == [[1], [2], [3], [0], [0], [0]]
    with pytest.raises(ValueError, match="must be increasing"):
        ValueCodes([[1.0, 0.0]])
    with pytest.raises(ValueError, match="at least one column"):
        ValueCodes([[], []])


def test_the_same_raw_value_gets_the_same_code_in_training_and_prediction():
    data = build(spiky_df())
    learn = tabular_learner(data, layers=[8], value_emb=True, silent=True)
    codes = learn.model.value_codes
    train_codes = codes(data.train_dl.x[1])[:, 0]
    gains = data.train_ds.x.conts[:, data.processor.out_cont_names.index("gain")]
    assert (train_codes > 0).all()  # every training value is kept (5 distinct)
    one = torch.stack([data.processor.rows_to_tensors(spiky_df().iloc[[i]])[1][0] for i in range(20)])
    assert codes(one)[:, 0].tolist() == codes(torch.as_tensor(data.train_ds.x.conts[:20]))[:, 0].tolist()
    assert len(set(train_codes.tolist())) == len(np.unique(gains)) == 5


def test_old_processor_state_without_values_loads_and_the_learner_refits_them():
    data = build(spiky_df())
    state = data.processor.state()
    del state["cont_values"]  # written before the values were kept
    old = TabularProcessor.from_state(json.loads(json.dumps(state)))
    assert old.cont_values is None
    kept = data.processor.cont_values
    data.processor.cont_values = None
    learn = tabular_learner(data, layers=[8], value_emb=True, silent=True)
    assert data.processor.cont_values == kept  # refitted from the same training rows
    assert [list(v) for v in learn.model.config.values] == [[], kept["gain"]]


# -- the model: training, save/load, errors -------------------------------------------------------------


def test_one_training_step_trains_the_value_embeddings():
    set_seed(0)
    data = build(spiky_df(), bs=32)
    learn = tabular_learner(data, layers=[16], value_emb=True, silent=True)
    n_rows = learn.model.embed.weight.shape[0]
    assert n_rows == 4 + 6  # job: 3 + #na#, gain: 5 kept values + 'any other'
    before = learn.model.embed.weight.detach().clone()

    class StopAfterOne(Callback):
        def after_batch(self):
            if self.learn.training:
                raise CancelFitException()

    learn.fit(1, 1e-2, callbacks=[StopAfterOne()])
    changed_rows = (learn.model.embed.weight != before).any(1).nonzero().flatten().tolist()
    assert any(r >= 4 for r in changed_rows)  # a value code's row learned


def test_value_codes_learn_an_exact_amount(tmp_path):
    set_seed(0)
    df = spiky_df(1200)
    learn = tabular_learner(build(df, bs=64), layers=[32], value_emb=True, metrics=accuracy, silent=True)
    learn.fit_one_cycle(8, 1e-2)
    pred = learn.predict_df(
        pd.DataFrame({"job": ["a"] * 3, "age": [30.0] * 3, "gain": [3103.0, 7298.0, 15024.0]})
    )
    assert pred["prediction"].tolist() == [
        "no",
        "yes",
        "no",
    ]  # 7298 alone, between two amounts that mean 'no'


def test_export_and_load_learner_predict_the_same_with_value_codes(tmp_path):
    set_seed(0)
    df = spiky_df(300)
    learn = tabular_learner(build(df), preset="strong", metrics=accuracy, path=tmp_path, silent=True)
    assert learn.model.value_codes is not None  # the preset turns them on
    learn.fit(1, 1e-2)
    learn.export("export.safetensors")
    loaded = load_learner(tmp_path, "export.safetensors")
    assert isinstance(loaded.model, TabularNet) and loaded.model.config == learn.model.config
    assert loaded.data.processor.cont_values == learn.data.processor.cont_values
    pd.testing.assert_frame_equal(loaded.predict_df(df), learn.predict_df(df))


def test_value_emb_must_be_a_bool_and_works_only_with_the_new_net():
    data = build(spiky_df())
    with pytest.raises(TypeError, match="value_emb must be True or False, got 'yes'"):
        tabular_learner(data, value_emb="yes", silent=True)
    with pytest.raises(ValueError, match="emb_szs"):
        tabular_learner(data, value_emb=True, emb_szs={"job": 3}, silent=True)
    assert tabular_learner(data, value_emb=False, silent=True).model.__class__.__name__ == "TabularModel"


# -- real data: the shipped adult sample -----------------------------------------------------------------


@pytest.mark.slow
def test_on_the_adult_sample_the_capital_columns_get_codes_and_exact_gains_are_learned():
    from emberfit.tabular import URLs, untar_data

    df = pd.read_csv(untar_data(URLs.ADULT_SAMPLE) / "adult.csv")
    conts = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
    cats = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex"]
    set_seed(0)
    data = (
        TabularList.from_df(df, cat_names=cats, cont_names=conts, procs=[FillMissing, Categorify, Normalize])
        .split_by_rand_pct(0.2, seed=0)
        .label_from_df(cols="salary")
        .databunch(bs=256, device="cpu")
    )
    assert sorted(data.processor.cont_values) == ["capital-gain", "capital-loss"]  # the two spiky columns
    learn = tabular_learner(data, preset="strong", metrics=accuracy, silent=True)
    learn.fit_preset(max_epochs=4)
    assert learn.validate()[1] > 0.85
    # the same person with three exact gains: 7,298 and 5,178 go with >=50k in the training rows, 5,013
    # (between them in value) never does
    person = df[(df["salary"] == "<50k") & (df["capital-loss"] == 0)].iloc[[0]].drop(columns="salary")
    rows = pd.concat([person.assign(**{"capital-gain": g}) for g in (7298, 5013, 5178)], ignore_index=True)
    proba = learn.predict_df(rows)["proba_>=50k"].to_numpy()
    assert proba[0] > 0.5 > 0.01 > proba[1] and proba[2] > 100 * proba[1], proba

"""Numerical embeddings (PLE, periodic), TabularNet ensembles and preset='strong' (issue 16)."""

import json
import struct

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.tabular import (
    Callback,
    CancelFitException,
    Categorify,
    MembersLoss,
    Normalize,
    TabularNet,
    accuracy,
    load_learner,
    quantile_bins,
    set_seed,
    strong_preset,
    tabular_learner,
)
from emberfit.tabular.num_embeddings import fit_cont_bins, ple_encode
from emberfit.tabular.processor import TabularProcessor

from .conftest import build, make_df


def _bins_of(data) -> dict:
    return data.processor.cont_bins


# -- fitted state: bins from the training rows only, extremes clipped, NaN through FillMissing ----------


def test_bins_come_from_the_training_rows_only():
    df = make_df(400)
    df.loc[320:, "z"] = 1e6  # the validation rows (last 20%) hold values far beyond the training range
    data = build(df)
    train_z = data.train_ds.x.conts[:, data.processor.out_cont_names.index("z")]
    edges = _bins_of(data)["z"]
    assert edges[0] == pytest.approx(float(train_z.min())) and edges[-1] == pytest.approx(
        float(train_z.max())
    )
    assert edges == fit_cont_bins(["z"], train_z[:, None])["z"]  # exactly the training rows' quantiles
    assert set(_bins_of(data)) == set(data.processor.out_cont_names)


def test_point_masses_do_not_collapse_the_bins():
    values = np.r_[np.zeros(900), np.arange(1, 101) * 50.0]  # 90% zeros, like capital-gain
    edges = quantile_bins(values, n_bins=16)
    plain = np.unique(np.quantile(values, np.linspace(0, 1, 17)))
    assert len(plain) - 1 <= 3 and len(edges) - 1 >= 8  # half the edges from the distinct values
    assert edges[0] == 0.0 and edges[-1] == 5000.0 and all(b > a for a, b in zip(edges, edges[1:]))
    assert quantile_bins(np.array([3.0, 3.0, 3.0])) == [3.0, 4.0]  # a constant column still gets one bin
    with pytest.raises(ValueError, match="n_bins must be a positive int"):
        quantile_bins(values, n_bins=0)


def test_unseen_extreme_values_are_clipped():
    lo, inv = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[1.0, 1.0, 1.0]])
    enc = ple_encode(torch.tensor([[-1e9], [0.0], [2.5], [3.0], [1e9]]), lo, inv)[:, 0]
    assert enc.tolist() == [[0, 0, 0], [0, 0, 0], [1, 1, 0.5], [1, 1, 1], [1, 1, 1]]
    df = make_df()
    set_seed(0)
    learn = tabular_learner(build(df), layers=[16], cont_emb="ple", silent=True)
    learn.fit(1, 1e-2)
    train_z = df["z"].iloc[:320]  # build() trains on the first 80% of the rows
    rows = df.iloc[[0] * 4].copy()
    rows["z"] = [train_z.max(), 1e7, train_z.min(), -1e7]  # the training range's ends, and far beyond them
    p = learn.predict_df(rows)["proba_yes"].to_numpy()
    assert np.isfinite(p).all()
    assert p[1] == pytest.approx(p[0], abs=1e-6) and p[3] == pytest.approx(p[2], abs=1e-6)


def test_nan_goes_through_fill_missing_before_the_bins():
    df = make_df(400)  # 'x' has NaN in the training rows
    data = build(df)
    assert "x_na" in data.processor.out_cat_names and np.isfinite(_bins_of(data)["x"]).all()
    set_seed(0)
    learn = tabular_learner(data, layers=[16], cont_emb="ple", metrics=accuracy, silent=True)
    learn.fit(1, 1e-2)
    rows = df[df["x"].isna()].head(3)
    assert np.isfinite(learn.predict_df(rows)["proba_yes"]).all()
    with pytest.raises(ValueError, match="FillMissing"):  # without FillMissing the NaN is refused, as before
        build(df, procs=[Categorify, Normalize])


def test_old_processor_state_without_bins_loads_and_the_learner_refits_them():
    data = build(make_df())
    state = data.processor.state()
    del state["cont_bins"]  # written before the bins were kept
    old = TabularProcessor.from_state(json.loads(json.dumps(state)))
    assert old.cont_bins is None
    data.processor.cont_bins = None
    learn = tabular_learner(data, layers=[8], cont_emb="ple", silent=True)
    assert data.processor.cont_bins is not None  # fitted on the training rows when the learner needs them
    assert [list(b) for b in learn.model.config.bins] == [data.processor.cont_bins[n] for n in ("x", "z")]


# -- save/load, one training step per option -------------------------------------------------------------

OPTIONS = [
    dict(cont_emb="ple"),
    dict(cont_emb="periodic"),
    dict(cont_emb=None, n_members=3),
    dict(cont_emb="ple", n_members=4),
    dict(preset="strong"),
]


@pytest.mark.parametrize("opts", OPTIONS, ids=[json.dumps(o) for o in OPTIONS])
def test_one_training_step_changes_the_weights(opts):
    set_seed(0)
    data = build(make_df(200), bs=32)
    learn = tabular_learner(data, layers=[16, 16], silent=True, **opts)
    assert isinstance(learn.model, TabularNet)
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}

    class StopAfterOne(Callback):
        def after_batch(self):
            if self.learn.training:
                raise CancelFitException()

    learn.fit(1, 1e-2, callbacks=[StopAfterOne()])
    assert np.isfinite(learn.recorder.losses[0])
    changed = [k for k, v in learn.model.state_dict().items() if not torch.equal(v, before[k])]
    assert "body.0.weight" in changed and "head_weight" in changed
    if learn.model.config.cont_emb is not None:
        assert "cont_embed.linear.weight" in changed


@pytest.mark.parametrize("opts", OPTIONS[:4], ids=[json.dumps(o) for o in OPTIONS[:4]])
def test_export_and_load_learner_predict_the_same(opts, tmp_path):
    set_seed(0)
    df = make_df(300)
    learn = tabular_learner(build(df), layers=[16], metrics=accuracy, path=tmp_path, silent=True, **opts)
    learn.fit(1, 1e-2)
    learn.export("export.safetensors")
    loaded = load_learner(tmp_path, "export.safetensors")
    assert isinstance(loaded.model, TabularNet) and loaded.model.config == learn.model.config
    pd.testing.assert_frame_equal(loaded.predict_df(df), learn.predict_df(df))
    assert loaded.predict(df.iloc[3])[0] == learn.predict(df.iloc[3])[0]
    raw = (tmp_path / "export.safetensors").read_bytes()
    header = raw[8 : 8 + struct.unpack("<Q", raw[:8])[0]].decode()  # safetensors: JSON after its length
    assert "cont_bins" in header  # the processor's fitted bins are JSON in the export
    if opts.get("cont_emb") == "ple":
        assert '\\"bins\\"' in header or '"bins"' in header  # and the model's copy of them
    if opts.get("n_members", 1) > 1:
        assert isinstance(loaded.loss_func, MembersLoss)


# -- the ensemble's outputs and loss -------------------------------------------------------------------


def test_ensemble_averages_member_probabilities_at_evaluation():
    set_seed(0)
    m = TabularNet([4, 3], 2, 3, layers=[8], n_members=5, cont_emb="periodic")
    xc, xn = torch.tensor([[1, 2], [3, 0], [0, 1]]), torch.randn(3, 2)
    with torch.no_grad():
        members = m.train()(xc, xn)  # dropout 0.1 is on in training: compare with dropout off
        m.body[2].p = 0.0
        members = m(xc, xn)
        ens = m.eval()(xc, xn)
    assert members.shape == (3, 5, 3) and ens.shape == (3, 3)
    assert torch.allclose(ens.softmax(-1), members.softmax(-1).mean(1), atol=1e-6)
    loss = MembersLoss(torch.nn.functional.cross_entropy)
    y = torch.tensor([0, 2, 1])
    per_member = torch.stack([torch.nn.functional.cross_entropy(members[:, j], y) for j in range(5)])
    assert loss(members, y) == pytest.approx(float(per_member.mean()), rel=1e-5)


def test_regression_ensemble_with_y_range():
    set_seed(0)
    df = make_df(300)
    data = build(df, label="target")
    learn = tabular_learner(data, layers=[16], n_members=2, cont_emb="ple", y_range=(0, 8), silent=True)
    learn.fit(2, 1e-2)
    out = learn.predict_df(df.head(5))
    assert list(out.columns) == ["prediction"] and out["prediction"].between(0, 8).all()


# -- the preset ---------------------------------------------------------------------------------------------


def test_strong_preset_grows_with_the_data():
    small, mid, big = strong_preset(1_000), strong_preset(30_000), strong_preset(1_000_000)
    assert small.ps > mid.ps >= big.ps and small.max_epochs > mid.max_epochs > big.max_epochs
    assert small.bs < mid.bs < big.bs and small.valid_pct > mid.valid_pct > big.valid_pct
    assert all(p.cont_emb == "ple" for p in (small, mid, big))
    with pytest.raises(ValueError, match="n_train"):
        strong_preset(1)


def test_fit_preset_holds_out_training_rows_and_never_reads_the_valid_set():
    set_seed(0)
    data = build(make_df(400))
    learn = tabular_learner(data, preset="strong", metrics=accuracy, silent=True)
    valid_dl, train_dl = data.valid_dl, data.train_dl
    seen = []
    original_iter = type(valid_dl).__iter__

    class Spy(type(valid_dl)):
        def __iter__(self):
            seen.append(True)
            return original_iter(self)

    valid_dl.__class__ = Spy
    learn.fit_preset(max_epochs=3, patience=2)
    assert not seen  # the DataBunch's validation rows were never used while fitting
    assert data.valid_dl is valid_dl and data.train_dl is train_dl  # put back afterwards
    rep = learn.preset_report
    assert rep["n_train"] + rep["n_held_out"] == 320 and rep["n_held_out"] == 64  # 20% of 320
    assert rep["best_epoch"] is not None and rep["epochs_run"] <= 3
    assert len(learn.validate()) == 2 and seen  # validate() scores the real validation set afterwards


def test_preset_errors_name_the_argument():
    data = build(make_df())
    with pytest.raises(ValueError, match="cont_emb must be"):
        tabular_learner(data, cont_emb="fourier")
    with pytest.raises(ValueError, match="n_members must be a positive int"):
        tabular_learner(data, n_members=0)
    with pytest.raises(ValueError, match="preset must be one of"):
        tabular_learner(data, preset="fast")
    with pytest.raises(ValueError, match=r"\['emb_szs'\] set the lesson's TabularModel"):
        tabular_learner(data, preset="strong", emb_szs={"color": 4})
    with pytest.raises(ValueError, match="one dropout for every hidden layer"):
        tabular_learner(data, cont_emb="ple", layers=[8, 8], ps=[0.1, 0.2])
    lesson = tabular_learner(data, silent=True)
    assert type(lesson.model).__name__ == "TabularModel"  # the default stays the lesson's model
    with pytest.raises(ValueError, match="has no preset"):
        lesson.fit_preset()
    learn = tabular_learner(data, preset="strong", silent=True)
    with pytest.raises(TypeError, match="unknown setting"):
        learn.fit_preset(epochs=3)
    with pytest.raises(ValueError, match="valid_pct must be in"):
        learn.fit_preset(valid_pct=1.5)


def test_regression_targets_are_standardised_with_training_rows():
    df = make_df(300)
    df.loc[240:, "target"] += 1000.0  # the validation rows: far off, must not move the statistics
    learn = tabular_learner(build(df, label="target"), layers=[8], cont_emb="ple", silent=True)
    train = df["target"].iloc[:240]
    assert learn.model.config.y_mean == pytest.approx(train.mean(), rel=1e-5)
    assert learn.model.config.y_std == pytest.approx(train.std(), rel=1e-4)
    with_range = tabular_learner(
        build(df, label="target"), layers=[8], cont_emb="ple", y_range=(0, 9), silent=True
    )
    assert (with_range.model.config.y_mean, with_range.model.config.y_std) == (0.0, 1.0)

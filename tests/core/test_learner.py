import math

import numpy as np
import pytest
import torch

from emberfit.core.callbacks.base import EVENTS, Callback
from emberfit.core.callbacks.training import (
    CSVLogger,
    EarlyStoppingCallback,
    GradientClipping,
    SaveModelCallback,
)
from emberfit.core.data import DatasetType
from emberfit.core.learner import Learner
from emberfit.core.metrics import rmse
from emberfit.core.plots import suggest_lr
from emberfit.core.seed import set_seed

from .helpers import Linear1, regression_data, regression_learner


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_loss_falls_on_synthetic_regression():
    learn = regression_learner(metrics=[rmse])
    before = learn.validate()[0]
    learn.fit_one_cycle(5, 0.3)
    after = learn.validate()
    assert after[0] < before / 100
    assert after[1] == pytest.approx(math.sqrt(after[0]), rel=1e-5)  # exact rmse = sqrt(mse)
    assert len(learn.recorder.val_losses) == 5


def test_two_seeded_runs_identical():
    losses = []
    for _ in range(2):
        set_seed(123)
        learn = Learner(regression_data(), Linear1(), loss_func=torch.nn.functional.mse_loss, silent=True)
        learn.fit_one_cycle(2, 1e-2)
        losses.append(list(learn.recorder.raw_losses))
    assert losses[0] == losses[1]


def test_lr_find_restores_weights_and_optimizer_exactly():
    learn = regression_learner()
    learn.fit(1, 1e-2)
    w0, opt0 = weights(learn.model), learn.opt.state_dict()
    exp_avg0 = [s["exp_avg"].clone() for s in learn.opt.state.values()]
    learn.lr_find(num_it=60)
    assert same(w0, weights(learn.model))
    assert [s["exp_avg"] for s in learn.opt.state.values()][0].equal(exp_avg0[0])
    assert learn.opt.state_dict()["param_groups"][0]["lr"] == opt0["param_groups"][0]["lr"]
    assert len(learn.recorder.lrs) > 10


def test_lr_find_without_optimizer_leaves_none():
    learn = regression_learner()
    w0 = weights(learn.model)
    learn.lr_find(num_it=30)
    assert learn.opt is None and same(w0, weights(learn.model))


def test_lr_find_suggestion_is_sensible_and_trains():
    learn = regression_learner()
    learn.lr_find()
    lr = learn.recorder.plot(suggestion=True)
    assert 1e-4 < lr < 2.0
    # training at the suggested LR actually works
    learn.fit_one_cycle(3, lr)
    assert learn.validate()[0] < 0.5


def test_suggest_lr_falls_back_when_curve_never_falls():
    lrs = np.logspace(-5, 0, 50)
    losses = 1 + lrs
    assert suggest_lr(lrs, losses) == pytest.approx(lrs[0] / 10)


def test_plots_written_without_display(tmp_path):
    learn = regression_learner(path=tmp_path, metrics=[rmse])
    learn.fit_one_cycle(1, 1e-2)
    learn.recorder.plot_losses()
    learn.recorder.plot_lr(show_moms=True)
    learn.recorder.plot_metrics()
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"losses.png", "lr.png", "metrics.png"}


def test_slice_gives_geometric_lrs_and_freeze_to_sets_requires_grad():
    learn = regression_learner()
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.Linear(8, 8),
        torch.nn.Linear(8, 1),
        torch.nn.Flatten(0),
    )
    learn = Learner(regression_data(), model, loss_func=torch.nn.functional.mse_loss, silent=True)
    learn.split(lambda m: [[m[0], m[1]], [m[2]], [m[3]]])
    np.testing.assert_allclose(learn.lr_range(slice(1e-4, 1e-2)), [1e-4, 1e-3, 1e-2])
    np.testing.assert_allclose(learn.lr_range(slice(1e-2)), [1e-3, 1e-3, 1e-2])
    np.testing.assert_allclose(learn.lr_range(3e-3), [3e-3] * 3)
    learn.freeze_to(-1)
    assert not model[0].weight.requires_grad and model[1].weight.requires_grad  # BN stays trainable
    assert not model[2].weight.requires_grad and model[3].weight.requires_grad
    learn.freeze_to(1)
    assert (
        not model[0].weight.requires_grad and model[2].weight.requires_grad and model[3].weight.requires_grad
    )
    learn.train_bn = False
    learn.freeze()
    assert not model[1].weight.requires_grad
    learn.unfreeze()
    assert all(p.requires_grad for p in model.parameters())
    # discriminative LRs reach the optimizer's groups
    learn.fit(1, slice(1e-4, 1e-2))
    by_group = {g["layer_group"]: g["lr"] for g in learn.opt.param_groups}
    np.testing.assert_allclose([by_group[i] for i in range(3)], [1e-4, 1e-3, 1e-2])


def test_frozen_groups_do_not_change():
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1), torch.nn.Flatten(0)
    )
    learn = Learner(regression_data(), model, loss_func=torch.nn.functional.mse_loss, silent=True)
    learn.split(lambda m: [[m[0]], [m[2]]])
    learn.freeze()
    w0 = model[0].weight.detach().clone()
    learn.fit(1, 1e-2)
    assert torch.equal(w0, model[0].weight)


def test_bn_wd_false_excludes_norm_and_bias():
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1), torch.nn.Flatten(0)
    )
    learn = Learner(
        regression_data(), model, loss_func=torch.nn.functional.mse_loss, silent=True, bn_wd=False, wd=0.1
    )
    learn.create_opt(1e-3)
    for g in learn.opt.param_groups:
        names = {id(p) for p in g["params"]}
        if g["weight_decay"] > 0:
            assert id(model[1].weight) not in names and id(model[0].bias) not in names


def test_save_load_roundtrip_identical_predictions(tmp_path):
    learn = regression_learner(path=tmp_path)
    learn.fit(1, 1e-2)
    p0 = learn.get_preds()[0]
    f = learn.save("stage-1")
    assert f == tmp_path / "models" / "stage-1.safetensors"
    learn2 = regression_learner(path=tmp_path, seed=99)
    assert not torch.equal(learn2.get_preds()[0], p0)
    learn2.load("stage-1")
    assert torch.equal(learn2.get_preds()[0], p0)
    assert learn2.opt is not None  # optimizer state came back too


def test_load_errors(tmp_path):
    learn = regression_learner(path=tmp_path)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        learn.load("nope")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bad.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ValueError, match="corrupt"):
        learn.load("bad")
    f = learn.save("good")
    f.write_bytes(f.read_bytes()[:-20])  # truncated
    with pytest.raises(ValueError, match="corrupt"):
        learn.load("good")
    other = Learner(
        regression_data(), torch.nn.Linear(4, 3), loss_func=torch.nn.functional.mse_loss, path=tmp_path
    )
    learn.save("good")
    with pytest.raises(ValueError, match="does not fit this model"):
        other.load("good")


class Interrupt(Callback):
    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def after_batch(self):
        if self.learn.training and (self.learn.epoch, self.learn.iter) == self.at:
            raise KeyboardInterrupt


def test_resume_interrupted_one_cycle_matches_uninterrupted(tmp_path):
    set_seed(7)
    ref = regression_learner(path=tmp_path, seed=7)
    ref.fit_one_cycle(4, 1e-2)
    w_ref = weights(ref.model)

    set_seed(7)
    learn = regression_learner(path=tmp_path, seed=7)
    with pytest.raises(KeyboardInterrupt):
        learn.fit_one_cycle(
            4, 1e-2, callbacks=[SaveModelCallback(every="epoch", name="ckpt"), Interrupt(2, 3)]
        )
    resumed = regression_learner(path=tmp_path, seed=1234)  # a fresh process would start from scratch
    resumed.fit_one_cycle(4, 1e-2, resume="ckpt")
    w = weights(resumed.model)
    assert same(w, w_ref)


def test_nan_loss_stops_with_message_and_keeps_weights():
    class Poison(Callback):
        def after_loss(self):
            if self.learn.epoch == 1 and self.learn.iter == 2:
                self.learn.loss = self.learn.loss * float("nan")

    learn = regression_learner()
    holder = {}

    class Snap(Callback):
        order = -100

        def after_loss(self):
            if self.learn.epoch == 1 and self.learn.iter == 2:
                holder["w"] = weights(self.learn.model)

    learn.fit(3, 1e-2, callbacks=[Poison(), Snap()])
    assert learn.recorder.nan_at == (1, 2)
    assert "epoch 1, batch 2" in learn.stop_reason
    assert same(holder["w"], weights(learn.model))
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())
    assert len(learn.recorder.val_losses) == 1  # only the first epoch completed


def test_bad_inputs_raise_clear_errors():
    learn = regression_learner()
    with pytest.raises(ValueError, match="positive"):
        learn.fit(1, lr=0)
    with pytest.raises(ValueError, match="positive"):
        learn.fit(1, lr=-1e-3)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        learn.fit_one_cycle(0)
    with pytest.raises(TypeError, match="lr must be"):
        learn.fit(1, lr="fast")
    with pytest.raises(TypeError, match="DatasetType"):
        learn.get_preds(ds_type="valid")
    with pytest.raises(ValueError, match="no test set"):
        learn.get_preds(ds_type=DatasetType.Test)
    with pytest.raises(TypeError, match="DataBunch"):
        Learner(object(), torch.nn.Linear(1, 1), loss_func=torch.nn.functional.mse_loss)
    with pytest.raises(TypeError, match="nn.Module"):
        Learner(regression_data(), "model", loss_func=torch.nn.functional.mse_loss)
    with pytest.raises(ValueError, match="no loss_func"):
        Learner(regression_data(), torch.nn.Linear(4, 1))
    with pytest.raises(ValueError, match="at least 2 layer groups"):
        learn.freeze()
    with pytest.raises(ValueError, match="layer groups"):
        learn.freeze_to(5)


def test_model_output_that_does_not_fit_the_loss():
    from emberfit.core.data_block.labels import _mse_flat

    learn = Learner(regression_data(), torch.nn.Linear(4, 3), loss_func=_mse_flat, silent=True)
    with pytest.raises(ValueError, match=r"model output shape \(32, 3\) does not fit target shape \(32,\)"):
        learn.fit(1, 1e-3)


def test_callbacks_early_stopping_csv_clipping(tmp_path):
    learn = regression_learner(path=tmp_path)
    learn.fit(
        20,
        1e-2,
        callbacks=[EarlyStoppingCallback(patience=1, min_delta=10.0), CSVLogger(), GradientClipping(0.5)],
    )
    assert len(learn.recorder.val_losses) == 2  # first epoch sets best, second fails to beat it by 10
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,train_loss,valid_loss") and len(lines) == 3


def test_save_best_model_reloads_best(tmp_path):
    learn = regression_learner(path=tmp_path)
    learn.fit(3, 1e-2, callbacks=[SaveModelCallback(name="best")])
    assert (tmp_path / "models" / "best.safetensors").exists()
    assert learn.validate()[0] == pytest.approx(min(learn.recorder.val_losses), rel=1e-6)


def test_event_order():
    seen = []

    def recorder_of(event):
        return lambda self: seen.append(event)

    Log2 = type("Log2", (Callback,), {e: recorder_of(e) for e in EVENTS})
    learn = regression_learner()
    learn.fit(1, 1e-3, callbacks=[Log2()])
    assert seen[0] == "before_fit" and seen[1] == "before_epoch"
    assert seen[2:7] == ["before_batch", "after_pred", "after_loss", "after_backward", "after_batch"]
    i = seen.index("before_validate")
    assert seen[i + 1 : i + 5] == ["before_batch", "after_pred", "after_loss", "after_batch"]
    assert seen[-3:] == ["after_validate", "after_epoch", "after_fit"]


def test_bf16_mixed_precision_on_cpu():
    learn = regression_learner()
    learn.to_bf16()
    learn.fit_one_cycle(5, 0.3)
    assert learn.validate()[0] < 1.0
    learn.to_fp32()
    assert learn.autocast is None

import math

import pytest
import torch

from emberfit.core.callbacks.base import Callback
from emberfit.core.data import DatasetType
from emberfit.core.learner import Learner
from emberfit.core.metrics import rmse
from emberfit.core.seed import set_seed

from .helpers import Linear1, regression_data, regression_learner, same, weights


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


def test_lr_find_suggestion_is_sensible_and_trains(tmp_path):
    learn = regression_learner(path=tmp_path)
    before = learn.validate()[0]
    learn.lr_find()
    assert learn.recorder.plot(suggestion=True) is None  # v1: draws, returns nothing
    lr = learn.recorder.min_grad_lr
    assert 1e-4 < lr < 2.0
    # training at the suggested LR actually works (the rule keeps a decade below the loss's floor)
    learn.fit_one_cycle(3, lr)
    assert learn.validate()[0] < 0.05 * before


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

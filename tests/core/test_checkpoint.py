"""Checkpoints: learn.save / learn.load and resuming an interrupted run (emberfit/core/checkpoint.py)."""

import pytest
import torch

from emberfit.core.callbacks.base import Callback
from emberfit.core.callbacks.training import SaveModelCallback
from emberfit.core.learner import Learner
from emberfit.core.seed import set_seed

from .helpers import regression_data, regression_learner, same, weights


def test_save_load_roundtrip_identical_predictions(tmp_path):
    learn = regression_learner(path=tmp_path)
    learn.fit(1, 1e-2)
    p0 = learn.get_preds()[0]
    assert learn.save("stage-1") is None  # v1: a path only with return_path=True
    f = learn.save("stage-1", return_path=True)
    assert f == tmp_path / "models" / "stage-1.safetensors"
    learn2 = regression_learner(path=tmp_path, seed=99)
    assert not torch.equal(learn2.get_preds()[0], p0)
    assert learn2.load("stage-1") is learn2  # v1: load returns the Learner, so calls chain
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
    f = learn.save("good", return_path=True)
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

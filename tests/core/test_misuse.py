"""Issue 12: each misuse ends in an error that names the argument, the value and the fix."""

import pytest

from emberfit.core.callbacks.base import Callback
from emberfit.core.callbacks.training import CSVLogger, SaveModelCallback
from emberfit.core.io import load_tensors
from emberfit.core.learner import Learner

from .helpers import Linear1, regression_data, regression_learner
from .test_learner import same, weights


class CountEpochs(Callback):
    def __init__(self):
        self.n = 0

    def after_epoch(self):
        self.n += 1


class Kill(Callback):
    """Interrupts the fit after epoch ``after`` completes (and its checkpoint is written)."""

    order = 50  # after SaveModelCallback

    def __init__(self, after):
        self.after = after

    def after_epoch(self):
        if self.learn.epoch == self.after - 1:
            raise KeyboardInterrupt("simulated kill")


class StopAfter(Callback):
    def __init__(self, epochs):
        self.epochs = epochs


# -- callbacks: classes are built when they need no arguments, anything else is refused -------------


@pytest.mark.parametrize("how", ["fit", "fit_one_cycle"])
def test_fit_accepts_a_callback_class(how, tmp_path):
    learn = regression_learner(path=tmp_path)
    getattr(learn, how)(2, 1e-2, callbacks=[CSVLogger])  # built with its defaults
    assert (tmp_path / "history.csv").read_text().count("\n") == 3


def test_learner_and_add_cb_accept_a_callback_class():
    learn = Learner(regression_data(), Linear1(), loss_func=lambda p, y: ((p - y) ** 2).mean(), silent=True,
                    callbacks=[CountEpochs])  # fmt: skip
    learn.add_cb(CountEpochs)
    learn.fit(1, 1e-2)
    counters = [c for c in learn.callbacks if isinstance(c, CountEpochs)]
    assert len(counters) == 2 and all(c.n == 1 for c in counters)


def test_a_single_callback_needs_no_list():
    learn = regression_learner()
    cb = CountEpochs()
    learn.fit(2, 1e-2, callbacks=cb)
    assert cb.n == 2


@pytest.mark.parametrize("where", ["init", "add_cb", "fit", "fit_one_cycle"])
def test_callback_class_that_needs_arguments_is_refused(where):
    with pytest.raises(
        TypeError, match=r"StopAfter.*needs arguments \(epochs\).*instance.*StopAfter\(epochs=\.\.\.\)"
    ):
        if where == "init":
            regression_learner(callbacks=[StopAfter])
        learn = regression_learner()
        if where == "add_cb":
            learn.add_cb(StopAfter)
        else:
            getattr(learn, where)(1, 1e-2, callbacks=[StopAfter])


@pytest.mark.parametrize("bad", [print, "SaveModelCallback", 3, SaveModelCallback().after_epoch])
def test_non_callbacks_are_refused_by_name(bad):
    learn = regression_learner()
    with pytest.raises(TypeError, match="fit_one_cycle\\(callbacks=...\\)") as e:
        learn.fit_one_cycle(1, 1e-2, callbacks=[bad] if not isinstance(bad, str) else bad)
    assert repr(bad) in str(e.value) and "Callback" in str(e.value)
    with pytest.raises(TypeError, match="add_cb.*expected a Callback"):
        learn.add_cb(bad)


def test_nothing_trains_when_a_callback_is_refused():
    learn = regression_learner()
    with pytest.raises(TypeError):
        learn.fit(1, 1e-2, callbacks=[CountEpochs(), StopAfter])
    assert learn.opt is None  # refused before the optimizer was even built


# -- resume= that cannot continue the run as asked is refused before anything is loaded ------------


def run_with_checkpoint(tmp_path, method="fit_one_cycle", epochs=2):
    learn = regression_learner(path=tmp_path)
    getattr(learn, method)(epochs, 1e-2, callbacks=[SaveModelCallback(every="epoch", name="ckpt")])
    return learn


def test_checkpoint_records_the_run(tmp_path):
    run_with_checkpoint(tmp_path)
    meta = load_tensors(tmp_path / "models" / "ckpt.safetensors")[1]
    assert (meta["epoch"], meta["n_epoch"], meta["fit_method"]) == (1, 2, "fit_one_cycle")


@pytest.mark.parametrize("method", ["fit", "fit_one_cycle"])
def test_resuming_a_finished_run_is_refused(tmp_path, method):
    run_with_checkpoint(tmp_path, method)
    learn = regression_learner(path=tmp_path, seed=5)
    before = weights(learn.model)
    with pytest.raises(ValueError) as e:
        getattr(learn, method)(2, 1e-2, resume="ckpt")
    msg = str(e.value)
    assert f"{method}(2, resume='ckpt'): the checkpoint already holds all 2 epochs of its run (2 done)" in msg
    assert (
        "nothing is left to train" in msg and f"learn.load('ckpt') and then a new learn.{method}(...)" in msg
    )
    assert same(weights(learn.model), before) and learn.opt is None  # nothing was loaded


def test_resuming_with_another_cycle_length_is_refused(tmp_path):
    learn = regression_learner(path=tmp_path)
    with pytest.raises(KeyboardInterrupt):  # a 4-epoch cycle killed after its first epoch
        learn.fit_one_cycle(4, 1e-2, callbacks=[SaveModelCallback(every="epoch", name="ckpt"), Kill(1)])
    with pytest.raises(ValueError) as e:
        regression_learner(path=tmp_path).fit_one_cycle(2, 1e-2, resume="ckpt")
    msg = str(e.value)
    assert (
        "fit_one_cycle(2, resume='ckpt'): the checkpoint is from a 4-epoch cycle (1 epoch(s) done), not a 2-epoch one"
        in msg
    )
    assert "call fit_one_cycle(4, ..., resume='ckpt')" in msg and "learn.load('ckpt')" in msg
    resumed = regression_learner(path=tmp_path)
    resumed.fit_one_cycle(4, 1e-2, resume="ckpt")  # the fix named in the message
    assert len(resumed.recorder.val_losses) == 3


def test_resuming_a_one_cycle_run_with_fit_is_refused(tmp_path):
    learn = regression_learner(path=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        learn.fit_one_cycle(3, 1e-2, callbacks=[SaveModelCallback(every="epoch", name="ckpt"), Kill(1)])
    with pytest.raises(ValueError, match=r"fit\(3, resume='ckpt'\): the checkpoint was written by fit_one_cycle.*"
                       r"call fit_one_cycle\(3, \.\.\., resume='ckpt'\)"):  # fmt: skip
        regression_learner(path=tmp_path).fit(3, 1e-2, resume="ckpt")


def test_fit_may_resume_to_more_epochs_but_not_fewer(tmp_path):
    learn = regression_learner(path=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        learn.fit(4, 1e-2, callbacks=[SaveModelCallback(every="epoch", name="ckpt"), Kill(2)])
    with pytest.raises(
        ValueError,
        match=r"fit\(2, resume='ckpt'\): the checkpoint already holds 2 epoch\(s\).*fit\(4, \.\.\., resume='ckpt'\)",
    ):
        regression_learner(path=tmp_path).fit(2, 1e-2, resume="ckpt")
    resumed = regression_learner(path=tmp_path)
    resumed.fit(5, 1e-2, resume="ckpt")  # a constant LR has no schedule to break: 3 more epochs
    assert len(resumed.recorder.val_losses) == 3


def test_older_checkpoints_without_the_run_still_resume(tmp_path):
    learn = regression_learner(path=tmp_path)
    learn.fit(1, 1e-2)
    learn.epoch = 0
    learn.save("old", epoch=0)  # as checkpoints without n_epoch / fit_method were written
    resumed = regression_learner(path=tmp_path)
    resumed.fit_one_cycle(3, 1e-2, resume="old")
    assert len(resumed.recorder.val_losses) == 2

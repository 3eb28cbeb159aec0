"""Issue 12: each misuse ends in an error that names the argument, the value and the fix."""

import pytest

from emberfit.core.callback import Callback
from emberfit.core.callbacks import CSVLogger, SaveModelCallback
from emberfit.core.learner import Learner

from .helpers import Linear1, regression_data, regression_learner


class CountEpochs(Callback):
    def __init__(self):
        self.n = 0

    def after_epoch(self):
        self.n += 1


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

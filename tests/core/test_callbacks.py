"""Callbacks: the event order, the training callbacks, mixed precision, the Recorder's plots (emberfit/core/callbacks/)."""

import numpy as np
import pytest

from emberfit.core.callbacks.base import EVENTS, Callback
from emberfit.core.callbacks.training import (
    CSVLogger,
    EarlyStoppingCallback,
    GradientClipping,
    SaveModelCallback,
)
from emberfit.core.metrics import rmse
from emberfit.core.plots import suggest_lr

from .helpers import regression_learner


def test_suggest_lr_gives_none_when_the_curve_never_falls():
    lrs = np.logspace(-5, 0, 50)
    # rises from the start: nothing to suggest (v1's min/10 lay left of the plotted curve)
    assert suggest_lr(lrs, np.linspace(1, 2, 50)) is None
    assert suggest_lr(lrs, 1 + 1e-3 * np.random.default_rng(0).standard_normal(50)) is None  # flat to the end


def test_suggest_lr_takes_a_slow_drift_for_a_flat_curve():
    # falls by five noise levels, but spread over five decades (the recorder's average wandering), then
    # rises from about 2e-2: a flat curve, so a decade below the rise, not a decade below the drift's end
    lrs = np.logspace(-7, 1, 100)
    drift = 0.05 * np.clip((-2 - np.log10(lrs)) / 5, 0, 1)
    lr = suggest_lr(lrs, 1 + drift + (lrs / 0.1) ** 2, noise=np.full(100, 0.01))
    assert 1e-3 <= lr <= 3e-3  # the whole-curve test took the drift for a descent: 6.7e-05


def test_plots_written_without_display(tmp_path):
    learn = regression_learner(path=tmp_path, metrics=[rmse])
    learn.fit_one_cycle(1, 1e-2)
    learn.recorder.plot_losses()
    learn.recorder.plot_lr(show_moms=True)
    learn.recorder.plot_metrics()
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"losses.png", "lr.png", "metrics.png"}


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

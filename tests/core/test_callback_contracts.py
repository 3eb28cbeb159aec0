"""Every callback goes through the same contract: it trains, keeps the loss finite and leaves nothing behind.

The callbacks are found, not listed: every ``Callback`` subclass among the facades' names, plus the public
``Callback`` subclasses defined in emberfit that the Learner uses internally (ProgressBar, OneCycleScheduler,
LRFinder, DistributedTrainer...), found through ``Callback.__subclasses__()`` once the facades are imported.
Each must have an entry in ``CONTRACTS`` (a class without one fails ``test_every_callback_has_a_contract``):
how to build it, and what its purpose allows it to change.

For each one, on a tiny regression learner (``DataBunch.from_tensors`` + a small ``nn.Module`` with a
BatchNorm and a frozen layer), after a plain warm-up ``fit``:

* one short epoch with the callback completes and the recorded losses are finite;
* the learner is left as a plain fit leaves it: same callbacks, model training modes, ``requires_grad``
  flags, optimizer hyperparameters, no hooks left on the model, no autocast/grad scaler/skip_validate;
* a second fit with the same callback object works too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

import emberfit.collab as collab_facade
import emberfit.core as core_facade
import emberfit.tabular as tabular_facade
import emberfit.text as text_facade
from emberfit.core import Callback, DataBunch, Learner, LearnerCallback, nn, set_seed
from emberfit.text import AWDLSTMConfig, awd_lstm_small_lm_config, get_language_model

FACADES = (core_facade, text_facade, tabular_facade, collab_facade)
LR = 1e-2


# ----------------------------------------------------------------------------- the tiny learners
class TinyRegressor(nn.Module):
    """Linear -> BatchNorm -> ReLU -> Linear, returning ``(bs,)``."""

    def __init__(self, n_in: int = 4):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.body(x)).squeeze(-1)


def regression_learner(path: Path) -> Learner:
    """96 train / 32 valid rows of ``y = x @ w + noise``; the first Linear frozen (layer groups body, head)."""
    set_seed(0)
    x = torch.randn(128, 4)
    y = x @ torch.tensor([1.0, -2.0, 3.0, 0.5]) + 0.05 * torch.randn(128)
    data = DataBunch.from_tensors(x[:96], y[:96], x[96:], y[96:], bs=16, device="cpu", path=path)
    model = TinyRegressor()
    learn = Learner(
        data, model, loss_func=nn.functional.mse_loss, silent=True, layer_groups=[[model.body], [model.head]]
    )
    learn.freeze_to(1)  # a mix of frozen and trainable parameters (the BatchNorm stays trainable)
    return learn


def _lm_loss(out, targ):
    return nn.functional.cross_entropy(out[0].flatten(0, 1), targ.flatten())


def lm_learner(path: Path) -> Learner:
    """A 2-layer AWD-LSTM language model (tiny sizes) on random token streams: what RNNRegularizer acts on."""
    set_seed(0)
    vocab, seq = 30, 8
    tokens = torch.randint(2, vocab, (48, seq + 1))
    x, y = tokens[:, :-1], tokens[:, 1:]
    data = DataBunch.from_tensors(x[:32], y[:32], x[32:], y[32:], bs=8, device="cpu", path=path)
    cfg: AWDLSTMConfig = dataclasses.replace(awd_lstm_small_lm_config, emb_sz=8, n_hid=16, n_layers=2)
    return Learner(data, get_language_model(cfg, vocab), loss_func=_lm_loss, silent=True)


# ------------------------------------------------------------------------------------ the table
def _fit(learn: Learner, cb: Callback) -> None:
    learn.fit(1, LR, callbacks=[cb])


@dataclass
class Contract:
    """How to build a callback (``make(cls, learn, tmp_path)``), run it, and what it may change."""

    make: Callable[[type, Learner, Path], Callback]
    learner: Callable[[Path], Learner] = regression_learner
    run: Callable[[Learner, Callback], Any] = _fit  # how the callback is used; its result goes to check
    may_change: set[str] = field(default_factory=set)  # keys of learner_state() its purpose changes
    restores_weights: bool = False
    check: Callable[[Learner, Callback, Path, Any], None] | None = None  # its purpose, briefly


def _file_written(rel: str):
    def check(learn, cb, tmp_path, result):
        assert (tmp_path / rel).is_file(), f"{type(cb).__name__} wrote no {rel}"

    return check


class _LossProbe(Callback):
    """Records, per training batch, how much the loss exceeds ``loss_func(pred, yb)`` when after_loss ends."""

    order = -12  # after RNNRegularizer.after_loss (-15), before the Recorder (-10)

    def __init__(self):
        self.extra: list[float] = []

    def after_loss(self):
        learn = self.learn
        if learn.training:
            self.extra.append(float(learn.loss.detach() - learn.loss_func(learn.pred, learn.yb).detach()))


def _fit_with_probe(learn: Learner, cb: Callback) -> _LossProbe:
    probe = _LossProbe()
    learn.fit(1, LR, callbacks=[cb, probe])
    return probe


def _penalty_added(learn, cb, tmp_path, probe):
    assert probe.extra and all(e > 0 for e in probe.extra), (
        f"no AR/TAR penalty added to the loss: {probe.extra}"
    )


def _best_weights_back(learn, cb, tmp_path, result):
    assert cb.best_epoch is not None and cb.best < float("inf"), "KeepBestWeights recorded no best epoch"
    for k, v in learn.model.state_dict().items():
        assert torch.equal(v, cb.state[k]), f"the best weights were not put back ({k})"


class _V1Probe(LearnerCallback):
    """A callback written for fastai v1: counts each v1 event it is given (through the V1Events adapter)."""

    def __init__(self, learn):
        super().__init__(learn)
        self.seen: dict[str, int] = {}

    def _see(self, event):
        self.seen[event] = self.seen.get(event, 0) + 1

    def on_train_begin(self, **kwargs):
        self.seen = {}
        self._see("on_train_begin")

    def on_batch_begin(self, last_input, **kwargs):
        self._see("on_batch_begin")
        return {"last_input": last_input}  # handed back unchanged

    def on_backward_end(self, **kwargs):
        self._see("on_backward_end")

    def on_step_end(self, **kwargs):
        self._see("on_step_end")

    def on_epoch_end(self, last_metrics, **kwargs):
        self._see("on_epoch_end")

    def on_train_end(self, **kwargs):
        self._see("on_train_end")


def _v1_events_seen(learn, cb, tmp_path, result):
    n = len(learn.data.train_dl)
    assert cb.seen == {
        "on_train_begin": 1, "on_batch_begin": n + len(learn.data.valid_dl), "on_backward_end": n,
        "on_step_end": n, "on_epoch_end": 1, "on_train_end": 1,
    }, cb.seen  # fmt: skip


CONTRACTS: dict[str, Contract] = {
    "Recorder": Contract(lambda cls, learn, tmp: cls()),
    "ProgressBar": Contract(lambda cls, learn, tmp: cls(show_batches=False)),
    "OneCycleScheduler": Contract(
        lambda cls, learn, tmp: None,  # built by fit_one_cycle, as it is used
        run=lambda learn, cb: learn.fit_one_cycle(1, LR),
        may_change={"hypers"},  # it sets LR and momentum every batch
    ),
    "LRFinder": Contract(
        lambda cls, learn, tmp: None,  # built by lr_find, as it is used
        run=lambda learn, cb: learn.lr_find(start_lr=1e-5, end_lr=1e-1, num_it=5),
        restores_weights=True,
    ),
    "GradientClipping": Contract(lambda cls, learn, tmp: cls(clip=0.1)),
    "EarlyStoppingCallback": Contract(lambda cls, learn, tmp: cls(patience=1)),
    "TrackerCallback": Contract(lambda cls, learn, tmp: cls(learn, monitor="valid_loss")),
    "ReduceLROnPlateauCallback": Contract(
        lambda cls, learn, tmp: cls(learn, patience=0, factor=0.5, min_lr=1e-5),
        may_change={"hypers"},  # its purpose: a lower LR when valid_loss stops improving
    ),
    # fastai v1's callbacks: a subclass written for v1, its events given by the V1Events adapter
    "LearnerCallback": Contract(lambda cls, learn, tmp: _V1Probe(learn), check=_v1_events_seen),
    "V1Events": Contract(lambda cls, learn, tmp: _V1Probe(learn), check=_v1_events_seen),
    "SaveModelCallback": Contract(
        lambda cls, learn, tmp: cls(every="epoch", name="contract"),
        check=_file_written("models/contract.safetensors"),
    ),
    "MixedPrecision": Contract(lambda cls, learn, tmp: cls(dtype=torch.bfloat16)),
    "CSVLogger": Contract(lambda cls, learn, tmp: cls(filename="log.csv"), check=_file_written("log.csv")),
    "DistributedTrainer": Contract(lambda cls, learn, tmp: cls()),  # one process: nothing to wrap
    "RNNRegularizer": Contract(
        lambda cls, learn, tmp: cls(alpha=2.0, beta=1.0),
        learner=lm_learner,
        run=_fit_with_probe,
        check=_penalty_added,
    ),
    # tabular's preset (emberfit.tabular.presets): best weights kept in memory, put back at the end
    "KeepBestWeights": Contract(lambda cls, learn, tmp: cls(patience=1), check=_best_weights_back),
    # text pretraining's callbacks (emberfit.text.pretrain): checked when that module is loaded
    "TimedCheckpoint": Contract(lambda cls, learn, tmp: cls(minutes=0.0, name="timed")),
    "PretrainProgress": Contract(lambda cls, learn, tmp: cls(every=0.0, log=lambda *a, **k: None)),
}


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def exported_callbacks() -> dict[str, type]:
    """The Callback subclasses the facades export (the base class itself excluded)."""
    found = {}
    for facade in FACADES:
        for name in facade.__all__:
            obj = getattr(facade, name)
            if isinstance(obj, type) and issubclass(obj, Callback) and obj is not Callback:
                found[obj.__name__] = obj
    return found


def all_callbacks() -> dict[str, type]:
    """Exported ones plus the public emberfit subclasses loaded with the facades (ProgressBar, LRFinder...)."""
    found = exported_callbacks()
    for sub in _subclasses(Callback):
        if sub.__module__.split(".")[0] == "emberfit" and not sub.__name__.startswith("_"):
            found.setdefault(sub.__name__, sub)
    return dict(sorted(found.items()))


CALLBACKS = all_callbacks()


# ------------------------------------------------------------------------------ the learner state
def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()
    )


def learner_state(learn: Learner) -> dict[str, Any]:
    """What a callback could leave behind on the learner."""
    opt = learn.opt
    return {
        "callbacks": [type(c).__name__ for c in learn.callbacks],
        "model": id(learn.model),
        "loaders": (id(learn.data.train_dl), id(learn.data.valid_dl)),
        "training_modes": {n: m.training for n, m in learn.model.named_modules()},
        "requires_grad": {n: p.requires_grad for n, p in learn.model.named_parameters()},
        "hooks": _hooks(learn.model),
        "optimizer": None if opt is None else type(opt).__name__,
        "hypers": None
        if opt is None
        else [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups],
        "loss_func": learn.loss_func,
        "autocast": learn.autocast,
        "grad_scaler": learn.grad_scaler,
        "skip_validate": learn.skip_validate,
    }


def _weights(learn: Learner) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in learn.model.state_dict().items()}


def _diff(before: dict, after: dict, allowed: set[str]) -> list[str]:
    return [
        f"{k}: {before[k]!r} -> {after[k]!r}" for k in before if k not in allowed and before[k] != after[k]
    ]


# ---------------------------------------------------------------------------------------- the tests
def test_every_callback_has_a_contract():
    missing = sorted(set(CALLBACKS) - set(CONTRACTS))
    assert not missing, f"callbacks without an entry in CONTRACTS (add how to build them): {missing}"
    # the lesson's callbacks are exported and found
    assert {"Recorder", "SaveModelCallback", "EarlyStoppingCallback", "CSVLogger"} <= set(
        exported_callbacks()
    )


@pytest.mark.parametrize("name", sorted(CALLBACKS))
def test_callback_contract(name, tmp_path):
    if name not in CONTRACTS:
        pytest.fail(f"{name} has no entry in CONTRACTS")
    cls, contract = CALLBACKS[name], CONTRACTS[name]
    learn = contract.learner(tmp_path)
    learn.fit(1, LR)  # a plain fit: the state every fit leaves
    before, weights = learner_state(learn), _weights(learn)
    cb = contract.make(cls, learn, tmp_path)
    for attempt in ("first", "second"):
        result = contract.run(learn, cb)
        losses = learn.recorder.raw_losses
        assert losses, f"{name}: the {attempt} fit trained no batch"
        assert all(math.isfinite(v) for v in losses), (
            f"{name}: non-finite loss in the {attempt} fit: {losses}"
        )
        assert learn.recorder.nan_at is None, learn.stop_reason
        left = _diff(before, learner_state(learn), contract.may_change)
        assert not left, f"{name} left state behind after the {attempt} fit:\n  " + "\n  ".join(left)
        if contract.restores_weights:
            after = _weights(learn)
            changed = [k for k in weights if not torch.equal(weights[k], after[k])]
            assert not changed, f"{name} did not restore the weights: {changed}"
        if contract.check is not None:
            contract.check(learn, cb, tmp_path, result)
    learn.fit(1, LR)  # and the learner still trains without it
    assert all(math.isfinite(v) for v in learn.recorder.raw_losses)


# -------------------------------------------------------------------- the contract catches a leak
class _LeakyCallback(Callback):
    """Unfreezes the model, switches it to eval and leaves a hook and a new LR: everything a leak can be."""

    def after_fit(self):
        learn = self.learn
        for p in learn.model.parameters():
            p.requires_grad_(True)
        learn.model.eval()
        learn.model.register_forward_hook(lambda *a: None)
        learn.opt.param_groups[0]["lr"] = 123.0


def test_learner_state_sees_a_leaky_callback(tmp_path):
    learn = regression_learner(tmp_path)
    learn.fit(1, LR)
    before = learner_state(learn)
    learn.fit(1, LR, callbacks=[_LeakyCallback()])
    left = " ".join(_diff(before, learner_state(learn), set()))
    for key in ("training_modes", "requires_grad", "hooks", "hypers"):
        assert key in left, f"the contract misses a leak of {key}"
    assert _diff(before, learner_state(learn), {"training_modes", "requires_grad", "hooks", "hypers"}) == []

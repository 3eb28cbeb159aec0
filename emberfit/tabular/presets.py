"""``preset='strong'``: a TabularNet recipe sized from the data, and ``fit_preset`` with early stopping.

The recipe (:func:`strong_preset`) picks the numerical embedding (PLE, plus value codes for
spiky columns), the widths, dropout, number of ensemble members, batch size, learning rate,
weight decay and the most epochs from the number of training rows. :func:`fit_preset` trains with it: it holds out a random
``valid_pct`` of the *training* rows, trains on the rest at a constant learning rate (after a
short warm-up), stops when the held-out loss has not improved for ``patience`` epochs and
keeps the weights of the best epoch. The DataBunch's own validation set (which may be a test
set) is never looked at while fitting; ``learn.validate()`` afterwards scores it.

>>> df = pd.DataFrame({"c": list("abcd") * 50, "x": np.arange(200.0), "y": [0, 1] * 100})
>>> data = (TabularList.from_df(df, cat_names=["c"], cont_names=["x"], procs=[Categorify, Normalize])
...         .split_by_idx(range(160, 200)).label_from_df(cols="y").databunch(device="cpu"))
>>> learn = tabular_learner(data, preset="strong", metrics=accuracy, silent=True)
>>> learn.preset.cont_emb, learn.preset.n_members
('ple', 4)
>>> learn.fit_preset(max_epochs=2)
>>> len(learn.recorder.val_losses) <= 2
True
"""

from __future__ import annotations

import copy
import dataclasses
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..core.callbacks.base import Callback, CancelFitException
from ..core.data import TensorLoader
from .ensemble import CONT_EMBS, TabularNet
from .num_embeddings import fit_cont_bins, fit_cont_values

__all__ = ["TabularPreset", "strong_preset", "PRESETS", "fit_preset", "KeepBestWeights", "build_tabular_net"]


@dataclass(frozen=True)
class TabularPreset:
    """What a preset chose for one DataBunch: the model's settings and how :func:`fit_preset` trains it.

    >>> strong_preset(32_561).layers
    (256, 256)
    """

    cont_emb: str | None
    layers: tuple[int, ...]
    ps: float
    d_cat: int
    d_cont: int
    n_members: int
    bs: int
    lr: float
    wd: float
    max_epochs: int
    patience: int
    valid_pct: float
    warmup_pct: float = 0.05
    value_emb: bool = True


def strong_preset(n_train: int) -> TabularPreset:
    """The ``'strong'`` recipe for ``n_train`` training rows (see the README's tabular section).

    Small data gets more dropout, more epochs and patience, and a larger held-out share; large
    data gets bigger batches, fewer members and epochs, so a million rows still fit in minutes.

    >>> [(p.n_members, p.bs, p.max_epochs) for p in map(strong_preset, (2_000, 30_000, 300_000, 2_000_000))]
    [(4, 128, 60), (4, 256, 30), (2, 512, 12), (1, 1024, 4)]
    """
    if not isinstance(n_train, int) or n_train < 2:
        raise ValueError(f"n_train must be an int >= 2 (the training rows), got {n_train!r}")
    common = dict(cont_emb="ple", layers=(256, 256), d_cat=16, d_cont=16, wd=1e-2)
    if n_train <= 10_000:
        return TabularPreset(
            **common, ps=0.2, n_members=4, bs=128, lr=1e-3, max_epochs=60, patience=8, valid_pct=0.2
        )
    if n_train <= 100_000:
        return TabularPreset(
            **common, ps=0.1, n_members=4, bs=256, lr=1e-3, max_epochs=30, patience=5, valid_pct=0.15
        )
    if n_train <= 400_000:
        return TabularPreset(
            **common, ps=0.1, n_members=2, bs=512, lr=1.5e-3, max_epochs=12, patience=3, valid_pct=0.1
        )
    return TabularPreset(
        **common, ps=0.0, n_members=1, bs=1024, lr=2e-3, max_epochs=4, patience=1, valid_pct=0.05
    )


PRESETS = {"strong": strong_preset}


class KeepBestWeights(Callback):
    """Keeps a copy of the weights at the lowest validation loss; stops after ``patience`` worse epochs.

    At the end of the fit the best weights are put back (in memory: nothing is written).

    >>> KeepBestWeights(patience=3).patience
    3
    """

    order = 25

    def __init__(self, patience: int = 5):
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive int (epochs), got {patience!r}")
        self.patience = patience

    def before_fit(self):
        self.best, self.best_epoch, self.wait, self.state = float("inf"), None, 0, None

    def after_epoch(self):
        loss = self.learn.valid_loss
        if loss is not None and loss < self.best:
            self.best, self.best_epoch, self.wait = float(loss), self.learn.epoch, 0
            self.state = copy.deepcopy(self.learn.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.learn.stop_reason = f"early stop: the held-out loss did not improve for {self.wait} epoch(s)"
            raise CancelFitException()

    def after_fit(self):
        if self.state is not None:
            self.learn.model.load_state_dict(self.state)


class _WarmupThenConstant(Callback):
    """Learning rate rising linearly from 0 over the first ``warm`` batches, then ``lr``."""

    order = 1

    def __init__(self, lr: float, warm: int):
        self.lr, self.warm, self.step = lr, max(int(warm), 1), 0

    def before_batch(self):
        if self.learn.training:
            self.step += 1
            self.learn.set_hypers(lr=self.lr * min(1.0, self.step / self.warm))


def _split_loaders(dl: Any, valid_pct: float, bs: int) -> tuple[TensorLoader, TensorLoader]:
    """Training and held-out loaders over a random ``valid_pct`` split of the training loader's rows."""
    if not isinstance(dl, TensorLoader):
        raise TypeError(
            f"fit_preset needs the data's training loader to be a TensorLoader, got {type(dl).__name__}"
        )
    n_valid = max(1, int(round(dl.n * valid_pct)))
    if dl.n - n_valid < 2:
        raise ValueError(
            f"fit_preset holds out {valid_pct:.0%} of the {dl.n} training rows and would keep {dl.n - n_valid} "
            "to train on; use more rows or a smaller valid_pct"
        )
    perm = torch.randperm(dl.n)  # the global RNG: set_seed makes the split repeatable
    held, kept = perm[:n_valid].sort().values, perm[n_valid:]

    def take(idx):
        idx = idx.to(dl.y.device) if dl.y is not None else idx
        x = tuple(t[idx] for t in dl.x) if isinstance(dl.x, tuple) else dl.x[idx]
        return x, dl.y[idx]

    bs = min(bs, dl.n - n_valid)
    train = TensorLoader(*take(kept), bs=bs, shuffle=True, drop_last=True, device=dl.device)
    return train, TensorLoader(*take(held), bs=4096, device=dl.device)


def fit_preset(learn: Any, max_epochs: int | None = None, **overrides) -> None:
    """Train ``learn`` with its preset: early stopping on held-out training rows, best weights kept.

    ``max_epochs`` and any :class:`TabularPreset` field given as a keyword (``lr=...``,
    ``patience=...``, ``valid_pct=...``, ``bs=...``, ``wd=...``) override the preset's choice for this
    fit. ``learn.preset_report`` then says what happened (epochs run, best epoch, seconds).
    See the module docstring for an example.
    """
    preset = getattr(learn, "preset", None)
    if preset is None:
        raise ValueError(
            "this learner has no preset; build it with tabular_learner(data, preset='strong') "
            "or train it with fit_one_cycle(epochs, lr)"
        )
    fields = {f.name for f in dataclasses.fields(TabularPreset)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(
            f"fit_preset got unknown setting(s) {unknown}; the preset's fields are {sorted(fields)}"
        )
    if max_epochs is not None:
        overrides["max_epochs"] = max_epochs
    p = dataclasses.replace(preset, **overrides)
    if not isinstance(p.max_epochs, int) or p.max_epochs < 1:
        raise ValueError(f"max_epochs must be a positive int, got {p.max_epochs!r}")
    if not 0 < p.valid_pct < 1:
        raise ValueError(
            f"valid_pct must be in (0, 1), the share of training rows held out; got {p.valid_pct!r}"
        )
    data = learn.data
    train, held = _split_loaders(data.train_dl, p.valid_pct, p.bs)
    keep = KeepBestWeights(p.patience)
    warm = _WarmupThenConstant(p.lr, p.warmup_pct * p.max_epochs * len(train))
    saved = data.train_dl, data.valid_dl
    start = time.perf_counter()
    data.train_dl, data.valid_dl = train, held
    try:
        learn.fit(p.max_epochs, p.lr, wd=p.wd, callbacks=[warm, keep])
    finally:
        data.train_dl, data.valid_dl = saved
    learn.preset_report = {
        "epochs_run": len(learn.recorder.val_losses),
        "best_epoch": keep.best_epoch,
        "best_held_out_loss": keep.best,
        "n_train": train.n,
        "n_held_out": held.n,
        "seconds": time.perf_counter() - start,
    }


def build_tabular_net(
    data: Any,
    layers: Sequence[int] | None = None,
    ps: Sequence[float] | float | None = None,
    y_range: Sequence[float] | None = None,
    cont_emb: str | None = None,
    n_members: int | None = None,
    preset: str | None = None,
    value_emb: bool | None = None,
) -> tuple[TabularNet, TabularPreset | None]:
    """A :class:`TabularNet` for a tabular DataBunch, and the preset it followed (None without one).

    Arguments given explicitly win over the preset's choices. PLE takes its bin edges from the
    data's processor (fitted on the training rows).

    >>> df = pd.DataFrame({"c": list("ab") * 20, "x": np.arange(40.0), "y": [0, 1] * 20})
    >>> data = (TabularList.from_df(df, cat_names=["c"], cont_names=["x"], procs=[Categorify, Normalize])
    ...         .split_by_idx(range(30, 40)).label_from_df(cols="y").databunch(device="cpu"))
    >>> model, _ = build_tabular_net(data, layers=[8], cont_emb="ple", n_members=2)
    >>> model.config.n_members, len(model.config.bins[0]) - 1  # 30 distinct training values: 29 bins
    (2, 29)
    """
    chosen = _preset_for(data, preset)
    if cont_emb is None and chosen is not None:
        cont_emb = chosen.cont_emb
    if cont_emb not in CONT_EMBS:
        raise ValueError(f"cont_emb must be 'ple', 'periodic' or None, got {cont_emb!r}")
    if n_members is None:
        n_members = chosen.n_members if chosen is not None else 1
    if not isinstance(n_members, numbers.Integral) or isinstance(n_members, bool) or n_members < 1:
        raise ValueError(f"n_members must be a positive int (how many MLPs to ensemble), got {n_members!r}")
    if layers is None:
        layers = chosen.layers if chosen is not None else (256, 256)
    proc = data.processor
    kwargs = dict(
        layers=tuple(int(n) for n in layers),
        ps=_one_dropout(ps, chosen),
        cont_emb=cont_emb,
        n_members=int(n_members),
        combine="mean" if data.classes is None else ("sigmoid" if data.multi_label else "softmax"),
        y_range=tuple(y_range) if y_range is not None else None,
    )
    if chosen is not None:
        kwargs.update(d_cat=chosen.d_cat, d_cont=chosen.d_cont)
    if data.classes is None and y_range is None and isinstance(data.train_dl, TensorLoader):
        y = data.train_dl.y.float()  # regression: learn standardised targets (training rows only)
        kwargs.update(y_mean=float(y.mean()), y_std=float(y.std()) if len(y) > 1 and y.std() > 0 else 1.0)
    if cont_emb == "ple" and proc.out_cont_names:
        kwargs["bins"] = [_bins(data)[n] for n in proc.out_cont_names]
    if value_emb is None:
        value_emb = chosen.value_emb if chosen is not None else False
    if not isinstance(value_emb, bool):
        raise TypeError(f"value_emb must be True or False, got {value_emb!r}")
    if value_emb and proc.out_cont_names:
        kept = _values(data)
        kwargs["values"] = [kept.get(n, []) for n in proc.out_cont_names]
    sizes = [len(proc.classes[n]) for n in proc.out_cat_names]
    model = TabularNet(sizes, len(proc.out_cont_names), data.c, **kwargs)
    return model, chosen


def _preset_for(data: Any, preset: str | None) -> TabularPreset | None:
    if preset is None:
        return None
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)} or None, got {preset!r}")
    return PRESETS[preset](int(data.train_dl.n) if isinstance(data.train_dl, TensorLoader) else 2)


def _one_dropout(ps: Sequence[float] | float | None, chosen: TabularPreset | None) -> float:
    """TabularNet has one dropout for all hidden layers: ``ps`` as one float."""
    if ps is None:
        return chosen.ps if chosen is not None else 0.1
    if isinstance(ps, numbers.Real):
        return float(ps)
    vals = {float(p) for p in ps}
    if len(vals) != 1:
        raise ValueError(
            f"ps={list(ps)!r}: with cont_emb, n_members or preset the model uses one dropout for every "
            "hidden layer; pass a single float such as ps=0.1"
        )
    return vals.pop()


def _values(data: Any) -> dict[str, list[float]]:
    """The processor's kept values; for data saved before they were kept, fitted now on the training rows."""
    proc = data.processor
    if proc.cont_values is None:
        proc.cont_values = fit_cont_values(proc.out_cont_names, data.train_ds.x.conts)
    return proc.cont_values


def _bins(data: Any) -> dict[str, list[float]]:
    """The processor's PLE bins; for data saved before they were kept, fitted now on the training rows."""
    proc = data.processor
    if proc.cont_bins is not None:
        return proc.cont_bins
    proc.cont_bins = fit_cont_bins(proc.out_cont_names, data.train_ds.x.conts)
    return proc.cont_bins

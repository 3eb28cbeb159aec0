"""The Learner: a model, its data, a loss, an optimizer, and one readable ``fit`` loop.

This file holds the loop (``_fit``: epochs of ``_train_epoch`` and ``_validate_epoch``, firing the
events of :mod:`emberfit.core.callbacks.base`) and validation. The Learner's other methods are thin:
the optimizer side is in ``optimizer.py``, saving, loading and exporting in ``persistence.py``,
predictions in ``inference.py``, ``summary()`` in ``summary.py``, and precision and DDP are callbacks.

>>> import torch
>>> from emberfit.core.data import DataBunch
>>> x = torch.randn(256, 4); y = x @ torch.tensor([1., -2., 3., .5])
>>> data = DataBunch.from_tensors(x[:200], y[:200], x[200:], y[200:], bs=32, device='cpu')
>>> learn = Learner(data, torch.nn.Linear(4, 1), loss_func=torch.nn.functional.mse_loss, silent=True)
>>> learn.fit_one_cycle(2, 1e-2)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import inference
from . import optimizer as optim
from .callbacks.base import Callback, CancelFitException, as_callback, as_callbacks, attach, event_handlers
from .callbacks.ddp import DistributedTrainer
from .callbacks.fns import callbacks_from_fns, check_callback_fns
from .callbacks.precision import MixedPrecision, autocast_context
from .callbacks.progress import ProgressBar
from .callbacks.recorder import Recorder
from .callbacks.training import LRFinder, OneCycleScheduler
from .callbacks.v1_events import with_v1_adapter
from .data import DataBunch, DatasetType, batch_size
from .distributed import all_gather_objects, all_sum, is_main, world_size
from .inference import pred_tensor, reset_model
from .interpret import Interpretable
from .learner_args import opt_and_loss
from .metrics import Metric, as_metrics, merge_states
from .persistence import Persistence
from .registry import register
from .resume import peek_meta, resume_epoch
from .summary import model_summary

__all__ = ["Learner"]


@register("learner", "core.Learner")
class Learner(Interpretable, Persistence):
    """Trains ``model`` on ``data`` with ``loss_func`` (by default the one the data's labels call for).

    The arguments are fastai v1's, in v1's order (``opt_func`` third; see :mod:`.learner_args`).
    ``layer_groups`` (or :meth:`split`) divides the model for discriminative learning rates
    and freezing. Weight decay is decoupled (``true_wd``) and, unless ``bn_wd``, not applied
    to BatchNorm/LayerNorm weights and biases. ``callbacks`` are callback instances kept for
    every fit; ``callback_fns`` (also ``learn.callback_fns``) make fresh ones for each fit, as in
    fastai v1 (see :mod:`emberfit.core.callbacks.fns`). Saving, loading, exporting and freeing
    memory are in :class:`~emberfit.core.persistence.Persistence`.

    >>> x = torch.randn(64, 3); y = x @ torch.tensor([1., -2., .5])
    >>> data = DataBunch.from_tensors(x[:48], y[:48], x[48:], y[48:], bs=16, device='cpu')
    >>> model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))  # (bs, 3) -> (bs,)
    >>> learn = Learner(data, model, loss_func=F.mse_loss, metrics=[rmse], silent=True)
    >>> learn.fit(1, 1e-2)
    >>> len(learn.recorder.losses)  # one per training batch: 48 rows / bs 16
    3
    >>> learn.recorder.names
    ['epoch', 'train_loss', 'valid_loss', 'rmse', 'time']
    """

    def __init__(
        self,
        data: DataBunch,
        model: nn.Module,
        opt_func: Callable | None = None,
        loss_func: Callable | None = None,
        metrics: Iterable | Callable | None = None,
        true_wd: bool = True,
        bn_wd: bool = True,
        wd: float | Sequence[float] = optim.default_wd,
        train_bn: bool = True,
        path: str | Path | None = None,
        model_dir: str | Path = "models",
        callback_fns: Iterable[Callable] | Callable | None = None,
        callbacks: Iterable[Callback] | None = None,
        layer_groups: Sequence | None = None,
        add_time: bool = True,
        silent: bool | None = False,
    ):
        if not isinstance(data, DataBunch):
            raise TypeError(f"data must be a DataBunch, got {type(data).__name__}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.data, self.model = data, model.to(data.device)
        opt_func, loss_func = opt_and_loss(opt_func, loss_func)  # v1's order; a loss third still works
        self.loss_func = loss_func if loss_func is not None else data.loss_func
        if self.loss_func is None:
            raise ValueError("no loss_func given and the data do not imply one; pass loss_func=...")
        self.metrics: list[Metric] = as_metrics(metrics)  # this learner's own copies
        self.true_wd, self.bn_wd, self.train_bn = true_wd, bn_wd, train_bn
        self.opt_func = opt_func or (optim.AdamW if true_wd else partial(torch.optim.Adam, betas=(0.9, 0.99)))
        self.wd = wd
        self.path = Path(path) if path is not None else Path(data.path)
        self.model_dir = Path(model_dir)
        self.silent, self.add_time = bool(silent), bool(add_time)  # v1: silent=None is not silent
        self.opt: torch.optim.Optimizer | None = None
        self.layer_groups: list[list[nn.Module]] = []
        self.split(layer_groups) if layer_groups is not None else self.split(None)
        self.callbacks: list[Callback] = []
        self.recorder = Recorder()
        self.add_cb(self.recorder)
        for cb in as_callbacks(callbacks, "Learner(callbacks=...)"):
            self.add_cb(cb)
        self.callback_fns: list[Callable] = check_callback_fns(callback_fns, "Learner(callback_fns=...)")
        self.autocast: tuple[str, torch.dtype] | None = None
        self.grad_scaler = None
        self.skip_validate = False
        self.model_init: dict | None = None  # {'cls': 'emberfit...:Class', 'kwargs': {...}} for export
        self.training_dl = None

    # -- callbacks ------------------------------------------------------------------------
    def add_cb(self, cb: Callback | type[Callback]) -> Learner:
        """Attach a callback for every later ``fit`` (an instance, or a class that needs no arguments)."""
        self.callbacks.append(attach(as_callback(cb, "add_cb"), self))
        return self

    def remove_cb(self, cb: Callback) -> Learner:
        self.callbacks.remove(cb)
        return self

    def __call__(self, event: str) -> None:
        for f in self._handlers[event]:
            f()

    # -- layer groups, freezing, optimizer (the work is in optimizer.py) ------------------------
    def split(self, split_on: Callable | Sequence | None) -> Learner:
        """Set the layer groups: a function ``model -> groups``, a list of groups, or None (one group)."""
        self.layer_groups = optim.split_groups(self.model, split_on)
        self.opt = None  # param groups follow the layer groups
        return self

    def _group_params(self, group: list[nn.Module]) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """``(decay, no_decay)`` parameters of a layer group; learners override it to say more."""
        return optim.decay_split(group, self.bn_wd)

    def create_opt(self, lr=None, wd=None) -> torch.optim.Optimizer:
        """Build the optimizer: two param groups per layer group (with and without weight decay)."""
        lrs = self.lr_range(optim.default_lr if lr is None else lr)
        wds = self._wd_range(self.wd if wd is None else wd)
        groups = optim.param_groups(self.layer_groups, lrs, wds, group_params=self._group_params)
        self.opt = self.opt_func(groups, lr=float(lrs[-1]))
        return self.opt

    @property
    def _opt_existed(self) -> bool:
        return getattr(self, "_had_opt", False)

    def lr_range(self, lr) -> np.ndarray:
        """One LR per layer group from a float, ``slice(hi)`` or ``slice(lo, hi)``."""
        return optim.lr_range(lr, len(self.layer_groups))

    def _wd_range(self, wd) -> np.ndarray:
        return optim.wd_range(wd, len(self.layer_groups))

    def set_hypers(self, lr=None, mom=None, wd=None) -> None:
        """Set LR / momentum / weight decay per layer group (scalars or one value per group)."""
        optim.set_hypers(self.opt, lr, mom, wd)

    def freeze_to(self, n: int) -> None:
        """Freeze layer groups ``[:n]`` (BatchNorm stays trainable when ``train_bn``); train ``[n:]``."""
        optim.freeze_to(self.layer_groups, n, self.train_bn)

    def freeze(self) -> None:
        """Train only the last layer group (the head)."""
        if len(self.layer_groups) < 2:
            raise ValueError(
                "freeze() needs a model split into at least 2 layer groups; use learn.split(...) first"
            )
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        """Train every layer group."""
        self.freeze_to(0)

    # -- distributed training and precision (callbacks do the work) ----------------------------
    def to_distributed(self, find_unused_parameters: bool = False) -> Learner:
        """Train with DistributedDataParallel under torchrun (see :mod:`emberfit.core.distributed`)."""
        if not any(isinstance(c, DistributedTrainer) for c in self.callbacks):
            self.add_cb(DistributedTrainer(find_unused_parameters))
        return self

    def to_fp16(self) -> Learner:
        """Mixed precision with float16 (dynamic loss scaling on CUDA) for every later fit."""
        return self._set_precision(torch.float16)

    def to_bf16(self) -> Learner:
        """Mixed precision with bfloat16 (works on CPU too; no loss scaling needed)."""
        return self._set_precision(torch.bfloat16)

    def to_fp32(self) -> Learner:
        """Back to full precision."""
        return self._set_precision(None)

    def _set_precision(self, dtype) -> Learner:
        for c in [c for c in self.callbacks if isinstance(c, MixedPrecision)]:
            self.remove_cb(c)
        if dtype is not None:
            self.add_cb(MixedPrecision(dtype))
        return self

    def trainable_params(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    # -- training ---------------------------------------------------------------------------
    def fit(
        self,
        epochs: int,
        lr=optim.default_lr,
        wd=None,
        callbacks: Iterable[Callback] | None = None,
        resume: str | None = None,
        start_epoch: int = 0,
    ) -> None:
        """Train for ``epochs`` epochs at a constant learning rate (per layer group)."""
        self._check_epochs(epochs)
        cbs = as_callbacks(callbacks, "fit(callbacks=...)")
        lrs = self.lr_range(lr)
        start_epoch = self._prepare(lrs, wd, resume, start_epoch, epochs, "fit")
        self._fit(epochs, cbs, start_epoch)

    def fit_one_cycle(
        self,
        cyc_len: int,
        max_lr=optim.default_lr,
        moms=(0.95, 0.85),
        div_factor: float = 25.0,
        pct_start: float = 0.3,
        final_div: float | None = None,
        wd=None,
        callbacks: Iterable[Callback] | None = None,
        resume: str | None = None,
        start_epoch: int = 0,
    ) -> None:
        """Train with the one-cycle policy (see :mod:`emberfit.core.schedule`).

        ``resume='name'`` loads a checkpoint written by ``SaveModelCallback(every='epoch', name=...)``
        and continues after its epoch with the schedule where it stopped (the same ``cyc_len`` as that run).
        """
        self._check_epochs(cyc_len)
        cbs = as_callbacks(callbacks, "fit_one_cycle(callbacks=...)")
        lrs = self.lr_range(max_lr)
        start_epoch = self._prepare(lrs, wd, resume, start_epoch, cyc_len, "fit_one_cycle")
        sched = OneCycleScheduler(lrs, moms, div_factor, pct_start, final_div, start_epoch=start_epoch)
        self._fit(cyc_len, [sched, *cbs], start_epoch)

    def lr_find(self, start_lr=1e-7, end_lr=10, num_it: int = 100, stop_div: bool = True, wd=None) -> None:
        """Try LRs from ``start_lr`` to ``end_lr``; then see ``learn.recorder.plot()``. Weights are restored."""
        if num_it <= 1:
            raise ValueError(f"num_it must be > 1, got {num_it}")
        start, end = self.lr_range(start_lr), self.lr_range(end_lr)
        self.fit_method = "lr_find"
        self._had_opt = self.opt is not None
        if self.opt is None:
            self.create_opt(start, wd)
        epochs = math.ceil(num_it / len(self.data.train_dl))
        self._fit(epochs, [LRFinder(start, end, num_it, stop_div)], 0)
        if not self.silent:
            print("LR Finder is complete, type learn.recorder.plot() to see the graph.")

    def _check_epochs(self, epochs) -> None:
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs <= 0:
            raise ValueError(f"the number of epochs must be a positive int, got {epochs!r}")

    def _prepare(self, lrs, wd, resume, start_epoch, epochs: int = 1, method: str = "fit") -> int:
        self.fit_method = method  # SaveModelCallback records it, so a resume can check the schedule
        if resume is not None:  # refuse a resume that cannot continue before anything is loaded
            meta = peek_meta(self._ckpt_path(resume))
            if meta is not None:
                resume_epoch(str(resume), meta, epochs, method)
        if self.opt is None:
            self.create_opt(lrs, wd)
        else:
            self.set_hypers(lr=lrs, wd=self._wd_range(wd) if wd is not None else None)
        if resume is not None:
            meta = self._load_state(resume, with_opt=True)
            start_epoch = resume_epoch(str(resume), meta, epochs, method)
        return start_epoch

    def _fit(
        self, epochs: int, extra: list[Callback], start_epoch: int = 0, progress: bool | None = None
    ) -> None:
        extra = [*callbacks_from_fns(self.callback_fns, self), *extra]  # v1's callback_fns, made afresh
        # Each fit gets a fresh Recorder (as in fastai): learn.recorder describes the last fit.
        self.callbacks = [c for c in self.callbacks if not isinstance(c, Recorder)]
        self.add_cb(Recorder())
        cbs = list(self.callbacks)
        show = (not self.silent) if progress is None else progress
        if show and is_main() and not any(isinstance(c, ProgressBar) for c in cbs + extra):
            cbs.append(ProgressBar())
        for cb in extra:
            cb.learn = self
        for cb in cbs:
            cb.learn = self
        # event -> the bound methods to call, in order; v1-style callbacks get their events through an adapter
        self._handlers = event_handlers(with_v1_adapter(cbs + extra, self))
        if self.data.train_dl is None or len(self.data.train_dl) == 0:
            raise ValueError(
                "the training loader has no batches (empty training set, or bs larger than it with drop_last)"
            )
        self.n_epoch, self.stop_reason = epochs, None
        try:
            self("before_fit")
            for self.epoch in range(start_epoch, epochs):
                self._train_epoch()
                self._validate_epoch()
                self("after_epoch")
        except CancelFitException:
            pass
        finally:
            self("after_fit")

    def _train_epoch(self) -> None:
        self.model.train()
        self.training, self.training_dl = True, self.data.train_dl
        reset_model(self.model)  # RNNs start each epoch with a fresh hidden state
        self("before_epoch")
        opt, scaler = self.opt, self.grad_scaler
        amp = autocast_context(self.autocast)
        for i, (xb, yb) in enumerate(self.training_dl):
            self.iter, self.xb, self.yb = i, xb, yb
            self("before_batch")
            with amp():
                self.pred = self.model(*self.xb) if isinstance(self.xb, tuple) else self.model(self.xb)
                self("after_pred")
                self.loss = self.loss_func(self.pred, self.yb)
            self("after_loss")
            if scaler is None:
                self.loss.backward()
            else:
                scaler.scale(self.loss).backward()
            self("after_backward")
            if scaler is None:
                opt.step()
            else:
                scaler.step(opt)
                scaler.update()
            opt.zero_grad(set_to_none=True)
            self("after_batch")

    def _validate_epoch(self) -> None:
        self.training = False
        self("before_validate")
        if self.skip_validate or self.data.valid_dl is None:
            self.valid_loss, self.metric_values = None, [None] * len(self.metrics)
        else:
            self.valid_loss, self.metric_values = self._evaluate(self.data.valid_dl, events=True)
        self("after_validate")

    def _evaluate(self, dl, events: bool = False) -> tuple[float, list[float]]:
        self.model.eval()
        reset_model(self.model)
        for m in self.metrics:
            m.reset()
        total, count = 0.0, 0
        amp = autocast_context(self.autocast)
        with torch.no_grad():
            for i, (xb, yb) in enumerate(dl):
                self.iter, self.xb, self.yb = i, xb, yb
                if events:
                    self("before_batch")
                with amp():
                    self.pred = self.model(*self.xb) if isinstance(self.xb, tuple) else self.model(self.xb)
                    if events:
                        self("after_pred")
                    self.loss = self.loss_func(self.pred, self.yb)
                if events:
                    self("after_loss")
                n = batch_size(self.xb, self.yb)
                total += float(self.loss) * n
                count += n
                for m in self.metrics:
                    m.accumulate(pred_tensor(self.pred), self.yb)  # tuple outputs: the prediction
                if events:
                    self("after_batch")
        self.model.train()
        if world_size() > 1:  # each rank saw its shard: add up losses and metric states
            total, count = all_sum([total, count])
            for m in self.metrics:
                merge_states(m, all_gather_objects({k: getattr(m, k) for k in m.state_keys}))
        if count == 0:
            raise ValueError("the validation loader produced no batches; it has no rows")
        return total / count, [m.value for m in self.metrics]

    def validate(self, dl=None, ds_type: DatasetType = DatasetType.Valid) -> list[float]:
        """``[valid_loss, *metrics]`` on a loader (default: the validation set)."""
        dl = dl if dl is not None else self.data.dl(ds_type)
        loss, mets = self._evaluate(dl)
        return [loss, *mets]

    # -- inference (the work is in inference.py) ------------------------------------------------
    def get_preds(
        self,
        ds_type: DatasetType = DatasetType.Valid,
        activ: Callable | None = None,
        with_loss: bool = False,
        n_batch: int | None = None,
        pbar=None,
        ordered: bool = True,
        dl=None,
    ) -> list[torch.Tensor]:
        """``[preds, targets]`` (plus per-item losses with ``with_loss=True``) for a split, as in fastai v1.

        ``ordered=True`` puts rows back in dataset order where the loader sorts them (text
        classifiers read longest first); ``n_batch`` stops after that many batches. See
        :func:`emberfit.core.inference.get_preds`.
        """
        return inference.get_preds(self, ds_type, activ, with_loss, n_batch, pbar, ordered, dl)

    def summary(self) -> str:
        """A table of the model's layers, output shapes and parameters (see :mod:`emberfit.core.summary`)."""
        return model_summary(self)

    def pred_batch(self, xb) -> torch.Tensor:
        """Activated predictions for one input batch."""
        return inference.pred_batch(self, xb)

    def predict(self, item: Any) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """``(decoded prediction, class index or value, raw probabilities)`` for one raw item."""
        return inference.predict_item(self, item)

    @classmethod
    def _for_inference(cls, data: DataBunch, model: nn.Module) -> Learner:
        """A ``cls`` set up by the base constructor alone, for ``load_learner``.

        Subclasses' constructors take other arguments; what they add comes back through
        :meth:`restore_extra` instead.
        """
        learn = cls.__new__(cls)
        Learner.__init__(learn, data, model, loss_func=data.loss_func, silent=True)
        return learn

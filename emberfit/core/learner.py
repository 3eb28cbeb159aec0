"""The Learner: a model, its data, a loss, an optimizer, and one readable ``fit`` loop.

>>> import torch
>>> from emberfit.core.data import DataBunch
>>> x = torch.randn(256, 4); y = x @ torch.tensor([1., -2., 3., .5])
>>> data = DataBunch.from_tensors(x[:200], y[:200], x[200:], y[200:], bs=32, device='cpu')
>>> learn = Learner(data, torch.nn.Linear(4, 1), loss_func=torch.nn.functional.mse_loss, silent=True)
>>> learn.fit_one_cycle(2, 1e-2)
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import random
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .callback import Callback, CancelFitException, ProgressBar, Recorder, as_callback, as_callbacks
from .callbacks import LRFinder, MixedPrecision, OneCycleScheduler
from .data import DataBunch, DatasetType, to_device
from .distributed import DistributedTrainer, all_gather_objects, all_sum, is_main, unwrap, world_size
from .io import flatten_state, load_tensors, save_tensors, unflatten_state
from .metrics import Metric, as_metric, merge_states
from .registry import build, lookup, register, registered_name
from .resume import peek_meta, resume_epoch
from .schedule import even_mults

__all__ = ["Learner", "load_learner", "set_seed", "cpu_has_fast_bf16", "AdamW", "default_lr", "default_wd"]

default_lr = slice(3e-3)
default_wd = 1e-2


def AdamW(params, lr: float = 1e-3, **kwargs) -> torch.optim.AdamW:
    """fastai's default optimizer: Adam with betas (0.9, 0.99) and decoupled weight decay.

    Uses torch's fused kernel (one kernel for all tensors) where every parameter is a float
    on the CPU or a GPU: at small batch sizes the optimizer step is much of the work.

    >>> type(AdamW([torch.nn.Parameter(torch.ones(2))], lr=1e-3)).__name__
    'AdamW'
    """
    kwargs.setdefault("betas", (0.9, 0.99))
    if "fused" not in kwargs and "foreach" not in kwargs:
        groups = (
            params
            if isinstance(params, list) and params and isinstance(params[0], dict)
            else [{"params": params}]
        )
        ps = [p for g in groups for p in g["params"]]
        kwargs["fused"] = bool(ps) and all(
            p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in ps
        )
    return torch.optim.AdamW(params, lr=lr, **kwargs)


_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AMX or AVX-512 BF16): then ``to_bf16()`` trains faster on it.

    Measured on a 2-vCPU Sapphire Rapids VM: AWD-LSTM language-model training 1.7x (small) to 2.7x
    (full size) faster in bf16 autocast; without those instructions bf16 is emulated and slower than fp32.

    >>> isinstance(cpu_has_fast_bf16(), bool)
    True
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so that two runs are identical.

    >>> set_seed(42); a = torch.rand(1); set_seed(42); bool(a == torch.rand(1))
    True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@register("learner", "core.Learner")
class Learner:
    """Trains ``model`` on ``data``; see the module docstring for an example.

    ``layer_groups`` (or :meth:`split`) divides the model for discriminative learning rates
    and freezing. Weight decay is decoupled (``true_wd``) and, unless ``bn_wd``, not applied
    to BatchNorm/LayerNorm weights and biases.
    """

    def __init__(
        self,
        data: DataBunch,
        model: nn.Module,
        loss_func: Callable | None = None,
        metrics: Iterable | Callable | None = None,
        opt_func: Callable | None = None,
        wd: float | Sequence[float] = default_wd,
        true_wd: bool = True,
        bn_wd: bool = True,
        train_bn: bool = True,
        path: str | Path | None = None,
        model_dir: str | Path = "models",
        callbacks: Iterable[Callback] | None = None,
        layer_groups: Sequence | None = None,
        silent: bool = False,
    ):
        if not isinstance(data, DataBunch):
            raise TypeError(f"data must be a DataBunch, got {type(data).__name__}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.data, self.model = data, model.to(data.device)
        self.loss_func = loss_func if loss_func is not None else data.loss_func
        if self.loss_func is None:
            raise ValueError("no loss_func given and the data do not imply one; pass loss_func=...")
        if metrics is None:
            metrics = []
        elif callable(metrics) or isinstance(metrics, Metric):
            metrics = [metrics]
        # each learner gets its own metric objects (they accumulate state)
        self.metrics: list[Metric] = [copy.deepcopy(as_metric(m)) for m in metrics]
        self.true_wd, self.bn_wd, self.train_bn = true_wd, bn_wd, train_bn
        self.opt_func = opt_func or (AdamW if true_wd else partial(torch.optim.Adam, betas=(0.9, 0.99)))
        self.wd = wd
        self.path = Path(path) if path is not None else Path(data.path)
        self.model_dir = Path(model_dir)
        self.silent = silent
        self.opt: torch.optim.Optimizer | None = None
        self.layer_groups: list[list[nn.Module]] = []
        self.split(layer_groups) if layer_groups is not None else self.split(None)
        self.callbacks: list[Callback] = []
        self.recorder = Recorder()
        self.add_cb(self.recorder)
        for cb in as_callbacks(callbacks, "Learner(callbacks=...)"):
            self.add_cb(cb)
        self.autocast: tuple[str, torch.dtype] | None = None
        self.grad_scaler = None
        self.skip_validate = False
        self.model_init: dict | None = None  # {'cls': 'emberfit...:Class', 'kwargs': {...}} for export
        self.training_dl = None

    # -- callbacks ------------------------------------------------------------------------
    def add_cb(self, cb: Callback | type[Callback]) -> Learner:
        """Attach a callback for every later ``fit`` (an instance, or a class that needs no arguments)."""
        cb = as_callback(cb, "add_cb")
        cb.learn = self
        self.callbacks.append(cb)
        if cb.name:
            setattr(self, cb.name, cb)
        return self

    def remove_cb(self, cb: Callback) -> Learner:
        self.callbacks.remove(cb)
        return self

    def __call__(self, event: str) -> None:
        for f in self._handlers[event]:
            f()

    def _build_handlers(self, cbs: list[Callback]) -> None:
        from .callback import EVENTS

        self._handlers = {e: [] for e in EVENTS}
        for cb in sorted(cbs, key=lambda c: c.order):
            for e, f in cb.handlers().items():
                self._handlers[e].append(f)

    # -- layer groups, freezing, optimizer -------------------------------------------------
    def split(self, split_on: Callable | Sequence | None) -> Learner:
        """Set the layer groups: a function ``model -> groups``, a list of groups, or None (one group)."""
        if split_on is None:
            groups = [[self.model]]
        elif callable(split_on) and not isinstance(split_on, nn.Module):
            groups = split_on(self.model)
        else:
            groups = split_on
        groups = [list(g) if isinstance(g, (list, tuple, nn.ModuleList)) else [g] for g in groups]
        if not groups:
            raise ValueError("split produced no layer groups")
        self.layer_groups = groups
        self.opt = None  # param groups follow the layer groups
        return self

    def _group_params(self, group: list[nn.Module]) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        decay, no_decay, seen = [], [], set()
        for mod in group:
            for m in mod.modules():
                for name, p in m.named_parameters(recurse=False):
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                    nd = isinstance(m, _BN_TYPES) or name.endswith("bias")
                    (no_decay if (nd and not self.bn_wd) else decay).append(p)
        return decay, no_decay

    def create_opt(self, lr=None, wd=None) -> torch.optim.Optimizer:
        """Build the optimizer: two param groups per layer group (with and without weight decay)."""
        lrs = self.lr_range(default_lr if lr is None else lr)
        wds = self._wd_range(self.wd if wd is None else wd)
        groups, seen = [], set()
        for i, g in enumerate(self.layer_groups):
            for j, params in enumerate(self._group_params(g)):
                params = [p for p in params if id(p) not in seen]  # a tied weight belongs to its first group
                seen.update(id(p) for p in params)
                if params:
                    groups.append(
                        {
                            "params": params,
                            "lr": lrs[i],
                            "weight_decay": wds[i] if j == 0 else 0.0,
                            "layer_group": i,
                            "decays": j == 0,
                        }
                    )
        if not groups:
            raise ValueError("the model has no parameters to optimise")
        self.opt = self.opt_func(groups, lr=float(lrs[-1]))
        return self.opt

    @property
    def _opt_existed(self) -> bool:
        return getattr(self, "_had_opt", False)

    def lr_range(self, lr) -> np.ndarray:
        """One LR per layer group from a float, ``slice(hi)`` or ``slice(lo, hi)``."""
        n = len(self.layer_groups)
        if isinstance(lr, slice):
            if lr.stop is None or (lr.start is not None and lr.start <= 0) or lr.stop <= 0:
                raise ValueError(f"lr slice must have positive bounds, got {lr}; e.g. slice(1e-4, 1e-2)")
            if lr.start is not None:
                return even_mults(lr.start, lr.stop, n)
            return np.array([lr.stop / 10] * (n - 1) + [lr.stop], dtype=float)
        if isinstance(lr, (list, tuple, np.ndarray)):
            arr = np.asarray(lr, dtype=float)
            if len(arr) != n:
                raise ValueError(f"got {len(arr)} learning rates for {n} layer groups")
        elif isinstance(lr, numbers.Real):
            arr = np.full(n, float(lr))
        else:
            raise TypeError(
                f"lr must be a float, a slice or a list of floats, got {lr!r} ({type(lr).__name__})"
            )
        if not (arr > 0).all() or not np.isfinite(arr).all():
            raise ValueError(f"learning rates must be positive and finite, got lr={lr}; try lr=1e-3")
        return arr

    def _wd_range(self, wd) -> np.ndarray:
        n = len(self.layer_groups)
        arr = np.asarray(wd, dtype=float)
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        if len(arr) != n or (arr < 0).any():
            raise ValueError(f"wd must be a non-negative float or one per layer group ({n}), got {wd}")
        return arr

    def set_hypers(self, lr=None, mom=None, wd=None) -> None:
        """Set LR / momentum / weight decay per layer group (scalars or one value per group)."""
        for g in self.opt.param_groups:
            i = g.get("layer_group", 0)
            if lr is not None:
                g["lr"] = float(lr[i]) if np.ndim(lr) else float(lr)
            if mom is not None:
                m = float(mom[i]) if np.ndim(mom) else float(mom)
                if "betas" in g:
                    g["betas"] = (m, g["betas"][1])
                elif "momentum" in g:
                    g["momentum"] = m
            if wd is not None and g.get("decays", True):
                g["weight_decay"] = float(wd[i]) if np.ndim(wd) else float(wd)

    def freeze_to(self, n: int) -> None:
        """Freeze layer groups ``[:n]`` (BatchNorm stays trainable when ``train_bn``); train ``[n:]``."""
        if not isinstance(n, int):
            raise TypeError(f"freeze_to needs an int group index, got {n!r}")
        n_groups = len(self.layer_groups)
        if not -n_groups <= n <= n_groups:
            raise ValueError(f"freeze_to({n}): the model has {n_groups} layer groups")
        cut = n % n_groups if n < 0 else n
        for i, g in enumerate(self.layer_groups):
            for mod in g:
                for m in mod.modules():
                    keep_bn = self.train_bn and isinstance(m, _BN_TYPES)
                    for p in m.parameters(recurse=False):
                        p.requires_grad_(i >= cut or keep_bn)

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
        lr=default_lr,
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
        max_lr=default_lr,
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
        self._fit(epochs, [LRFinder(start, end, num_it, stop_div)], 0, progress=False)
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
            meta = self.load(resume, with_opt=True)
            start_epoch = resume_epoch(str(resume), meta, epochs, method)
        return start_epoch

    def _fit(
        self, epochs: int, extra: list[Callback], start_epoch: int = 0, progress: bool | None = None
    ) -> None:
        # Each fit gets a fresh Recorder (as in fastai): learn.recorder describes the last fit.
        self.callbacks = [c for c in self.callbacks if not isinstance(c, Recorder)]
        self.add_cb(Recorder())
        cbs = list(self.callbacks)
        show = (not self.silent) if progress is None else progress
        if show and is_main() and not any(isinstance(c, ProgressBar) for c in cbs):
            cbs.append(ProgressBar())
        for cb in extra:
            cb.learn = self
        for cb in cbs:
            cb.learn = self
        self._build_handlers(cbs + extra)
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
        if hasattr(unwrap(self.model), "reset"):
            unwrap(self.model).reset()  # RNNs start each epoch with a fresh hidden state
        self("before_epoch")
        opt, scaler = self.opt, self.grad_scaler
        amp = self._amp_context()
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

    def _amp_context(self):
        if self.autocast is None:
            return contextlib.nullcontext
        device_type, dtype = self.autocast
        return partial(torch.autocast, device_type=device_type, dtype=dtype)

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
        if hasattr(unwrap(self.model), "reset"):
            unwrap(self.model).reset()
        for m in self.metrics:
            m.reset()
        total, count = 0.0, 0
        amp = self._amp_context()
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
                n = _batch_size(self.yb, self.xb)
                total += float(self.loss) * n
                count += n
                for m in self.metrics:
                    m.accumulate(self._pred_tensor(self.pred), self.yb)  # tuple outputs: the prediction
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

    # -- inference --------------------------------------------------------------------------
    def _activation(self):
        ll = self.data.label_lists
        if ll is not None and hasattr(ll.train.y, "activation"):
            return ll.train.y.activation
        if self.loss_func in (torch.nn.functional.cross_entropy,) or isinstance(
            self.loss_func, nn.CrossEntropyLoss
        ):
            return partial(torch.softmax, dim=-1)
        return lambda x: x

    def get_preds(
        self,
        ds_type: DatasetType = DatasetType.Valid,
        activ: Callable | None = None,
        with_loss: bool = False,
        dl=None,
    ) -> list[torch.Tensor]:
        """Predictions and targets for a split, in dataset order (loaders that sort are undone).

        Returns ``[preds, targets]`` (plus per-item losses with ``with_loss=True``).
        """
        if dl is None:
            dl = self.data.dl(ds_type)
        activ = activ or self._activation()
        self.model.eval()
        if hasattr(unwrap(self.model), "reset"):
            unwrap(self.model).reset()
        preds, targs, losses = [], [], []
        with torch.no_grad(), self._amp_context()():
            for xb, yb in dl:
                out = self.model(*xb) if isinstance(xb, tuple) else self.model(xb)
                out = self._pred_tensor(out)
                if with_loss:
                    losses.append(_item_losses(self.loss_func, out.float(), yb))
                preds.append(activ(out.float()).cpu())
                targs.append(yb.cpu() if yb is not None else torch.zeros(out.shape[0]))
        self.model.train()
        res = [torch.cat(preds), torch.cat(targs)]
        if with_loss:
            res.append(torch.cat(losses).cpu())
        order = getattr(dl, "order", None)
        if order is not None:
            inv = torch.empty_like(torch.as_tensor(order))
            inv[torch.as_tensor(order)] = torch.arange(len(order))
            res = [r[inv] for r in res]
        return res

    @staticmethod
    def _pred_tensor(out):
        """Models that return extra outputs (RNN encoders) put the prediction first."""
        return out[0] if isinstance(out, tuple) else out

    def pred_batch(self, xb) -> torch.Tensor:
        """Activated predictions for one input batch."""
        self.model.eval()
        with torch.no_grad():
            xb = to_device(xb, self.data.device)
            out = self._pred_tensor(self.model(*xb) if isinstance(xb, tuple) else self.model(xb))
        self.model.train()
        return self._activation()(out.float()).cpu()

    def predict(self, item: Any) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """``(decoded prediction, class index or value, raw probabilities)`` for one raw item."""
        ll = self.data.label_lists
        if ll is None:
            raise ValueError(
                "predict needs data built with the data block API (it decodes with the labels' classes)"
            )
        xb = ll.train.x.item_to_batch(item, ll)
        if hasattr(unwrap(self.model), "reset"):
            unwrap(self.model).reset()
        probs = self.pred_batch(xb)[0]
        return ll.train.y.decode_pred(probs)

    # -- persistence ------------------------------------------------------------------------
    def _ckpt_path(self, name: str | Path) -> Path:
        name = Path(name)
        if name.suffix not in (".safetensors",):
            name = name.with_name(name.name + ".safetensors")
        return name if name.is_absolute() else self.path / self.model_dir / name

    def save(self, name: str | Path, with_opt: bool = True, **extra) -> Path:
        """Save weights (and optimizer state, RNG) to ``path/model_dir/name.safetensors``, atomically."""
        f = self._ckpt_path(name)
        if not is_main():  # under DDP only rank 0 writes
            return f
        tensors = {f"model.{k}": v for k, v in unwrap(self.model).state_dict().items()}
        meta: dict[str, Any] = {"format": "emberfit-checkpoint", "version": 1, **extra}
        if with_opt and self.opt is not None:
            meta["opt"] = flatten_state(self.opt.state_dict(), "opt", tensors)
        tensors["rng.torch"] = torch.get_rng_state()
        return save_tensors(f, tensors, meta)

    def load(self, name: str | Path, with_opt: bool | None = None, strict: bool = True) -> dict:
        """Load a checkpoint written by :meth:`save`; returns its metadata."""
        f = self._ckpt_path(name)
        tensors, meta = load_tensors(f, what="checkpoint")
        if meta.get("format") != "emberfit-checkpoint":
            raise ValueError(f"{f} is not an emberfit checkpoint (written by learn.save)")
        sd = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        opt_state = None
        if (with_opt is None or with_opt) and "opt" in meta:
            try:  # read the optimizer part before changing anything, so a bad file changes nothing
                opt_state = unflatten_state(meta["opt"], tensors)
            except (KeyError, TypeError, AttributeError, ValueError) as e:
                raise ValueError(
                    f"checkpoint {f}: its optimizer state is damaged ({type(e).__name__}: {e})"
                ) from None
        try:
            unwrap(self.model).load_state_dict(sd, strict=strict)
        except RuntimeError as e:
            raise ValueError(f"checkpoint {f} does not fit this model: {e}") from None
        if opt_state is not None:
            if self.opt is None:
                self.create_opt()
            try:
                self.opt.load_state_dict(opt_state)
            except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
                raise ValueError(
                    f"checkpoint {f}: its optimizer state does not fit this learner ({type(e).__name__}: {e}); "
                    "load the weights alone with learn.load(name, with_opt=False)"
                ) from None
        if "rng.torch" in tensors and meta.get("epoch") is not None:
            torch.set_rng_state(tensors["rng.torch"])
        return meta

    def export(self, fname: str | Path = "export.safetensors") -> Path:
        """Write everything needed for inference (weights, model spec, processors, classes) to one file.

        The file is safetensors with a JSON header: no pickle, nothing executable.
        Rebuild with :func:`load_learner`.
        """
        if self.model_init is None:
            raise ValueError(
                "this learner's model was not built by an emberfit factory, so export cannot rebuild it; "
                "use learn.save() and rebuild the model yourself, or load_learner(..., model=...)"
            )
        if self.data.label_lists is None:
            raise ValueError("export needs data built with the data block API (the processors are saved)")
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        data_tensors, data_meta = self.data.label_lists.export_state()
        tensors.update({f"data.{k}": v for k, v in data_tensors.items()})
        meta = {
            "format": "emberfit-export",
            "version": 1,
            "learner_cls": registered_name(self),
            "model_init": self.model_init,
            "data": data_meta,
            # tensors in export_extra() go to the safetensors body, the rest stays JSON
            "learner_state": flatten_state(self.export_extra(), "extra", tensors),
        }
        f = Path(fname)
        if f.suffix == ".pkl":  # the lesson's default name; the content is still safetensors
            f = f.with_suffix(".safetensors")
        return save_tensors(f if f.is_absolute() else self.path / f, tensors, meta)

    def export_extra(self) -> dict:
        """Learner state an application wants back after ``load_learner`` (JSON-able values and tensors)."""
        return {}

    def restore_extra(self, state: dict) -> None:
        pass


def load_learner(
    path: str | Path,
    fname: str | Path = "export.safetensors",
    test=None,
    model: nn.Module | None = None,
    device=None,
) -> Learner:
    """Rebuild a Learner for inference from :meth:`Learner.export` (CPU by default).

    >>> # learn = load_learner(path); learn.predict(row)
    """
    path = Path(path)
    f = Path(fname)
    if f.suffix == ".pkl":
        f = f.with_suffix(".safetensors")
    f = f if f.is_absolute() else path / f
    tensors, meta = load_tensors(f, what="exported learner")
    if not isinstance(meta, dict) or meta.get("format") != "emberfit-export":
        raise ValueError(f"{f} is not an emberfit export (write one with learn.export())")
    device = torch.device(device) if device is not None else torch.device("cpu")
    try:
        learn = _rebuild_learner(meta, tensors, path, device, model)
    except ValueError as e:
        raise ValueError(f"{f}: {e}") from None
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError, OverflowError) as e:
        # A damaged or tampered header: say so instead of failing deep inside a constructor.
        raise ValueError(
            f"{f}: the export's header is damaged or from an incompatible emberfit version "
            f"({type(e).__name__}: {e}); re-export it with learn.export() (nothing was loaded)"
        ) from None
    if test is not None:
        lls = learn.data.label_lists
        lls.add_test(test)
        learn.data.test_dl = lls.train.x.make_loaders(lls, bs=64, val_bs=64, device=device)[2]
    return learn


def _rebuild_learner(meta: dict, tensors: dict, path: Path, device, model: nn.Module | None) -> Learner:
    """The Learner an export's header describes; every class it names comes from the registry."""
    from .data_block import LabelLists

    learner_cls = lookup(meta.get("learner_cls"), "learner", "learner_cls")
    data_tensors = {k[5:]: v for k, v in tensors.items() if k.startswith("data.")}
    lls = LabelLists.from_export_state(data_tensors, meta["data"], path)
    data = lls.bunch_class()(None, None, device=device, path=path, label_lists=lls, allow_empty=True)
    init = meta.get("model_init")
    if model is None:
        if not isinstance(init, dict):
            raise ValueError(f"model_init must be a JSON object, got {type(init).__name__}")
        model = build(init.get("cls"), "model", init.get("kwargs"), "model_init")
        if not isinstance(model, nn.Module):
            raise ValueError(f"model_init {init.get('cls')!r} did not build a torch module")
    sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise ValueError(f"weights do not fit the rebuilt model: {e}") from None
    learn = learner_cls.__new__(learner_cls)
    Learner.__init__(learn, data, model, loss_func=lls.train.y.loss_func, silent=True)
    learn.model_init = init
    learn.restore_extra(unflatten_state(meta.get("learner_state", {}), tensors))
    learn.model.eval()
    return learn


def _batch_size(yb, xb) -> int:
    if isinstance(yb, torch.Tensor) and yb.ndim:
        return yb.shape[0]
    x = xb[0] if isinstance(xb, tuple) else xb
    return x.shape[0]


def _item_losses(loss_func, out, yb) -> torch.Tensor:
    try:
        losses = loss_func(out, yb, reduction="none")
    except TypeError:
        losses = torch.stack([loss_func(o[None], y[None]) for o, y in zip(out, yb)])
    return losses.view(out.shape[0], -1).mean(1)

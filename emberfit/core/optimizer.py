"""The optimizer side of training: AdamW, layer groups, one LR and weight decay per group, freezing.

A model is divided into *layer groups* (a list of lists of modules) for discriminative
learning rates and gradual unfreezing. Each layer group becomes two optimizer parameter
groups: the weights that decay and those that do not (biases and normalisation layers,
unless ``bn_wd``). The Learner keeps the groups and calls these functions.

>>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 1))
>>> groups = split_groups(model, lambda m: [[m[0], m[1]], [m[2]]])
>>> lr_range(slice(1e-4, 1e-2), len(groups)).tolist()
[0.0001, 0.01]
>>> [(g["layer_group"], g["decays"], len(g["params"])) for g in param_groups(groups, [1e-3] * 2, [0.1] * 2, bn_wd=False)]
[(0, True, 1), (0, False, 3), (1, True, 1), (1, False, 1)]
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .schedule import even_mults

__all__ = [
    "AdamW",
    "default_lr",
    "default_wd",
    "split_groups",
    "decay_split",
    "param_groups",
    "lr_range",
    "wd_range",
    "set_hypers",
    "freeze_to",
]

default_lr = slice(3e-3)
default_wd = 1e-2

# Normalisation layers: no weight decay on them unless bn_wd, and trainable when frozen if train_bn.
NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)


def AdamW(params, lr: float = 1e-3, **kwargs) -> torch.optim.AdamW:
    """fastai's default optimizer: Adam with betas (0.9, 0.99) and decoupled weight decay.

    Uses torch's fused kernel (one kernel for all tensors) where every parameter is a float
    on the CPU or a GPU: at small batch sizes the optimizer step is much of the work.

    >>> opt = AdamW(torch.nn.Linear(3, 1).parameters(), lr=1e-3)  # a generator works, like torch's
    >>> type(opt).__name__, opt.defaults["betas"], len(opt.param_groups[0]["params"])
    ('AdamW', (0.9, 0.99), 2)
    """
    kwargs.setdefault("betas", (0.9, 0.99))
    # A generator (model.parameters()) would be used up by the device check below.
    params = list(params)
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


def split_groups(model: nn.Module, split_on: Callable | Sequence | None) -> list[list[nn.Module]]:
    """Layer groups from a function ``model -> groups``, a list of groups, or None (the whole model)."""
    if split_on is None:
        groups = [[model]]
    elif callable(split_on) and not isinstance(split_on, nn.Module):
        groups = split_on(model)
    else:
        groups = split_on
    groups = [list(g) if isinstance(g, (list, tuple, nn.ModuleList)) else [g] for g in groups]
    if not groups:
        raise ValueError("split produced no layer groups")
    return groups


def decay_split(group: list[nn.Module], bn_wd: bool) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """The parameters of a layer group as ``(decay, no_decay)``: biases and norm layers decay only if ``bn_wd``."""
    decay, no_decay, seen = [], [], set()
    for mod in group:
        for m in mod.modules():
            for name, p in m.named_parameters(recurse=False):
                if id(p) in seen:
                    continue
                seen.add(id(p))
                nd = isinstance(m, NORM_TYPES) or name.endswith("bias")
                (no_decay if (nd and not bn_wd) else decay).append(p)
    return decay, no_decay


def param_groups(
    layer_groups: list[list[nn.Module]],
    lrs: Sequence[float],
    wds: Sequence[float],
    bn_wd: bool = True,
    group_params: Callable | None = None,
) -> list[dict]:
    """The optimizer's parameter groups: two per layer group (with and without weight decay).

    ``group_params(group) -> (decay, no_decay)`` may replace :func:`decay_split` (a learner
    that knows more about its model, e.g. which embeddings hold biases).
    """
    group_params = group_params or (lambda g: decay_split(g, bn_wd))
    groups, seen = [], set()
    for i, g in enumerate(layer_groups):
        for j, params in enumerate(group_params(g)):
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
    return groups


def lr_range(lr, n: int) -> np.ndarray:
    """One LR per layer group (``n`` groups) from a float, ``slice(hi)``, ``slice(lo, hi)`` or a list."""
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
        raise TypeError(f"lr must be a float, a slice or a list of floats, got {lr!r} ({type(lr).__name__})")
    if not (arr > 0).all() or not np.isfinite(arr).all():
        raise ValueError(f"learning rates must be positive and finite, got lr={lr}; try lr=1e-3")
    return arr


def wd_range(wd, n: int) -> np.ndarray:
    """One weight decay per layer group (``n`` groups) from a float or a list."""
    arr = np.asarray(wd, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if len(arr) != n or (arr < 0).any():
        raise ValueError(f"wd must be a non-negative float or one per layer group ({n}), got {wd}")
    return arr


def set_hypers(opt: torch.optim.Optimizer, lr=None, mom=None, wd=None) -> None:
    """Set LR / momentum / weight decay of ``opt`` per layer group (scalars or one value per group)."""
    for g in opt.param_groups:
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


def freeze_to(layer_groups: list[list[nn.Module]], n: int, train_bn: bool = True) -> None:
    """Freeze layer groups ``[:n]`` (norm layers stay trainable when ``train_bn``); train ``[n:]``."""
    if not isinstance(n, int):
        raise TypeError(f"freeze_to needs an int group index, got {n!r}")
    n_groups = len(layer_groups)
    if not -n_groups <= n <= n_groups:
        raise ValueError(f"freeze_to({n}): the model has {n_groups} layer groups")
    cut = n % n_groups if n < 0 else n
    for i, g in enumerate(layer_groups):
        for mod in g:
            for m in mod.modules():
                keep_bn = train_bn and isinstance(m, NORM_TYPES)
                for p in m.parameters(recurse=False):
                    p.requires_grad_(i >= cut or keep_bn)

"""``learn.summary()``: a table of the model's layers, as fastai v1 showed it.

One row per layer that holds parameters or has no sub-modules (v1's "flattened" model), in the
order the model defines them: the layer's type, its output shape for one batch of the data (batch
dimension left out, as v1 did), its own parameter count and whether those are trained. Then the
totals, the optimizer, the weight decay, the loss function and the callbacks.

The result is a ``str`` (v1's ``PrettyString``) whose ``repr`` is the table itself, so in Jupyter
``learn.summary()`` shows the table once and ``print(learn.summary())`` prints it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .inference import reset_model

__all__ = ["PrettyString", "model_summary", "layers_info"]


class PrettyString(str):
    """A ``str`` shown as itself (no quotes, real line breaks) when it is a cell's result.

    >>> PrettyString("a\\nb")
    a
    b
    """

    def __repr__(self) -> str:
        return str(self)


def _first_shape(out: Any) -> list[int] | None:
    """The shape, without the batch dimension, of the first tensor in a module's output."""
    if isinstance(out, torch.Tensor):
        return list(out.shape[1:])
    if isinstance(out, (tuple, list)):
        for o in out:
            s = _first_shape(o)
            if s is not None:
                return s
    return None


def _summary_batch(learn: Any, rows: int) -> Any:
    dl = learn.data.valid_dl if learn.data.valid_dl is not None else learn.data.train_dl
    if dl is None:
        raise ValueError("summary() runs one batch through the model, but the data have no loader")
    xb, _ = next(iter(dl))
    return tuple(x[:rows] for x in xb) if isinstance(xb, tuple) else xb[:rows]


class _ParamUse(TorchFunctionMode):
    """Records, per layer, the output of the first torch call given one of its parameters.

    Models may use a layer's weight without calling the layer (``F.embedding(x, emb.weight)`` is
    faster than ``emb(x)``); forward hooks never see that, this does.
    """

    def __init__(self, owners: dict[int, int]):
        super().__init__()
        self.owners, self.shapes = owners, {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        flat = [b for a in (*args, *kwargs.values()) for b in (a if isinstance(a, (list, tuple)) else [a])]
        for a in flat:  # torch.lstm(x, hx, [weights...], ...) passes its parameters in a list
            i = self.owners.get(id(a))
            if i is not None and i not in self.shapes:
                self.shapes[i] = _first_shape(out)
        return out


def _layers(model: nn.Module) -> list[nn.Module]:
    """v1's flattened model: modules without children, and modules that hold parameters themselves."""
    return [m for m in model.modules() if not list(m.children()) or list(m.parameters(recurse=False))]


def layers_info(learn: Any, rows: int = 2) -> list[tuple[str, list[int] | None, int, bool]]:
    """``(type, output shape, parameters, trainable)`` per layer, from one forward pass of ``rows`` rows.

    The model runs in eval mode without gradients (no BatchNorm statistics or RNN state change);
    layers the forward pass does not reach have no shape (None).
    """
    model = learn.model
    layers = _layers(model)
    shapes: dict[int, list[int] | None] = {}
    owners: dict[int, int] = {}
    for i, m in enumerate(layers):
        for p in m.parameters(recurse=False):
            owners.setdefault(id(p), i)

    def hook(i, _module, _inp, out):
        shapes.setdefault(i, _first_shape(out))  # the first call (an RNN reads a document in chunks)

    handles = [m.register_forward_hook(partial(hook, i)) for i, m in enumerate(layers)]
    was_training = model.training
    try:
        xb = _summary_batch(learn, rows)
        model.eval()
        reset_model(model)
        with torch.no_grad(), _ParamUse(owners) as used:
            model(*xb) if isinstance(xb, tuple) else model(xb)
    finally:
        for h in handles:
            h.remove()
        reset_model(model)
        model.train(was_training)
    info = []
    for i, m in enumerate(layers):
        params = list(m.parameters(recurse=not list(m.children())))
        n = sum(p.numel() for p in params)
        shape = shapes[i] if i in shapes else used.shapes.get(i)
        info.append((type(m).__name__, shape, n, any(p.requires_grad for p in params)))
    return info


def _callable_name(f: Any) -> str:
    if isinstance(f, partial):
        kw = ", ".join(f"{k}={v!r}" for k, v in f.keywords.items())
        return f"{_callable_name(f.func)}" + (f", {kw}" if kw else "")
    mod, name = getattr(f, "__module__", None), getattr(f, "__qualname__", None)
    if name is None:
        return type(f).__name__
    return f"'{mod}.{name}'" if mod else f"'{name}'"


def model_summary(learn: Any, n: int = 70) -> PrettyString:
    """The summary table of ``learn`` (``learn.summary()``), ``n`` characters wide.

    >>> from emberfit.core import DataBunch, Learner
    >>> data = DataBunch.from_tensors(torch.randn(8, 3), torch.randn(8), bs=4, device='cpu')
    >>> model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))
    >>> learn = Learner(data, model, loss_func=nn.functional.mse_loss, silent=True)
    >>> print(model_summary(learn).splitlines()[4])
    Linear               [5]                  20         True
    """
    info = layers_info(learn)
    rule = "=" * n + "\n"
    out = [f"{type(learn.model).__name__}\n", rule]
    out.append(f"{'Layer (type)':<20} {'Output Shape':<20} {'Param #':<10} {'Trainable':<10}\n")
    out.append(rule)
    for layer, shape, n_params, trainable in info:
        if shape is None:  # not reached by the forward pass (v1 left these out too)
            continue
        out.append(f"{layer:<20} {str(shape):<20} {n_params:<10,} {str(trainable):<10}".rstrip() + "\n")
        out.append("_" * n + "\n")
    params = list(learn.model.parameters())  # each shared (tied) weight once
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    out.append(f"\nTotal params: {total:,}\n")
    out.append(f"Total trainable params: {trainable:,}\n")
    out.append(f"Total non-trainable params: {total - trainable:,}\n")
    out.append(f"Optimized with {_callable_name(learn.opt_func)}\n")
    if learn.true_wd:
        out.append(
            "Using true weight decay as discussed in https://www.fast.ai/2018/07/02/adam-weight-decay/\n"
        )
    loss = learn.loss_func
    loss_name = (
        type(loss).__name__ if isinstance(loss, nn.Module) else getattr(loss, "__name__", type(loss).__name__)
    )
    out.append(f"Loss function : {loss_name}\n")
    out.append(rule)
    cbs = [type(c).__name__ for c in learn.callbacks]
    cbs += [getattr(f, "func", f).__name__ for f in getattr(learn, "callback_fns", [])]
    out.append("Callbacks functions applied \n" + "\n".join(f"    {c}" for c in cbs))
    return PrettyString("".join(out))

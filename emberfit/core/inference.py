"""Predictions of a trained Learner: a whole split in dataset order, one batch, one raw item.

The Learner's ``get_preds``, ``pred_batch`` and ``predict`` call these. Raw model outputs become
predictions through the labels' activation (softmax for classes, sigmoid for multi-label,
identity for regression), and single items are encoded and decoded by the data-block lists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from .callbacks.precision import autocast_context
from .data import DatasetType, to_device
from .distributed import unwrap

__all__ = [
    "activation",
    "get_preds",
    "pred_batch",
    "predict_item",
    "pred_tensor",
    "reset_model",
    "item_losses",
]


def pred_tensor(out: Any) -> torch.Tensor:
    """The prediction in a model's output: models with extra outputs (RNN encoders) put it first."""
    return out[0] if isinstance(out, tuple) else out


def activation(learn: Any) -> Callable:
    """What turns ``learn``'s raw outputs into predictions: the labels' own, else softmax for cross-entropy."""
    lls = learn.data.label_lists
    act = lls.activation() if lls is not None else None
    if act is not None:
        return act
    if learn.loss_func in (torch.nn.functional.cross_entropy,) or isinstance(
        learn.loss_func, nn.CrossEntropyLoss
    ):
        return partial(torch.softmax, dim=-1)
    return lambda x: x


def reset_model(model: nn.Module) -> None:
    """Reset a stateful model (an RNN's hidden state) before it sees a new sequence of batches."""
    if hasattr(unwrap(model), "reset"):
        unwrap(model).reset()  # RNNs start from a fresh hidden state


def get_preds(
    learn: Any,
    ds_type: DatasetType = DatasetType.Valid,
    activ: Callable | None = None,
    with_loss: bool = False,
    n_batch: int | None = None,
    pbar: Any = None,
    ordered: bool = True,
    dl=None,
) -> list[torch.Tensor]:
    """``[preds, targets]`` (plus per-item losses with ``with_loss``) of ``learn`` for a split, as fastai v1's.

    ``activ`` turns raw outputs into predictions (default: the labels' own, softmax for
    cross-entropy). ``n_batch`` stops after that many batches. Loaders that do not read the data
    in order (text classifiers read the longest documents first) say so with ``dl.order``;
    ``ordered=True`` puts the rows back in dataset order (with ``n_batch``: the rows read, sorted by
    their dataset index), ``ordered=False`` keeps the loader's order, as v1's base Learner did.
    ``pbar`` (v1's parent progress bar) is accepted for v1 code; no bar is shown here. ``dl``
    reads another loader instead of the split's. The model's train/eval mode is restored after.
    """
    if n_batch is not None and (not isinstance(n_batch, int) or isinstance(n_batch, bool) or n_batch < 1):
        raise ValueError(f"n_batch must be None or a positive int (the batches to read), got {n_batch!r}")
    if dl is None:
        dl = learn.data.dl(ds_type)
    activ = activ or activation(learn)
    model, was_training = learn.model, learn.model.training
    model.eval()
    reset_model(model)
    preds, targs, losses = [], [], []
    with torch.no_grad(), autocast_context(learn.autocast)():
        for i, (xb, yb) in enumerate(dl):
            if n_batch is not None and i >= n_batch:
                break
            out = pred_tensor(model(*xb) if isinstance(xb, tuple) else model(xb))
            if with_loss:
                losses.append(item_losses(learn.loss_func, out.float(), yb))
            preds.append(activ(out.float()).cpu())
            targs.append(yb.cpu() if yb is not None else torch.zeros(out.shape[0]))
    model.train(was_training)
    res = [torch.cat(preds), torch.cat(targs)]
    if with_loss:
        res.append(torch.cat(losses).cpu())
    order = getattr(dl, "order", None)
    if ordered and order is not None:
        seen = torch.as_tensor(order)[: len(res[0])].cpu()  # the dataset index of each row read
        back = torch.argsort(seen)
        res = [r[back] for r in res]
    return res


def pred_batch(learn: Any, xb) -> torch.Tensor:
    """Activated predictions of ``learn`` for one input batch (on the CPU)."""
    model = learn.model
    model.eval()
    with torch.no_grad():
        xb = to_device(xb, learn.data.device)
        out = pred_tensor(model(*xb) if isinstance(xb, tuple) else model(xb))
    model.train()
    return activation(learn)(out.float()).cpu()


def predict_item(learn: Any, item: Any) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """``(decoded prediction, class index or value, raw probabilities)`` of ``learn`` for one raw item."""
    lls = learn.data.label_lists
    if lls is None:
        raise ValueError(
            "predict needs data built with the data block API (it decodes with the labels' classes)"
        )
    xb = lls.item_batch(item)
    reset_model(learn.model)
    probs = learn.pred_batch(xb)[0]
    return lls.decode_pred(probs)


def item_losses(loss_func: Callable, out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """One loss per item: with ``reduction='none'`` where the loss takes it, else item by item."""
    try:
        losses = loss_func(out, yb, reduction="none")
    except TypeError:
        losses = torch.stack([loss_func(o[None], y[None]) for o, y in zip(out, yb)])
    return losses.view(out.shape[0], -1).mean(1)

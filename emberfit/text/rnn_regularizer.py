"""AR and TAR, the AWD-LSTM's activation regularisers (Merity et al. 2017), as a callback.

The text learners add it; it reads the encoder's outputs from the model's prediction tuple and
the last layer's dropped output and the classifier's padding mask through forward hooks.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.callbacks.base import Callback
from ..core.distributed import unwrap
from .models.heads import LinearDecoder, MultiBatchEncoder

__all__ = ["RNNRegularizer"]


class RNNRegularizer(Callback):
    """Activation regularisation (AR) and temporal activation regularisation (TAR), Merity et al. 2017.

    While training, adds ``alpha * mean(h_dropped**2)`` (the last layer's output after dropout)
    and ``beta * mean((h_t - h_{t-1})**2)`` (its raw output, consecutive steps) to the loss.
    Padding positions of classifier batches are left out of both means. The reported
    ``train_loss`` is the loss without these terms (as in fastai), so it compares with
    ``valid_loss``; the gradient includes them.

    >>> reg = RNNRegularizer(alpha=2.0, beta=1.0)  # the text learners add one with their alpha, beta
    >>> reg.alpha, reg.beta, reg.name
    (2.0, 1.0, 'rnn_regularizer')
    """

    order = -15  # before the Recorder, which reads learn.loss after backward
    name = "rnn_regularizer"

    def __init__(self, alpha: float = 2.0, beta: float = 1.0):
        for n, v in (("alpha", alpha), ("beta", beta)):
            if not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"{n} must be a non-negative number, got {v!r}")
        self.alpha, self.beta = float(alpha), float(beta)
        self._hooks: list = []
        self._dropped = self._pad = None
        self._plain_loss = None

    def before_fit(self):
        self._remove_hooks()
        model = unwrap(self.learn.model)
        head, first = model[-1], model[0]
        if isinstance(head, LinearDecoder):  # the LM: AR on the decoder's dropped input
            self._hooks.append(head.output_dp.register_forward_hook(self._keep_dropped))
        if isinstance(first, MultiBatchEncoder):  # the classifier: its pad mask
            self._hooks.append(first.register_forward_hook(self._keep_pad))

    def _keep_dropped(self, module, inp, out):
        self._dropped = out

    def _keep_pad(self, module, inp, out):
        self._pad = out[2]

    def after_loss(self):
        learn = self.learn
        if not learn.training or not isinstance(learn.pred, tuple) or (self.alpha == 0 and self.beta == 0):
            return
        _, raw_outputs, outputs = learn.pred[:3]
        raw = raw_outputs[-1].float()  # (bs, seq, n)
        dropped = self._dropped if self._dropped is not None else outputs[-1]
        dropped = dropped.float()
        real = None if self._pad is None or self._pad.shape != raw.shape[:2] else ~self._pad
        reg = raw.new_zeros(())
        if self.alpha:
            sq = dropped.pow(2).mean(-1)  # (bs, seq)
            reg = reg + self.alpha * (sq.mean() if real is None else _masked_mean(sq, real))
        if self.beta and raw.shape[1] > 1:
            diff = (raw[:, 1:] - raw[:, :-1]).pow(2).mean(-1)  # (bs, seq - 1)
            pairs = None if real is None else real[:, 1:] & real[:, :-1]
            reg = reg + self.beta * (diff.mean() if pairs is None else _masked_mean(diff, pairs))
        self._plain_loss = learn.loss.detach()
        learn.loss = learn.loss + reg

    def after_backward(self):
        # Report the loss without the penalty, unless the total went non-finite: then the
        # Recorder must see it to stop before the bad step.
        if self._plain_loss is not None and torch.isfinite(self.learn.loss.detach()):
            self.learn.loss = self._plain_loss
        self._plain_loss = None

    def after_batch(self):
        self._dropped = self._pad = None

    def after_fit(self):
        self._remove_hooks()
        self._dropped = self._pad = None

    def _remove_hooks(self):
        for h in self._hooks:
            h.remove()
        self._hooks = []


def _masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` over the positions where ``mask`` is True (0 when there are none)."""
    return (x * mask).sum() / mask.sum().clamp(min=1)

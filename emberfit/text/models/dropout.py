"""The AWD-LSTM's dropouts (Merity, Keskar & Socher, 2017, arXiv:1708.02182), as plain modules.

* ``RNNDropout``: variational dropout, one mask per sequence shared by every time step;
* ``EmbeddingDropout``: whole vocabulary rows dropped from the embedding matrix;
* ``WeightDropout``: DropConnect on an LSTM's hidden-to-hidden matrix, run through the stock kernel.

``EmbeddingDropout`` and ``WeightDropout`` hold the module they wrap, which is why fast.ai's
checkpoints (and ours) carry the embedding and each hidden matrix under two keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RNNDropout", "EmbeddingDropout", "WeightDropout"]


def _keep_mask(like: Tensor, shape: Sequence[int], p: float) -> Tensor:
    """Bernoulli(1-p) mask of ``shape``, scaled by 1/(1-p) so expectations are unchanged."""
    return like.new_empty(shape).bernoulli_(1 - p).div_(1 - p)


class RNNDropout(nn.Module):
    """Variational dropout: one mask per sequence, broadcast over the time axis.

    >>> dp = RNNDropout(0.5).train()
    >>> y = dp(torch.ones(2, 5, 3))  # (bs, seq, feat)
    >>> bool((y[:, :1] == y).all())  # the same units are dropped at every step
    True
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:  # (bs, seq, feat)
        if not self.training or self.p == 0.0:
            return x
        return x * _keep_mask(x, (x.size(0), 1, x.size(2)), self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class EmbeddingDropout(nn.Module):
    """Drop whole rows of an embedding's weight (a dropped word is zero everywhere), rescaled.

    It holds the embedding it wraps as ``emb``: that is why fast.ai checkpoints carry the
    embedding twice (``encoder.weight`` and ``encoder_dp.emb.weight``).

    >>> emb = nn.Embedding(10, 4)
    >>> EmbeddingDropout(emb, 0.5).eval()(torch.tensor([[1, 2]])).shape  # (bs, seq) -> (bs, seq, emb_sz)
    torch.Size([1, 2, 4])
    """

    def __init__(self, emb: nn.Embedding, embed_p: float):
        super().__init__()
        self.emb, self.embed_p = emb, embed_p

    def forward(self, words: Tensor) -> Tensor:
        weight = self.emb.weight
        if self.training and self.embed_p != 0.0:
            weight = weight * _keep_mask(weight, (weight.size(0), 1), self.embed_p)  # (V, emb_sz)
        return F.embedding(words, weight, self.emb.padding_idx)


class WeightDropout(nn.Module):
    """DropConnect on the hidden-to-hidden matrix of a single-layer ``nn.LSTM``.

    The undropped matrix is the parameter ``weight_hh_l0_raw``, registered a second time as
    the LSTM's own ``weight_hh_l0`` (one tensor, two state-dict keys, as in fast.ai's files).
    Each call drops entries of the raw matrix and runs the native LSTM kernel (cuDNN on GPU)
    with the dropped copy, so the kernel is the stock one and the LSTM itself is untouched.

    >>> wd = WeightDropout(nn.LSTM(4, 6, batch_first=True), weight_p=0.5)
    >>> out, (h, c) = wd(torch.randn(2, 3, 4))  # (bs, seq, n_in) -> (bs, seq, n_out)
    >>> out.shape, h.shape
    (torch.Size([2, 3, 6]), torch.Size([1, 2, 6]))
    """

    def __init__(self, module: nn.LSTM, weight_p: float):
        super().__init__()
        if not isinstance(module, nn.LSTM) or module.num_layers != 1 or module.bidirectional:
            raise TypeError(f"WeightDropout wraps a single-layer unidirectional nn.LSTM, got {module!r}")
        if not module.batch_first or module.proj_size or not module.bias:
            raise ValueError(
                "WeightDropout needs nn.LSTM(..., batch_first=True, bias=True) without proj_size"
            )
        self.module, self.weight_p = module, weight_p
        self.weight_hh_l0_raw = module.weight_hh_l0  # the same Parameter under the published key
        self.register_load_state_dict_pre_hook(_raw_weight_wins)

    def forward(
        self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        lstm = self.module
        if hx is None:
            zeros = x.new_zeros(1, x.size(0), lstm.hidden_size)
            hx = (zeros, zeros)
        w_hh = F.dropout(self.weight_hh_l0_raw, self.weight_p, self.training)  # (4*n_out, n_out)
        weights = [lstm.weight_ih_l0, w_hh, lstm.bias_ih_l0, lstm.bias_hh_l0]
        if x.is_cuda:
            weights = _one_buffer(weights)
        # torch.lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
        out, h, c = torch.lstm(x, hx, weights, True, 1, 0.0, self.training, False, True)
        return out, (h, c)  # (bs, seq, n_out), (1, bs, n_out) x 2

    def extra_repr(self) -> str:
        return f"weight_p={self.weight_p}"


def _one_buffer(weights: list[Tensor]) -> list[Tensor]:
    # cuDNN wants all weights as views of one buffer laid out w_ih, w_hh, b_ih, b_hh; given separate
    # tensors it copies them itself and warns on every call. One differentiable cat does the same copy.
    flat = torch.cat([w.reshape(-1) for w in weights])
    return [v.view_as(w) for v, w in zip(flat.split([w.numel() for w in weights]), weights)]


def _raw_weight_wins(module, state_dict, prefix, *args):
    # Both keys load into one tensor. A file saved mid-training may hold a dropped copy under
    # module.weight_hh_l0, so the raw weight is what we keep; either key alone is enough.
    raw, dropped = prefix + "weight_hh_l0_raw", prefix + "module.weight_hh_l0"
    if raw in state_dict:
        state_dict[dropped] = state_dict[raw]
    elif dropped in state_dict:
        state_dict[raw] = state_dict[dropped]

"""The heads ULMFiT puts on the AWD-LSTM encoder: the tied language-model decoder and the pooling classifier.

The classifier (ULMFiT's "BPT3C") runs a document through the encoder ``bptt`` tokens at a
time carrying the hidden state (``MultiBatchEncoder``), keeps the last ``max_len`` positions,
and pools them (last / max / mean over real tokens) into a small BatchNorm-Dropout-Linear head
(``PoolingLinearClassifier``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from emberfit.core.layers import bn_drop_lin
from emberfit.text.models.awd_lstm import AWD_LSTM
from emberfit.text.models.dropout import RNNDropout

__all__ = [
    "LinearDecoder",
    "SequentialRNN",
    "MultiBatchEncoder",
    "masked_concat_pool",
    "PoolingLinearClassifier",
]


class LinearDecoder(nn.Module):
    """Output dropout then a linear map from the last layer to vocabulary logits, tied to the embedding.

    >>> enc = AWD_LSTM(50, emb_sz=8, n_hid=16)
    >>> dec = LinearDecoder(50, 8, output_p=0.1, tie_encoder=enc.encoder)
    >>> dec(enc(torch.randint(0, 50, (2, 7))))[0].shape  # (bs, seq, vocab)
    torch.Size([2, 7, 50])
    """

    def __init__(
        self, n_out: int, n_hid: int, output_p: float, tie_encoder: nn.Embedding | None = None, bias=True
    ):
        super().__init__()
        self.decoder = nn.Linear(n_hid, n_out, bias=bias)
        with torch.no_grad():
            self.decoder.weight.uniform_(-0.1, 0.1)
            if bias:
                self.decoder.bias.zero_()
        if tie_encoder is not None:
            self.decoder.weight = tie_encoder.weight  # one matrix for input and output words
        self.output_dp = RNNDropout(output_p)

    def forward(self, inp: tuple[list[Tensor], list[Tensor]]) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        raw_outputs, outputs = inp
        decoded = self.decoder(self.output_dp(outputs[-1]))  # (bs, seq, emb_sz) -> (bs, seq, vocab)
        return decoded, raw_outputs, outputs


class SequentialRNN(nn.Sequential):
    """``nn.Sequential`` whose ``reset()`` reaches every child that has one (the encoder)."""

    def reset(self) -> None:
        for child in self.children():
            if hasattr(child, "reset"):
                child.reset()


class MultiBatchEncoder(nn.Module):
    """Run padded documents ``(bs, seq)`` through an encoder ``bptt`` tokens at a time (BPT3C).

    Rows may be padded at the start (fast.ai's layout) or the end. Each row is first shifted so
    that its padding before the text is a whole number of ``bptt`` chunks, and the hidden state
    of a row is zeroed after a chunk that is all padding: a document's result does not depend on
    how much padding it came with. Only chunks starting in the last ``max_len`` positions keep
    their outputs (and gradients); earlier ones run under ``no_grad``, which changes nothing
    since the encoder detaches its state between chunks anyway.

    Returns ``(raw_outputs, outputs, pad_mask)``: per layer ``(bs, kept, n_out)``, and
    ``pad_mask`` ``(bs, kept)``, True at padding.

    >>> mbe = MultiBatchEncoder(bptt=4, max_len=8, encoder=AWD_LSTM(50, 8, 16), pad_idx=1)
    >>> raw, out, mask = mbe(torch.randint(2, 50, (3, 10)))
    >>> out[-1].shape, mask.shape  # chunks start at 0, 4, 8; those starting in the last 8 are kept
    (torch.Size([3, 6, 8]), torch.Size([3, 6]))
    """

    def __init__(self, bptt: int, max_len: int, encoder: AWD_LSTM, pad_idx: int = 1):
        super().__init__()
        if bptt < 1 or max_len < bptt:
            raise ValueError(f"need 1 <= bptt <= max_len, got bptt={bptt}, max_len={max_len}")
        self.bptt, self.max_len, self.module, self.pad_idx = bptt, max_len, encoder, pad_idx

    def _align(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Shift each row's tokens so the padding before them is a multiple of bptt; return (x, pad)."""
        bs, sl = x.shape
        pos = torch.arange(sl, device=x.device)  # (sl,)
        real = x != self.pad_idx
        has_real = real.any(1)
        first = torch.where(has_real, real.int().argmax(1), sl)  # (bs,) first real position
        last = sl - 1 - real.flip(1).int().argmax(1)  # (bs,) last real position
        length = torch.where(has_real, last - first + 1, 0)
        start = (sl - length) // self.bptt * self.bptt  # new first position
        keep = (pos >= start[:, None]) & (pos < (start + length)[:, None])  # (bs, sl)
        src = (pos - start[:, None] + first[:, None]).clamp(0, sl - 1)
        return torch.where(keep, x.gather(1, src), self.pad_idx), ~keep

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[Tensor], Tensor]:  # x: (bs, seq)
        bs, sl = x.shape
        self.module.reset()
        x, pad = self._align(x)
        raws, outs, masks = [], [], []
        for i in range(0, sl, self.bptt):
            kept = sl - i <= self.max_len
            with torch.set_grad_enabled(kept and torch.is_grad_enabled()):
                raw, out = self.module(x[:, i : i + self.bptt])
            self.module.zero_hidden_rows(pad[:, i : i + self.bptt].all(1))  # still before the text
            if kept:
                raws.append(raw)
                outs.append(out)
                masks.append(pad[:, i : i + self.bptt])
        raw_outputs = [torch.cat(layer, dim=1) for layer in zip(*raws)]  # per layer (bs, kept, n_out)
        outputs = [torch.cat(layer, dim=1) for layer in zip(*outs)]
        return raw_outputs, outputs, torch.cat(masks, dim=1)

    def reset(self) -> None:
        self.module.reset()


def masked_concat_pool(output: Tensor, pad_mask: Tensor) -> Tensor:
    """Concatenate [last real position, max, mean] over the non-pad positions: (bs, seq, n) -> (bs, 3n).

    >>> out = torch.tensor([[[9.0], [1.0], [3.0]]])  # (bs=1, seq=3, n=1); position 0 is padding
    >>> masked_concat_pool(out, torch.tensor([[True, False, False]]))
    tensor([[3., 3., 2.]])
    """
    real = (~pad_mask).unsqueeze(-1)  # (bs, seq, 1)
    n_real = real.sum(1).clamp(min=1)  # (bs, 1); an all-pad row pools to zeros
    last_idx = pad_mask.size(1) - 1 - real.squeeze(-1).int().flip(1).argmax(1)  # (bs,)
    last = output[torch.arange(output.size(0), device=output.device), last_idx] * real.any(1)
    max_pool = output.masked_fill(~real, float("-inf")).max(1).values.masked_fill(~real.any(1), 0.0)
    mean_pool = output.masked_fill(~real, 0.0).sum(1) / n_real
    return torch.cat([last, max_pool, mean_pool], dim=1)


class PoolingLinearClassifier(nn.Module):
    """Concat-pool the encoder's last layer, then ``bn_drop_lin`` blocks (ReLU between, none at the end).

    ``dims=[emb_sz*3, *lin_ftrs, n_out]`` and one dropout per block in ``ps``. Returns
    ``(logits, raw_outputs, outputs)`` so AR/TAR can use the encoder outputs.

    >>> head = PoolingLinearClassifier([24, 50, 2], [0.4, 0.1])
    >>> outs = [torch.randn(3, 5, 8)]
    >>> head(([], outs, torch.zeros(3, 5, dtype=torch.bool)))[0].shape
    torch.Size([3, 2])
    """

    def __init__(self, dims: Sequence[int], ps: Sequence[float]):
        super().__init__()
        dims, ps = list(dims), list(ps)
        if len(ps) != len(dims) - 1:
            raise ValueError(
                f"ps needs one dropout per linear layer: dims={dims} needs {len(dims) - 1}, got ps={ps}"
            )
        layers: list[nn.Module] = []
        for i, (n_in, n_out, p) in enumerate(zip(dims[:-1], dims[1:], ps)):
            last = i == len(ps) - 1
            layers += bn_drop_lin(n_in, n_out, p=p, actn=None if last else nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(
        self, inp: tuple[list[Tensor], list[Tensor], Tensor]
    ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        raw_outputs, outputs, pad_mask = inp
        x = masked_concat_pool(outputs[-1], pad_mask)  # (bs, 3*emb_sz)
        return self.layers(x), raw_outputs, outputs  # (bs, n_out)

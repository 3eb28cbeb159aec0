"""AWD-LSTM (Merity, Keskar & Socher, 2017, arXiv:1708.02182) and the ULMFiT heads built on it.

The encoder is an embedding and three single-layer LSTMs regularised five ways: whole
vocabulary rows dropped from the embedding (``EmbeddingDropout``), variational dropout on
the embedded input and between layers (``RNNDropout``: one mask per sequence, the same at
every time step), DropConnect on each hidden-to-hidden matrix (``WeightDropout``), and
dropout on the last layer's output before the tied decoder (``LinearDecoder``).

The module tree reproduces fast.ai's, so ``state_dict()`` keys are exactly those of the
published WikiText-103 checkpoint (``0.encoder.weight``, ``0.encoder_dp.emb.weight``,
``0.rnns.0.weight_hh_l0_raw``, ``0.rnns.0.module.weight_hh_l0``, ..., ``1.decoder.bias``)
and the published file loads with ``strict=True`` without renaming. The
duplicated keys are the same tensors here, not copies.

The classifier (ULMFiT's "BPT3C") runs a document through the encoder ``bptt`` tokens at a
time carrying the hidden state, keeps the last ``max_len`` positions, and pools them
(last / max / mean over real tokens) into a small BatchNorm-Dropout-Linear head.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emberfit.core.layers import bn_drop_lin

__all__ = [
    "AWDLSTMConfig",
    "awd_lstm_lm_config",
    "awd_lstm_clas_config",
    "awd_lstm_small_lm_config",
    "awd_lstm_small_clas_config",
    "EmbeddingDropout",
    "RNNDropout",
    "WeightDropout",
    "AWD_LSTM",
    "LinearDecoder",
    "SequentialRNN",
    "MultiBatchEncoder",
    "PoolingLinearClassifier",
    "masked_concat_pool",
    "get_language_model",
    "get_text_classifier",
    "awd_lstm_lm_split",
    "awd_lstm_clas_split",
]

Hidden = list[tuple[Tensor, Tensor]]  # per layer (h, c), each (1, bs, n_out_of_layer)


@dataclass(frozen=True)
class AWDLSTMConfig:
    """Sizes and (unscaled) dropout probabilities of an AWD-LSTM; ``drop_mult`` scales the ``*_p``.

    >>> awd_lstm_lm_config.with_drop_mult(0.5).weight_p
    0.1
    """

    emb_sz: int = 400
    n_hid: int = 1152
    n_layers: int = 3
    pad_token: int = 1
    output_p: float = 0.1
    hidden_p: float = 0.15
    input_p: float = 0.25
    embed_p: float = 0.02
    weight_p: float = 0.2
    tie_weights: bool = True
    out_bias: bool = True

    def __post_init__(self):
        for name in ("emb_sz", "n_hid", "n_layers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive int, got {getattr(self, name)!r}")
        for name in ("output_p", "hidden_p", "input_p", "embed_p", "weight_p"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")

    def with_drop_mult(self, drop_mult: float) -> AWDLSTMConfig:
        """A copy with every dropout probability multiplied by ``drop_mult``."""
        ps = ("output_p", "hidden_p", "input_p", "embed_p", "weight_p")
        if not (0.0 <= drop_mult and drop_mult * max(getattr(self, p) for p in ps) < 1.0):
            raise ValueError(
                f"drop_mult={drop_mult!r} gives a dropout outside [0, 1); pass a smaller non-negative value"
            )
        return dataclasses.replace(self, **{p: getattr(self, p) * drop_mult for p in ps})

    @classmethod
    def from_any(cls, config: AWDLSTMConfig | dict | None, default: AWDLSTMConfig) -> AWDLSTMConfig:
        """Accept a config, a fastai-style dict (``qrnn``/``bidir`` must be False) or None."""
        if config is None:
            return default
        if isinstance(config, cls):
            return config
        if not isinstance(config, dict):
            raise TypeError(f"config must be an AWDLSTMConfig or a dict, got {type(config).__name__}")
        cfg = dict(config)
        for flag in ("qrnn", "bidir"):
            if cfg.pop(flag, False):
                raise ValueError(
                    f"config has {flag}=True, which emberfit does not implement; set it to False"
                )
        unknown = set(cfg) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise KeyError(
                f"config has unknown keys {sorted(unknown)}; valid: {[f.name for f in dataclasses.fields(cls)]}"
            )
        return dataclasses.replace(default, **cfg)


# The original values (fastai 1.0.53+ / v2). The classifier preset's output_p is the head's first dropout.
awd_lstm_lm_config = AWDLSTMConfig()
awd_lstm_clas_config = AWDLSTMConfig(output_p=0.4, hidden_p=0.3, input_p=0.4, embed_p=0.05, weight_p=0.5)
# A CPU preset: emb 200, hidden 600, still 3 layers (so layer groups, freezing and discriminative rates
# are unchanged): ~3.5x fewer FLOPs per token than the original with a 7k vocabulary. Same dropouts.
awd_lstm_small_lm_config = dataclasses.replace(awd_lstm_lm_config, emb_sz=200, n_hid=600)
awd_lstm_small_clas_config = dataclasses.replace(awd_lstm_clas_config, emb_sz=200, n_hid=600)


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


class AWD_LSTM(nn.Module):
    """The AWD-LSTM encoder: tokens ``(bs, seq)`` -> per-layer outputs before and after dropout.

    The hidden state is carried from one call to the next (detached, i.e. truncated BPTT);
    ``reset()`` zeroes it, and a call with a different batch size starts from zeros.

    >>> enc = AWD_LSTM(vocab_sz=50, emb_sz=8, n_hid=16, n_layers=3)
    >>> raw_outputs, outputs = enc(torch.randint(0, 50, (2, 7)))
    >>> [o.shape[-1] for o in outputs]  # 400 -> 1152 -> 1152 -> 400 at full size
    [16, 16, 8]
    """

    def __init__(
        self,
        vocab_sz: int,
        emb_sz: int = 400,
        n_hid: int = 1152,
        n_layers: int = 3,
        pad_token: int = 1,
        hidden_p: float = 0.2,
        input_p: float = 0.6,
        embed_p: float = 0.1,
        weight_p: float = 0.5,
    ):
        super().__init__()
        if not 0 <= pad_token < vocab_sz:
            raise ValueError(f"pad_token must index the vocabulary (0..{vocab_sz - 1}), got {pad_token}")
        self.vocab_sz, self.emb_sz, self.n_hid, self.n_layers = vocab_sz, emb_sz, n_hid, n_layers
        self.pad_token = pad_token
        self.encoder = nn.Embedding(vocab_sz, emb_sz, padding_idx=pad_token)
        with torch.no_grad():
            self.encoder.weight.uniform_(-0.1, 0.1)
            self.encoder.weight[pad_token].zero_()
        self.encoder_dp = EmbeddingDropout(self.encoder, embed_p)
        # The last layer outputs emb_sz so the decoder can share the embedding matrix.
        sizes = [emb_sz] + [n_hid] * (n_layers - 1) + [emb_sz]
        self.rnns = nn.ModuleList(
            WeightDropout(nn.LSTM(sizes[i], sizes[i + 1], batch_first=True), weight_p)
            for i in range(n_layers)
        )
        self.input_dp = RNNDropout(input_p)
        self.hidden_dps = nn.ModuleList(RNNDropout(hidden_p) for _ in range(n_layers))
        self.hidden: Hidden | None = None

    @classmethod
    def from_config(cls, vocab_sz: int, config: AWDLSTMConfig) -> AWD_LSTM:
        """Build from an ``AWDLSTMConfig`` (dropouts already scaled)."""
        c = config
        return cls(
            vocab_sz, c.emb_sz, c.n_hid, c.n_layers, c.pad_token, c.hidden_p, c.input_p, c.embed_p, c.weight_p
        )

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:  # x: (bs, seq) token ids
        if x.dim() != 2:
            raise ValueError(f"AWD_LSTM expects token ids of shape (bs, seq), got shape {tuple(x.shape)}")
        if self.hidden is None or self.hidden[0][0].size(1) != x.size(0):
            self.hidden = None  # a new batch size means new sequences: start from zeros
        out = self.input_dp(self.encoder_dp(x))  # (bs, seq, emb_sz)
        raw_outputs, outputs, new_hidden = [], [], []
        for i, (rnn, hid_dp) in enumerate(zip(self.rnns, self.hidden_dps)):
            # the carried state follows the input's dtype and device (autocast, .to(device))
            hx = None if self.hidden is None else tuple(t.to(out) for t in self.hidden[i])
            raw, h = rnn(out, hx)  # (bs, seq, n_out_i)
            new_hidden.append(h)
            raw_outputs.append(raw)
            # fast.ai applies no hidden dropout after the last layer (the decoder has its own)
            out = hid_dp(raw) if i != self.n_layers - 1 else raw
            outputs.append(out)
        self.hidden = [(h.detach(), c.detach()) for h, c in new_hidden]  # truncated BPTT
        return raw_outputs, outputs

    def reset(self) -> None:
        """Forget the hidden state (start of an epoch, a new document, a new batch size)."""
        self.hidden = None

    def select_hidden(self, idxs: Tensor) -> None:
        """Keep only the hidden state of batch rows ``idxs`` (beam search reorders its beams)."""
        if self.hidden is not None:
            self.hidden = [(h[:, idxs], c[:, idxs]) for h, c in self.hidden]

    def zero_hidden_rows(self, rows: Tensor) -> None:
        """Zero the hidden state of the batch rows where the bool mask ``rows`` (bs,) is True."""
        if self.hidden is not None:
            keep = (~rows).to(self.hidden[0][0].dtype)[None, :, None]  # (1, bs, 1)
            self.hidden = [(h * keep, c * keep) for h, c in self.hidden]


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


def get_language_model(
    config: AWDLSTMConfig | dict | None, vocab_sz: int, drop_mult: float = 1.0
) -> SequentialRNN:
    """AWD-LSTM encoder + tied ``LinearDecoder`` (``SequentialRNN``), dropouts scaled by ``drop_mult``.

    >>> lm = get_language_model(awd_lstm_small_lm_config, vocab_sz=100, drop_mult=0.3)
    >>> lm(torch.randint(0, 100, (2, 5)))[0].shape  # (bs, seq, vocab)
    torch.Size([2, 5, 100])
    """
    cfg = AWDLSTMConfig.from_any(config, awd_lstm_lm_config).with_drop_mult(drop_mult)
    encoder = AWD_LSTM.from_config(vocab_sz, cfg)
    tied = encoder.encoder if cfg.tie_weights else None
    return SequentialRNN(encoder, LinearDecoder(vocab_sz, cfg.emb_sz, cfg.output_p, tied, cfg.out_bias))


def get_text_classifier(
    config: AWDLSTMConfig | dict | None,
    vocab_sz: int,
    n_class: int,
    bptt: int = 70,
    max_len: int = 70 * 20,
    lin_ftrs: Sequence[int] | None = (50,),
    ps: Sequence[float] | None = (0.1,),
    drop_mult: float = 1.0,
) -> SequentialRNN:
    """``MultiBatchEncoder(AWD_LSTM)`` + ``PoolingLinearClassifier``; the head's first dropout is ``output_p``.

    >>> clas = get_text_classifier(awd_lstm_small_clas_config, vocab_sz=100, n_class=2, drop_mult=0.5).eval()
    >>> clas(torch.randint(2, 100, (3, 9)))[0].shape  # (bs, n_class)
    torch.Size([3, 2])
    """
    cfg = AWDLSTMConfig.from_any(config, awd_lstm_clas_config).with_drop_mult(drop_mult)
    lin_ftrs = [50] if lin_ftrs is None else list(lin_ftrs)
    ps = [0.1] * len(lin_ftrs) if ps is None else list(ps)
    if len(ps) != len(lin_ftrs):
        raise ValueError(f"ps must give one dropout per entry of lin_ftrs={lin_ftrs}, got ps={ps}")
    encoder = MultiBatchEncoder(bptt, max_len, AWD_LSTM.from_config(vocab_sz, cfg), pad_idx=cfg.pad_token)
    head = PoolingLinearClassifier([cfg.emb_sz * 3, *lin_ftrs, n_class], [cfg.output_p, *ps])
    return SequentialRNN(encoder, head)


def awd_lstm_lm_split(model: SequentialRNN) -> list[list[nn.Module]]:
    """Layer groups of the language model: ``[rnn0, dp0], [rnn1, dp1], [rnn2, dp2], [embedding, decoder]``.

    The embedding sits with the tied decoder, so freezing all but the last group trains both.
    A tied weight appears under two modules of the last group: collect parameters per group
    with ``nn.ModuleList(group).parameters()``, which counts it once.

    >>> len(awd_lstm_lm_split(get_language_model(awd_lstm_small_lm_config, 100)))
    4
    """
    enc, dec = model[0], model[1]
    groups = [[rnn, dp] for rnn, dp in zip(enc.rnns, enc.hidden_dps)]
    return groups + [[enc.encoder, enc.encoder_dp, dec]]


def awd_lstm_clas_split(model: SequentialRNN) -> list[list[nn.Module]]:
    """Layer groups of the classifier: ``[embedding], [rnn0, dp0], [rnn1, dp1], [rnn2, dp2], [head]``.

    >>> len(awd_lstm_clas_split(get_text_classifier(awd_lstm_small_clas_config, 100, 2)))
    5
    """
    enc = model[0].module
    groups = [[enc.encoder, enc.encoder_dp]]
    groups += [[rnn, dp] for rnn, dp in zip(enc.rnns, enc.hidden_dps)]
    return groups + [[model[1]]]

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

The dropouts live in :mod:`emberfit.text.models.dropout`; the decoder and classifier heads in
:mod:`emberfit.text.models.heads`; the assembled models in :mod:`emberfit.text.models.build`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from emberfit.text.models.dict_config import DictConfig
from emberfit.text.models.dropout import EmbeddingDropout, RNNDropout, WeightDropout

__all__ = [
    "AWDLSTMConfig",
    "awd_lstm_lm_config",
    "awd_lstm_clas_config",
    "awd_lstm_small_lm_config",
    "awd_lstm_small_clas_config",
    "AWD_LSTM",
]

Hidden = list[tuple[Tensor, Tensor]]  # per layer (h, c), each (1, bs, n_out_of_layer)


@dataclass(frozen=True)
class AWDLSTMConfig(DictConfig):
    """Sizes and (unscaled) dropout probabilities of an AWD-LSTM; ``drop_mult`` scales the ``*_p``.

    A typed, read-only dataclass that also reads like fastai v1's config dict; ``copy()`` gives an
    editable copy (:class:`~emberfit.text.models.dict_config.DictConfig`) to pass as ``config=``.

    >>> awd_lstm_lm_config.with_drop_mult(0.5).weight_p
    0.1
    >>> cfg = awd_lstm_lm_config.copy(); cfg['n_hid'] = 1150  # v1: the published WikiText-103 size
    >>> cfg['n_hid'], awd_lstm_lm_config['n_hid'], isinstance(cfg, AWDLSTMConfig), cfg['qrnn']
    (1150, 1152, True, False)
    """

    _v1_only_keys = {"qrnn": False, "bidir": False}  # v1's keys for what emberfit does not implement

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
            return config.frozen()  # a snapshot: later edits of a copy() do not reach a built model
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

"""The two ULMFiT models assembled from their parts, their layer groups, and the factory exports name.

``get_language_model``: AWD-LSTM encoder + tied decoder; ``get_text_classifier``: the encoder
run in ``bptt`` chunks + the pooling head. ``awd_lstm_lm_split`` / ``awd_lstm_clas_split`` give
the layer groups that ``freeze_to`` and discriminative learning rates work on.
``build_text_model`` builds either from JSON-able settings: an export stores its name and
arguments, and ``load_learner`` calls it.
"""

from __future__ import annotations

import dataclasses  # noqa: F401  (the docstring examples use it)
from collections.abc import Sequence

import torch  # noqa: F401  (the docstring examples use it)
from torch import nn

from emberfit.core.registry import register
from emberfit.text.models.awd_lstm import (
    AWD_LSTM,
    AWDLSTMConfig,
    awd_lstm_clas_config,
    awd_lstm_lm_config,
    awd_lstm_small_clas_config,  # noqa: F401  (the docstring examples use the small presets)
    awd_lstm_small_lm_config,  # noqa: F401
)
from emberfit.text.models.heads import (
    LinearDecoder,
    MultiBatchEncoder,
    PoolingLinearClassifier,
    SequentialRNN,
)

__all__ = [
    "get_language_model",
    "get_text_classifier",
    "awd_lstm_lm_split",
    "awd_lstm_clas_split",
    "build_text_model",
]


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


# ----------------------------------------------------------------------------- the model factory
@register("model", "text.build_text_model")
def build_text_model(
    kind: str,
    vocab_sz: int,
    config: dict,
    drop_mult: float = 1.0,
    n_class: int | None = None,
    bptt: int = 70,
    max_len: int = 70 * 20,
    lin_ftrs: Sequence[int] | None = None,
    ps: Sequence[float] | None = None,
) -> SequentialRNN:
    """An AWD-LSTM language model (``kind='lm'``) or classifier (``'clas'``) from JSON-able settings.

    This is what ``load_learner`` calls to rebuild an exported text model.

    >>> cfg = dataclasses.asdict(awd_lstm_small_lm_config)
    >>> build_text_model('lm', 100, cfg)(torch.randint(0, 100, (2, 5)))[0].shape
    torch.Size([2, 5, 100])
    """
    cfg = AWDLSTMConfig.from_any(dict(config), awd_lstm_lm_config)
    if kind == "lm":
        return get_language_model(cfg, vocab_sz, drop_mult)
    if kind == "clas":
        if not isinstance(n_class, int) or n_class < 1:
            raise ValueError(f"a classifier needs n_class >= 1, got {n_class!r}")
        return get_text_classifier(cfg, vocab_sz, n_class, bptt, max_len, lin_ftrs, ps, drop_mult)
    raise ValueError(f"kind must be 'lm' or 'clas', got {kind!r}")

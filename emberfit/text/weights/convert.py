"""Pretrained AWD-LSTM state dicts onto models and back: vocabulary mapping, size checks, saving.

The state-dict keys are those of ``emberfit.text.models.get_language_model`` (identical to
fast.ai's, duplicates included), so loading is ``load_state_dict(strict=True)`` after the rows
of the vocabulary-sized tensors are mapped onto the new vocabulary (``convert_weights``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from emberfit.core.io import atomic_write, save_tensors
from emberfit.text.models.awd_lstm import AWD_LSTM, AWDLSTMConfig, awd_lstm_lm_config
from emberfit.text.models.heads import LinearDecoder, MultiBatchEncoder
from emberfit.text.weights.files import load_itos, load_weights

__all__ = ["config_from_state_dict", "convert_weights", "load_pretrained", "save_pretrained"]


def _prefix(sd: dict[str, Tensor]) -> str:
    """'0.' for a language model's state dict, '' for an encoder's (``save_encoder``)."""
    for p in ("0.", ""):
        if p + "encoder.weight" in sd or p + "encoder_dp.emb.weight" in sd:
            return p
    if any(".encoder_with_dropout." in k for k in sd):
        raise ValueError(
            "this is a fastai 0.7 checkpoint (encoder_with_dropout keys); emberfit reads fastai >= 1.0 files"
        )
    raise ValueError(f"not an AWD-LSTM state dict: no 'encoder.weight' key (first keys: {list(sd)[:5]})")


def _complete_aliases(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Fill the duplicated keys (embedding twice, tied decoder) that a deduplicated file left out."""
    sd, p = dict(sd), _prefix(sd)
    emb = sd.get(p + "encoder.weight", sd.get(p + "encoder_dp.emb.weight"))
    sd.setdefault(p + "encoder.weight", emb)
    sd.setdefault(p + "encoder_dp.emb.weight", emb)
    if p and "1.decoder.bias" in sd:  # WeightDropout fills its own alias on load
        sd.setdefault("1.decoder.weight", emb)
    return sd


def config_from_state_dict(
    state_dict: dict[str, Tensor], base: AWDLSTMConfig = awd_lstm_lm_config
) -> AWDLSTMConfig:
    """``base`` with ``emb_sz``, ``n_hid`` and ``n_layers`` read off a checkpoint's shapes.

    >>> from emberfit.text.models import get_language_model
    >>> sd = get_language_model(dataclasses.replace(awd_lstm_lm_config, n_hid=1150), 10).state_dict()
    >>> config_from_state_dict(sd).n_hid
    1150
    """
    p = _prefix(state_dict)
    layers = {k[len(p) :].split(".")[1] for k in state_dict if k.startswith(p + "rnns.")}
    emb_sz = _complete_aliases(state_dict)[p + "encoder.weight"].shape[1]
    hh = state_dict.get(p + "rnns.0.weight_hh_l0_raw", state_dict.get(p + "rnns.0.module.weight_hh_l0"))
    n_hid = hh.shape[1] if len(layers) > 1 else emb_sz
    return dataclasses.replace(base, emb_sz=emb_sz, n_hid=n_hid, n_layers=len(layers))


def convert_weights(
    state_dict: dict[str, Tensor], old_itos: Sequence[str], new_itos: Sequence[str]
) -> dict[str, Tensor]:
    """Map the vocabulary-sized tensors of a state dict from ``old_itos`` onto ``new_itos``.

    Rows of tokens in both vocabularies are copied; a new token gets the mean embedding row
    and the mean decoder bias. The duplicated keys all receive the one new tensor.

    >>> sd = {"encoder.weight": torch.tensor([[1.0], [3.0]]), "rnns.0.module.weight_ih_l0": torch.ones(4, 1)}
    >>> convert_weights(sd, ["a", "b"], ["b", "new"])["encoder.weight"]
    tensor([[3.],
            [2.]])
    """
    sd, p = _complete_aliases(state_dict), _prefix(state_dict)
    emb = sd[p + "encoder.weight"]
    if emb.shape[0] != len(old_itos):
        raise ValueError(
            f"the weights have {emb.shape[0]} embedding rows but the old vocabulary has {len(old_itos)} tokens; "
            "pass the vocabulary file that came with these weights"
        )
    stoi = {s: i for i, s in enumerate(old_itos)}
    n_old = len(old_itos)
    # Index n_old points at an appended mean row, so one index_select maps every row.
    idx = torch.tensor([stoi.get(s, n_old) for s in new_itos], dtype=torch.long)

    def remap(t: Tensor) -> Tensor:  # (n_old, ...) -> (len(new_itos), ...)
        mean = t.float().mean(0, keepdim=True).to(t.dtype)
        return torch.cat([t, mean]).index_select(0, idx)

    new_emb = remap(emb)
    for key in (p + "encoder.weight", p + "encoder_dp.emb.weight"):
        sd[key] = new_emb
    if p and "1.decoder.weight" in sd:
        dec = sd["1.decoder.weight"]
        tied = dec is emb or dec.data_ptr() == emb.data_ptr() or torch.equal(dec, emb)
        sd["1.decoder.weight"] = new_emb if tied else remap(dec)
    if p and "1.decoder.bias" in sd:
        sd["1.decoder.bias"] = remap(sd["1.decoder.bias"])
    return sd


def _parts(model: nn.Module) -> tuple[AWD_LSTM, LinearDecoder | None]:
    """The AWD-LSTM encoder inside a language model, a classifier or a bare encoder, and the LM decoder."""
    if isinstance(model, AWD_LSTM):
        return model, None
    first = model[0] if isinstance(model, nn.Sequential) and len(model) > 0 else None
    if isinstance(first, MultiBatchEncoder):
        return first.module, None
    if isinstance(first, AWD_LSTM):
        second = model[1] if len(model) > 1 else None
        return first, second if isinstance(second, LinearDecoder) else None
    raise TypeError(
        f"model must be an AWD_LSTM, a language model (get_language_model) or a classifier "
        f"(get_text_classifier), got {type(model).__name__}"
    )


def _check_sizes(sd: dict[str, Tensor], enc: AWD_LSTM, path: Path) -> None:
    """Refuse weights whose emb_sz / n_hid / n_layers differ from the model's, saying how to build one that fits."""
    got = config_from_state_dict(sd)
    want = (enc.emb_sz, enc.n_hid, enc.n_layers)
    if (got.emb_sz, got.n_hid, got.n_layers) == want:
        return
    hint = ""
    if got.n_hid == 1150:
        hint = (
            " This is a checkpoint from fastai < 1.0.53 (the 'wt103'/'wt103-1' files, n_hid=1150): build the "
            "model with config=dataclasses.replace(awd_lstm_lm_config, n_hid=1150) "
            "(config_from_state_dict(load_weights(path)) gives it), or use the 'wt103-fwd' files (n_hid=1152)."
        )
    raise ValueError(
        f"weights file {path} holds an AWD-LSTM with emb_sz={got.emb_sz}, n_hid={got.n_hid}, "
        f"n_layers={got.n_layers}, but the model has emb_sz={want[0]}, n_hid={want[1]}, n_layers={want[2]}; "
        f"build the model with config=config_from_state_dict(load_weights(path)).{hint}"
    )


def load_pretrained(
    model: nn.Module, weights_path: str | os.PathLike, itos_path: str | os.PathLike, new_itos: Sequence[str]
) -> nn.Module:
    """Load pretrained AWD-LSTM weights into ``model``, mapped onto its vocabulary ``new_itos``.

    ``model`` is a language model (encoder and decoder are loaded), a classifier or a bare
    ``AWD_LSTM`` (encoder only). Loading is strict: every key must match.

    >>> # lm = get_language_model(awd_lstm_lm_config, len(itos))
    >>> # load_pretrained(lm, *find_pretrained("wt103-fwd"), new_itos=itos)
    """
    weights_path, itos_path = Path(weights_path), Path(itos_path)
    sd, old_itos = load_weights(weights_path), load_itos(itos_path)
    enc, dec = _parts(model)
    if len(new_itos) != enc.vocab_sz:
        raise ValueError(f"new_itos has {len(new_itos)} tokens but the model's vocabulary has {enc.vocab_sz}")
    _check_sizes(sd, enc, weights_path)
    sd = convert_weights(sd, old_itos, new_itos)
    p = _prefix(sd)
    enc.load_state_dict({k[len(p) :]: v for k, v in sd.items() if k.startswith(p) and not k.startswith("1.")})
    if dec is not None:
        dec_sd = {k[2:]: v for k, v in sd.items() if k.startswith("1.")}
        if dec_sd:  # an encoder-only file leaves the (tied) decoder's bias as it is
            dec.load_state_dict(dec_sd)
    return model


def save_pretrained(
    model: nn.Module, itos: Sequence[str], weights_path: str | os.PathLike, itos_path: str | os.PathLike
) -> tuple[Path, Path]:
    """Save a language model (or encoder) as safetensors + a JSON vocabulary, both written atomically.

    Duplicated keys are stored once; ``load_pretrained`` restores them.

    >>> # save_pretrained(lm, itos, "models/my_lm.safetensors", "models/my_itos.json")
    """
    enc, dec = _parts(model)
    if len(itos) != enc.vocab_sz:
        raise ValueError(f"itos has {len(itos)} tokens but the model's vocabulary has {enc.vocab_sz}")
    p = "0." if dec is not None else ""
    sd = {p + k: v for k, v in enc.state_dict().items()}
    if dec is not None:
        sd.update({"1." + k: v for k, v in dec.state_dict().items()})
        if dec.decoder.weight is enc.encoder.weight:
            del sd["1.decoder.weight"]
    del sd[p + "encoder_dp.emb.weight"]
    for i in range(enc.n_layers):
        del sd[f"{p}rnns.{i}.module.weight_hh_l0"]
    meta = {"format": "emberfit-awd-lstm", "emb_sz": enc.emb_sz, "n_hid": enc.n_hid, "n_layers": enc.n_layers}
    w = save_tensors(weights_path, sd, meta)
    return w, atomic_write(itos_path, json.dumps(list(itos), ensure_ascii=False).encode("utf-8"))

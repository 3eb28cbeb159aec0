"""Pretrained AWD-LSTM weights: fast.ai's published WikiText-103 files and emberfit's own format.

fast.ai's files are a ``torch.save``'d state dict (``lstm_fwd.pth``) and a pickled ``list[str]``
vocabulary (``itos_wt103.pkl``), in ``Config.model_path()/'wt103-fwd'`` as the archive unpacks.
Neither is unpickled the usual way: the ``.pth`` goes through ``torch.load(weights_only=True)``
and the ``.pkl`` through an unpickler that cannot import anything, so it can only ever build
lists and strings. emberfit's own format is a safetensors file plus the vocabulary as a JSON list.

The state-dict keys are those of ``emberfit.text.models.get_language_model`` (identical to
fast.ai's, duplicates included), so loading is ``load_state_dict(strict=True)`` after the rows
of the vocabulary-sized tensors are mapped onto the new vocabulary (``convert_weights``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from emberfit.core.io import atomic_write, load_tensors, save_tensors
from emberfit.text.models.awd_lstm import AWD_LSTM, AWDLSTMConfig, awd_lstm_lm_config
from emberfit.text.models.heads import LinearDecoder, MultiBatchEncoder

__all__ = [
    "load_itos",
    "load_weights",
    "convert_weights",
    "config_from_state_dict",
    "load_pretrained",
    "save_pretrained",
    "find_pretrained",
]

# Archive name -> (weights file, vocabulary file) as fast.ai published them.
KNOWN_FILES = {
    "wt103-fwd": ("lstm_fwd.pth", "itos_wt103.pkl"),
    "wt103-bwd": ("lstm_bwd.pth", "itos_wt103.pkl"),
    "wt103-1": ("lstm_wt103.pth", "itos_wt103.pkl"),  # fastai < 1.0.53, n_hid=1150
    "wt103": ("lstm_wt103.pth", "itos_wt103.pkl"),
}
WEIGHT_SUFFIXES, ITOS_SUFFIXES = (".pth", ".pt", ".safetensors"), (".pkl", ".json")
_MODELZOO = "https://s3.amazonaws.com/fast-ai-modelzoo/"


class _NoImportUnpickler(pickle.Unpickler):
    # Every way a pickle can reach a callable (GLOBAL, STACK_GLOBAL, INST, OBJ, EXT*) goes through
    # find_class, so refusing it here means the file can build only lists, strings and numbers.
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(
            f"it refers to {module}.{name}; a vocabulary pickle may only hold strings"
        )

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it uses persistent ids; a vocabulary pickle may only hold strings")


def load_itos(path: str | os.PathLike) -> list[str]:
    """Read a vocabulary (a list of token strings) from a fast.ai ``.pkl`` or a JSON list, safely.

    >>> import tempfile; p = Path(tempfile.mkdtemp()) / "itos.json"; _ = p.write_text('["xxunk", "xxpad"]')
    >>> load_itos(p)
    ['xxunk', 'xxpad']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary file not found: {path}")
    if path.suffix == ".json":
        try:
            itos = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"vocabulary file {path} is not valid JSON ({e})") from None
        if isinstance(itos, dict) and "itos" in itos:
            itos = itos["itos"]
    else:
        try:
            with open(path, "rb") as f:
                itos = _NoImportUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError) as e:
            raise ValueError(f"refusing to read vocabulary pickle {path}: {e}") from None
    if not isinstance(itos, list) or not all(isinstance(s, str) for s in itos):
        what = type(itos).__name__ if not isinstance(itos, list) else "a list with non-string items"
        raise ValueError(f"vocabulary file {path} must hold a list of strings, got {what}")
    return itos


def load_weights(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a state dict from ``.pth``/``.pt`` (``torch.load(weights_only=True)``) or ``.safetensors``.

    A ``{'model': state_dict, 'opt': ...}`` checkpoint is unwrapped to its model part.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        sd, _ = load_tensors(path, what="weights file")
    else:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
            raise ValueError(
                f"cannot read weights file {path} with torch.load(weights_only=True): {type(e).__name__}: {e}"
            ) from None
        if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
            sd = sd["model"]
    if not isinstance(sd, dict) or not all(isinstance(v, Tensor) for v in sd.values()):
        raise ValueError(f"weights file {path} does not hold a state dict (a dict of tensors)")
    return dict(sd)


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


def _check_arch(sd: dict[str, Tensor], enc: AWD_LSTM, path: Path) -> None:
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
    _check_arch(sd, enc, weights_path)
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


def _model_path() -> Path:
    try:  # Config lives in core.datasets; the fallback mirrors its layout
        from emberfit.core.datasets import Config

        return Config.model_path()
    except ImportError:
        return Path(os.environ.get("EMBERFIT_HOME") or "~/.emberfit").expanduser() / "models"


def _pick(folder: Path, suffixes: tuple[str, ...], preferred: str | None) -> Path | None:
    if preferred and (folder / preferred).is_file():
        return folder / preferred
    found = (
        sorted(
            f
            for f in folder.glob("*")
            if f.suffix in suffixes and f.is_file() and f.name != "model_card.json"  # the card is not an itos
        )
        if folder.is_dir()
        else []
    )
    if len(found) > 1:
        raise ValueError(
            f"{folder} holds several candidate files {[f.name for f in found]}; pass pretrained_fnames"
        )
    return found[0] if found else None


def _resolve_file(name: str | os.PathLike, suffixes: tuple[str, ...], what: str) -> Path:
    name, base = Path(name), _model_path()
    tries = [name, *(name.with_name(name.name + s) for s in suffixes)]
    tries += [base / t for t in tries if not t.is_absolute()]
    for t in tries:
        if t.is_file():
            return t
    raise FileNotFoundError(
        f"{what} file {str(name)!r} not found; looked at {[str(t) for t in tries]}. "
        "Pass an existing path, or put the file in one of those places."
    )


def find_pretrained(
    name_or_fnames: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
) -> tuple[Path, Path]:
    """Locate ``(weights, itos)`` files for a pretrained model name, URL, folder or pair of file names.

    A name (``'wt103-fwd'``, the default) or URL (``URLs.WT103_FWD``) is looked up as a folder in
    ``Config.model_path()``; a pair ``(weights, itos)`` as paths, with or without suffix, also
    relative to that folder. Nothing is downloaded.

    >>> find_pretrained(("/no/such/lstm", "/no/such/itos"))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FileNotFoundError: weights file '/no/such/lstm' not found; ...
    """
    if isinstance(name_or_fnames, (list, tuple)):
        if len(name_or_fnames) != 2:
            raise ValueError(f"pretrained_fnames must be (weights, itos), got {name_or_fnames!r}")
        weights, itos = name_or_fnames
        return _resolve_file(weights, WEIGHT_SUFFIXES, "weights"), _resolve_file(
            itos, ITOS_SUFFIXES, "vocabulary"
        )
    name = str(name_or_fnames or "wt103-fwd")
    folder = Path(name).expanduser()
    if "://" in name or not folder.is_dir():
        name = name.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tgz")
        folder = _model_path() / name
    want_w, want_i = KNOWN_FILES.get(name, (None, None))
    weights, itos = _pick(folder, WEIGHT_SUFFIXES, want_w), _pick(folder, ITOS_SUFFIXES, want_i)
    if weights is None or itos is None:
        files = (
            f"{want_w} and {want_i}"
            if want_w
            else "one weights file (.pth/.safetensors) and one vocabulary (.pkl/.json)"
        )
        raise FileNotFoundError(
            f"no pretrained model {name!r}: expected {files} in {folder} (the contents of {_MODELZOO}{name}.tgz). "
            "emberfit does not download it here: put those files in that folder (or set EMBERFIT_HOME), "
            "pass pretrained_fnames=(weights_file, itos_file), or pass pretrained=False to start from random weights."
        )
    return weights, itos

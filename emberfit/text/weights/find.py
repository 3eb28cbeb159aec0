"""Where pretrained AWD-LSTM files are: fast.ai's published models, emberfit's bundled one, your own.

* ``find_pretrained``: a model name (``'wt103-fwd'``), URL, folder or ``(weights, itos)`` pair ->
  the two files, looked up in ``Config.model_path()`` (where the archives unpack; nothing is
  downloaded here);
* ``bundled_pretrained``: the small-preset model shipped inside emberfit (``BUNDLED_DIR``);
* ``init_files``: what ``emberfit pretrain --init`` names (``'bundled'`` or an earlier run's folder);
* ``choose_pretrained``: which files ``language_model_learner`` / ``text_classifier_learner`` load
  for a config, falling back to the bundled small model when WikiText-103 is not available.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from emberfit.core.download import Config, URLs, untar_data
from emberfit.text.models.awd_lstm import AWDLSTMConfig, awd_lstm_small_lm_config

__all__ = ["find_pretrained", "bundled_pretrained", "init_files", "choose_pretrained", "BUNDLED_DIR"]

# Archive name -> (weights file, vocabulary file) as fast.ai published them.
KNOWN_FILES = {
    "wt103-fwd": ("lstm_fwd.pth", "itos_wt103.pkl"),
    "wt103-bwd": ("lstm_bwd.pth", "itos_wt103.pkl"),
    "wt103-1": ("lstm_wt103.pth", "itos_wt103.pkl"),  # fastai < 1.0.53, n_hid=1150
    "wt103": ("lstm_wt103.pth", "itos_wt103.pkl"),
}
WEIGHT_SUFFIXES, ITOS_SUFFIXES = (".pth", ".pt", ".safetensors"), (".pkl", ".json")
_MODELZOO = "https://s3.amazonaws.com/fast-ai-modelzoo/"

# Where the pretrained small-preset model shipped inside the package is looked for
# (weights + itos JSON; see bundled_pretrained).
BUNDLED_DIR = Path(__file__).parents[1] / "pretrained_models" / "awd_lstm_small"


def _model_path() -> Path:
    return Config.model_path()


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


def bundled_pretrained() -> tuple[Path, Path] | None:
    """``(weights, itos)`` of the small-preset language model shipped inside emberfit, or None if absent.

    >>> # bundled_pretrained()  # -> None until a release ships one
    """
    if not BUNDLED_DIR.is_dir():
        return None
    try:
        return find_pretrained(BUNDLED_DIR)
    except (FileNotFoundError, ValueError):
        return None


def init_files(init: str | Path) -> tuple[Path, Path]:
    """``(weights, itos)`` of the model ``--init`` names: ``"bundled"`` (emberfit's small model) or a folder.

    >>> init_files("/no/such/model")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FileNotFoundError: --init /no/such/model: no such folder; ...
    """
    if str(init) == "bundled":
        files = bundled_pretrained()
        if files is None:
            raise FileNotFoundError(
                f"--init bundled: this installation has no bundled model (looked in {BUNDLED_DIR}); "
                "pass a folder holding lm.safetensors + itos.json instead"
            )
        return files
    folder = Path(init).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"--init {init}: no such folder; pass the --out folder of an earlier `emberfit pretrain` run "
            "(it holds lm.safetensors + itos.json) or 'bundled'"
        )
    return find_pretrained(folder)


# ------------------------------------------------------------------- what the text learners load
def _same_sizes(a: AWDLSTMConfig, b: AWDLSTMConfig) -> bool:
    return (a.emb_sz, a.n_hid, a.n_layers) == (b.emb_sz, b.n_hid, b.n_layers)


def _resolve_fnames(path: Path, fnames, model_dir) -> tuple[Path, Path]:
    """fastai looked for ``path/models/<name>.pth`` and ``<itos>.pkl``; also try our suffixes, then elsewhere."""
    if not isinstance(fnames, (list, tuple)) or len(fnames) != 2:
        raise ValueError(f"pretrained_fnames must be a pair (weights_name, itos_name), got {fnames!r}")
    out = []
    for name, sfx in zip(fnames, ((".pth", ".safetensors", ""), (".pkl", ".json", ""))):
        base = Path(path) / model_dir / str(name)
        found = next(
            (base.with_name(base.name + s) for s in sfx if base.with_name(base.name + s).is_file()), None
        )
        out.append(found)
    if all(out):
        return out[0], out[1]
    return find_pretrained(tuple(str(n) for n in fnames))


def _bundled_for_small_preset() -> tuple[Path, Path]:
    found = bundled_pretrained()
    if found is None:
        raise FileNotFoundError(
            "pretrained=True with the small preset needs emberfit's bundled small pretrained model, which this "
            f"installation does not include (looked in {BUNDLED_DIR}). Pass pretrained_fnames=(weights, itos) "
            "for your own pretrained files (e.g. from `emberfit pretrain`), or pretrained=False to start from "
            "random weights."
        )
    return found


def _as_small_preset(cfg: AWDLSTMConfig, url: str) -> AWDLSTMConfig:
    """``cfg`` with the bundled model's sizes, after warning that it replaces the WikiText-103 weights."""
    small = awd_lstm_small_lm_config
    warnings.warn(
        f"the WikiText-103 weights ({url}) are not available here; using emberfit's bundled pretrained "
        f"AWD-LSTM of the small preset instead (emb_sz={small.emb_sz}, n_hid={small.n_hid}); "
        "text_classifier_learner does the same, so its encoder fits",
        stacklevel=5,  # the user's call of language_model_learner / text_classifier_learner
    )
    return dataclasses.replace(cfg, emb_sz=small.emb_sz, n_hid=small.n_hid, n_layers=small.n_layers)


def choose_pretrained(
    cfg: AWDLSTMConfig,
    config_given: bool,
    fnames: Sequence[str] | None,
    model: str | None,
    path: Path,
    model_dir: str | os.PathLike,
    backwards: bool,
) -> tuple[tuple[Path, Path], AWDLSTMConfig]:
    """``((weights, itos), config)`` a text learner loads; the config may switch to the bundled small model's sizes.

    ``fnames`` (``pretrained_fnames``) are looked up in ``path/model_dir`` first; the small preset
    loads the bundled model; otherwise ``model`` (default: WikiText-103, forwards or backwards)
    must be in ``Config.model_path()``, or, when neither ``config`` nor ``model`` was given,
    the bundled small model replaces it (with a warning).
    """
    if fnames is not None:
        return _resolve_fnames(path, fnames, model_dir), cfg
    if _same_sizes(cfg, awd_lstm_small_lm_config) and model is None:
        return _bundled_for_small_preset(), cfg
    url = model or (URLs.WT103_BWD if backwards else URLs.WT103_FWD)
    try:
        return find_pretrained(untar_data(url, data=False)), cfg
    except FileNotFoundError as e:
        found = None if (config_given or model is not None) else bundled_pretrained()
        if found is not None:
            return found, _as_small_preset(cfg, url)
        raise FileNotFoundError(
            f"pretrained=True: the pretrained AWD-LSTM ({url}) is not available and cannot be downloaded here. "
            f"{e} Then call again; or pass pretrained_fnames=(weights, itos) for other files; or pass "
            "pretrained=False to train from random weights (on a CPU, config=awd_lstm_small_lm_config is much "
            "faster)."
        ) from None

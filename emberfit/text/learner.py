"""ULMFiT learners: ``language_model_learner``, ``text_classifier_learner`` and the AR/TAR regulariser.

The language model is an AWD-LSTM with a tied decoder (4 layer groups: the three LSTMs, then
embedding + decoder, so ``freeze()`` trains the embedding and decoder only); the classifier
reads a document in ``bptt`` chunks and pools it into a small head (5 layer groups, so
``slice(lr/2.6**4, lr)`` spaces the learning rates by 2.6). ``save_encoder`` /
``load_encoder`` carry the fine-tuned encoder from one to the other (safetensors, with the
vocabulary, so a mismatch is caught). ``export()`` / ``load_learner()`` carry the model
settings, the vocabulary and the tokenizer rules as JSON.

>>> # data_lm = TextLMDataBunch.from_csv(path, 'texts.csv')
>>> # learn = language_model_learner(data_lm, AWD_LSTM, drop_mult=0.3)
>>> # learn.fit_one_cycle(1, 1e-2, moms=(0.8, 0.7)); learn.save_encoder('fine_tuned_enc')
>>> # learn.predict('I liked this movie because', 40, temperature=0.75)
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ..core.callback import Callback
from ..core.data import DataBunch
from ..core.data_block import CategoryList, MultiCategoryList
from ..core.io import load_tensors, save_tensors
from ..core.learner import Learner
from ..core.metrics import Perplexity, accuracy, accuracy_thresh
from ..core.registry import register
from .data import LMLabelList, TextList
from .generate import beam_search_ids, decode_spec_tokens, join_for_people, sample_ids
from .loaders import SortishLoader
from .models import (
    AWD_LSTM,
    AWDLSTMConfig,
    LinearDecoder,
    MultiBatchEncoder,
    awd_lstm_clas_config,
    awd_lstm_clas_split,
    awd_lstm_lm_config,
    awd_lstm_lm_split,
    awd_lstm_small_lm_config,
    build_text_model,
)
from .pretrained import find_pretrained, load_pretrained, load_weights
from .rules import BOS, EOS

__all__ = [
    "AWD_LSTM",
    "RNNRegularizer",
    "RNNLearner",
    "LanguageLearner",
    "language_model_learner",
    "text_classifier_learner",
    "build_text_model",
    "bundled_pretrained",
]

# Where a pretrained small-preset model shipped inside the package is looked for
# (weights + itos JSON; see bundled_pretrained).
BUNDLED_DIR = Path(__file__).parent / "pretrained_models" / "awd_lstm_small"


def _raw(model: nn.Module) -> nn.Module:
    """The model itself when wrapped for DistributedDataParallel."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _encoder(model: nn.Module) -> AWD_LSTM:
    """The AWD-LSTM inside a language model or a classifier."""
    first = _raw(model)[0]
    return first.module if isinstance(first, MultiBatchEncoder) else first


# --------------------------------------------------------------------------------- AR / TAR
class RNNRegularizer(Callback):
    """Activation regularisation (AR) and temporal activation regularisation (TAR), Merity et al. 2017.

    While training, adds ``alpha * mean(h_dropped**2)`` (the last layer's output after dropout)
    and ``beta * mean((h_t - h_{t-1})**2)`` (its raw output, consecutive steps) to the loss.
    Padding positions of classifier batches are left out of both means. The reported
    ``train_loss`` is the loss without these terms (as in fastai), so it compares with
    ``valid_loss``; the gradient includes them.

    >>> # learn.add_cb(RNNRegularizer(alpha=2., beta=1.))  # added by the text learners
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
        model = _raw(self.learn.model)
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
    return (x * mask).sum() / mask.sum().clamp(min=1)


class _FirstOutput:
    """A loss on the model's prediction only (the text models also return their encoder outputs)."""

    def __init__(self, func: Callable):
        self.func = func
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, out, targ, **kwargs):
        return self.func(out[0] if isinstance(out, tuple) else out, targ, **kwargs)


# -------------------------------------------------------------------------------- learners
@register("learner", "text.RNNLearner")
class RNNLearner(Learner):
    """A Learner for AWD-LSTM models: AR/TAR, encoder save/load, batch prediction on raw texts.

    ``text_classifier_learner`` returns one; ``language_model_learner`` a :class:`LanguageLearner`.
    """

    def __init__(
        self,
        data: DataBunch,
        model: nn.Module,
        split_func: Callable | None = None,
        alpha: float = 2.0,
        beta: float = 1.0,
        metrics=None,
        **learn_kwargs,
    ):
        super().__init__(data, model, metrics=metrics, **learn_kwargs)
        self._setup_rnn(split_func, alpha, beta)

    def _setup_rnn(self, split_func, alpha: float, beta: float) -> None:
        if not isinstance(self.loss_func, _FirstOutput):
            self.loss_func = _FirstOutput(self.loss_func)
        self.callbacks = [c for c in self.callbacks if not isinstance(c, RNNRegularizer)]
        self.add_cb(RNNRegularizer(alpha, beta))
        if split_func is not None:
            self.split(split_func)

    @property
    def _kind(self) -> str:
        return "lm" if isinstance(_raw(self.model)[-1], LinearDecoder) else "clas"

    def _itos(self) -> list[str]:
        return list(self.data.vocab.itos)

    # -- encoder ----------------------------------------------------------------------------
    def save_encoder(self, name: str | os.PathLike) -> Path:
        """Save the encoder's weights and vocabulary to ``path/model_dir/name.safetensors``.

        >>> # learn.save_encoder('fine_tuned_enc')
        """
        enc = _encoder(self.model)
        sd = dict(enc.state_dict())
        # one tensor under two names in the module tree; stored once, restored on load
        del sd["encoder_dp.emb.weight"]
        for i in range(enc.n_layers):
            sd.pop(f"rnns.{i}.module.weight_hh_l0", None)
        meta = {
            "format": "emberfit-encoder",
            "version": 1,
            "emb_sz": enc.emb_sz,
            "n_hid": enc.n_hid,
            "n_layers": enc.n_layers,
            "itos": self._itos(),
        }
        return save_tensors(self._ckpt_path(name), sd, meta)

    def load_encoder(self, name: str | os.PathLike, device=None) -> RNNLearner:
        """Load an encoder saved by ``save_encoder`` (or a fastai ``.pth`` encoder), then ``freeze()``.

        The encoder must come from data with the same vocabulary (build the classifier's data
        with ``vocab=data_lm.vocab``).

        >>> # learn.load_encoder('fine_tuned_enc')
        """
        f = self._ckpt_path(name)
        if not f.is_file() and Path(name).suffix != ".safetensors":
            pth = self.path / self.model_dir / f"{Path(name).name}.pth"
            f = pth if pth.is_file() else f
        if not f.is_file():
            raise FileNotFoundError(
                f"load_encoder({str(name)!r}): no file {f}; save one first with the language model's "
                "learn.save_encoder(name) (both learners must use the same path/model_dir)"
            )
        if f.suffix == ".safetensors":
            sd, meta = load_tensors(f, what="encoder file")
            if meta.get("format") != "emberfit-encoder":
                raise ValueError(f"{f} is not an encoder file (write one with learn.save_encoder(name))")
            self._check_vocab(meta.get("itos"), f)
        else:  # a fastai encoder: weights only, the vocabulary can only be checked by size
            sd, meta = load_weights(f), {}
        enc = _encoder(self.model)
        sd = dict(sd)
        sd.setdefault("encoder_dp.emb.weight", sd.get("encoder.weight"))
        n_rows = sd["encoder.weight"].shape[0] if "encoder.weight" in sd else None
        if n_rows != enc.vocab_sz:
            raise ValueError(
                f"encoder {f} has {n_rows} vocabulary rows but this model has {enc.vocab_sz}; build this data "
                "with the language model's vocabulary (vocab=data_lm.vocab)"
            )
        try:
            enc.load_state_dict(sd)
        except RuntimeError as e:
            raise ValueError(
                f"encoder {f} does not fit this model (different emb_sz/n_hid/n_layers?): build both learners "
                f"with the same config. Details: {e}"
            ) from None
        if device is not None:
            self.model.to(device)
        self.freeze()
        return self

    def _check_vocab(self, saved: list | None, f: Path) -> None:
        if saved is None:
            return
        mine = self._itos()
        if saved == mine:
            return
        diff = next((i for i, (a, b) in enumerate(zip(saved, mine)) if a != b), min(len(saved), len(mine)))
        at = (
            f"index {diff}: {saved[diff]!r} vs {mine[diff]!r}"
            if diff < min(len(saved), len(mine))
            else "the end"
        )
        raise ValueError(
            f"encoder {f} was trained with a different vocabulary ({len(saved)} tokens) than this data "
            f"({len(mine)} tokens; first difference at {at}); the token ids would not match. Build the "
            "classifier's data with the language model's vocabulary: TextClasDataBunch.from_csv(..., "
            "vocab=data_lm.vocab) or TextList.from_csv(..., vocab=data_lm.vocab)"
        )

    # -- batch prediction on raw texts --------------------------------------------------------
    def predict_texts(self, texts: Sequence[str] | pd.Series, bs: int = 64) -> pd.DataFrame:
        """Predict many raw texts in one call (batched, sorted by length inside, returned in input order).

        Classification: a ``prediction`` column and one ``proba_<class>`` column per class
        (multi-label: the classes above 0.5, joined by ``;``). Regression: ``prediction``.

        >>> # learn.predict_texts(["Loved it!", "Dreadful."])
        """
        if self._kind == "lm":
            raise TypeError(
                "predict_texts is for classifiers; a language model generates with predict(text, n_words)"
            )
        if isinstance(texts, str) or not isinstance(texts, (Sequence, pd.Series, np.ndarray)):
            raise TypeError(
                f"texts must be a list of strings (use predict for one text), got {type(texts).__name__}"
            )
        if len(texts) == 0:
            raise ValueError("predict_texts got no texts")
        if not isinstance(bs, int) or bs < 1:
            raise ValueError(f"bs must be a positive int, got {bs!r}")
        index = texts.index if isinstance(texts, pd.Series) else pd.RangeIndex(len(texts))
        lls = self.data.label_lists
        proc = lls.train.x.processor
        ids, offsets = proc.numericalize_corpus(proc.tokenize(proc.texts(list(texts))))
        dl = SortishLoader(
            ids,
            offsets,
            None,
            bs=bs,
            pad_idx=_encoder(self.model).pad_token,
            backwards=getattr(lls.train.x, "_backwards", False),
            device=self.data.device,
        )
        probs = self.get_preds(dl=dl)[0]
        y = lls.train.y
        if isinstance(y, MultiCategoryList):
            names = np.asarray(y.classes, dtype=object)
            res = pd.DataFrame(
                {"prediction": [";".join(names[r]) for r in (probs > 0.5).numpy()]}, index=index
            )
        elif isinstance(y, CategoryList):
            pred = np.asarray(y.classes, dtype=object)[probs.argmax(1).numpy()]
            res = pd.DataFrame({"prediction": pred}, index=index)
        else:
            vals = (probs.exp() if getattr(y, "log", False) else probs).numpy().reshape(len(index), -1)
            cols = ["prediction"] if vals.shape[1] == 1 else [f"prediction_{j}" for j in range(vals.shape[1])]
            return pd.DataFrame(vals, columns=cols, index=index)
        for j, c in enumerate(y.classes):
            res[f"proba_{c}"] = probs[:, j].numpy()
        return res

    # -- export -------------------------------------------------------------------------------
    def export_extra(self) -> dict:
        reg = next((c for c in self.callbacks if isinstance(c, RNNRegularizer)), None)
        return {"kind": self._kind, "alpha": reg.alpha if reg else 0.0, "beta": reg.beta if reg else 0.0}

    def restore_extra(self, state: dict) -> None:
        split = awd_lstm_lm_split if state.get("kind") == "lm" else awd_lstm_clas_split
        self._setup_rnn(split, state.get("alpha", 2.0), state.get("beta", 1.0))


@register("learner", "text.LanguageLearner")
class LanguageLearner(RNNLearner):
    """An :class:`RNNLearner` for language models: adds text generation (``predict``, ``beam_search``)."""

    @property
    def backwards(self) -> bool:
        """Whether this language model reads text from the end (then it generates what comes before a prompt)."""
        return bool(getattr(self.data.train_dl, "backwards", False))

    def _prompt_ids(self, text: str) -> Tensor:
        if not isinstance(text, str):
            raise TypeError(f"text must be a string prompt, got {type(text).__name__}")
        proc = self.data.processor
        ids = proc.process_one(text)
        eos = proc.vocab.stoi.get(EOS) if EOS in proc.vocab.stoi else None
        if eos is not None and len(ids) > 1 and ids[-1] == eos:
            ids = ids[:-1]  # include_eos data: the prompt is not finished
        if self.backwards:
            # the model reads right to left and the prompt is the end of a text: no xxbos, reversed
            bos = proc.vocab.stoi.get(BOS)
            ids = ids[1:] if len(ids) > 1 and ids[0] == bos else ids
            ids = ids[::-1].copy()
        return torch.as_tensor(ids, dtype=torch.long, device=self.data.device)

    def _finish(self, text: str, new_ids: list[int], sep: str, decoder: Callable) -> str:
        if self.backwards:  # generated right to left: the words come before the prompt
            new_ids = list(reversed(new_ids))
        toks = self.data.vocab.textify(new_ids, sep=None)
        words = decoder(toks)
        if decoder is decode_spec_tokens and sep == " ":
            gen = join_for_people(words)
            if self.backwards:
                return gen + ("" if not gen or text[:1] in ".,!?;:)]}%'" else " ") + text
            if gen and gen[0] in ".,!?;:)]}%'\n":  # punctuation/contraction: no space before it
                return text.rstrip(" ") + gen
            return text + ("" if not gen or text[-1:].isspace() else " ") + gen
        if self.backwards:
            return sep.join(words) + sep + text
        return text + sep + sep.join(words)

    def _run(self, fn: Callable, *args, **kwargs) -> list[int]:
        model = _raw(self.model)  # generation runs on one process, never through DDP
        was_training = model.training
        try:
            return fn(model, *args, **kwargs)
        finally:
            model.reset()
            model.train(was_training)

    def predict(
        self,
        text: str,
        n_words: int = 1,
        no_unk: bool = True,
        temperature: float = 1.0,
        min_p: float | None = None,
        sep: str = " ",
        decoder: Callable = decode_spec_tokens,
    ) -> str:
        """Continue ``text`` by ``n_words`` sampled tokens; returns the prompt plus the new words, readable.

        ``temperature``: higher = more diverse, 0 = always the most likely token. ``min_p``:
        never pick a token of probability below it. ``no_unk``: never pick ``xxunk``. The
        default ``decoder`` (with ``sep=' '``) undoes ``xxmaj``/``xxup``/repeats and tidies
        punctuation; another decoder's words are joined with ``sep`` as they are.

        >>> # learn.predict('I liked this movie because', 40, temperature=0.75)
        """
        itos = self.data.vocab.itos
        ids = self._run(sample_ids, self._prompt_ids(text), n_words, itos, no_unk, temperature, min_p)
        return self._finish(text, ids, sep, decoder)

    def beam_search(
        self,
        text: str,
        n_words: int,
        no_unk: bool = True,
        top_k: int = 10,
        beam_sz: int = 100,
        temperature: float = 1.0,
        sep: str = " ",
        decoder: Callable = decode_spec_tokens,
    ) -> str:
        """Continue ``text`` by ``n_words`` with beam search (the final beam is drawn with ``temperature``; 0 = best).

        >>> # learn.beam_search('I liked this movie because', 20, beam_sz=20, temperature=0.)
        """
        itos = self.data.vocab.itos
        enc = _encoder(self.model)
        ids = self._run(
            beam_search_ids,
            self._prompt_ids(text),
            n_words,
            itos,
            no_unk,
            top_k,
            beam_sz,
            temperature,
            select_hidden=enc.select_hidden,
        )
        return self._finish(text, ids, sep, decoder)


# --------------------------------------------------------------------------- pretrained files
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


def _pretrained_files(
    data: DataBunch, cfg: AWDLSTMConfig, config_given: bool, pretrained_fnames, pretrained_model, learn_kwargs
) -> tuple[tuple[Path, Path], AWDLSTMConfig]:
    """Find the pretrained files for ``cfg``; may switch to the bundled small model (with a warning)."""
    if pretrained_fnames is not None:
        path = learn_kwargs.get("path") or data.path
        return _resolve_fnames(path, pretrained_fnames, learn_kwargs.get("model_dir", "models")), cfg
    small = _same_sizes(cfg, awd_lstm_small_lm_config)
    if small and pretrained_model is None:
        found = bundled_pretrained()
        if found is None:
            raise FileNotFoundError(
                "pretrained=True with the small preset needs emberfit's bundled small pretrained model, which this "
                f"installation does not include (looked in {BUNDLED_DIR}). Pass pretrained_fnames=(weights, itos) "
                "for your own pretrained files (e.g. from `emberfit pretrain`), or pretrained=False to start from "
                "random weights."
            )
        return found, cfg
    from ..core.datasets import URLs, untar_data

    backwards = bool(getattr(data.train_dl, "backwards", False))
    url = pretrained_model or (URLs.WT103_BWD if backwards else URLs.WT103_FWD)
    try:
        return find_pretrained(untar_data(url, data=False)), cfg
    except FileNotFoundError as e:
        found = None if (config_given or pretrained_model is not None) else bundled_pretrained()
        if found is not None:
            small_cfg = awd_lstm_small_lm_config
            warnings.warn(
                f"the WikiText-103 weights ({url}) are not available here; using emberfit's bundled pretrained "
                f"AWD-LSTM of the small preset instead (emb_sz={small_cfg.emb_sz}, n_hid={small_cfg.n_hid}); "
                "text_classifier_learner does the same, so its encoder fits",
                stacklevel=4,
            )
            return found, dataclasses.replace(
                cfg,
                emb_sz=awd_lstm_small_lm_config.emb_sz,
                n_hid=awd_lstm_small_lm_config.n_hid,
                n_layers=awd_lstm_small_lm_config.n_layers,
            )
        raise FileNotFoundError(
            f"pretrained=True: the pretrained AWD-LSTM ({url}) is not available and cannot be downloaded here. "
            f"{e} Then call again; or pass pretrained_fnames=(weights, itos) for other files; or pass "
            "pretrained=False to train from random weights (on a CPU, config=awd_lstm_small_lm_config is much "
            "faster)."
        ) from None


# ------------------------------------------------------------------------------- factories
def _check_text_data(data: DataBunch, lm: bool, fn: str) -> None:
    lls = getattr(data, "label_lists", None)
    if not isinstance(data, DataBunch) or lls is None or not isinstance(lls.train.x, TextList):
        raise TypeError(
            f"{fn} needs a text DataBunch (TextLMDataBunch / TextClasDataBunch or TextList...databunch()), "
            f"got {type(data).__name__}"
        )
    is_lm = isinstance(lls.train.y, LMLabelList)
    if is_lm != lm:
        want = (
            "language-model data (label_for_lm / TextLMDataBunch)"
            if lm
            else "labelled data (TextClasDataBunch)"
        )
        other = "text_classifier_learner" if lm else "language_model_learner"
        raise TypeError(f"{fn} needs {want}; this DataBunch is the other kind (use {other} for it)")


def _check_arch(arch: Any, fn: str) -> None:
    if arch is not AWD_LSTM and arch != "AWD_LSTM":
        raise ValueError(
            f"{fn}: arch must be AWD_LSTM (the only architecture emberfit implements), got {arch!r}"
        )


def language_model_learner(
    data: DataBunch,
    arch: Any = AWD_LSTM,
    config: AWDLSTMConfig | dict | None = None,
    drop_mult: float = 1.0,
    pretrained: bool = True,
    pretrained_fnames: Sequence[str] | None = None,
    pretrained_model: str | None = None,
    alpha: float = 2.0,
    beta: float = 1.0,
    **learn_kwargs,
) -> LanguageLearner:
    """A :class:`LanguageLearner` with an AWD-LSTM language model; metrics accuracy and perplexity.

    ``pretrained=True`` loads fast.ai's WikiText-103 weights (``pretrained_model``, default
    ``URLs.WT103_FWD``) mapped onto ``data``'s vocabulary, then ``freeze()`` s; for the small
    CPU preset it loads emberfit's bundled small model instead. ``pretrained_fnames=(weights,
    itos)`` loads other files (looked up in ``path/models`` first). With no files and no
    network a ``FileNotFoundError`` says where to put them.

    >>> # learn = language_model_learner(data_lm, AWD_LSTM, drop_mult=0.3)
    >>> # learn = language_model_learner(data_lm, AWD_LSTM, config=awd_lstm_small_lm_config, pretrained=False)
    """
    _check_arch(arch, "language_model_learner")
    _check_text_data(data, lm=True, fn="language_model_learner")
    cfg = AWDLSTMConfig.from_any(config, awd_lstm_lm_config)
    vocab_sz = len(data.vocab.itos)
    files = None
    if pretrained or pretrained_model is not None or pretrained_fnames is not None:
        files, cfg = _pretrained_files(
            data, cfg, config is not None, pretrained_fnames, pretrained_model, learn_kwargs
        )
    init = {
        "kind": "lm",
        "vocab_sz": vocab_sz,
        "config": dataclasses.asdict(cfg),
        "drop_mult": float(drop_mult),
    }
    model = build_text_model(**init)
    if files is not None:
        load_pretrained(model, files[0], files[1], data.vocab.itos)
    if learn_kwargs.get("metrics") is None:
        learn_kwargs["metrics"] = [accuracy, Perplexity()]
    learn = LanguageLearner(data, model, awd_lstm_lm_split, alpha=alpha, beta=beta, **learn_kwargs)
    learn.model_init = {"cls": "text.build_text_model", "kwargs": init}
    if files is not None:
        learn.freeze()
    return learn


def text_classifier_learner(
    data: DataBunch,
    arch: Any = AWD_LSTM,
    config: AWDLSTMConfig | dict | None = None,
    drop_mult: float = 1.0,
    bptt: int = 70,
    max_len: int = 70 * 20,
    lin_ftrs: Sequence[int] | None = None,
    ps: Sequence[float] | None = None,
    pretrained: bool = True,
    alpha: float = 2.0,
    beta: float = 1.0,
    **learn_kwargs,
) -> RNNLearner:
    """An :class:`RNNLearner` with an AWD-LSTM classifier (concat pooling + ``lin_ftrs`` head, default [50]).

    ``pretrained=True`` starts the encoder from the WikiText-103 weights when they are
    available (and ``freeze()`` s); without them it warns and starts from random weights,
    since the lesson replaces the encoder with ``load_encoder('fine_tuned_enc')`` anyway.
    Single-label data trains with cross-entropy (metric accuracy), multi-label with BCE,
    float labels with MSE.

    >>> # learn = text_classifier_learner(data_clas, AWD_LSTM, drop_mult=0.5)
    >>> # learn.load_encoder('fine_tuned_enc'); learn.fit_one_cycle(1, 2e-2, moms=(0.8, 0.7))
    """
    _check_arch(arch, "text_classifier_learner")
    _check_text_data(data, lm=False, fn="text_classifier_learner")
    cfg = AWDLSTMConfig.from_any(config, awd_lstm_clas_config)
    for name, v in (("bptt", bptt), ("max_len", max_len)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    y = data.label_lists.train.y
    files = None
    if pretrained:
        try:
            files, cfg = _pretrained_files(data, cfg, config is not None, None, None, learn_kwargs)
        except FileNotFoundError as e:
            warnings.warn(
                f"text_classifier_learner(pretrained=True): no pretrained weights found, the encoder starts from "
                f"random weights; load your fine-tuned one with learn.load_encoder(name). ({e})",
                stacklevel=2,
            )
    init = {
        "kind": "clas",
        "vocab_sz": len(data.vocab.itos),
        "config": dataclasses.asdict(cfg),
        "drop_mult": float(drop_mult),
        "n_class": int(data.c),
        "bptt": bptt,
        "max_len": max_len,
        "lin_ftrs": None if lin_ftrs is None else [int(n) for n in lin_ftrs],
        "ps": None if ps is None else [float(p) for p in ps],
    }
    model = build_text_model(**init)
    if files is not None:
        load_pretrained(model, files[0], files[1], data.vocab.itos)
    if learn_kwargs.get("metrics") is None:
        if isinstance(y, MultiCategoryList):
            learn_kwargs["metrics"] = [accuracy_thresh]
        elif isinstance(y, CategoryList):
            learn_kwargs["metrics"] = [accuracy]
    learn = RNNLearner(data, model, awd_lstm_clas_split, alpha=alpha, beta=beta, **learn_kwargs)
    learn.model_init = {"cls": "text.build_text_model", "kwargs": init}
    if files is not None:
        learn.freeze()
    return learn

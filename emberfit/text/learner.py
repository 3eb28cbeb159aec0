"""ULMFiT's two learner factories: ``language_model_learner`` and ``text_classifier_learner``.

The language model is an AWD-LSTM with a tied decoder (4 layer groups: the three LSTMs, then
embedding + decoder, so ``freeze()`` trains the embedding and decoder only); the classifier
reads a document in ``bptt`` chunks and pools it into a small head (5 layer groups, so
``slice(lr/2.6**4, lr)`` spaces the learning rates by 2.6). With ``pretrained=True`` both start
from pretrained weights (:mod:`emberfit.text.weights` finds them) and ``freeze()``.
``export()`` / ``load_learner()`` carry the model settings, the vocabulary and the tokenizer
rules as JSON.

The learners themselves: :class:`~emberfit.text.rnn_learner.RNNLearner` (encoder save/load,
``predict_texts``), :class:`~emberfit.text.language_learner.LanguageLearner` (generation), and
the AR/TAR callback :class:`~emberfit.text.rnn_regularizer.RNNRegularizer`.

>>> # data_lm = TextLMDataBunch.from_csv(path, 'texts.csv')
>>> # learn = language_model_learner(data_lm, AWD_LSTM, drop_mult=0.3)
>>> # learn.fit_one_cycle(1, 1e-2, moms=(0.8, 0.7)); learn.save_encoder('fine_tuned_enc')
>>> # learn.predict('I liked this movie because', 40, temperature=0.75)
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.data import DataBunch
from ..core.metrics import Perplexity, accuracy, accuracy_thresh
from .databunch import TextLMDataBunch
from .language_learner import LanguageLearner
from .models.awd_lstm import AWD_LSTM, AWDLSTMConfig, awd_lstm_clas_config, awd_lstm_lm_config
from .models.build import awd_lstm_clas_split, awd_lstm_lm_split, build_text_model
from .processor import TextProcessor
from .rnn_learner import RNNLearner
from .weights.convert import load_pretrained
from .weights.find import choose_pretrained

__all__ = ["language_model_learner", "text_classifier_learner"]


# ------------------------------------------------------------------------------- checks
def _check_text_data(data: DataBunch, lm: bool, fn: str) -> None:
    """Refuse data that is not text, or the other kind of text data (LM vs labelled)."""
    if not isinstance(data, DataBunch) or not isinstance(data.processor, TextProcessor):
        raise TypeError(
            f"{fn} needs a text DataBunch (TextLMDataBunch / TextClasDataBunch or TextList...databunch()), "
            f"got {type(data).__name__}"
        )
    if isinstance(data, TextLMDataBunch) != lm:
        want = (
            "language-model data (label_for_lm / TextLMDataBunch)"
            if lm
            else "labelled data (TextClasDataBunch)"
        )
        other = "text_classifier_learner" if lm else "language_model_learner"
        raise TypeError(f"{fn} needs {want}; this DataBunch is the other kind (use {other} for it)")


def _check_arch(arch: Any, fn: str) -> None:
    """Refuse any architecture but AWD-LSTM (the argument exists for fastai's call signature)."""
    if arch is not AWD_LSTM and arch != "AWD_LSTM":
        raise ValueError(
            f"{fn}: arch must be AWD_LSTM (the only architecture emberfit implements), got {arch!r}"
        )


def _check_lengths(bptt: int, max_len: int) -> None:
    for name, v in (("bptt", bptt), ("max_len", max_len)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


# ------------------------------------------------------------------------------- steps
def _pretrained_files(
    data: DataBunch, cfg: AWDLSTMConfig, config_given: bool, fnames, model, learn_kwargs: dict
) -> tuple[tuple[Path, Path], AWDLSTMConfig]:
    """The pretrained files for ``cfg`` (looked up next to the learner's own files first), and the config to build."""
    return choose_pretrained(
        cfg,
        config_given,
        fnames,
        model,
        path=learn_kwargs.get("path") or data.path,
        model_dir=learn_kwargs.get("model_dir", "models"),
        backwards=bool(getattr(data.train_dl, "backwards", False)),
    )


def _warn_random_encoder(e: FileNotFoundError) -> None:
    """The classifier's missing pretrained weights only warn: the lesson loads its own encoder next."""
    warnings.warn(
        f"text_classifier_learner(pretrained=True): no pretrained weights found, the encoder starts from "
        f"random weights; load your fine-tuned one with learn.load_encoder(name). ({e})",
        stacklevel=3,  # the user's call of text_classifier_learner
    )


def _classifier_metrics(data: DataBunch) -> list | None:
    """Accuracy for single-label classes, accuracy over a threshold for multi-label, none for regression."""
    if data.classes is None:
        return None
    return [accuracy_thresh] if data.multi_label else [accuracy]


def _model_init(kind: str, data: DataBunch, cfg: AWDLSTMConfig, drop_mult: float, **head) -> dict:
    """The arguments of ``build_text_model`` (JSON only: an export stores them to rebuild the model)."""
    init = {"kind": kind, "vocab_sz": len(data.vocab.itos), "config": dataclasses.asdict(cfg)}
    return {**init, "drop_mult": float(drop_mult), **head}


def _make_learner(
    learner_cls: type[RNNLearner],
    data: DataBunch,
    init: dict,
    files: tuple[Path, Path] | None,
    split: Callable,
    alpha: float,
    beta: float,
    learn_kwargs: dict,
) -> RNNLearner:
    """Build the model from ``init`` (what an export stores), load the pretrained ``files`` and freeze, or not."""
    model = build_text_model(**init)
    if files is not None:
        load_pretrained(model, files[0], files[1], data.vocab.itos)
    learn = learner_cls(data, model, split, alpha=alpha, beta=beta, **learn_kwargs)
    learn.model_init = {"cls": "text.build_text_model", "kwargs": init}
    if files is not None:
        learn.freeze()
    return learn


# ------------------------------------------------------------------------------- factories
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

    >>> df = pd.DataFrame({"text": ["a good film", "a bad film", "good fun", "so bad , so dull"] * 6,
    ...                    "label": ["pos", "neg", "pos", "neg"] * 6})
    >>> data_lm = TextLMDataBunch.from_df(".", df[:16], df[16:], text_cols="text", bs=4, bptt=5)
    >>> learn = language_model_learner(data_lm, AWD_LSTM, config=awd_lstm_small_lm_config, pretrained=False)
    >>> type(learn).__name__, len(learn.layer_groups)  # 3 LSTMs, then embedding + decoder
    ('LanguageLearner', 4)

    The lesson's call (WikiText-103 weights): ``language_model_learner(data_lm, AWD_LSTM, drop_mult=0.3)``.
    """
    _check_arch(arch, "language_model_learner")
    _check_text_data(data, lm=True, fn="language_model_learner")
    cfg = AWDLSTMConfig.from_any(config, awd_lstm_lm_config)
    files = None
    if pretrained or pretrained_model is not None or pretrained_fnames is not None:
        files, cfg = _pretrained_files(
            data, cfg, config is not None, pretrained_fnames, pretrained_model, learn_kwargs
        )
    init = _model_init("lm", data, cfg, drop_mult)
    if learn_kwargs.get("metrics") is None:
        learn_kwargs["metrics"] = [accuracy, Perplexity()]
    return _make_learner(LanguageLearner, data, init, files, awd_lstm_lm_split, alpha, beta, learn_kwargs)


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

    >>> df = pd.DataFrame({"text": ["a good film", "a bad film", "good fun", "so bad , so dull"] * 6,
    ...                    "label": ["pos", "neg", "pos", "neg"] * 6})
    >>> data = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4)
    >>> learn = text_classifier_learner(data, AWD_LSTM, config=awd_lstm_small_clas_config, pretrained=False)
    >>> type(learn).__name__, len(learn.layer_groups)  # embedding, 3 LSTMs, head
    ('RNNLearner', 5)

    The lesson: ``learn = text_classifier_learner(data_clas, AWD_LSTM, drop_mult=0.5)``, then
    ``learn.load_encoder('fine_tuned_enc')`` and ``learn.fit_one_cycle(1, 2e-2, moms=(0.8, 0.7))``.
    """
    _check_arch(arch, "text_classifier_learner")
    _check_text_data(data, lm=False, fn="text_classifier_learner")
    cfg = AWDLSTMConfig.from_any(config, awd_lstm_clas_config)
    _check_lengths(bptt, max_len)
    files = None
    if pretrained:
        try:
            files, cfg = _pretrained_files(data, cfg, config is not None, None, None, learn_kwargs)
        except FileNotFoundError as e:
            _warn_random_encoder(e)
    lin_ftrs = None if lin_ftrs is None else [int(n) for n in lin_ftrs]
    ps = None if ps is None else [float(p) for p in ps]
    init = _model_init("clas", data, cfg, drop_mult, n_class=int(data.c), bptt=bptt, max_len=max_len,
                       lin_ftrs=lin_ftrs, ps=ps)  # fmt: skip
    if learn_kwargs.get("metrics") is None:
        learn_kwargs["metrics"] = _classifier_metrics(data)
    return _make_learner(RNNLearner, data, init, files, awd_lstm_clas_split, alpha, beta, learn_kwargs)

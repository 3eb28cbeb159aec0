"""``RNNLearner``: the Learner of the AWD-LSTM models (what ``text_classifier_learner`` returns).

It trains with the AR/TAR regulariser (:class:`RNNRegularizer`), carries the fine-tuned encoder
from the language model to the classifier (``save_encoder`` / ``load_encoder``: safetensors with
the vocabulary, so a mismatch is caught), predicts many raw texts at once (``predict_texts``), and
exports its regulariser settings with the model. The language model's generation is in
:class:`emberfit.text.language_learner.LanguageLearner`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from torch import Tensor, nn

from ..core.data import DataBunch
from ..core.distributed import unwrap
from ..core.io import load_tensors, save_tensors
from ..core.learner import Learner
from ..core.registry import register
from .interpret import TextClassificationInterpretation
from .loaders import SortishLoader
from .models.awd_lstm import AWD_LSTM
from .models.build import awd_lstm_clas_split, awd_lstm_lm_split
from .models.heads import LinearDecoder, MultiBatchEncoder
from .rnn_regularizer import RNNRegularizer
from .weights.files import load_weights

__all__ = ["RNNLearner"]


class _FirstOutput:
    """A loss on the model's prediction only (the text models also return their encoder outputs)."""

    def __init__(self, func: Callable):
        self.func = func
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, out, targ, **kwargs):
        return self.func(out[0] if isinstance(out, tuple) else out, targ, **kwargs)


@register("learner", "text.RNNLearner")
class RNNLearner(Learner):
    """A Learner for AWD-LSTM models: AR/TAR, encoder save/load, batch prediction on raw texts.

    ``text_classifier_learner`` returns one; ``language_model_learner`` a :class:`LanguageLearner`.
    ``learn.interpret()`` of a classifier is a :class:`TextClassificationInterpretation`.

    >>> df = pd.DataFrame({"text": ["a good film", "a bad film", "good fun", "so bad , so dull"] * 6,
    ...                    "label": ["pos", "neg", "pos", "neg"] * 6})
    >>> data = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4)
    >>> learn = text_classifier_learner(data, AWD_LSTM, config=awd_lstm_small_clas_config, pretrained=False)
    >>> list(learn.predict_texts(["a good film", "so dull"]).columns)
    ['prediction', 'proba_neg', 'proba_pos']
    """

    classification_interpretation = TextClassificationInterpretation

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
        return "lm" if isinstance(unwrap(self.model)[-1], LinearDecoder) else "clas"

    def _encoder(self) -> AWD_LSTM:
        """The AWD-LSTM inside the language model or the classifier."""
        first = unwrap(self.model)[0]
        return first.module if isinstance(first, MultiBatchEncoder) else first

    @property
    def backwards(self) -> bool:
        """Whether the model reads text from the end (a language model then generates what comes before a prompt)."""
        return bool(getattr(self.data.train_dl, "backwards", False))

    def _itos(self) -> list[str]:
        return list(self.data.vocab.itos)

    # -- encoder ----------------------------------------------------------------------------
    def save_encoder(self, name: str | os.PathLike) -> Path:
        """Save the encoder's weights and vocabulary to ``path/model_dir/name.safetensors``.

        >>> # learn.save_encoder('fine_tuned_enc')
        """
        enc = self._encoder()
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
        enc = self._encoder()
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
        self._check_texts(texts, bs)
        index = texts.index if isinstance(texts, pd.Series) else pd.RangeIndex(len(texts))
        probs = self.get_preds(dl=self._texts_loader(list(texts), bs))[0]
        return self._preds_frame(probs, index)

    def _check_texts(self, texts, bs: int) -> None:
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

    def _texts_loader(self, texts: list[str], bs: int) -> SortishLoader:
        """Raw texts tokenized and numericalized as the training data was, in length-sorted batches."""
        proc = self.data.processor
        ids, offsets = proc.numericalize_corpus(proc.tokenize(proc.texts(texts)))
        pad_idx = self._encoder().pad_token
        return SortishLoader(
            ids, offsets, None, bs=bs, pad_idx=pad_idx, backwards=self.backwards, device=self.data.device
        )

    def _preds_frame(self, probs: Tensor, index: pd.Index) -> pd.DataFrame:
        """Predictions decoded as the labels read: the class (multi-label: those above 0.5, joined by ``;``)
        and one ``proba_<class>`` column per class; for regression the values (``exp`` of ``log=True`` labels)."""
        data = self.data
        if data.classes is None:
            vals = (probs.exp() if data.log_labels else probs).numpy().reshape(len(index), -1)
            cols = ["prediction"] if vals.shape[1] == 1 else [f"prediction_{j}" for j in range(vals.shape[1])]
            return pd.DataFrame(vals, columns=cols, index=index)
        names = np.asarray(data.classes, dtype=object)
        if data.multi_label:
            pred = [";".join(names[r]) for r in (probs > 0.5).numpy()]
        else:
            pred = names[probs.argmax(1).numpy()]
        res = pd.DataFrame({"prediction": pred}, index=index)
        for j, c in enumerate(data.classes):
            res[f"proba_{c}"] = probs[:, j].numpy()
        return res

    # -- export -------------------------------------------------------------------------------
    def export_extra(self) -> dict:
        reg = next((c for c in self.callbacks if isinstance(c, RNNRegularizer)), None)
        return {"kind": self._kind, "alpha": reg.alpha if reg else 0.0, "beta": reg.beta if reg else 0.0}

    def restore_extra(self, state: dict) -> None:
        split = awd_lstm_lm_split if state.get("kind") == "lm" else awd_lstm_clas_split
        self._setup_rnn(split, state.get("alpha", 2.0), state.get("beta", 1.0))

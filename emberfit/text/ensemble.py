"""A forward and a backward ULMFiT classifier together: average their probabilities (the paper's "bidirectional" result).

Train one classifier on data built with the default reading order and one on the same
documents with ``backwards=True`` (its encoder fine-tuned from a backwards language model,
``emberfit pretrain --backwards``), then::

    probs, targets = ensemble_preds([learn_fwd, learn_bwd], DatasetType.Valid)
    accuracy = (probs.argmax(1) == targets).float().mean()

Both learners return predictions in dataset order (their loaders' ``order`` is undone), so
the rows line up as long as both DataBunches hold the same documents in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch

from ..core.data import DatasetType
from ..core.learner import Learner

__all__ = ["ensemble_preds", "ensemble_accuracy", "ensemble_predict_texts"]


def _check(learners: Sequence[Learner], weights: Sequence[float] | None) -> torch.Tensor:
    if isinstance(learners, Learner) or not learners:
        raise TypeError(
            "learners must be a non-empty list of classifier learners, e.g. [learn_fwd, learn_bwd]"
        )
    for i, learn in enumerate(learners):
        if not isinstance(learn, Learner):
            raise TypeError(f"learners[{i}] is a {type(learn).__name__}, not a Learner")
    w = torch.ones(len(learners)) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    if w.shape != (len(learners),) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {len(learners)} non-negative numbers, not all 0; got {weights!r}")
    return w / w.sum()


def ensemble_preds(
    learners: Sequence[Learner],
    ds_type: DatasetType = DatasetType.Valid,
    weights: Sequence[float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(probabilities, targets)`` of ``ds_type``: each learner's probabilities, averaged (weighted by ``weights``).

    >>> df = pd.DataFrame({"text": ["a good film", "a bad film", "good fun", "so bad , so dull"] * 6,
    ...                    "label": ["pos", "neg", "pos", "neg"] * 6})
    >>> fwd = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4)
    >>> bwd = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4,
    ...                                 vocab=fwd.vocab, backwards=True)
    >>> learners = [text_classifier_learner(d, AWD_LSTM, config=awd_lstm_small_clas_config, pretrained=False)
    ...             for d in (fwd, bwd)]
    >>> probs, y = ensemble_preds(learners, DatasetType.Valid)  # accuracy: (probs.argmax(1) == y).float().mean()
    >>> tuple(probs.shape), tuple(y.shape)
    ((8, 2), (8,))
    """
    w = _check(learners, weights)
    each, targets = _each_preds(learners, ds_type)
    return sum(p * wi for p, wi in zip(each, w.tolist())), targets


def _each_preds(learners: Sequence[Learner], ds_type: DatasetType) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Every learner's probabilities on ``ds_type`` (one ``get_preds`` each), checked to cover the same set."""
    each, targets = [], None
    for i, learn in enumerate(learners):
        p, y = learn.get_preds(ds_type)[:2]
        if targets is not None and (p.shape != each[0].shape or not torch.equal(y, targets)):
            raise ValueError(
                f"learners[{i}] predicts a different set ({tuple(p.shape)} vs {tuple(each[0].shape)}, or other "
                "targets): build every learner's data from the same documents in the same order (only backwards differs)"
            )
        each.append(p)
        targets = y
    return each, targets


def ensemble_accuracy(
    learners: Sequence[Learner],
    ds_type: DatasetType = DatasetType.Valid,
    weights: Sequence[float] | None = None,
) -> dict:
    """Accuracy of each learner and of their average on ``ds_type`` (single-label classifiers).

    >>> df = pd.DataFrame({"text": ["a good film", "a bad film", "good fun", "so bad , so dull"] * 6,
    ...                    "label": ["pos", "neg", "pos", "neg"] * 6})
    >>> fwd = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4)
    >>> bwd = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4,
    ...                                 vocab=fwd.vocab, backwards=True)
    >>> learners = [text_classifier_learner(d, AWD_LSTM, config=awd_lstm_small_clas_config, pretrained=False)
    ...             for d in (fwd, bwd)]
    >>> acc = ensemble_accuracy(learners)  # trained: {'each': [0.93, 0.92], 'ensemble': 0.94}
    >>> sorted(acc), len(acc["each"])
    (['each', 'ensemble'], 2)
    """
    w = _check(learners, weights)
    preds, y = _each_preds(learners, ds_type)  # one pass over the data per learner
    probs = sum(p * wi for p, wi in zip(preds, w.tolist()))
    each = [float((p.argmax(1) == y).float().mean()) for p in preds]
    return {"each": each, "ensemble": float((probs.argmax(1) == y).float().mean())}


def ensemble_predict_texts(
    learners: Sequence[Learner], texts: Sequence[str], weights: Sequence[float] | None = None, bs: int = 64
) -> pd.DataFrame:
    """Predict raw texts with several text classifiers; the ``proba_<class>`` columns are averaged.

    Each learner reads the texts its own way (a backwards classifier reversed).

    >>> df = pd.DataFrame({"text": ["a good film", "a bad film", "good fun", "so bad , so dull"] * 6,
    ...                    "label": ["pos", "neg", "pos", "neg"] * 6})
    >>> fwd = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4)
    >>> bwd = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4,
    ...                                 vocab=fwd.vocab, backwards=True)
    >>> learners = [text_classifier_learner(d, AWD_LSTM, config=awd_lstm_small_clas_config, pretrained=False)
    ...             for d in (fwd, bwd)]
    >>> list(ensemble_predict_texts(learners, ["Loved it!", "Dreadful."]).columns)
    ['prediction', 'proba_neg', 'proba_pos']
    """
    w = _check(learners, weights)
    frames = [learn.predict_texts(texts, bs=bs) for learn in learners]
    cols = [c for c in frames[0].columns if c.startswith("proba_")]
    if not cols or any(list(f.columns) != list(frames[0].columns) for f in frames):
        raise ValueError(
            "ensemble_predict_texts needs single- or multi-label classifiers with the same classes"
        )
    out = sum(f[cols] * wi for f, wi in zip(frames, w.tolist()))
    classes = [c[len("proba_") :] for c in cols]
    out.insert(0, "prediction", [classes[i] for i in out.to_numpy().argmax(1)])
    return out

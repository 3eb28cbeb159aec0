"""Text data from ids or tokens made elsewhere: the work behind fastai v1's ``from_ids`` / ``from_tokens``.

``TextDataBunch.from_ids`` / ``from_tokens`` (:mod:`emberfit.text.databunch`) call these. Documents
are lists (or arrays) of ids, or of tokens; nothing is tokenized again. The lists they make are
ordinary processed :class:`~emberfit.text.item_lists.TextList` s (``ids`` + ``offsets``), labelled
like any other: the same loaders, ``show_batch``, ``save`` / ``load_data`` and learners.

>>> vocab = Vocab(["xxunk", "xxpad", "xxbos", "good", "bad"])
>>> lists = prepared_lists(".", vocab, [[2, 3], [2, 4]], [[2, 3, 3]], None)
>>> [str(lists.train.get(i)) for i in range(2)], str(lists.valid.get(0))
(['xxbos good', 'xxbos bad'], 'xxbos good good')
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.data_block.labelling import LabelList, LabelLists
from ..core.data_block.labels import CategoryList, EmptyLabelList, MultiCategoryList
from ..core.data_block.one_hot import one_hot_labels
from .item_lists import TextItemLists, TextList
from .processor import TextProcessor
from .vocab import Vocab

__all__ = ["prepared_lists", "label_prepared", "ids_of_tokens", "ragged_ids"]


def ragged_ids(docs: Any, n_vocab: int, arg: str) -> tuple[np.ndarray, np.ndarray]:
    """Documents of ids -> flat int32 ``ids`` and int64 ``offsets``, each id checked against the vocabulary."""
    if isinstance(docs, (str, bytes)) or not hasattr(docs, "__len__"):
        raise TypeError(
            f"{arg} must be a list of documents, each a list or array of ids, got {type(docs).__name__}"
        )
    arrays = []
    for i, d in enumerate(docs):
        a = np.asarray(d)
        if isinstance(d, str) or a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
            raise TypeError(
                f"{arg}[{i}] must be a list or 1-d array of integer ids, got {type(d).__name__} {str(d)[:40]!r}; "
                "for token strings use from_tokens, for raw texts from_df"
            )
        arrays.append(a.astype(np.int64, copy=False))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    ids = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    bad = (ids < 0) | (ids >= n_vocab)
    if bad.any():
        doc = int(np.searchsorted(offsets, np.argmax(bad), side="right") - 1)
        raise ValueError(
            f"{arg}[{doc}] holds the id {int(ids[np.argmax(bad)])}, outside the vocabulary of {n_vocab} tokens "
            "(0 to len(vocab.itos) - 1); numericalize with the same vocab you pass"
        )
    return ids.astype(np.int32), offsets


def ids_of_tokens(docs: Any, vocab: Vocab, arg: str) -> list[list[int]]:
    """Documents of token strings -> documents of ids (unknown tokens -> 0, ``xxunk``)."""
    check_token_docs(docs, arg)
    return [vocab.numericalize(d) for d in docs]


def check_token_docs(docs: Any, arg: str) -> None:
    if isinstance(docs, (str, bytes)) or not hasattr(docs, "__len__"):
        raise TypeError(
            f"{arg} must be a list of documents, each a list of token strings, got {type(docs).__name__}"
        )
    for i, d in enumerate(docs):
        if isinstance(d, str) or not all(isinstance(t, str) for t in d):
            raise TypeError(
                f"{arg}[{i}] must be a list of token strings (a tokenized text), got {str(d)[:40]!r}; "
                "tokenize raw texts first (Tokenizer().process_all) or use from_df"
            )


def prepared_lists(
    path: str | Path, vocab: Vocab, train_ids: Any, valid_ids: Any, processor: TextProcessor | None, **kwargs
) -> TextItemLists:
    """Train and valid :class:`TextList` s over ready ids, sharing one fitted processor around ``vocab``."""
    proc = processor if processor is not None else TextProcessor.from_vocab(vocab)
    lists = [
        TextList.from_ids(
            *ragged_ids(docs, len(vocab.itos), arg), processor=proc, path=path, vocab=vocab, **kwargs
        )
        for docs, arg in ((train_ids, "train_ids"), (valid_ids, "valid_ids"))
    ]
    return TextItemLists(path, *lists)


def label_prepared(
    src: TextItemLists, lm: bool, train_lbls: Any, valid_lbls: Any, classes: Sequence | None
) -> LabelLists:
    """Label ready lists: for a language model, or with v1's label lists (indices into ``classes``...)."""
    if lm:
        return src.label_for_lm()
    if train_lbls is None or valid_lbls is None:
        raise ValueError(
            "a classifier needs train_lbls and valid_lbls (one label per document); "
            "for a language model use TextLMDataBunch"
        )
    y_train, y_valid = np.asarray(train_lbls), np.asarray(valid_lbls)
    for y, x, arg in ((y_train, src.train, "train_lbls"), (y_valid, src.valid, "valid_lbls")):
        if len(y) != len(x):
            raise ValueError(f"{arg} has {len(y)} labels for {len(x)} documents; give one label per document")
    y_train, y_valid, label_cls, kw = _v1_labels(y_train, y_valid, classes)
    return src._label(y_train, y_valid, label_cls, **kw)


def add_prepared_test(lls: LabelLists, test_ids: Any, path: str | Path) -> None:
    """A test set of ready ids (unlabelled), processed like the training set."""
    proc = lls.train.x.processor
    x = TextList.from_ids(*ragged_ids(test_ids, len(proc.vocab.itos), "test_ids"), processor=proc, path=path)
    y = EmptyLabelList(np.zeros(len(x)), path=path)
    y.like = lls.train.y
    lls.test = LabelList(x, y)


def _v1_labels(y_train: np.ndarray, y_valid: np.ndarray, classes: Sequence | None) -> tuple:
    """v1's meaning of label lists: rows of 0/1 are one-hot multi-labels, ints with ``classes`` index them."""
    if y_train.ndim == 2:
        names = list(classes) if classes is not None else list(range(y_train.shape[1]))
        if len(names) != y_train.shape[1]:
            raise ValueError(
                f"classes has {len(names)} names for one-hot labels of {y_train.shape[1]} columns; give one per column"
            )
        return one_hot_labels(names, y_train, y_valid, MultiCategoryList, {"classes": names})
    if classes is None:
        return y_train, y_valid, None, {}
    classes = list(classes)
    if y_train.dtype.kind in "iu" and y_valid.dtype.kind in "iu":  # v1: indices into classes
        for y, arg in ((y_train, "train_lbls"), (y_valid, "valid_lbls")):
            if y.size and (y.min() < 0 or y.max() >= len(classes)):
                raise ValueError(
                    f"{arg} holds class index {int(y.max() if y.max() >= len(classes) else y.min())}, outside "
                    f"classes={classes[:10]} (0 to {len(classes) - 1}); labels with classes are indices into it"
                )
        names = np.empty(len(classes), dtype=object)
        names[:] = classes
        return names[y_train], names[y_valid], CategoryList, {"classes": classes}
    return y_train, y_valid, None, {"classes": classes}

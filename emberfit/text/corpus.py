"""Pretraining corpora: tokenized (cached), numericalized with one vocabulary, and made into DataBunches.

:func:`prepare_corpus` reads each source (:func:`~emberfit.text.corpus_files.read_corpus`
gives the formats), tokenizes it with the cached tokenizer (a second run over the same files
only reads the cache), builds the vocabulary and returns an :class:`LMCorpus`: flat int32 ids
plus offsets, as the text loaders read them. :func:`lm_databunch_from_arrays` and
:func:`clas_databunch_from_arrays` build DataBunches straight from such ids, with a processor
made from the vocabulary (nothing is tokenized again).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.data_block.labelling import LabelList, LabelLists
from ..core.data_block.labels import CategoryList
from .blanks import drop_blank_tokens
from .corpus_files import read_corpus
from .item_lists import LMTextList, TextList
from .lm_labels import LMLabelList
from .loaders import ragged_take
from .processor import TextProcessor
from .rules import BOS
from .settings import TextSettings
from .token_store import concat_corpora, default_cache_dir
from .tokenizer import Tokenizer
from .vocab import Vocab

__all__ = ["LMCorpus", "prepare_corpus", "lm_databunch_from_arrays", "clas_databunch_from_arrays"]


@dataclass
class LMCorpus:
    """Numericalized documents (flat int32 ``ids`` + int64 ``offsets``), their groups and sources, and the vocabulary."""

    ids: np.ndarray
    offsets: np.ndarray
    itos: list[str]
    groups: np.ndarray  # per document; documents of one group stay on one side of the split
    sources: np.ndarray  # per document: index into source_names
    source_names: list[str] = field(default_factory=list)

    def __post_init__(self):
        n = len(self.offsets) - 1
        if len(self.groups) != n or len(self.sources) != n:
            raise ValueError(f"{n} documents but {len(self.groups)} groups and {len(self.sources)} sources")

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    def split(self, valid_pct: float, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
        """Random (train, valid) document indices: ``valid_pct`` of the groups of each source go to valid."""
        if not 0 < valid_pct < 1:
            raise ValueError(f"valid_pct must be in (0, 1), got {valid_pct!r}")
        rng = np.random.default_rng(seed)  # its own generator: the split never moves torch's RNG
        valid = np.zeros(self.n_docs, dtype=bool)
        for s in range(len(self.source_names) or 1):
            groups = np.unique(self.groups[self.sources == s])
            k = max(1, round(valid_pct * len(groups))) if len(groups) > 1 else 0
            valid |= np.isin(self.groups, rng.permutation(groups)[:k]) & (self.sources == s)
        if valid.all() or not valid.any():
            raise ValueError(
                f"valid_pct={valid_pct} leaves no {'training' if valid.all() else 'validation'} documents; the corpus "
                "needs at least two documents"
            )
        return np.nonzero(~valid)[0], np.nonzero(valid)[0]

    def source_stats(self) -> list[dict]:
        """Documents and tokens per source."""
        lengths = np.diff(self.offsets)
        return [
            {
                "source": name,
                "documents": int((self.sources == i).sum()),
                "tokens": int(lengths[self.sources == i].sum()),
            }
            for i, name in enumerate(self.source_names)
        ]


def prepare_corpus(
    paths: Sequence[str | os.PathLike],
    max_vocab: int = TextSettings.max_vocab,  # the data-block defaults (60000, 3)
    min_freq: int = TextSettings.min_freq,
    text_field: str = "text",
    text_col: str = "text",
    tokenizer: Tokenizer | None = None,
    cache: bool = True,
    log=print,
) -> LMCorpus:
    """Read, tokenize (each source cached on disk) and numericalize corpora, with a vocabulary built from all of them.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("Hi there. Hi!")
    >>> c = prepare_corpus([d], min_freq=1, log=None); c.n_docs, c.itos[c.ids[1]]
    (1, 'xxmaj')
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise ValueError("prepare_corpus needs at least one corpus path")
    tok = tokenizer or Tokenizer()
    corpora, groups, sources, names = [], [], [], []
    g0 = 0
    for i, p in enumerate(paths):
        texts, grp = read_corpus(p, text_field, text_col)
        if not texts:
            raise ValueError(f"corpus {p} holds no documents")
        if all(not t.removeprefix(BOS).strip() for t in texts):  # a model of nothing but xxbos
            raise ValueError(
                f"corpus {p}: all {int(grp.max()) + 1} documents are empty or only whitespace; the texts are "
                f"read from the field text_field={text_field!r} (.jsonl) or the column text_col={text_col!r} "
                "(.csv): check those names (--text-field, --text-col)"
            )
        if log:
            log(f"tokenizing {p}: {int(grp.max()) + 1} documents in {len(texts)} pieces", flush=True)
        cache_dir = default_cache_dir() if cache else None
        corpora.append(tok.process_corpus(texts, cache_dir=cache_dir, progress=log is not None))
        groups.append(grp + g0)
        g0 += int(grp.max()) + 1
        sources.append(np.full(len(texts), i, dtype=np.int16))
        names.append(Path(p).name or str(p))
    corpus = drop_blank_tokens(concat_corpora(corpora))  # no bare-whitespace tokens in vocab or ids
    vocab = Vocab.create(corpus, max_vocab=max_vocab, min_freq=min_freq)
    ids = vocab.numericalize_corpus(corpus, dtype=np.int32)
    if log:
        log(f"{corpus.n_tokens:,} tokens, vocabulary of {len(vocab.itos):,}", flush=True)
    return LMCorpus(
        ids, corpus.offsets, list(vocab.itos), np.concatenate(groups), np.concatenate(sources), names
    )


# ----------------------------------------------------------------- DataBunches from ready arrays
def _split_lists(
    cls: type[TextList], ids, offsets, splits, proc: TextProcessor, path: Path
) -> list[TextList]:
    """The documents of each split (document indices) as processed lists of ``cls``, sharing ``proc``."""
    ids, offsets = np.asarray(ids), np.asarray(offsets, dtype=np.int64)
    out = []
    for idx in splits:
        sub_ids, sub_offsets = ragged_take(ids, offsets, np.asarray(idx, dtype=np.int64))
        out.append(cls.from_ids(sub_ids, sub_offsets, proc, path))
    return out


def lm_databunch_from_arrays(
    ids: np.ndarray,
    offsets: np.ndarray,
    itos: Sequence[str],
    train_idx: np.ndarray,
    valid_idx: np.ndarray,
    bs: int = 64,
    val_bs: int | None = None,
    bptt: int = 70,
    backwards: bool = False,
    bptt_jitter: bool = False,
    device=None,
    path: str | os.PathLike = ".",
):
    """A ``TextLMDataBunch`` over already numericalized documents (no tokenizing), for ``language_model_learner``.

    >>> ids, offsets = np.arange(40) % 12, np.array([0, 20, 30, 40])
    >>> data = lm_databunch_from_arrays(ids, offsets, [f"t{i}" for i in range(12)], [0, 1], [2], bs=2, bptt=5, device="cpu")
    >>> data.one_batch()[0].shape
    torch.Size([2, 5])
    """
    path = Path(path)
    xs = _split_lists(LMTextList, ids, offsets, (train_idx, valid_idx), TextProcessor.from_vocab(itos), path)
    lls = LabelLists(path, *(LabelList(x, LMLabelList.for_items(x, path)) for x in xs))
    return lls.databunch(
        bs=bs, val_bs=val_bs, device=device, bptt=bptt, backwards=backwards, bptt_jitter=bptt_jitter
    )


def clas_databunch_from_arrays(
    ids: np.ndarray,
    offsets: np.ndarray,
    labels: np.ndarray,
    classes: Sequence,
    itos: Sequence[str],
    train_idx: np.ndarray,
    valid_idx: np.ndarray,
    test_idx: np.ndarray | None = None,
    bs: int = 64,
    val_bs: int | None = None,
    backwards: bool = False,
    device=None,
    path: str | os.PathLike = ".",
):
    """A ``TextClasDataBunch`` over numericalized documents with integer labels (codes into ``classes``).

    The test split, if given, keeps its labels (``get_preds(DatasetType.Test)`` returns them).

    >>> ids, offsets = np.arange(12) % 5, np.array([0, 3, 6, 9, 12])
    >>> data = clas_databunch_from_arrays(ids, offsets, np.array([0, 1, 0, 1]), ["neg", "pos"], list("abcde"), [0, 1], [2, 3], bs=2, device="cpu")
    >>> data.c, data.one_batch()[0].shape
    (2, torch.Size([2, 3]))
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(offsets) - 1:
        raise ValueError(f"{len(offsets) - 1} documents but {len(labels)} labels")
    path = Path(path)
    splits = [np.asarray(idx, dtype=np.int64) for idx in (train_idx, valid_idx, test_idx) if idx is not None]
    xs = _split_lists(TextList, ids, offsets, splits, TextProcessor.from_vocab(itos), path)
    # The labels are codes already: CategoryList's rebuild-from-codes constructor takes them as they are.
    ys = [
        CategoryList.from_state(
            {"codes": torch.from_numpy(labels[idx])}, {"classes": list(classes)}, path, {}
        )
        for idx in splits
    ]
    lls = LabelLists(path, *(LabelList(x, y) for x, y in zip(xs, ys)))
    return lls.databunch(bs=bs, val_bs=val_bs, device=device, backwards=backwards)

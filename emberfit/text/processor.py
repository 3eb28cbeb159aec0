"""The text processor: tokenizes a list's texts (once, cached) and numericalizes them with a vocabulary.

Fitted on the training split, it builds the vocabulary from that split only (unless given
one) and turns every split into flat int32 ids plus int64 offsets. Tokenizing is done once
for the whole list as it was *before* splitting (unless the training split is under a
quarter of it), and cached on disk (``<EMBERFIT_HOME>/cache/tokens``, keyed by a hash of the
texts and the rules; ``cache_dir=False`` turns it off), so a new random split, or the
classifier built after the language model over the same files, reuses the tokens.

>>> proc = TextProcessor.from_vocab(["xxunk", "xxpad", "xxbos", "hi"])
>>> proc.fitted, proc.process_one("Hi there").tolist()
(True, [2, 0, 3, 0])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..core.data_block.items import ItemList
from ..core.data_block.processor import PreProcessor
from ..core.registry import register
from .blanks import check_empty_texts, drop_blank_tokens
from .loaders import ragged_take
from .raw_texts import InputReport, join_texts
from .settings import TextSettings
from .token_store import TokenizedCorpus, default_cache_dir
from .tokenizer import Tokenizer
from .vocab import Vocab

__all__ = ["TextProcessor"]

# Lists at least this long are cached on disk by default (tokenizing fewer takes under a second).
_CACHE_MIN_TEXTS = 1000
# Tokenize the whole pre-split list when the split being fitted is at least this share of it.
_ROOT_MIN_SHARE = 0.25


@register("processor", "text.TextProcessor")
class TextProcessor(PreProcessor):
    """Tokenizes and numericalizes texts; fitted on the training split (vocabulary).

    Args:
        vocab: a ready :class:`Vocab` (e.g. the language model's); then no vocabulary is built.
        settings: a :class:`TextSettings`; keyword ``options`` (``tokenizer``, ``max_vocab``,
            ``min_freq``, ``mark_fields``, ``include_bos``, ``include_eos``, ``cache_dir``,
            ``chunksize``) replace some of them.

    Its JSON state (``itos``, the tokenizer's description, the settings) is what saved data
    and exported learners store.

    >>> proc = TextProcessor(min_freq=1).fit(TextList(["Hello world", "hello"]))
    >>> proc.vocab.itos[9:11], proc.process_one("Hello you").tolist()
    (['hello', 'world'], [2, 5, 9, 0])
    """

    state_attrs = (
        "itos",
        "tokenizer_desc",
        "max_vocab",
        "min_freq",
        "mark_fields",
        "include_bos",
        "include_eos",
    )

    def __init__(self, vocab: Vocab | None = None, settings: TextSettings | None = None, **options):
        super().__init__()
        if vocab is not None and not isinstance(vocab, Vocab):
            raise TypeError(f"vocab must be a Vocab (e.g. data_lm.vocab), got {type(vocab).__name__}")
        s = (settings or TextSettings()).updated(options, "TextProcessor")
        self._vocab = vocab
        self.itos = list(vocab.itos) if vocab is not None else None
        self._tok = s.tokenizer
        self.tokenizer_desc = (s.tokenizer or Tokenizer()).to_json()
        self.max_vocab, self.min_freq = s.max_vocab, s.min_freq
        self.mark_fields, self.include_bos, self.include_eos = s.mark_fields, s.include_bos, s.include_eos
        self.cache_dir, self.chunksize = s.cache_dir, s.chunksize

    @classmethod
    def from_vocab(cls, vocab: Vocab | Sequence[str], **options) -> TextProcessor:
        """A fitted processor around a ready vocabulary (or its ``itos``): there is nothing left to learn.

        For ids numericalized elsewhere, e.g. a pretraining corpus (:mod:`emberfit.text.corpus`).
        """
        proc = cls(vocab=vocab if isinstance(vocab, Vocab) else Vocab(vocab), **options)
        proc.fitted = True  # the vocabulary is the whole fitted state
        return proc

    # The live objects are rebuilt from the JSON state when needed (after loading).
    @property
    def vocab(self) -> Vocab | None:
        if getattr(self, "_vocab", None) is None and self.itos is not None:
            self._vocab = Vocab(self.itos)
        return getattr(self, "_vocab", None)

    @property
    def tokenizer(self) -> Tokenizer:
        if getattr(self, "_tok", None) is None:
            self._tok = Tokenizer.from_json(self.tokenizer_desc)
        return self._tok

    # -- tokenizing -------------------------------------------------------------------------
    def texts(self, raw: Iterable, report: InputReport | None = None) -> list[str]:
        """Raw items -> the strings that are tokenized (with the markers)."""
        return join_texts(raw, self.mark_fields, self.include_bos, self.include_eos, report)

    def tokenize(self, texts: Sequence[str]) -> TokenizedCorpus:
        """Tokenize prepared strings into a flat corpus (using the disk cache when enabled)."""
        cache = getattr(self, "cache_dir", None)
        if cache is None and len(texts) >= _CACHE_MIN_TEXTS:
            cache = default_cache_dir()
        kw = {"chunksize": self.chunksize} if getattr(self, "chunksize", None) else {}
        # the cache holds the tokenizer's output; bare whitespace tokens are dropped after it
        return drop_blank_tokens(self.tokenizer.process_corpus(texts, cache_dir=cache or None, **kw))

    def _corpus(self, items: ItemList, fitting: bool = False) -> tuple[TokenizedCorpus, np.ndarray]:
        """The tokens of ``items`` and which texts are empty, from its pre-split list's when worthwhile."""
        root, idx = getattr(items, "_root", None), getattr(items, "_root_idx", None)
        if root is not None:
            corpus = getattr(root, "_tok_corpus", None)
            if corpus is None and len(items) >= _ROOT_MIN_SHARE * len(root):
                corpus, root._tok_empty = self._tokenize_items(root, fitting)
                root._tok_corpus = corpus
            if corpus is not None:
                ids, offsets = ragged_take(corpus.ids, corpus.offsets, idx)
                return TokenizedCorpus(corpus.vocab, ids, offsets), root._tok_empty[idx]
        return self._tokenize_items(items, fitting)

    def _tokenize_items(self, items: ItemList, fitting: bool = False) -> tuple[TokenizedCorpus, np.ndarray]:
        report = InputReport()
        texts = self.texts(items.items, report)
        what, empty = type(items).__name__, np.asarray(report.empty, dtype=bool)
        # all-empty training texts are refused here, before the tokenizing work
        empty_part = check_empty_texts(empty, what, getattr(items, "_text_cols", None), fitting)
        corpus = self.tokenize(texts)
        report.warn(what, empty_part)
        return corpus, empty

    # -- PreProcessor protocol --------------------------------------------------------------
    def _fit(self, items: ItemList) -> None:
        corpus, empty = self._corpus(items, fitting=True)
        # the training split alone may be all empty when its pre-split list is not: refuse that too
        check_empty_texts(empty, type(items).__name__, getattr(items, "_text_cols", None), fitting=True)
        items._fit_corpus = corpus  # process() reuses it instead of tokenizing twice
        if self.itos is None:
            self._vocab = Vocab.create(corpus, max_vocab=self.max_vocab, min_freq=self.min_freq)
            self.itos = list(self._vocab.itos)

    def process(self, items: ItemList) -> None:
        if getattr(items, "ids", None) is not None:  # numericalized already (TextList.from_ids)
            return
        corpus = items.__dict__.pop("_fit_corpus", None)
        if corpus is None:
            corpus = self._corpus(items)[0]
        items.ids, items.offsets = self.numericalize_corpus(corpus)
        items._root = items._root_idx = None  # release the pre-split list's tokens

    def numericalize_corpus(self, corpus: TokenizedCorpus) -> tuple[np.ndarray, np.ndarray]:
        """A tokenized corpus -> (int32 ids, int64 offsets); unknown tokens become ``xxunk`` (0)."""
        return self.vocab.numericalize_corpus(corpus, dtype=np.int32), corpus.offsets

    def process_one(self, item: Any) -> np.ndarray:
        """One raw text (or row of fields) -> its int64 ids, e.g. for ``predict``."""
        report = InputReport()
        text = self.texts([item], report)
        report.warn("predict")
        corpus = drop_blank_tokens(self.tokenizer.process_corpus(text))
        return self.numericalize_corpus(corpus)[0].astype(np.int64)

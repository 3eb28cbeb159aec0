"""Text item lists for ULMFiT: raw texts -> tokens -> ids, kept as one flat ragged corpus.

``TextList`` holds texts (from a DataFrame) or text files (from a folder). Labelling
fits a :class:`TextProcessor` on the training split: it tokenizes (``xxbos`` first, and
``xxfld k`` before field ``k`` with ``mark_fields``), builds the vocabulary from the
training split only, and turns every split into flat int32 ids plus int64 offsets.
``label_for_lm()`` makes a language-model list (:class:`LMTextList`), any other labelling a
classifier list; ``.databunch()`` then gives a ``TextLMDataBunch`` or ``TextClasDataBunch``.

Tokenizing is done once for the whole list as it was *before* splitting (unless the
training split is under a quarter of it), and cached on disk (``<EMBERFIT_HOME>/cache/tokens``,
keyed by a hash of the texts and the rules; ``cache_dir=False`` turns it off), so a new
random split, or the classifier built after the language model over the same files, reuses
the tokens instead of tokenizing again.

Bad input is handled, never a crash: a missing text (None/NaN) becomes an empty text (just
``xxbos``), a non-string value is converted with ``str()``, undecodable bytes in a file are
replaced by U+FFFD; each kind is counted in one warning, with the texts that are empty or only
whitespace. Training texts that are *all* empty are refused. Tokens of bare whitespace never
reach the vocabulary or the ids (see :mod:`emberfit.text.blanks`).
"""

from __future__ import annotations

import math
import pathlib
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from ..core.data_block import EmptyLabelList, ItemList, ItemLists, LabelList, LabelLists, PreProcessor
from ..core.registry import register
from .blanks import check_empty_texts, drop_blank_tokens
from .loaders import LMLoader, SortishLoader, ragged_take
from .rules import BOS, EOS, FLD
from .token_store import TokenizedCorpus
from .tokenizer import Tokenizer
from .vocab import Vocab

__all__ = [
    "Text",
    "TextProcessor",
    "TextList",
    "LMTextList",
    "LMLabelList",
    "TextItemLists",
    "lm_cross_entropy",
]

# Lists at least this long are cached on disk by default (tokenizing fewer takes under a second).
_CACHE_MIN_TEXTS = 1000
# Tokenize the whole pre-split list when the split being fitted is at least this share of it.
_ROOT_MIN_SHARE = 0.25


class Text:
    """One numericalized text: ``str()`` shows its tokens, ``.data`` gives the ids.

    >>> t = Text(np.array([2, 9]), "xxbos hello"); str(t), t.data.tolist()
    ('xxbos hello', [2, 9])
    """

    def __init__(self, ids: np.ndarray, text: str):
        self.data, self.text = ids, text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Text {self.text}"

    def __len__(self) -> int:
        return len(self.data)

    def __eq__(self, other) -> bool:
        return isinstance(other, Text) and np.array_equal(self.data, other.data)

    __hash__ = None


# ----------------------------------------------------------------------------- raw texts
class _InputReport:
    """Counts the bad inputs met while reading texts, for one warning at the end."""

    def __init__(self):
        self.missing = self.non_str = self.bad_files = self.bad_seqs = 0
        self.non_str_example = self.bad_file_example = None
        self.empty: list[bool] = []  # per text: empty or only whitespace

    def warn(self, what: str = "TextList", extra: str | None = None) -> None:
        parts = []
        if self.missing:
            parts.append(f"{self.missing} missing text(s) (None/NaN) became empty texts (just {BOS!r})")
        if self.non_str:
            o = self.non_str_example
            parts.append(
                f"{self.non_str} non-string value(s) were converted with str() (e.g. {o!r:.40} of type "
                f"{type(o).__name__})"
            )
        if self.bad_files:
            parts.append(
                f"{self.bad_files} file(s) were not valid UTF-8: {self.bad_seqs} undecodable byte "
                f"sequence(s) were replaced by U+FFFD (e.g. in {self.bad_file_example})"
            )
        if extra:
            parts.append(extra)
        if parts:
            warnings.warn(f"{what}: " + "; ".join(parts) + ".", stacklevel=4)


def _is_missing(o: Any) -> bool:
    if o is None or o is pd.NA or o is pd.NaT:
        return True
    return isinstance(o, float) and math.isnan(o)


def read_text_file(path: str | pathlib.Path) -> tuple[str, int]:
    """A file's text as UTF-8 and the number of undecodable byte sequences replaced by U+FFFD.

    >>> import tempfile; p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_bytes(b"caf\\xe9!")
    >>> read_text_file(p)
    ('caf\\ufffd!', 1)
    """
    with open(path, "rb") as f:  # plain open(): pathlib's read_bytes costs ~3x more over 100k files
        raw = f.read()
    try:
        return raw.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        # U+FFFD already present in the file (encoded as EF BF BD) is not a replacement.
        return text, text.count("\ufffd") - raw.count(b"\xef\xbf\xbd")


def _one_text(o: Any, report: _InputReport) -> str:
    if isinstance(o, str):
        return o
    if isinstance(o, pathlib.PurePath):
        text, n_bad = read_text_file(o)
        if n_bad:
            report.bad_files += 1
            report.bad_seqs += n_bad
            report.bad_file_example = report.bad_file_example or str(o)
        return text
    if _is_missing(o):
        report.missing += 1
        return ""
    if isinstance(o, (bytes, bytearray)):
        o2 = bytes(o).decode("utf-8", errors="replace")
    else:
        o2 = str(o)
    report.non_str += 1
    report.non_str_example = o if report.non_str_example is None else report.non_str_example
    return o2


def join_texts(
    items: Iterable,
    mark_fields: bool = False,
    include_bos: bool = True,
    include_eos: bool = False,
    report: _InputReport | None = None,
) -> list[str]:
    """Raw items (strings, file paths, or rows of several text fields) -> strings ready to tokenize.

    Each text starts with ``xxbos``; with ``mark_fields`` field ``k`` (from 1) is preceded by
    ``xxfld k``, otherwise fields are joined by a space.

    >>> join_texts(["Hi", ""]), join_texts([["a", "b"]], mark_fields=True)
    (['xxbos Hi', 'xxbos '], ['xxbos xxfld 1 a xxfld 2 b'])
    """
    own = report is None
    report = report or _InputReport()
    out = []
    for o in items:
        if isinstance(o, (list, tuple, np.ndarray, pd.Series)):
            fields = [_one_text(f, report) for f in o]
        else:
            fields = [_one_text(o, report)]
        report.empty.append(all(not f or f.isspace() for f in fields))
        # whitespace alone says nothing: it must not become a token (e.g. ' ' for a text of spaces)
        fields = [f if f and not f.isspace() else "" for f in fields]
        if mark_fields:
            t = " ".join(f"{FLD} {k + 1} {f}" for k, f in enumerate(fields))
        else:
            t = " ".join(fields)
        if include_bos:
            t = f"{BOS} {t}"
        if include_eos:
            t = f"{t} {EOS}"
        out.append(t)
    if own:
        report.warn()
    return out


# -------------------------------------------------------------------------------- processor
def _default_cache_dir() -> pathlib.Path:
    from ..core.download import Config

    return Config.home() / "cache" / "tokens"


@register("processor", "text.TextProcessor")
class TextProcessor(PreProcessor):
    """Tokenizes and numericalizes texts; fitted on the training split (vocabulary).

    Args:
        vocab: a ready :class:`Vocab` (e.g. the language model's); then no vocabulary is built.
        tokenizer: a :class:`Tokenizer` (default: spaCy English with fastai's rules).
        max_vocab, min_freq: the vocabulary keeps at most ``max_vocab`` tokens seen at least
            ``min_freq`` times in the training split (3 in the data-block path, 2 in the
            ``TextDataBunch`` factories, as in fastai v1).
        mark_fields, include_bos, include_eos: markers added before tokenizing.
        cache_dir: where tokenized corpora are cached; None = ``<EMBERFIT_HOME>/cache/tokens``
            for lists of 1000+ texts; False = never cache.
        chunksize: texts per chunk sent to a tokenizer process.

    Its JSON state (``itos``, the tokenizer's description, the settings) is what saved data
    and exported learners store.
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

    def __init__(
        self,
        vocab: Vocab | None = None,
        tokenizer: Tokenizer | None = None,
        max_vocab: int = 60000,
        min_freq: int = 3,
        mark_fields: bool = False,
        include_bos: bool = True,
        include_eos: bool = False,
        cache_dir: str | pathlib.Path | bool | None = None,
        chunksize: int | None = None,
    ):
        super().__init__()
        if vocab is not None and not isinstance(vocab, Vocab):
            raise TypeError(f"vocab must be a Vocab (e.g. data_lm.vocab), got {type(vocab).__name__}")
        if tokenizer is not None and not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a Tokenizer, got {type(tokenizer).__name__}")
        for name, v, low in (("max_vocab", max_vocab, 1), ("min_freq", min_freq, 0)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
        self._vocab = vocab
        self.itos = list(vocab.itos) if vocab is not None else None
        self._tok = tokenizer
        self.tokenizer_desc = (tokenizer or Tokenizer()).to_json()
        self.max_vocab, self.min_freq = int(max_vocab), int(min_freq)
        self.mark_fields, self.include_bos, self.include_eos = mark_fields, include_bos, include_eos
        self.cache_dir, self.chunksize = cache_dir, chunksize

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
    def texts(self, raw: Iterable, report: _InputReport | None = None) -> list[str]:
        """Raw items -> the strings that are tokenized (with the markers)."""
        return join_texts(raw, self.mark_fields, self.include_bos, self.include_eos, report)

    def tokenize(self, texts: Sequence[str]) -> TokenizedCorpus:
        """Tokenize prepared strings into a flat corpus (using the disk cache when enabled)."""
        cache = getattr(self, "cache_dir", None)
        if cache is None and len(texts) >= _CACHE_MIN_TEXTS:
            cache = _default_cache_dir()
        kw = {"chunksize": self.chunksize} if getattr(self, "chunksize", None) else {}
        # the cache holds the tokenizer's output; bare whitespace tokens are dropped after it
        return drop_blank_tokens(self.tokenizer.process_corpus(texts, cache_dir=cache or None, **kw))

    def _corpus(self, items: TextList, fitting: bool = False) -> tuple[TokenizedCorpus, np.ndarray]:
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

    def _tokenize_items(self, items: TextList, fitting: bool = False) -> tuple[TokenizedCorpus, np.ndarray]:
        report = _InputReport()
        texts = self.texts(items.items, report)
        what, empty = type(items).__name__, np.asarray(report.empty, dtype=bool)
        # all-empty training texts are refused here, before the tokenizing work
        empty_part = check_empty_texts(empty, what, getattr(items, "_text_cols", None), fitting)
        corpus = self.tokenize(texts)
        report.warn(what, empty_part)
        return corpus, empty

    # -- PreProcessor protocol --------------------------------------------------------------
    def _fit(self, items: TextList) -> None:
        corpus, empty = self._corpus(items, fitting=True)
        # the training split alone may be all empty when its pre-split list is not: refuse that too
        check_empty_texts(empty, type(items).__name__, getattr(items, "_text_cols", None), fitting=True)
        items._fit_corpus = corpus  # process() reuses it instead of tokenizing twice
        if self.itos is None:
            self._vocab = Vocab.create(corpus, max_vocab=self.max_vocab, min_freq=self.min_freq)
            self.itos = list(self._vocab.itos)

    def process(self, items: TextList) -> None:
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
        report = _InputReport()
        text = self.texts([item], report)
        report.warn("predict")
        corpus = drop_blank_tokens(self.tokenizer.process_corpus(text))
        return self.numericalize_corpus(corpus)[0].astype(np.int64)


# ------------------------------------------------------------------------------- item lists
@register("items", "text.TextList")
class TextList(ItemList):
    """Texts (from a DataFrame's column(s)) or text files (from a folder) for ULMFiT.

    After labelling, ``ds[i][0]`` is a :class:`Text` (``str`` shows the tokens, ``.data`` the
    ids) and ``.vocab`` is the vocabulary. Settings (``vocab``, ``tokenizer``, ``max_vocab``,
    ``min_freq``, ``mark_fields``...) are those of :class:`TextProcessor`.

    >>> df = pd.DataFrame({"text": ["Great movie!", "Awful."] * 4, "label": ["pos", "neg"] * 4})
    >>> data = TextList.from_df(df, cols="text", min_freq=1).split_by_idx([0, 1]).label_from_df("label").databunch(bs=2)
    >>> str(data.train_ds[0][0])
    'xxbos xxmaj great movie !'
    """

    processor_cls = TextProcessor
    pad_idx = 1

    def __init__(
        self,
        items: Iterable,
        vocab: Vocab | None = None,
        pad_idx: int = 1,
        path: str | pathlib.Path = ".",
        inner_df: pd.DataFrame | None = None,
        tokenizer: Tokenizer | None = None,
        max_vocab: int = 60000,
        min_freq: int = 3,
        mark_fields: bool = False,
        include_bos: bool = True,
        include_eos: bool = False,
        cache_dir: str | pathlib.Path | bool | None = None,
        chunksize: int | None = None,
        **kwargs,
    ):
        super().__init__(items, path=path, inner_df=inner_df, **kwargs)
        settings = dict(
            tokenizer=tokenizer,
            max_vocab=max_vocab,
            min_freq=min_freq,
            mark_fields=mark_fields,
            include_bos=include_bos,
            include_eos=include_eos,
            cache_dir=cache_dir,
            chunksize=chunksize,
        )
        self.processor = TextProcessor(vocab=vocab, **settings)
        self._kwargs.update(vocab=vocab, pad_idx=pad_idx, **settings)
        self.pad_idx = pad_idx
        self.ids: np.ndarray | None = None  # int32, all documents back to back (after processing)
        self.offsets: np.ndarray | None = None  # int64, document i = ids[offsets[i]:offsets[i+1]]
        self._root: TextList | None = None  # the pre-split list this one was cut from
        self._root_idx: np.ndarray | None = None
        self._text_cols: list | None = None  # the DataFrame column(s) of the texts, for messages

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def from_df(cls, df: pd.DataFrame, path: str | pathlib.Path = ".", cols: Any = 0, **kwargs) -> TextList:
        """Texts from column(s) ``cols`` of ``df`` (names or positions); see :meth:`ItemList.from_df`."""
        out = super().from_df(df, path=path, cols=cols, **kwargs)
        names = cols if isinstance(cols, (list, tuple)) else [cols]
        # positions become names, so that messages can say which column holds empty texts
        out._text_cols = [df.columns[c] if isinstance(c, int) and c not in df.columns else c for c in names]
        return out

    @classmethod
    def from_folder(
        cls,
        path: str | pathlib.Path = ".",
        extensions: Sequence[str] | None = (".txt",),
        recurse: bool = True,
        include: Sequence[str] | None = None,
        **kwargs,
    ) -> TextList:
        """Every ``.txt`` file under ``path`` (read as UTF-8 when labelled); e.g. IMDB's ``train/pos/*.txt``.

        >>> # TextList.from_folder(untar_data(URLs.IMDB), vocab=data_lm.vocab).split_by_folder(valid='test')
        """
        out = super().from_folder(path, extensions=extensions, recurse=recurse, include=include, **kwargs)
        if len(out) == 0:
            raise FileNotFoundError(
                f"from_folder: no {'/'.join(extensions or ['any'])} files under {path}; check the path "
                "(IMDB's layout is <path>/{train,test}/{pos,neg}/*.txt) or pass extensions=[...]"
            )
        return out

    # -- list behaviour ---------------------------------------------------------------------
    @property
    def vocab(self) -> Vocab | None:
        """The vocabulary: the one given, or the one built from the training split once labelled."""
        return self.processor.vocab if self.processor is not None else None

    @property
    def databunch_cls(self) -> type:
        from .databunch import TextClasDataBunch

        return TextClasDataBunch

    @property
    def processed(self) -> bool:
        return self.ids is not None

    @property
    def lengths(self) -> np.ndarray:
        """Number of tokens of each document (after processing)."""
        self._check_processed("lengths")
        return np.diff(self.offsets)

    def _check_processed(self, what: str) -> None:
        if self.ids is None:
            raise ValueError(f"{what} needs processed texts; label the list first (e.g. .label_for_lm())")

    def get(self, i: int) -> Any:
        if self.ids is None:
            return self.items[i]
        ids = self.ids[self.offsets[i] : self.offsets[i + 1]].astype(np.int64)
        return Text(ids, self.vocab.textify(ids.tolist()))

    def new_subset(self, idx: np.ndarray) -> TextList:
        idx = np.asarray(idx, dtype=np.int64)
        out = super().new_subset(idx)
        out._text_cols = self._text_cols
        if self.ids is not None:
            out.ids, out.offsets = ragged_take(self.ids, self.offsets, idx)
            out.processor = self.processor
        else:  # remember where we come from, so the whole pre-split list is tokenized once
            root = self._root if self._root is not None else self
            out._root = root
            out._root_idx = self._root_idx[idx] if self._root is not None else idx
        return out

    def _as(self, cls: type[TextList]) -> TextList:
        """This (unprocessed) list as another TextList class, keeping settings and pre-split origin."""
        out = cls(self.items, path=self.path, inner_df=self.inner_df, **self._kwargs)
        out._root, out._root_idx = self._root, self._root_idx
        out._text_cols = self._text_cols
        out.processor = self.processor
        return out

    def __repr__(self) -> str:
        shown = ", ".join(str(self.get(i))[:40] for i in range(min(3, len(self))))
        return f"{type(self).__name__} ({len(self)} items)\n[{shown}{', ...' if len(self) > 3 else ''}]\nPath: {self.path}"

    # -- loaders, display, prediction ------------------------------------------------------
    def make_loaders(
        self,
        lls: LabelLists,
        bs: int,
        val_bs: int,
        device,
        pad_idx: int = 1,
        pad_first: bool = True,
        backwards: bool = False,
        max_len: int | None = None,
        **kwargs,
    ) -> list:
        """Classifier loaders: sortish shuffled training batches, length-sorted valid/test."""
        _no_extra(kwargs, "a classifier DataBunch", "pad_idx, pad_first, backwards, max_len")
        self._backwards = backwards
        loaders = []
        for name in ("train", "valid", "test"):
            ll = getattr(lls, name)
            if ll is None or (name != "train" and len(ll) == 0):
                loaders.append(None)
                continue
            train = name == "train"
            b = bs if train else val_bs
            loaders.append(
                SortishLoader(
                    ll.x.ids,
                    ll.x.offsets,
                    ll.y.to_tensors(),
                    bs=b,
                    shuffle=train,
                    drop_last=train,
                    pad_idx=pad_idx,
                    pad_first=pad_first,
                    backwards=backwards,
                    max_len=max_len,
                    device=device,
                )
            )
        return loaders

    def decode_ids(self, ids: torch.Tensor, max_len: int = 70) -> str:
        """A row of a batch back to text: padding removed, at most ``max_len`` tokens."""
        ids = [i for i in ids.tolist() if i != self.pad_idx]
        if getattr(self, "_backwards", False):
            ids = ids[::-1]
        return self.vocab.textify(ids[:max_len])

    def batch_frame(self, xb, yb, lls: LabelLists, rows: int) -> pd.DataFrame:
        n = min(rows, xb.shape[0])
        df = pd.DataFrame({"text": [self.decode_ids(xb[i]) for i in range(n)]})
        if yb is not None and hasattr(lls.train.y, "decode_batch"):
            df[lls.train.y.name] = lls.train.y.decode_batch(yb[:n])
        return df

    def item_to_batch(self, item: Any, lls: LabelLists) -> torch.Tensor:
        """A raw string -> a ``(1, n_tokens)`` int64 batch (``xxbos`` first), for ``predict``."""
        if self.processor is None or self.processor.vocab is None:
            raise ValueError(
                "predict needs the fitted text processor; build the data with the data block API"
            )
        ids = self.processor.process_one(item)
        if getattr(lls.train.x, "_backwards", False) or getattr(self, "_backwards", False):
            ids = ids[::-1].copy()  # a backwards model reads every text from its end
        return torch.from_numpy(ids)[None]

    # -- saving (arrays + JSON, no pickle) -------------------------------------------------
    def to_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        self._check_processed("saving")
        return {"ids": torch.from_numpy(self.ids), "offsets": torch.from_numpy(self.offsets)}, {}

    @classmethod
    def from_state(cls, tensors: dict, meta: dict, path, kwargs: dict) -> TextList:
        ids = tensors["ids"].numpy().astype(np.int32, copy=False)
        offsets = tensors["offsets"].numpy().astype(np.int64, copy=False)
        out = cls(np.arange(len(offsets) - 1), path=path, **kwargs)
        out.ids, out.offsets = ids, offsets
        return out


@register("items", "text.LMTextList")
class LMTextList(TextList):
    """A TextList for language modelling (made by ``label_for_lm``): batches are token streams."""

    @property
    def databunch_cls(self) -> type:
        from .databunch import TextLMDataBunch

        return TextLMDataBunch

    def make_loaders(
        self,
        lls: LabelLists,
        bs: int,
        val_bs: int,
        device,
        bptt: int = 70,
        backwards: bool = False,
        bptt_jitter: bool = False,
        **kwargs,
    ) -> list:
        """Language-model loaders (:class:`LMLoader`): shuffled documents for training, in order otherwise."""
        _no_extra(kwargs, "a language-model DataBunch", "bptt, backwards, bptt_jitter")
        self._backwards = backwards
        loaders = []
        for name in ("train", "valid", "test"):
            ll = getattr(lls, name)
            if ll is None or len(ll) == 0:  # (an exported learner's data has an empty train split)
                loaders.append(None)
                continue
            train = name == "train"
            loaders.append(
                LMLoader(
                    ll.x.ids,
                    ll.x.offsets,
                    bs=bs if train else val_bs,
                    bptt=bptt,
                    shuffle=train,
                    backwards=backwards,
                    bptt_jitter=bptt_jitter and train,
                    device=device,
                )
            )
        return loaders

    def batch_frame(self, xb, yb, lls: LabelLists, rows: int) -> pd.DataFrame:
        n = min(rows, xb.shape[0])
        return pd.DataFrame({"idx": range(n), "text": [self.decode_ids(xb[i]) for i in range(n)]})


def lm_cross_entropy(out, targ: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over every token of a ``(bs, seq_len, vocab)`` output (the first element if a tuple)."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), targ.reshape(-1))


lm_cross_entropy.__name__ = "CrossEntropyFlat"


@register("items", "text.LMLabelList")
class LMLabelList(EmptyLabelList):
    """The 'labels' of a language model: the next tokens, made by the loader (nothing stored)."""

    name = "target"

    @property
    def loss_func(self):
        return lm_cross_entropy

    @property
    def c(self) -> None:
        return None

    def activation(self, out: torch.Tensor) -> torch.Tensor:
        return torch.softmax(out, dim=-1)

    def to_state(self):
        return {}, {"n": len(self)}

    @classmethod
    def from_state(cls, tensors, meta, path, kwargs):
        return cls(np.zeros(meta["n"], dtype=np.int8), path=path, **kwargs)


def _no_extra(kwargs: dict, what: str, known: str) -> None:
    if kwargs:
        raise TypeError(f"{what} does not take {sorted(kwargs)}; its loader settings are {known}")


# ----------------------------------------------------------------------------- labelling
class TextItemLists(ItemLists):
    """Train/valid TextLists waiting for labels; adds ``label_for_lm`` and checks classifier labels."""

    def label_for_lm(self, **kwargs) -> LabelLists:
        """Label for a language model: each token's target is the next token.

        >>> # TextList.from_folder(path).split_by_rand_pct(0.1).label_for_lm().databunch(bs=48)
        """
        if kwargs:
            raise TypeError(f"label_for_lm takes no arguments, got {sorted(kwargs)}")
        lists = []
        for x in (self.train, self.valid):
            x = x._as(LMTextList) if isinstance(x, TextList) and not isinstance(x, LMTextList) else x
            lists.append(LabelList(x, LMLabelList(np.zeros(len(x), dtype=np.int8), path=self.path)))
        return LabelLists(self.path, *lists).process()

    def label_from_folder(self, classes: Sequence | None = None, label_cls=None, **kw) -> LabelLists:
        """Labels are parent folder names; with ``classes``, files in other folders (e.g. ``unsup``) are dropped first."""
        if classes is not None:
            if isinstance(classes, str):
                raise TypeError(f"classes must be a list of folder names, got the string {classes!r}")
            wanted, dropped = set(classes), {}
            for name in ("train", "valid"):
                il = getattr(self, name)
                parents = np.array([pathlib.Path(o).parent.name for o in il.items])
                keep = np.isin(parents, list(wanted))
                for p in parents[~keep].tolist():
                    dropped[p] = dropped.get(p, 0) + 1
                setattr(self, name, il.new_subset(np.nonzero(keep)[0]))
            if dropped:
                warnings.warn(
                    f"label_from_folder(classes={list(classes)}): dropped {sum(dropped.values())} file(s) "
                    f"in other folders {dict(sorted(dropped.items()))}",
                    stacklevel=2,
                )
            if len(self.train) == 0:
                raise ValueError(f"no training files are in a folder named one of classes={list(classes)}")
        return super().label_from_folder(classes=classes, label_cls=label_cls, **kw)

    def _label(self, y_train, y_valid, label_cls, **kwargs) -> LabelLists:
        from ..core.data_block import CategoryList, _as_array, _infer_label_cls

        y_arr = _as_array(y_train)
        cls_ = label_cls or _infer_label_cls(y_arr)
        if cls_ is CategoryList:  # checked before the (slow) tokenizing starts
            classes = kwargs.get("classes")
            found = classes if classes is not None else pd.unique(pd.Series(y_arr).dropna())
            if len(found) < 2:
                raise ValueError(
                    f"the training labels have {len(found)} class(es) ({list(found)[:3]}); a classifier needs "
                    "at least 2. Check the label column or folders, or use label_for_lm() for a language model"
                )
        return super()._label(y_train, y_valid, label_cls, **kwargs)


TextList.item_lists_cls = TextItemLists

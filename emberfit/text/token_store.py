"""Tokenized texts kept flat: :class:`TokenizedCorpus` in memory, and its disk cache.

Text ``i`` of a corpus is ``vocab[ids[offsets[i]:offsets[i+1]]]``: one integer array instead
of millions of per-token Python objects. On disk a corpus is three ``.npy``/JSON files plus
``meta.json`` (written last, so an interrupted write is never read back); no pickle.

>>> c = concat_corpora([TokenizedCorpus(["a", "b"], np.array([0, 1, 0], np.uint32), np.array([0, 3]))] * 2)
>>> c[1], c.lengths.tolist()
(['a', 'b', 'a'], [3, 3])
"""

from __future__ import annotations

import inspect
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.io import atomic_write

__all__ = [
    "TokenizedCorpus",
    "CorpusBuilder",
    "concat_corpora",
    "default_cache_dir",
    "save_corpus",
    "load_corpus",
    "code_fingerprint",
]

CACHE_FORMAT = 1


@dataclass
class TokenizedCorpus:
    """Many tokenized texts stored flat: text ``i`` is ``vocab[ids[offsets[i]:offsets[i+1]]]``.

    One integer array instead of millions of per-token Python objects, so whole corpora fit
    in memory and can be numericalized with a single indexing step.

    >>> from emberfit.text.tokenizer import Tokenizer
    >>> c = Tokenizer().process_corpus(["Hi there", "Hi"]); c[1], len(c), c.n_tokens
    (['xxmaj', 'hi'], 2, 5)
    """

    vocab: list[str]  # distinct tokens, in order of first appearance
    ids: np.ndarray  # uint32, indices into vocab
    offsets: np.ndarray  # int64, len(texts) + 1

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, i: int) -> list[str]:
        return [self.vocab[j] for j in self.ids[self.offsets[i] : self.offsets[i + 1]].tolist()]

    def to_lists(self) -> list[list[str]]:
        """All texts as token lists (order preserved); the token strings are shared, not copied."""
        table, ids, offs = np.array(self.vocab, dtype=object), self.ids, self.offsets.tolist()
        return [table[ids[s:e]].tolist() for s, e in zip(offs[:-1], offs[1:])]


class CorpusBuilder:
    """Merges per-chunk results (local ids + local token table) into one global token table."""

    def __init__(self):
        self.vocab, self.stoi, self.ids, self.lengths = [], {}, [], []

    def add(self, lengths: np.ndarray, local_ids: np.ndarray, table: list[str]) -> None:
        """Append a chunk: its texts' lengths, its ids into ``table``, and ``table``."""
        stoi, vocab = self.stoi, self.vocab
        remap = np.empty(len(table), dtype=np.uint32)
        for j, t in enumerate(table):
            g = stoi.get(t)
            if g is None:
                g = stoi[t] = len(vocab)
                vocab.append(t)
            remap[j] = g
        self.ids.append(remap[local_ids])
        self.lengths.append(lengths)

    def build(self) -> TokenizedCorpus:
        """The corpus of every chunk added, in order."""
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.uint32)
        return TokenizedCorpus(self.vocab, ids.astype(np.uint32, copy=False), offsets)


def concat_corpora(corpora: Sequence[TokenizedCorpus]) -> TokenizedCorpus:
    """Several tokenized corpora as one (token table in order of first appearance, as if tokenized together).

    >>> from emberfit.text.tokenizer import Tokenizer
    >>> tok = Tokenizer(n_cpus=1)
    >>> c = concat_corpora([tok.process_corpus(["a b"]), tok.process_corpus(["b c"])]); c[1], c.vocab
    (['b', 'c'], ['a', 'b', 'c'])
    """
    table: list[str] = []
    stoi: dict[str, int] = {}
    ids, lengths = [], []
    for c in corpora:
        remap = np.empty(len(c.vocab), dtype=np.uint32)
        for j, t in enumerate(c.vocab):
            remap[j] = stoi.setdefault(t, len(table))
            if remap[j] == len(table):
                table.append(t)
        ids.append(remap[c.ids] if len(c.ids) else c.ids.astype(np.uint32))
        lengths.append(np.diff(c.offsets))
    offsets = np.zeros(sum(len(n) for n in lengths) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(lengths) if lengths else [], out=offsets[1:])
    return TokenizedCorpus(table, np.concatenate(ids) if ids else np.zeros(0, np.uint32), offsets)


# ------------------------------------------------------------------------------------ the cache
def default_cache_dir() -> Path:
    """Where tokenized corpora are cached unless told otherwise: ``<EMBERFIT_HOME>/cache/tokens``."""
    from ..core.download import Config

    return Config.home() / "cache" / "tokens"


def save_corpus(path: Path, corpus: TokenizedCorpus, desc: dict) -> None:
    """Store a corpus as .npy arrays + a JSON token table (no pickle); meta.json goes last."""
    path.mkdir(parents=True, exist_ok=True)
    for name, arr in (("ids", corpus.ids), ("offsets", corpus.offsets)):
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        atomic_write(path / f"{name}.npy", buf.getvalue())
    atomic_write(path / "tokens.json", json.dumps(corpus.vocab, ensure_ascii=False).encode())
    meta = {"format": CACHE_FORMAT, "n_texts": len(corpus), "n_tokens": corpus.n_tokens, "tokenizer": desc}
    atomic_write(path / "meta.json", json.dumps(meta).encode())


def load_corpus(path: Path, n_texts: int) -> TokenizedCorpus | None:
    """The cached corpus at ``path``, or None when absent, incomplete or unreadable."""
    try:
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("format") != CACHE_FORMAT or meta.get("n_texts") != n_texts:
            return None
        vocab = json.loads((path / "tokens.json").read_text(encoding="utf-8"))
        ids = np.load(path / "ids.npy", allow_pickle=False)
        offsets = np.load(path / "offsets.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if len(offsets) != n_texts + 1 or len(ids) != meta.get("n_tokens") or offsets[-1] != len(ids):
        return None
    return TokenizedCorpus(vocab, ids, offsets)


def code_fingerprint(f: object) -> str:
    """Name and source of a rule or tokenizer class, so that editing it invalidates cached tokens.

    emberfit's own code is fingerprinted by its whole module: the rules read tables defined
    beside them (``_HTML_FIXES``...), and the spaCy tokenizer its span patterns.
    """
    module_name = getattr(f, "__module__", None) or "?"
    name = f"{module_name}.{getattr(f, '__qualname__', repr(f))}"
    try:
        if module_name.startswith("emberfit."):
            return name + "\n" + inspect.getsource(sys.modules[module_name])
        return name + "\n" + inspect.getsource(f)
    except (OSError, TypeError, KeyError):  # builtins, partials, code typed at a prompt
        code = getattr(f, "__code__", None)
        return name + "\n" + (code.co_code.hex() if code is not None else repr(f))

"""The vocabulary: tokens <-> ids, built the way fastai v1 (1.0.61) built it, saved as JSON.

>>> v = Vocab.create([["a", "b", "a"], ["a", "b"]], max_vocab=100, min_freq=2)
>>> v.itos[:3], v.itos[9:11], len(v)
(['xxunk', 'xxpad', 'xxbos'], ['a', 'b'], 16)
>>> v.numericalize(["a", "zzz"]), v.textify([9, 10])
([9, 0], 'a b')
"""

from __future__ import annotations

import json
import operator
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain
from pathlib import Path

import numpy as np

from .blanks import is_blank_token
from .rules import text_spec_tok
from .token_store import TokenizedCorpus

__all__ = ["Vocab"]

FAKE = "xxfake"  # pads the vocabulary to a multiple of 8 (faster fp16 matrix products)


class _Stoi(dict):
    """token -> id; an unknown token gives 0 (``xxunk``) without being added."""

    def __missing__(self, key: str) -> int:
        return 0


class Vocab:
    """Maps tokens to ids (``stoi``, unknown -> 0) and back (``itos``).

    >>> Vocab(["xxunk", "xxpad", "hi"]).stoi["hi"], Vocab(["xxunk", "xxpad", "hi"]).stoi["??"]
    (2, 0)
    """

    def __init__(self, itos: Sequence[str]):
        if isinstance(itos, str) or not all(isinstance(t, str) for t in itos):
            raise TypeError(f"itos must be a list of token strings, got {type(itos).__name__}: {itos!r:.60}.")
        self.itos = list(itos)
        # With duplicates (the 'xxfake' padding) the last position wins, as in fastai v1.
        self.stoi = _Stoi({t: i for i, t in enumerate(self.itos)})

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {' '.join(self.itos[:12])}{' ...' if len(self) > 12 else ''})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def numericalize(self, t: Iterable[str]) -> list[int]:
        """Ids of the tokens in ``t`` (unknown tokens -> 0).

        >>> Vocab(["xxunk", "xxpad", "hi"]).numericalize(["hi", "there"])
        [2, 0]
        """
        if isinstance(t, str):
            raise TypeError(
                f"numericalize takes a list of tokens, got the string {t!r:.40}; tokenize it first."
            )
        return list(map(self.stoi.__getitem__, t))

    def numericalize_corpus(self, corpus: TokenizedCorpus, dtype: type = np.int64) -> np.ndarray:
        """Ids of every token of a ``TokenizedCorpus``, flat (split them with ``corpus.offsets``).

        One dictionary lookup per distinct token, then one array indexing step, so a corpus of
        millions of tokens is numericalized in well under a second.

        >>> from emberfit.text.tokenizer import Tokenizer
        >>> Vocab(["xxunk", "xxpad", "hi"]).numericalize_corpus(Tokenizer().process_corpus(["hi you"])).tolist()
        [2, 0]
        """
        if not isinstance(corpus, TokenizedCorpus):
            raise TypeError(
                f"corpus must be a TokenizedCorpus (Tokenizer.process_corpus), got {type(corpus).__name__}."
            )
        table = np.fromiter(map(self.stoi.__getitem__, corpus.vocab), dtype=dtype, count=len(corpus.vocab))
        return table[corpus.ids]

    def textify(self, nums: Iterable[int], sep: str | None = " ") -> str | list[str]:
        """Tokens of the ids in ``nums``, joined by ``sep`` (a list when ``sep`` is None).

        As in fastai v1, an id outside the vocabulary is an ``IndexError`` and an id that is not
        an integer (``2.0``) a ``TypeError``; numpy and torch integers work.

        >>> Vocab(["xxunk", "xxpad", "hi"]).textify([2, 2, 1])
        'hi hi xxpad'
        """
        if hasattr(nums, "tolist"):  # numpy arrays, torch tensors
            nums = nums.tolist()
        items = []
        for i in nums:
            try:
                items.append(self.itos[operator.index(i)])
            except TypeError:
                raise TypeError(f"textify takes integer ids, got {i!r} ({type(i).__name__}).") from None
            except IndexError:
                raise IndexError(f"id {i} is out of range for a vocabulary of {len(self)} tokens.") from None
        return items if sep is None else sep.join(items)

    @classmethod
    def create(
        cls,
        tokens: Iterable[Sequence[str]] | TokenizedCorpus,
        max_vocab: int = 60000,
        min_freq: int = 3,
        special_tokens: Sequence[str] | None = None,
    ) -> Vocab:
        """Vocabulary of ``tokens`` (one token list per text, or a ``TokenizedCorpus``).

        fastai v1's recipe: the ``max_vocab`` most frequent tokens (ties: first seen first),
        keeping those seen at least ``min_freq`` times, never a token of bare whitespace such as ``' '``
        (see :mod:`emberfit.text.blanks`); the special tokens moved to the front
        (so ``xxunk`` = 0, ``xxpad`` = 1); cut to ``max_vocab``; padded with ``'xxfake'`` to a
        multiple of 8 when shorter.

        >>> Vocab.create([["b", "a", "a"]], min_freq=1).itos[9:12]
        ['a', 'b', 'xxfake']
        """
        if isinstance(max_vocab, bool) or not isinstance(max_vocab, int) or max_vocab < 1:
            raise ValueError(
                f"max_vocab must be a positive integer, got {max_vocab!r}; the lesson uses 60000."
            )
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 0:
            raise ValueError(
                f"min_freq must be a non-negative integer, got {min_freq!r}; the lesson uses 2 or 3."
            )
        if isinstance(tokens, str) or (
            isinstance(tokens, Sequence) and tokens and isinstance(tokens[0], str)
        ):
            raise TypeError(
                f"tokens must be a list of token lists (one per text), got {tokens!r:.60}; "
                "wrap a single text's tokens in a list: Vocab.create([tokens])."
            )
        specials = list(text_spec_tok if special_tokens is None else special_tokens)
        itos = [t for t, c in _most_common(tokens, max_vocab) if c >= min_freq and not is_blank_token(t)]
        front = set(specials)
        itos = (specials + [t for t in itos if t not in front])[:max_vocab]
        if len(itos) < max_vocab:
            itos += [FAKE] * (-len(itos) % 8)
        return cls(itos)

    def to_json(self) -> dict:
        """A JSON-able description: ``{"itos": [...]}``."""
        return {"format": "emberfit.vocab", "version": 1, "itos": self.itos}

    @classmethod
    def from_json(cls, d: dict | list) -> Vocab:
        """Inverse of ``to_json`` (a bare list of tokens is accepted too)."""
        if isinstance(d, list):
            return cls(d)
        if not isinstance(d, dict) or "itos" not in d:
            raise ValueError(
                f"a vocabulary description needs an 'itos' list, got {type(d).__name__}: {d!r:.60}."
            )
        return cls(d["itos"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary to ``path`` as JSON (UTF-8, atomically).

        >>> import tempfile; p = Vocab(["xxunk", "xxpad", "é"]).save(Path(tempfile.mkdtemp()) / "v.json")
        >>> Vocab.load(p).itos
        ['xxunk', 'xxpad', 'é']
        """
        from emberfit.core.io import atomic_write

        return atomic_write(path, json.dumps(self.to_json(), ensure_ascii=False).encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by ``save``."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no vocabulary file at {str(path)!r}; write one with Vocab.save(path).")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{str(path)!r} is not a JSON vocabulary written by Vocab.save ({e}).") from None
        return cls.from_json(d)


def _most_common(tokens: Iterable[Sequence[str]] | TokenizedCorpus, n: int) -> list[tuple[str, int]]:
    """``Counter(all tokens).most_common(n)``: by count, ties in order of first appearance."""
    if isinstance(tokens, TokenizedCorpus):
        # corpus.vocab is in order of first appearance, so a stable sort by count matches Counter.
        counts = np.bincount(tokens.ids, minlength=len(tokens.vocab))
        order = np.argsort(-counts, kind="stable")[:n]
        return [(tokens.vocab[i], int(counts[i])) for i in order.tolist()]
    return Counter(chain.from_iterable(tokens)).most_common(n)

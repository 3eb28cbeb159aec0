"""spaCy's rule-based tokenizer with a per-span cache, and the plain interface a tokenizer offers.

``spacy.blank(lang)`` needs no model download. Texts are split into *spans* the way spaCy
splits them before its affix rules (:func:`spacy_spans`); each distinct span goes through
spaCy once and is looked up afterwards, which gives the same tokens as one spaCy call per
text, several times faster. A special case (such as ``''``) that might match across two spans
sends that text through spaCy whole.

>>> SpacyTokenizer("en").tokenizer("Don't stop")
['Do', "n't", 'stop']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, compress, islice

import numpy as np

__all__ = ["BaseTokenizer", "SpacyTokenizer", "spacy_spans", "TOK_FUNCS", "MEMO_MAX"]

# The pieces spaCy's tokenizer handles independently: runs of non-whitespace, and runs of
# whitespace less the single space that separates two words (spaCy swallows that one).
_RE_SPANS = re.compile(r"\S+|(?<=\S )\s+|(?<=\S)[^\S ]\s*|^\s+")
_SEP = " \n "
MEMO_MAX = 1_000_000  # distinct spans remembered per process (about 200 MB at most)


def spacy_spans(t: str) -> list[str]:
    """Split ``t`` the way spaCy does before its affix rules, so each piece can be cached.

    >>> spacy_spans("a b  c\\n d")
    ['a', 'b', ' ', 'c', '\\n ', 'd']
    """
    return _RE_SPANS.findall(t)


class BaseTokenizer:
    """Splits on single spaces; the interface ``Tokenizer`` expects from a ``tok_func``.

    >>> BaseTokenizer().tokenizer("a b  c")
    ['a', 'b', '', 'c']
    """

    def __init__(self, lang: str = "en"):
        self.lang = lang

    def tokenizer(self, t: str) -> list[str]:
        """Tokenize one string."""
        return t.split(" ")

    def add_special_cases(self, toks: Sequence[str]) -> None:
        """Register tokens that must never be split (nothing to do when splitting on spaces)."""

    def pipe(self, texts: Iterable[str]) -> Iterator[list[str]]:
        """Tokenize many strings; subclasses override this with a batched version."""
        return map(self.tokenizer, texts)


class SpacyTokenizer(BaseTokenizer):
    """spaCy's rule-based tokenizer for ``lang`` (``spacy.blank``: no model download needed).

    >>> SpacyTokenizer("en").tokenizer("Don't stop")
    ['Do', "n't", 'stop']
    """

    def __init__(self, lang: str = "en"):
        import spacy  # deferred: importing spaCy costs about a second

        super().__init__(lang)
        try:
            self.nlp = spacy.blank(lang)
        except (ImportError, KeyError, ValueError) as e:  # spaCy raises ImportError for unknown codes
            raise ValueError(f"lang={lang!r} is not a language spaCy knows; use a code such as 'en'.") from e
        # Token attributes (is_stop, like_num, shape, ...) are never read here but cost a third
        # of the tokenizing time to compute for each new word; the tokens are the same without.
        self.nlp.vocab.lex_attr_getters = {}
        self._orth: dict[int, str] = {}  # spaCy string hash -> one shared str object
        self._pairs: set[tuple[str, str]] | None = None
        self.forget()

    def tokenizer(self, t: str) -> list[str]:
        from spacy.attrs import ORTH

        return self._strings(self.nlp.tokenizer(t).to_array(ORTH).tolist())

    def add_special_cases(self, toks: Sequence[str]) -> None:
        from spacy.symbols import ORTH

        for w in toks:
            self.nlp.tokenizer.add_special_case(w, [{ORTH: w}])
        self._pairs = None
        self.forget()

    def forget(self) -> None:
        """Empty the span caches (they are rebuilt on demand)."""
        self._memo: dict[str, tuple[str, ...]] = {}  # span -> its tokens
        # span -> its last (first) token, only where that token can start (end) a special pair
        self._last: dict[str, str] = {}
        self._first: dict[str, str] = {}
        self._ids: tuple[dict, _TokenIds] | None = None  # the caches of chunk_ids

    def _special_pairs(self) -> set[tuple[str, str]]:
        """Token pairs that may let a special case match across the boundary of two spans.

        After splitting affixes, spaCy re-applies special cases such as ``''`` or ``'em`` to
        the whole text (a phrase matcher on the affix pieces, longest match wins), so a piece at
        the end of one span can pair with the start of the next and change both. Returned:
        (a, b) for consecutive pieces a, b of a special case; a also stands for the last token
        of any special case whose pieces end in a (a tokenized span shows that token, not a),
        and b for the first token of any special case whose pieces start with b.
        """
        if self._pairs is None:
            from spacy.symbols import ORTH
            from spacy.tokenizer import Tokenizer as SpacyTok

            tk = self.nlp.tokenizer
            affixes_only = SpacyTok(
                self.nlp.vocab, rules={}, prefix_search=tk.prefix_search, suffix_search=tk.suffix_search,
                infix_finditer=tk.infix_finditer, token_match=tk.token_match, url_match=tk.url_match,
            )  # fmt: skip
            pairs, as_last, as_first = set(), {}, {}
            for case, subs in tk.rules.items():
                pieces = [t.text for t in affixes_only(case)]
                if len(pieces) > 1:
                    pairs.update(zip(pieces, pieces[1:]))
                    as_last.setdefault(pieces[-1], {pieces[-1]}).add(subs[-1][ORTH])
                    as_first.setdefault(pieces[0], {pieces[0]}).add(subs[0][ORTH])
            self._pairs = {
                (a2, b2) for a, b in pairs for a2 in as_last.get(a, {a}) for b2 in as_first.get(b, {b})
            }
            self._left, self._right = {a for a, _ in self._pairs}, {b for _, b in self._pairs}
        return self._pairs

    def tokenize_spans(self, spans: Sequence[str]) -> list[list[str]]:
        """Tokenize spans from ``spacy_spans``, each on its own, with a single spaCy call."""
        from spacy.attrs import IDX, ORTH

        self._special_pairs()  # sets self._left / self._right
        out: list[list[str]] = [[] for _ in spans]
        words = []
        for i, s in enumerate(spans):
            if s[0].isspace():  # whitespace runs are rare: one call each
                out[i] = self.tokenizer(s)
            else:
                words.append(i)
        if words:
            # Joined by " \n ", each span is tokenized as if alone: the "\n " token between two
            # spans is in no special case, so no special case can match across them.
            joined = [spans[i] for i in words]
            arr = self.nlp.tokenizer(_SEP.join(joined)).to_array([IDX, ORTH])
            lens = np.array([len(w) for w in joined], dtype=np.int64)
            ends = np.cumsum(lens + len(_SEP)) - len(_SEP)  # span k is joined[ends[k] - lens[k]:ends[k]]
            owner = np.searchsorted(ends, arr[:, 0], side="right")
            keep = arr[:, 0] >= ends[owner] - lens[owner]  # drops the separator tokens
            owner, hashes = owner[keep], arr[keep, 1]
            bounds = np.searchsorted(owner, np.arange(len(words) + 1)).tolist()
            toks = self._strings(hashes.tolist())
            for k, i in enumerate(words):
                out[i] = toks[bounds[k] : bounds[k + 1]]
        for s, toks in zip(spans, out):
            if toks[-1] in self._left:
                self._last[s] = toks[-1]
            if toks[0] in self._right:
                self._first[s] = toks[0]
        return out

    def crosses(self, spans: list[str]) -> bool:
        """True when a special case might match across two neighbouring spans (all tokenized)."""
        firsts = list(map(self._first.get, spans))  # mostly None: few spans start with a pair's end
        last, pairs = self._last.get, self._pairs
        return any((last(spans[i - 1]), firsts[i]) in pairs for i in compress(range(len(spans)), firsts) if i)

    def _strings(self, hashes: list[int]) -> list[str]:
        cache, strings = self._orth, self.nlp.vocab.strings
        return [cache[h] if h in cache else cache.setdefault(h, strings[h]) for h in hashes]

    def pipe(self, texts: Iterable[str], batch_size: int = 512) -> Iterator[list[str]]:
        """Tokenize many texts; the same tokens as ``tokenizer`` on each, several times faster.

        Each distinct span (see ``spacy_spans``) goes through spaCy once and is looked up
        afterwards: spaCy's own cache, without its 10,000-entry limit and without building a
        ``Doc`` per text. Texts where a special case may cross spans go through spaCy whole.
        """
        it = iter(texts)
        while batch := list(islice(it, batch_size)):
            spans_per_text = [spacy_spans(t) for t in batch]
            new = list(set(chain.from_iterable(spans_per_text)).difference(self._memo))
            if self._memo and len(self._memo) + len(new) > MEMO_MAX:
                self.forget()
                new = list(set(chain.from_iterable(spans_per_text)))
            if new:
                self._memo.update(zip(new, map(tuple, self.tokenize_spans(new))))
            memo = self._memo
            for t, spans in zip(batch, spans_per_text):
                if self.crosses(spans):
                    yield self.tokenizer(t)
                else:
                    yield list(chain.from_iterable(map(memo.__getitem__, spans)))

    def chunk_ids(
        self, texts: list[str], post_rules: list[Callable]
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Tokenize a chunk, then ``post_rules``: (tokens per text, local ids, local token table).

        Ids are memoized per span: post-rules that look at one token at a time (``per_token``)
        give the same result on each span's tokens as on the whole text's.
        """
        if self._ids is None or self._ids[1].post_rules is not post_rules:
            self._ids = ({}, _TokenIds(post_rules))
        memo, token_ids = self._ids
        vocab, lookup = token_ids.vocab, token_ids.__getitem__

        def to_ids(toks: list[str]) -> tuple[int, ...]:
            return tuple(chain.from_iterable(map(lookup, toks)))

        spans_per_text = [spacy_spans(t) for t in texts]
        new = list(set(chain.from_iterable(spans_per_text)).difference(memo))
        if memo and len(memo) + len(new) > MEMO_MAX:
            self.forget()
            return self.chunk_ids(texts, post_rules)
        memo.update(zip(new, map(to_ids, self.tokenize_spans(new))))
        lengths, ids = [], []
        for t, spans in zip(texts, spans_per_text):
            n0 = len(ids)
            ids.extend(
                to_ids(self.tokenizer(t))
                if self.crosses(spans)
                else chain.from_iterable(map(memo.__getitem__, spans))
            )
            lengths.append(len(ids) - n0)
        return (np.array(lengths, dtype=np.int64), *_renumber(np.array(ids, dtype=np.uint32), vocab))


def _renumber(ids: np.ndarray, vocab: list[str]) -> tuple[np.ndarray, list[str]]:
    """Process-wide ids -> this chunk's own table, in order of first use.

    So the merged vocabulary order does not depend on which process ran which chunk.
    """
    n = len(ids)
    first = np.full(len(vocab), n, dtype=np.int64)
    np.minimum.at(first, ids, np.arange(n))
    used = np.flatnonzero(first < n)
    used = used[np.argsort(first[used], kind="stable")]
    local = np.zeros(len(vocab), dtype=np.uint32)
    local[used] = np.arange(len(used), dtype=np.uint32)
    return local[ids], [vocab[i] for i in used.tolist()]


class _TokenIds(dict):
    """raw token -> ids of what the (per-token) post-rules make of it, filled in on first use."""

    def __init__(self, post_rules: list[Callable]):
        super().__init__()
        self.post_rules, self.vocab, self.stoi = post_rules, [], {}

    def __missing__(self, tok: str) -> tuple[int, ...]:
        toks = [tok]
        for rule in self.post_rules:
            toks = rule(toks)
        for t in toks:
            if t not in self.stoi:
                self.stoi[t] = len(self.vocab)
                self.vocab.append(t)
        ids = self[tok] = tuple(map(self.stoi.__getitem__, toks))
        return ids


TOK_FUNCS = {"SpacyTokenizer": SpacyTokenizer, "BaseTokenizer": BaseTokenizer}

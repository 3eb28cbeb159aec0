"""ULMFiT tokenization: the fastai v1 (1.0.61) rules, spaCy's English tokenizer, processes and a disk cache.

A text goes through the pre-rules (plain ``str -> str`` functions), then spaCy's rule-based
tokenizer (``spacy.blank(lang)``, no model download, special tokens registered as special
cases so they are never split), then the post-rules (``list[str] -> list[str]``). The rules
are the original library's, so the tokens match the ones the published WikiText-103
vocabulary was built from. ``xxbos``/``xxfld`` markers are added by the text item lists
before tokenizing, not here.

>>> Tokenizer().process_text("I LOVED it<br />Best movie EVER!!!!")
['i', 'xxup', 'loved', 'it', '\\n ', 'xxmaj', 'best', 'movie', 'xxup', 'ever', 'xxrep', '4', '!']
"""

from __future__ import annotations

import hashlib
import html
import importlib.metadata
import inspect
import json
import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from itertools import chain, compress, islice
from pathlib import Path

import numpy as np

__all__ = [
    "UNK", "PAD", "BOS", "EOS", "FLD", "TK_MAJ", "TK_UP", "TK_REP", "TK_WREP", "text_spec_tok",
    "fix_html", "replace_rep", "replace_wrep", "spec_add_spaces", "rm_useless_spaces",
    "replace_all_caps", "deal_caps", "default_pre_rules", "default_post_rules",
    "BaseTokenizer", "SpacyTokenizer", "Tokenizer", "TokenizedCorpus", "spacy_spans",
]  # fmt: skip

UNK, PAD, BOS, EOS, FLD = "xxunk", "xxpad", "xxbos", "xxeos", "xxfld"
TK_MAJ, TK_UP, TK_REP, TK_WREP = "xxmaj", "xxup", "xxrep", "xxwrep"
text_spec_tok = [UNK, PAD, BOS, EOS, FLD, TK_MAJ, TK_UP, TK_REP, TK_WREP]

# ----------------------------------------------------------------------------------------- rules
# v1's literal replacements, in v1's order. Some are quirky on purpose ("&amp;" -> "&&",
# because "amp;" is replaced before html.unescape sees it): WT103 tokens were made this way.
_HTML_FIXES = [
    ("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "), ("#36;", "$"), ("\\n", "\n"),
    ("quot;", "'"), ("<br />", "\n"), ('\\"', '"'), ("<unk>", UNK), (" @.@ ", "."), (" @-@ ", "-"),
    (" @,@ ", ","), ("\\", " \\ "),
]  # fmt: skip
_RE_SPACES2 = re.compile(r"  +")
_RE_REP = re.compile(r"(\S)(\1{3,})")
# v1's pattern is (\b\w+\W+)(\1{3,}); backtracking inside a word or a separator can never
# produce a match there, so possessive quantifiers give the same matches, faster.
_RE_WREP = re.compile(r"(\b\w++\W++)(\1{3,})")
_RE_SPEC = re.compile(r"([/#\n])")
_RE_USELESS = re.compile(" {2,}")


def fix_html(x: str) -> str:
    """Undo HTML and WikiText escapes: ``<br />`` to newline, entities, `` @-@ `` to ``-``.

    >>> fix_html("a<br />b &lt;c&gt; 1 @,@ 000")
    'a\\nb <c> 1,000'
    """
    for old, new in _HTML_FIXES:
        x = x.replace(old, new)
    return _RE_SPACES2.sub(" ", html.unescape(x))


def _sub_rep(m: re.Match) -> str:
    c, cc = m.groups()
    return f" {TK_REP} {len(cc) + 1} {c} "


def replace_rep(t: str) -> str:
    """Replace a character repeated 4 or more times by ``xxrep n c``.

    >>> replace_rep("cooool")
    'c xxrep 4 o l'
    """
    return _RE_REP.sub(_sub_rep, t)


def _sub_wrep(m: re.Match) -> str:
    c, cc = m.groups()
    return f" {TK_WREP} {len(cc.split()) + 1} {c} "


def replace_wrep(t: str) -> str:
    """Replace a word repeated 4 or more times (each followed by a separator) by ``xxwrep n w``.

    >>> replace_wrep("go go go go now")
    ' xxwrep 4 go  now'
    """
    return _RE_WREP.sub(_sub_wrep, t)


def spec_add_spaces(t: str) -> str:
    """Put spaces around ``/``, ``#`` and newlines so they become tokens of their own.

    >>> spec_add_spaces("a/b#c")
    'a / b # c'
    """
    return _RE_SPEC.sub(r" \1 ", t)


def rm_useless_spaces(t: str) -> str:
    """Collapse runs of spaces into one.

    >>> rm_useless_spaces("a   b  c")
    'a b c'
    """
    return _RE_USELESS.sub(" ", t)


def replace_all_caps(x: list[str]) -> list[str]:
    """Lowercase ALL-CAPS tokens (2+ characters) and put ``xxup`` before them.

    >>> replace_all_caps(["I", "LOVE", "it"])
    ['I', 'xxup', 'love', 'it']
    """
    res = []
    for t in x:
        # islower() first: most tokens are lowercase and skip the other checks.
        if not t.islower() and len(t) > 1 and t.isupper():
            res += (TK_UP, t.lower())
        else:
            res.append(t)
    return res


def deal_caps(x: list[str]) -> list[str]:
    """Lowercase every token, putting ``xxmaj`` before Capitalized ones; drop empty tokens.

    >>> deal_caps(["I", "saw", "Paris", "McDonald", ""])
    ['i', 'saw', 'xxmaj', 'paris', 'mcdonald']
    """
    res = []
    for t in x:
        if t.islower():  # already lowercase: nothing to mark (cheap fast path)
            res.append(t)
        elif t:
            if t[0].isupper() and len(t) > 1 and t[1:].islower():
                res.append(TK_MAJ)
            res.append(t.lower())
    return res


# Both post-rules look at one token at a time; this lets the tokenizer cache their output per span.
replace_all_caps.per_token = deal_caps.per_token = True
default_pre_rules = [fix_html, replace_rep, replace_wrep, spec_add_spaces, rm_useless_spaces]
default_post_rules = [replace_all_caps, deal_caps]
# Rules a saved tokenizer description may name; anything else must be passed in explicitly.
KNOWN_RULES = {f.__name__: f for f in default_pre_rules + default_post_rules}


# ------------------------------------------------------------------------------ base tokenizers
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
        self.generation = getattr(self, "generation", -1) + 1

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


TOK_FUNCS = {"SpacyTokenizer": SpacyTokenizer, "BaseTokenizer": BaseTokenizer}


# --------------------------------------------------------------------------------- flat corpus
@dataclass
class TokenizedCorpus:
    """Many tokenized texts stored flat: text ``i`` is ``vocab[ids[offsets[i]:offsets[i+1]]]``.

    One integer array instead of millions of per-token Python objects, so whole corpora fit
    in memory and can be numericalized with a single indexing step.

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


class _CorpusBuilder:
    """Merges per-chunk results (local ids + local token table) into one global token table."""

    def __init__(self):
        self.vocab, self.stoi, self.ids, self.lengths = [], {}, [], []

    def add(self, lengths: np.ndarray, local_ids: np.ndarray, table: list[str]) -> None:
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
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.uint32)
        return TokenizedCorpus(self.vocab, ids.astype(np.uint32, copy=False), offsets)


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


# ---------------------------------------------------------------------------- worker processes
_WORKER_TOKENIZER: Tokenizer | None = None


def _init_worker(tokenizer: Tokenizer) -> None:
    global _WORKER_TOKENIZER
    _WORKER_TOKENIZER = tokenizer
    tokenizer._base()  # build spaCy once per process, not once per chunk


def _worker_chunk(texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    return _WORKER_TOKENIZER._tokenize_chunk(texts)


def _rule_fingerprint(f: Callable) -> str:
    """Name and source of a rule, so that editing a rule invalidates cached tokens."""
    name = f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', repr(f))}"
    try:
        if getattr(f, "__module__", None) == __name__:  # built-in rules also use this module's tables
            return name + "\n" + inspect.getsource(sys.modules[__name__])
        return name + "\n" + inspect.getsource(f)
    except (OSError, TypeError):  # builtins, partials, code typed at a prompt
        code = getattr(f, "__code__", None)
        return name + "\n" + (code.co_code.hex() if code is not None else repr(f))


def _default_n_cpus() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return min(16, n)


CACHE_FORMAT = 1
MIN_PARALLEL = 2000  # fewer texts (when their number is known) are tokenized in the calling process


# ----------------------------------------------------------------------------------- tokenizer
class Tokenizer:
    """Pre-rules, then ``tok_func`` (spaCy), then post-rules, over many texts in parallel.

    ``pre_rules`` / ``post_rules`` default to fastai v1's; pass your own lists of plain
    (picklable, module-level) functions to replace them. ``special_cases`` (default: the
    special tokens) are never split.

    >>> Tokenizer(n_cpus=1).process_all(["It's GREAT", "don't"])
    [['xxmaj', 'it', "'s", 'xxup', 'great'], ['do', "n't"]]
    """

    def __init__(
        self,
        tok_func: type[BaseTokenizer] = SpacyTokenizer,
        lang: str = "en",
        pre_rules: Sequence[Callable[[str], str]] | None = None,
        post_rules: Sequence[Callable[[list[str]], list[str]]] | None = None,
        special_cases: Sequence[str] | None = None,
        n_cpus: int | None = None,
    ):
        if not callable(tok_func):
            raise TypeError(f"tok_func must be a tokenizer class such as SpacyTokenizer, got {tok_func!r}.")
        for arg, rules in (("pre_rules", pre_rules), ("post_rules", post_rules)):
            if rules is not None and (isinstance(rules, str) or not all(callable(r) for r in rules)):
                raise TypeError(f"{arg} must be a list of functions, got {rules!r}; e.g. {arg}=[fix_html].")
        if n_cpus is not None and (not isinstance(n_cpus, int) or n_cpus < 1):
            raise ValueError(f"n_cpus must be a positive integer or None (all cores), got {n_cpus!r}.")
        self.tok_func, self.lang = tok_func, lang
        self.pre_rules = list(default_pre_rules if pre_rules is None else pre_rules)
        self.post_rules = list(default_post_rules if post_rules is None else post_rules)
        self.special_cases = list(text_spec_tok if special_cases is None else special_cases)
        self.n_cpus = _default_n_cpus() if n_cpus is None else n_cpus
        self._tok: BaseTokenizer | None = None
        self._ids: tuple | None = None  # per-process caches of the fast path

    def __repr__(self) -> str:
        lines = [
            f"Tokenizer {getattr(self.tok_func, '__name__', self.tok_func)} in {self.lang} with the following rules:"
        ]
        lines += [f" - {getattr(r, '__name__', r)}" for r in self.pre_rules + self.post_rules]
        return "\n".join(lines)

    def __getstate__(self) -> dict:  # sent to worker processes without the spaCy object
        return {**self.__dict__, "_tok": None, "_ids": None}

    def _base(self) -> BaseTokenizer:
        if self._tok is None:
            tok = self.tok_func(self.lang)
            if self.special_cases:
                tok.add_special_cases(self.special_cases)
            self._tok = tok
        return self._tok

    def process_text(self, t: str, tok: BaseTokenizer | None = None) -> list[str]:
        """Tokenize one text.

        >>> Tokenizer().process_text("Sooooo good")  # a single capital letter gets no xxmaj
        ['s', 'xxrep', '5', 'o', 'good']
        """
        _check_text(t, None)
        for rule in self.pre_rules:
            t = rule(t)
        toks = (tok or self._base()).tokenizer(t)
        for rule in self.post_rules:
            toks = rule(toks)
        return toks

    def _tokenize_chunk(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Tokenize a chunk: (tokens per text, local ids, local token table in order of first use)."""
        for rule in self.pre_rules:
            texts = [rule(t) for t in texts]
        base = self._base()
        if isinstance(base, SpacyTokenizer) and all(getattr(r, "per_token", False) for r in self.post_rules):
            return self._tokenize_chunk_fast(base, texts)
        lengths, ids, table = [], [], {}
        for toks in base.pipe(texts):
            for rule in self.post_rules:
                toks = rule(toks)
            lengths.append(len(toks))
            # setdefault with len(table): a new token gets the next id, a known one keeps its id
            ids += [table.setdefault(t, len(table)) for t in toks]
        return np.array(lengths, dtype=np.int64), np.array(ids, dtype=np.uint32), list(table)

    def _tokenize_chunk_fast(self, base: SpacyTokenizer, texts: list[str]) -> tuple:
        """The generic path with ids memoized per span: post-rules that look at one token at a
        time give the same result on each span's tokens as on the whole text's."""
        if self._ids is None or self._ids[0] != base.generation:
            self._ids = (base.generation, {}, _TokenIds(self.post_rules))
        _, memo, token_ids = self._ids
        vocab, lookup = token_ids.vocab, token_ids.__getitem__

        def to_ids(toks: list[str]) -> tuple[int, ...]:
            return tuple(chain.from_iterable(map(lookup, toks)))

        spans_per_text = [spacy_spans(t) for t in texts]
        new = list(set(chain.from_iterable(spans_per_text)).difference(memo))
        if memo and len(memo) + len(new) > MEMO_MAX:
            base.forget()
            return self._tokenize_chunk_fast(base, texts)
        memo.update(zip(new, map(to_ids, base.tokenize_spans(new))))
        lengths, ids = [], []
        for t, spans in zip(texts, spans_per_text):
            n0 = len(ids)
            ids.extend(
                to_ids(base.tokenizer(t))
                if base.crosses(spans)
                else chain.from_iterable(map(memo.__getitem__, spans))
            )
            lengths.append(len(ids) - n0)
        # Renumber from process-wide ids to this chunk's own table, in order of first use, so
        # the merged vocabulary order does not depend on which process ran which chunk.
        ids = np.array(ids, dtype=np.uint32)
        n = len(ids)
        first = np.full(len(vocab), n, dtype=np.int64)
        np.minimum.at(first, ids, np.arange(n))
        used = np.flatnonzero(first < n)
        used = used[np.argsort(first[used], kind="stable")]
        local = np.zeros(len(vocab), dtype=np.uint32)
        local[used] = np.arange(len(used), dtype=np.uint32)
        return np.array(lengths, dtype=np.int64), local[ids], [vocab[i] for i in used.tolist()]

    def _chunk_results(self, texts: Iterable[str], chunksize: int | None) -> Iterator[tuple]:
        """Yield chunk results in order; in worker processes when there is enough work."""
        n_texts = len(texts) if isinstance(texts, Sized) else None
        if chunksize is None:  # about 4 chunks per process keeps them all busy to the end
            chunksize = 1000 if n_texts is None else min(1000, max(64, -(-n_texts // (4 * self.n_cpus))))
        it = _checked(texts)
        first = list(islice(it, chunksize))
        second = list(islice(it, chunksize))
        # Starting processes costs about a second, so small inputs are tokenized right here.
        small = not second or (n_texts is not None and n_texts < MIN_PARALLEL)
        if self.n_cpus <= 1 or small or multiprocessing.current_process().daemon:  # daemons can't fork
            for chunk in (first, second):
                if chunk:
                    yield self._tokenize_chunk(chunk)
            while chunk := list(islice(it, chunksize)):
                yield self._tokenize_chunk(chunk)
            return
        n, ctx = self.n_cpus, multiprocessing.get_context()
        if ctx.get_start_method() == "fork":
            # Forked workers inherit this tokenizer with spaCy built (and its caches): no
            # per-worker import and set-up. Other start methods get a pickled copy instead.
            self._base()
            global _WORKER_TOKENIZER
            _WORKER_TOKENIZER, init = self, {}
        else:
            init = {"initializer": _init_worker, "initargs": (self,)}
        try:
            with ctx.Pool(n, **init) as pool:
                # A bounded window of chunks in flight keeps memory flat however long the input
                # is (Pool.imap would read the whole input iterator ahead).
                pending = deque(pool.apply_async(_worker_chunk, (c,)) for c in (first, second))
                del first, second
                while chunk := list(islice(it, chunksize)):
                    pending.append(pool.apply_async(_worker_chunk, (chunk,)))
                    if len(pending) >= 2 * n:
                        yield pending.popleft().get()
                while pending:
                    yield pending.popleft().get()
        finally:
            _WORKER_TOKENIZER = None

    def process_corpus(
        self, texts: Iterable[str], cache_dir: str | os.PathLike | None = None, chunksize: int | None = None
    ) -> TokenizedCorpus:
        """Tokenize many texts into a flat ``TokenizedCorpus`` (optionally cached on disk).

        Texts are read in chunks of ``chunksize`` (automatic by default) and, with
        ``n_cpus > 1`` and at least 2,000 texts (or an iterable of unknown length), tokenized
        by a pool of processes with a few chunks in flight, so memory stays bounded.
        With ``cache_dir``, the result is stored under a hash of the texts and of this
        tokenizer's rules (names and source), and a later call with the same texts and rules
        loads it instead of tokenizing. ``texts`` is then read into a list first.

        >>> Tokenizer().process_corpus(["A b", "c"]).lengths.tolist()
        [2, 1]
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, got one string; wrap it: [text].")
        if chunksize is not None and (not isinstance(chunksize, int) or chunksize < 1):
            raise ValueError(f"chunksize must be a positive integer or None (automatic), got {chunksize!r}.")
        if cache_dir is not None:
            texts = texts if isinstance(texts, Sequence) else list(texts)
            path = Path(cache_dir) / f"tok-{self.cache_key(texts)}"
            corpus = _load_cached(path, len(texts))
            if corpus is not None:
                return corpus
        builder = _CorpusBuilder()
        for res in self._chunk_results(texts, chunksize):
            builder.add(*res)
        corpus = builder.build()
        if cache_dir is not None:
            _save_cached(path, corpus, self.to_json())
        return corpus

    def process_all(
        self, texts: Iterable[str], cache_dir: str | os.PathLike | None = None, chunksize: int | None = None
    ) -> list[list[str]]:
        """Tokenize many texts, one token list per text in input order (see ``process_corpus``).

        >>> Tokenizer().process_all(["Hello WORLD"])
        [['xxmaj', 'hello', 'xxup', 'world']]
        """
        return self.process_corpus(texts, cache_dir=cache_dir, chunksize=chunksize).to_lists()

    def cache_key(self, texts: Sequence[str]) -> str:
        """Hex digest of the texts, the rules (names and source), the language and spaCy's version."""
        h = hashlib.blake2b(digest_size=16)
        head = [CACHE_FORMAT, self.lang, _tok_func_name(self.tok_func), self.special_cases]
        try:  # spaCy's version, without paying for importing it on a cache hit
            head.append(importlib.metadata.version("spacy"))
        except importlib.metadata.PackageNotFoundError:
            pass
        h.update(json.dumps(head).encode())
        for r in self.pre_rules + self.post_rules:
            h.update(_rule_fingerprint(r).encode() + b"\0")
        for start in range(0, len(texts), 4096):  # hashed in blocks: fast, and memory stays flat
            block = texts[start : start + 4096]
            if not all(isinstance(t, str) for t in block):
                for i, t in enumerate(block):
                    _check_text(t, start + i)
            # the lengths make the split unambiguous: ["ab", "c"] != ["a", "bc"]
            h.update(np.array([len(t) for t in block], dtype=np.int64).tobytes())
            h.update("".join(block).encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def to_json(self) -> dict:
        """A JSON-able description of this tokenizer (rule names, lang, special cases); no code.

        >>> Tokenizer().to_json()["post_rules"]
        ['replace_all_caps', 'deal_caps']
        """
        return {
            "tok_func": _tok_func_name(self.tok_func),
            "lang": self.lang,
            "pre_rules": [getattr(r, "__name__", repr(r)) for r in self.pre_rules],
            "post_rules": [getattr(r, "__name__", repr(r)) for r in self.post_rules],
            "special_cases": list(self.special_cases),
        }

    @classmethod
    def from_json(
        cls, desc: dict, rules: dict[str, Callable] | None = None, n_cpus: int | None = None
    ) -> Tokenizer:
        """Rebuild a tokenizer from ``to_json()``; rules are looked up by name among emberfit's.

        Custom rules must be supplied in ``rules`` ({name: function}); nothing is imported
        from the description itself.

        >>> Tokenizer.from_json(Tokenizer().to_json()).pre_rules[0].__name__
        'fix_html'
        """
        if not isinstance(desc, dict):
            raise TypeError(f"desc must be a dict made by Tokenizer.to_json(), got {type(desc).__name__}.")
        known = {**KNOWN_RULES, **(rules or {})}

        def resolve(name: str) -> Callable:
            if name not in known:
                raise ValueError(
                    f"Unknown tokenizer rule {name!r}. Known rules: {sorted(known)}. "
                    f"Pass custom rules as Tokenizer.from_json(desc, rules={{{name!r}: my_rule}})."
                )
            return known[name]

        tok_name = desc.get("tok_func", "SpacyTokenizer")
        if tok_name not in TOK_FUNCS:
            raise ValueError(f"Unknown tok_func {tok_name!r}; known: {sorted(TOK_FUNCS)}.")
        return cls(
            tok_func=TOK_FUNCS[tok_name],
            lang=desc.get("lang", "en"),
            pre_rules=[resolve(n) for n in desc.get("pre_rules", [])],
            post_rules=[resolve(n) for n in desc.get("post_rules", [])],
            special_cases=desc.get("special_cases"),
            n_cpus=n_cpus,
        )


def _tok_func_name(tok_func: object) -> str:
    return getattr(tok_func, "__name__", repr(tok_func))


def _check_text(t: object, i: int | None) -> None:
    if not isinstance(t, str):
        raise TypeError(
            f"{'t' if i is None else f'texts[{i}]'} is {type(t).__name__} ({t!r:.40}), not str; "
            "replace missing values first, e.g. df[col].fillna('').astype(str)."
        )


def _checked(texts: Iterable[str]) -> Iterator[str]:
    for i, t in enumerate(texts):
        _check_text(t, i)
        yield t


# ------------------------------------------------------------------------------------ the cache
def _save_cached(path: Path, corpus: TokenizedCorpus, desc: dict) -> None:
    """Store a corpus as .npy arrays + a JSON token table (no pickle); meta.json goes last."""
    import io

    from emberfit.core.io import atomic_write

    path.mkdir(parents=True, exist_ok=True)
    for name, arr in (("ids", corpus.ids), ("offsets", corpus.offsets)):
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        atomic_write(path / f"{name}.npy", buf.getvalue())
    atomic_write(path / "tokens.json", json.dumps(corpus.vocab, ensure_ascii=False).encode())
    meta = {"format": CACHE_FORMAT, "n_texts": len(corpus), "n_tokens": corpus.n_tokens, "tokenizer": desc}
    atomic_write(path / "meta.json", json.dumps(meta).encode())


def _load_cached(path: Path, n_texts: int) -> TokenizedCorpus | None:
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

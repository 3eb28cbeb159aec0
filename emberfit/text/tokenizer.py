"""ULMFiT tokenization: fastai v1's rules around spaCy's English tokenizer, over many texts at once.

A text goes through the pre-rules (:mod:`~emberfit.text.rules`), then spaCy's rule-based
tokenizer (:mod:`~emberfit.text.spacy_tokenizer`; special tokens are never split), then the
post-rules. The rules are the original library's, so the tokens match the ones the published
WikiText-103 vocabulary was built from. ``xxbos``/``xxfld`` markers are added by the text
item lists before tokenizing, not here. Many texts are tokenized in worker processes
(:mod:`~emberfit.text.tokenize_pool`) into a flat corpus, optionally cached on disk
(:mod:`~emberfit.text.token_store`).

>>> Tokenizer().process_text("I LOVED it<br />Best movie EVER!!!!")
['i', 'xxup', 'loved', 'it', '\\n ', 'xxmaj', 'best', 'movie', 'xxup', 'ever', 'xxrep', '4', '!']
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from pathlib import Path

import numpy as np

from ..core.reporting import ItemProgress
from .rules import KNOWN_RULES, default_post_rules, default_pre_rules, text_spec_tok
from .spacy_tokenizer import TOK_FUNCS, BaseTokenizer, SpacyTokenizer
from .token_store import (
    CACHE_FORMAT,
    CorpusBuilder,
    TokenizedCorpus,
    code_fingerprint,
    load_corpus,
    save_corpus,
)
from .tokenize_pool import chunk_results, default_n_cpus

__all__ = ["Tokenizer"]


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
        self.n_cpus = default_n_cpus() if n_cpus is None else n_cpus
        self._tok: BaseTokenizer | None = None  # built on first use, once per process

    def __repr__(self) -> str:
        lines = [
            f"Tokenizer {getattr(self.tok_func, '__name__', self.tok_func)} in {self.lang} with the following rules:"
        ]
        lines += [f" - {getattr(r, '__name__', r)}" for r in self.pre_rules + self.post_rules]
        return "\n".join(lines)

    def __getstate__(self) -> dict:  # sent to worker processes without the spaCy object
        return {**self.__dict__, "_tok": None}

    def _base(self) -> BaseTokenizer:
        if self._tok is None:
            tok = self.tok_func(self.lang)
            if self.special_cases:
                tok.add_special_cases(self.special_cases)
            self._tok = tok
        return self._tok

    # -- tokenizing -------------------------------------------------------------------------
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
            return base.chunk_ids(texts, self.post_rules)  # the same tokens, cached per span
        lengths, ids, table = [], [], {}
        for toks in base.pipe(texts):
            for rule in self.post_rules:
                toks = rule(toks)
            lengths.append(len(toks))
            # setdefault with len(table): a new token gets the next id, a known one keeps its id
            ids += [table.setdefault(t, len(table)) for t in toks]
        return np.array(lengths, dtype=np.int64), np.array(ids, dtype=np.uint32), list(table)

    def _chunk_results(self, texts: Iterable[str], chunksize: int | None) -> Iterator[tuple]:
        """Yield chunk results in order; in worker processes when there is enough work."""
        n_texts = len(texts) if isinstance(texts, Sized) else None
        return chunk_results(self, _checked(texts), n_texts, chunksize)

    def process_corpus(
        self,
        texts: Iterable[str],
        cache_dir: str | os.PathLike | None = None,
        chunksize: int | None = None,
        progress: bool = False,
    ) -> TokenizedCorpus:
        """Tokenize many texts into a flat ``TokenizedCorpus`` (optionally cached on disk).

        Texts are read in chunks of ``chunksize`` (automatic by default) and, with
        ``n_cpus > 1`` and at least 2,000 texts (or an iterable of unknown length), tokenized
        by a pool of processes with a few chunks in flight, so memory stays bounded.
        With ``cache_dir``, the result is stored under a hash of the texts and of this
        tokenizer's rules (names and source), and a later call with the same texts and rules
        loads it instead of tokenizing. ``texts`` is then read into a list first. ``progress=True``
        shows the texts tokenized so far (a bar in a terminal or Jupyter, a line every 10 s in a log).

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
            corpus = load_corpus(path, len(texts))
            if corpus is not None:
                if progress:
                    print(f"tokenizing: {len(texts):,} texts read from the cache in {path}", flush=True)
                return corpus
        builder = CorpusBuilder()
        n_texts = len(texts) if isinstance(texts, Sized) else None
        with ItemProgress(n_texts, "tokenizing", unit="texts", enabled=progress) as bar:
            for res in self._chunk_results(texts, chunksize):
                builder.add(*res)
                bar.update(len(res[0]))
        corpus = builder.build()
        if cache_dir is not None:
            save_corpus(path, corpus, self.to_json())
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
        """Hex digest of the texts, the rules and tokenizer (names and source), the language and spaCy's version."""
        h = hashlib.blake2b(digest_size=16)
        head = [CACHE_FORMAT, self.lang, _tok_func_name(self.tok_func), self.special_cases]
        try:  # spaCy's version, without paying for importing it on a cache hit
            head.append(importlib.metadata.version("spacy"))
        except importlib.metadata.PackageNotFoundError:
            pass
        h.update(json.dumps(head).encode())
        for code in [self.tok_func, *self.pre_rules, *self.post_rules]:
            h.update(code_fingerprint(code).encode() + b"\0")
        for start in range(0, len(texts), 4096):  # hashed in blocks: fast, and memory stays flat
            block = texts[start : start + 4096]
            if not all(isinstance(t, str) for t in block):
                for i, t in enumerate(block):
                    _check_text(t, start + i)
            # the lengths make the split unambiguous: ["ab", "c"] != ["a", "bc"]
            h.update(np.array([len(t) for t in block], dtype=np.int64).tobytes())
            h.update("".join(block).encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    # -- description (JSON, no code) ---------------------------------------------------------
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

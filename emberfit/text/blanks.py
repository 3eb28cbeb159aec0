"""Empty texts and whitespace tokens: what keeps a text column of blanks from becoming a model of ``xxbos``.

spaCy turns whitespace it does not swallow into tokens of its own: ``'\\t'``, ``'\\xa0 '``, or
``' '`` for a text of spaces. Those say nothing and are dropped before the vocabulary is
built and before numericalizing (the tokenizer's own output is left as fastai v1's).
Whitespace holding a line break (``'\\n \\n '`` from ``<br /><br />``, ``'\\x85'``) is kept:
it marks paragraphs, fastai keeps it, and the bundled model's vocabulary has it (rank 25).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .rules import BOS
from .token_store import TokenizedCorpus

__all__ = ["is_blank_token", "drop_blank_tokens", "describe_source", "check_empty_texts"]

# the characters str.splitlines breaks on
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def is_blank_token(t: str) -> bool:
    """True for a token of whitespace without a line break (or the empty string).

    >>> [is_blank_token(t) for t in [" ", "\\t", "\\xa0 ", "", "\\n \\n ", "\\x85", "a"]]
    [True, True, True, True, False, False, False]
    """
    return not t or (t.isspace() and _LINE_BREAKS.isdisjoint(t))


def drop_blank_tokens(corpus: TokenizedCorpus) -> TokenizedCorpus:
    """``corpus`` without its blank tokens (see :func:`is_blank_token`), from its token table too.

    >>> from emberfit.text.tokenizer import Tokenizer
    >>> c = drop_blank_tokens(Tokenizer(n_cpus=1).process_corpus(["a \\t b", "   "])); c.to_lists(), c.vocab
    ([['a', 'b'], []], ['a', 'b'])
    """
    blank = np.fromiter(map(is_blank_token, corpus.vocab), dtype=bool, count=len(corpus.vocab))
    if not blank.any():  # the usual case: nothing to copy
        return corpus
    keep_tok = ~blank
    remap = (np.cumsum(keep_tok) - 1).astype(np.uint32)  # old table index -> new one
    keep = keep_tok[corpus.ids]
    kept_before = np.concatenate([[0], np.cumsum(keep)])  # tokens kept before each position
    offsets = kept_before[corpus.offsets].astype(np.int64)
    vocab = [t for t, k in zip(corpus.vocab, keep_tok.tolist()) if k]
    return TokenizedCorpus(vocab, remap[corpus.ids[keep]], offsets)


def describe_source(cols: Sequence | None) -> str:
    """``" in column 'text'"`` for the message, or ``""`` when the texts came from elsewhere."""
    if not cols:
        return ""
    return f" in column {cols[0]!r}" if len(cols) == 1 else f" in columns {list(cols)!r}"


def check_empty_texts(empty: np.ndarray, what: str, cols: Sequence | None, fitting: bool) -> str | None:
    """Refuse training texts that are all empty; otherwise the warning part for the empty ones (or None).

    ``empty`` holds, per text, whether it is empty or only whitespace (missing texts included).
    """
    n, k = len(empty), int(np.sum(empty))
    if not k:
        return None
    src = describe_source(cols)
    if fitting and k == n:
        fix = f"pass the text column with cols=... (text_cols=... in the factories){src and ', or fill it'}"
        raise ValueError(
            f"{what}: all {n} texts{src} are empty or only whitespace, so a model would learn nothing but "
            f"{BOS!r}; {fix}"
        )
    drop = "drop them first"
    if cols and len(cols) == 1:
        drop += f", e.g. df = df[df[{cols[0]!r}].fillna('').str.strip() != '']"
    return f"{k} of {n} texts{src} are empty or only whitespace (each gives just {BOS!r}); {drop}"

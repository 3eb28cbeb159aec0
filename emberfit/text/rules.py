"""The fastai v1 (1.0.61) tokenizer rules and special tokens, exactly as the WT103 vocabulary was made.

A text goes through the pre-rules (plain ``str -> str`` functions) before spaCy splits it,
and its tokens through the post-rules (``list[str] -> list[str]``) after. The special tokens
are never split (the tokenizer registers them as spaCy special cases).

>>> toks = spec_add_spaces(fix_html("I LOVED it<br />Best")).split(" ")  # spaCy splits here
>>> deal_caps(replace_all_caps(toks))
['i', 'xxup', 'loved', 'it', '\\n', 'xxmaj', 'best']
"""

from __future__ import annotations

import html
import re

__all__ = [
    "UNK", "PAD", "BOS", "EOS", "FLD", "TK_MAJ", "TK_UP", "TK_REP", "TK_WREP", "text_spec_tok",
    "fix_html", "replace_rep", "replace_wrep", "spec_add_spaces", "rm_useless_spaces",
    "replace_all_caps", "deal_caps", "default_pre_rules", "default_post_rules", "KNOWN_RULES",
]  # fmt: skip

UNK, PAD, BOS, EOS, FLD = "xxunk", "xxpad", "xxbos", "xxeos", "xxfld"
TK_MAJ, TK_UP, TK_REP, TK_WREP = "xxmaj", "xxup", "xxrep", "xxwrep"
text_spec_tok = [UNK, PAD, BOS, EOS, FLD, TK_MAJ, TK_UP, TK_REP, TK_WREP]

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

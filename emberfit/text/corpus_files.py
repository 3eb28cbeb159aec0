"""Reading pretraining corpora from files: texts ready to tokenize, and the document each piece belongs to.

``read_corpus(path)`` understands:

* a folder: every file below it that one of the next lines understands (sorted, recursive);
* ``.txt``: one document per file (UTF-8; undecodable bytes become U+FFFD);
* ``.jsonl`` / ``.jsonl.gz``: one JSON object per line, the text in field ``text_field``;
* ``.csv`` / ``.csv.gz``: one document per row, the text in column ``text_col`` (read with
  ``keep_default_na=False``, so an empty cell is an empty text, not NaN);
* ``.tokens``: a WikiText token file, one document per article (`` = Title = `` lines).

A Project Gutenberg book is recognised by its ``*** START OF ...`` / ``*** END OF ...``
markers (or the older ``*END*THE SMALL PRINT!`` header): only the text between them is kept,
and its hard-wrapped lines are joined into paragraphs. Long documents are cut at paragraph
breaks into pieces of about ``piece_chars`` characters (the pieces of one document form a
*group* that stays on one side of the train/valid split), so that tokenizing spreads over all
cores and each epoch can shuffle at a finer grain.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .raw_texts import read_text_file
from .rules import BOS

__all__ = ["SUFFIXES", "strip_gutenberg", "read_corpus"]

SUFFIXES = (".txt", ".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".tokens")

_START = re.compile(r"^\*\*\* ?START OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_END = re.compile(r"^\*\*\* ?END OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_OLD_START = re.compile(r"^\*END\*? ?THE SMALL PRINT!.*$", re.M)  # pre-2003 "small print" header
_OLD_END = re.compile(r"^End of (?:the )?Project Gutenberg.*$", re.M | re.I)
_BLANK = re.compile(r"\n[ \t]*\n\s*")
_WIKI_TITLE = re.compile(r"^ = [^=].* = $")


def _suffix(p: Path) -> str:
    name = p.name.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), "")


def strip_gutenberg(text: str) -> str:
    """The body of a Project Gutenberg book: licence header and footer removed, paragraphs unwrapped.

    Text without Gutenberg markers is returned unchanged.

    >>> book = "The Project Gutenberg EBook\\r\\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\\r\\nIt was\\r\\na dark night.\\r\\n\\r\\nThe end.\\r\\n*** END OF THIS PROJECT GUTENBERG EBOOK X ***\\r\\nLicence..."
    >>> strip_gutenberg(book)
    'It was a dark night.\\n\\nThe end.'
    """
    if "GUTENBERG" not in text.upper():
        return text
    start, end = _START.search(text), _END.search(text)
    if start is None:
        start = _OLD_START.search(text)
    if start is None:
        return text
    body = text[start.end() : end.start() if end is not None and end.start() > start.end() else len(text)]
    # "End of Project Gutenberg's ..." closes the body (the last one, in its second half)
    old_ends = [m.start() for m in _OLD_END.finditer(body)]
    if old_ends and old_ends[-1] > len(body) // 2:
        body = body[: old_ends[-1]]
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [" ".join(p.split()) for p in _BLANK.split(body)]
    return "\n\n".join(p for p in paragraphs if p)


def _pieces(text: str, piece_chars: int) -> list[str]:
    """``text`` cut at paragraph breaks into pieces of about ``piece_chars`` characters."""
    if len(text) <= piece_chars:
        return [text]
    out, start = [], 0
    while start < len(text):
        cut = text.find("\n\n", start + piece_chars)
        cut = len(text) if cut < 0 else cut + 2
        out.append(text[start:cut])
        start = cut
    return out


def _jsonl_texts(path: Path, text_field: str):
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}, line {n}: not valid JSON ({e})") from None
            if not isinstance(rec, dict) or text_field not in rec:
                keys = sorted(rec) if isinstance(rec, dict) else type(rec).__name__
                raise KeyError(
                    f"{path}, line {n}: no field text_field={text_field!r} (it has {keys}); pass the right "
                    "field name (--text-field)"
                )
            yield str(rec[text_field] or "")


def _csv_texts(path: Path, text_col: str):
    df = pd.read_csv(path, keep_default_na=False, dtype=str)
    if text_col not in df.columns:
        if len(df.columns) != 1:
            raise KeyError(
                f"{path} has no column text_col={text_col!r} (columns: {list(df.columns)}); pass the right "
                "column name (--text-col)"
            )
        text_col = df.columns[0]
    yield from df[text_col].tolist()


def _wikitext_articles(path: Path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    article: list[str] = []
    for line in lines:
        if _WIKI_TITLE.match(line) and any(x.strip() for x in article):
            yield "\n".join(article).strip()
            article = []
        article.append(line)
    if any(x.strip() for x in article):
        yield "\n".join(article).strip()


def _file_docs(path: Path, text_field: str, text_col: str):
    sfx = _suffix(path)
    if sfx == ".txt":
        yield read_text_file(path)[0]
    elif sfx in (".jsonl", ".jsonl.gz"):
        yield from _jsonl_texts(path, text_field)
    elif sfx in (".csv", ".csv.gz"):
        yield from _csv_texts(path, text_col)
    elif sfx == ".tokens":
        yield from _wikitext_articles(path)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        if not _suffix(path):
            raise ValueError(f"corpus file {path} has an unknown type; use one of {', '.join(SUFFIXES)}")
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(
            f"corpus path {path} does not exist; pass a folder or a file ({', '.join(SUFFIXES)})"
        )
    files = sorted(
        p
        for p in path.rglob("*")
        # hidden files and folders are skipped (only below ``path``: "../data" must still work)
        if p.is_file() and _suffix(p) and not any(s.startswith(".") for s in p.relative_to(path).parts)
    )
    if not files:
        raise FileNotFoundError(f"no corpus files ({', '.join(SUFFIXES)}) under {path}")
    return files


def read_corpus(
    path: str | os.PathLike, text_field: str = "text", text_col: str = "text", piece_chars: int = 20_000
) -> tuple[list[str], np.ndarray]:
    """Texts ready to tokenize (``xxbos`` before each document) and the document (group) of each piece.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("Hello there.")
    >>> read_corpus(d)
    (['xxbos Hello there.'], array([0]))
    """
    if not isinstance(piece_chars, int) or piece_chars < 1:
        raise ValueError(f"piece_chars must be a positive int, got {piece_chars!r}")
    texts, groups, g = [], [], 0
    for f in _files(Path(path)):
        for doc in _file_docs(f, text_field, text_col):
            pieces = _pieces(strip_gutenberg(doc), piece_chars)
            texts.append(f"{BOS} {pieces[0]}")  # only a document's first piece starts with xxbos
            texts.extend(pieces[1:])
            groups.extend([g] * len(pieces))
            g += 1
    return texts, np.asarray(groups, dtype=np.int64)

"""Raw items -> the strings that are tokenized: texts, files or rows of fields, with their markers.

Bad input is handled, never a crash: a missing text (None/NaN) becomes an empty text (just
``xxbos``), a non-string value is converted with ``str()``, undecodable bytes in a file are
replaced by U+FFFD; each kind is counted in one warning (:class:`InputReport`), with the
texts that are empty or only whitespace.
"""

from __future__ import annotations

import math
import pathlib
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .rules import BOS, EOS, FLD

__all__ = ["InputReport", "read_text_file", "join_texts"]


class InputReport:
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


def _one_text(o: Any, report: InputReport) -> str:
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
    report: InputReport | None = None,
) -> list[str]:
    """Raw items (strings, file paths, or rows of several text fields) -> strings ready to tokenize.

    Each text starts with ``xxbos``; with ``mark_fields`` field ``k`` (from 1) is preceded by
    ``xxfld k``, otherwise fields are joined by a space.

    >>> join_texts(["Hi", ""]), join_texts([["a", "b"]], mark_fields=True)
    (['xxbos Hi', 'xxbos '], ['xxbos xxfld 1 a xxfld 2 b'])
    """
    own = report is None
    report = report or InputReport()
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

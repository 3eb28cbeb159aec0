"""Reading CSV files for the ``from_csv`` factories, with a clear error for a file in the wrong encoding.

pandas reports a non-UTF-8 byte as a bare ``UnicodeDecodeError`` whose position counts from the
start of an internal chunk, not of the file; :func:`read_csv` names the file, the byte's real
offset and line, and the ``encoding=`` option that fixes it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["read_csv"]


def read_csv(f: str | Path, where: str = "from_csv", encoding: str = "utf-8", **read_kw) -> pd.DataFrame:
    """``pd.read_csv(f, encoding=encoding, **read_kw)``; a decoding error becomes a ValueError naming the fix.

    ``where`` names the caller in the message (e.g. ``"TextDataBunch.from_csv"``).

    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "t.csv"; _ = f.write_bytes("a\\ncaf\\xe9\\n".encode("latin-1"))
    >>> read_csv(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: ...t.csv is not valid 'utf-8': byte 0xe9 at byte offset 5 (line 2: b'caf\\xe9'). ...
    >>> read_csv(f, encoding="latin-1").a.tolist()
    ['café']
    """
    try:
        return pd.read_csv(f, encoding=encoding, **read_kw)
    except UnicodeDecodeError as e:
        raise ValueError(_decode_message(Path(f), e, where, encoding)) from None


def _decode_message(f: Path, err: UnicodeDecodeError, where: str, encoding: str) -> str:
    where_bad = _locate(f, encoding)
    if where_bad is None:  # compressed, or only pandas' decoding failed: its own report is all we have
        bad = err.object[err.start : err.end]
        where_bad = f"byte 0x{bad.hex()} ({err.reason})"
    return (
        f"{f} is not valid {encoding!r}: {where_bad}. The file is in another encoding; pass it to "
        f"{where}(..., encoding=...), e.g. encoding='latin-1' (Western European text; Windows files "
        "are often 'cp1252'), or re-save the file as UTF-8"
    )


def _locate(f: Path, encoding: str) -> str | None:
    """Where in the raw file the first undecodable byte is: its value, offset, line and surroundings."""
    try:
        raw = f.read_bytes()
        raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        # the bytes around it, on its own line, so the word it spoils can be recognised
        lo = max(raw.rfind(b"\n", 0, e.start) + 1, e.start - 30)
        hi = raw.find(b"\n", e.end)
        hi = min(len(raw) if hi < 0 else hi, e.end + 30)
        return f"byte 0x{raw[e.start : e.end].hex()} at byte offset {e.start} (line {line}: {raw[lo:hi]!r})"
    except (OSError, LookupError):
        return None
    return None

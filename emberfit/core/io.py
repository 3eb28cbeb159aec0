"""Safe persistence: atomic writes, safetensors with JSON metadata, and no pickle anywhere.

Everything a user may receive from someone else (weights, exported learners, saved data)
goes through here: tensors in safetensors, everything else as JSON in the safetensors
header. Loading never runs code from the file; the classes a file names are looked up by
exact name in :mod:`emberfit.core.registry`, never imported.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load_bytes
from safetensors.torch import save as st_save_bytes

__all__ = [
    "atomic_write",
    "save_tensors",
    "load_tensors",
    "tensors_to_bytes",
    "tensors_from_bytes",
    "flatten_state",
    "read_json",
    "unflatten_state",
]

META_KEY = "emberfit"


def atomic_write(path: str | os.PathLike, data: bytes | Callable[[Path], None]) -> Path:
    """Write ``data`` (bytes, or a function that writes a given temp path) to ``path`` atomically.

    The file is written next to its destination, fsynced, then renamed over it, so a crash
    leaves either the old file or the new one, never a half-written one.

    >>> p = atomic_write(Path(tempfile.mkdtemp()) / "x.bin", b"hello"); p.read_bytes()
    b'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if isinstance(data, (bytes, bytearray, memoryview)):
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        else:
            os.close(fd)
            data(Path(tmp))
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        try:  # make the rename itself durable
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> Path:
    """Save a flat dict of tensors plus JSON-able ``meta`` to one safetensors file, atomically.

    >>> p = save_tensors(Path(tempfile.mkdtemp()) / "w.safetensors", {"a": torch.ones(2)}, {"k": 1})
    >>> load_tensors(p)[1]
    {'k': 1}
    """
    return atomic_write(path, tensors_to_bytes(tensors, meta))


def tensors_to_bytes(tensors: dict[str, torch.Tensor], meta: dict | None = None) -> bytes:
    """The bytes :func:`save_tensors` writes: a safetensors body with ``meta`` as JSON in its header.

    >>> tensors_from_bytes(tensors_to_bytes({"a": torch.ones(2)}, {"k": 1}))[1]
    {'k': 1}
    """
    clean = {}
    for k, v in tensors.items():
        if not isinstance(v, torch.Tensor):
            raise TypeError(
                f"save_tensors: value for key {k!r} is a {type(v).__name__}, expected a torch.Tensor"
            )
        # safetensors refuses shared storage and non-contiguous views; store a private copy.
        clean[k] = v.detach().to("cpu").contiguous().clone()
    header = {META_KEY: json.dumps(meta or {}, allow_nan=True)}
    return st_save_bytes(clean, metadata=header)


def load_tensors(path: str | os.PathLike, what: str = "file") -> tuple[dict[str, torch.Tensor], dict]:
    """Load a file written by :func:`save_tensors`: ``(tensors, meta)``; corrupt files raise ValueError.

    ``what`` names the file's role in error messages (e.g. "checkpoint").
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path} (check the name and folder; nothing was loaded)")
    return tensors_from_bytes(path.read_bytes(), what, str(path))


def tensors_from_bytes(
    raw: bytes, what: str = "file", where: str = "<bytes>"
) -> tuple[dict[str, torch.Tensor], dict]:
    """``(tensors, meta)`` from bytes written by :func:`tensors_to_bytes` (a file's, or a stream's).

    Damaged bytes raise a ValueError naming ``what`` and ``where``.
    """
    try:
        tensors = st_load_bytes(raw)
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + n].decode("utf-8")).get("__metadata__") or {}
        meta = json.loads(header.get(META_KEY, "{}"))
    except (
        SafetensorError,
        json.JSONDecodeError,
        UnicodeDecodeError,
        OSError,
        RuntimeError,
        struct.error,
        AttributeError,
    ) as e:
        raise ValueError(
            f"{what} {where} is corrupt, truncated or not an emberfit safetensors file ({type(e).__name__}: {e}); "
            "re-create it with learn.save()/learn.export(), nothing was loaded"
        ) from None
    return tensors, meta


def read_json(path: str | os.PathLike, what: str = "file", kind: type = dict) -> Any:
    """Parse a JSON file emberfit wrote (a run record, a model card...); damage is a ValueError naming it.

    >>> p = atomic_write(Path(tempfile.mkdtemp()) / "r.json", b'{"a": 1}'); read_json(p, "run record")
    {'a': 1}
    """
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{what} {path} is not valid JSON ({e}); delete or re-create it") from None
    if not isinstance(value, kind):
        raise ValueError(f"{what} {path} must hold a JSON {kind.__name__}, got {type(value).__name__}")
    return value


def flatten_state(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Split a nested structure into JSON (returned) and tensors (put in ``tensors``).

    Used for optimizer state dicts: tensors are replaced by ``{"__tensor__": key}``.
    """
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}"
        tensors[key] = obj
        return {"__tensor__": key}
    if isinstance(obj, dict):
        # JSON keys must be strings; remember int keys (optimizer state is keyed by int).
        return {
            "__dict__": [[k, flatten_state(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()],
        }
    if isinstance(obj, (list, tuple)):
        return {
            "__list__": [flatten_state(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)],
            "tuple": isinstance(obj, tuple),
        }
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} at {prefix!r} without pickle")


def unflatten_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: unflatten_state(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            items = [unflatten_state(v, tensors) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
    return obj

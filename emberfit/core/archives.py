"""Folders built atomically, and archives (.tgz, .tar, .zip) extracted safely into them.

A folder is built in a hidden temporary sibling and renamed into place in one step, so an
interrupted run never leaves a half-built dataset behind. Archives are checked member by member
before anything is written: nothing may land outside the target folder, and devices, fifos and
links that point outside are refused.
"""

from __future__ import annotations

import gzip
import os
import pathlib
import shutil
import socket
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

__all__ = ["publish", "copy_tree", "extract"]


def publish(target: Path, build: Callable[[Path], Path | None]) -> Path:
    """Build the folder in a hidden temp sibling, then rename it to ``target`` in one step.

    ``build(tmp)`` fills ``tmp`` and may return a sub-folder of it to publish instead.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(target)
    prefix = f".{target.name}.partial-{socket.gethostname()}-{os.getpid()}-"
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        root = build(tmp) or tmp
        try:
            os.rename(root, target)  # replaces an empty target folder, fails on a non-empty one
        except OSError:
            if target.is_dir() and any(target.iterdir()):
                return target  # another process finished first; use theirs
            raise
        _fsync_dir(target.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _sweep_stale(target: Path) -> None:
    """Remove temp folders left by killed runs on this host (their process no longer exists)."""
    prefix = f".{target.name}.partial-"
    for p in target.parent.glob(f"{prefix}*"):
        host_pid, _, _random = p.name[len(prefix) :].rpartition("-")
        host, _, pid = host_pid.rpartition("-")
        if host != socket.gethostname() or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass  # exists but belongs to someone else


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def copy_tree(src: Path, dst: Path) -> None:
    """Copy file contents only: the copy must be writable even when the source is read-only."""
    for dirpath, _, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        out = dst / rel
        out.mkdir(parents=True, exist_ok=True)
        for f in filenames:
            shutil.copyfile(os.path.join(dirpath, f), out / f)


def extract(archive: Path, target: Path) -> Path:
    """Extract a .tgz/.tar/.zip to ``target``; a single top-level folder becomes ``target`` itself."""

    def build(tmp: Path) -> Path:
        if zipfile.is_zipfile(archive):
            _safe_unzip(archive, tmp)
        else:
            _safe_untar(archive, tmp)
        entries = list(tmp.iterdir())
        if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
            return entries[0]
        return tmp

    return publish(target, build)


def _corrupt(archive: Path, e: BaseException) -> ValueError:
    detail = " ".join(str(e).split())  # tarfile's multi-line reasons, on one line
    return ValueError(
        f"{archive} is not a readable archive ({type(e).__name__}: {detail}); it may be truncated or corrupt. "
        "Delete it and run again (or call untar_data(..., force_download=True))"
    )


def _check_member(archive: Path, name: str, what: str = "member") -> None:
    parts = pathlib.PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise ValueError(
            f"refusing to extract {archive}: {what} {name!r} would land outside the target folder "
            "(absolute path or '..'); the archive is unsafe, nothing was extracted"
        )


def _safe_untar(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = tf.getmembers()  # reads to the end, so a truncated file fails here
            for m in members:
                _check_member(archive, m.name)
                if m.issym() or m.islnk():
                    _check_member(archive, m.linkname, what=f"link target of {m.name!r}")
                elif not (m.isfile() or m.isdir()):
                    raise ValueError(f"refusing to extract {archive}: {m.name!r} is a device or fifo")
            if hasattr(tarfile, "data_filter"):
                tf.extractall(dest, members=members, filter="data")
            else:
                tf.extractall(dest, members=members)  # members were checked above
    except getattr(tarfile, "FilterError", ()) as e:
        raise ValueError(f"refusing to extract {archive}: {e}; nothing was extracted") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise _corrupt(archive, e) from None


def _safe_unzip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(archive, info.filename)
            bad = zf.testzip()
            if bad is not None:
                raise zipfile.BadZipFile(f"CRC error in {bad}")
            zf.extractall(dest)
    except (zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise _corrupt(archive, e) from None

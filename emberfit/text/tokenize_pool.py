"""Tokenizing many texts in worker processes, a bounded window of chunks at a time.

A tokenizer's ``_tokenize_chunk(texts)`` turns one chunk into (lengths, local ids, local
token table); :func:`chunk_results` yields those results in input order, from a process pool
when there is enough work, so memory stays flat however long the input is.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice

__all__ = ["chunk_results", "default_n_cpus", "MIN_PARALLEL"]

MIN_PARALLEL = 2000  # fewer texts (when their number is known) are tokenized in the calling process

# The tokenizer of this worker process (set by the pool's initializer, or inherited by fork).
_WORKER_TOKENIZER = None


def default_n_cpus() -> int:
    """The cores this process may use, at most 16."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return min(16, n)


def _init_worker(tokenizer) -> None:
    global _WORKER_TOKENIZER
    _WORKER_TOKENIZER = tokenizer
    tokenizer._base()  # build spaCy once per process, not once per chunk


def _worker_chunk(texts: list[str]) -> tuple:
    return _WORKER_TOKENIZER._tokenize_chunk(texts)


def chunk_results(
    tokenizer, texts: Iterable[str], n_texts: int | None, chunksize: int | None
) -> Iterator[tuple]:
    """Yield ``tokenizer._tokenize_chunk`` results in order; in worker processes when there is enough work.

    ``n_texts`` is the number of texts when known (None for a stream).
    """
    n_cpus = tokenizer.n_cpus
    if chunksize is None:  # about 4 chunks per process keeps them all busy to the end
        chunksize = 1000 if n_texts is None else min(1000, max(64, -(-n_texts // (4 * n_cpus))))
    it = iter(texts)
    first = list(islice(it, chunksize))
    second = list(islice(it, chunksize))
    # Starting processes costs about a second, so small inputs are tokenized right here.
    small = not second or (n_texts is not None and n_texts < MIN_PARALLEL)
    if n_cpus <= 1 or small or multiprocessing.current_process().daemon:  # daemons can't fork
        for chunk in (first, second):
            if chunk:
                yield tokenizer._tokenize_chunk(chunk)
        while chunk := list(islice(it, chunksize)):
            yield tokenizer._tokenize_chunk(chunk)
        return
    head = [first, second]
    del first, second  # _pooled empties head once its chunks are sent
    yield from _pooled(tokenizer, head, it, chunksize)


def _pooled(tokenizer, head: list[list[str]], it: Iterator[str], chunksize: int) -> Iterator[tuple]:
    """The chunks ``head`` then the rest of ``it``, tokenized by ``tokenizer.n_cpus`` processes."""
    global _WORKER_TOKENIZER
    n, ctx = tokenizer.n_cpus, multiprocessing.get_context()
    if ctx.get_start_method() == "fork":
        # Forked workers inherit this tokenizer with spaCy built (and its caches): no
        # per-worker import and set-up. Other start methods get a pickled copy instead.
        tokenizer._base()
        _WORKER_TOKENIZER, init = tokenizer, {}
    else:
        init = {"initializer": _init_worker, "initargs": (tokenizer,)}
    try:
        with ctx.Pool(n, **init) as pool:
            # A bounded window of chunks in flight keeps memory flat however long the input
            # is (Pool.imap would read the whole input iterator ahead).
            pending = deque(pool.apply_async(_worker_chunk, (c,)) for c in head)
            head.clear()
            while chunk := list(islice(it, chunksize)):
                pending.append(pool.apply_async(_worker_chunk, (chunk,)))
                if len(pending) >= 2 * n:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
    finally:
        _WORKER_TOKENIZER = None

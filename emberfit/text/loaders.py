"""Batches for ULMFiT: language-model streams and padded, length-sorted classifier batches.

Both loaders read a *ragged corpus*: one flat integer array ``ids`` holding every document's
token ids back to back, and ``offsets`` (``len(docs) + 1`` int64) so that document ``i`` is
``ids[offsets[i]:offsets[i+1]]``. No per-token Python objects exist, so the whole IMDB
language-model corpus (about 28M tokens) is about 110 MB of int32.

All randomness comes from torch's global RNG, so ``set_seed`` repeats an epoch exactly.

Under DistributedDataParallel both loaders are sharded with ``shard(rank, world_size)``: every
rank draws the same epoch (the RNG state is copied from rank 0 at the start of each shuffled
epoch, so ranks agree even when their models drew different amounts of randomness) and keeps
its own rows of every batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from ..core.data import to_device
from ..core.distributed import world_size as _world_size

__all__ = ["LMLoader", "SortishLoader", "ragged_take", "sortish_batches"]


def _as_ragged(ids, offsets) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(ids.numpy() if isinstance(ids, torch.Tensor) else ids)
    offsets = np.asarray(offsets.numpy() if isinstance(offsets, torch.Tensor) else offsets, dtype=np.int64)
    if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(ids):
        raise ValueError(
            f"offsets must start at 0 and end at len(ids)={len(ids)}; got {len(offsets)} offsets "
            f"ending at {offsets[-1] if len(offsets) else None}"
        )
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must be integer token ids, got dtype {ids.dtype}")
    return ids, offsets


def _check_shard(rank: int, world_size: int) -> None:
    for name, v, low in (("world_size", world_size, 1), ("rank", rank, 0)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
            raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
    if rank >= world_size:
        raise ValueError(f"rank must be < world_size={world_size}, got rank={rank}")


def _sync_rng_from_rank0() -> None:
    """Give every process rank 0's torch RNG state, so all ranks draw the same epoch."""
    if _world_size() < 2:
        return
    import torch.distributed as dist

    state = torch.get_rng_state()
    if dist.get_backend() == "nccl":  # NCCL only moves CUDA tensors
        state = state.to(torch.device("cuda", torch.cuda.current_device()))
    dist.broadcast(state, src=0)
    torch.set_rng_state(state.cpu())


def ragged_take(ids: np.ndarray, offsets: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Documents ``idx`` of a ragged corpus, as a new ``(ids, offsets)`` pair.

    >>> ragged_take(np.arange(5), np.array([0, 2, 5]), np.array([1, 0]))
    (array([2, 3, 4, 0, 1]), array([0, 3, 5]))
    """
    idx = np.asarray(idx, dtype=np.int64)
    starts, ends = offsets[idx], offsets[idx + 1]
    new_offsets = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=new_offsets[1:])
    if len(idx) == 0:
        return ids[:0].copy(), new_offsets
    # One slice per document: cheaper than an int64 index per token on big corpora.
    return np.concatenate([ids[s:e] for s, e in zip(starts.tolist(), ends.tolist())]), new_offsets


class LMLoader:
    """Language-model batches ``(x, y)`` of shape ``(bs, seq_len)``, ``y`` being ``x`` shifted by one token.

    Each epoch the documents are put in a new random order (``shuffle=True``), joined into
    one token stream and cut into ``bs`` contiguous rows; batch ``k`` holds the next
    ``bptt`` tokens of every row, so an RNN can carry its hidden state from one batch to the
    next. Rows overlap by one token, so every token of the stream but the first is a target
    exactly once per epoch (the ``(len - 1) % bs`` tokens at the very end are left out).

    ``backwards=True`` reads the stream reversed (for a backwards language model).
    ``bptt_jitter=True`` varies the window length as fastai did (``bptt`` with probability
    0.95, else ``bptt/2``; then normal with std 5; clipped to [5, bptt+25]); the lengths are
    rescaled to cover the rows exactly, so ``len(dl)`` stays exact.

    >>> dl = LMLoader(np.arange(21), np.array([0, 10, 21]), bs=2, bptt=4)
    >>> x, y = next(iter(dl)); x.tolist(), y.tolist()
    ([[0, 1, 2, 3], [10, 11, 12, 13]], [[1, 2, 3, 4], [11, 12, 13, 14]])
    """

    def __init__(
        self,
        ids,
        offsets,
        bs: int = 64,
        bptt: int = 70,
        shuffle: bool = False,
        backwards: bool = False,
        bptt_jitter: bool = False,
        device: torch.device | str | None = None,
    ):
        for name, v in (("bs", bs), ("bptt", bptt)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.ids, self.offsets = _as_ragged(ids, offsets)
        self.bs, self.bptt = int(bs), int(bptt)
        self.shuffle, self.backwards, self.bptt_jitter = shuffle, backwards, bptt_jitter
        self.device = torch.device(device) if device is not None else None
        self.n = len(self.offsets) - 1  # documents (DataBunch's repr shows it)
        self.n_tokens = int(self.offsets[-1])
        self.row_len = (self.n_tokens - 1) // self.bs  # tokens read as input per row per epoch
        if self.row_len < 1:
            raise ValueError(
                f"the corpus has {self.n_tokens} tokens, too few for bs={self.bs} rows of at least 2 tokens; "
                "use a smaller bs or more text"
            )
        self.order = None  # predictions are per token of the stream; there is no dataset order

    rank, world_size = 0, 1  # not sharded (see shard)

    def __len__(self) -> int:
        return math.ceil(self.row_len / self.bptt)

    def stream(self) -> np.ndarray:
        """This epoch's token stream: documents in (shuffled) order, reversed if ``backwards``."""
        if self.shuffle:
            perm = torch.randperm(self.n).numpy()
            s = ragged_take(self.ids, self.offsets, perm)[0]
        else:
            s = self.ids
        if self.backwards:
            s = s[::-1]
        return np.ascontiguousarray(s)

    def window_bounds(self) -> list[int]:
        """Start positions of the windows along a row, followed by ``row_len``."""
        n, L = len(self), self.row_len
        if not self.bptt_jitter or n == 1:
            return [min(i * self.bptt, L) for i in range(n)] + [L]
        bptt = self.bptt
        half = torch.rand(n) >= 0.95
        seq = torch.where(half, torch.full((n,), bptt / 2), torch.full((n,), float(bptt)))
        seq = (seq + 5 * torch.randn(n)).clamp(5, bptt + 25)
        # Rescale so the windows tile the row exactly (keeps len(dl) exact); each window >= 1.
        ends = np.round(np.cumsum(seq.numpy().astype(np.float64)) * (L / float(seq.sum()))).astype(np.int64)
        bounds = [0]
        for k in range(n - 1):
            bounds.append(int(min(max(ends[k], bounds[-1] + 1), L - (n - 1 - k))))
        return bounds + [L]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.world_size > 1 and (self.shuffle or self.bptt_jitter):
            _sync_rng_from_rank0()
        stream = torch.from_numpy(self.stream())
        L = self.row_len
        rows = stream.as_strided((self.bs, L + 1), (L, 1))  # a view: row i starts at token i*L
        rows = rows[self.rank :: self.world_size]  # this rank's streams (all of them unless sharded)
        if rows.shape[0] == 0:  # a small validation bs leaves some ranks nothing to do
            return
        bounds = self.window_bounds()
        for a, b in zip(bounds[:-1], bounds[1:]):
            x, y = rows[:, a:b].long(), rows[:, a + 1 : b + 1].long()
            yield to_device(x, self.device), to_device(y, self.device)

    def new(self, **kwargs) -> LMLoader:
        """A copy with some settings changed (``bs``, ``bptt``, ``shuffle``, ``backwards``, ``device``...)."""
        kw = dict(
            bs=self.bs,
            bptt=self.bptt,
            shuffle=self.shuffle,
            backwards=self.backwards,
            bptt_jitter=self.bptt_jitter,
            device=self.device,
        )
        kw.update(kwargs)
        return LMLoader(self.ids, self.offsets, **kw)

    def shard(self, rank: int, world_size: int) -> LMLoader:
        """This rank's share of the ``bs`` streams (rows ``rank::world_size``), for DistributedDataParallel.

        All ranks cut the same shuffled stream into the same ``bs`` rows and each keeps its own
        rows, so no token is read twice or skipped, and each rank carries the hidden state of
        its own rows from batch to batch. A training loader needs ``bs`` divisible by
        ``world_size`` (equal shares make DDP's averaged gradient the single-process one).

        >>> dl = LMLoader(np.arange(21), np.array([0, 10, 21]), bs=2, bptt=4)
        >>> [x.tolist() for x, _ in dl.shard(1, 2)][0]
        [[10, 11, 12, 13]]
        """
        _check_shard(rank, world_size)
        if self.shuffle and self.bs % world_size:
            raise ValueError(
                f"bs={self.bs} is not a multiple of world_size={world_size}: each rank must get the same "
                f"number of streams; use a bs divisible by the number of processes (e.g. {world_size * max(1, self.bs // world_size)})"
            )
        out = self.new()
        out.rank, out.world_size = int(rank), int(world_size)
        return out

    def __repr__(self) -> str:
        shard = f", rank {self.rank} of {self.world_size}" if self.world_size > 1 else ""
        return (
            f"LMLoader({self.n} docs, {self.n_tokens} tokens, bs={self.bs}, bptt={self.bptt}, "
            f"{len(self)} batches, shuffle={self.shuffle}, backwards={self.backwards}{shard})"
        )


def sortish_batches(lengths: np.ndarray, bs: int, drop_last: bool = False) -> list[np.ndarray]:
    """Training batches of similar lengths, in random order, the one with the longest item first.

    A random permutation is cut into chunks of ``bs * 50``; each chunk is sorted by length
    (longest first) and cut into batches; the batches are shuffled, then the batch holding
    the longest item is moved to the front so that running out of memory happens at once.
    With ``drop_last`` the one incomplete batch (if any) is dropped.

    >>> batches = sortish_batches(np.arange(10), 4); sorted(len(b) for b in batches), int(batches[0][0])
    ([2, 4, 4], 9)
    """
    n = len(lengths)
    perm = torch.randperm(n).numpy()
    chunk = bs * 50
    batches = []
    for c in range(0, n, chunk):
        idx = perm[c : c + chunk]
        idx = idx[np.argsort(-lengths[idx], kind="stable")]
        batches += [idx[i : i + bs] for i in range(0, len(idx), bs)]
    if drop_last and batches and len(batches[-1]) < bs and n > bs:
        batches.pop()
    if not batches:
        return []
    first = int(np.argmax([lengths[b[0]] for b in batches]))
    rest = [b for i, b in enumerate(batches) if i != first]
    shuffled = [rest[i] for i in torch.randperm(len(rest)).tolist()]
    return [batches[first], *shuffled]


class SortishLoader:
    """Classifier batches: documents padded to the batch's longest, ``(x, y)`` with x int64 ``(bs, seq)``.

    Padding (``pad_idx``, 1 = ``xxpad``) goes at the start (``pad_first=True``, as ULMFiT's
    classifier reads the end of the sequence), or at the end. ``shuffle=True`` (training)
    draws :func:`sortish_batches` each epoch; otherwise documents come longest first and
    ``order`` (the dataset index of each row in iteration order) lets ``get_preds`` put
    predictions back in dataset order. ``backwards=True`` feeds each document reversed.

    ``max_len`` caps a document at its first ``max_len`` tokens, as a memory safety net
    only. It is off by default: the ULMFiT classifier reads the whole document in chunks
    of ``bptt`` and keeps gradients for the last part only, so long reviews cost time, not
    memory.

    >>> dl = SortishLoader(np.array([5, 6, 7, 8, 9]), np.array([0, 1, 3, 5]), torch.tensor([0, 1, 0]), bs=2)
    >>> [xb.tolist() for xb, _ in dl], dl.order.tolist()
    ([[[6, 7], [8, 9]], [[5]]], [1, 2, 0])
    """

    def __init__(
        self,
        ids,
        offsets,
        y: torch.Tensor | None,
        bs: int = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        pad_idx: int = 1,
        pad_first: bool = True,
        backwards: bool = False,
        max_len: int | None = None,
        device: torch.device | str | None = None,
    ):
        if not isinstance(bs, (int, np.integer)) or isinstance(bs, bool) or bs <= 0:
            raise ValueError(f"bs must be a positive int, got {bs!r}")
        if max_len is not None and (not isinstance(max_len, (int, np.integer)) or max_len < 1):
            raise ValueError(f"max_len must be None or a positive int, got {max_len!r}")
        self.ids, self.offsets = _as_ragged(ids, offsets)
        self.n = len(self.offsets) - 1
        if y is not None and len(y) != self.n:
            raise ValueError(f"{self.n} documents but {len(y)} labels; they must match")
        self.y = y
        self.bs, self.shuffle, self.drop_last = int(bs), shuffle, drop_last
        self.pad_idx, self.pad_first, self.backwards, self.max_len = pad_idx, pad_first, backwards, max_len
        self.device = torch.device(device) if device is not None else None
        lengths = np.diff(self.offsets)
        self.lengths = np.minimum(lengths, max_len) if max_len is not None else lengths
        # Sorted order for valid/test; None while training (the order is random each epoch).
        self.order = None if shuffle else torch.from_numpy(np.argsort(-self.lengths, kind="stable"))

    rank, world_size = 0, 1  # not sharded (see shard)

    def __len__(self) -> int:
        if self.drop_last and self.n > self.bs:
            return self.n // self.bs
        return math.ceil(self.n / self.bs)

    def batches(self) -> list[np.ndarray]:
        """This epoch's batches of dataset indices."""
        if self.shuffle:
            return sortish_batches(self.lengths, self.bs, self.drop_last)
        order = self.order.numpy()
        return [order[i : i + self.bs] for i in range(0, self.n, self.bs)]

    def collate(self, idx: np.ndarray) -> torch.Tensor:
        """Documents ``idx`` padded into one int64 ``(len(idx), longest)`` tensor."""
        lens = self.lengths[idx]
        out = np.full((len(idx), int(lens.max()) if len(idx) else 0), self.pad_idx, dtype=np.int64)
        m = out.shape[1]
        for r, (i, n) in enumerate(zip(idx.tolist(), lens.tolist())):
            doc = self.ids[self.offsets[i] : self.offsets[i] + n]
            if self.backwards:
                doc = doc[::-1]
            if self.pad_first:
                out[r, m - n :] = doc
            else:
                out[r, :n] = doc
        return torch.from_numpy(out)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        ws = self.world_size
        if ws > 1 and self.shuffle:
            _sync_rng_from_rank0()
        for idx in self.batches():
            if ws > 1:
                if self.shuffle:  # equal shares: DDP averages the ranks' gradients with equal weights
                    idx = idx[: len(idx) - len(idx) % ws]
                idx = idx[self.rank :: ws]
                if len(idx) == 0:
                    continue
            yb = None if self.y is None else self.y[torch.from_numpy(idx)]
            yield to_device(self.collate(idx), self.device), to_device(yb, self.device)

    def new(self, **kwargs) -> SortishLoader:
        """A copy with some settings changed (``bs``, ``shuffle``, ``pad_first``, ``device``...)."""
        kw = dict(
            bs=self.bs,
            shuffle=self.shuffle,
            drop_last=self.drop_last,
            pad_idx=self.pad_idx,
            pad_first=self.pad_first,
            backwards=self.backwards,
            max_len=self.max_len,
            device=self.device,
        )
        kw.update(kwargs)
        return SortishLoader(self.ids, self.offsets, self.y, **kw)

    def shard(self, rank: int, world_size: int) -> SortishLoader:
        """This rank's rows of every batch (``rank::world_size``), for DistributedDataParallel.

        All ranks draw the same sortish batches each epoch and each keeps its own rows. While
        training (``shuffle=True``) a batch whose size is not a multiple of ``world_size`` loses
        its last ``len % world_size`` rows (different ones each epoch, the order being random),
        so that every rank trains on the same number of rows; ``bs`` divisible by
        ``world_size`` loses nothing but from the one incomplete batch, if any.

        >>> dl = SortishLoader(np.arange(8), np.array([0, 1, 3, 6, 8]), torch.tensor([0, 1, 0, 1]), bs=4)
        >>> [xb.tolist() for xb, _ in dl.shard(0, 2)], [xb.tolist() for xb, _ in dl.shard(1, 2)]
        ([[[3, 4, 5], [1, 6, 7]]], [[[1, 2], [1, 0]]])
        """
        _check_shard(rank, world_size)
        out = self.new()
        out.rank, out.world_size = int(rank), int(world_size)
        return out

    def __repr__(self) -> str:
        return f"SortishLoader({self.n} docs, bs={self.bs}, {len(self)} batches, shuffle={self.shuffle})"

"""The engine's loaders: anything that iterates over ``(xb, yb)`` batches on the right device and has ``len()``.

- :class:`TensorLoader` slices batches out of contiguous tensors: no per-row Python objects,
  which is what keeps small models fast (the data block API builds these);
- :class:`DeviceDataLoader` wraps a ``torch.utils.data.DataLoader`` over any Dataset of
  ``(x, y)`` pairs, as fastai v1's ``DataBunch.create`` made them; :func:`data_collate` is v1's
  default collate (label items such as ``Category`` are collated by their ``.data``).

Loaders that do not visit the dataset in order expose ``order`` (the dataset index of each row,
in iteration order) so that predictions can be put back in dataset order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.dataloader import default_collate

from .data_block.label_items import ItemBase

__all__ = ["TensorLoader", "DeviceDataLoader", "data_collate", "to_data", "to_device"]

Tensors = torch.Tensor | tuple[torch.Tensor, ...]


def to_device(b: Any, device: torch.device | str | None) -> Any:
    """Move a tensor or a (nested) tuple/list of tensors to ``device``."""
    if device is None:
        return b
    if isinstance(b, torch.Tensor):
        return b.to(device, non_blocking=True)
    if isinstance(b, (list, tuple)):
        return type(b)(to_device(o, device) for o in b)
    return b


def _n_rows(x: Tensors) -> int:
    return (x[0] if isinstance(x, tuple) else x).shape[0]


def _take(x: Tensors, idx: torch.Tensor | slice) -> Tensors:
    if isinstance(x, tuple):
        return tuple(t[idx] for t in x)
    return x[idx]


class TensorLoader:
    """Batches sliced from contiguous tensors ``x`` (a tensor or a tuple of them) and ``y``.

    Shuffling draws one permutation per epoch from torch's global RNG, so ``set_seed``
    makes runs repeatable and a checkpoint's RNG state resumes them exactly.

    >>> dl = TensorLoader(torch.arange(10.).unsqueeze(1), torch.arange(10.), bs=4)
    >>> [yb.tolist() for _, yb in dl]
    [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0]]
    """

    def __init__(
        self,
        x: Tensors,
        y: torch.Tensor | None,
        bs: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        device: torch.device | str | None = None,
    ):
        if not isinstance(bs, int) or bs <= 0:
            raise ValueError(f"bs must be a positive int, got {bs!r}")
        x = tuple(x) if isinstance(x, (list, tuple)) else x
        n = _n_rows(x)
        if y is not None and y.shape[0] != n:
            raise ValueError(f"x has {n} rows but y has {y.shape[0]}; they must match")
        self.device = torch.device(device) if device is not None else None
        # Keep the data on the target device once, instead of copying every batch.
        self.x, self.y = to_device(x, self.device), to_device(y, self.device)
        self.n, self.bs, self.shuffle, self.drop_last = n, bs, shuffle, drop_last
        self.order: torch.Tensor | None = None  # None means dataset order

    def __len__(self) -> int:
        return self.n // self.bs if self.drop_last else -(-self.n // self.bs)

    def __iter__(self) -> Iterator[tuple[Tensors, torch.Tensor | None]]:
        if self.shuffle:
            perm = torch.randperm(self.n)
            if self.device is not None and self.device.type != "cpu":
                perm = perm.to(self.device)
            for i in range(len(self)):
                idx = perm[i * self.bs : (i + 1) * self.bs][self.rank :: self.world_size]
                yield _take(self.x, idx), None if self.y is None else self.y[idx]
        else:
            for i in range(len(self)):
                sl = slice(i * self.bs + self.rank, (i + 1) * self.bs, self.world_size)
                yield _take(self.x, sl), None if self.y is None else self.y[sl]

    def shard(self, rank: int, world_size: int) -> TensorLoader:
        """This rank's share of every batch (rows ``rank::world_size``), for DistributedDataParallel.

        All ranks draw the same permutation (same seed), so together they see exactly the
        batches one process would.
        """
        out = self.new()
        out.rank, out.world_size = rank, world_size
        return out

    rank, world_size = 0, 1

    def new(self, **kwargs) -> TensorLoader:
        """A copy with some settings changed (``bs``, ``shuffle``, ``drop_last``, ``device``)."""
        kw = dict(bs=self.bs, shuffle=self.shuffle, drop_last=self.drop_last, device=self.device)
        kw.update(kwargs)
        return TensorLoader(self.x, self.y, **kw)


def to_data(b: Any) -> Any:
    """``b`` with every label item (``Category``, ``FloatItem``...) replaced by its ``.data``, recursively.

    >>> from emberfit.core.data_block.label_items import Category
    >>> to_data([(1.0, Category(2, "c")), (0.5, Category(0, "a"))])
    [(1.0, 2), (0.5, 0)]
    """
    if isinstance(b, ItemBase):
        return b.data
    if isinstance(b, (list, tuple)):
        return type(b)(to_data(o) for o in b)
    return b


def data_collate(batch: Sequence) -> Any:
    """v1's collate: torch's ``default_collate`` of the samples' data (label items become their ``.data``).

    >>> xb, yb = data_collate([(torch.ones(2), 1), (torch.zeros(2), 0)]); tuple(xb.shape), yb.tolist()
    ((2, 2), [1, 0])
    """
    return default_collate(to_data(list(batch)))


def _check_dataset(ds: Any, arg: str) -> None:
    if not (hasattr(ds, "__getitem__") and hasattr(ds, "__len__")):
        raise TypeError(
            f"{arg} must be a Dataset of (x, y) pairs (with __getitem__ and __len__), "
            f"got {type(ds).__name__}; wrap tensors in torch.utils.data.TensorDataset(x, y)"
        )


class DeviceDataLoader:
    """A torch ``DataLoader`` whose ``(xb, yb)`` batches arrive on ``device``, after the batch ``tfms``.

    ``batch_size`` can be read and set (the DataLoader is rebuilt with the new size).

    >>> ds = torch.utils.data.TensorDataset(torch.arange(10.).unsqueeze(1), torch.arange(10))
    >>> dl = DeviceDataLoader.create(ds, bs=4, device="cpu")
    >>> [yb.tolist() for _, yb in dl], dl.batch_size
    ([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], 4)
    >>> dl.batch_size = 5; len(dl)
    2
    """

    def __init__(
        self,
        dataset: Dataset,
        bs: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        device: torch.device | str | None = None,
        tfms: Sequence[Callable] | Callable | None = None,
        num_workers: int = 0,
        collate_fn: Callable = data_collate,
        **dl_kwargs,
    ):
        _check_dataset(dataset, "dataset")
        if isinstance(bs, bool) or not isinstance(bs, int) or bs <= 0:
            raise ValueError(f"bs must be a positive int, got {bs!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
        self.dataset, self.device = dataset, torch.device(device) if device is not None else None
        self.tfms = [] if tfms is None else list(tfms) if isinstance(tfms, (list, tuple)) else [tfms]
        self._settings = dict(
            shuffle=shuffle, drop_last=drop_last, num_workers=num_workers, collate_fn=collate_fn, **dl_kwargs
        )
        self.dl = DataLoader(dataset, batch_size=bs, **self._settings)
        self.order = None  # batches follow the dataset's order unless shuffled

    @classmethod
    def create(
        cls,
        dataset: Dataset,
        bs: int = 64,
        shuffle: bool = False,
        device: torch.device | str | None = None,
        tfms: Sequence[Callable] | None = None,
        num_workers: int = 0,
        collate_fn: Callable = data_collate,
        **kwargs,
    ) -> DeviceDataLoader:
        """v1's factory: a DataLoader over ``dataset`` with ``bs`` and ``shuffle``, batches moved to ``device``."""
        kw = dict(device=device, tfms=tfms, num_workers=num_workers, collate_fn=collate_fn)
        return cls(dataset, bs, shuffle, **kw, **kwargs)

    # -- what the engine reads --------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self.dl.batch_size

    @batch_size.setter
    def batch_size(self, v: int) -> None:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"batch_size must be a positive int, got {v!r}")
        self.dl = DataLoader(self.dataset, batch_size=v, **self._settings)

    bs = batch_size  # the name the engine's other loaders use

    @property
    def n(self) -> int:
        """The number of items."""
        return len(self.dataset)

    @property
    def num_workers(self) -> int:
        return self._settings["num_workers"]

    @property
    def shuffle(self) -> bool:
        return self._settings["shuffle"]

    @property
    def drop_last(self) -> bool:
        return self._settings["drop_last"]

    def __len__(self) -> int:
        return len(self.dl)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for b in self.dl:
            if not isinstance(b, (list, tuple)) or len(b) != 2:
                raise TypeError(
                    f"a batch of the dataset is {type(b).__name__}, not (xb, yb): the dataset must give "
                    "(x, y) pairs (or pass a collate_fn that returns (xb, yb))"
                )
            xb, yb = b
            xb = tuple(xb) if isinstance(xb, list) else xb
            xb, yb = to_device(xb, self.device), to_device(yb, self.device)
            for f in self.tfms:
                xb, yb = f((xb, yb))
            yield xb, yb

    def new(self, **kwargs) -> DeviceDataLoader:
        """A copy with some settings changed (``bs``, ``shuffle``, ``drop_last``, ``device``, ``num_workers``...)."""
        kw = dict(self._settings, bs=self.batch_size, device=self.device, tfms=self.tfms)
        kw.update(kwargs)
        return DeviceDataLoader(self.dataset, **kw)

    def add_tfm(self, tfm: Callable) -> None:
        """Apply ``tfm`` to every ``(xb, yb)`` batch (after moving it to the device)."""
        self.tfms.append(tfm)

    def remove_tfm(self, tfm: Callable) -> None:
        """Stop applying ``tfm`` (added with :meth:`add_tfm`)."""
        if tfm in self.tfms:
            self.tfms.remove(tfm)

    def __repr__(self) -> str:
        return (
            f"DeviceDataLoader({len(self.dataset)} items, bs={self.batch_size}, "
            f"shuffle={self.shuffle}, device={self.device})"
        )

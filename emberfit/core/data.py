"""Loaders and the DataBunch: what the Learner trains on.

A *loader* is anything that iterates over ``(xb, yb)`` batches already on the right device
and has ``len()``. Loaders that do not visit the dataset in order expose ``order`` (the
dataset index of each row, in iteration order) so that predictions can be put back in
dataset order. :class:`TensorLoader` slices batches out of contiguous tensors: no per-row
Python objects, which is what keeps small models fast.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .display import display_frame, generic_frame
from .io import save_tensors

__all__ = [
    "DatasetType",
    "TensorLoader",
    "DataBunch",
    "default_device",
    "to_device",
    "batch_size",
]

Tensors = torch.Tensor | tuple[torch.Tensor, ...]


class DatasetType(enum.Enum):
    """Which split a call works on (``DatasetType.Valid`` etc., as in fastai).

    >>> x = torch.randn(10, 3); y = torch.randn(10)
    >>> data = DataBunch.from_tensors(x[:8], y[:8], x[8:], y[8:], bs=4, device='cpu')
    >>> len(data.dl(DatasetType.Train)), len(data.dl(DatasetType.Valid))  # batches per split
    (2, 1)
    >>> xb, yb = data.one_batch(DatasetType.Valid); tuple(xb.shape)
    (2, 3)
    """

    Train = 1
    Valid = 2
    Test = 3
    Single = 4
    Fix = 5


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def to_device(b: Any, device: torch.device | str | None) -> Any:
    """Move a tensor or a (nested) tuple/list of tensors to ``device``."""
    if device is None:
        return b
    if isinstance(b, torch.Tensor):
        return b.to(device, non_blocking=True)
    if isinstance(b, (list, tuple)):
        return type(b)(to_device(o, device) for o in b)
    return b


def batch_size(xb: Tensors, yb: torch.Tensor | None) -> int:
    """The number of rows in a batch (from the targets when they have a batch dimension)."""
    if isinstance(yb, torch.Tensor) and yb.ndim:
        return yb.shape[0]
    return _n_rows(xb)


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


class DataBunch:
    """Train, valid and optional test loaders, plus what is needed to decode and save them.

    ``label_lists`` (optional) is the processed data-block result; applications use it to
    decode batches, predict single items and save/export their processors.

    >>> x = torch.randn(100, 3); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:80], y[:80], x[80:], y[80:], bs=16)
    >>> xb, yb = data.one_batch(); tuple(xb.shape), tuple(yb.shape)
    ((16, 3), (16,))
    """

    def __init__(
        self,
        train_dl: Any,
        valid_dl: Any | None,
        test_dl: Any | None = None,
        device: torch.device | str | None = None,
        path: str | Path = ".",
        label_lists: Any = None,
        loss_func: Any = None,
        allow_empty: bool = False,
    ):
        if train_dl is None and not allow_empty:
            raise ValueError("a DataBunch needs a training loader, got train_dl=None")
        self.train_dl, self.valid_dl, self.test_dl = train_dl, valid_dl, test_dl
        self.device = torch.device(device) if device is not None else default_device()
        self.path = Path(path)
        self.label_lists = label_lists
        # What this data is, set once here: the fitted input processor, the label classes, the
        # loss they call for and how predictions read back (multi-label; labels trained as log(y)).
        # Learners and applications read these, never label_lists.
        about = label_lists.describe() if label_lists is not None else {}
        self.processor = about.get("processor")
        self.classes: list | None = about.get("classes")
        self.c: int | None = about.get("c")
        self.loss_func = loss_func if loss_func is not None else about.get("loss_func")
        self.multi_label: bool = about.get("multi_label", False)
        self.log_labels: bool = about.get("log_labels", False)
        self._kwargs: dict = {}  # databunch() settings, kept by save() so load_data() rebuilds alike

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_tensors(
        cls,
        x_train: Tensors,
        y_train: torch.Tensor,
        x_valid: Tensors | None = None,
        y_valid: torch.Tensor | None = None,
        bs: int = 64,
        val_bs: int | None = None,
        device: torch.device | str | None = None,
        path: str | Path = ".",
        loss_func: Any = None,
    ) -> DataBunch:
        """A DataBunch over in-memory tensors (shuffled train, ordered valid)."""
        device = torch.device(device) if device is not None else default_device()
        if _n_rows(x_train) == 0:
            raise ValueError("the training set is empty (0 rows); pass at least one row")
        train = TensorLoader(
            x_train, y_train, bs=bs, shuffle=True, drop_last=_n_rows(x_train) > bs, device=device
        )
        valid = None
        if x_valid is not None:
            valid = TensorLoader(x_valid, y_valid, bs=val_bs or bs * 2, device=device)
        return cls(train, valid, device=device, path=path, loss_func=loss_func)

    # -- access ---------------------------------------------------------------------------
    def dl(self, ds_type: DatasetType = DatasetType.Valid) -> Any:
        """The loader for ``ds_type`` (Train, Valid or Test)."""
        if not isinstance(ds_type, DatasetType):
            raise TypeError(f"ds_type must be a DatasetType (e.g. DatasetType.Valid), got {ds_type!r}")
        dl = {
            DatasetType.Train: self.train_dl,
            DatasetType.Valid: self.valid_dl,
            DatasetType.Test: self.test_dl,
        }.get(ds_type)
        if ds_type not in (DatasetType.Train, DatasetType.Valid, DatasetType.Test):
            raise ValueError(f"ds_type must be DatasetType.Train, Valid or Test, got {ds_type}")
        if dl is None:
            fix = (
                "add one with .add_test(...) before .databunch()"
                if ds_type is DatasetType.Test
                else "split the data"
            )
            raise ValueError(f"this DataBunch has no {ds_type.name.lower()} set; {fix}")
        return dl

    @property
    def train_ds(self):
        return self._ds("train")

    @property
    def valid_ds(self):
        return self._ds("valid")

    @property
    def test_ds(self):
        return self._ds("test")

    def _ds(self, name: str):
        if self.label_lists is not None:
            return getattr(self.label_lists, name, None)
        return getattr(getattr(self, f"{name}_dl"), "dataset", None)

    def one_batch(self, ds_type: DatasetType = DatasetType.Train) -> tuple[Tensors, torch.Tensor]:
        """The first batch of a split, as ``(xb, yb)`` on the data's device."""
        return next(iter(self.dl(ds_type)))

    def show_batch(self, rows: int = 5, ds_type: DatasetType = DatasetType.Train) -> pd.DataFrame:
        """Show ``rows`` decoded rows of a batch (HTML in Jupyter, text in a terminal); returns the table."""
        if not isinstance(rows, int) or rows <= 0:
            raise ValueError(f"rows must be a positive int, got {rows!r}")
        xb, yb = self.one_batch(ds_type)
        if self.label_lists is not None:
            df = self.label_lists.batch_frame(xb, yb, rows)
        else:
            df = generic_frame(xb, yb, rows)
        display_frame(df)
        return df

    # -- persistence ----------------------------------------------------------------------
    def save(self, name: str = "data_save.safetensors") -> Path:
        """Save the processed data (arrays + JSON, no pickle) to ``path/name``; reload with :func:`load_data`."""
        if self.label_lists is None:
            raise ValueError(
                "only DataBunches built with the data block API (ItemList...databunch()) can be saved"
            )
        tensors, meta = self.label_lists.to_state()
        meta["databunch_kwargs"] = self._kwargs
        return save_tensors(self.path / name, tensors, meta)

    def __repr__(self) -> str:
        parts = []
        for n in ("train", "valid", "test"):
            dl = getattr(self, f"{n}_dl")
            if dl is not None:
                parts.append(f"{n}: {getattr(dl, 'n', '?')} items, {len(dl)} batches")
        return f"{type(self).__name__}({'; '.join(parts)}; device={self.device})"

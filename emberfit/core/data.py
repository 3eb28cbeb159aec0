"""The DataBunch: the train, valid and test loaders the Learner trains on, and how to read them.

A *loader* (:mod:`emberfit.core.loaders`) is anything that iterates over ``(xb, yb)`` batches
already on the right device and has ``len()``. A DataBunch comes from the data block API
(``...databunch()``), from tensors (:meth:`DataBunch.from_tensors`) or, as in fastai v1, from
Datasets of ``(x, y)`` pairs (:meth:`DataBunch.create`). fastai v1's reading methods work as
they did: ``one_batch``, ``one_item``, ``show_batch`` (shows, returns None), ``batch_size``
(readable and settable), ``dl(DatasetType.X)``.
"""

from __future__ import annotations

import enum
import warnings
from pathlib import Path
from typing import Any

import torch

from .data_block.label_list import LabelListAccess
from .display import display_frame, generic_frame
from .io import save_tensors
from .loaders import DeviceDataLoader, TensorLoader, _check_dataset, _n_rows, data_collate, to_device

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


def batch_size(xb: Tensors, yb: torch.Tensor | None) -> int:
    """The number of rows in a batch (from the targets when they have a batch dimension)."""
    if isinstance(yb, torch.Tensor) and yb.ndim:
        return yb.shape[0]
    return _n_rows(xb)


class DataBunch:
    """Train, valid and optional test loaders, plus what is needed to decode and save them.

    ``label_lists`` (optional) is the processed data-block result; applications use it to
    decode batches, predict single items and save/export their processors.

    >>> x = torch.randn(100, 3); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:80], y[:80], x[80:], y[80:], bs=16)
    >>> xb, yb = data.one_batch(); tuple(xb.shape), tuple(yb.shape)
    ((16, 3), (16,))
    """

    _label_lists_cls: type  # LabelLists, for create() from LabelLists' datasets (set in data_block.labelling)

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

    @classmethod
    def create(
        cls,
        train_ds: Any,
        valid_ds: Any,
        test_ds: Any = None,
        path: str | Path = ".",
        bs: int = 64,
        val_bs: int | None = None,
        num_workers: int = 0,
        dl_tfms: Any = None,
        device: torch.device | str | None = None,
        collate_fn: Any = data_collate,
        no_check: bool = False,
        **dl_kwargs,
    ) -> DataBunch:
        """fastai v1's ``DataBunch.create``: loaders over Datasets of ``(x, y)`` pairs.

        Training batches are shuffled (``bs``), valid and test ones in order (``val_bs``, default
        ``bs``); batches go through ``collate_fn`` and ``dl_tfms`` and arrive on ``device``.
        ``dl_kwargs`` go to each torch DataLoader. Datasets of a data-block DataBunch
        (``data.train_ds``...) are batched by their own items' rules instead. ``num_workers``
        defaults to 0 (v1: every CPU), which is fastest for in-memory data. Unless ``no_check``,
        :meth:`sanity_check` reads one training batch and warns if that fails, as v1.

        >>> ds = TensorDataset(torch.randn(20, 3), torch.randint(0, 2, (20,)))
        >>> data = DataBunch.create(ds, TensorDataset(torch.randn(8, 3), torch.zeros(8).long()), bs=4)
        >>> len(data.train_dl), len(data.valid_dl), tuple(data.one_batch()[0].shape), data.batch_size
        (5, 2, (4, 3), 4)
        """
        device = torch.device(device) if device is not None else default_device()
        val_bs = val_bs if val_bs is not None else bs
        sets = {"train_ds": train_ds, "valid_ds": valid_ds, "test_ds": test_ds}
        for arg, ds in sets.items():
            if ds is not None or arg == "train_ds":
                _check_dataset(ds, arg)
        if all(isinstance(d, LabelListAccess) for d in (train_ds, valid_ds)):  # a data-block bunch's datasets
            lls = cls._label_lists_cls(path, train_ds, valid_ds, test_ds)
            dls = lls.loaders(bs=bs, val_bs=val_bs, device=device)
            return cls(*dls, device=device, path=path, label_lists=lls)
        kw = dict(device=device, tfms=dl_tfms, num_workers=num_workers, collate_fn=collate_fn, **dl_kwargs)
        drop = len(train_ds) > bs  # as v1, but never a training set of 0 batches
        dls = [DeviceDataLoader(train_ds, bs, shuffle=True, drop_last=drop, **kw)]
        dls += [None if d is None else DeviceDataLoader(d, val_bs, **kw) for d in (valid_ds, test_ds)]
        data = cls(*dls, device=device, path=path)
        data.c, data.classes = getattr(train_ds, "c", None), getattr(train_ds, "classes", None)
        if not no_check:
            data.sanity_check()
        return data

    # -- access ---------------------------------------------------------------------------
    def dl(self, ds_type: DatasetType = DatasetType.Valid) -> Any:
        """The loader for ``ds_type``: Train, Valid, Test, Fix (the training set in order, none dropped) or Single."""
        if not isinstance(ds_type, DatasetType):
            raise TypeError(f"ds_type must be a DatasetType (e.g. DatasetType.Valid), got {ds_type!r}")
        if ds_type is DatasetType.Single:
            return self.single_dl
        if ds_type is DatasetType.Fix:
            return self.fix_dl
        dl = {
            DatasetType.Train: self.train_dl,
            DatasetType.Valid: self.valid_dl,
            DatasetType.Test: self.test_dl,
        }.get(ds_type)
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

    @property
    def fix_dl(self) -> Any:
        """The training set in dataset order with no batch dropped (v1's ``fix_dl``, ``DatasetType.Fix``)."""
        dl = self.dl(DatasetType.Train)
        if not hasattr(dl, "new"):
            raise TypeError(
                f"the training loader ({type(dl).__name__}) cannot be copied in order (it has no new())"
            )
        return dl.new(shuffle=False, **({"drop_last": False} if hasattr(dl, "drop_last") else {}))

    @property
    def single_dl(self) -> Any:
        """v1's ``single_dl`` (``DatasetType.Single``): the validation set in order, one item per batch.

        >>> data = DataBunch.from_tensors(torch.randn(8, 2), torch.randn(8), torch.randn(3, 2), torch.randn(3), bs=4)
        >>> len(data.single_dl), tuple(data.one_batch(DatasetType.Single)[0].shape)
        (3, (1, 2))
        """
        return _with_bs(self.dl(DatasetType.Valid), 1)

    def sanity_check(self) -> None:
        """v1's check that the training data can be read: warns (never raises) when the training loader
        has no batch or its first batch cannot be built, saying why; returns None.

        >>> DataBunch.from_tensors(torch.randn(8, 2), torch.randn(8), bs=4).sanity_check()  # all is well: silent
        """
        dl, hint = self.dl(DatasetType.Train), "You can deactivate this warning by passing `no_check=True`."
        if len(dl) == 0:
            n, bs = getattr(dl, "n", None) or len(getattr(dl, "dataset", [])), self.batch_size
            warnings.warn(
                f"Your training dataloader is empty: {n} items in your training set and a batch size of {bs}, "
                f"with the last incomplete batch dropped; lower the batch size. {hint}",
                stacklevel=2,
            )
            return
        try:
            next(iter(dl))
        except Exception as e:  # noqa: BLE001 -- reported, as v1, not raised: fit would raise it
            warnings.warn(
                f"There seems to be something wrong with your dataset: the first training batch cannot be "
                f"built ({type(e).__name__}: {e}). {hint}",
                stacklevel=2,
            )

    @property
    def batch_size(self) -> int:
        """The training batch size; setting it sets every loader's (as v1 did).

        >>> data = DataBunch.from_tensors(torch.randn(40, 2), torch.randn(40), bs=8)
        >>> data.batch_size, len(data.train_dl)
        (8, 5)
        >>> data.batch_size = 20; data.batch_size, len(data.train_dl)
        (20, 2)
        """
        dl = self.dl(DatasetType.Train)
        return getattr(dl, "bs", None) or dl.batch_size

    @batch_size.setter
    def batch_size(self, v: int) -> None:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"batch_size must be a positive int, got {v!r}")
        for name in ("train_dl", "valid_dl", "test_dl"):
            dl = getattr(self, name)
            if dl is not None:
                setattr(self, name, _with_bs(dl, v))
        if "val_bs" in self._kwargs:
            self._kwargs["val_bs"] = v

    def one_batch(
        self,
        ds_type: DatasetType = DatasetType.Train,
        detach: bool = True,
        denorm: bool = True,
        cpu: bool = False,
    ) -> tuple[Tensors, torch.Tensor]:
        """The first batch of a split, as ``(xb, yb)``: on the data's device, or the CPU with ``cpu=True``.

        ``detach`` and ``denorm`` are v1's (batches carry no gradient and nothing is normalized by
        the loaders here). v1 moved the batch to the CPU by default; emberfit keeps it on the data's
        device, ready for the model.
        """
        xb, yb = next(iter(self.dl(ds_type)))
        return (to_device(xb, "cpu"), to_device(yb, "cpu")) if cpu else (xb, yb)

    def one_item(self, item: Any, detach: bool = False, denorm: bool = False, cpu: bool = False) -> tuple:
        """``item`` (a raw row, text...) processed like the data, as a batch of one: ``(xb, yb)``.

        ``yb`` is a stand-in with the labels' type and shape (the item has no label), as in v1.
        """
        lls = self.label_lists
        if lls is None:
            raise ValueError(
                "one_item needs data built with the data block API (it processes items like them)"
            )
        dev = torch.device("cpu") if cpu else self.device
        return to_device(lls.item_batch(item), dev), to_device(_stand_in_label(lls), dev)

    def batch_table(self, rows: int = 5, ds_type: DatasetType = DatasetType.Train, reverse: bool = False):
        """The first ``rows`` rows of a batch, decoded, as a DataFrame (the table ``show_batch`` shows)."""
        if isinstance(rows, bool) or not isinstance(rows, int) or rows <= 0:
            raise ValueError(f"rows must be a positive int, got {rows!r}")
        xb, yb = self.one_batch(ds_type)
        if reverse:  # v1: the last rows of the batch, last first
            xb = tuple(t.flip(0) for t in xb) if isinstance(xb, tuple) else xb.flip(0)
            yb = yb.flip(0) if isinstance(yb, torch.Tensor) and yb.ndim else yb
        if self.label_lists is not None:
            return self.label_lists.batch_frame(xb, yb, rows)
        return generic_frame(xb, yb, rows)

    def show_batch(
        self, rows: int = 5, ds_type: DatasetType = DatasetType.Train, reverse: bool = False, **kwargs
    ) -> None:
        """Show ``rows`` decoded rows of a batch: an HTML table in Jupyter, text in a terminal; returns None.

        As in v1 it returns nothing, so Jupyter shows the table once; :meth:`batch_table` gives
        the table itself. ``kwargs``: v1's display options for images and texts (``max_len``,
        ``figsize``, ``hide_axis``), which tables do not use.
        """
        unknown = sorted(set(kwargs) - {"max_len", "figsize", "hide_axis"})
        if unknown:
            raise TypeError(f"show_batch does not take {unknown}; it takes rows, ds_type and reverse")
        display_frame(self.batch_table(rows, ds_type, reverse))

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


def _with_bs(dl: Any, bs: int) -> Any:
    """``dl`` with batch size ``bs`` (a copy for loaders with ``new``)."""
    if hasattr(dl, "new"):
        kw: dict = {"bs": bs}
        if isinstance(dl, TensorLoader) and dl.drop_last:
            kw["drop_last"] = dl.n > bs  # never a training set of 0 batches
        return dl.new(**kw)
    if hasattr(dl, "batch_size"):
        dl.batch_size = bs
        return dl
    raise TypeError(f"cannot set the batch size of a {type(dl).__name__} (it has no new() or batch_size)")


def _stand_in_label(lls: Any) -> torch.Tensor:
    """A label batch of one with the labels' dtype and shape (the first training label's)."""
    y = lls.train.y
    try:
        return y.new_subset([0]).to_tensors()
    except (AttributeError, IndexError, TypeError, ValueError):
        return torch.zeros(1, dtype=torch.long)

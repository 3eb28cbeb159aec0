"""Label items, as fastai v1 had them: what ``ds[i][1]`` and ``learn.predict(...)[0]`` are.

Each item keeps ``.data`` (what the model sees: a class index, a 0/1 row, a float tensor) and
``.obj`` (what a person reads: the class name, the list of class names, the value); ``str()``
shows the label.

- :class:`Category`: one class (``data`` its index, ``obj`` its name);
- :class:`MultiCategory`: several classes (``data`` a 0/1 float row, ``obj`` the names, ``raw``);
- :class:`FloatItem`: a regression target (``data`` a float tensor, ``obj`` the value);
- :class:`EmptyLabel`: the label of an unlabelled item.

One difference from v1, a compatible one: an item compares equal to its plain value
(``Category == 'yes'``, ``MultiCategory == ['a', 'b']``, ``FloatItem == 2.5``), so code that
compared labels with strings or numbers keeps working. v1 compared ``.data`` instead; the class
index is ``int(cat)`` or ``cat.data``. Two items are equal when they are of the same kind with
the same ``data`` and ``obj``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["ItemBase", "Category", "MultiCategory", "FloatItem", "EmptyLabel"]


def _same(a: Any, b: Any) -> bool:
    """Equality that also holds for tensors, arrays and lists of them (one bool, never an array)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        try:
            a, b = torch.as_tensor(a), torch.as_tensor(b)
        except (TypeError, ValueError, RuntimeError):
            return False
        return a.shape == b.shape and bool((a.double() == b.double()).all())
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class ItemBase:
    """fastai v1's base item: ``data`` for the model, ``obj`` for people; ``str()`` shows ``obj``.

    >>> it = ItemBase(3); it.data, it.obj, str(it), it
    (3, 3, '3', ItemBase 3)
    """

    def __init__(self, data: Any):
        self.data = self.obj = data

    def __str__(self) -> str:
        return str(self.obj)

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ItemBase):
            return type(self) is type(other) and _same(self.data, other.data) and _same(self.obj, other.obj)
        return _same(self.obj, other)

    def __hash__(self) -> int:
        try:
            return hash(self.obj)
        except TypeError:  # a list of names: hash what str() shows
            return hash(str(self))

    def show(self, ax: Any = None, **kwargs) -> None:
        """Put the label as the title of the matplotlib axes ``ax`` (as v1 did).

        >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
        >>> ax = plt.figure().gca(); Category(1, "pos").show(ax); ax.get_title()
        'pos'
        """
        if ax is None:
            raise ValueError("show(ax) needs matplotlib axes, e.g. ax = plt.figure().gca()")
        ax.set_title(str(self))


class Category(ItemBase):
    """One class: ``data`` is its index in the classes, ``obj`` its name; ``str()`` is the name.

    ``Category == 'pos'`` compares the name (v1 compared the index: use ``int(cat)`` for that).

    >>> cat = Category(1, "pos"); str(cat), int(cat), cat == "pos", cat == "neg"
    ('pos', 1, True, False)
    >>> cat
    Category pos
    """

    def __init__(self, data: Any, obj: Any):
        self.data, self.obj = data, obj

    def __int__(self) -> int:
        return int(self.data)


class MultiCategory(ItemBase):
    """Several classes: ``data`` is a 0/1 float row over the classes, ``obj`` the names, ``raw`` the input.

    ``str()`` joins the names with ``;``. It also reads like the list of names: ``len``, ``in``,
    iteration, and ``== ['a', 'b']`` (v1's MultiCategory had none of these).

    >>> m = MultiCategory(torch.tensor([1.0, 0.0, 1.0]), ["a", "c"], [0, 2])
    >>> str(m), list(m), "c" in m, m == ["a", "c"], m.data.tolist()
    ('a;c', ['a', 'c'], True, True, [1.0, 0.0, 1.0])
    """

    def __init__(self, data: Any, obj: Any, raw: Any = None):
        self.data, self.obj, self.raw = data, list(obj), raw

    def __str__(self) -> str:
        return ";".join(str(o) for o in self.obj)

    def __iter__(self):
        return iter(self.obj)

    def __len__(self) -> int:
        return len(self.obj)

    def __contains__(self, o: object) -> bool:
        return any(_same(c, o) for c in self.obj)


class FloatItem(ItemBase):
    """A regression target: ``obj`` the value, ``data`` it as a float32 tensor; ``float()`` works.

    It compares with numbers (``==``, ``<``...) by its value; one of several targets compares as
    a list.

    >>> y = FloatItem(3.5); str(y), float(y), y.data, y == 3.5, 0 < y < 5
    ('3.5', 3.5, tensor(3.5000), True, True)
    >>> f"{y:.2f}"
    '3.50'
    """

    def __init__(self, obj: Any):
        if isinstance(obj, torch.Tensor):
            obj = obj.detach().cpu()
            obj = float(obj) if obj.numel() == 1 and obj.ndim == 0 else obj.tolist()
        elif isinstance(obj, np.ndarray):
            obj = float(obj) if obj.ndim == 0 else obj.tolist()
        elif isinstance(obj, np.generic):
            obj = obj.item()
        self.obj = obj
        self.data = torch.tensor(obj, dtype=torch.float32)

    def __float__(self) -> float:
        if self.data.numel() != 1:
            raise TypeError(f"float() needs one value; this FloatItem holds {self.data.numel()}: {self.obj}")
        return float(self.data.reshape(()))

    def __format__(self, spec: str) -> str:
        return format(self.obj, spec) if spec else str(self)

    def _num(self, other: Any) -> float:
        return float(other) if isinstance(other, FloatItem) else other

    def __lt__(self, other: Any) -> bool:
        return float(self) < self._num(other)

    def __le__(self, other: Any) -> bool:
        return float(self) <= self._num(other)

    def __gt__(self, other: Any) -> bool:
        return float(self) > self._num(other)

    def __ge__(self, other: Any) -> bool:
        return float(self) >= self._num(other)

    __hash__ = ItemBase.__hash__


class EmptyLabel(ItemBase):
    """The label of an unlabelled item (a test set, ``label_empty``): ``str()`` is ``''``, ``data`` is 0.

    >>> e = EmptyLabel(); str(e), e.data, e
    ('', 0, EmptyLabel)
    """

    def __init__(self):
        self.data, self.obj = 0, None

    def __str__(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "EmptyLabel"

"""How a ``LabelList`` (the items ``x`` and labels ``y`` of one split: ``data.train_ds``) reads.

``LabelList`` (in ``labelling``) takes this from :class:`LabelListAccess`, and so behaves like
fastai v1's LabelList: ``len(ds)``, ``ds[i]`` is ``(x[i], y[i])`` (a label item
such as a ``Category``), ``ds[2:5]`` or ``ds[[0, 3]]`` is a smaller LabelList, and attributes it
does not have itself come from its items, then its labels (``ds.vocab``, ``ds.items``,
``ds.classes``, ``ds.c``, ``ds.c2i``...). ``classes`` and ``c`` always come from the labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LabelListAccess"]

# What the labels answer even when the items have an attribute of the same name (v1's rule):
# a TabularList's ``classes`` are its categorical columns' values, not the label classes.
_FROM_Y = ("classes", "c", "c2i")


class LabelListAccess:
    """``ds[i]`` is ``(x_i, y_i)``, ``ds[a:b]`` a smaller LabelList; other attributes come from x, then y.

    A LabelList has ``x`` and ``y`` (item lists of the same length) and ``subset(idx)``.

    >>> ll = ItemList(range(6)).split_by_idx([4, 5]).label_from_func(lambda o: "odd" if o % 2 else "even")
    >>> ds = ll.train; len(ds), ds[1][1], ds.classes, ds.c, ds.c2i
    (4, Category odd, ['even', 'odd'], 2, {'even': 0, 'odd': 1})
    >>> ds.items.tolist(), len(ds[1:3])
    ([0, 1, 2, 3], 2)
    """

    def __getitem__(self, idx: Any):
        if isinstance(idx, (int, np.integer)) and not isinstance(idx, bool):
            i = int(idx)
            if not -len(self) <= i < len(self):
                raise IndexError(f"index {i} is out of range for a LabelList of {len(self)} items")
            i %= len(self)
            return self.x.get(i), self.y.get(i)
        if isinstance(idx, (str, float, bool)):
            raise TypeError(
                f"a LabelList is indexed by positions (an int, a slice, a list of ints), got {idx!r}"
            )
        return self.subset(np.arange(len(self))[idx])

    def __iter__(self) -> Iterator:
        return (self[i] for i in range(len(self)))

    def __getattr__(self, k: str) -> Any:
        # Only reached for names the LabelList itself lacks; never for private ones (copy, pickle probes).
        d = self.__dict__
        if k.startswith("_") or "x" not in d or "y" not in d:
            raise AttributeError(k)
        if k not in _FROM_Y:
            res = getattr(d["x"], k, None)
            if res is not None:
                return res
        res = getattr(d["y"], k, None)
        if res is not None:
            return res
        raise AttributeError(
            f"'LabelList' object has no attribute {k!r}, nor do its items ({type(d['x']).__name__}) "
            f"or labels ({type(d['y']).__name__})"
        )

    def to_df(self) -> pd.DataFrame:
        """A DataFrame with columns ``x`` and ``y`` (as ``str()`` shows them), like v1's ``to_df``.

        >>> ItemList([1, 2]).split_none().label_from_func(str).train.to_df().values.tolist()
        [['1', '1'], ['2', '2']]
        """
        x = [str(self.x.get(i)) for i in range(len(self))]
        return pd.DataFrame({"x": x, "y": [str(self.y.get(i)) for i in range(len(self))]})

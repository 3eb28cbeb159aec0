"""Several 0/1 label columns are one multi-label target (fastai v1's ``one_hot`` labels).

``label_from_df(cols=['toxic', 'obscene', 'insult'])`` (or with ``label_cls=MultiCategoryList``)
makes each row's labels the names of the columns that hold 1, and the classes the column names in
the order given, as fastai v1 did. Float columns without ``label_cls`` stay several regression
targets (:class:`~emberfit.core.data_block.labels.FloatList`).

>>> df = pd.DataFrame({"x": [0., 1., 2., 3.], "sun": [1, 1, 0, 1], "rain": [0, 1, 1, 0]})
>>> y = ItemList.from_df(df, cols="x").split_by_idx([3]).label_from_df(cols=["sun", "rain"]).train.y
>>> type(y).__name__, y.classes, y.to_tensors().tolist()
('MultiCategoryList', ['sun', 'rain'], [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .labels import MultiCategoryList

__all__ = ["one_hot_labels"]


def one_hot_labels(
    names: list, y_train: np.ndarray, y_valid: np.ndarray, label_cls: Any, kwargs: dict
) -> tuple[Any, Any, Any, dict]:
    """``(y_train, y_valid, label_cls, kwargs)`` to label with: several 0/1 columns become label lists.

    Anything else (one column, float columns without ``label_cls``, another ``label_cls``) is
    returned unchanged.
    """
    several = len(names) > 1 and np.ndim(y_train) == 2
    wanted = label_cls is MultiCategoryList or (
        label_cls is None and np.asarray(y_train).dtype.kind in "biuO"
    )
    if not several or not wanted or kwargs.get("label_delim") is not None:
        return y_train, y_valid, label_cls, kwargs
    classes = kwargs.get("classes")
    classes = list(names) if classes is None else list(classes)
    if len(classes) != len(names):
        raise ValueError(
            f"classes={classes} names {len(classes)} classes for the {len(names)} label columns {names}; "
            "give one class name per column, or leave classes=None to use the column names"
        )
    out = []
    for split, y in (("training", y_train), ("validation", y_valid)):
        y = np.asarray(y)
        bad = ~np.isin(y, [0, 1])
        if bad.any():
            r, c = np.argwhere(bad)[0]
            value = y[r, c].item() if isinstance(y[r, c], np.generic) else y[r, c]
            raise ValueError(
                f"label columns {names} are read as a multi-label target (one 0/1 column per class), but "
                f"column {names[c]!r} holds {value!r} in the {split} rows; make them 0/1 (or bool), or pass "
                "label_cls=FloatList for several regression targets"
            )
        out.append([[c for c, v in zip(classes, row) if v] for row in y.astype(bool)])
    return out[0], out[1], MultiCategoryList, {**kwargs, "classes": classes}

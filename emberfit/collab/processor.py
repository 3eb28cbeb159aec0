"""The fitted id maps of collaborative filtering: :class:`CollabProcessor` and lookups in them.

Users and items are mapped to contiguous indices learned on the training split, with index 0
reserved for ``#na#``: an id the training split never saw maps there. The processor also keeps
the names of the user and item columns, so a learner can read rows and write tables with them
(``data.processor.user_name``). All of it is JSON state, saved with the data and in exports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.data_block.items import ItemList
from ..core.data_block.processor import PreProcessor
from ..core.registry import register

__all__ = ["CollabProcessor", "NA"]

NA = "#na#"


def py_scalar(o: Any) -> Any:
    """numpy scalars -> Python scalars, so ids are JSON-able."""
    return o.item() if isinstance(o, np.generic) else o


def _sorted_ids(values: np.ndarray) -> list:
    """Unique ids, sorted (numbers numerically, then everything else as strings)."""
    uniq = pd.unique(values)
    return sorted(
        (py_scalar(o) for o in uniq),
        key=lambda o: (0, o, "") if isinstance(o, (int, float)) else (1, 0, str(o)),
    )


@register("processor", "collab.CollabProcessor")
class CollabProcessor(PreProcessor):
    """Learns the user and item ids of the training split and encodes every split to indices.

    ``outside_train`` remembers ids that appeared in valid/test but not in train, so a
    lookup of such an id can say so instead of just "not found". ``user_name`` and
    ``item_name`` are the columns the ids came from (None in files written before the
    processor kept them; :class:`~emberfit.collab.data.CollabDataBunch` fills them in).

    >>> df = pd.DataFrame({"user": [1, 1, 2, 2], "item": ["a", "b", "a", "c"], "rating": [5.0, 3.0, 4.0, 2.0]})
    >>> proc = CollabDataBunch.from_df(df, valid_pct=0, bs=2, device="cpu").processor
    >>> proc.user_classes, proc.item_classes, (proc.user_name, proc.item_name)
    (['#na#', 1, 2], ['#na#', 'a', 'b', 'c'], ('user', 'item'))
    >>> proc.encode(np.array([[2, "c"], [9, "a"]], dtype=object)).tolist()  # user 9 is unknown -> 0 (#na#)
    [[2, 3], [0, 1]]
    >>> proc.index(["c", "a"], is_item=True)  # embedding rows of raw ids
    tensor([3, 1])
    >>> CollabProcessor.from_state(proc.state()).item_classes  # JSON state, saved in exports
    ['#na#', 'a', 'b', 'c']
    """

    state_attrs = ("user_classes", "item_classes", "outside_train", "user_name", "item_name")
    state_defaults = {"user_name": None, "item_name": None}

    def __init__(self):
        super().__init__()
        self.user_classes: list = []
        self.item_classes: list = []
        self.outside_train: dict[str, list] = {"user": [], "item": []}
        self.user_name: Any = None
        self.item_name: Any = None

    def _fit(self, items: ItemList) -> None:
        # items is a CollabList (typed as ItemList: collab.data imports this module, not the reverse)
        self.user_classes = [NA, *_sorted_ids(items.items[:, 0])]
        self.item_classes = [NA, *_sorted_ids(items.items[:, 1])]
        self.outside_train = {"user": [], "item": []}
        self.user_name, self.item_name = items.user_name, items.item_name

    def encode(self, pairs: np.ndarray) -> np.ndarray:
        """Raw ``(n, 2)`` (user, item) ids -> ``(n, 2)`` int64 indices; unknown ids -> 0 (``#na#``)."""
        codes = np.zeros((len(pairs), 2), dtype=np.int64)
        if len(pairs):
            for col, classes in enumerate((self.user_classes, self.item_classes)):
                codes[:, col] = pd.Index(classes[1:]).get_indexer(pd.Index(pairs[:, col])) + 1
        return codes

    def process(self, items: ItemList) -> None:
        items.codes = self.encode(items.items)
        # remember which ids a split other than train brought, for clearer lookup errors later
        for col, side in enumerate(("user", "item")):
            unknown = pd.unique(items.items[items.codes[:, col] == 0, col]) if len(items.items) else []
            seen = set(self.outside_train[side])
            self.outside_train[side] += [py_scalar(o) for o in unknown if py_scalar(o) not in seen]

    # -- lookups by raw id ----------------------------------------------------------------
    def classes(self, is_item: bool) -> list:
        """The item ids (``is_item``) or user ids, ``#na#`` first."""
        return self.item_classes if is_item else self.user_classes

    def check_id_type(self, o: Any, is_item: bool) -> None:
        """A str '42' for int ids (or the reverse) is a type slip, not a new user: say so."""
        classes = self.classes(is_item)
        if len(classes) < 2:
            return
        want_num = isinstance(classes[1], (int, float))
        if isinstance(o, (int, float, np.number)) != want_num:
            side = "item" if is_item else "user"
            kind = type(classes[1]).__name__
            raise TypeError(
                f"{side} id {o!r} is a {type(o).__name__} but the training {side} ids are {kind} "
                f"(e.g. {classes[1]!r}); pass the id as {kind}"
            )

    def index(self, ids: Any, is_item: bool) -> torch.Tensor:
        """Raw ids/titles -> embedding rows, with a KeyError naming any id the training split lacks."""
        arr = np.asarray(
            list(ids) if not isinstance(ids, (str, bytes)) and hasattr(ids, "__iter__") else [ids],
            dtype=object,
        )
        side = "item" if is_item else "user"
        pairs = np.empty((len(arr), 2), dtype=object)
        pairs[:, int(is_item)], pairs[:, 1 - int(is_item)] = arr, None
        codes = self.encode(pairs)[:, int(is_item)] if len(arr) else np.zeros(0, dtype=np.int64)
        bad = [py_scalar(o) for o in arr[codes == 0]]
        if bad:
            self.check_id_type(bad[0], is_item)
            outside = set(self.outside_train[side])
            where = "; it appears only outside the training split (valid/test)" if bad[0] in outside else ""
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise KeyError(
                f"{side} {bad[0]!r}{more} is not among the {len(self.classes(is_item)) - 1} training {side}s"
                f"{where}, so the model has no {side} factors for it; predict() and recommend() fall back "
                "to a baseline for it"
            )
        return torch.as_tensor(codes, dtype=torch.long)

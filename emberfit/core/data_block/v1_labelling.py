"""fastai v1's remaining data-block steps: ``label_from_re``, ``label_from_list`` and ``transform``.

Mixed into ``ItemLists`` (the labelling methods), ``LabelList`` and ``LabelLists`` (``transform``)
in :mod:`.labelling`.

* ``label_from_re(pat, full_path=False)``: the label is the first group of the regular expression
  ``pat`` searched in each item's name (``path/item`` with ``full_path``), as v1.
* ``label_from_list(labels)``: one label per item of the list that was split, in its order. Better
  than v1, which gave the same list to the training and the validation items, so that the
  validation items were labelled with the first labels of the list.
* ``transform(tfms)``: v1 stored transforms that its image items applied when read; items here are
  tables and texts, on which v1 applied none either. Giving none (``None``, ``[]``, ``(None, None)``)
  returns the lists unchanged, as v1; giving real transforms is a ValueError naming the argument
  (v1 raised only when an item was read).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

__all__ = ["LabelFromMore", "LabelListTransform", "LabelListsTransform"]


class LabelFromMore:
    """``label_from_re`` and ``label_from_list`` for split items (``ItemLists``)."""

    def label_from_re(self, pat: str, full_path: bool = False, label_cls: type | None = None, **kwargs):
        """Label each item with the first group of ``pat`` searched in its name (``path/name`` with ``full_path``).

        >>> ils = ItemList(['cat_1.jpg', 'dog_2.jpg', 'cat_3.jpg']).split_by_idx([2])
        >>> lls = ils.label_from_re(r'^([a-z]+)_\\d+')
        >>> [str(y) for _, y in lls.train], lls.train.classes
        (['cat', 'dog'], ['cat', 'dog'])
        """
        try:
            rx = re.compile(pat)
        except (re.error, TypeError) as e:
            raise ValueError(f"label_from_re(pat={pat!r}): not a regular expression ({e})") from None
        if rx.groups < 1:
            raise ValueError(
                f"label_from_re(pat={pat!r}): the pattern has no group; put the label in parentheses, "
                r"e.g. r'/([^/]+)_\d+.jpg$'"
            )
        base = Path(self.path)

        def label(o: Any) -> str:
            name = o.as_posix() if isinstance(o, PurePath) else str(o)
            if full_path:
                name = (base / name).as_posix()
            m = rx.search(name)
            if m is None:
                raise ValueError(
                    f"label_from_re(pat={pat!r}): no match in {name!r}; fix the pattern"
                    + ("" if full_path else " (or pass full_path=True to search path/item)")
                )
            return m.group(1)

        return self.label_from_func(label, label_cls=label_cls, **kwargs)

    def label_from_list(self, labels: Iterable, label_cls: type | None = None, **kwargs):
        """Label with ``labels``: one per item of the list that was split, in that list's order.

        >>> ils = ItemList(['a', 'b', 'c', 'd']).split_by_idx([0, 2])  # valid: 'a' and 'c'
        >>> lls = ils.label_from_list(['yes', 'no', 'no', 'yes'])
        >>> [(x, str(y)) for x, y in lls.valid], [(x, str(y)) for x, y in lls.train]
        ([('a', 'yes'), ('c', 'no')], [('b', 'no'), ('d', 'yes')])
        """
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Iterable):
            raise TypeError(
                f"label_from_list(labels=...): expected one label per item (a list, array or Series), "
                f"got {labels!r}"
            )
        y = list(labels)
        split = getattr(self, "split_idx", None)
        n_train, n_valid = len(self.train), len(self.valid)
        if split is not None and (len(split[0]), len(split[1])) != (n_train, n_valid):
            split = None  # items were removed after the split: their original positions are lost
        n = split[2] if split is not None else n_train + n_valid
        if len(y) != n:
            raise ValueError(
                f"label_from_list(labels=...): got {len(y)} labels for the {n} items that were split "
                f"({n_train} train + {n_valid} valid); give one label per item, in the items' order"
            )
        if split is not None:
            y_train, y_valid = [y[i] for i in split[0]], [y[i] for i in split[1]]
        else:  # ItemLists built by hand: the training items' labels, then the validation items'
            y_train, y_valid = y[:n_train], y[n_train:]
        return self._label(y_train, y_valid, label_cls, **kwargs)


def _no_tfms(tfms: Any) -> bool:
    """Whether ``tfms`` holds no transform at all (None, empty, or lists of None/empty)."""
    if tfms is None:
        return True
    if isinstance(tfms, (list, tuple)):
        return all(_no_tfms(t) for t in tfms)
    return False


def _refuse_tfms(where: str, tfms: Any) -> ValueError:
    return ValueError(
        f"{where}(tfms={tfms!r}): emberfit's items (tables, texts) take no transforms, as v1's did not "
        "(v1 applied transforms to images only); pass tfms=None"
    )


class LabelListTransform:
    """``LabelList.transform``: v1's transform settings of one split (none can apply here)."""

    def transform(self, tfms: Any = None, tfm_y: bool | None = None, **kwargs):
        """Set the split's transforms: none apply to these items, so only ``None`` or empty is taken.

        >>> ll = ItemList([1, 2, 3]).split_none().label_from_func(str).train
        >>> ll.transform(None) is ll, ll.tfms
        (True, None)
        """
        if not _no_tfms(tfms):
            raise _refuse_tfms("LabelList.transform", tfms)
        if tfm_y:
            raise ValueError(
                f"LabelList.transform(tfm_y={tfm_y!r}): there are no transforms to apply to the labels; "
                "leave tfm_y unset"
            )
        self.tfms, self.tfmargs, self.tfm_y = tfms, kwargs, bool(tfm_y)
        return self


class LabelListsTransform:
    """``LabelLists.transform``: the train and valid (and test) splits' transforms."""

    def transform(self, tfms: Any = (None, None), **kwargs):
        """v1's ``(train_tfms, valid_tfms)``; with none to give (``None``, ``[]``, ``(None, None)``) it returns self.

        >>> lls = ItemList([1, 2, 3, 4]).split_by_idx([3]).label_from_func(lambda o: str(o % 2))
        >>> lls.transform() is lls, lls.transform(None) is lls, lls.transform(([], [])) is lls
        (True, True, True)
        """
        if not tfms:
            tfms = (None, None)
        if not isinstance(tfms, (list, tuple)) or len(tfms) != 2:
            raise TypeError(
                f"LabelLists.transform(tfms={tfms!r}): expected two lists of transforms (train, valid), "
                "as v1; here both are empty: tfms=None"
            )
        if not _no_tfms(tfms):
            raise _refuse_tfms("LabelLists.transform", tfms)
        self.train.transform(tfms[0], **kwargs)
        for ll in (self.valid, self.test):
            if ll is not None:
                ll.transform(tfms[1], **kwargs)
        return self

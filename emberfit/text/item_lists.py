"""Text item lists for ULMFiT: raw texts -> tokens -> ids, kept as one flat ragged corpus.

``TextList`` holds texts (from a DataFrame) or text files (from a folder). Labelling fits a
:class:`~emberfit.text.processor.TextProcessor` on the training split: it tokenizes
(``xxbos`` first, and ``xxfld k`` before field ``k`` with ``mark_fields``), builds the
vocabulary from the training split only, and turns every split into flat int32 ids plus
int64 offsets. ``label_for_lm()`` makes a language-model list (:class:`LMTextList`), any
other labelling a classifier list; ``.databunch()`` then gives a ``TextLMDataBunch`` or
``TextClasDataBunch`` (the bunch classes name these lists: :mod:`emberfit.text.databunch`).
"""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.data_block.items import ItemList, _as_array, split_loaders
from ..core.data_block.labelling import ItemLists, LabelList, LabelLists
from ..core.data_block.labels import CategoryList, _infer_label_cls
from ..core.registry import register
from .lm_labels import LMLabelList
from .loaders import LMLoader, SortishLoader, ragged_take
from .processor import TextProcessor
from .settings import TextSettings
from .vocab import Vocab

__all__ = ["Text", "TextList", "LMTextList", "TextItemLists"]


class Text:
    """One numericalized text: ``str()`` shows its tokens, ``.data`` gives the ids.

    >>> t = Text(np.array([2, 9]), "xxbos hello"); str(t), t.data.tolist()
    ('xxbos hello', [2, 9])
    """

    def __init__(self, ids: np.ndarray, text: str):
        self.data, self.text = ids, text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Text {self.text}"

    def __len__(self) -> int:
        return len(self.data)

    def __eq__(self, other) -> bool:
        return isinstance(other, Text) and np.array_equal(self.data, other.data)

    __hash__ = None


@register("items", "text.TextList")
class TextList(ItemList):
    """Texts (from a DataFrame's column(s)) or text files (from a folder) for ULMFiT.

    After labelling, ``ds[i][0]`` is a :class:`Text` (``str`` shows the tokens, ``.data`` the
    ids) and ``.vocab`` is the vocabulary. ``vocab`` is a ready vocabulary (e.g. the language
    model's); the other settings (``tokenizer``, ``max_vocab``, ``min_freq``, ``mark_fields``...)
    are those of :class:`~emberfit.text.settings.TextSettings`.

    >>> df = pd.DataFrame({"text": ["Great movie!", "Awful."] * 4, "label": ["pos", "neg"] * 4})
    >>> data = TextList.from_df(df, cols="text", min_freq=1).split_by_idx([0, 1]).label_from_df("label").databunch(bs=2)
    >>> str(data.train_ds[0][0])
    'xxbos xxmaj great movie !'
    """

    processor_cls = TextProcessor
    pad_idx = 1

    def __init__(
        self,
        items: Iterable,
        vocab: Vocab | None = None,
        pad_idx: int = 1,
        path: str | pathlib.Path = ".",
        inner_df: pd.DataFrame | None = None,
        **kwargs,
    ):
        # The text settings (TextSettings: tokenizer, max_vocab, min_freq...) go to the processor;
        # other keywords are the item list's own, as for any ItemList.
        settings = TextSettings().updated(TextSettings.pick(kwargs), "TextList")
        super().__init__(items, path=path, inner_df=inner_df, **kwargs)
        self.processor = TextProcessor(vocab=vocab, settings=settings)
        self._kwargs.update(vocab=vocab, pad_idx=pad_idx, **settings.as_kwargs())
        self.pad_idx = pad_idx
        self.ids: np.ndarray | None = None  # int32, all documents back to back (after processing)
        self.offsets: np.ndarray | None = None  # int64, document i = ids[offsets[i]:offsets[i+1]]
        self._root: TextList | None = None  # the pre-split list this one was cut from
        self._root_idx: np.ndarray | None = None
        self._text_cols: list | None = None  # the DataFrame column(s) of the texts, for messages

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def from_df(cls, df: pd.DataFrame, path: str | pathlib.Path = ".", cols: Any = 0, **kwargs) -> TextList:
        """Texts from column(s) ``cols`` of ``df`` (names or positions); see :meth:`ItemList.from_df`."""
        out = super().from_df(df, path=path, cols=cols, **kwargs)
        names = cols if isinstance(cols, (list, tuple)) else [cols]
        # positions become names, so that messages can say which column holds empty texts
        out._text_cols = [df.columns[c] if isinstance(c, int) and c not in df.columns else c for c in names]
        return out

    @classmethod
    def from_folder(
        cls,
        path: str | pathlib.Path = ".",
        extensions: Sequence[str] | None = (".txt",),
        recurse: bool = True,
        include: Sequence[str] | None = None,
        **kwargs,
    ) -> TextList:
        """Every ``.txt`` file under ``path`` (read as UTF-8 when labelled); e.g. IMDB's ``train/pos/*.txt``.

        >>> # TextList.from_folder(untar_data(URLs.IMDB), vocab=data_lm.vocab).split_by_folder(valid='test')
        """
        out = super().from_folder(path, extensions=extensions, recurse=recurse, include=include, **kwargs)
        if len(out) == 0:
            raise FileNotFoundError(
                f"from_folder: no {'/'.join(extensions or ['any'])} files under {path}; check the path "
                "(IMDB's layout is <path>/{train,test}/{pos,neg}/*.txt) or pass extensions=[...]"
            )
        return out

    @classmethod
    def from_ids(
        cls, ids: np.ndarray, offsets: np.ndarray, processor: TextProcessor | None = None, path=".", **kwargs
    ) -> TextList:
        """A processed list over ids numericalized elsewhere: document i is ``ids[offsets[i]:offsets[i+1]]``.

        Nothing is tokenized; ``processor`` (e.g. ``TextProcessor.from_vocab(itos)``) is the
        fitted processor that made the ids.

        >>> tl = TextList.from_ids(np.array([2, 3, 2]), np.array([0, 2, 3]), TextProcessor.from_vocab(["xxunk", "xxpad", "xxbos", "hi"]))
        >>> str(tl[0]), len(tl)
        ('xxbos hi', 2)
        """
        out = cls(np.arange(len(offsets) - 1), path=path, **kwargs)
        out.ids = np.asarray(ids).astype(np.int32, copy=False)
        out.offsets = np.asarray(offsets).astype(np.int64, copy=False)
        if processor is not None:
            out.processor = processor
        return out

    # -- list behaviour ---------------------------------------------------------------------
    @property
    def vocab(self) -> Vocab | None:
        """The vocabulary: the one given, or the one built from the training split once labelled."""
        return self.processor.vocab if self.processor is not None else None

    @property
    def processed(self) -> bool:
        return self.ids is not None

    @property
    def lengths(self) -> np.ndarray:
        """Number of tokens of each document (after processing)."""
        self._check_processed("lengths")
        return np.diff(self.offsets)

    def _check_processed(self, what: str) -> None:
        if self.ids is None:
            raise ValueError(f"{what} needs processed texts; label the list first (e.g. .label_for_lm())")

    def get(self, i: int) -> Any:
        if self.ids is None:
            return self.items[i]
        ids = self.ids[self.offsets[i] : self.offsets[i + 1]].astype(np.int64)
        return Text(ids, self.vocab.textify(ids.tolist()))

    def new_subset(self, idx: np.ndarray) -> TextList:
        idx = np.asarray(idx, dtype=np.int64)
        out = super().new_subset(idx)
        out._text_cols = self._text_cols
        if self.ids is not None:
            out.ids, out.offsets = ragged_take(self.ids, self.offsets, idx)
            out.processor = self.processor
        else:  # remember where we come from, so the whole pre-split list is tokenized once
            root = self._root if self._root is not None else self
            out._root = root
            out._root_idx = self._root_idx[idx] if self._root is not None else idx
        return out

    def _as(self, cls: type[TextList]) -> TextList:
        """This (unprocessed) list as another TextList class, keeping settings and pre-split origin."""
        out = cls(self.items, path=self.path, inner_df=self.inner_df, **self._kwargs)
        out._root, out._root_idx = self._root, self._root_idx
        out.ids, out.offsets = self.ids, self.offsets  # (set when made from ids: TextList.from_ids)
        out._text_cols = self._text_cols
        out.processor = self.processor
        return out

    def __repr__(self) -> str:
        shown = ", ".join(str(self.get(i))[:40] for i in range(min(3, len(self))))
        return f"{type(self).__name__} ({len(self)} items)\n[{shown}{', ...' if len(self) > 3 else ''}]\nPath: {self.path}"

    # -- loaders, display, prediction ------------------------------------------------------
    def make_loaders(
        self,
        lls: LabelLists,
        bs: int,
        val_bs: int,
        device,
        pad_idx: int = 1,
        pad_first: bool = True,
        backwards: bool = False,
        max_len: int | None = None,
        **kwargs,
    ) -> list:
        """Classifier loaders: sortish shuffled training batches, length-sorted valid/test."""
        _no_extra(kwargs, "a classifier DataBunch", "pad_idx, pad_first, backwards, max_len")
        self._backwards = backwards

        def make(ll, train: bool) -> SortishLoader:
            return SortishLoader(
                ll.x.ids,
                ll.x.offsets,
                ll.y.to_tensors(),
                bs=bs if train else val_bs,
                shuffle=train,
                drop_last=train,
                pad_idx=pad_idx,
                pad_first=pad_first,
                backwards=backwards,
                max_len=max_len,
                device=device,
            )

        return split_loaders(lls, make)

    def decode_ids(self, ids: torch.Tensor, max_len: int = 70) -> str:
        """A row of a batch back to text: padding removed, at most ``max_len`` tokens."""
        ids = [i for i in ids.tolist() if i != self.pad_idx]
        if getattr(self, "_backwards", False):
            ids = ids[::-1]
        return self.vocab.textify(ids[:max_len])

    def batch_frame(self, xb, yb, lls: LabelLists, rows: int) -> pd.DataFrame:
        n = min(rows, xb.shape[0])
        df = pd.DataFrame({"text": [self.decode_ids(xb[i]) for i in range(n)]})
        if yb is not None and hasattr(lls.train.y, "decode_batch"):
            df[lls.train.y.name] = lls.train.y.decode_batch(yb[:n])
        return df

    def items_frame(self, idxs: Sequence[int], max_len: int = 70) -> pd.DataFrame:
        """The texts ``idxs`` (their tokens, at most ``max_len`` of them) as a ``text`` column."""
        self._check_processed("items_frame")
        texts = []
        for i in idxs:
            ids = self.ids[self.offsets[i] : self.offsets[i + 1]].tolist()
            more = " ..." if max_len is not None and len(ids) > max_len else ""
            texts.append(self.vocab.textify(ids[:max_len]) + more)
        return pd.DataFrame({"text": texts})

    def item_to_batch(self, item: Any, lls: LabelLists) -> torch.Tensor:
        """A raw string -> a ``(1, n_tokens)`` int64 batch (``xxbos`` first), for ``predict``."""
        if self.processor is None or self.processor.vocab is None:
            raise ValueError(
                "predict needs the fitted text processor; build the data with the data block API"
            )
        ids = self.processor.process_one(item)
        if getattr(self, "_backwards", False):  # (set by make_loaders)
            ids = ids[::-1].copy()  # a backwards model reads every text from its end
        return torch.from_numpy(ids)[None]

    # -- saving (arrays + JSON, no pickle) -------------------------------------------------
    def to_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        self._check_processed("saving")
        return {"ids": torch.from_numpy(self.ids), "offsets": torch.from_numpy(self.offsets)}, {}

    @classmethod
    def from_state(cls, tensors: dict, meta: dict, path, kwargs: dict) -> TextList:
        return cls.from_ids(tensors["ids"].numpy(), tensors["offsets"].numpy(), path=path, **kwargs)


@register("items", "text.LMTextList")
class LMTextList(TextList):
    """A TextList for language modelling (made by ``label_for_lm``): batches are token streams.

    >>> df = pd.DataFrame({"text": ["a b c d e f"] * 8})
    >>> data = TextList.from_df(df, cols="text", min_freq=1).split_by_idx([0]).label_for_lm().databunch(bs=2, bptt=3)
    >>> type(data.train_ds.x).__name__, tuple(data.one_batch()[0].shape)
    ('LMTextList', (2, 3))
    """

    def make_loaders(
        self,
        lls: LabelLists,
        bs: int,
        val_bs: int,
        device,
        bptt: int = 70,
        backwards: bool = False,
        bptt_jitter: bool = False,
        **kwargs,
    ) -> list:
        """Language-model loaders (:class:`LMLoader`): shuffled documents for training, in order otherwise."""
        _no_extra(kwargs, "a language-model DataBunch", "bptt, backwards, bptt_jitter")
        self._backwards = backwards

        def make(ll, train: bool) -> LMLoader | None:
            if len(ll) == 0:  # an exported learner's data has an empty train split
                return None
            return LMLoader(
                ll.x.ids,
                ll.x.offsets,
                bs=bs if train else val_bs,
                bptt=bptt,
                shuffle=train,
                backwards=backwards,
                bptt_jitter=bptt_jitter and train,
                device=device,
            )

        return split_loaders(lls, make)

    def batch_frame(self, xb, yb, lls: LabelLists, rows: int) -> pd.DataFrame:
        n = min(rows, xb.shape[0])
        return pd.DataFrame({"idx": range(n), "text": [self.decode_ids(xb[i]) for i in range(n)]})


def _no_extra(kwargs: dict, what: str, known: str) -> None:
    if kwargs:
        raise TypeError(f"{what} does not take {sorted(kwargs)}; its loader settings are {known}")


class TextItemLists(ItemLists):
    """Train/valid TextLists waiting for labels; adds ``label_for_lm`` and checks classifier labels."""

    def label_for_lm(self, **kwargs) -> LabelLists:
        """Label for a language model: each token's target is the next token.

        >>> # TextList.from_folder(path).split_by_rand_pct(0.1).label_for_lm().databunch(bs=48)
        """
        if kwargs:
            raise TypeError(f"label_for_lm takes no arguments, got {sorted(kwargs)}")
        lists = []
        for x in (self.train, self.valid):
            x = x._as(LMTextList) if isinstance(x, TextList) and not isinstance(x, LMTextList) else x
            lists.append(LabelList(x, LMLabelList.for_items(x, self.path)))
        return LabelLists(self.path, *lists).process()

    def label_from_folder(self, classes: Sequence | None = None, label_cls=None, **kw) -> LabelLists:
        """Labels are parent folder names; with ``classes``, files in other folders (e.g. ``unsup``) are dropped first."""
        if classes is not None:
            if isinstance(classes, str):
                raise TypeError(f"classes must be a list of folder names, got the string {classes!r}")
            wanted, dropped = set(classes), {}
            for name in ("train", "valid"):
                il = getattr(self, name)
                parents = np.array([pathlib.Path(o).parent.name for o in il.items])
                keep = np.isin(parents, list(wanted))
                for p in parents[~keep].tolist():
                    dropped[p] = dropped.get(p, 0) + 1
                setattr(self, name, il.new_subset(np.nonzero(keep)[0]))
            if dropped:
                warnings.warn(
                    f"label_from_folder(classes={list(classes)}): dropped {sum(dropped.values())} file(s) "
                    f"in other folders {dict(sorted(dropped.items()))}",
                    stacklevel=2,
                )
            if len(self.train) == 0:
                raise ValueError(f"no training files are in a folder named one of classes={list(classes)}")
        return super().label_from_folder(classes=classes, label_cls=label_cls, **kw)

    def _label(self, y_train, y_valid, label_cls, **kwargs) -> LabelLists:
        y_arr = _as_array(y_train)
        cls_ = label_cls or (_infer_label_cls(y_arr) if y_arr.ndim == 1 else None)
        if cls_ is CategoryList:  # checked before the (slow) tokenizing starts
            classes = kwargs.get("classes")
            found = classes if classes is not None else pd.unique(pd.Series(y_arr).dropna())
            if len(found) < 2:
                raise ValueError(
                    f"the training labels have {len(found)} class(es) ({list(found)[:3]}); a classifier needs "
                    "at least 2. Check the label column or folders, or use label_for_lm() for a language model"
                )
        return super()._label(y_train, y_valid, label_cls, **kwargs)


TextList.item_lists_cls = TextItemLists

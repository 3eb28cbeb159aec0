"""``TextDataBunch`` and its language-model / classifier flavours, with fastai v1's factories.

``TextDataBunch.from_csv(path, 'texts.csv')`` gives a classifier bunch (a
``TextClasDataBunch``), as in fastai v1; ``TextLMDataBunch.from_csv(...)`` a language-model
one. The factories build the vocabulary with ``min_freq=2`` (the data-block path uses 3),
``max_vocab=60000``. Batch size defaults: 64 for language models, 32 for classifiers.

>>> # data = TextDataBunch.from_csv(untar_data(URLs.IMDB_SAMPLE), 'texts.csv')
>>> # data.show_batch(); data.vocab.itos[:10]; data.train_ds[0][0].data[:10]
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ..core.csv_io import read_csv
from ..core.data import DataBunch, load_data
from ..core.data_block import MultiCategoryList
from .data import TextList
from .tokenizer import Tokenizer
from .vocab import Vocab

__all__ = ["TextDataBunch", "TextLMDataBunch", "TextClasDataBunch"]


class TextDataBunch(DataBunch):
    """A DataBunch of texts; ``vocab`` is the vocabulary (``data.vocab.itos``).

    The ``from_*`` factories on this class build a classifier (as fastai v1 did); use
    :class:`TextLMDataBunch` for a language model.
    """

    @property
    def vocab(self) -> Vocab:
        return self.processor.vocab

    @classmethod
    def _is_lm(cls) -> bool:
        return issubclass(cls, TextLMDataBunch)

    @classmethod
    def _finish(cls, src, label_cols, classes, label_delim, test_items, kwargs) -> TextDataBunch:
        if cls._is_lm():
            lls = src.label_for_lm()
        elif label_delim is not None:
            lls = src.label_from_df(
                cols=label_cols, label_cls=MultiCategoryList, classes=classes, label_delim=label_delim
            )
        else:
            lls = src.label_from_df(cols=label_cols, classes=classes)
        if test_items is not None:
            lls.add_test(test_items)
        kwargs.setdefault("bs", 64 if cls._is_lm() else 32)
        return lls.databunch(**kwargs)

    @classmethod
    def from_df(
        cls,
        path: str | pathlib.Path,
        train_df: pd.DataFrame,
        valid_df: pd.DataFrame,
        test_df: pd.DataFrame | None = None,
        tokenizer: Tokenizer | None = None,
        vocab: Vocab | None = None,
        classes: Sequence | None = None,
        text_cols=1,
        label_cols=0,
        label_delim: str | None = None,
        chunksize: int | None = None,
        max_vocab: int = 60000,
        min_freq: int = 2,
        mark_fields: bool = False,
        include_bos: bool = True,
        include_eos: bool = False,
        **kwargs,
    ) -> TextDataBunch:
        """A bunch from training and validation DataFrames (text in ``text_cols``, labels in ``label_cols``).

        ``kwargs`` go to ``databunch()``: ``bs``, ``val_bs``, ``device`` and the loader settings
        (``bptt``, ``backwards``, ``bptt_jitter`` for a language model; ``pad_first``,
        ``max_len`` for a classifier).

        >>> df = pd.DataFrame({"label": ["a", "b"] * 10, "text": ["x y", "y z"] * 10})
        >>> TextClasDataBunch.from_df(".", df[:16], df[16:], bs=4).vocab.itos[:3]
        ['xxunk', 'xxpad', 'xxbos']
        """
        for name, df in (("train_df", train_df), ("valid_df", valid_df)):
            if not isinstance(df, pd.DataFrame):
                raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
        both = pd.concat([train_df, valid_df], ignore_index=True)
        src = TextList.from_df(
            both,
            path,
            cols=text_cols,
            vocab=vocab,
            tokenizer=tokenizer,
            max_vocab=max_vocab,
            min_freq=min_freq,
            mark_fields=mark_fields,
            include_bos=include_bos,
            include_eos=include_eos,
            chunksize=chunksize,
        ).split_by_idx(np.arange(len(train_df), len(both)))
        test = None
        if test_df is not None:
            test = TextList.from_df(test_df, path, cols=text_cols)
        return cls._finish(src, label_cols, classes, label_delim, test, kwargs)

    @classmethod
    def from_csv(
        cls,
        path: str | pathlib.Path,
        csv_name: str,
        valid_pct: float = 0.2,
        test: str | None = None,
        tokenizer: Tokenizer | None = None,
        vocab: Vocab | None = None,
        classes: Sequence | None = None,
        delimiter: str | None = None,
        header="infer",
        text_cols=1,
        label_cols=0,
        label_delim: str | None = None,
        chunksize: int | None = None,
        max_vocab: int = 60000,
        min_freq: int = 2,
        mark_fields: bool = False,
        include_bos: bool = True,
        include_eos: bool = False,
        encoding: str = "utf-8",
        **kwargs,
    ) -> TextDataBunch:
        """A bunch from ``path/csv_name``: a random ``valid_pct`` of the rows (plus one) is validation, as in fastai v1.

        The split uses torch's global RNG (``set_seed`` repeats it); other columns (such as
        the IMDB sample's ``is_valid``) are ignored. ``test`` names an optional CSV of texts.
        ``encoding`` is that of the files (e.g. 'latin-1'; the default is UTF-8).

        >>> # data = TextDataBunch.from_csv(path, 'texts.csv')  # label,text,is_valid -> a classifier
        """
        path = pathlib.Path(path)
        f = path / csv_name
        if not f.is_file():
            raise FileNotFoundError(
                f"from_csv: no file {f}; check path={str(path)!r} and csv_name={csv_name!r}"
            )
        if not 0 <= valid_pct < 1:
            raise ValueError(f"valid_pct must be in [0, 1), got {valid_pct!r}")
        where = f"{cls.__name__}.from_csv"
        df = read_csv(f, where, encoding, sep=delimiter or ",", header=header)
        if len(df) < 2:
            raise ValueError(
                f"{f} has {len(df)} row(s); at least 2 are needed for a training and a validation set"
            )
        cut = min(int(valid_pct * len(df)) + 1, len(df) - 1)
        valid_idx = np.sort(torch.randperm(len(df))[:cut].numpy())
        src = TextList.from_df(
            df,
            path,
            cols=text_cols,
            vocab=vocab,
            tokenizer=tokenizer,
            max_vocab=max_vocab,
            min_freq=min_freq,
            mark_fields=mark_fields,
            include_bos=include_bos,
            include_eos=include_eos,
            chunksize=chunksize,
        ).split_by_idx(valid_idx)
        test_items = None
        if test is not None:
            tdf = read_csv(path / test, where, encoding, sep=delimiter or ",", header=header)
            test_items = TextList.from_df(tdf, path, cols=text_cols)
        return cls._finish(src, label_cols, classes, label_delim, test_items, kwargs)

    @classmethod
    def from_folder(
        cls,
        path: str | pathlib.Path,
        train: str = "train",
        valid: str = "valid",
        test: str | None = None,
        classes: Sequence | None = None,
        tokenizer: Tokenizer | None = None,
        vocab: Vocab | None = None,
        chunksize: int | None = None,
        max_vocab: int = 60000,
        min_freq: int = 2,
        mark_fields: bool = False,
        include_bos: bool = True,
        include_eos: bool = False,
        **kwargs,
    ) -> TextDataBunch:
        """A bunch from ``path/{train,valid}/<class>/*.txt`` (labels are the class folders).

        >>> # data = TextClasDataBunch.from_folder(path, valid='test', classes=['neg', 'pos'])
        """
        path = pathlib.Path(path)
        src = TextList.from_folder(
            path,
            vocab=vocab,
            tokenizer=tokenizer,
            max_vocab=max_vocab,
            min_freq=min_freq,
            mark_fields=mark_fields,
            include_bos=include_bos,
            include_eos=include_eos,
            chunksize=chunksize,
        ).split_by_folder(train=train, valid=valid)
        if cls._is_lm():
            lls = src.label_for_lm()
        else:
            lls = src.label_from_folder(classes=classes)
        if test is not None:
            lls.add_test(TextList.from_folder(path / test))
        kwargs.setdefault("bs", 64 if cls._is_lm() else 32)
        return lls.databunch(**kwargs)

    @classmethod
    def load(
        cls, path: str | pathlib.Path, name: str = "data_save.safetensors", bs: int | None = None, **kwargs
    ):
        """Load data written by ``data.save(name)`` (the same as :func:`load_data`)."""
        bs = bs or (64 if cls._is_lm() else 32)
        data = load_data(path, name, bs=bs, **kwargs)
        if not isinstance(data, cls):
            raise ValueError(
                f"{pathlib.Path(path) / name} holds a {type(data).__name__}, not a {cls.__name__}; "
                f"load it with {type(data).__name__}.load or load_data"
            )
        return data


class TextLMDataBunch(TextDataBunch):
    """Language-model data: ``(bs, bptt)`` batches of token streams, targets shifted by one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The model predicts one of ``len(vocab.itos)`` tokens.
        self.c = len(self.vocab.itos) if self.processor is not None else None


class TextClasDataBunch(TextDataBunch):
    """Classifier data: documents padded at the start with ``xxpad``, sorted by length."""

"""``TextDataBunch`` and its language-model / classifier flavours, with fastai v1's factories.

``TextDataBunch.from_csv(path, 'texts.csv')`` gives a classifier bunch (a
``TextClasDataBunch``), as in fastai v1; ``TextLMDataBunch.from_csv(...)`` a language-model
one. The factories build the vocabulary with v1's factory settings (``min_freq=2``,
``max_vocab=60000``: :data:`~emberfit.text.settings.FACTORY_SETTINGS`; the data-block path
uses ``min_freq=3``). Batch size defaults: 64 for language models, 32 for classifiers.

>>> # data = TextDataBunch.from_csv(untar_data(URLs.IMDB_SAMPLE), 'texts.csv')
>>> # data.show_batch(); data.vocab.itos[:10]; data.train_ds[0][0].data[:10]
"""

from __future__ import annotations

import inspect
import pathlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ..core.csv_io import read_csv
from ..core.data import DataBunch
from ..core.data_block.labelling import ItemLists, LabelLists, load_data
from ..core.data_block.labels import MultiCategoryList
from .empty_data import export_empty, load_empty
from .item_lists import LMTextList, TextList
from .prepared_data import add_prepared_test, check_token_docs, ids_of_tokens, label_prepared, prepared_lists
from .processor import TextProcessor
from .settings import FACTORY_SETTINGS, TextSettings
from .tokenizer import Tokenizer
from .vocab import Vocab

__all__ = ["TextDataBunch", "TextLMDataBunch", "TextClasDataBunch"]

# What a factory passes to ``databunch()`` besides the loader options of its kind of list.
_BUNCH_OPTIONS = ("bs", "val_bs", "device", "num_workers")
_FACTORY_OPTIONS = (*_BUNCH_OPTIONS, "no_check")  # no_check: v1's, accepted (see _databunch)


class TextDataBunch(DataBunch):
    """A DataBunch of texts; ``vocab`` is the vocabulary (``data.vocab.itos``).

    The ``from_*`` factories on this class build a classifier (as fastai v1 did); use
    :class:`TextLMDataBunch` for a language model. Their keyword ``options`` are the text
    settings (:class:`~emberfit.text.settings.TextSettings`: ``max_vocab``, ``min_freq``,
    ``mark_fields``, ``include_bos``, ``include_eos``, ``cache_dir``, ``chunksize``), then
    ``bs``, ``val_bs``, ``device`` and the loader options (``bptt``, ``backwards``,
    ``bptt_jitter`` for a language model; ``pad_idx``, ``pad_first``, ``backwards``,
    ``max_len`` for a classifier). An unknown option is refused before any tokenizing. v1's
    ``no_check=True`` is accepted and changes nothing: the data is checked while it is built.
    ``label_cols`` may name several 0/1 columns: one multi-label target, a class per column (v1).
    :meth:`from_ids` / :meth:`from_tokens` take documents numericalized or tokenized elsewhere;
    ``data.export()`` and :meth:`load_empty` carry the processor without the texts.

    >>> df = pd.DataFrame({"label": ["pos", "neg"] * 10, "text": ["a good film", "a bad film"] * 10})
    >>> data = TextDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4)
    >>> type(data).__name__, data.classes, data.vocab.itos[9:13]
    ('TextClasDataBunch', ['neg', 'pos'], ['a', 'film', 'good', 'bad'])
    """

    _items_cls: type[TextList] = TextList  # the items the factories build (their loader options)
    _default_bs = 32

    @property
    def vocab(self) -> Vocab:
        return self.processor.vocab

    @classmethod
    def _is_lm(cls) -> bool:
        return issubclass(cls, TextLMDataBunch)

    @classmethod
    def _options(cls, where: str, tokenizer: Tokenizer | None, options: dict) -> tuple[TextSettings, dict]:
        """Split a factory's ``options`` into its text settings and its ``databunch()`` arguments."""
        settings = FACTORY_SETTINGS.updated({"tokenizer": tokenizer, **TextSettings.pick(options)}, where)
        params = inspect.signature(cls._items_cls.make_loaders).parameters
        loader = [n for n, p in params.items() if p.default is not p.empty]
        unknown = sorted(set(options) - set(_FACTORY_OPTIONS) - set(loader))
        if unknown:
            raise TypeError(
                f"{cls.__name__}.{where} does not take {unknown}; it takes the text settings "
                f"{list(TextSettings.names())}, {list(_FACTORY_OPTIONS)} and the loader options {loader}"
            )
        return settings, {"bs": cls._default_bs, **options}

    @classmethod
    def _label(cls, src: ItemLists, label_cols, classes, label_delim) -> LabelLists:
        if cls._is_lm():
            return src.label_for_lm()
        if label_delim is not None:
            return src.label_from_df(
                cols=label_cols, label_cls=MultiCategoryList, classes=classes, label_delim=label_delim
            )
        return src.label_from_df(cols=label_cols, classes=classes)

    @classmethod
    def _databunch(cls, lls: LabelLists, test: TextList | None, bunch_kw: dict) -> TextDataBunch:
        if test is not None:
            lls.add_test(test)
        # v1's no_check skipped its sanity check of the first batch; emberfit checks the data while it
        # builds it (empty texts, labels, bs against the corpus...) and raises, so there is nothing to skip
        bunch_kw.pop("no_check", None)
        return lls.databunch(**bunch_kw)

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
        **options,
    ) -> TextDataBunch:
        """A bunch from training and validation DataFrames (text in ``text_cols``, labels in ``label_cols``).

        ``options``: the text settings, ``bs``, ``val_bs``, ``device`` and the loader options
        (see :class:`TextDataBunch`).

        >>> df = pd.DataFrame({"label": ["a", "b"] * 10, "text": ["x y", "y z"] * 10})
        >>> TextClasDataBunch.from_df(".", df[:16], df[16:], bs=4).vocab.itos[:3]
        ['xxunk', 'xxpad', 'xxbos']
        """
        settings, bunch_kw = cls._options("from_df", tokenizer, options)
        for name, df in (("train_df", train_df), ("valid_df", valid_df)):
            if not isinstance(df, pd.DataFrame):
                raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
        both = pd.concat([train_df, valid_df], ignore_index=True)
        src = TextList.from_df(both, path, cols=text_cols, vocab=vocab, **settings.as_kwargs())
        lls = cls._label(
            src.split_by_idx(np.arange(len(train_df), len(both))), label_cols, classes, label_delim
        )
        test = None if test_df is None else TextList.from_df(test_df, path, cols=text_cols)
        return cls._databunch(lls, test, bunch_kw)

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
        encoding: str = "utf-8",
        **options,
    ) -> TextDataBunch:
        """A bunch from ``path/csv_name``: a random ``valid_pct`` of the rows (plus one) is validation, as in fastai v1.

        The split uses torch's global RNG (``set_seed`` repeats it); other columns (such as
        the IMDB sample's ``is_valid``) are ignored. ``test`` names an optional CSV of texts.
        ``encoding`` is that of the files (e.g. 'latin-1'; the default is UTF-8). ``options``:
        see :class:`TextDataBunch`.

        >>> # data = TextDataBunch.from_csv(path, 'texts.csv')  # label,text,is_valid -> a classifier
        """
        settings, bunch_kw = cls._options("from_csv", tokenizer, options)
        path = pathlib.Path(path)
        if not (path / csv_name).is_file():
            raise FileNotFoundError(
                f"from_csv: no file {path / csv_name}; check path={str(path)!r} and csv_name={csv_name!r}"
            )
        if not 0 <= valid_pct < 1:
            raise ValueError(f"valid_pct must be in [0, 1), got {valid_pct!r}")

        def read(name: str) -> pd.DataFrame:
            return read_csv(
                path / name, f"{cls.__name__}.from_csv", encoding, sep=delimiter or ",", header=header
            )

        df = read(csv_name)
        if len(df) < 2:
            raise ValueError(
                f"{path / csv_name} has {len(df)} row(s); at least 2 are needed for a training and a validation set"
            )
        cut = min(int(valid_pct * len(df)) + 1, len(df) - 1)
        valid_idx = np.sort(torch.randperm(len(df))[:cut].numpy())
        # (not through from_df: the list keeps the file's row order, which ties in the vocabulary follow)
        src = TextList.from_df(df, path, cols=text_cols, vocab=vocab, **settings.as_kwargs())
        lls = cls._label(src.split_by_idx(valid_idx), label_cols, classes, label_delim)
        test_items = None if test is None else TextList.from_df(read(test), path, cols=text_cols)
        return cls._databunch(lls, test_items, bunch_kw)

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
        **options,
    ) -> TextDataBunch:
        """A bunch from ``path/{train,valid}/<class>/*.txt`` (labels are the class folders).

        ``options``: see :class:`TextDataBunch`.

        >>> # data = TextClasDataBunch.from_folder(path, valid='test', classes=['neg', 'pos'])
        """
        settings, bunch_kw = cls._options("from_folder", tokenizer, options)
        path = pathlib.Path(path)
        src = TextList.from_folder(path, vocab=vocab, **settings.as_kwargs()).split_by_folder(
            train=train, valid=valid
        )
        lls = src.label_for_lm() if cls._is_lm() else src.label_from_folder(classes=classes)
        return cls._databunch(lls, None if test is None else TextList.from_folder(path / test), bunch_kw)

    @classmethod
    def from_ids(
        cls,
        path: str | pathlib.Path,
        vocab: Vocab,
        train_ids: Sequence,
        valid_ids: Sequence,
        test_ids: Sequence | None = None,
        train_lbls: Sequence | None = None,
        valid_lbls: Sequence | None = None,
        classes: Sequence | None = None,
        processor: TextProcessor | None = None,
        **options,
    ) -> TextDataBunch:
        """A bunch from documents already numericalized with ``vocab`` (lists or arrays of ids), as in fastai v1.

        Nothing is tokenized. Labels (ignored by :class:`TextLMDataBunch`): with ``classes``,
        integer labels are indices into it (v1); rows of 0/1 are one-hot multi-labels (one
        column per class); otherwise the labels are the classes (floats: regression).
        ``options``: ``bs``, ``val_bs``, ``device``, ``no_check`` and the loader options.

        >>> vocab = Vocab(["xxunk", "xxpad", "xxbos", "good", "bad", "film"])
        >>> ids = [[2, 3, 5], [2, 4, 5], [2, 3, 3, 5], [2, 4]]
        >>> data = TextClasDataBunch.from_ids(".", vocab, ids[:3], ids[3:], train_lbls=[1, 0, 1], valid_lbls=[0],
        ...                                   classes=["neg", "pos"], bs=2)
        >>> data.classes, str(data.train_ds[0][0]), str(data.train_ds[0][1])
        (['neg', 'pos'], 'xxbos good film', 'pos')
        """
        vocab = _as_vocab(vocab, "from_ids")
        bunch_kw = _ready_options(cls, "from_ids", options)
        src = prepared_lists(path, vocab, train_ids, valid_ids, processor)
        lls = label_prepared(src, cls._is_lm(), train_lbls, valid_lbls, classes)
        if test_ids is not None:
            add_prepared_test(lls, test_ids, path)
        return cls._databunch(lls, None, bunch_kw)

    @classmethod
    def from_tokens(
        cls,
        path: str | pathlib.Path,
        trn_tok: Sequence[Sequence[str]],
        trn_lbls: Sequence | None,
        val_tok: Sequence[Sequence[str]],
        val_lbls: Sequence | None,
        vocab: Vocab | None = None,
        tst_tok: Sequence[Sequence[str]] | None = None,
        classes: Sequence | None = None,
        max_vocab: int = 60000,
        min_freq: int = 3,
        **options,
    ) -> TextDataBunch:
        """A bunch from tokenized documents (lists of token strings), as in fastai v1; nothing is re-tokenized.

        The vocabulary is built from ``trn_tok`` (``max_vocab``, ``min_freq``; v1's defaults)
        unless ``vocab`` is given; unknown tokens become ``xxunk``. Labels as for
        :meth:`from_ids` (a language model ignores them; pass None).

        >>> toks = [["xxbos", "good", "film"], ["xxbos", "bad", "film"]] * 4
        >>> data = TextLMDataBunch.from_tokens(".", toks[:6], None, toks[6:], None, min_freq=1, bs=2, bptt=3)
        >>> data.vocab.itos[9:12], tuple(data.one_batch()[0].shape)
        (['film', 'good', 'bad'], (2, 3))
        """
        if vocab is None:
            check_token_docs(trn_tok, "trn_tok")
            vocab = Vocab.create(trn_tok, max_vocab=max_vocab, min_freq=min_freq)
        vocab = _as_vocab(vocab, "from_tokens")
        docs = [
            None if d is None else ids_of_tokens(d, vocab, arg)
            for d, arg in ((trn_tok, "trn_tok"), (val_tok, "val_tok"), (tst_tok, "tst_tok"))
        ]
        return cls.from_ids(path, vocab, docs[0], docs[1], docs[2], trn_lbls, val_lbls, classes, **options)

    def export(
        self, file: str | pathlib.Path = "export.pkl", return_path: bool = False
    ) -> pathlib.Path | None:
        """fastai v1: write the processor and classes, without the texts, to ``path/file`` for :meth:`load_empty`.

        The file is safetensors + JSON whatever its name (no pickle). Returns None, as v1 did
        (the path with ``return_path=True``).

        >>> # data.export(); empty = TextClasDataBunch.load_empty(path); learn = text_classifier_learner(empty, AWD_LSTM)
        """
        f = export_empty(self, file)
        return f if return_path else None

    @classmethod
    def load_empty(cls, path: str | pathlib.Path, fname: str | pathlib.Path = "export.pkl", device=None):
        """fastai v1: the empty bunch ``data.export(fname)`` wrote (or the data of ``learn.export(fname)``).

        It has the vocabulary, classes and processor and no texts: build a learner on it, load
        weights and predict.
        """
        return load_empty(cls, path, fname, device)

    @classmethod
    def load(
        cls, path: str | pathlib.Path, name: str = "data_save.safetensors", bs: int | None = None, **kwargs
    ):
        """Load data written by ``data.save(name)`` (the same as :func:`load_data`)."""
        data = load_data(path, name, bs=bs or cls._default_bs, **kwargs)
        if not isinstance(data, cls):
            raise ValueError(
                f"{pathlib.Path(path) / name} holds a {type(data).__name__}, not a {cls.__name__}; "
                f"load it with {type(data).__name__}.load or load_data"
            )
        return data


class TextLMDataBunch(TextDataBunch):
    """Language-model data: ``(bs, bptt)`` batches of token streams, targets shifted by one.

    >>> df = pd.DataFrame({"text": ["a good film", "a bad film"] * 10})
    >>> data = TextLMDataBunch.from_df(".", df[:16], df[16:], text_cols="text", bs=4, bptt=5)
    >>> data.c == len(data.vocab.itos), tuple(data.one_batch()[0].shape)
    (True, (4, 5))
    """

    _items_cls = LMTextList
    _default_bs = 64

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The model predicts one of ``len(vocab.itos)`` tokens.
        self.c = len(self.vocab.itos) if self.processor is not None else None


class TextClasDataBunch(TextDataBunch):
    """Classifier data: documents padded at the start with ``xxpad``, sorted by length.

    >>> df = pd.DataFrame({"label": ["pos", "neg"] * 10, "text": ["a good film", "so bad"] * 10})
    >>> data = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4)
    >>> x, y = data.one_batch(DatasetType.Valid); data.c, x[:, 0].tolist()  # the short texts are padded first
    (2, [2, 2, 1, 1])
    """


def _as_vocab(vocab, where: str) -> Vocab:
    if isinstance(vocab, Vocab):
        return vocab
    if isinstance(vocab, (list, tuple)) and vocab and all(isinstance(t, str) for t in vocab):
        return Vocab(vocab)
    raise TypeError(
        f"{where}: vocab must be a Vocab (e.g. data_lm.vocab) or its itos list, got {type(vocab).__name__}"
    )


def _ready_options(cls: type[TextDataBunch], where: str, options: dict) -> dict:
    """``databunch()`` options for ready ids: the text settings do not apply (nothing is tokenized)."""
    settings = TextSettings.pick(dict(options))
    if settings:
        raise TypeError(
            f"{cls.__name__}.{where} takes no text settings ({sorted(settings)}): the documents are tokenized "
            "and numericalized already; pass vocab= (from_tokens: max_vocab=, min_freq=)"
        )
    return cls._options(where, None, options)[1]


# The bunch each kind of list builds (core's LabelLists.databunch() and load_data() ask the
# training items for ``databunch_cls``). Set here, beside the bunch classes, so that the lists
# never import this module: the factories above import the lists, and imports go one way.
TextList.databunch_cls = TextClasDataBunch
LMTextList.databunch_cls = TextLMDataBunch

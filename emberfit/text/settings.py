"""How texts become ids: the tokenizer and vocabulary settings, declared once.

``TextList``, ``TextProcessor`` and the ``TextDataBunch.from_*`` factories all take these
eight settings by keyword, with these defaults: fastai v1's, where the data-block path (v1's
``NumericalizeProcessor``) keeps tokens seen at least ``min_freq=3`` times and v1's factories
pass ``min_freq=2`` (:data:`FACTORY_SETTINGS`).

>>> TextSettings().min_freq, FACTORY_SETTINGS.min_freq, TextSettings().updated({"max_vocab": 100}, "doc").max_vocab
(3, 2, 100)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np

from .tokenizer import Tokenizer

__all__ = ["TextSettings", "FACTORY_SETTINGS"]


@dataclass(frozen=True)
class TextSettings:
    """The tokenizer, the vocabulary's size and cut-off, the markers and the token cache.

    Attributes:
        tokenizer: a :class:`Tokenizer`; None = spaCy English with fastai's rules.
        max_vocab, min_freq: the vocabulary keeps at most ``max_vocab`` tokens seen at least
            ``min_freq`` times in the training split.
        mark_fields, include_bos, include_eos: markers added before tokenizing (``xxfld k``
            before field ``k``, ``xxbos`` first, ``xxeos`` last).
        cache_dir: where tokenized corpora are cached; None = ``<EMBERFIT_HOME>/cache/tokens``
            for lists of 1000+ texts; False = never cache.
        chunksize: texts per chunk sent to a tokenizer process (None: automatic).
    """

    tokenizer: Tokenizer | None = None
    max_vocab: int = 60000
    min_freq: int = 3
    mark_fields: bool = False
    include_bos: bool = True
    include_eos: bool = False
    cache_dir: str | os.PathLike | bool | None = None
    chunksize: int | None = None

    def __post_init__(self):
        if self.tokenizer is not None and not isinstance(self.tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a Tokenizer, got {type(self.tokenizer).__name__}")
        for name, low in (("max_vocab", 1), ("min_freq", 0)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
            object.__setattr__(self, name, int(v))  # numpy integers become plain ints (JSON state)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The settings' keyword names."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def pick(cls, options: dict) -> dict:
        """Remove the settings from ``options`` (a dict of keyword arguments) and return them."""
        return {k: options.pop(k) for k in cls.names() if k in options}

    def updated(self, options: dict, where: str) -> TextSettings:
        """These settings with ``options`` replaced; a name that is not a setting is refused."""
        unknown = sorted(set(options) - set(self.names()))
        if unknown:
            raise TypeError(f"{where} does not take {unknown}; the text settings are {list(self.names())}")
        return dataclasses.replace(self, **options) if options else self

    def as_kwargs(self) -> dict:
        """The settings as keyword arguments (the tokenizer object is shared, not copied)."""
        return {name: getattr(self, name) for name in self.names()}


# fastai v1's TextDataBunch.from_df / from_csv / from_folder pass min_freq=2 to the processor,
# while its data-block path keeps NumericalizeProcessor's own default, 3: both are kept.
FACTORY_SETTINGS = TextSettings(min_freq=2)

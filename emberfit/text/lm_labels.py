"""The labels of a language model: nothing stored, the targets are the next tokens (made by the loader).

>>> out, targ = torch.zeros(2, 3, 5), torch.zeros(2, 3, dtype=torch.long)
>>> round(float(lm_cross_entropy(out, targ)), 4)  # uniform over 5 tokens: log(5)
1.6094
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ..core.data_block.labels import EmptyLabelList
from ..core.registry import register

__all__ = ["LMLabelList", "lm_cross_entropy"]


def lm_cross_entropy(out, targ: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over every token of a ``(bs, seq_len, vocab)`` output (the first element if a tuple)."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), targ.reshape(-1))


lm_cross_entropy.__name__ = "CrossEntropyFlat"


@register("items", "text.LMLabelList")
class LMLabelList(EmptyLabelList):
    """The 'labels' of a language model: the next tokens, made by the loader (nothing stored).

    >>> y = LMLabelList.for_items(range(3), "."); len(y), y.c, y.loss_func.__name__
    (3, None, 'CrossEntropyFlat')
    """

    name = "target"

    @classmethod
    def for_items(cls, x, path) -> LMLabelList:
        """The labels of the language-model items ``x`` (one placeholder each)."""
        return cls(np.zeros(len(x), dtype=np.int8), path=path)

    @property
    def loss_func(self):
        return lm_cross_entropy

    @property
    def c(self) -> None:
        return None

    def activation(self, out: torch.Tensor) -> torch.Tensor:
        return torch.softmax(out, dim=-1)

    def to_state(self):
        return {}, {"n": len(self)}

    @classmethod
    def from_state(cls, tensors, meta, path, kwargs):
        return cls(np.zeros(meta["n"], dtype=np.int8), path=path, **kwargs)

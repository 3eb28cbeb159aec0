"""Building blocks shared by the applications: embeddings, the MLP head, a sigmoid range.

The MLP here is the one block that tabular and collaborative filtering both use
(``TabularModel`` and ``EmbeddingNN``); keeping it in ``core`` means it is written once.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .registry import register

__all__ = ["MLP", "SigmoidRange", "embedding", "emb_sz_rule", "trunc_normal_", "bn_drop_lin"]


def trunc_normal_(t: torch.Tensor, std: float = 0.01) -> torch.Tensor:
    """Fill ``t`` in place from a normal(0, std) truncated at two standard deviations.

    >>> trunc_normal_(torch.empty(3, 2)).abs().max() <= 0.02
    tensor(True)
    """
    with torch.no_grad():
        return nn.init.trunc_normal_(t, mean=0.0, std=std, a=-2 * std, b=2 * std)


def embedding(ni: int, nf: int, std: float = 0.01) -> nn.Embedding:
    """An ``nn.Embedding(ni, nf)`` initialised from a truncated normal with std 0.01.

    Small initial factors keep the first dot products near zero, so a sigmoid range
    output starts in its middle (the original library's choice).

    >>> embedding(10, 3).weight.shape
    torch.Size([10, 3])
    """
    emb = nn.Embedding(ni, nf)
    trunc_normal_(emb.weight, std)
    return emb


def emb_sz_rule(n_cat: int) -> int:
    """fast.ai's rule of thumb for an embedding width: ``min(600, round(1.6 * n_cat**0.56))``.

    ``n_cat`` counts every category including the ``#na#`` slot.

    >>> emb_sz_rule(10), emb_sz_rule(100_000)
    (6, 600)
    """
    return int(min(600, round(1.6 * n_cat**0.56)))


class SigmoidRange(nn.Module):
    """Squash any input into ``(low, high)`` with a scaled sigmoid.

    >>> SigmoidRange(0, 5.5)(torch.zeros(2))
    tensor([2.7500, 2.7500])
    """

    def __init__(self, low: float, high: float):
        super().__init__()
        if not high > low:
            raise ValueError(f"y_range must be (low, high) with high > low, got ({low}, {high})")
        self.low, self.high = float(low), float(high)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * (self.high - self.low) + self.low

    def extra_repr(self) -> str:
        return f"low={self.low}, high={self.high}"


def bn_drop_lin(
    n_in: int, n_out: int, bn: bool = True, p: float = 0.0, actn: nn.Module | None = None
) -> list[nn.Module]:
    """The layers ``[BatchNorm1d?, Dropout?, Linear, actn?]`` as a list.

    >>> [type(m).__name__ for m in bn_drop_lin(4, 2, p=0.1, actn=nn.ReLU())]
    ['BatchNorm1d', 'Dropout', 'Linear', 'ReLU']
    """
    layers: list[nn.Module] = []
    if bn:
        layers.append(nn.BatchNorm1d(n_in))
    if p != 0:
        layers.append(nn.Dropout(p))
    layers.append(nn.Linear(n_in, n_out))
    if actn is not None:
        layers.append(actn)
    return layers


@register("model", "core.MLP")
class MLP(nn.Sequential):
    """The fully connected stack of fast.ai's tabular model.

    For sizes ``[n_in, *layers, n_out]`` it is ``Linear -> ReLU``, then for each further
    layer ``BatchNorm -> Dropout -> Linear -> ReLU``, and the last ``Linear`` has no
    activation. BatchNorm is skipped on the first layer because its input (embeddings
    plus BatchNorm'ed continuous columns) is already normalised. An optional final
    BatchNorm and ``y_range`` sigmoid follow.

    >>> m = MLP(10, [20, 5], 2, ps=[0.1, 0.1])
    >>> m(torch.randn(4, 10)).shape  # (bs, n_in) -> (bs, n_out)
    torch.Size([4, 2])
    """

    def __init__(
        self,
        n_in: int,
        layers: Sequence[int],
        n_out: int,
        ps: Sequence[float] | float | None = None,
        use_bn: bool = True,
        bn_final: bool = False,
        y_range: Sequence[float] | None = None,
    ):
        layers = list(layers)
        if ps is None:
            ps = [0.0] * len(layers)
        elif isinstance(ps, (int, float)):
            ps = [float(ps)] * len(layers)
        ps = list(ps)
        if len(ps) != len(layers):
            raise ValueError(
                f"ps must give one dropout per hidden layer: got {len(ps)} values for layers={layers}; "
                f"pass a list of {len(layers)} floats or a single float"
            )
        sizes = [n_in, *layers, n_out]
        drops = [0.0, *ps]
        mods: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            last = i == len(sizes) - 2
            mods += bn_drop_lin(
                sizes[i],
                sizes[i + 1],
                bn=use_bn and i != 0,
                p=drops[i],
                actn=None if last else nn.ReLU(inplace=True),
            )
        if bn_final:
            mods.append(nn.BatchNorm1d(sizes[-1]))
        if y_range is not None:
            mods.append(SigmoidRange(*y_range))
        super().__init__(*mods)

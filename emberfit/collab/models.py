"""The two collaborative-filtering models: a biased dot product and embeddings + MLP.

Both take a batch of ``(user, item)`` index pairs, ``x`` of shape ``(bs, 2)``, and return one
predicted rating per row, shape ``(bs,)``. Index 0 is ``#na#``, the slot of ids the training
split never saw. Its embedding row is never trained, so in eval mode such rows get an explicit
*cold-start baseline* instead: the global mean rating plus the known side's baseline bias
(or the global mean alone when both are unknown), clipped to ``y_range``. The baseline lives in
buffers (``global_mean``, ``user_base``, ``item_base``) filled by ``collab_learner`` from the
training ratings, so it is saved and exported with the weights. Until it is filled
(``global_mean`` is NaN), cold rows use the ``#na#`` rows as the original library did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..core.layers import MLP, SigmoidRange, embedding
from ..core.registry import register

__all__ = ["EmbeddingDotBias", "EmbeddingNN", "DotBiasConfig", "EmbeddingNNConfig", "factor_embedding"]


@dataclass(frozen=True)
class DotBiasConfig:
    """Everything needed to rebuild an :class:`EmbeddingDotBias` (stored by ``learn.export``).

    >>> m = EmbeddingDotBias(n_factors=4, n_users=3, n_items=5, y_range=(0, 5.5))
    >>> m.config
    DotBiasConfig(n_factors=4, n_users=3, n_items=5, y_range=(0, 5.5))
    >>> EmbeddingDotBias.from_config(m.config).u_weight  # the same model, fresh weights
    Embedding(3, 4)
    >>> EmbeddingDotBias.from_config(DotBiasConfig(n_factors=8, n_users=10, n_items=20)).i_weight
    Embedding(20, 8)
    """

    n_factors: int
    n_users: int
    n_items: int
    y_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class EmbeddingNNConfig:
    """Everything needed to rebuild an :class:`EmbeddingNN` (stored by ``learn.export``).

    >>> m = EmbeddingNN(emb_szs=((3, 4), (5, 6)), layers=[8], y_range=(0, 5.5))
    >>> m.config
    EmbeddingNNConfig(emb_szs=((3, 4), (5, 6)), layers=(8,), ps=None, emb_drop=0.0, y_range=(0, 5.5),
                      use_bn=True, bn_final=False)
    >>> EmbeddingNN.from_config(m.config).embeds  # the same model, fresh weights
    ModuleList(
      (0): Embedding(3, 4)
      (1): Embedding(5, 6)
    )
    """

    emb_szs: tuple[tuple[int, int], tuple[int, int]]  # ((n_users, user_width), (n_items, item_width))
    layers: tuple[int, ...] = (100, 50)
    ps: tuple[float, ...] | None = None
    emb_drop: float = 0.0
    y_range: tuple[float, float] | None = None
    use_bn: bool = True
    bn_final: bool = False


class _ColdStartBaseline(nn.Module):
    """Buffers and the eval-time fill-in shared by both models (see the module docstring)."""

    def _init_baseline(self, n_users: int, n_items: int, y_range) -> None:
        self.register_buffer("global_mean", torch.tensor(float("nan")))  # NaN = not set yet
        self.register_buffer("user_base", torch.zeros(n_users))
        self.register_buffer("item_base", torch.zeros(n_items))
        self._y_range = tuple(y_range) if y_range is not None else None

    def set_baseline(self, global_mean: float, user_base: torch.Tensor, item_base: torch.Tensor) -> None:
        """Set the cold-start baseline: a global mean and one bias per user / item (row 0 = ``#na#``, 0)."""
        with torch.no_grad():
            self.global_mean.fill_(float(global_mean))
            self.user_base.copy_(user_base)
            self.item_base.copy_(item_base)
            self.user_base[0] = self.item_base[0] = 0.0

    def baseline(self, x: torch.Tensor) -> torch.Tensor:
        """The baseline prediction of each ``(user, item)`` row of ``x``: ``(bs, 2) -> (bs,)``."""
        base = self.global_mean + self.user_base[x[:, 0]] + self.item_base[x[:, 1]]
        return base.clamp(*self._y_range) if self._y_range is not None else base

    def _fill_cold(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        # training rows are all known, so only eval pays for this
        if self.training or bool(torch.isnan(self.global_mean)):
            return out
        cold = (x == 0).any(dim=1)  # (bs,)
        return torch.where(cold, self.baseline(x).to(out.dtype), out)


def _pairs(users: torch.Tensor, items: torch.Tensor | None) -> torch.Tensor:
    """Accept ``model(x)`` with ``x`` (bs, 2) as well as ``model(users, items)``."""
    return users if items is None else torch.stack([users, items], dim=1)


@register("model", "collab.EmbeddingDotBias")
class EmbeddingDotBias(_ColdStartBaseline):
    """``rating = sigmoid_range(u . i + b_u + b_i)``: the lesson's model.

    >>> m = EmbeddingDotBias(n_factors=4, n_users=3, n_items=5, y_range=(0, 5.5))
    >>> m(torch.tensor([[1, 2], [2, 4]])).shape  # (bs, 2) -> (bs,)
    torch.Size([2])
    """

    def __init__(self, n_factors: int, n_users: int, n_items: int, y_range: Sequence[float] | None = None):
        super().__init__()
        self.config = DotBiasConfig(
            n_factors, n_users, n_items, tuple(y_range) if y_range is not None else None
        )
        self.u_weight = embedding(n_users, n_factors)  # (n_users, n_factors)
        self.i_weight = embedding(n_items, n_factors)  # (n_items, n_factors)
        self.u_bias = embedding(n_users, 1)  # (n_users, 1)
        self.i_bias = embedding(n_items, 1)  # (n_items, 1)
        self.y_range = SigmoidRange(*y_range) if y_range is not None else None
        self._init_baseline(n_users, n_items, y_range)

    @classmethod
    def from_config(cls, config: DotBiasConfig) -> EmbeddingDotBias:
        return cls(**asdict(config))

    def forward(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        x = _pairs(users, items)  # (bs, 2)
        u, i = x[:, 0], x[:, 1]  # (bs,) each
        dot = (self.u_weight(u) * self.i_weight(i)).sum(1)  # (bs, n_factors) -> (bs,)
        res = dot + self.u_bias(u).squeeze(1) + self.i_bias(i).squeeze(1)  # (bs,)
        if self.y_range is not None:
            res = self.y_range(res)
        return self._fill_cold(x, res)


@register("model", "collab.EmbeddingNN")
class EmbeddingNN(_ColdStartBaseline):
    """User and item embeddings, concatenated, through the shared :class:`~emberfit.core.layers.MLP`.

    >>> m = EmbeddingNN(((3, 4), (5, 6)), layers=[8], y_range=(0, 5.5))
    >>> m(torch.tensor([[1, 2], [2, 4]])).shape  # (bs, 2) -> (bs,)
    torch.Size([2])
    """

    def __init__(
        self,
        emb_szs: Sequence[Sequence[int]],
        layers: Sequence[int] = (100, 50),
        ps: Sequence[float] | float | None = None,
        emb_drop: float = 0.0,
        y_range: Sequence[float] | None = None,
        use_bn: bool = True,
        bn_final: bool = False,
    ):
        super().__init__()
        emb_szs = tuple(tuple(int(v) for v in e) for e in emb_szs)
        if len(emb_szs) != 2 or any(len(e) != 2 for e in emb_szs):
            raise ValueError(f"emb_szs must be ((n_users, width), (n_items, width)), got {emb_szs!r}")
        ps_t = tuple(ps) if isinstance(ps, (list, tuple)) else ps
        self.config = EmbeddingNNConfig(
            emb_szs,
            tuple(layers),
            ps_t,
            float(emb_drop),
            tuple(y_range) if y_range else None,
            use_bn,
            bn_final,
        )
        self.embeds = nn.ModuleList([embedding(n, w) for n, w in emb_szs])
        self.emb_drop = nn.Dropout(emb_drop)
        n_emb = sum(w for _, w in emb_szs)
        self.layers = MLP(n_emb, list(layers), 1, ps=ps, use_bn=use_bn, bn_final=bn_final, y_range=y_range)
        self._init_baseline(emb_szs[0][0], emb_szs[1][0], y_range)

    @classmethod
    def from_config(cls, config: EmbeddingNNConfig) -> EmbeddingNN:
        return cls(**asdict(config))

    def forward(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        x = _pairs(users, items)  # (bs, 2)
        emb = torch.cat([e(x[:, k]) for k, e in enumerate(self.embeds)], dim=1)  # (bs, user_w + item_w)
        out = self.layers(self.emb_drop(emb)).squeeze(1)  # (bs, 1) -> (bs,)
        return self._fill_cold(x, out)


def factor_embedding(model: EmbeddingDotBias | EmbeddingNN, is_item: bool) -> nn.Embedding:
    """The item (``is_item``) or user factor embedding of either model."""
    if isinstance(model, EmbeddingNN):
        return model.embeds[int(is_item)]
    return model.i_weight if is_item else model.u_weight

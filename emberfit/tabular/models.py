"""The tabular model: one embedding per categorical column, BatchNorm on the continuous ones, an MLP.

This is fast.ai's ``TabularModel`` (Guo & Berkhahn, "Entity Embeddings of Categorical
Variables", 2016, arXiv:1604.06737): the embeddings (after ``emb_drop``) and the
BatchNorm'ed continuous columns are concatenated and fed to :class:`emberfit.core.layers.MLP`,
the block shared with collaborative filtering's ``EmbeddingNN``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..core.layers import MLP, embedding
from ..core.registry import register

__all__ = ["TabularConfig", "TabularModel"]


@dataclass(frozen=True)
class TabularConfig:
    """Everything that defines a :class:`TabularModel`; JSON-able, so ``learn.export()`` can rebuild it.

    ``emb_szs`` holds one ``(n_categories, width)`` pair per categorical column (``n_categories``
    counts the ``#na#`` slot). ``ps`` is one dropout per hidden layer (or one float for all).

    >>> m = TabularModel(emb_szs=[(5, 3)], n_cont=2, out_sz=2, layers=[8])
    >>> m.config
    TabularConfig(emb_szs=((5, 3),), n_cont=2, out_sz=2, layers=(8,), ps=None, emb_drop=0.0, y_range=None,
                  use_bn=True, bn_final=False)
    >>> m.config.to_json()["emb_szs"]  # plain lists: what learn.export() writes
    [[5, 3]]
    >>> TabularModel.from_config(m.config).config == m.config  # the same model, fresh weights
    True
    >>> TabularConfig(emb_szs=(), n_cont=0, out_sz=1)
    Traceback (most recent call last):
    ...
    ValueError: the model has no inputs: give at least one categorical or continuous column
    """

    emb_szs: tuple[tuple[int, int], ...]
    n_cont: int
    out_sz: int
    layers: tuple[int, ...] = (200, 100)
    ps: tuple[float, ...] | float | None = None
    emb_drop: float = 0.0
    y_range: tuple[float, float] | None = None
    use_bn: bool = True
    bn_final: bool = False

    def __post_init__(self):
        if self.out_sz < 1:
            raise ValueError(f"out_sz must be at least 1, got {self.out_sz}")
        if self.n_cont < 0:
            raise ValueError(f"n_cont must be >= 0, got {self.n_cont}")
        if not self.emb_szs and self.n_cont == 0:
            raise ValueError("the model has no inputs: give at least one categorical or continuous column")
        for ni, nf in self.emb_szs:
            if ni < 1 or nf < 1:
                raise ValueError(f"emb_szs entries must be (n_categories >= 1, width >= 1), got {(ni, nf)}")
        if not 0 <= self.emb_drop < 1:
            raise ValueError(f"emb_drop must be in [0, 1), got {self.emb_drop}")
        if self.y_range is not None and len(self.y_range) != 2:
            raise ValueError(f"y_range must be (low, high), got {self.y_range!r}")

    def to_json(self) -> dict:
        """Plain lists and numbers (the ``kwargs`` of ``learn.model_init``)."""
        d = asdict(self)
        d["emb_szs"] = [list(p) for p in self.emb_szs]
        d["layers"] = list(self.layers)
        d["ps"] = list(self.ps) if isinstance(self.ps, (tuple, list)) else self.ps
        d["y_range"] = list(self.y_range) if self.y_range is not None else None
        return d


@register("model", "tabular.TabularModel")
class TabularModel(nn.Module):
    """Embeddings for ``x_cat`` + BatchNorm'ed ``x_cont`` -> MLP -> ``out_sz`` outputs.

    >>> m = TabularModel(emb_szs=[(5, 3), (4, 2)], n_cont=2, out_sz=2, layers=[8])
    >>> m(torch.tensor([[1, 0], [4, 3]]), torch.randn(2, 2)).shape  # (bs, n_cat), (bs, n_cont) -> (bs, out_sz)
    torch.Size([2, 2])
    """

    def __init__(
        self,
        emb_szs: Sequence[Sequence[int]],
        n_cont: int,
        out_sz: int,
        layers: Sequence[int] = (200, 100),
        ps: Sequence[float] | float | None = None,
        emb_drop: float = 0.0,
        y_range: Sequence[float] | None = None,
        use_bn: bool = True,
        bn_final: bool = False,
    ):
        super().__init__()
        self.config = TabularConfig(
            emb_szs=tuple((int(ni), int(nf)) for ni, nf in emb_szs),
            n_cont=int(n_cont),
            out_sz=int(out_sz),
            layers=tuple(int(n) for n in layers),
            ps=tuple(float(p) for p in ps) if isinstance(ps, (list, tuple)) else ps,
            emb_drop=float(emb_drop),
            y_range=tuple(float(v) for v in y_range) if y_range is not None else None,
            use_bn=bool(use_bn),
            bn_final=bool(bn_final),
        )
        cfg = self.config
        self.embeds = nn.ModuleList([embedding(ni, nf) for ni, nf in cfg.emb_szs])
        self.emb_drop = nn.Dropout(cfg.emb_drop)
        self.bn_cont = nn.BatchNorm1d(cfg.n_cont) if cfg.n_cont else None
        self.n_emb = sum(nf for _, nf in cfg.emb_szs)
        self.layers = MLP(
            self.n_emb + cfg.n_cont,
            cfg.layers,
            cfg.out_sz,
            ps=cfg.ps,
            use_bn=cfg.use_bn,
            bn_final=cfg.bn_final,
            y_range=cfg.y_range,
        )

    @classmethod
    def from_config(cls, config: TabularConfig) -> TabularModel:
        """Build the model a :class:`TabularConfig` describes."""
        return cls(**config.to_json())

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.embeds:
            # F.embedding directly: the same lookup without nn.Module call overhead, once per column
            emb = [
                F.embedding(x_cat[:, i], e.weight) for i, e in enumerate(self.embeds)
            ]  # n_cat x (bs, nf_i)
            parts.append(self.emb_drop(torch.cat(emb, dim=1)))  # (bs, n_emb)
        if self.bn_cont is not None:
            parts.append(self.bn_cont(x_cont))  # (bs, n_cont)
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]  # (bs, n_emb + n_cont)
        return self.layers(x)  # (bs, out_sz)

"""``TabularNet``: numerical embeddings and an ensemble of ``k`` MLPs in one model, trained in one pass.

The categorical columns share one embedding table (each column's codes are offset into it,
so all of them are looked up at once). The continuous columns go through a numerical
embedding (:mod:`emberfit.tabular.num_embeddings`: ``'ple'`` or ``'periodic'``) or, with
``cont_emb=None``, enter as they are. The concatenated row then feeds ``n_members`` MLPs
that share their hidden layers' weights and differ by a per-member multiplicative adapter
on their input (initialised to random signs) and by their own output head. This is the
"mini" parameter-efficient ensemble of Gorishniy et al., "TabM: Advancing Tabular Deep
Learning with Parameter-Efficient Ensembling" (ICLR 2025), itself a simplification of
BatchEnsemble (Wen et al., 2020): every batch runs through all members as one
``(bs, k, width)`` tensor, so the members train together at the cost of ``k`` times the
hidden-layer work.

In training mode the model returns every member's output, ``(bs, k, out)``, and
:class:`MembersLoss` averages the members' losses (each member learns on its own). In
evaluation mode it returns the ensemble's prediction, ``(bs, out)``: the log of the mean
class probabilities (so softmax and cross-entropy read it as the average of the members'),
the logit of the mean probability for multi-label data, or the mean for regression.

>>> m = TabularNet(cat_sizes=[4, 3], n_cont=2, out_sz=2, layers=[16], cont_emb="periodic", n_members=4)
>>> x_cat, x_cont = torch.tensor([[1, 2], [3, 0]]), torch.randn(2, 2)
>>> m(x_cat, x_cont).shape, m.eval()(x_cat, x_cont).shape  # training: every member; eval: the ensemble
(torch.Size([2, 4, 2]), torch.Size([2, 2]))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..core.layers import SigmoidRange
from ..core.registry import register
from .num_embeddings import PeriodicEmbedding, PiecewiseLinearEmbedding, ValueCodes

__all__ = ["TabularNetConfig", "TabularNet", "MembersLoss", "CONT_EMBS", "COMBINES"]

CONT_EMBS = ("ple", "periodic", None)
COMBINES = ("softmax", "sigmoid", "mean")


@dataclass(frozen=True)
class TabularNetConfig:
    """Everything that defines a :class:`TabularNet`; JSON-able, so ``learn.export()`` can rebuild it.

    ``bins`` (for ``cont_emb='ple'``) holds the PLE edges of each continuous column, fitted on
    the training rows. ``values`` (one list per continuous column, empty for most) holds the
    exact values that get their own code and embedding (:class:`~emberfit.tabular.num_embeddings.ValueCodes`).
    A regression output is ``y_mean + y_std * out`` (the training targets'
    mean and std, so the network learns standardised targets). ``combine`` says how members are averaged at evaluation (``'softmax'``
    for classification, ``'sigmoid'`` for multi-label, ``'mean'`` for regression).

    >>> TabularNetConfig(cat_sizes=(5,), n_cont=1, out_sz=2, cont_emb="periodic").to_json()["layers"]
    [256, 256]
    """

    cat_sizes: tuple[int, ...]
    n_cont: int
    out_sz: int
    layers: tuple[int, ...] = (256, 256)
    ps: float = 0.1
    d_cat: int = 16
    cont_emb: str | None = None
    d_cont: int = 16
    bins: tuple[tuple[float, ...], ...] | None = None
    values: tuple[tuple[float, ...], ...] | None = None
    n_freq: int = 48
    sigma: float = 0.1
    n_members: int = 1
    combine: str = "softmax"
    y_range: tuple[float, float] | None = None
    y_mean: float = 0.0
    y_std: float = 1.0

    def __post_init__(self):
        if self.out_sz < 1 or self.n_cont < 0 or any(n < 1 for n in self.cat_sizes):
            raise ValueError(
                f"out_sz must be >= 1, n_cont >= 0 and cat_sizes >= 1, got {self.out_sz}, {self.n_cont}, "
                f"{list(self.cat_sizes)}"
            )
        if not self.cat_sizes and self.n_cont == 0:
            raise ValueError("the model has no inputs: give at least one categorical or continuous column")
        if not self.layers or any(n < 1 for n in self.layers):
            raise ValueError(
                f"layers must be one or more positive widths such as [256, 256], got {self.layers}"
            )
        if not 0 <= self.ps < 1:
            raise ValueError(f"ps (the dropout after each hidden layer) must be in [0, 1), got {self.ps!r}")
        if self.cont_emb not in CONT_EMBS:
            raise ValueError(f"cont_emb must be one of {CONT_EMBS}, got {self.cont_emb!r}")
        if self.cont_emb == "ple" and self.n_cont and (self.bins is None or len(self.bins) != self.n_cont):
            got = None if self.bins is None else len(self.bins)
            raise ValueError(
                f"cont_emb='ple' needs bin edges for each of the {self.n_cont} columns, got {got}"
            )
        if self.values is not None and len(self.values) != self.n_cont:
            raise ValueError(
                f"values needs one list (possibly empty) per continuous column: {self.n_cont}, got {len(self.values)}"
            )
        if self.n_members < 1 or self.d_cat < 1 or self.d_cont < 1:
            raise ValueError(
                f"n_members, d_cat and d_cont must be >= 1, got {self.n_members}, {self.d_cat}, {self.d_cont}"
            )
        if not self.y_std > 0:
            raise ValueError(f"y_std (the regression targets' scale) must be > 0, got {self.y_std!r}")
        if self.combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {self.combine!r}")

    def to_json(self) -> dict:
        """Plain lists and numbers (the ``kwargs`` of ``learn.model_init``)."""
        d = asdict(self)
        d["cat_sizes"], d["layers"] = list(self.cat_sizes), list(self.layers)
        d["bins"] = [list(b) for b in self.bins] if self.bins is not None else None
        d["values"] = [list(v) for v in self.values] if self.values is not None else None
        d["y_range"] = list(self.y_range) if self.y_range is not None else None
        return d


@register("model", "tabular.TabularNet")
class TabularNet(nn.Module):
    """One embedding table for ``x_cat``, a numerical embedding for ``x_cont``, ``n_members`` MLPs.

    See the module docstring for the design. Keyword arguments are the fields of
    :class:`TabularNetConfig`.

    >>> m = TabularNet(cat_sizes=[5, 3], n_cont=1, out_sz=2, layers=[8], cont_emb="ple", bins=[[0.0, 1.0, 2.0]])
    >>> m(torch.tensor([[4, 2]]), torch.tensor([[1.5]])).shape, m.embed.weight.shape  # one table: 5 + 3 rows
    (torch.Size([1, 2]), torch.Size([8, 16]))
    """

    def __init__(self, cat_sizes: Sequence[int], n_cont: int, out_sz: int, **kwargs):
        super().__init__()
        for key in ("layers", "cat_sizes"):
            if key in kwargs:
                kwargs[key] = tuple(int(n) for n in kwargs[key])
        for key in ("bins", "values"):
            if kwargs.get(key) is not None:
                kwargs[key] = tuple(tuple(float(e) for e in b) for b in kwargs[key])
        if kwargs.get("y_range") is not None:
            kwargs["y_range"] = tuple(float(v) for v in kwargs["y_range"])
        cfg = TabularNetConfig(tuple(int(n) for n in cat_sizes), int(n_cont), int(out_sz), **kwargs)
        self.config = cfg
        has_values = cfg.n_cont and cfg.values is not None and any(cfg.values)
        self.value_codes = ValueCodes(cfg.values) if has_values else None
        codes = [*cfg.cat_sizes, *(self.value_codes.sizes if self.value_codes is not None else [])]
        offsets = torch.tensor([0, *codes[:-1]], dtype=torch.long).cumsum(0)
        self.register_buffer("offsets", offsets[: len(codes)], persistent=False)
        self.embed = nn.Embedding(max(sum(codes), 1), cfg.d_cat) if codes else None
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, std=1 / math.sqrt(cfg.d_cat))
        self.cont_embed = _cont_embedding(cfg)
        cont_width = cfg.n_cont * (cfg.d_cont if cfg.cont_emb else 1)
        n_in = len(codes) * cfg.d_cat + cont_width
        k = cfg.n_members
        # each member sees the row times its own +-1 pattern (TabM-mini's adapter), then shared layers
        self.adapter = nn.Parameter(torch.randint(0, 2, (k, n_in)).float() * 2 - 1) if k > 1 else None
        sizes = [n_in, *cfg.layers]
        self.body = nn.Sequential(
            *[m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU(), nn.Dropout(cfg.ps))]
        )
        bound = 1 / math.sqrt(sizes[-1])
        self.head_weight = nn.Parameter(torch.empty(k, sizes[-1], cfg.out_sz).uniform_(-bound, bound))
        self.head_bias = nn.Parameter(torch.empty(k, cfg.out_sz).uniform_(-bound, bound))
        self.y_range = SigmoidRange(*cfg.y_range) if cfg.y_range is not None else None

    @classmethod
    def from_config(cls, config: TabularNetConfig) -> TabularNet:
        """Build the model a :class:`TabularNetConfig` describes."""
        return cls(**config.to_json())

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.value_codes is not None:  # the codes of exact values join the categorical codes
            x_cat = torch.cat([x_cat, self.value_codes(x_cont)], dim=1)  # (bs, n_cat + n_valued)
        if self.embed is not None:
            parts.append(self.embed(x_cat + self.offsets).flatten(1))  # one lookup: (bs, n_codes * d_cat)
        if self.config.n_cont:
            emb = self.cont_embed
            parts.append(emb(x_cont).flatten(1) if emb is not None else x_cont)  # (bs, n_cont * d_cont)
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]  # (bs, n_in)
        if self.adapter is not None:
            x = x.unsqueeze(1) * self.adapter  # (bs, k, n_in)
            out = torch.einsum("bkw,kwo->bko", self.body(x), self.head_weight) + self.head_bias
        else:
            out = self.body(x) @ self.head_weight[0] + self.head_bias[0]  # (bs, out)
        if self.config.y_std != 1.0 or self.config.y_mean != 0.0:
            out = out * self.config.y_std + self.config.y_mean
        if self.y_range is not None:
            out = self.y_range(out)
        if self.adapter is None or self.training:
            return out  # (bs, out), or (bs, k, out) while training an ensemble
        return _combine(out, self.config.combine)


def _cont_embedding(cfg: TabularNetConfig) -> nn.Module | None:
    if not cfg.n_cont or cfg.cont_emb is None:
        return None
    if cfg.cont_emb == "ple":
        return PiecewiseLinearEmbedding(cfg.bins, cfg.d_cont)
    return PeriodicEmbedding(cfg.n_cont, cfg.n_freq, cfg.d_cont, cfg.sigma)


def _combine(out: torch.Tensor, how: str) -> torch.Tensor:
    """The members' outputs ``(bs, k, out)`` as one ensemble output ``(bs, out)``."""
    if how == "softmax":  # log of the mean probability: softmax(result) is that mean
        return torch.logsumexp(torch.log_softmax(out, dim=-1), dim=1) - math.log(out.shape[1])
    if how == "sigmoid":
        p = torch.sigmoid(out).mean(1).clamp(1e-7, 1 - 1e-7)
        return torch.log(p) - torch.log1p(-p)
    return out.mean(1)


class MembersLoss:
    """``loss_func`` averaged over an ensemble's members: ``(bs, k, out)`` predictions against ``(bs, ...)`` targets.

    A prediction without the member axis (evaluation mode) goes to ``loss_func`` unchanged.

    >>> loss = MembersLoss(torch.nn.functional.cross_entropy)
    >>> pred, y = torch.zeros(4, 3, 2), torch.tensor([0, 1, 1, 0])
    >>> round(float(loss(pred, y)), 4), round(float(loss(pred[:, 0], y)), 4)
    (0.6931, 0.6931)
    """

    def __init__(self, loss_func: Callable):
        if not callable(loss_func):
            raise TypeError(f"loss_func must be callable, got {type(loss_func).__name__}")
        self.loss_func = loss_func

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, **kwargs) -> torch.Tensor:
        if pred.dim() != 3:
            return self.loss_func(pred, target, **kwargs)
        k = pred.shape[1]
        return self.loss_func(pred.flatten(0, 1), target.repeat_interleave(k, dim=0), **kwargs)

    def __repr__(self) -> str:
        return f"MembersLoss({getattr(self.loss_func, '__name__', self.loss_func)!r})"

"""Embeddings for numerical features: piecewise-linear encoding (PLE) and periodic embeddings.

Both follow Gorishniy, Rubachev & Babenko, "On Embeddings for Numerical Features in Tabular
Deep Learning" (NeurIPS 2022). Each continuous column becomes a ``d``-wide vector instead of
one number, so the MLP after them can draw sharp, non-linear thresholds (``capital-gain > 7000``)
that a plain MLP on the raw value finds hard.

* PLE: a value ``x`` in bin ``t`` (edges ``b_0 < ... < b_T``) is encoded as
  ``[1, ..., 1, (x - b_t) / (b_{t+1} - b_t), 0, ..., 0]``, then a per-column linear layer and a
  ReLU. The edges are fitted on the training rows (:func:`quantile_bins`; the
  :class:`~emberfit.tabular.processor.TabularProcessor` does it and keeps them as JSON). Values
  beyond the training range are clipped to the first or last bin; NaN never gets here
  (FillMissing fills it and adds a ``<col>_na`` flag).
* Periodic: ``[cos(2 pi f x), sin(2 pi f x)]`` for ``n_freq`` learned frequencies ``f`` per
  column (initialised from N(0, sigma)), then a per-column linear layer and a ReLU.
* Value codes (:func:`fit_cont_values`, :class:`ValueCodes`): a column where one value holds at
  least half the rows (``capital-gain`` is 0 for 92% of people) is a spike plus a few exact
  amounts, and an exact amount can matter on its own (a gain of 7,298 means a salary over 50k far
  more often than its neighbours in value do). Such a column keeps its numeric embedding and *also*
  gets a code per frequent training value, looked up like a categorical column; any other value
  (rare, or never seen in training) gets code 0.

>>> bins = [quantile_bins(np.arange(100.0), n_bins=4)]
>>> bins
[[0.0, 24.75, 49.5, 74.25, 99.0]]
>>> PiecewiseLinearEmbedding(bins, d=3)(torch.tensor([[-5.0], [50.0], [500.0]])).shape
torch.Size([3, 1, 3])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "quantile_bins",
    "fit_cont_bins",
    "ple_encode",
    "PiecewiseLinearEmbedding",
    "PeriodicEmbedding",
    "MAX_FIT_ROWS",
    "fit_cont_values",
    "ValueCodes",
    "SPIKE_SHARE",
    "MAX_VALUES",
]

MAX_FIT_ROWS = 200_000  # bins from more rows than this use an evenly strided subset of them
SPIKE_SHARE = 0.5  # a column whose most common value holds this share of the rows gets value codes
MAX_VALUES = 256  # value codes for at most this many of a column's most frequent values


def quantile_bins(values: np.ndarray, n_bins: int = 48) -> list[float]:
    """PLE bin edges for one column from its training values: ``n_bins + 1`` quantiles, deduplicated.

    A value that holds a large share of the rows (``capital-gain`` is 0 in 92% of them) makes
    most quantiles equal, so a column left with fewer than ``n_bins`` bins gets half its edges
    from the quantiles of its distinct values instead (a column with at most ``n_bins + 1``
    distinct values gets one edge per value). Edges are distinct as float32, the model's dtype.

    >>> quantile_bins(np.array([0.0] * 90 + [5.0, 7.0, 9.0] * 3 + [100.0]), n_bins=8)
    [0.0, 5.0, 7.0, 9.0, 100.0]
    """
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int such as 48, got {n_bins!r}")
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("quantile_bins got no finite values; fill NaN first (FillMissing)")
    levels = np.linspace(0.0, 1.0, n_bins + 1)
    edges = np.unique(np.quantile(v, levels).astype(np.float32))
    if len(edges) - 1 < n_bins:
        distinct = np.unique(v.astype(np.float32))
        if len(distinct) <= n_bins + 1:
            edges = distinct
        else:
            half = np.linspace(0.0, 1.0, n_bins // 2 + 1)
            both = np.concatenate([np.quantile(v, half), np.quantile(distinct.astype(np.float64), half)])
            edges = np.unique(both.astype(np.float32))
    if len(edges) < 2:  # a constant column: one bin above its value
        edges = np.array([edges[0], edges[0] + 1.0], dtype=np.float32)
    return [float(e) for e in edges]


def fit_cont_bins(names: Sequence[str], conts: np.ndarray, n_bins: int = 48) -> dict[str, list[float]]:
    """:func:`quantile_bins` for every column of the training array ``conts`` (rows x columns).

    More than :data:`MAX_FIT_ROWS` rows are thinned to an evenly strided subset first, which
    keeps preprocessing fast on millions of rows and moves the quantiles very little.

    >>> fit_cont_bins(["a"], np.arange(10.0).reshape(-1, 1), n_bins=2)
    {'a': [0.0, 4.5, 9.0]}
    """
    conts = _thinned(names, conts)
    return {name: quantile_bins(conts[:, j], n_bins) for j, name in enumerate(names)}


def _thinned(names: Sequence[str], conts: np.ndarray) -> np.ndarray:
    conts = np.asarray(conts)
    if conts.ndim != 2 or conts.shape[1] != len(names):
        raise ValueError(f"conts must be (rows, {len(names)}) for the names {list(names)}, got {conts.shape}")
    return conts[:: -(-len(conts) // MAX_FIT_ROWS)] if len(conts) > MAX_FIT_ROWS else conts


def fit_cont_values(
    names: Sequence[str], conts: np.ndarray, spike_share: float = SPIKE_SHARE, max_values: int = MAX_VALUES
) -> dict[str, list[float]]:
    """The columns of ``conts`` (training rows x columns) that get value codes, with their kept values.

    A column qualifies when its most common value holds at least ``spike_share`` of the rows; it
    keeps its ``max_values`` most frequent distinct values (float32, as the model sees them), sorted.

    >>> x = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0], [5.0, 4.0], [7.0, 5.0]])
    >>> fit_cont_values(["gain", "age"], x)  # 'gain' is 0 in 3 of 5 rows; 'age' has no spike
    {'gain': [0.0, 5.0, 7.0]}
    """
    if not 0 < spike_share <= 1 or not isinstance(max_values, int) or max_values < 1:
        raise ValueError(
            f"spike_share must be in (0, 1] and max_values a positive int, got {spike_share!r}, {max_values!r}"
        )
    conts, out = _thinned(names, conts), {}
    for j, name in enumerate(names):
        v = conts[:, j].astype(np.float32)
        vals, counts = np.unique(v[np.isfinite(v)], return_counts=True)
        if len(vals) > 1 and counts.max() >= spike_share * counts.sum():
            keep = np.sort(vals[np.argsort(-counts, kind="stable")[:max_values]])
            out[name] = [float(x) for x in keep]
    return out


def ple_encode(x: torch.Tensor, lo: torch.Tensor, inv_width: torch.Tensor) -> torch.Tensor:
    """The piecewise-linear encoding of ``x`` (bs, n) with bin lower edges ``lo`` and ``1 / width`` (n, T).

    Each entry is clipped to [0, 1], so values below the first edge encode as all zeros and
    values above the last one as all ones. Padded bins (``inv_width`` 0) are always 0.

    >>> ple_encode(torch.tensor([[1.5]]), torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[1.0, 1.0, 1.0]]))
    tensor([[[1.0000, 0.5000, 0.0000]]])
    """
    return ((x.unsqueeze(-1) - lo) * inv_width).clamp(0.0, 1.0)  # (bs, n, T)


class _PerColumnLinear(nn.Module):
    """``n`` independent ``Linear(k, d)`` layers, one per column, applied with one einsum."""

    def __init__(self, n: int, k: int, d: int):
        super().__init__()
        bound = 1 / math.sqrt(k)
        self.weight = nn.Parameter(torch.empty(n, k, d).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, d).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bnk,nkd->bnd", x, self.weight) + self.bias  # (bs, n, k) -> (bs, n, d)


class PiecewiseLinearEmbedding(nn.Module):
    """PLE with the given bin edges (one list per column), then a per-column ``Linear(T, d)`` and a ReLU.

    The edges are constructor arguments (fitted on the training rows, JSON in the model's
    config), kept as non-persistent buffers.

    >>> emb = PiecewiseLinearEmbedding([[0.0, 1.0, 2.0], [0.0, 10.0]], d=4)
    >>> emb(torch.tensor([[0.5, 3.0], [9.0, -1.0]])).shape  # (bs, n_cont) -> (bs, n_cont, d)
    torch.Size([2, 2, 4])
    """

    def __init__(self, bins: Sequence[Sequence[float]], d: int = 16):
        super().__init__()
        if not bins:
            raise ValueError("PiecewiseLinearEmbedding needs bin edges for at least one column")
        bad = [j for j, e in enumerate(bins) if len(e) < 2 or any(b <= a for a, b in zip(e, e[1:]))]
        if bad:
            raise ValueError(f"bins[{bad[0]}] must be at least 2 increasing edges, got {list(bins[bad[0]])}")
        n, t = len(bins), max(len(e) - 1 for e in bins)
        lo, inv = torch.zeros(n, t), torch.zeros(n, t)  # padded bins keep inv 0: always encoded as 0
        for j, e in enumerate(bins):
            e = torch.tensor(e, dtype=torch.float64)
            lo[j, : len(e) - 1] = e[:-1].float()
            inv[j, : len(e) - 1] = (1.0 / (e[1:] - e[:-1])).float()
        self.register_buffer("lo", lo, persistent=False)
        self.register_buffer("inv_width", inv, persistent=False)
        self.linear = _PerColumnLinear(n, t, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(ple_encode(x, self.lo, self.inv_width)))  # (bs, n) -> (bs, n, d)


class PeriodicEmbedding(nn.Module):
    """``cos``/``sin`` of ``n_freq`` learned frequencies per column, then a per-column ``Linear`` and a ReLU.

    >>> PeriodicEmbedding(n_cont=2, n_freq=4, d=3)(torch.randn(5, 2)).shape
    torch.Size([5, 2, 3])
    """

    def __init__(self, n_cont: int, n_freq: int = 48, d: int = 16, sigma: float = 0.1):
        super().__init__()
        if n_cont < 1 or n_freq < 1 or d < 1:
            raise ValueError(f"n_cont, n_freq and d must be >= 1, got {n_cont}, {n_freq}, {d}")
        if not sigma > 0:
            raise ValueError(f"sigma (the frequencies' initial std) must be > 0, got {sigma!r}")
        self.freq = nn.Parameter(torch.randn(n_cont, n_freq) * sigma)
        self.linear = _PerColumnLinear(n_cont, 2 * n_freq, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = 2 * math.pi * self.freq * x.unsqueeze(-1)  # (bs, n, n_freq)
        return torch.relu(self.linear(torch.cat([torch.cos(v), torch.sin(v)], dim=-1)))  # (bs, n, d)


class ValueCodes(nn.Module):
    """Codes for the columns that have kept values: 1 + the index of the matching value, 0 for any other.

    ``values`` has one list per continuous column (empty: no codes for it). A value matches when
    it is within float32 rounding of a kept one (1e-5 relative), so the same raw value always
    gets the same code whichever way its row was processed.

    >>> codes = ValueCodes([[0.0, 5.0, 7.0], []])  # column 0 has codes, column 1 none
    >>> codes(torch.tensor([[0.0, 3.3], [7.0, 1.0], [6.0, 2.0]])).tolist(), codes.sizes
    ([[1], [3], [0]], [4])
    """

    def __init__(self, values: Sequence[Sequence[float]]):
        super().__init__()
        self.cols = [j for j, v in enumerate(values) if len(v)]
        if not self.cols:
            raise ValueError("ValueCodes needs kept values for at least one column")
        bad = [j for j in self.cols if any(b <= a for a, b in zip(values[j], values[j][1:]))]
        if bad:
            raise ValueError(f"values[{bad[0]}] must be increasing, got {list(values[bad[0]])[:8]}")
        self.sizes = [len(values[j]) + 1 for j in self.cols]  # + code 0, 'any other value'
        table = torch.full((len(self.cols), max(self.sizes) - 1), math.inf)  # padding never matches
        for i, j in enumerate(self.cols):
            table[i, : len(values[j])] = torch.tensor(values[j], dtype=torch.float32)
        self.register_buffer("table", table, persistent=False)
        self.register_buffer("col_idx", torch.tensor(self.cols), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs = x.index_select(1, self.col_idx).t().contiguous()  # (n_sel, bs)
        hi = torch.searchsorted(self.table, xs).clamp(max=self.table.shape[1] - 1)
        lo = (hi - 1).clamp(min=0)
        d_lo, d_hi = (xs - self.table.gather(1, lo)).abs(), (xs - self.table.gather(1, hi)).abs()
        pick = torch.where(d_lo <= d_hi, lo, hi)
        near = self.table.gather(1, pick)
        match = (xs - near).abs() <= 1e-5 * (1.0 + near.abs())
        return torch.where(match, pick + 1, torch.zeros_like(pick)).t()  # (bs, n_sel)

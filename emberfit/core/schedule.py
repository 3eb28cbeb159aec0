"""Learning-rate and momentum schedules: annealing curves and the one-cycle policy.

The one-cycle shape is the original's: ``n = batches_per_epoch * epochs`` steps,
``a1 = int(n * pct_start)`` of cosine warm-up from ``max_lr / div_factor`` to ``max_lr``,
then cosine annealing over the remaining steps to ``max_lr / final_div`` (default
``div_factor * 1e4``); momentum runs the inverse way, ``moms[0] -> moms[1] -> moms[0]``.
Batch ``k`` (0-based) uses the value at position ``k``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "annealing_cos",
    "annealing_linear",
    "annealing_exp",
    "annealing_no",
    "OneCycleSchedule",
    "even_mults",
]


def annealing_cos(start, end, pct: float):
    """Cosine from ``start`` (pct=0) to ``end`` (pct=1).

    >>> annealing_cos(1.0, 0.0, 0.5)
    0.5
    """
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def end_cos(start, end, pct):
    """Vectorised :func:`annealing_cos` over numpy arrays."""
    return end + (start - end) / 2 * (np.cos(np.pi * pct) + 1)


def annealing_linear(start, end, pct: float):
    """Straight line from ``start`` to ``end``."""
    return start + pct * (end - start)


def annealing_exp(start, end, pct: float):
    """Geometric interpolation (used by the LR finder).

    >>> round(annealing_exp(1e-3, 1e-1, 0.5), 6)
    0.01
    """
    return start * (end / start) ** pct


def annealing_no(start, end, pct: float):
    """Constant ``start``."""
    return start


def even_mults(start: float, stop: float, n: int) -> np.ndarray:
    """``n`` values spaced geometrically from ``start`` to ``stop`` (discriminative LRs).

    >>> even_mults(1e-4, 1e-2, 3).round(6).tolist()
    [0.0001, 0.001, 0.01]
    """
    if n == 1:
        return np.array([stop], dtype=float)
    step = (stop / start) ** (1 / (n - 1))
    return np.array([start * step**i for i in range(n)], dtype=float)


class OneCycleSchedule:
    """LR and momentum of batch ``k`` in a one-cycle run of ``n_iter`` batches.

    ``max_lr`` may be an array (one value per layer group); values are then arrays too.

    >>> s = OneCycleSchedule(100, max_lr=1e-2)
    >>> [round(float(s.lr(k)), 6) for k in (0, 30)], bool(s.lr(100) < 1e-6)  # start, peak, end of the cycle
    ([0.0004, 0.01], True)
    """

    def __init__(
        self,
        n_iter: int,
        max_lr,
        moms: Sequence[float] | None = (0.95, 0.85),
        div_factor: float = 25.0,
        pct_start: float = 0.3,
        final_div: float | None = None,
    ):
        if n_iter <= 0:
            raise ValueError(f"a one-cycle schedule needs at least one batch, got n_iter={n_iter}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"pct_start must be in [0, 1], got {pct_start}")
        self.n_iter = n_iter
        self.max_lr = np.asarray(max_lr, dtype=float)
        self.moms = moms
        self.final_div = div_factor * 1e4 if final_div is None else final_div
        self.lr_start = self.max_lr / div_factor
        self.lr_end = self.max_lr / self.final_div
        self.a1 = int(n_iter * pct_start)
        self.a2 = n_iter - self.a1

    def table(self) -> tuple[list[list[float]], list[float] | None]:
        """LR rows (one list of per-group LRs per batch) and momenta for batches ``0..n_iter``, computed at once."""
        k = np.arange(self.n_iter + 1, dtype=float)[:, None]
        up = self.a1 > 0
        pct1 = np.clip(k / max(1, self.a1), 0, 1)
        pct2 = np.clip((k - self.a1) / max(1, self.a2), 0, 1)
        first = (k <= self.a1) & up

        def curve(start, mid, end):
            c1 = end_cos(start, mid, pct1)
            c2 = end_cos(mid, end, pct2)
            return np.where(first, c1, c2)

        lrs = curve(np.atleast_1d(self.lr_start), np.atleast_1d(self.max_lr), np.atleast_1d(self.lr_end))
        moms = None if self.moms is None else curve(self.moms[0], self.moms[1], self.moms[0])[:, 0].tolist()
        return lrs.tolist(), moms

    def _phase(self, k: int, start, mid, end):
        if k <= self.a1 and self.a1 > 0:
            return annealing_cos(start, mid, k / self.a1)
        return annealing_cos(mid, end, min(1.0, (k - self.a1) / max(1, self.a2)))

    def lr(self, k: int):
        """Learning rate(s) for batch ``k``."""
        return self._phase(k, self.lr_start, self.max_lr, self.lr_end)

    def mom(self, k: int) -> float | None:
        """Momentum (Adam's beta1) for batch ``k``, or None when momentum is not scheduled."""
        if self.moms is None:
            return None
        return self._phase(k, self.moms[0], self.moms[1], self.moms[0])

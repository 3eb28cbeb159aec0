"""The LR finder's suggested learning rate: the steep part of the loss curve, a decade before its floor.

``learn.recorder.plot(suggestion=True)`` marks and prints it. The rule, on the plotted curve
(learning rates ``lrs``, the recorder's smoothed ``losses``) and the noise of each of its points:

1. **Smooth again, in decades.** A running median then a running mean over half a decade of
   learning rate (whatever ``num_it`` was), which removes single noisy batches.
2. **Know the noise.** The recorder's curve is a moving average that has seen only a few batches
   at its start, so its first points are several times noisier than the rest; :func:`ema_noise`
   gives each point's noise from the raw batch losses (``plot`` passes it). A dip at the start of
   the curve that is within that noise is no descent: it is what made the old "steepest slope"
   rule swing between 9e-07 and 0.17 on the lesson's collab data.
3. **Find the floor.** Take the minimum of the smoothed curve and go back to the first point within
   5% of the curve's fall (its highest point before the minimum minus the minimum). The bottom of
   a loss curve is flat and noisy, so its first point moves much less between runs than the minimum.
4. **Look for changes within 1.5 decades.** The recorder's average spans some 50 batches, so its
   curve wanders slowly; over the whole range it finds, by chance, a fall of two or three noise
   levels somewhere (the IMDB-sample language model's flat curve did, on one seed of three). The
   learning rate's own effect is steep: a fall or a rise counts only within ``STEEP_DECADES``.
   On the recorded curves (default ``plot()`` trimming) the largest fall within 1.5 decades of the
   floor is 0.1 to 1.9 noise levels for the language model (9 seeds; up to 2.6 on the whole
   curve), 3.2 to 4.2 for collab and 6.5 to 11 for tabular (5 seeds each).
5. **A real descent** (some point in the 1.5 decades before the floor is above it by more than 2.5
   noise levels, between those two groups; taking a flat curve for a descent costs much more than
   the reverse): the steepest point (most negative slope against ``log10(lr)``) in those 1.5
   decades, but at least one decade below the floor. Near the floor training is on the edge of
   diverging: this margin is v1's "minimum loss divided by 10", and where the lessons' learning
   rates sit.
6. **A flat curve** (a pretrained model, say: the loss does not fall, then rises): one decade below
   where it starts to rise, the first point more than 3.5 noise levels above the lowest point of the
   1.5 decades before it (measured from the curve's lowest point instead, the slow wander moved it
   by half a decade between seeds). A curve that rises from its start, or stays flat to its end,
   has no suggestion (None).

The suggestion is always one of ``lrs``, so the plot marks it on the curve. On the lessons' data
(``lr_find()`` with its default range, plotted with ``plot()``): 1.0e-2 to 1.2e-2 for the collab
model (5 seeds; the lesson trains at 5e-3), 0.85e-2 to 1.5e-2 for the adult tabular model (5
seeds; 1e-2) and 1.2e-2 to 2.2e-2 for the IMDB-sample language model from the bundled small
pretrained model, whose curve is flat and then rises (9 seeds; 1e-2); the rule without step 4 gave
it 5.9e-3, 1.0e-2 and 6.3e-4 on its first three. ``tests/compat/test_train.py`` checks all three.
"""

from __future__ import annotations

import numpy as np

__all__ = ["smooth_curve", "ema_noise", "suggestion_index", "suggest_lr"]

SMOOTH_DECADES = 0.5  # width of the second smoothing, in decades of learning rate
FLOOR_TOL = 0.05  # the floor starts within this fraction of the curve's fall from its minimum
STEEP_DECADES = 1.5  # a fall or rise counts within this many decades (the steep region before the floor)
MARGIN_DECADES = 1.0  # the suggestion is at least this far below the floor
FALL_Z = 2.5  # a fall of fewer noise levels than this is no fall
RISE_Z = 3.5  # a flat curve has risen once it is this many noise levels above its recent bottom


def _running(y: np.ndarray, h: int, f) -> np.ndarray:
    """``f`` over a centred window of ``2h+1`` points (shorter at the ends)."""
    return np.array([f(y[max(0, i - h) : i + h + 1]) for i in range(len(y))])


def smooth_curve(lrs, losses, decades: float = SMOOTH_DECADES) -> np.ndarray:
    """``losses`` smoothed over ``decades`` of learning rate: a running median, then a running mean.

    >>> lrs = np.logspace(-7, 1, 81); losses = np.ones(81); losses[40] = 5.0  # one bad batch
    >>> float(smooth_curve(lrs, losses).max())
    1.0
    """
    x = np.log10(np.asarray(lrs, dtype=float))
    y = np.asarray(losses, dtype=float)
    per_decade = (len(y) - 1) / max(x[-1] - x[0], 1e-12)
    h = max(1, int(round(decades * per_decade / 2)))
    return _running(_running(y, h, np.median), h, np.mean)


def ema_noise(raw_losses, beta: float = 0.98) -> np.ndarray:
    """The noise (standard deviation) of the recorder's smoothed loss at each batch, from the raw losses.

    The recorder's curve is a debiased moving average (``beta``) of the batch losses: after ``n``
    batches it averages few of them, so the start of an LR-finder curve is much noisier than the
    rest. The batch losses' own noise is measured on their differences (robust to a trend and to
    divergence).

    >>> raw = 1 + 0.1 * np.random.default_rng(0).standard_normal(200)
    >>> nz = ema_noise(raw); bool(0.08 < nz[0] < 0.12 and nz[-1] < nz[10] < nz[0])
    True
    """
    raw = np.asarray(raw_losses, dtype=float)
    d = np.diff(raw[np.isfinite(raw)])
    sigma = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2) if len(d) else 0.0
    n = np.arange(1, len(raw) + 1)
    return sigma * (1 - beta) * np.sqrt((1 - beta ** (2 * n)) / (1 - beta**2)) / (1 - beta**n)


def suggestion_index(lrs, losses, noise=None) -> int | None:
    """The index in ``lrs`` of the suggested learning rate (see the module docstring), or None.

    ``noise``: the standard deviation of each point of ``losses`` (``recorder.plot`` passes
    :func:`ema_noise` of the raw batch losses); without it, it is estimated from the curve's wiggle
    around its smoothed form. Points with a non-finite loss or a non-positive LR are left out; the
    index is into ``lrs`` as given.

    >>> lrs = np.logspace(-6, 0, 61)
    >>> losses = 1 / (1 + (lrs / 1e-3) ** 2) + (lrs / 0.1) ** 2  # falls around 1e-3, diverges after 0.1
    >>> i = suggestion_index(lrs, losses); bool(1e-4 <= lrs[i] <= 3e-3)
    True
    >>> flat = 1 + (lrs / 0.1) ** 2  # flat, then diverges after 0.1: a decade below where it rises
    >>> i = suggestion_index(lrs, flat, noise=np.full(61, 0.01)); bool(1e-3 <= lrs[i] <= 1e-2)
    True
    """
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    keep = np.flatnonzero(np.isfinite(losses) & np.isfinite(lrs) & (lrs > 0))
    if len(keep) < 5:
        return None
    x, y = np.log10(lrs[keep]), losses[keep]
    s = smooth_curve(lrs[keep], y)
    nz = (
        np.full(len(y), 1.4826 * float(np.median(np.abs(y - s))))
        if noise is None
        else np.asarray(noise)[keep]
    )
    i_min = int(np.argmin(s))
    fall = float(s[: i_min + 1].max() - s[i_min])
    i_floor = int(np.argmax(s[: i_min + 1] <= s[i_min] + FLOOR_TOL * fall))
    # a real descent: within the steep region before the floor, a fall of more than FALL_Z noise levels
    lo = _window_start(x, i_floor)
    z = (s[lo : i_floor + 1] - s[i_floor]) / np.maximum(np.hypot(nz[lo : i_floor + 1], nz[i_floor]), 1e-12)
    if fall > 0 and z.max() > FALL_Z:
        return int(keep[_steep_before(x, s, i_floor)])  # its steep part, a decade below its floor
    # flat (within noise) until it rises: a decade below the last point before the rise
    i_rise = _first_rise(x, s, nz)
    if i_rise is None or x[i_rise - 1] - x[0] < MARGIN_DECADES:
        return None  # flat to the end, or rising from the start: nothing in this range to suggest
    return int(keep[_below(x, i_rise - 1)])


def _window_start(x: np.ndarray, i: int) -> int:
    """The first point within ``STEEP_DECADES`` before point ``i``."""
    return int(np.searchsorted(x, x[i] - STEEP_DECADES))


def _first_rise(x: np.ndarray, s: np.ndarray, nz: np.ndarray) -> int | None:
    """The first point more than ``RISE_Z`` noise levels above the lowest of the ``STEEP_DECADES`` before it."""
    for i in range(1, len(s)):
        lo = min(_window_start(x, i), i - 1)
        j = lo + int(np.argmin(s[lo:i]))
        if s[i] - s[j] > RISE_Z * np.hypot(nz[i], nz[j]):
            return i
    return None


def _below(x: np.ndarray, i: int) -> int:
    """The last point at least ``MARGIN_DECADES`` below point ``i`` (the first point if none is)."""
    return max(0, int(np.searchsorted(x, x[i] - MARGIN_DECADES, side="right")) - 1)


def _steep_before(x: np.ndarray, s: np.ndarray, i_floor: int) -> int:
    """The steepest point in the ``STEEP_DECADES`` before ``i_floor``, but at least a margin below it."""
    lo = _window_start(x, i_floor)
    i_margin = _below(x, i_floor)
    if i_floor - lo < 2:  # the floor is at the start of the range
        return i_margin
    slopes = np.gradient(s[lo : i_floor + 1], x[lo : i_floor + 1])
    return min(lo + int(np.argmin(slopes)), i_margin)


def suggest_lr(lrs, losses, noise=None) -> float | None:
    """The suggested learning rate for an LR-finder curve (see the module docstring), or None.

    >>> lrs = np.logspace(-6, 0, 61); losses = 1 / (1 + (lrs / 1e-3) ** 2) + (lrs / 0.1) ** 2
    >>> 1e-4 <= suggest_lr(lrs, losses) <= 3e-3
    True
    """
    i = suggestion_index(lrs, losses, noise)
    return None if i is None else float(np.asarray(lrs, dtype=float)[i])

"""Plots of a Recorder (matplotlib), as fastai v1 drew them.

``recorder.plot()`` (loss against learning rate after ``lr_find``), ``plot_losses()``,
``plot_lr()`` and ``plot_metrics()`` draw and return None, or return the figure with
``return_fig=True``. In Jupyter (an inline or widget backend) the figure shows in the notebook.
Where there is no display (a non-interactive matplotlib backend such as Agg, in a terminal or CI),
the figure is written to ``learn.path/'plots'/<name>.png`` and one line says where.
The suggested learning rate is computed in :mod:`emberfit.core.lr_suggest`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .lr_suggest import ema_noise, smooth_curve, suggest_lr, suggestion_index

Recorder = Any  # a callbacks.recorder.Recorder (not imported: the recorder imports this module)

__all__ = ["suggest_lr", "plot_lr_find", "plot_losses", "plot_lr", "plot_metrics", "is_headless"]

# matplotlib's backends that draw to a file only: figures then go to a PNG
_FILE_BACKENDS = ("agg", "cairo", "pdf", "pgf", "ps", "svg", "template")


def is_headless() -> bool:
    """Whether matplotlib draws to files only (Agg & co.), so a figure must be saved to be seen.

    >>> import matplotlib; matplotlib.get_backend().lower() == 'agg' and is_headless()
    True
    """
    import matplotlib

    return matplotlib.get_backend().lower() in _FILE_BACKENDS


def _trim(values, skip_start: int, skip_end: int) -> np.ndarray:
    """``values[skip_start:-skip_end]`` (all of the end when ``skip_end`` is 0), as v1's plots cut them."""
    _check_skip(skip_start, "skip_start")
    _check_skip(skip_end, "skip_end")
    values = np.asarray(values, dtype=float)
    return values[skip_start : len(values) - skip_end]


def _check_skip(v, name: str) -> None:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
        raise ValueError(f"{name} must be an int >= 0 (points left out of the plot), got {v!r}")


def _show(fig, rec: Recorder, name: str) -> None:
    """Show ``fig`` in the notebook or window; headless, write ``learn.path/plots/<name>.png`` and say where."""
    import matplotlib.pyplot as plt

    if is_headless():
        out = Path(rec.learn.path) / "plots" / f"{name}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=100, bbox_inches="tight")
        plt.close(fig)
        print(f"plot written to {out}")
    else:
        plt.show()


def _done(fig, rec: Recorder, name: str, return_fig: bool | None):
    if return_fig:
        return fig
    _show(fig, rec, name)
    return None


def _plt():
    import matplotlib.pyplot as plt

    return plt


def plot_lr_find(
    rec: Recorder,
    skip_start: int = 10,
    skip_end: int = 5,
    suggestion: bool = False,
    return_fig: bool | None = None,
):
    """Loss against learning rate (log scale) after ``lr_find``, the ends trimmed by ``skip_start`` / ``skip_end``.

    With ``suggestion=True`` the suggested LR (:mod:`emberfit.core.lr_suggest`) is marked on the
    curve, printed with v1's two lines, and kept in ``rec.min_grad_lr``.
    """
    if not rec.lrs:
        raise ValueError("nothing recorded yet: run learn.lr_find() first")
    lrs, losses = _trim(rec.lrs, skip_start, skip_end), _trim(rec.losses, skip_start, skip_end)
    if len(lrs) < 2:
        raise ValueError(
            f"skip_start={skip_start} and skip_end={skip_end} leave {len(lrs)} of the {len(rec.lrs)} recorded "
            "points; lower them (or run lr_find with a larger num_it)"
        )
    fig, ax = _plt().subplots(1, 1)
    ax.plot(lrs, losses)
    ax.set_ylabel("Loss")
    ax.set_xlabel("Learning Rate")
    ax.set_xscale("log")
    if suggestion:
        noise = (
            _trim(ema_noise(rec.raw_losses), skip_start, skip_end)
            if len(rec.raw_losses) == len(rec.lrs)
            else None
        )
        _mark_suggestion(ax, rec, lrs, losses, noise)
    return _done(fig, rec, "lr_find", return_fig)


def _mark_suggestion(ax, rec: Recorder, lrs: np.ndarray, losses: np.ndarray, noise) -> None:
    i = suggestion_index(lrs, losses, noise)
    rec.min_grad_lr = rec.suggested_lr = None if i is None else float(lrs[i])
    if i is None:
        print(
            "No suggestion: in this range the loss rose from the start, or stayed flat to the end "
            "(try lr_find with a lower start_lr or a higher end_lr)"
        )
        return
    ax.plot(lrs[i], losses[i], markersize=10, marker="o", color="red")  # a point of the curve
    ok = np.isfinite(losses)
    floor = lrs[ok][int(np.argmin(smooth_curve(lrs[ok], losses[ok])))]
    print(f"Min numerical gradient: {lrs[i]:.2E}")
    print(f"Min loss divided by 10: {floor / 10:.2E}")


def plot_losses(rec: Recorder, skip_start: int = 0, skip_end: int = 0, return_fig: bool | None = None):
    """Smoothed training loss per batch and validation loss at each epoch end."""
    fig, ax = _plt().subplots(1, 1)
    losses = _trim(rec.losses, skip_start, skip_end)
    its = np.arange(len(rec.losses))[skip_start : len(rec.losses) - skip_end]
    ax.plot(its, losses, label="Train")
    if rec.val_losses and any(v is not None for v in rec.val_losses):
        ends = np.cumsum(rec.nb_batches)
        vals = np.array([np.nan if v is None else v for v in rec.val_losses], dtype=float)
        ax.plot(ends[: len(vals)], vals, label="Validation")
    ax.set_xlabel("Batches processed")
    ax.set_ylabel("Loss")
    ax.legend()
    return _done(fig, rec, "losses", return_fig)


def plot_lr(
    rec: Recorder,
    show_moms: bool = False,
    skip_start: int = 0,
    skip_end: int = 0,
    return_fig: bool | None = None,
):
    """Learning rate (and momentum) per training batch."""
    n = 2 if show_moms else 1
    fig, axs = _plt().subplots(1, n, figsize=(6 * n, 4))
    axs = np.atleast_1d(axs)
    its = np.arange(len(rec.lrs))[skip_start : len(rec.lrs) - skip_end]
    axs[0].plot(its, _trim(rec.lrs, skip_start, skip_end))
    axs[0].set_xlabel("Iterations")
    axs[0].set_ylabel("Learning Rate")
    if show_moms:
        axs[1].plot(its, _trim(rec.moms, skip_start, skip_end))
        axs[1].set_xlabel("Iterations")
        axs[1].set_ylabel("Momentum")
    return _done(fig, rec, "lr", return_fig)


def plot_metrics(rec: Recorder, skip_start: int = 0, skip_end: int = 0, return_fig: bool | None = None):
    """One panel per metric, against the batches processed at each epoch end."""
    names = rec.metrics_names
    if not names or not rec.metrics:
        raise ValueError("no metrics recorded: pass metrics=... to the Learner and fit first")
    fig, axs = _plt().subplots(len(names), 1, figsize=(6, 4 * len(names)))
    axs = np.atleast_1d(axs)
    vals = np.array([[np.nan if v is None else float(v) for v in row] for row in rec.metrics], dtype=float)
    ends = np.cumsum(rec.nb_batches)[: len(vals)]
    _check_skip(skip_start, "skip_start")
    _check_skip(skip_end, "skip_end")
    keep = slice(skip_start, len(vals) - skip_end)
    for i, (ax, n) in enumerate(zip(axs, names)):
        ax.plot(ends[keep], vals[keep, i])
        ax.set_xlabel("Batches processed")
        ax.set_ylabel(n)
    return _done(fig, rec, "metrics", return_fig)

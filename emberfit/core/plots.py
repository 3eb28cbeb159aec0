"""Plots of a Recorder (matplotlib), and the LR finder's suggestion rule.

Where there is no display (a non-interactive matplotlib backend, as in a terminal or CI),
each figure is written to ``learn.path/'plots'/<name>.png`` and the path is printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .callback import Recorder

__all__ = ["suggest_lr", "plot_lr_find", "plot_losses", "plot_lr", "plot_metrics"]


def suggest_lr(lrs, losses, window: int = 5) -> float | None:
    """The "steepest descent before the minimum" rule for the LR finder.

    The loss curve (already an exponential moving average) is smoothed again with a
    centred moving average of ``window`` points, its slope against ``log10(lr)`` is taken,
    and the LR with the most negative slope *before the loss minimum* is returned. Looking
    only before the minimum ignores the divergence at the end; the second smoothing keeps a
    single noisy batch from winning. When the curve never falls (the minimum is at the
    start), the rule falls back to the LR of the minimum divided by 10.

    >>> lrs = np.logspace(-6, 0, 60); losses = 1 / (1 + (lrs / 1e-3) ** 2) + (lrs / 0.1) ** 2
    >>> 1e-4 < suggest_lr(lrs, losses) < 1e-2
    True
    """
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    ok = np.isfinite(losses) & (lrs > 0)
    lrs, losses = lrs[ok], losses[ok]
    if len(lrs) < 3:
        return None
    w = max(1, min(window, len(losses) // 3))
    if w > 1:
        kernel = np.ones(w) / w
        padded = np.pad(losses, (w // 2, w - 1 - w // 2), mode="edge")
        smooth = np.convolve(padded, kernel, mode="valid")
    else:
        smooth = losses
    i_min = int(np.argmin(smooth))
    if i_min < 2:
        return float(lrs[int(np.argmin(losses))] / 10)
    grads = np.gradient(smooth[: i_min + 1], np.log10(lrs[: i_min + 1]))
    return float(lrs[int(np.argmin(grads))])


def _show(fig, rec: Recorder, name: str) -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend().lower()
    if "agg" in backend and "inline" not in backend and "ipympl" not in backend and "widget" not in backend:
        out = Path(rec.learn.path) / "plots" / f"{name}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=100, bbox_inches="tight")
        plt.close(fig)
        print(f"plot written to {out}")
    else:
        plt.show()


def _plt():
    import matplotlib.pyplot as plt

    return plt


def plot_lr_find(
    rec: Recorder, skip_start: int = 10, skip_end: int = 5, suggestion: bool = True, return_fig: bool = False
):
    """Loss vs LR (log scale); marks and returns the suggested LR (see :func:`suggest_lr`)."""
    if not rec.lrs:
        raise ValueError("nothing recorded yet: run learn.lr_find() first")
    end = len(rec.lrs) - skip_end if skip_end > 0 else len(rec.lrs)
    lrs, losses = np.array(rec.lrs[skip_start:end]), np.array(rec.losses[skip_start:end])
    if len(lrs) < 3:
        lrs, losses = np.array(rec.lrs), np.array(rec.losses)
    fig, ax = _plt().subplots(1, 1)
    ax.plot(lrs, losses)
    ax.set_xscale("log")
    ax.set_xlabel("Learning Rate")
    ax.set_ylabel("Loss")
    lr = None
    if suggestion:
        lr = suggest_lr(lrs, losses)
        if lr is not None:
            y = np.interp(np.log10(lr), np.log10(lrs), losses)
            ax.plot(lr, y, markersize=10, marker="o", color="red")
            print(f"Suggested LR (steepest descent before the minimum): {lr:.2E}")
        rec.suggested_lr = rec.min_grad_lr = lr
    if return_fig:
        return fig
    _show(fig, rec, "lr_find")
    return lr


def plot_losses(rec: Recorder, skip_start: int = 0, return_fig: bool = False):
    """Smoothed training loss per batch and validation loss at each epoch end."""
    fig, ax = _plt().subplots(1, 1)
    its = np.arange(len(rec.losses))
    ax.plot(its[skip_start:], rec.losses[skip_start:], label="Train")
    if rec.val_losses and any(v is not None for v in rec.val_losses):
        ends = np.cumsum(rec.nb_batches)
        ax.plot(ends[: len(rec.val_losses)], rec.val_losses, label="Validation")
    ax.set_xlabel("Batches processed")
    ax.set_ylabel("Loss")
    ax.legend()
    if return_fig:
        return fig
    _show(fig, rec, "losses")


def plot_lr(rec: Recorder, show_moms: bool = False, return_fig: bool = False):
    """Learning rate (and momentum) per training batch."""
    n = 2 if show_moms else 1
    fig, axs = _plt().subplots(1, n, figsize=(6 * n, 4))
    axs = np.atleast_1d(axs)
    axs[0].plot(rec.lrs)
    axs[0].set_xlabel("Iterations")
    axs[0].set_ylabel("Learning Rate")
    if show_moms:
        axs[1].plot(rec.moms)
        axs[1].set_xlabel("Iterations")
        axs[1].set_ylabel("Momentum")
    if return_fig:
        return fig
    _show(fig, rec, "lr")


def plot_metrics(rec: Recorder, return_fig: bool = False):
    """One panel per metric, per epoch."""
    names = rec.metrics_names
    if not names or not rec.metrics:
        raise ValueError("no metrics recorded: pass metrics=... to the Learner and fit first")
    fig, axs = _plt().subplots(len(names), 1, figsize=(6, 4 * len(names)))
    axs = np.atleast_1d(axs)
    vals = np.array(rec.metrics, dtype=float)
    for i, (ax, n) in enumerate(zip(axs, names)):
        ax.plot(np.arange(1, len(vals) + 1), vals[:, i])
        ax.set_xlabel("Epoch")
        ax.set_ylabel(n)
    if return_fig:
        return fig
    _show(fig, rec, "metrics")

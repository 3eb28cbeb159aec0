"""Looking inside a trained model: the items it gets most wrong and, for classifiers, what it confuses.

fastai v1's ``Interpretation`` / ``ClassificationInterpretation`` (and ``learn.interpret()``):
predictions, targets and per-item losses of one split, in dataset order (``learn.get_preds``), then

* ``top_losses(k)`` / ``show_top_losses(k)`` (alias ``plot_top_losses``): the items with the
  largest losses, as a table (HTML in Jupyter, text in a terminal). The inputs are shown by the
  application's item list when it knows how (``ItemList.items_frame(idxs)``: the text of a review,
  the raw values of a table row); otherwise by ``str`` of each item;
* ``confusion_matrix()``, ``plot_confusion_matrix()``, ``most_confused()`` for single-label classifiers.

Applications add their own subclass through their learner's ``classification_interpretation``
(text: intrinsic attention), so ``ClassificationInterpretation.from_learner(learn)`` and
``learn.interpret()`` give the richest class that fits. Core imports no application.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
import torch

from .data import DatasetType
from .display import display_frame
from .plots import _show

__all__ = ["Interpretation", "ClassificationInterpretation", "Interpretable"]


def _check_k(k: Any, n: int, arg: str = "k") -> int:
    if k is None:
        return n
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"{arg} must be a non-negative int (or None for all {n} items), got {k!r}")
    return min(int(k), n)


class Interpretation:
    """Predictions, targets and per-item losses of a learner on one split (fastai v1's ``Interpretation``).

    ``preds`` are activated (probabilities for classifiers), all in dataset order.

    >>> x = torch.randn(64, 2); y = (x[:, 0] > 0).long()
    >>> data = DataBunch.from_tensors(x[:48], y[:48], x[48:], y[48:], bs=16, device='cpu')
    >>> learn = Learner(data, nn.Linear(2, 2), loss_func=F.cross_entropy, silent=True)
    >>> interp = Interpretation.from_learner(learn)
    >>> losses, idxs = interp.top_losses(3)
    >>> bool((losses == interp.losses[idxs]).all()), bool(losses[0] >= losses[-1])
    (True, True)
    """

    def __init__(
        self,
        learn: Any,
        preds: torch.Tensor,
        y_true: torch.Tensor,
        losses: torch.Tensor,
        ds_type: DatasetType = DatasetType.Valid,
    ):
        n = len(preds)
        if len(y_true) != n or len(losses) != n:
            raise ValueError(
                f"preds, y_true and losses must have one row per item, got {n}, {len(y_true)} and {len(losses)}"
            )
        self.learn, self.data, self.ds_type = learn, learn.data, ds_type
        self.preds, self.y_true, self.losses = preds, y_true, losses.reshape(-1)

    @classmethod
    def from_learner(
        cls, learn: Any, ds_type: DatasetType = DatasetType.Valid, activ: Callable | None = None
    ) -> Interpretation:
        """Run ``learn`` on the ``ds_type`` split and interpret it (a subclass that fits, when the learner names one).

        >>> x = torch.randn(32, 2); y = (x[:, 0] > 0).long()
        >>> learn = Learner(DataBunch.from_tensors(x, y, x, y, bs=8, device='cpu'), nn.Linear(2, 2),
        ...                 loss_func=F.cross_entropy, silent=True)
        >>> type(Interpretation.from_learner(learn)).__name__  # single-label classes: a classifier's view
        'ClassificationInterpretation'
        """
        if not isinstance(ds_type, DatasetType):
            raise TypeError(f"ds_type must be a DatasetType (e.g. DatasetType.Valid), got {ds_type!r}")
        preds, y_true, losses = learn.get_preds(ds_type, activ=activ, with_loss=True)
        return _pick_class(cls, learn, preds, y_true)(learn, preds, y_true, losses, ds_type)

    # -- top losses -------------------------------------------------------------------------
    def top_losses(self, k: int | None = None, largest: bool = True):
        """``(losses, indices)`` of the ``k`` largest (``largest=False``: smallest) losses; all items when ``k`` is None.

        >>> interp.top_losses(2).indices.shape
        torch.Size([2])
        """
        return self.losses.topk(_check_k(k, len(self.losses)), largest=largest)

    def items_frame(self, idxs: Any, **kwargs) -> pd.DataFrame:
        """The inputs of items ``idxs`` of this split as table columns (the application's view when it has one).

        ``kwargs`` go to the item list's ``items_frame`` (text: ``max_len``, the tokens shown).

        >>> list(interp.items_frame([0, 1]).columns)
        ['input']
        """
        idxs = [int(i) for i in idxs]
        x = _split_items(self.data, self.ds_type)
        if x is not None and hasattr(x, "items_frame"):
            return x.items_frame(idxs, **kwargs).reset_index(drop=True)
        if x is not None:
            return pd.DataFrame({"input": [str(x[i]) for i in idxs]})
        dl = self.data.dl(self.ds_type)
        if getattr(dl, "x", None) is not None:  # tensors (DataBunch.from_tensors)
            return pd.DataFrame({"input": [_row_text(dl.x, i) for i in idxs]})
        ds = getattr(dl, "dataset", None)  # a torch Dataset of (x, y) pairs
        return pd.DataFrame({"input": [str(ds[i][0]) if ds is not None else "" for i in idxs]})

    def _outcome_columns(self, idxs: list[int]) -> dict[str, list]:
        """Prediction and target of each item (decoded by the labels when they can)."""
        return {
            "prediction": [_value(self.preds[i]) for i in idxs],
            "actual": [_value(self.y_true[i]) for i in idxs],
        }

    def top_losses_table(self, k: int | None = 9, largest: bool = True, **kwargs) -> pd.DataFrame:
        """The ``k`` items with the largest losses: their inputs (``kwargs``: see :meth:`items_frame`), prediction, actual, loss.

        >>> list(interp.top_losses_table(2).columns)
        ['input', 'prediction', 'actual', 'loss', 'probability']
        """
        losses, idxs = self.top_losses(k, largest)
        idxs = idxs.tolist()
        df = self.items_frame(idxs, **kwargs)
        for name, col in self._outcome_columns(idxs).items():
            df[name] = col
        df["loss"] = np.round(losses.numpy().astype(np.float64), 4)
        df.index = pd.Index(idxs, name="item")
        return df

    def show_top_losses(self, k: int = 9, largest: bool = True, **kwargs) -> None:
        """Show :meth:`top_losses_table` (an HTML table in Jupyter, text in a terminal).

        >>> import contextlib, io; shown = io.StringIO()
        >>> with contextlib.redirect_stdout(shown): interp.show_top_losses(2)
        >>> 'probability' in shown.getvalue()
        True
        """
        display_frame(self.top_losses_table(k, largest, **kwargs).reset_index(drop=True))

    def plot_top_losses(self, k: int = 9, largest: bool = True, figsize: Any = None, **kwargs) -> None:
        """fastai v1's name for :meth:`show_top_losses` (for tables of text and rows; ``figsize`` is ignored)."""
        self.show_top_losses(k, largest, **kwargs)


class ClassificationInterpretation(Interpretation):
    """fastai v1's ``ClassificationInterpretation``: confusion matrix, most confused pairs, top losses.

    For single-label classifiers (class probabilities, integer targets).

    >>> x = torch.randn(200, 2); y = (x[:, 0] > 0).long()
    >>> data = DataBunch.from_tensors(x[:100], y[:100], x[100:], y[100:], bs=20, device='cpu')
    >>> learn = Learner(data, nn.Linear(2, 2), loss_func=F.cross_entropy, silent=True)
    >>> learn.fit(3, 0.1)
    >>> interp = ClassificationInterpretation.from_learner(learn)
    >>> int(interp.confusion_matrix().sum()), interp.most_confused(min_val=1000)
    (100, [])
    """

    def __init__(self, learn, preds, y_true, losses, ds_type=DatasetType.Valid):
        if preds.ndim != 2 or preds.shape[1] < 2 or y_true.ndim != 1 or y_true.is_floating_point():
            raise ValueError(
                "ClassificationInterpretation needs a single-label classifier (class probabilities of shape "
                f"(n, n_classes) and integer targets), got preds {tuple(preds.shape)} and targets "
                f"{tuple(y_true.shape)} {y_true.dtype}; use Interpretation.from_learner(learn) for regression "
                "or multi-label models"
            )
        super().__init__(learn, preds, y_true, losses, ds_type)
        self.pred_class = preds.argmax(dim=1)
        self.classes = (
            list(self.data.classes) if self.data.classes is not None else list(range(preds.shape[1]))
        )

    def _outcome_columns(self, idxs: list[int]) -> dict[str, list]:
        names = self.classes
        return {
            "prediction": [names[int(self.pred_class[i])] for i in idxs],
            "actual": [names[int(self.y_true[i])] for i in idxs],
        }

    def top_losses_table(self, k: int | None = 9, largest: bool = True, **kwargs) -> pd.DataFrame:
        """Inputs, prediction, actual class, loss and the probability given to the actual class (as v1 showed)."""
        df = super().top_losses_table(k, largest, **kwargs)
        idxs = torch.tensor(df.index.to_list(), dtype=torch.long)
        probs = self.preds[idxs, self.y_true[idxs].long()] if len(idxs) else torch.zeros(0)
        df["probability"] = np.round(probs.numpy().astype(np.float64), 4)
        return df

    def confusion_matrix(self, slice_size: int = 1) -> np.ndarray:
        """``cm[actual, predicted]`` counts over the split (int array, classes in ``data.classes`` order).

        ``slice_size`` is accepted for v1 compatibility; the counts are one ``bincount``.

        >>> cm = interp.confusion_matrix(); cm.shape == (len(interp.classes),) * 2, int(cm.sum()) == len(interp.y_true)
        (True, True)
        """
        n = len(self.classes)
        idx = self.y_true.long() * n + self.pred_class
        return torch.bincount(idx, minlength=n * n).view(n, n).numpy().astype(np.int64)

    def most_confused(self, min_val: int = 1, slice_size: int = 1) -> list[tuple[Any, Any, int]]:
        """Off-diagonal ``(actual, predicted, count)`` with ``count >= min_val``, largest count first.

        >>> all(a != p for a, p, _ in interp.most_confused())
        True
        """
        if isinstance(min_val, bool) or not isinstance(min_val, (int, np.integer)):
            raise TypeError(f"min_val must be an int (the smallest count to list), got {min_val!r}")
        cm, names = self.confusion_matrix(), self.classes
        res = [
            (names[i], names[j], int(cm[i, j]))
            for i, j in product(range(len(names)), repeat=2)
            if i != j and cm[i, j] >= min_val
        ]
        return sorted(res, key=lambda r: r[2], reverse=True)

    def plot_confusion_matrix(
        self,
        normalize: bool = False,
        title: str = "Confusion matrix",
        cmap: Any = "Blues",
        slice_size: int = 1,
        norm_dec: int = 2,
        plot_txt: bool = True,
        return_fig: bool | None = None,
        **kwargs,
    ):
        """Plot the confusion matrix (``normalize``: each actual class's row sums to 1); ``kwargs`` go to ``plt.figure``.

        Without a display the figure is written to ``learn.path/'plots'/'confusion_matrix.png'``.

        >>> fig = interp.plot_confusion_matrix(normalize=True, return_fig=True)
        >>> fig.axes[0].get_xlabel()
        'Predicted'
        """
        from .interpret_plots import confusion_figure

        cm = self.confusion_matrix().astype(np.float64)
        if normalize:
            cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        fig = confusion_figure(cm, self.classes, normalize, title, cmap, norm_dec, plot_txt, **kwargs)
        if return_fig:
            return fig
        _show(fig, self.learn.recorder, "confusion_matrix")


class Interpretable:
    """What a :class:`~emberfit.core.learner.Learner` gets from this module: ``learn.interpret()``.

    An application's learner names its own subclass in ``classification_interpretation``.

    >>> x = torch.randn(32, 2); y = (x[:, 0] > 0).long()
    >>> learn = Learner(DataBunch.from_tensors(x, y, x, y, bs=8, device='cpu'), nn.Linear(2, 2),
    ...                 loss_func=F.cross_entropy, silent=True)
    >>> int(learn.interpret().confusion_matrix().sum())
    32
    """

    classification_interpretation: type = ClassificationInterpretation

    def interpret(
        self, ds_type: DatasetType = DatasetType.Valid, activ: Callable | None = None
    ) -> Interpretation:
        """fastai v1's ``learn.interpret()``: the interpretation of the ``ds_type`` split (classifiers: confusion matrix...)."""
        return Interpretation.from_learner(self, ds_type, activ)


# -- helpers ----------------------------------------------------------------------------------
def _is_single_label(learn: Any, preds: torch.Tensor, y_true: torch.Tensor) -> bool:
    return (
        not getattr(learn.data, "multi_label", False)
        and preds.ndim == 2
        and preds.shape[1] > 1
        and y_true.ndim == 1
        and not y_true.is_floating_point()
    )


def _pick_class(cls: type, learn: Any, preds: torch.Tensor, y_true: torch.Tensor) -> type:
    """``cls``, or the learner's classification interpretation when it is a kind of ``cls`` and fits the data."""
    if not _is_single_label(learn, preds, y_true):
        return cls
    own = getattr(learn, "classification_interpretation", ClassificationInterpretation)
    return own if isinstance(own, type) and issubclass(own, cls) else cls


def _split_items(data: Any, ds_type: DatasetType) -> Any:
    """The input item list of a data-block split (None for DataBunches built from tensors)."""
    lls = getattr(data, "label_lists", None)
    ll = getattr(lls, ds_type.name.lower(), None) if lls is not None else None
    return getattr(ll, "x", None)


def _row_text(xs: Any, i: int) -> str:
    parts = xs if isinstance(xs, tuple) else (xs,)
    vals = [v for t in parts for v in np.atleast_1d(t[i].detach().cpu().numpy()).tolist()]
    shown = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in vals[:8])
    return shown + (", ..." if len(vals) > 8 else "")


def _value(t: torch.Tensor) -> Any:
    v = t.detach().cpu().numpy()
    return round(float(v), 4) if v.size == 1 else np.round(v.astype(np.float64), 4).tolist()

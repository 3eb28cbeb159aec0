"""Metrics, computed exactly over a whole validation set (uneven last batches included), under fastai v1's names.

A metric is either a plain function ``f(pred, targ) -> scalar tensor`` (its batch values are
averaged weighted by batch size, exact for means) or a :class:`Metric` that accumulates what it
needs and computes once at the end (``rmse`` is the root of the total mean squared error, not a
mean of per-batch roots). fastai v1's callback metrics (``on_epoch_begin`` / ``on_batch_end`` /
``on_epoch_end`` returning :func:`add_metrics`) work in ``metrics=[...]`` too.

* ``base``: :class:`Metric`, :class:`AvgMetric` (v1: ``AverageMetric``), ``add_metrics``, and
  :func:`as_metric` / :func:`as_metrics`, which the Learner uses on what it is given;
* ``functions``: v1's plain functions (``accuracy``, ``fbeta``, ``rmse``, ``r2_score``...);
* ``regression``: ``RMSE``, ``MAE``, ``MSE``, ``ExpRMSPE``, ``R2Score``, ``ExplainedVariance``;
* ``confusion``: ``ConfusionMatrix``, ``Precision``, ``Recall``, ``FBeta``, ``KappaScore``, ``MatthewsCorreff``;
* ``scores``: ``AUROC``, ``MultiLabelFbeta``, ``Perplexity``, ``Dice``, ``ForegroundAcc``.
"""

from .base import (
    AverageMetric,
    AvgMetric,
    CallbackMetric,
    Metric,
    add_metrics,
    as_metric,
    as_metrics,
    merge_states,
)
from .confusion import CMScores, ConfusionMatrix, FBeta, KappaScore, MatthewsCorreff, Precision, Recall
from .functions import (
    accuracy,
    accuracy_thresh,
    auc_roc_score,
    dice,
    error_rate,
    exp_rmspe,
    explained_variance,
    fbeta,
    foreground_acc,
    mae,
    mean_absolute_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
    r2_score,
    rmse,
    roc_curve,
    root_mean_squared_error,
    top_k_accuracy,
)
from .regression import MAE, MSE, MSLE, RMSE, ExplainedVariance, ExpRMSPE, R2Score
from .scores import AUROC, Dice, ForegroundAcc, MultiLabelFbeta, Perplexity

auroc, perplexity = AUROC, Perplexity  # lower-case spellings emberfit had

# fastai v1's metrics, in v1's names: the plain functions, then the callback (whole-set) metrics
V1_FUNCTIONS = [
    "accuracy", "accuracy_thresh", "top_k_accuracy", "error_rate", "dice", "foreground_acc", "fbeta",
    "mae", "mean_absolute_error", "mse", "mean_squared_error", "rmse", "root_mean_squared_error",
    "msle", "mean_squared_logarithmic_error", "exp_rmspe", "r2_score", "explained_variance",
    "roc_curve", "auc_roc_score",
]  # fmt: skip
V1_CLASSES = [
    "Precision", "Recall", "FBeta", "R2Score", "ExplainedVariance", "ExpRMSPE", "RMSE", "MAE", "MSE",
    "AUROC", "KappaScore", "MatthewsCorreff", "ConfusionMatrix", "MultiLabelFbeta", "Perplexity",
    "AverageMetric", "add_metrics",
]  # fmt: skip

__all__ = [
    *V1_FUNCTIONS,
    *V1_CLASSES,
    "Metric", "AvgMetric", "CallbackMetric", "CMScores", "MSLE", "Dice", "ForegroundAcc",
    "auroc", "perplexity", "as_metric", "as_metrics", "merge_states",
]  # fmt: skip

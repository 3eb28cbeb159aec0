"""emberfit.core: the engine (data, learner, callbacks, schedule, optim, metrics, plots, io).

It knows nothing of the applications. Each application facade (``emberfit.text``,
``emberfit.tabular``, ``emberfit.collab``) re-exports :data:`__all__` below, so the lesson's
``from emberfit.<app> import *`` gives the engine's names plus what fastai v1's star import gave a
notebook: ``pd``, ``np``, ``torch``, ``plt``, ``nn``, ``F``, ``optim`` (torch.optim), ``os``, ``re``, ``Path``,
``partial``, ``tensor``, ``Dataset``/``DataLoader``, v1's helpers ``listify``, ``ifnone``, ``to_np``,
``num_cpus``, ``defaults``, and the rest of :data:`__all__`.
"""

# fastai v1's star import (its imports/core.py and imports/torch.py) put these in every notebook
import json
import math
import os
import random
import re
import shutil
from collections import Counter, defaultdict
from copy import copy, deepcopy
from functools import partial
from operator import attrgetter, itemgetter
from warnings import warn

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from numpy import array
from pandas import DataFrame
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from .callbacks.base import Callback, CancelFitException
from .callbacks.precision import MixedPrecision
from .callbacks.recorder import Recorder
from .callbacks.tracker import (
    EarlyStoppingCallback,
    ReduceLROnPlateauCallback,
    SaveModelCallback,
    TrackerCallback,
)
from .callbacks.training import CSVLogger, GradientClipping
from .callbacks.v1_events import LearnerCallback
from .data import DataBunch, DatasetType, TensorLoader
from .data_block.items import ItemList
from .data_block.label_items import Category, EmptyLabel, FloatItem, ItemBase, MultiCategory
from .data_block.labelling import ItemLists, LabelList, LabelLists, load_data
from .data_block.labels import CategoryList, EmptyLabelList, FloatList, MultiCategoryList
from .distributed import init_distributed, shutdown_distributed
from .download import Config, Path, URLs, untar_data
from .export import load_learner
from .interpret import ClassificationInterpretation, Interpretation
from .layers import MLP, SigmoidRange, emb_sz_rule, embedding
from .learner import Learner
from .loaders import DeviceDataLoader, data_collate
from .metrics import (
    AUROC,
    MAE,
    MSE,
    RMSE,
    AverageMetric,
    ConfusionMatrix,
    ExplainedVariance,
    ExpRMSPE,
    FBeta,
    KappaScore,
    MatthewsCorreff,
    MultiLabelFbeta,
    Perplexity,
    Precision,
    R2Score,
    Recall,
    accuracy,
    accuracy_thresh,
    add_metrics,
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
from .optimizer import AdamW
from .seed import set_seed
from .v1_helpers import defaults, ifnone, listify, num_cpus, tensor, to_np

# v1's `optim` is torch.optim (emberfit's own optimizer module is `optimizer`, so nothing is shadowed).
optim = torch.optim

__all__ = [
    # the lesson's everyday modules
    "pd", "np", "torch", "plt", "nn", "F",
    # the rest of fastai v1's star import: standard library, numpy / pandas / torch names, v1's helpers
    "os", "re", "math", "shutil", "json", "random", "partial", "itemgetter", "attrgetter", "Counter",
    "defaultdict", "copy", "deepcopy", "warn", "array", "DataFrame", "optim", "tensor", "Tensor",
    "Dataset", "DataLoader", "TensorDataset", "listify", "ifnone", "to_np", "num_cpus", "defaults",
    # data access
    "untar_data", "URLs", "Config", "Path",
    # data
    "DataBunch", "DatasetType", "TensorLoader", "load_data",
    "ItemList", "ItemLists", "LabelList", "LabelLists", "CategoryList", "MultiCategoryList", "FloatList",
    "EmptyLabelList", "ItemBase", "Category", "MultiCategory", "FloatItem", "EmptyLabel",
    "DeviceDataLoader", "data_collate",
    # learner and training
    "Learner", "load_learner", "set_seed", "AdamW", "init_distributed", "shutdown_distributed",
    "Interpretation", "ClassificationInterpretation",
    "Callback", "CancelFitException", "Recorder", "CSVLogger", "EarlyStoppingCallback", "GradientClipping",
    "MixedPrecision", "SaveModelCallback",
    # fastai v1's callbacks built with the learner (callbacks.tracker, basic_train.LearnerCallback)
    "LearnerCallback", "TrackerCallback", "ReduceLROnPlateauCallback",
    # metrics, under fastai v1's names: functions f(pred, targ), then whole-set (callback) metrics
    "accuracy", "accuracy_thresh", "top_k_accuracy", "error_rate", "dice", "foreground_acc", "fbeta",
    "mae", "mean_absolute_error", "mse", "mean_squared_error", "rmse", "root_mean_squared_error",
    "msle", "mean_squared_logarithmic_error", "exp_rmspe", "r2_score", "explained_variance",
    "roc_curve", "auc_roc_score",
    "Precision", "Recall", "FBeta", "R2Score", "ExplainedVariance", "ExpRMSPE", "RMSE", "MAE", "MSE",
    "AUROC", "KappaScore", "MatthewsCorreff", "ConfusionMatrix", "MultiLabelFbeta", "Perplexity",
    "AverageMetric", "add_metrics",
    # layers
    "MLP", "SigmoidRange", "embedding", "emb_sz_rule",
]  # fmt: skip

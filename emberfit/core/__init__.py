"""emberfit.core: the engine (data, learner, callbacks, schedule, optim, metrics, plots, io).

It knows nothing of the applications. Each application facade (``emberfit.text``,
``emberfit.tabular``, ``emberfit.collab``) re-exports :data:`__all__` below, so the lesson's
``from emberfit.<app> import *`` gives the engine's names plus ``pd``, ``np``, ``torch`` and ``plt``.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .callback import Callback, CancelFitException, Recorder
from .callbacks import (
    CSVLogger,
    EarlyStoppingCallback,
    GradientClipping,
    MixedPrecision,
    SaveModelCallback,
)
from .data import DataBunch, DatasetType, TensorLoader, load_data
from .data_block import CategoryList, FloatList, ItemList, ItemLists, LabelList, LabelLists, MultiCategoryList
from .datasets import Config, Path, URLs, untar_data
from .distributed import init_distributed, shutdown_distributed
from .layers import MLP, SigmoidRange, emb_sz_rule, embedding
from .learner import AdamW, Learner, load_learner, set_seed
from .metrics import (
    AUROC,
    FBeta,
    Perplexity,
    accuracy,
    accuracy_thresh,
    error_rate,
    exp_rmspe,
    fbeta,
    mae,
    mse,
    rmse,
)

__all__ = [
    # the lesson's everyday modules
    "pd", "np", "torch", "plt", "nn", "F",
    # data access
    "untar_data", "URLs", "Config", "Path",
    # data
    "DataBunch", "DatasetType", "TensorLoader", "load_data",
    "ItemList", "ItemLists", "LabelList", "LabelLists", "CategoryList", "MultiCategoryList", "FloatList",
    # learner and training
    "Learner", "load_learner", "set_seed", "AdamW", "init_distributed", "shutdown_distributed",
    "Callback", "CancelFitException", "Recorder", "CSVLogger", "EarlyStoppingCallback", "GradientClipping",
    "MixedPrecision", "SaveModelCallback",
    # metrics
    "accuracy", "error_rate", "accuracy_thresh", "rmse", "mae", "mse", "exp_rmspe", "fbeta", "FBeta", "AUROC",
    "Perplexity",
    # layers
    "MLP", "SigmoidRange", "embedding", "emb_sz_rule",
]  # fmt: skip

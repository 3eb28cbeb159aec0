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

from .callbacks.base import Callback, CancelFitException
from .callbacks.precision import MixedPrecision
from .callbacks.recorder import Recorder
from .callbacks.training import CSVLogger, EarlyStoppingCallback, GradientClipping, SaveModelCallback
from .data import DataBunch, DatasetType, TensorLoader
from .data_block.items import ItemList
from .data_block.labelling import ItemLists, LabelList, LabelLists, load_data
from .data_block.labels import CategoryList, FloatList, MultiCategoryList
from .distributed import init_distributed, shutdown_distributed
from .download import Config, Path, URLs, untar_data
from .export import load_learner
from .layers import MLP, SigmoidRange, emb_sz_rule, embedding
from .learner import Learner
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
from .optim import AdamW
from .seed import set_seed

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

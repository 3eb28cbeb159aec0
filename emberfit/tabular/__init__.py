"""emberfit.tabular: the lesson's tabular models (``from emberfit.tabular import *``).

Exports the engine's names (``emberfit.core.__all__``: Learner, DataBunch, accuracy, pd, np, torch...),
the data access helpers (untar_data, URLs), and the tabular pieces: procs (FillMissing, Categorify, Normalize),
fastai v1's DataFrame helpers (cont_cat_split, add_datepart, add_cyclic_datepart, series2cat),
TabularList / TabularDataBunch, TabularModel and tabular_learner, and the modern options:
numerical embeddings (PiecewiseLinearEmbedding, PeriodicEmbedding, quantile_bins), the
ensemble model TabularNet (with MembersLoss) and the 'strong' preset (TabularPreset, strong_preset).
"""

from ..core import *
from ..core import __all__ as _core_all
from .data import TabularDataBunch, TabularItemLists, TabularLine, TabularList
from .ensemble import MembersLoss, TabularNet, TabularNetConfig
from .frame_utils import add_cyclic_datepart, add_datepart, cont_cat_split, series2cat
from .learner import TabularLearner, get_emb_szs, tabular_learner
from .models import TabularConfig, TabularModel
from .num_embeddings import PeriodicEmbedding, PiecewiseLinearEmbedding, quantile_bins
from .presets import KeepBestWeights, TabularPreset, strong_preset
from .processor import TabularProcessor
from .procs import Categorify, FillMissing, FillStrategy, Normalize, TabularProc

__all__ = [
    *_core_all,
    "TabularList", "TabularItemLists", "TabularProcessor", "TabularLine", "TabularDataBunch",
    "TabularProc", "FillMissing", "FillStrategy", "Categorify", "Normalize",
    "cont_cat_split", "add_datepart", "add_cyclic_datepart", "series2cat",
    "TabularModel", "TabularConfig",
    "TabularNet", "TabularNetConfig", "MembersLoss",
    "PiecewiseLinearEmbedding", "PeriodicEmbedding", "quantile_bins",
    "TabularPreset", "strong_preset", "KeepBestWeights",
    "TabularLearner", "tabular_learner", "get_emb_szs",
]  # fmt: skip

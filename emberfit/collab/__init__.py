"""emberfit.collab: collaborative filtering, the lesson's way (``from emberfit.collab import *``).

Exports the engine's names (``emberfit.core.__all__``: Learner, DataBunch, rmse, pd, np, torch...),
the data access helpers, and the collab pieces: CollabDataBunch / CollabList, the models
EmbeddingDotBias and EmbeddingNN (with their config dataclasses), collab_learner / CollabLearner.
"""

from ..core import *
from ..core import __all__ as _core_all
from ..core.download import URLs, untar_data
from .data import CollabDataBunch, CollabList
from .interpret import FactorTensor
from .learner import CollabLearner, collab_learner
from .models import DotBiasConfig, EmbeddingDotBias, EmbeddingNN, EmbeddingNNConfig
from .predict import CollabPrediction
from .processor import CollabProcessor

# untar_data/URLs come from core's __all__ once it exports them; listed here only until then
_data_access = [n for n in ("untar_data", "URLs") if n not in _core_all]

__all__ = [
    *_core_all,
    *_data_access,
    "CollabDataBunch", "CollabList", "CollabProcessor",
    "EmbeddingDotBias", "EmbeddingNN", "DotBiasConfig", "EmbeddingNNConfig",
    "CollabLearner", "collab_learner", "CollabPrediction", "FactorTensor",
]  # fmt: skip

"""emberfit.tabular: the lesson's tabular models (``from emberfit.tabular import *``).

Exports the engine's names (``emberfit.core.__all__``: Learner, DataBunch, accuracy, pd, np, torch...),
the data access helpers, and the tabular pieces: procs (FillMissing, Categorify, Normalize),
TabularList / TabularDataBunch, TabularModel and tabular_learner.
"""

from ..core import *
from ..core import __all__ as _core_all
from ..core.datasets import URLs, untar_data
from .data import TabularDataBunch, TabularItemLists, TabularLine, TabularList
from .learner import TabularLearner, get_emb_szs, tabular_learner
from .models import TabularConfig, TabularModel
from .processor import TabularProcessor
from .transform import Categorify, FillMissing, FillStrategy, Normalize, TabularProc

# untar_data/URLs come from core's __all__ once it exports them; listed here only until then
_data_access = [n for n in ("untar_data", "URLs") if n not in _core_all]

__all__ = [
    *_core_all,
    *_data_access,
    "TabularList", "TabularItemLists", "TabularProcessor", "TabularLine", "TabularDataBunch",
    "TabularProc", "FillMissing", "FillStrategy", "Categorify", "Normalize",
    "TabularModel", "TabularConfig",
    "TabularLearner", "tabular_learner", "get_emb_szs",
]  # fmt: skip

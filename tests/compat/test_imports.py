"""fastai v1's star import (``fastai/imports/core.py``, ``imports/torch.py`` and v1's small helpers).

A v1 notebook starts with ``from fastai.<app> import *`` and then uses ``os``, ``Path``, ``partial``,
``np``, ``torch``, ``nn``, ``F``, ``optim``, ``listify``... without importing them. The same line on
emberfit (``from emberfit.<app> import *``) must put the same objects in scope.
"""

import collections
import copy as copy_module
import functools
import importlib
import json as json_module
import math as math_module
import operator
import os as os_module
import pathlib
import random as random_module
import re as re_module
import shutil as shutil_module
import sys
import warnings

import matplotlib.pyplot
import numpy
import pandas
import pytest
import torch as torch_module
import torch.utils.data

V1_NAMES = {
    "os": os_module, "re": re_module, "math": math_module, "shutil": shutil_module, "json": json_module,
    "random": random_module, "partial": functools.partial,
    "itemgetter": operator.itemgetter, "attrgetter": operator.attrgetter, "Counter": collections.Counter,
    "defaultdict": collections.defaultdict, "copy": copy_module.copy, "deepcopy": copy_module.deepcopy,
    "warn": warnings.warn, "np": numpy, "array": numpy.array, "pd": pandas, "DataFrame": pandas.DataFrame,
    "plt": matplotlib.pyplot, "torch": torch_module, "nn": torch_module.nn, "F": torch_module.nn.functional,
    "optim": torch_module.optim, "Tensor": torch_module.Tensor, "Dataset": torch.utils.data.Dataset,
    "DataLoader": torch.utils.data.DataLoader, "TensorDataset": torch.utils.data.TensorDataset,
}  # fmt: skip
V1_HELPERS = ("listify", "ifnone", "to_np", "num_cpus", "defaults", "tensor")
FACADES = ("emberfit.core", "emberfit.text", "emberfit.tabular", "emberfit.collab")


def star(facade: str) -> dict:
    ns: dict = {}
    exec(f"from {facade} import *", ns)
    return ns


@pytest.mark.parametrize("facade", FACADES)
def test_star_import_gives_v1s_names_as_the_same_objects(facade):
    ns = star(facade)
    for name, obj in V1_NAMES.items():
        assert name in ns, f"'from {facade} import *' lacks {name}"
        assert ns[name] is obj, f"{name} from {facade} is {ns[name]!r}, not {obj!r}"
    for name in V1_HELPERS:
        assert name in ns, f"'from {facade} import *' lacks v1's {name}"
    # v1 added .ls() to pathlib.Path; emberfit's Path is pathlib's with .ls()
    assert issubclass(ns["Path"], pathlib.Path) and callable(ns["Path"].ls)


def test_v1_metric_names_come_with_the_star_import():
    ns = star("emberfit.tabular")
    for name in ("accuracy", "accuracy_thresh", "top_k_accuracy", "error_rate", "dice", "fbeta", "mae",
                 "mean_absolute_error", "mse", "mean_squared_error", "rmse", "root_mean_squared_error", "msle",
                 "mean_squared_logarithmic_error", "exp_rmspe", "r2_score", "explained_variance", "Precision",
                 "Recall", "FBeta", "R2Score", "ExplainedVariance", "RMSE", "MAE", "MSE", "AUROC", "KappaScore",
                 "MatthewsCorreff", "ConfusionMatrix", "MultiLabelFbeta", "Perplexity", "AverageMetric",
                 "add_metrics"):  # fmt: skip
        assert name in ns, name


def test_emberfits_own_optim_module_is_still_its_own():
    """``optim`` in the star import is torch.optim; the engine's optimizer module is untouched."""
    import emberfit.core.optimizer as optimizer
    from emberfit.core.optimizer import AdamW

    assert optimizer.AdamW is AdamW and sys.modules["emberfit.core.optimizer"] is optimizer
    assert importlib.import_module("emberfit.core.optimizer").__name__ == "emberfit.core.optimizer"
    assert star("emberfit.core")["optim"].SGD is torch_module.optim.SGD


# ------------------------------------------------------------------------ v1's helpers behave as in v1

from emberfit.core import *  # noqa: E402  (v1: from fastai.basics import *)


def test_listify():
    assert listify(None) == []
    assert listify([]) == []
    assert listify("abc") == ["abc"]  # a string is one item
    assert listify(3) == [3]
    assert listify((1, 2)) == [1, 2]
    assert listify(range(3)) == [0, 1, 2]
    assert listify(numpy.array([1, 2])) == [1, 2]
    assert listify({"a": 1, "b": 2}) == ["a", "b"]
    t = tensor(5)
    assert listify(t) == [t]  # a 0-d tensor is one item
    assert listify(1e-3, 3) == [1e-3] * 3  # one item repeated to length q (an int)...
    assert listify([0.1], ["a", "b"]) == [0.1, 0.1]  # ...or to the length of q
    assert listify([1, 2], [3, 4]) == [1, 2]
    assert listify(None, 0) == []
    with pytest.raises(ValueError, match="mismatch"):
        listify([1, 2], 3)
    ps = listify(0.5, [200, 100])  # v1's tabular_learner: one dropout per layer
    assert ps == [0.5, 0.5]


def test_ifnone():
    assert ifnone(None, 3) == 3
    assert ifnone(0, 3) == 0  # only None is replaced
    assert ifnone(False, True) is False
    assert ifnone([], [1]) == []


def test_to_np():
    x = torch.tensor([1.5, 2.5], requires_grad=True) * 2
    a = to_np(x)
    assert isinstance(a, numpy.ndarray) and a.tolist() == [3.0, 5.0] and a.dtype == numpy.float32
    assert to_np(torch.tensor([1, 2]).long()).dtype == numpy.int64
    assert to_np(torch.ones(2, dtype=torch.bfloat16)).tolist() == [1.0, 1.0]
    assert to_np([1, 2]).tolist() == [1, 2]


def test_tensor_like_v1():
    assert torch.equal(tensor(1, 2, 3), torch.tensor([1, 2, 3]))
    assert torch.equal(tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]]))
    assert tensor(numpy.array([1, 2], dtype=numpy.int32)).dtype == torch.int64
    arr = numpy.arange(3.0)
    assert tensor(arr).data_ptr() == torch.as_tensor(arr).data_ptr()  # arrays are shared, not copied
    assert tensor(2.5).item() == 2.5
    assert isinstance(tensor([0.5]), Tensor)


def test_num_cpus_and_defaults():
    assert isinstance(num_cpus(), int) and num_cpus() >= 1
    assert defaults.cpus == min(16, num_cpus())
    assert isinstance(defaults.device, torch.device)
    assert defaults.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    old = defaults.device
    defaults.device = torch.device("cpu")  # v1 users set it; it is a plain namespace
    defaults.device = old


def test_a_v1_notebook_cell_runs():
    """Names a v1 notebook used without importing them, in one cell."""
    path = Path(".")
    counts = Counter(re.findall(r"\w+", "a b a"))
    by_len = sorted(["ccc", "a", "bb"], key=len)
    pick = itemgetter(0)
    ds = TensorDataset(tensor([[1.0], [2.0]]), tensor([0, 1]))
    dl = DataLoader(ds, batch_size=2)
    xb, yb = next(iter(dl))
    model = nn.Linear(1, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    df = DataFrame({"x": array([1, 2])})
    d = defaultdict(list)
    d["k"].append(json.dumps({"a": 1}))
    assert isinstance(path, Path) and counts["a"] == 2 and by_len[0] == "a" and pick("xy") == "x"
    assert math.isfinite(loss.item()) and df.x.sum() == 3 and d["k"] == ['{"a": 1}']
    assert deepcopy([1, [2]]) == [1, [2]] and copy([1]) == [1] and attrgetter("real")(3) == 3
    assert os.path.sep and shutil.which and random.random() < 1
    with pytest.warns(UserWarning):
        warn("v1's warn is warnings.warn")

"""Tiny synthetic data and models for the core tests."""

import numpy as np
import pandas as pd
import torch
from torch import nn

from emberfit.core.data import DataBunch
from emberfit.core.data_block.items import ItemList
from emberfit.core.layers import MLP
from emberfit.core.learner import Learner

W_TRUE = torch.tensor([1.0, -2.0, 3.0, 0.5])


def regression_tensors(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ W_TRUE + 0.05 * torch.randn(n, generator=g)
    return x, y


def regression_data(n=512, bs=32, seed=0):
    x, y = regression_tensors(n, seed)
    cut = int(n * 0.8)
    return DataBunch.from_tensors(x[:cut], y[:cut], x[cut:], y[cut:], bs=bs, device="cpu")


class Linear1(nn.Module):
    """Linear regression returning (bs,) predictions."""

    def __init__(self, n_in=4):
        super().__init__()
        self.lin = nn.Linear(n_in, 1)

    def forward(self, x):
        return self.lin(x).squeeze(-1)


def regression_learner(seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault("silent", True)
    return Learner(regression_data(), Linear1(), loss_func=nn.functional.mse_loss, **kwargs)


def frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    df["y"] = (df.a - 2 * df.b + 0.5 * df.c).astype(np.float32)
    df["label"] = np.where(df.a + df.b > 0, "yes", "no")
    return df


def mlp_learner(df, label="y", n_out=1, tmp_path=None, **kw):
    """A data-block learner over columns a, b, c with an MLP rebuilt by export."""
    data = (
        ItemList.from_df(df, path=tmp_path or ".", cols=["a", "b", "c"])
        .split_by_idx(list(range(len(df) - 60, len(df))))
        .label_from_df(label)
        .databunch(bs=32, device="cpu")
    )
    init = {"n_in": 3, "layers": [16], "n_out": n_out}
    torch.manual_seed(0)
    learn = Learner(data, MLP(**init), silent=True, **kw)
    learn.model_init = {"cls": "core.MLP", "kwargs": init}
    return learn


def weights(model):
    """A copy of the model's state (to compare before and after)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a, b):
    """Whether two states from :func:`weights` are identical, tensor for tensor."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

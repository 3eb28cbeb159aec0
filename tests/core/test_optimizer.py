"""Layer groups, discriminative LRs, freezing and weight decay (emberfit/core/optimizer.py, via the Learner)."""

import numpy as np
import torch

from emberfit.core.learner import Learner

from .helpers import regression_data, regression_learner


def test_slice_gives_geometric_lrs_and_freeze_to_sets_requires_grad():
    learn = regression_learner()
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.Linear(8, 8),
        torch.nn.Linear(8, 1),
        torch.nn.Flatten(0),
    )
    learn = Learner(regression_data(), model, loss_func=torch.nn.functional.mse_loss, silent=True)
    learn.split(lambda m: [[m[0], m[1]], [m[2]], [m[3]]])
    np.testing.assert_allclose(learn.lr_range(slice(1e-4, 1e-2)), [1e-4, 1e-3, 1e-2])
    np.testing.assert_allclose(learn.lr_range(slice(1e-2)), [1e-3, 1e-3, 1e-2])
    np.testing.assert_allclose(learn.lr_range(3e-3), [3e-3] * 3)
    learn.freeze_to(-1)
    assert not model[0].weight.requires_grad and model[1].weight.requires_grad  # BN stays trainable
    assert not model[2].weight.requires_grad and model[3].weight.requires_grad
    learn.freeze_to(1)
    assert (
        not model[0].weight.requires_grad and model[2].weight.requires_grad and model[3].weight.requires_grad
    )
    learn.train_bn = False
    learn.freeze()
    assert not model[1].weight.requires_grad
    learn.unfreeze()
    assert all(p.requires_grad for p in model.parameters())
    # discriminative LRs reach the optimizer's groups
    learn.fit(1, slice(1e-4, 1e-2))
    by_group = {g["layer_group"]: g["lr"] for g in learn.opt.param_groups}
    np.testing.assert_allclose([by_group[i] for i in range(3)], [1e-4, 1e-3, 1e-2])


def test_frozen_groups_do_not_change():
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1), torch.nn.Flatten(0)
    )
    learn = Learner(regression_data(), model, loss_func=torch.nn.functional.mse_loss, silent=True)
    learn.split(lambda m: [[m[0]], [m[2]]])
    learn.freeze()
    w0 = model[0].weight.detach().clone()
    learn.fit(1, 1e-2)
    assert torch.equal(w0, model[0].weight)


def test_bn_wd_false_excludes_norm_and_bias():
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1), torch.nn.Flatten(0)
    )
    learn = Learner(
        regression_data(), model, loss_func=torch.nn.functional.mse_loss, silent=True, bn_wd=False, wd=0.1
    )
    learn.create_opt(1e-3)
    for g in learn.opt.param_groups:
        names = {id(p) for p in g["params"]}
        if g["weight_decay"] > 0:
            assert id(model[1].weight) not in names and id(model[0].bias) not in names

"""Two CPU processes with gloo train like one process on the same global batch."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from emberfit.core.data import DataBunch
from emberfit.core.distributed import init_distributed, is_main, shutdown_distributed
from emberfit.core.learner import Learner
from emberfit.core.metrics import rmse
from emberfit.core.seed import set_seed

from .helpers import Linear1, regression_tensors

GLOBAL_BS = 32


def make_learner(path):
    x, y = regression_tensors(512, seed=3)
    data = DataBunch.from_tensors(x[:384], y[:384], x[384:], y[384:], bs=GLOBAL_BS, device="cpu")
    set_seed(11)
    return Learner(
        data, Linear1(), loss_func=torch.nn.functional.mse_loss, metrics=[rmse], path=path, silent=True
    )


def _worker(r, ws, port, path, out):
    os.environ.update(RANK=str(r), WORLD_SIZE=str(ws), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    init_distributed("gloo")
    learn = make_learner(path)
    learn.to_distributed()
    learn.fit_one_cycle(2, 5e-2)
    learn.save("ddp")  # only rank 0 writes
    if is_main():
        torch.save(
            {
                "w": learn.model.lin.weight.detach(),
                "val": torch.tensor(learn.recorder.val_losses),
                "rmse": torch.tensor([m[0] for m in learn.recorder.metrics]),
            },
            out,
        )
    shutdown_distributed()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_gloo_processes_match_single_process(tmp_path):
    out = tmp_path / "ddp.pt"
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), str(out)), nprocs=2, join=True)
    res = torch.load(out, weights_only=True)

    single = make_learner(tmp_path / "single")
    single.fit_one_cycle(2, 5e-2)
    # Same global batches, gradients averaged by DDP: equal up to float reduction order.
    torch.testing.assert_close(res["w"], single.model.lin.weight.detach(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(res["val"], torch.tensor(single.recorder.val_losses), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(
        res["rmse"], torch.tensor([m[0] for m in single.recorder.metrics]), rtol=1e-4, atol=1e-6
    )
    assert (tmp_path / "models" / "ddp.safetensors").exists()

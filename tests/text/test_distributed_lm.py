"""ULMFiT under DistributedDataParallel: sharded text loaders, and 2 gloo processes training like one.

The language model is compared with single-process training on the same global batch with
every dropout at 0 (dropout masks come from each process's own RNG, so with dropout the two
runs are equally valid but not equal). AR/TAR stay on. Tolerance: rtol 1e-4 / atol 1e-5 on the
weights after 2 epochs (the only difference is the order of float sums in the gradient
average). The classifier has BatchNorm in its head, whose batch statistics are per process
under DDP, so it is checked for consistency (identical weights on both ranks, sharded
validation equal to an unsharded one), not against one process.
"""

import dataclasses
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from emberfit.core.distributed import init_distributed, shutdown_distributed
from emberfit.core.seed import set_seed
from emberfit.text.corpus import clas_databunch_from_arrays, lm_databunch_from_arrays
from emberfit.text.learner import language_model_learner, text_classifier_learner
from emberfit.text.loaders import LMLoader, SortishLoader
from emberfit.text.models import AWD_LSTM, awd_lstm_small_clas_config, awd_lstm_small_lm_config

TINY = dataclasses.replace(awd_lstm_small_lm_config, emb_sz=16, n_hid=24)
TINY_CLAS = dataclasses.replace(awd_lstm_small_clas_config, emb_sz=16, n_hid=24)
V = 20
ITOS = ["xxunk", "xxpad", "xxbos"] + [f"w{i}" for i in range(V - 3)]


def corpus(n_docs=40, seed=0):
    """Documents of a noisy counting pattern (learnable), ragged."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n_docs):
        start, n = rng.integers(3, V), rng.integers(8, 30)
        seq = (start + np.arange(n)) % (V - 3) + 3
        seq[rng.random(n) < 0.1] = rng.integers(3, V)
        docs.append(np.concatenate([[2], seq]))
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    return np.concatenate(docs).astype(np.int32), offsets


def make_lm(path):
    ids, offsets = corpus()
    data = lm_databunch_from_arrays(ids, offsets, ITOS, np.arange(32), np.arange(32, 40), bs=8, val_bs=4, bptt=7,
                                    device="cpu", path=path)  # fmt: skip
    set_seed(3)
    return language_model_learner(data, AWD_LSTM, config=TINY, drop_mult=0.0, pretrained=False, silent=True)


def make_clas(path):
    ids, offsets = corpus(60, seed=1)
    labels = (np.diff(offsets) > 20).astype(np.int64)  # long or short document
    data = clas_databunch_from_arrays(ids, offsets, labels, ["short", "long"], ITOS, np.arange(44), np.arange(44, 60),
                                      bs=8, val_bs=6, device="cpu", path=path)  # fmt: skip
    set_seed(4)
    return text_classifier_learner(
        data, AWD_LSTM, config=TINY_CLAS, drop_mult=0.0, pretrained=False, silent=True
    )


def lm_loader():
    ids, offsets = corpus()
    return LMLoader(ids, offsets, bs=4, bptt=6, shuffle=True, bptt_jitter=True)


def sortish_loader(shuffle=True):
    ids, offsets = corpus(37, seed=2)
    return SortishLoader(ids, offsets, torch.arange(37), bs=6, shuffle=shuffle, drop_last=shuffle)


# ------------------------------------------------------------------------ loaders, one process
def test_lm_shards_partition_the_streams():
    set_seed(0)
    full = list(lm_loader())
    shards = []
    for r in range(2):
        set_seed(0)
        shards.append(list(lm_loader().shard(r, 2)))
    assert len(shards[0]) == len(shards[1]) == len(full)
    for (x, y), (x0, y0), (x1, y1) in zip(full, *shards):
        torch.testing.assert_close(x[0::2], x0)  # rank r reads streams r, r+2, ...
        torch.testing.assert_close(x[1::2], x1)
        torch.testing.assert_close(y[0::2], y0)
        torch.testing.assert_close(y[1::2], y1)
    with pytest.raises(ValueError, match="bs=4 is not a multiple of world_size=3"):
        lm_loader().shard(0, 3)
    with pytest.raises(ValueError, match="rank must be < world_size"):
        lm_loader().shard(2, 2)
    valid = LMLoader(*corpus(), bs=3, bptt=6)  # validation: unequal shares are fine, none lost
    rows = [sum(x.shape[0] for x, _ in valid.shard(r, 2)) for r in range(2)]
    assert sum(rows) == sum(x.shape[0] for x, _ in valid)


@pytest.mark.parametrize("shuffle", [True, False])
def test_sortish_shards_partition_each_batch(shuffle):
    set_seed(1)
    full = [yb for _, yb in sortish_loader(shuffle)]
    parts = []
    for r in range(2):
        set_seed(1)
        parts.append([yb for _, yb in sortish_loader(shuffle).shard(r, 2)])
    assert len(parts[0]) == len(full)
    if not shuffle:  # validation: a last batch smaller than world_size leaves rank 1 out
        parts[1] += [torch.zeros(0, dtype=torch.long)] * (len(full) - len(parts[1]))
    for yb, y0, y1 in zip(full, *parts):
        assert sorted(torch.cat([y0, y1]).tolist()) == sorted(yb.tolist())  # nothing duplicated or lost
        assert len(y0) == len(y1) or not shuffle  # training: equal shares


def test_sortish_training_shards_keep_equal_shares():
    ids, offsets = corpus(13, seed=2)  # 13 docs, bs 5, no drop_last: batches of 5, 5 and 3
    dl = SortishLoader(ids, offsets, torch.arange(13), bs=5, shuffle=True)
    sizes = []
    for r in range(2):
        set_seed(2)
        sizes.append([len(yb) for _, yb in dl.shard(r, 2)])
    assert sizes[0] == sizes[1] and sum(sizes[0]) * 2 == 10  # each odd batch leaves one row out


# ------------------------------------------------------------------------------- two processes
def _worker(r, ws, port, path, out):
    os.environ.update(RANK=str(r), WORLD_SIZE=str(ws), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    init_distributed("gloo")
    res = {}
    # the ranks' RNGs drift apart (rank 1 draws more), yet they read the same shuffled epoch
    set_seed(0)
    dl = lm_loader().shard(r, ws)
    if r == 1:
        torch.rand(13)
    res["lm_x"] = torch.cat([x.reshape(-1) for x, _ in dl])
    set_seed(1)
    dl = sortish_loader().shard(r, ws)
    if r == 0:
        torch.rand(5)
    res["sortish_y"] = [yb for _, yb in dl]

    learn = make_lm(path)
    learn.to_distributed()
    learn.fit_one_cycle(2, 1e-2, moms=(0.8, 0.7))
    res["lm_w"] = {k: v.detach().clone() for k, v in learn.model.state_dict().items()}
    res["lm_val"] = torch.tensor(learn.recorder.val_losses)
    res["lm_mets"] = torch.tensor(learn.recorder.metrics)

    clas = make_clas(path)
    clas.to_distributed()
    clas.fit_one_cycle(2, 1e-2)
    res["clas_w"] = {k: v.detach().clone() for k, v in clas.model.state_dict().items()}
    res["clas_ddp_valid"] = [clas.recorder.val_losses[-1], clas.recorder.metrics[-1][0]]
    res["clas_single_valid"] = clas.validate()  # after fit: unsharded, this process alone
    torch.save(res, f"{out}.{r}")
    shutdown_distributed()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_gloo_processes_train_the_lm_like_one(tmp_path):
    out = str(tmp_path / "res")
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), out), nprocs=2, join=True)
    res = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]

    # loaders: the two ranks' shares make up the single-process epoch exactly
    set_seed(0)
    full = list(lm_loader())
    for r in range(2):
        torch.testing.assert_close(res[r]["lm_x"], torch.cat([x[r::2].reshape(-1) for x, _ in full]))
    set_seed(1)
    torch.rand(5)  # rank 0's state, which every rank took
    for yb, y0, y1 in zip(
        [yb for _, yb in sortish_loader()], res[0]["sortish_y"], res[1]["sortish_y"], strict=True
    ):
        assert sorted(torch.cat([y0, y1]).tolist()) == sorted(yb.tolist())

    # the language model: as one process on the same global batch
    single = make_lm(tmp_path / "single")
    single.fit_one_cycle(2, 1e-2, moms=(0.8, 0.7))
    sd = single.model.state_dict()
    for k, v in res[0]["lm_w"].items():
        torch.testing.assert_close(v, sd[k], rtol=1e-4, atol=1e-5, msg=k)
        torch.testing.assert_close(res[1]["lm_w"][k], v, rtol=0, atol=0)
    torch.testing.assert_close(
        res[0]["lm_val"], torch.tensor(single.recorder.val_losses), rtol=1e-4, atol=1e-5
    )
    torch.testing.assert_close(res[0]["lm_mets"], torch.tensor(single.recorder.metrics), rtol=1e-4, atol=1e-5)
    assert res[0]["lm_val"][-1] < res[0]["lm_val"][0]  # it learned something

    # the classifier: same weights on both ranks; sharded + reduced validation = one process's
    for k, v in res[0]["clas_w"].items():
        torch.testing.assert_close(res[1]["clas_w"][k], v, rtol=0, atol=0, msg=k)
    ddp, one = res[0]["clas_ddp_valid"], res[0]["clas_single_valid"]
    assert abs(ddp[0] - one[0]) < 1e-5 and abs(ddp[1] - one[1]) < 1e-6

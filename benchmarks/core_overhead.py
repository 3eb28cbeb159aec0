"""Framework overhead of the Learner loop against a plain PyTorch loop doing the same work.

A tiny MLP on synthetic regression data, so that per-batch Python work dominates. Both
sides shuffle with torch.randperm, slice batches from the same contiguous tensors, use
AdamW(betas=(0.9, 0.99)) and run forward, MSE loss, backward, step, zero_grad. The
Learner side runs ``fit_one_cycle`` (schedule updates every batch), the Recorder (loss
smoothing, NaN guard) and the progress callback, plus a validation pass per epoch that
the plain loop also does.

    python benchmarks/core_overhead.py [--batches 2000] [--bs 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from emberfit.core.data import DataBunch
from emberfit.core.learner import Learner
from emberfit.core.seed import set_seed


def make_model(n_in: int) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, 32), nn.ReLU(), nn.Linear(32, 1), nn.Flatten(0))


def plain_loop(model, x, y, xv, yv, bs, lr, fused):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=1e-2, fused=fused)
    n = x.shape[0]
    model.train()
    perm = torch.randperm(n)
    for i in range(n // bs):
        idx = perm[i * bs : (i + 1) * bs]
        loss = nn.functional.mse_loss(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad():
        tot = 0.0
        for i in range(0, xv.shape[0], bs):
            tot += float(nn.functional.mse_loss(model(xv[i : i + bs]), yv[i : i + bs])) * len(yv[i : i + bs])
    return tot / xv.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=2000)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-in", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(1)  # tiny matrices: threads only add noise
    set_seed(0)
    n = args.batches * args.bs
    x = torch.randn(n, args.n_in)
    y = x[:, :4].sum(1) + 0.1 * torch.randn(n)
    xv, yv = x[: n // 10], y[: n // 10]
    data = DataBunch.from_tensors(x, y, xv, yv, bs=args.bs, device="cpu")
    data.train_dl.drop_last = True
    n_valid_batches = len(data.valid_dl)

    plain, plain_unfused, ours = [], [], []
    for r in range(args.repeats):
        for fused, out in ((True, plain), (False, plain_unfused)):
            set_seed(r)
            model = make_model(args.n_in)
            t0 = time.perf_counter()
            plain_loop(model, x, y, xv, yv, args.bs, 1e-3, fused)
            out.append(time.perf_counter() - t0)

        set_seed(r)
        learn = Learner(data, make_model(args.n_in), loss_func=nn.functional.mse_loss)
        learn.silent = False
        t0 = time.perf_counter()
        learn.fit_one_cycle(1, 1e-3)
        ours.append(time.perf_counter() - t0)

    per = (
        args.batches + n_valid_batches * 0.3
    )  # validation batches are ~3x cheaper; report per training batch
    p, pu, o = statistics.median(plain), statistics.median(plain_unfused), statistics.median(ours)
    print(
        f"\ncore overhead: tiny MLP ({args.n_in}->32->1), bs={args.bs}, {args.batches} train batches, "
        f"median of {args.repeats}, torch {torch.__version__}, 1 thread"
    )
    print(f"{'loop':<28}{'s/epoch':>10}{'us/batch':>12}{'overhead':>10}")
    print(f"{'plain PyTorch, fused AdamW':<28}{p:>10.3f}{1e6 * p / per:>12.1f}{'(base)':>10}")
    print(
        f"{'plain PyTorch, torch default':<28}{pu:>10.3f}{1e6 * pu / per:>12.1f}{100 * (pu / p - 1):>9.1f}%"
    )
    print(f"{'emberfit Learner (1cycle)':<28}{o:>10.3f}{1e6 * o / per:>12.1f}{100 * (o / p - 1):>9.1f}%")


if __name__ == "__main__":
    main()

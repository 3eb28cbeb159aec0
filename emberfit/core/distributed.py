"""Training on several processes with PyTorch's own DistributedDataParallel (launched by torchrun).

``torchrun --nproc_per_node=N script.py`` starts N processes; in the script::

    from emberfit.core.distributed import init_distributed
    init_distributed()                      # NCCL on GPUs, gloo on CPU; a no-op without torchrun
    set_seed(42)                            # the same seed on every rank (shared shuffling)
    learn = ...; learn.to_distributed()
    learn.fit_one_cycle(...)
    shutdown_distributed()                  # every rank, at the end

Each rank reads its own share of every batch: the loaders draw the *same* global batch on
all ranks (same seed) and each rank keeps rows ``rank::world_size`` of it, so the global batch
is the one a single process would see, and DDP's gradient average equals the single-process
gradient. Loaders opt in by implementing ``shard(rank, world_size)``. Validation is sharded
too; losses and metric states are summed across ranks before they are reported. Only rank 0
shows progress and writes files.
"""

from __future__ import annotations

import gc
import os
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "init_distributed",
    "shutdown_distributed",
    "rank",
    "world_size",
    "is_main",
    "all_sum",
    "unwrap",
]


def init_distributed(backend: str | None = None) -> tuple[int, int]:
    """Join the process group that torchrun set up (env ``RANK``/``WORLD_SIZE``); returns (rank, world_size).

    >>> init_distributed()  # a plain `python script.py` (no torchrun): nothing to join, (rank, world_size)
    (0, 1)
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    ws = int(os.environ.get("WORLD_SIZE", "1"))
    if ws <= 1:
        return 0, 1
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def shutdown_distributed() -> None:
    """Leave the process group: wait for every rank, then destroy it (a no-op without one).

    Why: the DDP wrapper a fit leaves behind can sit in a reference cycle that still holds the
    process group; freed only at interpreter exit, gloo's threads then abort the process
    (SIGABRT, "terminate called without an active exception") after a run that succeeded.
    Collecting it first, and leaving together, ends the run cleanly.

    >>> shutdown_distributed()  # not distributed: nothing to do
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    gc.collect()
    if dist.get_world_size() > 1:
        dist.barrier()
    dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if _active() else 0


def world_size() -> int:
    return dist.get_world_size() if _active() else 1


def is_main() -> bool:
    """True on rank 0 (or when not distributed): the process that logs and writes files."""
    return rank() == 0


def all_sum(values: list[float], device: torch.device | str = "cpu") -> list[float]:
    """Sum a list of floats over all ranks (identity when not distributed)."""
    if not _active():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (small, picklable-by-torch, *internal* objects only: metric states)."""
    if not _active():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model

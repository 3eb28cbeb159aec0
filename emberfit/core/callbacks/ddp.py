"""DistributedDataParallel for the length of a fit (``learn.to_distributed()``; see :mod:`emberfit.core.distributed`)."""

from __future__ import annotations

import torch

from ..distributed import rank, world_size
from .base import Callback

__all__ = ["DistributedTrainer"]


class DistributedTrainer(Callback):
    """Wraps the model in DDP and shards the loaders for the duration of a fit."""

    order = -30

    def __init__(self, find_unused_parameters: bool = False):
        self.find_unused = find_unused_parameters

    def before_fit(self):
        learn = self.learn
        self.r, self.ws = rank(), world_size()
        if self.ws == 1:
            return
        self.saved = (learn.model, learn.data.train_dl, learn.data.valid_dl)
        for name in ("train_dl", "valid_dl"):
            dl = getattr(learn.data, name)
            if dl is None:
                continue
            if not hasattr(dl, "shard"):
                raise TypeError(
                    f"{type(dl).__name__} cannot be sharded across ranks (it has no shard(rank, world_size))"
                )
            setattr(learn.data, name, dl.shard(self.r, self.ws))
        dev = learn.data.device
        ids = (
            [dev.index if dev.index is not None else torch.cuda.current_device()]
            if dev.type == "cuda"
            else None
        )
        learn.model = torch.nn.parallel.DistributedDataParallel(
            learn.model, device_ids=ids, find_unused_parameters=self.find_unused
        )

    def after_fit(self):
        if self.ws == 1:
            return
        learn = self.learn
        learn.model, learn.data.train_dl, learn.data.valid_dl = self.saved

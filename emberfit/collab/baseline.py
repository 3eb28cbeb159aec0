"""Training-set statistics a :class:`~emberfit.collab.learner.CollabLearner` keeps.

The cold-start baseline (a global mean and damped user / item biases, see
:mod:`emberfit.collab.models`), each item's rating count and mean (for ``most_liked``), and
which items each user already rated (what ``recommend`` skips). They are computed once from
the ratings the data's loaders hold, when the learner is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.data import DataBunch

__all__ = ["BASELINE_SHRINK", "RatingStats", "rating_stats", "loader_ratings"]

BASELINE_SHRINK = 10.0
"""Damping of the cold-start biases: ``b = sum(r - mean) / (n + 10)``, so an id with few ratings stays near the mean."""


@dataclass
class RatingStats:
    """What :func:`rating_stats` learns from the ratings (row 0 of every table is ``#na#``)."""

    global_mean: float
    user_base: torch.Tensor  # (n_users,) damped mean deviation of each user
    item_base: torch.Tensor  # (n_items,) same for each item
    item_counts: torch.Tensor  # (n_items,) training ratings per item
    item_mean: torch.Tensor  # (n_items,) mean training rating per item
    seen_ptr: torch.Tensor  # (n_users + 1,) CSR row pointers into seen_items
    seen_items: torch.Tensor  # items each user rated in train or valid, grouped by user


def loader_ratings(data: DataBunch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(train pairs, train ratings, valid pairs)`` on the CPU, from the data's loaders.

    The pairs are ``(n, 2)`` int64 ``(user, item)`` indices, the ratings float64. A bunch
    without a training loader (an exported learner's) gives empty tensors.
    """
    none = torch.zeros(0, 2, dtype=torch.long)
    train, valid = data.train_dl, data.valid_dl
    if train is None:
        return none, torch.zeros(0, dtype=torch.float64), none
    valid_pairs = valid.x.cpu() if valid is not None else none
    return train.x.cpu(), train.y.cpu().double(), valid_pairs


def rating_stats(
    pairs: torch.Tensor, ratings: torch.Tensor, valid_pairs: torch.Tensor, n_users: int, n_items: int
) -> RatingStats:
    """The baseline, item counts and means from the training ``pairs`` / ``ratings``; seen items from both splits."""
    mu = float(ratings.mean())
    dev = ratings - mu
    u_sum = torch.zeros(n_users, dtype=torch.float64).index_add_(0, pairs[:, 0], dev)
    i_sum = torch.zeros(n_items, dtype=torch.float64).index_add_(0, pairs[:, 1], dev)
    u_cnt = torch.bincount(pairs[:, 0], minlength=n_users).double()
    i_cnt = torch.bincount(pairs[:, 1], minlength=n_items).double()
    # items each user rated, in train or valid, as CSR (ptr, indices): what recommend() skips
    known = torch.cat([pairs, valid_pairs]) if len(valid_pairs) else pairs
    known = known[(known != 0).all(1)]
    known = known[torch.argsort(known[:, 0], stable=True)]
    return RatingStats(
        global_mean=mu,
        user_base=(u_sum / (u_cnt + BASELINE_SHRINK)).float(),
        item_base=(i_sum / (i_cnt + BASELINE_SHRINK)).float(),
        item_counts=i_cnt.long(),
        item_mean=((i_sum + mu * i_cnt) / i_cnt.clamp(min=1)).float(),
        seen_ptr=torch.cat(
            [torch.zeros(1, dtype=torch.long), torch.bincount(known[:, 0], minlength=n_users).cumsum(0)]
        ),
        seen_items=known[:, 1].clone(),
    )

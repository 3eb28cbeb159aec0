"""The collaborative-filtering part of ``emberfit demo``: the lesson's MovieLens-sample run, in seconds on a CPU.

>>> # rows = run_demo(); rows[0]['metric']
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from ..core.download import URLs, untar_data
from ..core.metrics import rmse
from ..core.reporting import Stages
from ..core.seed import set_seed
from .data import CollabDataBunch
from .learner import collab_learner

__all__ = ["run_demo"]


def run_demo(verbose: bool = False, seed: int = 42) -> list[dict]:
    """Run the lesson's setting (``from_df(ratings, seed=42)``, ``n_factors=50``, ``y_range=[0, 5.5]``, 3 epochs).

    Returns rows ``{'app', 'dataset', 'metric', 'value', 'seconds'}``: the validation RMSE
    (with data building and training time), the RMSE of always predicting the training mean
    (the bar the model has to clear), and a cold-start prediction for a user never seen.
    Runs on the CPU with one intra-op thread (fastest for this small model; restored after).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        set_seed(seed)
        stage = Stages("collab", 3, quiet=not verbose)
        start = time.perf_counter()
        with stage("ratings.csv -> CollabDataBunch.from_df(ratings, seed=42)"):
            path = untar_data(URLs.ML_SAMPLE)
            ratings = pd.read_csv(path / "ratings.csv")
            data = CollabDataBunch.from_df(ratings, seed=42, device="cpu")
        with stage("collab_learner(data, n_factors=50, y_range=[0, 5.5]).fit_one_cycle(3, 5e-3), 1 thread"):
            learn = collab_learner(data, n_factors=50, y_range=[0, 5.5], metrics=[rmse], silent=not verbose)
            learn.fit_one_cycle(3, 5e-3)
        valid_rmse = float(learn.recorder.history()["rmse"].iloc[-1])
        seconds = time.perf_counter() - start
        valid_y = torch.as_tensor(data.valid_ds.y.items)
        mean_rmse = float(((valid_y - float(data.train_ds.y.items.mean())) ** 2).mean().sqrt())
        t = time.perf_counter()
        with stage("learn.predict((new user, movie)): a cold-start rating"):
            cold = learn.predict((-1, int(ratings.movieId.iloc[0])))
        pred_seconds = time.perf_counter() - t
    finally:
        torch.set_num_threads(threads)
    base = {"app": "collab", "dataset": "movie_lens_sample"}
    return [
        {**base, "metric": "valid RMSE", "value": round(valid_rmse, 4), "seconds": round(seconds, 2)},
        {**base, "metric": "valid RMSE of the mean", "value": round(mean_rmse, 4), "seconds": 0.0},
        {
            **base,
            "metric": "new user, cold-start rating",
            "value": round(cold.rating, 4),
            "seconds": round(pred_seconds, 3),
        },
    ]

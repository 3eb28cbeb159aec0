"""The tabular part of ``emberfit demo``: the lesson's Adult-sample run, in seconds on a CPU.

>>> # rows = run_demo(); rows[0]['metric']
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from ..core.download import URLs, untar_data
from ..core.metrics import accuracy
from ..core.reporting import Stages
from ..core.seed import set_seed
from .data import TabularList
from .learner import tabular_learner
from .procs import Categorify, FillMissing, Normalize

__all__ = ["run_demo"]

CAT_NAMES = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
CONT_NAMES = ["age", "fnlwgt", "education-num"]


def run_demo(verbose: bool = False, seed: int = 42) -> list[dict]:
    """Run the lesson's setting (rows 800..999 validate, ``layers=[200,100]``, ``fit(1, 1e-2)``).

    Returns rows ``{'app', 'dataset', 'metric', 'value', 'seconds'}``: validation accuracy
    (with data building and training time) and the prediction for ``df.iloc[0]``.
    Runs on the CPU with one intra-op thread (fastest for this small model; restored after).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        set_seed(seed)
        stage = Stages("tabular", 3, quiet=not verbose)
        start = time.perf_counter()
        with stage("adult.csv -> TabularList (FillMissing, Categorify, Normalize), rows 800-999 valid"):
            path = untar_data(URLs.ADULT_SAMPLE)
            df = pd.read_csv(path / "adult.csv")
            data = (
                TabularList.from_df(
                    df,
                    path=path,
                    cat_names=CAT_NAMES,
                    cont_names=CONT_NAMES,
                    procs=[FillMissing, Categorify, Normalize],
                )
                .split_by_idx(list(range(800, 1000)))
                .label_from_df(cols="salary")
                .databunch(device="cpu")
            )
        with stage("tabular_learner(data, layers=[200, 100]).fit(1, 1e-2), 1 thread"):
            learn = tabular_learner(data, layers=[200, 100], metrics=accuracy, silent=not verbose)
            learn.fit(1, 1e-2)
        acc = float(learn.recorder.history()["accuracy"].iloc[-1])
        seconds = time.perf_counter() - start
        t = time.perf_counter()
        with stage("learn.predict(df.iloc[0])"):
            cls, _, probs = learn.predict(df.iloc[0])
        pred_seconds = time.perf_counter() - t
    finally:
        torch.set_num_threads(threads)
    base = {"app": "tabular", "dataset": "adult_sample"}
    return [
        {**base, "metric": "valid accuracy", "value": round(acc, 4), "seconds": round(seconds, 2)},
        {
            **base,
            "metric": f"predict(df.iloc[0]): P({cls})",
            "value": round(float(probs.max()), 4),
            "seconds": round(pred_seconds, 3),
        },
    ]

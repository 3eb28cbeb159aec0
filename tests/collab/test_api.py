"""The facade exports exactly its list, and the demo row the ``emberfit demo`` table shows."""

import emberfit.collab as collab
from emberfit.core import __all__ as core_all


def test_star_import_gives_exactly_all():
    ns: dict = {}
    exec("from emberfit.collab import *", ns)
    names = {n for n in ns if n != "__builtins__"}
    assert names == set(collab.__all__)
    assert set(core_all) <= names
    for n in (
        "CollabDataBunch",
        "collab_learner",
        "EmbeddingDotBias",
        "EmbeddingNN",
        "untar_data",
        "URLs",
        "rmse",
    ):
        assert n in names
    assert not {"warnings", "asdict", "BASELINE_SHRINK"} & names  # partial: fastai v1's star import gave it


def test_demo_rows(monkeypatch):
    from emberfit.collab.demo import run_demo

    rows = run_demo()
    assert {tuple(sorted(r)) for r in rows} == {("app", "dataset", "metric", "seconds", "value")}
    by_metric = {r["metric"]: r["value"] for r in rows}
    assert rows[0]["app"] == "collab" and rows[0]["dataset"] == "movie_lens_sample"
    assert by_metric["valid RMSE"] < 0.95 * by_metric["valid RMSE of the mean"]
    assert 0.5 <= by_metric["new user, cold-start rating"] <= 5.0


def test_docstring_examples_run():
    """Every docstring example runs; the learner's method examples use the module example's ``learn``."""
    import doctest

    import pandas as pd

    from emberfit.collab import (
        CollabDataBunch,
        baseline,
        collab_learner,
        data,
        demo,
        interpret,
        learner,
        models,
        predict,
        processor,
    )

    df = pd.DataFrame(
        {"user": [1, 1, 2, 2, 3, 3, 4, 4], "item": list("abacbcab"), "rating": [5.0, 3, 4, 2, 1, 4, 5, 3]}
    )
    learn = collab_learner(
        CollabDataBunch.from_df(df, valid_pct=0, bs=4, device="cpu"), n_factors=3, silent=True
    )
    learn.fit(2, 1e-2)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    learner_examples = 0  # the learner's examples, wherever its methods live
    for mod in (processor, data, baseline, models, learner, interpret, predict, demo):
        # the examples run with the facade's names in scope, as tests/test_doc_examples.py runs them
        res = doctest.testmod(mod, optionflags=flags, extraglobs={**vars(collab), "learn": learn, "pd": pd})
        assert res.failed == 0, f"{mod.__name__}: {res.failed} doctest failure(s)"
        if mod in (learner, interpret, predict):
            learner_examples += res.attempted
    assert learner_examples >= 15

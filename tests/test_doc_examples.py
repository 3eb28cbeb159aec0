"""Every public function and class of the facades has a docstring example, and the example runs.

The names are the facades' ``__all__`` (``emberfit.core``, ``.text``, ``.tabular``, ``.collab``), keeping the
functions and classes defined inside emberfit: re-exported third-party names (np, pd, torch, nn, F, plt...),
constants, enum members and plain instances (``defaults``, ``awd_lstm_lm_config``) are left out. Each object
is checked once, under the first facade that exports it, with that facade's namespace as the example's
globals (what ``from emberfit.<facade> import *`` gives a notebook). The examples run with ELLIPSIS and
NORMALIZE_WHITESPACE in a temporary working directory.

``python tools/missing_examples.py`` lists the names still without a runnable example and where they are
defined; the logic lives there and is shared with this file.
"""

import doctest
import importlib.util
import sys
from pathlib import Path

import pytest

_TOOL = Path(__file__).resolve().parents[1] / "tools" / "missing_examples.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("emberfit_missing_examples", _TOOL)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


me = _load_tool()
ITEMS = me.public_objects()
# Examples that take seconds on a 2-CPU machine (none at present); their names go here.
SLOW: set[str] = set()


def _param(item):
    marks = [pytest.mark.slow] if item.qualname in SLOW else []
    return pytest.param(item, id=item.qualname, marks=marks)


@pytest.mark.parametrize("item", [_param(it) for it in ITEMS])
def test_public_name_has_a_runnable_example(item, tmp_path):
    reason = me.missing_reason(item.obj)
    assert reason is None, (
        f"{item.qualname} ({me.where(item.obj)}): {reason}; add a short '>>> ' example to its docstring "
        "that runs under doctest (see tools/missing_examples.py)"
    )
    globs = vars(importlib.import_module(item.facade))
    tried, failed, report = me.run_examples(item.obj, item.qualname, globs, tmp_path)
    assert tried, f"{item.qualname} ({me.where(item.obj)}): doctest found no example to run"
    assert not failed, f"{item.qualname} ({me.where(item.obj)}): its example fails under doctest\n{report}"


# ---------------------------------------------------------------- the checker itself, on made-up objects
def _documented(doc):
    def f():
        pass

    f.__doc__ = doc
    f.__module__ = "emberfit.fake"
    return f


def test_checker_sorts_docstrings():
    assert me.missing_reason(_documented(None)) == "no docstring"
    assert me.missing_reason(_documented("Only prose.")).startswith("no example")
    commented = "Fit.\n\n>>> # learn.fit(1)\n>>> #another comment\n"
    assert me.missing_reason(_documented(commented)).startswith("only commented-out")
    assert me.missing_reason(_documented("Add.\n\n>>> 1 + 1  # two\n2\n")) is None


def test_checker_runs_examples_with_the_facade_globals_in_the_given_directory(tmp_path):
    ok = _documented(
        ">>> np.arange(12)\narray([ 0,  1,  2, ...,  11])\n>>> Path('x.txt').write_text('a')\n1\n"
    )
    tried, failed, report = me.run_examples(
        ok, "ok", {"np": pytest.importorskip("numpy"), "Path": Path}, tmp_path
    )
    assert (tried, failed) == (2, 0), report
    assert (tmp_path / "x.txt").exists()  # the example ran in the temporary directory
    bad = _documented(">>> 1 + 1\n3\n")
    tried, failed, report = me.run_examples(bad, "bad", {}, tmp_path)
    assert (tried, failed) == (1, 1) and "Expected:\n    3" in report


def test_checker_keeps_only_emberfit_functions_and_classes():
    import emberfit.core as core
    import emberfit.text as text

    assert me.is_own(core.Learner) and me.is_own(core.accuracy)
    assert me.is_own(core.rmse) and me.is_own(core.RMSE)  # fastai v1's metric function, and its class
    assert not me.is_own(core.np) and not me.is_own(core.nn.Linear) and not me.is_own(doctest.testmod)
    assert not me.is_own(core.RMSE()) and not me.is_own(text.awd_lstm_lm_config)  # emberfit class instances
    assert not me.is_own(core.defaults)  # a plain instance (v1's settings namespace)
    names = {it.name for it in ITEMS}
    assert "Learner" in names and "rmse" in names and "np" not in names and "torch" not in names
    assert "defaults" not in names and "awd_lstm_lm_config" not in names
    assert len({id(it.obj) for it in ITEMS}) == len(ITEMS), "an object is checked twice"

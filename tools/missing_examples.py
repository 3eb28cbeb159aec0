"""Which public names of the facades still lack a runnable doctest example, and where they are defined.

Usage: ``python tools/missing_examples.py [--no-run]`` (from anywhere).

For each facade (``emberfit.core``, ``emberfit.text``, ``emberfit.tabular``, ``emberfit.collab``) it lists
the functions and classes of ``__all__`` defined inside emberfit whose own docstring has no ``>>>``
example, has only commented-out ones (``>>> # learn.fit(...)``), or whose example fails under doctest
(run as ``tests/test_doc_examples.py`` runs it: the facade's namespace as globals, ELLIPSIS and
NORMALIZE_WHITESPACE, in a temporary working directory). A name re-exported by an application facade
is listed once, under the facade that exports it first (core before the applications).
``--no-run`` skips running the examples (only the missing / commented-out ones are listed).
Exit status 1 when something is listed. ``tests/test_doc_examples.py`` uses the functions below.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import io
import os
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FACADES = ("emberfit.core", "emberfit.text", "emberfit.tabular", "emberfit.collab")
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Public:
    """One documented object: the facade that exports it first, its name there, and the object."""

    facade: str
    name: str
    obj: Any

    @property
    def qualname(self) -> str:
        return f"{self.facade}.{self.name}"


def is_own(obj: Any) -> bool:
    """A function or class defined inside emberfit (not np, torch, Path from pathlib, constants, instances)."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return False
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "emberfit"


def public_objects(facades: tuple[str, ...] = FACADES) -> list[Public]:
    """The facades' own functions and classes, each once, under the first facade exporting it."""
    seen: set[int] = set()
    out = []
    for facade in facades:
        mod = importlib.import_module(facade)
        for name in mod.__all__:
            obj = getattr(mod, name, None)
            if is_own(obj) and id(obj) not in seen:
                seen.add(id(obj))
                out.append(Public(facade, name, obj))
    return out


def real_examples(doc: str | None) -> list[doctest.Example]:
    """The ``>>>`` examples of ``doc`` that hold code, not only comments."""
    if not doc:
        return []
    examples = doctest.DocTestParser().get_examples(doc)

    def has_code(ex: doctest.Example) -> bool:
        lines = [ln.strip() for ln in ex.source.splitlines()]
        return any(ln and not ln.startswith("#") for ln in lines)

    return [ex for ex in examples if has_code(ex)]


def missing_reason(obj: Any) -> str | None:
    """Why ``obj`` has no example to run (None when it has one)."""
    doc = obj.__doc__ if isinstance(obj.__doc__, str) else None
    if not doc or not doc.strip():
        return "no docstring"
    if ">>>" not in doc:
        return "no example (no '>>> ' in the docstring)"
    if not real_examples(doc):
        return "only commented-out examples ('>>> # ...')"
    return None


def run_examples(obj: Any, name: str, globs: dict, cwd: str | os.PathLike) -> tuple[int, int, str]:
    """Run the examples of ``obj``'s own docstring in ``cwd``: (attempted, failed, doctest's report)."""
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(verbose=False, optionflags=OPTIONFLAGS)
    out = io.StringIO()
    old = os.getcwd()
    _seed_everything(0)
    try:
        os.chdir(cwd)
        for test in finder.find(obj, name, module=False, globs=dict(globs)):
            runner.run(test, out=out.write)
    finally:
        os.chdir(old)
    return runner.tries, runner.failures, out.getvalue()


def _seed_everything(seed: int) -> None:
    """The same random numbers whatever ran before (examples should still not depend on them)."""
    random.seed(seed)
    try:
        import numpy as np
        import torch

        np.random.seed(seed)
        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - both are dependencies of emberfit
        pass


def where(obj: Any) -> str:
    """``path:line`` of the definition of ``obj``, relative to the repository when inside it."""
    try:
        path = Path(inspect.getsourcefile(obj) or "?").resolve()
        line = inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return f"{obj.__module__} (source not found)"
    try:
        path = path.relative_to(REPO)
    except ValueError:
        pass
    return f"{path}:{line}"


def problem(item: Public, cwd: str | os.PathLike | None, run: bool = True) -> str | None:
    """What is wrong with ``item``'s example (None when it has one that runs; not run when ``run`` is False)."""
    reason = missing_reason(item.obj)
    if reason or not run:
        return reason
    globs = vars(importlib.import_module(item.facade))
    _, failed, report = run_examples(item.obj, item.qualname, globs, cwd or ".")
    return f"example fails ({failed} failure(s))\n{report}" if failed else None


def main(argv: list[str]) -> int:
    run = "--no-run" not in argv
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as cwd:
        os.environ.setdefault("EMBERFIT_OFFLINE", "1")
        os.environ["EMBERFIT_HOME"] = home  # examples never touch ~/.emberfit
        import matplotlib

        matplotlib.use("Agg")
        items = public_objects()
        total = 0
        for facade in FACADES:
            mine = [it for it in items if it.facade == facade]
            bad = [(it, problem(it, cwd, run)) for it in mine]
            bad = [(it, why) for it, why in bad if why]
            total += len(bad)
            print(f"{facade}: {len(bad)} of {len(mine)} names without a runnable example")
            for it, why in bad:
                print(f"  {it.name:<28} {where(it.obj):<46} {why.splitlines()[0]}")
    print(f"total: {total} of {len(items)}" + ("" if run else " (examples not run: --no-run)"))
    return 1 if total else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(sys.argv[1:]))

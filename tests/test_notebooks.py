"""The tutorial notebooks in ``docs/`` run top to bottom in a real Jupyter kernel, and render like fastai's.

Each notebook runs in a fresh ``python3`` kernel (nbclient + ipykernel, from the ``test`` extra) in a
temporary folder, as ``tools/notebooks.py`` runs it; a cell that raises fails the test with the cell
and the error. In the kernel, training must show its progress as HTML (``display_data`` with
``text/html``, updated in place into the final results table), not only as text; the cell tagged
``readme-image`` must draw the picture the README shows. Marked ``notebook`` and ``slow``: skip them
while iterating with ``-m "not notebook"`` (or ``-m "not slow"``). The fast checks at the end keep the
committed notebooks small (no outputs) and the README's links to them whole.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_TOOL = ROOT / "tools" / "notebooks.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("emberfit_notebooks_tool", _TOOL)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


nbt = _load_tool()


def progress_tables(nb) -> list[str]:
    """The HTML of every progress display the kernel received (in its final, updated state)."""
    return [
        out["data"]["text/html"]
        for _, out in nbt.outputs(nb, "display_data")
        if "emberfit-progress" in out.get("data", {}).get("text/html", "")
    ]


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("name", nbt.NOTEBOOKS)
def test_notebook_runs_in_a_kernel_and_shows_html_progress(name, tmp_path):
    nb = nbt.run_notebook(name, tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell ran"
    assert not list(nbt.outputs(nb, "error"))
    tables = [h for h in progress_tables(nb) if "<table" in h]
    assert tables, f"{name}: no HTML progress table reached the kernel"
    # a finished fit leaves its table with one row per epoch, and no bars
    rows = [len(re.findall(r"<tr><td>\d+</td>", h)) for h in tables]
    assert max(rows) >= 1 and not any("<progress" in h for h in tables), rows
    assert nbt.tagged_image(nb) is not None, f"{name}: the cell tagged {nbt.IMAGE_TAG!r} drew no picture"


def test_every_tutorial_is_listed_and_committed_without_outputs():
    found = sorted(p.stem for p in (ROOT / "docs").glob("*.ipynb"))
    assert found == sorted(nbt.NOTEBOOKS)
    for name in found:
        nb = json.loads((ROOT / "docs" / f"{name}.ipynb").read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, f"{name}: clear its outputs"
        tags = [t for c in nb["cells"] for t in c.get("metadata", {}).get("tags", [])]
        assert tags.count(nbt.IMAGE_TAG) == 1, f"{name}: tag one cell {nbt.IMAGE_TAG!r}"


def test_readme_links_each_tutorial_with_its_picture():
    readme = (ROOT / "README.md").read_text()
    for name in nbt.NOTEBOOKS:
        assert f"(docs/{name}.ipynb)" in readme, f"README does not link docs/{name}.ipynb"
        assert f"(docs/img/{name}.png)" in readme, f"README does not show docs/img/{name}.png"
        png = ROOT / "docs" / "img" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 150_000

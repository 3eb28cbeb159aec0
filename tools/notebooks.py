"""Run the tutorial notebooks in ``docs/`` top to bottom in a real Jupyter kernel; save their README pictures.

Usage: ``python tools/notebooks.py [NAME ...] [--images]`` (from anywhere; needs ``pip install -e ".[test]"``).

Each notebook runs in a fresh ``python3`` kernel (nbclient + ipykernel), in a temporary working
directory, with its own ``EMBERFIT_HOME`` (the bundled samples are copied there) and matplotlib's
inline backend. A cell that raises stops the run with the cell and the error. It prints each
notebook's time. ``--images`` writes the PNG of the cell tagged ``readme-image`` to
``docs/img/<name>.png`` (the pictures the README shows). ``tests/test_notebooks.py`` uses
:func:`run_notebook`.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOKS = ("collab", "tabular", "text", "pretrain")
IMAGE_TAG = "readme-image"


def run_notebook(name: str, workdir: Path, timeout: int = 600):
    """Execute ``docs/<name>.ipynb`` in a new kernel with ``workdir`` as its working directory; returns the notebook.

    Raises ``nbclient.exceptions.CellExecutionError`` naming the cell when one fails.
    """
    import nbclient
    import nbformat

    nb = nbformat.read(DOCS / f"{name}.ipynb", as_version=4)
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # CI sets Agg; a kernel's figures go inline
    env["EMBERFIT_HOME"] = str(workdir / "emberfit_home")
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def outputs(nb, output_type: str | None = None):
    """Every output of every code cell (of one ``output_type``), in order, with its cell."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if output_type is None or out.get("output_type") == output_type:
                yield cell, out


def tagged_image(nb, tag: str = IMAGE_TAG) -> bytes | None:
    """The PNG shown by the cell tagged ``tag`` (the last one it shows), or None."""
    found = None
    for cell, out in outputs(nb):
        if tag in cell.get("metadata", {}).get("tags", []) and "image/png" in out.get("data", {}):
            found = base64.b64decode(out["data"]["image/png"])
    return found


def cell_seconds(nb) -> list[tuple[float, str]]:
    """``(seconds, first line)`` of each executed code cell, slowest first (nbclient records the times)."""
    from datetime import datetime

    out = []
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if cell.cell_type == "code" and start and end:
            sec = datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(
                start.replace("Z", "+00:00")
            )
            out.append((sec.total_seconds(), cell.source.splitlines()[0] if cell.source else ""))
    return sorted(out, reverse=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=list(NOTEBOOKS), help=f"some of {', '.join(NOTEBOOKS)}")
    p.add_argument("--images", action="store_true", help="write docs/img/<name>.png from the tagged cell")
    a = p.parse_args(argv)
    for name in a.names:
        with tempfile.TemporaryDirectory(prefix=f"nb_{name}_") as tmp:
            t = time.perf_counter()
            nb = run_notebook(name, Path(tmp))
            slowest = "; ".join(f"{s:.0f} s {line[:40]!r}" for s, line in cell_seconds(nb)[:3])
            print(f"{name}: ran in {time.perf_counter() - t:.0f} s (slowest cells: {slowest})", flush=True)
        if a.images:
            png = tagged_image(nb)
            if png is None:
                print(f"{name}: no image in the cell tagged {IMAGE_TAG!r}", file=sys.stderr)
                return 1
            (DOCS / "img").mkdir(exist_ok=True)
            (DOCS / "img" / f"{name}.png").write_bytes(png)
            print(f"{name}: wrote docs/img/{name}.png ({len(png) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

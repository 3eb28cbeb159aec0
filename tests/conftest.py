import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("EMBERFIT_OFFLINE", "1")  # tests never touch the network


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Each test sees its own EMBERFIT_HOME, so nothing is read from or written to ~/.emberfit."""
    monkeypatch.setenv("EMBERFIT_HOME", str(tmp_path_factory.mktemp("emberfit_home")))

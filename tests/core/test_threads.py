"""torch's threads from the cores free now: the rule on given figures, cgroup quotas, the --threads value."""

import re

import pytest
import torch

from emberfit.core import threads as th


@pytest.fixture(autouse=True)
def keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize(
    "cores, load, machine, processes, expected",
    [
        (2, 0.0, 2, 1, 2),  # a quiet 2-core machine: both
        (2, 0.4, 2, 1, 2),  # a little background work: still both
        (2, 1.0, 2, 1, 1),  # another process keeps one core busy: one
        (2, 9.7, 2, 1, 1),  # a crowded machine: one, never zero
        (8, 2.0, 8, 1, 6),
        (8, 0.0, 8, 4, 2),  # torchrun's 4 local processes share the 8 cores
        (2, 32.0, 64, 1, 1),  # 2 cores of a 64-CPU host with load 32: our share of the load is 1
        (4, 16.0, 64, 1, 3),
    ],
)
def test_choose_threads_from_the_free_cores(cores, load, machine, processes, expected):
    n, why = th.choose_threads(cores=cores, load=load, machine_cpus=machine, processes=processes)
    assert n == expected
    assert f"{cores} usable core(s)" in why and f"load average {load:.1f}" in why


def test_choose_threads_reads_this_machine():
    n, why = th.choose_threads()
    assert 1 <= n <= th.usable_cores() and "load average" in why


def test_cgroup_quota(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert th._cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert th._cgroup_quota(tmp_path) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert th._cgroup_quota(v1) is None
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000")
    assert th._cgroup_quota(v1) == 1.0
    assert th._cgroup_quota(tmp_path / "nothing") is None
    # a quota of 1.5 CPUs leaves 2 usable cores at most
    monkeypatch.setattr(th, "_cgroup_quota", lambda: 1.5)
    assert th.usable_cores() <= 2


def test_parse_threads_names_the_flag_the_value_and_the_fix():
    assert th.parse_threads("4") == 4 and th.parse_threads(2) == 2
    assert th.parse_threads("auto") is None and th.parse_threads(None) is None
    for bad in ("0", "-1", "two", "1.5", True):
        with pytest.raises(
            ValueError, match=r"--threads: expected a positive integer or 'auto', got .*--threads 2"
        ):
            th.parse_threads(bad)


def test_set_threads_sets_torch_and_says_so():
    lines = []
    assert th.set_threads("1", log=lambda s, **k: lines.append(s)) == 1
    assert torch.get_num_threads() == 1 and lines == ["torch threads: 1 (asked for 1)"]
    n = th.set_threads("auto", log=lambda s, **k: lines.append(s), hint="--threads N to choose")
    assert torch.get_num_threads() == n and lines[-1].startswith(f"torch threads: {n} (")
    assert re.search(r"usable core\(s\), load average \d+\.\d; --threads N to choose\)$", lines[-1])

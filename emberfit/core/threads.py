"""How many threads torch should use: the cores this process may use, less those other work keeps busy.

Two processes that each run torch on every core of a small machine slow each other down several-fold
(the threads of one wait at every barrier for those the other has taken). So the ``emberfit`` commands
take their torch intra-op threads from the cores that are actually free when they start:

* the cores this process may use: its CPU affinity, capped by a cgroup CPU quota (containers);
* minus the load: the 1-minute load average (runnable processes), scaled to those cores when the
  machine has more CPUs than this process may use;
* at least 1, at most the cores.

``--threads N`` on the command line overrides it; :func:`set_threads` applies the choice and says it
(in a notebook: ``set_threads('auto')``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import torch

__all__ = ["usable_cores", "choose_threads", "parse_threads", "set_threads"]


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by a cgroup quota (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``), None if unlimited or unknown."""
    try:
        v2 = root / "cpu.max"
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        q1, p1 = root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"
        if q1.is_file() and p1.is_file():
            quota = int(q1.read_text())
            return None if quota <= 0 else quota / int(p1.read_text())
    except (OSError, ValueError):
        return None
    return None


def usable_cores() -> int:
    """The cores this process may run on: its affinity (or the machine's count), capped by a cgroup quota.

    >>> usable_cores() >= 1
    True
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def choose_threads(
    cores: int | None = None, load: float | None = None, machine_cpus: int | None = None, processes: int = 1
) -> tuple[int, str]:
    """``(threads, why)``: the torch threads for one of ``processes`` processes, from the cores free now.

    ``cores`` (default :func:`usable_cores`), ``load`` (default the 1-minute load average) and
    ``machine_cpus`` (default ``os.cpu_count()``) can be given, for a decision on other figures.

    >>> choose_threads(cores=2, load=0.1, machine_cpus=2)[0], choose_threads(cores=2, load=1.2, machine_cpus=2)[0]
    (2, 1)
    """
    cores = usable_cores() if cores is None else cores
    machine_cpus = (os.cpu_count() or cores) if machine_cpus is None else machine_cpus
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows: no load average, assume the cores are free
            load = 0.0
    # a machine with more CPUs than ours spreads its load over all of them: count our share
    busy = load * cores / max(machine_cpus, cores)
    free = max(1, min(cores, math.floor(cores - busy + 0.5)))
    n = max(1, free // max(1, processes))
    why = f"{cores} usable core(s), load average {load:.1f}"
    if processes > 1:
        why += f", {processes} processes on this machine"
    return n, why


def parse_threads(value: str | int | None, flag: str = "--threads") -> int | None:
    """A ``--threads`` value: a positive integer, or None for ``'auto'`` (or nothing given).

    >>> parse_threads("3"), parse_threads("auto")
    (3, None)
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or n < 1:
        raise ValueError(f"{flag}: expected a positive integer or 'auto', got {value!r}; e.g. {flag} 2")
    return n


def set_threads(
    threads: str | int | None = "auto", log: Callable | None = print, processes: int = 1, hint: str = ""
) -> int:
    """Set torch's intra-op threads (``'auto'``/None: :func:`choose_threads`) and say what was chosen; returns it.

    ``hint`` is added to the line when the choice was automatic (the commands say ``--threads N to choose``).

    >>> n = torch.get_num_threads(); set_threads(1, log=None); set_threads(n, log=None) == n
    1
    True
    """
    n = parse_threads(threads)
    if n is None:
        n, why = choose_threads(processes=processes)
        line = f"torch threads: {n} ({why}{'; ' + hint if hint else ''})"
    else:
        line = f"torch threads: {n} (asked for {n})"
    torch.set_num_threads(n)
    if log is not None:
        log(line, flush=True)
    return n

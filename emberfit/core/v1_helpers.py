"""fastai v1's small helpers that its star import put in every notebook: ``listify``, ``ifnone``, ``to_np``,
``tensor``, ``num_cpus`` and ``defaults``.

They are written here to v1's documented behaviour, so code that used them runs as written.
``defaults`` holds v1's settings (``device``, ``cpus``, ``lr``, ``wd``, ``cmap``, ``return_fig``,
``silent``) for code that reads them; emberfit's own functions take their defaults from their
signatures, so changing ``defaults`` does not change what they do.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

__all__ = ["listify", "ifnone", "to_np", "tensor", "num_cpus", "defaults"]


def ifnone(a: Any, b: Any) -> Any:
    """``a``, or ``b`` when ``a`` is None.

    >>> ifnone(None, 3), ifnone(0, 3)
    (3, 0)
    """
    return b if a is None else a


def _as_list(p: Any) -> list:
    if p is None:
        return []
    if isinstance(p, (str, bytes)) or not isinstance(p, Iterable):
        return [p]
    try:
        len(p)
    except TypeError:  # iterable without a length (a 0-d tensor or array): one item, as in v1
        return [p]
    return list(p)


def listify(p: Any = None, q: Any = None) -> list:
    """``p`` as a list (None -> [], one item -> [item]), as long as ``q`` (an int, or a sized thing).

    One item is repeated to that length; another length is an error.

    >>> listify(None), listify('abc'), listify((1, 2)), listify(3, 2), listify([1e-3], ['a', 'b', 'c'])
    ([], ['abc'], [1, 2], [3, 3], [0.001, 0.001, 0.001])
    """
    p = _as_list(p)
    n = q if isinstance(q, int) and not isinstance(q, bool) else len(p) if q is None else len(_as_list(q))
    if len(p) == 1:
        p = p * n
    if len(p) != n:
        raise ValueError(f"List len mismatch ({len(p)} vs {n})")
    return p


def to_np(x: Any) -> np.ndarray:
    """A tensor (on any device, with or without grad) as a numpy array; other values through ``np.asarray``.

    >>> to_np(torch.tensor([1.5, 2.0], requires_grad=True))
    array([1.5, 2. ], dtype=float32)
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x)


def tensor(x: Any, *rest: Any) -> torch.Tensor:
    """v1's ``tensor``: like ``torch.as_tensor``, but also from several values given directly.

    Lists and tuples are copied (``torch.tensor``), arrays and tensors shared where possible, and
    int32 becomes int64 (what embeddings and losses need).

    >>> tensor(1, 2, 3), tensor([0.5, 1.5]), tensor(np.array([1, 2], dtype=np.int32)).dtype
    (tensor([1, 2, 3]), tensor([0.5000, 1.5000]), torch.int64)
    """
    if rest:
        x = (x, *rest)
    res = torch.tensor(x) if isinstance(x, (list, tuple)) else torch.as_tensor(x)
    return res.long() if res.dtype == torch.int32 else res


def num_cpus() -> int:
    """How many CPUs this process may use (its affinity where the OS says, else the machine's count).

    >>> num_cpus() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


defaults = SimpleNamespace(
    cpus=min(16, num_cpus()),
    device=torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"),
    lr=slice(3e-3),
    wd=1e-2,
    cmap="viridis",
    return_fig=False,
    silent=False,
)

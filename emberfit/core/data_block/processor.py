"""Processors: what is fitted on the training items, then applied unchanged to valid and test.

Their fitted state is plain JSON (``state()`` / ``from_state``), so that saved data and
exported learners need no pickle.
"""

from __future__ import annotations

from typing import Any

from ..registry import check_json, lookup, registered_name

__all__ = ["PreProcessor"]


class PreProcessor:
    """Something fitted on the training items and then applied to every split.

    Subclasses implement ``_fit(items)`` and ``process(items)``, and store their fitted
    state as JSON-able attributes listed in ``state_attrs``. State added after files were
    written goes in ``state_defaults`` too: the value an older file that lacks it loads with.
    """

    # ``items`` below is an ItemList; this module does not import it (items.py imports this one).
    state_attrs: tuple[str, ...] = ()
    state_defaults: dict[str, Any] = {}

    def __init__(self):
        self.fitted = False

    def fit(self, items: Any) -> PreProcessor:
        self._fit(items)
        self.fitted = True
        return self

    def _fit(self, items: Any) -> None:
        pass

    def process(self, items: Any) -> None:
        raise NotImplementedError

    def state(self) -> dict:
        return {"cls": registered_name(self), **{a: getattr(self, a) for a in self.state_attrs}}

    @classmethod
    def from_state(cls, state: dict, entry: str = "processor") -> PreProcessor:
        """Rebuild a fitted processor from :meth:`state`; the class must be a registered processor."""
        if not isinstance(state, dict):
            raise ValueError(f"{entry} must be a JSON object, got {type(state).__name__}")
        proc_cls = lookup(state.get("cls"), "processor", f"{entry}.cls")
        proc = proc_cls.__new__(proc_cls)
        PreProcessor.__init__(proc)
        for a in proc.state_attrs:
            if a not in state and a in proc.state_defaults:
                setattr(proc, a, proc.state_defaults[a])
                continue
            if a not in state:
                raise ValueError(f"{entry} lacks its fitted state {a!r}")
            check_json(state[a], f"{entry}.{a}")
            setattr(proc, a, state[a])
        proc.fitted = True
        proc._restored()
        return proc

    def _restored(self) -> None:
        """Check or rebuild derived state right after :meth:`from_state` (so bad files fail at load)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fitted={self.fitted})"

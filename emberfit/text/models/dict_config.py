"""fastai v1's dictionary behaviour for emberfit's typed (frozen dataclass) model configs.

In fastai v1 a model config was a plain dict: ``cfg = awd_lstm_lm_config.copy(); cfg['n_hid'] = 1150``.
:class:`DictConfig` gives a frozen dataclass the same reading side (``cfg['n_hid']``, ``keys()``,
``items()``, ``values()``, ``get()``, ``in``, ``dict(cfg)``, ``**cfg``), and ``copy()`` returns an
editable copy (``cfg[key] = value``, ``cfg.key = value``, ``cfg.update(...)``) that is still an
instance of the same config class, checked on every change, and equal to a frozen config with the
same values.
The shared presets themselves stay read-only: editing one says to ``copy()`` it first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

__all__ = ["DictConfig"]

_EDITABLE: dict[type, type] = {}  # frozen config class -> its editable copy class


class DictConfig:
    """Mixin for a frozen dataclass config: v1's dict reading, and ``copy()`` for an editable copy."""

    # keys fastai v1's dicts had that the config accepts only with this value (e.g. qrnn=False)
    _v1_only_keys: dict[str, Any] = {}

    def keys(self) -> list[str]:
        """The field names, in order (v1's dict keys)."""
        return [f.name for f in dataclasses.fields(self)]

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in self.keys()]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def __getitem__(self, key: str) -> Any:
        if key in self._v1_only_keys:
            return self._v1_only_keys[key]
        return getattr(self, self._check_key(key))

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __contains__(self, key: object) -> bool:
        return key in self.keys() or key in self._v1_only_keys

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the fields."""
        return dict(self.items())

    def copy(self) -> DictConfig:
        """An editable copy (v1: ``cfg = awd_lstm_lm_config.copy(); cfg['n_hid'] = 1150``)."""
        return _editable_class(self._frozen_class())(**self.to_dict())

    def frozen(self) -> DictConfig:
        """This config as a read-only one of the base class (what a model keeps)."""
        cls = self._frozen_class()
        return self if type(self) is cls else cls(**self.to_dict())

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(self._read_only_message(key))

    def update(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(self._read_only_message(next(iter(dict(*args, **kwargs)), "...")))

    # -- helpers ----------------------------------------------------------------------------
    @classmethod
    def _frozen_class(cls) -> type:
        return getattr(cls, "_frozen_base", cls)

    def _check_key(self, key: Any) -> str:
        if key not in self.keys():
            raise KeyError(
                f"{type(self).__name__} has no key {key!r}; its keys are {self.keys()}"
                + (f" (and {sorted(self._v1_only_keys)}, fixed)" if self._v1_only_keys else "")
            )
        return key

    def _read_only_message(self, key: Any) -> str:
        name = type(self).__name__
        return (
            f"this {name} is read-only (the presets are shared); edit a copy instead: "
            f"cfg = config.copy(); cfg[{key!r}] = value, then pass config=cfg"
        )


def _editable_class(frozen_cls: type) -> type:
    """The editable twin of a frozen config class: same name, fields, checks; not hashable."""
    if frozen_cls not in _EDITABLE:
        _EDITABLE[frozen_cls] = type(
            frozen_cls.__name__,
            (frozen_cls,),
            {
                "__module__": frozen_cls.__module__,
                "__qualname__": frozen_cls.__qualname__,
                "__doc__": f"An editable copy of a {frozen_cls.__name__} (made by ``copy()``).",
                "_frozen_base": frozen_cls,
                "__hash__": None,
                "__setattr__": _set_field,
                "__setitem__": _set_field,
                "__eq__": _eq,
                "update": _update,
            },
        )
    return _EDITABLE[frozen_cls]


def _set_field(self: DictConfig, key: str, value: Any) -> None:
    """Change one field; the whole config is checked again first (a bad value changes nothing)."""
    if key in self._v1_only_keys:
        if value != self._v1_only_keys[key]:
            raise ValueError(
                f"{key}={value!r} is not implemented by emberfit; only {key}={self._v1_only_keys[key]!r} is"
            )
        return
    self._check_key(key)
    self._frozen_class()(**{**self.to_dict(), key: value})  # runs the config's checks
    object.__setattr__(self, key, value)


def _update(self: DictConfig, *args: Any, **kwargs: Any) -> None:
    """v1's ``dict.update``: several fields at once, all checked before any changes."""
    changes = dict(*args, **kwargs)
    real = {k: v for k, v in changes.items() if k not in self._v1_only_keys}
    for k in changes:
        if k in self._v1_only_keys:
            _set_field(self, k, changes[k])
        else:
            self._check_key(k)
    self._frozen_class()(**{**self.to_dict(), **real})
    for k, v in real.items():
        object.__setattr__(self, k, v)


def _eq(self: DictConfig, other: object) -> bool:
    if not isinstance(other, self._frozen_class()):
        return NotImplemented
    return self.to_dict() == other.to_dict()

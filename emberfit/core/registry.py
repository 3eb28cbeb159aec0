"""What a file may name: an explicit registry of rebuildable classes and factories.

Exports, checkpoints and saved data store the *name* of each class they need (a processor,
an item list, a model factory, a learner). Loading looks that name up here, by exact match,
in a table filled by the ``@register`` decorator where each class is defined. Nothing is
imported and no attribute is followed because a file said so, so a tampered file can name
only what emberfit chose to make loadable, and only with JSON keyword arguments that fit
the registered signature.

>>> @register("model", "doc.Tiny")
... class Tiny:
...     def __init__(self, n: int = 1):
...         self.n = n
>>> build("doc.Tiny", "model", {"n": 3}, entry="model_init").n
3
>>> lookup("doc.Tiny", "learner", entry="learner_cls")
Traceback (most recent call last):
...
ValueError: learner_cls names 'doc.Tiny', which is a registered model, not a learner; the file is damaged or was tampered with (nothing was loaded)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["register", "registered_name", "lookup", "build", "check_kwargs", "check_json", "KINDS"]

# The kinds of things a file may name, and what each is for (used in error messages).
KINDS = {
    "model": "model class or factory (learn.model_init)",
    "learner": "Learner class",
    "items": "ItemList class",
    "processor": "data PreProcessor class",
    "tabular_proc": "tabular proc (FillMissing, Categorify, Normalize...)",
}

# Which facade registers each application's names: only used to say what to import.
_APP_IMPORT = {"text": "emberfit.text", "tabular": "emberfit.tabular", "collab": "emberfit.collab"}

# Names written by emberfit 0.1 (before the registry) as 'module:QualName'. Old files still
# load: each old string maps, by exact match, to the registered name that replaced it.
LEGACY_NAMES = {
    "emberfit.core.data_block:CategoryProcessor": "core.CategoryProcessor",
    "emberfit.core.data_block:_MultiCategoryProcessor": "core.MultiCategoryProcessor",
    "emberfit.core.data_block:ItemList": "core.ItemList",
    "emberfit.core.data_block:CategoryList": "core.CategoryList",
    "emberfit.core.data_block:MultiCategoryList": "core.MultiCategoryList",
    "emberfit.core.data_block:FloatList": "core.FloatList",
    "emberfit.core.data_block:EmptyLabelList": "core.EmptyLabelList",
    "emberfit.core.learner:Learner": "core.Learner",
    "emberfit.core.layers:MLP": "core.MLP",
    "emberfit.tabular.processor:TabularProcessor": "tabular.TabularProcessor",
    "emberfit.tabular.data:TabularList": "tabular.TabularList",
    "emberfit.tabular.transform:FillMissing": "tabular.FillMissing",
    "emberfit.tabular.transform:Categorify": "tabular.Categorify",
    "emberfit.tabular.transform:Normalize": "tabular.Normalize",
    "emberfit.tabular.models:TabularModel": "tabular.TabularModel",
    "emberfit.tabular.learner:TabularLearner": "tabular.TabularLearner",
    "emberfit.collab.data:CollabProcessor": "collab.CollabProcessor",
    "emberfit.collab.data:CollabList": "collab.CollabList",
    "emberfit.collab.models:EmbeddingDotBias": "collab.EmbeddingDotBias",
    "emberfit.collab.models:EmbeddingNN": "collab.EmbeddingNN",
    "emberfit.collab.learner:CollabLearner": "collab.CollabLearner",
    "emberfit.text.data:TextProcessor": "text.TextProcessor",
    "emberfit.text.data:TextList": "text.TextList",
    "emberfit.text.data:LMTextList": "text.LMTextList",
    "emberfit.text.data:LMLabelList": "text.LMLabelList",
    "emberfit.text.learner:build_text_model": "text.build_text_model",
    "emberfit.text.learner:RNNLearner": "text.RNNLearner",
    "emberfit.text.learner:LanguageLearner": "text.LanguageLearner",
}

_ENTRIES: dict[str, tuple[str, Any]] = {}  # name -> (kind, class or factory)
_NAMES: dict[Any, str] = {}  # class or factory -> name

T = TypeVar("T")


def register(kind: str, name: str) -> Callable[[T], T]:
    """Class/function decorator: let files name this object as ``name`` where a ``kind`` belongs.

    ``name`` is stable across code moves (``'app.ClassName'``); it is what files store.
    """
    if kind not in KINDS:
        raise ValueError(f"register: kind must be one of {sorted(KINDS)}, got {kind!r}")

    def deco(obj: T) -> T:
        old = _ENTRIES.get(name)
        # Re-registering the same qualified object (a module reloaded in a test) is harmless.
        if old is not None and _qualname(old[1]) != _qualname(obj):
            raise ValueError(f"register: name {name!r} is already taken by {_qualname(old[1])}")
        _ENTRIES[name] = (kind, obj)
        _NAMES[obj] = name
        return obj

    return deco


def registered_name(obj_or_cls: Any) -> str:
    """The registered name of a class, instance or factory (what a file stores for it).

    >>> registered_name(_ENTRIES["doc.Tiny"][1])
    'doc.Tiny'
    """
    target = (
        obj_or_cls if isinstance(obj_or_cls, type) or inspect.isfunction(obj_or_cls) else type(obj_or_cls)
    )
    name = _NAMES.get(target)
    if name is None:
        raise ValueError(
            f"{_qualname(target)} is not registered, so a file cannot name it; decorate it with "
            "@emberfit.core.registry.register(kind, 'app.Name') to make it saveable"
        )
    return name


def lookup(name: Any, kind: str, entry: str) -> Any:
    """The registered object called ``name``, which must be of ``kind``; ``entry`` names the field read.

    Any other name (a dotted path, a dunder, a stdlib or torch callable) is a ValueError.
    """
    if not isinstance(name, str):
        raise ValueError(f"{entry} must be a registered name (a string), got {type(name).__name__} {name!r}")
    key = LEGACY_NAMES.get(name, name)
    found = _ENTRIES.get(key)
    if found is None:
        allowed = sorted(n for n, (k, _) in _ENTRIES.items() if k == kind and not n.startswith("doc."))
        app = key.split(".", 1)[0]
        hint = (
            f"; if the file was written by emberfit's {app} application, `import {_APP_IMPORT[app]}` first"
            if app in _APP_IMPORT and "." in key and ":" not in key
            else ""
        )
        raise ValueError(
            f"{entry} names {name[:200]!r}, which is not a registered emberfit {KINDS.get(kind, kind)}; "
            f"a file may only name one of {allowed}{hint} (nothing was loaded)"
        )
    actual, obj = found
    if actual != kind:
        raise ValueError(
            f"{entry} names {name!r}, which is a registered {actual}, not a {kind}; "
            "the file is damaged or was tampered with (nothing was loaded)"
        )
    return obj


def check_json(value: Any, where: str) -> None:
    """Refuse anything that is not a plain JSON value (None, bool, int, float, str, list, str-keyed dict)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_json(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where} has a non-string key {k!r}; file values must be JSON")
            check_json(v, f"{where}.{k}")
        return
    raise ValueError(f"{where} is a {type(value).__name__}; values read from a file must be JSON")


def check_kwargs(obj: Any, kwargs: Any, entry: str) -> dict:
    """Check that ``kwargs`` read from a file are JSON and fit ``obj``'s signature; return them as a dict."""
    if not isinstance(kwargs, dict):
        raise ValueError(f"{entry} must be a JSON object of keyword arguments, got {type(kwargs).__name__}")
    check_json(kwargs, entry)
    fn = obj.__init__ if isinstance(obj, type) else obj
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    open_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for k in kwargs:
        if not k.isidentifier() or k.startswith("_"):
            raise ValueError(f"{entry} has keyword {k[:100]!r}, which is not an allowed argument name")
        if k not in named and not open_kw:
            raise ValueError(
                f"{entry} has keyword {k!r}, which {_NAMES.get(obj, _qualname(obj))} does not take "
                f"(it takes {sorted(named)})"
            )
    missing = [
        p.name
        for p in params
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in kwargs
    ]
    if missing:
        raise ValueError(f"{entry} lacks the required keyword(s) {missing}")
    return dict(kwargs)


def build(name: Any, kind: str, kwargs: Any, entry: str) -> Any:
    """Look ``name`` up and call it with ``kwargs`` checked by :func:`check_kwargs`.

    Errors raised while building from file values become ValueErrors that name the entry.
    """
    obj = lookup(name, kind, entry)
    kw = check_kwargs(obj, kwargs, f"{entry}.kwargs")
    try:
        return obj(**kw)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError, OverflowError) as e:
        raise ValueError(
            f"{entry}: cannot rebuild {name!r} from the file's arguments ({type(e).__name__}: {e})"
        ) from None


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"

"""What a metric is, and how ``Learner(metrics=[...])`` turns what it is given into one.

A :class:`Metric` accumulates what it needs over the validation batches (``reset``, ``accumulate``,
``value``), so every value is exact over the whole set, uneven last batch included. Its summed
states (``state_keys``) are merged across ranks under DDP (:func:`merge_states`).

``metrics=[...]`` accepts (see :func:`as_metric`):

* a plain function ``f(pred, targ)`` (or a ``functools.partial`` of one): averaged over the batches
  weighted by batch size, which is exact for means; the library's functions whose value is not a
  mean (``rmse``, ``r2_score``, ``dice``...) accumulate through their exact Metric instead;
* a Metric instance or class;
* a fastai v1 callback metric: an object (or a class needing no arguments) with ``on_batch_end``
  and ``on_epoch_end``, whose ``on_epoch_end`` returns ``add_metrics(last_metrics, value)``.

Anything else is refused with a TypeError naming it when the Learner is built.
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = [
    "Metric",
    "AvgMetric",
    "AverageMetric",
    "add_metrics",
    "merge_states",
    "register_exact",
    "as_metric",
    "as_metrics",
]


def add_metrics(last_metrics: list | None, to_add: Any) -> dict:
    """fastai v1's helper for a callback metric's ``on_epoch_end``: the metrics so far plus ``to_add``.

    >>> add_metrics([0.25], 0.75)
    {'last_metrics': [0.25, 0.75]}
    >>> add_metrics([0.25], [0.5, 0.75])
    {'last_metrics': [0.25, 0.5, 0.75]}
    """
    added = list(to_add) if isinstance(to_add, (list, tuple)) else [to_add]
    return {"last_metrics": list(last_metrics or []) + added}


class Metric:
    """Accumulates over batches; ``value`` is the metric over everything seen since ``reset``.

    It also answers fastai v1's callback events (``on_epoch_begin``, ``on_batch_end``,
    ``on_epoch_end``), so v1 code that drives a metric by hand works too.
    """

    name = "metric"
    state_keys: tuple[str, ...] = ("total", "count")  # what is summed (or concatenated) across ranks

    def reset(self) -> None:
        raise NotImplementedError

    def accumulate(self, pred: torch.Tensor, targ: torch.Tensor) -> None:
        raise NotImplementedError

    @property
    def value(self) -> Any:
        raise NotImplementedError

    # fastai v1's callback-metric events
    def on_epoch_begin(self, **kwargs) -> None:
        self.reset()

    def on_batch_end(self, last_output, last_target, train: bool = False, **kwargs) -> None:
        if not train:
            self.accumulate(last_output, last_target)

    def on_epoch_end(self, last_metrics=None, **kwargs) -> dict:
        return add_metrics(last_metrics, self.value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _func_name(func: Callable) -> str:
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", None) or camel2snake(type(func).__name__)


class AvgMetric(Metric):
    """Wraps ``f(pred, targ)``; the value is the batch-size-weighted mean (exact for means).

    >>> m = AverageMetric(lambda p, t: (p == t).float().mean())
    >>> m.accumulate(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 0])); m.accumulate(torch.tensor([4]), torch.tensor([4]))
    >>> round(m.value, 4)
    0.75
    """

    def __init__(self, func: Callable):
        self.func, self.name = func, _func_name(func)
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def accumulate(self, pred, targ):
        n = targ.shape[0] if isinstance(targ, torch.Tensor) and targ.ndim else 1
        self.total += float(self.func(pred, targ)) * n
        self.count += n

    @property
    def value(self):
        return self.total / self.count if self.count else float("nan")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


AverageMetric = AvgMetric  # fastai v1's name


def merge_states(m: Metric, states: list[dict]) -> None:
    """Combine the accumulated states of the same metric from several ranks into ``m``."""
    for k in m.state_keys:
        vals = [s[k] for s in states if s.get(k) is not None]
        if not vals:
            continue
        if isinstance(vals[0], list):
            setattr(m, k, [o for v in vals for o in v])
        else:
            total = vals[0]
            for v in vals[1:]:
                total = total + v
            setattr(m, k, total)


def camel2snake(name: str) -> str:
    """``'MatthewsCorreff'`` -> ``'matthews_correff'`` (v1's rule for a callback metric's column)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


class CallbackMetric(Metric):
    """A fastai v1 callback metric as a :class:`Metric`.

    ``reset`` calls ``on_train_begin`` (the first time) and ``on_epoch_begin``; each validation batch
    calls ``on_batch_end(last_output=..., last_target=..., train=False)``; ``value`` calls
    ``on_epoch_end(last_metrics=[])`` and reads what it added with :func:`add_metrics` (or, as older
    v1 callbacks did, its ``metric`` attribute). Only the keyword arguments a method names are
    passed unless it takes ``**kwargs``. Its state is the callback's own, so under DDP each rank
    reports the value over its shard.
    """

    state_keys = ()

    def __init__(self, cb: Any):
        self.cb, self._started = cb, False
        own = getattr(cb, "name", None)
        self.name = own if isinstance(own, str) and own else camel2snake(type(cb).__name__)

    def _call(self, event: str, **state):
        f = getattr(self.cb, event, None)
        if not callable(f):
            return None
        try:
            params = inspect.signature(f).parameters
        except (TypeError, ValueError):
            return f(**state)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            state = {k: v for k, v in state.items() if k in params}
        return f(**state)

    def reset(self):
        if not self._started:
            self._call("on_train_begin")
            self._started = True
        self._n = 0
        self._call("on_epoch_begin", train=False)

    def accumulate(self, pred, targ):
        self._call("on_batch_end", last_output=pred, last_target=targ, train=False, num_batch=self._n)
        self._n += 1

    @property
    def value(self):
        mets: list = []
        out = self._call("on_epoch_end", last_metrics=mets, train=False)
        if isinstance(out, dict) and out.get("last_metrics") is not None:
            mets = list(out["last_metrics"])
        if not mets:
            v = getattr(self.cb, "metric", None)
            return _plain(v) if v is not None else float("nan")
        return _plain(mets[0]) if len(mets) == 1 else [_plain(v) for v in mets]

    def __repr__(self) -> str:
        return f"CallbackMetric({self.cb!r})"


def _plain(v: Any) -> Any:
    """A one-element tensor or numpy scalar as a float; anything else unchanged."""
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return float(v)
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        return float(v.item())
    return v


# function -> the Metric class that computes it exactly over a whole set (filled by the modules
# defining those classes); a partial's keyword arguments go to the class.
_EXACT: dict[Callable, Callable[..., Metric]] = {}


def register_exact(func: Callable, factory: Callable[..., Metric]) -> None:
    """In ``metrics=[...]``, ``func`` (or a keyword partial of it) accumulates through ``factory(**kwargs)``."""
    _EXACT[func] = factory


def _is_v1_callback(obj: Any) -> bool:
    def own(event: str) -> bool:  # a do-nothing default (LearnerCallback's) does not count
        f = getattr(obj, event, None)
        return callable(f) and not getattr(f, "_v1_default", False)

    return own("on_batch_end") and own("on_epoch_end")


def _refuse(m: Any, why: str = "") -> TypeError:
    what = f"the class {m.__qualname__}" if isinstance(m, type) else f"{m!r} ({type(m).__name__})"
    return TypeError(
        f"metrics must be functions f(pred, targ), Metric objects or fastai v1 callback metrics "
        f"(on_batch_end / on_epoch_end); got {what}{why}"
    )


def _from_class(cls: type) -> Metric:
    if not (issubclass(cls, Metric) or _is_v1_callback(cls)):
        raise _refuse(cls, ": a class that is neither a Metric nor a v1 callback metric")
    try:
        obj = cls()
    except TypeError as e:
        raise TypeError(
            f"metrics: the class {cls.__name__} cannot be built without arguments ({e}); "
            f"pass an instance, e.g. {cls.__name__}(...)"
        ) from None
    return obj if isinstance(obj, Metric) else CallbackMetric(obj)


def _from_function(m: Callable) -> Metric:
    f, kw = m, {}
    if isinstance(m, functools.partial) and not m.args:
        f, kw = m.func, dict(m.keywords)
    try:
        factory = _EXACT.get(f)
    except TypeError:  # an unhashable callable object: not one of the library's functions
        factory = None
    if factory is not None:
        try:
            met = factory(**kw)
        except TypeError as e:
            raise TypeError(f"metrics: {m!r} cannot be built: {e}") from None
        met.name = _func_name(f)  # the column is named as the function given (rmse, root_mean_squared_error)
        return met
    try:
        inspect.signature(m).bind(None, None)
    except TypeError:
        raise _refuse(m, ": it cannot be called as f(pred, targ)") from None
    except ValueError:  # no signature to read (some builtins): trust it
        pass
    return AvgMetric(m)


def as_metric(m: Any) -> Metric:
    """A Metric from a Metric instance or class, a v1 callback metric, or a plain function.

    >>> from emberfit.core.metrics import accuracy, as_metric, rmse
    >>> as_metric(accuracy)
    AvgMetric(accuracy)
    >>> as_metric(rmse)  # a root: accumulated exactly, not averaged over batches
    RMSE()
    """
    if isinstance(m, Metric):
        return m
    if isinstance(m, type):
        return _from_class(m)
    if _is_v1_callback(m):
        return CallbackMetric(m)
    if isinstance(m, (str, bytes)) or not callable(m):
        raise _refuse(m)
    if hasattr(m, "before_fit") and hasattr(m, "handlers"):  # an emberfit Callback with no metric events
        raise _refuse(m, ": a training callback goes in callbacks=[...]")
    return _from_function(m)


def as_metrics(metrics: Any) -> list[Metric]:
    """A learner's own Metric objects from None, one metric or a list of them.

    They are copies: a metric accumulates state, so two learners must not share one.

    >>> from emberfit.core.metrics import accuracy, as_metrics, error_rate
    >>> [m.name for m in as_metrics([accuracy, error_rate])]
    ['accuracy', 'error_rate']
    """
    if metrics is None:
        return []
    one = isinstance(metrics, (str, bytes, type, Metric)) or callable(metrics) or _is_v1_callback(metrics)
    if one or not isinstance(metrics, Iterable):
        metrics = [metrics]
    return [copy.deepcopy(as_metric(m)) for m in metrics]

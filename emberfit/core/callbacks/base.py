"""What a callback is: the fixed list of events of the ``fit`` loop, the base class, and how to stop.

Events, in the order the loop fires them (see ``Learner._fit``)::

    before_fit
      before_epoch
        before_batch -> after_pred -> after_loss -> after_backward -> after_batch   (each training batch)
        before_validate
          before_batch -> after_pred -> after_loss -> after_batch                   (each validation batch)
        after_validate
      after_epoch
    after_fit

A callback reads and writes the learner's state (``learn.xb``, ``learn.pred``, ``learn.loss``,
``learn.epoch``, ``learn.iter``, ``learn.training``...). To stop early it raises
:class:`CancelFitException` (the loop still runs ``after_fit``). Only the events a callback
overrides are called, so idle callbacks cost nothing per batch.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = [
    "EVENTS",
    "Callback",
    "CancelFitException",
    "as_callback",
    "as_callbacks",
    "event_handlers",
    "exposed_name",
    "attach",
]

EVENTS = (
    "before_fit",
    "before_epoch",
    "before_batch",
    "after_pred",
    "after_loss",
    "after_backward",
    "after_batch",
    "before_validate",
    "after_validate",
    "after_epoch",
    "after_fit",
)


class CancelFitException(Exception):
    """Raised by a callback to end ``fit`` cleanly.

    >>> class StopAfterOneBatch(Callback):
    ...     def after_batch(self):
    ...         raise CancelFitException()  # fit ends here, after_fit still runs
    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # (bs, 2) -> (bs,)
    >>> learn = Learner(data, model, loss_func=F.mse_loss, silent=True)
    >>> learn.fit(5, 1e-2, callbacks=[StopAfterOneBatch()])
    >>> len(learn.recorder.losses), len(learn.recorder.val_losses)
    (1, 0)
    """


class Callback:
    """Base class: override any of the events in :data:`EVENTS`; ``order`` sorts callbacks.

    >>> class CountBatches(Callback):
    ...     def before_fit(self): self.n = 0
    ...     def after_batch(self):
    ...         if self.learn.training: self.n += 1
    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # (bs, 2) -> (bs,)
    >>> learn = Learner(data, model, loss_func=F.mse_loss, silent=True)
    >>> cb = CountBatches()
    >>> learn.fit(2, 1e-2, callbacks=[cb])
    >>> cb.n  # 2 epochs of 3 training batches
    6
    """

    order = 0
    name: str | None = None  # if set, the learner exposes the callback as ``learn.<name>``
    # The Learner this callback serves, set when it is attached. Callbacks know the learner
    # only by the attributes they read (duck typing), so this package never imports it.
    learn: Any

    def before_fit(self): ...
    def before_epoch(self): ...
    def before_batch(self): ...
    def after_pred(self): ...
    def after_loss(self): ...
    def after_backward(self): ...
    def after_batch(self): ...
    def before_validate(self): ...
    def after_validate(self): ...
    def after_epoch(self): ...
    def after_fit(self): ...

    def handlers(self) -> dict[str, Any]:
        """The events this callback actually overrides, as bound methods."""
        return {e: getattr(self, e) for e in EVENTS if getattr(type(self), e) is not getattr(Callback, e)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def as_callback(cb: Any, where: str = "callbacks") -> Callback:
    """``cb`` as a Callback instance: instances pass, a Callback class that needs no arguments is built.

    fastai v1 took classes (``callback_fns``) and v2 instances, so both are accepted; anything
    else fails here, naming it, instead of deep inside ``fit``.

    >>> as_callback(Callback)
    Callback()
    """
    if isinstance(cb, Callback):
        return cb
    if isinstance(cb, type) and issubclass(cb, Callback):
        needed = _required_args(cb)
        if needed:
            example = ", ".join(f"{a}=..." for a in needed)
            raise TypeError(
                f"{where}: got the class {cb.__name__}, which needs arguments ({', '.join(needed)}); "
                f"pass an instance instead, e.g. {cb.__name__}({example})"
            )
        return cb()
    raise TypeError(
        f"{where}: expected a Callback instance (or a Callback class), got {cb!r} ({type(cb).__name__}); "
        "callbacks subclass emberfit.core.Callback, e.g. SaveModelCallback(every='epoch')"
    )


def as_callbacks(cbs: Any, where: str = "callbacks") -> list[Callback]:
    """A list of Callback instances from None, one callback, or an iterable of them (see :func:`as_callback`)."""
    if cbs is None:
        return []
    if isinstance(cbs, (Callback, type)):  # one callback given without a list
        return [as_callback(cbs, where)]
    if isinstance(cbs, (str, bytes)) or not hasattr(cbs, "__iter__"):
        raise TypeError(f"{where} must be a list of Callback instances, got {cbs!r} ({type(cbs).__name__})")
    return [as_callback(cb, where) for cb in cbs]


def exposed_name(cb: Callback) -> str | None:
    """The name the learner shows ``cb`` under (``learn.recorder``): its class's ``name``, else None.

    Only the class attribute counts: an instance's ``name`` is its own business (a checkpoint's file
    name in ``SaveModelCallback(name='model')`` must not replace ``learn.model``).

    >>> exposed_name(Callback()), exposed_name(type('Rec', (Callback,), {'name': 'rec'})())
    (None, 'rec')
    """
    name = getattr(type(cb), "name", None)
    return name if isinstance(name, str) and name else None


def attach(cb: Callback, learn: Any) -> Callback:
    """Give ``cb`` its learner, and show it on the learner under its :func:`exposed_name` if it has one."""
    cb.learn = learn
    if exposed_name(cb):
        setattr(learn, exposed_name(cb), cb)
    return cb


def event_handlers(cbs: list[Callback]) -> dict[str, list]:
    """For each event, the bound methods of ``cbs`` that handle it, in callback ``order``."""
    handlers: dict[str, list] = {e: [] for e in EVENTS}
    for cb in sorted(cbs, key=lambda c: c.order):
        for e, f in cb.handlers().items():
            handlers[e].append(f)
    return handlers


def _required_args(cls: type) -> list[str]:
    """Names of the constructor arguments of ``cls`` that have no default."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: assume it can be built bare
        return []
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return [p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]

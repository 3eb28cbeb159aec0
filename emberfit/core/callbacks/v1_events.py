"""fastai v1's callback events for callbacks written for v1, translated from emberfit's by one adapter.

A v1 callback overrides some of ``on_train_begin``, ``on_epoch_begin``, ``on_batch_begin``,
``on_loss_begin``, ``on_backward_begin``, ``on_backward_end``, ``on_step_end``, ``on_batch_end``,
``on_epoch_end``, ``on_train_end``. Each is called with v1's state as keyword arguments (``epoch``,
``iteration``, ``num_batch``, ``n_epochs``, ``train``, ``last_input``, ``last_target``, ``last_output``,
``last_loss``, ``smooth_loss``, ``last_metrics``, ``metrics``...; only those a method names, unless it
takes ``**kwargs``) and may return a dict that changes that state, e.g. ``{'last_output': out}`` or
``{'stop_training': True}``; a key that is not state is a KeyError, as in v1.

The fit loop knows none of this: :func:`with_v1_adapter` adds one :class:`V1Events` callback per fit
when some callback has v1 events, and it maps emberfit's events onto v1's::

    before_fit      -> on_train_begin (metrics_names too)
    before_epoch    -> on_epoch_begin
    before_batch    -> on_batch_begin      last_input / last_target may be replaced
    after_pred      -> on_loss_begin       last_output may be replaced
    after_loss      -> on_backward_begin   training; last_loss may be replaced; skip_bwd
    after_backward  -> on_backward_end     skip_step
    after_batch     -> on_step_end (training; skip_zero), then on_batch_end (stop_epoch)
    before_validate -> skip_validate is applied
    after_epoch     -> on_epoch_end        last_metrics = [valid_loss, *metrics]; stop_training
    after_fit       -> on_train_end

``stop_epoch`` ends the training part of the epoch (validation still runs, as in v1); returned during
validation it changes nothing (the validation set is always scored whole). ``stop_training`` ends
the fit once every callback has finished that epoch. ``skip_step`` and ``skip_zero`` work as in v1
(gradient accumulation): a skipped step leaves the weights and the optimizer state unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..metrics.base import camel2snake
from .base import Callback, CancelFitException
from .recorder import SmoothenValue

__all__ = ["V1_EVENTS", "LearnerCallback", "V1Events", "uses_v1_events", "with_v1_adapter"]

V1_EVENTS = (
    "on_train_begin",
    "on_epoch_begin",
    "on_batch_begin",
    "on_loss_begin",
    "on_backward_begin",
    "on_backward_end",
    "on_step_end",
    "on_batch_end",
    "on_epoch_end",
    "on_train_end",
)


def _default(f):
    """Marks a v1 event that does nothing (a base class's), so it is neither called nor a metric's."""
    f._v1_default = True
    return f


def overrides(obj: Any, event: str) -> bool:
    """Whether ``obj`` has its own (not a do-nothing default) ``event`` method."""
    f = getattr(obj, event, None)
    return callable(f) and not getattr(f, "_v1_default", False)


def uses_v1_events(cb: Any) -> bool:
    """Whether the callback ``cb`` handles any of fastai v1's events (:data:`V1_EVENTS`)."""
    return any(overrides(cb, e) for e in V1_EVENTS)


def is_learner(obj: Any) -> bool:
    """Whether ``obj`` looks like a Learner (callbacks never import the Learner: duck typing)."""
    return all(hasattr(obj, a) for a in ("fit", "model", "data", "callbacks"))


class LearnerCallback(Callback):
    """fastai v1's base for a callback that holds its learner: ``MyCallback(learn)``.

    Built with the learner, it is also reachable as ``learn.<its class name in snake_case>`` (v1's
    ``cb_name``), unless the learner already has something else under that name. Subclasses
    override v1's events (see :mod:`emberfit.core.callbacks.v1_events`); the do-nothing defaults
    here let ``super().on_epoch_end(**kwargs)`` work. emberfit's own events work too.

    >>> class StopAfter(LearnerCallback):
    ...     def __init__(self, learn, n_batches=2):
    ...         super().__init__(learn)
    ...         self.n_batches = n_batches
    ...     def on_batch_end(self, iteration, train, **kwargs):
    ...         if train and iteration + 1 >= self.n_batches:
    ...             return {'stop_epoch': True, 'stop_training': True}
    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=4, device='cpu')
    >>> learn = Learner(data, nn.Sequential(nn.Linear(2, 1), nn.Flatten(0)), loss_func=F.mse_loss, silent=True)
    >>> learn.fit(3, 1e-2, callbacks=[StopAfter(learn)])
    >>> len(learn.recorder.losses), len(learn.recorder.val_losses)  # 2 batches, then validation
    (2, 1)
    >>> type(learn.stop_after).__name__
    'StopAfter'
    """

    def __init__(self, learn: Any = None):
        if learn is None:
            return
        if not is_learner(learn):
            raise TypeError(
                f"{type(self).__name__}(learn=...): learn must be the Learner, got {learn!r} "
                f"({type(learn).__name__}); build it as {type(self).__name__}(learn, ...)"
            )
        self.learn = learn
        current = getattr(learn, self.cb_name, None)
        if current is None or isinstance(current, type(self)):
            setattr(learn, self.cb_name, self)

    @property
    def cb_name(self) -> str:
        """v1's name for this callback on the learner: the class name in snake_case."""
        return camel2snake(type(self).__name__)

    @_default
    def on_train_begin(self, **kwargs): ...
    @_default
    def on_epoch_begin(self, **kwargs): ...
    @_default
    def on_batch_begin(self, **kwargs): ...
    @_default
    def on_loss_begin(self, **kwargs): ...
    @_default
    def on_backward_begin(self, **kwargs): ...
    @_default
    def on_backward_end(self, **kwargs): ...
    @_default
    def on_step_end(self, **kwargs): ...
    @_default
    def on_batch_end(self, **kwargs): ...
    @_default
    def on_epoch_end(self, **kwargs): ...
    @_default
    def on_train_end(self, **kwargs): ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _accepted(f) -> set[str] | None:
    """The keyword names ``f`` takes (None: any, it has ``**kwargs`` or no readable signature)."""
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params}


def _sort_key(cb: Any) -> float:
    own = getattr(type(cb), "_order", None)  # v1's name for the order
    return own if isinstance(own, (int, float)) else cb.order


class _StoppableLoader:
    """The training loader of one epoch, ending early once a v1 callback asked for ``stop_epoch``."""

    def __init__(self, dl: Any):
        self.dl, self.stop = dl, False

    def __iter__(self):
        for batch in self.dl:
            if self.stop:
                return
            yield batch

    def __len__(self) -> int:
        return len(self.dl)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dl, name)


class V1Events(Callback):
    """Runs fastai v1's events of the callbacks ``cbs`` (one per fit; see the module docstring).

    >>> class Count(Callback):  # a v1-style callback: its events go through this adapter
    ...     def on_train_begin(self, **kwargs): self.n = 0
    ...     def on_batch_end(self, train, **kwargs): self.n += train
    >>> x = torch.randn(32, 2); y = x.sum(1)
    >>> data = DataBunch.from_tensors(x[:24], y[:24], x[24:], y[24:], bs=8, device='cpu')
    >>> learn = Learner(data, nn.Sequential(nn.Linear(2, 1), nn.Flatten(0)), loss_func=F.mse_loss, silent=True)
    >>> cb = Count(); learn.fit(2, 1e-2, callbacks=[cb]); cb.n
    6
    """

    order = -8  # after the Recorder (-10): on_epoch_end sees this epoch's losses and metrics

    def __init__(self, cbs: list):
        self.cbs = sorted(cbs, key=_sort_key)
        self.calls = {
            e: [(cb, getattr(cb, e), _accepted(getattr(cb, e))) for cb in self.cbs if overrides(cb, e)]
            for e in V1_EVENTS
        }
        self.stopper = _V1Stop(self)

    # -- calling v1 events and reading what they return ---------------------------------
    def _call(self, event: str, **extra) -> None:
        for cb, f, names in self.calls[event]:
            state = {**self.state, **extra}
            out = f(**(state if names is None else {k: v for k, v in state.items() if k in names}))
            self._update(cb, event, out)

    def _update(self, cb: Any, event: str, out: Any) -> None:
        if out is None or out is False:
            return
        if out is True and event in ("on_batch_end", "on_epoch_end"):  # early v1: True meant stop
            out = {"stop_epoch" if event == "on_batch_end" else "stop_training": True}
        if not isinstance(out, dict):
            raise TypeError(
                f"{type(cb).__name__}.{event} returned {out!r} ({type(out).__name__}); a v1 event returns "
                "None or a dict of the state to change, e.g. {'stop_training': True}"
            )
        for k, v in out.items():
            if k not in self.state:
                raise KeyError(
                    f"{type(cb).__name__}.{event} returned {{{k!r}: ...}}, but {k!r} is not in the state of "
                    f"the callbacks; return one of {sorted(self.state)}"
                )
            self.state[k] = v

    # -- emberfit's events, translated ----------------------------------------------------
    def before_fit(self):
        learn = self.learn
        self.state: dict[str, Any] = dict(
            epoch=0, iteration=0, num_batch=0, n_epochs=learn.n_epoch, pbar=None,
            metrics=list(learn.metrics), train=True, stop_training=False, stop_epoch=False,
            skip_step=False, skip_zero=False, skip_bwd=False, skip_validate=False, last_input=None,
            last_target=None, last_output=None, last_loss=None, smooth_loss=None, last_metrics=None,
        )  # fmt: skip
        self.smooth, self.was_skipping = SmoothenValue(), learn.skip_validate
        self.params = [p for p in learn.model.parameters()]
        self.grads: list = []
        self.carry: list = []  # gradients kept by skip_zero, added to the next batch's
        self._call("on_train_begin", metrics_names=[m.name for m in learn.metrics])

    def before_epoch(self):
        learn = self.learn
        self.state.update(epoch=learn.epoch, num_batch=0, stop_training=False)
        self._call("on_epoch_begin")
        self.loader = _StoppableLoader(learn.training_dl)
        learn.training_dl = self.loader  # read by the loop right after this event

    def before_batch(self):
        learn = self.learn
        self.state.update(
            last_input=learn.xb, last_target=learn.yb, train=learn.training,
            stop_epoch=False, skip_step=False, skip_zero=False, skip_bwd=False,
        )  # fmt: skip
        self._call("on_batch_begin")
        learn.xb, learn.yb = self.state["last_input"], self.state["last_target"]

    def after_pred(self):
        self.state["last_output"] = self.learn.pred
        self._call("on_loss_begin")
        self.learn.pred = self.state["last_output"]

    def after_loss(self):
        learn = self.learn
        if not learn.training:
            return
        self.state.update(last_loss=learn.loss, smooth_loss=self.smooth.add(float(learn.loss.detach())))
        self._call("on_backward_begin")
        learn.loss = self.state["last_loss"]
        if self.state["skip_bwd"]:  # backward through a detached copy: no parameter gets a gradient
            learn.loss = learn.loss.detach().requires_grad_()

    def after_backward(self):
        for p, g in self.carry:  # skip_zero: the kept gradients add to this batch's, as in v1
            p.grad = g if p.grad is None else p.grad.add_(g)
        self.carry = []
        self._call("on_backward_end")
        self.grads = [(p, p.grad) for p in self.params if p.grad is not None]
        if self.state["skip_step"]:  # optimizers skip parameters without a gradient
            for p, _ in self.grads:
                p.grad = None

    def after_batch(self):
        learn, state = self.learn, self.state
        if learn.training:
            self._call("on_step_end")
            self.carry = self.grads if state["skip_zero"] else []
            self.grads = []
        state["last_loss"] = learn.loss.detach()
        self._call("on_batch_end")
        if learn.training:
            state["iteration"] += 1
            state["num_batch"] += 1
            if state["stop_epoch"]:
                self.loader.stop = True

    def before_validate(self):
        self.learn.skip_validate = self.was_skipping or bool(self.state["skip_validate"])

    def after_epoch(self):
        learn = self.learn
        loss = learn.valid_loss
        self.state["last_metrics"] = [loss, *learn.metric_values] if loss is not None else [None]
        self._call("on_epoch_end")
        self.state["epoch"] += 1
        if self.state["stop_training"] and learn.stop_reason is None:
            learn.stop_reason = f"training stopped by a callback at epoch {learn.epoch}"

    def after_fit(self):
        learn = self.learn
        if not hasattr(self, "state"):  # the fit failed before this adapter started
            return
        try:
            self._call("on_train_end", exception=False)
        finally:
            learn.skip_validate = self.was_skipping
            if isinstance(learn.training_dl, _StoppableLoader):
                learn.training_dl = learn.training_dl.dl
            self.carry, self.grads = [], []


class _V1Stop(Callback):
    """Ends the fit after every callback's ``after_epoch`` when a v1 callback returned ``stop_training``."""

    order = 1000

    def __init__(self, events: V1Events):
        self.events = events

    def after_epoch(self):
        if self.events.state["stop_training"]:
            raise CancelFitException()


def with_v1_adapter(cbs: list, learn: Any) -> list:
    """``cbs`` plus, when some of them handle v1 events, the adapter that runs those events for ``learn``.

    >>> class Hello(Callback):
    ...     def on_train_begin(self, **kwargs): print('hello')
    >>> [type(c).__name__ for c in with_v1_adapter([Hello()], learn=None)]
    ['Hello', 'V1Events', '_V1Stop']
    """
    v1 = [cb for cb in cbs if uses_v1_events(cb)]
    if not v1:
        return cbs
    events = V1Events(v1)
    events.learn = events.stopper.learn = learn
    return [*cbs, events, events.stopper]

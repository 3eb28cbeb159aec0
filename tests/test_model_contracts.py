"""Every model the facades export goes through the same contract, as a plain ``nn.Module`` without a Learner.

The models are found, not listed: every ``nn.Module`` subclass defined in emberfit among the facades' names,
plus the text facade's factories (``get_language_model``, ``get_text_classifier``, built with the small
preset configs). Each needs an entry in ``MODELS`` (a model without one fails ``test_every_model_has_an_entry``):
how to build it with a seed, a small input batch, and the expected shape of its prediction.

Checks, per model: the output shape; a state_dict round trip through safetensors (``save_file`` of a copy of
each tensor, then a strict ``load_state_dict``; emberfit.core exports no save/load helper) into a model built
with another seed gives identical eval-mode outputs and keeps tied weights tied; one AdamW training step gives a finite loss and finite gradients and
changes the parameters; eval mode is deterministic (the same output twice, whatever the RNG); and the model is
a plain module (deep-copyable, ``.to()``-able, tensors-only state_dict, no Learner or DataBunch inside).
Models that carry a hidden state (``reset()``, the AWD-LSTM) are reset before each call.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file, save_file

import emberfit.collab as collab_facade
import emberfit.core as core_facade
import emberfit.tabular as tabular_facade
import emberfit.text as text_facade
from emberfit.collab import EmbeddingDotBias, EmbeddingNN
from emberfit.core import MLP, AdamW, DataBunch, Learner, SigmoidRange, nn
from emberfit.tabular import PeriodicEmbedding, PiecewiseLinearEmbedding, TabularModel, TabularNet
from emberfit.text import (
    AWD_LSTM,
    awd_lstm_small_clas_config,
    awd_lstm_small_lm_config,
    get_language_model,
    get_text_classifier,
)

FACADES = (core_facade, text_facade, tabular_facade, collab_facade)
BS, VOCAB, SEQ = 3, 40, 7


def _first(out):
    """The prediction: the text models also return their encoder outputs after it."""
    return out[0] if isinstance(out, tuple) else out


@dataclass
class Entry:
    """``build()`` a model (the seed is set before), its ``inputs()``, and the shape of its prediction."""

    build: Callable[[], nn.Module]
    inputs: Callable[[], tuple]
    shape: tuple[int, ...]
    pred: Callable = _first  # the prediction among the outputs
    has_params: bool = True


def _tokens():
    return (torch.randint(2, VOCAB, (BS, SEQ)),)  # 0 and 1 (pad) left out


def _pairs():
    return (torch.stack([torch.randint(1, 6, (BS,)), torch.randint(1, 8, (BS,))], dim=1),)


MODELS: dict[str, Entry] = {
    "MLP": Entry(lambda: MLP(5, [8, 6], 2, ps=0.1), lambda: (torch.randn(BS, 5),), (BS, 2)),
    "SigmoidRange": Entry(
        lambda: SigmoidRange(0, 5.5), lambda: (torch.randn(BS, 4),), (BS, 4), has_params=False
    ),
    "TabularModel": Entry(
        lambda: TabularModel([(5, 3), (4, 2)], n_cont=2, out_sz=2, layers=[8], ps=[0.1], emb_drop=0.1),
        lambda: (
            torch.stack([torch.randint(0, 5, (BS,)), torch.randint(0, 4, (BS,))], 1),
            torch.randn(BS, 2),
        ),
        (BS, 2),
    ),
    "TabularNet": Entry(  # 3 members (TabM-mini) on PLE: training gives (BS, 3, 2), eval the ensemble's (BS, 2)
        lambda: TabularNet(
            [5, 4],
            n_cont=2,
            out_sz=2,
            layers=[8],
            cont_emb="ple",
            bins=[[-1, 0, 1], [-2, 0, 0.5, 2]],
            values=[[], [-1.0, 0.0, 1.0]],  # the second column also has value codes
            n_members=3,
        ),
        lambda: (
            torch.stack([torch.randint(0, 5, (BS,)), torch.randint(0, 4, (BS,))], 1),
            torch.cat([torch.randn(BS, 1), torch.randint(-1, 3, (BS, 1)).float()], 1),  # kept values and 2.0
        ),
        (BS, 2),
    ),
    "PiecewiseLinearEmbedding": Entry(
        lambda: PiecewiseLinearEmbedding([[-1, 0, 1], [-2, 0, 2]], d=4),
        lambda: (torch.randn(BS, 2),),
        (BS, 2, 4),
    ),
    "PeriodicEmbedding": Entry(
        lambda: PeriodicEmbedding(2, n_freq=4, d=3), lambda: (torch.randn(BS, 2),), (BS, 2, 3)
    ),
    "EmbeddingDotBias": Entry(lambda: EmbeddingDotBias(4, 6, 8, y_range=(0, 5.5)), _pairs, (BS,)),
    "EmbeddingNN": Entry(
        lambda: EmbeddingNN(((6, 4), (8, 5)), layers=[8], ps=[0.1], y_range=(0, 5.5)), _pairs, (BS,)
    ),
    "AWD_LSTM": Entry(
        lambda: AWD_LSTM(VOCAB, emb_sz=8, n_hid=16, n_layers=3),
        _tokens,
        (BS, SEQ, 8),
        pred=lambda out: out[1][-1],  # (raw_outputs, outputs): the last layer's output after dropout
    ),
    "get_language_model": Entry(
        lambda: get_language_model(awd_lstm_small_lm_config, VOCAB, drop_mult=0.5), _tokens, (BS, SEQ, VOCAB)
    ),
    "get_text_classifier": Entry(
        lambda: get_text_classifier(awd_lstm_small_clas_config, VOCAB, n_class=3, bptt=4, drop_mult=0.5),
        _tokens,
        (BS, 3),
    ),
}
FACTORIES = ("get_language_model", "get_text_classifier")


def exported_models() -> set[str]:
    """The facades' nn.Module subclasses defined in emberfit, and the model factories they export."""
    found = set()
    for facade in FACADES:
        for name in facade.__all__:
            obj = getattr(facade, name)
            if (
                isinstance(obj, type)
                and issubclass(obj, nn.Module)
                and obj.__module__.startswith("emberfit.")
            ):
                found.add(name)
            elif name in FACTORIES:
                found.add(name)
    return found


def make(name: str, seed: int = 0) -> tuple[nn.Module, tuple]:
    torch.manual_seed(seed)
    model = MODELS[name].build()
    torch.manual_seed(100 + seed)
    return model, MODELS[name].inputs()


def run(model: nn.Module, inputs: tuple):
    if hasattr(model, "reset"):
        model.reset()
    return model(*inputs)


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    return []


def _assert_same(a, b, what: str) -> None:
    ta, tb = _tensors(a), _tensors(b)
    assert len(ta) == len(tb) and ta, f"{what}: outputs differ in structure"
    for i, (x, y) in enumerate(zip(ta, tb)):
        assert torch.equal(x, y), f"{what}: output tensor {i} differs (max diff {(x - y).abs().max().item()})"


NAMES = sorted(MODELS)


def test_every_model_has_an_entry():
    missing = sorted(exported_models() - set(MODELS))
    assert not missing, f"exported models without an entry in MODELS (add how to build them): {missing}"
    assert {"TabularModel", "EmbeddingDotBias", "EmbeddingNN", "get_language_model"} <= exported_models()


@pytest.mark.parametrize("name", NAMES)
def test_output_shape(name):
    model, inputs = make(name)
    pred = MODELS[name].pred(run(model.eval(), inputs))
    assert tuple(pred.shape) == MODELS[name].shape, f"{name}: prediction of shape {tuple(pred.shape)}"
    assert torch.isfinite(pred).all(), f"{name}: non-finite prediction"


def _shared_groups(model: nn.Module) -> list[list[str]]:
    """State-dict keys grouped by the tensor they share (tied weights, WeightDropout's aliases)."""
    groups: dict[int, list[str]] = {}
    for k, v in model.state_dict(keep_vars=True).items():
        groups.setdefault(v.data_ptr(), []).append(k)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


@pytest.mark.parametrize("name", NAMES)
def test_safetensors_round_trip(name, tmp_path):
    model, inputs = make(name, seed=0)
    with torch.no_grad():
        run(model.train(), inputs)  # moves BatchNorm running statistics off their defaults
    # safetensors refuses shared storage: each key gets its own copy, as emberfit's own files do
    save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, tmp_path / "m.st")
    other, _ = make(name, seed=1)
    if MODELS[name].has_params:
        assert any(not torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters())), (
            f"{name}: two seeds built the same weights"
        )
    other.load_state_dict(load_file(tmp_path / "m.st"), strict=True)
    assert _shared_groups(other) == _shared_groups(model), f"{name}: loading untied shared weights"
    with torch.no_grad():
        _assert_same(run(model.eval(), inputs), run(other.eval(), inputs), f"{name} after save/load")


@pytest.mark.parametrize("name", NAMES)
def test_one_training_step(name):
    model, inputs = make(name)
    if not MODELS[name].has_params:
        assert list(model.parameters()) == []
        out = MODELS[name].pred(run(model.train(), inputs))
        assert torch.isfinite(out).all()
        return
    before = [p.detach().clone() for p in model.parameters()]
    opt = AdamW(list(model.parameters()), lr=1e-2)
    loss = MODELS[name].pred(run(model.train(), inputs)).float().pow(2).mean()
    assert math.isfinite(loss.item()), f"{name}: loss {loss.item()}"
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads, f"{name}: no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads), f"{name}: non-finite gradient"
    opt.step()
    after = list(model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after)), f"{name}: the step changed no parameter"
    assert all(torch.isfinite(p).all() for p in after), f"{name}: non-finite parameter after the step"


@pytest.mark.parametrize("name", NAMES)
def test_eval_mode_is_deterministic(name):
    model, inputs = make(name)
    model.eval()
    with torch.no_grad():
        torch.manual_seed(1)
        first = run(model, inputs)
        torch.manual_seed(2)  # another RNG state: eval mode must not draw from it
        second = run(model, inputs)
    _assert_same(first, second, f"{name} in eval mode")


def _foreign(model: nn.Module) -> list[str]:
    """Attributes of the model's modules that hold a Learner or a DataBunch."""
    return [
        f"{mname}.{attr}"
        for mname, m in model.named_modules()
        for attr, v in vars(m).items()
        if isinstance(v, (Learner, DataBunch))
    ]


@pytest.mark.parametrize("name", NAMES)
def test_is_a_plain_module(name):
    model, inputs = make(name)
    assert isinstance(model, nn.Module)
    assert type(model).__call__ is nn.Module.__call__, f"{name} overrides __call__ (hooks would be skipped)"
    assert not _foreign(model), f"{name} holds learner objects: {_foreign(model)}"
    assert all(isinstance(v, torch.Tensor) for v in model.state_dict().values())
    clone = copy.deepcopy(model).to("cpu", torch.float32).eval()
    with torch.no_grad():
        _assert_same(run(model.eval(), inputs), run(clone, inputs), f"{name} deep-copied")

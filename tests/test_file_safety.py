"""A file can never make emberfit run code: tampered exports, data files and checkpoints, tried as an attacker would.

Every class a file names is looked up by exact name in ``emberfit.core.registry``. These tests
put stdlib, torch and emberfit-internal callables (directly, through emberfit modules, dunders,
names that emberfit modules merely import) into every field of a real export that names a class,
with arguments that would create a marker file, and check for a clean ValueError and no marker.
"""

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emberfit.core.io import load_tensors, save_tensors
from emberfit.core.registry import LEGACY_NAMES, lookup
from emberfit.tabular import Categorify, FillMissing, Normalize, TabularList, load_learner, tabular_learner

# Names an attacker would try: callables that run commands, unpickle, import, or write files.
ATTACKS = [
    "os:system",
    "builtins:eval",
    "builtins:exec",
    "builtins:__import__",
    "subprocess:run",
    "torch:load",
    "emberfit.core.io:os.system",
    "emberfit.core.io:torch.load",
    "emberfit.core.learner:torch.load",
    "emberfit.core.io:atomic_write",  # an emberfit function that writes files
    "emberfit.core.io:save_tensors",
    "emberfit.core.io:__builtins__.exec",
    "emberfit.core.learner:Learner.__init__.__globals__",
    "emberfit.core.data_block:np.load",  # a name emberfit merely imports
    "emberfit.core.data_block:pd.read_pickle",
    "emberfit:__class__",
    "core.Learner.__init__",
    "__import__",
    "os.system",
    "",
]


def _df(n=200, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"color": rng.choice(["red", "blue"], n), "x": rng.normal(size=n)})
    df["y"] = np.where(df.x + (df.color == "red") > 0.5, "yes", "no")
    df.loc[::17, "x"] = np.nan
    return df


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A real tabular export (procs, item lists, model factory, learner class) and its predictions."""
    path = tmp_path_factory.mktemp("export")
    df = _df()
    data = (
        TabularList.from_df(
            df, path=path, cat_names=["color"], cont_names=["x"], procs=[FillMissing, Categorify, Normalize]
        )
        .split_by_idx(list(range(160, 200)))
        .label_from_df(cols="y")
        .databunch(bs=32, device="cpu")
    )
    torch.manual_seed(0)
    learn = tabular_learner(data, layers=[8], silent=True)
    learn.fit(1, 1e-2)
    f = learn.export("export.safetensors", return_path=True)
    tensors, meta = load_tensors(f)
    rows = df.iloc[:12]
    preds = torch.stack([learn.predict(rows.iloc[i])[2] for i in range(len(rows))])
    return path, tensors, meta, rows, preds


def _class_fields(meta):
    """Paths (lists of keys) of every field in an export header that names a class or factory."""
    out = [["learner_cls"], ["model_init", "cls"], ["data", "x_proc", "cls"], ["data", "y_proc", "cls"]]
    for i in range(len(meta["data"]["x_proc"]["proc_states"])):
        out.append(["data", "x_proc", "proc_states", i, "cls"])
    for split in meta["data"]["label_lists"]:
        out += [["data", "label_lists", split, a, "cls"] for a in ("x", "y")]
    return out


def _set(meta, keys, value):
    m = copy.deepcopy(meta)
    node = m
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    return m


def _write(path, tensors, meta, name="tampered.safetensors"):
    save_tensors(path / name, tensors, meta)
    return name


def test_export_names_only_registered_classes(exported):
    _, _, meta, _, _ = exported
    for keys in _class_fields(meta):
        node = meta
        for k in keys:
            node = node[k]
        assert ":" not in node and not node.startswith("emberfit"), f"{keys} stores a module path {node!r}"


@pytest.mark.parametrize("attack", ATTACKS)
def test_tampered_class_names_are_refused_without_side_effect(exported, attack, tmp_path):
    path, tensors, meta, _, _ = exported
    marker = tmp_path / "pwned"
    payload = {"command": f"touch {marker}", "path": str(marker), "data": b"x".hex(), "f": str(marker)}
    mods_before = set(sys.modules)
    for keys in _class_fields(meta):
        m = _set(meta, keys, attack)
        if keys == ["model_init", "cls"]:
            m["model_init"]["kwargs"] = payload
        name = _write(path, tensors, m)
        with pytest.raises(ValueError, match="not a registered emberfit|must be a registered name") as e:
            load_learner(path, name)
        assert repr(attack[:40])[1:-1] in str(e.value) or attack == ""
        assert not marker.exists(), f"{keys}={attack!r} ran code"
    assert set(sys.modules) - mods_before == set(), "a file made emberfit import a module"


def test_wrong_kind_is_named(exported):
    path, tensors, meta, _, _ = exported
    m = _set(meta, ["data", "label_lists", "train", "x", "cls"], "tabular.TabularLearner")
    with pytest.raises(
        ValueError,
        match=r"label_lists\.train\.x\.cls names 'tabular\.TabularLearner', which is a registered learner, not a items",
    ):
        load_learner(path, _write(path, tensors, m))
    m = _set(meta, ["learner_cls"], "tabular.TabularModel")
    with pytest.raises(
        ValueError, match="learner_cls names 'tabular.TabularModel', which is a registered model"
    ):
        load_learner(path, _write(path, tensors, m))


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"command": "touch x"}, "keyword 'command', which tabular.TabularModel does not take"),
        ({"__class__": 1}, "keyword '__class__', which is not an allowed argument name"),
        ("rm -rf /", "must be a JSON object of keyword arguments"),
        ({}, "lacks the required keyword"),
    ],
)
def test_model_kwargs_must_fit_the_signature(exported, kwargs, msg):
    path, tensors, meta, _, _ = exported
    m = _set(meta, ["model_init", "kwargs"], kwargs)
    with pytest.raises(ValueError, match=msg):
        load_learner(path, _write(path, tensors, m))


def test_item_settings_cannot_shadow_methods(exported):
    path, tensors, meta, _, _ = exported
    m = _set(meta, ["data", "label_lists", "train", "x", "kwargs", "split_by_idx"], "x")
    with pytest.raises(ValueError, match="setting 'split_by_idx', which an item list does not take"):
        load_learner(path, _write(path, tensors, m))


def test_old_exports_with_module_paths_still_load(exported):
    """Files written before the registry store 'emberfit.module:Class'; those exact strings still load."""
    path, tensors, meta, rows, preds = exported
    legacy = {v: k for k, v in LEGACY_NAMES.items()}
    m = copy.deepcopy(meta)
    for keys in _class_fields(meta):
        node = m
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = legacy[node[keys[-1]]]
    learn = load_learner(path, _write(path, tensors, m))
    got = torch.stack([learn.predict(rows.iloc[i])[2] for i in range(len(rows))])
    assert torch.allclose(got, preds, atol=1e-6)
    # a module path that was never written by emberfit is not "legacy"
    with pytest.raises(ValueError, match="not a registered"):
        lookup("emberfit.tabular.models:os", "model", "model_init.cls")


def test_tampered_saved_data_and_checkpoint(exported, tmp_path):
    from emberfit.core.data_block.labelling import load_data

    path, _, _, _, _ = exported
    df = _df()
    data = (
        TabularList.from_df(
            df, path=tmp_path, cat_names=["color"], cont_names=["x"], procs=[Categorify, FillMissing]
        )
        .split_by_idx(list(range(160, 200)))
        .label_from_df(cols="y")
        .databunch(bs=32, device="cpu")
    )
    data.save("d.safetensors")
    t, meta = load_tensors(tmp_path / "d.safetensors")
    marker = tmp_path / "pwned"
    for bad in ("os:system", "emberfit.core.io:atomic_write", "core.Learner"):
        m = _set(meta, ["label_lists", "train", "x", "cls"], bad)
        save_tensors(tmp_path / "bad.safetensors", t, m)
        with pytest.raises(ValueError, match=r"d?bad\.safetensors.*label_lists\.train\.x\.cls names"):
            load_data(tmp_path, "bad.safetensors")
    m = _set(meta, ["databunch_kwargs"], {"collate": {"f": str(marker)}, "x": [1, {"y": 2}]})
    save_tensors(tmp_path / "bad.safetensors", t, m)
    with pytest.raises((ValueError, TypeError)):
        load_data(tmp_path, "bad.safetensors")
    assert not marker.exists()

    # a checkpoint whose optimizer state points at a missing tensor: ValueError, weights untouched
    learn = tabular_learner(data, layers=[8], silent=True)
    learn.fit(1, 1e-2)
    ck = learn.save("ck", return_path=True)
    t, meta = load_tensors(ck)
    meta["opt"] = {"__dict__": [["state", {"__tensor__": "no.such.tensor"}]]}
    save_tensors(ck, t, meta)
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    with torch.no_grad():
        for p in learn.model.parameters():
            p.add_(1.0)
    changed = {k: v.clone() for k, v in learn.model.state_dict().items()}
    with pytest.raises(ValueError, match="optimizer state is damaged"):
        learn.load("ck")
    for k, v in learn.model.state_dict().items():
        assert torch.equal(v, changed[k]), "a refused checkpoint changed the weights"
    assert any(not torch.equal(before[k], changed[k]) for k in before)


# -- property-based: random mutations of a real export header --------------------------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ATTACKS + sorted(LEGACY_NAMES) + ["core.MLP", "tabular.FillMissing", "collab.CollabList"]
    ),
)
_json = st.recursive(
    _json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=6,
)


def _paths(node, prefix=()):
    yield list(prefix)
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


# Fields whose change keeps the same model and inputs, so a load that succeeds must predict the same.
_STRUCTURAL = ("learner_cls", "model_init", "format", "version", "cls")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_export_header(exported, tmp_path, data):
    path, tensors, meta, rows, preds = exported
    all_paths = [p for p in _paths(meta) if p]
    keys = data.draw(st.sampled_from(all_paths), label="path")
    action = data.draw(st.sampled_from(["replace", "delete", "attack"]), label="action")
    m = copy.deepcopy(meta)
    node = m
    for k in keys[:-1]:
        node = node[k]
    if action == "delete":
        del node[keys[-1]]
    else:
        node[keys[-1]] = data.draw(_json if action == "replace" else st.sampled_from(ATTACKS), label="value")
    marker = Path(tmp_path) / "pwned"
    name = _write(path, tensors, m, "fuzz.safetensors")
    try:
        learn = load_learner(path, name)
    except ValueError:
        pass
    else:
        if any(k in _STRUCTURAL for k in keys if isinstance(k, str)) and keys[0] != "data":
            got = torch.stack([learn.predict(rows.iloc[i])[2] for i in range(len(rows))])
            assert torch.allclose(got, preds, atol=1e-6), f"{keys} changed predictions"
    assert not marker.exists()


def test_no_importlib_or_attribute_walks_on_file_names():
    """grep-level guard: nothing in the package imports by a computed name except the CLI's fixed table."""
    pkg = Path(__file__).resolve().parents[1] / "emberfit"
    for py in pkg.rglob("*.py"):
        src = py.read_text()
        if "import_module(" in src:
            assert py.name == "cli.py", f"{py} imports modules by name"
        assert "resolve_emberfit_class" not in src, f"{py} still resolves classes by module path"
    # the metadata written is plain JSON, so no json hook can build objects either
    assert "object_hook" not in (pkg / "core" / "io.py").read_text()
    json.dumps({})

"""Inference exports: learn.export and load_learner, and files that were tampered with (emberfit/core/export.py)."""

import json
import zipfile

import numpy as np
import pytest
import torch

from emberfit.core.data import DatasetType
from emberfit.core.data_block.items import ItemList
from emberfit.core.export import load_learner
from emberfit.core.learner import Learner
from emberfit.core.metrics import accuracy

from .helpers import frame, mlp_learner


def test_export_load_learner_roundtrip_classification(tmp_path):
    df = frame()
    learn = mlp_learner(df, label="label", n_out=2, tmp_path=tmp_path, metrics=accuracy)
    learn.fit_one_cycle(2, 1e-2)
    preds = learn.get_preds()[0]
    cls, idx, probs = learn.predict(np.array([0.5, -0.2, 0.1], dtype=np.float32))
    assert learn.export() is None  # v1: export returns nothing; the file is path/'export.pkl'
    f = learn.export(return_path=True)
    assert f == tmp_path / "export.pkl"  # v1's name kept, the content is safetensors
    raw = f.read_bytes()
    n = int.from_bytes(raw[:8], "little")  # safetensors: an 8-byte length, then that much JSON
    assert not zipfile.is_zipfile(f) and isinstance(
        json.loads(raw[8 : 8 + n]), dict
    )  # not a pickle / torch zip
    learn2 = load_learner(tmp_path)
    assert learn2.data.device.type == "cpu"
    cls2, idx2, probs2 = learn2.predict(np.array([0.5, -0.2, 0.1], dtype=np.float32))
    assert cls == cls2 and cls in ("yes", "no") and torch.allclose(probs, probs2)
    learn2 = load_learner(tmp_path, test=ItemList(df[["a", "b", "c"]].values.astype(np.float32)))
    p2 = learn2.get_preds(DatasetType.Test)[0]
    assert torch.allclose(p2[-60:], preds, atol=1e-6)


def test_exported_file_tampered(tmp_path):
    learn = mlp_learner(frame(), tmp_path=tmp_path)
    f = learn.export(return_path=True)
    raw = bytearray(f.read_bytes())
    raw[10:20] = b"xxxxxxxxxx"
    f.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt"):
        load_learner(tmp_path)
    # a header that asks for a class outside emberfit is refused, not imported
    from emberfit.core.io import load_tensors, save_tensors

    f = learn.export("e2.safetensors", return_path=True)
    t, meta = load_tensors(f)
    meta["model_init"]["cls"] = "os:system"
    save_tensors(f, t, meta)
    with pytest.raises(ValueError, match="'os:system', which is not a registered emberfit model"):
        load_learner(tmp_path, "e2.safetensors")


def test_export_needs_model_init(tmp_path):
    learn = mlp_learner(frame(), tmp_path=tmp_path)
    learn.model_init = None
    with pytest.raises(ValueError, match="not built by an emberfit factory"):
        learn.export()
    assert isinstance(learn, Learner)

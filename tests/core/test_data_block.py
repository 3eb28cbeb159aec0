import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.core.data import TensorLoader
from emberfit.core.data_block.items import ItemList
from emberfit.core.data_block.labelling import load_data
from emberfit.core.data_block.labels import CategoryList, FloatList

from .helpers import frame, mlp_learner


def test_splits():
    il = ItemList(np.arange(10))
    assert len(il.split_by_idx([1, 2]).valid) == 2
    s = il.split_by_idxs([0, 1, 2], [3, 4])
    assert list(s.train.items) == [0, 1, 2] and list(s.valid.items) == [3, 4]
    a = il.split_by_rand_pct(0.3, seed=1)
    b = il.random_split_by_pct(0.3, seed=1)
    assert len(a.valid) == 3 and list(a.valid.items) == list(b.valid.items)
    assert len(il.split_none().valid) == 0
    df = pd.DataFrame({"x": range(6), "is_valid": [False, True, False, True, "True", 0]})
    assert list(ItemList.from_df(df, cols="x").split_from_df("is_valid").valid.items) == [1, 3, 4]


def test_split_errors():
    il = ItemList(np.arange(10))
    with pytest.raises(ValueError, match="valid_idx is empty"):
        il.split_by_idx([])
    with pytest.raises(ValueError, match="outside 0..9"):
        il.split_by_idx([10])
    with pytest.raises(ValueError, match="valid_pct"):
        il.split_by_rand_pct(1.5)
    with pytest.raises(ValueError, match="0 validation rows"):
        il.split_by_rand_pct(0.01)
    with pytest.raises(ValueError, match="training split has no items"):
        il.split_by_idx(list(range(10)))


def test_folders(tmp_path):
    for split in ("train", "valid", "other"):
        for cls in ("cat", "dog"):
            d = tmp_path / split / cls
            d.mkdir(parents=True)
            for i in range(3):
                (d / f"{i}.txt").write_text(f"{split} {cls} {i}")
    il = ItemList.from_folder(tmp_path, extensions=[".txt"])
    assert len(il) == 18
    assert len(il.filter_by_folder(include=["train", "valid"])) == 12
    assert len(il.filter_by_folder(exclude=["other"])) == 12
    assert len(il.filter_by_func(lambda p: p.name == "0.txt")) == 12
    lls = il.filter_by_folder(include=["train", "valid"]).split_by_folder().label_from_folder()
    assert lls.train.y.classes == ["cat", "dog"] and len(lls.valid) == 6
    with pytest.raises(ValueError, match="folders under"):
        il.split_by_folder(valid="nope")
    with pytest.raises(TypeError, match="list of folder names"):
        il.filter_by_folder(include="train")
    lf = il.split_by_folder().label_from_func(lambda p: int(p.stem), label_cls=CategoryList)
    assert lf.train.y.classes == [0, 1, 2]


def test_labels_fit_on_train_only_and_unknown_valid_labels_warn():
    df = pd.DataFrame({"x": range(8), "y": ["a", "b", "a", "b", "a", "b", "c", "a"]})
    with pytest.warns(UserWarning, match="1 valid item"):
        lls = ItemList.from_df(df, cols="x").split_by_idx([6, 7]).label_from_df("y")
    assert lls.train.y.classes == ["a", "b"] and len(lls.valid) == 1
    ll = ItemList.from_df(df, cols="x").split_by_idx([5]).label_from_df("y", classes=["a", "b", "c"])
    assert ll.train.y.classes == ["a", "b", "c"]


def test_label_errors():
    df = pd.DataFrame({"x": range(5), "y": [1.0, np.nan, 2.0, 3.0, 4.0], "s": ["a", None, "b", "a", "b"]})
    il = ItemList.from_df(df, cols="x").split_by_idx([4])
    with pytest.raises(ValueError, match="1 label"):
        il.label_from_df("y")
    with pytest.raises(ValueError, match="1 training label"):
        il.label_from_df("s")
    with pytest.raises(KeyError, match="'yy' is not a column.*did you mean"):
        il.label_from_df("yy")
    with pytest.raises(TypeError, match="must be numbers"):
        ItemList.from_df(df, cols="x").split_by_idx([4]).label_from_df("s", label_cls=FloatList)
    with pytest.raises(ValueError, match="empty"):
        ItemList.from_df(df.iloc[:0], cols="x")
    with pytest.raises(TypeError, match="DataFrame"):
        ItemList.from_df({"x": [1]}, cols="x")


def test_tensor_loader_and_databunch(tmp_path):
    dl = TensorLoader(
        (torch.arange(10), torch.arange(10.0)), torch.arange(10), bs=4, shuffle=True, drop_last=True
    )
    assert len(dl) == 2
    seen = torch.cat([yb for _, yb in dl])
    assert len(seen) == 8 and len(set(seen.tolist())) == 8
    with pytest.raises(ValueError, match="bs must be a positive int"):
        TensorLoader(torch.zeros(3), None, bs=0)
    with pytest.raises(ValueError, match="rows but y has"):
        TensorLoader(torch.zeros(3), torch.zeros(4))
    data = mlp_learner(frame(), tmp_path=tmp_path).data
    xb, yb = data.one_batch()
    assert xb.dtype == torch.float32 and xb.shape == (32, 3) and yb.shape == (32,)
    df = data.batch_table(rows=4)
    assert list(df.columns) == ["x0_0", "x0_1", "x0_2", "target"] and len(df) == 4
    assert data.c == 1 and "train: 240 items" in repr(data)
    with pytest.raises(ValueError, match="rows must be"):
        data.show_batch(rows=0)


def test_databunch_save_and_load_data_without_pickle(tmp_path):
    data = mlp_learner(frame(), label="label", n_out=2, tmp_path=tmp_path).data
    f = data.save("tmp")
    assert f.exists() and not zipfile.is_zipfile(f) and b"pickle" not in f.read_bytes()[:2000]
    d2 = load_data(tmp_path, "tmp", bs=16)
    assert d2.classes == ["no", "yes"] and d2.train_dl.bs == 16
    x1 = torch.cat([xb for xb, _ in data.valid_dl])
    x2 = torch.cat([xb for xb, _ in d2.valid_dl])
    assert torch.equal(x1, x2)
    with pytest.raises(FileNotFoundError):
        load_data(tmp_path, "missing")

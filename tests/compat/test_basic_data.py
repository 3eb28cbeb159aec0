"""fastai v1's ``basic_data`` module, used as a v1 user's script used it (only the import line changed).

``DataBunch.create`` from Datasets, ``DeviceDataLoader``, ``data.batch_size``, ``one_batch``,
``one_item``, ``show_batch``, ``dl(DatasetType.X)``, on the bundled adult sample, checking values,
shapes and order.
"""

import numpy as np
import pytest

import emberfit.core.display as display_module
from emberfit.tabular import *  # v1: from fastai.tabular import *

CAT_NAMES = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
CONT_NAMES = ["age", "fnlwgt", "education-num"]


@pytest.fixture(scope="module")
def adult():
    path = untar_data(URLs.ADULT_SAMPLE)
    return path, pd.read_csv(path / "adult.csv").iloc[:3000].copy()


@pytest.fixture(scope="module")
def adult_data(adult):
    path, df = adult
    procs = [FillMissing, Categorify, Normalize]
    return (
        TabularList.from_df(df, path=path, cat_names=CAT_NAMES, cont_names=CONT_NAMES, procs=procs)
        .split_by_idx(list(range(800, 1000)))
        .label_from_df(cols="salary")
        .databunch(bs=64)
    )


def adult_tensors(df):
    """The adult sample as a v1 user would make plain Datasets: standardized numbers, 0/1 salary."""
    x = df[CONT_NAMES].fillna(df[CONT_NAMES].median()).to_numpy(np.float32)
    x = (x - x[:2000].mean(0)) / x[:2000].std(0)
    y = (df.salary == ">=50k").to_numpy().astype(np.int64)
    return torch.tensor(x), torch.tensor(y)


# ------------------------------------------------------------------------ DataBunch.create
def test_create_from_tensor_datasets_batches_as_v1(adult):
    _, df = adult
    x, y = adult_tensors(df)
    train_ds, valid_ds = TensorDataset(x[:2000], y[:2000]), TensorDataset(x[2000:2500], y[2000:2500])
    test_ds = TensorDataset(x[2500:], y[2500:])
    data = DataBunch.create(train_ds, valid_ds, test_ds, bs=64, val_bs=100, device="cpu")
    assert data.train_ds is train_ds and data.valid_ds is valid_ds and data.test_ds is test_ds
    assert (
        len(data.train_dl) == 2000 // 64 and len(data.valid_dl) == 5 and len(data.test_dl) == 5
    )  # train drops last
    assert data.batch_size == 64
    xb, yb = data.one_batch()
    assert xb.shape == (64, 3) and yb.dtype == torch.int64 and xb.device.type == "cpu"
    valid = [yb for _, yb in data.dl(DatasetType.Valid)]
    assert torch.equal(torch.cat(valid), y[2000:2500])  # valid and test keep dataset order
    first = [yb for _, yb in data.train_dl][0]
    assert not torch.equal(first, y[:64])  # train is shuffled
    set_seed(0)
    learn = Learner(data, nn.Linear(3, 2), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    before = learn.validate()[0]
    learn.fit(2, 3e-2)
    after, acc = learn.validate()
    assert after < before and 0 <= float(acc) <= 1  # the loaders feed a Learner that learns


def test_create_passes_collate_fn_and_dl_tfms(adult):
    _, df = adult
    x, y = adult_tensors(df)
    ds = TensorDataset(x[:300], y[:300])
    seen = []

    def collate(batch):
        seen.append(len(batch))
        return data_collate(batch)

    data = DataBunch.create(
        ds, ds, bs=50, collate_fn=collate, dl_tfms=[lambda b: (b[0] * 2, b[1])], device="cpu"
    )
    xb, yb = data.one_batch(DatasetType.Valid)
    # the first batch was the sanity check's (v1 collated one training batch when the bunch was created)
    assert seen == [50, 50] and torch.allclose(xb, x[:50] * 2) and torch.equal(yb, y[:50])


def test_create_from_a_databunchs_datasets_rebuilds_it(adult_data):
    data = DataBunch.create(adult_data.train_ds, adult_data.valid_ds, bs=16, device="cpu")
    assert data.classes == adult_data.classes and data.c == 2 and data.batch_size == 16
    (cats, conts), yb = data.one_batch(DatasetType.Valid)
    (cats0, conts0), yb0 = adult_data.one_batch(DatasetType.Valid)
    assert torch.equal(cats, cats0[:16]) and torch.equal(yb, yb0[:16])


def test_create_refuses_what_is_not_a_dataset():
    with pytest.raises(TypeError, match="train_ds must be a Dataset"):
        DataBunch.create(42, None)


def test_device_data_loader_and_data_collate_take_label_items():
    items = [(torch.tensor([float(i)]), Category(i % 2, ["no", "yes"][i % 2])) for i in range(6)]
    dl = DeviceDataLoader.create(items, bs=4, device="cpu")
    batches = list(dl)
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 0, 1], [0, 1]]  # categories collate by their .data
    assert batches[0][0].shape == (4, 1) and len(dl) == 2
    dl.batch_size = 6
    assert len(dl) == 1 and dl.batch_size == 6


# ------------------------------------------------------------------------- batch_size and batches
def test_batch_size_is_readable_and_settable(adult_data):
    data = adult_data
    n_train = len(data.train_ds)
    assert data.batch_size == 64 and len(data.train_dl) == n_train // 64
    data.batch_size = 128
    try:
        assert data.batch_size == 128 and len(data.train_dl) == n_train // 128
        assert len(data.valid_dl) == 2  # 200 rows: 128 + 72 (v1 sets every loader's size)
        assert data.one_batch()[1].shape == (128,)
    finally:
        data.batch_size = 64
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        data.batch_size = 0


def test_one_batch_and_fix_dl(adult_data):
    (cats, conts), yb = adult_data.one_batch(DatasetType.Valid, cpu=True)
    assert cats.shape == (64, len(adult_data.train_ds.cat_names)) and conts.shape == (64, 3)
    assert yb.tolist() == [int(y) for _, y in adult_data.valid_ds[:64]]
    fix = torch.cat([yb for _, yb in adult_data.dl(DatasetType.Fix)])
    assert fix.tolist() == [int(y) for _, y in adult_data.train_ds]


def test_one_item_is_the_row_processed_like_the_data(adult, adult_data):
    _, df = adult
    (cats, conts), yb = adult_data.one_item(df.iloc[800])  # row 800 is the first validation row
    (vcats, vconts), _ = adult_data.one_batch(DatasetType.Valid)
    assert torch.equal(cats, vcats[:1]) and torch.allclose(conts, vconts[:1])
    assert yb.shape == (1,) and yb.dtype == torch.int64  # a stand-in label, as in v1


def test_show_batch_prints_once_and_returns_none(adult_data, capsys):
    assert adult_data.show_batch(rows=4) is None
    out = capsys.readouterr().out
    assert out.count("workclass") == 1 and "target" in out
    assert len(out.strip().splitlines()) == 5  # header + 4 rows
    table = adult_data.batch_table(rows=4)
    assert list(table.columns[:2]) == ["workclass", "education"] and len(table) == 4


def test_show_batch_in_jupyter_displays_one_html_table(adult_data, monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(display_module, "in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    result = adult_data.show_batch(rows=3, ds_type=DatasetType.Valid)
    assert result is None and len(shown) == 1  # nothing returned: Jupyter does not show it a second time
    html = shown[0].data
    assert html.count("<table") == 1 and html.count("<tr") == 4 and "workclass" in html
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="does not take"):
        adult_data.show_batch(row=3)

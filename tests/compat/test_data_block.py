"""fastai v1's ``data_block`` module, used as a v1 user's script used it (only the import line changed).

Each test runs the calls as v1's docs show them, on the bundled real samples (adult, IMDB) or on
IMDB reviews written out as files, and checks what they mean: which rows went where, in which
order, what ``data.train_ds`` answers, what a label item holds.
"""

import re
import warnings

import numpy as np
import pytest

from emberfit.tabular import *  # v1: from fastai.tabular import *
from emberfit.text import TextClasDataBunch, TextList, TextLMDataBunch, Vocab

CAT_NAMES = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
CONT_NAMES = ["age", "fnlwgt", "education-num"]
PROCS = [FillMissing, Categorify, Normalize]


@pytest.fixture(scope="module")
def adult():
    path = untar_data(URLs.ADULT_SAMPLE)
    return path, pd.read_csv(path / "adult.csv").iloc[:3000].copy()


def adult_list(adult):
    path, df = adult
    return TabularList.from_df(df, path=path, cat_names=CAT_NAMES, cont_names=CONT_NAMES, procs=PROCS)


@pytest.fixture(scope="module")
def imdb():
    path = untar_data(URLs.IMDB_SAMPLE)
    return path, pd.read_csv(path / "texts.csv")


@pytest.fixture(scope="module")
def imdb_200(imdb, tmp_path_factory):
    """The first 200 IMDB sample reviews as their own texts.csv (the full sample: the slow tests)."""
    path = tmp_path_factory.mktemp("imdb_200")
    imdb[1].iloc[:200].to_csv(path / "texts.csv", index=False)
    return path, imdb[1].iloc[:200]


def readme_tour(path, df):
    data_lm = TextLMDataBunch.from_csv(path, "texts.csv")
    assert isinstance(data_lm.train_ds.vocab, Vocab) and data_lm.train_ds.vocab is data_lm.vocab
    data_clas = TextClasDataBunch.from_csv(path, "texts.csv", vocab=data_lm.train_ds.vocab, bs=32)
    assert data_clas.vocab.itos == data_lm.vocab.itos and data_clas.batch_size == 32
    labels = [str(y) for ds in (data_clas.train_ds, data_clas.valid_ds) for _, y in ds]
    assert pd.Series(labels).value_counts().to_dict() == df.label.value_counts().to_dict()  # every row once
    x, y = data_clas.train_ds[0]
    assert y.obj in data_clas.train_ds.classes and data_clas.train_ds.vocab.textify(x.data) == str(x)
    return data_lm


@pytest.fixture
def imdb_folder(imdb, tmp_path):
    """IMDB sample reviews as files: 40 in train/{label}/, 20 in valid/{label}/ (is_valid), 10 in test/."""
    _, df = imdb
    rows = {"train": df.index[~df.is_valid][:40], "valid": df.index[df.is_valid][:20]}
    for split, idx in rows.items():
        for i in idx:
            (tmp_path / split / df.label[i]).mkdir(parents=True, exist_ok=True)
            (tmp_path / split / df.label[i] / f"{i}.txt").write_text(df.text[i])
    (tmp_path / "test").mkdir()
    for i in df.index[~df.is_valid][40:50]:
        (tmp_path / "test" / f"{i}.txt").write_text(df.text[i])
    return tmp_path, df


# --------------------------------------------------------------------- LabelList: data.train_ds
def test_train_ds_reads_like_v1s_labellist(adult):
    path, df = adult
    data = adult_list(adult).split_by_idx(list(range(800, 1000))).label_from_df(cols="salary").databunch()
    train_rows = np.r_[0:800, 1000 : len(df)]
    ds = data.train_ds
    assert len(ds) == len(train_rows) and len(data.valid_ds) == 200
    assert ds.classes == data.classes == ["<50k", ">=50k"] and ds.c == data.c == 2
    assert ds.c2i == {"<50k": 0, ">=50k": 1}
    assert type(ds.x).__name__ == "TabularList" and type(ds.y).__name__ == "CategoryList"
    assert ds.cat_names is ds.x.cat_names and ds.cat_names[:6] == CAT_NAMES  # passed through to the items
    assert len(ds.items) == len(ds)
    for i in (0, 1, 7, len(ds) - 1):
        x, y = ds[i]
        want = df.salary.iloc[train_rows[i]]
        assert isinstance(y, Category) and str(y) == want and y.obj == want and y == want
        assert int(y) == y.data == ds.c2i[want]
        assert f"workclass {df.workclass.iloc[train_rows[i]]};" in str(x)
    assert [str(y) for _, y in data.valid_ds[:4]] == df.salary.iloc[
        800:804
    ].tolist()  # a slice is a LabelList
    with pytest.raises(IndexError, match="out of range"):
        data.valid_ds[200]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ds.nope


def test_readme_tour_classifier_takes_the_lm_vocab_from_train_ds(imdb_200):
    """The README's text tour (``vocab=data_lm.train_ds.vocab`` was an AttributeError), on 200 reviews."""
    readme_tour(*imdb_200)


@pytest.mark.slow
def test_readme_tour_on_the_whole_imdb_sample(imdb):
    readme_tour(*imdb)


@pytest.mark.slow
def test_text_data_block_from_the_v1_docs(imdb):
    path, df = imdb
    data_lm = (
        TextList.from_csv(path, "texts.csv", cols="text").split_from_df(col=2).label_for_lm().databunch()
    )
    data_clas = (
        TextList.from_csv(path, "texts.csv", cols="text", vocab=data_lm.vocab)
        .split_from_df(col=2)
        .label_from_df(cols=0)
        .databunch()
    )
    assert len(data_clas.valid_ds) == int(df.is_valid.sum())
    assert [str(y) for _, y in data_clas.valid_ds[:5]] == df[df.is_valid].label.iloc[:5].tolist()
    assert data_clas.valid_ds.vocab is data_lm.vocab


# ------------------------------------------------------------------------- filters and splits
def test_filter_by_rand_keeps_a_repeatable_random_share(adult):
    il = adult_list(adult)
    a, b = il.filter_by_rand(0.3, seed=42), il.filter_by_rand(0.3, seed=42)
    assert 0.25 * len(il) < len(a) < 0.35 * len(il)
    assert a.inner_df.equals(b.inner_df)  # same seed, same rows
    assert not a.inner_df.equals(il.filter_by_rand(0.3, seed=1).inner_df)
    data = a.split_by_rand_pct(0.2, seed=0).label_from_df(cols="salary").databunch(bs=64)
    assert len(data.train_ds) + len(data.valid_ds) == len(a)
    with pytest.raises(ValueError, match="p must be a probability"):
        il.filter_by_rand(1.5)


def test_split_subsets_takes_disjoint_shares(adult):
    path, df = adult
    sd = ItemList.from_df(df.assign(row=np.arange(len(df))), path=path, cols="row")
    src = sd.split_subsets(train_size=0.6, valid_size=0.2, seed=7)
    assert len(src.train) == int(0.6 * len(df)) and len(src.valid) == int(0.2 * len(df))
    tr, va = set(src.train.items.tolist()), set(src.valid.items.tolist())
    assert not tr & va and len(tr | va) == len(src.train) + len(src.valid)
    assert sd.split_subsets(0.6, 0.2, seed=7).valid.items.tolist() == src.valid.items.tolist()
    data = src.label_from_df(cols="salary").databunch(bs=64)
    assert [str(y) for _, y in data.valid_ds[:3]] == df.salary.iloc[src.valid.items[:3]].tolist()
    with pytest.raises(ValueError, match="over 1"):
        sd.split_subsets(0.7, 0.4)


def test_split_by_valid_func_and_split_from_df(adult):
    path, df = adult
    data = (
        adult_list(adult).split_by_valid_func(lambda i: i % 10 == 0).label_from_df(cols="salary").databunch()
    )
    assert len(data.valid_ds) == len(range(0, len(df), 10))
    assert [str(y) for _, y in data.valid_ds[:4]] == df.salary.iloc[[0, 10, 20, 30]].tolist()
    df2 = df.assign(is_valid=np.arange(len(df)) % 4 == 1)
    data = (
        TabularList.from_df(df2, path=path, cat_names=CAT_NAMES, cont_names=CONT_NAMES, procs=PROCS)
        .split_from_df(col="is_valid")
        .label_from_df(cols="salary")
        .databunch()
    )
    assert [str(y) for _, y in data.valid_ds[:3]] == df.salary.iloc[[1, 5, 9]].tolist()


def test_split_by_files_and_by_fname_file(imdb_folder):
    path, df = imdb_folder
    valid_names = [f"{i}.txt" for i in df.index[df.is_valid][:20]]
    (path / "valid.txt").write_text("\n".join(valid_names) + "\n")
    src = TextList.from_folder(path, include=["train", "valid"]).split_by_fname_file("valid.txt")
    assert sorted(p.name for p in src.valid.items) == sorted(valid_names)
    assert all(p.parent.parent.name == "train" for p in src.train.items)
    same = TextList.from_folder(path, include=["train", "valid"]).split_by_files(valid_names)
    assert [p.name for p in same.valid.items] == [p.name for p in src.valid.items]
    data = src.label_from_folder().databunch(bs=8)
    assert {str(data.valid_ds[i][1]) for i in range(len(data.valid_ds))} <= {"negative", "positive"}
    for p, (_, y) in zip(src.valid.items, data.valid_ds):
        assert str(y) == df.label.iloc[int(p.stem)]
    with pytest.raises(FileNotFoundError, match="no file"):
        TextList.from_folder(path).split_by_fname_file("missing.txt")
    with pytest.raises(ValueError, match="none of the .* items has a file name in valid_names"):
        TextList.from_folder(path).split_by_files(["nope.txt"])


# ------------------------------------------------------------------------------------ labelling
def test_label_from_func_on_files(imdb_folder):
    path, df = imdb_folder
    data = (
        TextList.from_folder(path, include=["train", "valid"])
        .split_by_folder(train="train", valid="valid")
        .label_from_func(lambda o: o.parent.name)
        .databunch(bs=8)
    )
    assert data.classes == ["negative", "positive"]
    for p, (_, y) in zip(data.train_ds.items, data.train_ds):
        assert str(y) == df.label.iloc[int(p.stem)] == p.parent.name


def test_label_empty_gives_empty_labels(adult):
    data = adult_list(adult).split_by_idx(list(range(100))).label_empty().databunch(bs=32)
    x, y = data.train_ds[0]
    assert isinstance(y, EmptyLabel) and str(y) == "" and data.c is None and data.loss_func is None
    xb, yb = data.one_batch()
    assert xb[0].shape == (32, len(data.train_ds.cat_names)) and yb.tolist() == [0] * 32


def test_add_test_folder_adds_the_test_files(imdb_folder):
    path, df = imdb_folder
    data = (
        TextList.from_folder(path)
        .split_by_folder(train="train", valid="valid")
        .label_from_folder()
        .add_test_folder("test")
        .databunch(bs=4)
    )
    assert len(data.test_ds) == 10 and isinstance(data.test_ds[0][1], EmptyLabel)
    assert sorted(int(p.stem) for p in data.test_ds.items) == list(range(40, 50))
    assert data.test_ds.vocab is data.train_ds.vocab
    assert sum(len(yb) for _, yb in data.dl(DatasetType.Test)) == 10
    with pytest.raises(FileNotFoundError, match="not a folder"):
        TextList.from_folder(path).split_by_folder(valid="valid").label_from_folder().add_test_folder("tst")


# ------------------------------------------------------------------------ DatasetType, Vocab
def test_dataset_type_has_v1s_members_and_fix_is_the_training_set_in_order(adult):
    assert [t.name for t in DatasetType] == ["Train", "Valid", "Test", "Single", "Fix"]
    data = (
        adult_list(adult).split_by_idx(list(range(800, 1000))).label_from_df(cols="salary").databunch(bs=64)
    )
    ys = torch.cat([yb for _, yb in data.dl(DatasetType.Fix)])
    assert ys.tolist() == [int(y) for _, y in data.train_ds]  # every row, in dataset order
    # v1's single_dl (DatasetType.Single): the validation set in order, one item per batch
    singles = [yb for _, yb in data.dl(DatasetType.Single)]
    assert len(data.single_dl) == len(singles) == 200 and all(yb.shape == (1,) for yb in singles)
    assert [int(yb) for yb in singles] == [int(y) for _, y in data.valid_ds]
    xb, yb = data.one_batch(DatasetType.Single)
    assert xb[0].shape[0] == 1 and int(yb) == int(data.valid_ds[0][1])


def test_vocab_numericalize_and_textify_as_v1(imdb_200):
    vocab = TextLMDataBunch.from_csv(imdb_200[0], "texts.csv").train_ds.vocab
    ids = vocab.numericalize(["the", "movie", "zzqqxx"])
    assert ids == [vocab.stoi["the"], vocab.stoi["movie"], 0]  # unknown tokens are xxunk (0)
    assert vocab.textify(ids) == "the movie xxunk" and vocab.textify(ids, sep=None) == [
        "the",
        "movie",
        "xxunk",
    ]
    assert vocab.textify(torch.tensor(ids)) == "the movie xxunk"
    with pytest.raises(IndexError):  # v1: an id outside the vocabulary
        vocab.textify([len(vocab.itos)])


# ----------------------------------------------------------- label_from_re, label_from_list, transform
def test_label_from_re_on_file_names(imdb_folder):
    path, df = imdb_folder
    src = TextList.from_folder(path, include=["train", "valid"]).split_by_folder(train="train", valid="valid")
    data = src.label_from_re(r"/(\w+)/\d+\.txt$").databunch(bs=8)  # v1: the first group is the label
    assert data.classes == ["negative", "positive"]
    for p, (_, y) in zip(data.valid_ds.items, data.valid_ds):
        assert str(y) == df.label.iloc[int(p.stem)] == p.parent.name
    # full_path=True searches path/item: a pattern anchored on the data's folder
    src = TextList.from_folder(path, include=["train", "valid"]).split_by_folder(train="train", valid="valid")
    anchored = rf"^{re.escape(path.as_posix())}/\w+/(\w+)/"
    full = src.label_from_re(anchored, full_path=True).databunch(bs=8)
    assert [str(y) for _, y in full.valid_ds] == [str(y) for _, y in data.valid_ds]
    with pytest.raises(ValueError, match="no match in"):
        TextList.from_folder(path, include=["train"]).split_by_rand_pct(0.2, seed=0).label_from_re(
            r"(\d+)\.csv$"
        )
    with pytest.raises(ValueError, match="has no group"):
        TextList.from_folder(path, include=["train"]).split_by_rand_pct(0.2, seed=0).label_from_re(r"\d+")


def test_label_from_list_labels_each_item_in_the_order_before_the_split(adult):
    path, df = adult
    labels = df.salary.tolist()  # one per row of the list that is split
    data = adult_list(adult).split_by_idx(list(range(800, 1000))).label_from_list(labels).databunch(bs=64)
    want = df.salary.iloc[800:1000].tolist()
    assert [str(y) for _, y in data.valid_ds] == want  # v1 gave the valid rows labels[:200]
    assert [str(y) for _, y in data.train_ds[:3]] == df.salary.iloc[:3].tolist()
    same = (
        adult_list(adult).split_by_idx(list(range(800, 1000))).label_from_df(cols="salary").databunch(bs=64)
    )
    assert torch.equal(data.valid_ds.y.to_tensors(), same.valid_ds.y.to_tensors())
    rows = adult_list(adult).split_by_rand_pct(0.2, seed=3)  # rows picked at random keep their own label
    lls = rows.label_from_list(df.age.astype(float).tolist(), label_cls=FloatList)
    assert [float(y) for _, y in lls.valid] == rows.valid.inner_df.age.astype(float).tolist()
    assert [float(y) for _, y in lls.train] == rows.train.inner_df.age.astype(float).tolist()
    with pytest.raises(ValueError, match="got 10 labels for the 3000 items"):
        adult_list(adult).split_by_idx(list(range(800, 1000))).label_from_list(labels[:10])
    with pytest.raises(TypeError, match="one label per item"):
        adult_list(adult).split_by_idx(list(range(800, 1000))).label_from_list("salary")


def test_transform_takes_no_transforms_and_refuses_real_ones(adult):
    lls = adult_list(adult).split_by_idx(list(range(800, 1000))).label_from_df(cols="salary")
    assert lls.transform() is lls and lls.transform(None) is lls and lls.transform(([], [])) is lls
    assert lls.transform(None) is lls and lls.train.tfms is None and lls.valid.transform(None) is lls.valid
    data = lls.transform(tfms=None).databunch(bs=64)  # v1's chain: ...label_from_df().transform().databunch()
    assert len(data.valid_ds) == 200
    with pytest.raises(ValueError, match="tfms=.*take no transforms.*pass tfms=None"):
        lls.transform(([abs], []))
    with pytest.raises(TypeError, match="two lists of transforms"):
        lls.transform([abs])
    with pytest.raises(ValueError, match="LabelList.transform"):
        lls.train.transform([abs])


def test_sanity_check_warns_about_data_that_cannot_be_read():
    good = DataBunch.create(TensorDataset(torch.randn(20, 3), torch.zeros(20).long()),
                            TensorDataset(torch.randn(4, 3), torch.zeros(4).long()), bs=8, device="cpu")  # fmt: skip
    assert good.sanity_check() is None

    class Broken(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.randn(i + 1), 0  # items of different sizes cannot be stacked into a batch

    with pytest.warns(UserWarning, match="the first training batch cannot be built"):
        DataBunch.create(Broken(), Broken(), bs=4, device="cpu")  # v1: checked when created...
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = DataBunch.create(Broken(), Broken(), bs=4, device="cpu", no_check=True)  # ...unless no_check
    with pytest.warns(UserWarning, match="something wrong with your dataset"):
        data.sanity_check()

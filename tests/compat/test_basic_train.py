"""fastai v1's ``basic_train`` module (the Learner's methods), used as a v1 user's script used it.

Only the import line changed. Each call is written as v1's documentation shows it, on the bundled
adult sample (tabular) and the IMDB sample (text classifier), and the test checks what comes back:
values, shapes and order, files and printed lines.
"""

import io

import pytest

from emberfit.tabular import *  # v1: from fastai.tabular import *

CAT_NAMES = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
CONT_NAMES = ["age", "fnlwgt", "education-num"]


@pytest.fixture(scope="module")
def adult():
    path = untar_data(URLs.ADULT_SAMPLE)
    return path, pd.read_csv(path / "adult.csv").iloc[:2000].copy()


def adult_learner(adult, tmp_path, **kw):
    path, df = adult
    data = (
        TabularList.from_df(
            df,
            path=path,
            cat_names=CAT_NAMES,
            cont_names=CONT_NAMES,
            procs=[FillMissing, Categorify, Normalize],
        )
        .split_by_idx(list(range(800, 1000)))
        .label_from_df(cols="salary")
        .databunch(bs=64)
    )
    set_seed(0)
    return tabular_learner(data, layers=[200, 100], metrics=accuracy, path=tmp_path, **kw)


@pytest.fixture(scope="module")
def trained(adult, tmp_path_factory):
    learn = adult_learner(adult, tmp_path_factory.mktemp("adult"), silent=True)
    learn.fit(1, 1e-2)
    return learn


# ------------------------------------------------------------------------------------ get_preds
def test_get_preds_returns_predictions_and_targets_in_dataset_order(adult, trained):
    _, df = adult
    preds, y = trained.get_preds()  # v1: ds_type=DatasetType.Valid
    assert preds.shape == (200, 2) and torch.allclose(preds.sum(1), torch.ones(200))  # softmax applied
    want = [trained.data.classes.index(s) for s in df.salary.iloc[800:1000]]
    assert y.tolist() == want  # the validation rows, in order
    assert trained.validate()[1] == pytest.approx(float((preds.argmax(1) == y).float().mean()), abs=1e-6)


def test_get_preds_with_loss_activ_and_n_batch(trained):
    preds, y, losses = trained.get_preds(DatasetType.Valid, with_loss=True)
    assert losses.shape == (200,)
    assert torch.allclose(losses, -preds[torch.arange(200), y].log(), atol=1e-5)  # cross-entropy per row
    assert losses.mean().item() == pytest.approx(trained.validate()[0], rel=1e-5)
    raw, _ = trained.get_preds(activ=nn.Identity())  # v1: activ replaces the inferred softmax
    assert torch.allclose(raw.softmax(1), preds, atol=1e-6)
    part, y2 = trained.get_preds(n_batch=2)  # v1: stop after n_batch batches
    assert part.shape == (128, 2) and torch.equal(y2, y[:128]) and torch.allclose(part, preds[:128])


@pytest.mark.slow
def test_text_classifier_get_preds_ordered_gives_dataset_order(tmp_path):
    from emberfit.text import AWD_LSTM, TextClasDataBunch, text_classifier_learner
    from emberfit.text.models import awd_lstm_small_clas_config

    path = untar_data(URLs.IMDB_SAMPLE)
    df = pd.read_csv(path / "texts.csv")
    train_df, valid_df = df.iloc[:160], df.iloc[800:864]
    data = TextClasDataBunch.from_df(path, train_df, valid_df, text_cols="text", label_cols="label", bs=16)
    learn = text_classifier_learner(
        data, AWD_LSTM, config=awd_lstm_small_clas_config, pretrained=False, path=tmp_path
    )
    preds, y = learn.get_preds(ordered=True)  # v1's RNNLearner.get_preds(ordered=True)
    want = torch.tensor([data.classes.index(s) for s in valid_df.label])
    assert torch.equal(y, want)  # the validation reviews in their order in the csv
    order = data.valid_dl.order  # the loader reads the longest review first
    lengths = valid_df.text.str.split().str.len().to_numpy()
    assert lengths[order[0]] >= np.median(lengths) and not torch.equal(order, torch.arange(64))
    sorted_preds, sorted_y = learn.get_preds(ordered=False)  # the loader's order, as v1's base Learner
    assert torch.equal(sorted_y, want[order]) and torch.allclose(sorted_preds, preds[order], atol=1e-5)


# -------------------------------------------------------------------------------------- summary
def test_summary_is_a_table_of_layers_shapes_and_params(trained):
    s = trained.summary()
    assert isinstance(s, str) and repr(s) == str(s)  # shown once, as a table, in Jupyter
    lines = s.splitlines()
    assert lines[0] == "TabularModel" and lines[2].split() == [
        "Layer",
        "(type)",
        "Output",
        "Shape",
        "Param",
        "#",
        "Trainable",
    ]
    rows = [ln.split() for ln in lines if ln.startswith(("Embedding", "Linear", "BatchNorm1d", "ReLU"))]
    embs = [r for r in rows if r[0] == "Embedding"]
    assert len(embs) == len(trained.model.embeds) >= len(CAT_NAMES)  # FillMissing may add *_na columns
    for r, e in zip(embs, trained.model.embeds):  # output shape [emb_sz], its parameters, trainable
        assert r[1:] == [f"[{e.embedding_dim}]", f"{e.weight.numel():,}", "True"]
    total = sum(p.numel() for p in trained.model.parameters())
    assert f"Total params: {total:,}" in s and "Total non-trainable params: 0" in s
    assert [r[1:] for r in rows if r[0] == "Linear"][-1] == ["[2]", "202", "True"]  # 100 -> 2 classes
    assert "Loss function : cross_entropy" in s
    for p in trained.model.embeds.parameters():
        p.requires_grad_(False)
    try:
        frozen = trained.summary()
        n_emb = sum(p.numel() for p in trained.model.embeds.parameters())
        assert f"Total non-trainable params: {n_emb:,}" in frozen
        assert all(ln.split()[-1] == "False" for ln in frozen.splitlines() if ln.startswith("Embedding"))
    finally:
        for p in trained.model.embeds.parameters():
            p.requires_grad_(True)


# ---------------------------------------------------------------------------- save, load, export
def test_save_returns_none_load_returns_the_learner(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True)
    learn.fit(1, 1e-2)
    p0 = learn.get_preds()[0]
    assert learn.save("stage-1") is None
    path = learn.save("stage-1", return_path=True)
    assert path == tmp_path / "models" / "stage-1.safetensors" and path.is_file()
    other = adult_learner(adult, tmp_path, silent=True)
    other.model.layers[0].weight.data.zero_()
    assert torch.allclose(other.load("stage-1").get_preds()[0], p0)  # load chains
    buf = io.BytesIO()
    learn.save(buf)  # v1: file may be a binary stream
    buf.seek(0)
    third = adult_learner(adult, tmp_path, silent=True)
    assert third.load(buf, with_opt=False) is third and torch.allclose(third.get_preds()[0], p0)


def test_export_writes_export_pkl_as_safetensors_and_says_so(adult, tmp_path, capsys):
    learn = adult_learner(adult, tmp_path)
    learn.fit(1, 1e-2)
    capsys.readouterr()
    assert learn.export() is None  # v1: learn.export() -> path/'export.pkl'
    out = capsys.readouterr().out
    f = tmp_path / "export.pkl"
    assert f.is_file() and "export.pkl: written as safetensors + JSON, not a pickle" in out
    assert not f.read_bytes().startswith(b"\x80")  # no pickle protocol header
    back = load_learner(tmp_path)  # v1: load_learner(path, file='export.pkl')
    _, df = adult
    row = df.iloc[810]
    assert str(back.predict(row)[0]) == str(learn.predict(row)[0]) in ("<50k", ">=50k")
    assert torch.allclose(back.predict(row)[2], learn.predict(row)[2].cpu(), atol=1e-6)


def test_export_to_and_load_learner_from_a_file_object(adult, trained):
    buf = io.BytesIO()
    trained.export(buf)  # v1: file: PathLikeOrBinaryStream
    assert buf.getvalue()[8:9] == b"{"  # a safetensors header follows its 8-byte length
    buf.seek(0)
    back = load_learner(trained.path, buf)
    _, df = adult
    rows = df.iloc[800:820]
    want = torch.stack([trained.predict(rows.iloc[i])[2].cpu() for i in range(20)])
    got = torch.stack([back.predict(rows.iloc[i])[2] for i in range(20)])
    assert torch.allclose(got, want, atol=1e-6)


# -------------------------------------------------------------------------------- purge, destroy
def test_purge_frees_what_a_fit_left_and_training_goes_on(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True)
    learn.fit(1, 1e-2)
    assert hasattr(learn, "xb") and len(learn.opt.state) > 0
    w = {k: v.clone() for k, v in learn.model.state_dict().items()}
    assert learn.purge() is learn  # v1: clear_opt=True
    assert not hasattr(learn, "xb") and not hasattr(learn, "pred") and len(learn.opt.state) == 0
    assert all(torch.equal(v, learn.model.state_dict()[k]) for k, v in w.items())
    assert len(learn.recorder.losses) > 0  # the recorder stays
    learn.fit(1, 1e-3)
    state = {id(p): s["exp_avg"].clone() for p, s in learn.opt.state.items()}
    learn.purge(clear_opt=False)
    assert {id(p): s["exp_avg"] for p, s in learn.opt.state.items()}.keys() == state.keys()


def test_destroy_leaves_an_unusable_shell(adult, tmp_path, capsys):
    learn = adult_learner(adult, tmp_path, silent=True)
    assert learn.destroy() is None
    assert "self-destroyed" in capsys.readouterr().out
    assert repr(learn) == "<destroyed Learner>" and not hasattr(learn, "model")
    with pytest.raises(AttributeError, match="destroyed"):
        learn.fit(1)
    learn2 = adult_learner(adult, tmp_path, silent=True)
    learn2.export("gone.pkl", destroy=True)  # v1: export then destroy
    assert (tmp_path / "gone.pkl").is_file() and not hasattr(learn2, "data")


# ---------------------------------------------------------------------------------- callback_fns
class CountBatches(Callback):
    made: list = []

    def __init__(self, learn, every=1):  # v1 style: the learner comes first
        CountBatches.made.append(self)
        self.seen_learn, self.every, self.n = learn, every, 0

    def after_batch(self):
        self.n += 1


def test_callback_fns_make_fresh_callbacks_for_each_fit(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True, callback_fns=[partial(CountBatches, every=2)])
    learn.callback_fns.append(partial(SaveModelCallback, every="epoch", name="each"))  # v1 docs' example
    learn.callback_fns.append(CSVLogger)
    CountBatches.made = []
    learn.fit(1, 1e-2)
    learn.fit(1, 1e-3)
    first, second = CountBatches.made  # one fresh callback per fit
    n_batches = len(learn.data.train_dl) + len(learn.data.valid_dl)
    assert first.n == second.n == n_batches  # each saw its own fit only
    assert second.seen_learn is learn and second.every == 2
    assert (tmp_path / "models" / "each.safetensors").is_file()
    assert (
        len((tmp_path / "history.csv").read_text().splitlines()) == 2
    )  # a fresh CSVLogger: header + 1 epoch
    assert not any(isinstance(c, CountBatches) for c in learn.callbacks)  # not kept between fits


def test_callback_fns_refuses_what_cannot_make_a_callback(adult, tmp_path):
    with pytest.raises(TypeError, match="callback instance"):
        adult_learner(adult, tmp_path, silent=True, callback_fns=[CSVLogger()])
    learn = adult_learner(adult, tmp_path, silent=True)
    learn.callback_fns.append(lambda: 3)
    with pytest.raises(TypeError, match="not a Callback"):
        learn.fit(1)

"""fastai v1's ``basic_train`` module (the Learner's methods), used as a v1 user's script used it.

Only the import line changed. Each call is written as v1's documentation shows it, on the bundled
adult sample (tabular) and the IMDB sample (text classifier), and the test checks what comes back:
values, shapes and order, files and printed lines.
"""

import io
import json

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
    raw = f.read_bytes()  # safetensors: an 8-byte little-endian length, then that many bytes of JSON
    n = int.from_bytes(raw[:8], "little")
    assert 8 + n <= len(raw) and isinstance(json.loads(raw[8 : 8 + n]), dict)  # not a pickle
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
    saved = sorted(p.name for p in (tmp_path / "models").iterdir())
    assert saved == ["each_0.safetensors"]  # v1: every='epoch' writes name_<epoch>, the learner passed first
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


# -------------------------------------------------------- callbacks.tracker, built with the learner first
def test_early_stopping_callback_learner_first_has_v1s_patience(adult, tmp_path, capsys):
    learn = adult_learner(adult, tmp_path)
    # valid_loss never improves by 100: epoch 0 sets the best, then v1 waits patience + 1 epochs
    learn.fit(
        10, 1e-2, callbacks=[EarlyStoppingCallback(learn, monitor="valid_loss", min_delta=100, patience=2)]
    )
    assert len(learn.recorder.val_losses) == 4
    assert "Epoch 3: early stopping" in capsys.readouterr().out  # v1's line
    # v1's docs: partial(EarlyStoppingCallback, ...) in callback_fns; patience=0 stops at the first miss
    learn = adult_learner(adult, tmp_path, silent=True, callback_fns=[
        partial(EarlyStoppingCallback, monitor="accuracy", min_delta=0.5, patience=0)])  # fmt: skip
    learn.fit(10, 1e-2)
    assert len(learn.recorder.val_losses) == 2 and learn.stop_reason.startswith("early stop: accuracy")
    # emberfit's own form (no learner) keeps its meaning: stop after `patience` epochs without improvement
    learn.callback_fns = []
    learn.fit(10, 1e-2, callbacks=[EarlyStoppingCallback(monitor="valid_loss", min_delta=100, patience=2)])
    assert len(learn.recorder.val_losses) == 3


def test_save_model_callback_learner_first_every_improvement(adult, tmp_path, capsys):
    learn = adult_learner(adult, tmp_path)
    cb = SaveModelCallback(learn, every="improvement", monitor="valid_loss", name="bestmodel")
    learn.fit(4, 3e-2, callbacks=[cb])
    losses = learn.recorder.val_losses
    out = capsys.readouterr().out
    best_so_far, want = float("inf"), []
    for epoch, v in enumerate(losses):
        if v < best_so_far:
            best_so_far = v
            want.append(f"Better model found at epoch {epoch} with valid_loss value: {v}.")
    assert [ln for ln in out.splitlines() if ln.startswith("Better model")] == want
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["bestmodel.safetensors"]
    assert learn.validate()[0] == pytest.approx(min(losses), rel=1e-5)  # the best epoch is loaded at the end
    assert learn.save_model_callback is cb  # v1: a LearnerCallback is on the learner by its snake_case name


def test_save_model_callback_every_epoch_via_callback_fns(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True,
                          callback_fns=[partial(SaveModelCallback, every="epoch", monitor="accuracy", name="model")])  # fmt: skip
    learn.fit(3, 1e-2)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        f"model_{i}.safetensors" for i in range(3)
    ]
    last = learn.validate()
    learn.fit(1, 1e-2)  # (this fit writes model_0 again)
    learn.load("model_2")  # v1 code loads an epoch's weights by name
    assert learn.validate()[0] == pytest.approx(last[0], rel=1e-5)


def test_reduce_lr_on_plateau_callback(adult, tmp_path, capsys):
    learn = adult_learner(adult, tmp_path)
    cb = ReduceLROnPlateauCallback(
        learn, monitor="valid_loss", min_delta=100, patience=0, factor=0.5, min_lr=1e-4
    )
    learn.fit(4, 1e-2, callbacks=[cb])
    rec = learn.recorder
    starts = np.cumsum([0, *rec.nb_batches[:-1]])
    assert [rec.lrs[i] for i in starts] == pytest.approx([1e-2, 1e-2, 5e-3, 2.5e-3])  # halved after each miss
    out = capsys.readouterr().out
    assert "Epoch 1: reducing lr to 0.005" in out and "Epoch 3: reducing lr to 0.00125" in out
    learn.fit(3, 1e-2, callbacks=[ReduceLROnPlateauCallback(learn, min_delta=100, factor=0.1, min_lr=2e-4)])
    assert learn.opt.param_groups[-1]["lr"] == pytest.approx(2e-4)  # 1e-3, then min_lr: never below it


class BestAccuracy(TrackerCallback):
    """A tracker written for v1: the learner first, v1's events, get_monitor_value and operator."""

    def __init__(self, learn):
        super().__init__(learn, monitor="accuracy")

    def on_train_begin(self, **kwargs):
        super().on_train_begin(**kwargs)
        self.improved_at = []

    def on_epoch_end(self, epoch, **kwargs):
        current = self.get_monitor_value()
        if self.operator(current, self.best):
            self.best = current
            self.improved_at.append(epoch)


def test_tracker_callback_subclass_written_for_v1(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True)
    cb = BestAccuracy(learn)
    assert cb.mode == "max" and learn.best_accuracy is cb
    learn.fit(3, 1e-2, callbacks=[cb])
    accs = [m[0] for m in learn.recorder.metrics]
    assert cb.best == max(accs) and cb.improved_at[0] == 0
    assert cb.improved_at == [i for i, a in enumerate(accs) if a > max(accs[:i], default=-1)]
    with pytest.raises(TypeError, match=r"monitor='accuracy'"):
        SaveModelCallback("accuracy")  # the first argument is the learner, as in v1
    with pytest.raises(ValueError, match="not recorded"):
        learn.fit(1, 1e-2, callbacks=[SaveModelCallback(learn, monitor="acuracy")])


# ------------------------------------------------------------------ LearnerCallback and v1's events
class EventLog(LearnerCallback):
    """Logs every v1 event with the state v1 gave it."""

    def __init__(self, learn):
        super().__init__(learn)
        self.log = []

    def on_train_begin(self, n_epochs, metrics_names, **kwargs):
        self.log.append(("train_begin", n_epochs, metrics_names))

    def on_epoch_begin(self, epoch, **kwargs):
        self.log.append(("epoch_begin", epoch))

    def on_batch_begin(self, last_input, last_target, train, **kwargs):
        self.log.append(("batch_begin", train, len(last_target)))

    def on_loss_begin(self, last_output, **kwargs):
        self.log.append(("loss_begin", tuple(last_output.shape)))

    def on_backward_begin(self, last_loss, smooth_loss, **kwargs):
        self.log.append(("backward_begin", last_loss.item(), smooth_loss))

    def on_backward_end(self, **kwargs):
        self.log.append(("backward_end",))

    def on_step_end(self, **kwargs):
        self.log.append(("step_end",))

    def on_batch_end(self, iteration, num_batch, train, last_loss, **kwargs):
        self.log.append(("batch_end", iteration, num_batch, train, float(last_loss)))

    def on_epoch_end(self, epoch, last_metrics, smooth_loss, **kwargs):
        self.log.append(("epoch_end", epoch, list(last_metrics), smooth_loss))

    def on_train_end(self, **kwargs):
        self.log.append(("train_end",))


def test_learner_callback_gets_v1s_events_in_order_with_v1s_state(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True)
    cb = EventLog(learn)
    assert learn.event_log is cb  # v1: LearnerCallback(learn) puts itself on the learner
    learn.fit(2, 1e-2, callbacks=[cb])
    n_train, n_valid = len(learn.data.train_dl), len(learn.data.valid_dl)
    names = [e[0] for e in cb.log]
    train_batch = ["batch_begin", "loss_begin", "backward_begin", "backward_end", "step_end", "batch_end"]
    valid_batch = ["batch_begin", "loss_begin", "batch_end"]
    epoch = ["epoch_begin", *train_batch * n_train, *valid_batch * n_valid, "epoch_end"]
    assert names == ["train_begin", *epoch * 2, "train_end"]
    assert cb.log[0] == ("train_begin", 2, ["accuracy"])
    rec = learn.recorder
    train_ends = [e for e in cb.log if e[0] == "batch_end" and e[3]]
    assert [e[1] for e in train_ends] == list(range(2 * n_train))  # iteration counts across epochs
    assert [e[2] for e in train_ends] == list(range(n_train)) * 2  # num_batch restarts each epoch
    assert [e[4] for e in train_ends] == pytest.approx(rec.raw_losses)  # last_loss: the batch's loss
    assert [e[2] for e in cb.log if e[0] == "backward_begin"] == pytest.approx(rec.losses)  # smoothed
    ends = [e for e in cb.log if e[0] == "epoch_end"]
    assert [e[1] for e in ends] == [0, 1]
    for e, val, mets in zip(ends, rec.val_losses, rec.metrics):
        assert e[2] == pytest.approx([val, *mets])  # last_metrics = [valid_loss, accuracy]
    assert ends[-1][3] == pytest.approx(rec.losses[-1])
    assert all(e[2] == 64 for e in cb.log if e[0] == "batch_begin" and e[1])  # bs 64, none dropped short


class StopAt(LearnerCallback):
    def __init__(self, learn, batches=None, epochs=None):
        super().__init__(learn)
        self.batches, self.epochs = batches, epochs

    def on_batch_end(self, num_batch, train, **kwargs):
        if train and self.batches is not None and num_batch + 1 >= self.batches:
            return {"stop_epoch": True}

    def on_epoch_end(self, epoch, **kwargs):
        if self.epochs is not None and epoch + 1 >= self.epochs:
            return {"stop_training": True}


def test_v1_callbacks_stop_the_epoch_or_the_training(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True, callback_fns=[partial(StopAt, batches=3)])
    learn.fit(2, 1e-2)
    rec = learn.recorder
    assert rec.nb_batches == [3, 3] and len(rec.val_losses) == 2  # each epoch stops; validation still runs
    learn.callback_fns = []
    learn.fit(5, 1e-2, callbacks=[StopAt(learn, epochs=2)])
    assert len(learn.recorder.val_losses) == 2 and learn.recorder.nb_batches[0] == len(learn.data.train_dl)


class Accumulate(LearnerCallback):
    """v1-style gradient accumulation: step (and zero the gradients) every `n` batches."""

    def __init__(self, learn, n=2):
        super().__init__(learn)
        self.n = n

    def on_backward_end(self, num_batch, **kwargs):
        if (num_batch + 1) % self.n:
            return {"skip_step": True, "skip_zero": True}


class NoStep(LearnerCallback):
    def on_backward_end(self, **kwargs):
        return {"skip_step": True}


class NoBackwardNoValidation(LearnerCallback):
    def on_train_begin(self, **kwargs):
        return {"skip_validate": True}

    def on_backward_begin(self, **kwargs):
        return {"skip_bwd": True}


def test_v1_callbacks_skip_steps_and_accumulate_gradients(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True)
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.fit(1, 1e-2, callbacks=[NoStep(learn)])
    assert all(torch.equal(a, p) for a, p in zip(before, learn.model.parameters()))  # never stepped
    learn.fit(1, 1e-2, callbacks=[NoBackwardNoValidation(learn)])
    assert all(torch.equal(a, p) for a, p in zip(before, learn.model.parameters()))  # no gradient, no change
    assert learn.recorder.val_losses == [None] and not learn.skip_validate  # skipped for that fit only
    learn.fit(1, 1e-2, callbacks=[Accumulate(learn, n=4)])
    n = len(learn.data.train_dl)
    steps = {int(s["step"]) for s in learn.opt.state.values()}
    assert steps == {n // 4}  # one optimizer step per 4 batches
    assert not all(torch.equal(a, p) for a, p in zip(before, learn.model.parameters()))


class ChangeState(LearnerCallback):
    def on_loss_begin(self, last_output, **kwargs):
        return {"last_output": last_output * 0}  # every prediction becomes 50/50


def test_v1_callbacks_change_the_state(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True)
    learn.fit(1, 1e-2, callbacks=[ChangeState(learn)])
    assert learn.recorder.val_losses[0] == pytest.approx(math.log(2), rel=1e-5)  # the loss saw the new output
    assert learn.recorder.raw_losses == pytest.approx([math.log(2)] * len(learn.data.train_dl), rel=1e-5)


class BadReturn(LearnerCallback):
    def __init__(self, learn, out):
        super().__init__(learn)
        self.out = out

    def on_epoch_begin(self, **kwargs):
        return self.out


def test_v1_callbacks_bad_returns_and_arguments_are_refused(adult, tmp_path):
    learn = adult_learner(adult, tmp_path, silent=True)
    with pytest.raises(KeyError, match="'stop_trainig' is not in the state"):
        learn.fit(1, 1e-2, callbacks=[BadReturn(learn, {"stop_trainig": True})])
    with pytest.raises(TypeError, match="returned 3"):
        learn.fit(1, 1e-2, callbacks=[BadReturn(learn, 3)])
    with pytest.raises(TypeError, match="learn must be the Learner"):
        EventLog("learn")
    learn.fit(1, 1e-2)  # and the learner trains as before
    assert learn.recorder.nb_batches == [len(learn.data.train_dl)] and not learn.skip_validate


# ------------------------------------------------------------------- Learner's arguments, v1's order
def test_learner_positional_arguments_in_v1s_order(tmp_path, capsys):
    x = torch.randn(64, 3)
    y = (x[:, 0] > 0).long()
    data = DataBunch.from_tensors(x[:48], y[:48], x[48:], y[48:], bs=16, device="cpu", path=tmp_path)
    sgd = partial(optim.SGD, momentum=0.9)
    # v1: Learner(data, model, opt_func, loss_func, metrics, true_wd, bn_wd, wd, train_bn, path, model_dir,
    #             callback_fns, callbacks, layer_groups, add_time, silent)
    learn = Learner(data, nn.Linear(3, 2), sgd, F.cross_entropy, [accuracy], True, False, 0.1, True, tmp_path,
                    "ckpts", None, [], None, False, None)  # fmt: skip
    assert learn.opt_func is sgd and learn.loss_func is F.cross_entropy
    assert [m.name for m in learn.metrics] == ["accuracy"]
    assert (learn.true_wd, learn.bn_wd, learn.wd, learn.train_bn) == (True, False, 0.1, True)
    assert (
        learn.path == tmp_path and learn.model_dir == Path("ckpts") and learn.silent is False
    )  # None: not silent
    learn.fit(1, 0.1)
    assert type(learn.opt) is optim.SGD and learn.opt.param_groups[0]["momentum"] == 0.9
    assert learn.recorder.names == [
        "epoch",
        "train_loss",
        "valid_loss",
        "accuracy",
    ]  # add_time=False: no time
    assert capsys.readouterr().out.splitlines()[0].split() == [
        "epoch",
        "train_loss",
        "valid_loss",
        "accuracy",
    ]
    assert learn.save("m", return_path=True) == tmp_path / "ckpts" / "m.safetensors"


def test_a_loss_given_third_is_taken_as_the_loss_with_a_warning(tmp_path):
    x = torch.randn(64, 3)
    y = x.sum(1)
    data = DataBunch.from_tensors(x[:48], y[:48], x[48:], y[48:], bs=16, device="cpu", path=tmp_path)
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))
    with pytest.warns(DeprecationWarning, match="the third positional argument is opt_func"):
        learn = Learner(data, model, F.mse_loss, metrics=rmse, silent=True)  # emberfit's order before v1's
    assert learn.loss_func is F.mse_loss and learn.opt_func is AdamW
    learn.fit(1, 1e-2)
    assert type(learn.opt).__name__ == "AdamW"
    with pytest.raises(TypeError, match="pass them by keyword"):
        Learner(data, model, nn.MSELoss(), [rmse])  # a loss third and a fourth argument: ambiguous
    assert (
        Learner(data, model, AdamW, F.l1_loss, silent=True).loss_func is F.l1_loss
    )  # v1's order: no warning

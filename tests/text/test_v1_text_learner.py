"""fastai v1's text learners beyond the lesson, on the IMDB sample: model configs as dicts,
``text_classifier_learner(max_len=, bptt=, lin_ftrs=, ps=)``, multi-label and float targets,
a learner built on ``load_empty`` data."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from emberfit.core.data_block.label_items import FloatItem, MultiCategory
from emberfit.text import (
    AWD_LSTM,
    AWDLSTMConfig,
    FloatList,
    TextClasDataBunch,
    TextList,
    TextLMDataBunch,
    URLs,
    accuracy_thresh,
    awd_lstm_clas_config,
    awd_lstm_lm_config,
    language_model_learner,
    load_learner,
    set_seed,
    text_classifier_learner,
    untar_data,
)

TINY = AWDLSTMConfig(emb_sz=16, n_hid=24, n_layers=3)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def path():
    return untar_data(URLs.IMDB_SAMPLE)


@pytest.fixture(scope="module")
def imdb(path) -> pd.DataFrame:
    df = pd.read_csv(path / "texts.csv")
    df = pd.concat([df[~df.is_valid].iloc[:120], df[df.is_valid].iloc[:30]], ignore_index=True)
    n_chars = df["text"].str.len()
    return df.assign(
        pos=(df["label"] == "positive").astype(int),
        long=(n_chars > n_chars.median()).astype(int),
        log_len=np.log(n_chars.astype(float)),
    )


@pytest.fixture(scope="module")
def data_multi(imdb, path, tmp_path_factory):
    train, valid = imdb[~imdb.is_valid], imdb[imdb.is_valid]
    return TextClasDataBunch.from_df(path, train, valid, text_cols="text", label_cols=["pos", "long"], bs=16,
                                     cache_dir=tmp_path_factory.mktemp("tokens"))  # fmt: skip


def test_configs_read_and_copy_like_v1_dicts(data_multi, path):
    cfg = awd_lstm_lm_config.copy()
    cfg["n_hid"] = 1150  # the published WikiText-103 size
    assert isinstance(cfg, AWDLSTMConfig) and dataclasses.is_dataclass(cfg)
    assert cfg["n_hid"] == 1150 and awd_lstm_lm_config["n_hid"] == 1152  # the preset is untouched
    assert cfg == dataclasses.replace(awd_lstm_lm_config, n_hid=1150)
    assert list(cfg.keys())[:3] == ["emb_sz", "n_hid", "n_layers"] and dict(cfg.items())["emb_sz"] == 400
    assert "qrnn" in cfg and cfg["qrnn"] is False and cfg.get("nope", 7) == 7
    ids = [data_multi.train_ds.x.get(i).data for i in range(40)]
    data_lm = TextLMDataBunch.from_ids(path, data_multi.vocab, ids[:32], ids[32:], bs=4, bptt=10)
    learn = language_model_learner(data_lm, AWD_LSTM, config=cfg, pretrained=False)
    rnns = learn.model[0].rnns
    assert [r.module.hidden_size for r in rnns] == [1150, 1150, 400]
    assert learn.model_init["kwargs"]["config"]["n_hid"] == 1150
    cfg["n_hid"] = 600  # a later edit of the copy does not reach the built model
    assert learn.model_init["kwargs"]["config"]["n_hid"] == 1150
    as_dict = dict(awd_lstm_clas_config.copy())  # v1 code that passes a plain dict still works
    as_dict.update(emb_sz=16, n_hid=24)
    clas = text_classifier_learner(data_multi, AWD_LSTM, config=as_dict, pretrained=False)
    assert clas.model[0].module.rnns[0].module.hidden_size == 24
    with pytest.raises(TypeError, match="read-only.*cfg = config.copy\\(\\)"):
        awd_lstm_lm_config["n_hid"] = 1150
    with pytest.raises(ValueError, match="n_hid must be a positive int, got 0"):
        cfg["n_hid"] = 0
    assert cfg["n_hid"] == 600  # a refused value changes nothing
    with pytest.raises(KeyError, match="has no key 'nhid'"):
        cfg["nhid"] = 3
    with pytest.raises(ValueError, match="qrnn=True is not implemented"):
        cfg["qrnn"] = True


def test_classifier_head_and_chunking_arguments(data_multi):
    learn = text_classifier_learner(data_multi, AWD_LSTM, config=TINY, pretrained=False, drop_mult=0.5,
                                    bptt=12, max_len=40, lin_ftrs=[30, 20], ps=[0.25, 0.15])  # fmt: skip
    enc, head = learn.model[0], learn.model[1]
    assert (enc.bptt, enc.max_len) == (12, 40)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(48, 30), (30, 20), (20, 2)]
    drops = [m.p for m in head.modules() if isinstance(m, nn.Dropout)]
    assert drops == pytest.approx([TINY.output_p * 0.5, 0.25, 0.15])
    # a real review is read in bptt chunks; only the chunks starting in its last max_len tokens are kept
    xb, _ = data_multi.one_batch()
    sl = xb.shape[1]
    assert sl > 40
    enc.eval()
    with torch.no_grad():
        _, outputs, mask = enc(xb)
    first_kept = -(-(sl - 40) // 12) * 12  # the first chunk start i with sl - i <= max_len
    assert outputs[-1].shape[:2] == (xb.shape[0], sl - first_kept) and mask.shape == outputs[-1].shape[:2]
    with pytest.raises(ValueError, match="ps must give one dropout per entry of lin_ftrs"):
        text_classifier_learner(
            data_multi, AWD_LSTM, config=TINY, pretrained=False, lin_ftrs=[30], ps=[0.1, 0.2]
        )


def test_multi_label_learner_predicts_multicategory(data_multi, imdb):
    set_seed(0)
    learn = text_classifier_learner(data_multi, AWD_LSTM, config=TINY, pretrained=False, max_len=70)
    assert [m.name for m in learn.metrics] == ["accuracy_thresh"]  # v1's default for multi-label
    assert learn.loss_func(torch.zeros(1, 2), torch.ones(1, 2)).item() == pytest.approx(np.log(2))  # BCE
    review = imdb["text"].iloc[130]
    cats, mask, probs = learn.predict(review)
    assert isinstance(cats, MultiCategory) and probs.shape == (2,)
    assert list(cats) == [c for c, p in zip(["pos", "long"], probs.tolist()) if p > 0.5]
    table = learn.predict_texts(imdb["text"].iloc[120:125])
    assert list(table.columns) == ["prediction", "proba_pos", "proba_long"]
    assert table["proba_pos"].iloc[0] == pytest.approx(
        float(learn.predict(imdb["text"].iloc[120])[2][0]), abs=1e-5
    )
    preds, targs = learn.get_preds()
    np.testing.assert_array_equal(targs.numpy(), imdb[["pos", "long"]].iloc[120:].to_numpy())
    by_hand = ((preds > 0.5).float() == targs).float().mean()
    assert float(accuracy_thresh(torch.logit(preds), targs)) == pytest.approx(float(by_hand), abs=1e-6)


@pytest.mark.slow
def test_multi_label_learner_trains_and_reports_bce_and_accuracy_thresh(data_multi):
    set_seed(0)
    learn = text_classifier_learner(data_multi, AWD_LSTM, config=TINY, pretrained=False, max_len=70)
    learn.fit_one_cycle(2, 1e-2)
    hist = learn.recorder.history()
    preds, targs = learn.get_preds()  # sigmoid probabilities, in the validation set's order
    np.testing.assert_array_equal(targs.numpy(), data_multi.valid_ds.y.to_tensors().numpy())
    p = preds.double().clamp(1e-7, 1 - 1e-7)
    bce = float(-(targs * p.log() + (1 - targs) * (1 - p).log()).mean())
    assert hist["valid_loss"].iloc[-1] == pytest.approx(bce, rel=1e-3)  # the BCE the learner reports
    by_hand = float(((preds > 0.5).float() == targs).float().mean())
    assert hist["accuracy_thresh"].iloc[-1] == pytest.approx(by_hand, abs=1e-4)


def test_regression_target_on_text(data_multi, imdb, path):
    src = TextList.from_df(imdb, path, cols="text", vocab=data_multi.vocab).split_from_df(col="is_valid")
    data = src.label_from_df(cols="log_len", label_cls=FloatList).databunch(bs=16)
    set_seed(0)
    learn = text_classifier_learner(data, AWD_LSTM, config=TINY, pretrained=False, max_len=70)
    assert learn.metrics == [] and learn.model[1].layers[-1].out_features == 1
    preds, targs = learn.get_preds()
    np.testing.assert_allclose(targs.numpy().ravel(), imdb["log_len"].iloc[120:], rtol=1e-6)
    mse = float(((preds.ravel() - targs.ravel()) ** 2).mean())
    assert learn.validate()[0] == pytest.approx(mse, rel=1e-4)
    value = learn.predict(imdb["text"].iloc[120])[0]
    assert isinstance(value, FloatItem) and float(value) == pytest.approx(float(preds[0]), abs=1e-5)
    logged = src.label_from_df(cols="log_len", label_cls=FloatList, log=True).databunch(bs=16)
    learn_log = text_classifier_learner(logged, AWD_LSTM, config=TINY, pretrained=False, max_len=70)
    log_preds, log_targs = learn_log.get_preds()  # in log space, as trained
    np.testing.assert_allclose(log_targs.numpy().ravel(), np.log(imdb["log_len"].iloc[120:]), rtol=1e-5)
    value = learn_log.predict(imdb["text"].iloc[120])[0]
    assert float(value) == pytest.approx(float(torch.exp(log_preds[0])), rel=1e-5)  # back from log space


def test_learner_on_load_empty_data_predicts_like_the_original(data_multi, imdb, tmp_path):
    set_seed(0)
    learn = text_classifier_learner(
        data_multi, AWD_LSTM, config=TINY, pretrained=False, path=tmp_path, max_len=70
    )
    learn.save("stage-1")
    old_path = data_multi.path
    data_multi.path = tmp_path
    try:
        data_multi.export()
    finally:
        data_multi.path = old_path
    empty = TextClasDataBunch.load_empty(tmp_path)
    again = text_classifier_learner(empty, AWD_LSTM, config=TINY, pretrained=False, path=tmp_path, max_len=70)
    again.load("stage-1")
    review = imdb["text"].iloc[125]
    torch.testing.assert_close(again.predict(review)[2], learn.predict(review)[2])
    learn.export("export.pkl")  # load_empty also reads the data part of a learner's export
    assert TextClasDataBunch.load_empty(tmp_path, "export.pkl").vocab.itos == data_multi.vocab.itos
    torch.testing.assert_close(load_learner(tmp_path).predict(review)[2], learn.predict(review)[2])

"""ULMFiT learners on a tiny synthetic corpus: training, freezing, encoder transfer, generation, AR/TAR, export."""

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from emberfit.core.data import DatasetType
from emberfit.core.data_block.label_items import FloatItem
from emberfit.core.export import load_learner
from emberfit.core.seed import set_seed
from emberfit.text.generate import decode_spec_tokens, detokenize, join_for_people
from emberfit.text.item_lists import TextList
from emberfit.text.language_learner import LanguageLearner
from emberfit.text.learner import language_model_learner, text_classifier_learner
from emberfit.text.models import (
    AWD_LSTM,
    awd_lstm_small_clas_config,
    awd_lstm_small_lm_config,
    get_language_model,
)
from emberfit.text.rnn_learner import RNNLearner
from emberfit.text.rnn_regularizer import RNNRegularizer
from emberfit.text.weights.convert import save_pretrained

POS = "great wonderful fun superb lovely".split()
NEG = "awful boring bad dull terrible".split()
LM_CFG = dataclasses.replace(awd_lstm_small_lm_config, emb_sz=16, n_hid=32)
CLAS_CFG = dataclasses.replace(awd_lstm_small_clas_config, emb_sz=16, n_hid=32)


def reviews(n=120, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        w = POS if i % 2 else NEG
        extra = " It was SO good ." if rng.random() < 0.3 else ""
        text = f"The movie was {rng.choice(w)} and the plot was {rng.choice(w)} . I think it is {rng.choice(w)} !{extra}"
        rows.append(("pos" if i % 2 else "neg", text, float(i % 2) + rng.normal(0, 0.1), i >= n - 24))
    return pd.DataFrame(rows, columns=["label", "text", "score", "is_valid"])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread avoids OpenMP hand-offs that dominate (and stall on a busy CPU)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def df():
    return reviews()


@pytest.fixture(scope="module")
def data_lm(df):
    set_seed(0)
    return (
        TextList.from_df(df, cols="text")
        .split_from_df(col="is_valid")
        .label_for_lm()
        .databunch(bs=8, bptt=10)
    )


def clas_data(df, vocab=None, **label_kw):
    src = TextList.from_df(df, cols="text", vocab=vocab).split_from_df(col="is_valid")
    return (src.label_from_df(**label_kw) if label_kw else src.label_from_df("label")).databunch(bs=8)


@pytest.fixture(scope="module")
def data_clas(df, data_lm):
    return clas_data(df, vocab=data_lm.vocab)


def lm_learner(data, tmp_path, **kw):
    kw.setdefault("drop_mult", 0.3)
    return language_model_learner(
        data, AWD_LSTM, config=LM_CFG, pretrained=False, path=tmp_path, silent=True, **kw
    )


def clas_learner(data, tmp_path, **kw):
    kw.setdefault("drop_mult", 0.5)
    return text_classifier_learner(
        data, AWD_LSTM, config=CLAS_CFG, pretrained=False, path=tmp_path, silent=True, **kw
    )


@pytest.fixture(scope="module")
def trained_lm(data_lm, tmp_path_factory):
    set_seed(1)
    learn = lm_learner(data_lm, tmp_path_factory.mktemp("lm"))
    learn.fit_one_cycle(3, 3e-2, moms=(0.8, 0.7))
    return learn


# ------------------------------------------------------------------------- language model
def test_lm_shapes_groups_and_metrics(data_lm, tmp_path):
    learn = lm_learner(data_lm, tmp_path)
    assert isinstance(learn, LanguageLearner)
    xb, yb = data_lm.one_batch()
    logits, raw, out = learn.model(xb)
    assert logits.shape == (8, 10, len(data_lm.vocab.itos)) and len(raw) == len(out) == 3
    assert len(learn.layer_groups) == 4
    loss, acc, ppl = learn.validate()
    assert 0 <= acc <= 1 and ppl == pytest.approx(
        np.exp(loss), rel=1e-2
    )  # valid_loss weights batches by rows, ppl by tokens
    assert [m.name for m in learn.metrics] == ["accuracy", "perplexity"]


def test_lm_training_lowers_the_validation_loss(data_lm, tmp_path):
    set_seed(0)
    learn = lm_learner(data_lm, tmp_path)
    before = learn.validate()[0]
    learn.fit_one_cycle(2, 3e-2, moms=(0.8, 0.7))
    after = learn.validate()[0]
    assert after < before - 0.5
    assert max(learn.recorder.moms) == pytest.approx(0.8) and min(learn.recorder.moms) == pytest.approx(0.7)


def test_lm_freeze_trains_embedding_and_decoder_only(data_lm, tmp_path):
    learn = lm_learner(data_lm, tmp_path)
    learn.freeze()
    enc, dec = learn.model[0], learn.model[1]
    assert enc.encoder.weight.requires_grad and dec.decoder.bias.requires_grad
    assert dec.decoder.weight is enc.encoder.weight  # tied
    assert not any(p.requires_grad for p in enc.rnns.parameters())
    learn.unfreeze()
    assert all(p.requires_grad for p in learn.model.parameters())


def test_lm_trains_on_the_full_softmax_in_one_call(trained_lm, data_lm):
    xb, yb = data_lm.one_batch()
    with torch.no_grad():
        out = trained_lm.model.eval()(xb)
    want = F.cross_entropy(out[0].reshape(-1, out[0].shape[-1]), yb.reshape(-1))
    assert float(trained_lm.loss_func(out, yb)) == pytest.approx(float(want), rel=1e-6)


# ------------------------------------------------------------------------------ generation
def greedy_by_hand(learn, text, n):
    """Greedy decoding re-running the whole sequence each step (no hidden state carried)."""
    ids = list(learn.data.label_lists.train.x.processor.process_one(text))
    model = learn.model.eval()
    banned = [learn.data.vocab.itos.index(t) for t in ("xxunk", "xxpad", "xxbos")]
    new = []
    with torch.no_grad():
        for _ in range(n):
            model.reset()
            logits = model(torch.tensor([ids + new]))[0][0, -1]
            logits[banned] = -float("inf")
            new.append(int(logits.argmax()))
    return new


def test_temperature_zero_is_greedy_and_deterministic(trained_lm):
    from emberfit.text.generate import sample_ids

    prompt = trained_lm._prompt_ids("The movie was")
    ids = sample_ids(trained_lm.model, prompt, 8, trained_lm.data.vocab.itos, temperature=0.0)
    assert ids == greedy_by_hand(trained_lm, "The movie was", 8)
    a = trained_lm.predict("The movie was", 8, temperature=0.0)
    b = trained_lm.predict("The movie was", 8, temperature=1e-6)
    assert a == b and a.startswith("The movie was ")


def test_backwards_lm_generates_what_comes_before_the_prompt(df, tmp_path):
    set_seed(0)
    data = (
        TextList.from_df(df, cols="text")
        .split_from_df(col="is_valid")
        .label_for_lm()
        .databunch(bs=8, bptt=10, backwards=True)
    )
    learn = lm_learner(data, tmp_path)
    learn.fit_one_cycle(3, 3e-2, moms=(0.8, 0.7))
    assert learn.backwards and not lm_learner(data_lm_fwd(df), tmp_path).backwards
    proc = data.label_lists.train.x.processor
    fwd = list(proc.process_one("and the plot was"))
    # the model reads the prompt right to left, without the xxbos that starts a text
    assert learn._prompt_ids("and the plot was").tolist() == fwd[:0:-1]
    assert (
        data.label_lists.train.x.item_to_batch("and the plot was", data.label_lists)[0].tolist() == fwd[::-1]
    )
    model = learn.model.eval()
    itos = data.vocab.itos
    banned = [itos.index(t) for t in ("xxunk", "xxpad", "xxbos")]
    new, ids = [], fwd[:0:-1]
    with torch.no_grad():  # greedy by hand on the reversed sequence
        for _ in range(3):
            model.reset()
            logits = model(torch.tensor([ids + new]))[0][0, -1]
            logits[banned] = -float("inf")
            new.append(int(logits.argmax()))
    out = learn.predict("and the plot was", 3, temperature=0.0)
    assert out.endswith(" and the plot was")  # the new words come first, in reading order
    words = decode_spec_tokens([itos[i] for i in reversed(new)])
    assert out == join_for_people(words) + " and the plot was"
    assert out.split()[-5].strip(".!") in POS + NEG  # it learned what precedes "and the plot was"


def data_lm_fwd(df):
    return (
        TextList.from_df(df, cols="text")
        .split_from_df(col="is_valid")
        .label_for_lm()
        .databunch(bs=8, bptt=10)
    )


def _next_token_draws(learn, temperature, n=200, min_p=None):
    from emberfit.text.generate import sample_ids

    prompt = learn._prompt_ids("I think it is")
    set_seed(0)
    itos = learn.data.vocab.itos
    return [
        sample_ids(learn.model, prompt, 1, itos, temperature=temperature, min_p=min_p)[0] for _ in range(n)
    ]


def test_higher_temperature_is_more_diverse(trained_lm):
    from emberfit.text.generate import sample_ids

    prompt, itos = trained_lm._prompt_ids("The movie was"), trained_lm.data.vocab.itos
    set_seed(0)
    cold = sample_ids(trained_lm.model, prompt, 100, itos, temperature=0.3)
    hot = sample_ids(trained_lm.model, prompt, 100, itos, temperature=3.0)
    assert len(set(hot)) > len(set(cold)) + 3


def test_min_p_drops_unlikely_tokens(trained_lm):
    model = trained_lm.model.eval()
    model.reset()
    with torch.no_grad():
        probs = torch.softmax(model(trained_lm._prompt_ids("I think it is")[None])[0][0, -1], -1)
    draws = _next_token_draws(trained_lm, 3.0, min_p=0.05)
    assert min(float(probs[i]) for i in draws) >= 0.05
    assert min(float(probs[i]) for i in _next_token_draws(trained_lm, 3.0)) < 0.05  # the filter did something


def _logp(learn, text, new):
    ids = list(learn._prompt_ids(text).tolist())
    model = learn.model.eval()
    model.reset()
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids + new]))[0][0], -1)
    return sum(float(logp[len(ids) - 1 + k, t]) for k, t in enumerate(new))


def test_beam_search_finds_a_sequence_at_least_as_likely_as_greedy(trained_lm):
    from emberfit.text.generate import beam_search_ids

    prompt, itos = trained_lm._prompt_ids("The plot was"), trained_lm.data.vocab.itos
    sel = trained_lm.model[0].select_hidden
    greedy = greedy_by_hand(trained_lm, "The plot was", 6)
    one = beam_search_ids(
        trained_lm.model, prompt, 6, itos, top_k=1, beam_sz=1, temperature=0.0, select_hidden=sel
    )
    assert one == greedy
    best = beam_search_ids(
        trained_lm.model, prompt, 6, itos, top_k=5, beam_sz=20, temperature=0.0, select_hidden=sel
    )
    assert _logp(trained_lm, "The plot was", best) >= _logp(trained_lm, "The plot was", greedy) - 1e-4
    text = trained_lm.beam_search("The plot was", 6, beam_sz=20, temperature=0.0)
    assert text.startswith("The plot was") and "xx" not in text


def test_generated_text_is_decoded_for_people(trained_lm):
    set_seed(3)
    out = trained_lm.predict("The movie was", 30, temperature=1.5)
    assert not any(t in out for t in ("xxmaj", "xxup", "xxbos", "xxpad", "xxunk", "xxfld"))
    assert " ." not in out and " !" not in out


def test_detokenize_rules():
    assert (
        detokenize("xxbos xxmaj the film , i think , is xxup so good !".split())
        == "The film, I think, is SO good!"
    )
    assert (
        detokenize(["xxmaj", "it", "was", "xxrep", "4", "o", "xxwrep", "3", "bad"])
        == "It was oooo bad bad bad"
    )
    assert join_for_people(["he", "said", '"', "hi", '"', "(", "twice", ")", "."]) == 'he said "hi" (twice).'
    assert join_for_people(["it", "'s", "not", "ca", "n't"]) == "it's not can't"
    assert decode_spec_tokens(["xxfld", "1", "a", "xxeos"]) == ["a"]


def test_generation_rejects_bad_settings(trained_lm):
    with pytest.raises(ValueError, match="temperature"):
        trained_lm.predict("The", 2, temperature=-1)
    with pytest.raises(ValueError, match="min_p"):
        trained_lm.predict("The", 2, min_p=1.5)
    with pytest.raises(ValueError, match="n_words"):
        trained_lm.predict("The", -1)
    with pytest.raises(TypeError, match="string prompt"):
        trained_lm.predict(["The"], 2)


# ---------------------------------------------------------------------------------- AR / TAR
def _reg_loss(learn, xb, yb, alpha, beta):
    """The loss after RNNRegularizer.after_loss, with dropout off so the expected terms are exact."""
    cb = RNNRegularizer(alpha, beta)
    cb.learn = learn
    cb.before_fit()
    learn.model.eval()
    learn.model.reset()
    learn.training = True
    learn.pred = learn.model(xb)
    learn.loss = learn.loss_func(learn.pred, yb) * 0  # so that the penalty is all of the total
    plain = float(learn.loss.detach())
    cb.after_loss()
    total = float(learn.loss.detach())
    cb.after_backward()
    assert float(learn.loss.detach()) == pytest.approx(plain)  # what the Recorder reports: no penalty
    cb.after_fit()
    return plain, total


def test_ar_and_tar_are_added_to_the_training_loss(data_lm, tmp_path):
    learn = lm_learner(data_lm, tmp_path)
    xb, yb = data_lm.one_batch()
    learn.model.eval()
    learn.model.reset()
    with torch.no_grad():
        raw = learn.model(xb)[1][-1]
    ar = float(raw.pow(2).mean())
    tar = float((raw[:, 1:] - raw[:, :-1]).pow(2).mean())
    plain, total = _reg_loss(learn, xb, yb, 2.0, 0.0)
    assert total - plain == pytest.approx(2 * ar, rel=1e-4)
    plain, total = _reg_loss(learn, xb, yb, 0.0, 1.0)
    assert total - plain == pytest.approx(tar, rel=1e-4)
    plain, total = _reg_loss(learn, xb, yb, 0.0, 0.0)
    assert total == plain


def test_ar_tar_skip_padding_in_classifier_batches(data_clas, tmp_path):
    learn = clas_learner(data_clas, tmp_path)
    xb, yb = data_clas.one_batch()
    padded = torch.cat([torch.full((xb.shape[0], 13), 1), xb], dim=1)  # more padding in front
    a = _reg_loss(learn, xb, yb, 2.0, 1.0)
    b = _reg_loss(learn, padded, yb, 2.0, 1.0)
    assert a[1] - a[0] > 0
    assert b[1] - b[0] == pytest.approx(a[1] - a[0], rel=1e-4)


# -------------------------------------------------------------------------- encoder transfer
def test_save_and_load_encoder_round_trip(trained_lm, data_clas, tmp_path):
    trained_lm.path = tmp_path
    f = trained_lm.save_encoder("fine_tuned_enc")
    assert f.name == "fine_tuned_enc.safetensors" and f.parent == tmp_path / "models"
    learn = clas_learner(data_clas, tmp_path)
    assert not torch.equal(learn.model[0].module.encoder.weight, trained_lm.model[0].encoder.weight)
    learn.load_encoder("fine_tuned_enc")
    mine, theirs = learn.model[0].module.state_dict(), trained_lm.model[0].state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert learn.model[0].module.encoder_dp.emb.weight is learn.model[0].module.encoder.weight
    # load_encoder freezes: only the head (and BatchNorm) trains
    assert not any(p.requires_grad for p in learn.model[0].parameters())
    assert all(p.requires_grad for p in learn.model[1].parameters())


def test_load_encoder_refuses_another_vocabulary(trained_lm, df, tmp_path):
    trained_lm.path = tmp_path
    trained_lm.save_encoder("enc")
    other = clas_data(df.assign(text=df.text.str.replace("movie", "film")))  # its own vocabulary
    learn = clas_learner(other, tmp_path)
    with pytest.raises(ValueError, match="different vocabulary.*vocab=data_lm.vocab"):
        learn.load_encoder("enc")
    with pytest.raises(FileNotFoundError, match="save_encoder"):
        learn.load_encoder("nope")


# ------------------------------------------------------------------------------- classifier
def test_classifier_groups_and_discriminative_rates(data_clas, tmp_path):
    learn = clas_learner(data_clas, tmp_path)
    assert isinstance(learn, RNNLearner) and len(learn.layer_groups) == 5
    lrs = learn.lr_range(slice(1e-2 / 2.6**4, 1e-2))
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], 2.6)
    learn.freeze_to(-2)
    enc = learn.model[0].module
    assert not enc.rnns[1].module.weight_ih_l0.requires_grad and enc.rnns[2].module.weight_ih_l0.requires_grad
    assert [m.name for m in learn.metrics] == ["accuracy"]


def test_classifier_learns_predicts_and_keeps_dataset_order(data_clas, tmp_path):
    set_seed(0)
    learn = clas_learner(data_clas, tmp_path, drop_mult=0.1)
    learn.fit_one_cycle(4, 1e-2, moms=(0.8, 0.7))
    preds, targs = learn.get_preds(DatasetType.Valid)
    assert targs.tolist() == data_clas.label_lists.valid.y.to_tensors().tolist()  # dataset order
    assert float((preds.argmax(1) == targs).float().mean()) >= 0.9
    valid_texts = list(data_clas.label_lists.valid.x.items)
    one = [learn.predict(t)[2] for t in valid_texts[:5]]
    torch.testing.assert_close(torch.stack(one), preds[:5], atol=1e-5, rtol=1e-4)
    cls, idx, probs = learn.predict("The movie was wonderful and the plot was superb .")
    assert cls == "pos" and int(idx) == 1 and probs.shape == (2,)
    table = learn.predict_texts(valid_texts)
    np.testing.assert_allclose(table[["proba_neg", "proba_pos"]].to_numpy(), preds.numpy(), atol=1e-5)
    assert list(table.prediction[:2]) == [data_clas.classes[i] for i in preds[:2].argmax(1)]


def test_multi_label_and_regression_targets(df, data_lm, tmp_path):
    multi = df.assign(tags=np.where(df.label == "pos", "pos;liked", "neg"))
    data = clas_data(multi, vocab=data_lm.vocab, cols="tags", label_delim=";")
    learn = clas_learner(data, tmp_path)
    learn.fit(1, 1e-3)
    assert learn.predict("The movie was fun")[2].shape == (3,)
    assert set(learn.predict_texts(["a", "b"]).columns) == {
        "prediction",
        "proba_liked",
        "proba_neg",
        "proba_pos",
    }
    data = TextList.from_df(df, cols="text", vocab=data_lm.vocab).split_from_df(col="is_valid")
    data = data.label_from_df("score", label_cls=None).databunch(bs=8)
    learn = clas_learner(data, tmp_path)
    learn.fit(1, 1e-3)
    assert learn.metrics == [] and np.isfinite(learn.validate()[0])
    assert isinstance(learn.predict("The movie was fun")[0], FloatItem)


def test_export_and_load_learner_give_identical_predictions(trained_lm, data_clas, tmp_path):
    trained_lm.path = tmp_path
    before = trained_lm.predict("The movie was", 6, temperature=0.0)
    trained_lm.export("lm.pkl")
    lm = load_learner(tmp_path, "lm.pkl")
    assert isinstance(lm, LanguageLearner) and len(lm.layer_groups) == 4
    assert lm.predict("The movie was", 6, temperature=0.0) == before
    learn = clas_learner(data_clas, tmp_path)
    learn.export()
    again = load_learner(tmp_path)
    texts = ["The plot was awful .", "I think it is lovely !", "Wonderful"]
    pd.testing.assert_frame_equal(again.predict_texts(texts), learn.predict_texts(texts))
    assert any(isinstance(c, RNNRegularizer) for c in again.callbacks) and len(again.layer_groups) == 5


# ------------------------------------------------------------------------------ pretrained
def test_pretrained_without_files_says_what_to_do(data_lm, data_clas, tmp_path, monkeypatch):
    import emberfit.text.weights.find as W

    # an installation without the bundled small model (the package ships one; see the test below)
    monkeypatch.setattr(W, "BUNDLED_DIR", tmp_path / "no_bundled_model")
    with pytest.raises(FileNotFoundError, match="pretrained=False"):
        language_model_learner(data_lm, AWD_LSTM, drop_mult=0.3, path=tmp_path)
    with pytest.raises(FileNotFoundError, match="bundled"):
        language_model_learner(data_lm, AWD_LSTM, config=awd_lstm_small_lm_config, path=tmp_path)
    with pytest.warns(UserWarning, match="load_encoder"):
        text_classifier_learner(data_clas, AWD_LSTM, config=CLAS_CFG, path=tmp_path, silent=True)
    with pytest.raises(ValueError, match="arch must be AWD_LSTM"):
        language_model_learner(data_lm, "resnet34", pretrained=False)
    with pytest.raises(TypeError, match="language-model data"):
        language_model_learner(data_clas, AWD_LSTM, pretrained=False)


def test_offline_lesson_calls_fall_back_to_the_bundled_small_model(
    trained_lm, data_lm, data_clas, tmp_path, monkeypatch
):
    import emberfit.text.weights.find as W

    small = get_language_model(awd_lstm_small_lm_config, len(data_lm.vocab.itos))
    bundled = tmp_path / "bundled"
    save_pretrained(small, data_lm.vocab.itos, bundled / "lm.safetensors", bundled / "itos.json")
    monkeypatch.setattr(W, "BUNDLED_DIR", bundled)
    with pytest.warns(UserWarning, match="bundled pretrained"):
        lm = language_model_learner(data_lm, AWD_LSTM, drop_mult=0.3, path=tmp_path, silent=True)
    assert lm.model[0].n_hid == awd_lstm_small_lm_config.n_hid
    assert torch.equal(lm.model[0].encoder.weight, small[0].encoder.weight)
    lm.save_encoder("enc")
    with pytest.warns(UserWarning, match="bundled pretrained"):
        clas = text_classifier_learner(data_clas, AWD_LSTM, drop_mult=0.5, path=tmp_path, silent=True)
    clas.load_encoder("enc")  # the lesson's next call: the sizes fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        language_model_learner(data_lm, AWD_LSTM, config=awd_lstm_small_lm_config, path=tmp_path, silent=True)


def test_old_api_pretrained_model_url_loads_fastai_files(trained_lm, data_lm, tmp_path):
    import os
    import pickle

    from emberfit.core.download import URLs

    folder = Path(os.environ["EMBERFIT_HOME"]) / "models" / "wt103-fwd"  # where the archive unpacks
    folder.mkdir(parents=True)
    torch.save(trained_lm.model.state_dict(), folder / "lstm_fwd.pth")
    with open(folder / "itos_wt103.pkl", "wb") as f:
        pickle.dump(list(trained_lm.data.vocab.itos), f)
    learn = language_model_learner(
        data_lm, pretrained_model=URLs.WT103, config=LM_CFG, path=tmp_path, silent=True
    )
    assert torch.equal(learn.model[0].encoder.weight, trained_lm.model[0].encoder.weight)
    assert not learn.model[0].rnns[0].module.weight_ih_l0.requires_grad


def test_pretrained_fnames_load_mapped_weights_and_freeze(trained_lm, data_lm, df, tmp_path):
    itos = trained_lm.data.vocab.itos
    save_pretrained(
        trained_lm.model,
        itos,
        tmp_path / "models" / "my_lm.safetensors",
        tmp_path / "models" / "my_itos.json",
    )
    other = TextList.from_df(df.assign(text=df.text.str.replace("plot", "story")), cols="text")
    other = other.split_from_df(col="is_valid").label_for_lm().databunch(bs=8, bptt=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learn = language_model_learner(
            other, AWD_LSTM, config=LM_CFG, pretrained_fnames=("my_lm", "my_itos"), path=tmp_path, silent=True
        )
    new_itos = other.vocab.itos
    emb, old = learn.model[0].encoder.weight, trained_lm.model[0].encoder.weight
    i_new, i_old = new_itos.index("movie"), itos.index("movie")
    assert torch.equal(emb[i_new], old[i_old])
    assert torch.allclose(emb[new_itos.index("story")], old.mean(0))
    assert not learn.model[0].rnns[0].module.weight_ih_l0.requires_grad  # frozen after loading


def test_demo_sample_path_runs_the_lesson_stages(data_lm, data_clas, tmp_path):
    from emberfit.text.demo import sample_path

    res = sample_path(
        data_lm=data_lm,
        data_clas=data_clas,
        lm_config=LM_CFG,
        clas_config=CLAS_CFG,
        model_dir=tmp_path,
        n_words=5,
    )
    lm, clas = res["learners"]
    assert (tmp_path / "models" / "fine_tuned_enc.safetensors").is_file()
    assert all(p.requires_grad for p in clas.model.parameters())  # ends unfrozen
    assert 0 <= res["classifier accuracy"] <= 1 and res["LM perplexity"] > 1
    assert res["generated"].startswith("I liked this movie because") and "xx" not in res["generated"]


# ------------------------------------------------------------------------------ real data
@pytest.mark.slow
def test_lesson_path_on_the_imdb_sample(tmp_path):
    """The lesson's calls on 300 real reviews (a tiny model, so it stays well under a minute)."""
    from emberfit.core.download import URLs, untar_data
    from emberfit.text.databunch import TextClasDataBunch, TextLMDataBunch

    path = untar_data(URLs.IMDB_SAMPLE)
    df = pd.read_csv(path / "texts.csv").iloc[:300]
    set_seed(0)
    data_lm = TextLMDataBunch.from_df(tmp_path, df[:250], df[250:], text_cols="text", bs=16, bptt=40)
    learn = language_model_learner(
        data_lm, AWD_LSTM, config=LM_CFG, drop_mult=0.3, pretrained=False, silent=True
    )
    before = learn.validate()
    learn.fit_one_cycle(2, 3e-2, moms=(0.8, 0.7))
    after = learn.validate()
    assert after[0] < before[0] - 1.0 and after[1] > 0.1  # from ~ln(vocab) towards frequent-word statistics
    text = learn.predict("I liked this movie because", 15, temperature=0.75)
    assert text.startswith("I liked this movie because") and "xx" not in text
    learn.save_encoder("fine_tuned_enc")
    data_clas = TextClasDataBunch.from_df(
        tmp_path, df[:250], df[250:], text_cols="text", label_cols="label", vocab=data_lm.vocab, bs=16
    )
    clas = text_classifier_learner(
        data_clas, AWD_LSTM, config=CLAS_CFG, drop_mult=0.5, pretrained=False, silent=True
    )
    clas.load_encoder("fine_tuned_enc")
    clas.fit_one_cycle(1, 2e-2, moms=(0.8, 0.7))
    clas.freeze_to(-2)
    clas.fit_one_cycle(1, slice(1e-2 / (2.6**4), 1e-2), moms=(0.8, 0.7))
    preds, targs = clas.get_preds()
    assert targs.tolist() == data_clas.label_lists.valid.y.to_tensors().tolist()
    table = clas.predict_texts(df.text[250:].tolist())
    np.testing.assert_allclose(table.filter(like="proba_").to_numpy(), preds.numpy(), atol=1e-5)
    assert clas.predict("I really loved that movie, it was awesome!")[0] in ("negative", "positive")


@pytest.mark.parametrize(
    "module",
    [
        "generate",
        "models.dropout",
        "models.awd_lstm",
        "models.heads",
        "models.build",
        "weights.files",
        "weights.convert",
        "weights.find",
        "pretrain.planning",
    ],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"emberfit.text.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_the_shipped_small_model_loads_offline(data_lm, tmp_path):
    """The package's own pretrained small AWD-LSTM is found with no network and maps onto a new vocab."""
    import emberfit.text.weights.find as W

    found = W.bundled_pretrained()
    assert found is not None, f"the bundled model is missing from {W.BUNDLED_DIR}"
    lm = language_model_learner(
        data_lm, AWD_LSTM, config=awd_lstm_small_lm_config, path=tmp_path, silent=True
    )
    assert lm.model[0].n_hid == awd_lstm_small_lm_config.n_hid
    # a pretrained model predicts the synthetic corpus better than chance over its vocabulary
    assert lm.validate()[0] < math.log(len(data_lm.vocab.itos))


@pytest.mark.slow
def test_the_shipped_small_model_knows_english_movie_reviews(tmp_path):
    """On real reviews the bundled model beats a unigram model fitted on those very reviews, by a wide margin."""
    from emberfit.core.download import URLs, untar_data
    from emberfit.text.databunch import TextLMDataBunch

    df = pd.read_csv(untar_data(URLs.IMDB_SAMPLE) / "texts.csv")
    data = TextLMDataBunch.from_df(tmp_path, df[:900], df[900:], text_cols="text", bs=16, bptt=70)
    lm = language_model_learner(data, AWD_LSTM, config=awd_lstm_small_lm_config, path=tmp_path, silent=True)
    loss, acc, ppl = lm.validate()
    valid = data.label_lists.valid.x
    ids = valid.ids.astype(np.int64)
    counts = np.bincount(data.label_lists.train.x.ids, minlength=len(data.vocab.itos)) + 1.0
    unigram = float(
        np.exp(-np.log(counts[ids] / counts.sum()).mean())
    )  # unigram counts from the training reviews
    assert ppl < unigram / 3, (ppl, unigram)
    assert acc > 0.2

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from emberfit.text.models import (
    AWD_LSTM,
    AWDLSTMConfig,
    EmbeddingDropout,
    MultiBatchEncoder,
    RNNDropout,
    WeightDropout,
    awd_lstm_clas_config,
    awd_lstm_clas_split,
    awd_lstm_lm_config,
    awd_lstm_lm_split,
    get_language_model,
    get_text_classifier,
    masked_concat_pool,
)

V = 30
TINY = AWDLSTMConfig(emb_sz=8, n_hid=12, n_layers=3)
NO_DROP = dataclasses.replace(TINY, output_p=0.0, hidden_p=0.0, input_p=0.0, embed_p=0.0, weight_p=0.0)


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    # Tiny models gain nothing from a second thread, and on a busy 2-core machine OpenMP's
    # waiting between tiny ops made these tests ~50x slower.
    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tokens(bs, sl, low=2):
    return torch.randint(low, V, (bs, sl))


def test_language_model_shapes():
    lm = get_language_model(TINY, V)
    decoded, raw_outputs, outputs = lm(tokens(4, 7))
    assert decoded.shape == (4, 7, V)
    assert [o.shape for o in raw_outputs] == [(4, 7, 12), (4, 7, 12), (4, 7, 8)]
    assert [o.shape for o in outputs] == [(4, 7, 12), (4, 7, 12), (4, 7, 8)]
    assert lm[1].decoder.weight is lm[0].encoder.weight  # tied
    assert torch.all(lm[0].encoder.weight[TINY.pad_token] == 0)


def test_full_size_state_dict_keys_and_shapes_match_published_checkpoint():
    # reference-facts A5: key names and shapes of fast.ai's lstm_fwd.pth (vocab shrunk to 10)
    e, h, g = 400, 1152, 4 * 1152
    want = {
        "0.encoder.weight": (10, e),
        "0.encoder_dp.emb.weight": (10, e),
        "1.decoder.weight": (10, e),
        "1.decoder.bias": (10,),
    }
    for i, (n_in, n_out) in enumerate([(e, h), (h, h), (h, e)]):
        g = 4 * n_out
        want |= {
            f"0.rnns.{i}.weight_hh_l0_raw": (g, n_out),
            f"0.rnns.{i}.module.weight_ih_l0": (g, n_in),
            f"0.rnns.{i}.module.weight_hh_l0": (g, n_out),
            f"0.rnns.{i}.module.bias_ih_l0": (g,),
            f"0.rnns.{i}.module.bias_hh_l0": (g,),
        }
    got = {k: tuple(v.shape) for k, v in get_language_model(awd_lstm_lm_config, 10).state_dict().items()}
    assert got == want


def test_eval_is_deterministic_and_train_is_not():
    lm = get_language_model(TINY, V, drop_mult=1.0)
    x = tokens(3, 6)
    lm.eval()
    lm.reset()
    a = lm(x)[0]
    lm.reset()
    assert torch.equal(a, lm(x)[0])
    lm.train()
    lm.reset()
    b = lm(x)[0]
    lm.reset()
    assert not torch.allclose(b, lm(x)[0])


def test_no_dropout_matches_a_plain_lstm_stack():
    enc = AWD_LSTM.from_config(V, NO_DROP).train()  # train mode, but every p is 0
    x = tokens(2, 9)
    emb = F.embedding(x, enc.encoder.weight)
    ref = emb
    for wd in enc.rnns:
        ref, _ = wd.module(ref)  # the wrapped nn.LSTM with its own (undropped) weights
    torch.testing.assert_close(enc(x)[1][-1], ref)


def test_hidden_state_is_carried_detached_and_reset():
    enc = AWD_LSTM.from_config(V, NO_DROP).eval()
    x = tokens(2, 10)
    whole = enc(x)[1][-1]
    enc.reset()
    first, second = enc(x[:, :4])[1][-1], enc(x[:, 4:])[1][-1]
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    assert all(not h.requires_grad and not c.requires_grad for h, c in enc.hidden)
    enc.reset()
    fresh = enc(x[:, 4:])[1][-1]
    assert not torch.allclose(fresh, second)  # the carried state mattered
    # a different batch size starts from zeros instead of failing
    enc.reset()
    one = enc(x[:1, 4:])[1][-1]
    enc(x[:, :4])
    torch.testing.assert_close(enc(x[:1, 4:])[1][-1], one)


def test_select_hidden_keeps_rows():
    enc = AWD_LSTM.from_config(V, NO_DROP).eval()
    enc(tokens(3, 5))
    h_before = enc.hidden[0][0].clone()
    enc.select_hidden(torch.tensor([2, 0]))
    torch.testing.assert_close(enc.hidden[0][0], h_before[:, [2, 0]])


def test_weight_drop_only_in_training_and_raw_weight_untouched():
    wd = WeightDropout(nn.LSTM(6, 5, batch_first=True), weight_p=0.5)
    raw_before = wd.weight_hh_l0_raw.detach().clone()
    x = torch.randn(3, 4, 6)
    ref, _ = wd.module(x)  # nn.LSTM with the undropped weights
    torch.testing.assert_close(wd.eval()(x)[0], ref)
    out, _ = wd.train()(x)
    assert not torch.allclose(out, ref)
    out.sum().backward()
    zero_frac = (wd.weight_hh_l0_raw.grad == 0).float().mean().item()
    assert 0.35 < zero_frac < 0.65  # DropConnect: dropped entries get no gradient
    assert torch.equal(wd.weight_hh_l0_raw.detach(), raw_before)
    assert wd.module.weight_hh_l0 is wd.weight_hh_l0_raw


def test_load_state_dict_keeps_raw_weight_over_dropped_copy():
    wd = WeightDropout(nn.LSTM(3, 2, batch_first=True), weight_p=0.5)
    sd = {k: v.clone() for k, v in wd.state_dict().items()}
    sd["weight_hh_l0_raw"] = torch.full_like(sd["weight_hh_l0_raw"], 2.0)
    sd["module.weight_hh_l0"] = torch.zeros_like(sd["weight_hh_l0_raw"])  # a dropped copy saved mid-training
    wd.load_state_dict(sd)
    assert torch.all(wd.weight_hh_l0_raw == 2.0)
    del sd["module.weight_hh_l0"]  # either key alone is enough
    wd.load_state_dict(sd)


def test_rnn_dropout_is_variational_and_rescaled():
    dp = RNNDropout(0.5).train()
    y = dp(torch.ones(8, 20, 16))
    assert torch.equal(y, y[:, :1].expand_as(y))
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(dp.eval()(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


def test_embedding_dropout_drops_whole_rows():
    emb = nn.Embedding(50, 6)
    out = EmbeddingDropout(emb, 0.5).train()(torch.arange(50)[None])[0]  # (50, 6)
    dropped = (out == 0).all(1)
    assert 10 < dropped.sum() < 40
    torch.testing.assert_close(out[~dropped], emb.weight[~dropped] * 2)


def test_training_steps_reduce_loss_on_repeated_sequence():
    lm = get_language_model(TINY, V, drop_mult=0.1).train()
    seq = (torch.arange(21)[None] + torch.arange(4)[:, None]) % 10 + 2  # (4, 21): cycles of 2..11
    opt = torch.optim.Adam(lm.parameters(), lr=3e-2)
    losses = []
    for _ in range(30):
        lm.reset()
        out = lm(seq[:, :-1])[0]
        loss = F.cross_entropy(out.reshape(-1, V), seq[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(3.4, abs=0.1)  # ~ln(30): a uniform guess at the start
    assert losses[-1] < 0.75 * losses[0]


def test_classifier_output_does_not_depend_on_padding():
    clas = get_text_classifier(TINY, V, n_class=3, bptt=5, max_len=20).eval()
    docs = [tokens(1, n)[0] for n in (7, 12, 3, 10)]
    alone = torch.cat([clas(d[None])[0] for d in docs])
    sl = 14
    pad_first = torch.stack([F.pad(d, (sl - len(d), 0), value=1) for d in docs])
    pad_last = torch.stack([F.pad(d, (0, sl - len(d)), value=1) for d in docs])
    torch.testing.assert_close(clas(pad_first)[0], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(clas(pad_last)[0], alone, atol=1e-5, rtol=1e-5)


def test_multibatch_encoder_keeps_last_max_len_and_only_those_get_gradients():
    enc = AWD_LSTM.from_config(V, NO_DROP)
    mbe = MultiBatchEncoder(bptt=4, max_len=8, encoder=enc, pad_idx=1)
    x = torch.cat([torch.full((2, 4), 2), torch.randint(3, V, (2, 8))], 1)  # token 2 only in chunk 0
    raw, out, mask = mbe(x)
    assert out[-1].shape == (2, 8, 8) and mask.shape == (2, 8) and not mask.any()
    out[-1].sum().backward()
    grad = enc.encoder.weight.grad
    assert torch.all(grad[2] == 0)  # chunk 0 ran without gradients
    assert grad[x[0, 4:]].abs().sum() > 0
    with pytest.raises(ValueError, match="max_len"):
        MultiBatchEncoder(bptt=10, max_len=5, encoder=enc)


def test_masked_concat_pool_against_hand_computation():
    out = torch.randn(2, 5, 3)
    mask = torch.tensor([[True, True, False, False, False], [False] * 5])
    pooled = masked_concat_pool(out, mask)
    real0 = out[0, 2:]
    torch.testing.assert_close(pooled[0], torch.cat([out[0, -1], real0.max(0).values, real0.mean(0)]))
    torch.testing.assert_close(pooled[1], torch.cat([out[1, -1], out[1].max(0).values, out[1].mean(0)]))
    all_pad = masked_concat_pool(out[:1], torch.ones(1, 5, dtype=torch.bool))
    assert torch.equal(all_pad, torch.zeros(1, 9))


def test_classifier_head_layout():
    clas = get_text_classifier(awd_lstm_clas_config, 10, n_class=4, drop_mult=0.5)
    layers = list(clas[1].layers)
    assert [type(m).__name__ for m in layers] == [
        "BatchNorm1d", "Dropout", "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"
    ]  # fmt: skip
    assert (layers[2].in_features, layers[2].out_features, layers[6].out_features) == (1200, 50, 4)
    assert layers[1].p == pytest.approx(0.4 * 0.5) and layers[5].p == pytest.approx(0.1)


@pytest.mark.parametrize(
    "make, split, n_groups",
    [
        (lambda: get_language_model(TINY, V), awd_lstm_lm_split, 4),
        (lambda: get_text_classifier(TINY, V, 2), awd_lstm_clas_split, 5),
    ],
)
def test_split_groups_cover_every_parameter_once(make, split, n_groups):
    model = make()
    groups = split(model)
    assert len(groups) == n_groups
    ids = [id(p) for g in groups for p in nn.ModuleList(g).parameters()]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}


def test_lm_split_puts_embedding_with_decoder():
    lm = get_language_model(TINY, V)
    last = nn.ModuleList(awd_lstm_lm_split(lm)[-1])
    assert any(p is lm[0].encoder.weight for p in last.parameters())
    assert any(p is lm[1].decoder.bias for p in last.parameters())


def test_config_presets_drop_mult_and_errors():
    assert (awd_lstm_lm_config.emb_sz, awd_lstm_lm_config.n_hid, awd_lstm_lm_config.n_layers) == (
        400,
        1152,
        3,
    )
    lm = get_language_model(TINY, V, drop_mult=0.5)
    assert lm[0].rnns[0].weight_p == pytest.approx(0.1) and lm[0].encoder_dp.embed_p == pytest.approx(0.01)
    assert lm[1].output_dp.p == pytest.approx(0.05)
    lm = get_language_model(dict(emb_sz=8, n_hid=12, n_layers=2, qrnn=False), V)
    assert len(lm[0].rnns) == 2
    with pytest.raises(ValueError, match="qrnn"):
        get_language_model(dict(qrnn=True), V)
    with pytest.raises(KeyError, match="n_hidden"):
        get_language_model(dict(n_hidden=5), V)
    with pytest.raises(ValueError, match="drop_mult"):
        get_language_model(TINY, V, drop_mult=10)
    with pytest.raises(ValueError, match="pad_token"):
        AWD_LSTM(vocab_sz=1, pad_token=1)

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from emberfit.text.models import AWDLSTMConfig, get_language_model, get_text_classifier
from emberfit.text.weights import (
    config_from_state_dict,
    convert_weights,
    find_pretrained,
    load_itos,
    load_pretrained,
    load_weights,
    save_pretrained,
)

EMB, HID = 6, 10
SMALL = AWDLSTMConfig(emb_sz=EMB, n_hid=HID, n_layers=3)
OLD_ITOS = ["xxunk", "xxpad", "xxbos", "the", "a", "movie", "film", "good", "bad", "great"]
NEW_ITOS = ["xxunk", "xxpad", "xxbos", "movie", "cinema", "the", "awful", "great", "a"]  # reordered + 2 new


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def published_state_dict(vocab: int, emb: int, hid: int, n_hid_layers=(0, 1)) -> dict[str, torch.Tensor]:
    """A state dict with exactly the key names of fast.ai's lstm_fwd.pth (reference-facts A5), built by hand."""
    enc = torch.randn(vocab, emb)
    sd = {"0.encoder.weight": enc, "0.encoder_dp.emb.weight": enc}  # one tensor, two keys
    sizes = [(emb, hid), (hid, hid), (hid, emb)]
    for i, (n_in, n_out) in enumerate(sizes):
        raw = torch.randn(4 * n_out, n_out)
        sd[f"0.rnns.{i}.weight_hh_l0_raw"] = raw
        sd[f"0.rnns.{i}.module.weight_ih_l0"] = torch.randn(4 * n_out, n_in)
        sd[f"0.rnns.{i}.module.weight_hh_l0"] = raw * (torch.rand_like(raw) > 0.5)  # a dropped copy
        sd[f"0.rnns.{i}.module.bias_ih_l0"] = torch.randn(4 * n_out)
        sd[f"0.rnns.{i}.module.bias_hh_l0"] = torch.randn(4 * n_out)
    sd["1.decoder.weight"] = enc  # tied
    sd["1.decoder.bias"] = torch.randn(vocab)
    return sd


@pytest.fixture
def wt103_dir(tmp_path):
    """A fake ``models/wt103-fwd`` folder: torch.save'd plain dict + pickled list of str."""
    folder = Path(os.environ["EMBERFIT_HOME"]) / "models" / "wt103-fwd"
    folder.mkdir(parents=True)
    sd = published_state_dict(len(OLD_ITOS), EMB, HID)
    torch.save(sd, folder / "lstm_fwd.pth")
    with open(folder / "itos_wt103.pkl", "wb") as f:
        pickle.dump(OLD_ITOS, f)
    return folder, sd


def test_published_keys_load_strictly_into_the_language_model(wt103_dir):
    folder, sd = wt103_dir
    lm = get_language_model(SMALL, len(OLD_ITOS))
    lm.load_state_dict(torch.load(folder / "lstm_fwd.pth", weights_only=True), strict=True)
    for i in range(3):  # the raw weight wins over the dropped copy stored beside it
        torch.testing.assert_close(
            lm[0].rnns[i].weight_hh_l0_raw.detach(), sd[f"0.rnns.{i}.weight_hh_l0_raw"]
        )


def test_load_pretrained_maps_rows_onto_new_vocab(wt103_dir):
    folder, sd = wt103_dir
    lm = get_language_model(SMALL, len(NEW_ITOS))
    weights, itos = find_pretrained()
    assert (weights, itos) == (folder / "lstm_fwd.pth", folder / "itos_wt103.pkl")
    load_pretrained(lm, weights, itos, NEW_ITOS)
    enc, bias = lm[0].encoder.weight.detach(), lm[1].decoder.bias.detach()
    old_enc, old_bias = sd["0.encoder.weight"], sd["1.decoder.bias"]
    for new_i, tok in enumerate(NEW_ITOS):
        if tok in OLD_ITOS:
            old_i = OLD_ITOS.index(tok)
            torch.testing.assert_close(enc[new_i], old_enc[old_i], msg=tok)
            torch.testing.assert_close(bias[new_i], old_bias[old_i], msg=tok)
        else:
            torch.testing.assert_close(enc[new_i], old_enc.mean(0), msg=tok)
            torch.testing.assert_close(bias[new_i], old_bias.mean(), msg=tok)
    assert (
        lm[0].encoder_dp.emb.weight is lm[0].encoder.weight and lm[1].decoder.weight is lm[0].encoder.weight
    )
    for i in range(3):
        torch.testing.assert_close(
            lm[0].rnns[i].module.weight_ih_l0.detach(), sd[f"0.rnns.{i}.module.weight_ih_l0"]
        )
        torch.testing.assert_close(
            lm[0].rnns[i].weight_hh_l0_raw.detach(), sd[f"0.rnns.{i}.weight_hh_l0_raw"]
        )


def test_convert_weights_gives_all_duplicated_keys_one_tensor(wt103_dir):
    _, sd = wt103_dir
    new = convert_weights(sd, OLD_ITOS, NEW_ITOS)
    assert new["0.encoder.weight"].shape == (len(NEW_ITOS), EMB) and new["1.decoder.bias"].shape == (
        len(NEW_ITOS),
    )
    assert new["0.encoder_dp.emb.weight"] is new["0.encoder.weight"] is new["1.decoder.weight"]
    assert sd["0.encoder.weight"].shape[0] == len(OLD_ITOS)  # input left alone
    with pytest.raises(ValueError, match="10 embedding rows but the old vocabulary has 3"):
        convert_weights(sd, OLD_ITOS[:3], NEW_ITOS)


def test_classifier_gets_the_encoder(wt103_dir):
    _, sd = wt103_dir
    clas = get_text_classifier(SMALL, len(NEW_ITOS), n_class=2)
    load_pretrained(clas, *find_pretrained("https://s3.amazonaws.com/fast-ai-modelzoo/wt103-fwd"), NEW_ITOS)
    enc = clas[0].module
    torch.testing.assert_close(enc.encoder.weight[NEW_ITOS.index("the")].detach(), sd["0.encoder.weight"][3])
    torch.testing.assert_close(enc.rnns[2].module.bias_hh_l0.detach(), sd["0.rnns.2.module.bias_hh_l0"])


def test_checkpoint_wrapped_with_optimizer_state_is_unwrapped(tmp_path, wt103_dir):
    _, sd = wt103_dir
    torch.save({"model": sd, "opt": {"state": {}}}, tmp_path / "wrapped.pth")
    assert set(load_weights(tmp_path / "wrapped.pth")) == set(sd)


def test_own_format_round_trip(tmp_path, wt103_dir):
    folder, _ = wt103_dir
    lm = get_language_model(SMALL, len(NEW_ITOS))
    load_pretrained(lm, folder / "lstm_fwd.pth", folder / "itos_wt103.pkl", NEW_ITOS)
    w, i = save_pretrained(lm, NEW_ITOS, tmp_path / "lm.safetensors", tmp_path / "itos.json")
    stored = load_file(w)
    assert "0.encoder_dp.emb.weight" not in stored and "1.decoder.weight" not in stored  # duplicates once
    assert load_itos(i) == NEW_ITOS
    lm2 = get_language_model(SMALL, len(NEW_ITOS))
    load_pretrained(lm2, *find_pretrained((tmp_path / "lm", tmp_path / "itos")), NEW_ITOS)  # suffixes found
    for (k, a), b in zip(lm.state_dict().items(), lm2.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)
    assert lm2[1].decoder.weight is lm2[0].encoder.weight


def test_architecture_mismatch_is_explained(wt103_dir):
    folder, _ = wt103_dir
    lm = get_language_model(AWDLSTMConfig(emb_sz=EMB, n_hid=HID + 2), len(NEW_ITOS))
    with pytest.raises(ValueError, match=f"n_hid={HID}.*model has emb_sz={EMB}, n_hid={HID + 2}"):
        load_pretrained(lm, folder / "lstm_fwd.pth", folder / "itos_wt103.pkl", NEW_ITOS)
    with pytest.raises(ValueError, match="new_itos has 3 tokens"):
        load_pretrained(lm, folder / "lstm_fwd.pth", folder / "itos_wt103.pkl", NEW_ITOS[:3])


def test_old_1150_checkpoint_names_the_fitting_preset(tmp_path):
    sd = published_state_dict(4, 400, 1150)
    torch.save(sd, tmp_path / "lstm_wt103.pth")
    with open(tmp_path / "itos.pkl", "wb") as f:
        pickle.dump(["a", "b", "c", "d"], f)
    lm = get_language_model(AWDLSTMConfig(), 4)
    with pytest.raises(ValueError, match=r"fastai < 1.0.53.*n_hid=1150"):
        load_pretrained(lm, tmp_path / "lstm_wt103.pth", tmp_path / "itos.pkl", ["a", "b", "c", "d"])
    cfg = config_from_state_dict(load_weights(tmp_path / "lstm_wt103.pth"))
    assert (cfg.emb_sz, cfg.n_hid, cfg.n_layers) == (400, 1150, 3)
    load_pretrained(
        get_language_model(cfg, 4), tmp_path / "lstm_wt103.pth", tmp_path / "itos.pkl", list("abcd")
    )


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_rejected_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "itos.pkl"
    bad.write_bytes(pickle.dumps(["the", _RunsCode(marker)]))
    with pytest.raises(ValueError, match="refusing.*system"):
        load_itos(bad)
    assert not marker.exists()
    bad.write_bytes(pickle.dumps(_RunsCode(marker), protocol=0))
    with pytest.raises(ValueError, match="refusing"):
        load_itos(bad)
    assert not marker.exists()


@pytest.mark.parametrize("obj", [{"the": 0}, ("the", "a"), ["the", 3], "the"])
def test_vocabulary_pickle_must_be_a_list_of_str(tmp_path, obj):
    path = tmp_path / "itos.pkl"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(ValueError, match="must hold a list of strings"):
        load_itos(path)


def test_corrupt_files_raise_value_error(tmp_path):
    (tmp_path / "itos.pkl").write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(ValueError, match="refusing"):
        load_itos(tmp_path / "itos.pkl")
    (tmp_path / "w.pth").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="weights_only"):
        load_weights(tmp_path / "w.pth")


def test_missing_files_say_where_to_put_them():
    with pytest.raises(FileNotFoundError) as e:
        find_pretrained("wt103-fwd")
    msg = str(e.value)
    folder = Path(os.environ["EMBERFIT_HOME"]) / "models" / "wt103-fwd"
    for part in ("lstm_fwd.pth", "itos_wt103.pkl", str(folder), "pretrained=False", "pretrained_fnames"):
        assert part in msg
    with pytest.raises(FileNotFoundError, match="weights file 'nope' not found"):
        find_pretrained(("nope", "itos"))
    with pytest.raises(FileNotFoundError, match="vocabulary file not found"):
        load_itos("/no/such/itos.pkl")

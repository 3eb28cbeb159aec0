"""emberfit pretrain on tiny corpora: reading formats, the CLI's three files, exact --resume, budgets, backwards + ensemble."""

import dataclasses
import gzip
import json
import math
import time

import numpy as np
import pandas as pd
import pytest
import torch

from emberfit.core.callbacks.base import Callback
from emberfit.core.data import DatasetType
from emberfit.core.io import load_tensors
from emberfit.core.seed import set_seed
from emberfit.text.corpus import LMCorpus, clas_databunch_from_arrays, prepare_corpus
from emberfit.text.corpus_files import read_corpus, strip_gutenberg
from emberfit.text.ensemble import ensemble_accuracy, ensemble_predict_texts, ensemble_preds
from emberfit.text.item_lists import TextList
from emberfit.text.learner import language_model_learner, text_classifier_learner
from emberfit.text.models import AWD_LSTM, awd_lstm_small_clas_config, awd_lstm_small_lm_config
from emberfit.text.pretrain.cli import main, pretrain
from emberfit.text.pretrain.planning import plan_epochs
from emberfit.text.pretrain.settings import PretrainSettings
from emberfit.text.pretrain.train import train_lm
from emberfit.text.token_store import concat_corpora
from emberfit.text.tokenizer import Tokenizer
from emberfit.text.weights.convert import load_pretrained

TINY = dataclasses.replace(awd_lstm_small_lm_config, emb_sz=16, n_hid=32)
TINY_CLAS = dataclasses.replace(awd_lstm_small_clas_config, emb_sz=16, n_hid=32)
WORDS = "the a cat dog sat ran on under mat house big small red old quickly slowly".split()

BOOK = (
    "The Project Gutenberg EBook of Tests\r\nLicence text\r\n"
    "*** START OF THIS PROJECT GUTENBERG EBOOK TESTS ***\r\n\r\n"
    "It was a dark\r\nand stormy night.\r\n\r\nThe end came\r\nsoon.\r\n\r\n"
    "End of the Project Gutenberg EBook of Tests\r\n"
    "*** END OF THIS PROJECT GUTENBERG EBOOK TESTS ***\r\nMore licence text about Project Gutenberg."
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def sentences(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = rng.integers(4, 9)
        out.append(" ".join(rng.choice(WORDS, k)).capitalize() + ".")
    return out


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    for i in range(30):
        (d / "txt" / f"doc{i}.txt").parent.mkdir(exist_ok=True)
        (d / "txt" / f"doc{i}.txt").write_text(" ".join(sentences(10, i)))
    with gzip.open(d / "books.jsonl.gz", "wt", encoding="utf-8") as f:
        for i in range(6):
            body = "\r\n\r\n".join(" ".join(sentences(4, 100 + 10 * i + j)) for j in range(3))
            book = BOOK.replace("It was a dark\r\nand stormy night.", body)
            f.write(json.dumps({"title": f"b{i}", "text": book}) + "\n")
    pd.DataFrame({"text": [" ".join(sentences(5, 200 + i)) for i in range(10)] + ["NA"]}).to_csv(
        d / "reviews.csv.gz", index=False
    )
    return d


def test_strip_gutenberg():
    assert strip_gutenberg(BOOK) == "It was a dark and stormy night.\n\nThe end came soon."
    body = "Body one\ntwo\n\n" + "More text. " * 10
    old = f"Header\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*END*\n{body}\nEnd of Project Gutenberg's X\nfooter"
    assert strip_gutenberg(old) == "Body one two\n\n" + " ".join(["More text."] * 10)
    assert strip_gutenberg("A review with\nlines.") == "A review with\nlines."


def test_read_corpus_formats(corpus_dir, tmp_path):
    texts, groups = read_corpus(corpus_dir / "books.jsonl.gz", piece_chars=60)
    assert all("Gutenberg" not in t and "Licence" not in t for t in texts)
    assert groups.max() == 5 and len(texts) > 6  # books cut into pieces, one group per book
    assert sum(t.startswith("xxbos ") for t in texts) == 6  # only a book's first piece
    texts, _ = read_corpus(corpus_dir / "reviews.csv.gz")
    assert texts[-1] == "xxbos NA"  # keep_default_na=False: 'NA' is a text, not a missing value
    (tmp_path / "wiki.tokens").write_text(" = A = \n text one \n = = Sub = = \n more \n = B = \n text two \n")
    texts, _ = read_corpus(tmp_path / "wiki.tokens")
    assert len(texts) == 2 and "Sub" in texts[0] and texts[1].startswith("xxbos = B =")
    texts, groups = read_corpus(corpus_dir)  # a folder: every known file below it
    assert len(np.unique(groups)) == 30 + 6 + 11


def test_read_corpus_errors(corpus_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_corpus(tmp_path / "nope")
    (tmp_path / "x.jsonl").write_text('{"body": "hi"}\n')
    with pytest.raises(KeyError, match="text_field='text'.*body"):
        read_corpus(tmp_path / "x.jsonl")
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(ValueError, match="unknown type"):
        read_corpus(tmp_path / "x.parquet")


def test_concat_corpora_matches_one_tokenization():
    tok = Tokenizer(n_cpus=1)
    a, b = ["Hello there. A cat!", "Dogs run"], ["A dog, a CAT", "hello"]
    both = concat_corpora([tok.process_corpus(a), tok.process_corpus(b)])
    ref = tok.process_corpus(a + b)
    assert both.vocab == ref.vocab and both.to_lists() == ref.to_lists()


def test_split_by_group_and_source():
    offsets = np.arange(0, 41, 2)
    c = LMCorpus(
        np.zeros(40, np.int32),
        offsets,
        ["xxunk"],
        np.repeat(np.arange(10), 2),
        np.repeat([0, 1], 10),
        ["a", "b"],
    )
    tr, va = c.split(0.2, seed=1)
    assert len(np.intersect1d(c.groups[tr], c.groups[va])) == 0  # a group never straddles the split
    assert set(c.sources[va]) == {0, 1}  # every source is held out a little
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(20))


def cli(corpus_dir, out, *extra):
    return ["--corpus", str(corpus_dir), "--out", str(out), "--bs", "8", "--bptt", "12", "--min-freq", "1",
            "--valid-pct", "0.2", "--lr", "1e-2", "--log-every", "1000", "--threads", "1", *extra]  # fmt: skip


def test_cli_writes_three_files_that_load(corpus_dir, tmp_path):
    out = tmp_path / "lm"
    assert main(cli(corpus_dir, out, "--max-tokens", "2000")) == 0  # the small preset, a few batches
    card = json.loads((out / "model_card.json").read_text())
    itos = json.loads((out / "itos.json").read_text())
    assert card["preset"] == "small" and card["vocab_size"] == len(itos) and card["epochs"] == 1
    assert card["batches_per_epoch"] == math.ceil(2000 / (8 * 12)) < card["full_epoch_batches"]
    assert card["tokens"] == card["train_tokens"] + card["valid_tokens"]
    assert 1 < card["final_valid_perplexity"] < card["vocab_size"]
    assert [c["source"] for c in card["corpus"]] == [corpus_dir.name]
    # language_model_learner loads the files onto another vocabulary (here: the same one, reordered)
    df = pd.DataFrame({"text": [" ".join(sentences(6, 300 + i)) for i in range(40)]})
    data = (
        TextList.from_df(df, cols="text", min_freq=1)
        .split_by_rand_pct(0.2, seed=0)
        .label_for_lm()
        .databunch(bs=4, bptt=8)
    )
    learn = language_model_learner(
        data,
        AWD_LSTM,
        config=awd_lstm_small_lm_config,
        pretrained_fnames=(out / "lm.safetensors", out / "itos.json"),
    )
    saved = load_tensors(out / "lm.safetensors")[0]["0.encoder.weight"]
    tok = "cat"
    mine = learn.model[0].encoder.weight[data.vocab.itos.index(tok)]
    torch.testing.assert_close(mine, saved[itos.index(tok)])
    # a second run into the same folder is refused; a bad setting names itself
    assert main(cli(corpus_dir, out)) == 2
    assert main(cli(corpus_dir, tmp_path / "x", "--valid-pct", "1.5")) == 2


class Kill(Callback):
    """Simulates the process being killed right after epoch ``at``'s checkpoint was written."""

    order = 35

    def __init__(self, at):
        self.at = at

    def after_epoch(self):
        if self.learn.epoch == self.at:
            raise KeyboardInterrupt("simulated kill")


def final_weights(out):
    return load_tensors(out / "lm.safetensors")[0]


def test_resume_after_kill_ends_with_the_same_weights(corpus_dir, tmp_path):
    args = ("--epochs", "3", "--checkpoint-minutes", "0")
    card_a = pretrain(cli(corpus_dir, tmp_path / "a", *args), config=TINY)
    with pytest.raises(KeyboardInterrupt):
        pretrain(cli(corpus_dir, tmp_path / "b", *args), callbacks=[Kill(at=0)], config=TINY)
    assert not (tmp_path / "b" / "lm.safetensors").exists()
    with pytest.raises(ValueError, match="bs \\(run: 8, now: 16\\)"):
        pretrain(["--out", str(tmp_path / "b"), "--resume", "--bs", "16"], config=TINY)
    card_b = pretrain(["--out", str(tmp_path / "b"), "--resume"], config=TINY)
    wa, wb = final_weights(tmp_path / "a"), final_weights(tmp_path / "b")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert card_b["final_valid_loss"] == card_a["final_valid_loss"]
    # the mid-epoch checkpoint restarts its epoch: it records the last complete one
    meta = load_tensors(tmp_path / "b" / "checkpoints" / "checkpoint.safetensors")[1]
    assert meta["epoch"] == 2


def test_timed_checkpoint_restarts_its_epoch(corpus_dir, tmp_path):
    with pytest.raises(KeyboardInterrupt):  # every batch writes a mid-epoch checkpoint; killed in epoch 1
        pretrain(
            cli(corpus_dir, tmp_path / "c", "--epochs", "2", "--checkpoint-minutes", "1e-9"),
            callbacks=[KillMid()],
            config=TINY,
        )
    meta = load_tensors(tmp_path / "c" / "checkpoints" / "checkpoint.safetensors")[1]
    assert meta["epoch"] == 0 and meta["mid_epoch"] == 1
    card = pretrain(["--out", str(tmp_path / "c"), "--resume"], config=TINY)
    assert card["epochs"] == 2 and math.isfinite(card["final_valid_loss"])


class KillMid(Callback):
    order = 35

    def after_batch(self):
        if self.learn.training and self.learn.epoch == 1 and self.learn.iter == 2:
            raise KeyboardInterrupt("simulated kill")


def test_plan_sizes_the_run():
    s = PretrainSettings(bs=10, bptt=10, max_tokens=2500)
    assert plan_epochs(s, 100, None, 0.0, 0, None) == (1, 25)
    s = PretrainSettings(bs=10, bptt=10, time_budget=1.0)
    # 0.1 s a batch, a validation 2 s: 5 epochs of 96 batches (48 s) + 5 validations and a final one (12 s)
    assert plan_epochs(s, 100, 0.1, 0.2, 10, 60.0) == (5, 96)
    s = PretrainSettings(epochs=2, time_budget=1.0)
    assert plan_epochs(s, 100, 0.1, 0.0, 10, 60.0) == (2, 100)  # --epochs caps a generous budget


def test_time_budget_run_ends_in_time(corpus_dir, tmp_path):
    corpus = prepare_corpus([corpus_dir], min_freq=1, log=None)
    t0 = time.perf_counter()
    learn, card = train_lm(
        corpus, tmp_path / "t", PretrainSettings(bs=8, bptt=12, time_budget=0.1, valid_pct=0.2), checkpoints=False,
        config=TINY, log=None,
    )  # fmt: skip
    assert time.perf_counter() - t0 < 0.1 * 60 * 1.5 + 5
    assert card["epochs"] * card["batches_per_epoch"] > 3


def test_backwards_lm_and_ensemble(corpus_dir, tmp_path):
    corpus = prepare_corpus([corpus_dir], min_freq=1, log=None)
    s = PretrainSettings(bs=8, bptt=12, epochs=1, valid_pct=0.2, backwards=True, lr=1e-2)
    _, card = train_lm(corpus, tmp_path / "bwd", s, checkpoints=False, config=TINY, log=None)
    assert card["backwards"] is True
    # a labelled set in the pretrained vocabulary; forward and backward classifiers, then their average
    rng = np.random.default_rng(0)
    docs, labels = [], []
    for i in range(64):
        w = ["big", "red", "quickly"] if i % 2 else ["small", "old", "slowly"]
        docs.append([corpus.itos.index(t) for t in ["xxbos", *rng.choice(w, 3), *rng.choice(WORDS, 5)]])
        labels.append(i % 2)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    ids = np.concatenate(docs)
    learners = []
    for backwards in (False, True):
        data = clas_databunch_from_arrays(
            ids, offsets, np.array(labels), ["neg", "pos"], corpus.itos, np.arange(48), np.arange(48, 64),
            bs=8, backwards=backwards, device="cpu", path=tmp_path,
        )  # fmt: skip
        set_seed(1)
        learn = text_classifier_learner(data, AWD_LSTM, config=TINY_CLAS, pretrained=False, drop_mult=0.1)
        if backwards:  # the backwards classifier starts from the backwards language model's encoder
            load_pretrained(
                learn.model,
                tmp_path / "bwd" / "lm.safetensors",
                tmp_path / "bwd" / "itos.json",
                data.vocab.itos,
            )
        learn.fit_one_cycle(2, 2e-2)
        learners.append(learn)
    assert learners[1].data.train_dl.backwards and not learners[0].data.train_dl.backwards
    probs, y = ensemble_preds(learners)
    p0, p1 = (learn.get_preds()[0] for learn in learners)
    torch.testing.assert_close(probs, (p0 + p1) / 2)
    acc = ensemble_accuracy(learners)
    assert len(acc["each"]) == 2 and 0 <= acc["ensemble"] <= 1
    assert acc["ensemble"] == float(((p0 + p1).argmax(1) == y).float().mean())
    with pytest.raises(ValueError, match="weights"):
        ensemble_preds(learners, weights=[1.0])
    with pytest.raises(TypeError, match="list of classifier learners"):
        ensemble_preds(learners[0])
    # other data (fewer rows) cannot be averaged with these
    other = clas_databunch_from_arrays(
        ids, offsets, np.array(labels), ["neg", "pos"], corpus.itos, np.arange(40), np.arange(40, 60), bs=8, device="cpu"
    )  # fmt: skip
    odd = text_classifier_learner(other, AWD_LSTM, config=TINY_CLAS, pretrained=False)
    with pytest.raises(ValueError, match="different set"):
        ensemble_preds([learners[0], odd])
    assert ensemble_preds(learners, DatasetType.Valid, weights=[1, 0])[0].allclose(p0)
    table = ensemble_predict_texts(learners, ["big red cat", "small old dog"])
    assert list(table.columns) == ["prediction", "proba_neg", "proba_pos"]
    np.testing.assert_allclose(table[["proba_neg", "proba_pos"]].sum(axis=1), 1.0, rtol=1e-5)


class FirstWeights(Callback):
    """Keeps the model's weights as they are when fitting starts."""

    def before_fit(self):
        self.sd = {k: v.detach().clone() for k, v in self.learn.model.state_dict().items()}


def test_init_starts_from_an_earlier_model(corpus_dir, tmp_path):
    pretrain(cli(corpus_dir, tmp_path / "a", "--max-tokens", "500"), config=TINY)
    first = FirstWeights()
    card = pretrain(cli(corpus_dir, tmp_path / "b", "--max-tokens", "500", "--init", str(tmp_path / "a")),
                    callbacks=[first], config=TINY)  # fmt: skip
    wa = final_weights(tmp_path / "a")
    for k, v in wa.items():  # same corpus, same vocabulary: the mapping is the identity
        torch.testing.assert_close(first.sd[k], v, msg=k)
    assert card["init"]["from"] == str(tmp_path / "a") and card["init"]["vocab_shared"] == card["vocab_size"]
    assert card["init"]["final_valid_perplexity"] > 1
    # a missing folder, or a model of another size, is an error that names the problem
    assert main(cli(corpus_dir, tmp_path / "c", "--init", str(tmp_path / "nope"))) == 2
    with pytest.raises(ValueError):
        pretrain(cli(corpus_dir, tmp_path / "d", "--init", str(tmp_path / "a")),
                 config=dataclasses.replace(TINY, n_hid=24))  # fmt: skip


def test_time_budget_caps_a_big_validation_set(corpus_dir, tmp_path, monkeypatch):
    import emberfit.text.pretrain.planning as planning

    # validation 5 s a batch against a 6 s budget: it gets at most a tenth of the budget (4 batches at least)
    monkeypatch.setattr(planning, "measure_speed", lambda learn: (0.01, 5.0))
    corpus = prepare_corpus([corpus_dir], min_freq=1, log=None)
    s = PretrainSettings(bs=2, bptt=6, time_budget=0.1, valid_pct=0.4)
    learn, card = train_lm(corpus, tmp_path / "v", s, checkpoints=False, config=TINY, log=None)
    assert card["valid_batches"] == 4 == len(learn.data.valid_dl) < card["valid_tokens"] // (2 * 6)
    assert all(v["valid_batches"] <= 4 for v in card["valid_by_corpus"].values())


def test_resume_of_a_finished_run_writes_its_outputs_without_training(corpus_dir, tmp_path):
    # killed after the last epoch's checkpoint, before the outputs: --resume must finish, not refuse
    args = ("--epochs", "2", "--checkpoint-minutes", "0")
    card_a = pretrain(cli(corpus_dir, tmp_path / "a", *args), config=TINY)
    wa = final_weights(tmp_path / "a")
    (tmp_path / "a" / "lm.safetensors").unlink()
    card_b = pretrain(["--out", str(tmp_path / "a"), "--resume"], config=TINY)
    wb = final_weights(tmp_path / "a")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    # the same weights; validated in fp32 here, under the run's bf16 autocast there
    assert card_b["final_valid_loss"] == pytest.approx(card_a["final_valid_loss"], rel=1e-3)
    assert card_b["tokens_trained"] == card_a["tokens_trained"] and card_b["stopped_early"] is None


def test_cli_says_its_threads_and_a_resume_keeps_the_runs_own(corpus_dir, tmp_path, capsys):
    out = tmp_path / "t"
    assert main(cli(corpus_dir, out, "--max-tokens", "500", "--checkpoint-minutes", "0")) == 0
    assert "torch threads: 1 (asked for 1)" in capsys.readouterr().out
    assert json.loads((out / "checkpoints" / "run.json").read_text())["threads"] == 1
    (out / "lm.safetensors").unlink()  # killed before its outputs: --resume (threads 'auto') finishes it
    torch.set_num_threads(2)
    assert main(["--out", str(out), "--resume"]) == 0
    assert "torch threads: 1 (as the run started; --threads N to choose)" in capsys.readouterr().out
    assert torch.get_num_threads() == 1 and (out / "lm.safetensors").is_file()
    # pretrain() from Python leaves the threads alone unless --threads is given
    torch.set_num_threads(2)
    args = cli(corpus_dir, tmp_path / "u", "--max-tokens", "500")
    del args[args.index("--threads") : args.index("--threads") + 2]
    pretrain(args, config=TINY)
    assert torch.get_num_threads() == 2

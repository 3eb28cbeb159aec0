"""Tests for emberfit.text.vocab: v1's Vocab.create recipe, lookups, flat numericalize, JSON files."""

import json
import random
from collections import Counter

import numpy as np
import pytest

from emberfit.text.rules import text_spec_tok
from emberfit.text.tokenizer import Tokenizer
from emberfit.text.vocab import Vocab


def v1_create(tokens, max_vocab, min_freq):
    """The fastai 1.0.61 recipe spelled out step by step, as an oracle."""
    freq = Counter(t for doc in tokens for t in doc)
    itos = [t for t, c in freq.most_common(max_vocab) if c >= min_freq]
    for special in reversed(text_spec_tok):
        if special in itos:
            itos.remove(special)
        itos.insert(0, special)
    itos = itos[:max_vocab]
    while len(itos) < max_vocab and len(itos) % 8:
        itos.append("xxfake")
    return itos


def random_docs(n_docs=200, seed=0):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(120)] + ["xxmaj", "xxbos", "xxpad"]
    # Zipf-like counts, with many ties, so the tie order matters.
    return [
        [rng.choice(words[: rng.randint(1, len(words))]) for _ in range(rng.randint(0, 30))]
        for _ in range(n_docs)
    ]


def test_specials_first_unk_zero_pad_one():
    v = Vocab.create([["the", "the", "the", "cat"]], min_freq=3)
    assert v.itos[: len(text_spec_tok)] == text_spec_tok
    assert v.itos[0] == "xxunk" and v.itos[1] == "xxpad" and v.stoi["xxpad"] == 1
    assert v.itos[9] == "the" and "cat" not in v.itos  # count 1 < min_freq 3
    assert len(v) % 8 == 0 and v.itos[10:] == ["xxfake"] * 6


def test_min_freq_is_at_least_not_more_than():
    docs = [["a"] * 2 + ["b"] * 3]
    assert "a" in Vocab.create(docs, min_freq=2).itos
    assert "a" not in Vocab.create(docs, min_freq=3).itos and "b" in Vocab.create(docs, min_freq=3).itos


@pytest.mark.parametrize(
    ("max_vocab", "min_freq", "seed"), [(60000, 2, 0), (40, 1, 1), (13, 3, 2), (9, 0, 3), (10, 1, 4)]
)
def test_matches_v1_recipe(max_vocab, min_freq, seed):
    docs = random_docs(seed=seed)
    expected = v1_create(docs, max_vocab, min_freq)
    assert Vocab.create(docs, max_vocab=max_vocab, min_freq=min_freq).itos == expected
    assert len(expected) <= max_vocab


def test_truncated_to_max_vocab_without_padding():
    docs = [[f"t{i}" for i in range(50)] * 3]
    v = Vocab.create(docs, max_vocab=20, min_freq=1)
    assert len(v) == 20 and "xxfake" not in v.itos
    assert v.itos[9:] == [f"t{i}" for i in range(11)]  # equal counts: first seen first


def test_from_corpus_equals_from_lists():
    texts = ["The cat sat. The cat ran!", "A DOG, a dog... and THE cat", "", "the end the end"] * 5
    corpus = Tokenizer(n_cpus=1).process_corpus(texts)
    for max_vocab, min_freq in [(60000, 1), (60000, 3), (12, 1)]:
        assert Vocab.create(corpus, max_vocab, min_freq) == Vocab.create(
            corpus.to_lists(), max_vocab, min_freq
        )


def test_stoi_unknown_is_zero_and_not_added():
    v = Vocab(["xxunk", "xxpad", "hi"])
    assert v.stoi["nope"] == 0 and "nope" not in v.stoi and len(v.stoi) == 3


def test_numericalize_textify_round_trip():
    v = Vocab.create([["i", "liked", "it", "i", "liked"]], min_freq=1)
    ids = v.numericalize(["i", "liked", "zzz"])
    assert ids == [v.stoi["i"], v.stoi["liked"], 0] and all(isinstance(i, int) for i in ids)
    assert v.textify(ids) == "i liked xxunk"
    assert v.textify(np.array(ids), sep=None) == ["i", "liked", "xxunk"]
    assert v.textify([]) == ""


def test_numericalize_corpus_matches_lists():
    texts = ["Hello there, friend.", "Hello again", "Unseen words here"]
    tok = Tokenizer(n_cpus=1)
    v = Vocab.create(tok.process_all(texts[:2]), min_freq=1)
    corpus = tok.process_corpus(texts)
    flat = v.numericalize_corpus(corpus)
    assert flat.dtype == np.int64 and len(flat) == corpus.n_tokens
    per_text = [flat[a:b].tolist() for a, b in zip(corpus.offsets[:-1], corpus.offsets[1:])]
    assert per_text == [v.numericalize(toks) for toks in corpus.to_lists()]
    assert v.numericalize_corpus(corpus, dtype=np.int32).dtype == np.int32


def test_save_load_json(tmp_path):
    v = Vocab.create([["café", "naïve", "😀", "café"]], min_freq=1)
    path = v.save(tmp_path / "sub" / "itos.json")
    d = json.loads(path.read_text(encoding="utf-8"))  # plain JSON, readable without emberfit
    assert d["itos"] == v.itos
    assert Vocab.load(path) == v and Vocab.load(str(path)).stoi["café"] == v.stoi["café"]
    (tmp_path / "list.json").write_text(json.dumps(["xxunk", "xxpad", "x"]))
    assert Vocab.load(tmp_path / "list.json").itos == ["xxunk", "xxpad", "x"]


def test_bad_input_messages(tmp_path):
    with pytest.raises(ValueError, match="max_vocab must be a positive integer, got 0"):
        Vocab.create([["a"]], max_vocab=0)
    with pytest.raises(ValueError, match="min_freq .* got -1"):
        Vocab.create([["a"]], min_freq=-1)
    with pytest.raises(TypeError, match="list of token lists"):
        Vocab.create(["a", "b"])
    with pytest.raises(TypeError, match="list of token lists"):
        Vocab.create("a b")
    with pytest.raises(TypeError, match="itos must be a list of token strings"):
        Vocab([1, 2])
    with pytest.raises(TypeError, match="tokenize it first"):
        Vocab(["xxunk"]).numericalize("a b")
    with pytest.raises(IndexError, match="id 7 is out of range for a vocabulary of 3"):  # as fastai v1
        Vocab(["xxunk", "xxpad", "a"]).textify([1, 7])
    with pytest.raises(TypeError, match="integer ids, got 1.5"):
        Vocab(["xxunk", "xxpad", "a"]).textify([1.5])
    with pytest.raises(FileNotFoundError, match="no vocabulary file"):
        Vocab.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON vocabulary"):
        Vocab.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="'itos'"):
        Vocab.from_json({"tokens": []})
    with pytest.raises(TypeError, match="TokenizedCorpus"):
        Vocab(["xxunk"]).numericalize_corpus([["a"]])

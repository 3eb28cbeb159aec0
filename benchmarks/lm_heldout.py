"""Held-out perplexity of pretrained small-preset LMs on text none of them trained on.

* IMDB: the first ``--imdb-reviews`` reviews of IMDB ``test`` (pretraining used only ``unsup``);
* Gutenberg: the books that the bundled model's own run held out (``emberfit pretrain``'s split
  of Gutenberg + unsup with valid_pct 0.02, seed 42); a model pretrained on unsup only never saw any.

Each model reads the text through its own vocabulary (tokens outside it are ``xxunk``), so the
figures compare models with vocabularies of the same size, not across sizes.

    python benchmarks/lm_heldout.py --models bundled /path/to/pretrain_out [--max-tokens 200000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def perplexity(files, itos, texts, bf16: bool, bs: int = 32, bptt: int = 70) -> tuple[float, float, int]:
    """(perplexity, accuracy, tokens) of the model in ``files`` on a ``TokenizedCorpus``."""
    from emberfit.text.corpus import lm_databunch_from_arrays
    from emberfit.text.learner import language_model_learner
    from emberfit.text.models import AWD_LSTM, awd_lstm_small_lm_config
    from emberfit.text.vocab import Vocab

    ids, offsets = Vocab(itos).numericalize_corpus(texts), texts.offsets
    idx = np.arange(len(texts))
    data = lm_databunch_from_arrays(ids, offsets, itos, idx, idx, bs=bs, bptt=bptt, device="cpu")
    learn = language_model_learner(
        data,
        AWD_LSTM,
        config=awd_lstm_small_lm_config,
        pretrained_fnames=[str(f) for f in files],
        silent=True,
    )
    if bf16:
        learn.to_bf16()
    loss, acc, ppl = learn.validate()
    return float(ppl), float(acc), int(offsets[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--models", nargs="+", default=["bundled"], help="'bundled' or emberfit pretrain --out folders"
    )
    p.add_argument("--imdb-reviews", type=int, default=1000)
    p.add_argument("--max-tokens", type=int, default=200_000, help="Gutenberg tokens scored (from the start)")
    p.add_argument("--bf16", action="store_true")
    a = p.parse_args()
    from emberfit.text.corpus import prepare_corpus
    from emberfit.text.loaders import ragged_take
    from emberfit.text.token_store import TokenizedCorpus
    from emberfit.text.tokenizer import Tokenizer
    from emberfit.text.weights import init_files, load_itos

    t0 = time.perf_counter()
    corpus = prepare_corpus([DATA / "gutenberg", DATA / "imdb" / "unsup.csv.gz"], 28000, 3, log=None)
    _, valid = corpus.split(0.02, 42)
    gut = valid[corpus.sources[valid] == corpus.source_names.index("gutenberg")]
    ids, offs = ragged_take(corpus.ids, corpus.offsets, gut)
    offs = np.minimum(offs, a.max_tokens)  # the first max_tokens tokens, whole books then a part
    offs = offs[: np.searchsorted(offs, offs[-1]) + 1]
    gut_texts = TokenizedCorpus(list(corpus.itos), ids[: offs[-1]], offs)
    test = pd.read_csv(DATA / "imdb" / "test.csv.gz", usecols=["text"], nrows=a.imdb_reviews).text.tolist()
    imdb_texts = Tokenizer().process_corpus(test)
    print(f"texts ready in {time.perf_counter() - t0:.0f} s: {len(gut_texts)} held-out Gutenberg books "
          f"({gut_texts.n_tokens:,} tokens), {len(test):,} IMDB test reviews ({imdb_texts.n_tokens:,} tokens)")  # fmt: skip
    print(f"\n{'model':<40}{'vocab':>7}{'Gutenberg ppl':>15}{'IMDB test ppl':>15}{'IMDB acc':>10}")
    for m in a.models:
        files = init_files(m)
        itos = load_itos(files[1])
        g = perplexity(files, itos, gut_texts, a.bf16)
        i = perplexity(files, itos, imdb_texts, a.bf16)
        card = files[0].parent / "model_card.json"
        name = m if m == "bundled" else Path(m).name
        if card.is_file():
            c = json.loads(card.read_text())
            name += f" ({c.get('tokens_trained', 0) / 1e6:.1f}M tok)"
        print(f"{name:<40}{len(itos):>7}{g[0]:>15.1f}{i[0]:>15.1f}{i[1]:>10.3f}", flush=True)


if __name__ == "__main__":
    main()

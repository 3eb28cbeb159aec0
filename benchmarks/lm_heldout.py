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


def numericalize(tokens: list[list[str]], itos: list[str]) -> tuple[np.ndarray, np.ndarray]:
    stoi = {t: i for i, t in enumerate(itos)}
    unk = stoi["xxunk"]
    ids = np.array([stoi.get(t, unk) for doc in tokens for t in doc], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in tokens])]).astype(np.int64)
    return ids, offsets


def perplexity(files, itos, tokens, bf16: bool, bs: int = 32, bptt: int = 70) -> tuple[float, float, int]:
    from emberfit.text.corpus import lm_databunch_from_arrays
    from emberfit.text.learner import AWD_LSTM, language_model_learner
    from emberfit.text.models import awd_lstm_small_lm_config

    ids, offsets = numericalize(tokens, itos)
    idx = np.arange(len(offsets) - 1)
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
    from emberfit.text.pretrain import init_files
    from emberfit.text.pretrained import load_itos
    from emberfit.text.transform import Tokenizer

    t0 = time.perf_counter()
    corpus = prepare_corpus([DATA / "gutenberg", DATA / "imdb" / "unsup.csv.gz"], 28000, 3, log=None)
    _, valid = corpus.split(0.02, 42)
    gut = valid[corpus.sources[valid] == corpus.source_names.index("gutenberg")]
    gut_tokens, n = [], 0
    for d in gut:
        doc = [corpus.itos[i] for i in corpus.ids[corpus.offsets[d] : corpus.offsets[d + 1]]]
        gut_tokens.append(doc[: a.max_tokens - n])
        n += len(gut_tokens[-1])
        if n >= a.max_tokens:
            break
    test = pd.read_csv(DATA / "imdb" / "test.csv.gz", usecols=["text"], nrows=a.imdb_reviews).text.tolist()
    imdb_tokens = Tokenizer().process_all(test)
    print(f"texts ready in {time.perf_counter() - t0:.0f} s: {len(gut_tokens)} held-out Gutenberg books "
          f"({n:,} tokens), {len(test):,} IMDB test reviews ({sum(map(len, imdb_tokens)):,} tokens)")  # fmt: skip
    print(f"\n{'model':<40}{'vocab':>7}{'Gutenberg ppl':>15}{'IMDB test ppl':>15}{'IMDB acc':>10}")
    for m in a.models:
        files = init_files(m)
        itos = load_itos(files[1])
        g = perplexity(files, itos, gut_tokens, a.bf16)
        i = perplexity(files, itos, imdb_tokens, a.bf16)
        card = files[0].parent / "model_card.json"
        name = m if m == "bundled" else Path(m).name
        if card.is_file():
            c = json.loads(card.read_text())
            name += f" ({c.get('tokens_trained', 0) / 1e6:.1f}M tok)"
        print(f"{name:<40}{len(itos):>7}{g[0]:>15.1f}{i[0]:>15.1f}{i[1]:>10.3f}", flush=True)


if __name__ == "__main__":
    main()

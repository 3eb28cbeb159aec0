"""Load a full-size WT103-format checkpoint and map it onto a new 60k vocabulary (target: < 10 s).

Writes a synthetic ``lstm_fwd.pth`` with the published key names and shapes (vocab 60,000,
emb 400, hidden 1152, 3 layers; fp32; embedding, its dropout alias and the tied decoder as one
shared tensor, each ``module.weight_hh_l0`` as a separate tensor, so the file is the worst case)
plus ``itos_wt103.pkl``, then times ``find_pretrained`` + ``load_pretrained`` into a fresh
language model whose vocabulary shares half its tokens with the checkpoint's.

Run: ``python benchmarks/pretrained_load.py``
"""

from __future__ import annotations

import pickle
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from emberfit.text.models import awd_lstm_lm_config, get_language_model
from emberfit.text.weights import find_pretrained, load_pretrained

VOCAB, EMB, HID = 60_000, 400, 1152


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def write_checkpoint(folder: Path) -> list[str]:
    enc = torch.randn(VOCAB, EMB) * 0.1
    sd = {"0.encoder.weight": enc, "0.encoder_dp.emb.weight": enc}
    for i, (n_in, n_out) in enumerate([(EMB, HID), (HID, HID), (HID, EMB)]):
        raw = torch.randn(4 * n_out, n_out) * 0.03
        sd[f"0.rnns.{i}.weight_hh_l0_raw"] = raw
        sd[f"0.rnns.{i}.module.weight_ih_l0"] = torch.randn(4 * n_out, n_in) * 0.03
        sd[f"0.rnns.{i}.module.weight_hh_l0"] = raw.clone()
        sd[f"0.rnns.{i}.module.bias_ih_l0"] = torch.zeros(4 * n_out)
        sd[f"0.rnns.{i}.module.bias_hh_l0"] = torch.zeros(4 * n_out)
    sd["1.decoder.weight"], sd["1.decoder.bias"] = enc, torch.zeros(VOCAB)
    torch.save(sd, folder / "lstm_fwd.pth")
    itos = ["xxunk", "xxpad", "xxbos"] + [f"wt{i}" for i in range(VOCAB - 3)]
    with open(folder / "itos_wt103.pkl", "wb") as f:
        pickle.dump(itos, f)
    return itos


def main() -> None:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "wt103-fwd"
        folder.mkdir()
        t0 = time.perf_counter()
        old_itos = write_checkpoint(folder)
        t_write = time.perf_counter() - t0
        size_mb = (folder / "lstm_fwd.pth").stat().st_size / 2**20

        rng = random.Random(0)
        shared = rng.sample(old_itos[3:], VOCAB // 2 - 3)
        new_itos = ["xxunk", "xxpad", "xxbos"] + shared + [f"new{i}" for i in range(VOCAB - len(shared) - 3)]
        rng.shuffle(new_itos)

        t0 = time.perf_counter()
        lm = get_language_model(awd_lstm_lm_config, len(new_itos), drop_mult=0.3)
        t_build = time.perf_counter() - t0
        rss_model = peak_rss_mb()

        t0 = time.perf_counter()
        load_pretrained(lm, *find_pretrained(str(folder)), new_itos)
        t_load = time.perf_counter() - t0

    print("| step | value |\n|---|---|")
    print(
        f"| checkpoint (fp32, published keys, vocab {VOCAB:,}) | {size_mb:.0f} MiB, written in {t_write:.1f} s |"
    )
    print(f"| build full-size LM (not counted) | {t_build:.1f} s |")
    print(
        f"| find_pretrained + load_pretrained (read, map {VOCAB:,} -> {len(new_itos):,}, half shared) | {t_load:.2f} s |"
    )
    print(f"| peak RSS after building the model | {rss_model:.0f} MiB |")
    print(f"| peak RSS after loading | {peak_rss_mb():.0f} MiB |")
    print(f"| target < 10 s | {'met' if t_load < 10 else 'MISSED'} |")


if __name__ == "__main__":
    main()

"""The text part of ``emberfit demo``: the lesson's ULMFiT path on the shipped IMDB sample, on a CPU.

Language model fine-tuned on ``texts.csv`` -> ``save_encoder`` -> classifier trained with gradual
unfreezing on the sample's own split (800 training / 200 validation reviews, the ``is_valid``
column) -> a generated sentence. It uses the small CPU preset (``awd_lstm_small_*_config``),
starting from emberfit's bundled pretrained small model when the installation has one, and
from random weights otherwise (then the classifier stays near chance: 1,000 reviews are too
little text to learn English from; see ``benchmarks/ulmfit_imdb.py`` for the pretrained path).

>>> # rows = run_demo(); [r['metric'] for r in rows]
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ..core.callbacks.precision import cpu_has_fast_bf16
from ..core.download import URLs, untar_data
from ..core.reporting import Stages
from ..core.seed import set_seed
from .databunch import TextLMDataBunch
from .item_lists import TextList
from .learner import language_model_learner, text_classifier_learner
from .models.awd_lstm import AWD_LSTM, awd_lstm_small_clas_config, awd_lstm_small_lm_config
from .weights.find import bundled_pretrained

__all__ = ["run_demo", "sample_path"]

PROMPT = "I liked this movie because"


def _stage(learn, epochs: int, lr, freeze_to: int | None = None) -> None:
    if freeze_to is not None:
        learn.freeze_to(freeze_to)
    if not learn.silent:  # say which step of gradual unfreezing the next table is
        lrs = f"slice({lr.start:.2g}, {lr.stop:.2g})" if isinstance(lr, slice) else f"{lr:.2g}"
        groups = learn.layer_groups
        n = sum(any(p.requires_grad for m in g for p in m.parameters()) for g in groups)
        print(f"[text] fit_one_cycle({epochs}, {lrs}): {n} of {len(groups)} layer groups trained", flush=True)
    learn.fit_one_cycle(epochs, lr, moms=(0.8, 0.7))


def sample_path(
    pretrained_fnames: Sequence[str | Path] | None = None,
    lm_epochs: int = 1,
    clas_epochs: int = 1,
    lm_frozen_epochs: int = 1,
    lm_lrs: tuple[float, float] = (1e-2, 3e-3),
    seed: int = 42,
    lm_config=awd_lstm_small_lm_config,
    clas_config=awd_lstm_small_clas_config,
    bs_lm: int = 48,
    bs_clas: int = 32,
    bf16: bool = False,
    model_dir: str | Path | None = None,
    verbose: bool = False,
    n_words: int = 20,
    data_lm=None,
    data_clas=None,
) -> dict:
    """Run the lesson's ULMFiT path on the IMDB sample; returns its metrics, timings and a generated text.

    The language model trains ``lm_frozen_epochs`` with only embedding and decoder unfrozen,
    then ``lm_epochs`` unfrozen (at the two ``lm_lrs``, both with ``moms=(0.8, 0.7)``); the classifier loads its encoder and
    trains the head, then ``freeze_to(-2)``, ``freeze_to(-3)`` and ``unfreeze()`` with
    ``slice(lr/2.6**4, lr)``, ``clas_epochs`` epochs each. ``pretrained_fnames=(weights,
    itos)`` starts the language model from those files; None from random weights. Ready
    ``data_lm`` / ``data_clas`` bunches may be passed in (else they are built from texts.csv);
    ``n_words=0`` skips the generated sample. The encoder is saved under ``model_dir``
    (default: a temporary folder, removed at the end).

    >>> # sample_path(lm_epochs=1, clas_epochs=1)['classifier accuracy']
    """
    if model_dir is None:
        args = {k: v for k, v in locals().items() if k != "model_dir"}
        with tempfile.TemporaryDirectory(prefix="emberfit_demo_") as tmp:
            return sample_path(**args, model_dir=tmp)
    set_seed(seed)
    stage, times, t = Stages("text", 3, quiet=not verbose), {}, time.perf_counter()
    path = untar_data(URLs.IMDB_SAMPLE)
    kw = {"path": Path(model_dir), "silent": not verbose}
    # language model: every review's text, a random 10% held out (labels unused)
    with stage("texts.csv -> TextLMDataBunch.from_csv: tokenizing the reviews, 10% held out"):
        if data_lm is None:
            data_lm = TextLMDataBunch.from_csv(path, "texts.csv", text_cols="text", valid_pct=0.1, bs=bs_lm)
    times["data"], t = time.perf_counter() - t, time.perf_counter()
    frozen = f"{lm_frozen_epochs} epoch(s) frozen, then " if lm_frozen_epochs else ""
    with stage(f"language model: {frozen}{lm_epochs} unfrozen, save_encoder, predict a sentence"):
        learn = _lm_learner(data_lm, pretrained_fnames, lm_config, bf16, kw)
        _fine_tune_lm(learn, lm_frozen_epochs, lm_epochs, lm_lrs)
        lm_loss, lm_acc, lm_ppl = learn.validate()
        learn.save_encoder("fine_tuned_enc")
        set_seed(seed)  # the sample text does not depend on how much randomness training drew
        generated = learn.predict(PROMPT, n_words, temperature=0.75) if n_words else ""
    times["lm"], t = time.perf_counter() - t, time.perf_counter()
    with stage(f"classifier on the is_valid split: gradual unfreezing, 4 steps of {clas_epochs} epoch(s)"):
        if data_clas is None:
            data_clas = _classifier_data(path, data_lm, bs_clas)
        clas = _train_classifier(data_clas, clas_config, bf16, kw, clas_epochs)
        clas_acc = clas.validate()[1]
    times["classifier"] = time.perf_counter() - t
    return {
        "LM accuracy": float(lm_acc),
        "LM perplexity": float(lm_ppl),
        "classifier accuracy": float(clas_acc),
        "generated": generated,
        "vocab": len(data_lm.vocab.itos),
        "lm_tokens": int(data_lm.train_dl.n_tokens),
        "seconds": times,
        "learners": (learn, clas),
    }


def _lm_learner(data_lm, pretrained_fnames, lm_config, bf16: bool, kw: dict):
    """The language model learner, frozen, from the pretrained files or from random weights."""
    if pretrained_fnames is not None:
        files = [str(Path(f).resolve()) for f in pretrained_fnames]
        learn = language_model_learner(
            data_lm, AWD_LSTM, config=lm_config, drop_mult=0.3, pretrained_fnames=files, **kw
        )
    else:
        learn = language_model_learner(
            data_lm, AWD_LSTM, config=lm_config, drop_mult=0.3, pretrained=False, **kw
        )
        learn.freeze()  # the same schedule as from pretrained weights
    if bf16:
        learn.to_bf16()
    return learn


def _fine_tune_lm(learn, frozen_epochs: int, epochs: int, lrs: tuple[float, float]) -> None:
    """``frozen_epochs`` with only embedding and decoder trainable, then ``epochs`` unfrozen."""
    if frozen_epochs:
        _stage(learn, frozen_epochs, lrs[0])
    learn.unfreeze()
    _stage(learn, epochs, lrs[1])


def _classifier_data(path: Path, data_lm, bs: int):
    """The sample's own split (``is_valid``) with the language model's vocabulary."""
    return (
        TextList.from_csv(path, "texts.csv", cols="text", vocab=data_lm.vocab)
        .split_from_df(col="is_valid")
        .label_from_df(cols="label")
        .databunch(bs=bs)
    )


def _train_classifier(data_clas, clas_config, bf16: bool, kw: dict, epochs: int):
    """The classifier on the fine-tuned encoder, trained with gradual unfreezing (``epochs`` a stage)."""
    clas = text_classifier_learner(
        data_clas, AWD_LSTM, config=clas_config, drop_mult=0.5, pretrained=False, **kw
    )
    if bf16:
        clas.to_bf16()
    clas.load_encoder("fine_tuned_enc")
    _stage(clas, epochs, 2e-2)
    _stage(clas, epochs, slice(1e-2 / (2.6**4), 1e-2), freeze_to=-2)
    _stage(clas, epochs, slice(5e-3 / (2.6**4), 5e-3), freeze_to=-3)
    clas.unfreeze()
    _stage(clas, epochs, slice(1e-3 / (2.6**4), 1e-3))
    return clas


def run_demo(verbose: bool = False, seed: int = 42) -> list[dict]:
    """The lesson's text path on the IMDB sample (small preset); rows ``{'app', 'dataset', 'metric', 'value', 'seconds'}``.

    Starts from the bundled pretrained small model if this installation has one (then the
    language model first trains one epoch frozen, as in the lesson); otherwise from random
    weights, with one unfrozen epoch. bf16 autocast where the CPU has native bf16.
    """
    bundled = bundled_pretrained()
    res = sample_path(
        pretrained_fnames=bundled,
        lm_frozen_epochs=1 if bundled else 0,
        seed=seed,
        bf16=cpu_has_fast_bf16(),
        verbose=verbose,
    )
    print(f"[text] generated ({'pretrained' if bundled else 'no pretrained model'}): {res['generated']}")
    base = {"app": "text", "dataset": "imdb_sample"}
    s = res["seconds"]
    return [
        {
            **base,
            "metric": "LM accuracy",
            "value": round(res["LM accuracy"], 4),
            "seconds": round(s["data"] + s["lm"], 1),
        },
        {**base, "metric": "LM perplexity", "value": round(res["LM perplexity"], 2), "seconds": 0.0},
        {
            **base,
            "metric": "classifier accuracy",
            "value": round(res["classifier accuracy"], 4),
            "seconds": round(s["classifier"], 1),
        },
    ]

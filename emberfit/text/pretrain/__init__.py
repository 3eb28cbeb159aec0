"""``emberfit pretrain``: train your own AWD-LSTM language model on your own text.

    emberfit pretrain --corpus books/ reviews.csv.gz --out my_lm --preset small --epochs 2

reads the corpora (see :mod:`emberfit.text.corpus_files` for the formats), tokenizes them with the
cached tokenizer, builds the vocabulary, and trains with ``fit_one_cycle``, gradient clipping
and, on a GPU, bf16 (or fp16) mixed precision. It writes to ``--out``:

* ``lm.safetensors`` and ``itos.json``: load them with
  ``language_model_learner(data, AWD_LSTM, config=<the preset>, pretrained_fnames=(weights, itos))``;
* ``model_card.json``: corpus, tokens, epochs, final validation perplexity, preset and settings;
* ``checkpoints/``: ``checkpoint.safetensors`` (atomic, after every epoch and every
  ``--checkpoint-minutes``) and ``run.json`` (the settings and the plan).

``--resume`` continues a killed run from its last checkpoint with the one-cycle schedule where
it stopped; after an end-of-epoch checkpoint the result is the same as that of an
uninterrupted run. A checkpoint written in the middle of an epoch keeps its weights but
restarts that epoch (same learning rates, a new shuffle).

``--time-budget MIN`` measures the training speed on a few batches, then sizes the run to end
within MIN minutes (each epoch reads a fresh random share of the corpus when less than a
full pass fits); ``--max-tokens N`` caps the tokens trained on. Under ``torchrun`` the same
command trains on every process with DistributedDataParallel (``--bs`` is the global batch).

One module per step: ``settings`` (:class:`PretrainSettings`, the presets, the file names),
``planning`` (speed measurement, precision, the plan to a time budget), ``callbacks``
(mid-epoch checkpoints, progress lines), ``train`` (:func:`train_lm`, the run), ``model_card``
(the card and the written files), ``cli`` (the command's arguments, :func:`pretrain`, :func:`main`).
Loading pretrained weights into a learner is :mod:`emberfit.text.weights`.
"""

from .cli import main, pretrain
from .settings import PRESETS, PretrainSettings
from .train import train_lm

__all__ = ["PretrainSettings", "PRESETS", "train_lm", "pretrain", "main"]

"""Pretrained AWD-LSTM weights: finding the files, reading them safely, mapping them onto a model.

``find``: where the files are (fast.ai's WikiText-103 models, emberfit's bundled small model,
``--init`` folders) and which ones the text learners load; ``files``: reading weights and
vocabularies without unpickling code; ``convert``: mapping a checkpoint onto a model's vocabulary,
loading and saving it. (Training your own language model is :mod:`emberfit.text.pretrain`.)
"""

from emberfit.text.weights.convert import (
    config_from_state_dict,
    convert_weights,
    load_pretrained,
    save_pretrained,
)
from emberfit.text.weights.files import load_itos, load_weights
from emberfit.text.weights.find import bundled_pretrained, find_pretrained, init_files

__all__ = [
    "load_itos",
    "load_weights",
    "convert_weights",
    "config_from_state_dict",
    "load_pretrained",
    "save_pretrained",
    "find_pretrained",
    "bundled_pretrained",
    "init_files",
]

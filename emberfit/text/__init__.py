"""emberfit.text: ULMFiT (tokenizer, vocabulary, text data, AWD-LSTM learners).

``from emberfit.text import *`` gives the engine's names (see ``emberfit.core``) plus the
names below, and nothing else.
"""

from ..core import *
from ..core import __all__ as _core_all
from .databunch import TextClasDataBunch, TextDataBunch, TextLMDataBunch
from .ensemble import ensemble_accuracy, ensemble_predict_texts, ensemble_preds
from .generate import decode_spec_tokens, detokenize
from .interpret import TextClassificationInterpretation
from .item_lists import LMTextList, Text, TextList
from .language_learner import LanguageLearner
from .learner import language_model_learner, text_classifier_learner
from .lm_labels import LMLabelList
from .loaders import LMLoader, SortishLoader
from .models import (
    AWD_LSTM,
    AWDLSTMConfig,
    awd_lstm_clas_config,
    awd_lstm_lm_config,
    awd_lstm_small_clas_config,
    awd_lstm_small_lm_config,
    get_language_model,
    get_text_classifier,
)
from .processor import TextProcessor
from .rnn_learner import RNNLearner
from .rnn_regularizer import RNNRegularizer
from .rules import (
    BOS,
    EOS,
    FLD,
    PAD,
    TK_MAJ,
    TK_REP,
    TK_UP,
    TK_WREP,
    UNK,
    deal_caps,
    default_post_rules,
    default_pre_rules,
    fix_html,
    replace_all_caps,
    replace_rep,
    replace_wrep,
    rm_useless_spaces,
    spec_add_spaces,
    text_spec_tok,
)
from .spacy_tokenizer import BaseTokenizer, SpacyTokenizer
from .tokenizer import Tokenizer
from .vocab import Vocab

__all__ = [
    *_core_all,
    # tokenizing
    "Tokenizer", "SpacyTokenizer", "BaseTokenizer", "Vocab",
    "UNK", "PAD", "BOS", "EOS", "FLD", "TK_MAJ", "TK_UP", "TK_REP", "TK_WREP", "text_spec_tok",
    "fix_html", "replace_rep", "replace_wrep", "spec_add_spaces", "rm_useless_spaces",
    "replace_all_caps", "deal_caps", "default_pre_rules", "default_post_rules",
    # data
    "Text", "TextList", "LMTextList", "LMLabelList", "TextProcessor",
    "TextDataBunch", "TextLMDataBunch", "TextClasDataBunch", "LMLoader", "SortishLoader",
    # models and learners
    "AWD_LSTM", "AWDLSTMConfig", "awd_lstm_lm_config", "awd_lstm_clas_config",
    "awd_lstm_small_lm_config", "awd_lstm_small_clas_config", "get_language_model", "get_text_classifier",
    "language_model_learner", "text_classifier_learner", "RNNLearner", "LanguageLearner", "RNNRegularizer",
    "decode_spec_tokens", "detokenize",
    # looking inside a classifier
    "TextClassificationInterpretation",
    # forward + backward ensembles
    "ensemble_preds", "ensemble_accuracy", "ensemble_predict_texts",
]  # fmt: skip

"""Text models: the AWD-LSTM encoder, its language-model decoder and the pooling classifier.

``dropout``: the AWD-LSTM's dropouts; ``awd_lstm``: the encoder and its config presets;
``heads``: the decoder and the classifier head; ``build``: the assembled models, their layer groups
and ``build_text_model`` (what exports name).
"""

from emberfit.text.models.awd_lstm import (
    AWD_LSTM,
    AWDLSTMConfig,
    awd_lstm_clas_config,
    awd_lstm_lm_config,
    awd_lstm_small_clas_config,
    awd_lstm_small_lm_config,
)
from emberfit.text.models.build import (
    awd_lstm_clas_split,
    awd_lstm_lm_split,
    build_text_model,
    get_language_model,
    get_text_classifier,
)
from emberfit.text.models.dropout import EmbeddingDropout, RNNDropout, WeightDropout
from emberfit.text.models.heads import (
    LinearDecoder,
    MultiBatchEncoder,
    PoolingLinearClassifier,
    SequentialRNN,
    masked_concat_pool,
)

__all__ = [
    "AWD_LSTM",
    "AWDLSTMConfig",
    "EmbeddingDropout",
    "LinearDecoder",
    "MultiBatchEncoder",
    "PoolingLinearClassifier",
    "RNNDropout",
    "SequentialRNN",
    "WeightDropout",
    "awd_lstm_clas_config",
    "awd_lstm_clas_split",
    "awd_lstm_lm_config",
    "awd_lstm_lm_split",
    "awd_lstm_small_clas_config",
    "awd_lstm_small_lm_config",
    "build_text_model",
    "get_language_model",
    "get_text_classifier",
    "masked_concat_pool",
]

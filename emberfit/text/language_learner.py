"""``LanguageLearner``: an :class:`RNNLearner` whose language model writes text (``predict``, ``beam_search``).

The prompt is tokenized like the training texts (without the ``xxeos`` a finished text would
end with); a backwards model reads it reversed and writes what comes before it. The sampling
and the beam search themselves are in :mod:`emberfit.text.generate`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..core.distributed import unwrap
from ..core.registry import register
from .generate import beam_search_ids, decode_spec_tokens, join_for_people, sample_ids
from .rnn_learner import RNNLearner
from .rules import BOS, EOS

__all__ = ["LanguageLearner"]


@register("learner", "text.LanguageLearner")
class LanguageLearner(RNNLearner):
    """An :class:`RNNLearner` for language models: adds text generation (``predict``, ``beam_search``).

    >>> df = pd.DataFrame({"text": ["a good film", "a bad film", "good fun", "so bad , so dull"] * 6,
    ...                    "label": ["pos", "neg", "pos", "neg"] * 6})
    >>> data_lm = TextLMDataBunch.from_df(".", df[:16], df[16:], text_cols="text", bs=4, bptt=5)
    >>> learn = language_model_learner(data_lm, AWD_LSTM, config=awd_lstm_small_lm_config, pretrained=False)
    >>> learn.predict("a good", n_words=3, temperature=0.0).startswith("a good")  # untrained: any 3 words
    True
    """

    def _prompt_ids(self, text: str) -> Tensor:
        if not isinstance(text, str):
            raise TypeError(f"text must be a string prompt, got {type(text).__name__}")
        proc = self.data.processor
        ids = proc.process_one(text)
        eos = proc.vocab.stoi.get(EOS) if EOS in proc.vocab.stoi else None
        if eos is not None and len(ids) > 1 and ids[-1] == eos:
            ids = ids[:-1]  # include_eos data: the prompt is not finished
        if self.backwards:
            # the model reads right to left and the prompt is the end of a text: no xxbos, reversed
            bos = proc.vocab.stoi.get(BOS)
            ids = ids[1:] if len(ids) > 1 and ids[0] == bos else ids
            ids = ids[::-1].copy()
        return torch.as_tensor(ids, dtype=torch.long, device=self.data.device)

    def _finish(self, text: str, new_ids: list[int], sep: str, decoder: Callable) -> str:
        if self.backwards:  # generated right to left: the words come before the prompt
            new_ids = list(reversed(new_ids))
        toks = self.data.vocab.textify(new_ids, sep=None)
        words = decoder(toks)
        if decoder is decode_spec_tokens and sep == " ":
            gen = join_for_people(words)
            if self.backwards:
                return gen + ("" if not gen or text[:1] in ".,!?;:)]}%'" else " ") + text
            if gen and gen[0] in ".,!?;:)]}%'\n":  # punctuation/contraction: no space before it
                return text.rstrip(" ") + gen
            return text + ("" if not gen or text[-1:].isspace() else " ") + gen
        if self.backwards:
            return sep.join(words) + sep + text
        return text + sep + sep.join(words)

    def _run(self, fn: Callable, *args, **kwargs) -> list[int]:
        model = unwrap(self.model)  # generation runs on one process, never through DDP
        was_training = model.training
        try:
            return fn(model, *args, **kwargs)
        finally:
            model.reset()
            model.train(was_training)

    def predict(
        self,
        text: str,
        n_words: int = 1,
        no_unk: bool = True,
        temperature: float = 1.0,
        min_p: float | None = None,
        sep: str = " ",
        decoder: Callable = decode_spec_tokens,
    ) -> str:
        """Continue ``text`` by ``n_words`` sampled tokens; returns the prompt plus the new words, readable.

        ``temperature``: higher = more diverse, 0 = always the most likely token. ``min_p``:
        never pick a token of probability below it. ``no_unk``: never pick ``xxunk``. The
        default ``decoder`` (with ``sep=' '``) undoes ``xxmaj``/``xxup``/repeats and tidies
        punctuation; another decoder's words are joined with ``sep`` as they are.

        >>> # learn.predict('I liked this movie because', 40, temperature=0.75)
        """
        itos = self.data.vocab.itos
        ids = self._run(sample_ids, self._prompt_ids(text), n_words, itos, no_unk, temperature, min_p)
        return self._finish(text, ids, sep, decoder)

    def beam_search(
        self,
        text: str,
        n_words: int,
        no_unk: bool = True,
        top_k: int = 10,
        beam_sz: int = 100,
        temperature: float = 1.0,
        sep: str = " ",
        decoder: Callable = decode_spec_tokens,
    ) -> str:
        """Continue ``text`` by ``n_words`` with beam search (the final beam is drawn with ``temperature``; 0 = best).

        >>> # learn.beam_search('I liked this movie because', 20, beam_sz=20, temperature=0.)
        """
        itos = self.data.vocab.itos
        enc = self._encoder()
        ids = self._run(
            beam_search_ids,
            self._prompt_ids(text),
            n_words,
            itos,
            no_unk,
            top_k,
            beam_sz,
            temperature,
            select_hidden=enc.select_hidden,
        )
        return self._finish(text, ids, sep, decoder)

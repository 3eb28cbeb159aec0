"""Text generation with an AWD-LSTM language model, and turning tokens back into text for people.

Sampling follows the usual definition of temperature: the next token is drawn from
``softmax(logits / T)``, so a higher ``T`` spreads the probability (more diverse text) and
``T -> 0`` concentrates it on the most likely token (``T == 0`` is greedy argmax). This is the
opposite of fastai 1.0.2x, whose ``probs ** T`` made higher temperatures *less* diverse
(fastai#1264). ``min_p`` drops tokens whose probability (at ``T = 1``) is below it.

The prompt is run through the model once; after that each step feeds only the new token and
the hidden state carries the context, so generating ``n`` words costs ``n`` one-token steps.

``detokenize`` undoes the tokenizer's markers (``xxmaj word`` -> ``Word``, ``xxup word`` ->
``WORD``, ``xxrep 4 o`` -> ``oooo``, ``xxwrep 3 go`` -> ``go go go``), drops the other special
tokens and tidies spaces around punctuation (``great , isn 't it ?`` -> ``great, isn't it?``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .rules import BOS, EOS, FLD, PAD, TK_MAJ, TK_REP, TK_UP, TK_WREP, UNK

__all__ = ["decode_spec_tokens", "detokenize", "join_for_people", "sample_ids", "beam_search_ids"]

_DROP = {UNK, PAD, BOS, EOS}
_SPECIAL = _DROP | {FLD, TK_MAJ, TK_UP, TK_REP, TK_WREP}
# No space before these (closing punctuation, contractions spaCy splits off).
_NO_SPACE_BEFORE = {".", ",", "!", "?", ";", ":", ")", "]", "}", "%", "...", "n't", "'s", "'re", "'ve"}
_NO_SPACE_BEFORE |= {"'ll", "'d", "'m", "’s", "n’t"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "#"}


def decode_spec_tokens(tokens: Sequence[str]) -> list[str]:
    """Undo ``xxmaj``/``xxup``/``xxrep``/``xxwrep`` and drop the other special tokens (fastai's decoder).

    >>> decode_spec_tokens(["xxbos", "xxmaj", "hello", "xxup", "big", "xxrep", "3", "!", "xxwrep", "2", "go"])
    ['Hello', 'BIG', '!!!', 'go', 'go']
    >>> decode_spec_tokens(["xxmaj", "xxmaj", "the", "xxunk", "xxup"])  # what a sampled model may produce
    ['The']
    """
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < n else None
        if t in (TK_MAJ, TK_UP):
            if nxt is not None and nxt not in _SPECIAL:  # a marker before a marker is dropped
                out.append(nxt.upper() if t == TK_UP else nxt[:1].upper() + nxt[1:])
                i += 2
                continue
        elif t in (TK_REP, TK_WREP):
            # xxrep n c / xxwrep n w; a malformed repeat (no count) is dropped
            word = tokens[i + 2] if i + 2 < n else None
            if nxt is not None and nxt.isdigit() and word is not None:
                k = min(int(nxt), 1000)  # a runaway count from a sampled model stays bounded
                out.extend([word * k] if t == TK_REP else [word] * k)
                i += 3
                continue
        elif t == FLD:  # xxfld k: a field marker and its number
            i += 2 if nxt is not None and nxt.isdigit() else 1
            continue
        elif t not in _DROP:
            out.append(t)
        i += 1
    return out


def join_for_people(words: Sequence[str]) -> str:
    """Join words with single spaces, except around punctuation, contractions, quotes and newlines.

    >>> join_for_people(['I', 'did', "n't", 'say', '"', 'great', '"', ',', 'did', 'I', '?'])
    'I didn\\'t say "great", did I?'
    """
    out: list[str] = []
    glue_next = True  # no space before the first word
    quote_open = False
    for w in words:
        if w == "i":  # the tokenizer lower-cases the pronoun without a marker
            w = "I"
        ws = w.strip(" ")
        if not ws:
            continue
        if "\n" in ws:  # a line break: no spaces around it
            out.append("\n" * ws.count("\n"))
            glue_next = True
            continue
        if ws == '"':
            glue = glue_next if not quote_open else True
            out.append(ws if glue else " " + ws)
            glue_next = not quote_open  # an opening quote sticks to the next word
            quote_open = not quote_open
            continue
        glue = glue_next or ws in _NO_SPACE_BEFORE or ws.lower() in _NO_SPACE_BEFORE
        out.append(ws if glue else " " + ws)
        glue_next = ws in _NO_SPACE_AFTER
    return "".join(out).strip(" ")


def detokenize(tokens: Sequence[str]) -> str:
    """Tokens (as the tokenizer made them) -> readable text.

    >>> detokenize("xxbos xxmaj this movie is xxup great , is n't it ?".split())
    "This movie is GREAT, isn't it?"
    """
    return join_for_people(decode_spec_tokens(tokens))


def _banned_ids(itos: Sequence[str], no_unk: bool) -> list[int]:
    """Ids never worth generating: padding, a new document's start, and ``xxunk`` with ``no_unk``."""
    banned = {PAD, BOS} | ({UNK} if no_unk else set())
    return [i for i, s in enumerate(itos) if s in banned]


def _check_sampling(n_words, temperature, min_p) -> None:
    if not isinstance(n_words, int) or isinstance(n_words, bool) or n_words < 0:
        raise ValueError(f"n_words must be a non-negative int, got {n_words!r}")
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(
            f"temperature must be >= 0 (0 = greedy, 1 = the model's distribution, >1 = more diverse), "
            f"got {temperature!r}"
        )
    if min_p is not None and not (isinstance(min_p, (int, float)) and 0 <= min_p < 1):
        raise ValueError(f"min_p must be None or a probability in [0, 1), got {min_p!r}")


def _last_logits(model: nn.Module, x: Tensor) -> Tensor:
    """Logits of the last position for each row: ``(bs, seq)`` ids -> ``(bs, vocab)`` float32."""
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    return out[:, -1].float()


@torch.no_grad()
def sample_ids(
    model: nn.Module,
    prompt: Tensor,
    n_words: int,
    itos: Sequence[str],
    no_unk: bool = True,
    temperature: float = 1.0,
    min_p: float | None = None,
) -> list[int]:
    """Sample ``n_words`` token ids after the ``(seq,)`` prompt ids with a language model (hidden state is reset).

    >>> # sample_ids(learn.model, ids, 10, data.vocab.itos, temperature=0.75)
    """
    _check_sampling(n_words, temperature, min_p)
    model.eval()
    model.reset()
    banned = torch.tensor(_banned_ids(itos, no_unk), dtype=torch.long, device=prompt.device)
    x, out = prompt.view(1, -1), []
    warned = False
    for _ in range(n_words):
        logp = F.log_softmax(_last_logits(model, x)[0], dim=-1)  # (vocab,)
        logp[banned] = float("-inf")
        if min_p:
            keep = logp >= torch.log(torch.tensor(min_p))
            if keep.any():
                logp = logp.masked_fill(~keep, float("-inf"))
            elif not warned:
                warnings.warn(
                    f"min_p={min_p} filters out every token; ignoring it for this step", stacklevel=3
                )
                warned = True
        if temperature == 0:
            idx = int(logp.argmax())
        else:
            idx = int(torch.multinomial(torch.softmax(logp / temperature, dim=-1), 1))
        out.append(idx)
        x = prompt.new_tensor([[idx]])
    return out


@torch.no_grad()
def beam_search_ids(
    model: nn.Module,
    prompt: Tensor,
    n_words: int,
    itos: Sequence[str],
    no_unk: bool = True,
    top_k: int = 10,
    beam_sz: int = 100,
    temperature: float = 1.0,
    select_hidden: Callable[[Tensor], None] | None = None,
) -> list[int]:
    """Beam search: keep the ``beam_sz`` continuations of highest log-probability, each step expanding ``top_k``.

    The final continuation is drawn among the beams with probability ``exp(-score / T)``
    (``T == 0``: the best one). ``select_hidden(idx)`` must reorder the model's hidden state
    to the beams ``idx`` (``AWD_LSTM.select_hidden``).

    >>> # beam_search_ids(learn.model, ids, 10, itos, select_hidden=learn.model[0].select_hidden)
    """
    _check_sampling(n_words, temperature, None)
    for name, v in (("top_k", top_k), ("beam_sz", beam_sz)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if select_hidden is None:
        raise TypeError("beam search needs select_hidden, the model's way to reorder its hidden state")
    model.eval()
    model.reset()
    banned = torch.tensor(_banned_ids(itos, no_unk), dtype=torch.long, device=prompt.device)
    x = prompt.view(1, -1)
    nodes = prompt.new_zeros(1, 0)  # (beams, generated so far)
    scores = torch.zeros(1, device=prompt.device)  # cumulative -log p of each beam
    for _ in range(n_words):
        logp = F.log_softmax(_last_logits(model, x), dim=-1)  # (beams, vocab)
        logp[:, banned] = float("-inf")
        k = min(top_k, logp.shape[1])
        top_logp, top_idx = logp.topk(k, dim=-1)  # (beams, k)
        cand = (scores[:, None] - top_logp).flatten()  # (beams * k,)
        keep = cand.argsort()[:beam_sz]
        keep = keep[torch.isfinite(cand[keep])]
        parent = keep // k
        new_tok = top_idx.flatten()[keep]
        nodes = torch.cat([nodes[parent], new_tok[:, None]], dim=1)
        scores = cand[keep]
        select_hidden(parent)
        x = new_tok[:, None]
    if nodes.shape[1] == 0:
        return []
    if temperature == 0:
        pick = int(scores.argmin())
    else:
        pick = int(torch.multinomial(torch.exp(-(scores - scores.min()) / temperature), 1))
    return nodes[pick].tolist()

"""``TextClassificationInterpretation``: a text classifier's confusion matrix, top losses and intrinsic attention.

``learn.interpret()`` on a single-label text classifier (and
``ClassificationInterpretation.from_learner(learn)``) returns one of these. On top of
:class:`~emberfit.core.interpret.ClassificationInterpretation` it shows reviews in the top-losses
table and measures fastai v1's *intrinsic attention*: how sensitive the predicted class's
probability is to each token. That is the gradient of the class's softmax score with respect to the
token's embedding (the output of the AWD-LSTM's embedding layer, dropouts off), its absolute values
summed over the embedding dimension, then divided by the text's largest value, so the most
influential token scores 1.

Two properties of ULMFiT's classifier show in the scores: it reads a document ``bptt`` tokens at a
time and carries its state between chunks *detached*, so a token influences the class only through
its own chunk's outputs; and only the last ``max_len`` tokens reach the pooling head, so tokens
before them score 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.display import display_frame, in_notebook
from ..core.distributed import unwrap
from ..core.inference import activation, pred_tensor, reset_model
from ..core.interpret import ClassificationInterpretation
from ..core.plots import _show
from .attention_view import attention_figure, attention_html
from .item_lists import Text
from .models.awd_lstm import AWD_LSTM

__all__ = ["TextClassificationInterpretation"]


class TextClassificationInterpretation(ClassificationInterpretation):
    """fastai v1's ``TextClassificationInterpretation`` (AWD-LSTM classifiers): intrinsic attention, top losses.

    >>> df = pd.DataFrame({"text": ["a good film", "a bad film", "good fun", "so bad , so dull"] * 6,
    ...                    "label": ["pos", "neg", "pos", "neg"] * 6})
    >>> data = TextClasDataBunch.from_df(".", df[:16], df[16:], text_cols="text", label_cols="label", bs=4)
    >>> learn = text_classifier_learner(data, AWD_LSTM, config=awd_lstm_small_clas_config, pretrained=False)
    >>> interp = TextClassificationInterpretation.from_learner(learn)
    >>> tokens, attn = interp.intrinsic_attention("a good film")
    >>> str(tokens), len(attn) == len(tokens), float(attn.max())
    ('xxbos a good film', True, 1.0)
    """

    def show_top_losses(self, k: int = 9, largest: bool = True, max_len: int = 70) -> None:
        """Show the ``k`` texts with the largest losses (fastai v1's table: text, prediction, actual, loss, probability).

        Each text shows its first ``max_len`` tokens.
        """
        display_frame(self.top_losses_table(k, largest, max_len=max_len).reset_index(drop=True))

    def plot_top_losses(
        self, k: int = 9, largest: bool = True, max_len: int = 70, figsize: Any = None
    ) -> None:
        """fastai v1's name for :meth:`show_top_losses` (a table of texts; ``figsize`` is ignored)."""
        self.show_top_losses(k, largest, max_len)

    # -- intrinsic attention --------------------------------------------------------------------
    def intrinsic_attention(self, text: str, class_id: int | str | None = None) -> tuple[Text, torch.Tensor]:
        """``(tokens, attention)`` of ``text`` for class ``class_id`` (default: the predicted class).

        ``attention`` has one value per token, in [0, 1], the largest being 1 (see the module).
        ``class_id`` is a class index or a class name.
        """
        ids, attn, _, _ = self._attention(text, class_id)
        return Text(ids, self.data.vocab.textify(ids.tolist())), attn

    def _attention(self, text: str, class_id: Any) -> tuple[np.ndarray, torch.Tensor, int, torch.Tensor]:
        """Token ids and attention in reading order, the class explained and the text's class probabilities."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string (one raw text), got {type(text).__name__}")
        learn = self.learn
        ids = learn.data.label_lists.item_batch(text).to(learn.data.device)  # (1, n), in the model's order
        grads, cid, probs = self._embedding_grads(ids, class_id)
        attn = grads.abs().sum(-1)  # (n,)
        attn = attn / attn.max() if float(attn.max()) > 0 else attn
        ids = ids[0].cpu()
        if getattr(learn, "backwards", False):  # back to reading order
            ids, attn = ids.flip(0), attn.flip(0)
        return ids.numpy().astype(np.int64), attn.detach().cpu().float(), cid, probs

    def _tokens(self, ids: np.ndarray) -> list[str]:
        itos = self.data.vocab.itos
        return [itos[i] for i in ids.tolist()]

    def _class_index(self, class_id: Any) -> int | None:
        if class_id is None:
            return None
        if isinstance(class_id, str):
            if class_id not in self.classes:
                raise KeyError(
                    f"class_id {class_id!r} is not a class of this data; the classes are {self.classes}"
                )
            return self.classes.index(class_id)
        if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)):
            raise TypeError(f"class_id must be a class index, a class name or None, got {class_id!r}")
        if not 0 <= int(class_id) < len(self.classes):
            raise ValueError(
                f"class_id must be in [0, {len(self.classes)}) for classes {self.classes}, got {class_id}"
            )
        return int(class_id)

    def _embedding_grads(self, ids: torch.Tensor, class_id: Any) -> tuple[torch.Tensor, int, torch.Tensor]:
        """Gradient of class ``class_id``'s probability w.r.t. each token's embedding: ``(n, emb_sz)``, class, probs."""
        cid = self._class_index(class_id)
        model = self.learn.model
        leaves: list[torch.Tensor] = []

        def as_leaf(_mod, _inp, out):  # the embedding output of each chunk becomes a leaf we can ask about
            leaf = out.detach().requires_grad_(torch.is_grad_enabled())
            leaves.append(leaf)
            return leaf

        handle = _awd_lstm(model).encoder_dp.register_forward_hook(as_leaf)
        was_training = model.training
        model.eval()
        reset_model(model)
        try:  # an RNN's backward in eval mode needs cuDNN off
            with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
                probs = activation(self.learn)(pred_tensor(model(ids)).float())[0]
                cid = int(probs.argmax()) if cid is None else cid
                tracked = [leaf for leaf in leaves if leaf.requires_grad]
                got = torch.autograd.grad(probs[cid], tracked, allow_unused=True) if tracked else ()
        finally:
            handle.remove()
            model.train(was_training)
            reset_model(model)
        grads, it = [], iter(got)
        for leaf in leaves:
            g = next(it) if leaf.requires_grad else None
            grads.append(torch.zeros_like(leaf) if g is None else g)
        return torch.cat(grads, dim=1)[0].float(), cid, probs.detach().cpu()

    def html_intrinsic_attention(self, text: str, class_id: int | str | None = None, **kwargs) -> str:
        """The tokens of ``text`` as HTML, each on a background coloured by its attention (``cmap``, ``alpha_mult``)."""
        ids, attn, _, _ = self._attention(text, class_id)
        return attention_html(self._tokens(ids), attn.tolist(), **kwargs)

    def show_intrinsic_attention(self, text: str, class_id: int | str | None = None, **kwargs) -> Path | None:
        """Show :meth:`html_intrinsic_attention`: inline in Jupyter; in a terminal written to an HTML file (path returned)."""
        code = self.html_intrinsic_attention(text, class_id, **kwargs)
        if in_notebook():
            from IPython.display import HTML, display

            display(HTML(code))
            return None
        out = Path(self.learn.path) / "plots" / "intrinsic_attention.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f'<!doctype html>\n<meta charset="utf-8">\n<p style="line-height: 1.8">{code}</p>\n')
        print(f"intrinsic attention written to {out}")
        return out

    def plot_intrinsic_attention(
        self, text: str, class_id: int | str | None = None, return_fig: bool = False, **kwargs
    ):
        """The same as a picture: wrapped tokens coloured by attention, titled with the class and its probability.

        Without a display it is written to ``learn.path/'plots'/'intrinsic_attention.png'``.
        ``kwargs`` (``cmap``, ``width`` in characters, ``fontsize``) go to the figure.
        """
        ids, attn, cid, probs = self._attention(text, class_id)
        title = f"attention for class {self.classes[cid]!r} (probability {float(probs[cid]):.2f})"
        fig = attention_figure(self._tokens(ids), attn.tolist(), title=title, **kwargs)
        if return_fig:
            return fig
        _show(fig, self.learn.recorder, "intrinsic_attention")


def _awd_lstm(model: torch.nn.Module) -> AWD_LSTM:
    """The AWD-LSTM encoder inside a text model (intrinsic attention reads its embedding layer)."""
    enc = next((m for m in unwrap(model).modules() if isinstance(m, AWD_LSTM)), None)
    if enc is None:
        raise TypeError(
            f"intrinsic attention needs an AWD-LSTM text classifier (text_classifier_learner), got a "
            f"{type(unwrap(model)).__name__}"
        )
    return enc

"""``tabular_learner`` and ``TabularLearner`` (a Learner that also predicts whole DataFrames).

>>> df = pd.DataFrame({"c": list("abcd") * 25, "x": np.arange(100.0), "y": [0, 1] * 50})
>>> data = (TabularList.from_df(df, cat_names=["c"], cont_names=["x"], procs=[Categorify, Normalize])
...         .split_by_idx(range(80, 100)).label_from_df(cols="y").databunch(bs=16, device="cpu"))
>>> learn = tabular_learner(data, layers=[20, 10], metrics=accuracy, silent=True)
>>> learn.fit(1, 1e-2)
>>> learn.predict(df.iloc[0])[0] in (0, 1), learn.predict_df(df.head(3)).shape
(True, (3, 3))
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ..core.data import DataBunch
from ..core.layers import emb_sz_rule
from ..core.learner import Learner
from ..core.registry import register
from .data import TabularList
from .ensemble import MembersLoss, TabularNet
from .importance import FeatureImportance
from .models import TabularModel
from .presets import build_tabular_net, fit_preset
from .processor import TabularProcessor

__all__ = ["TabularLearner", "tabular_learner", "get_emb_szs"]


@register("learner", "tabular.TabularLearner")
class TabularLearner(FeatureImportance, Learner):
    """A :class:`Learner` for tabular data; adds :meth:`predict_df` for many rows at once.

    >>> _ = torch.manual_seed(0)
    >>> df = pd.DataFrame({"c": list("abcd") * 5, "x": np.arange(20.0), "y": ["no", "yes"] * 10})
    >>> data = TabularDataBunch.from_df(".", df, "y", valid_idx=range(16, 20), procs=[Categorify, Normalize],
    ...                                 cat_names=["c"], cont_names=["x"], bs=4, device="cpu")
    >>> learn = tabular_learner(data, layers=[8], silent=True)
    >>> type(learn).__name__
    'TabularLearner'
    >>> learn.fit(1, 1e-2)
    >>> preds = learn.predict_df(df.head(3))  # many rows at once, with df's index
    >>> preds.columns.tolist(), preds.shape
    (['prediction', 'proba_no', 'proba_yes'], (3, 3))
    >>> set(preds["prediction"]) <= {"no", "yes"}
    True
    """

    def predict_df(self, df: pd.DataFrame, bs: int = 4096) -> pd.DataFrame:
        """Predictions for every row of a new DataFrame in one call, as a DataFrame with ``df``'s index.

        Classification: a ``prediction`` column (the class) and one ``proba_<class>`` column
        per class. Regression: ``prediction`` (back from log space if the labels were
        ``log=True``). Rows are processed with the training procs, like ``predict``.

        >>> # learn.predict_df(test_df)['prediction'].value_counts()
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(
                f"predict_df needs a pandas DataFrame, got {type(df).__name__}; use predict(row) for one row"
            )
        if len(df) == 0:
            raise ValueError("predict_df got an empty DataFrame (0 rows); there is nothing to predict")
        if not isinstance(bs, int) or bs <= 0:
            raise ValueError(f"bs must be a positive int, got {bs!r}")
        cats, conts = self.data.processor.rows_to_tensors(df)
        if hasattr(self.model, "reset"):
            self.model.reset()
        out = torch.cat(
            [self.pred_batch((cats[i : i + bs], conts[i : i + bs])) for i in range(0, len(df), bs)]
        )
        if self.data.classes is None:  # regression
            vals = out.exp() if self.data.log_labels else out
            vals = vals.numpy().reshape(len(df), -1)
            cols = ["prediction"] if vals.shape[1] == 1 else [f"prediction_{j}" for j in range(vals.shape[1])]
            return pd.DataFrame(vals, columns=cols, index=df.index)
        names = np.asarray(self.data.classes, dtype=object)
        if self.data.multi_label:
            pred = [";".join(names[row]) for row in (out > 0.5).numpy()]
        else:
            pred = names[out.argmax(1).numpy()]
        res = pd.DataFrame({"prediction": pred}, index=df.index)
        for j, c in enumerate(self.data.classes):
            res[f"proba_{c}"] = out[:, j].numpy()
        return res

    preset = None  # the TabularPreset that tabular_learner(..., preset=...) chose

    def fit_preset(self, max_epochs: int | None = None, **overrides) -> None:
        """Train with the preset's recipe: early stopping on held-out training rows, the best weights kept.

        Only for ``tabular_learner(data, preset='strong')``; keywords override the preset's
        fields for this fit (:func:`emberfit.tabular.presets.fit_preset`).

        >>> # learn = tabular_learner(data, preset='strong', metrics=accuracy); learn.fit_preset()
        """
        fit_preset(self, max_epochs, **overrides)

    @classmethod
    def _for_inference(cls, data: DataBunch, model: torch.nn.Module) -> TabularLearner:
        learn = super()._for_inference(data, model)
        if isinstance(model, TabularNet) and model.config.n_members > 1:  # trains on as it was built
            learn.loss_func = MembersLoss(learn.loss_func)
        return learn


def get_emb_szs(x: TabularList, emb_szs: dict[str, int] | None = None) -> list[tuple[int, int]]:
    """``(n_categories, width)`` per categorical column: ``emb_sz_rule`` unless ``emb_szs`` names a width.

    >>> df = pd.DataFrame({"color": list("rgbrgb"), "size": list("SMLSML"), "y": [0, 1] * 3})
    >>> data = (TabularList.from_df(df, cat_names=["color", "size"], cont_names=[], procs=[Categorify])
    ...         .split_none().label_from_df(cols="y").databunch(bs=2, device="cpu"))
    >>> get_emb_szs(data.train_ds.x)  # 3 values + #na# per column, width from emb_sz_rule
    [(4, 3), (4, 3)]
    >>> get_emb_szs(data.train_ds.x, {"size": 10})  # choose a column's width by name
    [(4, 3), (4, 10)]
    """
    return _emb_szs(x.cat_names, x.classes, emb_szs)


def _emb_szs(cat_names: list[str], classes: dict[str, list], emb_szs: dict[str, int] | None) -> list:
    """:func:`get_emb_szs` from the model's categorical inputs and their classes (``#na#`` included)."""
    emb_szs = {} if emb_szs is None else emb_szs
    if not isinstance(emb_szs, dict):
        raise TypeError(f"emb_szs must be a dict {{column: width}}, got {type(emb_szs).__name__}")
    for name, width in emb_szs.items():
        if name not in cat_names:
            close = difflib.get_close_matches(str(name), cat_names, n=3)
            hint = f"; did you mean {close}?" if close else ""
            raise KeyError(f"emb_szs has {name!r}, which is not a categorical column {cat_names}{hint}")
        if not isinstance(width, numbers.Integral) or isinstance(width, bool) or width < 1:
            raise ValueError(f"emb_szs[{name!r}] must be a positive int, got {width!r}")
    out = []
    for name in cat_names:
        n = len(classes[name])
        out.append((n, int(emb_szs.get(name, emb_sz_rule(n)))))
    return out


def tabular_learner(
    data: DataBunch,
    layers: Sequence[int] | None = None,
    emb_szs: dict[str, int] | None = None,
    metrics=None,
    ps: Sequence[float] | float | None = None,
    emb_drop: float = 0.0,
    y_range: Sequence[float] | None = None,
    use_bn: bool = True,
    bn_final: bool = False,
    cont_emb: str | None = None,
    n_members: int | None = None,
    preset: str | None = None,
    value_emb: bool | None = None,
    **learn_kwargs,
) -> TabularLearner:
    """A :class:`TabularLearner` with a :class:`TabularModel` sized for ``data`` (or a :class:`TabularNet`).

    Classification trains with cross-entropy, regression (float labels) with MSE; ``y_range``
    puts a scaled sigmoid on a regression output. ``layers=None`` is the lesson's ``[200, 100]``.

    ``cont_emb='ple'`` (piecewise-linear encoding, bins fitted on the training rows) or
    ``'periodic'`` embeds each continuous column; ``n_members=k`` trains ``k`` MLPs in one model and
    averages them; ``value_emb=True`` also gives each frequent exact value of a spiky continuous
    column (one value in half the rows, such as ``capital-gain``'s 0) its own embedding;
    ``preset='strong'`` picks all of that, widths, dropout and the training recipe
    from the data's size (train with ``learn.fit_preset()``). Any of them builds a
    :class:`~emberfit.tabular.ensemble.TabularNet` instead of the lesson's model; ``emb_szs``,
    ``emb_drop``, ``use_bn`` and ``bn_final`` belong to the lesson's model only.

    >>> _ = torch.manual_seed(0)
    >>> df = pd.DataFrame({"c": list("abcd") * 5, "x": np.arange(20.0), "y": ["no", "yes"] * 10})
    >>> data = TabularDataBunch.from_df(".", df, "y", valid_idx=range(16, 20), procs=[Categorify, Normalize],
    ...                                 cat_names=["c"], cont_names=["x"], bs=4, device="cpu")
    >>> learn = tabular_learner(data, layers=[20, 10], emb_szs={"c": 3}, metrics=accuracy, silent=True)
    >>> learn.model.config.emb_szs, learn.model.config.layers, learn.model.config.out_sz  # 4 letters + #na#
    (((5, 3),), (20, 10), 2)
    >>> learn.fit(1, 1e-2)
    >>> learn.predict(df.iloc[0])[0] in ("no", "yes")
    True
    >>> df["price"] = np.arange(20.0) / 4  # float labels: regression (MSE), y_range bounds the output
    >>> reg = TabularDataBunch.from_df(".", df, "price", valid_idx=range(16, 20), procs=[Categorify, Normalize],
    ...                                cat_names=["c"], cont_names=["x"], bs=4, device="cpu")
    >>> tabular_learner(reg, layers=[8], y_range=(0, 6), silent=True).model.config.out_sz
    1
    """
    y_range = _check_args(data, layers, y_range)
    if preset is not None or cont_emb is not None or n_members not in (None, 1) or value_emb:
        lesson_only = dict(emb_szs=(emb_szs, None), emb_drop=(emb_drop, 0.0), use_bn=(use_bn, True))
        lesson_only["bn_final"] = (bn_final, False)
        given = [k for k, (v, default) in lesson_only.items() if v != default]
        net = (layers, ps, y_range, cont_emb, n_members, preset, value_emb)
        return _net_learner(data, net, given, metrics, learn_kwargs)
    proc = data.processor  # its out_* names are the model's inputs, after procs such as FillMissing
    model = TabularModel(
        _emb_szs(proc.out_cat_names, proc.classes, emb_szs),
        len(proc.out_cont_names),
        data.c,
        list(layers) if layers is not None else [200, 100],
        ps,
        emb_drop,
        y_range,
        use_bn,
        bn_final,
    )
    learn = TabularLearner(data, model, metrics=metrics, **learn_kwargs)
    learn.model_init = {"cls": "tabular.TabularModel", "kwargs": model.config.to_json()}
    return learn


def _net_learner(
    data: DataBunch, net: tuple, given: list[str], metrics, learn_kwargs: dict
) -> TabularLearner:
    """A TabularLearner with a TabularNet; ``net`` holds build_tabular_net's arguments after ``data``."""
    if given:
        raise ValueError(
            f"{given} set the lesson's TabularModel, which cont_emb/n_members/value_emb/preset replace with a "
            "TabularNet (one embedding width, no BatchNorm); drop them or drop cont_emb/n_members/value_emb/preset"
        )
    model, chosen = build_tabular_net(data, *net)
    if model.config.n_members > 1:  # each member's loss, averaged (the data's loss otherwise)
        learn_kwargs["loss_func"] = MembersLoss(learn_kwargs.get("loss_func") or data.loss_func)
    if chosen is not None:
        learn_kwargs.setdefault("wd", chosen.wd)
    learn = TabularLearner(data, model, metrics=metrics, **learn_kwargs)
    learn.preset = chosen
    learn.model_init = {"cls": "tabular.TabularNet", "kwargs": model.config.to_json()}
    return learn


def _check_args(data: DataBunch, layers, y_range) -> list[float] | None:
    """Refuse data that is not tabular and bad ``layers`` / ``y_range``; ``y_range`` as a list (or None)."""
    if not isinstance(data, DataBunch) or not isinstance(data.processor, TabularProcessor):
        raise TypeError(
            "tabular_learner needs a DataBunch built from a TabularList (TabularList.from_df(...)...databunch() "
            f"or TabularDataBunch.from_df), got {type(data).__name__}"
        )
    if layers is not None and (
        isinstance(layers, numbers.Number)
        or not all(isinstance(n, numbers.Integral) and n > 0 for n in layers)
    ):
        raise TypeError(f"layers must be a list of positive hidden sizes such as [200, 100], got {layers!r}")
    classification = data.classes is not None  # float (regression) labels have no classes
    if classification and not data.multi_label and data.c < 2:
        raise ValueError(
            f"the training labels have a single class {data.classes}; a classifier needs at least two classes"
        )
    if isinstance(y_range, (torch.Tensor, np.ndarray)) and y_range.ndim == 1:  # v1's Rossmann: a tensor
        y_range = [float(v) for v in y_range.tolist()]
    if y_range is not None:
        ok = isinstance(y_range, (list, tuple)) and len(y_range) == 2
        if not ok or not all(isinstance(v, numbers.Real) for v in y_range) or not y_range[0] < y_range[1]:
            raise ValueError(f"y_range must be (low, high) numbers with low < high, got {y_range!r}")
        if classification:
            raise ValueError("y_range is for regression (float labels); this data is a classification")
    return y_range

"""Draw the README's "Look inside" pictures (docs/img/look_inside_*.png) from the bundled samples.

Usage: ``python tools/look_inside_pictures.py [text] [tabular] [collab]`` (all three by default).
Takes a few minutes on a CPU, most of it fine-tuning the text classifier.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
DPI = 72


def text(work: Path) -> None:
    from emberfit.text import (
        AWD_LSTM,
        TextClasDataBunch,
        URLs,
        awd_lstm_small_clas_config,
        pd,
        set_seed,
        text_classifier_learner,
        torch,
        untar_data,
    )

    df = pd.read_csv(untar_data(URLs.IMDB_SAMPLE) / "texts.csv")
    df["text"] = df.text.str.slice(0, 600)
    set_seed(42)
    data = TextClasDataBunch.from_df(
        work, df[~df.is_valid], df[df.is_valid], text_cols="text", label_cols="label"
    )
    learn = text_classifier_learner(
        data, AWD_LSTM, config=awd_lstm_small_clas_config, drop_mult=0.5, silent=True
    )
    learn.fit_one_cycle(1, 2e-2, moms=(0.8, 0.7))
    learn.freeze_to(-2)
    learn.fit_one_cycle(1, slice(1e-2 / (2.6**4), 1e-2), moms=(0.8, 0.7))
    learn.unfreeze()
    learn.fit_one_cycle(1, slice(2e-3 / (2.6**4), 2e-3), moms=(0.8, 0.7))
    interp = learn.interpret()
    print("IMDB sample, accuracy", float((interp.pred_class == interp.y_true).float().mean()))
    interp.show_top_losses(3, max_len=30)
    # the picture: a short validation review the model gets right with the most confidence
    valid = df[df.is_valid].reset_index(drop=True)
    p_true = interp.preds[torch.arange(len(valid)), interp.y_true]
    short = torch.tensor((valid.text.str.len() < 350).to_numpy())
    i = int(torch.where(short, p_true, torch.zeros_like(p_true)).argmax())
    print("review", i, valid.label[i], float(p_true[i]), valid.text[i])
    fig = interp.plot_intrinsic_attention(valid.text[i], return_fig=True, width=70)
    fig.savefig(OUT / "look_inside_text.png", dpi=DPI * 1.4, bbox_inches="tight")


def tabular(work: Path) -> None:
    from emberfit.tabular import (
        Categorify,
        FillMissing,
        Normalize,
        TabularList,
        URLs,
        pd,
        set_seed,
        tabular_learner,
        untar_data,
    )

    df = pd.read_csv(untar_data(URLs.ADULT_SAMPLE) / "adult.csv")
    cat_names = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
    cont_names = ["age", "fnlwgt", "education-num"]
    set_seed(42)
    data = (
        TabularList.from_df(
            df,
            path=work,
            cat_names=cat_names,
            cont_names=cont_names,
            procs=[FillMissing, Categorify, Normalize],
        )
        .split_by_idx(list(range(800, 2800)))
        .label_from_df(cols="salary")
        .databunch(bs=256)
    )
    learn = tabular_learner(data, layers=[200, 100], silent=True)
    learn.fit_one_cycle(3, 1e-2)
    fi = learn.feature_importance(n_repeats=5)
    print(fi)
    fig = learn.plot_feature_importance(fi, figsize=(6.5, 3.8), return_fig=True)
    fig.savefig(OUT / "look_inside_tabular.png", dpi=DPI * 1.3, bbox_inches="tight")


def collab(work: Path) -> None:
    from emberfit.collab import CollabDataBunch, URLs, collab_learner, pd, set_seed, untar_data

    path = untar_data(URLs.ML_SAMPLE)
    ratings, movies = pd.read_csv(path / "ratings.csv"), pd.read_csv(path / "movies.csv")
    set_seed(42)
    data = CollabDataBunch.from_df(
        ratings.merge(movies), seed=42, valid_pct=0.1, item_name="title", path=work
    )
    learn = collab_learner(data, n_factors=40, y_range=[0, 5.5], wd=1e-1, silent=True)
    learn.fit_one_cycle(5, 5e-3)
    print(learn.recommend(int(ratings.userId.iloc[0]), 5))
    fig = learn.plot_items(n=25, figsize=(9, 6.5), return_fig=True)
    fig.savefig(OUT / "look_inside_collab.png", dpi=DPI, bbox_inches="tight")


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["text", "tabular", "collab"]
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for name in chosen:
            {"text": text, "tabular": tabular, "collab": collab}[name](Path(work))
            print("written", OUT / f"look_inside_{name}.png")

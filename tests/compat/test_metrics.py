"""fastai v1's ``metrics`` module, used as a v1 user's script used it (only the import line changed).

Every metric is checked twice: as a plain call ``metric(pred, targ)`` against values worked out here
by hand (pure Python / numpy formulas, no metric library), and inside ``metrics=[...]`` of a tiny
Learner fit, where the reported value must equal the plain computation over the whole validation
set (37 rows in batches of 8, so the last batch is uneven).
"""

import math
import warnings

import numpy as np
import pytest

from emberfit.core import *  # v1: from fastai.basics import *

# ------------------------------------------------------------------------- hand computations (numpy)


def np_cm(pred_cls, targ, n):
    cm = np.zeros((n, n))
    for t, p in zip(np.asarray(targ), np.asarray(pred_cls)):
        cm[t, p] += 1  # rows: actual, columns: predicted
    return cm


def np_scores(cm, beta=1.0):
    """Per-class precision, recall, F-beta (0 where a denominator is 0)."""
    n, b2 = len(cm), beta**2
    prec, rec, f = [], [], []
    for c in range(n):
        tp, n_pred, n_act = cm[c, c], cm[:, c].sum(), cm[c, :].sum()
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_act if n_act else 0.0
        prec.append(p)
        rec.append(r)
        f.append((1 + b2) * p * r / (b2 * p + r) if p + r else 0.0)
    return np.array(prec), np.array(rec), np.array(f)


def np_average(per_class, cm, average, micro):
    support = cm.sum(1)
    return {
        "binary": per_class[1],
        "macro": per_class.mean(),
        "weighted": (per_class * support).sum() / support.sum(),
        "micro": micro,
    }[average]


def np_kappa(cm, weights=None):
    n, total = len(cm), cm.sum()
    if weights is None:
        po = np.trace(cm) / total
        pe = sum(cm[c, :].sum() * cm[:, c].sum() for c in range(n)) / total**2
        return (po - pe) / (1 - pe)
    w = np.array([[abs(i - j) ** (1 if weights == "linear" else 2) for j in range(n)] for i in range(n)])
    expected = np.outer(cm.sum(1), cm.sum(0)) / total
    return 1 - (w * cm).sum() / (w * expected).sum()


def np_mcc(pred_cls, targ, n):
    """Pearson correlation of the one-hot prediction and target matrices."""
    x, y = np.eye(n)[np.asarray(pred_cls)], np.eye(n)[np.asarray(targ)]
    x, y = x - x.mean(0), y - y.mean(0)
    denom = math.sqrt((x * x).sum() * (y * y).sum())
    # undefined when one side is constant (e.g. a model that predicts one class): 0, as sklearn says
    return (x * y).sum() / denom if denom else 0.0


def np_auc(scores, targ):
    pos = [s for s, t in zip(scores, targ) if t == 1]
    neg = [s for s, t in zip(scores, targ) if t == 0]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def drive(metric, batches):
    """Run a callback metric the way v1's training loop did; return what it added to last_metrics."""
    metric.on_epoch_begin()
    for out, targ in batches:
        metric.on_batch_end(last_output=out, last_target=targ, train=False)
    return metric.on_epoch_end(last_metrics=[0.123])["last_metrics"][1:]


def in_batches(out, targ, bs=3):
    return [(out[i : i + bs], targ[i : i + bs]) for i in range(0, len(targ), bs)]


# ----------------------------------------------------------------------- plain functions, by hand

LOGITS = tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.2], [0.3, 0.2, 0.9], [1.2, 1.1, 3.0], [0.1, 0.0, -1.0]])
LABELS = tensor([0, 2, 2, 1, 0])  # argmax: 0, 1, 2, 2, 0 -> 3 of 5 right


def test_accuracy_error_rate_top_k():
    assert accuracy(LOGITS, LABELS).item() == pytest.approx(3 / 5)
    assert error_rate(LOGITS, LABELS).item() == pytest.approx(2 / 5)
    # top-2: row 1 has {1, 0} (target 2: miss); row 3 has {2, 0} (target 1: miss) -> 3 of 5
    assert top_k_accuracy(LOGITS, LABELS, k=2).item() == pytest.approx(3 / 5)
    assert top_k_accuracy(LOGITS, LABELS, k=3).item() == pytest.approx(1.0)
    assert top_k_accuracy(LOGITS, LABELS).item() == pytest.approx(1.0)  # v1's default k=5 > 3 classes
    lm_out, lm_targ = torch.zeros(2, 3, 4), tensor([[1, 1, 0], [1, 2, 1]])
    lm_out[..., 1] = 1
    assert accuracy(lm_out, lm_targ).item() == pytest.approx(4 / 6)  # (bs, seq, vocab) language models


def test_accuracy_thresh_and_fbeta_multilabel():
    out = tensor([[2.0, -1.0, 0.5], [-2.0, 3.0, -0.1], [0.0, 0.0, 0.0]])
    targ = tensor([[1, 0, 0], [0, 1, 1], [1, 1, 0]])
    probs = 1 / (1 + np.exp(-np.asarray(out)))
    right = ((probs > 0.5) == np.asarray(targ).astype(bool)).mean()
    assert accuracy_thresh(out, targ).item() == pytest.approx(right)
    right_raw = ((np.asarray(out) > 0.1) == np.asarray(targ).astype(bool)).mean()
    assert accuracy_thresh(out, targ, thresh=0.1, sigmoid=False).item() == pytest.approx(right_raw)

    def np_fbeta(thresh, beta, sigmoid=True):
        p = (probs if sigmoid else np.asarray(out)) > thresh
        t = np.asarray(targ).astype(bool)
        fs = []
        for pr, tr in zip(p, t):
            tp = (pr & tr).sum()
            prec, rec = (tp / pr.sum() if pr.sum() else 0.0), (tp / tr.sum() if tr.sum() else 0.0)
            fs.append((1 + beta**2) * prec * rec / (beta**2 * prec + rec) if prec + rec else 0.0)
        return np.mean(fs)

    assert fbeta(out, targ).item() == pytest.approx(np_fbeta(0.2, 2), rel=1e-6)  # v1 defaults
    assert fbeta(out, targ, thresh=0.6, beta=1).item() == pytest.approx(np_fbeta(0.6, 1), rel=1e-6)
    assert fbeta(out, targ, 0.3, 1, 1e-9, False).item() == pytest.approx(np_fbeta(0.3, 1, False), rel=1e-6)
    f = partial(fbeta, thresh=0.6, beta=1)
    assert f(out, targ).item() == pytest.approx(np_fbeta(0.6, 1), rel=1e-6)


def test_dice_and_foreground_acc():
    # (2 images, 2 classes, 2x2): predicted masks [[1,0],[1,1]] and [[0,0],[0,1]]
    scores = torch.zeros(2, 2, 2, 2)
    pred_masks = tensor([[[1, 0], [1, 1]], [[0, 0], [0, 1]]])
    scores[:, 1] = pred_masks.float()
    targ = tensor([[[1, 1], [0, 1]], [[0, 0], [1, 1]]])
    inter = (np.asarray(pred_masks) * np.asarray(targ)).sum()  # 3
    union = np.asarray(pred_masks).sum() + np.asarray(targ).sum()  # 4 + 5
    assert dice(scores, targ).item() == pytest.approx(2 * inter / union)
    assert dice(scores, targ, iou=True).item() == pytest.approx(inter / (union - inter), rel=1e-6)
    assert dice(scores, torch.zeros_like(targ)).item() == pytest.approx(0.0)
    assert dice(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)).item() == 1.0  # both empty
    keep = np.asarray(targ) != 0
    acc = (np.asarray(pred_masks)[keep] == np.asarray(targ)[keep]).mean()
    assert foreground_acc(scores, targ.unsqueeze(1), void_code=0).item() == pytest.approx(acc)


PRED = tensor([2.5, 0.0, 2.0, 8.0, 1.2])
TARG = tensor([3.0, -0.5, 2.0, 7.0, 1.0])


def test_regression_functions_and_their_long_names():
    p, t = np.asarray(PRED, dtype=np.float64), np.asarray(TARG, dtype=np.float64)
    expect = {
        "mae": np.abs(t - p).mean(),
        "mse": ((t - p) ** 2).mean(),
        "rmse": math.sqrt(((t - p) ** 2).mean()),
        "r2": 1 - ((t - p) ** 2).sum() / ((t - t.mean()) ** 2).sum(),
        "ev": 1 - np.var(t - p) / np.var(t),
    }
    for short, long_ in [
        (mae, mean_absolute_error),
        (mse, mean_squared_error),
        (rmse, root_mean_squared_error),
    ]:
        assert short(PRED, TARG).item() == pytest.approx(expect[short.__name__], rel=1e-6)
        assert long_(PRED, TARG).item() == pytest.approx(expect[short.__name__], rel=1e-6)
    assert r2_score(PRED, TARG).item() == pytest.approx(expect["r2"], rel=1e-6)
    assert explained_variance(PRED, TARG).item() == pytest.approx(expect["ev"], rel=1e-6)
    pos_p, pos_t = PRED.abs(), TARG.abs()
    msle_np = ((np.log(1 + np.asarray(pos_t)) - np.log(1 + np.asarray(pos_p))) ** 2).mean()
    assert msle(pos_p, pos_t).item() == pytest.approx(msle_np, rel=1e-5)
    assert mean_squared_logarithmic_error(pos_p, pos_t).item() == pytest.approx(msle_np, rel=1e-5)
    lp, lt = PRED / 10, TARG / 10
    ep, et = np.exp(np.asarray(lp, dtype=np.float64)), np.exp(np.asarray(lt, dtype=np.float64))
    assert exp_rmspe(lp, lt).item() == pytest.approx(math.sqrt((((et - ep) / et) ** 2).mean()), rel=1e-5)
    assert rmse(PRED[:, None], TARG).item() == pytest.approx(expect["rmse"], rel=1e-6)  # (n, 1) outputs
    with pytest.raises(ValueError, match="differ in size"):
        mae(PRED[:3], TARG)


def test_roc_curve_and_auc_roc_score():
    scores, targ = tensor([0.9, 0.8, 0.8, 0.4, 0.3, 0.1]), tensor([1, 0, 1, 1, 0, 0])
    fpr, tpr = roc_curve(scores, targ)
    # thresholds 0.9, 0.8 (one positive and one negative tied), 0.4, 0.3, 0.1
    assert fpr.tolist() == pytest.approx([0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    assert tpr.tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1, 1, 1])
    assert auc_roc_score(scores, targ).item() == pytest.approx(np_auc(scores.tolist(), targ.tolist()))


# --------------------------------------------------------- callback metrics, driven as v1's loop did

G = torch.Generator().manual_seed(0)
OUT3, TARG3 = torch.randn(20, 3, generator=G), torch.randint(0, 3, (20,), generator=G)
OUT2, TARG2 = torch.randn(20, 2, generator=G), torch.randint(0, 2, (20,), generator=G)


@pytest.mark.parametrize("average", ["binary", "micro", "macro", "weighted", None])
def test_precision_recall_fbeta(average):
    out, targ, n = (OUT2, TARG2, 2)
    cm = np_cm(out.argmax(1), targ, n)
    micro = np.trace(cm) / cm.sum()  # single-label data: micro precision = recall = F = accuracy
    for beta in (1, 2):
        prec, rec, f = np_scores(cm, beta)
        for cls, per_class in [(Precision, prec), (Recall, rec), (partial(FBeta, beta=beta), f)]:
            (got,) = drive(cls(average=average), in_batches(out, targ))
            if average is None:
                assert got.tolist() == pytest.approx(per_class.tolist(), abs=1e-6)
            else:
                assert got == pytest.approx(np_average(per_class, cm, average, micro), abs=1e-6)
    cm3 = np_cm(OUT3.argmax(1), TARG3, 3)
    _, _, f3 = np_scores(cm3, 2)
    assert drive(FBeta("macro"), in_batches(OUT3, TARG3)) == pytest.approx([f3.mean()], abs=1e-6)
    assert drive(FBeta(average="weighted", pos_label=1, eps=1e-9, beta=2), in_batches(OUT3, TARG3)) == (
        pytest.approx([np_average(f3, cm3, "weighted", None)], abs=1e-6)
    )


def test_binary_average_with_many_classes_warns_and_uses_macro():
    cm = np_cm(OUT3.argmax(1), TARG3, 3)
    prec, _, _ = np_scores(cm)
    with pytest.warns(UserWarning, match="macro"):
        assert drive(Precision(), in_batches(OUT3, TARG3)) == pytest.approx([prec.mean()], abs=1e-6)


def test_kappa_matthews_confusion_matrix():
    for out, targ, n in [(OUT2, TARG2, 2), (OUT3, TARG3, 3)]:
        pred = out.argmax(1)
        cm = np_cm(pred, targ, n)
        for w in (None, "linear", "quadratic"):
            assert drive(KappaScore(weights=w), in_batches(out, targ)) == pytest.approx(
                [np_kappa(cm, w)], abs=1e-6
            )
        assert drive(MatthewsCorreff(), in_batches(out, targ)) == pytest.approx(
            [np_mcc(pred, targ, n)], abs=1e-6
        )
        (got,) = drive(ConfusionMatrix(), in_batches(out, targ))
        assert got.tolist() == cm.tolist()
    tp, tn, fp, fn = 4, 3, 2, 1  # the binary textbook formula too
    out = tensor([[0.0, 1.0]] * (tp + fp) + [[1.0, 0.0]] * (tn + fn))
    targ = tensor([1] * tp + [0] * fp + [0] * tn + [1] * fn)
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert drive(MatthewsCorreff(), in_batches(out, targ)) == pytest.approx([mcc])


def test_auroc_perplexity_multilabel_fbeta():
    probs = np.exp(np_log_softmax(np.asarray(OUT2, dtype=np.float64)))[:, 1]
    assert drive(AUROC(), in_batches(OUT2, TARG2)) == pytest.approx([np_auc(probs, TARG2.tolist())])
    ce = -np_log_softmax(np.asarray(OUT3, dtype=np.float64))[np.arange(20), np.asarray(TARG3)].mean()
    assert drive(Perplexity(), in_batches(OUT3, TARG3)) == pytest.approx([math.exp(ce)], rel=1e-5)

    out = torch.randn(12, 4, generator=G)
    targ = (torch.rand(12, 4, generator=G) > 0.5).long()
    p, t = (1 / (1 + np.exp(-np.asarray(out))) > 0.3), np.asarray(targ).astype(bool)
    tp, n_pred, n_targ = (p & t).sum(0), p.sum(0), t.sum(0)

    def f(tp, n_pred, n_targ, b2=4):
        prec, rec = tp / np.maximum(n_pred, 1e-300), tp / np.maximum(n_targ, 1e-300)
        return np.where(prec + rec > 0, (1 + b2) * prec * rec / np.maximum(b2 * prec + rec, 1e-300), 0.0)

    per = f(tp, n_pred, n_targ)
    expect = {"micro": f(tp.sum(), n_pred.sum(), n_targ.sum()), "macro": per.mean(),
              "weighted": (per * n_targ).sum() / n_targ.sum()}  # fmt: skip
    for average, value in expect.items():
        assert drive(MultiLabelFbeta(average=average), in_batches(out, targ)) == pytest.approx(
            [float(value)], rel=1e-6
        )
    (got,) = drive(
        MultiLabelFbeta(beta=2, eps=1e-15, thresh=0.3, sigmoid=True, average=None), in_batches(out, targ)
    )
    assert got.tolist() == pytest.approx(per.tolist(), rel=1e-6)


def test_regression_callback_metrics_are_whole_set_values():
    batches = in_batches(PRED, TARG, bs=2)  # 2 + 2 + 1: a mean of per-batch roots would differ
    for cls, func in [
        (RMSE, rmse),
        (MAE, mae),
        (MSE, mse),
        (R2Score, r2_score),
        (ExplainedVariance, explained_variance),
    ]:
        assert drive(cls(), batches) == pytest.approx([func(PRED, TARG).item()], rel=1e-5)
    lp, lt = PRED / 10, TARG / 10
    assert drive(ExpRMSPE(), in_batches(lp, lt, 2)) == pytest.approx([exp_rmspe(lp, lt).item()], rel=1e-5)
    assert drive(AverageMetric(mae), batches) == pytest.approx([mae(PRED, TARG).item()], rel=1e-5)


def test_add_metrics():
    assert add_metrics([0.5], 0.25) == {"last_metrics": [0.5, 0.25]}
    assert add_metrics([0.5], [0.25, 0.75]) == {"last_metrics": [0.5, 0.25, 0.75]}


# ------------------------------------------------------------- metrics=[...] in a tiny Learner fit


def fit_and_compare(model, x, y, loss_func, metrics, expected, names=None):
    """Fit one epoch; the reported values must equal ``expected(outputs, y_valid)`` over the valid set."""
    torch.manual_seed(0)
    data = DataBunch.from_tensors(x[:64], y[:64], x[64:], y[64:], bs=8, val_bs=8, device="cpu")
    learn = Learner(data, model, loss_func=loss_func, metrics=metrics, silent=True)
    learn.fit(1, 1e-2)
    with torch.no_grad():
        out = learn.model.eval()(x[64:])
    reported = learn.recorder.metrics[-1]
    for got, want in zip(reported, expected(out, y[64:]), strict=True):
        if isinstance(want, torch.Tensor) and want.numel() > 1:
            assert torch.allclose(torch.as_tensor(got).float(), want.float(), atol=1e-5)
        else:
            assert got == pytest.approx(float(want), rel=1e-5, abs=1e-6)
    if names is not None:
        assert learn.recorder.metrics_names == names
    if all(isinstance(v, float) for v in reported):  # validate() reports the same values
        assert learn.validate()[1:] == pytest.approx(reported, rel=1e-6)
    return learn


X = torch.randn(101, 4, generator=G)  # 64 train + 37 valid


def test_single_label_metrics_in_a_fit():
    y2 = (X[:, 0] + 0.5 * torch.randn(101, generator=G) > 0).long()
    mets = [accuracy, error_rate, Precision(), Recall(), FBeta(), FBeta(beta=1), AUROC(), auc_roc_score,
            MatthewsCorreff(), KappaScore(), ConfusionMatrix(), AverageMetric(accuracy)]  # fmt: skip

    def expected(out, y):
        pred = out.argmax(1)
        cm = np_cm(pred, y, 2)
        prec, rec, f2 = np_scores(cm, 2)
        f1 = np_scores(cm, 1)[2]
        auc = np_auc(torch.softmax(out, 1)[:, 1].tolist(), y.tolist())
        return [accuracy(out, y), error_rate(out, y), prec[1], rec[1], f2[1], f1[1], auc, auc,
                np_mcc(pred, y, 2), np_kappa(cm), torch.tensor(cm), accuracy(out, y)]  # fmt: skip

    names = ["accuracy", "error_rate", "precision", "recall", "fbeta", "f1_score", "auroc", "auc_roc_score",
             "matthews_correff", "kappa_score", "confusion_matrix", "accuracy"]  # fmt: skip
    fit_and_compare(nn.Linear(4, 2), X, y2, F.cross_entropy, mets, expected, names)


def test_multi_class_metrics_in_a_fit():
    y3 = (X[:, 0] > 0.5).long() + (X[:, 1] > 0).long()
    mets = [partial(top_k_accuracy, k=2), Precision(average="macro"), Recall(average="weighted"),
            FBeta(average="micro"), KappaScore(weights="quadratic"), MatthewsCorreff(), Perplexity()]  # fmt: skip

    def expected(out, y):
        pred = out.argmax(1)
        cm = np_cm(pred, y, 3)
        prec, rec, _ = np_scores(cm)
        ce = -np_log_softmax(out.double().numpy())[np.arange(len(y)), y.numpy()].mean()
        return [top_k_accuracy(out, y, k=2), prec.mean(), np_average(rec, cm, "weighted", None),
                np.trace(cm) / cm.sum(), np_kappa(cm, "quadratic"), np_mcc(pred, y, 3), math.exp(ce)]  # fmt: skip

    learn = fit_and_compare(nn.Linear(4, 3), X, y3, F.cross_entropy, mets, expected)
    assert learn.recorder.metrics_names[0] == "top_k_accuracy"  # a partial is named after its function


def test_regression_metrics_in_a_fit():
    y = (X @ tensor([1.0, -0.5, 0.3, 0.2])).abs() + 0.1
    model = nn.Sequential(nn.Linear(4, 1), nn.Softplus(), nn.Flatten(0))  # positive outputs, for msle
    mets = [rmse, root_mean_squared_error, mae, mean_absolute_error, mse, mean_squared_error, msle,
            mean_squared_logarithmic_error, exp_rmspe, r2_score, explained_variance,
            RMSE(), MAE(), MSE(), R2Score(), ExplainedVariance()]  # fmt: skip

    def expected(out, y):
        return [f(out, y) for f in [rmse, rmse, mae, mae, mse, mse, msle, msle, exp_rmspe, r2_score,
                                    explained_variance, rmse, mae, mse, r2_score, explained_variance]]  # fmt: skip

    names = ["rmse", "root_mean_squared_error", "mae", "mean_absolute_error", "mse", "mean_squared_error",
             "msle", "mean_squared_logarithmic_error", "exp_rmspe", "r2_score", "explained_variance",
             "rmse", "mae", "mse", "r2_score", "explained_variance"]  # fmt: skip
    fit_and_compare(model, X, y, F.mse_loss, mets, expected, names)


def test_multi_label_metrics_in_a_fit():
    y = torch.stack([X[:, 0] > 0, X[:, 1] > 0.3, X[:, 2] + X[:, 3] > 0], 1).float()
    mets = [accuracy_thresh, fbeta, partial(fbeta, thresh=0.5, beta=1), MultiLabelFbeta(),
            MultiLabelFbeta(average="macro", thresh=0.5)]  # fmt: skip

    def expected(out, y):
        def whole(**kw):  # MultiLabelFbeta over the whole set, counted here by hand
            m = MultiLabelFbeta(**kw)
            return drive(m, [(out, y)])[0]

        return [accuracy_thresh(out, y), fbeta(out, y), fbeta(out, y, thresh=0.5, beta=1),
                whole(), whole(average="macro", thresh=0.5)]  # fmt: skip

    fit_and_compare(nn.Linear(4, 3), X, y, F.binary_cross_entropy_with_logits, mets, expected)


def test_segmentation_metrics_in_a_fit():
    y = torch.stack([X[:, :2] > 0, X[:, 2:] > 0.2], 1).long()  # (n, 2, 2) masks
    model = nn.Sequential(nn.Linear(4, 8), nn.Unflatten(1, (2, 2, 2)))  # (n, 2 classes, 2, 2)
    mets = [dice, partial(dice, iou=True), partial(foreground_acc, void_code=0)]

    def expected(out, y):
        return [dice(out, y), dice(out, y, iou=True), foreground_acc(out, y.unsqueeze(1), void_code=0)]

    fit_and_compare(model, X, y, F.cross_entropy, mets, expected, ["dice", "dice", "foreground_acc"])


# ----------------------------------------------------------- v1 callback-style metrics and refusals


class MyAccuracy(Callback):
    """A metric written as in fastai v1's docs."""

    def on_epoch_begin(self, **kwargs):
        self.correct, self.total = 0, 0

    def on_batch_end(self, last_output, last_target, **kwargs):
        preds = last_output.argmax(1)
        self.correct += (preds == last_target).sum().item()
        self.total += last_target.size(0)

    def on_epoch_end(self, last_metrics, **kwargs):
        return add_metrics(last_metrics, self.correct / self.total)


class OldStyleMean:
    """Not a Callback subclass; sets ``self.metric`` (v1 before add_metrics) and names only what it uses."""

    name = "mean_target"

    def on_epoch_begin(self):
        self.vals = []

    def on_batch_end(self, last_target):
        self.vals.append(last_target.float())

    def on_epoch_end(self):
        self.metric = torch.cat(self.vals).mean()


def test_v1_callback_metrics_in_a_fit():
    y2 = (X[:, 0] > 0).long()
    mets = [MyAccuracy(), MyAccuracy, OldStyleMean(), accuracy]

    def expected(out, y):
        acc = accuracy(out, y)
        return [acc, acc, y.float().mean(), acc]

    fit_and_compare(nn.Linear(4, 2), X, y2, F.cross_entropy, mets, expected,
                    ["my_accuracy", "my_accuracy", "mean_target", "accuracy"])  # fmt: skip


def test_one_metric_without_a_list():
    data = DataBunch.from_tensors(
        X[:64], (X[:64, 0] > 0).long(), X[64:], (X[64:, 0] > 0).long(), bs=8, device="cpu"
    )
    for met in (accuracy, MyAccuracy(), Precision()):
        learn = Learner(data, nn.Linear(4, 2), loss_func=F.cross_entropy, metrics=met, silent=True)
        assert len(learn.metrics) == 1


class NotAMetric:
    pass


@pytest.mark.parametrize(
    "bad, named",
    [("accuracy", "'accuracy'"), (3, "3 \\(int\\)"), (NotAMetric, "NotAMetric"), (dict, "the class dict"),
     (SaveModelCallback, "SaveModelCallback"), (EarlyStoppingCallback(), "EarlyStoppingCallback"),
     (lambda pred: pred, "cannot be called as f\\(pred, targ\\)"), (foreground_acc, "void_code")],
)  # fmt: skip
def test_not_a_metric_is_refused_when_the_learner_is_built(bad, named):
    data = DataBunch.from_tensors(
        X[:64], (X[:64, 0] > 0).long(), X[64:], (X[64:, 0] > 0).long(), bs=8, device="cpu"
    )
    with pytest.raises(TypeError, match=named):
        Learner(data, nn.Linear(4, 2), loss_func=F.cross_entropy, metrics=[accuracy, bad], silent=True)


def test_bad_arguments_are_refused_when_built():
    with pytest.raises(ValueError, match="beta is a keyword"):
        FBeta(1)  # v1's first argument is average
    with pytest.raises(ValueError, match="weights"):
        KappaScore(weights="cubic")
    with pytest.raises(ValueError, match="average"):
        MultiLabelFbeta(average="samples")


def test_states_merge_across_ranks_like_one_pass():
    """Under DDP each rank accumulates its shard and the states are added; the value is the whole set's."""
    from emberfit.core.metrics import as_metric, merge_states

    out, targ = OUT3, TARG3
    for met in [Precision(average="macro"), KappaScore(), AUROC(), RMSE(), R2Score(), ExplainedVariance(),
                MultiLabelFbeta(), Perplexity(), partial(dice, iou=True)]:  # fmt: skip
        if isinstance(met, AUROC):
            o, t = OUT2, TARG2
        elif isinstance(met, (RMSE, R2Score, ExplainedVariance)):
            o, t = out[:, 0], out[:, 1]
        elif isinstance(met, MultiLabelFbeta):
            o, t = out, (out > 0).long()
        elif isinstance(met, partial):
            o, t = out[:, :2, None, None], targ.clamp(max=1)[:, None, None]
        else:
            o, t = out, targ
        ranks, whole = [deepcopy(as_metric(met)) for _ in range(2)], deepcopy(as_metric(met))
        for m in (*ranks, whole):
            m.reset()
        ranks[0].accumulate(o[:7], t[:7])
        ranks[1].accumulate(o[7:], t[7:])
        whole.accumulate(o, t)
        merged = deepcopy(whole)
        merged.reset()
        merge_states(merged, [{k: getattr(r, k) for k in r.state_keys} for r in ranks])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert merged.value == pytest.approx(whole.value, rel=1e-6), met

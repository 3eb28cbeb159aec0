import math

import numpy as np
import pytest
import torch

from emberfit.core.metrics import AUROC, FBeta, Perplexity, accuracy, as_metric, error_rate, mae, rmse
from emberfit.core.schedule import OneCycleSchedule, annealing_cos, even_mults


def torch_one_cycle(n, max_lr, pct_start, div_factor, final_div_factor):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=max_lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=max_lr,
        total_steps=n,
        pct_start=pct_start,
        anneal_strategy="cos",
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        base_momentum=0.85,
        max_momentum=0.95,
    )
    lrs, moms = [], []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    return np.array(lrs), np.array(moms)


@pytest.mark.parametrize("n,pct", [(1001, 0.3), (401, 0.25)])
def test_one_cycle_matches_torch_onecyclelr_at_fixed_points(n, pct):
    s = OneCycleSchedule(n, max_lr=1e-2, pct_start=pct)
    # torch puts the peak at step pct*n - 1 and the end at n - 1; the original at int(pct*n) and n.
    t_lr, t_mom = torch_one_cycle(n, 1e-2, pct, 25.0, 1e4)
    assert s.lr(0) == pytest.approx(t_lr[0]) == pytest.approx(1e-2 / 25)
    assert s.lr(s.a1) == pytest.approx(1e-2) and t_lr.max() == pytest.approx(1e-2, rel=1e-3)
    assert s.mom(0) == pytest.approx(t_mom[0]) == pytest.approx(0.95)
    assert s.mom(s.a1) == pytest.approx(0.85) and t_mom.min() == pytest.approx(0.85, rel=1e-3)
    assert s.lr(n) == pytest.approx(1e-2 / 25 / 1e4) == pytest.approx(t_lr[-1])
    # in between, the two agree up to the one-step offset of the peak
    for frac in (0.1, 0.2, 0.5, 0.7, 0.9):
        k = int(frac * n)
        lo, hi = sorted((t_lr[k - 1], t_lr[k + 1]))
        assert lo * 0.999 <= s.lr(k) <= hi * 1.001
        lo, hi = sorted((t_mom[k - 1], t_mom[k + 1]))
        assert lo * 0.999 <= s.mom(k) <= hi * 1.001


def test_one_cycle_per_group_arrays_and_final_div():
    s = OneCycleSchedule(100, max_lr=np.array([1e-3, 1e-2]), final_div=100)
    np.testing.assert_allclose(s.lr(30), [1e-3, 1e-2])
    np.testing.assert_allclose(s.lr(100), [1e-5, 1e-4])
    assert annealing_cos(2, 0, 0) == 2 and annealing_cos(2, 0, 1) == pytest.approx(0)


def test_even_mults_geometric():
    v = even_mults(1e-2 / 2.6**4, 1e-2, 5)
    np.testing.assert_allclose(v[1:] / v[:-1], [2.6] * 4)


def _run(metric, batches):
    m = as_metric(metric)
    m.reset()
    for p, t in batches:
        m.accumulate(p, t)
    return m.value


def test_metrics_exact_over_uneven_batches():
    g = torch.Generator().manual_seed(0)
    pred, targ = torch.randn(103, generator=g), torch.randn(103, generator=g)
    batches = [(pred[i : i + 32], targ[i : i + 32]) for i in range(0, 103, 32)]  # last batch has 7
    assert _run(rmse, batches) == pytest.approx(math.sqrt(((pred - targ) ** 2).mean().item()), rel=1e-6)
    assert _run(mae, batches) == pytest.approx((pred - targ).abs().mean().item(), rel=1e-6)
    logits, labels = torch.randn(103, 3, generator=g), torch.randint(0, 3, (103,), generator=g)
    cb = [(logits[i : i + 32], labels[i : i + 32]) for i in range(0, 103, 32)]
    acc = (logits.argmax(1) == labels).float().mean().item()
    assert _run(accuracy, cb) == pytest.approx(acc, rel=1e-6)
    assert _run(error_rate, cb) == pytest.approx(1 - acc, rel=1e-6)
    ppl = math.exp(torch.nn.functional.cross_entropy(logits, labels).item())
    assert _run(Perplexity(), cb) == pytest.approx(ppl, rel=1e-5)


def test_fbeta_and_auroc_against_hand_computation():
    pred = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    targ = torch.tensor([0, 1, 0, 1, 1])
    # predicted 1 for rows 1, 2, 4 -> tp=2, fp=1, fn=1: precision 2/3, recall 2/3
    assert _run(FBeta(beta=1), [(pred, targ)]) == pytest.approx(2 / 3)
    # scores for class 1: [.1,.8,.7,.4,.9]; positives {.8,.4,.9}, negatives {.1,.7}
    # pairs pos>neg: .8>.1,.8>.7,.4>.1,.9>.1,.9>.7 = 5 of 6
    assert _run(AUROC(), [(pred[:2], targ[:2]), (pred[2:], targ[2:])]) == pytest.approx(5 / 6)


def test_accuracy_on_language_model_shapes():
    pred = torch.zeros(2, 3, 5)
    pred[..., 1] = 1
    targ = torch.tensor([[1, 1, 0], [1, 2, 1]])
    assert accuracy(pred, targ).item() == pytest.approx(4 / 6)


def test_bad_metric_type():
    with pytest.raises(TypeError, match="metrics must be"):
        as_metric(3)


def test_schedule_table_equals_pointwise_values():
    s = OneCycleSchedule(97, max_lr=np.array([1e-3, 1e-2]), pct_start=0.25)
    lrs, moms = s.table()
    for k in (0, 5, 24, 25, 26, 60, 97):
        np.testing.assert_allclose(lrs[k], s.lr(k), rtol=1e-12)
        assert moms[k] == pytest.approx(s.mom(k), rel=1e-12)

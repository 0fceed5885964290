"""Range-test curves shared by the finder tests, and the reference algorithms the suggestion rules
are checked against, transcribed from the libraries' sources (torch-lr-finder 0.2.2
torch_lr_finder/lr_finder.py; fastai fastai/callback/schedule.py)."""

from __future__ import annotations

import numpy as np

from lrkit.finder import RangeTest, RangeTestResult


def tlf_exp_lrs(start: float, end: float, num_iter: int) -> list[float]:
    """torch-lr-finder ExponentialLR.get_lr: base_lr * (end_lr / base_lr) ** r."""
    return [start * (end / start) ** (i / (num_iter - 1)) for i in range(num_iter)]


def tlf_linear_lrs(start: float, end: float, num_iter: int) -> list[float]:
    """torch-lr-finder LinearLR.get_lr: base_lr + r * (end_lr - base_lr)."""
    return [start + (i / (num_iter - 1)) * (end - start) for i in range(num_iter)]


def tlf_steepest(lrs: list[float], losses: list[float], skip_start=10, skip_end=5) -> float:
    """torch-lr-finder LRFinder.plot(suggest_lr=True)."""
    lrs = lrs[skip_start:-skip_end]
    losses = losses[skip_start:-skip_end]
    min_grad_idx = (np.gradient(np.array(losses))).argmin()
    return lrs[min_grad_idx]


def fastai_trim(lrs, losses, num_it):
    """fastai Learner.lr_find: lrs[num_it//10:-5], losses[num_it//10:-5]."""
    return np.asarray(lrs[num_it // 10 : -5]), np.asarray(losses[num_it // 10 : -5])


def fastai_valley(lrs, losses):
    """fastai valley, the double loop verbatim."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])


def fastai_steep(lrs, losses):
    grads = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    return float(lrs[grads.argmin()])


def fastai_minimum(lrs, losses):
    return float(lrs[losses.argmin()]) / 10


def fastai_smooth(losses, beta=0.98):
    """fastai AvgSmoothLoss: val = lerp(loss, val, beta); value = val / (1 - beta**count)."""
    val, out = 0.0, []
    for count, loss in enumerate(losses, start=1):
        val = loss + beta * (val - loss)
        out.append(val / (1 - beta**count))
    return out


def curves(seed: int, n: int = 100, noise: float = 0.05):
    """Synthetic range-test curves: plateau, fall, minimum, blow-up, plus noise."""
    rng = np.random.default_rng(seed)
    lrs = np.array(tlf_exp_lrs(1e-7, 10.0, n))
    x = np.log10(lrs)
    loss = 2.3 - 1.8 / (1 + np.exp(-(x + 2.0) * 3)) + 3.0 * np.exp((x - 0.5) * 2.5)
    return lrs, loss + noise * rng.standard_normal(n)


def range_test_result(n=100, seed=0, **kw) -> RangeTestResult:
    """A finished range test (1e-7 -> 10) on :func:`curves` of ``seed``."""
    test = RangeTest(1e-7, 10.0, n, **kw)
    _, raw = curves(seed, n=test.total_steps)
    for lr in test:
        del lr
        test.record(raw[test.step])
    return test.result()


def noisy_result(n: int = 300) -> RangeTestResult:
    """A result on a tanh fall and a blow-up from 0.1 with 1 % noise, ``n`` points 1e-6 -> 10."""
    lrs = np.geomspace(1e-6, 10.0, n)
    rng = np.random.default_rng(0)
    losses = 2.0 - np.tanh(np.log10(lrs) + 3.0) + np.maximum(0.0, np.log10(lrs) + 1.0) * 8
    losses = losses + rng.normal(0.0, 0.01, n)
    return RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), smoothed=tuple(losses))

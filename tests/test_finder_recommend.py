"""recommend(momentum=True): the LR and momentum schedules of a policy, in the form
lrkit.torch.Scheduler takes, checked against PyTorch's OneCycleLR driving a real optimizer."""

from __future__ import annotations

import numpy as np
import pytest

import lrkit
from lrkit.errors import ScheduleError
from lrkit.finder import RangeTestResult, recommend
from lrkit.presets import OneCycle


def _result() -> RangeTestResult:
    lrs = tuple(float(v) for v in np.geomspace(1e-5, 1.0, 41))
    x = np.log10(lrs)
    losses = tuple(float(v) for v in 2.0 - np.tanh(x + 3.0) + np.maximum(0.0, x + 1.0) * 8)
    return RangeTestResult(lrs=lrs, losses=losses, smoothed=losses)


def test_recommend_without_momentum_stays_the_lr_schedule() -> None:
    r = _result()
    s = recommend(r, 500)
    assert isinstance(s, OneCycle)
    assert r.recommend(500) == s == recommend(r, 500, momentum=False)


def test_one_cycle_momentum_is_one_cycle_momentum_over_the_same_steps() -> None:
    r = _result()
    spec = r.recommend(500, "one_cycle", momentum=True)
    assert set(spec) == {"lr", "momentum"}
    assert spec["lr"] == r.recommend(500, "one_cycle")
    assert spec["momentum"] == lrkit.one_cycle_momentum(steps=500)
    assert recommend(r, 500, momentum=True) == spec


def test_cyclic_momentum_mirrors_the_lr_and_wsd_cosine_schedule_none() -> None:
    r = _result()
    spec = r.recommend(400, "cyclic", momentum=True)
    lr = np.asarray(spec["lr"](np.arange(400)))
    mom = np.asarray(spec["momentum"](np.arange(400)))
    assert mom[np.argmax(lr)] == pytest.approx(0.85) and mom[np.argmin(lr)] == pytest.approx(0.95)
    for policy in ("wsd", "cosine"):
        assert r.recommend(400, policy, momentum=True) == {"lr": r.recommend(400, policy)}


def test_recommend_refuses_a_non_bool_momentum() -> None:
    with pytest.raises(ScheduleError, match="momentum must be True or False"):
        recommend(_result(), 100, momentum="yes")  # type: ignore[call-overload]


@pytest.mark.parametrize("opt_name", ["sgd", "adamw"])
def test_recommended_one_cycle_drives_a_torch_optimizer_as_one_cycle_lr(opt_name: str) -> None:
    torch = pytest.importorskip("torch")
    from lrkit.torch import Scheduler

    r = _result()
    n = 60
    spec = r.recommend(n, "one_cycle", momentum=True)
    peak = r.recommend(n, "one_cycle").peak

    def make() -> torch.optim.Optimizer:
        p = [torch.nn.Parameter(torch.ones(3))]
        if opt_name == "sgd":
            return torch.optim.SGD(p, lr=0.1, momentum=0.9)
        return torch.optim.AdamW(p, lr=0.1, betas=(0.9, 0.999))

    def trace(opt: torch.optim.Optimizer, sched: object) -> tuple[list[float], list[float]]:
        lrs, moms = [], []
        group = opt.param_groups[0]
        for _ in range(n):
            lrs.append(float(group["lr"]))
            moms.append(float(group["momentum"] if "momentum" in group else group["betas"][0]))
            opt.zero_grad()
            opt.param_groups[0]["params"][0].sum().backward()
            opt.step()
            sched.step()  # type: ignore[attr-defined]
        return lrs, moms

    ours = make()
    got = trace(ours, Scheduler(ours, spec))
    ref = make()
    want = trace(ref, torch.optim.lr_scheduler.OneCycleLR(ref, max_lr=peak, total_steps=n))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=0)
    assert min(got[1]) == pytest.approx(0.85) and got[1][0] == pytest.approx(0.95)
    if opt_name == "adamw":
        assert ours.param_groups[0]["betas"][1] == 0.999  # only beta1 is driven

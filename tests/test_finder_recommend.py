"""recommend(momentum=True): the LR and momentum schedules of a policy, in the form
lrkit.torch.Scheduler takes, checked against PyTorch's OneCycleLR driving a real optimizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lrkit
from lrkit.errors import ScheduleError
from lrkit.finder import RangeTestResult, recommend
from lrkit.finder.recommend import DEFAULT_RULES, PEAK_RULES
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


_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _round3(x: float) -> float:
    return float(f"{x:.3g}")


def test_default_rules_are_the_lowest_held_out_mean_of_the_committed_corpus_run() -> None:
    data = json.loads((_RESULTS / "finder_quality_full.json").read_text())
    for policy in ("one_cycle", "cosine"):
        held = data["policies"][policy]["held_out"]
        best = min(held, key=lambda name: held[name]["mean"])
        rule = PEAK_RULES[DEFAULT_RULES[policy]]
        assert best == f"{rule.base} x m" + (" per optimizer" if rule.by_optimizer else "")
        fit = {k: float(v.removeprefix("m=")) for k, v in held[best]["fit_all"].items()}
        for family in ("sgd", "adam"):
            assert rule.multiplier(family) == fit.get(family, fit.get("*"))
        single = held[f"{rule.base} x m"]["fit_all"]["*"]  # unknown family: the best single m
        assert rule.multiplier(None) == float(single.removeprefix("m="))


def test_default_peak_is_valley_times_the_rules_multiplier() -> None:
    r = _result()
    valley = r.suggest("valley").lr
    assert r.recommend(500).peak == _round3(4 * valley)
    assert r.recommend(500, "wsd").peak == _round3(4 * valley)
    cosine = {
        "sgd": 4 * valley,
        "adam": 2 * valley,
        None: 4 * valley,  # family unknown: the best single multiplier
    }
    for family, want in cosine.items():
        rec = RangeTestResult(r.lrs, r.losses, r.smoothed, optimizer=family)
        lr = np.asarray(rec.recommend(500, "cosine")(np.arange(500)))
        assert float(lr.max()) == _round3(want)


def test_the_optimizer_argument_overrides_the_family_the_test_recorded() -> None:
    r = _result()
    sgd = RangeTestResult(r.lrs, r.losses, r.smoothed, optimizer="sgd")
    for name in ("adam", "adamw"):
        assert recommend(sgd, 500, "cosine", optimizer=name) == recommend(
            r, 500, "cosine", optimizer="adam"
        )
    assert recommend(sgd, 500, "cosine") == recommend(r, 500, "cosine", optimizer="sgd")
    assert recommend(sgd, 500, "cosine", optimizer="adam") != recommend(sgd, 500, "cosine")


def test_rule_lrkit_gives_the_0x_peak() -> None:
    r = _result()
    old = _round3(r.suggest("lrkit").lr)
    assert r.recommend(500, rule="lrkit").peak == old
    for policy in ("wsd", "cosine"):
        lr = np.asarray(r.recommend(500, policy, rule="lrkit")(np.arange(500)))
        assert float(lr.max()) == old


def test_a_named_suggestion_rule_is_a_peak_rule_with_multiplier_one() -> None:
    r = _result()
    for name in ("valley", "minimum", "steepest"):
        assert r.recommend(500, rule=name).peak == _round3(r.suggest(name).lr)
    assert r.recommend(500, rule="valley_x4").peak == _round3(4 * r.suggest("valley").lr)


def test_recommend_refuses_an_unknown_rule_or_optimizer() -> None:
    r = _result()
    with pytest.raises(ScheduleError, match=r"rule must be one of .*did you mean 'valley_x4'"):
        recommend(r, 100, rule="valley_x5")
    with pytest.raises(ScheduleError, match="optimizer must be one of 'sgd', 'adam', 'adamw'"):
        recommend(r, 100, optimizer="rmsprop")
    with pytest.raises(ScheduleError, match="rule must be one of"):
        recommend(r, 100, "cyclic", rule="nope")  # cyclic ignores the rule but checks it


def test_result_records_the_optimizer_family_and_keeps_old_dicts_loading() -> None:
    r = _result()
    assert r.optimizer is None and "optimizer" not in r.to_dict()  # the 0.x dict, unchanged
    adam = RangeTestResult(r.lrs, r.losses, r.smoothed, optimizer="adam")
    d = json.loads(json.dumps(adam.to_dict()))
    assert d["optimizer"] == "adam" and RangeTestResult.from_dict(d) == adam
    with pytest.raises(ScheduleError, match="optimizer must be one of 'sgd', 'adam'"):
        RangeTestResult(r.lrs, r.losses, r.smoothed, optimizer="adamw")

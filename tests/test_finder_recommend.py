"""lrkit.finder.recommend: a schedule per policy from a range test, each policy's default peak
rule (the lowest held-out regret of the committed corpus run), the 0.x rule by name, the optimizer
family, and the momentum schedules in the form lrkit.torch.Scheduler takes, checked against
PyTorch's OneCycleLR driving a real optimizer."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import lrkit
from _finder_curves import noisy_result, range_test_result
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
    assert r.recommend(400, "wsd", momentum=True) == {"lr": r.recommend(400, "wsd")}
    with pytest.warns(UserWarning, match="optimizer family unknown"):  # cosine reads the family
        assert r.recommend(400, "cosine", momentum=True) == {"lr": r.recommend(400, "cosine")}


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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lr = np.asarray(rec.recommend(500, "cosine")(np.arange(500)))
        assert float(lr.max()) == _round3(want)
        # said exactly when the family is unknown, at the caller's line
        assert [(str(w.message)[:39], w.filename) for w in caught] == (
            [("recommend(): optimizer family unknown: ", __file__)] if family is None else []
        )


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


def test_recommend_one_cycle_has_peak_at_the_suggestion():
    r = range_test_result()
    s = r.recommend(1000, "one_cycle")
    assert isinstance(s, OneCycle)
    lr = 4 * r.suggest("valley").lr  # one_cycle's default rule: valley_x4
    values = s(np.arange(1000))
    assert float(np.max(values)) == pytest.approx(lr, rel=1e-2)  # peak rounded to 3 digits
    assert lrkit.parse(str(s)) == s
    old = r.recommend(1000, "one_cycle", rule="lrkit")  # the 0.x default
    assert old.peak == pytest.approx(r.suggest("lrkit").lr, rel=1e-2)


@pytest.mark.parametrize("policy", ["one_cycle", "wsd", "cosine", "cyclic"])
def test_recommend_returns_valid_bound_schedules(policy):
    r = range_test_result()
    with warnings.catch_warnings():
        if policy == "cosine":  # the curve records no optimizer family: said, tested above
            warnings.filterwarnings("ignore", "recommend\\(\\): optimizer family unknown")
        s = r.recommend(500, policy)
    assert isinstance(s, lrkit.Schedule)
    v = np.asarray(s(np.arange(500)))
    assert np.all(np.isfinite(v)) and np.all(v >= 0)
    assert lrkit.parse(str(s)) == s
    assert lrkit.from_dict(s.to_dict()) == s
    if policy in ("wsd", "cosine"):  # valley x 4 (cosine: the optimizer family is unknown)
        assert float(v.max()) == pytest.approx(4 * r.suggest("valley").lr, rel=1e-2)
        old = np.asarray(r.recommend(500, policy, rule="lrkit", optimizer="sgd")(np.arange(500)))
        assert float(old.max()) == pytest.approx(r.suggest("lrkit").lr, rel=1e-2)


def test_recommend_cyclic_uses_smiths_bounds():
    r = range_test_result()
    low, high = r.bounds()
    assert low.lr < high.lr
    s = r.recommend(400, "cyclic", cycles=2)
    v = np.asarray(s(np.arange(401)))
    assert v[0] == pytest.approx(low.lr, rel=1e-2)
    assert v.max() == pytest.approx(high.lr, rel=1e-2)
    assert v[100] == v.max() and v[200] == pytest.approx(v[0])


def test_recommend_schedule_drives_lrkit_torch_scheduler():
    torch = pytest.importorskip("torch")
    from lrkit.torch import Scheduler

    s = range_test_result().recommend(10, "one_cycle")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = Scheduler(opt, s)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(lrs, [s(t) for t in range(10)], rtol=1e-12)


def test_recommend_rejects_bad_input():
    r = range_test_result()
    with pytest.raises(ValueError, match="policy must be one of"):
        r.recommend(100, "linear")
    with pytest.raises(ValueError, match="total_steps"):
        r.recommend(1, "one_cycle")


def test_recommend_hints_at_the_policy_name() -> None:
    with pytest.raises(ScheduleError, match=r"got 'onecycle'; did you mean 'one_cycle'\?"):
        recommend(noisy_result(), 1000, "onecycle")
    with pytest.raises(ScheduleError, match=r"total_steps must be an int >= 2"):
        recommend(noisy_result(), 1, "one_cycle")


def test_a_peak_rule_with_a_bad_constant_is_refused_when_built() -> None:
    from lrkit.finder.recommend import PeakRule

    with pytest.raises(ScheduleError, match="unknown name 'nope'"):
        PeakRule("x", "nope")
    with pytest.raises(ScheduleError, match=r"PeakRule\(\): factor must be > 0, got 0.0"):
        PeakRule("x", "valley", 0.0)
    with pytest.raises(ScheduleError, match="by_optimizer family must be one of 'sgd', 'adam'"):
        PeakRule("x", "valley", 4.0, (("rmsprop", 2.0),))
    with pytest.raises(ScheduleError, match=r"by_optimizer\['adam'\]"):
        PeakRule("x", "valley", 4.0, (("adam", float("nan")),))


def test_recommend_warns_when_a_per_family_rule_meets_an_unknown_family() -> None:
    import warnings

    r = _result()
    with pytest.warns(UserWarning, match=r"optimizer family unknown: valley x 4, SGD's"):
        recommend(r, 500, "cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recommend(r, 500, "cosine", optimizer="adamw")  # known
        recommend(r, 500, "one_cycle")  # one multiplier for every family
    assert "optimizer family unknown" in str(r)
    assert "optimizer family adam" in str(
        RangeTestResult(r.lrs, r.losses, r.smoothed, optimizer="adam")
    )


def test_recommend_refuses_a_sweep_or_curve_too_short_to_read() -> None:
    from lrkit.finder import RangeTest
    from lrkit.finder.recommend import MIN_NUM_STEPS, MIN_POINTS, peak_rule

    test = RangeTest(start=1e-3, end=1.0, num_steps=2)
    for _ in test:
        test.record(1.0)
    short = test.result()
    with pytest.raises(ScheduleError, match=r"swept 2 steps; .* num_steps in \[20, 1000000\]"):
        recommend(short, 1000)
    with pytest.raises(ScheduleError, match="swept 2 steps"):
        short.recommend(1000, "cyclic")
    with pytest.raises(ScheduleError, match=r"PeakRule.peak\(\): the range test swept 2"):
        peak_rule("valley_x4").peak(short)
    r = _result()  # 41 points, num_steps 100 (the default of a hand-made result)
    k = MIN_POINTS - 1
    diverged = RangeTestResult(r.lrs[:k], r.losses[:k], r.smoothed[:k], stop_reason="diverged")
    with pytest.raises(ScheduleError, match=r"recorded 9 points .* at least 10: lower the start"):
        recommend(diverged, 1000)
    k = MIN_POINTS
    cut = RangeTestResult(r.lrs[:k], r.losses[:k], r.smoothed[:k], num_steps=MIN_NUM_STEPS)
    assert recommend(cut, 1000).peak > 0  # the minimum is enough

"""LR range test core: sweep, smoothing, stopping, suggestion rules vs their reference algorithms,
the robust lrkit rule, results and recommendations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import lrkit
from lrkit.families import Cyclic
from lrkit.finder import RangeTest, RangeTestResult, Suggestion, suggestions
from lrkit.finder.smoothing import EMA, ema, robust_smooth
from lrkit.presets import OneCycle

# ---------------------------------------------------------------------------------------------
# Reference algorithms, transcribed from the libraries' sources
# (torch-lr-finder 0.2.2 torch_lr_finder/lr_finder.py; fastai fastai/callback/schedule.py).


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


# ---------------------------------------------------------------------------------------------
# Sweep


def test_exp_sweep_matches_torch_lr_finder_exponential_lr():
    lrs = RangeTest(start=1e-7, end=10.0, num_steps=100).planned_lrs
    # numpy's vectorised pow may differ from C pow by one ulp
    np.testing.assert_allclose(lrs, tlf_exp_lrs(1e-7, 10.0, 100), rtol=4e-16, atol=0)
    assert lrs[0] == 1e-7 and lrs[-1] == 10.0


def test_linear_sweep_matches_torch_lr_finder_linear_lr_bitwise():
    assert list(RangeTest(1e-3, 1.0, 50, mode="linear").planned_lrs) == tlf_linear_lrs(
        1e-3, 1.0, 50
    )


def test_sweep_is_an_lrkit_schedule():
    test = RangeTest(1e-4, 1.0, 5)
    assert isinstance(test.schedule, lrkit.Schedule)
    assert lrkit.parse(str(test.schedule)) == test.schedule
    assert [test.schedule(i) for i in range(5)] == list(test.planned_lrs)


def test_cycle_runs_low_high_low_triangle():
    up = RangeTest(1e-4, 1.0, 5).planned_lrs
    tri = RangeTest(1e-4, 1.0, 5, cycle=True).planned_lrs
    assert len(tri) == 9
    np.testing.assert_allclose(tri, list(up) + list(up[::-1][1:]), rtol=1e-15)
    lin = RangeTest(0.0 + 1e-3, 1.0, 5, mode="linear", cycle=True)
    assert isinstance(lin.schedule, Cyclic)
    rise = [1e-3, 0.25075, 0.5005, 0.75025, 1.0]
    np.testing.assert_allclose(lin.planned_lrs, rise + rise[::-1][1:])


def test_iteration_yields_planned_lrs_and_requires_record():
    test = RangeTest(1e-3, 1.0, 4, smooth=0.0, diverge=None)
    seen = []
    for lr in test:
        seen.append(lr)
        test.record(1.0)
    assert seen == list(test.planned_lrs)
    assert test.stop_reason == "completed"
    test2 = RangeTest(1e-3, 1.0, 4)
    it = iter(test2)
    next(it)
    with pytest.raises(RuntimeError, match="record"):
        next(it)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": 0.0}, "start"),
        ({"end": 1e-8}, "end"),
        ({"num_steps": 1}, "num_steps"),
        ({"mode": "cos"}, "mode"),
        ({"smooth": 1.0}, "smooth"),
        ({"diverge": 1.0}, "diverge"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=f"RangeTest: {match}"):
        RangeTest(**kwargs)


# ---------------------------------------------------------------------------------------------
# Smoothing and stopping


def test_ema_bias_correction_matches_fastai_avg_smooth_loss():
    rng = np.random.default_rng(0)
    losses = list(rng.uniform(1, 3, 50))
    np.testing.assert_allclose(ema(losses, 0.02), fastai_smooth(losses, 0.98), rtol=1e-12)
    # the first value is the first loss, not 5 % of it
    assert EMA(0.05).update(2.0) == pytest.approx(2.0, rel=1e-14)


def test_ema_formula_and_no_smoothing():
    e = EMA(0.25)
    a, b = e.update(1.0), e.update(5.0)
    assert a == 1.0
    assert b == pytest.approx((0.75 * 0.25 * 1.0 + 0.25 * 5.0) / (1 - 0.75**2))
    assert ema([3.0, 1.0, 2.0], 0.0).tolist() == [3.0, 1.0, 2.0]


def test_divergence_stops_when_smoothed_loss_exceeds_factor_times_best():
    test = RangeTest(1e-3, 1.0, 20, smooth=0.0, diverge=4.0)
    losses = [2.0, 1.0, 0.5, 1.9, 2.1, 9.0, 9.0]
    recorded = 0
    for lr, loss in zip(test, losses, strict=False):
        del lr
        recorded += 1
        if test.record(loss):
            break
    assert test.stop_reason == "diverged"
    assert recorded == 5  # 2.1 > 4 * 0.5 stops; the diverging point is kept
    assert test.result().losses == (2.0, 1.0, 0.5, 1.9, 2.1)


def test_divergence_uses_the_smoothed_loss():
    test = RangeTest(1e-3, 1.0, 20, smooth=0.5, diverge=2.0)
    for lr in test:
        del lr
        if test.record(10.0 if test.step == 3 else 1.0):
            break
    # raw 10 is 10x the best, but the EMA ((0.5,0.25,0.125) weights) stays below 2x
    r = test.result()
    assert r.smoothed[3] > 2.0 and test.stop_reason == "diverged" and len(r) == 4
    test = RangeTest(1e-3, 1.0, 20, smooth=0.5, diverge=20.0)
    for _ in test:
        test.record(10.0 if test.step == 3 else 1.0)
    assert test.stop_reason == "completed"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nonfinite_loss_ends_cleanly_and_is_not_recorded(bad):
    test = RangeTest(1e-3, 1.0, 30)
    for lr in test:
        test.record(1.0 if lr < 0.05 else bad)
    r = test.result()
    assert r.stop_reason == "nonfinite"
    assert all(math.isfinite(v) for v in r.losses + r.smoothed)
    assert max(r.lrs) < 0.05
    for name in suggestions.names():
        s = r.suggest(name)
        assert math.isfinite(s.lr) and 0 <= s.index < len(r)


def test_nan_on_first_step_gives_empty_result_and_clear_error():
    test = RangeTest(1e-3, 1.0, 10)
    for _ in test:
        test.record(float("nan"))
    r = test.result()
    assert len(r) == 0
    with pytest.raises(ValueError, match="no finite loss"):
        r.suggest("lrkit")


# ---------------------------------------------------------------------------------------------
# Suggestion rules vs reference algorithms


@pytest.mark.parametrize("seed", range(6))
def test_steepest_matches_torch_lr_finder(seed):
    lrs, raw = curves(seed)
    sm = ema(raw, 0.05)
    assert suggestions.steepest(lrs, sm).lr == tlf_steepest(list(lrs), list(sm))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [100, 60])
def test_valley_steep_minimum_match_fastai(seed, n):
    lrs, raw = curves(seed, n=n, noise=0.1)
    sm = np.asarray(fastai_smooth(list(raw)))
    tl, tg = fastai_trim(lrs, sm, n)
    assert suggestions.valley(lrs, sm).lr == fastai_valley(tl, tg)
    assert suggestions.steep(lrs, sm).lr == fastai_steep(tl, tg)
    assert suggestions.minimum(lrs, sm).lr == fastai_minimum(tl, tg)


def test_valley_matches_fastai_on_random_walks_including_tie_quirks():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(3, 40))
        y = np.round(rng.standard_normal(n).cumsum(), 1)  # many ties
        x = np.geomspace(1e-4, 1.0, n)
        got = suggestions.valley(x, y, skip_start=0, skip_end=0)
        assert got.lr == fastai_valley(x, y)
        assert got.lr == x[got.index]


def test_suggestion_rules_registry_and_signature():
    assert {"steepest", "valley", "minimum", "steep", "lrkit"} <= set(suggestions.names())
    lrs, raw = curves(0)
    for name in suggestions.names():
        s = suggestions.get(name).fn(lrs, raw)
        assert isinstance(s, Suggestion) and 0 <= s.index < len(lrs)
    with pytest.raises(ValueError, match="unknown name 'nope'"):
        suggestions.get("nope")


def test_register_a_custom_rule():
    @suggestions.register("test-last-but-one", curve="raw")
    def last_but_one(lrs, losses):
        return Suggestion(float(np.asarray(lrs)[-2]), len(lrs) - 2)

    try:
        r = RangeTestResult((1.0, 2.0, 3.0), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0))
        assert r.suggest("test-last-but-one") == Suggestion(2.0, 1)
        with pytest.raises(ValueError, match="already exists"):
            suggestions.register("test-last-but-one")(last_but_one)
    finally:
        suggestions._RULES.pop("test-last-but-one")


# ---------------------------------------------------------------------------------------------
# lrkit's robust rule


def _true_min_lr(n=100):
    lrs, _ = curves(0, n=n, noise=0.0)
    _, clean = curves(0, n=n, noise=0.0)
    return float(lrs[int(np.argmin(clean))])


def test_lrkit_rule_on_clean_curve_is_a_quarter_of_where_the_loss_stops_falling():
    lrs, clean = curves(0, noise=0.0)
    s = suggestions.lrkit_rule(lrs, clean)
    ratio = _true_min_lr() / s.lr
    assert 2.5 <= ratio <= 6  # factor 4, the centered window moves a sharp minimum slightly left
    assert suggestions.lrkit_rule(lrs, clean, factor=10.0).lr == pytest.approx(s.lr * 0.4)


@pytest.mark.parametrize("seed", range(10))
def test_lrkit_rule_is_stable_under_heavy_noise(seed):
    lrs, clean = curves(0, noise=0.0)
    ref = suggestions.lrkit_rule(lrs, clean).lr
    _, noisy = curves(seed, noise=0.25)  # noise ~ 15 % of the fall
    got = suggestions.lrkit_rule(lrs, noisy).lr
    assert abs(math.log10(got / ref)) <= 0.5
    # torch-lr-finder's rule on the same curves is far off for some seeds (its issue #106)


def test_steepest_is_fooled_by_noise_where_lrkit_is_not():
    lrs, clean = curves(0, noise=0.0)
    ref = suggestions.lrkit_rule(lrs, clean).lr
    errs_lrkit, errs_steepest = [], []
    for seed in range(20):
        _, noisy = curves(seed, noise=0.25)
        errs_lrkit.append(abs(math.log10(suggestions.lrkit_rule(lrs, noisy).lr / ref)))
        errs_steepest.append(abs(math.log10(suggestions.steepest(lrs, ema(noisy, 0.05)).lr / ref)))
    assert max(errs_lrkit) < 0.5 < max(errs_steepest)


def test_lrkit_rule_ignores_early_spikes():
    lrs, clean = curves(0, noise=0.0)
    ref = suggestions.lrkit_rule(lrs, clean)
    spiky = clean.copy()
    spiky[[3, 4, 12, 30]] = [0.01, 25.0, 0.02, 0.05]  # spikes up and down, early
    assert suggestions.lrkit_rule(lrs, spiky) == ref
    # fastai's minimum is fooled by the downward spike
    assert suggestions.minimum(lrs, spiky).lr == lrs[12] / 10


def test_lrkit_rule_on_a_curve_that_never_diverges():
    lrs = np.geomspace(1e-5, 1e-1, 80)
    losses = 2.0 - 1.5 / (1 + np.exp(-(np.log10(lrs) + 3.0) * 3))  # falls, then flat, no rise
    s = suggestions.lrkit_rule(lrs, losses)
    # the loss never stops falling within the sweep: the end is a lower bound of the edge
    assert s.lr == pytest.approx(lrs[-1] / 4)
    assert lrs[s.index] <= s.lr < lrs[s.index + 1]


# ---------------------------------------------------------------------------------------------
# Result object


def _result(n=100, seed=0, **kw) -> RangeTestResult:
    test = RangeTest(1e-7, 10.0, n, **kw)
    _, raw = curves(seed, n=test.total_steps)
    for lr in test:
        del lr
        test.record(raw[test.step])
    return test.result()


def test_result_roundtrips_through_json():
    r = _result()
    d = json.loads(json.dumps(r.to_dict()))
    assert RangeTestResult.from_dict(d) == r
    with pytest.raises(ValueError, match="unknown keys"):
        RangeTestResult.from_dict({**d, "bogus": 1})


def test_result_curves_and_rules_use_the_rising_half_of_a_cycle():
    r = _result(n=40, cycle=True, diverge=None)
    assert len(r) == 79 and r.rising == 40
    x, _ = r.curve()
    assert len(x) == 40 and np.all(np.diff(x) > 0)
    for s in r.suggestions().values():
        assert s.index < 40


def test_plot_marks_suggestions(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = _result()
    fig, ax = plt.subplots()
    out = r.plot(ax=ax, rules=("lrkit", "valley"))
    assert out is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("lrkit:") for lab in labels)
    assert ax.get_xscale() == "log"
    fig.savefig(tmp_path / "p.png")
    plt.close(fig)


def test_plot_draws_the_curve_each_rule_reads_and_puts_its_marker_on_it():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = _result()
    fig, ax = plt.subplots()
    r.plot(ax=ax, rules=("lrkit", "valley"), raw=False)
    lines = {line.get_label(): line for line in ax.get_lines()}
    main = next(v for k, v in lines.items() if k.startswith("smoothed loss"))
    ema_line = next(v for k, v in lines.items() if k.startswith("EMA"))
    x, raw = r.curve("raw")
    np.testing.assert_allclose(main.get_ydata(), suggestions.lrkit_smooth(raw))
    np.testing.assert_allclose(ema_line.get_ydata(), r.curve("smoothed")[1])
    assert not np.allclose(main.get_ydata(), ema_line.get_ydata())  # the EMA lags
    for name, curve in (("lrkit", main), ("valley", ema_line)):
        s = r.suggest(name)
        (yv,) = lines[f"{name}: {s.lr:.3g}"].get_ydata()
        assert yv == pytest.approx(np.interp(np.log(s.lr), np.log(x), curve.get_ydata()))
    plt.close(fig)


def test_plot_of_a_cycle_test_draws_the_falling_half_with_the_rules_smoothing():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = _result(n=40, cycle=True, diverge=None)
    ax = r.plot(rules=None)
    (fall,) = [line for line in ax.get_lines() if line.get_label() == "falling"]
    np.testing.assert_allclose(fall.get_ydata(), suggestions.lrkit_smooth(r.losses[39:]))
    plt.close(ax.figure)


def test_plot_of_the_default_rule_alone_draws_no_ema():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = _result().plot(rules=("lrkit",))
    assert not any(line.get_label().startswith("EMA") for line in ax.get_lines())
    plt.close(ax.figure)


def test_plot_on_its_own_figure_keeps_the_axis_labels_inside_the_image(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = _result().plot()
    fig = ax.figure
    fig.savefig(tmp_path / "p.png")  # lays the figure out
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
        ext = label.get_window_extent(renderer)
        assert box.x0 <= ext.x0 and ext.x1 <= box.x1, label.get_text()
        assert box.y0 <= ext.y0 and ext.y1 <= box.y1, label.get_text()
    plt.close(fig)


def test_plot_of_a_curve_lowest_at_its_start_still_shows_the_curve():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lrs = np.geomspace(1e-7, 1.0, 60)
    losses = 1.0 + 0.2 * np.sin(np.arange(60) / 4.0)
    losses[:3] = 0.5  # a lucky start: the smoothed minimum is the first point
    r = RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), smoothed=tuple(losses))
    ax = r.plot(rules=("lrkit",))
    _, hi = ax.get_ylim()
    assert hi > float(np.median(suggestions.lrkit_smooth(losses)))
    plt.close(ax.figure)


def test_rule_curve_is_the_rules_own_smoothing_of_its_input():
    r = _result()
    _, y = suggestions.rule_curve(r, "lrkit")
    np.testing.assert_array_equal(y, suggestions.lrkit_smooth(r.curve("raw")[1]))
    np.testing.assert_array_equal(suggestions.rule_curve(r, "valley")[1], r.curve()[1])
    assert suggestions.get("valley").smoother is None


# ---------------------------------------------------------------------------------------------
# Recommendations


def test_recommend_one_cycle_has_peak_at_the_suggestion():
    r = _result()
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
    r = _result()
    s = r.recommend(500, policy)
    assert isinstance(s, lrkit.Schedule)
    v = np.asarray(s(np.arange(500)))
    assert np.all(np.isfinite(v)) and np.all(v >= 0)
    assert lrkit.parse(str(s)) == s
    assert lrkit.from_dict(s.to_dict()) == s
    if policy in ("wsd", "cosine"):  # valley x 4 (cosine: the optimizer family is unknown)
        assert float(v.max()) == pytest.approx(4 * r.suggest("valley").lr, rel=1e-2)
        old = np.asarray(r.recommend(500, policy, rule="lrkit")(np.arange(500)))
        assert float(old.max()) == pytest.approx(r.suggest("lrkit").lr, rel=1e-2)


def test_recommend_cyclic_uses_smiths_bounds():
    r = _result()
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

    s = _result().recommend(10, "one_cycle")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = Scheduler(opt, s)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(lrs, [s(t) for t in range(10)], rtol=1e-12)


def test_recommend_rejects_bad_input():
    r = _result()
    with pytest.raises(ValueError, match="policy must be one of"):
        r.recommend(100, "linear")
    with pytest.raises(ValueError, match="total_steps"):
        r.recommend(1, "one_cycle")


def test_robust_smooth_has_no_lag():
    y = np.r_[np.ones(20), np.zeros(20)]
    z = robust_smooth(y, 5)
    assert z[18] > 0.5 > z[21]  # the step stays where it is (an EMA would move it right)


def test_finished_range_test_raises_a_schedule_state_error() -> None:
    test = RangeTest(1e-4, 1.0, 2)
    for lr in test:
        test.record(1.0 + lr)
    for call in (test.lr, lambda: test.record(1.0)):
        with pytest.raises(RuntimeError, match="finished") as info:
            call()
        assert isinstance(info.value, lrkit.ScheduleError)

"""The formula of each leaf, preset and combinator, checked exactly at hand-computed steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrkit


def smith_triangular(it: int, step: int, low: float, high: float) -> float:
    cycle = math.floor(1 + it / (2 * step))
    x = abs(it / step - 2 * cycle + 1)
    return low + (high - low) * max(0.0, 1 - x)


def test_triangular_matches_smith_formula() -> None:
    s = lrkit.cyclic(low=0.001, high=0.006, half_cycle=2000)
    for it in (0, 1, 500, 1000, 1999, 2000, 2001, 3000, 4000, 4500, 7999, 8000, 123457):
        assert s(it) == smith_triangular(it, 2000, 0.001, 0.006)
    assert s(1000) == pytest.approx(0.0035, rel=1e-15)
    assert s(2000) == pytest.approx(0.006, rel=1e-15)
    assert s(4000) == pytest.approx(0.001, rel=1e-15)


def test_triangular2_halves_the_amplitude_each_cycle() -> None:
    s = lrkit.cyclic(low=0.0, high=1.0, half_cycle=10, mode="triangular2")
    peaks = [s(10 + 20 * k) for k in range(4)]
    assert peaks == [1.0, 0.5, 0.25, 0.125]


def test_exp_range_scales_by_gamma_to_the_iteration() -> None:
    s = lrkit.cyclic(low=0.0, high=1.0, half_cycle=10, mode="exp_range", factor=0.99)
    assert s(10) == pytest.approx(0.99**10, rel=1e-15)
    assert s(30) == pytest.approx(0.99**30, rel=1e-15)


def test_cyclic_with_separate_descent_length() -> None:
    s = lrkit.cyclic(low=0.0, high=1.0, half_cycle=2, half_cycle_down=6)
    assert [s(t) for t in range(9)] == pytest.approx(
        [0.0, 0.5, 1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0.0], rel=1e-15, abs=1e-16
    )


def test_exponential_rate_is_alpha_e_to_minus_kt() -> None:
    s = lrkit.exponential(0.1, rate=0.05)
    for t in (0, 1, 7, 100, 1000):
        assert s(t) == pytest.approx(0.1 * math.exp(-0.05 * t), rel=1e-15)


def test_exponential_gamma_staircase_and_floor() -> None:
    s = lrkit.exponential(1.0, 0.5, every=10, staircase=True, final=0.1)
    assert [s(t) for t in (0, 9, 10, 19, 20, 30, 40, 1000)] == [
        1.0, 1.0, 0.5, 0.5, 0.25, 0.125, 0.1, 0.1,
    ]  # fmt: skip


def test_step_halves_every_n_steps() -> None:
    s = lrkit.step(0.1, every=30)
    assert [s(t) for t in (0, 29, 30, 59, 60, 90)] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]


def test_multistep_counts_milestones() -> None:
    s = lrkit.multistep(1.0, milestones=[3, 5, 5], factor=0.5)
    assert [s(t) for t in range(7)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.125, 0.125]


def test_polynomial_and_linear_decay() -> None:
    s = lrkit.polynomial(start=1.0, end=0.1, steps=10, power=2.0)
    assert s(5) == pytest.approx(0.1 + 0.9 * 0.25, rel=1e-15)
    assert s(10) == 0.1 and s(20) == 0.1
    line = lrkit.linear(start=0.0, end=2.0, steps=4)
    assert [line(t) for t in range(6)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]


def test_cosine_formula_and_accuracy_near_zero() -> None:
    s = lrkit.cosine(start=1.0, end=0.0, steps=10_000)
    t = np.arange(10_001)
    exact = (1 + np.cos(np.pi * t / 10_000)) / 2
    np.testing.assert_allclose(s(t)[:5001], exact[:5001], rtol=1e-15)
    # near the end, sin²(π q/2) keeps full relative precision: (π/2·q)² for tiny q
    q = 1 / 10_000
    assert s(9_999) == pytest.approx(math.sin(math.pi * q / 2) ** 2, rel=1e-15)


def test_warm_restarts_period_and_multiplier() -> None:
    s = lrkit.cosine(start=1.0, end=0.0, steps=10).repeat(mult=2.0)
    starts = [0, 10, 30, 70, 150]
    for begin in starts:
        assert s(begin) == 1.0
    assert s(20) == pytest.approx(0.5, rel=1e-15)  # middle of the 20-step second period
    decayed = lrkit.cosine(start=1.0, steps=10).repeat(decay=0.5, cycles=3)
    assert [decayed(t) for t in (0, 10, 20)] == [1.0, 0.5, 0.25]
    assert decayed.duration == 30
    assert decayed(29) == pytest.approx(0.25 * (1 + math.cos(math.pi * 0.9)) / 2, rel=1e-14)
    assert decayed(30) == decayed(1000) == 0.0  # holds the end of the last cycle


def test_one_cycle_phase_ends_match_pytorch_definition() -> None:
    s = lrkit.one_cycle(peak=1.0, steps=100)
    assert s(0) == pytest.approx(1 / 25, rel=1e-15)
    # the peak sits at pct_start·total − 1 = 29, the minimum at total − 1 = 99
    assert s(29) == pytest.approx(1.0, rel=1e-12)
    assert s(99) == pytest.approx(1 / 25 / 1e4, rel=1e-9)
    assert s(100) == s(99) and s(10**6) == s(99)  # holds, unlike OneCycleLR's error (#38170)
    m = lrkit.one_cycle_momentum(steps=100)
    assert (m(0), m(29), m(99)) == pytest.approx((0.95, 0.85, 0.95), rel=1e-12)


def test_wsd_phases_and_one_minus_sqrt_cooldown() -> None:
    s = lrkit.wsd(peak=1.0, steps=100, warmup=10, decay=0.2, shape="1-sqrt")
    assert s(0) == 0.0 and s(5) == 0.5 and s(10) == 1.0 and s(80) == 1.0
    assert s(85) == pytest.approx(1 - math.sqrt(5 / 20), rel=1e-15)
    assert s(100) == 0.0


def test_inverse_sqrt_after_warmup() -> None:
    s = lrkit.inverse_sqrt(peak=1.0, warmup=100)
    assert s(50) == 0.5 and s(100) == 1.0
    assert s(400) == pytest.approx(1 / math.sqrt(4.0), rel=1e-15)


def test_rex_matches_its_paper_formula() -> None:
    s = lrkit.rex(start=1.0, end=0.0, steps=100)
    for t in (0, 10, 50, 90, 99, 100):
        z = 1 - t / 100
        assert s(t) == pytest.approx(z / (0.5 + 0.5 * z), rel=1e-14, abs=1e-300)


def test_mirror_gives_momentum_inverse_to_the_lr() -> None:
    lr = lrkit.cyclic(low=0.01, high=0.1, half_cycle=10)
    momentum = lr.mirror(0.8, 0.9)
    assert momentum(0) == pytest.approx(0.9) and momentum(10) == pytest.approx(0.8)
    t = np.arange(60)
    assert np.all(np.diff(lr(t)) * np.diff(momentum(t)) <= 0)


def test_warmup_ramps_to_whatever_the_next_phase_starts_at() -> None:
    s = lrkit.warmup(10) >> lrkit.cosine(start=0.3, steps=90)
    assert s(0) == 0.0 and s(5) == pytest.approx(0.15) and s(10) == 0.3
    exp = lrkit.warmup(2, start=0.01, shape="exp") >> lrkit.constant(1.0)
    assert [exp(t) for t in range(3)] == pytest.approx([0.01, 0.1, 1.0], rel=1e-14)
    const = lrkit.warmup(3, start=0.1, shape="constant") >> lrkit.constant(1.0)
    assert [const(t) for t in range(5)] == [0.1, 0.1, 0.1, 1.0, 1.0]


def test_sequence_parts_run_on_local_time() -> None:
    s = lrkit.linear(start=1.0, end=0.0, steps=4) >> lrkit.linear(start=2.0, end=0.0, steps=4)
    assert [s(t) for t in range(10)] == [1.0, 0.75, 0.5, 0.25, 2.0, 1.5, 1.0, 0.5, 0.0, 0.0]


def test_scale_clip_and_shift() -> None:
    base = lrkit.linear(start=1.0, end=0.0, steps=10)
    assert (base * 0.5)(0) == 0.5 and (2 * base)(5) == 1.0
    clipped = base.clip(low=0.2, high=0.8)
    assert [clipped(t) for t in (0, 5, 10)] == [0.8, 0.5, 0.2]
    shifted = base.shift(5)
    assert [shifted(t) for t in (0, 5, 10, 15)] == [1.0, 1.0, 0.5, 0.0]
    assert shifted.duration == 15


def test_shares_of_training_bind() -> None:
    s = lrkit.warmup("5%") >> lrkit.cosine(start=0.1, steps=lrkit.pct(95))
    assert not s.is_bound
    bound = s.bind(1000)
    assert bound.is_bound and bound.duration == 1000
    assert str(bound) == "warmup(50) >> cosine(start=0.1, steps=950)"
    with pytest.raises(lrkit.UnboundScheduleError, match=r"bind\(total_steps\)"):
        s(3)


def test_piecewise_constant_and_linear() -> None:
    s = lrkit.piecewise_constant(boundaries=[2, 4], values=[1.0, 0.5, 0.1])
    assert [s(t) for t in range(6)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    line = lrkit.piecewise_linear([[0, 0.0], [10, 1.0], [20, 0.5]])
    assert [line(t) for t in (0, 5, 10, 15, 20, 30)] == [0.0, 0.5, 1.0, 0.75, 0.5, 0.5]


def test_a_nonzero_share_is_at_least_one_step() -> None:
    s = lrkit.warmup("5%") >> lrkit.cosine(start=1.0, steps="95%")
    # phase boundaries are rounded, not lengths: the parts add up to exactly the 10 steps
    assert str(s.bind(10)) == "warmup(1) >> cosine(start=1.0, steps=9)"
    assert lrkit.pct(0).resolve(10) == 0 and lrkit.pct(0.001).resolve(10) == 1


def test_decays_reach_zero_without_denormals_and_stay_exact_before() -> None:
    s = lrkit.step(1.0, every=1, factor=0.1)
    assert s(5) == pytest.approx(1e-5, rel=1e-15)
    assert s(295) == pytest.approx(1e-295, rel=1e-12)
    assert s(400) == 0.0 and s(10**9) == 0.0
    e = lrkit.exponential(1.0, rate=1.0)
    assert e(10) == pytest.approx(math.exp(-10), rel=1e-15) and e(10_000) == 0.0

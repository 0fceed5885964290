"""lrkit.finder.runner: the sweep (against torch-lr-finder's), iteration and record, the divergence
and non-finite stops, and arguments: every bad one is rejected up front with a ``ScheduleError``
naming it (no hang on a huge ``num_steps``, no internal ``exponential(): gamma`` error on a sweep
wider than floats allow)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from _finder_curves import (
    tlf_exp_lrs,
    tlf_linear_lrs,
)
from _fuzz import examples
from lrkit.families import Cyclic
from lrkit.finder import (
    RangeTest,
    suggestions,
)
from lrkit.finder.runner import MAX_NUM_STEPS

HUGE = 10**400


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"num_steps": 10**9}, "num_steps"),
        ({"num_steps": HUGE}, "num_steps"),
        ({"num_steps": MAX_NUM_STEPS + 1}, "num_steps"),
        ({"num_steps": 5.0}, "num_steps"),
        ({"start": 1e-300, "end": 1e300}, "end/start"),
        ({"start": 1e-200, "end": 1.0}, "end/start"),
        ({"start": HUGE}, "start"),
        ({"end": HUGE}, "end"),
        ({"start": math.nan}, "start"),
        ({"end": math.inf}, "end"),
        ({"start": "1e-3"}, "start"),
        ({"smooth": HUGE}, "smooth"),
        ({"diverge": HUGE}, "diverge"),
        ({"diverge": math.inf}, "diverge"),
        ({"cycle": 1}, "cycle"),
    ],
)
def test_bad_arguments_are_rejected_up_front_naming_them(
    kwargs: dict[str, Any], param: str
) -> None:
    with pytest.raises(lrkit.ScheduleError, match=f"RangeTest: {param} must") as info:
        RangeTest(**kwargs)
    assert isinstance(info.value, ValueError)
    assert "gamma" not in str(info.value)
    assert "exponential()" not in str(info.value)
    assert len(str(info.value)) < 400


def test_wide_linear_sweeps_and_numpy_arguments_work() -> None:
    test = RangeTest(start=1e-300, end=1e300, num_steps=3, mode="linear")
    assert test.planned_lrs == (1e-300, 5e299, 1e300)
    test = RangeTest(start=np.float32(1e-4), end=np.float64(1.0), num_steps=np.int64(5))
    assert len(test.planned_lrs) == 5 and test.planned_lrs[-1] == pytest.approx(1.0)


def test_the_widest_exp_sweep_reaches_its_end_both_ways() -> None:
    test = RangeTest(start=1e-90, end=1e10, num_steps=11, cycle=True)
    assert test.planned_lrs[0] == 1e-90
    assert test.planned_lrs[10] == pytest.approx(1e10)
    assert test.planned_lrs[-1] == pytest.approx(1e-90)
    assert all(lr > 0.0 and math.isfinite(lr) for lr in test.planned_lrs)


@pytest.mark.parametrize("loss", ["0.5", b"1", True, None])
def test_record_rejects_text_and_bools(loss: object) -> None:
    test = RangeTest(num_steps=3)
    next(iter(test))
    with pytest.raises(TypeError, match=r"RangeTest\.record: loss"):
        test.record(loss)


def test_record_of_a_huge_integer_loss_stops_as_nonfinite() -> None:
    test = RangeTest(num_steps=3)
    for _ in test:
        assert test.record(HUGE)
    assert test.stop_reason == "nonfinite"


@settings(max_examples=examples(150), deadline=None)
@given(
    start=st.one_of(st.floats(), st.integers(-HUGE, HUGE)),
    end=st.one_of(st.floats(), st.integers(-HUGE, HUGE)),
    num_steps=st.one_of(st.integers(-5, 10**12), st.floats()),
    mode=st.sampled_from(["exp", "linear"]),
    cycle=st.booleans(),
)
def test_fuzzed_arguments_build_a_finite_sweep_or_raise_a_schedule_error(
    start: float, end: float, num_steps: int, mode: str, cycle: bool
) -> None:
    try:
        test = RangeTest(
            start=start, end=end, num_steps=min(num_steps, 10**12), mode=mode, cycle=cycle
        )
    except (TypeError, ValueError) as err:
        assert isinstance(err, lrkit.ScheduleError)
        return
    lrs = np.asarray(test.planned_lrs)
    assert np.all(np.isfinite(lrs)) and np.all(lrs >= 0.0)
    assert lrs[0] == test.start


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


def test_finished_range_test_raises_a_schedule_state_error() -> None:
    test = RangeTest(1e-4, 1.0, 2)
    for lr in test:
        test.record(1.0 + lr)
    for call in (test.lr, lambda: test.record(1.0)):
        with pytest.raises(RuntimeError, match="finished") as info:
            call()
        assert isinstance(info.value, lrkit.ScheduleError)

"""``Schedule.bounds()`` and the overflow checks: no non-finite value at a finite step.

Every schedule knows closed-form bounds of its values (``s.bounds()``), checked once at
construction: a schedule that could overflow cannot be built, and the error names the parameter;
huge integers get ``ValueError``s. The core needs numpy only (``make test-floors`` has no torch):
the torch tests import it themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import lrkit
from _fuzz import examples
from lrkit import registry

HUGE = 10**400


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: lrkit.constant(1e308) * 2, r"scale\(\): factor=2.0 makes the values overflow"),
        (lambda: 2 * lrkit.constant(1e308), r"scale\(\): factor=2.0"),
        (
            lambda: lrkit.constant(1e200) * lrkit.constant(1e200),
            r"product\(\): the values of its parts \(1e\+200 \* 1e\+200\) overflow",
        ),
        (
            lambda: lrkit.constant(1e308) + lrkit.constant(1e308),
            r"add\(\): the values of its parts \(1e\+308 \+ 1e\+308\) overflow",
        ),
        (
            lambda: lrkit.multistep(1.0, milestones=[1, 2], factor=1e200),
            r"multistep\(\): factor=1e\+200 makes the values overflow",
        ),
        (
            lambda: lrkit.cosine(1.0, steps=10).repeat(decay=1e300, cycles=5),
            r"repeat\(\): decay=1e\+300 makes the values overflow",
        ),
        (
            lambda: lrkit.one_cycle(0.1, steps=100, div=1e-320),
            r"one_cycle\(\): div=1e-320 makes the values overflow",
        ),
        (
            lambda: lrkit.cosine(1.0, steps=10).repeat(mult=2.0, cycles=1100),
            r"repeat\(\): cycles=1100 with mult=2.0 lasts more than 2\*\*53 steps",
        ),
        (lambda: lrkit.step(1.0, every=1, factor=10.0, steps=400), r"step\(\): factor=10.0 makes"),
        (lambda: lrkit.constant(HUGE), r"constant\(\): value must be a finite number"),
        (
            lambda: lrkit.cosine(0.1, steps=HUGE),
            r"cosine\(\): steps must be an int in \[1, 2\*\*53\]",
        ),
        (lambda: lrkit.cosine(HUGE, steps=10), r"cosine\(\): start must be a finite number"),
        (
            lambda: lrkit.cosine(0.1, steps="50%").bind(HUGE),
            r"bind\(\): total_steps must be an int in \[1, 2\*\*53\]",
        ),
        (lambda: lrkit.constant(0.1)(HUGE), r"step must be a finite number >= 0"),
        (lambda: lrkit.constant(0.1) * HUGE, r"scale\(\): factor must be a finite number"),
        (lambda: lrkit.pct(HUGE), r"pct\(\): percent must be a number in \[0, 100\]"),
        (lambda: lrkit.constant(0.1).shift(HUGE), r"shift\(\): steps"),
        (
            lambda: lrkit.cosine(1.0, steps=10).repeat(mult=2.0, cycles=HUGE),
            r"repeat\(\): cycles=1000.* with mult=2.0 lasts more than 2\*\*53 steps",
        ),
        (
            lambda: lrkit.cosine(1.0, steps=10).repeat(mult=1.0 + 1e-15, cycles=10**16),
            r"repeat\(\): cycles=10000000000000000 .* lasts more than 2\*\*53 steps",
        ),
        (
            lambda: lrkit.constant(0.0, steps=10).repeat(decay=1e300, cycles=5),
            r"repeat\(\): decay=1e\+300 makes the values overflow",
        ),
        (
            lambda: lrkit.inverse_sqrt(peak=0.1, warmup=10, timescale=HUGE),
            r"inverse_sqrt\(\): timescale must be an int in \[1, 2\*\*53\]",
        ),
        (
            lambda: lrkit.cosine(1.0, steps=10).retarget(at=10, end=HUGE, new_end=200),
            r"retarget\(\): end must be an int in \[0, 2\*\*53\]",
        ),
        (
            lambda: lrkit.cosine(1.0, steps=10).retarget(at=10, end=20, new_end=-HUGE),
            r"retarget\(\): new_end must be an int >= 0",
        ),
    ],
)
def test_overflowing_schedules_raise_at_construction_naming_the_parameter(
    make: Callable[[], Any], message: str
) -> None:
    with pytest.raises(lrkit.ScheduleError, match=message) as info:
        make()
    assert isinstance(info.value, ValueError)
    assert len(str(info.value)) < 600  # huge integers are abbreviated


@pytest.mark.parametrize(
    "make",
    [
        lambda: lrkit.exponential(0, factor=3, staircase=True, final=0),
        lambda: lrkit.exponential(0.0, rate=-1.0, final=1.0),
        lambda: lrkit.exponential(1e-300, factor=1e300, final=1e308),
        lambda: lrkit.exponential(1e-300, rate=-50.0, final=1.7e308, every=3, staircase=True),
        lambda: lrkit.multistep(0.0, milestones=[1, 2], factor=1e200),
        lambda: lrkit.step(0.0, every=1, factor=10.0, steps=400),
    ],
)
def test_growth_from_zero_or_up_to_a_ceiling_never_computes_an_overflow(
    make: Callable[[], lrkit.Schedule],
) -> None:
    s = make()
    low, high = s.bounds()
    steps = np.array([0.0, 1.0, 2.0, 3.0, 7.0, 400.0, 10.0**6, 2.0**52])
    with np.errstate(all="raise"):
        values = s(steps)
        scalar = s(10**6)
    assert np.all(np.isfinite(values)) and math.isfinite(scalar)
    assert low <= values.min() and values.max() <= high and scalar == values[-2]


def test_growth_up_to_a_ceiling_holds_the_ceiling_exactly() -> None:
    s = lrkit.exponential(1e-300, factor=1e300, final=1e308)
    values = s(np.array([0.0, 1.0, 2.0, 3.0, 50.0])).tolist()
    assert values[:3] == pytest.approx([1e-300, 1.0, 1e300], rel=1e-12)
    assert values[3:] == [1e308, 1e308]
    assert lrkit.exponential(1.0, factor=2.0, final=5.0)(3) == 5.0


@pytest.mark.parametrize("mult", [2.0, 1e10, 1e14, 1.0 + 1e-15])
@pytest.mark.parametrize("cycles", [None, 1])
def test_endless_and_single_restarts_stay_finite_at_any_step(
    mult: float, cycles: int | None
) -> None:
    s = lrkit.cosine(1.0, steps=10).repeat(mult=mult, cycles=cycles)
    with np.errstate(all="raise"):
        values = s(np.array([0.0, 7.0, 10.0, 11.0, 2.0**52, 1e200, 1.7e308]))
    assert np.all((values >= 0.0) & (values <= 1.0))
    single = lrkit.cosine(1.0, steps=10).repeat(mult=1e308, cycles=1)
    with np.errstate(all="raise"):
        assert single(np.array([3.0, 1e300])).tolist() == [lrkit.cosine(1.0, steps=10)(3), 0.0]


def test_a_second_period_beyond_two_to_the_53_steps_is_refused() -> None:
    with pytest.raises(lrkit.ScheduleError, match=r"repeat\(\): mult=1e\+308 makes the second"):
        lrkit.cosine(1.0, steps=10).repeat(mult=1e308)


def test_mirror_stays_within_its_own_bounds_when_high_dwarfs_low() -> None:
    s = lrkit.cosine(start=0.1, steps=100).mirror(low=0.85, high=1e18)
    values = s(np.arange(0.0, 102.0))
    assert s.bounds() == (0.85, 1e18)
    assert s(0) == 0.85 and values.min() == 0.85 and values.max() == 1e18


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (
            lambda torch: lrkit.multistep(
                1.0, milestones=[torch.tensor(3), np.array(5)], factor=0.5
            ),
            "multistep(start=1.0, milestones=[3, 5], factor=0.5)",
        ),
        (
            lambda torch: lrkit.piecewise(
                [[torch.tensor(0), torch.tensor(1.0)], torch.tensor([10, 0])]
            ),
            "piecewise(points=[[0.0, 1.0], [10.0, 0.0]])",
        ),
        (
            lambda torch: lrkit.piecewise_constant(
                boundaries=[torch.tensor(10)], values=[torch.tensor(0.5), np.float32(0.25)]
            ),
            "piecewise_constant(boundaries=[10], values=[0.5, 0.25])",
        ),
        (lambda torch: lrkit.cosine(1.0, steps=torch.tensor(10)), "cosine(start=1.0, steps=10)"),
    ],
)
def test_zero_dimensional_tensors_are_read_as_numbers(
    make: Callable[[Any], lrkit.Schedule], text: str
) -> None:
    s = make(pytest.importorskip("torch"))
    assert str(s) == text and lrkit.parse(text) == s


def test_a_thousand_cycles_without_growth_work() -> None:
    s = lrkit.cosine(1.0, steps=10).repeat(cycles=1100)
    assert s.duration == 11000 and s(10999) == s(9) and s(20000) == 0.0 and s(11) == s(1)
    assert s.bounds() == (0.0, 1.0)


def test_inverse_sqrt_near_the_float_limit_divides_before_multiplying() -> None:
    s = lrkit.inverse_sqrt(1e308, warmup=10)
    with np.errstate(all="raise"):
        value = s(7)
        values = s(np.arange(300.0))
    assert value == pytest.approx(7e307, rel=1e-15)
    assert np.all(np.isfinite(values)) and values.max() == 1e308


def test_exp_warmup_from_a_subnormal_start_stays_finite() -> None:
    s = lrkit.warmup(10, start=1e-320, shape="exp") >> lrkit.cosine(0.1, steps=100)
    values = [s(t) for t in range(12)]
    assert all(math.isfinite(v) and v > 0.0 for v in values[1:10])
    assert values[0] == pytest.approx(1e-320, rel=1e-3) and values[10] == 0.1
    assert values[1] == pytest.approx(1e-320**0.9 * 0.1**0.1, rel=1e-9)
    assert np.all(np.isfinite(s(np.arange(12.0))))


@pytest.mark.parametrize("steps", [[math.nan, -5.0], [1.0, math.inf], [-1.0]])
def test_torch_steps_with_nan_or_negative_raise_like_numpy(steps: list[float]) -> None:
    torch = pytest.importorskip("torch")
    s = lrkit.cosine(1.0, steps=10)
    with pytest.raises(lrkit.ScheduleError, match="steps must be finite numbers >= 0") as numpy_err:
        s(np.array(steps))
    with pytest.raises(lrkit.ScheduleError) as torch_err:
        s(torch.tensor(steps, dtype=torch.float64))
    assert str(torch_err.value) == str(numpy_err.value)
    good = torch.tensor([0.0, 5.0], dtype=torch.float64)
    assert s(good).tolist() == s(np.array([0.0, 5.0])).tolist()


def test_bounds_of_compositions_are_closed_form() -> None:
    s = lrkit.warmup(5) >> lrkit.cosine(1.0, end=0.1, steps=10)
    assert s.bounds() == (0.0, 1.0)
    assert (s * 0.5).bounds() == (0.0, 0.5)
    assert (s + 0.5).bounds() == (0.5, 1.5)
    assert s.clip(low=0.2, high=0.8).bounds() == (0.2, 0.8)
    assert lrkit.multistep(1.0, milestones=[1, 2], factor=10.0).bounds() == (1.0, 100.0)
    assert lrkit.cosine(1.0, steps=10).repeat(decay=2.0, cycles=3).bounds() == (0.0, 4.0)
    assert lrkit.cyclic(low=0.1, high=1.0, half_cycle=5).mirror(0.85, 0.95).bounds() == (0.85, 0.95)


def test_momentum_schedules_can_be_checked_against_zero_one() -> None:
    low, high = lrkit.one_cycle_momentum(steps=100).bounds()
    assert 0.0 <= low <= high <= 1.0
    low, high = (lrkit.one_cycle_momentum(steps=100) * 2.0).bounds()
    assert high > 1.0  # what a momentum check would reject


def _examples() -> list[str]:
    return sorted(
        name
        for name in registry.names()
        if registry.get(name).kind in ("leaf", "preset", "combinator")
    )


@pytest.mark.parametrize("name", _examples())
def test_every_registered_schedule_has_bounds_that_hold(name: str) -> None:
    s = lrkit.parse(registry.get(name).example)
    if not s.is_bound:
        s = s.bind(1000)
    low, high = s.bounds()
    assert math.isfinite(low) and math.isfinite(high), f"{name}: bounds unknown"
    end = s.duration if s.duration is not None else 1000.0
    steps = np.concatenate([np.arange(0.0, min(end, 5000.0) + 2.0), [end, end * 3.7 + 11.0]])
    values = s(steps)
    slack = 1e-12 * max(1.0, abs(high))
    assert values.min() >= low - slack and values.max() <= high + slack, (name, low, high)


_EXTREME_FLOATS = st.one_of(
    st.sampled_from(
        [0.0, 5e-324, 1e-320, 1e-300, 1e-10, 0.5, 1.0, 2.0, 1e10, 1e200, 1e308, 1.7e308]
    ),
    st.sampled_from([math.inf, -math.inf, math.nan, -1.0, HUGE, -HUGE, 2**63, 2**53 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_EXTREME_INTS = st.one_of(
    st.sampled_from([0, 1, 2, 10, 1000, 2**53, 2**53 + 1, 2**63, HUGE, -1]),
    st.integers(-(10**20), 10**20),
)

_BUILDERS: list[Callable[[Any, Any], Any]] = [
    lambda x, n: lrkit.constant(x, steps=n),
    lambda x, n: lrkit.cosine(x, end=x / 7 if isinstance(x, float) else 0.0, steps=n),
    lambda x, n: lrkit.linear(1.0, end=x, steps=n),
    lambda x, n: lrkit.exponential(1.0, factor=x, steps=n),
    lambda x, n: lrkit.exponential(x, rate=0.5, every=n),
    lambda x, n: lrkit.step(1.0, every=n, factor=x, steps=1000),
    lambda x, n: lrkit.multistep(x, milestones=[n, n + 5], factor=3.0),
    lambda x, n: lrkit.multistep(1.0, milestones=[1, n], factor=x),
    lambda x, n: lrkit.inverse_sqrt(x, warmup=n),
    lambda x, n: lrkit.cyclic(low=0.0, high=x, half_cycle=n),
    lambda x, n: lrkit.one_cycle(1.0, steps=n, div=x),
    lambda x, n: lrkit.one_cycle(x, steps=n, final_div=1e-300),
    lambda x, n: lrkit.constant(1e300, steps=n) * x,
    lambda x, n: lrkit.constant(x, steps=n) * lrkit.constant(1e300),
    lambda x, n: lrkit.constant(x, steps=10) + lrkit.constant(1e308),
    lambda x, n: lrkit.cosine(1e10, steps=10).repeat(decay=x, cycles=n),
    lambda x, n: lrkit.cosine(1.0, steps=10).repeat(mult=x, cycles=n),
    lambda x, n: lrkit.warmup(n, start=x, shape="exp") >> lrkit.cosine(0.1, steps=10),
    lambda x, n: lrkit.constant(0.1, steps=10).shift(n).clip(low=x),
    lambda x, n: lrkit.cosine(x, steps=10).bind(n),
    lambda x, n: lrkit.piecewise([[0, 1.0], [n, x]]),
    lambda x, n: lrkit.inverse_sqrt(0.1, warmup=10, timescale=n) * x,
    lambda x, n: lrkit.cosine(1.0, steps=10).retarget(at=5, end=n, new_end=200).clip(high=x),
    lambda x, n: lrkit.exponential(x, factor=3.0, staircase=True, final=x, every=n),
    lambda x, n: lrkit.exponential(1e-300, factor=x, final=1e308, every=n),
    lambda x, n: lrkit.multistep(x, milestones=[1, n], factor=1e200),
    lambda x, n: lrkit.cosine(0.1, steps=n).mirror(low=0.85, high=x),
    lambda x, n: lrkit.cosine(x, steps=10).repeat(mult=1.0 + 1e-15, cycles=n),
]


@settings(max_examples=examples(400), deadline=None)
@given(st.integers(0, len(_BUILDERS) - 1), _EXTREME_FLOATS, _EXTREME_INTS)
@example(which=16, x=2.0, n=HUGE)  # repeat(mult=2.0, cycles=10**400)
@example(which=21, x=1.0, n=HUGE)  # inverse_sqrt(timescale=10**400)
@example(which=22, x=1.0, n=HUGE)  # retarget(end=10**400)
@example(which=23, x=0.0, n=1)  # exponential(0, factor=3, final=0): 0 · inf
@example(which=24, x=1e300, n=1)  # factor^t overflows before 1e-300 · factor^t does
@example(which=25, x=0.0, n=2)  # multistep(0, factor=1e200): 0 · inf
@example(which=26, x=1e18, n=100)  # mirror(low=0.85, high=1e18)
@example(which=27, x=1.0, n=10**16)  # mult near 1: many periods overflow 2**53 steps
@example(which=16, x=1e308, n=1)  # t · (mult - 1) overflows in the cycle count
@example(which=16, x=1e200, n=1)  # mult^(k+1) overflows in the rounding guard
def test_fuzzed_extreme_arguments_build_finite_schedules_or_raise_schedule_errors(
    which: int, x: Any, n: Any
) -> None:
    try:
        s = _BUILDERS[which](x, n)
    except (TypeError, ValueError) as err:
        assert isinstance(err, lrkit.ScheduleError), repr(err)
        return
    low, high = s.bounds()
    assert math.isfinite(low) and math.isfinite(high)
    end = s.duration if s.duration is not None else 10.0
    steps = np.array([0.0, 1.0, 7.0, min(end, 2.0**52), min(end * 2.0 + 3.0, 2.0**52)])
    with np.errstate(over="raise", invalid="raise"):
        values = s(steps)
    assert np.all(np.isfinite(values)), (str(s), values)
    assert values.min() >= low - 1e-12 * abs(low) - 1e-300
    assert values.max() <= high + 1e-12 * abs(high) + 1e-300
    assert lrkit.parse(str(s)) == s


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (lrkit.step(1.0, every=2, factor=0.5, steps=6), (0.125, 1.0)),
        (lrkit.exponential(1.0, factor=0.5, steps=3), (0.125, 1.0)),
        (lrkit.exponential(1.0, factor=0.5, steps=3, final=0.2), (0.2, 1.0)),
        (lrkit.inverse_time(1.0, rate=1.0, steps=3), (0.25, 1.0)),
        (lrkit.constant(1.0, steps=2).repeat(decay=0.5, cycles=3), (0.25, 1.0)),
        (lrkit.constant(1.0, steps=2).repeat(decay=0.5), (0.0, 1.0)),
    ],
)
def test_bounds_of_decays_with_an_end_are_their_end_values(
    schedule: lrkit.Schedule, expected: tuple[float, float]
) -> None:
    assert schedule.bounds() == expected
    if schedule.duration is not None:  # the end value is reached: the bounds are exact
        assert float(np.min(schedule(np.arange(0.0, 50.0)))) == expected[0]


@pytest.mark.parametrize("name", _examples())
def test_mirrored_values_stay_within_bounds_for_every_registered_schedule(name: str) -> None:
    s = lrkit.parse(registry.get(name).example)
    if not s.is_bound:
        s = s.bind(1000)
    m = s.mirror(0.8, 0.9)
    assert m.bounds() == (0.8, 0.9)
    end = s.duration if s.duration is not None else 1000.0
    steps = np.concatenate([np.arange(0.0, min(end, 5000.0) + 2.0), [end, end * 3.7 + 11.0]])
    values, mirrored = s(steps), m(steps)
    assert mirrored.min() >= 0.8 and mirrored.max() <= 0.9, name
    low, high = s.bounds()
    if high > low:  # where the schedule reaches its bound, the mirror reaches the other end
        assert mirrored[values == high].tolist() == [0.8] * int(np.sum(values == high)), name
        assert mirrored[values == low].tolist() == [0.9] * int(np.sum(values == low)), name


def test_endless_decays_mirror_onto_their_closed_form_range() -> None:
    m = lrkit.exponential(1.0, factor=0.5).mirror(0.8, 0.9)
    assert m(0) == 0.8 and 0.8 < m(1) < m(10) < 0.9


def test_mirror_of_a_schedule_without_closed_form_bounds_is_refused() -> None:
    from lrkit.core import Schedule

    class Opaque(Schedule, name="opaque_range_test", example="opaque_range_test(0.1)"):
        value: float

        def _eval(self, t: Any, xp: Any) -> Any:
            return xp.zeros_like(t) + self.value

    try:
        with pytest.raises(lrkit.ScheduleError, match=r"mirror\(\): the range of .* is unknown"):
            Opaque(0.1).mirror(0.8, 0.9)
    finally:
        registry._ENTRIES.pop("opaque_range_test", None)  # leave the registry as it was


def test_value_range_is_a_deprecated_alias_of_bounds() -> None:
    s = lrkit.warmup(5) >> lrkit.cosine(1.0, end=0.1, steps=10)
    with pytest.warns(DeprecationWarning, match=r"value_range\(\) is deprecated.*bounds\(\)"):
        assert s.value_range() == s.bounds() == (0.0, 1.0)


def test_bounds_of_products_hold_for_values_of_any_sign() -> None:
    from lrkit.compat.optax import Affine

    negative = Affine(lrkit.cosine(1.0, steps=10), scale=-1.0, offset=0.0)  # optax allows < 0
    for s in (negative * negative, negative * lrkit.constant(2.0), negative * (negative + 0.5)):
        values = s(np.arange(0.0, 30.0))
        low, high = s.bounds()
        assert low <= values.min() and values.max() <= high, (str(s), low, high)
    assert (negative * negative).bounds() == (0.0, 1.0)

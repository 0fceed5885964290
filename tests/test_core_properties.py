"""Property tests over random schedule trees: text and dict round trips, arrays, continuity."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from _fuzz import examples
from lrkit.core import Schedule

values = st.floats(min_value=0.0, max_value=10.0, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-6, max_value=10.0, allow_nan=False)
lengths = st.integers(min_value=1, max_value=300)
fractions = st.floats(min_value=0.05, max_value=0.95)


@st.composite
def anneals(draw: st.DrawFn) -> Schedule:
    kind = draw(st.sampled_from(["linear", "cosine", "polynomial", "one_minus_sqrt", "rex"]))
    start, end, steps = draw(values), draw(values), draw(lengths)
    if kind == "cosine":
        return lrkit.cosine(start=start, end=end, steps=steps)
    if kind == "polynomial":
        return lrkit.polynomial(start, end, steps=steps, power=draw(st.floats(0.1, 4.0)))
    return {"linear": lrkit.linear, "one_minus_sqrt": lrkit.one_minus_sqrt, "rex": lrkit.rex}[kind](
        start, end, steps=steps
    )


@st.composite
def bounded_leaves(draw: st.DrawFn) -> Schedule:
    choice = draw(st.integers(0, 7))
    if choice == 0:
        return draw(anneals())
    if choice == 1:
        return lrkit.constant(draw(values), steps=draw(lengths))
    if choice == 2:
        return lrkit.step(
            draw(values),
            every=draw(lengths),
            factor=draw(st.floats(0.05, 1.0)),
            steps=draw(lengths),
        )
    if choice == 3:
        low, high = sorted((draw(values), draw(values)))
        down = draw(st.none() | lengths)
        return lrkit.cyclic(low, high, draw(lengths), half_cycle_down=down, steps=draw(lengths))
    if choice == 4:
        steps = draw(st.integers(20, 400))
        return lrkit.one_cycle(
            draw(positive),
            steps=steps,
            warmup=draw(st.floats(0.1, 0.45)),
            three_phase=draw(st.booleans()),
            shape=draw(st.sampled_from(["cosine", "linear"])),
        )
    if choice == 5:
        steps = draw(st.integers(10, 400))
        return lrkit.wsd(
            draw(positive),
            steps=steps,
            warmup=draw(st.floats(0.0, 0.3)),
            decay=draw(st.floats(0.0, 0.5)),
            shape=draw(st.sampled_from(["linear", "cosine", "1-sqrt"])),
        )
    if choice == 6:
        stones = sorted(draw(st.lists(lengths, min_size=1, max_size=4)))
        return lrkit.multistep(draw(values), milestones=stones, factor=draw(st.floats(0.05, 1.0)))
    return lrkit.exponential(draw(positive), draw(st.floats(0.5, 1.0)), steps=draw(lengths))


def trees(depth: int = 2) -> st.SearchStrategy[Schedule]:
    @st.composite
    def build(draw: st.DrawFn) -> Schedule:
        if depth == 0:
            return draw(bounded_leaves())
        op = draw(st.integers(0, 6))
        child = draw(trees(depth - 1))
        if op == 0 and child.bounded:
            return child >> draw(trees(depth - 1))
        if op == 1:
            return lrkit.warmup(draw(lengths)) >> child
        if op == 2:
            return child * draw(st.floats(0.0, 3.0))
        if op == 3:
            low = draw(values)
            return child.clip(low=low, high=low + draw(values))
        if op == 4:
            return child.shift(draw(st.integers(0, 50)))
        if op == 5 and (child.duration or 0) > 0:
            return child.repeat(
                mult=draw(st.sampled_from([1.0, 2.0, 1.5])),
                decay=draw(st.floats(0.3, 1.0)),
                cycles=draw(st.none() | st.integers(1, 4)),
            )
        return child

    return build()


STEPS = np.arange(0, 1200, dtype=np.float64)


@settings(max_examples=examples(60), deadline=None)
@given(trees())
def test_random_trees_round_trip_through_text_with_equal_values(schedule: Schedule) -> None:
    again = lrkit.parse(str(schedule))
    assert again == schedule
    np.testing.assert_array_equal(again(STEPS), schedule(STEPS))


@settings(max_examples=examples(60), deadline=None)
@given(trees())
def test_random_trees_round_trip_through_json_dicts(schedule: Schedule) -> None:
    again = lrkit.from_dict(json.loads(json.dumps(schedule.to_dict())))
    assert again == schedule
    np.testing.assert_array_equal(again(STEPS), schedule(STEPS))


@settings(max_examples=examples(50), deadline=None)
@given(trees(), st.lists(st.integers(0, 5000), min_size=1, max_size=20))
def test_array_evaluation_equals_scalar_evaluation_elementwise(
    schedule: Schedule, steps: list[int]
) -> None:
    array = schedule(np.array(steps))
    assert np.all(np.isfinite(array))
    assert list(array) == [schedule(t) for t in steps]


@settings(max_examples=examples(50), deadline=None)
@given(st.integers(1, 500), anneals())
def test_warmup_join_is_continuous(length: int, after: Schedule) -> None:
    s = lrkit.warmup(length) >> after
    target = after(0)
    assert s(length) == target
    ramp = s(np.arange(length + 1))
    assert np.all(np.diff(ramp) * np.sign(target) >= -1e-15)


@settings(max_examples=examples(50), deadline=None)
@given(anneals(), positive, lengths)
def test_sequence_join_is_continuous_when_the_next_part_starts_where_this_ends(
    first: Schedule, factor: float, length: int
) -> None:
    end_value = first(first.duration)
    second = lrkit.cosine(start=end_value, end=end_value / (1 + factor), steps=length)
    s = first >> second
    join = first.duration
    assert s(join) == end_value
    assert abs(s(join - 1) - first(join - 1)) == 0.0


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(1, 50), st.sampled_from([1, 2, 3]), st.integers(0, 3000))
def test_restart_cycle_index_has_no_rounding_errors(period: int, mult: int, t: int) -> None:
    s = lrkit.cosine(start=1.0, end=0.0, steps=period).repeat(mult=float(mult))
    # cycle starts of CosineAnnealingWarmRestarts, computed in exact integers
    begin, length = 0, period
    while begin + length <= t:
        begin, length = begin + length, length * mult
    local = (t - begin) / length
    assert abs(s(t) - (1 + np.cos(np.pi * local)) / 2) < 1e-12

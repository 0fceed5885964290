"""``s.retarget(at, end, new_end)``: a change of budget mid-run as a combinator of the algebra."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import lrkit


def test_retarget_follows_the_time_warp_formula() -> None:
    base = lrkit.cosine(start=1.0, steps=1000)
    s = base.retarget(at=100, end=1000, new_end=2000)
    for t in (0, 50, 99, 100, 101, 555, 1999, 2000, 2001, 5000):
        if t < 100:
            warped = float(t)
        elif t <= 2000:
            warped = 100 + (t - 100) * 900 / 1900
        else:
            warped = 1000 + (t - 2000)
        assert s(t) == base(warped)
    assert s.duration == 2000


def test_value_at_the_retarget_step_is_unchanged_and_old_end_value_is_reached_at_new_end() -> None:
    base = lrkit.warmup(10) >> lrkit.linear(start=1.0, end=0.1, steps=90)
    for new_end in (50, 100, 400):
        s = base.retarget(at=30, end=100, new_end=new_end)
        assert s(30) == base(30)
        assert s(new_end) == base(100)
        np.testing.assert_array_equal(s(np.arange(30.0)), base(np.arange(30.0)))


@pytest.mark.parametrize("new_end", [60, 123, 1000])
def test_a_monotone_schedule_stays_monotone(new_end: int) -> None:
    base = lrkit.cosine(start=1.0, end=0.01, steps=200)
    s = base.retarget(at=50, end=200, new_end=new_end)
    values = s(np.arange(0.0, new_end + 50.0, 0.5))
    assert np.all(np.diff(values) <= 0.0)


def test_retarget_round_trips_through_text_dict_and_pickle() -> None:
    s = lrkit.cosine(start=0.1, steps="90%").retarget(at=100, end=1000, new_end=2000)
    assert str(s) == 'cosine(start=0.1, steps="90%").retarget(at=100, end=1000, new_end=2000)'
    assert lrkit.parse(str(s)) == s
    assert lrkit.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert pickle.loads(pickle.dumps(s)) == s
    sequenced = (lrkit.warmup(5) >> lrkit.cosine(start=0.1, steps=95)).retarget(
        at=10, end=100, new_end=50
    )
    assert lrkit.parse(str(sequenced)) == sequenced
    bound = s.bind(1000)
    assert str(bound) == "cosine(start=0.1, steps=900).retarget(at=100, end=1000, new_end=2000)"


def test_array_evaluation_equals_scalar_evaluation() -> None:
    s = lrkit.one_cycle(peak=0.1, steps=300).retarget(at=77, end=300, new_end=211)
    steps = np.arange(0, 400, dtype=np.float64)
    np.testing.assert_array_equal(s(steps), np.array([s(int(t)) for t in steps]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"at": -1, "end": 10, "new_end": 20}, r"retarget\(\): at must be an int >= 0, got -1"),
        ({"at": 10, "end": 10, "new_end": 20}, r"end must be an int > at=10, got end=10"),
        ({"at": 10, "end": 20, "new_end": 10}, r"new_end must be an int > at=10, got new_end=10"),
        ({"at": 1.5, "end": 20, "new_end": 30}, r"retarget\(\): at must be an int, got 1.5"),
    ],
)
def test_bad_arguments_raise_at_construction(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(lrkit.ScheduleError, match=message):
        lrkit.constant(0.1).retarget(**kwargs)  # type: ignore[arg-type]


def _warp(t: float, at: int, end: int, new_end: int) -> float:
    if t < at:
        return t
    if t <= new_end:
        return at + (t - at) * (end - at) / (new_end - at)
    return end + (t - new_end)


def test_successive_retargets_fold_into_one_that_warps_time_in_order() -> None:
    base = lrkit.cosine(start=1.0, end=0.1, steps=100)
    warps = [(10, 100, 150), (40, 150, 120), (60, 120, 300)]
    s = base
    for at, end, new_end in warps:
        s = s.retarget(at=at, end=end, new_end=new_end)
    assert isinstance(s, lrkit.compose.Retarget) and s.schedule == base
    assert str(s) == (
        "cosine(start=1.0, end=0.1, steps=100)"
        ".retarget(at=[10, 40, 60], end=[100, 150, 120], new_end=[150, 120, 300])"
    )
    for t in (0, 5, 10, 25, 40, 59, 60, 61, 200, 299, 300, 301, 1000):
        u = float(t)
        for at, end, new_end in reversed(warps):  # the last budget change warps time first
            u = _warp(u, at, end, new_end)
        assert s(t) == base(u)
    assert s.duration == 300.0
    assert lrkit.parse(str(s)) == s and lrkit.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    skipped = lrkit.constant(1.0, steps=5).retarget(at=10, end=20, new_end=30)
    assert skipped.retarget(at=2, end=5, new_end=8).duration == 8.0  # an early change still counts


def test_a_thousand_retargets_nest_no_deeper_than_one() -> None:
    s: lrkit.Schedule = lrkit.cosine(start=1.0, steps=100)
    total = 100
    for k in range(1000):
        s = s.retarget(at=k, end=total, new_end=total + 1)
        total += 1
    assert isinstance(s, lrkit.compose.Retarget) and s.duration == 1100.0
    assert s(1100) == pytest.approx(0.0, abs=1e-9) and lrkit.parse(str(s)) == s


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"at": [1, 2], "end": [10], "new_end": [20, 30]}, r"lists of the same length"),
        ({"at": [], "end": [], "new_end": []}, r"lists of the same length >= 1"),
        ({"at": [1, 5], "end": [10, 5], "new_end": [20, 30]}, r"end must be an int > at=5"),
    ],
)
def test_bad_lists_of_budget_changes_raise_at_construction(
    kwargs: dict[str, list[int]], message: str
) -> None:
    with pytest.raises(lrkit.ScheduleError, match=message):
        lrkit.parse("constant(0.1)").retarget(**kwargs)  # type: ignore[arg-type]

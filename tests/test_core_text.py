"""The text form (lrkit/text.py), ``from_dict`` and the printer on hostile and extreme input.

``parse`` and ``from_dict`` never raise ``RecursionError``, ``MemoryError`` or ``OverflowError``:
input within the limits works and round-trips, input beyond them gets a ``TextFormError`` /
``ScheduleError`` naming the limit. Printing is linear in the size of the tree.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import lrkit
from _fuzz import examples
from lrkit import text as text_module
from lrkit.core import Schedule

NESTING = text_module.MAX_NESTING
DEPTH = text_module.MAX_DEPTH


def _at_depth(frames: int, func: Any) -> Any:
    """``func()`` called ``frames`` Python frames deeper than here (a deep caller's stack)."""
    if frames <= 0:
        return func()
    return _at_depth(frames - 1, func)


def _alternating(levels: int) -> Schedule:
    s: Schedule = lrkit.constant(1.0, steps=10)
    for index in range(levels):
        s = s.clip(low=0.0) if index % 2 == 0 else s.shift(1)
    return s


# -- the printer is linear -------------------------------------------------------------------------


def test_str_of_alternating_clip_and_shift_renders_each_node_once(monkeypatch) -> None:
    calls = 0
    original = Schedule._text_args

    def counting(self: Schedule, *args: Any, **kwargs: Any) -> list[str]:
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Schedule, "_text_args", counting)
    s = _alternating(22)
    text = str(s)
    assert calls <= 23  # one per node (2**22 if each node rendered its child twice)
    assert text.startswith("constant(1.0, steps=10).clip(low=0.0).shift(1)")
    assert text.count(".clip(") == 11 and text.count(".shift(") == 11


def test_deep_alternating_tree_prints_reprs_and_round_trips() -> None:
    s = _alternating(80)  # printing is linear: 2**80 renders would never finish
    text = str(s)
    assert lrkit.parse(text) == s
    assert repr(s) == f"lrkit.parse({text!r})"
    assert lrkit.from_dict(s.to_dict()) == s


# -- depth and length ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "constant(" + "-" * 1000 + "1)",
        "-" * 100000 + "1",
        "constant(1.0)" + ".clip(low=0.0)" * 1000,
        "(" * 300 + "constant(1.0)" + ")" * 300,
        "constant(1.0, steps=1) >> " * 5 + "(" * 250 + "constant(1.0)" + ")" * 250,
        "multistep(start=1.0, milestones=" + "[" * 500 + "1" + "]" * 500 + ")",
        "constant(" + "[" * 100000,  # unfinished, too
    ],
    ids=[
        "signs-in-call",
        "signs-100k",
        "clip-1000",
        "parens-300",
        "parens-after-chain",
        "lists",
        "open",
    ],
)
def test_deep_nesting_is_a_text_form_error_naming_the_limit(text: str) -> None:
    with pytest.raises(lrkit.TextFormError, match=f"nesting deeper than {NESTING} levels") as info:
        lrkit.parse(text)
    lines = str(info.value).splitlines()
    assert len(lines) == 3 and lines[2].strip().startswith("^")
    assert max(len(line) for line in lines) < 200  # the excerpt, not the 100 000 characters


def test_the_nesting_limit_is_exact() -> None:
    assert lrkit.parse("constant(" + "-" * (NESTING - 2) + "1)") == lrkit.constant(1.0)
    with pytest.raises(lrkit.TextFormError, match="nesting deeper"):
        lrkit.parse("constant(" + "-" * NESTING + "1)")


@pytest.mark.parametrize("op", [">>", "*", "+"])
def test_a_thousand_part_chain_of_schedules_parses_and_round_trips(op: str) -> None:
    parts = [f"constant({k / 1000!r}, steps=2)" for k in range(1, 1001)]
    s = lrkit.parse(f" {op} ".join(parts))
    assert lrkit.parse(str(s)) == s
    assert lrkit.from_dict(s.to_dict()) == s
    built = [lrkit.constant(k / 1000, steps=2) for k in range(1, 1001)]
    if op == ">>":
        assert s == lrkit.sequence(*built)
        assert len(s.parts) == 1000
        assert s(1999) == 1.0 and s(0) == 0.001
    elif op == "*":
        assert s == lrkit.product(*built)
    else:
        assert s == lrkit.add(*built)


def test_a_long_chain_equals_python_operators_with_warmups_and_numbers() -> None:
    text = (
        "warmup(5) >> constant(1.0, steps=2) >> warmup(3, start=0.1) >> cosine(start=1.0, steps=10)"
    )
    expected = (
        lrkit.warmup(5)
        >> lrkit.constant(1.0, steps=2)
        >> (lrkit.warmup(3, start=0.1) >> lrkit.cosine(start=1.0, steps=10))
    )
    assert lrkit.parse(text) == expected
    assert lrkit.parse(str(expected)) == expected
    added = lrkit.parse("constant(1.0)" + " + 0.001" * 500)
    python = lrkit.constant(1.0)
    for _ in range(500):
        python = python + 0.001
    assert added == python and lrkit.parse(str(added)) == added


def test_a_thousand_part_sequence_parses_from_a_deep_caller_stack() -> None:
    text = " >> ".join(["cosine(start=0.1, steps=10) * 0.5"] * 1000)
    s = _at_depth(250, lambda: lrkit.parse(text))
    assert _at_depth(250, lambda: lrkit.parse(str(s))) == s


def test_scale_chains_beyond_the_depth_limit_name_it() -> None:
    ok = lrkit.parse("constant(1.0)" + " * 1.0" * (DEPTH - 1))
    assert lrkit.parse(str(ok)) == ok
    with pytest.raises(lrkit.TextFormError, match=f"nested deeper than {DEPTH} levels"):
        lrkit.parse("constant(1.0)" + " * 2.0" * 1000)
    with pytest.raises(lrkit.TextFormError, match=f"nested deeper than {DEPTH} levels"):
        lrkit.parse("constant(1.0)" + ".clip(low=0.0)" * 150)


def test_chains_beyond_the_length_limit_name_it() -> None:
    text = " >> ".join(["constant(1.0, steps=1)"] * (text_module.MAX_CHAIN + 10))
    with pytest.raises(lrkit.TextFormError, match=f"more than {text_module.MAX_CHAIN} chained"):
        lrkit.parse(text)


def _nested_dict(levels: int) -> dict[str, Any]:
    data: dict[str, Any] = lrkit.constant(1.0).to_dict()
    for _ in range(levels - 1):
        data = {"type": "clip", "schedule": data, "low": 0.0, "high": None}
    return data


def test_from_dict_nested_330_deep_names_the_limit() -> None:
    with pytest.raises(lrkit.ScheduleError, match=f"nested deeper than {DEPTH} levels"):
        lrkit.from_dict(_nested_dict(330))
    with pytest.raises(lrkit.ScheduleError, match=f"nested deeper than {DEPTH} levels"):
        _at_depth(300, lambda: lrkit.from_dict(_nested_dict(100_000)))


def test_from_dict_at_the_limit_works_and_deep_lists_name_the_limit() -> None:
    s = lrkit.from_dict(_nested_dict(DEPTH))
    assert lrkit.from_dict(s.to_dict()) == s and s(3) == 1.0
    lists: Any = 1
    for _ in range(100_000):
        lists = [lists]
    with pytest.raises(lrkit.ScheduleError, match=f"nesting deeper than {NESTING} levels"):
        lrkit.from_dict({"type": "multistep", "start": 1.0, "milestones": lists})


# -- huge numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "param"),
    [
        ("constant(1" + "0" * 400 + ")", "value"),
        ("constant(-1" + "0" * 400 + ")", "value"),
        ("cosine(start=0.1, steps=1" + "0" * 400 + ")", "steps"),
        ("constant(1e400)", "value"),
        ("multistep(start=1.0, milestones=[1, 1" + "0" * 400 + "])", "milestones"),
        ("constant(1.0).shift(1" + "0" * 400 + ")", "steps"),
    ],
)
def test_huge_number_literals_are_text_form_errors_naming_the_parameter(
    text: str, param: str
) -> None:
    with pytest.raises(lrkit.TextFormError, match=f"^{param} out of range"):
        lrkit.parse(text)


def test_integer_literals_past_pythons_digit_limit_are_text_form_errors() -> None:
    with pytest.raises(lrkit.TextFormError, match="invalid syntax: Exceeds the limit"):
        lrkit.parse("constant(1" + "0" * 5000 + ")")


def test_from_dict_huge_integers_name_the_field() -> None:
    data = lrkit.constant(1.0).to_dict() | {"value": 10**400}
    with pytest.raises(lrkit.ScheduleError, match=r"constant\.value is out of range"):
        lrkit.from_dict(data)


# -- fuzzing ---------------------------------------------------------------------------------------

_PIECES = [
    "(",
    ")",
    "[",
    "]",
    ",",
    "-",
    "+",
    "*",
    " >> ",
    ".clip(low=0.0)",
    ".shift(1)",
    ".repeat(",
    "constant(1.0, steps=2)",
    "cosine(start=1.0, steps=10)",
    "warmup(3)",
    "1",
    "0.5",
    "1e308",
    "1e400",
    "9" * 400,
    "steps=",
    '"20%"',
    "pct(5)",
    "lambda: 1",
    "x",
]


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60), st.integers(0, 3), st.integers(0, 400))
def test_parser_fuzz_only_raises_schedule_errors(pieces: list[str], repeat: int, wrap: int) -> None:
    body = "".join(pieces) * (1 + repeat * 50)
    for candidate in (body, "(" * wrap + body + ")" * wrap, "-" * wrap * 10 + body):
        try:
            s = lrkit.parse(candidate)
        except lrkit.ScheduleError:
            continue
        assert isinstance(s, Schedule)
        assert lrkit.parse(str(s)) == s


_LEAVES = st.sampled_from(
    [
        lrkit.constant(0.5, steps=3),
        lrkit.cosine(start=1.0, steps=7),
        lrkit.linear(start=1.0, end=0.1, steps=5),
        lrkit.exponential(start=1.0, factor=0.9).truncate(6),
    ]
)


def _wrap(s: Schedule, how: int) -> Schedule:
    wrappers = [
        lambda s: s.clip(low=0.0),
        lambda s: s.shift(1),
        lambda s: s * 0.5,
        lambda s: lrkit.constant(1.0, steps=1) >> s,
        lambda s: s + lrkit.constant(0.1, steps=3),
        lambda s: s.repeat(cycles=2),
        lambda s: s.truncate(50),
        lambda s: (s >> lrkit.constant(0.1, steps=2)).clip(high=2.0),
    ]
    return wrappers[how % len(wrappers)](s)


@settings(max_examples=examples(40), deadline=None)
@given(_LEAVES, st.lists(st.integers(0, 7), min_size=0, max_size=DEPTH - 5))
def test_random_trees_up_to_the_depth_limit_round_trip(leaf: Schedule, hows: list[int]) -> None:
    s = leaf
    for how in hows:
        s = _wrap(s, how)
    text = str(s)
    assert lrkit.parse(text) == s
    assert lrkit.from_dict(s.to_dict()) == s
    assert math.isfinite(s(3))


def test_python_recursion_limit_is_untouched() -> None:
    before = sys.getrecursionlimit()
    with pytest.raises(lrkit.TextFormError):
        lrkit.parse("-" * 100000 + "1")
    assert sys.getrecursionlimit() == before


def test_building_a_tree_deeper_than_the_limit_in_python_names_the_limit() -> None:
    s: Schedule = lrkit.constant(1.0, steps=10)
    with pytest.raises(lrkit.ScheduleError, match=f"nested deeper than {DEPTH} levels"):
        for _ in range(1000):
            s = s.clip(low=0.0) * 1.0
    deepest = lrkit.constant(1.0, steps=10)
    for _ in range(DEPTH - 1):
        deepest = deepest.shift(1)
    text = str(deepest)
    assert _at_depth(200, lambda: lrkit.parse(text)) == deepest
    assert _at_depth(200, lambda: deepest(150)) == 1.0
    assert _at_depth(200, lambda: lrkit.from_dict(deepest.to_dict())) == deepest


def test_warm_up_prefixes_in_a_chain_nest_and_are_limited() -> None:
    ok = " >> ".join(["warmup(1) >> constant(1.0, steps=1)"] * 40)
    s = lrkit.parse(ok)
    assert lrkit.parse(str(s)) == s
    too_deep = " >> ".join(["warmup(1) >> constant(1.0, steps=1)"] * 500)
    with pytest.raises(lrkit.TextFormError, match=f"nested deeper than {DEPTH} levels"):
        lrkit.parse(too_deep)


# -- whatever can be built can be printed and parsed back: one chain limit -----------------------
CHAIN = text_module.MAX_CHAIN


def _built_chain(op: str, parts: int) -> Schedule:
    """``parts`` schedules joined one Python operator at a time (as a loop in user code does)."""
    s: Schedule = lrkit.constant(0.001, steps=2)
    for k in range(1, parts):
        other = lrkit.constant(0.001 * (k % 7 + 1), steps=2)
        s = s >> other if op == ">>" else (s * other if op == "*" else s + other)
    return s


def test_a_1001_part_sum_prints_as_a_call_that_parses_back() -> None:
    s = lrkit.parse(" + ".join(["constant(0.001)"] * 1001))
    assert str(s).startswith("add(") and lrkit.parse(str(s)) == s
    assert lrkit.from_dict(s.to_dict()) == s


@pytest.mark.parametrize("op", [">>", "*", "+"])
def test_chains_at_the_limit_built_in_python_print_and_parse_back(op: str) -> None:
    s = _built_chain(op, CHAIN)
    assert len(s.parts) == CHAIN  # type: ignore[attr-defined]
    assert _at_depth(250, lambda: lrkit.parse(str(s))) == s
    assert lrkit.from_dict(s.to_dict()) == s


@pytest.mark.parametrize("op", [">>", "*", "+"])
def test_one_part_past_the_limit_is_refused_by_python_text_and_dicts_alike(op: str) -> None:
    s = _built_chain(op, CHAIN)
    extra = lrkit.constant(0.5, steps=2)
    with pytest.raises(lrkit.ScheduleError, match=f"{CHAIN + 1} parts .*more than {CHAIN}"):
        _ = s >> extra if op == ">>" else (s * extra if op == "*" else s + extra)
    text = f" {op} ".join(["constant(0.001, steps=2)"] * (CHAIN + 1))
    with pytest.raises(lrkit.TextFormError, match=f"more than {CHAIN}"):
        lrkit.parse(text)
    data = s.to_dict()
    data["parts"] = [*data["parts"], extra.to_dict()]
    with pytest.raises(lrkit.ScheduleError, match=f"more than {CHAIN}"):
        lrkit.from_dict(data)


def test_a_100000_part_sum_from_a_dict_names_the_limit() -> None:
    data = {"type": "add", "parts": [lrkit.constant(0.001).to_dict()] * 100_000}
    with pytest.raises(lrkit.ScheduleError, match=f"add\\(\\): 100000 parts .*more than {CHAIN}"):
        lrkit.from_dict(data)


def test_warm_ups_continue_the_chain_they_are_written_in() -> None:
    rest = lrkit.sequence(*[lrkit.constant(0.1, steps=1)] * (CHAIN - 1))
    s = lrkit.warmup(5) >> rest  # written as one chain: warmup(5) >> constant(...) >> ...
    assert lrkit.parse(str(s)) == s
    with pytest.raises(lrkit.ScheduleError, match=f"more than {CHAIN}"):
        _ = lrkit.warmup(5) >> (rest >> lrkit.constant(0.1, steps=1))
    with pytest.raises(lrkit.ScheduleError, match=f"more than {CHAIN}"):
        _ = lrkit.constant(0.1, steps=1) >> s


def test_chains_nested_in_chains_are_refused_when_their_text_would_be() -> None:
    half = lrkit.sequence(*[lrkit.constant(0.1, steps=1)] * (CHAIN * 3 // 4))
    with pytest.raises(lrkit.ScheduleError, match="too large to be written in the text form"):
        lrkit.sequence(half * 0.5, *half.parts)
    text = str(half * 0.5) + " >> " + str(half)
    with pytest.raises(lrkit.TextFormError, match="along one path"):
        lrkit.parse(text)


@pytest.mark.parametrize(
    ("text", "column"),
    [("\udcff", 0), ("constant(0.1) >> \udcffcosine", 17), ('constant("\ud800")', 10)],
)
def test_text_that_is_not_unicode_is_a_text_form_error(text: str, column: int) -> None:
    with pytest.raises(lrkit.TextFormError, match="not Unicode text") as info:
        lrkit.parse(text)
    rendered = str(info.value)
    rendered.encode("ascii")  # printable anywhere: the surrogate is shown escaped
    assert info.value.column == column and "\\ud" in rendered


@pytest.mark.parametrize("op", [">>", "*", "+"])
def test_building_a_chain_one_operator_at_a_time_checks_each_part_once(
    op: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"bounds": 0, "shape": 0}
    bounds, shape = Schedule.bounds, Schedule._text_shape

    def counted_bounds(self: Schedule) -> tuple[float, float]:
        calls["bounds"] += 1
        return bounds(self)

    def counted_shape(self: Schedule) -> Any:
        calls["shape"] += 1
        return shape(self)

    monkeypatch.setattr(Schedule, "bounds", counted_bounds)
    monkeypatch.setattr(Schedule, "_text_shape", counted_shape)
    _built_chain(op, CHAIN)
    # linear: a few looks per new part (quadratic work would be about CHAIN**2 / 2 = 2,000,000)
    assert calls["bounds"] < 10 * CHAIN and calls["shape"] < 10 * CHAIN, calls


_LEAF = lrkit.constant(0.25, steps=2)


def _grow(s: Schedule, how: int, count: int) -> Schedule:
    """One more level of a long or deep composition (each kind of chain and nesting)."""
    if how == 0:
        return lrkit.sequence(s, *[_LEAF] * count)
    if how == 1:
        return lrkit.sequence(*[_LEAF] * count, s)
    if how == 2:
        return s * 0.5
    if how == 3:
        return s.clip(low=0.0)
    if how == 4:
        return lrkit.add(s, *[_LEAF] * count)
    if how == 5:
        return lrkit.warmup(1) >> s
    return lrkit.product(*[_LEAF] * count, s)


@settings(max_examples=examples(15), deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(1, 1500)), min_size=1, max_size=6))
@example([(0, 1500), (2, 1), (1, 1500)])  # a parenthesised chain first in a chain
@example([(0, 1999), (5, 1)])  # a warm-up in front of a chain at the limit
@example([(4, 1500), (0, 1000), (3, 1), (1, 999)])
def test_whatever_can_be_built_prints_and_parses_back(steps: list[tuple[int, int]]) -> None:
    s: Schedule = _LEAF
    try:
        for how, count in steps:
            s = _grow(s, how, count)
    except lrkit.ScheduleError as err:
        assert "more than" in str(err) or "too large" in str(err), str(err)
        return
    assert _at_depth(250, lambda: lrkit.parse(str(s))) == s
    assert lrkit.from_dict(s.to_dict()) == s

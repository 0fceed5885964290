"""Bad input gets a clear error naming the function, parameter, value and allowed range."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lrkit


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: lrkit.cosine(start=float("nan"), steps=10),
            r"cosine\(\): start must be a finite number >= 0, got nan",
        ),
        (lambda: lrkit.cosine(start=0.1, steps=0), r"cosine\(\): steps must be an int >= 1, got 0"),
        (
            lambda: lrkit.cosine(start=0.1, steps=-5),
            r"cosine\(\): steps must be an int >= 1, got -5",
        ),
        (
            lambda: lrkit.linear(0.1, 0.0, steps=2.5),
            r"linear\(\): steps must be a whole number of steps",
        ),
        (lambda: lrkit.step(0.1, every=10, factor=0.0), r"step\(\): factor must be > 0, got 0.0"),
        (lambda: lrkit.cyclic(low=0.2, high=0.1, half_cycle=5), r"cyclic\(\): low must be <= high"),
        (
            lambda: lrkit.cyclic(0.1, 0.2, 5, mode="triangle"),
            r"cyclic\(\): mode must be one of 'triangular', 'triangular2', 'exp_range', got 'triangle'",
        ),
        (lambda: lrkit.cyclic(0.1, 0.2, 5, factor=0.9), r"factor is used only by mode='exp_range'"),
        (
            lambda: lrkit.multistep(0.1, milestones=[30, 10]),
            r"multistep\(\): milestones must be sorted in increasing order, got \[30, 10\]",
        ),
        (lambda: lrkit.exponential(0.1), r"exponential\(\): give exactly one of factor="),
        (lambda: lrkit.exponential(0.1, 1.1), r"a growing schedule \(factor > 1\) needs steps="),
        (lambda: lrkit.exponential(0.1, 10.0, steps=10_000), r"overflow to infinity"),
        (
            lambda: lrkit.one_cycle(peak=0.1, steps=100, warmup=1.5),
            r"one_cycle\(\): warmup \(a float is a share of steps\) must be in \[0, 1\], got 1.5",
        ),
        (
            lambda: lrkit.one_cycle(peak=0.1, steps=2),
            r"one_cycle\(\): warmup and steps leave an empty phase",
        ),
        (
            lambda: lrkit.wsd(peak=0.1, steps=100, warmup=60, decay=50),
            r"wsd\(\): warmup \(60\) \+ decay \(50\) exceed steps \(100\)",
        ),
        (
            lambda: lrkit.piecewise([[0, 1.0], [0, 0.5]]),
            r"piecewise\(\): point steps must strictly increase",
        ),
        (
            lambda: lrkit.piecewise_constant([10], [0.1]),
            r"values needs len\(boundaries\) \+ 1 = 2 entries, got 1",
        ),
        (
            lambda: lrkit.constant(0.1) >> lrkit.constant(0.2),
            r"has no end, so nothing after it would ever run",
        ),
        (
            lambda: lrkit.cosine(start=0.1, steps=10).clip(low=0.5, high=0.1),
            r"clip\(\): low must be <= high",
        ),
        (
            lambda: lrkit.cosine(start=0.1, steps=10).repeat(mult=0.5),
            r"repeat\(\): mult must be >= 1, got 0.5",
        ),
        (lambda: lrkit.constant(0.1).mirror(0.9, 0.8), r"mirror\(\): low must be <= high"),
        (lambda: lrkit.pct(120), r"pct\(\): percent must be a number in \[0, 100\], got 120"),
        (lambda: lrkit.cosine(start=0.1, steps="150%"), r"steps share must be in \[0%, 100%\]"),
        (
            lambda: lrkit.warmup(10, start=0.0, shape="exp"),
            r"warmup\(\): shape='exp' needs start > 0",
        ),
    ],
)
def test_bad_arguments_raise_value_errors_naming_the_parameter(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: lrkit.cosine(start="0.1", steps=10),
            r"cosine\(\): start must be a number, got '0.1'",
        ),
        (
            lambda: lrkit.cosine(start=0.1, steps=[10]),
            r"cosine\(\): steps must be an int step count or a share like '20%'",
        ),
        (lambda: lrkit.exponential(0.1, 0.9, staircase="yes"), r"staircase must be True or False"),
        (lambda: lrkit.cosine(start=True, steps=10), r"start must be a number, got True"),
        (
            lambda: lrkit.sequence(lrkit.constant(0.1, steps=1), 0.5),
            r"sequence\(\): parts must be an lrkit schedule",
        ),
    ],
)
def test_wrong_types_raise_type_errors(make, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make()
    with pytest.raises(lrkit.ScheduleError):
        make()


def test_text_form_errors_point_at_the_bad_spot() -> None:
    with pytest.raises(lrkit.TextFormError) as info:
        lrkit.parse("warmup(100) >> cosine(start=0.1, stepz=900)")
    assert str(info.value) == (
        "cosine(): unknown argument 'stepz' (did you mean 'steps'?); accepted arguments: start, end, steps, power\n"
        "  warmup(100) >> cosine(start=0.1, stepz=900)\n"
        "                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^"
    )


def test_text_form_syntax_error_has_a_caret() -> None:
    with pytest.raises(lrkit.TextFormError) as info:
        lrkit.parse("cosine(start=0.1, steps=900")
    lines = str(info.value).splitlines()
    assert lines[0].startswith("invalid syntax")
    assert lines[1] == "  cosine(start=0.1, steps=900"
    assert lines[2].strip() == "^"


def test_text_form_unknown_name_lists_nearest_names() -> None:
    with pytest.raises(
        lrkit.TextFormError, match=r"unknown schedule 'onecycle'; did you mean 'one_cycle'"
    ):
        lrkit.parse("onecycle(peak=0.1, steps=100)")


def test_text_form_bad_value_is_reported_at_the_call() -> None:
    with pytest.raises(lrkit.TextFormError) as info:
        lrkit.parse("constant(0.1, steps=10) >> cyclic(low=0.2, high=0.1, half_cycle=5)")
    assert str(info.value) == (
        "cyclic(): low must be <= high, got low=0.2, high=0.1\n"
        "  constant(0.1, steps=10) >> cyclic(low=0.2, high=0.1, half_cycle=5)\n"
        "                             " + "^" * 39
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", r"unknown schedule '__import__'"),
        ("cosine(start=0.1, steps=10).__class__", r"unsupported syntax Attribute"),
        ("cosine(start=x, steps=10)", r"unknown name 'x'"),
        ("cosine(start=0.1, steps=10) - 1", r"unsupported operator Sub"),
        ("cosine(start=0.1, steps=10).bind(10)", r"unknown method .bind\(\)"),
        ("cosine(**{'start': 1})", r"\*args and \*\*kwargs are not allowed"),
        ("[1, 2]", r"expected a schedule"),
        ("", r"empty schedule text"),
        ("lambda: 1", r"unsupported syntax Lambda"),
        ("cosine(start=0.1, steps=10) * 'x'", r"'\*' needs a number, got 'x'"),
    ],
)
def test_text_form_only_accepts_the_whitelist(text: str, message: str) -> None:
    with pytest.raises(lrkit.TextFormError, match=message):
        lrkit.parse(text)


def test_text_form_accepts_shares_pct_calls_and_negative_shifts() -> None:
    s = lrkit.parse('warmup(pct(5)) >> cosine(start=1e-3, steps="95%")')
    assert s == lrkit.warmup("5%") >> lrkit.cosine(start=0.001, steps=lrkit.pct(95))
    shifted = lrkit.parse("cosine(start=1.0, steps=10).shift(-3)")
    assert shifted(0) == lrkit.cosine(start=1.0, steps=10)(3)


def test_from_dict_rejects_unknown_types_and_fields() -> None:
    with pytest.raises(lrkit.ScheduleError, match="unknown schedule 'cosin'"):
        lrkit.from_dict({"type": "cosin"})
    with pytest.raises(
        TypeError, match=r"bad fields for 'cosine': .*'stepz' \(did you mean 'steps'\?\)"
    ):
        lrkit.from_dict({"type": "cosine", "start": 0.1, "steps": 10, "stepz": 3})
    with pytest.raises(lrkit.ScheduleError, match="needs a 'type' key"):
        lrkit.from_dict({"start": 0.1})


def test_warmup_alone_cannot_be_evaluated() -> None:
    with pytest.raises(TypeError, match=r"warm-up prefix, not a schedule: it cannot be evaluated"):
        lrkit.warmup(10)(3)
    with pytest.raises(TypeError, match=r"it cannot end a sequence"):
        lrkit.constant(0.1, steps=5) >> lrkit.warmup(10)


def test_import_lrkit_imports_only_numpy_and_array_api_compat() -> None:
    code = (
        "import sys, lrkit\n"
        "heavy = {'torch', 'jax', 'keras', 'matplotlib', 'sklearn', 'ray', 'typer', 'rich', 'optax', 'transformers', 'array_api_compat'}\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    "make",
    [
        lambda s: s * np.array([1.0]),
        lambda s: np.array([1.0]) * s,
        lambda s: s + np.array([0.5, 1.0]),
        lambda s: np.array([0.5]) + s,
        lambda s: s * [1.0],
    ],
)
def test_a_schedule_times_an_array_is_refused_not_an_array_of_schedules(make: Any) -> None:
    with pytest.raises(lrkit.ScheduleTypeError, match=r"must be a number or a schedule.*array"):
        make(lrkit.cosine(1.0, steps=10))


def test_a_schedule_times_a_torch_tensor_is_refused() -> None:
    torch = pytest.importorskip(
        "torch"
    )  # the core needs numpy only (make test-floors has no torch)
    with pytest.raises(lrkit.ScheduleTypeError, match=r"must be a number or a schedule.*array"):
        lrkit.cosine(1.0, steps=10) * torch.tensor([2.0])


def test_zero_dimensional_arrays_combine_as_numbers() -> None:
    s = lrkit.cosine(1.0, steps=10)
    assert s * np.array(2.0) == s * 2.0 == np.float64(2.0) * s
    assert s + np.array(0.5) == s + 0.5


def test_zero_dimensional_torch_tensors_combine_as_numbers() -> None:
    torch = pytest.importorskip("torch")
    s = lrkit.cosine(1.0, steps=10)
    assert torch.tensor(2.0) * s == s * 2.0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: lrkit.cosine(strat=0.1, steps=10),
            "cosine(): unknown argument 'strat' (did you mean 'start'?); "
            "accepted arguments: start, end, steps, power",
        ),
        (
            lambda: lrkit.one_cycle(peek=0.1, steps=10),
            "one_cycle(): unknown argument 'peek' (did you mean 'peak'?); accepted arguments: "
            "peak, steps, warmup, div, final_div, shape, three_phase",
        ),
        (
            lambda: lrkit.step(1.0, every=10, gamma=0.1),
            "step(): unknown argument 'gamma' (did you mean 'factor'?); "
            "accepted arguments: start, every, factor, steps",
        ),
    ],
    ids=["typo", "typo-of-a-required-one", "pytorch-name"],
)
def test_an_unknown_keyword_in_python_is_worded_as_in_the_text_form(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(lrkit.ScheduleTypeError) as info:
        build()
    assert isinstance(info.value, TypeError) and str(info.value) == message
    # the text form says the same of the same mistake
    with pytest.raises(
        lrkit.ScheduleError, match=r"unknown argument 'strat'.*did you mean 'start'"
    ):
        lrkit.parse("cosine(strat=0.1, steps=10)")

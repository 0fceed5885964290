"""Renamed keywords and retired 0.1 spellings: old saved texts and dicts keep loading (with a
``DeprecationWarning`` for one release), new code writes one vocabulary, and the library itself
never emits those warnings."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

import lrkit
from lrkit import families


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            lambda: lrkit.exponential(0.1, gamma=0.99),
            lambda: lrkit.exponential(0.1, factor=0.99),
        ),
        (
            lambda: lrkit.parse("exponential(start=0.1, gamma=0.99)"),
            lambda: lrkit.parse("exponential(start=0.1, factor=0.99)"),
        ),
        (
            lambda: lrkit.from_dict({"type": "exponential", "start": 0.1, "gamma": 0.99}),
            lambda: lrkit.from_dict({"type": "exponential", "start": 0.1, "factor": 0.99}),
        ),
        (
            lambda: lrkit.parse("warmup(5) >> exponential(start=1.0, gamma=0.5, every=10)"),
            lambda: lrkit.warmup(5) >> lrkit.exponential(1.0, factor=0.5, every=10),
        ),
        (
            lambda: lrkit.cyclic(0.1, 1.0, half_cycle=4, mode="exp_range", gamma=0.9),
            lambda: lrkit.cyclic(0.1, 1.0, half_cycle=4, mode="exp_range", factor=0.9),
        ),
        (
            lambda: lrkit.parse(
                'cyclic(low=0.1, high=1.0, half_cycle=4, mode="exp_range", gamma=0.9)'
            ),
            lambda: lrkit.cyclic(0.1, 1.0, half_cycle=4, mode="exp_range", factor=0.9),
        ),
        (
            lambda: lrkit.from_dict(
                {
                    "type": "cyclic",
                    "low": 0.1,
                    "high": 1.0,
                    "half_cycle": 4,
                    "mode": "exp_range",
                    "gamma": 0.9,
                }
            ),
            lambda: lrkit.cyclic(0.1, 1.0, half_cycle=4, mode="exp_range", factor=0.9),
        ),
    ],
)
def test_gamma_still_loads_with_a_warning_and_equals_factor(
    old: Callable[[], lrkit.Schedule], new: Callable[[], lrkit.Schedule]
) -> None:
    with pytest.warns(DeprecationWarning, match=r"gamma= is deprecated, write factor=") as caught:
        before = old()
    assert caught[0].filename == __file__  # attributed to the caller, not to lrkit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = new()
    assert before == after
    assert str(before) == str(after)
    assert "gamma" not in str(before) and "factor=" in str(before)
    assert "gamma" not in str(before.to_dict())
    assert [before(t) for t in range(12)] == [after(t) for t in range(12)]


def test_gamma_and_factor_together_is_an_error_naming_both() -> None:
    with pytest.raises(lrkit.ScheduleError, match=r"exponential\(\): give factor= only .*gamma="):
        lrkit.exponential(0.1, factor=0.9, gamma=0.9)
    with pytest.raises(lrkit.ScheduleError, match=r"cyclic\(\): give factor= only .*gamma="):
        lrkit.cyclic(0.1, 1.0, half_cycle=4, mode="exp_range", factor=0.8, gamma=0.9)


def test_a_deprecated_gamma_is_still_validated() -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(lrkit.ScheduleError, match="factor"):
        lrkit.exponential(0.1, gamma=-1.0)


def test_registry_examples_and_docstring_defaults_speak_factor() -> None:
    for name in ("exponential", "cyclic", "step", "multistep"):
        assert "gamma" not in lrkit.registry.get(name).example
    doc = families.Step.__doc__ or ""
    assert "default 0.5" in doc and "0.1" in doc and "factor=0.1" in doc
    assert lrkit.step(1.0, every=1).factor == 0.5  # the default is unchanged (halving)


def test_the_library_emits_no_deprecation_warning_for_its_own_examples() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for name in lrkit.registry.names():
            lrkit.parse(lrkit.registry.get(name).example)

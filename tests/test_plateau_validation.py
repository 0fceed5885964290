"""Plateau's validation of hostile and extreme input: arguments, reported metrics, checkpoint state.

Wrong input raises a ``ScheduleError`` (a ``ValueError``) or ``ScheduleTypeError`` (also a
``TypeError``) naming the parameter or state key; loading state is atomic.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from _fuzz import examples
from lrkit.plateau import Plateau

HUGE = 10**400


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"min_lr": HUGE}, "min_lr"),
        ({"min_lr": [0.0, HUGE]}, "min_lr"),
        ({"factor": HUGE}, "factor"),
        ({"threshold": HUGE}, "threshold"),
        ({"eps": HUGE}, "eps"),
        ({"levels": [HUGE, 1.0]}, "levels"),
        ({"min_lr": math.inf}, "min_lr"),
    ],
)
def test_huge_or_infinite_arguments_are_value_errors_naming_the_parameter(
    kwargs: dict[str, Any], param: str
) -> None:
    with pytest.raises(lrkit.ScheduleError, match=f"Plateau: {param}=") as info:
        Plateau(**kwargs)
    assert isinstance(info.value, ValueError)
    assert len(str(info.value)) < 300  # the 401-digit number is abbreviated


def test_huge_integer_counts_are_accepted_as_ints() -> None:
    p = Plateau(patience=HUGE, cooldown=HUGE)
    assert not p.report(1.0) and not p.report(2.0)


@pytest.mark.parametrize(
    "metric", ["0.5", b"1", bytearray(b"1"), True, np.bool_(True), None, [1.0]]
)
def test_report_rejects_text_bools_and_non_numbers(metric: object) -> None:
    p = Plateau()
    before = p.state_dict()
    with pytest.raises(TypeError, match=r"Plateau\.report: metric="):
        p.report(metric)
    assert p.state_dict() == before


def test_report_of_a_huge_integer_is_a_value_error() -> None:
    p = Plateau()
    with pytest.raises(ValueError, match="beyond the float range"):
        p.report(HUGE)
    assert p.evaluations == 0


@pytest.mark.parametrize(
    "metric", [0.25, 1, np.float32(0.25), np.int64(3), np.array(0.5), torch.tensor(0.5)]
)
def test_report_accepts_numbers_numpy_scalars_and_zero_dim_arrays(metric: object) -> None:
    p = Plateau()
    p.report(metric)
    assert p.best == float(metric)  # type: ignore[arg-type]


def test_scale_with_ten_million_reductions_is_computed_once_and_cached() -> None:
    p = Plateau(factor=0.5, patience=0)
    state = p.state_dict() | {"reductions": 10**7, "evaluations": 10**7}
    p.load_state_dict(state)
    assert p.scale == 0.0  # stops multiplying once it underflows (after ~1075 halvings)
    assert p.__dict__["_scale_cache"][1] < 1100
    p.reductions = 3
    assert p.scale == 0.125
    p.report(10.0)  # a new best
    p.report(10.0)  # not better: a reduction (patience 0)
    assert p.scale == 0.0625


def test_scale_equals_repeated_multiplication_bit_for_bit() -> None:
    p = Plateau(factor=0.3, patience=0)
    p.report(0.0)  # the best; every later report is a reduction
    expected = 1.0
    for k in range(1, 60):
        p.report(float(k))
        expected *= 0.3
        assert p.scale == expected


def _base_state() -> tuple[Plateau, dict[str, Any]]:
    p = Plateau(factor=0.5, patience=2, cooldown=1, levels=[0.5, 0.25])
    for m in (1.0, 1.0, 1.0, 1.0, 0.4, 0.4):
        p.report(m)
    return p, p.state_dict()


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"best": math.nan}, "best"),
        ({"best": -math.inf}, "best"),
        ({"best": "0.5"}, "best"),
        ({"best": True}, "best"),
        ({"best": HUGE}, "best"),
        ({"reductions": -3}, "reductions"),
        ({"reductions": 10**7}, "reductions"),
        ({"reductions": 0}, "reductions"),  # below next_level
        ({"reductions": 2.0}, "reductions"),
        ({"num_bad_epochs": 1.7}, "num_bad_epochs"),
        ({"num_bad_epochs": 3}, "num_bad_epochs"),  # > patience
        ({"num_bad_epochs": "1"}, "num_bad_epochs"),
        ({"cooldown_counter": 2}, "cooldown_counter"),
        ({"cooldown_counter": True}, "cooldown_counter"),
        ({"next_level": 3}, "next_level"),
        ({"evaluations": -1}, "evaluations"),
        ({"version": 2}, "version"),
        ({"config": "abc"}, "config"),
    ],
)
def test_invalid_state_is_one_value_error_naming_the_key_and_changes_nothing(
    change: dict[str, Any], key: str
) -> None:
    _, state = _base_state()
    target = Plateau(factor=0.5, patience=2, cooldown=1, levels=[0.5, 0.25])
    target.report(3.0)
    before = copy.deepcopy(target.__dict__)
    for strict in (True, False):
        with pytest.raises(ValueError, match=f"Plateau.load_state_dict: {key}=") as info:
            target.load_state_dict(state | change, strict=strict)
        assert isinstance(info.value, lrkit.ScheduleError)
        assert target.__dict__ == before
        with pytest.raises(ValueError, match=key):
            target.validate_state_dict(state | change, strict=strict)


@pytest.mark.parametrize("missing", ["best", "reductions", "config", "version", "evaluations"])
def test_missing_keys_are_value_errors_naming_them(missing: str) -> None:
    _, state = _base_state()
    del state[missing]
    target = Plateau()
    before = copy.deepcopy(target.__dict__)
    with pytest.raises(ValueError, match=f"missing '{missing}'"):
        target.load_state_dict(state, strict=False)
    assert target.__dict__ == before


def test_bad_saved_config_with_strict_false_changes_nothing() -> None:
    _, state = _base_state()
    target = Plateau()
    before = copy.deepcopy(target.__dict__)
    for config_change, match in [
        ({"factor": 5.0}, "config: Plateau: factor=5.0"),
        ({"mode": "avg"}, "config: Plateau: mode='avg'"),
        ({"min_lr": HUGE}, "config: Plateau: min_lr="),
    ]:
        bad = state | {"config": state["config"] | config_change}
        with pytest.raises(ValueError, match=match):
            target.load_state_dict(bad, strict=False)
        assert target.__dict__ == before
    missing = {k: v for k, v in state["config"].items() if k != "eps"}
    with pytest.raises(ValueError, match="config is missing 'eps'"):
        target.load_state_dict(state | {"config": missing}, strict=False)
    with pytest.raises(TypeError, match=r"must be a Plateau\.state_dict"):
        target.load_state_dict("abc")  # type: ignore[arg-type]
    assert target.__dict__ == before


def test_valid_state_still_loads_and_resumes_exactly() -> None:
    p, state = _base_state()
    q = Plateau.from_state_dict(state)
    assert q.state_dict() == state
    for m in (0.3, 0.2, 0.2, 0.2, 0.2):
        assert p.report(m) == q.report(m)
        assert p.apply(0.1) == q.apply(0.1)


@settings(max_examples=examples(150), deadline=None)
@given(
    key=st.sampled_from(
        ["best", "num_bad_epochs", "cooldown_counter", "reductions", "next_level", "evaluations"]
    ),
    value=st.one_of(
        st.integers(-(10**30), 10**30),
        st.sampled_from([HUGE, -HUGE, 2**63, True, False, None, "1", b"1", [1]]),
        st.floats(allow_nan=True, allow_infinity=True),
    ),
)
def test_fuzzed_state_values_either_load_consistently_or_change_nothing(
    key: str, value: object
) -> None:
    _, state = _base_state()
    target = Plateau(factor=0.5, patience=2, cooldown=1, levels=[0.5, 0.25])
    before = copy.deepcopy(target.__dict__)
    try:
        target.load_state_dict(state | {key: value})
    except (TypeError, ValueError) as err:
        assert isinstance(err, lrkit.ScheduleError)
        assert key in str(err)
        assert target.__dict__ == before
        return
    target.report(0.1)  # a loaded state keeps working
    assert math.isfinite(target.apply(0.1)) and 0.0 <= target.scale <= 1.0


@settings(max_examples=examples(100), deadline=None)
@given(
    factor=st.one_of(st.floats(), st.integers(-HUGE, HUGE)),
    min_lr=st.one_of(st.floats(), st.integers(-HUGE, HUGE)),
    patience=st.one_of(st.integers(-5, 10**30), st.floats()),
)
def test_fuzzed_constructor_arguments_raise_only_schedule_errors(
    factor: float, min_lr: float, patience: object
) -> None:
    try:
        p = Plateau(factor=factor, min_lr=min_lr, patience=patience)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        assert isinstance(err, lrkit.ScheduleError)
        return
    p.report(1.0)
    assert math.isfinite(p.apply(1.0))

"""Hostile and extreme arguments for the framework-free range test (issue 11).

Every bad argument is rejected up front with a ``ScheduleError`` naming it: no hang on a huge
``num_steps``, no internal ``exponential(): gamma`` error on a sweep wider than floats allow.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from _fuzz import examples
from lrkit.finder import RangeTest
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


# -- find_lr on a PyTorch model ----------------------------------------------------------------
def _torch_data() -> list[tuple[Any, Any]]:
    import torch

    torch.manual_seed(0)
    return [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(4)]


def test_find_lr_with_lazy_parameters_is_one_clear_error_and_changes_nothing() -> None:
    import torch

    from lrkit.torch import find_lr

    model = torch.nn.Sequential(torch.nn.LazyLinear(4), torch.nn.ReLU(), torch.nn.LazyLinear(1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        lrkit.ScheduleError,
        match=r"find_lr: .*lazy parameters in '0' \(LazyLinear\), '2' \(LazyLinear\).*forward pass",
    ):
        find_lr(model, opt, _torch_data(), torch.nn.functional.mse_loss, num_steps=5)
    assert all(torch.nn.parameter.is_lazy(p) for p in model.parameters())
    data = _torch_data()
    model(data[0][0])  # materialized, as the message says: the sweep runs
    result = find_lr(model, opt, data, torch.nn.functional.mse_loss, num_steps=5)
    assert len(result) == 5


def test_find_lr_removes_a_param_group_added_during_the_sweep() -> None:
    import torch

    from lrkit.torch import find_lr

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    groups = opt.param_groups
    first = groups[0]
    extra = torch.nn.Parameter(torch.zeros(1))

    def step(batch: Any) -> Any:
        if len(opt.param_groups) == 1:
            opt.add_param_group({"params": [extra], "lr": 0.5})
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(batch[0]), batch[1]) + (extra - 1.0).pow(2).sum()
        loss.backward()
        opt.step()
        return loss

    find_lr(model, opt, _torch_data(), step_fn=step, num_steps=5)
    assert opt.param_groups is groups and opt.param_groups == [first]
    assert first["lr"] == 0.1 and extra not in opt.state and not opt.state

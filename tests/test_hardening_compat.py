"""Hostile arguments to the PyTorch drop-ins: errors name PyTorch's parameter, growth stays finite."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.optim import lr_scheduler as tls

from lrkit.compat import torch as ct
from lrkit.errors import ScheduleError


def _sgd(lr: float = 0.1) -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)


@pytest.mark.parametrize(
    ("build", "param"),
    [
        (lambda o: ct.StepLR(o, step_size=10**400), "step_size"),
        (lambda o: ct.StepLR(o, step_size=3, gamma=10**400), "gamma"),
        (lambda o: ct.MultiStepLR(o, milestones=[1, 2], gamma=1e308), "gamma"),
        (lambda o: ct.OneCycleLR(o, max_lr=0.1, total_steps=100, last_epoch=2**63), "last_epoch"),
        (lambda o: ct.CosineAnnealingLR(o, T_max=10**400), "T_max"),
    ],
)
def test_huge_arguments_raise_value_errors_naming_pytorchs_parameter(
    build: Callable[[torch.optim.SGD], Any], param: str
) -> None:
    with pytest.raises(ScheduleError, match=rf"{param}=") as info:
        build(_sgd())
    assert isinstance(info.value, ValueError)
    assert len(str(info.value)) < 300  # a 400-digit value is abbreviated


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda o: ct.ExponentialLR(o, gamma=1.5), lambda o: tls.ExponentialLR(o, gamma=1.5)),
        (lambda o: ct.StepLR(o, 3, gamma=2.0), lambda o: tls.StepLR(o, 3, gamma=2.0)),
    ],
)
def test_growing_drop_ins_equal_pytorch_and_hold_finite_where_it_overflows(
    ours: Callable[[torch.optim.SGD], Any], theirs: Callable[[torch.optim.SGD], Any]
) -> None:
    o1, o2 = _sgd(), _sgd()
    a, b = ours(o1), theirs(o2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3000):
            x, y = a.get_last_lr()[0], b.get_last_lr()[0]
            assert math.isfinite(x)
            if y < 1e299:
                assert x == pytest.approx(y, rel=1e-12)
            o1.step()
            o2.step()
            a.step()
            b.step()
    assert not math.isfinite(b.get_last_lr()[0]) or b.get_last_lr()[0] >= 1e299


@pytest.mark.parametrize("lr", [1e-320, 1e-3, 5.0])
def test_growing_step_lr_from_any_lr_builds_and_stays_finite(lr: float) -> None:
    """StepLR(gamma > 1) from a subnormal lr must not overflow while sizing its hold."""
    sched = ct.StepLR(_sgd(lr), step_size=3, gamma=2.0)
    assert math.isfinite(sched.values_at(10**6)[0]["lr"])
    assert sched.values_at(30)[0]["lr"] == lr * 2.0**10

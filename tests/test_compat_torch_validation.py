"""lrkit.compat.torch on hostile arguments and state: errors name PyTorch's parameter, growth
stays finite, an unloadable state changes nothing."""

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

# the tests below step schedulers without an optimizer step
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")


def _sgd(lr: float = 0.1) -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)


@pytest.mark.parametrize(
    ("build", "param"),
    [
        (lambda o: ct.PolynomialLR(o, total_iters=10**400), "total_iters"),
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


def _opt2() -> torch.optim.SGD:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    return torch.optim.SGD(
        [{"params": [params[0]], "lr": 0.1}, {"params": [params[1]], "lr": 0.03}], momentum=0.9
    )


def _quiet(build: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build()


MISUSES: list[tuple[Callable[[Any], Any], str]] = [
    (lambda o: ct.StepLR("opt", 3), "optimizer"),  # type: ignore[arg-type]
    (lambda o: ct.StepLR(o, step_size=0), "step_size"),
    (lambda o: ct.StepLR(o, 3, last_epoch="x"), "last_epoch"),  # type: ignore[arg-type]
    (lambda o: ct.MultiStepLR(o, milestones=3), "milestones"),  # type: ignore[arg-type]
    (lambda o: ct.ConstantLR(o, factor=2.0), "factor"),
    (lambda o: ct.LinearLR(o, start_factor=0.0), "start_factor"),
    (lambda o: ct.ExponentialLR(o, gamma="a"), "gamma"),  # type: ignore[arg-type]
    (lambda o: ct.PolynomialLR(o, total_iters=2.5), "total_iters"),  # type: ignore[arg-type]
    (lambda o: ct.CosineAnnealingLR(o, T_max=0), "T_max"),
    (lambda o: ct.CosineAnnealingWarmRestarts(o, T_0=0), "T_0"),
    (lambda o: ct.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), "T_mult"),
    (lambda o: ct.CyclicLR(o, 0.01, 0.1, mode="sine"), "mode"),  # type: ignore[arg-type]
    (lambda o: ct.CyclicLR(o, [0.01] * 3, 0.1), "base_lr"),
    (lambda o: ct.OneCycleLR(o, max_lr=0.1), "total_steps"),
    (lambda o: ct.OneCycleLR(o, 0.1, 10, anneal_strategy="exp"), "anneal_strategy"),  # type: ignore[arg-type]
    (lambda o: ct.LambdaLR(o, lr_lambda=3), "lr_lambda"),  # type: ignore[arg-type]
    (lambda o: ct.MultiplicativeLR(o, lr_lambda=[abs] * 3), "lr_lambda"),
    (lambda o: ct.ReduceLROnPlateau(o, mode="middle"), "mode"),  # type: ignore[arg-type]
    (lambda o: ct.ReduceLROnPlateau(o, min_lr=[0.0] * 3), "min_lr"),
    (lambda o: ct.ReduceLROnPlateau(o).step("x"), "metrics"),
    (lambda o: ct.SequentialLR(o, [ct.StepLR(o, 2), ct.StepLR(o, 3)], [1, 2]), "milestones"),
    (lambda o: ct.SequentialLR(o, [tls.StepLR(o, 2)], []), "schedulers[0]"),
    (lambda o: ct.ChainedScheduler([]), "schedulers"),
    (lambda o: ct.ChainedScheduler([ct.StepLR(o, 2), ct.StepLR(_sgd(), 2)]), "schedulers[1]"),
]


@pytest.mark.parametrize(("build", "param"), MISUSES)
def test_misuse_of_every_drop_in_is_a_schedule_error_naming_pytorchs_parameter(
    build: Callable[[Any], Any], param: str
) -> None:
    with pytest.raises(ScheduleError) as info:
        _quiet(lambda: build(_opt2()))
    assert isinstance(info.value, ValueError | TypeError)
    assert param in str(info.value)


BAD_STATES: list[dict[str, Any]] = [
    {"last_epoch": None},
    {"last_epoch": math.inf},
    {"last_epoch": 7.9},
    {"last_epoch": -3},
    {"_step_count": "x"},
    {"base_lrs": [0.1]},
    {"base_lrs": [math.nan, 0.1]},
    {"_last_lr": [0.1, math.inf]},
    {"step_size": 0},
    {"gamma": "x"},
    {"_detached": [1, 0]},
]


@pytest.mark.parametrize("bad", BAD_STATES)
def test_an_unloadable_state_is_refused_before_anything_changes(bad: dict[str, Any]) -> None:
    opt = _opt2()
    donor = ct.StepLR(_opt2(), 3, 0.5)
    for _ in range(5):
        donor.step()
    sched = ct.StepLR(opt, 2, 0.1)
    sched.step()
    before, lrs = sched.state_dict(), [g["lr"] for g in opt.param_groups]
    with pytest.raises(ScheduleError):
        sched.load_state_dict({**donor.state_dict(), **bad})
    assert sched.state_dict() == before
    assert [g["lr"] for g in opt.param_groups] == lrs


@pytest.mark.parametrize(
    "bad",
    [
        {"min_lrs": 7.9},
        {"min_lrs": [0.0, "x"]},  # a negative min_lr is PyTorch's own: it loads
        {"last_epoch": None},
        {"last_epoch": math.inf},
        {"last_epoch": 7.9},
        {"best": "7"},
        {"num_bad_epochs": -1},
        {"patience": "x"},
    ],
)
def test_reduce_lr_on_plateau_refuses_an_unloadable_state_atomically(bad: dict[str, Any]) -> None:
    ref = tls.ReduceLROnPlateau(_opt2(), patience=0)
    for m in (3.0, 2.0, 2.5):
        ref.step(m)
    opt = _opt2()
    sched = ct.ReduceLROnPlateau(opt, patience=0)
    before, lrs = sched.state_dict(), [g["lr"] for g in opt.param_groups]
    with pytest.raises(ScheduleError):
        sched.load_state_dict({**ref.state_dict(), **bad})
    assert sched.state_dict() == before
    assert [g["lr"] for g in opt.param_groups] == lrs


def test_reduce_lr_on_plateau_recovers_many_reductions_or_an_unreachable_lr() -> None:
    """The number of reductions comes from log(lr/base)/log(factor), checked, not a search."""
    ref = tls.ReduceLROnPlateau(_opt2(), factor=0.999, patience=0, eps=0.0)
    for i in range(3000):
        ref.step(float(i))
    ours = ct.ReduceLROnPlateau(_opt2(), factor=0.999, patience=0, eps=0.0)
    ours.load_state_dict(ref.state_dict())
    assert ours.plateau is not None and ours.plateau.reductions == 2999  # the first is the best
    assert ours.get_last_lr() == ref.get_last_lr()
    by_hand = ref.state_dict()
    by_hand["_last_lr"] = [0.0123456, 0.00456]  # no number of reductions gives these
    ours.load_state_dict(by_hand)
    assert [g["lr"] for g in ours.optimizer.param_groups] == [0.0123456, 0.00456]
    ours.step(1e9)
    assert [g["lr"] for g in ours.optimizer.param_groups] == pytest.approx(
        [0.0123456 * 0.999, 0.00456 * 0.999]
    )

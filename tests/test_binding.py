"""The adapters (torch, optax, keras) turn a schedule or its text into a bound schedule one way."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest

import lrkit


def _torch(schedule: object, total_steps: object) -> Any:
    torch = pytest.importorskip("torch")
    from lrkit.torch import Scheduler

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return Scheduler(opt, schedule, total_steps=total_steps)  # type: ignore[arg-type]


def _optax(schedule: object, total_steps: object) -> Any:
    pytest.importorskip("optax")
    return importlib.import_module("lrkit.optax").as_optax(schedule, total_steps)


def _keras(schedule: object, total_steps: object) -> Any:
    pytest.importorskip("keras")
    return importlib.import_module("lrkit.keras").Schedule(schedule, total_steps)


ADAPTERS: dict[str, tuple[Callable[[object, object], Any], str, str]] = {
    "torch": (_torch, "Scheduler", "2**52"),
    "optax": (_optax, "lrkit.optax.as_optax", "2**53"),
    "keras": (_keras, "lrkit.keras.Schedule", "2**53"),
}
SHARES = "warmup('10%') >> cosine(start=0.1, steps='90%')"


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_every_adapter_binds_text_and_shares_the_same_way(adapter: str) -> None:
    make, _, _ = ADAPTERS[adapter]
    expected = lrkit.parse("warmup(10) >> cosine(start=0.1, steps=90)")
    made = make(SHARES, 100)
    schedule = made.schedules[0]["lr"] if adapter == "torch" else made.schedule
    assert schedule == expected


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_every_adapter_refuses_unbound_shares_with_one_message(adapter: str) -> None:
    make, where, _ = ADAPTERS[adapter]
    with pytest.raises(lrkit.UnboundScheduleError) as err:
        make(SHARES, None)
    message = str(err.value)
    assert message.startswith(f"{where}: schedule")
    assert "has durations given as shares of training ('%'); pass total_steps=<" in message


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@pytest.mark.parametrize(
    ("total", "error"),
    [(0, lrkit.ScheduleError), (2**60, lrkit.ScheduleError), (True, lrkit.ScheduleTypeError)],
)
def test_every_adapter_checks_total_steps_with_one_message(
    adapter: str, total: object, error: type[Exception]
) -> None:
    make, where, most = ADAPTERS[adapter]
    with pytest.raises(error) as err:
        make(SHARES, total)
    assert str(err.value).startswith(
        f"{where}: total_steps={total!r} is invalid; total_steps must be an int in [1, {most}]"
    )


def test_the_torch_scheduler_names_auto_and_none_among_the_total_steps_it_accepts() -> None:
    with pytest.raises(lrkit.ScheduleTypeError) as err:
        _torch(SHARES, "many")
    assert str(err.value) == (
        "Scheduler: total_steps='many' is invalid; total_steps must be an int in [1, 2**52], "
        "'auto' or None"
    )


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_every_adapter_binds_shares_at_the_largest_total_steps_it_names(adapter: str) -> None:
    make, _, most = ADAPTERS[adapter]
    total = 2 ** int(most.removeprefix("2**"))
    made = make(SHARES, total)
    schedule = made.schedules[0]["lr"] if adapter == "torch" else made.schedule
    warm = round(total / 10)  # 10 % of the steps, rounded to the nearest step
    assert schedule.duration == total
    assert schedule == lrkit.warmup(warm) >> lrkit.cosine(0.1, steps=total - warm)

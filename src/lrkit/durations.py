"""Durations: a step count, or a share of training resolved later by ``Schedule.bind``.

A duration argument (``steps``, ``every``, ``warmup``, ...) takes an ``int`` step count or a share of the
whole training run: ``"20%"`` or ``lrkit.pct(20)``. Shares are resolved by
``schedule.bind(total_steps)`` as ``round(total_steps * percent / 100)`` (halves round up).

>>> pct(20)
Pct(20.0)
>>> pct(20).resolve(1000)
200
>>> as_duration("cosine", "steps", "12.5%")
Pct(12.5)
"""

from __future__ import annotations

import math
import numbers
import reprlib
from dataclasses import dataclass

from lrkit.errors import ScheduleError, ScheduleTypeError, UnboundScheduleError

__all__ = ["Duration", "Pct", "as_duration", "pct", "scalar", "step_count", "steps_of"]


@dataclass(frozen=True)
class Pct:
    """A share of the whole training run, in percent (``Pct(20.0)`` is 20 %)."""

    percent: float

    def __post_init__(self) -> None:
        value = self.percent
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ScheduleTypeError(f"pct(): percent must be a number in [0, 100], got {value!r}")
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value) or not 0.0 <= value <= 100.0:
            raise ScheduleError(f"pct(): percent must be a number in [0, 100], got {value!r}")
        object.__setattr__(self, "percent", value)

    def resolve(self, total_steps: int) -> int:
        """Steps this share is of ``total_steps`` (halves round up; a share above 0 % is >= 1 step)."""
        steps = math.floor(total_steps * self.percent / 100.0 + 0.5)
        return max(steps, 1) if self.percent > 0.0 else steps

    def __str__(self) -> str:
        text = repr(self.percent)
        if text.endswith(".0"):
            text = text[:-2]
        return f"{text}%"

    def __repr__(self) -> str:
        return f"Pct({self.percent!r})"


Duration = int | Pct

MAX_STEPS = 2**53
"""Longest duration in steps: every whole step up to it is an exact float64."""


def pct(percent: float) -> Pct:
    """A share of training: ``pct(20)`` is 20 % of the steps given to ``bind``.

    steps = max(1, floor(total_steps * percent / 100 + 0.5)) once ``bind(total_steps)`` is called

    Args:
        percent: the share, in (0, 100] percent of training; ``"20%"`` is the same.

    >>> import lrkit
    >>> print(lrkit.cosine(start=0.1, steps=lrkit.pct(20)).bind(1000))
    cosine(start=0.1, steps=200)
    """
    return Pct(percent)


def _parse_percent(func: str, name: str, text: str) -> Pct:
    body = text.strip()
    if not body.endswith("%"):
        raise ScheduleError(
            f"{func}(): {name} must be an int step count or a share like '20%', got {text!r}"
        )
    try:
        value = float(body[:-1])
    except ValueError:
        raise ScheduleError(
            f"{func}(): {name} must be an int step count or a share like '20%', got {text!r}"
        ) from None
    try:
        return Pct(value)
    except ScheduleError:
        raise ScheduleError(f"{func}(): {name} share must be in [0%, 100%], got {text!r}") from None


def scalar(value: object) -> object:
    """A 0-d array (numpy, torch, jax) as the Python number it holds; anything else unchanged.

    ``multistep(milestones=[torch.tensor(30)])`` then reads the tensor as the number 30.

    >>> import numpy as np
    >>> scalar(np.array(30)), scalar("20%")
    (30, '20%')
    """
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        item = value.item()  # type: ignore[attr-defined]
        if isinstance(item, numbers.Real):
            return item
    return value


def step_count(func: str, name: str, value: object, *, low: int = 0) -> int:
    """A whole step count in ``[low, 2**53]`` (an ``int``, numpy integer or 0-d integer array).

    Args:
      func: the function named in errors.
      name: the parameter named in errors.
      value: the argument.
      low: smallest allowed value.

    >>> step_count("retarget", "end", 2**60)
    Traceback (most recent call last):
    ...
    lrkit.errors.ScheduleError: retarget(): end must be an int in [0, 2**53] (steps beyond are not exact floats), got 1152921504606846976
    """
    value = scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ScheduleTypeError(f"{func}(): {name} must be an int, got {reprlib.repr(value)}")
    result = int(value)
    if result < low:
        raise ScheduleError(f"{func}(): {name} must be an int >= {low}, got {result}")
    if result > MAX_STEPS:
        raise ScheduleError(
            f"{func}(): {name} must be an int in [{low}, 2**53] (steps beyond are not exact "
            f"floats), got {reprlib.repr(value)}"
        )
    return result


def as_duration(func: str, name: str, value: object, *, allow_zero: bool = False) -> Duration:
    """Validate a duration argument: a positive ``int`` (0 too if ``allow_zero``), a ``Pct`` or ``"N%"``.

    Whole floats (``100.0``) are accepted as step counts, and so are 0-d arrays holding one.

    Args:
      func: the function named in errors.
      name: the parameter named in errors.
      value: the argument.
      allow_zero: accept 0 steps (and 0%).
    """
    value = scalar(value)
    if isinstance(value, Pct):
        duration: Duration = value
    elif isinstance(value, str):
        duration = _parse_percent(func, name, value)
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ScheduleTypeError(
            f"{func}(): {name} must be an int step count or a share like '20%', got {value!r}"
        )
    elif isinstance(value, numbers.Integral):
        duration = int(value)
    else:
        number = float(value)
        if not (math.isfinite(number) and number.is_integer()):
            raise ScheduleTypeError(
                f"{func}(): {name} must be a whole number of steps or a share like '20%', "
                f"got {value!r}"
            )
        duration = int(number)
    low = 0 if allow_zero else 1
    if isinstance(duration, int) and duration < low:
        raise ScheduleError(f"{func}(): {name} must be an int >= {low}, got {value!r}")
    if isinstance(duration, int) and duration > MAX_STEPS:
        raise ScheduleError(
            f"{func}(): {name} must be an int in [{low}, 2**53] (steps beyond are not exact "
            f"floats), got {reprlib.repr(value)}"
        )
    if isinstance(duration, Pct) and not allow_zero and duration.percent == 0.0:
        raise ScheduleError(f"{func}(): {name} must be a share > 0%, got {value!r}")
    return duration


def steps_of(duration: Duration | None) -> float | None:
    """A resolved duration as a float (``None`` stays ``None``); a share raises until bound.

    >>> steps_of(100), steps_of(None)
    (100.0, None)
    """
    if duration is None:
        return None
    if isinstance(duration, Pct):
        raise UnboundScheduleError(
            f"duration {duration} is a share of training; call .bind(total_steps) first"
        )
    return float(duration)

"""Combinators: sequences, warm-up, restarts, scaling, clipping, shifting and mirroring.

They work on any schedule and are schedules themselves, so compositions nest freely.

>>> import lrkit
>>> s = lrkit.warmup(2) >> lrkit.linear(start=1.0, end=0.0, steps=2)
>>> [s(t) for t in range(5)]
[0.0, 0.5, 1.0, 0.5, 0.0]
>>> sgdr = lrkit.cosine(start=1.0, steps=2).repeat(mult=2.0)
>>> [round(sgdr(t), 4) for t in range(7)]
[1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lrkit import _validate as check
from lrkit._math import decay_pow
from lrkit.core import Array, Schedule
from lrkit.durations import Duration, as_duration
from lrkit.errors import ScheduleError, ScheduleTypeError
from lrkit.families import steps_of
from lrkit.registry import register
from lrkit.shapes import interpolate

__all__ = [
    "Clip",
    "Mirror",
    "Product",
    "Repeat",
    "Scale",
    "Sequence",
    "Shift",
    "Sum",
    "Truncate",
    "Warmup",
    "add",
    "product",
    "sequence",
    "warmup",
]


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _schedule(func: str, name: str, value: object) -> Schedule:
    if not isinstance(value, Schedule):
        raise ScheduleTypeError(f"{func}(): {name} must be an lrkit schedule, got {value!r}")
    return value


def _wrap(schedule: Schedule, *, tight: bool) -> str:
    """Text of ``schedule`` as an operand; ``tight`` for method calls (binds tighter than ``*``)."""
    text = str(schedule)
    loose = isinstance(schedule, Sequence) or (tight and isinstance(schedule, Scale))
    return f"({text})" if loose else text


_WARMUP_SHAPES = ("linear", "exp", "constant")


@register("warmup", kind="combinator", example="warmup(10) >> cosine(start=0.1, steps=90)")
@dataclass(frozen=True, repr=False)
class Warmup(Schedule):
    """A ramp in front of the next phase of a sequence, ending at whatever that phase starts at.

    value(t) = start + (target − start) · t/steps    (linear; "exp": start · (target/start)^(t/steps);
    "constant": start until ``steps``), target = next(0).

    >>> import lrkit
    >>> s = lrkit.warmup(4, start=0.1) >> lrkit.constant(0.5)
    >>> [round(s(t), 3) for t in range(6)]
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.5]
    """

    steps: Duration
    start: float = 0.0
    shape: str = "linear"
    _positional = ("steps",)

    def __post_init__(self) -> None:
        _set(self, "steps", as_duration("warmup", "steps", self.steps))
        _set(self, "start", check.number("warmup", "start", self.start, low=0.0))
        _set(self, "shape", check.choice("warmup", "shape", self.shape, _WARMUP_SHAPES))
        if self.shape == "exp" and self.start <= 0.0:
            raise ScheduleError(f"warmup(): shape='exp' needs start > 0, got start={self.start!r}")

    @property
    def duration(self) -> float | None:
        return steps_of(self.steps)

    def ramp(self, t: Array, target: float, xp: Any) -> Array:
        """The warm-up's values towards ``target``."""
        end = steps_of(self.steps)
        assert end is not None
        if self.shape == "constant":
            return xp.where(t < end, self.start, target) + xp.zeros_like(t)
        if self.shape == "exp" and target <= 0.0:
            raise ScheduleError(f"{self}: shape='exp' needs the next phase to start above 0")
        return interpolate(self.shape, self.start, target, t, end, xp)

    def _eval(self, t: Array, xp: Any) -> Array:
        raise ScheduleError(
            f"{self} must be followed by a schedule, e.g. {self} >> cosine(start=0.1, steps=900)"
        )

    def value_range(self) -> tuple[float, float]:
        raise ScheduleError(f"{self} has no range on its own; use it in a sequence")


def warmup(steps: Duration | str, start: float = 0.0, shape: str = "linear") -> Warmup:
    """A warm-up of ``steps`` steps, to put in front of a schedule: ``warmup(500) >> cosine(...)``."""
    return Warmup(steps, start, shape)  # type: ignore[arg-type]


def sequence(*parts: Schedule) -> Schedule:
    """``sequence(a, b, c) == a >> b >> c``; a single part is returned as it is."""
    if len(parts) == 1:
        return _schedule("sequence", "parts", parts[0])
    return Sequence(parts)


@register(
    "sequence",
    kind="combinator",
    example="sequence(constant(0.1, steps=10), linear(start=0.1, end=0.0, steps=90))",
    factory=sequence,
)
@dataclass(frozen=True, repr=False)
class Sequence(Schedule):
    """Play each part for its duration, then the next with its own step counter starting at 0.

    value(t) = part_i(t − b_i) for b_i <= t < b_{i+1},  b_i = sum of the earlier durations.
    Written ``a >> b >> c``; every part but the last must have an end.

    >>> import lrkit
    >>> s = lrkit.constant(1.0, steps=2) >> lrkit.constant(0.5)
    >>> [s(t) for t in range(4)]
    [1.0, 1.0, 0.5, 0.5]
    """

    parts: tuple[Schedule, ...]

    def __post_init__(self) -> None:
        raw = self.parts
        if isinstance(raw, Schedule) or not hasattr(raw, "__iter__"):
            raise ScheduleTypeError("sequence(): parts must be a list of schedules")
        parts: list[Schedule] = []
        for part in raw:
            part = _schedule("sequence", "parts", part)
            parts.extend(part.parts if isinstance(part, Sequence) else (part,))
        if len(parts) < 2:
            raise ScheduleError("sequence(): needs at least 2 parts")
        for part in parts[:-1]:
            if not part.bounded:
                raise ScheduleError(
                    f"sequence(): {part} has no end, so nothing after it would ever run; give it "
                    "steps= or put it last"
                )
        _set(self, "parts", tuple(parts))

    @classmethod
    def of(cls, *parts: Schedule) -> Sequence:
        """``a >> b >> ...`` (nested sequences are flattened)."""
        return cls(parts)

    @property
    def bounded(self) -> bool:
        return self.parts[-1].bounded

    @property
    def duration(self) -> float | None:
        last = self.parts[-1].duration
        return None if last is None else self._starts[-1] + last

    @cached_property
    def _starts(self) -> tuple[float, ...]:
        starts = [0.0]
        for part in self.parts[:-1]:
            length = part.duration
            assert length is not None
            starts.append(starts[-1] + length)
        return tuple(starts)

    @cached_property
    def _targets(self) -> tuple[float | None, ...]:
        targets: list[float | None] = []
        for index, part in enumerate(self.parts[:-1]):
            after = self.parts[index + 1]
            if not isinstance(part, Warmup):
                targets.append(None)
            elif isinstance(after, Warmup):
                targets.append(after.start)
            else:
                targets.append(float(after(0)))
        return (*targets, None)

    def _eval(self, t: Array, xp: Any) -> Array:
        if isinstance(self.parts[-1], Warmup):
            self.parts[-1]._eval(t, xp)  # raises: a warm-up needs a schedule after it
        out = self.parts[-1]._eval(xp.maximum(t - self._starts[-1], 0.0), xp)
        for index in range(len(self.parts) - 2, -1, -1):
            part, begin = self.parts[index], self._starts[index]
            local = xp.maximum(t - begin, 0.0) if begin else t
            target = self._targets[index]
            if isinstance(part, Warmup) and target is not None:
                value = part.ramp(local, target, xp)
            else:
                value = part._eval(local, xp)
            out = xp.where(t < self._starts[index + 1], value, out)
        return out

    def __str__(self) -> str:
        return " >> ".join(_wrap(part, tight=False) for part in self.parts)

    def value_range(self) -> tuple[float, float]:
        lows, highs = [], []
        for index, part in enumerate(self.parts):
            target = self._targets[index]
            if isinstance(part, Warmup) and target is not None:
                lows.append(min(part.start, target))
                highs.append(max(part.start, target))
            else:
                low, high = part.value_range()
                lows.append(low)
                highs.append(high)
        return min(lows), max(highs)


@register("scale", kind="combinator", example="cosine(start=1.0, steps=100) * 0.1")
@dataclass(frozen=True, repr=False)
class Scale(Schedule):
    """Values multiplied by a constant: ``s * k`` or ``k * s``.

    value(t) = factor · s(t)
    """

    schedule: Schedule
    factor: float

    def __post_init__(self) -> None:
        _set(self, "schedule", _schedule("scale", "schedule", self.schedule))
        _set(self, "factor", check.number("scale", "factor", self.factor, low=0.0))

    @property
    def bounded(self) -> bool:
        return self.schedule.bounded

    @property
    def duration(self) -> float | None:
        return self.schedule.duration

    def _eval(self, t: Array, xp: Any) -> Array:
        return self.schedule._eval(t, xp) * self.factor

    def __str__(self) -> str:
        return f"{_wrap(self.schedule, tight=False)} * {self.factor!r}"

    def value_range(self) -> tuple[float, float]:
        low, high = self.schedule.value_range()
        return low * self.factor, high * self.factor


class _Method(Schedule):
    """Mixin for combinators written as a method call on their schedule: ``s.clip(...)``."""

    schedule: Schedule

    @property
    def bounded(self) -> bool:
        return self.schedule.bounded

    @property
    def duration(self) -> float | None:
        return self.schedule.duration

    def __str__(self) -> str:
        args = self._text_args(skip=1)  # the first field is the schedule itself
        return f"{_wrap(self.schedule, tight=True)}.{self.name}({', '.join(args)})"


@register("clip", kind="combinator", example="exponential(start=1.0, gamma=0.9).clip(low=0.1)")
@dataclass(frozen=True, repr=False)
class Clip(_Method):
    """Values clipped into ``[low, high]``: ``s.clip(low=..., high=...)``.

    value(t) = min(max(s(t), low), high)
    """

    schedule: Schedule
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        _set(self, "schedule", _schedule("clip", "schedule", self.schedule))
        if self.low is None and self.high is None:
            raise ScheduleError("clip(): give low=, high= or both")
        if self.low is not None:
            _set(self, "low", check.number("clip", "low", self.low, low=0.0))
        if self.high is not None:
            _set(self, "high", check.number("clip", "high", self.high, low=0.0))
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ScheduleError(
                f"clip(): low must be <= high, got low={self.low}, high={self.high}"
            )

    def _eval(self, t: Array, xp: Any) -> Array:
        value = self.schedule._eval(t, xp)
        if self.low is not None:
            value = xp.maximum(value, self.low)
        if self.high is not None:
            value = xp.minimum(value, self.high)
        return value

    def value_range(self) -> tuple[float, float]:
        low, high = self.schedule.value_range()
        floor = -math.inf if self.low is None else self.low
        ceiling = math.inf if self.high is None else self.high
        return min(max(low, floor), ceiling), min(max(high, floor), ceiling)


@register("shift", kind="combinator", example="cosine(start=0.1, steps=100).shift(10)")
@dataclass(frozen=True, repr=False)
class Shift(_Method):
    """Delayed by ``steps`` (holding its first value meanwhile); a negative shift starts it later on.

    value(t) = s(max(0, t − steps))
    """

    schedule: Schedule
    steps: int | Duration
    _positional = ("schedule", "steps")

    def __post_init__(self) -> None:
        _set(self, "schedule", _schedule("shift", "schedule", self.schedule))
        if isinstance(self.steps, int) and not isinstance(self.steps, bool) and self.steps < 0:
            if self.schedule.bounded and self.schedule.is_bound:
                length = self.schedule.duration
                if length is not None and -self.steps >= length:
                    raise ScheduleError(
                        f"shift(): steps={self.steps} skips the whole schedule ({length:g} steps)"
                    )
        else:
            _set(self, "steps", as_duration("shift", "steps", self.steps, allow_zero=True))

    @property
    def duration(self) -> float | None:
        inner = self.schedule.duration
        shift = steps_of(self.steps)
        return None if inner is None else max(0.0, inner + (shift or 0.0))

    def _eval(self, t: Array, xp: Any) -> Array:
        shift = steps_of(self.steps) or 0.0
        return self.schedule._eval(xp.maximum(t - shift, 0.0), xp)

    def value_range(self) -> tuple[float, float]:
        return self.schedule.value_range()


@register("repeat", kind="combinator", example="cosine(start=0.1, steps=20).repeat(mult=2.0)")
@dataclass(frozen=True, repr=False)
class Repeat(_Method):
    """Warm restarts (SGDR): replay the schedule, period i lasting ``P·mult^i``, scaled by ``decay^i``.

    With P = s.duration, cycle k starts at b_k = P·(mult^k − 1)/(mult − 1) (k·P when mult = 1):
    value(t) = decay^k · s((t − b_k) / mult^k).  ``cycles`` ends it after that many periods.
    ``cosine(start, end, steps=T_0).repeat(mult=T_mult)`` is PyTorch's CosineAnnealingWarmRestarts.
    """

    schedule: Schedule
    mult: float = 1.0
    decay: float = 1.0
    cycles: int | None = None

    def __post_init__(self) -> None:
        _set(self, "schedule", _schedule("repeat", "schedule", self.schedule))
        if not self.schedule.bounded:
            raise ScheduleError(f"repeat(): {self.schedule} has no end, so it cannot repeat")
        _set(self, "mult", check.number("repeat", "mult", self.mult, low=1.0))
        _set(self, "decay", check.number("repeat", "decay", self.decay, low=0.0, low_open=True))
        if self.cycles is not None:
            _set(self, "cycles", check.integer("repeat", "cycles", self.cycles, low=1))
        elif self.decay > 1.0:
            raise ScheduleError("repeat(): decay > 1 grows without bound; give cycles= to end it")

    @property
    def bounded(self) -> bool:
        return self.cycles is not None

    @property
    def duration(self) -> float | None:
        if self.cycles is None:
            return None
        period = self._period
        if self.mult == 1.0:
            return period * self.cycles
        return period * (self.mult**self.cycles - 1.0) / (self.mult - 1.0)

    @property
    def _period(self) -> float:
        period = self.schedule.duration
        assert period is not None
        if period <= 0:
            raise ScheduleError(f"repeat(): {self.schedule} lasts 0 steps, so it cannot repeat")
        return period

    def _begin(self, k: Array) -> Array:
        if self.mult == 1.0:
            return k * self._period
        return self._period * (self.mult**k - 1.0) / (self.mult - 1.0)

    def _eval(self, t: Array, xp: Any) -> Array:
        period, mult = self._period, self.mult
        if mult == 1.0:
            k = xp.floor(t / period)
        else:
            k = xp.floor(xp.log(1.0 + t * (mult - 1.0) / period) / math.log(mult))
            k = xp.where(self._begin(k + 1.0) <= t, k + 1.0, k)  # guard against rounding
            k = xp.where(self._begin(k) > t, k - 1.0, k)
        local = t - self._begin(k)
        if self.cycles is not None:
            last = float(self.cycles - 1)
            over = k > last
            k = xp.where(over, xp.zeros_like(t) + last, k)
            local = xp.where(over, xp.zeros_like(t) + period * mult**last, local)
        if mult != 1.0:
            local = local / mult**k
        value = self.schedule._eval(xp.minimum(local, period), xp)
        return value if self.decay == 1.0 else value * decay_pow(self.decay, k, xp)

    def value_range(self) -> tuple[float, float]:
        low, high = self.schedule.value_range()
        if self.decay == 1.0:
            return low, high
        last = (self.cycles - 1) if self.cycles is not None else None
        if self.decay < 1.0:
            floor = low * self.decay**last if last is not None else 0.0
            return min(low, floor), high
        assert last is not None
        return low, high * self.decay**last


@register(
    "mirror",
    kind="combinator",
    example="cyclic(low=0.01, high=0.1, half_cycle=20).mirror(0.8, 0.9)",
)
@dataclass(frozen=True, repr=False)
class Mirror(_Method):
    """The schedule's range mapped inversely onto ``[low, high]``: momentum cycled against the LR.

    value(t) = high − (high − low) · (s(t) − s_min) / (s_max − s_min)     (``high`` if s is flat)

    Smith (2018): momentum high where the LR is low. ``cyclic(...).mirror(0.8, 0.9)`` is CyclicLR's
    momentum.
    """

    schedule: Schedule
    low: float
    high: float

    def __post_init__(self) -> None:
        _set(self, "schedule", _schedule("mirror", "schedule", self.schedule))
        _set(self, "low", check.number("mirror", "low", self.low, low=0.0))
        _set(self, "high", check.number("mirror", "high", self.high, low=0.0))
        if self.low > self.high:
            raise ScheduleError(
                f"mirror(): low must be <= high, got low={self.low}, high={self.high}"
            )
        if self.schedule.is_bound:
            self._source_range  # noqa: B018 - fail at construction when the range is unknown

    @cached_property
    def _source_range(self) -> tuple[float, float]:
        return self.schedule.value_range()

    def _eval(self, t: Array, xp: Any) -> Array:
        low, high = self._source_range
        value = self.schedule._eval(t, xp)
        if high <= low:
            return xp.zeros_like(t) + self.high
        return self.high - (self.high - self.low) * ((value - low) / (high - low))

    def value_range(self) -> tuple[float, float]:
        return self.low, self.high


class _Combine(Schedule):
    """Mixin for n-ary combinators of schedules evaluated at the same step (product, add)."""

    parts: tuple[Schedule, ...]

    def _combine(self, left: Array, right: Array) -> Array:
        raise NotImplementedError  # pragma: no cover

    def _neutral_range(self) -> tuple[float, float]:
        raise NotImplementedError  # pragma: no cover

    def _fold_range(self, a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        return self._combine(a[0], b[0]), self._combine(a[1], b[1])

    def __post_init__(self) -> None:
        raw = self.parts
        if isinstance(raw, Schedule) or not hasattr(raw, "__iter__"):
            raise ScheduleTypeError(f"{self.name}(): parts must be a list of schedules")
        parts: list[Schedule] = []
        for part in raw:
            part = _schedule(self.name, "parts", part)
            parts.extend(part.parts if isinstance(part, type(self)) else (part,))
        if len(parts) < 2:
            raise ScheduleError(f"{self.name}(): needs at least 2 parts")
        _set(self, "parts", tuple(parts))

    @property
    def bounded(self) -> bool:
        return all(part.bounded for part in self.parts)

    @property
    def duration(self) -> float | None:
        ends = [part.duration for part in self.parts]
        return None if any(e is None for e in ends) else max(e or 0.0 for e in ends)

    def _eval(self, t: Array, xp: Any) -> Array:
        out = self.parts[0]._eval(t, xp)
        for part in self.parts[1:]:
            out = self._combine(out, part._eval(t, xp))
        return out

    def __str__(self) -> str:
        return f"{self.name}({', '.join(str(part) for part in self.parts)})"

    def value_range(self) -> tuple[float, float]:
        if self.bounded:
            return super().value_range()
        total = self._neutral_range()
        for part in self.parts:
            total = self._fold_range(total, part.value_range())
        return total


def product(*parts: Schedule) -> Product:
    """``product(a, b, ...)``: the values of several schedules multiplied (also ``a * b``)."""
    return Product(parts)


@register(
    "product",
    kind="combinator",
    example="product(cosine(start=1.0, steps=100), exponential(start=0.1, gamma=0.99))",
    factory=product,
)
@dataclass(frozen=True, repr=False)
class Product(_Combine):
    """The values of several schedules multiplied: ``a * b`` (PyTorch's ChainedScheduler).

    value(t) = Π_i s_i(t); it ends when its longest bounded part ends (parts hold their last values).

    >>> import lrkit
    >>> s = lrkit.constant(0.5) * lrkit.linear(start=1.0, end=0.0, steps=2)
    >>> [s(t) for t in range(3)]
    [0.5, 0.25, 0.0]
    """

    parts: tuple[Schedule, ...]

    def _combine(self, left: Array, right: Array) -> Array:
        return left * right

    def _neutral_range(self) -> tuple[float, float]:
        return 1.0, 1.0


@register("truncate", kind="combinator", example="exponential(start=0.1, gamma=0.9).truncate(20)")
@dataclass(frozen=True, repr=False)
class Truncate(_Method):
    """The schedule's first ``steps`` steps; it then holds its value at ``steps``.

    value(t) = s(min(t, steps)) — gives an end to an endless schedule, or cuts a longer one short.

    >>> import lrkit
    >>> s = lrkit.step(1.0, every=2).truncate(4) >> lrkit.constant(0.1)
    >>> [s(t) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    """

    schedule: Schedule
    steps: Duration
    _positional = ("schedule", "steps")

    def __post_init__(self) -> None:
        _set(self, "schedule", _schedule("truncate", "schedule", self.schedule))
        _set(self, "steps", as_duration("truncate", "steps", self.steps))

    @property
    def bounded(self) -> bool:
        return True

    @property
    def duration(self) -> float | None:
        return steps_of(self.steps)

    def _eval(self, t: Array, xp: Any) -> Array:
        end = steps_of(self.steps)
        assert end is not None
        return self.schedule._eval(xp.minimum(t, end), xp)


def add(*parts: Schedule | float) -> Sum:
    """``add(a, b, ...)``: values added (also ``a + b`` and ``s + k``)."""
    return Sum(tuple(_addend(part) for part in parts))


def _addend(part: object) -> Schedule:
    if isinstance(part, Schedule):
        return part
    if isinstance(part, bool) or not isinstance(part, int | float):
        raise ScheduleTypeError(f"add(): parts must be schedules or numbers, got {part!r}")
    from lrkit.families import Constant

    return Constant(float(part))


@register(
    "add",
    kind="combinator",
    example="add(cosine(start=0.09, steps=100), constant(0.01))",
    factory=add,
)
@dataclass(frozen=True, repr=False)
class Sum(_Combine):
    """Values of several schedules added: ``a + b``, ``s + 0.01`` (a floor under a decay).

    value(t) = Σ_i s_i(t); it ends when its longest bounded part ends.

    >>> import lrkit
    >>> s = lrkit.linear(start=1.0, end=0.0, steps=2) + 0.5
    >>> [s(t) for t in range(3)]
    [1.5, 1.0, 0.5]
    """

    parts: tuple[Schedule, ...]

    def _combine(self, left: Array, right: Array) -> Array:
        return left + right

    def _neutral_range(self) -> tuple[float, float]:
        return 0.0, 0.0

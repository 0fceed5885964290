"""Combinators: sequences, warm-up, restarts, scaling, clipping, shifting and mirroring.

They work on any schedule and are schedules themselves, so compositions nest freely. This module
fills :data:`lrkit.core.COMBINATORS`, the table behind the operators ``>> * +`` and the methods
``.repeat() .clip() .shift() .truncate() .mirror() .retarget()`` of every schedule.

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
import numbers
import reprlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NoReturn

from lrkit import _limits
from lrkit import _validate as check
from lrkit._limits import TextShape, text_cost
from lrkit._math import decay_pow
from lrkit.core import COMBINATORS, METHODS, Array, Schedule, finite_bounds, overflow, text_shape
from lrkit.durations import MAX_STEPS, Duration, Pct, as_duration, step_count, steps_of
from lrkit.errors import ScheduleError, ScheduleTypeError
from lrkit.families import Constant
from lrkit.shapes import interpolate, shape_name

__all__ = [
    "Clip",
    "Mirror",
    "Product",
    "Repeat",
    "Retarget",
    "Scale",
    "Sequence",
    "Shift",
    "Sum",
    "Truncate",
    "Warmup",
    "WarmupPrefix",
    "add",
    "phase_starts",
    "product",
    "sequence",
    "warmup",
]


def _schedule(func: str, name: str, value: object) -> Schedule:
    if not isinstance(value, Schedule):
        raise ScheduleTypeError(f"{func}(): {name} must be an lrkit schedule, got {value!r}")
    return value


_LOG_MAX = math.log(sys.float_info.max)


def _known(schedule: Schedule) -> tuple[float, float] | None:
    """The closed-form bounds of ``schedule``, ``None`` when unknown."""
    low, high = schedule.bounds()
    return None if (low, high) == (-math.inf, math.inf) else (low, high)


def _flatten(
    kind: type[Schedule], func: str, raw: object
) -> tuple[list[Schedule], Schedule | None]:
    """The parts of an n-ary combinator with nested ones of the same ``kind`` spliced in, and the
    first raw part when it is of that kind (``base``: its parts are checked already).

    Building ``a op b op c ...`` one operator at a time then costs Python work for the new parts
    only, not for every part so far (see :func:`_extend_from`).
    """
    if isinstance(raw, Schedule) or not hasattr(raw, "__iter__"):
        raise ScheduleTypeError(f"{func}(): parts must be a list of schedules")
    parts: list[Schedule] = []
    base: Schedule | None = None
    for index, part in enumerate(raw):
        if isinstance(part, WarmupPrefix):
            raise ScheduleTypeError(
                f"{func}(): {part} is a warm-up prefix; build with >> or lrkit.sequence()"
            )
        part = _schedule(func, "parts", part)
        if isinstance(part, kind):
            base = part if index == 0 else base
            parts.extend(part.parts)  # type: ignore[attr-defined]
        else:
            parts.append(part)
    return parts, base


def _extend_from(schedule: Schedule, base: Schedule | None) -> None:
    """Record the depth and the folded bounds of ``base``, the first part of ``schedule`` spliced
    in, so ``schedule`` computes them from its new parts only."""
    if base is None:
        return
    memo: dict[int, tuple[object, int]] = {}
    count = len(base.parts)  # type: ignore[attr-defined]
    rest = schedule.parts[count:]  # type: ignore[attr-defined]
    deepest = max([_limits.depth(base, memo) - 1, *(_limits.depth(p, memo) for p in rest)])
    schedule.__dict__["_depth"] = 1 + deepest  # not fields: equality and hashing ignore them
    schedule.__dict__["_fold_base"] = (count, _known(base))
    schedule.__dict__["_shape_base"] = (count, text_shape(base))


def _merge(shape: TextShape, other: TextShape) -> TextShape:
    """Two operands side by side in one chain: operators add up, the rest is the largest."""
    return (
        shape[0] + other[0],
        max(shape[1], other[1]),
        max(shape[2], other[2]),
        max(shape[3], other[3]),
        max(shape[4], other[4]),
    )


def _check_parts(func: str, count: int, what: str) -> None:
    if count > _limits.MAX_CHAIN:
        raise ScheduleError(
            f"{func}(): {count} parts {what}, more than {_limits.MAX_CHAIN}; the text form "
            f"writes at most {_limits.MAX_CHAIN} parts in one chain"
        )


def _wrap(schedule: Schedule, *, tight: bool) -> str:
    """Text of ``schedule`` as an operand; ``tight`` for method calls (binds tighter than ``*``)."""
    text = str(schedule)
    loose = isinstance(schedule, Sequence | Warmup) or (tight and isinstance(schedule, Scale))
    return f"({text})" if loose else text


_EXAMPLE_AFTER = "cosine(start=0.1, steps=900)"


@dataclass(frozen=True, repr=False)
class WarmupPrefix:
    """``warmup(n)``: a ramp waiting for the schedule it leads into. Not a schedule by itself.

    ``warmup(n) >> s`` is the schedule :class:`Warmup`; every other use of a bare prefix (calling,
    scaling, adding, repeating it, or putting it last in a sequence) raises ``TypeError`` at once,
    with the right form in the message.

    Args:
      steps: length of the ramp (int steps or a share like ``"5%"``).
      start: value at step 0.
      shape: curve of the ramp (:data:`lrkit.shapes.SHAPES`).
    """

    steps: Duration
    start: float = 0.0
    shape: str = "linear"

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", as_duration("warmup", "steps", self.steps))
        object.__setattr__(self, "start", check.number("warmup", "start", self.start, low=0.0))
        object.__setattr__(self, "shape", shape_name("warmup", "shape", self.shape))
        if self.shape == "exp" and self.start <= 0.0:
            raise ScheduleError(f"warmup(): shape='exp' needs start > 0, got start={self.start!r}")

    def __str__(self) -> str:
        return Warmup(self.steps, self.start, self.shape, then=Constant(1.0))._head()

    def __repr__(self) -> str:
        return f"lrkit.{self}"

    def _misuse(self, what: str, right: str | None = None) -> NoReturn:
        right = right or f"({self} >> {_EXAMPLE_AFTER}){_SUFFIX.get(what, '')}"
        raise ScheduleTypeError(
            f"{self} is a warm-up prefix, not a schedule: {what}; put it in front of the schedule "
            f"it leads into: {right}"
        )

    def __rshift__(self, other: object) -> Warmup:
        if isinstance(other, Schedule):
            return Warmup(self.steps, self.start, self.shape, then=other)
        if isinstance(other, WarmupPrefix):
            self._misuse(
                "two warm-ups in a row need the schedule after them",
                f"{self} >> ({other} >> {_EXAMPLE_AFTER})",
            )
        return NotImplemented

    def __rrshift__(self, other: object) -> NoReturn:
        self._misuse("it cannot end a sequence", f"{other} >> ({self} >> {_EXAMPLE_AFTER})")

    def __call__(self, t: object) -> NoReturn:
        self._misuse("it cannot be evaluated")

    def __mul__(self, other: object) -> NoReturn:
        self._misuse("it cannot be scaled")

    __rmul__ = __mul__

    def __add__(self, other: object) -> NoReturn:
        self._misuse("it cannot be added")

    __radd__ = __add__

    def __getattr__(self, name: str) -> Any:
        if name in (*METHODS, "bind", "to_dict", "value_range"):
            self._misuse(f".{name} needs a schedule")
        raise AttributeError(name)


_SUFFIX = {
    "it cannot be scaled": " * 2.0",
    "it cannot be added": " + 0.01",
    "it cannot be evaluated": "(t)",
}


def warmup(steps: Duration | str, start: float = 0.0, shape: str = "linear") -> WarmupPrefix:
    """A warm-up of ``steps`` steps, to put in front of a schedule: ``warmup(500) >> cosine(...)``.

    The ramp goes from ``start`` to the first value of the schedule after it, with the curve
    ``shape`` (any of :data:`lrkit.shapes.SHAPES`: linear by default, ``"exp"`` geometric,
    ``"constant"`` holds ``start``).

    Args:
      steps: length of the ramp (int steps or a share like ``"5%"``).
      start: value at step 0 (default 0).
      shape: curve of the ramp (:data:`lrkit.shapes.SHAPES`, default linear).

    >>> import lrkit
    >>> s = lrkit.warmup(2) >> lrkit.constant(1.0)
    >>> [s(t) for t in range(4)]
    [0.0, 0.5, 1.0, 1.0]
    """
    return WarmupPrefix(as_duration("warmup", "steps", steps), start, shape)


class Warmup(
    Schedule,
    name="warmup",
    kind="combinator",
    example="warmup(10) >> cosine(start=0.1, steps=90)",
    factory=warmup,
):
    """A ramp of ``steps`` steps into ``then``, ending at whatever ``then`` starts at: ``warmup(n) >> s``.

    value(t) = start + (target − start) · t/steps   for t < steps (linear; other shapes as
    :func:`lrkit.shapes.interpolate`), target = then(0);  value(t) = then(t − steps) after.

    A warm-up takes everything after it: ``warmup(n) >> a >> b`` is ``warmup(n) >> (a >> b)``.

    Args:
      steps: length of the ramp (int steps or a share like ``"5%"``).
      start: value at step 0.
      shape: curve of the ramp (:data:`lrkit.shapes.SHAPES`).
      then: the schedule the ramp leads into.

    >>> import lrkit
    >>> s = lrkit.warmup(4, start=0.1) >> lrkit.constant(0.5)
    >>> [round(s(t), 3) for t in range(6)]
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.5]
    """

    steps: Duration
    start: float = 0.0
    shape: str = "linear"
    then: Schedule = field(kw_only=True)
    _positional = ("steps",)

    def __post_init__(self) -> None:
        prefix = WarmupPrefix(self.steps, self.start, self.shape)
        self._set_fields(
            steps=prefix.steps,
            start=prefix.start,
            shape=prefix.shape,
            then=_schedule("warmup", "then", self.then),
        )
        if self.shape == "exp" and self.then.is_bound and self._target <= 0.0:
            raise ScheduleError(f"{self}: shape='exp' needs the next phase to start above 0")
        _check_parts("warmup", self._chain, "chained by '>>' (a warm-up takes all after it)")

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if (args or kwargs) and "then" not in kwargs:  # (pickle and copy call it bare)
            raise ScheduleTypeError(
                "Warmup(n) without then= was the 0.1 spelling of a warm-up; write "
                "lrkit.warmup(n) >> schedule (or Warmup(n, then=schedule))"
            )
        return super().__new__(cls)

    @classmethod
    def _from_fields(cls, fields: Mapping[str, Any]) -> object:
        if "then" not in fields:  # a dict saved by 0.1: a bare warm-up, a part of a sequence
            return WarmupPrefix(**fields)
        return cls(**fields)

    @cached_property
    def _target(self) -> float:
        return float(self.then(0))

    @property
    def bounded(self) -> bool:
        return self.then.bounded

    @property
    def duration(self) -> float | None:
        rest = self.then.duration
        ramp = steps_of(self.steps)
        return None if rest is None or ramp is None else ramp + rest

    def _eval(self, t: Array, xp: Any) -> Array:
        end = steps_of(self.steps)
        assert end is not None
        after = self.then._eval(xp.maximum(t - end, 0.0), xp)
        ramp = interpolate(self.shape, self.start, self._target, t, end, xp)
        return xp.where(t < end, ramp, after)

    @property
    def _chain(self) -> int:
        return 1 + self.then._chain  # `then` is written after `>>`, without parentheses

    def _text_shape(self) -> TextShape:
        ops, plus, times, level, child = text_shape(self.then)
        return (1 + ops, plus, times, level, max(child, 8))  # 8: the head's literal arguments

    def _head(self) -> str:
        args = ", ".join(self._text_args(without=("then",)))  # `then` is printed after `>>`
        return f"{self.name}({args})"

    def __str__(self) -> str:
        return f"{self._head()} >> {self.then}"  # it takes everything after it: no parentheses

    def bind(self, total_steps: int) -> Schedule:
        return _bind_chain(self, total_steps)

    def _bounds(self) -> tuple[float, float] | None:
        after = _known(self.then)
        return None if after is None else (min(self.start, after[0]), max(self.start, after[1]))


def sequence(*parts: Schedule | WarmupPrefix) -> Schedule:
    """``sequence(a, b, c) == a >> b >> c``; a single part is returned as it is.

    value(t) = part_i(t - start_i) for start_i <= t < start_i + steps_i (each part in local time;
    the last part runs on forever)

    A warm-up prefix takes everything after it: ``sequence(a, warmup(5), b, c)`` is
    ``a >> (warmup(5) >> b >> c)``.

    Args:
        *parts: schedules (every part but the last must have a length) and warm-up prefixes.

    >>> import lrkit
    >>> s = lrkit.sequence(lrkit.constant(1.0, steps=2), lrkit.linear(1.0, end=0.0, steps=4))
    >>> [s(t) for t in range(7)]
    [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    """
    flat: list[Schedule | WarmupPrefix] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, Sequence) else (part,))
    if not flat:
        raise ScheduleError("sequence(): needs at least 1 part")
    # a sequence given first holds no warm-up before its last part: look from there on
    checked = len(parts[0].parts) - 1 if isinstance(parts[0], Sequence) else 0
    for index in range(checked, len(flat) - 1):
        part = flat[index]
        if isinstance(part, WarmupPrefix | Warmup):
            rest = sequence(*flat[index + 1 :])
            if isinstance(part, Warmup):
                head: Schedule = part._replace(then=sequence(part.then, rest))
            else:
                head = part >> rest
            return sequence(*flat[:index], head) if index else head
    if isinstance(flat[-1], WarmupPrefix):
        raise ScheduleTypeError(
            f"sequence(): {flat[-1]} must be followed by the schedule it leads into, e.g. "
            f"{flat[-1]} >> {_EXAMPLE_AFTER}"
        )
    if len(flat) == 1:
        return _schedule("sequence", "parts", flat[0])
    return Sequence(tuple(_schedule("sequence", "parts", part) for part in parts))


class Sequence(
    Schedule,
    name="sequence",
    kind="combinator",
    example="sequence(constant(0.1, steps=10), linear(start=0.1, end=0.0, steps=90))",
    factory=sequence,
):
    """Play each part for its duration, then the next with its own step counter starting at 0.

    value(t) = part_i(t − b_i) for b_i <= t < b_{i+1},  b_i = sum of the earlier durations.
    Written ``a >> b >> c``; every part but the last must have an end. A warm-up is always the
    last part (it takes everything after it).

    >>> import lrkit
    >>> s = lrkit.constant(1.0, steps=2) >> lrkit.constant(0.5)
    >>> [s(t) for t in range(4)]
    [1.0, 1.0, 0.5, 0.5]
    """

    parts: tuple[Schedule, ...]
    _length_field = None

    def __post_init__(self) -> None:
        parts, base = _flatten(Sequence, "sequence", self.parts)
        if len(parts) < 2:
            raise ScheduleError("sequence(): needs at least 2 parts")
        checked = len(base.parts) - 1 if isinstance(base, Sequence) else 0
        for part in parts[checked:-1]:
            if isinstance(part, Warmup):
                raise ScheduleError(
                    f"sequence(): {part} takes everything after it, so it must be the last part; "
                    "build with >> or lrkit.sequence()"
                )
            if not part.bounded:
                raise ScheduleError(
                    f"sequence(): {part} has no end, so nothing after it would ever run; give it "
                    "steps= or put it last"
                )
        self._set_fields(parts=tuple(parts))
        _check_parts("sequence", self._chain, "chained by '>>'")
        _extend_from(self, base)

    @classmethod
    def _from_fields(cls, fields: Mapping[str, Any]) -> object:
        parts = fields.get("parts")
        if isinstance(parts, tuple) and any(isinstance(p, WarmupPrefix) for p in parts):
            return sequence(*parts)  # a dict saved before warm-ups became a prefix type
        return cls(**fields)

    @classmethod
    def of(cls, *parts: Schedule) -> Schedule:
        """``a >> b >> ...`` (nested sequences are flattened)."""
        return sequence(*parts)

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

    @property
    def _chain(self) -> int:
        return len(self.parts) - 1 + self.parts[-1]._chain  # a warm-up last continues the chain

    def _text_shape(self) -> TextShape:
        count, shape = self.__dict__.get("_shape_base", (1, text_shape(self.parts[0])))
        shape = _merge(shape, (len(self.parts) - count, 0, 0, 0, 0))  # the '>>' between parts
        for part in self.parts[count:]:  # parts are never parenthesised: see __str__
            shape = _merge(shape, text_shape(part))
        return shape

    def _eval(self, t: Array, xp: Any) -> Array:
        out = self.parts[-1]._eval(xp.maximum(t - self._starts[-1], 0.0), xp)
        for index in range(len(self.parts) - 2, -1, -1):
            part, begin = self.parts[index], self._starts[index]
            local = xp.maximum(t - begin, 0.0) if begin else t
            out = xp.where(t < self._starts[index + 1], part._eval(local, xp), out)
        return out

    def __str__(self) -> str:
        *head, last = self.parts
        tail = str(last) if isinstance(last, Warmup) else _wrap(last, tight=False)
        return " >> ".join([*(_wrap(part, tight=False) for part in head), tail])

    def bind(self, total_steps: int) -> Schedule:
        return _bind_chain(self, total_steps)

    def _bounds(self) -> tuple[float, float] | None:
        start, found = self.__dict__.get("_fold_base", (0, (math.inf, -math.inf)))
        if found is None:
            return None
        low, high = found
        for part in self.parts[start:]:
            known = _known(part)
            if known is None:
                return None
            low, high = min(low, known[0]), max(high, known[1])
        return low, high


# -- phases: what a sequence (with its warm-ups) plays one after the other ----------------------


def phase_starts(schedule: Schedule) -> list[float]:
    """The steps where each phase of ``schedule`` begins (``[0.0]`` for a single phase).

    >>> import lrkit
    >>> phase_starts(lrkit.constant(1.0, steps=3) >> (lrkit.warmup(2) >> lrkit.constant(0.5)))
    [0.0, 3.0, 5.0]
    """
    starts = [0.0]
    for segment in _segments(schedule)[:-1]:
        own = steps_of(segment.steps) if isinstance(segment, Warmup) else segment.duration
        starts.append(starts[-1] + (own or 0.0))
    return starts


# -- binding a chain of phases with cumulative rounding -----------------------------------------


def _segments(schedule: Schedule) -> list[Schedule]:
    """The phases played one after the other: sequence parts, a warm-up's ramp and what follows
    (looking through scaling, clipping and mirroring, which keep the length)."""
    if isinstance(schedule, Sequence):
        return [seg for part in schedule.parts for seg in _segments(part)]
    if isinstance(schedule, Warmup):
        return [schedule, *_segments(schedule.then)]
    if isinstance(schedule, Scale | Clip | Mirror):  # same length as what they wrap
        return _segments(schedule.schedule)
    return [schedule]


def _share(segment: Schedule) -> Pct | None:
    """The segment's own length when it is a share of training."""
    length = segment.steps if isinstance(segment, Warmup) else segment._length()
    return length if isinstance(length, Pct) else None


def _bind_chain(schedule: Schedule, total_steps: int) -> Schedule:
    """Bind a chain of phases so its shares add up exactly: phase boundaries are rounded, not lengths.

    The k-th share-length phase ends at ``round(total · (p_1 + ... + p_k) / 100)`` (plus the fixed
    lengths before it), so ``warmup("5%") >> cosine(steps="95%")`` lasts exactly ``total`` steps.
    """
    segments = _segments(schedule)
    shares = [share for share in map(_share, segments) if share is not None]
    if sum(share.percent for share in shares) > 100.0 + 1e-9:
        listed = " + ".join(str(share) for share in shares)
        raise ScheduleError(
            f"bind(): the shares of training of {schedule} add up to more than 100% ({listed})"
        )
    lengths: list[int | None] = []
    done, percent = 0, 0.0
    for segment in segments:
        share = _share(segment)
        if share is None:
            lengths.append(None)
            continue
        percent += share.percent
        boundary = min(total_steps, math.floor(total_steps * percent / 100.0 + 0.5))
        lengths.append(max(boundary - done, 1))
        done += lengths[-1] or 0
    return _rebuild(schedule, iter(lengths), total_steps)


def _rebuild(schedule: Schedule, lengths: Iterator[int | None], total_steps: int) -> Schedule:
    if isinstance(schedule, Sequence):
        return Sequence(tuple(_rebuild(part, lengths, total_steps) for part in schedule.parts))
    if isinstance(schedule, Scale | Clip | Mirror):
        return schedule._replace(schedule=_rebuild(schedule.schedule, lengths, total_steps))
    length = next(lengths)
    if isinstance(schedule, Warmup):
        then = _rebuild(schedule.then, lengths, total_steps)
        steps = schedule.steps if length is None else length
        return schedule._replace(steps=steps, then=then)
    if length is not None and schedule._length_field is not None:
        schedule = schedule._replace(**{schedule._length_field: length})
    return schedule.bind(total_steps) if not schedule.is_bound else schedule


class Scale(
    Schedule,
    name="scale",
    kind="combinator",
    example="cosine(start=1.0, steps=100) * 0.1",
):
    """Values multiplied by a constant: ``s * k`` or ``k * s``.

    value(t) = factor · s(t)
    """

    schedule: Schedule
    factor: float

    def __post_init__(self) -> None:
        self._set_fields(schedule=_schedule("scale", "schedule", self.schedule))
        self._set_fields(factor=check.number("scale", "factor", self.factor, low=0.0))

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

    def _text_shape(self) -> TextShape:
        inner = text_shape(self.schedule)
        if isinstance(self.schedule, Sequence | Warmup):  # parenthesised, as _wrap does
            return (0, 0, 1, 0, 2 + text_cost(inner))
        return (inner[0], inner[1], inner[2] + 1, inner[3], inner[4])

    def _bounds(self) -> tuple[float, float] | None:
        inner = _known(self.schedule)
        if inner is None:
            return None
        low, high = inner
        return finite_bounds(
            "scale",
            "factor",
            self.factor,
            low * self.factor,
            high * self.factor,
            f"{self.schedule} reaches {high:g}",
        )


class _Method(Schedule):
    """Mixin for combinators written as a method call on their schedule: ``s.clip(...)``."""

    schedule: Schedule

    def _bounds(self) -> tuple[float, float] | None:
        return _known(self.schedule)  # shift, truncate, retarget: the same values, re-timed

    @property
    def bounded(self) -> bool:
        return self.schedule.bounded

    @property
    def duration(self) -> float | None:
        return self.schedule.duration

    def __str__(self) -> str:
        args = self._text_args(skip=1)  # the first field is the schedule itself
        return f"{_wrap(self.schedule, tight=True)}.{self.name}({', '.join(args)})"

    def _text_shape(self) -> TextShape:
        inner = text_shape(self.schedule)  # the call's own arguments are numbers: 4 at most
        if isinstance(self.schedule, Sequence | Warmup | Scale):  # parenthesised, as _wrap does
            return (0, 0, 0, 1, max(2 + text_cost(inner), 4))
        return (inner[0], inner[1], inner[2], inner[3] + 1, max(inner[4], 4))


class Clip(
    _Method,
    name="clip",
    kind="combinator",
    example="exponential(start=1.0, factor=0.9).clip(low=0.1)",
):
    """Values clipped into ``[low, high]``: ``s.clip(low=..., high=...)``.

    value(t) = min(max(s(t), low), high)

    Args:
      schedule: the schedule clipped.
      low: lower bound (``None``: none).
      high: upper bound (``None``: none).
    """

    schedule: Schedule
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        self._set_fields(schedule=_schedule("clip", "schedule", self.schedule))
        if self.low is None and self.high is None:
            raise ScheduleError("clip(): give low=, high= or both")
        if self.low is not None:
            self._set_fields(low=check.number("clip", "low", self.low, low=0.0))
        if self.high is not None:
            self._set_fields(high=check.number("clip", "high", self.high, low=0.0))
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

    def _bounds(self) -> tuple[float, float] | None:
        inner = _known(self.schedule)
        if inner is None:
            inner = (-math.inf, math.inf)
        floor = -math.inf if self.low is None else self.low
        ceiling = math.inf if self.high is None else self.high
        low = min(max(inner[0], floor), ceiling)
        high = min(max(inner[1], floor), ceiling)
        return (low, high) if math.isfinite(low) and math.isfinite(high) else None


class Shift(
    _Method,
    name="shift",
    kind="combinator",
    example="cosine(start=0.1, steps=100).shift(10)",
):
    """Delayed by ``steps`` (holding its first value meanwhile); a negative shift starts it later on.

    value(t) = s(max(0, t − steps))
    """

    schedule: Schedule
    steps: int | Duration
    _positional = ("schedule", "steps")
    _length_field = None  # `steps` is the delay, not the length

    def __post_init__(self) -> None:
        self._set_fields(schedule=_schedule("shift", "schedule", self.schedule))
        if isinstance(self.steps, int) and not isinstance(self.steps, bool) and self.steps < 0:
            if self.schedule.bounded and self.schedule.is_bound:
                length = self.schedule.duration
                if length is not None and -self.steps >= length:
                    raise ScheduleError(
                        f"shift(): steps={self.steps} skips the whole schedule ({length:g} steps)"
                    )
        else:
            self._set_fields(steps=as_duration("shift", "steps", self.steps, allow_zero=True))

    @property
    def duration(self) -> float | None:
        inner = self.schedule.duration
        shift = steps_of(self.steps)
        return None if inner is None else max(0.0, inner + (shift or 0.0))

    def _eval(self, t: Array, xp: Any) -> Array:
        shift = steps_of(self.steps) or 0.0
        return self.schedule._eval(xp.maximum(t - shift, 0.0), xp)


def _log_periods(mult: float, cycles: int) -> float:
    """``log`` of the length of ``cycles`` periods of one step, each ``mult`` times the last.

    That length is ``(mult^cycles − 1)/(mult − 1)`` (``cycles`` when ``mult`` is 1), computed
    without overflow for any ``cycles`` (a Python int of any size).

    >>> round(math.exp(_log_periods(2.0, 3)), 6)  # 1 + 2 + 4
    7.0
    """
    count = float(min(cycles, 2**64))  # more than 2**53 periods of >= 1 step is too long anyway
    if mult == 1.0:
        return math.log(count)
    exponent = count * math.log(mult)
    if exponent > 700.0:
        return exponent - math.log(mult - 1.0)
    return math.log(math.expm1(exponent) / (mult - 1.0))


class Repeat(
    _Method,
    name="repeat",
    kind="combinator",
    example="cosine(start=0.1, steps=20).repeat(mult=2.0)",
):
    """Warm restarts (SGDR): replay the schedule, period i lasting ``P·mult^i``, scaled by ``decay^i``.

    With P = s.duration, cycle k starts at b_k = P·(mult^k − 1)/(mult − 1) (k·P when mult = 1):
    value(t) = decay^k · s((t − b_k) / mult^k).  ``cycles`` ends it after that many periods.
    ``cosine(start, end, steps=T_0).repeat(mult=T_mult)`` is PyTorch's CosineAnnealingWarmRestarts.

    Args:
      schedule: the schedule replayed (it must have an end).
      mult: period growth factor (>= 1; PyTorch's ``T_mult``).
      decay: peak factor per period (> 0).
      cycles: number of periods, ``None`` for endless.
    """

    schedule: Schedule
    mult: float = 1.0
    decay: float = 1.0
    cycles: int | None = None

    def __post_init__(self) -> None:
        self._set_fields(schedule=_schedule("repeat", "schedule", self.schedule))
        if not self.schedule.bounded:
            raise ScheduleError(f"repeat(): {self.schedule} has no end, so it cannot repeat")
        self._set_fields(mult=check.number("repeat", "mult", self.mult, low=1.0))
        self._set_fields(decay=check.number("repeat", "decay", self.decay, low=0.0, low_open=True))
        if self.cycles is not None:
            self._set_fields(cycles=check.integer("repeat", "cycles", self.cycles, low=1))
        elif self.decay > 1.0:
            raise ScheduleError("repeat(): decay > 1 grows without bound; give cycles= to end it")
        if self.cycles != 1 and self.schedule.is_bound and self.mult > 1.0:
            period = self.schedule.duration or 1.0
            if math.log(period) + math.log(self.mult) > math.log(MAX_STEPS):
                raise ScheduleError(
                    f"repeat(): mult={self.mult!r} makes the second period last {period:g} × "
                    f"{self.mult:g} steps, more than 2**53; use cycles=1 or a smaller mult"
                )
        if self.cycles is not None and self.schedule.is_bound:
            period = self.schedule.duration or 1.0
            growth = _log_periods(self.mult, self.cycles)
            if math.log(max(period, 1.0)) + growth > math.log(MAX_STEPS):
                raise ScheduleError(
                    f"repeat(): cycles={reprlib.repr(self.cycles)} with mult={self.mult!r} lasts "
                    f"more than 2**53 steps (periods of {period:g} steps, each mult times longer); "
                    "use fewer cycles"
                )

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

    @property
    def _top_cycle(self) -> float:
        """The last cycle whose start and the next one's are finite floats (``mult > 1``)."""
        room = math.log(sys.float_info.max) - math.log(max(self._period, 1.0)) - 1.0
        return float(math.floor(room / math.log(self.mult)) - 2)

    def _begin(self, k: Array) -> Array:
        if self.mult == 1.0:
            return k * self._period
        return self._period * (self.mult**k - 1.0) / (self.mult - 1.0)

    def _eval(self, t: Array, xp: Any) -> Array:
        period, mult = self._period, self.mult
        if self.cycles == 1:  # one period, then its end value: mult and decay play no part
            return self.schedule._eval(xp.minimum(t, period), xp)
        if mult == 1.0:
            k = xp.floor(t / period)
        else:
            # t capped where t·(mult − 1)/period would overflow, k where mult^(k+1) would: the
            # cycles there begin beyond the float range (the guards below still see t itself)
            span = xp.minimum(t, sys.float_info.max / 4.0 / (mult - 1.0) * min(period, 1.0))
            k = xp.floor(xp.log(1.0 + span * (mult - 1.0) / period) / math.log(mult))
            k = xp.minimum(k, self._top_cycle)
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

    def _bounds(self) -> tuple[float, float] | None:
        inner = _known(self.schedule)
        if inner is None:
            return None
        low, high = inner
        if self.decay == 1.0:
            return low, high
        if self.cycles is None:  # endless decay: cycle k scales by decay^k -> 0
            return min(low, 0.0), max(high, 0.0)
        last = self.cycles - 1
        if self.decay < 1.0:  # the last cycle is the lowest (values >= 0; min/max: any sign)
            return min(low, low * self.decay**last), max(high, high * self.decay**last)
        if last * math.log(self.decay) >= _LOG_MAX or (
            high > 0.0 and math.log(high) + last * math.log(self.decay) >= _LOG_MAX
        ):
            raise overflow(
                "repeat",
                "decay",
                self.decay,
                math.inf,
                f"cycle {last} scales {self.schedule} (up to {high:g}) by decay^{last}",
            )
        return min(low, low * self.decay**last), max(high, high * self.decay**last)


class Mirror(
    _Method,
    name="mirror",
    kind="combinator",
    example="cyclic(low=0.01, high=0.1, half_cycle=20).mirror(0.8, 0.9)",
):
    """The schedule's range mapped inversely onto ``[low, high]``: momentum cycled against the LR.

    value(t) = high − (high − low) · (s(t) − s_min) / (s_max − s_min)     (``high`` if s is flat)

    with ``(s_min, s_max) = s.bounds()`` (exact for leaves, presets, warm-ups and sequences).

    Smith (2018): momentum high where the LR is low. ``cyclic(...).mirror(0.8, 0.9)`` is CyclicLR's
    momentum.

    Args:
      schedule: the schedule whose range is mirrored.
      low: value where the schedule is highest.
      high: value where the schedule is lowest.
    """

    schedule: Schedule
    low: float
    high: float

    def __post_init__(self) -> None:
        self._set_fields(schedule=_schedule("mirror", "schedule", self.schedule))
        self._set_fields(low=check.number("mirror", "low", self.low, low=0.0))
        self._set_fields(high=check.number("mirror", "high", self.high, low=0.0))
        if self.low > self.high:
            raise ScheduleError(
                f"mirror(): low must be <= high, got low={self.low}, high={self.high}"
            )
        if self.schedule.is_bound:
            self._source_range  # noqa: B018 - fail at construction when the range is unknown

    @cached_property
    def _source_range(self) -> tuple[float, float]:
        low, high = self.schedule.bounds()
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ScheduleError(
                f"mirror(): the range of {self.schedule} is unknown (its bounds() are "
                f"({low}, {high})); mirror needs a schedule with closed-form bounds (a custom "
                "leaf gives them in _bounds)"
            )
        return low, high

    def _eval(self, t: Array, xp: Any) -> Array:
        low, high = self._source_range
        value = self.schedule._eval(t, xp)
        if high <= low:
            return xp.zeros_like(t) + self.high
        mirrored = self.high - (self.high - self.low) * ((value - low) / (high - low))
        # rounding (high - (high - low) loses low when high >> low) must not leave [low, high]
        return xp.minimum(xp.maximum(mirrored, self.low), self.high)

    def _bounds(self) -> tuple[float, float]:
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
        parts, base = _flatten(type(self), self.name, self.parts)
        if len(parts) < 2:
            raise ScheduleError(f"{self.name}(): needs at least 2 parts")
        _check_parts(self.name, len(parts), f"joined by '{'*' if self.name == 'product' else '+'}'")
        self._set_fields(parts=tuple(parts))
        _extend_from(self, base)

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

    def _text_shape(self) -> TextShape:
        count, shape = self.__dict__.get("_shape_base", (0, (0, 0, 0, 0, 2)))
        costliest = shape[4] - 2  # each part is one argument of the call
        for part in self.parts[count:]:
            costliest = max(costliest, text_cost(text_shape(part)))
        return (0, 0, 0, 0, 2 + costliest)

    def _bounds(self) -> tuple[float, float] | None:
        start, found = self.__dict__.get("_fold_base", (0, self._neutral_range()))
        if found is None:
            return None
        low, high = found
        for part in self.parts[start:]:
            item = _known(part)
            if item is None:
                return None
            low, high = self._fold_range((low, high), item)
        if not (math.isfinite(low) and math.isfinite(high)):
            largest = (" * " if self.name == "product" else " + ").join(
                f"{part.bounds()[1]:g}" for part in self.parts
            )
            raise ScheduleError(
                f"{self.name}(): the values of its parts ({largest}) overflow the float range "
                f"(largest float {sys.float_info.max:.4g}): {self}"
            )
        return low, high


def product(*parts: Schedule) -> Product:
    """``product(a, b, ...)``: the values of several schedules multiplied (also ``a * b``).

    value(t) = a(t) * b(t) * ...

    Args:
        *parts: the schedules to multiply (at least 2).

    >>> import lrkit
    >>> s = lrkit.product(lrkit.constant(0.1), lrkit.step(1.0, every=2, factor=0.5))
    >>> [s(t) for t in range(5)]
    [0.1, 0.1, 0.05, 0.05, 0.025]
    """
    return Product(parts)


class Product(
    _Combine,
    name="product",
    kind="combinator",
    example="product(cosine(start=1.0, steps=100), exponential(start=0.1, factor=0.99))",
    factory=product,
):
    """The values of several schedules multiplied: ``a * b`` (PyTorch's ChainedScheduler).

    value(t) = Π_i s_i(t); it ends when its longest bounded part ends (parts hold their last values).

    Args:
      parts: the schedules multiplied (at least 2; nested products are flattened).

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

    def _fold_range(self, a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        corners = [x * y for x in a for y in b]  # interval product: values of any sign
        if any(math.isnan(c) for c in corners):  # inf · 0: the product overflowed already
            return math.nan, math.nan
        return min(corners), max(corners)


class Truncate(
    _Method,
    name="truncate",
    kind="combinator",
    example="exponential(start=0.1, factor=0.9).truncate(20)",
):
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
        self._set_fields(schedule=_schedule("truncate", "schedule", self.schedule))
        self._set_fields(steps=as_duration("truncate", "steps", self.steps))

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
    """``add(a, b, ...)``: values added (also ``a + b`` and ``s + k``).

    value(t) = a(t) + b(t) + ...   (a number k is ``constant(k)``)

    Args:
        *parts: schedules or non-negative numbers (at least 2).

    >>> import lrkit
    >>> s = lrkit.add(lrkit.linear(1.0, end=0.0, steps=4), 0.5)
    >>> [s(t) for t in range(6)]
    [1.5, 1.25, 1.0, 0.75, 0.5, 0.5]
    """
    return Sum(tuple(_addend(part) for part in parts))


def _addend(part: object) -> Schedule:
    if isinstance(part, Schedule):
        return part
    if isinstance(part, bool) or not isinstance(part, numbers.Real):
        raise ScheduleTypeError(f"add(): parts must be schedules or numbers, got {part!r}")
    return Constant(part)  # type: ignore[arg-type]  # constant() checks it (finite, >= 0)


class Sum(
    _Combine,
    name="add",
    kind="combinator",
    example="add(cosine(start=0.09, steps=100), constant(0.01))",
    factory=add,
):
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


class Retarget(
    _Method,
    name="retarget",
    kind="combinator",
    example="cosine(start=0.1, steps=100).retarget(at=40, end=100, new_end=160)",
):
    """A change of training budget at step ``at``: steps ``at..end`` are stretched onto ``at..new_end``.

    value(t) = s(t)                                            for t < at
    value(t) = s(at + (t − at) · (end − at) / (new_end − at))  for at <= t <= new_end
    value(t) = s(end + (t − new_end))                          for t > new_end

    The value at ``at`` is unchanged, the old end value is reached at ``new_end``, a monotone
    schedule stays monotone, and steps before ``at`` are untouched (a linear time warp).

    Successive retargets fold into one: ``s.retarget(...).retarget(...)`` is a single
    ``retarget`` whose ``at``, ``end`` and ``new_end`` are lists, the first budget change first
    (each warps the time of the ones before it), so any number of budget changes nests no deeper.

    Args:
      schedule: the schedule being retargeted.
      at: the step where the budget changes (an int >= 0), or one per budget change.
      end: the old end of training (an int > ``at``), or one per budget change.
      new_end: the new end of training (an int > ``at``), or one per budget change.

    >>> import lrkit
    >>> s = lrkit.linear(start=1.0, end=0.0, steps=4).retarget(at=2, end=4, new_end=6)
    >>> [s(t) for t in range(8)]
    [1.0, 0.75, 0.5, 0.375, 0.25, 0.125, 0.0, 0.0]
    >>> str(s.retarget(at=3, end=6, new_end=9))
    'linear(start=1.0, steps=4).retarget(at=[2, 3], end=[4, 6], new_end=[6, 9])'
    """

    schedule: Schedule
    at: int | tuple[int, ...]
    end: int | tuple[int, ...]
    new_end: int | tuple[int, ...]

    def __post_init__(self) -> None:
        inner = _schedule("retarget", "schedule", self.schedule)
        warps = _warps(self.at, self.end, self.new_end)
        if isinstance(inner, Retarget):  # fold: the inner budget changes come first
            warps = inner._warps + warps
            inner = inner.schedule
        _check_parts("retarget", len(warps), "(budget changes)")
        self._set_fields(schedule=inner)
        if len(warps) == 1:
            self._set_fields(at=warps[0][0], end=warps[0][1], new_end=warps[0][2])
        else:
            ats, ends, new_ends = (tuple(w[i] for w in warps) for i in range(3))
            self._set_fields(at=ats, end=ends, new_end=new_ends)

    @property
    def _warps(self) -> tuple[tuple[int, int, int], ...]:
        """``(at, end, new_end)`` of each budget change, the first one first."""
        if isinstance(self.at, int):
            return ((self.at, self.end, self.new_end),)  # type: ignore[return-value]
        return tuple(zip(self.at, self.end, self.new_end, strict=True))  # type: ignore[arg-type]

    @property
    def duration(self) -> float | None:
        inner = self.schedule.duration
        for at, end, new_end in self._warps:
            if inner is None:
                return None
            if inner <= at:
                continue
            if inner <= end:
                inner = at + (inner - at) * (new_end - at) / (end - at)
            else:
                inner = new_end + (inner - end)
        return inner

    def _eval(self, t: Array, xp: Any) -> Array:
        for at_step, end_step, new_end_step in reversed(self._warps):  # the last change first
            at, end, new_end = float(at_step), float(end_step), float(new_end_step)
            stretched = at + (t - at) * (end - at) / (new_end - at)
            t = xp.where(t < at, t, xp.where(t <= new_end, stretched, end + (t - new_end)))
        return self.schedule._eval(t, xp)


def _warps(at: object, end: object, new_end: object) -> tuple[tuple[int, int, int], ...]:
    """Checked ``(at, end, new_end)`` triples from ints or from lists of equal length."""
    given = (at, end, new_end)
    if all(isinstance(v, tuple | list) for v in given):
        lists = [list(v) for v in given]  # type: ignore[call-overload]
        if not lists[0] or any(len(v) != len(lists[0]) for v in lists):
            raise ScheduleError(
                "retarget(): at, end and new_end must be ints or lists of the same length >= 1, "
                f"got {len(lists[0])}, {len(lists[1])} and {len(lists[2])} entries"
            )
        triples = list(zip(*lists, strict=True))
    else:
        triples = [given]
    checked = []
    for one_at, one_end, one_new_end in triples:
        a = step_count("retarget", "at", one_at)
        e = step_count("retarget", "end", one_end)
        n = step_count("retarget", "new_end", one_new_end)
        if e <= a:
            raise ScheduleError(f"retarget(): end must be an int > at={a}, got end={one_end!r}")
        if n <= a:
            raise ScheduleError(
                f"retarget(): new_end must be an int > at={a}, got new_end={one_new_end!r}"
            )
        checked.append((a, e, n))
    return tuple(checked)


COMBINATORS.update(
    sequence=sequence,
    scale=Scale,
    product=product,
    add=add,
    repeat=Repeat,
    clip=Clip,
    shift=Shift,
    truncate=Truncate,
    mirror=Mirror,
    retarget=Retarget,
)

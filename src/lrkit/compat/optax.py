"""optax's schedule functions, with optax's names and arguments, returning lrkit schedules.

``lrkit.compat.optax.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 1000)`` equals
``optax.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 1000)`` at every step but is an lrkit value:
it prints as text (``warmup(100) >> cosine(start=0.001, steps=900)``), parses back, pickles, and
drives PyTorch, optax or Keras. Formulas follow ``optax/schedules/_schedule.py`` (optax 0.2):
``transition_begin`` is a ``shift``, joins are sequences (each piece on local time),
``*_onecycle_schedule`` are ``piecewise`` curves through optax's accumulated values.

No JAX is needed to build or evaluate these schedules.

What optax accepts is accepted: ``transition_steps <= 0`` gives the constant ``init_value`` and a
negative ``transition_begin`` counts as 0 (optax only logs both); values below zero (a negative
``init_value``, ``end_value``, ``alpha``...) give an :class:`Affine` schedule, ``scale · s(t) +
offset`` over a non-negative lrkit schedule ``s`` (it evaluates everywhere lrkit schedules do,
but has no text form: lrkit's own schedules are learning rates, never negative). A growing
``exponential_decay`` (``decay_rate > 1``) without ``end_value`` holds at ±1e300, where optax's
values run on to ``inf`` (as lrkit.compat.torch's StepLR/ExponentialLR with ``gamma > 1``).
Errors are lrkit's ``ScheduleError`` family (``ValueError``/``TypeError``) named with optax's
parameters; optax's own errors (``decay_steps <= 0`` for the cosine schedules, negative scales,
an unknown ``interpolate_type``) stay errors. Still refused here, where optax produces ``nan``
or ``inf``: a negative ``decay_rate`` or cosine ``exponent``. ``join_schedules`` cuts a piece
that is longer than its slot with ``truncate``.
"""

from __future__ import annotations

import itertools
import math
import numbers
import sys
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Sequence as Seq
from typing import Any, ClassVar

import lrkit
from lrkit.compat._args import Checks
from lrkit.compose import WarmupPrefix
from lrkit.core import Array, Schedule
from lrkit.errors import ScheduleError, ScheduleTypeError

__all__ = [
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "exponential_decay",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "sgdr_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
]

_checks = Checks("optax")
_named = _checks.named
_fail = _checks.fail
_type_fail = _checks.type_fail
_number = _checks.number


def _steps(func: str, name: str, value: object) -> int:
    """A whole number of steps (optax's step arguments are ints; they may be <= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _type_fail(func, name, value, "an int")
    number = float(value)
    if not (math.isfinite(number) and number.is_integer()):
        raise _type_fail(func, name, value, "an int")
    return int(number)


def _count(func: str, name: str, value: object) -> int:
    """A number of steps ``>= 0`` (a warm-up length, a boundary)."""
    steps = _steps(func, name, value)
    if steps < 0:
        raise _fail(func, name, value, "an int >= 0")
    return steps


#: A growing ``exponential_decay`` without ``end_value`` holds at this magnitude: equal to optax
#: below it, finite where optax's values overflow to inf (as lrkit.compat.torch's StepLR).
_GROWTH_CAP = 1e300


class Affine(Schedule):
    """``scale · s(t) + offset``: optax's values below zero, over a non-negative lrkit schedule.

    value(t) = scale · s(t) + offset      (any finite ``scale`` and ``offset``)

    lrkit's own schedules are learning rates, never negative; optax's functions accept any real
    values, so the drop-ins build the schedule of the values lifted above zero and shift (or
    negate) them back. It evaluates wherever lrkit schedules do (numpy, torch, ``jax.jit``) but
    has no text or dict form.

    >>> s = Affine(lrkit.linear(3.0, 0.0, steps=3), offset=-1.0)
    >>> [s(t) for t in range(4)]
    [2.0, 1.0, 0.0, -1.0]
    """

    name: ClassVar[str] = "affine"
    _length_field: ClassVar[str | None] = None
    schedule: Schedule
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, Schedule):
            raise _type_fail("Affine", "schedule", self.schedule, "an lrkit schedule")
        for key in ("scale", "offset"):
            value = _number("Affine", key, getattr(self, key))
            if not math.isfinite(value):
                raise _fail("Affine", key, value, "finite")
            self._set_fields(**{key: value})

    @property
    def bounded(self) -> bool:
        return self.schedule.bounded

    @property
    def duration(self) -> float | None:
        return self.schedule.duration

    def _eval(self, t: Array, xp: Any) -> Array:
        return self.schedule._eval(t, xp) * self.scale + self.offset

    def _bounds(self) -> tuple[float, float] | None:
        low, high = self.schedule.bounds()
        ends = sorted((low * self.scale + self.offset, high * self.scale + self.offset))
        return (ends[0], ends[1]) if all(map(math.isfinite, ends)) else None

    def __str__(self) -> str:
        return f"affine({self.schedule}, scale={self.scale!r}, offset={self.offset!r})"

    def __repr__(self) -> str:
        return f"lrkit.compat.optax.Affine({str(self)!r})"

    def to_dict(self) -> dict[str, Any]:
        raise ScheduleError(
            f"{self}: a schedule with values below zero has no lrkit text or dict form"
        )


def _lifted(build: Callable[..., Schedule], *values: float) -> Schedule:
    """``build(*values)``, or with values below zero: ``build`` of the values lifted by
    ``−min`` then shifted back (``Affine``); for ``build`` affine in its values jointly."""
    low = min(0.0, *values)
    if low == 0.0:
        return build(*values)
    return Affine(build(*(v - low for v in values)), offset=low)


def _negated(build: Callable[[float], Schedule], value: float) -> Schedule:
    """``build(value)``, or ``−build(−value)`` below zero (for ``build`` linear in ``value``)."""
    return build(value) if value >= 0.0 else Affine(build(-value), scale=-1.0)


def _constant(value: float, steps: int | None = None) -> Schedule:
    """``constant(value)`` of any sign."""
    return _lifted(lambda v: lrkit.constant(v, steps=steps), value)


def _ramp(start: float, peak: float, steps: int, then: Schedule) -> Schedule:
    """optax's linear warm-up ``start -> peak`` over ``steps`` steps joined to ``then``."""
    if steps == 0:
        return then
    if start >= 0.0 and peak >= 0.0 and float(then(0)) == peak:
        return lrkit.warmup(steps, start=start) >> then
    return _lifted(lambda a, b: lrkit.linear(a, b, steps=steps), start, peak) >> then


@_named
def constant_schedule(value: float) -> Schedule:
    """``optax.constant_schedule``: ``value`` at every step.

    Args:
      value: the value at every step (any real number, as optax's ``value``).

    >>> constant_schedule(0.1)(1000)
    0.1
    """
    return _constant(_number("constant_schedule", "value", value))


@_named
def polynomial_schedule(
    init_value: float,
    end_value: float,
    power: float,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """``optax.polynomial_schedule``: hold ``init_value`` for ``transition_begin`` steps, then decay.

    value(t) = (I − E)·(1 − min(max(t − B, 0), T)/T)^power + E     (``I`` if T <= 0; B < 0 is 0)

    Args:
      init_value: value up to step ``transition_begin`` (any real number, as optax's).
      end_value: value from ``transition_begin + transition_steps`` on (any real number).
      power: exponent of the decay (a real number; 1 is a line).
      transition_steps: length ``T`` of the decay, an int; ``<= 0`` gives ``init_value`` forever
        (optax only logs it).
      transition_begin: steps ``B`` holding ``init_value`` first (an int, default 0 as optax's;
        below 0 counts as 0).

    >>> s = polynomial_schedule(1.0, 0.01, power=2, transition_steps=100, transition_begin=5)
    >>> str(s), round(s(6), 4), s(105)
    ('polynomial(start=1.0, end=0.01, steps=100, power=2.0).shift(5)', 0.9803, 0.01)
    """
    func = "polynomial_schedule"
    init = _number(func, "init_value", init_value)
    end = _number(func, "end_value", end_value)
    p = _number(func, "power", power)
    steps = _steps(func, "transition_steps", transition_steps)
    begin = max(0, _steps(func, "transition_begin", transition_begin))
    if steps <= 0 or p == 0.0:  # optax's frac**0 is 1 (0**0 too): init_value throughout
        return _constant(init)

    def build(start: float, stop: float) -> Schedule:
        if p == 1.0:
            return lrkit.linear(start, stop, steps=steps)
        return lrkit.polynomial(start, stop, steps=steps, power=p)

    body = _lifted(build, init, end)
    return body.shift(begin) if begin else body


@_named
def linear_schedule(
    init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0
) -> Schedule:
    """``optax.linear_schedule``: hold ``init_value`` for ``transition_begin`` steps, then a line.

    value(t) = I + (E − I)·min(max(t − B, 0), T)/T     (``I`` if T <= 0)

    Args:
      init_value: value up to step ``transition_begin`` (any real number, as optax's).
      end_value: value from ``transition_begin + transition_steps`` on (any real number).
      transition_steps: length ``T`` of the line, an int; ``<= 0`` gives ``init_value`` forever.
      transition_begin: steps ``B`` holding ``init_value`` first (an int, default 0 as optax's;
        below 0 counts as 0).

    >>> s = linear_schedule(1.0, 0.0, transition_steps=10, transition_begin=2)
    >>> str(s), [s(t) for t in (0, 2, 7, 12)]
    ('linear(start=1.0, steps=10).shift(2)', [1.0, 1.0, 0.5, 0.0])
    """
    return polynomial_schedule(init_value, end_value, 1.0, transition_steps, transition_begin)


@_named
def piecewise_constant_schedule(
    init_value: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """``optax.piecewise_constant_schedule``: multiply by ``scale`` from each ``step`` on.

    value(t) = I · Π scale_i over boundaries b_i <= t

    Args:
      init_value: value at step 0 (any real number, as optax's).
      boundaries_and_scales: ``{step: scale}`` (int steps, scales >= 0); from each step on the
        value is multiplied by its scale. ``None`` (optax's default) or ``{}`` gives
        ``init_value`` forever.

    >>> s = piecewise_constant_schedule(1.0, {100: 0.1, 200: 0.01})
    >>> str(s), s(150)
    ('piecewise_constant(boundaries=[100, 200], values=[1.0, 0.1, 0.001])', 0.1)
    """
    func = "piecewise_constant_schedule"
    value = _number(func, "init_value", init_value)
    if not boundaries_and_scales:
        return _constant(value)
    items = _boundaries_and_scales(func, boundaries_and_scales)

    def build(start: float) -> Schedule:
        bounds: list[int] = []
        values = [start]
        for boundary, scale in items:  # sorted: boundaries <= 0 (active from step 0) come first
            if boundary <= 0:
                values[0] = values[0] * scale
            else:
                bounds.append(boundary)
                values.append(values[-1] * scale)
        if not bounds:
            return lrkit.constant(values[-1])
        return lrkit.piecewise_constant(tuple(bounds), tuple(values))

    return _negated(build, value)


def _boundaries_and_scales(func: str, mapping: Mapping[int, float]) -> list[tuple[int, float]]:
    if not isinstance(mapping, Mapping):
        raise _type_fail(func, "boundaries_and_scales", mapping, "a dict {step: scale}")
    items: list[tuple[int, float]] = []
    for boundary, scale in mapping.items():
        if isinstance(boundary, bool) or not isinstance(boundary, numbers.Integral):
            raise ScheduleTypeError(
                f"lrkit.compat.optax.{func}: boundary {boundary!r} is invalid; "
                "boundaries must be int steps"
            )
        factor = _number(func, "scale", scale)
        if factor < 0.0:
            raise _fail(func, "boundaries_and_scales", dict(mapping), "non-negative scales")
        items.append((int(boundary), factor))
    return sorted(items)


@_named
def exponential_decay(
    init_value: float,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """``optax.exponential_decay``: ``I·rate^((t − B)/T)`` after ``transition_begin``, bounded.

    value(t) = clip(I · rate^(max(t − B, 0)/T), end_value)   (⌊·⌋ exponent with ``staircase``;
    ``end_value`` is a floor when rate < 1, a ceiling otherwise; ``I`` if T <= 0 or rate = 0).
    Without ``end_value`` a growing schedule (rate > 1) holds at ±1e300, where optax's values
    overflow to ``inf``.

    Args:
      init_value: value ``I`` at step 0 (any real number, as optax's).
      transition_steps: steps ``T`` per factor ``decay_rate``, an int; ``<= 0`` gives
        ``init_value`` forever (optax only logs it).
      decay_rate: factor per ``transition_steps`` (>= 0; < 1 decays, > 1 grows, 0 gives
        ``init_value``).
      transition_begin: steps ``B`` holding ``init_value`` first (an int, default 0 as optax's;
        below 0 counts as 0).
      staircase: decay in whole ``transition_steps`` (``⌊(t − B)/T⌋``; default False).
      end_value: a floor when decaying, a ceiling when growing (default None: unbounded).

    >>> s = exponential_decay(1.0, transition_steps=10, decay_rate=0.5, transition_begin=5)
    >>> str(s), s(25)
    ('exponential(start=1.0, factor=0.5, every=10).shift(5)', 0.25)
    """
    func = "exponential_decay"
    init = _number(func, "init_value", init_value)
    steps = _steps(func, "transition_steps", transition_steps)
    rate = _number(func, "decay_rate", decay_rate)
    begin = max(0, _steps(func, "transition_begin", transition_begin))
    if not isinstance(staircase, bool):
        raise _type_fail(func, "staircase", staircase, "True or False")
    end = None if end_value is None else _number(func, "end_value", end_value)
    if rate < 0.0:
        raise _fail(func, "decay_rate", decay_rate, ">= 0 (optax gives nan below 0)")
    if steps <= 0 or rate == 0.0:
        return _constant(init)
    if rate == 1.0:  # optax clips with min when rate >= 1
        return _constant(init if end is None else min(init, end))
    body = _exponential(init, rate, steps, staircase, end)
    return body.shift(begin) if begin else body


def _exponential(
    init: float, rate: float, steps: int, staircase: bool, end: float | None
) -> Schedule:
    """``clip(I·rate^(t/T), end)`` for rate ≠ 1, from the magnitude ``u = |I|·rate^(t/T)``.

    optax clips with ``max`` when decaying, ``min`` when growing; for I < 0 the value is ``−u``,
    so the clip applies to ``u`` mirrored: ``max(−u, E) = −min(u, −E)``.
    """
    growing = rate > 1.0
    mag = abs(init)
    sign = 1.0 if init >= 0.0 else -1.0
    cap = max(_GROWTH_CAP, mag) if growing else None

    hold = None
    if growing and mag > 0.0:  # stop where the value passes the cap (no overflow past it)
        powers = math.log(cap / mag) / math.log(rate)  # type: ignore[operator]
        hold = math.ceil(powers) * steps if staircase else math.ceil(powers * steps)
        if math.log(mag) + math.log(rate) * hold / steps >= math.log(sys.float_info.max):
            hold = max(1, hold - (steps if staircase else 1))

    def curve(final: float | None) -> Schedule:
        return lrkit.exponential(
            mag, rate, every=steps, staircase=staircase, final=final, steps=hold
        )

    if end is None:
        u = curve(cap)
    else:
        bound = sign * end  # the clip in magnitude space: a floor or a ceiling on u
        floor = growing != (sign > 0.0)
        if (floor and not growing and bound >= mag) or (
            not floor and bound <= (mag if growing else 0.0)
        ):
            return _constant(end)  # clipped from step 0 on
        if floor and bound <= 0.0:
            u = curve(cap)  # u >= 0 never goes below the floor
        elif sign > 0.0:  # lrkit's final: a floor when decaying, a ceiling when growing
            u = curve(bound if cap is None else min(bound, cap))
        else:
            u = curve(cap).clip(low=bound) if floor else curve(cap).clip(high=bound)
    return u if sign > 0.0 else Affine(u, scale=-1.0)


def _exponent(func: str, exponent: object) -> float:
    """optax's cosine ``exponent``: lrkit's ``power`` (0 gives a constant, as in optax)."""
    value = _number(func, "exponent", exponent)
    if value < 0.0 or not math.isfinite(value):
        raise _fail(func, "exponent", exponent, "a finite number >= 0 (optax gives inf below 0)")
    return value


def _cosine(start: float, end: float, steps: int, exponent: float) -> Schedule:
    """``end + (start − end)·(½(1 + cos(πt/T)))^exponent``; exponent 0 is ``start`` forever."""
    if exponent == 0.0:
        return lrkit.constant(start)
    if exponent == 1.0:
        return lrkit.cosine(start, end, steps=steps)
    return lrkit.cosine(start, end, steps=steps, power=exponent)


@_named
def cosine_decay_schedule(
    init_value: float, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0
) -> Schedule:
    """``optax.cosine_decay_schedule``: cosine from ``init_value`` to ``alpha·init_value``.

    value(t) = I·((1 − α)·(½(1 + cos(π·min(t, T)/T)))^exponent + α)

    Loshchilov & Hutter, SGDR (2017).

    Args:
      init_value: value ``I`` at step 0 (any real number, as optax's).
      decay_steps: length ``T`` of the cosine, an int > 0 (as optax requires).
      alpha: the final value as a share of ``init_value`` (default 0.0, as optax's).
      exponent: power of the cosine factor (>= 0, default 1.0 as optax's; 0 holds ``I``).

    >>> s = cosine_decay_schedule(0.1, decay_steps=1000, alpha=0.1)
    >>> str(s), round(s(500), 6)  # 0.1·(0.9·½(1 + cos(π/2)) + 0.1)
    ('cosine(start=0.1, end=0.010000000000000002, steps=1000)', 0.055)
    >>> str(cosine_decay_schedule(1.0, decay_steps=100, exponent=2.0))
    'cosine(start=1.0, steps=100, power=2.0)'
    """
    func = "cosine_decay_schedule"
    init = _number(func, "init_value", init_value)
    steps = _steps(func, "decay_steps", decay_steps)
    a = _number(func, "alpha", alpha)
    if steps <= 0:
        raise _fail(func, "decay_steps", decay_steps, "> 0 (as optax requires)")
    power = _exponent(func, exponent)
    return _lifted(lambda start, end: _cosine(start, end, steps, power), init, init * a)


@_named
def warmup_constant_schedule(init_value: float, peak_value: float, warmup_steps: int) -> Schedule:
    """``optax.warmup_constant_schedule``: linear warm-up to ``peak_value``, then constant.

    As in optax, ``warmup_steps <= 0`` gives ``init_value`` forever (it is a ``linear_schedule``).

    Args:
      init_value: value at step 0 (any real number, as optax's).
      peak_value: value after the warm-up (any real number).
      warmup_steps: length of the linear warm-up, an int; ``<= 0`` gives ``init_value`` forever.

    >>> s = warmup_constant_schedule(0.0, 0.1, warmup_steps=10)
    >>> str(s), [s(t) for t in (0, 5, 10, 50)]
    ('warmup(10) >> constant(0.1)', [0.0, 0.05, 0.1, 0.1])
    """
    func = "warmup_constant_schedule"
    init = _number(func, "init_value", init_value)
    peak = _number(func, "peak_value", peak_value)
    steps = _steps(func, "warmup_steps", warmup_steps)
    if steps <= 0:
        return _constant(init)
    return _lifted(lambda a, b: _ramp(a, b, steps, lrkit.constant(b)), init, peak)


@_named
def warmup_cosine_decay_schedule(
    init_value: float,
    peak_value: float,
    warmup_steps: int,
    decay_steps: int,
    end_value: float = 0.0,
    exponent: float = 1.0,
) -> Schedule:
    """``optax.warmup_cosine_decay_schedule``: linear warm-up, then cosine to ``end_value``.

    ``decay_steps`` includes the warm-up: the cosine lasts ``decay_steps − warmup_steps`` steps.

    Args:
      init_value: value at step 0 (any real number, as optax's).
      peak_value: value at the end of the warm-up, where the cosine starts.
      warmup_steps: length of the linear warm-up (an int >= 0).
      decay_steps: total length, warm-up included (an int > ``warmup_steps``, as optax requires).
      end_value: value at ``decay_steps`` and after (default 0.0, as optax's).
      exponent: power of the cosine factor (>= 0, default 1.0 as optax's).

    >>> s = warmup_cosine_decay_schedule(0.0, 1e-3, warmup_steps=100, decay_steps=1000)
    >>> str(s), [round(s(t), 6) for t in (50, 100, 550, 1000)]
    ('warmup(100) >> cosine(start=0.001, steps=900)', [0.0005, 0.001, 0.0005, 0.0])
    """
    func = "warmup_cosine_decay_schedule"
    init = _number(func, "init_value", init_value)
    peak = _number(func, "peak_value", peak_value)
    warm = _count(func, "warmup_steps", warmup_steps)
    total = _steps(func, "decay_steps", decay_steps)
    end = _number(func, "end_value", end_value)
    if total <= warm:
        raise _fail(func, "decay_steps", decay_steps, f"> warmup_steps={warm} (as optax requires)")
    power = _exponent(func, exponent)
    final = 0.0 if peak == 0.0 else end
    return _lifted(
        lambda i, p, e: _ramp(i, p, warm, _cosine(p, e, total - warm, power)), init, peak, final
    )


@_named
def warmup_exponential_decay_schedule(
    init_value: float,
    peak_value: float,
    warmup_steps: int,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """``optax.warmup_exponential_decay_schedule``: linear warm-up, then ``exponential_decay``.

    Args:
      init_value: value at step 0 (any real number, as optax's).
      peak_value: value at the end of the warm-up, where the decay starts.
      warmup_steps: length of the linear warm-up (an int >= 0).
      transition_steps: steps per factor ``decay_rate`` (an int; ``<= 0`` holds ``peak_value``).
      decay_rate: factor per ``transition_steps`` (>= 0).
      transition_begin: steps after the warm-up that hold ``peak_value`` (default 0, as optax's).
      staircase: decay in whole ``transition_steps`` (default False).
      end_value: a floor when decaying, a ceiling when growing (default None).

    >>> s = warmup_exponential_decay_schedule(0.0, 0.1, 10, transition_steps=100, decay_rate=0.5)
    >>> str(s), [round(s(t), 6) for t in (5, 10, 110, 210)]
    ('warmup(10) >> exponential(start=0.1, factor=0.5, every=100)', [0.05, 0.1, 0.05, 0.025])
    """
    func = "warmup_exponential_decay_schedule"
    init = _number(func, "init_value", init_value)
    peak = _number(func, "peak_value", peak_value)
    warm = _count(func, "warmup_steps", warmup_steps)
    decay = exponential_decay(
        peak, transition_steps, decay_rate, transition_begin, staircase, end_value
    )
    return _ramp(init, peak, warm, decay)


@_named
def piecewise_interpolate_schedule(
    interpolate_type: str,
    init_value: float,
    boundaries_and_scales: Mapping[int, float] | None = None,
) -> Schedule:
    """``optax.piecewise_interpolate_schedule``: linear/cosine curve through accumulated values.

    Points ``(0, I), (b_1, I·s_1), (b_2, I·s_1·s_2), ...``; each segment ``"linear"`` or
    ``"cosine"``; the last value is held.

    Args:
      interpolate_type: ``"linear"`` or ``"cosine"``, the shape of every segment (as optax's).
      init_value: value ``I`` at step 0 (any real number).
      boundaries_and_scales: ``{step: scale}`` (int steps, scales >= 0): the curve reaches the
        running product ``I·s_1·…·s_i`` at step ``b_i``. ``None`` (optax's default) holds ``I``.

    >>> s = piecewise_interpolate_schedule("linear", 1.0, {4: 0.1, 8: 0.01})
    >>> [round(s(t), 6) for t in (2, 6, 10)]
    [0.55, 0.0505, 0.001]
    """
    func = "piecewise_interpolate_schedule"
    kinds = ("linear", "cosine")  # lrkit's shape names too
    if interpolate_type not in kinds:
        raise _fail(func, "interpolate_type", interpolate_type, "'linear' or 'cosine'")
    value = _number(func, "init_value", init_value)
    items = _boundaries_and_scales(func, boundaries_and_scales or {})

    def build(start: float) -> Schedule:
        points = [(0, start)]
        for boundary, scale in items:
            points.append((boundary, points[-1][1] * scale))
        # optax's segment i covers [b_i, b_{i+1}); with sorted distinct boundaries the segments
        # reached at t >= 0 start at the last boundary <= 0 (the point (0, I) is dropped when
        # b_1 <= 0).
        if len(points) > 1 and points[1][0] <= 0:
            points = points[1:]
        first = max(i for i, (b, _) in enumerate(points) if b <= 0)
        points = points[first:]
        if len(points) == 1:
            return lrkit.constant(points[0][1])
        origin = points[0][0]
        curve: Schedule = lrkit.piecewise(
            tuple((b - origin, v) for b, v in points), shape=interpolate_type
        )
        return curve.shift(origin) if origin else curve

    return _negated(build, value)


def _onecycle_args(
    func: str, transition_steps: object, peak: object, div: object, final_div: object
) -> tuple[int, float, float, float]:
    """The checked ``(transition_steps > 0, peak_value, div_factor, final_div_factor)``."""
    steps = _steps(func, "transition_steps", transition_steps)
    if steps <= 0:
        raise _fail(func, "transition_steps", transition_steps, "> 0 (as optax requires)")
    return (
        steps,
        _number(func, "peak_value", peak),
        _number(func, "div_factor", div),
        _number(func, "final_div_factor", final_div),
    )


@_named
def linear_onecycle_schedule(
    transition_steps: int,
    peak_value: float,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """``optax.linear_onecycle_schedule``: three linear phases (optax's phase ends, not PyTorch's).

    Points (0, peak/div), (⌊pct_start·T⌋, peak), (⌊pct_final·T⌋, peak/div),
    (T, peak/(div·final_div)). Smith & Topin, super-convergence (2017).

    Args:
      transition_steps: length ``T`` of the cycle, an int > 0 (as optax requires).
      peak_value: value at step ``⌊pct_start·T⌋``.
      pct_start: share of ``T`` spent rising (default 0.3, as optax's).
      pct_final: share of ``T`` where the descent to ``peak/div`` ends (default 0.85, as optax's).
      div_factor: the start value is ``peak_value / div_factor`` (default 25.0, as optax's).
      final_div_factor: the last value is ``peak/(div·final_div)`` (default 1e4, as optax's).

    >>> s = linear_onecycle_schedule(100, 1.0)
    >>> str(s)
    'piecewise(points=[[0.0, 0.04], [30.0, 1.0], [85.0, 0.04], [100.0, 4.000000000000001e-06]])'
    >>> [round(s(t), 6) for t in (0, 30, 85, 100)]
    [0.04, 1.0, 0.04, 4e-06]
    """
    func = "linear_onecycle_schedule"
    steps, peak, div, final_div = _onecycle_args(
        func, transition_steps, peak_value, div_factor, final_div_factor
    )
    return piecewise_interpolate_schedule(
        "linear",
        peak / div,
        {
            int(_number(func, "pct_start", pct_start) * steps): div,
            int(_number(func, "pct_final", pct_final) * steps): 1.0 / div,
            steps: 1.0 / final_div,
        },
    )


@_named
def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """``optax.cosine_onecycle_schedule``: cosine up to ``peak_value``, cosine down to the end.

    Points (0, peak/div), (⌊pct_start·T⌋, peak), (T, peak/(div·final_div)) joined by cosine
    segments. Unlike PyTorch's OneCycleLR (``lrkit.one_cycle``) the phases end at ``pct_start·T``
    and ``T``, not one step earlier.

    Args:
      transition_steps: length ``T`` of the cycle, an int > 0 (as optax requires).
      peak_value: value at step ``⌊pct_start·T⌋``.
      pct_start: share of ``T`` spent rising (default 0.3, as optax's).
      div_factor: the start value is ``peak_value / div_factor`` (default 25.0, as optax's).
      final_div_factor: the last value is ``peak/(div·final_div)`` (default 1e4, as optax's).

    >>> s = cosine_onecycle_schedule(100, 1.0)
    >>> str(s)
    'piecewise(points=[[0.0, 0.04], [30.0, 1.0], [100.0, 4e-06]], shape="cosine")'
    >>> [round(s(t), 6) for t in (0, 15, 30, 100)]  # step 15: halfway up, (0.04 + 1)/2
    [0.04, 0.52, 1.0, 4e-06]
    """
    func = "cosine_onecycle_schedule"
    steps, peak, div, final_div = _onecycle_args(
        func, transition_steps, peak_value, div_factor, final_div_factor
    )
    return piecewise_interpolate_schedule(
        "cosine",
        peak / div,
        {
            int(_number(func, "pct_start", pct_start) * steps): div,
            steps: 1.0 / (div * final_div),
        },
    )


def _chain(parts: Seq[Schedule]) -> Schedule:
    """``parts[0] >> parts[1] >> ...`` (inner warm-ups ramp to the next piece's first value)."""
    return lrkit.sequence(*parts)


def _fit(func: str, part: Schedule, length: int, index: int) -> Schedule:
    """``part`` made to last exactly ``length`` steps (same values on ``[0, length)``).

    An endless leaf with ``steps=`` gets ``steps=length``; a shorter piece is padded with its last
    value; anything else longer than its slot (or endless) is cut with ``truncate(length)``.
    """
    if isinstance(part, WarmupPrefix):
        raise ScheduleError(
            f"lrkit.compat.optax.{func}: schedules[{index}] is a bare {part}; join a complete "
            "schedule (e.g. warmup(...) >> ...)"
        )
    if not part.bounded:
        fields = {f.name for f in part._fields()}
        if "steps" in fields and part._length() is None:
            return part._replace(steps=length)
        return part.truncate(length)
    duration = part.duration
    assert duration is not None
    if duration == length:
        return part
    if duration < length and float(duration).is_integer():
        pad = _constant(float(part(duration)), steps=length - int(duration))
        return part >> pad
    return part.truncate(length)


@_named
def join_schedules(schedules: Seq[Schedule], boundaries: Seq[int]) -> Schedule:
    """``optax.join_schedules``: ``schedules[i]`` on local time ``t − boundaries[i−1]``.

    The lrkit schedules are sequenced (``a >> b``); a piece shorter than its slot holds its last
    value, one that runs longer (or has no end) is cut at its boundary: an endless leaf with a
    ``steps`` argument gets ``steps=``, any other piece ``truncate(...)``.

    Args:
      schedules: the pieces, a non-empty list of lrkit schedules (as optax's ``schedules``).
      boundaries: ``len(schedules) - 1`` strictly increasing int steps >= 0 where the next piece
        starts (on its own local time 0).

    >>> s = join_schedules([lrkit.constant(1.0), lrkit.linear(1.0, 0.0, steps=10)], [5])
    >>> str(s), s(10)
    ('constant(1.0, steps=5) >> linear(start=1.0, steps=10)', 0.5)
    """
    func = "join_schedules"
    parts = list(schedules)
    bounds = [_count(func, "boundaries", b) for b in boundaries]
    if not parts or any(not isinstance(p, Schedule) for p in parts):
        raise _type_fail(func, "schedules", schedules, "a non-empty list of lrkit schedules")
    if len(bounds) != len(parts) - 1:
        raise _fail(
            func, "boundaries", list(boundaries), f"a list of len(schedules) - 1 = {len(parts) - 1}"
        )
    if any(b <= a for a, b in itertools.pairwise(bounds)):
        raise _fail(func, "boundaries", list(boundaries), "strictly increasing")
    # Pieces whose slot is empty (a boundary at 0) never run.
    starts = [0, *bounds]
    kept = [
        (parts[i], starts[i], starts[i + 1] if i + 1 < len(starts) else None)
        for i in range(len(parts))
        if i + 1 >= len(starts) or starts[i + 1] > starts[i]
    ]
    pieces = [
        _fit(func, part, end - begin, index) if end is not None else part
        for index, (part, begin, end) in enumerate(kept)
    ]
    return _chain(pieces)


@_named
def sgdr_schedule(cosine_kwargs: Iterable[Mapping[str, Any]]) -> Schedule:
    """``optax.sgdr_schedule``: warm restarts, one ``warmup_cosine_decay_schedule`` per cycle.

    Each dict holds that function's arguments; cycle ``i`` lasts its ``decay_steps``.
    Loshchilov & Hutter, SGDR (2017).

    Args:
      cosine_kwargs: the cycles, a non-empty list of dicts of
        :func:`warmup_cosine_decay_schedule`'s arguments (as optax's ``cosine_kwargs``).

    >>> cycle = dict(init_value=0.0, peak_value=1.0, warmup_steps=2, decay_steps=10)
    >>> s = sgdr_schedule([cycle, cycle])
    >>> [round(s(t), 3) for t in (0, 2, 10, 12)]
    [0.0, 1.0, 0.0, 1.0]
    """
    func = "sgdr_schedule"
    cycles = [warmup_cosine_decay_schedule(**dict(kwargs)) for kwargs in cosine_kwargs]
    if not cycles:
        raise _fail(func, "cosine_kwargs", cosine_kwargs, "a non-empty list of dicts")
    return _chain(cycles)

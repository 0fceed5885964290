"""The leaves: closed-form schedules every composition is built from.

Each leaf is a frozen dataclass; all value arguments are checked at construction. Durations take a step
count or a share of training (``"20%"``). Past its end a bounded leaf holds its last value.

One signature convention for every leaf (and preset): values (``start``, ``end``, ``peak``, ``low``,
``high``, ``value``, ``factor``...) may be passed by position; the length ``steps`` is keyword-only;
every anneal (``linear``, ``cosine``, ``polynomial``, ``one_minus_sqrt``, ``rex``) is
``name(start, end=0.0, *, steps)``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import InitVar, field
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np

from lrkit import _validate as check
from lrkit._math import decay_exp, decay_pow
from lrkit.core import Array, Schedule, overflow
from lrkit.durations import Duration, as_duration, scalar, step_count, steps_of
from lrkit.errors import ScheduleError
from lrkit.registry import register
from lrkit.shapes import interpolate, shape_name

__all__ = [
    "CYCLIC_MODES",
    "Constant",
    "Cosine",
    "Cyclic",
    "Exponential",
    "InverseSqrt",
    "InverseTime",
    "Linear",
    "MultiStep",
    "OneMinusSqrt",
    "Piecewise",
    "PiecewiseConstant",
    "Polynomial",
    "Rex",
    "Step",
    "piecewise_linear",
]


def _value(func: str, name: str, value: object) -> float:
    return check.number(func, name, value, low=0.0)


def _optional_steps(func: str, value: object) -> Duration | None:
    return None if value is None else as_duration(func, "steps", value)


def _held(t: Array, steps: Duration | None, xp: Any) -> Array:
    end = steps_of(steps)
    return t if end is None else xp.minimum(t, end)


def _grown(func: str, param: str, factor: float, start: float, times: float) -> float:
    """``start · factor^times`` for ``factor > 1``, or :func:`overflow` naming ``param``."""
    if start == 0.0 or times <= 0:
        return start
    if math.log(start) + times * math.log(factor) >= math.log(sys.float_info.max):
        raise overflow(func, param, factor, math.inf, f"start={start:g} × {factor:g}^{times:g}")
    try:
        return float(start * factor**times)
    except OverflowError:
        raise overflow(func, param, factor, math.inf) from None


class Constant(
    Schedule,
    name="constant",
    example="constant(0.1)",
):
    """A constant value, forever or for ``steps`` steps.

    value(t) = value

    Args:
      value: the value (finite, >= 0).
      steps: length (keyword-only; ``None``, the default, is forever): a constant phase in
        ``a >> b`` needs one.

    >>> Constant(0.1)(5)
    0.1
    """

    value: float
    steps: Duration | None = field(default=None, kw_only=True)
    _positional = ("value",)

    def __post_init__(self) -> None:
        self._set_fields(value=_value("constant", "value", self.value))
        self._set_fields(steps=_optional_steps("constant", self.steps))

    def _eval(self, t: Array, xp: Any) -> Array:
        return xp.zeros_like(t) + self.value

    def _bounds(self) -> tuple[float, float]:
        return self.value, self.value


def _at_end(schedule: Schedule) -> float | None:
    """The value held from ``steps`` on (``None`` while endless or a share): a decay's lowest."""
    end = steps_of(getattr(schedule, "steps", None)) if schedule.is_bound else None
    return None if end is None else float(schedule._eval(np.array([end]), np)[0])


def _check_growth(func: str, growing: bool, bounded: bool, what: str) -> None:
    if growing and not bounded:
        raise ScheduleError(
            f"{func}(): a growing schedule ({what}) needs steps= (or final=) so its values stay "
            "finite"
        )


def _check_finite_at_end(func: str, schedule: Schedule, param: str) -> None:
    end = schedule.duration if schedule.is_bound else None
    if end is None:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        last = schedule(end)
    if not math.isfinite(last):
        detail = f"they overflow to infinity by step {end:g}"
        raise overflow(func, param, getattr(schedule, param), last, detail)


class Step(
    Schedule,
    name="step",
    example="step(start=0.1, every=30, factor=0.5)",
):
    """Multiply by ``factor`` every ``every`` steps, as PyTorch's StepLR (halving by default).

    value(t) = start · factor^⌊t / every⌋

    The default ``factor=0.5`` halves the value; PyTorch's StepLR defaults to ``gamma=0.1``, which
    is ``step(start, every=n, factor=0.1)`` here.

    Args:
      start: value at step 0.
      every: steps between two multiplications.
      factor: the multiplier (> 0; default 0.5, halving; PyTorch's StepLR ``gamma`` defaults
        to 0.1).
      steps: length; ``None`` runs forever.

    >>> [Step(1.0, every=2)(t) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    >>> [Step(1.0, every=2, factor=0.1)(t) for t in (0, 2, 4)]  # StepLR's default gamma=0.1
    [1.0, 0.1, 0.01]
    """

    start: float
    every: Duration
    factor: float = 0.5
    steps: Duration | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        self._set_fields(start=_value("step", "start", self.start))
        self._set_fields(every=as_duration("step", "every", self.every))
        self._set_fields(factor=check.number("step", "factor", self.factor, low=0.0, low_open=True))
        self._set_fields(steps=_optional_steps("step", self.steps))
        _check_growth("step", self.factor > 1.0, self.steps is not None, "factor > 1")
        _check_finite_at_end("step", self, "factor")

    def _eval(self, t: Array, xp: Any) -> Array:
        if self.start == 0.0:  # 0 · factor^k is 0, also where factor^k overflows
            return xp.zeros_like(t)
        every = steps_of(self.every)
        assert every is not None
        return self.start * decay_pow(self.factor, xp.floor(_held(t, self.steps, xp) / every), xp)

    def _bounds(self) -> tuple[float, float] | None:
        if self.factor <= 1.0:
            return _at_end(self) or 0.0, self.start
        if not self.is_bound:
            return None
        end, every = steps_of(self.steps), steps_of(self.every)
        assert end is not None and every is not None
        return self.start, _grown(
            "step", "factor", self.factor, self.start, math.floor(end / every)
        )


class MultiStep(
    Schedule,
    name="multistep",
    example="multistep(start=0.1, milestones=[30, 60, 80], factor=0.1)",
):
    """Multiply by ``factor`` at each milestone, as PyTorch's MultiStepLR; ends at the last one.

    value(t) = start · factor^(number of milestones <= t)

    Args:
      start: value at step 0.
      milestones: steps where the value is multiplied (increasing).
      factor: the multiplier (> 0; default 0.1, PyTorch's gamma).

    >>> [MultiStep(1.0, milestones=(2, 4), factor=0.5)(t) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    start: float
    milestones: tuple[Duration, ...]
    factor: float = 0.1

    def __post_init__(self) -> None:
        self._set_fields(start=_value("multistep", "start", self.start))
        if isinstance(self.milestones, str) or not hasattr(self.milestones, "__iter__"):
            raise ScheduleError(
                f"multistep(): milestones must be a list of steps, got {self.milestones!r}"
            )
        stones = tuple(as_duration("multistep", "milestones", m) for m in self.milestones)
        if not stones:
            raise ScheduleError("multistep(): milestones must not be empty")
        ints = [m for m in stones if isinstance(m, int)]
        if len(ints) == len(stones) and any(b < a for a, b in pairwise(ints)):
            raise ScheduleError(
                f"multistep(): milestones must be sorted in increasing order, got {list(stones)}"
            )
        self._set_fields(milestones=stones)
        self._set_fields(
            factor=check.number("multistep", "factor", self.factor, low=0.0, low_open=True)
        )

    _length_field = None

    @property
    def bounded(self) -> bool:
        return True

    @property
    def duration(self) -> float | None:
        return steps_of(self.milestones[-1])

    def _bounds(self) -> tuple[float, float]:
        count = len(self.milestones)
        if self.factor <= 1.0:
            return self.start * self.factor**count, self.start
        return self.start, _grown("multistep", "factor", self.factor, self.start, count)

    def _eval(self, t: Array, xp: Any) -> Array:
        count = xp.zeros_like(t)
        if self.start == 0.0:  # 0 · factor^k is 0, also where factor^k overflows
            return count
        for milestone in self.milestones:
            end = steps_of(milestone)
            count = count + xp.where(t >= end, xp.zeros_like(t) + 1.0, xp.zeros_like(t))
        return self.start * self.factor**count


class Exponential(
    Schedule,
    name="exponential",
    example="exponential(start=0.1, factor=0.99)",
):
    """Exponential decay (or growth): per-step ``factor`` or continuous ``rate``.

    value(t) = start · factor^(t/every)       (factor given; PyTorch's ExponentialLR for every=1)
    value(t) = start · e^(−rate · t/every)    (rate given: α·e^(−kt), α = start, k = rate/every)

    ``staircase`` uses ⌊t/every⌋; ``final`` bounds the value (a floor when decaying, a ceiling when
    growing).

    Args:
      start: value at step 0.
      factor: per-``every`` multiplier (or give ``rate``); PyTorch's ``gamma``.
      rate: continuous rate: ``e^(-rate·t/every)``.
      every: steps per factor (default 1).
      staircase: decay in whole ``every`` steps.
      final: bound the value (a floor when decaying, a ceiling when growing).
      steps: length; ``None`` runs forever.
      gamma: deprecated spelling of ``factor`` (a ``DeprecationWarning``; removed in 0.3).

    >>> Exponential(1.0, 0.5)(3)
    0.125
    >>> round(Exponential(2.0, rate=0.1)(10), 6)  # 2·e^(−1)
    0.735759
    """

    start: float
    factor: float | None = None
    rate: float | None = field(default=None, kw_only=True)
    every: Duration = field(default=1, kw_only=True)
    staircase: bool = field(default=False, kw_only=True)
    final: float | None = field(default=None, kw_only=True)
    steps: Duration | None = field(default=None, kw_only=True)
    gamma: InitVar[float | None] = field(default=None, kw_only=True)

    def __post_init__(self, gamma: float | None) -> None:
        func = "exponential"
        self._set_fields(factor=check.renamed(func, "gamma", gamma, "factor", self.factor))
        self._set_fields(start=_value(func, "start", self.start))
        if (self.factor is None) == (self.rate is None):
            raise ScheduleError(
                f"{func}(): give exactly one of factor= (per-step multiplier) or rate= "
                f"(e^(-rate·t)), got factor={self.factor!r}, rate={self.rate!r}"
            )
        if self.factor is not None:
            self._set_fields(
                factor=check.number(func, "factor", self.factor, low=0.0, low_open=True)
            )
        if self.rate is not None:
            self._set_fields(rate=check.number(func, "rate", self.rate))
        self._set_fields(every=as_duration(func, "every", self.every))
        self._set_fields(staircase=check.boolean(func, "staircase", self.staircase))
        self._set_fields(steps=_optional_steps(func, self.steps))
        if self.final is not None:
            final = _value(func, "final", self.final)
            if self.growing and final < self.start:
                raise ScheduleError(
                    f"{func}(): final must be >= start={self.start} for a growing schedule, "
                    f"got {final!r}"
                )
            if not self.growing and final > self.start:
                raise ScheduleError(
                    f"{func}(): final must be <= start={self.start} for a decaying schedule, "
                    f"got {final!r}"
                )
            self._set_fields(final=final)
        _check_growth(
            func,
            self.growing,
            self.steps is not None or self.final is not None,
            "factor > 1" if self.factor is not None else "rate < 0",
        )
        _check_finite_at_end(func, self, "factor" if self.factor is not None else "rate")

    @property
    def growing(self) -> bool:
        """Whether the values increase with the step."""
        return (self.factor or 0.0) > 1.0 or (self.rate or 0.0) < 0.0

    @property
    def _ceiling_at(self) -> float:
        """The exponent where a growing schedule reaches ``final`` (``inf`` without one)."""
        if not self.growing or self.final is None:
            return math.inf
        return (math.log(self.final) - math.log(self.start)) / self._log_factor

    @property
    def _log_factor(self) -> float:
        """``log(factor)``, or ``-rate``: the value is ``start · e^(_log_factor · t/every)``."""
        return math.log(self.factor) if self.factor is not None else -(self.rate or 0.0)

    def _eval(self, t: Array, xp: Any) -> Array:
        if self.start == 0.0:  # 0 · factor^t is 0, also where factor^t overflows
            return xp.zeros_like(t)
        every = steps_of(self.every)
        assert every is not None
        exponent = _held(t, self.steps, xp) / every
        if self.staircase:
            exponent = xp.floor(exponent)
        ceiling = self._ceiling_at
        reached = exponent >= ceiling  # growth past `final` is never computed: it cannot overflow
        exponent = xp.minimum(exponent, ceiling) if ceiling < math.inf else exponent
        if ceiling < math.inf and ceiling * self._log_factor > 700.0:
            # start tiny, final huge: factor^t alone would overflow before start · factor^t does
            value = xp.exp(math.log(self.start) + exponent * self._log_factor)
        elif self.factor is not None:
            value = self.start * decay_pow(self.factor, exponent, xp)
        else:
            value = self.start * decay_exp(-(self.rate or 0.0) * exponent, xp)
        if self.final is None:
            return value
        if self.growing:
            capped = xp.minimum(value, self.final)
            return xp.where(reached, xp.zeros_like(value) + self.final, capped)
        return xp.maximum(value, self.final)

    def _bounds(self) -> tuple[float, float] | None:
        if not self.growing:
            return _at_end(self) or float(self.final or 0.0), self.start
        if self.steps is None:
            return self.start, float(self.final or 0.0)
        if not self.is_bound:
            return None
        end = self._eval(np.array([steps_of(self.steps) or 0.0]), np)[0]
        return self.start, float(end)


class InverseTime(
    Schedule,
    name="inverse_time",
    example="inverse_time(start=0.1, rate=0.5, every=10)",
):
    """Inverse-time decay, as Keras' InverseTimeDecay.

    value(t) = start / (1 + rate · t/every)     (⌊t/every⌋ with staircase)

    Args:
      start: value at step 0.
      rate: decay rate (>= 0).
      every: steps per unit of decay (default 1).
      staircase: decay in whole ``every`` steps.
      steps: length; ``None`` runs forever.

    >>> InverseTime(1.0, rate=1.0)(3)
    0.25
    """

    start: float
    rate: float
    every: Duration = 1
    staircase: bool = False
    steps: Duration | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        func = "inverse_time"
        self._set_fields(start=_value(func, "start", self.start))
        self._set_fields(rate=check.number(func, "rate", self.rate, low=0.0))
        self._set_fields(every=as_duration(func, "every", self.every))
        self._set_fields(staircase=check.boolean(func, "staircase", self.staircase))
        self._set_fields(steps=_optional_steps(func, self.steps))

    def _eval(self, t: Array, xp: Any) -> Array:
        every = steps_of(self.every)
        assert every is not None
        progress = _held(t, self.steps, xp) / every
        if self.staircase:
            progress = xp.floor(progress)
        return self.start / (1.0 + self.rate * progress)

    def _bounds(self) -> tuple[float, float]:
        return _at_end(self) or 0.0, self.start


class InverseSqrt(
    Schedule,
    name="inverse_sqrt",
    example="inverse_sqrt(peak=0.1, warmup=10)",
):
    """Linear warm-up to ``peak``, then inverse-square-root decay (Transformer / Hugging Face).

    value(t) = peak · t / warmup                              for t < warmup
    value(t) = peak / sqrt((t − warmup + timescale) / timescale)   after (timescale = warmup by default)

    Args:
      peak: value at the end of the warm-up.
      warmup: warm-up steps (0 for none, then give ``timescale``).
      timescale: decay timescale (default: ``warmup``).

    >>> [InverseSqrt(1.0, warmup=4)(t) for t in (0, 2, 4, 16)]
    [0.0, 0.5, 1.0, 0.5]
    """

    peak: float
    warmup: Duration
    timescale: int | None = None

    def __post_init__(self) -> None:
        func = "inverse_sqrt"
        self._set_fields(peak=_value(func, "peak", self.peak))
        self._set_fields(warmup=as_duration(func, "warmup", self.warmup, allow_zero=True))
        if self.timescale is not None:
            self._set_fields(timescale=step_count(func, "timescale", self.timescale, low=1))
        elif self.warmup == 0:
            raise ScheduleError(f"{func}(): with warmup=0 give timescale= (an int >= 1)")

    def _eval(self, t: Array, xp: Any) -> Array:
        warm = steps_of(self.warmup) or 0.0
        scale = float(self.timescale) if self.timescale is not None else warm
        late = xp.maximum(t, warm)
        decay = self.peak / xp.sqrt((late - warm + scale) / scale)
        if warm == 0.0:
            return decay
        rise = self.peak * (xp.minimum(t, warm) / warm)  # t/warm first: no overflow near 1e308
        return xp.where(t < warm, rise, decay)

    def _bounds(self) -> tuple[float, float]:
        return 0.0, self.peak


class _Anneal(Schedule):
    """Mixin: travel from ``start`` to ``end`` over ``steps`` with the curve ``_shape``, then hold."""

    start: float
    end: float = 0.0
    steps: Duration = field(kw_only=True)
    _shape: ClassVar[str] = "linear"

    def _power(self) -> float:
        return 1.0

    def __post_init__(self) -> None:
        self._set_fields(
            start=_value(self.name, "start", self.start),
            end=_value(self.name, "end", self.end),
            steps=as_duration(self.name, "steps", self.steps),
        )

    def _eval(self, t: Array, xp: Any) -> Array:
        end = steps_of(self.steps)
        assert end is not None
        return interpolate(self._shape, self.start, self.end, t, end, xp, power=self._power())

    def _bounds(self) -> tuple[float, float]:
        return min(self.start, self.end), max(self.start, self.end)


class Linear(
    _Anneal,
    name="linear",
    example="linear(start=0.1, end=0.0, steps=100)",
):
    """Straight line from ``start`` to ``end`` over ``steps`` steps (linear decay to zero, ramps).

    value(t) = start + (end − start) · min(t, steps) / steps

    Args:
      start: value at step 0.
      end: value at ``steps`` and after (default 0).
      steps: length (keyword-only).

    >>> [Linear(1.0, 0.0, steps=4)(t) for t in range(6)]
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    _shape = "linear"


class _PowerAnneal(_Anneal):
    """Mixin: an anneal whose curve has an exponent, ``power`` (> 0, default 1; keyword-only)."""

    power: float = field(default=1.0, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set_fields(power=check.number(self.name, "power", self.power, low=0.0, low_open=True))

    def _power(self) -> float:
        return self.power


class Polynomial(
    _PowerAnneal,
    name="polynomial",
    example="polynomial(start=0.1, end=0.001, steps=100, power=2.0)",
):
    """Polynomial decay, as PyTorch's PolynomialLR / Hugging Face's polynomial schedule.

    value(t) = end + (start − end) · (1 − min(t, steps)/steps)^power

    Args:
      start: value at step 0.
      end: value at ``steps`` and after (default 0).
      steps: length (keyword-only).
      power: the exponent (> 0).

    >>> [Polynomial(1.0, 0.0, steps=4, power=2.0)(t) for t in range(5)]
    [1.0, 0.5625, 0.25, 0.0625, 0.0]
    """

    _shape = "poly"


class Cosine(
    _PowerAnneal,
    name="cosine",
    example="cosine(start=0.1, end=0.001, steps=100)",
):
    """Cosine annealing from ``start`` to ``end`` over ``steps`` steps, then ``end`` held.

    Over ``0..steps`` this is PyTorch's CosineAnnealingLR with ``T_max = steps`` (and optax's
    ``cosine_decay_schedule``); past ``steps`` lrkit holds ``end`` where PyTorch's keeps following
    the cosine back up (it is periodic past ``T_max``).

    value(t) = end + (start − end) · ((1 + cos(π · min(t, steps)/steps)) / 2)^power

    ``power`` (default 1) is optax's cosine ``exponent``.

    Loshchilov & Hutter, SGDR (2017). ``cosine(...).repeat(...)`` gives warm restarts.

    Args:
      start: value at step 0.
      end: value at ``steps`` and after (default 0).
      steps: length (keyword-only; PyTorch's T_max).
      power: the exponent (> 0).

    >>> [round(Cosine(1.0, steps=4)(t), 4) for t in range(5)]
    [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    _shape = "cosine"


class OneMinusSqrt(
    _Anneal,
    name="one_minus_sqrt",
    example="one_minus_sqrt(start=0.1, end=0.0, steps=100)",
):
    """The (1 − sqrt) cooldown of Hägele et al. (2024), used by ``wsd(shape="1-sqrt")``.

    value(t) = end + (start − end) · (1 − sqrt(min(t, steps)/steps))

    Args:
      start: value at step 0.
      end: value at ``steps`` and after (default 0).
      steps: length (keyword-only).

    >>> [OneMinusSqrt(1.0, 0.0, steps=4)(t) for t in (0, 1, 4)]
    [1.0, 0.5, 0.0]
    """

    _shape = "1-sqrt"


class Rex(
    _Anneal,
    name="rex",
    example="rex(start=0.1, end=0.0, steps=100)",
):
    """REX decay (Chen et al., 2022): holds high longer than linear, then drops to ``end``.

    value(t) = end + (start − end) · (1 − p) / (1/2 + (1 − p)/2),   p = min(t, steps)/steps

    Args:
      start: value at step 0.
      end: value at ``steps`` and after (default 0).
      steps: length (keyword-only).

    >>> [round(Rex(1.0, 0.0, steps=4)(t), 4) for t in range(5)]
    [1.0, 0.8571, 0.6667, 0.4, 0.0]
    """

    _shape = "rex"


CYCLIC_MODES = ("triangular", "triangular2", "exp_range")
"""The ``mode`` names of :func:`cyclic` (PyTorch CyclicLR's)."""


class Cyclic(
    Schedule,
    name="cyclic",
    example='cyclic(low=0.01, high=0.1, half_cycle=20, mode="triangular2")',
):
    """Leslie Smith's cyclical learning rate (2017), as PyTorch's CyclicLR.

    cycle = ⌊1 + t/(2·half_cycle)⌋,  x = |t/half_cycle − 2·cycle + 1|,
    value = low + (high − low) · max(0, 1 − x) · scale,
    scale = 1 (triangular), 1/2^(cycle−1) (triangular2), factor^t (exp_range).

    With ``half_cycle_down`` the descent has its own length (CyclicLR's ``step_size_down``):
    x = 1 + t/total − cycle over ``total = up + down``; the rise covers ``x <= up/total``.

    Args:
      low: lowest value (CyclicLR's base_lr).
      high: highest value (CyclicLR's max_lr).
      half_cycle: steps of the rise (CyclicLR's step_size_up).
      mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
      factor: ``exp_range`` multiplier per step (in (0, 1]; CyclicLR's ``gamma``).
      half_cycle_down: steps of the descent (default: ``half_cycle``).
      steps: length; ``None`` runs forever.
      gamma: deprecated spelling of ``factor`` (a ``DeprecationWarning``; removed in 0.3).

    >>> [Cyclic(0.0, 1.0, half_cycle=2)(t) for t in range(6)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.5]
    """

    low: float
    high: float
    half_cycle: Duration
    mode: str = "triangular"
    factor: float = 1.0
    half_cycle_down: Duration | None = None
    steps: Duration | None = field(default=None, kw_only=True)
    gamma: InitVar[float | None] = field(default=None, kw_only=True)

    def __post_init__(self, gamma: float | None) -> None:
        func = "cyclic"
        if gamma is not None:
            given = None if self.factor == 1.0 else self.factor
            self._set_fields(factor=check.renamed(func, "gamma", gamma, "factor", given))
        self._set_fields(low=_value(func, "low", self.low))
        self._set_fields(high=_value(func, "high", self.high))
        if self.low > self.high:
            raise ScheduleError(
                f"{func}(): low must be <= high, got low={self.low!r}, high={self.high!r}"
            )
        self._set_fields(half_cycle=as_duration(func, "half_cycle", self.half_cycle))
        self._set_fields(mode=check.choice(func, "mode", self.mode, CYCLIC_MODES))
        self._set_fields(
            factor=check.number(func, "factor", self.factor, low=0.0, high=1.0, low_open=True)
        )
        if self.mode != "exp_range" and self.factor != 1.0:
            raise ScheduleError(
                f"{func}(): factor is used only by mode='exp_range', got factor={self.factor!r} "
                f"with mode={self.mode!r}"
            )
        if self.half_cycle_down is not None:
            self._set_fields(
                half_cycle_down=as_duration(func, "half_cycle_down", self.half_cycle_down),
            )
        self._set_fields(steps=_optional_steps(func, self.steps))

    def _eval(self, t: Array, xp: Any) -> Array:
        t = _held(t, self.steps, xp)
        up = steps_of(self.half_cycle)
        assert up is not None
        down = steps_of(self.half_cycle_down)
        if down is None:  # Smith's formula
            cycle = xp.floor(1.0 + t / (2.0 * up))
            x = xp.abs(t / up - 2.0 * cycle + 1.0)
            height = xp.maximum(1.0 - x, xp.zeros_like(t))
        else:  # PyTorch's CyclicLR with separate up/down lengths
            total = up + down
            ratio = up / total
            cycle = xp.floor(1.0 + t / total)
            x = 1.0 + t / total - cycle
            height = xp.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
        if self.mode == "triangular2":
            height = height * decay_pow(0.5, cycle - 1.0, xp)
        elif self.mode == "exp_range":
            height = height * decay_pow(self.factor, t, xp)
        return self.low + (self.high - self.low) * height

    def _bounds(self) -> tuple[float, float]:
        return self.low, self.high


class Piecewise(
    Schedule,
    name="piecewise",
    example="piecewise(points=[[0, 0.0], [10, 0.1], [100, 0.001]])",
):
    """A curve through ``(step, value)`` points, each segment of the given shape; ends at the last.

    value(t) = shape(v_i → v_{i+1}) at (t − s_i)/(s_{i+1} − s_i) for s_i <= t < s_{i+1}

    Steps may be fractional (PyTorch's OneCycleLR puts its peak at ``0.3·total − 1``).

    Args:
      points: ``(step, value)`` pairs, steps strictly increasing.
      shape: the curve of every segment (:data:`lrkit.shapes.SHAPES`).

    >>> s = Piecewise(((0, 0.0), (2, 1.0), (4, 0.0)))
    >>> [s(t) for t in range(6)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    points: tuple[tuple[float, float], ...]
    shape: str = "linear"

    def __post_init__(self) -> None:
        func = "piecewise"
        raw = self.points
        if isinstance(raw, str) or not hasattr(raw, "__iter__"):
            raise ScheduleError(f"{func}(): points must be a list of [step, value] pairs")
        points: list[tuple[float, float]] = []
        for point in raw:
            if isinstance(point, str) or not hasattr(point, "__len__") or len(point) != 2:
                raise ScheduleError(
                    f"{func}(): each point must be a [step, value] pair, got {point!r}"
                )
            step = check.number(func, "points step", scalar(point[0]), low=0.0)
            value = _value(func, "points value", scalar(point[1]))
            points.append((step, value))
        if len(points) < 2:
            raise ScheduleError(f"{func}(): points needs at least 2 [step, value] pairs")
        steps = [p[0] for p in points]
        if any(b <= a for a, b in pairwise(steps)):
            raise ScheduleError(f"{func}(): point steps must strictly increase, got {steps}")
        self._set_fields(points=tuple(points))
        self._set_fields(shape=shape_name(func, "shape", self.shape))
        if self.shape == "exp" and any(v <= 0.0 for _, v in points):
            raise ScheduleError(f"{func}(): shape='exp' needs every value > 0")

    _length_field = None

    @property
    def bounded(self) -> bool:
        return True

    @property
    def duration(self) -> float | None:
        return self.points[-1][0]

    def _eval(self, t: Array, xp: Any) -> Array:
        out = xp.zeros_like(t) + self.points[-1][1]
        segments = list(pairwise(self.points))
        for (x0, y0), (x1, y1) in reversed(segments):
            local = xp.maximum(t - x0, xp.zeros_like(t))
            value = interpolate(self.shape, y0, y1, local, x1 - x0, xp)
            out = xp.where(t < x1, value, out)
        return out

    def _bounds(self) -> tuple[float, float]:
        values = [v for _, v in self.points]  # each segment runs from one value to the next
        return min(values), max(values)


def piecewise_linear(points: Any) -> Piecewise:
    """Straight lines through ``(step, value)`` points (an alias of ``piecewise(points)``).

    >>> piecewise_linear([[0, 1.0], [10, 0.0]])(5)
    0.5
    """
    return Piecewise(points, "linear")


register(
    "piecewise_linear", kind="alias", example="piecewise_linear(points=[[0, 0.1], [50, 0.0]])"
)(piecewise_linear)


class PiecewiseConstant(
    Schedule,
    name="piecewise_constant",
    example="piecewise_constant(boundaries=[10, 50], values=[0.1, 0.01, 0.001])",
):
    """``values[i]`` between ``boundaries[i-1]`` and ``boundaries[i]``; ends at the last boundary.

    value(t) = values[number of boundaries <= t]

    Args:
      boundaries: increasing steps (ints, or shares like ``"20%"``) where the value changes.
      values: one value more than there are boundaries (optax's and Keras' piecewise constant).

    >>> s = PiecewiseConstant((2, 4), (1.0, 0.5, 0.1))
    >>> [s(t) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    """

    boundaries: tuple[Duration, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        func = "piecewise_constant"
        for name in ("boundaries", "values"):
            raw = getattr(self, name)
            if isinstance(raw, str) or not hasattr(raw, "__iter__"):
                raise ScheduleError(f"{func}(): {name} must be a list, got {raw!r}")
        bounds = tuple(as_duration(func, "boundaries", b) for b in self.boundaries)
        values = tuple(_value(func, "values", scalar(v)) for v in self.values)
        if not bounds:
            raise ScheduleError(f"{func}(): boundaries must not be empty")
        if len(values) != len(bounds) + 1:
            raise ScheduleError(
                f"{func}(): values needs len(boundaries) + 1 = {len(bounds) + 1} entries, "
                f"got {len(values)}"
            )
        ints = [b for b in bounds if isinstance(b, int)]
        if len(ints) == len(bounds) and any(b <= a for a, b in pairwise(ints)):
            raise ScheduleError(f"{func}(): boundaries must strictly increase, got {list(bounds)}")
        self._set_fields(boundaries=bounds)
        self._set_fields(values=values)

    _length_field = None

    @property
    def bounded(self) -> bool:
        return True

    @property
    def duration(self) -> float | None:
        return steps_of(self.boundaries[-1])

    def _eval(self, t: Array, xp: Any) -> Array:
        out = xp.zeros_like(t) + self.values[-1]
        for boundary, value in reversed(list(zip(self.boundaries, self.values, strict=False))):
            out = xp.where(t < steps_of(boundary), xp.zeros_like(t) + value, out)
        return out

    def _bounds(self) -> tuple[float, float]:
        return min(self.values), max(self.values)

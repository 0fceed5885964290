"""Keras 3's learning-rate schedules, with Keras' names and arguments, built from lrkit.

``lrkit.compat.keras.CosineDecay(0.1, 1000, warmup_target=1.0, warmup_steps=100)`` returns an
:class:`lrkit.keras.Schedule` (a Keras ``LearningRateSchedule``) whose values equal
``keras.optimizers.schedules.CosineDecay`` with the same arguments at every step, and whose
``.schedule`` is the lrkit value (``str()`` gives its text). Formulas follow
``keras/src/optimizers/schedules/learning_rate_schedule.py`` (Keras 3).

Keras steps are whole optimizer iterations; ``PiecewiseConstantDecay``'s ``step <= boundary``
becomes an lrkit boundary at ``floor(boundary) + 1`` (the same values at every whole step).

``CosineDecayRestarts`` with both ``alpha != 0`` and ``m_mul != 1`` keeps Keras' unscaled floor:
the restarted cosine part plus a constant (``add``); with ``m_mul > 1`` (growing restarts) the
restarts end, and the value holds, once the next peak would pass 1e300 (Keras' values run on to
``inf``; as lrkit.compat.torch's StepLR with ``gamma > 1``).

``PolynomialDecay(cycle=True)`` is :class:`CyclicPolynomial` (its cycles shrink by ``k^-power``,
which no restart combinator gives), or written out as a text schedule up to ``total_steps=``
(an lrkit extension). Steps before 0 (Keras extrapolates its formulas there) are evaluated by
Keras' own class with the same arguments: lrkit's schedules start at step 0. Each drop-in is a
:class:`DropIn` (an :class:`lrkit.keras.Schedule`) whose Keras config holds Keras' arguments.
Errors are lrkit's ``ScheduleError`` family (``ValueError``/``TypeError``), named with Keras'
parameters.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import keras
import keras.src.optimizers.schedules.learning_rate_schedule as _keras_schedules

import lrkit
from lrkit.compat._args import Checks
from lrkit.core import Array
from lrkit.core import Schedule as LrSchedule
from lrkit.errors import ScheduleError
from lrkit.keras import Schedule, _eager_step

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
]

_MAX_CYCLES = 200  # a longer ``a >> b >> ...`` chain is too deep for the text parser

_checks = Checks("keras")
_named = _checks.named
_fail = _checks.fail
_type_fail = _checks.type_fail
_number = _checks.number


#: Growing restarts (``m_mul > 1``) end once the next peak would pass this value.
_GROWTH_CAP = 1e300

#: Keras' own classes (captured at import, before anything substitutes them), for steps < 0.
_KERAS: dict[str, Callable[..., Any]] = {
    name: getattr(_keras_schedules, name)
    for name in (
        "CosineDecay",
        "CosineDecayRestarts",
        "ExponentialDecay",
        "InverseTimeDecay",
        "PiecewiseConstantDecay",
        "PolynomialDecay",
    )
    if getattr(getattr(_keras_schedules, name), "__module__", "").startswith("keras.")
}


@keras.saving.register_keras_serializable(package="lrkit", name="KerasDropIn")
class DropIn(Schedule):
    """A Keras schedule class rebuilt from lrkit: ``.schedule`` is the lrkit value (steps >= 0).

    The Keras config holds the Keras class name and its arguments (so a saved model loads back
    with the same drop-in); steps before 0 are evaluated by Keras' own class, as Keras does.
    """

    def __init__(
        self, schedule: LrSchedule, keras_class: str, arguments: Mapping[str, Any]
    ) -> None:
        super().__init__(schedule, name=str(arguments.get("name", keras_class)))
        self.keras_class = keras_class
        self.arguments = dict(arguments)

    def _keras(self) -> Any:
        original = _KERAS.get(self.keras_class)
        if original is None:  # pragma: no cover - substituted before lrkit.compat.keras loaded
            raise ScheduleError(
                f"lrkit.compat.keras.{self.keras_class}: Keras' own class is not available for "
                "steps < 0"
            )
        return original(**{k: v for k, v in self.arguments.items() if k != "total_steps"})

    def value(self, step: int | float) -> float:
        """The learning rate at ``step`` (Keras' own value before step 0)."""
        if step < 0:
            return float(keras.ops.convert_to_numpy(self._keras()(step)))
        return super().value(step)

    def __call__(self, step: Any) -> Any:
        t = _eager_step(step)
        if t is not None:
            if t < 0:
                return keras.ops.cast(self._keras()(step), keras.config.floatx())
            return super().__call__(step)
        ours = super().__call__(step)  # traced: lrkit's values hold step 0 before it
        theirs = keras.ops.cast(self._keras()(step), ours.dtype)
        return keras.ops.where(keras.ops.convert_to_tensor(step) < 0, theirs, ours)

    def get_config(self) -> dict[str, Any]:
        return {"keras_class": self.keras_class, **self.arguments}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Schedule:
        arguments = dict(config)
        name = arguments.pop("keras_class", None)
        build = globals().get(name) if name in __all__ and name != "DropIn" else None
        if build is None:
            raise _fail("DropIn.from_config", "keras_class", name, f"one of {sorted(_KERAS)}")
        schedule: Schedule = build(**arguments)
        return schedule


def _decay_steps(func: str, name: str, value: object) -> None:
    """Keras' step counts (``decay_steps``...): a number > 0 (Keras divides by it)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _type_fail(func, name, value, "a number of steps > 0")
    if not float(value) > 0:
        raise _fail(func, name, value, "> 0 (Keras divides by it; lrkit's every/steps)")


def _rate(func: str, name: str, value: object) -> float:
    """A learning rate: a number >= 0."""
    out = _number(func, name, value)
    if not out >= 0.0:
        raise _fail(func, name, value, ">= 0 (a learning rate; lrkit's start)")
    return out


def _wrap(schedule: LrSchedule, keras_class: str, arguments: Mapping[str, Any]) -> Schedule:
    """The drop-in of ``keras_class`` built with ``arguments`` (its parameters)."""
    return DropIn(schedule, keras_class, arguments)


@_named
def ExponentialDecay(
    initial_learning_rate: float,
    decay_steps: int,
    decay_rate: float,
    staircase: bool = False,
    name: str = "ExponentialDecay",
) -> Schedule:
    """``keras.optimizers.schedules.ExponentialDecay``: ``lr0 · rate^(step/decay_steps)``.

    ``staircase`` uses ``floor(step/decay_steps)``. lrkit: ``exponential(lr0, factor=rate,
    every=decay_steps)``.

    Args:
      initial_learning_rate: ``lr0``, the value at step 0 (>= 0, as Keras').
      decay_steps: steps per factor ``decay_rate`` (a number > 0).
      decay_rate: the factor per ``decay_steps`` (< 1 decays, > 1 grows).
      staircase: decay in whole ``decay_steps`` (default False, as Keras').
      name: the name in the Keras config (default ``"ExponentialDecay"``, as Keras').

    >>> s = ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5)
    >>> str(s), round(float(s(200)), 6)
    ('exponential(start=0.1, factor=0.5, every=100)', 0.025)
    """
    args = dict(locals())
    lr = _rate("ExponentialDecay", "initial_learning_rate", initial_learning_rate)
    _decay_steps("ExponentialDecay", "decay_steps", decay_steps)
    rate = _number("ExponentialDecay", "decay_rate", decay_rate)
    if rate == 0.0:  # Keras' 0**p: lr at step 0 (the first decay_steps with staircase), then 0
        held = math.ceil(decay_steps) if staircase else 1
        return _wrap(
            lrkit.constant(lr, steps=held) >> lrkit.constant(0.0), "ExponentialDecay", args
        )
    # growing (rate > 1): held at _GROWTH_CAP, where Keras' own values run on to inf
    final = _GROWTH_CAP if rate > 1.0 and lr > 0.0 else None
    return _wrap(
        lrkit.exponential(lr, rate, every=decay_steps, staircase=staircase, final=final),
        "ExponentialDecay",
        args,
    )


@_named
def PiecewiseConstantDecay(
    boundaries: Sequence[int], values: Sequence[float], name: str = "PiecewiseConstant"
) -> Schedule:
    """``keras.optimizers.schedules.PiecewiseConstantDecay``: ``values[i]`` up to ``boundaries[i]``.

    Keras switches *after* a boundary (``step <= b`` keeps the earlier value), so the lrkit
    boundaries are ``floor(b) + 1``.

    Args:
      boundaries: increasing steps (finite, >= 0), as Keras' ``boundaries``.
      values: the learning rates, one more than ``boundaries``: ``values[i]`` while
        ``step <= boundaries[i]``, the last one after the last boundary.
      name: the name in the Keras config (default ``"PiecewiseConstant"``, as Keras').

    >>> s = PiecewiseConstantDecay([100, 200], [0.1, 0.01, 0.001])
    >>> str(s), [round(float(s(t)), 6) for t in (100, 101, 200, 201)]
    ('piecewise_constant(boundaries=[101, 201], values=[0.1, 0.01, 0.001])', [0.1, 0.01, 0.01, 0.001])
    """
    args = dict(locals())
    func = "PiecewiseConstantDecay"
    if isinstance(boundaries, str) or not isinstance(boundaries, Sequence):
        raise _type_fail(func, "boundaries", boundaries, "a list of steps")
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise _type_fail(func, "values", values, "a list")
    if len(values) != len(boundaries) + 1:
        raise _fail(
            func, "values", list(values), f"one more entry than boundaries ({len(boundaries) + 1})"
        )
    bounds = []
    for b in boundaries:
        step = _number(func, "boundaries", b)
        if not math.isfinite(step) or step < 0:
            raise _fail(func, "boundaries", list(boundaries), "finite steps >= 0")
        bounds.append(math.floor(step) + 1)
    return _wrap(
        lrkit.piecewise_constant(tuple(bounds), tuple(values)), "PiecewiseConstantDecay", args
    )


class CyclicPolynomial(LrSchedule):
    """Keras' ``PolynomialDecay(cycle=True)``: each cycle restarts lower, by ``k^-power``.

    value(t) = (lr0 − end)·(1 − t/(T·c))^power + end,   c = max(1, ⌈t/T⌉)

    Endless; no lrkit combinator gives these shrinking cycles, so it has no text form
    (``PolynomialDecay(..., cycle=True, total_steps=n)`` writes the cycles out as text instead).

    >>> s = CyclicPolynomial(1.0, 0.0, 10, 1.0)
    >>> [s(t) for t in (0, 5, 10, 15, 20)]
    [1.0, 0.5, 0.0, 0.25, 0.0]
    """

    name: ClassVar[str] = "keras_cyclic_polynomial"
    _length_field: ClassVar[str | None] = None
    start: float
    end: float
    steps: int
    power: float

    def __post_init__(self) -> None:
        func = "PolynomialDecay"
        for key in ("start", "end", "power"):
            self._set_fields(**{key: _number(func, key, getattr(self, key))})

    def _eval(self, t: Array, xp: Any) -> Array:
        cycles = xp.maximum(xp.ceil(t / self.steps), 1.0)
        frac = 1.0 - t / (self.steps * cycles)
        return (self.start - self.end) * frac**self.power + self.end

    def _bounds(self) -> tuple[float, float]:
        return min(self.start, self.end), max(self.start, self.end)

    def __str__(self) -> str:
        return (
            f"keras_cyclic_polynomial(start={self.start!r}, end={self.end!r}, "
            f"steps={self.steps!r}, power={self.power!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        raise ScheduleError(
            f"{self}: Keras' shrinking polynomial cycles have no lrkit text or dict form; pass "
            "total_steps= to write them out"
        )


def _restarts(decay: float, peak: float, first: float, mult: float) -> int | None:
    """How many periods growing restarts (``m_mul > 1``) get: the last peak stays <= 1e300 and
    the periods end within 2**53 steps."""
    if decay <= 1.0:
        return None
    cycles = 1 if peak <= 0.0 else math.floor(math.log(_GROWTH_CAP / peak) / math.log(decay)) + 1
    span = 2.0**53 / max(first, 1.0)
    fit = span if mult == 1.0 else math.log1p(span * (mult - 1.0)) / math.log(mult)
    return max(1, min(cycles, math.floor(fit) - 1))


def _polynomial_cycles(
    lr: float, end: float, steps: int, power: float, total_steps: int
) -> LrSchedule:
    """Keras' cycling polynomial written out up to ``total_steps``.

    Cycle k >= 2 covers whole steps ((k-1)T, kT]: end + (lr - end)·k^-p·(1 - u/T)^p, u = t - (k-1)T.
    As a part starting at (k-1)T: ``end`` for one step, then a polynomial over T - 1 steps.
    """
    if steps == 1:  # denominator t·1 = t: ``end`` from step 1 on
        return lrkit.polynomial(lr, end, steps=1, power=power)
    cycles = math.ceil(total_steps / steps)
    if cycles > _MAX_CYCLES:
        raise ScheduleError(
            f"total_steps={total_steps} gives {cycles} cycles; at most {_MAX_CYCLES} are written out"
        )
    parts: list[LrSchedule] = [lrkit.polynomial(lr, end, steps=steps, power=power)]
    for k in range(2, cycles + 1):
        top = end + (lr - end) * k**-power * ((steps - 1) / steps) ** power
        parts.append(lrkit.constant(end, steps=1))
        parts.append(lrkit.polynomial(top, end, steps=steps - 1, power=power))
    return lrkit.sequence(*parts)


@_named
def PolynomialDecay(
    initial_learning_rate: float,
    decay_steps: int,
    end_learning_rate: float = 0.0001,
    power: float = 1.0,
    cycle: bool = False,
    name: str = "PolynomialDecay",
    *,
    total_steps: int | None = None,
) -> Schedule:
    """``keras.optimizers.schedules.PolynomialDecay``, with ``cycle``.

    value(step) = (lr0 − end)·(1 − min(step, T)/T)^power + end.  With ``cycle=True`` the
    denominator is ``T·ceil(step/T)`` (1 at step 0) — each later cycle restarts lower, by
    ``k^-power``; this needs ``total_steps=`` (an lrkit extension) so the cycles can be written
    out as a sequence, holding ``end`` after ``total_steps``.

    Args:
      initial_learning_rate: ``lr0``, the value at step 0 (>= 0, as Keras').
      decay_steps: length ``T`` of the decay (a number > 0; an int >= 1 with ``cycle=True``).
      end_learning_rate: value from step ``T`` on (>= 0, default 0.0001 as Keras').
      power: exponent of the decay (default 1.0, a line, as Keras').
      cycle: restart after ``T`` steps, each cycle lower (default False, as Keras').
      name: the name in the Keras config (default ``"PolynomialDecay"``, as Keras').
      total_steps: with ``cycle=True``, the steps to write the cycles out for (an int >= 1; an
        lrkit extension, keyword-only): the result then has a text form. Without it the cycles
        are a :class:`CyclicPolynomial`.

    >>> s = PolynomialDecay(0.1, 100, end_learning_rate=0.0, power=2.0)
    >>> str(s), [round(float(s(t)), 6) for t in (0, 50, 100, 150)]  # 0.1·(1 − 50/100)² at 50
    ('polynomial(start=0.1, steps=100, power=2.0)', [0.1, 0.025, 0.0, 0.0])
    >>> s = PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    >>> [round(float(s(t)), 6) for t in (0, 5, 10, 15)]  # step 15: (1 − 15/20)
    [1.0, 0.5, 0.0, 0.25]
    """
    args = dict(locals())
    if total_steps is None:  # an lrkit extension: in the config only when given
        del args["total_steps"]
    func = "PolynomialDecay"
    lr = _rate(func, "initial_learning_rate", initial_learning_rate)
    end = _rate(func, "end_learning_rate", end_learning_rate)
    _decay_steps(func, "decay_steps", decay_steps)
    p = _number(func, "power", power)
    if not isinstance(cycle, bool):
        raise _type_fail(func, "cycle", cycle, "True or False")
    if p == 0.0:  # Keras' (1 − p)**0 is 1 (0**0 too): the initial lr throughout, cycled or not
        return _wrap(lrkit.constant(lr), "PolynomialDecay", args)
    if not cycle:
        return _wrap(lrkit.polynomial(lr, end, steps=decay_steps, power=p), "PolynomialDecay", args)
    if isinstance(decay_steps, bool) or not isinstance(decay_steps, int) or decay_steps < 1:
        raise _fail(func, "decay_steps", decay_steps, "an int >= 1")
    if total_steps is None:
        return _wrap(CyclicPolynomial(lr, end, decay_steps, p), "PolynomialDecay", args)
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise _fail(func, "total_steps", total_steps, "an int >= 1")
    return _wrap(_polynomial_cycles(lr, end, decay_steps, p, total_steps), "PolynomialDecay", args)


@_named
def InverseTimeDecay(
    initial_learning_rate: float,
    decay_steps: int,
    decay_rate: float,
    staircase: bool = False,
    name: str = "InverseTimeDecay",
) -> Schedule:
    """``keras.optimizers.schedules.InverseTimeDecay``: ``lr0 / (1 + rate · step/decay_steps)``.

    Args:
      initial_learning_rate: ``lr0``, the value at step 0 (>= 0, as Keras').
      decay_steps: steps per unit of ``decay_rate`` in the denominator (a number > 0).
      decay_rate: how fast the value falls (a number >= 0).
      staircase: use ``floor(step/decay_steps)`` (default False, as Keras').
      name: the name in the Keras config (default ``"InverseTimeDecay"``, as Keras').

    >>> s = InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> str(s), [round(float(s(t)), 6) for t in (0, 10, 20)]  # 0.1 / (1 + 0.5·t/10)
    ('inverse_time(start=0.1, rate=0.5, every=10)', [0.1, 0.066667, 0.05])
    """
    args = dict(locals())
    lr = _rate("InverseTimeDecay", "initial_learning_rate", initial_learning_rate)
    _decay_steps("InverseTimeDecay", "decay_steps", decay_steps)
    rate = _number("InverseTimeDecay", "decay_rate", decay_rate)
    return _wrap(
        lrkit.inverse_time(lr, rate, every=decay_steps, staircase=staircase),
        "InverseTimeDecay",
        args,
    )


@_named
def CosineDecay(
    initial_learning_rate: float,
    decay_steps: int,
    alpha: float = 0.0,
    name: str = "CosineDecay",
    warmup_target: float | None = None,
    warmup_steps: int = 0,
) -> Schedule:
    """``keras.optimizers.schedules.CosineDecay``, with its optional linear warm-up.

    Without ``warmup_target``: cosine from lr0 to ``alpha·lr0`` over ``decay_steps`` (Keras then
    ignores ``warmup_steps``). With it: a line lr0 → target over ``warmup_steps``, then a cosine
    target → ``alpha·target``: ``warmup(W, start=lr0) >> cosine(target, alpha·target, steps=T)``.

    Args:
      initial_learning_rate: ``lr0``, the value at step 0 (>= 0, as Keras').
      decay_steps: length ``T`` of the cosine, after the warm-up (a number > 0).
      alpha: the final value as a share of the cosine's start (default 0.0, as Keras').
      name: the name in the Keras config (default ``"CosineDecay"``, as Keras').
      warmup_target: the value at the end of the warm-up (default None: no warm-up, as Keras').
      warmup_steps: length ``W`` of the linear warm-up (>= 0, default 0 as Keras').

    >>> str(CosineDecay(0.0, 900, warmup_target=0.1, warmup_steps=100))
    'warmup(100) >> cosine(start=0.1, steps=900)'
    """
    args = dict(locals())
    func = "CosineDecay"
    lr = _rate(func, "initial_learning_rate", initial_learning_rate)
    _decay_steps(func, "decay_steps", decay_steps)
    a = _number(func, "alpha", alpha)
    if warmup_target is None:
        return _wrap(lrkit.cosine(lr, lr * a, steps=decay_steps), "CosineDecay", args)
    target = _number(func, "warmup_target", warmup_target)
    decay = lrkit.cosine(target, target * a, steps=decay_steps)
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, numbers.Real):
        raise _fail(func, "warmup_steps", warmup_steps, "an int >= 0")
    if warmup_steps == 0:
        return _wrap(decay, "CosineDecay", args)
    return _wrap(lrkit.warmup(warmup_steps, start=lr) >> decay, "CosineDecay", args)


@_named
def CosineDecayRestarts(
    initial_learning_rate: float,
    first_decay_steps: int,
    t_mul: float = 2.0,
    m_mul: float = 1.0,
    alpha: float = 0.0,
    name: str = "SGDRDecay",
) -> Schedule:
    """``keras.optimizers.schedules.CosineDecayRestarts`` (SGDR, Loshchilov & Hutter 2017).

    value(t) = lr0·((1 − α)·m_mul^i·½(1 + cos(π·f_i)) + α), period i lasting
    ``first_decay_steps·t_mul^i`` (f_i: the fraction of period i done). With ``m_mul = 1``:
    ``cosine(lr0, alpha·lr0, steps=T).repeat(mult=t_mul)``; otherwise Keras keeps the floor
    ``alpha·lr0`` unscaled: ``cosine(lr0·(1 − alpha), steps=T).repeat(mult=t_mul, decay=m_mul)
    + alpha·lr0`` (only the cosine part shrinks by ``m_mul^i``).

    Args:
      initial_learning_rate: ``lr0``, the value at step 0 (>= 0, as Keras').
      first_decay_steps: length ``T`` of the first period (a number > 0).
      t_mul: each period is ``t_mul`` times longer than the one before (default 2.0, as Keras').
      m_mul: each restart's peak is ``m_mul`` times the one before (default 1.0, as Keras').
      alpha: the floor as a share of ``lr0`` (default 0.0, as Keras'; <= 1 when ``m_mul != 1``).
      name: the name in the Keras config (default ``"SGDRDecay"``, as Keras').

    >>> s = CosineDecayRestarts(1.0, 10, t_mul=1.0, m_mul=0.5, alpha=0.2)
    >>> str(s), [round(float(s(t)), 4) for t in (0, 10, 20)]
    ('add(cosine(start=0.8, steps=10).repeat(decay=0.5), constant(0.2))', [1.0, 0.6, 0.4])
    """
    args = dict(locals())
    func = "CosineDecayRestarts"
    lr = _rate(func, "initial_learning_rate", initial_learning_rate)
    _decay_steps(func, "first_decay_steps", first_decay_steps)
    a = _number(func, "alpha", alpha)
    decay = _number(func, "m_mul", m_mul)
    mult = _number(func, "t_mul", t_mul)
    if a == 0.0 or decay == 1.0:
        body = lrkit.cosine(lr, lr * a, steps=first_decay_steps)
        cycles = _restarts(decay, lr, first_decay_steps, mult)
        return _wrap(
            body.repeat(mult=mult, decay=decay, cycles=cycles), "CosineDecayRestarts", args
        )
    if a > 1.0:
        raise _fail(
            func,
            "alpha",
            alpha,
            "<= 1 when m_mul != 1: Keras' cosine part lr0·(1 − alpha)·m_mul^i is then negative, "
            "and lrkit's schedules are sums of non-negative parts",
        )
    shrinking = lrkit.cosine(lr * (1.0 - a), steps=first_decay_steps)
    restarted = shrinking.repeat(
        mult=mult, decay=decay, cycles=_restarts(decay, lr * (1.0 - a), first_decay_steps, mult)
    )
    return _wrap(lrkit.add(restarted, lr * a), "CosineDecayRestarts", args)

"""Presets: named compositions of leaves (one-cycle, its momentum, warmup-stable-decay).

A preset prints under its own name (``one_cycle(peak=0.1, steps=1000)``) and evaluates through its
expansion into leaves and combinators, ``s.expand()``. A fractional ``warmup``/``decay`` (a float in
[0, 1]) is a share of the preset's own ``steps``; an int is a step count; ``"20%"`` is a share of the
whole training run.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import field
from functools import cached_property
from itertools import pairwise
from typing import Any

from lrkit import _validate as check
from lrkit.compose import sequence, warmup
from lrkit.core import Array, Schedule, overflow
from lrkit.durations import Duration, Pct, as_duration, steps_of
from lrkit.errors import ScheduleError, ScheduleTypeError
from lrkit.families import Constant, Cosine, Linear, OneMinusSqrt, Piecewise
from lrkit.shapes import shape_name

__all__ = ["OneCycle", "OneCycleMomentum", "Preset", "Wsd"]


def _share_or_steps(func: str, name: str, value: object) -> float | Duration:
    """A float share in [0, 1] of the preset's steps, or a duration (int steps or "N%")."""
    if isinstance(value, float) and not isinstance(value, bool):
        return check.number(func, f"{name} (a float is a share of steps)", value, low=0.0, high=1.0)
    if isinstance(value, bool) or not isinstance(value, numbers.Real | str | Pct):
        raise ScheduleTypeError(
            f"{func}(): {name} must be a share in [0, 1] (float), an int step count or a share "
            f"of training like '20%', got {value!r}"
        )
    return as_duration(func, name, value, allow_zero=True)


def _count(part: float | Duration, total: float) -> float:
    """Steps of a preset part: a float share of ``total``, else the resolved duration."""
    if isinstance(part, float):
        return part * total
    resolved = steps_of(part)
    assert resolved is not None
    return resolved


class Preset(Schedule):
    """A schedule defined as a composition of others; evaluates through ``expand()``.

    Its own length is the field ``steps`` (keyword-only, like every leaf's).
    """

    def expand(self) -> Schedule:
        """The composition of leaves and combinators this preset stands for."""
        raise NotImplementedError  # pragma: no cover

    @cached_property
    def _expanded(self) -> Schedule:
        return self.expand()

    def _eval(self, t: Array, xp: Any) -> Array:
        return self._expanded._eval(t, xp)

    def _bounds(self) -> tuple[float, float] | None:
        if not self.is_bound:
            return None
        low, high = self._expanded.bounds()
        return None if (low, high) == (-math.inf, math.inf) else (low, high)


_ONE_CYCLE_SHAPES = ("cosine", "linear")  # OneCycleLR's anneal_strategy "cos"/"linear"


def _one_cycle_points(
    steps: float, warmup: float | Duration, values: tuple[float, float, float, float], three: bool
) -> tuple[tuple[float, float], ...]:
    """Phase ends of PyTorch's OneCycleLR: warm-up share·steps − 1, (2·share·steps − 2), steps − 1."""
    start, peak, middle, final = values
    rise = (warmup * steps if isinstance(warmup, float) else _count(warmup, steps)) - 1.0
    last = steps - 1.0
    if three:
        fall = 2.0 * rise
        return ((0.0, start), (rise, peak), (fall, middle), (last, final))
    return ((0.0, start), (rise, peak), (last, final))


def _check_one_cycle_phases(func: str, points: tuple[tuple[float, float], ...]) -> None:
    steps = [p[0] for p in points]
    if any(b <= a for a, b in pairwise(steps)):
        raise ScheduleError(
            f"{func}(): warmup and steps leave an empty phase (phase ends at steps {steps}); "
            "use more steps or a warmup share strictly between the phase ends"
        )


class OneCycle(
    Preset,
    name="one_cycle",
    kind="preset",
    example="one_cycle(peak=0.1, steps=100)",
):
    """The 1cycle policy (Smith & Topin, super-convergence), values as PyTorch's OneCycleLR.

    Rises from peak/div to ``peak`` by step warmup·steps − 1, then anneals to peak/(div·final_div) at
    step steps − 1 (holding it after). ``three_phase`` goes back to peak/div at 2·warmup·steps − 2
    first. Defaults as OneCycleLR: warmup 0.3, div 25, final_div 1e4, shape "cosine".

    Args:
      peak: the highest LR (OneCycleLR's max_lr).
      steps: total steps (keyword-only).
      warmup: rise share of ``steps`` (float) or steps (int or ``"N%"``).
      div: start = peak / div.
      final_div: end = start / final_div.
      shape: ``"cosine"`` or ``"linear"`` (OneCycleLR's anneal_strategy).
      three_phase: PyTorch's three-phase variant.

    >>> s = OneCycle(1.0, steps=10, warmup=0.5)
    >>> [round(s(t), 4) for t in (0, 4, 9)]
    [0.04, 1.0, 0.0]
    """

    peak: float
    steps: Duration = field(kw_only=True)
    warmup: float | Duration = field(default=0.3, kw_only=True)
    div: float = field(default=25.0, kw_only=True)
    final_div: float = field(default=1e4, kw_only=True)
    shape: str = field(default="cosine", kw_only=True)
    three_phase: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        func = "one_cycle"
        self._set_fields(peak=check.number(func, "peak", self.peak, low=0.0))
        self._set_fields(steps=as_duration(func, "steps", self.steps))
        self._set_fields(warmup=_share_or_steps(func, "warmup", self.warmup))
        self._set_fields(div=check.number(func, "div", self.div, low=0.0, low_open=True))
        self._set_fields(
            final_div=check.number(func, "final_div", self.final_div, low=0.0, low_open=True),
        )
        self._set_fields(shape=shape_name(func, "shape", self.shape, _ONE_CYCLE_SHAPES))
        self._set_fields(three_phase=check.boolean(func, "three_phase", self.three_phase))
        if not math.isfinite(self.peak / self.div):
            raise overflow(func, "div", self.div, math.inf, "the first value is peak/div")
        if self.is_bound:
            _check_one_cycle_phases(func, self._points())

    def _points(self) -> tuple[tuple[float, float], ...]:
        steps = steps_of(self.steps)
        assert steps is not None
        start = self.peak / self.div
        final = start / self.final_div
        return _one_cycle_points(
            steps, self.warmup, (start, self.peak, start, final), self.three_phase
        )

    def expand(self) -> Schedule:
        return Piecewise(self._points(), self.shape)


class OneCycleMomentum(
    Preset,
    name="one_cycle_momentum",
    kind="preset",
    example="one_cycle_momentum(steps=100)",
):
    """The momentum of the 1cycle policy, as PyTorch's OneCycleLR: high → low → high, against the LR.

    Falls from ``high`` to ``low`` while the LR rises, climbs back while it anneals (three-phase: back
    to ``high`` in phase 2 and flat in phase 3). Defaults as OneCycleLR (0.85, 0.95).

    Args:
      steps: total steps (keyword-only).
      low: momentum at the LR peak.
      high: momentum at the start and the end.
      warmup: as :class:`OneCycle`'s.
      shape: ``"cosine"`` or ``"linear"``.
      three_phase: PyTorch's three-phase variant.

    >>> s = OneCycleMomentum(steps=10, warmup=0.5)
    >>> [round(s(t), 4) for t in (0, 4, 9)]
    [0.95, 0.85, 0.95]
    """

    steps: Duration = field(kw_only=True)
    low: float = field(default=0.85, kw_only=True)
    high: float = field(default=0.95, kw_only=True)
    warmup: float | Duration = field(default=0.3, kw_only=True)
    shape: str = field(default="cosine", kw_only=True)
    three_phase: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        func = "one_cycle_momentum"
        self._set_fields(steps=as_duration(func, "steps", self.steps))
        self._set_fields(low=check.number(func, "low", self.low, low=0.0))
        self._set_fields(high=check.number(func, "high", self.high, low=0.0))
        if self.low > self.high:
            raise ScheduleError(f"{func}(): low must be <= high, got {self.low} > {self.high}")
        self._set_fields(warmup=_share_or_steps(func, "warmup", self.warmup))
        self._set_fields(shape=shape_name(func, "shape", self.shape, _ONE_CYCLE_SHAPES))
        self._set_fields(three_phase=check.boolean(func, "three_phase", self.three_phase))
        if self.is_bound:
            _check_one_cycle_phases(func, self._points())

    def _points(self) -> tuple[tuple[float, float], ...]:
        steps = steps_of(self.steps)
        assert steps is not None
        return _one_cycle_points(
            steps, self.warmup, (self.high, self.low, self.high, self.high), self.three_phase
        )

    def expand(self) -> Schedule:
        return Piecewise(self._points(), self.shape)


_WSD_DECAYS = {"linear": Linear, "cosine": Cosine, "1-sqrt": OneMinusSqrt}


class Wsd(
    Preset,
    name="wsd",
    kind="preset",
    example='wsd(peak=0.1, steps=100, warmup=10, shape="1-sqrt")',
):
    """Warmup-stable-decay: linear warm-up, constant ``peak``, then a cooldown to ``final``.

    warmup(w) >> constant(peak, steps − w − d) >> decay(peak → final, d), with d = decay·steps for a
    float share (default 20 %, Hägele et al. 2024) and shape linear, cosine or 1-sqrt.

    Args:
      peak: the stable value.
      steps: total steps (keyword-only).
      warmup: warm-up share of ``steps`` (float) or steps.
      decay: cooldown share of ``steps`` (float, default 0.2) or steps.
      shape: cooldown curve: ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.
      final: value at the end.

    >>> s = Wsd(1.0, steps=10, warmup=2, decay=0.4)
    >>> [round(s(t), 3) for t in range(11)]
    [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    peak: float
    steps: Duration = field(kw_only=True)
    warmup: float | Duration = field(default=0, kw_only=True)
    decay: float | Duration = field(default=0.2, kw_only=True)
    shape: str = field(default="linear", kw_only=True)
    final: float = field(default=0.0, kw_only=True)

    def __post_init__(self) -> None:
        func = "wsd"
        self._set_fields(peak=check.number(func, "peak", self.peak, low=0.0))
        self._set_fields(steps=as_duration(func, "steps", self.steps))
        self._set_fields(warmup=_share_or_steps(func, "warmup", self.warmup))
        self._set_fields(decay=_share_or_steps(func, "decay", self.decay))
        self._set_fields(shape=shape_name(func, "shape", self.shape, tuple(_WSD_DECAYS)))
        self._set_fields(final=check.number(func, "final", self.final, low=0.0))
        if self.final > self.peak:
            raise ScheduleError(f"{func}(): final must be <= peak, got {self.final} > {self.peak}")
        if self.is_bound:
            self._lengths()

    def _lengths(self) -> tuple[int, int, int]:
        steps = steps_of(self.steps)
        assert steps is not None
        warm = math.floor(_count(self.warmup, steps) + 0.5)
        decay = math.floor(_count(self.decay, steps) + 0.5)
        stable = int(steps) - warm - decay
        if stable < 0:
            raise ScheduleError(
                f"wsd(): warmup ({warm}) + decay ({decay}) exceed steps ({int(steps)})"
            )
        return warm, stable, decay

    def expand(self) -> Schedule:
        warm, stable, decay = self._lengths()
        parts: list[Schedule] = []
        if stable or not decay:
            parts.append(Constant(self.peak, steps=max(stable, 1)))
        if decay:
            parts.append(_WSD_DECAYS[self.shape](self.peak, self.final, steps=decay))
        return sequence(warmup(warm), *parts) if warm else sequence(*parts)

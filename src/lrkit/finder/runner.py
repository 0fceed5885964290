"""The framework-free LR range test runner (Smith 2017; fastai ``lr_find``; torch-lr-finder)."""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.errors import ScheduleError, ScheduleStateError, ScheduleTypeError
from lrkit.finder.result import RangeTestResult, StopReason
from lrkit.finder.smoothing import EMA

if TYPE_CHECKING:
    from lrkit import Schedule

__all__ = ["MAX_NUM_STEPS", "RangeTest", "sweep_schedule"]

_MODES = ("exp", "linear")


MAX_NUM_STEPS = 1_000_000
"""Most steps a range test may plan (its LRs are computed up front); real tests use 100-1000."""

_MAX_RATIO = 1e100  # widest exp sweep (1e-7 to 10 is 1e8); keeps every LR a normal float


def _bad(name: str, value: object, allowed: str) -> ScheduleError:
    return ScheduleError(f"RangeTest: {name} must be {allowed}, got {reprlib.repr(value)}")


def _number(name: str, value: object, allowed: str) -> float:
    """``value`` as a finite float (numpy scalars too; not bool, text or huge ints)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ScheduleTypeError(f"RangeTest: {name} must be {allowed}, got {reprlib.repr(value)}")
    try:
        out = float(value)
    except OverflowError:
        raise _bad(name, value, allowed) from None
    if not math.isfinite(out):
        raise _bad(name, value, allowed)
    return out


def _loss(loss: object) -> float:
    """A recorded loss as a float: numbers, numpy scalars, 0-d arrays and tensors; not text."""
    if isinstance(loss, str | bytes | bytearray | bool | np.bool_) or not hasattr(
        type(loss), "__float__"
    ):
        raise ScheduleTypeError(
            f"RangeTest.record: loss must be a real number (or a 0-d array/tensor), "
            f"got {reprlib.repr(loss)}"
        )
    try:
        return float(loss)  # type: ignore[arg-type]
    except OverflowError:
        return math.inf  # a loss beyond the float range: the run diverged
    except (TypeError, ValueError):
        raise ScheduleTypeError(
            f"RangeTest.record: loss must be a real number (or a 0-d array/tensor), "
            f"got {reprlib.repr(loss)}"
        ) from None


def sweep_schedule(
    start: float, end: float, num_steps: int, mode: str = "exp", cycle: bool = False
) -> Schedule:
    """The LR sweep of a range test as an lrkit schedule.

    ``mode="exp"``: ``lr_i = start * (end / start) ** (i / (num_steps - 1))`` (torch-lr-finder's
    ``ExponentialLR``; the last step is exactly ``end``; fastai's ``SchedExp`` uses
    ``i / num_steps`` and stops one step short of ``end``). ``mode="linear"``:
    ``lr_i = start + (end - start) * i / (num_steps - 1)`` (torch-lr-finder's ``LinearLR``).
    ``cycle=True`` adds the mirror image, low → high → low over ``2 * num_steps - 1`` steps
    (Smith's triangle; linear mode is ``cyclic(low=start, high=end, half_cycle=num_steps - 1)``).

    The arguments are those of :class:`RangeTest`, which checks them; this function does not.

    Args:
      start: the LR of step 0, the lowest of the sweep (> 0; :class:`RangeTest`'s default
        ``1e-7`` is fastai's ``lr_find`` ``start_lr``).
      end: the LR of step ``num_steps - 1``, the highest (> ``start``; fastai's and
        torch-lr-finder's ``end_lr`` is 10).
      num_steps: the steps of the rising sweep (>= 2; fastai's ``num_it`` and torch-lr-finder's
        ``num_iter`` are 100).
      mode: ``"exp"`` (default; geometric steps, as fastai and torch-lr-finder's ``step_mode``)
        or ``"linear"`` (evenly spaced, the ramp of Smith 2017).
      cycle: also go back down, low → high → low over ``2 * num_steps - 1`` steps (Smith 2017);
        default ``False``, the rising half only.

    >>> s = sweep_schedule(1e-3, 1e-1, 3)
    >>> [round(s(i), 6) for i in range(3)]
    [0.001, 0.01, 0.1]
    >>> s = sweep_schedule(1e-3, 1e-1, 3, mode="linear")
    >>> [round(s(i), 6) for i in range(3)]
    [0.001, 0.0505, 0.1]
    >>> s = sweep_schedule(1e-3, 1e-1, 3, cycle=True)
    >>> [round(s(i), 6) for i in range(5)]
    [0.001, 0.01, 0.1, 0.01, 0.001]
    """
    import lrkit

    half = num_steps - 1
    if mode == "linear":
        if cycle:
            return lrkit.cyclic(low=start, high=end, half_cycle=half, steps=2 * half + 1)
        return lrkit.linear(start=start, end=end, steps=half)
    # start * (end/start) ** (t / half): the same float operations as torch-lr-finder.
    up = lrkit.exponential(start, end / start, every=half, steps=half)
    if not cycle:
        return up
    down = lrkit.exponential(end, start / end, every=half, steps=half)
    return lrkit.sequence(up, down)


class RangeTest:
    """LR range test driven by any training step: raise the LR from ``start`` to ``end``.

    Usage::

        test = RangeTest(start=1e-7, end=10.0, num_steps=100)
        for lr in test:
            loss = train_step(lr)   # one optimizer step at this LR
            test.record(loss)
        result = test.result()      # RangeTestResult: curves, suggestions, recommend()

    Each loss feeds a bias-corrected EMA (``smooth`` = weight of the new loss, see
    :class:`~lrkit.finder.smoothing.EMA`); the test stops early when the smoothed loss exceeds
    ``diverge`` times the best smoothed loss so far (fastai: 4, torch-lr-finder: 5;
    ``diverge=None`` never stops), and at once on a NaN or infinite loss (that loss is not
    recorded, so it cannot reach a suggestion). ``cycle=True`` runs the whole low → high → low
    triangle of Smith's paper (``2 * num_steps - 1`` steps). The sweep itself is
    :func:`sweep_schedule` (an lrkit schedule: ``test.schedule``).

    Args:
      start: the lowest LR, where the sweep begins (a finite number > 0; default ``1e-7``, as
        fastai's ``lr_find`` ``start_lr``).
      end: the highest LR, reached at step ``num_steps - 1`` (a finite number > ``start``;
        default 10, as fastai's and torch-lr-finder's ``end_lr``).
      num_steps: the steps of the rising sweep (an int in ``[2, MAX_NUM_STEPS]``, i.e. up to
        1,000,000; default 100, as fastai's ``num_it`` and torch-lr-finder's ``num_iter``).
      mode: ``"exp"`` (default, as fastai and torch-lr-finder's ``step_mode``: every step
        multiplies the LR by the same factor; ``end / start`` at most ``1e100``) or
        ``"linear"`` (every step adds the same amount, the ramp of Smith 2017).
      smooth: the EMA weight of a new loss, in ``[0, 1)`` (default 0.05, torch-lr-finder's
        ``smooth_f``; fastai's ``beta = 0.98`` is ``smooth = 0.02``; 0: no smoothing).
      diverge: stop once the smoothed loss exceeds ``diverge`` times the best smoothed loss so
        far (a finite number > 1, or ``None`` to never stop; default 4, as fastai and
        Lightning; torch-lr-finder's ``diverge_th`` is 5).
      cycle: run Smith's (2017) whole low → high → low triangle, ``2 * num_steps - 1`` steps
        (default ``False``: the rising half, as fastai and torch-lr-finder).

    >>> test = RangeTest(start=1e-3, end=1.0, num_steps=4, smooth=0.0)
    >>> for lr in test:
    ...     done = test.record(1.0 / lr if lr > 0.05 else 1.0)
    >>> r = test.result()
    >>> [round(x, 4) for x in r.lrs], r.stop_reason
    ([0.001, 0.01, 0.1], 'diverged')
    >>> default = RangeTest()
    >>> len(default.planned_lrs), default.planned_lrs[0], default.planned_lrs[-1]
    (100, 1e-07, 10.0)
    """

    def __init__(
        self,
        start: float = 1e-7,
        end: float = 10.0,
        num_steps: int = 100,
        mode: str = "exp",
        smooth: float = 0.05,
        diverge: float | None = 4.0,
        cycle: bool = False,
    ) -> None:
        start = _number("start", start, "a finite number > 0")
        if start <= 0.0:
            raise _bad("start", start, "a finite number > 0")
        end = _number("end", end, f"a finite number > start={start!r}")
        if end <= start:
            raise _bad("end", end, f"a finite number > start={start!r}")
        if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer):
            raise ScheduleTypeError(f"RangeTest: num_steps must be an int >= 2, got {num_steps!r}")
        if not 2 <= num_steps <= MAX_NUM_STEPS:
            raise _bad("num_steps", num_steps, f"an int in [2, {MAX_NUM_STEPS}]")
        num_steps = int(num_steps)
        if mode not in _MODES:
            raise ScheduleError(f"RangeTest: mode must be one of 'exp', 'linear', got {mode!r}")
        if mode == "exp" and not end / start <= _MAX_RATIO:
            raise ScheduleError(
                f"RangeTest: end/start must be at most {_MAX_RATIO:g} for mode='exp' (the sweep "
                f"multiplies by (end/start)^(1/(num_steps-1)) per step), got start={start!r}, "
                f"end={end!r}; raise start or lower end"
            )
        smooth = _number("smooth", smooth, "a number in [0, 1)")
        if not 0.0 <= smooth < 1.0:
            raise _bad("smooth", smooth, "a number in [0, 1)")
        if diverge is not None:
            diverge = _number("diverge", diverge, "None or a finite number > 1")
            if diverge <= 1.0:
                raise _bad("diverge", diverge, "None or a finite number > 1")
        if not isinstance(cycle, bool):
            raise ScheduleTypeError(f"RangeTest: cycle must be a bool, got {cycle!r}")
        self.start = float(start)
        self.end = float(end)
        self.num_steps = num_steps
        self.mode = mode
        self.smooth = float(smooth)
        self.diverge = None if diverge is None else float(diverge)
        self.cycle = cycle
        self.schedule = sweep_schedule(self.start, self.end, num_steps, mode, cycle)
        self.total_steps = 2 * num_steps - 1 if cycle else num_steps
        self.planned_lrs: tuple[float, ...] = tuple(
            float(v) for v in np.asarray(self.schedule(np.arange(self.total_steps)))
        )
        self._ema = EMA(self.smooth)
        self._lrs: list[float] = []
        self._losses: list[float] = []
        self._smoothed: list[float] = []
        self._best = math.inf
        self._pending = False
        self._stop: StopReason | None = None

    @property
    def step(self) -> int:
        """Number of losses recorded so far."""
        return len(self._losses)

    @property
    def done(self) -> bool:
        """True once the sweep is complete or stopped (divergence or a non-finite loss)."""
        return self._stop is not None

    @property
    def stop_reason(self) -> StopReason | None:
        """``"completed"``, ``"diverged"``, ``"nonfinite"`` or None while running."""
        return self._stop

    def lr(self) -> float:
        """The LR of the next step to run."""
        if self.done:
            raise ScheduleStateError("RangeTest.lr: the test is finished")
        return self.planned_lrs[self.step]

    def __iter__(self) -> Iterator[float]:
        while not self.done:
            if self._pending:
                raise ScheduleStateError(
                    "RangeTest: call record(loss) once for each LR before asking for the next"
                )
            self._pending = True
            yield self.planned_lrs[self.step]
            if self._pending:
                raise ScheduleStateError(
                    "RangeTest: call record(loss) once for each LR before asking for the next"
                )

    def record(self, loss: Any) -> bool:
        """Record the training loss of the step just taken; returns True when the test is over.

        ``loss`` is anything ``float()`` accepts (a Python/NumPy number, a 0-d tensor).
        """
        if self.done:
            raise ScheduleStateError("RangeTest.record: the test is finished")
        value = _loss(loss)
        i = self.step
        self._pending = False
        if not math.isfinite(value):
            self._stop = "nonfinite"
            return True
        smoothed = self._ema.update(value)
        self._lrs.append(self.planned_lrs[i])
        self._losses.append(value)
        self._smoothed.append(smoothed)
        self._best = min(self._best, smoothed)
        if self.diverge is not None and smoothed - self._best > (self.diverge - 1.0) * abs(
            self._best
        ):
            self._stop = "diverged"
        elif self.step >= self.total_steps:
            self._stop = "completed"
        return self.done

    def result(self) -> RangeTestResult:
        """The curves recorded so far as a :class:`RangeTestResult`."""
        return RangeTestResult(
            lrs=tuple(self._lrs),
            losses=tuple(self._losses),
            smoothed=tuple(self._smoothed),
            start=self.start,
            end=self.end,
            num_steps=self.num_steps,
            mode=self.mode,
            smooth=self.smooth,
            diverge=self.diverge,
            cycle=self.cycle,
            stop_reason=self._stop if self._stop is not None else "running",
        )

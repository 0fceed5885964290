"""The framework-free LR range test runner (Smith 2017; fastai ``lr_find``; torch-lr-finder)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.finder.result import RangeTestResult, StopReason
from lrkit.finder.smoothing import EMA

if TYPE_CHECKING:
    from lrkit import Schedule

__all__ = ["RangeTest", "sweep_schedule"]

_MODES = ("exp", "linear")


def _is_real(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


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

    >>> s = sweep_schedule(1e-3, 1e-1, 3)
    >>> [round(s(i), 6) for i in range(3)]
    [0.001, 0.01, 0.1]
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

    >>> test = RangeTest(start=1e-3, end=1.0, num_steps=4, smooth=0.0)
    >>> for lr in test:
    ...     done = test.record(1.0 / lr if lr > 0.05 else 1.0)
    >>> r = test.result()
    >>> [round(x, 4) for x in r.lrs], r.stop_reason
    ([0.001, 0.01, 0.1], 'diverged')
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
        name = "RangeTest"
        if not (_is_real(start) and math.isfinite(start) and start > 0):
            raise ValueError(f"{name}: start must be a finite number > 0, got {start!r}")
        if not (_is_real(end) and math.isfinite(end) and end > start):
            raise ValueError(f"{name}: end must be a finite number > start={start!r}, got {end!r}")
        if not (isinstance(num_steps, int) and not isinstance(num_steps, bool) and num_steps >= 2):
            raise ValueError(f"{name}: num_steps must be an int >= 2, got {num_steps!r}")
        if mode not in _MODES:
            raise ValueError(f"{name}: mode must be one of 'exp', 'linear', got {mode!r}")
        if not (_is_real(smooth) and 0.0 <= smooth < 1.0):
            raise ValueError(f"{name}: smooth must be a number in [0, 1), got {smooth!r}")
        if diverge is not None and not (_is_real(diverge) and diverge > 1.0):
            raise ValueError(f"{name}: diverge must be None or a number > 1, got {diverge!r}")
        if not isinstance(cycle, bool):
            raise TypeError(f"{name}: cycle must be a bool, got {cycle!r}")
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
            raise RuntimeError("RangeTest.lr: the test is finished")
        return self.planned_lrs[self.step]

    def __iter__(self) -> Iterator[float]:
        while not self.done:
            if self._pending:
                raise RuntimeError(
                    "RangeTest: call record(loss) once for each LR before asking for the next"
                )
            self._pending = True
            yield self.planned_lrs[self.step]
            if self._pending:
                raise RuntimeError(
                    "RangeTest: call record(loss) once for each LR before asking for the next"
                )

    def record(self, loss: Any) -> bool:
        """Record the training loss of the step just taken; returns True when the test is over.

        ``loss`` is anything ``float()`` accepts (a Python/NumPy number, a 0-d tensor).
        """
        if self.done:
            raise RuntimeError("RangeTest.record: the test is finished")
        value = float(loss)
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

"""Turn an LR range test into a complete lrkit schedule (one-cycle, WSD, cosine, cyclic)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from lrkit import _validate as check
from lrkit.errors import ScheduleError
from lrkit.finder.suggestions import bounds, suggest

if TYPE_CHECKING:
    from lrkit.core import Schedule
    from lrkit.finder.result import RangeTestResult

__all__ = ["POLICIES", "recommend"]


def _round(lr: float) -> float:
    """Three significant digits: the test cannot resolve more, and the schedule prints cleanly."""
    return float(f"{lr:.3g}")


def _peak(r: RangeTestResult, rule: str) -> float:
    return _round(suggest(r, rule).lr)


def _warm(total_steps: int, warmup: float) -> int:
    return min(total_steps - 1, math.floor(warmup * total_steps + 0.5))


def _one_cycle(r: RangeTestResult, n: int, rule: str, warmup: float, cycles: int) -> Schedule:
    import lrkit

    return lrkit.one_cycle(peak=_peak(r, rule), steps=n)


def _wsd(r: RangeTestResult, n: int, rule: str, warmup: float, cycles: int) -> Schedule:
    import lrkit

    return lrkit.wsd(peak=_peak(r, rule), steps=n, warmup=_warm(n, warmup), decay=0.2)


def _cosine(r: RangeTestResult, n: int, rule: str, warmup: float, cycles: int) -> Schedule:
    import lrkit

    w = _warm(n, warmup)
    body = lrkit.cosine(start=_peak(r, rule), end=0.0, steps=n - w)
    return lrkit.warmup(w) >> body if w > 0 else body


def _cyclic(r: RangeTestResult, n: int, rule: str, warmup: float, cycles: int) -> Schedule:
    import lrkit

    low, high = bounds(r)
    lo, hi = _round(low.lr), _round(high.lr)
    if not lo < hi:  # flat or rising curve: Smith's fallback, base = max / 4
        lo = _round(hi / 4.0)
    half = max(1, n // (2 * cycles))
    return lrkit.cyclic(low=lo, high=hi, half_cycle=half, steps=n)


#: Policy name -> builder ``(result, total_steps, rule, warmup, cycles) -> Schedule``.
POLICIES: dict[str, Callable[[RangeTestResult, int, str, float, int], Schedule]] = {
    "one_cycle": _one_cycle,
    "wsd": _wsd,
    "cosine": _cosine,
    "cyclic": _cyclic,
}


def recommend(
    result: RangeTestResult,
    total_steps: int,
    policy: str = "one_cycle",
    *,
    rule: str = "lrkit",
    warmup: float = 0.05,
    cycles: int = 2,
) -> Schedule:
    """A schedule for ``total_steps`` of training built on the range test ``result``.

    * ``"one_cycle"``: ``one_cycle(peak=lr, steps=total_steps)`` (PyTorch OneCycleLR defaults).
    * ``"wsd"``: ``wsd(peak=lr, steps=total_steps, warmup=w, decay=0.2)`` — warm-up, stable,
      20 % linear decay (Hägele et al. 2024).
    * ``"cosine"``: ``warmup(w) >> cosine(start=lr, steps=total_steps - w)``.
    * ``"cyclic"``: ``cyclic(low, high, half_cycle=total_steps // (2 * cycles))`` with
      ``low``/``high`` where the loss starts/stops falling (Smith 2017).

    ``lr`` is the suggestion of ``rule`` rounded to 3 significant digits;
    ``w = round(warmup * total_steps)`` steps.

    Args:
      result: the range test.
      total_steps: steps of the training run (an int >= 2).
      policy: one of :data:`POLICIES`.
      rule: the suggestion rule giving the LR.
      warmup: warm-up share of ``wsd``/``cosine``, in [0, 1).
      cycles: cycles of ``cyclic`` (an int >= 1).

    >>> from lrkit.finder import RangeTestResult
    >>> r = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1, 1.0), losses=(2.0, 1.5, 1.0, 9.0),
    ...                     smoothed=(2.0, 1.5, 1.0, 9.0))
    >>> print(recommend(r, 1000, "one_cycle", rule="minimum"))
    one_cycle(peak=0.01, steps=1000)
    """
    func = "recommend"
    check.integer(func, "total_steps", total_steps, low=2)
    builder = POLICIES.get(policy) if isinstance(policy, str) else None
    if builder is None:
        close = difflib.get_close_matches(str(policy), list(POLICIES), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ScheduleError(
            f"{func}(): policy must be one of {', '.join(POLICIES)}, got {policy!r}{hint}"
        )
    warm = check.number(func, "warmup", warmup, low=0.0, high=1.0, high_open=True)
    check.integer(func, "cycles", cycles, low=1)
    return builder(result, int(total_steps), rule, warm, int(cycles))

"""Turn an LR range test into a complete lrkit schedule (one-cycle, WSD, cosine, cyclic)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lrkit import Schedule
    from lrkit.finder.result import RangeTestResult

__all__ = ["POLICIES", "recommend"]


def _round(lr: float) -> float:
    """Three significant digits: the test cannot resolve more, and the schedule prints cleanly."""
    return float(f"{lr:.3g}")


def _peak(r: RangeTestResult, rule: str) -> float:
    return _round(r.suggest(rule).lr)


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

    low, high = r.bounds()
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
    """A schedule for ``total_steps`` built on ``result`` (see ``RangeTestResult.recommend``).

    >>> from lrkit.finder import RangeTestResult
    >>> r = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1, 1.0), losses=(2.0, 1.5, 1.0, 9.0),
    ...                     smoothed=(2.0, 1.5, 1.0, 9.0))
    >>> print(recommend(r, 1000, "one_cycle", rule="minimum"))
    one_cycle(peak=0.01, steps=1000)
    """
    func = "recommend"
    if not (
        isinstance(total_steps, int) and not isinstance(total_steps, bool) and total_steps >= 2
    ):
        raise ValueError(f"{func}: total_steps must be an int >= 2, got {total_steps!r}")
    builder = POLICIES.get(policy) if isinstance(policy, str) else None
    if builder is None:
        raise ValueError(f"{func}: policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    if not (isinstance(warmup, int | float) and not isinstance(warmup, bool) and 0 <= warmup < 1):
        raise ValueError(f"{func}: warmup must be a share in [0, 1), got {warmup!r}")
    if not (isinstance(cycles, int) and not isinstance(cycles, bool) and cycles >= 1):
        raise ValueError(f"{func}: cycles must be an int >= 1, got {cycles!r}")
    return builder(result, total_steps, rule, float(warmup), cycles)

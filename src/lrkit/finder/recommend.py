"""Turn an LR range test into a complete lrkit schedule (one-cycle, WSD, cosine, cyclic)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, overload

from lrkit import _validate as check
from lrkit.errors import ScheduleError
from lrkit.finder.suggestions import bounds, suggest

if TYPE_CHECKING:
    from lrkit.core import Schedule
    from lrkit.finder.result import RangeTestResult

__all__ = ["MOMENTUM", "POLICIES", "recommend"]


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


def _one_cycle_momentum(lr: Schedule, n: int) -> Schedule:
    import lrkit

    return lrkit.one_cycle_momentum(steps=n)


def _cyclic_momentum(lr: Schedule, n: int) -> Schedule:
    return lr.mirror(low=0.85, high=0.95)


#: Policy name -> momentum builder ``(lr_schedule, total_steps) -> Schedule`` for the policies
#: that cycle momentum against the LR (Smith 2018); the others leave the optimizer's momentum.
MOMENTUM: dict[str, Callable[[Schedule, int], Schedule]] = {
    "one_cycle": _one_cycle_momentum,
    "cyclic": _cyclic_momentum,
}


@overload
def recommend(
    result: RangeTestResult,
    total_steps: int,
    policy: str = ...,
    *,
    rule: str = ...,
    warmup: float = ...,
    cycles: int = ...,
    momentum: Literal[False] = ...,
) -> Schedule: ...


@overload
def recommend(
    result: RangeTestResult,
    total_steps: int,
    policy: str = ...,
    *,
    rule: str = ...,
    warmup: float = ...,
    cycles: int = ...,
    momentum: Literal[True],
) -> dict[str, Schedule]: ...


@overload
def recommend(
    result: RangeTestResult,
    total_steps: int,
    policy: str = ...,
    *,
    rule: str = ...,
    warmup: float = ...,
    cycles: int = ...,
    momentum: bool,
) -> Schedule | dict[str, Schedule]: ...


def recommend(
    result: RangeTestResult,
    total_steps: int,
    policy: str = "one_cycle",
    *,
    rule: str = "lrkit",
    warmup: float = 0.05,
    cycles: int = 2,
    momentum: bool = False,
) -> Schedule | dict[str, Schedule]:
    """A schedule for ``total_steps`` of training built on the range test ``result``.

    * ``"one_cycle"``: ``one_cycle(peak=lr, steps=total_steps)`` (PyTorch OneCycleLR defaults).
    * ``"wsd"``: ``wsd(peak=lr, steps=total_steps, warmup=w, decay=0.2)`` — warm-up, stable,
      20 % linear decay (Hägele et al. 2024).
    * ``"cosine"``: ``warmup(w) >> cosine(start=lr, steps=total_steps - w)``.
    * ``"cyclic"``: ``cyclic(low, high, half_cycle=total_steps // (2 * cycles))`` with
      ``low``/``high`` where the loss starts/stops falling (Smith 2017).

    ``lr`` is the suggestion of ``rule`` rounded to 3 significant digits;
    ``w = round(warmup * total_steps)`` steps.

    ``momentum=True`` returns ``{"lr": schedule, "momentum": ...}``, the form
    :class:`lrkit.torch.Scheduler` takes (``"momentum"`` drives SGD's ``momentum`` and
    ``betas[0]`` of the Adam family): for ``one_cycle``
    ``one_cycle_momentum(steps=total_steps)``, 0.95 → 0.85 → 0.95 against the LR as PyTorch's
    ``OneCycleLR`` (``cycle_momentum=True``, ``base_momentum=0.85``, ``max_momentum=0.95``)
    and the bench's one-cycle entry; for ``cyclic`` the LR mirrored onto [0.85, 0.95] (Smith
    2018). ``wsd`` and ``cosine`` schedule no momentum: their dict holds ``"lr"`` only. The
    default ``momentum=False`` returns the LR schedule alone.

    Args:
      result: the range test.
      total_steps: steps of the training run (an int >= 2).
      policy: one of :data:`POLICIES`.
      rule: the suggestion rule giving the LR.
      warmup: warm-up share of ``wsd``/``cosine``, in [0, 1).
      cycles: cycles of ``cyclic`` (an int >= 1).
      momentum: also return the momentum schedule, as a ``{key: schedule}`` dict.

    >>> from lrkit.finder import RangeTestResult
    >>> r = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1, 1.0), losses=(2.0, 1.5, 1.0, 9.0),
    ...                     smoothed=(2.0, 1.5, 1.0, 9.0))
    >>> print(recommend(r, 1000, "one_cycle", rule="minimum"))
    one_cycle(peak=0.01, steps=1000)
    >>> for key, s in recommend(r, 1000, rule="minimum", momentum=True).items():
    ...     print(key, s)
    lr one_cycle(peak=0.01, steps=1000)
    momentum one_cycle_momentum(steps=1000)
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
    check.boolean(func, "momentum", momentum)
    n = int(total_steps)
    lr = builder(result, n, rule, warm, int(cycles))
    if not momentum:
        return lr
    mom = MOMENTUM.get(policy)
    return {"lr": lr} if mom is None else {"lr": lr, "momentum": mom(lr, n)}

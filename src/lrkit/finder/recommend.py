"""Turn an LR range test into a complete lrkit schedule (one-cycle, WSD, cosine, cyclic)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, overload

from lrkit import _validate as check
from lrkit.errors import ScheduleError
from lrkit.finder import suggestions as _sugg
from lrkit.finder.suggestions import bounds, suggest

if TYPE_CHECKING:
    from lrkit.core import Schedule
    from lrkit.finder.result import RangeTestResult

__all__ = [
    "DEFAULT_RULES",
    "MIN_NUM_STEPS",
    "MIN_POINTS",
    "MOMENTUM",
    "OPTIMIZER_FAMILIES",
    "PEAK_RULES",
    "POLICIES",
    "PeakRule",
    "peak_rule",
    "recommend",
]


#: The shortest sweep a recommendation reads (``num_steps`` of the test): below it the rules read
#: their trimmings instead of the curve (torch-lr-finder's ``steepest`` drops 10 points at the
#: start and 5 at the end and needs 2 more). fastai's ``num_it`` and torch-lr-finder's
#: ``num_iter`` are 100.
MIN_NUM_STEPS = 20

#: The fewest points the rising part must have recorded (a test may stop early when the loss
#: diverges): fastai's ``valley``, the default rules' base, drops a tenth of the points and the
#: last 5 and needs 3 more; lrkit's smoothing window is at least 5 points.
MIN_POINTS = 10


def check_readable(func: str, result: RangeTestResult) -> None:
    """ScheduleError when ``result`` is too short to recommend from: a sweep of fewer than
    :data:`MIN_NUM_STEPS` steps, or fewer than :data:`MIN_POINTS` points recorded on its rising
    part (a test that diverged at once).

    >>> from lrkit.finder import RangeTestResult
    >>> check_readable("recommend", RangeTestResult((0.1, 1.0), (1.0, 2.0), (1.0, 2.0)))
    Traceback (most recent call last):
    ...
    lrkit.errors.ScheduleError: recommend(): the range test recorded 2 points on its rising part (stop_reason='completed'); a recommendation needs at least 10: lower the start LR, so that the loss does not diverge at once
    """
    if result.num_steps < MIN_NUM_STEPS:
        raise ScheduleError(
            f"{func}(): the range test swept {result.num_steps} steps; a recommendation needs "
            f"num_steps in [{MIN_NUM_STEPS}, 1000000] (fastai and torch-lr-finder use 100)"
        )
    n = result.rising
    if n < MIN_POINTS:
        raise ScheduleError(
            f"{func}(): the range test recorded {n} points on its rising part "
            f"(stop_reason={result.stop_reason!r}); a recommendation needs at least "
            f"{MIN_POINTS}: lower the start LR, so that the loss does not diverge at once"
        )


def _round(lr: float) -> float:
    """Three significant digits: the test cannot resolve more, and the schedule prints cleanly."""
    return float(f"{lr:.3g}")


@dataclass(frozen=True)
class PeakRule:
    """How :func:`recommend` reads a peak LR off a range test: a suggestion times a multiplier.

    ``peak = m * suggest(result, base).lr`` with ``m = by_optimizer[family]`` when the optimizer
    family (``"sgd"`` or ``"adam"``) is known and listed, else ``m = factor``.

    Args:
      name: the name :func:`recommend`'s ``rule`` takes.
      base: a registered suggestion rule (:func:`lrkit.finder.suggestions.names`).
      factor: the multiplier when the optimizer family is unknown or not listed.
      by_optimizer: ``(family, multiplier)`` pairs.
      summary: one line for tables.

    >>> rule = PEAK_RULES["valley_by_optimizer"]
    >>> rule.base, rule.multiplier("adam"), rule.multiplier("sgd"), rule.multiplier(None)
    ('valley', 2.0, 4.0, 4.0)
    """

    name: str
    base: str
    factor: float = 1.0
    by_optimizer: tuple[tuple[str, float], ...] = ()
    summary: str = ""

    def __post_init__(self) -> None:
        func = "PeakRule"
        _sugg.get(self.base)  # a ScheduleError listing the registered rules
        check.number(func, "factor", self.factor, low=0.0, low_open=True)
        for family, m in self.by_optimizer:
            check.choice(func, "by_optimizer family", family, ("sgd", "adam"))
            check.number(func, f"by_optimizer[{family!r}]", m, low=0.0, low_open=True)

    def multiplier(self, optimizer: str | None = None) -> float:
        """The multiplier for optimizer family ``optimizer`` (``None``: unknown)."""
        return dict(self.by_optimizer).get(optimizer or "", self.factor)

    def unknown_family_note(self, optimizer: str | None = None) -> str:
        """What the rule does when the optimizer family is unknown, or "" when that does not
        matter (the family is known, or the rule has one multiplier for all).

        >>> print(PEAK_RULES["valley_by_optimizer"].unknown_family_note())
        optimizer family unknown: valley x 4, SGD's (x 2 for the Adam family)
        >>> PEAK_RULES["valley_by_optimizer"].unknown_family_note("adam")
        ''
        """
        if not self.by_optimizer or optimizer in dict(self.by_optimizer):
            return ""
        same = [f.upper() if f == "sgd" else f for f, m in self.by_optimizer if m == self.factor]
        names = {"SGD": "SGD's", "adam": "the Adam family's"}
        whose = ", ".join(names.get(f, f) for f in same)
        others = ", ".join(
            f"x {m:g} for the {'Adam' if f == 'adam' else 'SGD'} family"
            for f, m in self.by_optimizer
            if m != self.factor
        )
        return (
            f"optimizer family unknown: {self.base} x {self.factor:g}"
            + (f", {whose}" if whose else "")
            + (f" ({others})" if others else "")
        )

    def peak(self, result: RangeTestResult, optimizer: str | None = None) -> float:
        """The peak LR for ``result``, unrounded; a ScheduleError when the test is too short to
        read (:func:`check_readable`)."""
        check_readable("PeakRule.peak", result)
        return self.multiplier(optimizer) * suggest(result, self.base).lr


#: The peak rules with a multiplier, by name; every registered suggestion rule is a peak rule
#: too (multiplier 1). The constants are those with the lowest held-out (leave-one-task-out)
#: mean regret on the 18-task corpus of ``benchmarks/finder_quality.py``
#: (``benchmarks/results/finder_quality_full.txt``; docs/finder.md).
PEAK_RULES: dict[str, PeakRule] = {
    "valley_x4": PeakRule(
        "valley_x4",
        "valley",
        4.0,
        summary="fastai's valley x 4",
    ),
    "valley_by_optimizer": PeakRule(
        "valley_by_optimizer",
        "valley",
        4.0,
        (("sgd", 4.0), ("adam", 2.0)),
        summary="fastai's valley x 4 (SGD family), x 2 (Adam family), x 4 if unknown",
    ),
}

#: The default rule of each policy that has a peak LR: the one with the lowest held-out mean
#: regret for that policy (one_cycle: ``valley_x4``, 20.4 %; cosine: ``valley_by_optimizer``,
#: 24.3 %); ``wsd`` (not measured) takes ``valley_x4``, best or within 0.4 points of the best for
#: both measured policies. ``rule="lrkit"`` gives the 0.x defaults.
DEFAULT_RULES: dict[str, str] = {
    "one_cycle": "valley_x4",
    "wsd": "valley_x4",
    "cosine": "valley_by_optimizer",
}

#: Optimizer names :func:`recommend` knows -> optimizer family (the families the corpus measured:
#: SGD with or without momentum/Nesterov; Adam and AdamW). Other optimizers (NAdam, RAdam,
#: RMSprop, the schedule-free ones) were not measured: their family is unknown.
OPTIMIZER_FAMILIES: dict[str, str] = {"sgd": "sgd", "adam": "adam", "adamw": "adam"}


def peak_rule(name: str) -> PeakRule:
    """The peak rule called ``name``: one of :data:`PEAK_RULES` or a registered suggestion rule.

    A registered suggestion rule (``"lrkit"``, ``"valley"``, ...) is a peak rule with multiplier
    1; a ScheduleError lists the allowed names for any other ``name``.

    Args:
      name: the rule's name.

    >>> peak_rule("valley_x4").factor, peak_rule("lrkit").base, peak_rule("lrkit").factor
    (4.0, 'lrkit', 1.0)
    """
    found = PEAK_RULES.get(name) if isinstance(name, str) else None
    if found is not None:
        return found
    if isinstance(name, str) and name in _sugg.names():
        return PeakRule(name, name, summary=_sugg.get(name).summary)
    allowed = [*PEAK_RULES, *_sugg.names()]
    raise ScheduleError(
        f"recommend(): rule must be one of {', '.join(allowed)}, got {name!r}"
        f"{check.did_you_mean(name, allowed)}"
    )


def _warm(total_steps: int, warmup: float) -> int:
    return min(total_steps - 1, math.floor(warmup * total_steps + 0.5))


Peak = Callable[[], float]


def _one_cycle(r: RangeTestResult, n: int, peak: Peak, warmup: float, cycles: int) -> Schedule:
    import lrkit

    return lrkit.one_cycle(peak=peak(), steps=n)


def _wsd(r: RangeTestResult, n: int, peak: Peak, warmup: float, cycles: int) -> Schedule:
    import lrkit

    return lrkit.wsd(peak=peak(), steps=n, warmup=_warm(n, warmup), decay=0.2)


def _cosine(r: RangeTestResult, n: int, peak: Peak, warmup: float, cycles: int) -> Schedule:
    import lrkit

    w = _warm(n, warmup)
    body = lrkit.cosine(start=peak(), end=0.0, steps=n - w)
    return lrkit.warmup(w) >> body if w > 0 else body


def _cyclic(r: RangeTestResult, n: int, peak: Peak, warmup: float, cycles: int) -> Schedule:
    import lrkit

    low, high = bounds(r)
    lo, hi = _round(low.lr), _round(high.lr)
    if not lo < hi:  # flat or rising curve: Smith's fallback, base = max / 4
        lo = _round(hi / 4.0)
    half = max(1, n // (2 * cycles))
    return lrkit.cyclic(low=lo, high=hi, half_cycle=half, steps=n)


#: Policy name -> builder ``(result, total_steps, peak, warmup, cycles) -> Schedule``; ``peak()``
#: gives the rule's peak LR, rounded (``cyclic`` reads its bounds instead).
POLICIES: dict[str, Callable[[RangeTestResult, int, Peak, float, int], Schedule]] = {
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
    rule: str | None = ...,
    optimizer: str | None = ...,
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
    rule: str | None = ...,
    optimizer: str | None = ...,
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
    rule: str | None = ...,
    optimizer: str | None = ...,
    warmup: float = ...,
    cycles: int = ...,
    momentum: bool,
) -> Schedule | dict[str, Schedule]: ...


def recommend(
    result: RangeTestResult,
    total_steps: int,
    policy: str = "one_cycle",
    *,
    rule: str | None = None,
    optimizer: str | None = None,
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

    A ScheduleError when the test is too short to read: a sweep of fewer than
    :data:`MIN_NUM_STEPS` (20) steps, or fewer than :data:`MIN_POINTS` (10) points recorded on
    its rising part (it diverged at once).

    ``lr = m * suggest(result, base).lr`` of the peak rule ``rule`` (:class:`PeakRule`),
    rounded to 3 significant digits; ``w = round(warmup * total_steps)`` steps. The default
    rule of each policy (:data:`DEFAULT_RULES`) is the one with the lowest held-out mean
    regret on the corpus of ``benchmarks/finder_quality.py``: for ``one_cycle`` and ``wsd``
    ``valley_x4`` (fastai's valley times 4); for ``cosine`` ``valley_by_optimizer`` (valley
    times 4 for the SGD family, times 2 for the Adam family, times 4 when the optimizer family
    is unknown, with a ``UserWarning`` saying so). ``rule="lrkit"`` gives the LR of the 0.x releases (lrkit's rule, a quarter of
    where the loss stops falling).

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
      rule: the peak rule giving the LR: a name in :data:`PEAK_RULES` or a registered
        suggestion rule (``"lrkit"``, ``"valley"``, ...); ``None``: the policy's default
        (:data:`DEFAULT_RULES`). ``cyclic`` reads its bounds and ignores it.
      optimizer: the optimizer the training run uses, ``"sgd"``, ``"adam"`` or ``"adamw"``
        (:data:`OPTIMIZER_FAMILIES`), for rules with a multiplier per optimizer family;
        ``None``: the family the range test recorded (``result.optimizer``, which
        :func:`lrkit.torch.find_lr` fills in), if any.
      warmup: warm-up share of ``wsd``/``cosine``, in [0, 1).
      cycles: cycles of ``cyclic`` (an int >= 1).
      momentum: also return the momentum schedule, as a ``{key: schedule}`` dict.

    >>> from lrkit.finder import RangeTestResult
    >>> lrs = [10 ** (k / 4 - 5) for k in range(24)]  # 1e-5 to 0.56, 4 points a decade
    >>> losses = [2.0] * 9 + [1.75, 1.5, 1.25, 1.0, 0.75] + [0.5] * 6 + [2.5, 4.5, 6.5, 8.5]
    >>> r = RangeTestResult(lrs=lrs, losses=losses, smoothed=losses)
    >>> print(recommend(r, 1000, "one_cycle", rule="minimum"))
    one_cycle(peak=0.00316, steps=1000)
    >>> for key, s in recommend(r, 1000, rule="minimum", momentum=True).items():
    ...     print(key, s)
    lr one_cycle(peak=0.00316, steps=1000)
    momentum one_cycle_momentum(steps=1000)
    >>> round(r.suggest("valley").lr, 5)
    0.00316
    >>> print(recommend(r, 1000))  # one_cycle, valley_x4
    one_cycle(peak=0.0126, steps=1000)
    >>> print(recommend(r, 1000, "cosine", optimizer="adamw", warmup=0.0))  # valley x 2
    cosine(start=0.00632, steps=1000)
    """
    return _recommend(
        result,
        total_steps,
        policy,
        rule=rule,
        optimizer=optimizer,
        warmup=warmup,
        cycles=cycles,
        momentum=momentum,
        stacklevel=3,
    )


def _recommend(
    result: RangeTestResult,
    total_steps: int,
    policy: str,
    *,
    rule: str | None,
    optimizer: str | None,
    warmup: float,
    cycles: int,
    momentum: bool,
    stacklevel: int,
) -> Schedule | dict[str, Schedule]:
    """:func:`recommend`, its warning attributed ``stacklevel`` frames up (the caller's line
    whether it called :func:`recommend` or :meth:`RangeTestResult.recommend`)."""
    func = "recommend"
    check.integer(func, "total_steps", total_steps, low=2)
    check_readable(func, result)
    builder = POLICIES.get(policy) if isinstance(policy, str) else None
    if builder is None:
        raise ScheduleError(
            f"{func}(): policy must be one of {', '.join(POLICIES)}, got {policy!r}"
            f"{check.did_you_mean(policy, POLICIES)}"
        )
    chosen = peak_rule(DEFAULT_RULES.get(policy, "lrkit") if rule is None else rule)
    if optimizer is not None:
        check.choice(func, "optimizer", optimizer, OPTIMIZER_FAMILIES)
    family = result.optimizer if optimizer is None else OPTIMIZER_FAMILIES[optimizer]
    note = chosen.unknown_family_note(family) if policy != "cyclic" else ""
    if note:
        warnings.warn(
            f"{func}(): {note}; give optimizer='sgd', 'adam' or 'adamw' (or a result that "
            f"records it, as lrkit.torch.find_lr's for SGD, Adam and AdamW)",
            UserWarning,
            stacklevel=stacklevel,
        )
    warm = check.number(func, "warmup", warmup, low=0.0, high=1.0, high_open=True)
    check.integer(func, "cycles", cycles, low=1)
    check.boolean(func, "momentum", momentum)
    n = int(total_steps)
    lr = builder(result, n, lambda: _round(chosen.peak(result, family)), warm, int(cycles))
    if not momentum:
        return lr
    mom = MOMENTUM.get(policy)
    return {"lr": lr} if mom is None else {"lr": lr, "momentum": mom(lr, n)}

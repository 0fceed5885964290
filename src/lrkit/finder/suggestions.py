"""Suggestion rules for the LR range test: ``(lrs, losses) -> Suggestion(lr, index)``, in a registry.

Rules from other tools are reproduced exactly (the tests re-run their published algorithms):

* ``steepest`` — torch-lr-finder's ``LRFinder.plot``: ``argmin(np.gradient(losses))`` on the
  smoothed curve after dropping 10 points at the start and 5 at the end.
* ``valley`` — fastai's default: about halfway down the longest valley (:func:`valley`).
* ``steep`` — fastai's: steepest finite difference of the loss over ``log(lr)``.
* ``minimum`` — fastai's ``minimum``: the LR of the lowest loss, divided by 10.
* ``lrkit`` — lrkit's own rule, built to survive noise, early spikes and curves that never
  diverge (see :func:`lrkit_rule`).

>>> import numpy as np
>>> lrs = np.geomspace(1e-4, 1.0, 41)
>>> losses = 2.0 - np.tanh(np.log10(lrs) + 2.0)
>>> names()
['lrkit', 'minimum', 'steep', 'steepest', 'valley']
>>> round(get("minimum").fn(lrs, losses).lr, 6)  # lowest loss at lrs[35] (5 points trimmed)
0.031623
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from lrkit import _validate as check
from lrkit.errors import ScheduleError
from lrkit.finder.smoothing import robust_smooth

if TYPE_CHECKING:
    from lrkit.finder.result import RangeTestResult

__all__ = [
    "Rule",
    "Suggestion",
    "SuggestionFn",
    "bounds",
    "falling_range",
    "get",
    "lrkit_rule",
    "lrkit_smooth",
    "minimum",
    "names",
    "register",
    "rule_curve",
    "steep",
    "steepest",
    "suggest",
    "valley",
]

FloatArray = npt.NDArray[np.float64]


class Suggestion(NamedTuple):
    """A suggested learning rate and the index of the sweep point at the suggested LR.

    For every rule ``lrs[index]`` is the suggested LR when it lies on the sweep, else the last
    sweep point below it (0 if it is below the whole sweep): ``minimum`` and ``lrkit`` suggest a
    fraction of a point's LR. A named tuple: ``lr, index = suggestion`` works.

    Args:
      lr: the suggested learning rate (> 0).
      index: the position in the sweep's ``lrs`` of the point at or just below ``lr`` (>= 0).

    >>> s = Suggestion(lr=0.01, index=20)
    >>> s.lr, s.index
    (0.01, 20)
    >>> lr, index = minimum([1e-3, 1e-2, 1e-1], [3.0, 1.0, 2.0])
    >>> lr, index
    (0.001, 0)
    """

    lr: float
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose


SuggestionFn = Callable[[npt.ArrayLike, npt.ArrayLike], Suggestion]


@dataclass(frozen=True)
class Rule:
    """A registered suggestion rule.

    ``curve`` says which curve a :class:`~lrkit.finder.RangeTestResult` feeds it: ``"smoothed"``
    (the causal EMA the test records, what fastai and torch-lr-finder apply their rules to) or
    ``"raw"`` (the per-step losses; the rule smooths them itself). ``smoother`` is that smoothing,
    ``losses -> smoothed losses``, when the rule does its own (the plot draws what it returns, so
    the curve on the figure is the curve the rule reads); ``None``: the rule reads ``curve`` as is.

    Args:
      name: the registered name.
      fn: ``fn(lrs, losses) -> Suggestion``.
      curve: ``"smoothed"`` or ``"raw"``.
      summary: one line for tables.
      smoother: the rule's own smoothing of ``curve``, or ``None``.

    >>> rule = get("valley")
    >>> rule.name, rule.curve, rule.smoother is None
    ('valley', 'smoothed', True)
    >>> rule.summary
    'fastai: halfway down the longest valley of the smoothed loss'
    >>> rule.fn([1e-3, 1e-2, 1e-1], [3.0, 1.0, 2.0])
    Suggestion(lr=0.1, index=2)
    >>> get("lrkit").curve, get("lrkit").smoother is lrkit_smooth
    ('raw', True)
    """

    name: str
    fn: SuggestionFn
    curve: Literal["smoothed", "raw"]
    summary: str
    smoother: Callable[[FloatArray], FloatArray] | None = None


_RULES: dict[str, Rule] = {}


def register(
    name: str,
    *,
    curve: Literal["smoothed", "raw"] = "smoothed",
    summary: str = "",
    smoother: Callable[[FloatArray], FloatArray] | None = None,
) -> Callable[[SuggestionFn], SuggestionFn]:
    """Decorator adding a rule ``fn(lrs, losses) -> Suggestion`` to the registry under ``name``.

    Args:
      name: the rule's name.
      curve: the curve it reads: ``"smoothed"`` or ``"raw"``.
      summary: one line for tables (default: the docstring's first line).
      smoother: the rule's own smoothing of that curve (``losses -> smoothed``), if any.
    """
    if not isinstance(name, str) or not name:
        raise ScheduleError(f"register(): name must be a non-empty str, got {name!r}")
    check.choice("register", "curve", curve, ("smoothed", "raw"))

    def deco(fn: SuggestionFn) -> SuggestionFn:
        if name in _RULES:
            raise ScheduleError(f"register(): a suggestion rule named {name!r} already exists")
        doc = summary or (fn.__doc__ or "").split("\n")[0]
        _RULES[name] = Rule(name, fn, curve, doc, smoother)
        return fn

    return deco


def names() -> list[str]:
    """Names of the registered suggestion rules, sorted."""
    return sorted(_RULES)


def get(name: str) -> Rule:
    """The registered rule called ``name``; a ScheduleError listing the names if there is none."""
    try:
        return _RULES[name]
    except (KeyError, TypeError):
        raise ScheduleError(
            f"suggestion rule: unknown name {name!r}; allowed: {', '.join(names())}"
        ) from None


def suggest(result: RangeTestResult, rule: str = "lrkit") -> Suggestion:
    """The suggestion of one registered rule for a range test ``result`` (its rising part).

    The rule reads the curve it was registered with (:attr:`Rule.curve`): the recorded EMA for
    fastai's and torch-lr-finder's rules, the raw losses for ``lrkit``. A ScheduleError when the
    test recorded no finite loss or ``rule`` is not registered.

    Args:
      result: a finished (or stopped) range test with at least one recorded point.
      rule: a registered rule name (:func:`names`): ``"lrkit"`` (default, lrkit's own rule),
        ``"valley"`` (fastai's default), ``"steep"`` and ``"minimum"`` (fastai's), or
        ``"steepest"`` (torch-lr-finder's).

    >>> from lrkit.finder import RangeTestResult
    >>> r = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1), losses=(2.0, 1.0, 3.0),
    ...                     smoothed=(2.0, 1.0, 3.0))
    >>> suggest(r)
    Suggestion(lr=0.025, index=1)
    >>> suggest(r, "minimum")
    Suggestion(lr=0.001, index=0)
    """
    found = get(rule)
    if len(result.lrs) == 0:
        raise ScheduleError(
            f"suggest(): the test recorded no finite loss (stop_reason={result.stop_reason!r}); "
            "nothing to suggest"
        )
    x, y = result.curve(found.curve)
    return found.fn(x, y)


def rule_curve(result: RangeTestResult, rule: str = "lrkit") -> tuple[FloatArray, FloatArray]:
    """``(lrs, losses)`` of the rising part of ``result`` as rule ``rule`` sees them.

    The curve the rule reads (:attr:`Rule.curve`) after the rule's own smoothing
    (:attr:`Rule.smoother`): for ``lrkit`` the zero-lag :func:`lrkit_smooth` of the raw losses,
    for fastai's and torch-lr-finder's rules the causal EMA the test recorded.

    >>> from lrkit.finder import RangeTestResult
    >>> r = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1), losses=(2.0, 1.0, 3.0),
    ...                     smoothed=(2.0, 1.5, 2.0))
    >>> rule_curve(r, "valley")[1].tolist()
    [2.0, 1.5, 2.0]
    """
    found = get(rule)
    x, y = result.curve(found.curve)
    return x, (found.smoother(y) if found.smoother is not None and y.size else y)


def bounds(result: RangeTestResult) -> tuple[Suggestion, Suggestion]:
    """Smith's cyclic bounds of ``result``: where the loss starts and stops falling."""
    if len(result.lrs) == 0:
        raise ScheduleError("bounds(): the test recorded no finite loss")
    x, y = result.curve("raw")
    return falling_range(x, y)


def _at_or_below(x: FloatArray, lr: float) -> int:
    """Index of the last sweep point at or below ``lr`` (0 if ``lr`` is below the sweep)."""
    below = np.nonzero(x <= lr * (1 + 1e-12))[0]
    return int(below[-1]) if below.size else 0


def _curve(fn: str, lrs: npt.ArrayLike, losses: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validate a curve and cut it at the first non-finite loss (as fastai's ``lr_find`` does)."""
    x = np.asarray(lrs, dtype=np.float64).reshape(-1)
    y = np.asarray(losses, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ScheduleError(
            f"{fn}(): lrs and losses must have the same length, got {x.size}, {y.size}"
        )
    bad = ~np.isfinite(y)
    if bad.any():
        cut = int(np.argmax(bad))
        x, y = x[:cut], y[:cut]
    if x.size == 0:
        raise ScheduleError(f"{fn}(): need at least one finite loss, got none")
    if not (np.all(np.isfinite(x)) and np.all(x > 0)):
        raise ScheduleError(f"{fn}(): lrs must be finite and > 0")
    return x, y


def _trim(n: int, skip_start: int, skip_end: int, minimum: int = 3) -> slice:
    """The slice dropping ``skip_start``/``skip_end`` points, or everything if too few remain."""
    if n - skip_start - skip_end >= minimum:
        return slice(skip_start, n - skip_end)
    return slice(0, n)


@register("steepest", summary="torch-lr-finder: steepest descent of the smoothed loss")
def steepest(
    lrs: npt.ArrayLike, losses: npt.ArrayLike, skip_start: int = 10, skip_end: int = 5
) -> Suggestion:
    """torch-lr-finder's suggestion: the point of steepest descent of the (smoothed) loss.

    ``i* = skip_start + argmin(np.gradient(losses[skip_start:-skip_end]))`` — central
    differences over the point index, 10 and 5 points skipped as in ``LRFinder.plot``. With fewer
    than 3 points left after skipping, the whole curve is used.

    Args:
      lrs: the LRs of the sweep.
      losses: the (smoothed) losses.
      skip_start: points dropped at the start (torch-lr-finder: 10).
      skip_end: points dropped at the end (5).

    >>> import numpy as np
    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> steepest(lrs, 2.0 - np.tanh(np.log10(lrs) + 2.0))
    Suggestion(lr=0.01, index=20)
    """
    x, y = _curve("steepest", lrs, losses)
    if x.size < 2:
        return Suggestion(float(x[0]), 0)
    s = _trim(x.size, skip_start, skip_end, minimum=2)
    i = int(s.start) + int(np.argmin(np.gradient(y[s])))
    return Suggestion(float(x[i]), i)


def _longest_valley(y: FloatArray) -> tuple[int, int]:
    """fastai's longest-decreasing-subsequence scan, tie-breaking included.

    Returns ``(max_start, max_end)`` exactly as fastai's double loop leaves them: ``max_end`` is
    the first point whose decreasing-subsequence length ``lds`` exceeds all earlier ones, and
    ``max_start = max_end - (lds[max_end] at the moment it took the lead)`` (the loop does not
    update ``max_start`` when ``lds[max_end]`` grows further).
    """
    n = y.size
    lds = np.ones(n, dtype=np.int64)
    max_start, max_end = 0, 0
    for i in range(1, n):
        cand = np.where(y[:i] > y[i], lds[:i] + 1, 1)
        run = np.maximum.accumulate(cand)
        lds[i] = run[-1]
        best = lds[max_end]
        if run[-1] > best:
            lead = int(run[int(np.argmax(run > best))])
            max_end, max_start = i, i - lead
    return max_start, max_end


@register("valley", summary="fastai: halfway down the longest valley of the smoothed loss")
def valley(
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    skip_start: int | None = None,
    skip_end: int = 5,
) -> Suggestion:
    """fastai's default suggestion (``SuggestionMethod.Valley``): down the longest valley.

    fastai's ``lr_find`` first drops ``num_it // 10`` points at the start and 5 at the end
    (``skip_start=None`` drops ``len(lrs) // 10``, the same when the test ran to the end), then
    finds the longest strictly decreasing subsequence of the loss (``max_start`` .. ``max_end``)
    and returns ``idx = max_start + int(L / 3) + int(L / 6)`` with ``L = max_end - max_start``,
    i.e. about halfway down the valley. Python negative-index semantics of fastai are kept
    (``idx = -1`` means the last point).

    Args:
      lrs: the LRs of the sweep.
      losses: the (smoothed) losses.
      skip_start: points dropped at the start (``None``: a tenth).
      skip_end: points dropped at the end (5).

    >>> import numpy as np
    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> valley(lrs, 2.0 - np.tanh(np.log10(lrs) + 2.0))
    Suggestion(lr=0.006309573444801929, index=18)
    """
    x, y = _curve("valley", lrs, losses)
    s = _trim(x.size, x.size // 10 if skip_start is None else skip_start, skip_end)
    xs, ys = x[s], y[s]
    max_start, max_end = _longest_valley(ys)
    sections = (max_end - max_start) / 3
    idx = (max_start + int(sections) + int(sections / 2)) % xs.size
    i = int(s.start) + idx
    return Suggestion(float(x[i]), i)


@register("steep", summary="fastai: steepest slope of the smoothed loss over log(lr)")
def steep(
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    skip_start: int | None = None,
    skip_end: int = 5,
) -> Suggestion:
    """fastai's ``steep``: ``argmin((loss[i+1] - loss[i]) / (log lr[i+1] - log lr[i]))``.

    After the same trimming as :func:`valley`; the LR is ``lrs[i]`` (the left point).

    Args:
      lrs: the LRs of the sweep.
      losses: the (smoothed) losses.
      skip_start: as :func:`valley`'s.
      skip_end: as :func:`valley`'s.

    >>> import numpy as np
    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> steep(lrs, 2.0 - np.tanh(np.log10(lrs) + 2.0)).index
    20
    """
    x, y = _curve("steep", lrs, losses)
    if x.size < 2:
        return Suggestion(float(x[0]), 0)
    s = _trim(x.size, x.size // 10 if skip_start is None else skip_start, skip_end)
    xs, ys = x[s], y[s]
    grads = np.diff(ys) / np.diff(np.log(xs))
    i = int(s.start) + int(np.argmin(grads))
    return Suggestion(float(x[i]), i)


@register("minimum", summary="fastai: LR of the lowest smoothed loss / 10")
def minimum(
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    skip_start: int | None = None,
    skip_end: int = 5,
) -> Suggestion:
    """fastai's ``minimum``: one tenth of the LR with the lowest loss (after :func:`valley`'s
    trimming). ``index`` is the sweep point at or below that LR.

    Args:
      lrs: the LRs of the sweep.
      losses: the (smoothed) losses.
      skip_start: as :func:`valley`'s.
      skip_end: as :func:`valley`'s.

    >>> minimum([1e-3, 1e-2, 1e-1], [3.0, 1.0, 2.0])
    Suggestion(lr=0.001, index=0)
    """
    x, y = _curve("minimum", lrs, losses)
    s = _trim(x.size, x.size // 10 if skip_start is None else skip_start, skip_end)
    i = int(s.start) + int(np.argmin(y[s]))
    lr = float(x[i]) / 10.0
    return Suggestion(lr, _at_or_below(x, lr))


def falling_range(lrs: npt.ArrayLike, losses: npt.ArrayLike) -> tuple[Suggestion, Suggestion]:
    """Smith's bounds for cyclic LRs: where the loss starts to fall and where it stops falling.

    On the zero-lag robust smoothing of the raw losses (:func:`robust_smooth`), with ``y0`` the
    initial level and ``ymin`` the lowest point (``high``), ``low`` is the first point that has
    fallen by 10 % of ``y0 - ymin``.

    >>> import numpy as np
    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> lo, hi = falling_range(lrs, 2.0 - np.tanh(np.log10(lrs) + 2.0))
    >>> lo.index < hi.index
    True
    """
    x, y = _curve("falling_range", lrs, losses)
    z = robust_smooth(y)
    hi = int(np.argmin(z))
    y0 = float(z[0])
    drop = y0 - float(z[hi])
    if hi == 0 or drop <= 0:
        return Suggestion(float(x[0]), 0), Suggestion(float(x[hi]), hi)
    lo = int(np.argmax(z[: hi + 1] <= y0 - 0.1 * drop))
    return Suggestion(float(x[lo]), lo), Suggestion(float(x[hi]), hi)


def _lrkit_window(n: int) -> int:
    """Window of :func:`lrkit_smooth`: 10 % of ``n`` points, odd, at least 5."""
    return max(5, round(0.1 * n) | 1)


def lrkit_smooth(losses: npt.ArrayLike) -> FloatArray:
    """The smoothing :func:`lrkit_rule` applies to the raw losses (and the plot draws).

    :func:`robust_smooth` (centered running median, then centered running mean) over
    ``w = max(5, round(0.1 * n) | 1)`` points: zero lag, unlike the causal EMA.

    >>> lrkit_smooth([1.0, 1.0, 50.0, 1.0, 1.0, 1.0]).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    y = np.asarray(losses, dtype=np.float64).reshape(-1)
    return robust_smooth(y, _lrkit_window(y.size))


@register(
    "lrkit",
    curve="raw",
    summary="lrkit: 1/4 of where the (robustly smoothed) loss stops falling",
    smoother=lrkit_smooth,
)
def lrkit_rule(
    lrs: npt.ArrayLike, losses: npt.ArrayLike, *, factor: float = 4.0, band: float = 1.0
) -> Suggestion:
    """lrkit's rule: a quarter of the LR where the loss stops falling, located robustly.

    1. Smooth the *raw* losses with a zero-lag robust filter (:func:`robust_smooth`: centered
       running median, then centered running mean, over ``w`` = 10 % of the points, at least 5).
       The median removes isolated spikes (early spikes up or down, a lucky batch); the centered
       window does not shift the curve towards higher LRs as the causal EMA of fastai and
       torch-lr-finder does (at ``smooth=0.05`` the EMA lags about 20 steps, 1.6 decades of the
       default 100-step sweep over 8 decades).
    2. Estimate the noise left in the smoothed curve: ``s = 1.4826 * median|loss - smoothed| /
       sqrt(w)`` (MAD of the residuals, divided by the square root of the window).
    3. From the smoothed minimum walk right while the smoothed loss stays within ``band * s`` of
       it: the last such point ``i_stop`` is where the loss stops falling and starts to rise
       (Smith's upper bound). On a noisy curve with a flat bottom the argmin can land anywhere
       in it; the point where the curve leaves the noise band cannot. On a curve that never
       diverges ``i_stop`` is the last point, a lower bound of the true one.
    4. Suggest ``lr = lrs[i_stop] / factor``. ``factor = 4`` was chosen with
       ``benchmarks/finder_quality.py`` on seeds 10-12 (the reported seeds 0-2 held out): on
       its four tasks, factors 3, 4, 5, 10 gave median regrets of 2 %, 4 %, 7 %, 25 % against a
       one-cycle LR grid search; 3 sits too close to the cliff on earlier, more regularised
       versions of the tasks (one diverged run), 4 keeps a margin. It lies between Smith's
       "base LR = max LR / 3-4" and fastai's "minimum / 10" (which reads the minimum off the
       lagging EMA, i.e. further right). ``index`` is the last sweep point at or below ``lr``
       (0 if ``lr`` is below the sweep).

    Why: where the loss stops falling is the feature of the curve that survives noise, spikes
    and sweep settings; the steepest point (torch-lr-finder, fastai ``steep``) takes
    derivatives of noisy data (torch-lr-finder issue #106, Lightning #1767), and where the loss
    starts to fall depends on how many steps the sweep spends per decade.
    ``benchmarks/finder_quality.py`` measures the rule against an LR grid search.

    Args:
      lrs: the LRs of the sweep.
      losses: the raw losses.
      factor: the suggestion is the stop LR / ``factor`` (>= 1).
      band: noise band, in noise units, around the minimum (>= 0).

    >>> import numpy as np
    >>> lrs = np.geomspace(1e-5, 1.0, 51)
    >>> losses = 2.0 - np.tanh(np.log10(lrs) + 3.0) + np.maximum(0, np.log10(lrs) + 1.0) * 8
    >>> lrkit_rule(lrs, losses)
    Suggestion(lr=0.01577393361200484, index=31)
    """
    check.number("lrkit_rule", "factor", factor, low=1.0)
    check.number("lrkit_rule", "band", band, low=0.0)
    x, y = _curve("lrkit", lrs, losses)
    n = x.size
    w = _lrkit_window(n)
    z = lrkit_smooth(y)
    noise = 1.4826 * float(np.median(np.abs(y - z))) / math.sqrt(w)
    i = int(np.argmin(z))
    rising = np.nonzero(z[i:] > z[i] + band * noise)[0]
    stop = i + int(rising[0]) - 1 if rising.size else n - 1
    lr = float(x[stop]) / factor
    return Suggestion(lr, _at_or_below(x, lr))

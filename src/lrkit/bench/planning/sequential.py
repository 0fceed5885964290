"""The sequential decision rule of ``lrkit bench --seeds auto``: racing valid under optional stopping.

Seeds run in rounds; after each round (a *look*) every schedule still in the race is compared
with the *leader* (the best mean) by the paired differences of its score, seed by seed:

* ``d_i = x_j(seed i) - x_leader(seed i)`` (scores oriented so lower is better),
* a Student-t confidence interval ``mean(d) ± t(1 - a/2, n-1) · sd(d) / √n`` at the level
  ``a = alpha / ((K - 1) · L)``: Bonferroni over the ``K - 1`` comparisons any one schedule
  takes part in and over the ``L`` looks fixed in advance (:func:`looks`).

A schedule whose interval lies above 0 is dropped (significantly worse than the leader). The race
stops when one schedule is left (*winner*: significantly better than every other), when every
schedule left has its interval inside ``±margin · |mean of the leader|`` (*equivalent*: a tie
group within the practical margin, default 1 %), or at the cap of seeds.

**Guarantee.** The looks and the level are fixed before any score is seen, so by the union bound
every interval that involves the truly best schedule covers its true mean difference, at every
look at once, with probability at least ``1 - alpha`` (for normally distributed paired
differences). Hence, with that probability: the best schedule is never dropped, a declared winner
*is* the best, and a declared tie group contains the best and its leader is within the margin of
it. With equivalent schedules a winner is therefore declared in at most ``alpha`` of benches,
however often the race looks. The tests check both this and the power by simulation.

>>> rule = RaceRule(min_seeds=3, max_seeds=16)
>>> rule.looks()
(3, 4, 5, 6, 8, 10, 13, 16)
>>> scores = {"a": [1.00, 1.01, 0.99, 1.00, 1.02, 0.98], "b": [2.0, 2.1, 1.9, 2.0, 2.05, 1.95]}
>>> result = simulate(scores, RaceRule(min_seeds=3, max_seeds=6))
>>> result.stop, result.winner, result.seeds
('winner', 'a', 3)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Look",
    "RaceResult",
    "RaceRule",
    "decide",
    "looks",
    "simulate",
    "student_t_quantile",
]

#: Why a race stopped: one schedule left, all left within the margin, the seed cap, nothing left
#: (all diverged), only one schedule to begin with.
STOPS = ("winner", "equivalent", "cap", "none", "only")


def looks(min_seeds: int, max_seeds: int) -> tuple[int, ...]:
    """The seed counts at which the race looks, fixed in advance: each round adds a third.

    ``n_1 = min_seeds``, ``n_{k+1} = min(max_seeds, n_k + max(1, n_k // 3))``.

    >>> looks(3, 16)
    (3, 4, 5, 6, 8, 10, 13, 16)
    >>> looks(3, 3)
    (3,)
    """
    if min_seeds < 2 or max_seeds < min_seeds:
        raise ValueError(
            f"looks: need 2 <= min_seeds <= max_seeds, got min_seeds={min_seeds!r}, "
            f"max_seeds={max_seeds!r}"
        )
    out = [min_seeds]
    while out[-1] < max_seeds:
        out.append(min(max_seeds, out[-1] + max(1, out[-1] // 3)))
    return tuple(out)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _t_sf(t: float, df: int) -> float:
    """``P(T > t)`` for Student's t with ``df`` degrees of freedom, ``t >= 0``."""
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))


@functools.lru_cache(maxsize=1024)
def student_t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (``0.5 <= p < 1``).

    Bisection on the upper tail ``P(T > t) = 1 - p``, written with the regularized incomplete
    beta function ``P(T > t) = I_{df/(df+t²)}(df/2, 1/2) / 2`` (no scipy needed).

    Args:
        p: the probability, in [0.5, 1).
        df: degrees of freedom, an int >= 1.

    >>> round(student_t_quantile(0.975, 10), 4)
    2.2281
    >>> round(student_t_quantile(0.975, 1), 3)
    12.706
    """
    if not 0.5 <= p < 1.0:
        raise ValueError(f"student_t_quantile: p={p!r} must be in [0.5, 1)")
    if not isinstance(df, int) or df < 1:
        raise ValueError(f"student_t_quantile: df={df!r} must be an int >= 1")
    tail = 1.0 - p
    lo, hi = 0.0, 1.0
    while _t_sf(hi, df) > tail:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_sf(mid, df) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class RaceRule:
    """The settings of a race: seed range, practical margin, error rate, score direction.

    Args:
        min_seeds: seeds of the first look (>= 2; default 3).
        max_seeds: the cap (default 16).
        margin: relative practical-equivalence margin (default 0.01 = 1 %).
        alpha: the error rate of the guarantee (default 0.05).
        higher_is_better: whether a higher score is better (default False: a loss).

    >>> RaceRule().level(6)
    0.00125
    """

    min_seeds: int = 3
    max_seeds: int = 16
    margin: float = 0.01
    alpha: float = 0.05
    higher_is_better: bool = False

    def __post_init__(self) -> None:
        for name, low in (("min_seeds", 2), ("max_seeds", 2)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"RaceRule: {name}={v!r} must be an int >= {low}")
        if self.max_seeds < self.min_seeds:
            raise ValueError(
                f"RaceRule: max_seeds={self.max_seeds!r} must be >= min_seeds={self.min_seeds!r}"
            )
        if not (isinstance(self.margin, int | float) and 0 <= self.margin < 1):
            raise ValueError(f"RaceRule: margin={self.margin!r} must be a number in [0, 1)")
        if not (isinstance(self.alpha, int | float) and 0 < self.alpha < 1):
            raise ValueError(f"RaceRule: alpha={self.alpha!r} must be a number in (0, 1)")

    def looks(self) -> tuple[int, ...]:
        """The seed counts of the looks (see :func:`looks`)."""
        return looks(self.min_seeds, self.max_seeds)

    def level(self, n_schedules: int) -> float:
        """Two-sided level of each interval: ``alpha / ((K - 1) · L)``, K >= 2 schedules."""
        return self.alpha / (max(1, n_schedules - 1) * len(self.looks()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored with the race in bench.json)."""
        return {
            "min_seeds": self.min_seeds,
            "max_seeds": self.max_seeds,
            "margin": self.margin,
            "alpha": self.alpha,
            "looks": list(self.looks()),
        }


@dataclass
class Look:
    """What one look decided.

    ``intervals`` hold each schedule's interval of ``(x_j - x_leader) / |mean x_leader|``
    (positive = worse than the leader), ``dropped`` the schedules dropped at this look with the
    reason, ``stop`` why the race stopped here (None: it goes on).
    """

    seeds: int
    leader: str | None
    alive: list[str]
    dropped: dict[str, str] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    stop: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "seeds": self.seeds,
            "leader": self.leader,
            "alive": list(self.alive),
            "dropped": dict(self.dropped),
            "intervals": {k: [lo, hi] for k, (lo, hi) in self.intervals.items()},
            "stop": self.stop,
        }


def _oriented(vals: Sequence[float | None], n: int, higher: bool) -> list[float] | None:
    """The first ``n`` scores, negated when higher is better; None when one is missing."""
    out: list[float] = []
    for v in list(vals)[:n]:
        if v is None or not math.isfinite(float(v)):
            return None
        out.append(-float(v) if higher else float(v))
    return out if len(out) == n else None


def _interval(d: Sequence[float], quantile: float) -> tuple[float, float]:
    n = len(d)
    mean = math.fsum(d) / n
    var = math.fsum((x - mean) ** 2 for x in d) / (n - 1)
    half = quantile * math.sqrt(var / n)
    return mean - half, mean + half


def decide(
    scores: Mapping[str, Sequence[float | None]],
    alive: Sequence[str],
    n: int,
    rule: RaceRule,
    n_schedules: int,
) -> Look:
    """One look of the race at ``n`` seeds per schedule still in it.

    A schedule with a missing or non-finite score among its first ``n`` (it diverged or its run
    failed) leaves the race first. The leader is the best mean of the rest; the others are
    compared with it by :func:`_interval` at the level :meth:`RaceRule.level` of
    ``n_schedules`` (the number of schedules the race started with).

    Args:
        scores: per schedule, its scores by seed (at least ``n`` for those ``alive``).
        alive: the schedules still in the race.
        n: the seeds of this look.
        rule: the race settings.
        n_schedules: K, the number of schedules at the start of the race.

    >>> look = decide({"a": [1.0, 1.1, 0.9], "b": [9.0, 9.2, 9.1]}, ["a", "b"], 3,
    ...               RaceRule(max_seeds=3), 2)
    >>> look.leader, look.dropped, look.stop
    ('a', {'b': 'significantly worse than a at 3 seeds'}, 'winner')
    """
    look = Look(seeds=n, leader=None, alive=[])
    data: dict[str, list[float]] = {}
    for name in alive:
        x = _oriented(scores.get(name, ()), n, rule.higher_is_better)
        if x is None:
            look.dropped[name] = f"diverged or failed within {n} seeds"
        else:
            data[name] = x
    if not data:
        look.stop = "none"
        return look
    means = {k: math.fsum(v) / n for k, v in data.items()}
    leader = min(data, key=lambda k: (means[k], list(alive).index(k)))
    look.leader = leader
    scale = abs(means[leader]) or 1.0
    q = student_t_quantile(1.0 - rule.level(n_schedules) / 2.0, n - 1)
    for name, x in data.items():
        if name == leader:
            continue
        lo, hi = _interval([a - b for a, b in zip(x, data[leader], strict=True)], q)
        look.intervals[name] = (lo / scale, hi / scale)
        if lo > 0:
            look.dropped[name] = f"significantly worse than {leader} at {n} seeds"
    look.alive = [k for k in alive if k in data and k not in look.dropped]
    rest = [look.intervals[k] for k in look.alive if k != leader]
    if not rest:
        look.stop = "winner" if len(alive) > 1 else "only"
    elif all(-rule.margin <= lo and hi <= rule.margin for lo, hi in rest):
        look.stop = "equivalent"
    elif n >= rule.max_seeds:
        look.stop = "cap"
    return look


@dataclass
class RaceResult:
    """A finished race: its looks, why it stopped, the winner or tie group, runs used."""

    rule: RaceRule
    history: list[Look]
    stop: str
    seeds: int
    runs: int
    schedules: list[str]

    @property
    def leader(self) -> str | None:
        """The leader at the last look."""
        return self.history[-1].leader if self.history else None

    @property
    def winner(self) -> str | None:
        """The schedule significantly better than every other (None unless stop is "winner")."""
        return self.leader if self.stop == "winner" else None

    @property
    def group(self) -> list[str]:
        """The schedules left at the end (the winner alone, or the tie group)."""
        return list(self.history[-1].alive) if self.history else []

    def seeds_of(self, name: str) -> int:
        """How many seeds ``name`` ran before it left the race (or the race stopped)."""
        for look in self.history:
            if name in look.dropped:
                return look.seeds
        return self.seeds

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored per task in bench.json, read by the report)."""
        return {
            "rule": self.rule.to_dict(),
            "stop": self.stop,
            "seeds": self.seeds,
            "runs": self.runs,
            "runs_fixed": len(self.schedules) * self.rule.max_seeds,
            "leader": self.leader,
            "winner": self.winner,
            "group": self.group,
            "schedules": list(self.schedules),
            "seeds_per_schedule": {n: self.seeds_of(n) for n in self.schedules},
            "level": self.rule.level(len(self.schedules)),
            "history": [look.to_dict() for look in self.history],
        }


class Race:
    """A race in progress: ask :meth:`need` how many seeds to run, then :meth:`observe` them.

    >>> race = Race(["a", "b"], RaceRule(min_seeds=3, max_seeds=4))
    >>> race.need()
    3
    >>> race.observe({"a": [1.0, 1.0, 1.1], "b": [1.0, 1.1, 1.0]}) is None
    True
    >>> race.need(), race.alive
    (4, ['a', 'b'])
    """

    def __init__(self, schedules: Sequence[str], rule: RaceRule) -> None:
        if not schedules:
            raise ValueError("Race: needs at least one schedule")
        self.rule = rule
        self.schedules = list(schedules)
        self.alive = list(schedules)
        self.history: list[Look] = []
        self._looks = rule.looks()
        self._runs = 0
        self._done = 0

    def need(self) -> int | None:
        """Seeds each schedule still in the race needs for the next look (None: finished)."""
        if self.result is not None:
            return None
        return self._looks[len(self.history)]

    @property
    def result(self) -> RaceResult | None:
        """The finished race, or None while it goes on."""
        if not self.history or self.history[-1].stop is None:
            return None
        last = self.history[-1]
        return RaceResult(
            self.rule, self.history, str(last.stop), last.seeds, self._runs, self.schedules
        )

    def observe(self, scores: Mapping[str, Sequence[float | None]]) -> RaceResult | None:
        """Take the scores of the schedules alive (by seed, at least :meth:`need` each) and
        decide; returns the result when the race is over."""
        n = self.need()
        if n is None:
            raise RuntimeError("Race.observe: the race is over")
        self._runs += len(self.alive) * (n - self._done)
        self._done = n
        look = decide(scores, self.alive, n, self.rule, len(self.schedules))
        self.history.append(look)
        self.alive = list(look.alive)
        return self.result


def simulate(scores: Mapping[str, Sequence[float | None]], rule: RaceRule) -> RaceResult:
    """Run a race on known per-seed scores (``rule.max_seeds`` each): what ``--seeds auto``
    would have decided, and how many runs it would have used.

    >>> r = simulate({"a": [1.0, 1.1, 0.9], "b": [1.0, 0.9, 1.1]}, RaceRule(max_seeds=3))
    >>> r.stop, r.group, r.runs
    ('cap', ['a', 'b'], 6)
    """
    race = Race(list(scores), rule)
    while True:
        result = race.observe(scores)
        if result is not None:
            return result

"""Peak-LR tuning for the bench: a log grid that extends itself until the optimum is interior.

The pure functions here decide *what* to run next and *what* to pick; the driver runs the jobs.
A schedule is tuned on ``tune_seeds`` seeds (separate from the evaluation seeds); each grid
value scores the mean final validation loss over those seeds (a diverged or failed run scores
+inf). When the best value sits at an edge of the searched grid, the grid grows on that side by
the factor ``ratio`` (default 2), at most ``max_extensions`` times; if the best is still at the
edge, the result says so (``edge`` = "low" or "high").

>>> g = log_grid(0.1, (0.25, 0.5, 1.0, 2.0, 4.0))
>>> [round(x, 4) for x in g]
[0.025, 0.05, 0.1, 0.2, 0.4]
>>> next_extension({0.1: 3.0, 0.2: 2.0, 0.4: 1.0}, extensions=0)
0.8
>>> next_extension({0.1: 3.0, 0.2: 1.0, 0.4: 2.0}, extensions=0) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DEFAULT_FACTORS",
    "TuneResult",
    "all_failed",
    "best_lr",
    "log_grid",
    "mean_scores",
    "next_extension",
    "robust_range",
    "robustness_sentence",
    "tune_result",
]

#: Default tuning factors around the base LR: x1/4 ... x4, ratio 2.
DEFAULT_FACTORS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)

TuneResult = dict[str, Any]


def log_grid(base: float, factors: Sequence[float]) -> list[float]:
    """The sorted grid ``base * f`` for each factor ``f`` (duplicates removed).

    >>> log_grid(1.0, (2.0, 0.5, 1.0))
    [0.5, 1.0, 2.0]
    """
    if not base > 0 or not math.isfinite(base):
        raise ValueError(f"log_grid: base={base!r} must be a finite number > 0")
    if not factors or any(not (f > 0 and math.isfinite(f)) for f in factors):
        raise ValueError(f"log_grid: factors={tuple(factors)!r} must be finite numbers > 0")
    return sorted({float(base) * float(f) for f in factors})


def mean_scores(scores: Mapping[float, Sequence[float | None]]) -> dict[float, float]:
    """Mean score per LR; a missing, non-finite or absent seed makes that LR's mean +inf.

    >>> mean_scores({0.1: [1.0, 3.0], 0.2: [1.0, None]})
    {0.1: 2.0, 0.2: inf}
    """
    out: dict[float, float] = {}
    for lr, vals in scores.items():
        ok = bool(vals) and all(v is not None and math.isfinite(v) for v in vals)
        out[float(lr)] = (
            sum(float(v) for v in vals if v is not None) / len(vals) if ok else math.inf
        )
    return out


def best_lr(means: Mapping[float, float]) -> tuple[float, str | None]:
    """The LR with the lowest mean and whether it sits at the grid's edge ("low"/"high"/None).

    Ties go to the smaller LR. When every value is +inf (all diverged) the best is the lowest
    LR and the edge is "low" (the grid should grow downwards).

    >>> best_lr({0.1: 2.0, 0.2: 1.0, 0.4: 1.5})
    (0.2, None)
    >>> best_lr({0.1: 2.0, 0.2: 1.0})
    (0.2, 'high')
    """
    if not means:
        raise ValueError("best_lr: no scores")
    lrs = sorted(means)
    best = min(lrs, key=lambda lr: (means[lr], lr))
    if len(lrs) == 1:
        return best, "low" if not math.isfinite(means[best]) else "high"
    edge = "low" if best == lrs[0] else "high" if best == lrs[-1] else None
    return best, edge


def next_extension(
    means: Mapping[float, float],
    *,
    extensions: int,
    max_extensions: int = 4,
    ratio: float = 2.0,
) -> float | None:
    """The next LR to try, or None when the best is interior or the extensions are spent.

    The new value is the grid's lowest LR / ``ratio`` when the best is at the low edge, its
    highest LR x ``ratio`` when at the high edge.

    Args:
        means: mean score per LR tried so far (lower is better).
        extensions: how many extensions were made already.
        max_extensions: the most extensions allowed (default 4).
        ratio: the factor between the edge and the new value (default 2).

    >>> next_extension({0.1: 1.0, 0.2: 2.0}, extensions=0)
    0.05
    >>> next_extension({0.1: 1.0, 0.2: 2.0}, extensions=4) is None
    True
    """
    if not ratio > 1:
        raise ValueError(f"next_extension: ratio={ratio!r} must be > 1")
    if extensions >= max_extensions:
        return None
    _, edge = best_lr(means)
    if edge == "low":
        return min(means) / ratio
    if edge == "high":
        return max(means) * ratio
    return None


def all_failed(means: Mapping[float, float]) -> bool:
    """True when no grid value has a finite mean: every LR tried failed, diverged or gave NaN
    on some tuning seed. The bench neither extends such a grid (it says nothing about where the
    optimum lies, and a task that always fails would fail at every new LR too) nor picks an LR.

    >>> all_failed({0.1: math.inf, 0.2: math.inf}), all_failed({0.1: math.inf, 0.2: 1.0})
    (True, False)
    """
    return not any(math.isfinite(m) for m in means.values())


def robust_range(means: Mapping[float, float], *, tolerance: float = 0.02) -> tuple[float, float]:
    """The widest run of adjacent grid LRs around the best whose mean is within ``tolerance``.

    Within means ``score <= best + tolerance * |best|`` (scores are losses, lower is better).
    Returns ``(lo, hi)``; ``hi / lo`` is the LR range over which the schedule is near its best.

    >>> robust_range({0.1: 1.5, 0.2: 1.01, 0.4: 1.0, 0.8: 1.015, 1.6: 9.0})
    (0.2, 0.8)
    """
    lrs = sorted(means)
    best, _ = best_lr(means)
    b = means[best]
    if not math.isfinite(b):
        return best, best
    limit = b + tolerance * abs(b)
    i = j = lrs.index(best)
    while i > 0 and means[lrs[i - 1]] <= limit:
        i -= 1
    while j < len(lrs) - 1 and means[lrs[j + 1]] <= limit:
        j += 1
    return lrs[i], lrs[j]


def _times(x: float) -> str:
    return f"{x:.3g}×"


def robustness_sentence(
    per_schedule: Mapping[str, Mapping[float, float]], *, tolerance: float = 0.02
) -> str:
    """One sentence: each schedule's LR range within ``tolerance`` of its best, widest first.

    >>> robustness_sentence({"wsd": {0.1: 1.0, 0.2: 1.01, 0.4: 1.005}, "constant": {0.1: 1.0,
    ...     0.2: 1.5}})
    'Within 2 % of its best tuned val loss: wsd over a 4× LR range, constant only at its best LR (1×).'
    """
    items: list[tuple[float, str]] = []
    for name, means in per_schedule.items():
        if not means or not any(math.isfinite(v) for v in means.values()):
            continue
        lo, hi = robust_range(means, tolerance=tolerance)
        items.append((hi / lo, name))
    if not items:
        return "No schedule finished its tuning runs."
    items.sort(key=lambda x: (-x[0], x[1]))
    parts = [
        f"{n} over a {_times(r)} LR range" if r > 1.0 + 1e-9 else f"{n} only at its best LR (1×)"
        for r, n in items
    ]
    return f"Within {tolerance * 100:g} % of its best tuned val loss: " + ", ".join(parts) + "."


def tune_result(
    scores: Mapping[float, Sequence[float | None]],
    *,
    extensions: int,
    seeds: Sequence[int],
) -> TuneResult:
    """The JSON-able summary of one schedule's tuning (stored in bench.json, read by the report).

    >>> r = tune_result({0.1: [2.0, 2.0], 0.2: [1.0, 1.2], 0.4: [1.5, 1.5]}, extensions=0,
    ...     seeds=[10000, 10001])
    >>> r["chosen"], r["edge"], r["range"]
    (0.2, None, [0.1, 0.4])
    """
    means = mean_scores(scores)
    chosen, edge = best_lr(means)
    lrs = sorted(means)
    return {
        "grid": [
            {
                "lr": lr,
                "scores": [
                    None if v is None or not math.isfinite(v) else float(v) for v in scores[lr]
                ],
                "mean": means[lr] if math.isfinite(means[lr]) else None,
            }
            for lr in lrs
        ],
        "chosen": chosen,
        "edge": edge,
        "range": [lrs[0], lrs[-1]],
        "extensions": extensions,
        "seeds": list(seeds),
        "metric": "val_loss",
    }


def means_of(result: Mapping[str, Any]) -> dict[float, float]:
    """The per-LR means of a :func:`tune_result` (None read back as +inf)."""
    return {
        float(g["lr"]): math.inf if g["mean"] is None else float(g["mean"]) for g in result["grid"]
    }

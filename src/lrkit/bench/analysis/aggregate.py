"""Statistics over runs: mean ± std, seeded bootstrap CIs, ranking with ties, paired tests.

Everything here is deterministic: bootstrap and permutation draws use a numpy generator seeded
from ``stats_seed`` and the names involved.

>>> lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=0)
>>> lo < 2.5 < hi, bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=0) == (lo, hi)
(True, True)
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "METRIC_LABELS",
    "aggregate",
    "bootstrap_ci",
    "paired_permutation_p",
    "rank_with_ties",
    "summarize",
]

#: Human names of the metrics the report talks about.
METRIC_LABELS: dict[str, str] = {
    "val_loss": "final val loss",
    "val_accuracy": "final val accuracy",
    "val_loss_auc": "mean val loss over training (AUC)",
    "steps_to_target": "steps to target",
}


def _seed_for(*parts: object) -> list[int]:
    return [zlib.crc32(str(p).encode()) for p in parts]


def bootstrap_ci(
    values: Sequence[float],
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int | Sequence[int] = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    ``resamples`` resamples of size n are drawn with replacement from a generator seeded with
    ``seed``; the interval is the ``(1-level)/2`` and ``(1+level)/2`` quantiles of their means.
    With one value the interval is that value.

    >>> bootstrap_ci([2.0])
    (2.0, 2.0)
    >>> bootstrap_ci([1.0, 3.0])
    (1.0, 3.0)
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"bootstrap_ci: values must be a non-empty 1-d sequence, got {values!r}")
    if not 0 < level < 1:
        raise ValueError(f"bootstrap_ci: level must be in (0, 1), got {level!r}")
    if x.size == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    means = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def paired_permutation_p(
    diffs: Sequence[float], *, max_exact: int = 16, resamples: int = 20000, seed: int = 0
) -> float:
    """Two-sided paired sign-flip permutation p-value for "mean difference is 0".

    Under the null each paired difference is equally likely to have either sign; the p-value is
    the share of sign assignments whose ``|mean|`` is at least the observed one (exact over all
    ``2**n`` assignments for n <= ``max_exact``, else ``resamples`` seeded draws). The smallest
    attainable p-value is ``2 / 2**n``: with 2 seeds it is 0.5.

    >>> paired_permutation_p([1.0, 1.0])
    0.5
    >>> paired_permutation_p([0.5, 0.4, 0.6, 0.55, 0.45, 0.52])
    0.03125
    """
    d = np.asarray(diffs, dtype=np.float64)
    if d.size == 0:
        raise ValueError("paired_permutation_p: need at least one paired difference")
    observed = abs(float(d.mean()))
    if observed == 0.0:
        return 1.0
    n = d.size
    if n <= max_exact:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=n)))
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice((-1.0, 1.0), size=(resamples, n))
    means = np.abs(signs @ d) / n
    tol = 1e-12 * max(1.0, observed)
    return float(np.mean(means >= observed - tol))


def summarize(
    values: Sequence[float | None],
    *,
    resamples: int = 2000,
    seed: int | Sequence[int] = 0,
) -> dict[str, Any]:
    """n, mean, std (ddof=1), 95 % bootstrap CI of the finite values; ``missing`` counts None.

    >>> s = summarize([1.0, 2.0, None])
    >>> s["n"], s["missing"], s["mean"], round(s["std"], 4)
    (2, 1, 1.5, 0.7071)
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    out: dict[str, Any] = {"n": len(finite), "missing": len(values) - len(finite)}
    if not finite:
        out.update(mean=None, std=None, ci=None, min=None, max=None)
        return out
    x = np.asarray(finite)
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0
        if not (math.isfinite(mean) and math.isfinite(std)):  # huge values: scale first
            scale = float(np.max(np.abs(x)))
            mean = scale * float((x / scale).mean())
            std = scale * float((x / scale).std(ddof=1)) if x.size > 1 else 0.0
        ci = list(bootstrap_ci(finite, resamples=resamples, seed=seed))
    out.update(
        mean=mean if math.isfinite(mean) else None,  # None: overflows a float
        std=std if math.isfinite(std) else None,
        ci=ci if all(math.isfinite(v) for v in ci) else None,
        min=float(x.min()),
        max=float(x.max()),
    )
    return out


def rank_with_ties(
    cis: Mapping[str, tuple[float, float] | None],
    means: Mapping[str, float | None],
    *,
    higher_is_better: bool = False,
) -> list[dict[str, Any]]:
    """Rank by mean, best first; a schedule whose CI overlaps a better group leader's CI ties.

    Walking down the sorted list, each schedule takes the rank of the first (best) group
    leader whose CI overlaps its own; if none does, it leads a new group with rank = its
    position (competition ranking: 1, 1, 3, ...); the list is ordered by rank, then mean. A shared rank therefore means "the CIs do
    not separate it from that group's best". Entries without a CI (diverged) come last, tied.

    >>> r = rank_with_ties({"a": (1.0, 2.0), "b": (2.1, 2.5), "c": (1.9, 4.0)},
    ...     {"a": 1.5, "b": 2.3, "c": 3.0})
    >>> [(x["name"], x["rank"], x["tied"]) for x in r]
    [('a', 1, True), ('c', 1, True), ('b', 2, False)]
    """
    sign = -1.0 if higher_is_better else 1.0
    valid = [k for k, ci in cis.items() if ci is not None and means.get(k) is not None]
    valid.sort(key=lambda k: (sign * float(means[k]), k))  # type: ignore[arg-type]
    ranked: list[dict[str, Any]] = []
    leaders: list[tuple[int, float, float]] = []
    for pos, k in enumerate(valid, start=1):
        lo, hi = cis[k]  # type: ignore[misc]
        rank = next((r for r, llo, lhi in leaders if not (hi < llo or lo > lhi)), 0)
        if rank == 0:
            rank = pos
            leaders.append((pos, lo, hi))
        ranked.append({"name": k, "rank": rank, "mean": means[k]})
    ranked.sort(key=lambda r: r["rank"])  # stable: by mean within a rank
    last = len(valid) + 1
    for k in cis:
        if k not in valid:
            ranked.append({"name": k, "rank": last, "mean": None})
    counts: dict[int, int] = {}
    for r in ranked:
        counts[r["rank"]] = counts.get(r["rank"], 0) + 1
    for r in ranked:
        r["tied"] = counts[r["rank"]] > 1
    return ranked


def _metric_values(recs: Sequence[Mapping[str, Any]], metric: str) -> list[float | None]:
    out: list[float | None] = []
    for r in recs:
        if metric == "steps_to_target":
            out.append(r.get("steps_to_target"))
        elif metric == "val_loss_auc":
            out.append(r.get("val_loss_auc"))
        elif metric == "wall":
            out.append(r.get("time", {}).get("wall"))
        else:
            out.append(r.get("final", {}).get(metric))
    return out


def _curve_band(recs: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Mean/min/max of the validation-loss (and target-metric) curves across seeds."""
    curves = [r["evals"] for r in recs if r.get("status") == "ok" and r.get("evals")]
    if not curves:
        return None
    steps = curves[0]["step"]
    same = [c for c in curves if c["step"] == steps]
    out: dict[str, Any] = {"step": steps}
    for name in same[0]:
        if name == "step":
            continue
        rows = [c.get(name) for c in same]
        if any(row is None for row in rows):
            continue
        arr = np.array(
            [[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64
        )
        out[name] = _band(arr)
    return out


def _band(arr: npt.NDArray[np.float64]) -> dict[str, list[float | None]]:
    """Per-column mean/min/max over the seeds that logged a value (NaN: not logged).

    mean = sum(x_i / n): each value is divided before the sum, so values near the float maximum
    do not overflow; a column no seed logged is ``None`` (no "mean of empty slice" warning).
    """
    present = ~np.isnan(arr)
    count = present.sum(axis=0)
    logged = count > 0
    with np.errstate(all="ignore"):
        mean = np.where(present, arr / np.maximum(count, 1), 0.0).sum(axis=0)
        low = np.where(present, arr, np.inf).min(axis=0)
        high = np.where(present, arr, -np.inf).max(axis=0)
    nan = np.float64(np.nan)
    return {
        "mean": _nan_list(np.where(logged, mean, nan)),
        "min": _nan_list(np.where(logged, low, nan)),
        "max": _nan_list(np.where(logged, high, nan)),
    }


def _mean(values: Sequence[float]) -> float:
    """sum(x_i / n): no overflow for values near the float maximum (np.mean sums first).

    >>> _mean([1.5e308, 1.5e308])
    1.5e+308
    """
    with np.errstate(all="ignore"):
        return float(np.sum(np.asarray(values, dtype=np.float64) / len(values)))


def _nan_list(a: npt.NDArray[np.float64]) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in a.tolist()]


def aggregate(
    records: Sequence[Mapping[str, Any]],
    *,
    baseline: str = "constant",
    rank_metric: str = "val_loss",
    resamples: int = 2000,
    stats_seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Per task: per-schedule stats, a ranking with ties and paired comparisons vs ``baseline``.

    ``records`` are finished main runs (status "ok" or "diverged"). ``rank_metric`` is
    "val_loss" (final validation loss) or "target" (the task's target metric).
    """
    by_task: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in records:
        if r.get("status") not in ("ok", "diverged") or r.get("purpose", "main") != "main":
            continue
        by_task.setdefault(str(r["task"]), {}).setdefault(str(r["schedule"]), []).append(r)
    tasks: dict[str, Any] = {}
    for task, groups in by_task.items():
        first = next(iter(groups.values()))[0]
        # a function task without a target records None: "value" None marks it for the report
        target = (
            dict(first["target"])
            if first.get("target")
            else {"metric": "val_loss", "value": None, "higher_is_better": False}
        )
        tmetric = str(target["metric"])
        metrics = ["val_loss"]
        if tmetric != "val_loss":
            metrics.append(tmetric)
        metrics += ["val_loss_auc", "steps_to_target", "wall"]
        schedules: dict[str, Any] = {
            name: _schedule_entry(name, recs, metrics, task, resamples, stats_seed)
            for name, recs in groups.items()
        }
        rmetric, higher, ranking = _rank(schedules, rank_metric, tmetric, target)
        comparisons: dict[str, Any] = {}
        if baseline in schedules:
            base = schedules[baseline]
            for name, e in schedules.items():
                if name == baseline:
                    continue
                comparisons[name] = _compare(e, base, metrics, tmetric, target, alpha)
        tasks[task] = {
            "target": target,
            "rank_metric": rmetric,
            "rank_higher_is_better": higher,
            "baseline": baseline if baseline in schedules else None,
            "schedules": schedules,
            "ranking": ranking,
            "comparisons": comparisons,
        }
    return {"tasks": tasks, "alpha": alpha, "bootstrap_resamples": resamples}


def _schedule_entry(
    name: str,
    recs: Sequence[Mapping[str, Any]],
    metrics: Sequence[str],
    task: str,
    resamples: int,
    stats_seed: int,
) -> dict[str, Any]:
    """One schedule's aggregate: its settings, curves, per-seed values and metric summaries.

    Args:
        name: the schedule's name.
        recs: its finished main runs on ``task``, one per seed.
        metrics: the metrics to summarize.
        task: the task name (seeds the bootstrap).
        resamples: bootstrap resamples.
        stats_seed: base seed of the bootstrap.
    """
    recs = sorted(recs, key=lambda r: int(r["seed"]))
    s0 = recs[0]
    entry: dict[str, Any] = {
        "name": name,
        "lr_text": s0["lr_text"],
        "momentum_text": s0.get("momentum_text"),
        "plateau": s0.get("plateau"),
        "optimizer": s0["optimizer"],
        "peak_lr": s0["peak_lr"],
        "steps": s0["steps"],
        "seeds": [int(r["seed"]) for r in recs],
        "diverged": sum(r["status"] == "diverged" for r in recs),
        "metrics": {},
        "per_seed": {},
        "lr_curve": {"step": s0["curves"]["step"], "lr": s0["curves"]["lr"]},
        "momentum_curve": s0["curves"].get("momentum"),
        "curves": _curve_band(recs),
    }
    for m in metrics:
        vals = _metric_values(recs, m)
        entry["per_seed"][m] = vals
        entry["metrics"][m] = summarize(
            vals, resamples=resamples, seed=_seed_for(stats_seed, task, name, m)
        )
    reached = [v for v in entry["per_seed"]["steps_to_target"] if v is not None]
    entry["reached_target"] = len(reached)
    return entry


def _rank(
    schedules: Mapping[str, Any], rank_metric: str, tmetric: str, target: Mapping[str, Any]
) -> tuple[str, bool, list[dict[str, Any]]]:
    """(ranked metric, whether higher is better, ranking with ties) of one task's schedules.

    A schedule with a diverged seed or no confidence interval ranks without a value.
    """
    rmetric = "val_loss" if rank_metric == "val_loss" else tmetric
    higher = bool(target["higher_is_better"]) if rmetric == tmetric else False
    if rmetric == "val_loss":
        higher = False
    cis: dict[str, tuple[float, float] | None] = {}
    means: dict[str, float | None] = {}
    for name, e in schedules.items():
        st = e["metrics"][rmetric]
        ok = st["ci"] is not None and e["diverged"] == 0
        cis[name] = tuple(st["ci"]) if ok else None
        means[name] = st["mean"] if ok else None
    ranking = rank_with_ties(cis, means, higher_is_better=higher)
    return rmetric, higher, ranking


def _compare(
    e: Mapping[str, Any],
    base: Mapping[str, Any],
    metrics: Sequence[str],
    tmetric: str,
    target: Mapping[str, Any],
    alpha: float,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seeds = [s for s in e["seeds"] if s in base["seeds"]]
    for m in metrics:
        if m == "wall":
            continue
        a = dict(zip(e["seeds"], e["per_seed"][m], strict=True))
        b = dict(zip(base["seeds"], base["per_seed"][m], strict=True))
        pairs = [(a[s], b[s]) for s in seeds if a[s] is not None and b[s] is not None]
        res: dict[str, Any] = {"n": len(pairs)}
        if pairs:
            d = [float(x) - float(y) for x, y in pairs]
            mb = _mean([float(y) for _, y in pairs])
            p = paired_permutation_p(d)
            ci_a, ci_b = e["metrics"][m]["ci"], base["metrics"][m]["ci"]
            overlap = ci_a is None or ci_b is None or not (ci_a[1] < ci_b[0] or ci_b[1] < ci_a[0])
            res.update(
                mean_diff=_mean(d),
                rel_diff=_mean(d) / mb if mb != 0 and math.isfinite(mb) else None,
                p=p,
                min_p=2.0 / 2 ** len(d),
                same_sign=bool(all(x > 0 for x in d) or all(x < 0 for x in d)),
                ci_overlap=bool(overlap),
                significant=bool(p < alpha and not overlap),
            )
        out[m] = res
    return out

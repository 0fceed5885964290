"""Rank vs budget, the statistics: per task and budget, each schedule's rank and mean.

The runs come from :func:`lrkit.bench.planning.budgets.budget_plans` (which budgets run, and
how); this module aggregates their records per budget and tabulates the ranks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lrkit.bench.analysis.aggregate import aggregate

__all__ = ["aggregate_budgets", "rank_table"]


def aggregate_budgets(
    records: Sequence[Mapping[str, Any]],
    budgets: Sequence[Mapping[str, Any]],
    *,
    baseline: str,
    rank_metric: str,
    resamples: int,
    stats_seed: int,
) -> dict[str, Any]:
    """Per task, per budget: statistics and ranking of the schedules (``results.json`` "budgets").

    Returns ``{task: {"shares": [...], "by_budget": {label: {...}}, "ranks": {schedule:
    [rank per share]}, "means": {schedule: [mean per share]}}}``.
    """
    by_key = {str(r["key"]): r for r in records}
    out: dict[str, Any] = {}
    for b in budgets:
        share, label = float(b["share"]), str(b["label"])
        recs = [by_key[k] for k in b["keys"] if k in by_key]
        agg = aggregate(
            recs,
            baseline=baseline,
            rank_metric=rank_metric,
            resamples=resamples,
            stats_seed=stats_seed,
        )
        plans = {p["task"]: p for p in b.get("plans", [])}
        for task, t in agg["tasks"].items():
            slot = out.setdefault(task, {"shares": [], "labels": [], "by_budget": {}})
            slot["shares"].append(share)
            slot["labels"].append(label)
            slot["by_budget"][label] = {
                "share": share,
                "steps": (plans.get(task) or {}).get("steps"),
                "merged": list((plans.get(task) or {}).get("merged") or []),
                "rank_metric": t["rank_metric"],
                "rank_higher_is_better": t["rank_higher_is_better"],
                "ranking": t["ranking"],
                "schedules": {
                    n: {
                        "peak_lr": e["peak_lr"],
                        "steps": e["steps"],
                        "metrics": e["metrics"],
                        "per_seed": e["per_seed"],
                        "seeds": e["seeds"],
                        "diverged": e["diverged"],
                    }
                    for n, e in t["schedules"].items()
                },
                "tuning": (plans.get(task) or {}).get("tuning") or {},
            }
    for slot in out.values():
        names = sorted({n for v in slot["by_budget"].values() for n in v["schedules"]})
        ranks: dict[str, list[int | None]] = {n: [] for n in names}
        means: dict[str, list[float | None]] = {n: [] for n in names}
        for label in slot["labels"]:
            v = slot["by_budget"][label]
            rk = {r["name"]: r for r in v["ranking"]}
            for n in names:
                r = rk.get(n)
                ranks[n].append(None if r is None or r["mean"] is None else int(r["rank"]))
                st = v["schedules"].get(n, {}).get("metrics", {}).get(v["rank_metric"], {})
                means[n].append(st.get("mean"))
        slot["ranks"] = ranks
        slot["means"] = means
    return out


def rank_table(task_budgets: Mapping[str, Any]) -> list[str]:
    """Markdown lines: rank of each schedule per budget (best mean rank first), plus means.

    >>> tb = {"labels": ["50%", "100%"], "ranks": {"a": [1, 2], "b": [2, 1]},
    ...     "means": {"a": [1.0, 0.5], "b": [1.2, 0.4]}, "by_budget": {"50%": {"steps": 50},
    ...     "100%": {"steps": 100}}}
    >>> print("\\n".join(rank_table(tb)))
    | schedule | 50% (50 steps) | 100% (100 steps) | mean rank |
    |---|---|---|---|
    | `a` | 1 (1) | 2 (0.5) | 1.5 |
    | `b` | 2 (1.2) | 1 (0.4) | 1.5 |

    A budget that also stands for smaller ones of equal step count says so (they ran once):

    >>> tb["by_budget"]["50%"]["merged"] = ["49.9%"]
    >>> lines = rank_table(tb)
    >>> print(lines[0]); print(lines[-2])
    | schedule | 50% (50 steps; also 49.9%) | 100% (100 steps) | mean rank |
    Budgets 49.9% and 50% give this task the same step count: each such group ran once, under its largest budget (no rank is counted twice).
    """
    labels = list(task_budgets["labels"])
    head = ["schedule"]
    notes = []
    for lab in labels:
        b = task_budgets["by_budget"][lab]
        merged = list(b.get("merged") or [])
        head.append(
            f"{lab} ({b.get('steps')} steps{'; also ' + ', '.join(merged) if merged else ''})"
        )
        if merged:
            notes.append(f"{', '.join(merged)} and {lab}")
    head.append("mean rank")
    rows: list[tuple[float, str, list[str]]] = []
    for n, rks in task_budgets["ranks"].items():
        ms = task_budgets["means"][n]
        cells = [
            "–" if r is None else f"{r} ({'–' if m is None else f'{m:.3g}'})"
            for r, m in zip(rks, ms, strict=True)
        ]
        valid = [r for r in rks if r is not None]
        mean_rank = sum(valid) / len(valid) if valid else math.inf
        rows.append((mean_rank, n, cells))
    rows.sort(key=lambda x: (x[0], x[1]))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mr, n, cells in rows:
        mrs = "–" if not math.isfinite(mr) else f"{mr:.3g}"
        lines.append("| " + " | ".join([f"`{n}`", *cells, mrs]) + " |")
    if notes:
        lines += [
            "",
            f"Budgets {'; '.join(notes)} give this task the same step count: each such group "
            f"ran once, under its largest budget (no rank is counted twice).",
            "",
        ]
    return lines

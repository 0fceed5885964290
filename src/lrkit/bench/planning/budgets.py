"""Rank vs budget (REX-style): every schedule bound to several step budgets, one whole run each.

A budget is a share of the task's step budget. A 25 % run binds the schedule's shape to 25 % of
the steps (a whole schedule, not the first quarter of a long one); it keeps the task's
evaluation period (only its final metrics enter the budget statistics). The 100 % budget is
always part of the set: it is the run the rest of the report describes. Shares are kept to the
4 significant digits of their label. On each task, budgets that round to the same step count
run once (as the largest of them; the report names the others), and a budget under one step is
refused.

>>> parse_budgets("10%,25%,50%,100%")
(0.1, 0.25, 0.5, 1.0)
>>> parse_budgets(["50%", 0.1])
(0.1, 0.5, 1.0)
>>> budget_steps(1000, 0.1), budget_steps(7, 0.2)
(100, 1)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lrkit.bench.planning.plan import TaskPlan

__all__ = [
    "budget_label",
    "budget_plans",
    "budget_steps",
    "budgets_meta",
    "merged_budgets",
    "parse_budgets",
]


def _one(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"budgets: {value!r} is not a share of the budget")
    if isinstance(value, str):
        text = value.strip()
        try:
            f = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(
                f"budgets: cannot read {value!r}; use shares like '25%' or 0.25"
            ) from None
    elif isinstance(value, int | float):
        f = float(value)
    else:
        raise ValueError(f"budgets: {value!r} is not a share of the budget ('25%' or 0.25)")
    if not (math.isfinite(f) and 0 < f <= 1):
        raise ValueError(f"budgets: {value!r} must be a share in (0 %, 100 %]")
    return f


def parse_budgets(value: str | Sequence[object] | None) -> tuple[float, ...]:
    """Budget shares, sorted, with 100 % added; "" or None gives ().

    A string is a comma-separated list (``"10%,25%"``); items are percentages or fractions.
    """
    if value is None:
        return ()
    items: Sequence[object] = value.split(",") if isinstance(value, str) else value
    items = [v for v in items if not (isinstance(v, str) and not v.strip())]
    if not items:
        return ()
    shares = {_at_label_precision(_one(v)) for v in items}
    shares.add(1.0)
    return tuple(sorted(shares))


def _at_label_precision(share: float) -> float:
    """``share`` rounded to its label's 4 significant digits, so that two budgets with one
    label are one budget (a tiny share stays tiny: 1e-302 is not rounded to 0).

    >>> _at_label_precision(0.123456), _at_label_precision(1e-302), _at_label_precision(0.1)
    (0.1235, 1e-302, 0.1)
    """
    return min(1.0, float(f"{share * 100:.4g}") / 100)


def budget_steps(steps: int, share: float) -> int:
    """Steps of a budget: ``max(1, round(share * steps))`` (:func:`budget_plans` refuses
    budgets under one step)."""
    return max(1, round(share * steps))


def budget_label(share: float) -> str:
    """``0.25`` -> ``"25%"``.

    >>> budget_label(0.125), budget_label(1.0)
    ('12.5%', '100%')
    """
    return f"{share * 100:.4g}%"


def budget_plans(
    plans: Sequence[TaskPlan], budgets: Sequence[float]
) -> dict[float, list[TaskPlan]]:
    """A list of task plans per budget share; share 1.0 maps to ``plans`` themselves.

    Other shares get copies with the steps scaled by the share (the evaluation period capped
    at the steps) and empty peak/tuning tables (each budget picks its own peak LR). On each
    task, shares that give the same step count run once, as the largest of them: the smaller
    ones are left out of their group and listed in the kept plan's ``merged``. A share left
    with no plan is dropped. ValueError when a share gives a task less than one step.
    """
    shares = sorted({*budgets, 1.0}, reverse=True)
    out: dict[float, list[TaskPlan]] = {share: [] for share in shares}
    for p in plans:
        _check_one_step(p, shares[-1])
        p.merged = []
        kept: dict[int, TaskPlan] = {p.steps: p}
        out[1.0].append(p)
        for share in shares[1:]:
            steps = budget_steps(p.steps, share)
            if steps in kept:
                kept[steps].merged.append(share)
                continue
            q = copy.copy(p)
            q.steps = steps
            q.eval_every = min(p.eval_every, q.steps)
            q.peak, q.lr_source, q.tuning, q.merged = {}, {}, {}, []
            q.skipped = list(p.skipped)
            q.budget = share
            kept[steps] = q
            out[share].append(q)
    return {share: out[share] for share in sorted(out) if out[share]}


def _check_one_step(plan: TaskPlan, share: float) -> None:
    exact = share * plan.steps
    if exact < 1:
        raise ValueError(
            f"bench: budget {budget_label(share)} of task {plan.task!r} ({plan.steps} steps) "
            f"is {exact:.3g} steps; a budget must give at least one step (on this task "
            f"{budget_label(1 / plan.steps)} or more)"
        )


def merged_budgets(bplans: Mapping[float, Sequence[TaskPlan]]) -> list[str]:
    """One sentence per task plan that also stands for smaller budgets of equal step count.

    >>> from types import SimpleNamespace as NS
    >>> merged_budgets({0.06: [NS(task="t", steps=1, budget=0.06, merged=[0.05])]})
    ['task t: budgets 5% and 6% both give 1 step; run once, as 6%']
    """
    out = []
    for group in bplans.values():
        for p in group:
            if p.merged:
                labels = [budget_label(s) for s in sorted(p.merged)]
                out.append(
                    f"task {p.task}: budgets {', '.join(labels)} and {budget_label(p.budget)} "
                    f"{'both' if len(labels) == 1 else 'all'} give {_steps(p.steps)}; run once, "
                    f"as {budget_label(p.budget)}"
                )
    return out


def _steps(n: int) -> str:
    return "1 step" if n == 1 else f"{n} steps"


def budgets_meta(
    bplans: Mapping[float, Sequence[TaskPlan]], keys: Mapping[float, Sequence[str]]
) -> list[dict[str, Any]]:
    """The ``budgets`` list of bench.json: per share its keys and per-task plans."""
    return [
        {
            "share": share,
            "label": budget_label(share),
            "keys": list(keys.get(share, [])),
            "plans": [
                {
                    "task": p.task,
                    "steps": p.steps,
                    "eval_every": p.eval_every,
                    "peak_lr": p.peak,
                    "lr_source": p.lr_source,
                    "tuning": p.tuning,
                    "merged": [budget_label(m) for m in sorted(p.merged)],
                    "skipped": [{"schedule": n, "reason": r} for n, r in p.skipped],
                }
                for p in group
            ],
        }
        for share, group in bplans.items()
    ]

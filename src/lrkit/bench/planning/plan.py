"""The plan of one task: its step budget, the schedules with their optimizer and peak LR.

:func:`lrkit.bench.driver.plan_tasks` fills one per task;
:func:`lrkit.bench.planning.budgets.budget_plans` copies it per budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrkit.bench.planning.suite import SuiteEntry

__all__ = ["TaskPlan"]


@dataclass
class TaskPlan:
    """What runs on one task: budget, entries with their optimizer, skipped entries."""

    task: str
    steps: int
    eval_every: int
    target_metric: str
    target_value: float
    higher_is_better: bool
    default_lr: dict[str, float]
    entries: list[tuple[SuiteEntry, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    peak: dict[str, float] = field(default_factory=dict)
    lr_source: dict[str, str] = field(default_factory=dict)
    source: str = ""
    device: str = "cpu"
    tuning: dict[str, Any] = field(default_factory=dict)
    budget: float = 1.0
    merged: list[float] = field(default_factory=list)  # smaller budgets of equal step count
    race: dict[str, Any] = field(default_factory=dict)  # the seed race (--seeds auto), as stored

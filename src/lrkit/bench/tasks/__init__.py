"""Bench tasks: the protocol (TaskConfig, TaskSpec, Trainer) and the task registry.

Importing this package imports no framework; a task's ``make`` imports what it needs.

>>> from lrkit.bench.tasks import TaskConfig, get_task
>>> get_task("synthetic-linear").optimizers[0]
'sgd'
"""

from lrkit.bench.tasks.base import (
    HPARAM_KEYS,
    TaskConfig,
    TaskSpec,
    Trainer,
    check_hparams,
    missing_requirements,
)
from lrkit.bench.tasks.loading import get_task, task_names

__all__ = [
    "HPARAM_KEYS",
    "TaskConfig",
    "TaskSpec",
    "Trainer",
    "check_hparams",
    "get_task",
    "missing_requirements",
    "task_names",
]

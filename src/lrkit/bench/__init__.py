"""lrkit bench: compare schedules on small, fast, deterministic training tasks.

A task is a plain function decorated with :func:`lrkit.bench.task` that receives a
:class:`lrkit.bench.Run` (see :mod:`lrkit.bench.api`); built-in, class-based tasks live in
:mod:`lrkit.bench.tasks` (the protocol and the registry). This package imports
nothing heavy: the task names below are re-exported lazily on first attribute access.

Behind the task protocol the bench is layered by stage, each importing only earlier ones:
:mod:`~lrkit.bench.planning` (what runs), :mod:`~lrkit.bench.execution` (running it, the
records), :mod:`~lrkit.bench.analysis` (statistics), :mod:`~lrkit.bench.presentation` (the
report), and :mod:`lrkit.bench.driver` on top.

>>> import lrkit.bench
>>> lrkit.bench.task_names()[:2]
['charlm', 'digits-mlp']
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Diverged": "lrkit.bench.api",
    "FunctionTask": "lrkit.bench.api",
    "Run": "lrkit.bench.api",
    "task": "lrkit.bench.api",
    "TaskConfig": "lrkit.bench.tasks",
    "TaskSpec": "lrkit.bench.tasks",
    "Trainer": "lrkit.bench.tasks",
    "get_task": "lrkit.bench.tasks",
    "task_names": "lrkit.bench.tasks",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lrkit.bench' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

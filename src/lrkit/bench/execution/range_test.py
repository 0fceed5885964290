"""The LR range test on a bench task (the bench uses the finder; the finder never uses the bench)."""

from __future__ import annotations

from typing import Any

from lrkit.bench.tasks import TaskConfig, get_task
from lrkit.finder.result import RangeTestResult
from lrkit.finder.runner import RangeTest

__all__ = ["range_test_task"]


def range_test_task(
    task: str,
    optimizer: str | None = None,
    seed: int = 0,
    *,
    threads: int = 1,
    **test_kwargs: Any,
) -> RangeTestResult:
    """Run a :class:`~lrkit.finder.RangeTest` on a fresh trainer of bench task ``task``.

    Each step calls ``trainer.train_step({"lr": lr, "momentum": spec.momentum})`` (the bench
    task protocol, :mod:`lrkit.bench.tasks`); ``test_kwargs`` go to ``RangeTest``.

    Args:
      task: a bench task name or ``"pkg.module:factory"``.
      optimizer: the task optimizer (default: the task's first).
      seed: seed of the fresh trainer.
      threads: CPU threads of the trainer.
      test_kwargs: arguments of ``RangeTest`` (``start``, ``end``, ``num_steps``...).
    """
    spec = get_task(task)
    opt = spec.optimizers[0] if optimizer is None else optimizer
    config = TaskConfig(seed=seed, optimizer=opt, threads=threads)
    spec.check_config(config)
    test = RangeTest(**test_kwargs)
    trainer = spec.make(config)
    for lr in test:
        test.record(trainer.train_step({"lr": lr, "momentum": spec.momentum}))
    return test.result()

"""The LR range test on a bench task (the bench uses the finder; the finder never uses the bench).

A class-based task's fresh ``Trainer`` is stepped at each LR of the sweep; a function task
(:func:`lrkit.bench.task`) runs its own loop with the sweep as its schedule, the same function
``lrkit bench`` runs, and the test reads what it logs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrkit.bench.api import Run
from lrkit.bench.execution.rundir import read_bytes, write_atomic
from lrkit.bench.tasks import TaskConfig, get_task
from lrkit.finder.result import RangeTestResult
from lrkit.finder.runner import RangeTest

__all__ = ["RANGE_TESTS_NAME", "load_range_test", "range_test_task", "store_range_test"]

#: The file of a run folder that keeps its range tests (``--lr-from-finder``), reused on resume.
RANGE_TESTS_NAME = "range_tests.json"
_STORE_FORMAT = "lrkit.bench.range_tests/1"


class _TestOver(Exception):
    """Ends a function task's loop once the range test is complete or stopped."""


class _RangeTestRun(Run):
    """The :class:`Run` a function task gets during a range test.

    Its schedule is the sweep (``run.lr`` its highest LR, ``run.steps`` its length); every
    ``run.log(step, loss=...)`` feeds the test, which must see each step in order; the loop is
    ended (from inside ``run.log``) when the test stops. No evaluation is asked for.
    """

    def __init__(self, test: RangeTest, *, seed: int, name: str) -> None:
        super().__init__(
            seed=seed,
            steps=test.total_steps,
            lr=max(test.planned_lrs),
            schedule=test.schedule,
            eval_every=test.total_steps,
            name=name,
        )
        self._test = test

    def log(self, step: int, *, loss: float) -> None:
        t = self._check_step("log", step)
        if t != self._test.step:
            raise ValueError(
                f"task {self.name!r}: an LR range test needs run.log(step, loss=...) after every "
                f"step, in order; got step {t} when step {self._test.step} was due"
            )
        done = self._test.record(loss)  # validates the loss
        self.loss_steps.append(t)
        self.losses.append(float(loss))
        self.lrs_used.append(self.lr_at(t))
        if done:
            raise _TestOver

    def should_evaluate(self, step: int) -> bool:
        return False

    def evaluate(self, step: int, **metrics: float) -> None:
        self._check_step("evaluate", step)


def _run_function(function: Any, test: RangeTest, seed: int, name: str) -> RangeTestResult:
    run = _RangeTestRun(test, seed=seed, name=name)
    with contextlib.suppress(_TestOver):
        function(run)
    if test.step == 0:
        raise ValueError(
            f"task {name!r}: the task function logged no training loss (call "
            "run.log(step, loss=...) after every step)"
        )
    return test.result()


def range_test_task(
    task: str,
    optimizer: str | None = None,
    seed: int = 0,
    *,
    threads: int = 1,
    batch_size: int | None = None,
    **test_kwargs: Any,
) -> RangeTestResult:
    """Run a :class:`~lrkit.finder.RangeTest` on bench task ``task``.

    A class-based task: each step calls ``trainer.train_step({"lr": lr, "momentum":
    spec.momentum})`` on a fresh trainer (the bench task protocol, :mod:`lrkit.bench.tasks`).
    A function task: the function is called once with a :class:`~lrkit.bench.Run` whose
    schedule is the sweep (``run.scheduler(opt)``, ``run.hparams(step)`` and ``run.schedule``
    give the sweep's LRs, ``run.steps`` its length, ``run.lr`` its highest LR); each
    ``run.log(step, loss=...)`` is recorded, and the loop ends (from inside ``run.log``) when the
    test completes or stops; ``run.should_evaluate`` is always False. A test that stops early
    leaves ``stop_reason`` ``"running"`` if the function returns before the sweep's end.
    The result records the optimizer family (:meth:`TaskSpec.optimizer_family
    <lrkit.bench.tasks.TaskSpec.optimizer_family>`: the task optimizer's, or for a function task
    the one its decorator declares, ``@lrkit.bench.task(optimizer=...)``; None if unknown).

    Args:
      task: a bench task name, ``"pkg.module:factory"`` or ``"path/to/file.py:function"``.
      optimizer: the task optimizer (default: the task's first; a function task has only
        ``"own"``).
      seed: seed of the fresh trainer (``run.seed`` of a function task).
      threads: CPU threads of the trainer (a function task sets its own).
      batch_size: the trainer's batch size (None: the task's default).
      test_kwargs: arguments of ``RangeTest`` (``start``, ``end``, ``num_steps``...).
    """
    spec = get_task(task)
    opt = spec.optimizers[0] if optimizer is None else optimizer
    config = TaskConfig(seed=seed, optimizer=opt, batch_size=batch_size, threads=threads)
    spec.check_config(config)
    test = RangeTest(**test_kwargs)
    if spec.function is not None:
        result = _run_function(spec.function, test, seed, spec.name)
    else:
        trainer = spec.make(config)
        for lr in test:
            test.record(trainer.train_step({"lr": lr, "momentum": spec.momentum}))
        result = test.result()
    return dataclasses.replace(result, optimizer=spec.optimizer_family(opt))


def _stored_entries(path: Path) -> list[dict[str, Any]]:
    """The ``{"key", "result"}`` entries of a range-test store; ValueError when it is malformed."""
    raw = read_bytes(path)
    if raw is None:
        return []
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != _STORE_FORMAT:
        raise ValueError(f"not a {_STORE_FORMAT!r} file")
    tests = data.get("tests")
    if not isinstance(tests, list) or not all(
        isinstance(t, dict) and isinstance(t.get("key"), dict) and "result" in t for t in tests
    ):
        raise ValueError("'tests' must be a list of {key, result} objects")
    return tests


def load_range_test(run_dir: Path, key: Mapping[str, Any]) -> RangeTestResult | None:
    """The range test stored in ``run_dir`` under ``key`` (task, optimizer, seed, sweep), or None.

    ValueError when the store (:data:`RANGE_TESTS_NAME`) is malformed; the caller reruns the
    test and overwrites it.

    Args:
        run_dir: the bench run folder.
        key: what identifies the test: JSON primitives, compared for equality.
    """
    for entry in _stored_entries(run_dir / RANGE_TESTS_NAME):
        if entry["key"] == dict(key):
            return RangeTestResult.from_dict(entry["result"])
    return None


def store_range_test(run_dir: Path, key: Mapping[str, Any], result: RangeTestResult) -> None:
    """Keep ``result`` in ``run_dir`` under ``key``, replacing a test stored under the same key
    (written atomically; a malformed store is replaced).

    Args:
        run_dir: the bench run folder (locked by the caller).
        key: what identifies the test (JSON primitives).
        result: the range test.
    """
    path = run_dir / RANGE_TESTS_NAME
    try:
        kept = [e for e in _stored_entries(path) if e["key"] != dict(key)]
    except ValueError:
        kept = []
    kept.append({"key": dict(key), "result": result.to_dict()})
    write_atomic(path, json.dumps({"format": _STORE_FORMAT, "tests": kept}, indent=1) + "\n")

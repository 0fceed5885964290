"""Hostile bench tasks for tests/test_bench_robustness.py (pure Python, importable by workers).

Each factory returns a TaskSpec whose trainer misbehaves on seed 1 (or always): exits the
process, hangs, overflows, or returns something that is not a float.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lrkit.bench.tasks import TaskConfig, TaskSpec

#: Folder where ``pid_task`` trainers write their process id (set by the test).
PID_DIR_ENV = "LRKIT_TEST_PID_DIR"


class Quadratic:
    """Gradient descent on w**2 / 2 from w0 = 2; ``hook(seed, step)`` runs before each step."""

    def __init__(self, config: TaskConfig, hook: Callable[[int, int], Any] | None = None) -> None:
        self.seed = config.seed
        self.w = 2.0 + 0.1 * config.seed
        self.step = 0
        self.hook = hook

    def train_step(self, hparams: Mapping[str, float]) -> Any:
        if self.hook is not None:
            out = self.hook(self.seed, self.step)
            if out is not None:
                return out
        self.step += 1
        self.w -= hparams["lr"] * self.w
        return 0.5 * self.w**2

    def evaluate(self) -> dict[str, float]:
        return {"val_loss": 0.5 * self.w**2}


def _spec(name: str, make: Callable[[TaskConfig], Any]) -> TaskSpec:
    return TaskSpec(
        name=name,
        description="hostile test task",
        steps=6,
        lr=0.1,
        momentum=0.9,
        eval_every=3,
        target_metric="val_loss",
        target_value=0.1,
        higher_is_better=False,
        optimizers=("sgd",),
        requires=(),
        make=make,
    )


def _exit_on_seed_1(seed: int, step: int) -> None:
    if seed == 1 and step == 2:
        os._exit(3)


def exit_task() -> TaskSpec:
    """Seed 1's worker process exits with code 3 at step 2."""
    return _spec("exit", lambda c: Quadratic(c, _exit_on_seed_1))


def _hang_on_seed_1(seed: int, step: int) -> None:
    if seed == 1 and step == 1:
        while True:  # a hung train_step (pure Python, so SIGALRM can interrupt it too)
            time.sleep(0.05)


def hang_task() -> TaskSpec:
    """Seed 1 hangs in train_step at step 1."""
    return _spec("hang", lambda c: Quadratic(c, _hang_on_seed_1))


class _Huge(Quadratic):
    """Finite but huge validation losses: their AUC (and the seeds' mean) overflow."""

    def evaluate(self) -> dict[str, float]:
        return {"val_loss": 1.5e308}


def huge_task() -> TaskSpec:
    """Every evaluation reports val_loss = 1.5e308."""
    return _spec("huge", _Huge)


class _HugeFinal(Quadratic):
    """A finite AUC per run but final losses of ±1e308 magnitude: the seeds' std overflows."""

    def evaluate(self) -> dict[str, float]:
        return {"val_loss": 1.7e308 if self.step == 6 and self.seed == 1 else 1e-300}


def huge_final_task() -> TaskSpec:
    """Seed 1 ends with val_loss 1.7e308, seed 0 with 1e-300."""
    return _spec("huge-final", _HugeFinal)


def _write_pid(seed: int, step: int) -> None:
    folder = os.environ.get(PID_DIR_ENV)
    if folder and step == 0:
        Path(folder, f"{os.getpid()}.pid").write_text(str(os.getpid()))
    if folder:
        time.sleep(0.2)  # slow steps: the driver is killed while the workers run


def pid_task() -> TaskSpec:
    """Workers write ``<pid>.pid`` into $LRKIT_TEST_PID_DIR, then take 0.2 s per step."""
    return dataclasses.replace(_spec("pid", lambda c: Quadratic(c, _write_pid)), steps=3000)


def _returns(value: Callable[[], Any]) -> Callable[[int, int], Any]:
    return lambda seed, step: value()


def returns_str_task() -> TaskSpec:
    """train_step returns the str "0.5"."""
    return _spec("returns-str", lambda c: Quadratic(c, _returns(lambda: "0.5")))


def returns_bool_task() -> TaskSpec:
    """train_step returns True."""
    return _spec("returns-bool", lambda c: Quadratic(c, _returns(lambda: True)))


def _grad_tensor() -> Any:
    import torch

    w = torch.ones(1, requires_grad=True)
    return (w * 2).sum()


def returns_grad_tensor_task() -> TaskSpec:
    """train_step returns a 0-d torch tensor that requires grad (forgot ``.item()``)."""
    return _spec("returns-tensor", lambda c: Quadratic(c, _returns(_grad_tensor)))


def nan_val_task() -> TaskSpec:
    """Validation loss is nan from the start (train loss stays finite)."""

    class _Nan(Quadratic):
        def evaluate(self) -> dict[str, float]:
            return {"val_loss": math.nan}

    return _spec("nan-val", _Nan)

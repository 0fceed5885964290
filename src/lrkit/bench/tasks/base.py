"""Bench task protocol: TaskConfig, Trainer, TaskSpec (framework-free).

A task owns model, data and optimizer; the bench runner owns the loop, the schedules and the
logging. The runner asks a :class:`TaskSpec` for a :class:`Trainer` (``spec.make(config)``), then
calls ``trainer.train_step({"lr": ..., "momentum": ...})`` once per step and
``trainer.evaluate()`` every ``spec.eval_every`` steps.

>>> from lrkit.bench.tasks import get_task
>>> spec = get_task("digits-numpy")
>>> spec.target_metric, spec.higher_is_better, spec.optimizers
('val_accuracy', True, ('sgd',))
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "HPARAM_KEYS",
    "TaskConfig",
    "TaskSpec",
    "Trainer",
    "check_hparams",
    "missing_requirements",
]

#: The hyper-parameter names a :class:`Trainer` accepts in ``train_step``.
HPARAM_KEYS: tuple[str, ...] = ("lr", "momentum", "weight_decay")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class TaskConfig:
    """Per-run settings that a task's ``make`` receives.

    ``seed`` fixes model initialisation and batch order (the data sets themselves are fixed);
    ``optimizer`` is one of the task's ``optimizers``; ``batch_size`` None means the task default;
    ``threads`` is passed to ``torch.set_num_threads`` by torch tasks.

    Args:
        seed: the run's seed, an int in [0, 2**63).
        optimizer: one of the task's ``optimizers`` (default ``"sgd"``).
        batch_size: the batch size, or None for the task's default.
        threads: CPU threads for the run (an int >= 1).

    >>> TaskConfig(seed=3, optimizer="adamw")
    TaskConfig(seed=3, optimizer='adamw', batch_size=None, threads=1)
    >>> TaskConfig(threads=0)
    Traceback (most recent call last):
    ...
    ValueError: TaskConfig: threads must be an int >= 1, got 0
    """

    seed: int = 0
    optimizer: str = "sgd"
    batch_size: int | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        if not _is_int(self.seed) or not 0 <= self.seed < 2**63:
            raise ValueError(f"TaskConfig: seed must be an int in [0, 2**63), got {self.seed!r}")
        if not isinstance(self.optimizer, str) or not self.optimizer:
            raise ValueError(
                f"TaskConfig: optimizer must be a non-empty str, got {self.optimizer!r}"
            )
        if self.batch_size is not None and (not _is_int(self.batch_size) or self.batch_size < 1):
            raise ValueError(
                f"TaskConfig: batch_size must be None or an int >= 1, got {self.batch_size!r}"
            )
        if not _is_int(self.threads) or self.threads < 1:
            raise ValueError(f"TaskConfig: threads must be an int >= 1, got {self.threads!r}")


@runtime_checkable
class Trainer(Protocol):
    """One training run. The runner owns the loop, schedules and logging; the task owns
    model, data and optimizer.

    A protocol (checked with ``isinstance``): any object with these two methods is a trainer;
    a task's ``make(config)`` returns one.

    >>> class Quadratic:
    ...     def __init__(self) -> None:
    ...         self.w = 1.0
    ...     def train_step(self, hparams):
    ...         self.w -= hparams["lr"] * 2 * self.w  # one gradient step on w**2
    ...         return self.w**2
    ...     def evaluate(self):
    ...         return {"val_loss": self.w**2}
    >>> trainer = Quadratic()
    >>> isinstance(trainer, Trainer), trainer.train_step({"lr": 0.25}), trainer.evaluate()
    (True, 0.25, {'val_loss': 0.25})
    """

    def train_step(self, hparams: Mapping[str, float]) -> float:
        """Set hparams (keys among "lr", "momentum", "weight_decay"; "momentum" is betas[0] for
        the Adam family) on every param group, do ONE optimizer step on the next batch (cycling
        through the data, deterministic per seed) and return that batch's training loss as a
        float (may be nan/inf; never raises for a diverged run)."""
        ...

    def evaluate(self) -> dict[str, float]:
        """Validation metrics: always "val_loss", plus "val_accuracy" for classifiers. Does not
        change the training state (schedule-free optimizers switch to eval weights and back)."""
        ...


#: The longest task name, in UTF-8 bytes: the report's figure files start with it
#: (``<name>-lr-sensitivity.png``) and a file name has at most 255 bytes.
MAX_TASK_NAME_BYTES = 100


def task_name_problem(name: object) -> str:
    """What is wrong with a task name ("" when nothing is): it must be a non-empty str of at
    most :data:`MAX_TASK_NAME_BYTES` bytes in UTF-8, without control characters.

    >>> task_name_problem("digits-mlp"), task_name_problem("a" * 300)[:40]
    ('', 'a non-empty str of at most 100 bytes in ')
    """
    allowed = (
        f"a non-empty str of at most {MAX_TASK_NAME_BYTES} bytes in UTF-8 without control "
        f"characters (the report's file names start with it)"
    )
    if not isinstance(name, str) or not name.strip():
        return allowed
    if len(name.encode("utf-8", "surrogatepass")) > MAX_TASK_NAME_BYTES or any(
        ord(c) < 32 or ord(c) == 127 for c in name
    ):
        return allowed
    return ""


@dataclass(frozen=True)
class TaskSpec:
    """A bench task: defaults for a quick but meaningful run, the target, and ``make``.

    ``make(config)`` builds a fresh :class:`Trainer`; everything heavy (torch, sklearn, data)
    is imported or loaded inside ``make``, so building a spec is cheap. ``optimizers[0]`` is the
    default optimizer and ``lr`` its default peak LR; ``optimizer_lrs`` may give other optimizers
    their own default (see :meth:`lr_for`). ``batch_size`` and ``weight_decay`` document the
    defaults ``make`` uses (``weight_decay`` applies until a step sets it). A function task
    (:func:`lrkit.bench.task`) has ``function`` set (called with a :class:`lrkit.bench.Run`,
    ``make`` unused) and lists in ``needs`` the settings the user must give ("steps", "lr").

    Args:
        name: the task name (records, report, ``--task``).
        description: one line for listings.
        steps: the default step budget.
        lr: the default peak LR of ``optimizers[0]``.
        momentum: the default momentum (SGD) or ``betas[0]`` (Adam family), in [0, 1).
        eval_every: steps between two evaluations.
        target_metric: the metric of steps-to-target (``"val_loss"``, ``"val_accuracy"``).
        target_value: the value of ``target_metric`` that counts as reached.
        higher_is_better: the direction of ``target_metric``.
        optimizers: the optimizer names the task supports, the default first.
        requires: importable packages the task needs.
        make: ``make(config)`` builds a fresh :class:`Trainer` from a :class:`TaskConfig`.
        batch_size: the default batch size ``make`` uses, if any.
        weight_decay: the weight decay ``make`` uses until a step sets it.
        optimizer_lrs: ``(optimizer, lr)`` pairs: other optimizers' default peak LRs.
        function: the task function of a function task, else None.
        needs: the settings the user must give ("steps", "lr") for a function task.
        declared_optimizer: the optimizer a function task's own loop uses, as its decorator
            declares it (``@lrkit.bench.task(optimizer="adamw")``), else None; informational,
            read by the LR finder's per-optimizer-family rules (:meth:`optimizer_family`).

    >>> spec = TaskSpec(name="t", description="d", steps=10, lr=0.1, momentum=0.9, eval_every=5,
    ...     target_metric="val_loss", target_value=0.5, higher_is_better=False,
    ...     optimizers=("sgd", "adamw"), requires=(), make=lambda config: None,
    ...     optimizer_lrs=(("adamw", 0.001),))
    >>> spec.lr_for("sgd"), spec.lr_for("adamw")
    (0.1, 0.001)
    """

    name: str
    description: str
    steps: int
    lr: float
    momentum: float
    eval_every: int
    target_metric: str
    target_value: float
    higher_is_better: bool
    optimizers: tuple[str, ...]
    requires: tuple[str, ...]
    make: Callable[[TaskConfig], Trainer]
    batch_size: int | None = None
    weight_decay: float = 0.0
    optimizer_lrs: tuple[tuple[str, float], ...] = field(default=())
    function: Callable[[Any], None] | None = None
    needs: tuple[str, ...] = ()
    declared_optimizer: str | None = None

    def __post_init__(self) -> None:
        def bad(param: str, allowed: str) -> ValueError:
            value = getattr(self, param)
            return ValueError(f"TaskSpec({self.name!r}): {param} must be {allowed}, got {value!r}")

        why = task_name_problem(self.name)
        if why:
            raise bad("name", why)
        if not isinstance(self.description, str):
            raise bad("description", "a str")
        if not _is_int(self.steps) or self.steps < 1:
            raise bad("steps", "an int >= 1")
        if not _is_real(self.lr) or not math.isfinite(self.lr) or self.lr <= 0:
            raise bad("lr", "a finite float > 0")
        if not _is_real(self.momentum) or not 0 <= self.momentum < 1:
            raise bad("momentum", "a float in [0, 1)")
        if not _is_int(self.eval_every) or self.eval_every < 1:
            raise bad("eval_every", "an int >= 1")
        if not isinstance(self.target_metric, str) or not self.target_metric:
            raise bad("target_metric", "a non-empty str")
        if not _is_real(self.target_value) or not math.isfinite(self.target_value):
            raise bad("target_value", "a finite float")
        if not isinstance(self.higher_is_better, bool):
            raise bad("higher_is_better", "a bool")
        if (
            not isinstance(self.optimizers, tuple)
            or not self.optimizers
            or not all(isinstance(o, str) and o for o in self.optimizers)
        ):
            raise bad("optimizers", "a non-empty tuple of non-empty str")
        if not isinstance(self.requires, tuple) or not all(
            isinstance(r, str) for r in self.requires
        ):
            raise bad("requires", "a tuple of str (importable package names)")
        if not callable(self.make):
            raise bad("make", "a callable TaskConfig -> Trainer")
        if self.batch_size is not None and (not _is_int(self.batch_size) or self.batch_size < 1):
            raise bad("batch_size", "None or an int >= 1")
        if (
            not _is_real(self.weight_decay)
            or not math.isfinite(self.weight_decay)
            or self.weight_decay < 0
        ):
            raise bad("weight_decay", "a finite float >= 0")
        pairs = self.optimizer_lrs
        if not isinstance(pairs, tuple) or not all(
            isinstance(p, tuple)
            and len(p) == 2
            and p[0] in self.optimizers
            and _is_real(p[1])
            and math.isfinite(p[1])
            and p[1] > 0
            for p in pairs
        ):
            raise bad("optimizer_lrs", f"a tuple of (optimizer in {self.optimizers}, lr > 0) pairs")
        if self.function is not None and not callable(self.function):
            raise bad("function", "None or a callable taking a lrkit.bench.Run")
        if not isinstance(self.needs, tuple) or not set(self.needs) <= {"steps", "lr"}:
            raise bad("needs", "a tuple of 'steps' and/or 'lr'")
        if self.declared_optimizer is not None and (
            not isinstance(self.declared_optimizer, str) or not self.declared_optimizer
        ):
            raise bad("declared_optimizer", "None or a non-empty str")

    def lr_for(self, optimizer: str) -> float:
        """Default peak LR for ``optimizer``: its ``optimizer_lrs`` entry, else ``lr``."""
        if optimizer not in self.optimizers:
            raise ValueError(
                f"TaskSpec.lr_for: optimizer {optimizer!r} is not supported by task "
                f"{self.name!r}; allowed: {', '.join(self.optimizers)}"
            )
        return dict(self.optimizer_lrs).get(optimizer, self.lr)

    def check_config(self, config: TaskConfig) -> None:
        """Raise ValueError if ``config`` asks for an optimizer this task does not support."""
        if not isinstance(config, TaskConfig):
            raise TypeError(
                f"{self.name}: make() expects a TaskConfig, got {type(config).__name__}"
            )
        if config.optimizer not in self.optimizers:
            hint = ""
            if self.function is not None:
                hint = (
                    " (a function task's loop chooses its own optimizer; declare it for the LR "
                    "finder with @lrkit.bench.task(optimizer=...))"
                )
            raise ValueError(
                f"{self.name}: optimizer {config.optimizer!r} is not supported; "
                f"allowed: {', '.join(self.optimizers)}{hint}"
            )

    def optimizer_family(self, optimizer: str) -> str | None:
        """The optimizer family (``"sgd"``, ``"adam"``) of task optimizer ``optimizer`` for the
        LR finder's per-family rules (:data:`lrkit.finder.recommend.OPTIMIZER_FAMILIES`), or
        None when unknown: a function task's ``"own"`` optimizer maps through
        ``declared_optimizer``; a name outside the measured families (the schedule-free
        optimizers) gives None.

        >>> from lrkit.bench.tasks import get_task
        >>> spec = get_task("digits-mlp")
        >>> spec.optimizer_family("adamw"), spec.optimizer_family("sgd-schedulefree")
        ('adam', None)
        """
        from lrkit.finder.recommend import OPTIMIZER_FAMILIES

        name = self.declared_optimizer if self.function is not None else optimizer
        return OPTIMIZER_FAMILIES.get(name or "")


def check_hparams(task: str, hparams: Mapping[str, float]) -> dict[str, float]:
    """Validate a ``train_step`` hparams mapping and return it as a dict of floats.

    Keys must be among :data:`HPARAM_KEYS`; "lr" and "weight_decay" must be finite and >= 0,
    "momentum" finite in [0, 1).

    >>> check_hparams("demo", {"lr": 0.1, "momentum": 0.9})
    {'lr': 0.1, 'momentum': 0.9}
    >>> check_hparams("demo", {"beta": 0.9})
    Traceback (most recent call last):
    ...
    ValueError: demo.train_step: unknown hparam 'beta'; allowed: lr, momentum, weight_decay
    """
    if not isinstance(hparams, Mapping):
        raise TypeError(
            f"{task}.train_step: hparams must be a mapping of str to float, "
            f"got {type(hparams).__name__}"
        )
    out: dict[str, float] = {}
    for key, value in hparams.items():
        if key not in HPARAM_KEYS:
            raise ValueError(
                f"{task}.train_step: unknown hparam {key!r}; allowed: {', '.join(HPARAM_KEYS)}"
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{task}.train_step: hparam {key!r} must be a real number, got {value!r}"
            ) from None
        if isinstance(value, bool) or not math.isfinite(number):
            raise ValueError(
                f"{task}.train_step: hparam {key!r} must be a finite number, got {value!r}"
            )
        if key == "momentum" and not 0.0 <= number < 1.0:
            raise ValueError(
                f"{task}.train_step: hparam 'momentum' must be in [0, 1), got {value!r}"
            )
        if key != "momentum" and number < 0.0:
            raise ValueError(f"{task}.train_step: hparam {key!r} must be >= 0, got {value!r}")
        out[key] = number
    return out


def _installed(package: str) -> bool:
    if package in sys.modules:
        return sys.modules[package] is not None
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def require(task: str, *packages: str) -> None:
    """Raise ImportError naming the missing package(s) if any of ``packages`` is not installed."""
    missing = [p for p in packages if not _installed(p)]
    if missing:
        raise ImportError(
            f"task {task!r} needs the package(s) {', '.join(missing)}, which are not installed; "
            f"install them (e.g. pip install 'lrkit[bench]')"
        )


def missing_requirements(spec: TaskSpec) -> list[str]:
    """The packages in ``spec.requires`` that are not importable here (empty when runnable).

    >>> from lrkit.bench.tasks import get_task
    >>> missing_requirements(get_task("digits-numpy")) in ([], ["sklearn"])
    True
    """
    return [p for p in spec.requires if not _installed(p)]

"""Bench task protocol: TaskConfig, Trainer, TaskSpec and the task registry (framework-free).

A task owns model, data and optimizer; the bench runner owns the loop, the schedules and the
logging. The runner asks a :class:`TaskSpec` for a :class:`Trainer` (``spec.make(config)``), then
calls ``trainer.train_step({"lr": ..., "momentum": ...})`` once per step and
``trainer.evaluate()`` every ``spec.eval_every`` steps.

>>> from lrkit.bench.tasks import get_task, task_names
>>> task_names()
['charlm', 'digits-mlp', 'digits-numpy', 'synthetic-linear']
>>> spec = get_task("digits-numpy")
>>> spec.target_metric, spec.higher_is_better, spec.optimizers
('val_accuracy', True, ('sgd',))
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import re
import sys
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

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
    model, data and optimizer."""

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

    def __post_init__(self) -> None:
        def bad(param: str, allowed: str) -> ValueError:
            value = getattr(self, param)
            return ValueError(f"TaskSpec({self.name!r}): {param} must be {allowed}, got {value!r}")

        if not isinstance(self.name, str) or not self.name:
            raise bad("name", "a non-empty str")
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
            raise ValueError(
                f"{self.name}: optimizer {config.optimizer!r} is not supported; "
                f"allowed: {', '.join(self.optimizers)}"
            )


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

    >>> missing_requirements(get_task("digits-numpy")) in ([], ["sklearn"])
    True
    """
    return [p for p in spec.requires if not _installed(p)]


# Built-in tasks are loaded through the same "module:factory" path as user tasks, so listing
# or looking them up imports no framework.
_BUILTIN: dict[str, str] = {
    "synthetic-linear": "lrkit.bench.tasks.synthetic_linear:task",
    "digits-mlp": "lrkit.bench.tasks.digits_mlp:task",
    "digits-numpy": "lrkit.bench.tasks.digits_numpy:task",
    "charlm": "lrkit.bench.tasks.charlm:task",
}

_FILE_RE = re.compile(r"^.+\.py:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_PATH_RE = re.compile(
    r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$"
)


def task_names() -> list[str]:
    """Names of the built-in tasks, sorted."""
    return sorted(_BUILTIN)


def _import_file(path: str, origin: str) -> ModuleType:
    """Import a task file by path (once per process); its folder goes on sys.path so the file
    can import its neighbours."""
    file = Path(path).expanduser().resolve()
    if not file.is_file() and Path(file.name).is_file():
        file = Path(file.name).resolve()  # a Ray worker: the folder came as its working dir
    if not file.is_file():
        raise ImportError(f"get_task({origin!r}): task file {str(file)!r} does not exist")
    digest = zlib.crc32(str(file).encode())
    stem = re.sub(r"\W", "_", file.stem)
    module_name = f"_lrkit_task_{stem}_{digest:08x}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    folder = str(file.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"get_task({origin!r}): cannot load {str(file)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: say which one failed, and how
        del sys.modules[module_name]
        raise ImportError(
            f"get_task({origin!r}): importing task file {str(file)!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _import_module(path: str, origin: str) -> tuple[ModuleType, str]:
    if _FILE_RE.match(path):
        file, attr = path.rsplit(":", 1)
        return _import_file(file, origin), attr
    match = _PATH_RE.match(path)
    if match is None:
        raise ValueError(
            f"get_task: {origin!r} is neither a built-in task ({', '.join(task_names())}) nor a "
            f"user task 'package.module:factory' or 'path/to/file.py:function'"
        )
    module_name = match.group("module")
    try:
        return importlib.import_module(module_name), match.group("attr")
    except ModuleNotFoundError as exc:
        # `lrkit` is a console script, so the current folder is not on sys.path as it is for
        # `python -m`; a package next to the user (./mypkg) is what they mean
        top = module_name.split(".")[0]
        cwd = os.getcwd()
        here = Path(cwd, top).is_dir() or Path(cwd, f"{top}.py").is_file()
        if exc.name != top or not here or cwd in sys.path:
            hint = (
                f" (is {top!r} installed, or its folder on PYTHONPATH?)" if exc.name == top else ""
            )
            raise ImportError(
                f"get_task({origin!r}): cannot import module {module_name!r}: {exc}{hint}"
            ) from exc
        sys.path.insert(0, cwd)
        return _import_module(path, origin)
    except ImportError as exc:
        raise ImportError(
            f"get_task({origin!r}): cannot import module {module_name!r}: {exc}"
        ) from exc
    except Exception as exc:  # the module raised while importing
        raise ImportError(
            f"get_task({origin!r}): importing module {module_name!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _missing_attr(module: ModuleType, attr: str, origin: str) -> str:
    """The error for ``file.py:name`` / ``module:name`` without ``name``: the file or module it
    looked in, and the task functions found there (a close match first)."""
    import difflib
    import inspect

    from lrkit.bench.api import FunctionTask

    is_file = module.__name__.startswith("_lrkit_task_")
    where = f"task file {module.__file__!r}" if is_file else f"module {module.__name__!r}"
    found = sorted(
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (
            isinstance(v, FunctionTask)
            or (inspect.isfunction(v) and v.__module__ == module.__name__)
        )
    )
    msg = f"get_task({origin!r}): {where} has no attribute {attr!r}"
    close = difflib.get_close_matches(attr, found, n=1)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    if found:
        msg += f" (functions there: {', '.join(found)})"
    return msg


def _load(path: str, origin: str) -> TaskSpec:
    from lrkit.bench.api import as_function_task

    module, attr = _import_module(path, origin)
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(_missing_attr(module, attr, origin)) from None
    function_task = as_function_task(obj)
    if function_task is not None:
        return function_task.to_spec(origin)
    if not callable(obj):
        raise TypeError(
            f"get_task({origin!r}): {attr} must be a callable returning a TaskSpec or a task "
            f"function (taking a lrkit.bench.Run), got {type(obj).__name__}"
        )
    spec = obj()
    if not isinstance(spec, TaskSpec):
        raise TypeError(
            f"get_task({origin!r}): {attr}() must return a "
            f"lrkit.bench.tasks.TaskSpec, got {type(spec).__name__}"
        )
    return spec


def get_task(name_or_path: str) -> TaskSpec:
    """The :class:`TaskSpec` for a built-in task name or a user task.

    A user task is ``"package.module:attr"`` or ``"path/to/file.py:attr"``: a task function
    (decorated with :func:`lrkit.bench.task`, or a plain function of one argument, the run),
    or a factory called with no arguments that returns a TaskSpec. Errors: ValueError
    for an unknown name or a malformed path, ImportError naming the module that cannot be
    imported (or lacks the factory), TypeError when the factory does not return a TaskSpec.

    >>> get_task("synthetic-linear").steps
    300
    >>> get_task("no-such-task")
    Traceback (most recent call last):
    ...
    ValueError: get_task: 'no-such-task' is neither a built-in task (charlm, digits-mlp, \
digits-numpy, synthetic-linear) nor a user task 'package.module:factory' or \
'path/to/file.py:function'
    """
    if not isinstance(name_or_path, str):
        raise TypeError(
            f"get_task: name_or_path must be a str (task name or 'package.module:factory'), "
            f"got {type(name_or_path).__name__}"
        )
    builtin = _BUILTIN.get(name_or_path)
    return _load(builtin if builtin is not None else name_or_path.strip(), name_or_path)

"""A bench task as a plain function: the user keeps the training loop, lrkit gives each run its
schedule (:class:`Run`) and records what the loop logs.

.. code-block:: python

    import lrkit.bench as lb

    @lb.task(name="toy", steps=100, lr=0.1, target=("val_loss", 0.05))
    def train(run: lb.Run) -> None:
        ...  # run.lr, run.scheduler(opt) or run.hparams(step); run.log; run.evaluate

``lrkit bench -t path/to/file.py:train`` (or ``-t package.module:train``) runs it; the decorator
is optional (``steps`` then comes from ``--steps`` and ``lr`` from ``--lr``).

>>> import lrkit
>>> run = Run(seed=0, steps=4, lr=0.1, schedule=lrkit.linear(0.1, 0.0, steps=4), eval_every=3)
>>> [round(run.hparams(t)["lr"], 6) for t in range(4)]
[0.1, 0.075, 0.05, 0.025]
>>> run.should_evaluate(1), run.should_evaluate(3)
(False, True)
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from lrkit.core import Schedule

if TYPE_CHECKING:
    from lrkit.bench.tasks.base import TaskSpec
    from lrkit.plateau import Plateau

__all__ = ["OWN_OPTIMIZER", "Diverged", "FunctionTask", "Run", "as_function_task", "task"]

#: The optimizer name recorded for function tasks: the loop chooses its own optimizer.
OWN_OPTIMIZER = "own"


class Diverged(Exception):
    """Raised by :meth:`Run.log` on a non-finite training loss; ends the run as "diverged".

    A task function may raise it itself (a loss it cannot compute); the runner records the run
    as diverged instead of failed.

    Args:
        *args: the message, as for ``Exception``.

    >>> import lrkit
    >>> run = Run(seed=0, steps=2, lr=0.1, schedule=lrkit.constant(0.1))
    >>> try:
    ...     run.log(0, loss=float("inf"))
    ... except Diverged as err:
    ...     print(err)
    task 'task': training loss at step 0 is inf
    """


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _real(where: str, what: str, value: object) -> float:
    """``value`` as a float when it is a real number: an int, a float, a numpy scalar or a
    one-element array or tensor; TypeError otherwise (a str such as "1.5", a bool, None).

    >>> _real("Run.log", "loss", 2), _real("Run.log", "loss", np.float32(0.5))
    (2.0, 0.5)
    >>> _real("Run.log", "loss", "1.5")
    Traceback (most recent call last):
    ...
    TypeError: Run.log: loss must be a real number (float, int, numpy scalar or 1-element tensor), got str '1.5'
    """
    if not isinstance(value, bool | str | bytes | bytearray) and value is not None:
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    raise TypeError(
        f"{where}: {what} must be a real number (float, int, numpy scalar or 1-element "
        f"tensor), got {type(value).__name__} {value!r:.60}"
    )


def _bad(where: str, param: str, value: object, allowed: str) -> ValueError:
    return ValueError(f"{where}: {param}={_short(value)} is invalid; {param} must be {allowed}")


def _short(value: object) -> str:
    """``repr(value)``, cut to 60 characters.

    >>> _short("a" * 100)
    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'"
    """
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:56]}...{text[-1]}"


class Run:
    """One bench run as the task function sees it.

    ``lr`` is the run's peak LR; ``schedule`` the LR schedule (peak-scaled, bound to ``steps``)
    and ``momentum_schedule`` the momentum one (None when the suite entry has none). The value
    for step ``t`` (0-based, the ``t``-th optimizer step) is ``schedule(t)``, times the
    reductions of the entry's plateau controller, which :meth:`evaluate` feeds with
    ``val_loss``. ``device`` is the torch device string to use ("cpu", or "cuda" with
    ``--gpus-per-run``).

    Args:
        seed: the run's seed (fix model initialisation and data order from it).
        steps: the step budget.
        lr: the peak LR.
        schedule: bound LR schedule.
        momentum_schedule: bound momentum schedule, or None.
        plateau: plateau controller of the suite entry, or None.
        eval_every: evaluation period of :meth:`should_evaluate`.
        device: torch device string.
        target: (metric, value, higher_is_better) for steps-to-target.
        name: the task name (error messages).

    >>> import lrkit
    >>> run = Run(seed=1, steps=3, lr=0.5, schedule=lrkit.constant(0.5))
    >>> run.log(0, loss=1.0); run.log(1, loss=float("nan"))
    Traceback (most recent call last):
    ...
    lrkit.bench.api.Diverged: task 'task': training loss at step 1 is nan
    """

    def __init__(
        self,
        *,
        seed: int,
        steps: int,
        lr: float,
        schedule: Schedule,
        momentum_schedule: Schedule | None = None,
        plateau: Plateau | None = None,
        eval_every: int | None = None,
        device: str = "cpu",
        target: tuple[str, float, bool] | None = None,
        name: str = "task",
    ) -> None:
        if not _is_int(steps) or steps < 1:
            raise _bad("Run", "steps", steps, "an int >= 1")
        every = eval_every if eval_every is not None else max(1, steps // 10)
        if not _is_int(every) or every < 1:
            raise _bad("Run", "eval_every", eval_every, "None or an int >= 1")
        self.seed = seed
        self.steps = steps
        self._peak = float(lr)
        self._schedule = schedule
        self.momentum_schedule = momentum_schedule
        self.eval_every = every
        self.device = device
        self.name = name
        self._plateau = plateau
        self._target = target
        grid = np.arange(steps)
        self._lrs: list[float] = np.asarray(schedule(grid), dtype=np.float64).tolist()
        self._moms: list[float] | None = None
        if momentum_schedule is not None:
            self._moms = np.asarray(momentum_schedule(grid), dtype=np.float64).tolist()
        # what the loop reported
        self.loss_steps: list[int] = []
        self.losses: list[float] = []
        self.lrs_used: list[float] = []
        self.eval_steps: list[int] = []
        self.metrics: dict[str, list[float | None]] = {}
        self.steps_to_target: int | None = None
        self.diverged = False
        self.own_time = 0.0  # seconds spent inside log/evaluate
        self.schedulers: list[Any] = []  # those handed out by scheduler(), checked at the end
        # what the loop read of its LR: the schedule (any of schedule, scheduler(), hparams(),
        # lr_at()) or only the peak ``lr``; the runner refuses a run that read no schedule
        self.read_schedule = False
        self.read_peak = False

    @property
    def lr(self) -> float:
        """The run's peak LR (what ``schedule`` starts from or peaks at)."""
        self.read_peak = True
        return self._peak

    @property
    def schedule(self) -> Schedule:
        """The bound LR schedule, peak-scaled (for optax, Keras or numpy loops)."""
        self.read_schedule = True
        return self._schedule

    # -- values ------------------------------------------------------------------------------
    def _check_step(self, where: str, step: object) -> int:
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < self.steps:
            raise _bad(f"Run.{where}", "step", step, f"an int in [0, {self.steps})")
        return step

    def lr_at(self, step: int) -> float:
        """The LR of step ``step``: ``schedule(step)`` after the plateau reductions so far."""
        self.read_schedule = True
        return self._lr(self._check_step("lr_at", step))

    def _lr(self, step: int) -> float:
        lr = self._lrs[step]
        return self._plateau.apply(lr) if self._plateau is not None else lr

    def hparams(self, step: int) -> dict[str, float]:
        """``{"lr": ..., "momentum": ...}`` for step ``step`` (framework-free loops).

        >>> import lrkit
        >>> Run(seed=0, steps=2, lr=1.0, schedule=lrkit.constant(1.0)).hparams(0)
        {'lr': 1.0}
        """
        out = {"lr": self.lr_at(step)}
        if self._moms is not None:
            out["momentum"] = self._moms[step]
        return out

    def scheduler(self, optimizer: Any) -> Any:
        """An :class:`lrkit.torch.Scheduler` driving ``optimizer``: the LR schedule, the
        momentum schedule (SGD ``momentum``, ``betas[0]`` for Adam-family optimizers) and the
        plateau controller. Call its ``step()`` after each ``optimizer.step()``; do not call its
        ``report`` (``run.evaluate`` feeds the plateau)."""
        from lrkit.torch import Scheduler

        self.read_schedule = True
        spec: dict[str, Schedule] = {"lr": self._schedule}
        if self.momentum_schedule is not None:
            groups = getattr(optimizer, "param_groups", None) or [{}]
            if not any(k in groups[0] for k in ("momentum", "betas")):
                raise ValueError(
                    f"task {self.name!r}: this schedule also schedules momentum, but "
                    f"{type(optimizer).__name__} has neither 'momentum' nor 'betas'; use an "
                    f"optimizer with momentum, or leave such schedules out (e.g. --only NAME)"
                )
            spec["momentum"] = self.momentum_schedule
        sched = Scheduler(optimizer, spec, plateau=self._plateau)
        self.schedulers.append(sched)
        return sched

    def should_evaluate(self, step: int) -> bool:
        """True after every ``eval_every``-th step and after the last one."""
        done = step + 1
        return done % self.eval_every == 0 or done == self.steps

    # -- reporting ---------------------------------------------------------------------------
    def log(self, step: int, *, loss: float) -> None:
        """Record the training loss of step ``step`` (0-based); a non-finite loss raises
        :class:`Diverged`, which ends the run with status "diverged"."""
        a = time.perf_counter()
        t = self._check_step("log", step)
        value = _real("Run.log", "loss", loss)
        self.loss_steps.append(t)
        self.losses.append(value)
        self.lrs_used.append(self._lr(t))
        self.own_time += time.perf_counter() - a
        if not math.isfinite(value):
            self.diverged = True
            raise Diverged(f"task {self.name!r}: training loss at step {t} is {value}")

    def evaluate(self, step: int, **metrics: float) -> None:
        """Record validation metrics after step ``step`` (recorded at ``step + 1`` steps done).

        ``val_loss`` feeds the plateau controller (required when the entry has one); the target
        metric gives steps-to-target; ``val_loss`` gives the AUC of the report.
        """
        a = time.perf_counter()
        done = self._check_step("evaluate", step) + 1
        values = {key: _real("Run.evaluate", f"metric {key!r}", v) for key, v in metrics.items()}
        n_before = len(self.eval_steps)
        self.eval_steps.append(done)
        for key, value in values.items():
            series = self.metrics.setdefault(key, [None] * n_before)
            series.append(value if math.isfinite(value) else None)
        for series in self.metrics.values():
            if len(series) < len(self.eval_steps):
                series.append(None)
        self._check_target(done, values)
        if self._plateau is not None:
            if "val_loss" not in values:
                raise ValueError(
                    f"task {self.name!r}: this schedule has a plateau controller, which needs "
                    f"run.evaluate(step, val_loss=...)"
                )
            self._plateau.report(values["val_loss"])
        self.own_time += time.perf_counter() - a

    def _check_target(self, done: int, values: Mapping[str, float]) -> None:
        if self._target is None or self.steps_to_target is not None:
            return
        metric, target, higher = self._target
        v = values.get(metric)
        if v is not None and math.isfinite(v) and (v >= target if higher else v <= target):
            self.steps_to_target = done


@dataclass(frozen=True)
class FunctionTask:
    """A task function with its bench metadata (what :func:`task` returns).

    Calling it calls the function. ``steps``/``lr`` None mean "from ``--steps``/``--lr``";
    ``target`` is ``(metric, value)``, ``higher_is_better`` None means "True for a metric
    whose name holds 'acc', else False".

    Args:
        fn: the task function, called with a :class:`Run`.
        name: the task name (no ``:``, ``/`` or ``\\``).
        steps: default step budget, or None (``--steps``).
        lr: default peak LR, or None (``--lr``).
        eval_every: evaluation period of ``run.should_evaluate`` (None: steps // 10).
        target: ``(metric, value)`` for steps-to-target, or None.
        higher_is_better: direction of the target metric, or None (guessed from its name).
        description: one line for listings ("": the docstring's first line).
        requires: importable packages the task needs.
        optimizer: the optimizer the loop uses, one of
            :data:`lrkit.finder.recommend.OPTIMIZER_FAMILIES` (``"sgd"``, ``"adam"``,
            ``"adamw"``), or None (unknown); informational: the LR finder reads its family for
            the rules with a multiplier per optimizer family.

    >>> def toy(run: Run) -> None:
    ...     pass
    >>> spec = FunctionTask(toy, name="toy", target=("val_accuracy", 0.9)).to_spec("x.py:toy")
    >>> spec.needs, spec.higher_is_better
    (('steps', 'lr'), True)
    """

    fn: Callable[[Run], None]
    name: str
    steps: int | None = None
    lr: float | None = None
    eval_every: int | None = None
    target: tuple[str, float] | None = None
    higher_is_better: bool | None = None
    description: str = ""
    requires: tuple[str, ...] = ()
    optimizer: str | None = None

    def __post_init__(self) -> None:
        from lrkit.bench.tasks.base import task_name_problem
        from lrkit.finder.recommend import OPTIMIZER_FAMILIES

        where = f"lrkit.bench.task({_short(self.name)})"
        if task_name_problem(self.name) or any(c in self.name for c in ":/\\"):
            raise _bad(
                where,
                "name",
                self.name,
                f"{task_name_problem('')}, and without ':', '/' or '\\'",
            )
        if self.steps is not None and (not _is_int(self.steps) or self.steps < 1):
            raise _bad(where, "steps", self.steps, "None or an int >= 1")
        if self.lr is not None and (
            isinstance(self.lr, bool)
            or not isinstance(self.lr, int | float)
            or not math.isfinite(self.lr)
            or self.lr <= 0
        ):
            raise _bad(where, "lr", self.lr, "None or a finite number > 0")
        if self.eval_every is not None and (not _is_int(self.eval_every) or self.eval_every < 1):
            raise _bad(where, "eval_every", self.eval_every, "None or an int >= 1")
        t = self.target
        if t is not None and not (
            isinstance(t, tuple)
            and len(t) == 2
            and isinstance(t[0], str)
            and t[0]
            and isinstance(t[1], int | float)
            and not isinstance(t[1], bool)
            and math.isfinite(t[1])
        ):
            raise _bad(where, "target", t, "None or a (metric name, finite value) pair")
        if self.optimizer is not None and self.optimizer not in OPTIMIZER_FAMILIES:
            import difflib

            close = difflib.get_close_matches(str(self.optimizer), OPTIMIZER_FAMILIES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _bad(
                where,
                "optimizer",
                self.optimizer,
                f"None or one of {', '.join(map(repr, OPTIMIZER_FAMILIES))}{hint}; for another "
                f"optimizer leave it out (the finder then uses the unknown family's multiplier)",
            )

    def __call__(self, run: Run) -> None:
        """Run the task function."""
        self.fn(run)

    def to_spec(self, source: str) -> TaskSpec:
        """The :class:`~lrkit.bench.tasks.TaskSpec` the bench driver plans with.

        Missing ``steps``/``lr`` become placeholders listed in ``TaskSpec.needs`` (the driver
        asks for ``--steps``/``--lr``); without a target, steps-to-target uses val_loss ≤ 0.
        """
        from lrkit.bench.tasks.base import TaskSpec

        metric, value = self.target if self.target is not None else ("val_loss", 0.0)
        higher = self.higher_is_better
        if higher is None:
            higher = "acc" in metric
        steps = self.steps or 1000
        every = self.eval_every or max(1, steps // 10)

        def make(config: Any) -> Any:
            raise TypeError(
                f"task {self.name!r} is a function task ({source}); it has no Trainer, so it "
                f"cannot run an LR range test (--lr-from-finder); use --tune-lr"
            )

        return TaskSpec(
            name=self.name,
            description=self.description or (inspect.getdoc(self.fn) or "").split("\n")[0],
            steps=steps,
            lr=float(self.lr or 1.0),
            momentum=0.0,
            eval_every=every,
            target_metric=metric,
            target_value=float(value),
            higher_is_better=higher,
            optimizers=(OWN_OPTIMIZER,),
            requires=tuple(self.requires),
            make=make,
            function=self,
            needs=tuple(n for n in ("steps", "lr") if getattr(self, n) is None),
            declared_optimizer=self.optimizer,
        )


@overload
def task(fn: Callable[[Run], None], /) -> FunctionTask: ...


@overload
def task(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    steps: int | None = None,
    lr: float | None = None,
    eval_every: int | None = None,
    target: tuple[str, float] | None = None,
    higher_is_better: bool | None = None,
    description: str = "",
    requires: tuple[str, ...] = (),
    optimizer: str | None = None,
) -> Callable[[Callable[[Run], None]], FunctionTask]: ...


def task(
    fn: Callable[[Run], None] | None = None,
    /,
    *,
    name: str | None = None,
    steps: int | None = None,
    lr: float | None = None,
    eval_every: int | None = None,
    target: tuple[str, float] | None = None,
    higher_is_better: bool | None = None,
    description: str = "",
    requires: tuple[str, ...] = (),
    optimizer: str | None = None,
) -> FunctionTask | Callable[[Callable[[Run], None]], FunctionTask]:
    """Mark ``fn(run)`` as a bench task; every argument is optional.

    Args:
        fn: the task function (when used as ``@task`` without parentheses).
        name: the name in records and the report (default: the function's name).
        steps: default step budget (else ``--steps`` is required).
        lr: default peak LR (else ``--lr`` is required).
        eval_every: evaluation period of ``run.should_evaluate`` (default steps // 10).
        target: ``(metric, value)`` for steps-to-target, e.g. ``("val_accuracy", 0.97)``.
        higher_is_better: direction of the target metric (default: True for accuracies).
        description: one line for listings (default: the docstring's first line).
        requires: importable packages the task needs.
        optimizer: the optimizer the loop uses (``"sgd"``, ``"adam"`` or ``"adamw"``; default
            None, unknown), for the LR finder's rules with a multiplier per optimizer family
            (``lrkit find``, ``--lr-from-finder``); lrkit does not create or check it.

    >>> @task(steps=10, lr=0.1)
    ... def toy(run: Run) -> None:
    ...     pass
    >>> toy.name, toy.steps, toy.to_spec("x.py:toy").needs
    ('toy', 10, ())
    """

    def wrap(f: Callable[[Run], None]) -> FunctionTask:
        if not callable(f):
            raise TypeError(f"lrkit.bench.task: expected a function, got {type(f).__name__}")
        return FunctionTask(
            fn=f,
            name=name or str(getattr(f, "__name__", "task")),
            steps=steps,
            lr=lr,
            eval_every=eval_every,
            target=tuple(target) if target is not None else None,  # type: ignore[arg-type]
            higher_is_better=higher_is_better,
            description=description,
            requires=tuple(requires),
            optimizer=optimizer,
        )

    return wrap(fn) if fn is not None else wrap


def as_function_task(obj: object) -> FunctionTask | None:
    """``obj`` as a :class:`FunctionTask`: itself, or a plain function taking one argument
    (the run) wrapped with default metadata; None for anything else (e.g. a TaskSpec factory).

    Args:
        obj: what a ``"module:attr"`` task path names.

    >>> def train(run: Run) -> None:
    ...     pass
    >>> as_function_task(train).name, as_function_task(lambda: None)
    ('train', None)
    """
    if isinstance(obj, FunctionTask):
        return obj
    if not inspect.isfunction(obj):
        return None
    params = [
        p
        for p in inspect.signature(obj).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return task(obj) if len(params) == 1 else None

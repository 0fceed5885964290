"""The bench runner: one (task, schedule, seed) run as a pure function of a :class:`Job`.

The runner owns the loop. The whole LR (and momentum) curve is computed up front with one
vectorised call ``schedule(np.arange(steps))``; only a plateau controller multiplies at run
time, after each evaluation. The record it returns is what one line of runs.jsonl holds.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lrkit.bench.execution.records import RECORD_VERSION, decimate, finite_or_none, run_key
from lrkit.bench.planning.suite import SuiteEntry

__all__ = ["Job", "error_record", "make_job", "run_job"]


@dataclass(frozen=True)
class Job:
    """Everything a worker needs for one run (primitives and a :class:`SuiteEntry`).

    ``task`` is the task's name; ``source`` where a worker loads it from (empty: ``task``).
    """

    task: str
    entry: SuiteEntry
    lr_text: str
    momentum_text: str | None
    peak_lr: float
    seed: int
    steps: int
    eval_every: int
    optimizer: str
    batch_size: int | None
    purpose: str
    key: str
    target_metric: str
    target_value: float
    higher_is_better: bool
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    source: str = ""
    device: str = "cpu"


def make_job(
    *,
    task: str,
    entry: SuiteEntry,
    peak_lr: float,
    seed: int,
    steps: int,
    eval_every: int,
    optimizer: str,
    batch_size: int | None,
    purpose: str,
    target_metric: str,
    target_value: float,
    higher_is_better: bool,
    source: str = "",
    device: str = "cpu",
) -> Job:
    """A :class:`Job` with its key (canonical schedule texts, so spelling does not matter).

    ``task`` is the task's name (records, key, report); ``source`` where to load it from
    (built-in name, ``pkg.module:attr`` or ``file.py:attr``; empty means ``task``);
    ``device`` the torch device a function task's ``run.device`` reports.
    """
    lr_text, mom_text = entry.canonical_texts()
    key = run_key(
        task=task,
        lr_text=lr_text,
        momentum_text=mom_text,
        plateau=entry.plateau,
        peak_lr=peak_lr,
        seed=seed,
        steps=steps,
        optimizer=optimizer,
        eval_every=eval_every,
        batch_size=batch_size,
    )
    return Job(
        task=task,
        entry=entry,
        lr_text=lr_text,
        momentum_text=mom_text,
        peak_lr=float(peak_lr),
        seed=seed,
        steps=steps,
        eval_every=eval_every,
        optimizer=optimizer,
        batch_size=batch_size,
        purpose=purpose,
        key=key,
        target_metric=target_metric,
        target_value=target_value,
        higher_is_better=higher_is_better,
        source=source,
        device=device,
    )


def _base_record(job: Job) -> dict[str, Any]:
    return {
        "v": RECORD_VERSION,
        "key": job.key,
        "purpose": job.purpose,
        "task": job.task,
        "schedule": job.entry.name,
        "lr_text": job.lr_text,
        "momentum_text": job.momentum_text,
        "plateau": dict(job.entry.plateau) if job.entry.plateau else None,
        "optimizer": job.optimizer,
        "peak_lr": job.peak_lr,
        "seed": job.seed,
        "steps": job.steps,
        "eval_every": job.eval_every,
        "batch_size": job.batch_size,
        "target": {
            "metric": job.target_metric,
            "value": job.target_value,
            "higher_is_better": job.higher_is_better,
        },
    }


def error_record(job: Job, exc: BaseException) -> dict[str, Any]:
    """The record of a run that raised: status "error" (retried on the next invocation)."""
    rec = _base_record(job)
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    rec.update(
        status="error",
        error=f"{type(exc).__name__}: {exc}",
        traceback=tb[-4000:],
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return rec


def _loss_value(loss: object, task: str, step: int) -> float:
    """``train_step``'s return value as a float; TypeError naming ``train_step`` otherwise.

    Accepted: a real number (not a bool) or a one-element array/tensor that needs no grad.
    """
    if isinstance(loss, bool | str | bytes):
        raise TypeError(
            f"{task}.train_step must return the batch loss as a float, got "
            f"{type(loss).__name__} {loss!r} at step {step}"
        )
    if getattr(loss, "requires_grad", False):
        raise TypeError(
            f"{task}.train_step must return the batch loss as a float, got a tensor that "
            f"requires grad at step {step}; return loss.item() (or loss.detach())"
        )
    try:
        return float(loss)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(
            f"{task}.train_step must return the batch loss as a float, got "
            f"{type(loss).__name__} at step {step}"
        ) from None


def _reached(value: float, target: float, higher: bool) -> bool:
    return value >= target if higher else value <= target


def run_job(job: Job) -> dict[str, Any]:
    """Run one job and return its record; exceptions become an "error" record.

    A non-finite training loss stops the run: status "diverged", final metrics None. A task
    that changes the working folder (``os.chdir``) changes it for its own run only.
    """
    cwd = os.getcwd()
    try:
        return _run(job)
    except Exception as exc:
        return error_record(job, exc)
    except SystemExit as exc:  # the task called exit(): an error for this run, not the bench
        return error_record(job, RuntimeError(f"the run called exit({exc.code!r})"))
    finally:
        with contextlib.suppress(OSError):  # the next run finds relative task paths again
            os.chdir(cwd)


@dataclass
class _Trace:
    """What one run produced, whoever owned the loop (the runner or a task function)."""

    loss_steps: list[int]
    losses: list[float]
    lr_used: list[float]
    momentum: list[float] | None
    eval_steps: list[int]
    metrics: dict[str, list[float | None]]
    steps_to_target: int | None
    diverged: bool
    bound_lr_text: str
    plateau_reductions: int | None
    inside: float


def _spec_for(job: Job) -> Any:
    from lrkit.bench.tasks import get_task

    return get_task(job.source or job.task)


def _run(job: Job) -> dict[str, Any]:
    t_start = time.perf_counter()
    spec = _spec_for(job)
    if spec.function is not None:
        return _run_function(job, spec.function, t_start)
    from lrkit.bench.tasks import TaskConfig

    trainer = spec.make(
        TaskConfig(seed=job.seed, optimizer=job.optimizer, batch_size=job.batch_size, threads=1)
    )
    t_loop = time.perf_counter()
    trace = _trainer_loop(job, trainer)
    return _finish(job, trace, t_start, t_loop)


def _run_function(job: Job, function: Any, t_start: float) -> dict[str, Any]:
    """Call a function task with its :class:`~lrkit.bench.api.Run`; a :class:`Diverged`
    raised by ``run.log`` ends it as "diverged"."""
    from lrkit.bench.api import Diverged, Run

    lr_sched, mom_sched = job.entry.build(job.peak_lr, job.steps)
    plateau = job.entry.make_plateau()
    run = Run(
        seed=job.seed,
        steps=job.steps,
        lr=job.peak_lr,
        schedule=lr_sched,
        momentum_schedule=mom_sched,
        plateau=plateau,
        eval_every=job.eval_every,
        device=job.device,
        target=(job.target_metric, job.target_value, job.higher_is_better)
        if function.target is not None
        else None,
        name=job.task,
    )
    t_loop = time.perf_counter()
    try:
        function(run)
    except Diverged:
        run.diverged = True
    _check_function_run(job, function, run)
    moms = None
    if mom_sched is not None:
        moms = np.asarray(mom_sched(np.asarray(run.loss_steps)), dtype=np.float64).tolist()
    trace = _Trace(
        loss_steps=run.loss_steps,
        losses=run.losses,
        lr_used=run.lrs_used,
        momentum=moms,
        eval_steps=run.eval_steps,
        metrics=run.metrics,
        steps_to_target=run.steps_to_target,
        diverged=run.diverged,
        bound_lr_text=str(lr_sched),
        plateau_reductions=plateau.reductions if plateau is not None else None,
        inside=max(time.perf_counter() - t_loop - run.own_time, 0.0),
    )
    rec = _finish(job, trace, t_start, t_loop)
    if function.target is None:
        rec["target"] = None  # no target: the report leaves out steps-to-target
    return rec


def _check_function_run(job: Job, function: Any, run: Any) -> None:
    """Raise a ValueError saying what a function task forgot: log, step the scheduler,
    evaluate, or pass its declared target metric."""
    if not run.losses:
        raise ValueError(
            f"task {job.task!r} logged no training loss; call run.log(step, loss=...) each step"
        )
    _check_scheduler_steps(job, run)
    if not run.eval_steps and not run.diverged:
        raise ValueError(
            f"task {job.task!r} made no evaluation, so the report has nothing to rank; call "
            f"run.evaluate(step, val_loss=...) when run.should_evaluate(step) is True"
        )
    if function.target is not None and not run.diverged and job.target_metric not in run.metrics:
        raise ValueError(
            f"task {job.task!r} declares target=({job.target_metric!r}, {job.target_value:g}) "
            f"but never passed {job.target_metric}=... to run.evaluate (it passed: "
            f"{', '.join(sorted(run.metrics))})"
        )
    if not run.read_schedule:
        # the record would show the schedule's LR curve; the optimizer ran on something else
        what = "read only run.lr (the peak LR)" if run.read_peak else "never read its LR"
        raise ValueError(
            f"task {job.task!r} {what}, so it did not train with the schedule "
            f"{job.entry.name!r}; drive the optimizer with run.scheduler(opt) (torch), "
            f"run.schedule (optax, Keras) or run.hparams(step)['lr']"
        )


def _check_scheduler_steps(job: Job, run: Any) -> None:
    """A scheduler from ``run.scheduler(opt)`` must have reached the last step the loop made:
    ``run.steps - 1`` (the last step's LR), or the last logged step of a diverged run."""
    if not run.schedulers or not run.loss_steps:
        return
    need = max(run.loss_steps) if run.diverged else run.steps - 1
    made = max(int(s.last_epoch) for s in run.schedulers)
    if made < need:
        # the record would show the schedule while the optimizer kept an early LR
        did = "never stepped" if made == 0 else f"stepped {made} time(s)"
        raise ValueError(
            f"task {job.task!r} {did} the scheduler from run.scheduler(opt) in a run of "
            f"{run.steps} steps (it needs {need}); call sched.step() after each opt.step()"
        )


def _trainer_loop(job: Job, trainer: Any) -> _Trace:
    """The runner-owned loop of a class-based task: set hparams, step, evaluate."""
    steps, every = job.steps, job.eval_every
    lr_sched, mom_sched = job.entry.build(job.peak_lr, steps)
    grid = np.arange(steps)
    lr_list: list[float] = np.asarray(lr_sched(grid), dtype=np.float64).tolist()
    mom_list: list[float] | None = None
    if mom_sched is not None:
        mom_list = np.asarray(mom_sched(grid), dtype=np.float64).tolist()
    plateau = job.entry.make_plateau()
    applied: list[float] = []
    memo: tuple[int, float, float] = (-1, math.nan, math.nan)
    losses: list[float] = []
    evals = _Evals(job, trainer)
    perf = time.perf_counter
    isfinite = math.isfinite
    inside = 0.0
    diverged = False

    evals.run(0)
    for t in range(steps):
        lr = lr_list[t]
        if plateau is not None and plateau.reductions:
            # apply() replays each reduction; memoise it for runs of equal inputs
            if plateau.reductions != memo[0] or lr != memo[1]:
                memo = (plateau.reductions, lr, plateau.apply(lr))
            lr = memo[2]
        applied.append(lr)
        hp = {"lr": lr} if mom_list is None else {"lr": lr, "momentum": mom_list[t]}
        a = perf()
        loss = trainer.train_step(hp)
        inside += perf() - a
        if type(loss) is not float:
            loss = _loss_value(loss, job.task, t)
        losses.append(loss)
        if not isfinite(loss):
            diverged = True
            break
        done = t + 1
        if done % every == 0 or done == steps:
            m = evals.run(done)
            vloss = m.get("val_loss", 0.0)
            if not (isinstance(vloss, int | float) and isfinite(vloss)):
                diverged = True  # a non-finite validation loss: the run diverged
                break
            if plateau is not None:
                plateau.report(m.get("val_loss", math.nan))
    n = len(losses)
    return _Trace(
        loss_steps=list(range(n)),
        losses=losses,
        lr_used=applied,
        momentum=mom_list[:n] if mom_list is not None else None,
        eval_steps=evals.steps,
        metrics=evals.metrics,
        steps_to_target=evals.steps_to_target,
        diverged=diverged,
        bound_lr_text=str(lr_sched),
        plateau_reductions=plateau.reductions if plateau is not None else None,
        inside=inside + evals.inside,
    )


class _Evals:
    """Calls ``trainer.evaluate()`` and keeps the metric series and steps-to-target."""

    def __init__(self, job: Job, trainer: Any) -> None:
        self.job = job
        self.trainer = trainer
        self.steps: list[int] = []
        self.metrics: dict[str, list[float | None]] = {}
        self.steps_to_target: int | None = None
        self.inside = 0.0

    def run(self, done: int) -> dict[str, float]:
        a = time.perf_counter()
        m: dict[str, float] = self.trainer.evaluate()
        self.inside += time.perf_counter() - a
        self.steps.append(done)
        for name, value in m.items():
            self.metrics.setdefault(name, []).append(finite_or_none(value))
        tv = m.get(self.job.target_metric)
        if (
            self.steps_to_target is None
            and tv is not None
            and math.isfinite(tv)
            and _reached(tv, self.job.target_value, self.job.higher_is_better)
        ):
            self.steps_to_target = done
        return m


def _curves(trace: _Trace) -> dict[str, Any]:
    """Decimated per-step curves: lr, momentum and the training loss."""
    steps = np.asarray(trace.loss_steps, dtype=np.int64)
    idx, c_lr = decimate(np.asarray(trace.lr_used, dtype=np.float64))
    curves: dict[str, Any] = {"step": steps[idx].tolist(), "lr": c_lr}
    if trace.momentum is not None:
        curves["momentum"] = decimate(np.asarray(trace.momentum, dtype=np.float64))[1]
    tl_idx, tl = decimate(np.asarray(trace.losses, dtype=np.float64), mode="mean")
    curves["train_loss_step"] = steps[tl_idx].tolist()
    curves["train_loss"] = tl
    return curves


def _val_loss_auc(trace: _Trace) -> float | None:
    """Mean val loss over training: trapezoid over the evaluations / the steps they span."""
    vl = trace.metrics.get("val_loss")
    if trace.diverged or vl is None or len(vl) < 2 or any(v is None for v in vl):
        return None
    y = np.asarray(vl, dtype=np.float64)
    x = np.asarray(trace.eval_steps, dtype=np.float64)
    span = x[-1] if x[0] == 0 else x[-1] - x[0]
    if span <= 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        auc = float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / span)
        if not math.isfinite(auc):  # y0 + y1 overflowed: halve and normalise first
            auc = float(np.sum((y[1:] / 2 + y[:-1] / 2) * (np.diff(x) / span)))
    return auc if math.isfinite(auc) else None


def _final(trace: _Trace) -> dict[str, float | None]:
    """Final values: last training loss, lr, momentum and metrics (None when diverged)."""
    final: dict[str, float | None] = {
        "train_loss": finite_or_none(trace.losses[-1]) if trace.losses else None,
        "lr": float(trace.lr_used[-1]) if trace.lr_used else None,
    }
    if trace.momentum:
        final["momentum"] = trace.momentum[-1]
    for name, values in trace.metrics.items():
        final[name] = None if trace.diverged else values[-1]
    return final


def _finish(job: Job, trace: _Trace, t_start: float, t_loop: float) -> dict[str, Any]:
    """The "ok"/"diverged" record of a finished run."""
    t_end = time.perf_counter()
    loop = t_end - t_loop
    rec = _base_record(job)
    rec.update(
        status="diverged" if trace.diverged else "ok",
        error=None,
        steps_done=(trace.loss_steps[-1] + 1) if trace.loss_steps else 0,
        bound_lr_text=trace.bound_lr_text,
        curves=_curves(trace),
        evals={"step": trace.eval_steps, **trace.metrics},
        final=_final(trace),
        steps_to_target=trace.steps_to_target,
        val_loss_auc=_val_loss_auc(trace),
        plateau_reductions=trace.plateau_reductions,
        time={
            "wall": t_end - t_start,
            "setup": t_loop - t_start,
            "loop": loop,
            "inside": trace.inside,
            "overhead": max(loop - trace.inside, 0.0),
        },
        host=platform.node(),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return rec

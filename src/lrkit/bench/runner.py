"""The bench runner: one (task, schedule, seed) run as a pure function of a :class:`Job`.

The runner owns the loop. The whole LR (and momentum) curve is computed up front with one
vectorised call ``schedule(np.arange(steps))``; only a plateau controller multiplies at run
time, after each evaluation. The record it returns is what one line of runs.jsonl holds.
"""

from __future__ import annotations

import math
import platform
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lrkit.bench.records import RECORD_VERSION, decimate, finite_or_none, run_key
from lrkit.bench.suite import SuiteEntry

__all__ = ["Job", "error_record", "make_job", "run_job"]


@dataclass(frozen=True)
class Job:
    """Everything a worker needs for one run (primitives and a :class:`SuiteEntry`)."""

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
) -> Job:
    """A :class:`Job` with its key (canonical schedule texts, so spelling does not matter)."""
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

    A non-finite training loss stops the run: status "diverged", final metrics None.
    """
    try:
        return _run(job)
    except Exception as exc:
        return error_record(job, exc)
    except SystemExit as exc:  # the task called exit(): an error for this run, not the bench
        return error_record(job, RuntimeError(f"the run called exit({exc.code!r})"))


def _run(job: Job) -> dict[str, Any]:
    from lrkit.bench.tasks import TaskConfig, get_task

    t_start = time.perf_counter()
    spec = get_task(job.task)
    trainer = spec.make(
        TaskConfig(seed=job.seed, optimizer=job.optimizer, batch_size=job.batch_size, threads=1)
    )
    t_loop = time.perf_counter()

    steps, every = job.steps, job.eval_every
    lr_sched, mom_sched = job.entry.build(job.peak_lr, steps)
    grid = np.arange(steps)
    lrs = np.asarray(lr_sched(grid), dtype=np.float64)
    lr_list: list[float] = lrs.tolist()
    mom_list: list[float] | None = None
    if mom_sched is not None:
        mom_list = np.asarray(mom_sched(grid), dtype=np.float64).tolist()
    plateau = job.entry.make_plateau()
    applied: list[float] | None = [] if plateau is not None else None
    memo: tuple[int, float, float] = (-1, math.nan, math.nan)

    losses: list[float] = []
    eval_steps: list[int] = []
    metrics: dict[str, list[float | None]] = {}
    inside = 0.0
    diverged = False
    steps_to_target: int | None = None
    target, higher, tmetric = job.target_value, job.higher_is_better, job.target_metric
    perf = time.perf_counter
    isfinite = math.isfinite

    def evaluate(done: int) -> dict[str, float]:
        nonlocal inside, steps_to_target
        a = perf()
        m = trainer.evaluate()
        inside += perf() - a
        eval_steps.append(done)
        for name, value in m.items():
            metrics.setdefault(name, []).append(finite_or_none(value))
        tv = m.get(tmetric)
        if (
            steps_to_target is None
            and tv is not None
            and isfinite(tv)
            and _reached(tv, target, higher)
        ):
            steps_to_target = done
        return m

    evaluate(0)
    for t in range(steps):
        lr = lr_list[t]
        if plateau is not None and applied is not None:
            if plateau.reductions:
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
            m = evaluate(done)
            vloss = m.get("val_loss", 0.0)
            if not (isinstance(vloss, int | float) and isfinite(vloss)):
                diverged = True  # a non-finite validation loss: the run diverged
                break
            if plateau is not None:
                plateau.report(m.get("val_loss", math.nan))

    done_steps = len(losses)
    lr_used = np.asarray(applied, dtype=np.float64) if applied is not None else lrs[:done_steps]
    c_steps, c_lr = decimate(lr_used)
    rec = _base_record(job)
    curves: dict[str, Any] = {"step": c_steps, "lr": c_lr}
    if mom_list is not None:
        curves["momentum"] = decimate(np.asarray(mom_list[:done_steps]))[1]
    tl_steps, tl = decimate(np.asarray(losses, dtype=np.float64), mode="mean")
    curves["train_loss_step"] = tl_steps
    curves["train_loss"] = tl

    final: dict[str, float | None] = {
        "train_loss": finite_or_none(losses[-1]) if losses else None,
        "lr": float(lr_used[-1]) if done_steps else None,
    }
    if mom_list is not None and done_steps:
        final["momentum"] = mom_list[done_steps - 1]
    auc: float | None = None
    if diverged:
        for name in metrics:
            final[name] = None
    else:
        for name, values in metrics.items():
            final[name] = values[-1]
        vl = metrics.get("val_loss")
        if vl is not None and all(v is not None for v in vl) and len(vl) > 1:
            y = np.asarray(vl, dtype=np.float64)
            x = np.asarray(eval_steps, dtype=np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                auc = float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / x[-1])
                if not isfinite(auc):  # y0 + y1 overflowed: halve and normalise first
                    auc = float(np.sum((y[1:] / 2 + y[:-1] / 2) * (np.diff(x) / x[-1])))
            if not isfinite(auc):
                auc, diverged = None, True  # the loss area overflows: report as diverged
                for name in metrics:
                    final[name] = None
    t_end = time.perf_counter()
    loop = t_end - t_loop
    rec.update(
        status="diverged" if diverged else "ok",
        error=None,
        steps_done=done_steps,
        bound_lr_text=str(lr_sched),
        curves=curves,
        evals={"step": eval_steps, **metrics},
        final=final,
        steps_to_target=steps_to_target,
        val_loss_auc=auc,
        plateau_reductions=plateau.reductions if plateau is not None else None,
        time={
            "wall": t_end - t_start,
            "setup": t_loop - t_start,
            "loop": loop,
            "inside": inside,
            "overhead": max(loop - inside, 0.0),
        },
        host=platform.node(),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return rec

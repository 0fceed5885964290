"""lrkit bench overhead: the runner's own time as a share of training time on digits-mlp.

Runs ``lrkit.bench.execution.runner.run_job`` in-process for a few schedules (plain, with momentum, with a
plateau controller) on digits-mlp through a thin wrapper task that accounts for the time spent
inside ``make``, ``train_step`` and ``evaluate``. Two measurements per run:

* ``cpu own %``: CPU time of the whole ``run_job`` call (this thread) minus the CPU time inside
  the task's ``make``/``train_step``/``evaluate``, as a share of the time inside the trainer.
  This is everything lrkit does: parsing and binding the schedule, the one vectorised
  ``schedule(np.arange(steps))`` call, building the per-step hparams, plateau, logging,
  decimation and building the record. The wrapper's own clock reads (two per call) are
  calibrated in the same run and subtracted. Thread CPU time is immune to other processes on a
  busy machine. Target: < 1 %.
* ``wall own %``: the runner's own accounting (loop wall time minus wall time inside the
  trainer), which also counts any time the OS runs other processes between two clock reads;
  on a loaded machine it is an upper bound.

Usage: .venv/bin/python benchmarks/bench_overhead.py [--steps N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lrkit.bench.execution.runner import make_job, run_job
from lrkit.bench.planning.suite import DEFAULT_SUITE
from lrkit.bench.tasks import TaskConfig, TaskSpec, Trainer, get_task

TASK = "digits-mlp"
SCHEDULES = ("constant", "warmup-cosine", "one-cycle", "plateau")
INSIDE_CPU = [0.0]


class _Timed:
    """Adds the thread CPU time of every trainer call to INSIDE_CPU."""

    def __init__(self, inner: Trainer) -> None:
        self.inner = inner

    def train_step(self, hparams: Mapping[str, float]) -> float:
        a = time.thread_time()
        loss = self.inner.train_step(hparams)
        INSIDE_CPU[0] += time.thread_time() - a
        return loss

    def evaluate(self) -> dict[str, float]:
        a = time.thread_time()
        out = self.inner.evaluate()
        INSIDE_CPU[0] += time.thread_time() - a
        return out


def timed_task() -> TaskSpec:
    """digits-mlp with every trainer call timed (a user task: "__main__:timed_task")."""
    spec = get_task(TASK)

    def make(config: TaskConfig) -> Any:
        a = time.thread_time()
        trainer = spec.make(config)
        INSIDE_CPU[0] += time.thread_time() - a
        return _Timed(trainer)

    return replace(spec, make=make)


def clock_pair_cost(n: int = 200_000) -> float:
    """CPU seconds of one pair of ``time.thread_time()`` reads plus the += (the wrapper's cost)."""
    acc = [0.0]
    a = time.thread_time()
    for _ in range(n):
        b = time.thread_time()
        acc[0] += time.thread_time() - b
    return (time.thread_time() - a - acc[0]) / n + acc[0] / n


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="default: the task's budget")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    spec = get_task(TASK)
    steps = args.steps or spec.steps
    print(f"task {TASK}: {steps} steps, eval every {spec.eval_every}, in-process, 1 thread")
    print(
        f"{'schedule':15s} {'inside s':>9s} {'cpu own ms':>10s} {'cpu own %':>9s} "
        f"{'wall own %':>10s}"
    )
    pair = clock_pair_cost()
    print(f"(wrapper clock-read pair: {pair * 1e6:.2f} us per trainer call, subtracted)")
    cpu_shares, wall_shares = [], []
    # warm-up run: first-call imports (numpy submodules, torch kernels) are not per-run costs
    for r in range(-1, args.repeats):
        for name in SCHEDULES:
            entry = next(e for e in DEFAULT_SUITE if e.name == name)
            job = make_job(
                task="__main__:timed_task",
                entry=entry,
                peak_lr=spec.lr,
                seed=max(r, 0),
                steps=steps,
                eval_every=spec.eval_every,
                optimizer=spec.optimizers[0],
                batch_size=None,
                purpose="bench",
                target_metric=spec.target_metric,
                target_value=spec.target_value,
                higher_is_better=spec.higher_is_better,
            )
            INSIDE_CPU[0] = 0.0
            a = time.thread_time()
            rec = run_job(job)
            total = time.thread_time() - a
            if rec["status"] == "error":
                raise SystemExit(rec["error"])
            if r < 0:
                continue
            calls = steps + len(rec["evals"]["step"]) + 1
            own = total - INSIDE_CPU[0] - calls * pair
            cpu_share = own / INSIDE_CPU[0]
            wall_share = rec["time"]["overhead"] / rec["time"]["inside"]
            cpu_shares.append(cpu_share)
            wall_shares.append(wall_share)
            print(
                f"{name:15s} {rec['time']['inside']:9.3f} {own * 1e3:10.2f} "
                f"{cpu_share * 100:8.3f}% {wall_share * 100:9.3f}%"
            )
    print(
        f"cpu own: median {statistics.median(cpu_shares) * 100:.3f} %, worst "
        f"{max(cpu_shares) * 100:.3f} % of the CPU time inside the task (target < 1 %)"
    )
    print(
        f"wall own: median {statistics.median(wall_shares) * 100:.3f} %, worst "
        f"{max(wall_shares) * 100:.3f} % (includes time the OS gave to other processes)"
    )
    print("PASS" if max(cpu_shares) < 0.01 else "FAIL")


if __name__ == "__main__":
    main()

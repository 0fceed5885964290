"""How good are LR range-test suggestions? Regret against a grid search of a one-cycle recipe.

For each task (digits-mlp with SGD and with AdamW, synthetic-linear, charlm) and seed:

1. grid search: train ``one_cycle(peak=lr, steps=N)`` (constant momentum = the task's) for a
   log grid of peaks (``base * 2**k``, k = -5..5, base = the task's default LR); the grid best is
   the lowest final validation loss;
2. run one LR range test (``lrkit.finder.RangeTest`` defaults: 1e-7 → 10 in 100 steps, EMA
   0.05, stop at 4 × best) on a fresh trainer;
3. for each suggestion rule, train the same recipe with the suggested LR as peak and report its
   regret ``(val_loss - grid_best) / grid_best`` (a diverged run counts as regret 10).

Prints a table and writes JSON (with the range-test curves). Runs in ~3 minutes on 2 cores (2 worker processes, 1 thread
each); ``--quick`` (~1 minute) runs one seed of digits-mlp (sgd, adamw) and synthetic-linear
with shorter budgets and an 8-point grid (~20 s).

    python benchmarks/finder_quality.py [--quick] [--out finder_quality.json] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import statistics
import sys
import time
from typing import Any

RULES = ("lrkit", "valley", "steepest", "minimum", "steep")
DIVERGED_REGRET = 10.0

# (task, optimizer, training steps); charlm's budget is cut from its default 300 for time.
FULL = [
    ("digits-mlp", "sgd", 1000),
    ("digits-mlp", "adamw", 1000),
    ("synthetic-linear", "sgd", 300),
    ("charlm", "adamw", 100),
]
QUICK = [
    ("digits-mlp", "sgd", 300),
    ("digits-mlp", "adamw", 300),
    ("synthetic-linear", "sgd", 300),
]


def train(task: str, opt: str, seed: int, peak: float, steps: int) -> float:
    """Final validation loss of one-cycle training with peak LR ``peak`` (inf if diverged)."""
    import lrkit
    from lrkit.bench.tasks import TaskConfig, get_task

    spec = get_task(task)
    trainer = spec.make(TaskConfig(seed=seed, optimizer=opt, threads=1))
    schedule = lrkit.one_cycle(peak=peak, steps=steps)
    lrs = schedule([float(t) for t in range(steps)])
    for t in range(steps):
        loss = trainer.train_step({"lr": float(lrs[t]), "momentum": spec.momentum})
        if not math.isfinite(loss):
            return math.inf
    val = trainer.evaluate()["val_loss"]
    return val if math.isfinite(val) else math.inf


def range_test(task: str, opt: str, seed: int) -> dict[str, Any]:
    from lrkit.bench.range_test import range_test_task

    return range_test_task(task, opt, seed).to_dict()


def _job(job: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
    kind, *args = job
    if kind == "rt":
        return job, range_test(*args)
    return job, train(*args)


def _run(pool: Any, jobs: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
    out: dict[tuple[Any, ...], Any] = {}
    if pool is None:
        for j in jobs:
            out[j] = _job(j)[1]
        return out
    for j, r in pool.imap_unordered(_job, jobs, chunksize=1):
        out[j] = r
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="~1 minute version")
    ap.add_argument("--out", default="finder_quality.json", help="JSON output path")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3, quick 1)")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds start here (default 0)")
    a = ap.parse_args(argv)

    from lrkit.bench.tasks import get_task, missing_requirements
    from lrkit.finder import RangeTestResult

    cases = QUICK if a.quick else FULL
    n_seeds = a.seeds if a.seeds is not None else (1 if a.quick else 3)
    seeds = list(range(a.first_seed, a.first_seed + n_seeds))
    ks = range(-4, 4) if a.quick else range(-5, 6)
    cases = [c for c in cases if not missing_requirements(get_task(c[0]))]
    t0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(a.workers) if a.workers > 1 else None
    try:
        grid: dict[tuple[str, str, int], list[float]] = {}
        jobs: list[tuple[Any, ...]] = []
        for task, opt, steps in cases:
            base = get_task(task).lr_for(opt)
            for seed in seeds:
                jobs.append(("rt", task, opt, seed))
                grid[(task, opt, seed)] = [base * 2.0**k for k in ks]
                jobs += [("tr", task, opt, seed, p, steps) for p in grid[(task, opt, seed)]]
        # the slow task first so that the two workers finish together
        jobs.sort(key=lambda j: (j[1] != "charlm", j[0] != "rt"))
        res1 = _run(pool, jobs)
        results = {
            key: RangeTestResult.from_dict(res1[("rt", *key)]) for key in grid
        }  # (task, opt, seed) -> result
        steps_of = {(t, o): s for t, o, s in cases}
        suggested: dict[tuple[str, str, int], dict[str, float]] = {}
        jobs2 = set()
        for key, r in results.items():
            suggested[key] = {rule: r.suggest(rule).lr for rule in RULES}
            for lr in suggested[key].values():
                if ("tr", *key, lr, steps_of[key[:2]]) not in res1:
                    jobs2.add(("tr", *key, lr, steps_of[key[:2]]))
        res2 = _run(pool, sorted(jobs2, key=lambda j: j[1] != "charlm"))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    allres = {**res1, **res2}

    rows = []
    for task, opt, steps in cases:
        for seed in seeds:
            key = (task, opt, seed)
            vals = [(p, allres[("tr", *key, p, steps)]) for p in grid[key]]
            best_lr, best = min(vals, key=lambda v: v[1])
            row: dict[str, Any] = {
                "task": task,
                "optimizer": opt,
                "seed": seed,
                "train_steps": steps,
                "grid": [[p, v] for p, v in vals],
                "grid_best_lr": best_lr,
                "grid_best_val_loss": best,
                "range_test_steps": len(results[key]),
                "range_test_stop": results[key].stop_reason,
                "range_test": results[key].to_dict(),
                "rules": {},
            }
            for rule, lr in suggested[key].items():
                v = allres[("tr", *key, lr, steps)]
                regret = (v - best) / best if math.isfinite(v) else DIVERGED_REGRET
                row["rules"][rule] = {"lr": lr, "val_loss": v, "regret": regret}
            rows.append(row)
    wall = time.perf_counter() - t0

    summary = {}
    for rule in RULES:
        regs = [r["rules"][rule]["regret"] for r in rows]
        summary[rule] = {
            "median_regret": statistics.median(regs),
            "mean_regret": statistics.fmean(regs),
            "max_regret": max(regs),
            "within_5pct": sum(x <= 0.05 for x in regs),
            "n": len(regs),
        }
    _print(rows, summary, wall)
    report = {
        "quick": a.quick,
        "wall_seconds": wall,
        "workers": a.workers,
        "rules": list(RULES),
        "cases": rows,
        "summary": summary,
    }
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1, default=lambda x: None)
    print(f"JSON written to {a.out}")
    return report


def _print(rows: list[dict[str, Any]], summary: dict[str, Any], wall: float) -> None:
    head = f"{'task':18s} {'opt':5s} {'seed':>4s} {'grid best':>14s} {'rt steps':>8s}"
    head += "".join(f" {r:>15s}" for r in RULES)
    print(head)
    print("-" * len(head))
    for r in rows:
        line = f"{r['task']:18s} {r['optimizer']:5s} {r['seed']:4d} "
        line += (
            f"{r['grid_best_lr']:7.3g}:{r['grid_best_val_loss']:6.3f} {r['range_test_steps']:8d}"
        )
        for rule in RULES:
            x = r["rules"][rule]
            line += f" {x['lr']:7.2g} {100 * x['regret']:6.1f}%"
        print(line)
    print("-" * len(head))
    print(f"{'regret':>52s}" + "".join(f" {r:>15s}" for r in RULES))
    for stat in ("median_regret", "mean_regret", "max_regret"):
        print(f"{stat:>52s}" + "".join(f" {100 * summary[r][stat]:14.1f}%" for r in RULES))
    print(
        f"{'runs within 5 % of grid best':>52s}"
        + "".join(f" {summary[r]['within_5pct']:>10d}/{summary[r]['n']:<4d}" for r in RULES)
    )
    print(f"wall time {wall:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])

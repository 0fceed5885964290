"""How good are LR range-test suggestions on tasks they never saw? Leave-one-task-out regret.

Cases: digits-mlp (SGD, AdamW), synthetic-linear (SGD, AdamW), charlm (AdamW) and, from
``benchmarks/finder_tasks.py``, 64-64 MLPs on scikit-learn's iris, wine, breast_cancer, diabetes
and a generated ``make_classification`` set, each with and without BatchNorm, with SGD and AdamW
(25 cases over 8 data sets). For each case and seed:

1. grid search: train ``one_cycle(peak=lr, steps=N)`` (constant momentum = the task's) for a
   log grid of peaks (``base * 2**k``, k = -5..5, base = the task's default LR); the grid best is
   the lowest final validation loss;
2. run one LR range test (``lrkit.finder.RangeTest`` defaults: 1e-7 → 10 in 100 steps, EMA
   0.05, stop at 4 × best) on a fresh trainer;
3. for each suggestion rule, train the same recipe with the suggested LR as peak; its regret is
   ``(val_loss - grid_best) / grid_best`` (a diverged run counts as regret 10).

Leave-one-task-out: for each data set (all its optimizer / BatchNorm variants held out together),
the constants of the lrkit rule (``factor``, ``band``) are fitted on the *other* data sets
(lowest mean regret, read off the grid by interpolation in log LR), then the held-out cases are
trained at the fitted rule's suggestion. The fixed rules (fastai ``valley`` / ``minimum``,
torch-lr-finder ``steepest``, lrkit with its default constants) have nothing to fit. The table
reports every rule's regret on held-out data sets only.

The full run takes about 4.5 minutes on 2 idle cores (264 s measured); ``--quick`` runs 8 cases
over 7 data sets with one seed.

    python benchmarks/finder_quality.py [--quick] [--seeds 2] [--skip charlm] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # finder_tasks, also in spawned workers

RULES = ("lrkit", "valley", "steepest", "minimum", "steep")
FIT = "lrkit-loto"  # the lrkit rule with constants fitted leave-one-task-out
FACTORS = (2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
BANDS = (0.5, 1.0, 2.0)
DIVERGED_REGRET = 10.0

# (task, optimizer, training steps); charlm's budget is cut from its default 300 for time.
BUILTIN = [
    ("digits-mlp", "sgd", 1000),
    ("digits-mlp", "adamw", 1000),
    ("synthetic-linear", "sgd", 300),
    ("synthetic-linear", "adamw", 300),
    ("charlm", "adamw", 100),
]
EXTRA = [
    (f"finder_tasks:{d}{bn}", opt, 300)
    for d in ("iris", "wine", "breast_cancer", "diabetes", "blobs")
    for bn in ("", "_bn")
    for opt in ("sgd", "adamw")
]
FULL = BUILTIN + EXTRA
# 7 data sets, SGD and AdamW, with and without BatchNorm, one case each (8 cases)
QUICK = [
    ("digits-mlp", "adamw", 300),
    ("synthetic-linear", "sgd", 300),
    ("finder_tasks:iris", "sgd", 300),
    ("finder_tasks:wine_bn", "adamw", 300),
    ("finder_tasks:breast_cancer", "adamw", 300),
    ("finder_tasks:diabetes_bn", "sgd", 300),
    ("finder_tasks:blobs", "sgd", 300),
    ("finder_tasks:blobs_bn", "adamw", 300),
]


def group(task: str) -> str:
    """The data set a case belongs to (held out together)."""
    name = task.split(":")[-1]
    return name.removesuffix("_bn").removesuffix("-mlp")


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
    from lrkit.bench.execution.range_test import range_test_task

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


def interpolated(grid: list[tuple[float, float]], lr: float) -> float:
    """Val loss at ``lr`` read off a grid search: linear in log LR between neighbours; a
    diverged (inf) neighbour wins when it is the nearer one; flat outside the grid."""
    xs = [math.log(p) for p, _ in grid]
    ys = [v for _, v in grid]
    x = math.log(lr)
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    k = max(i for i in range(len(xs)) if xs[i] <= x)
    w = (x - xs[k]) / (xs[k + 1] - xs[k])
    a, b = ys[k], ys[k + 1]
    if not (math.isfinite(a) and math.isfinite(b)):
        return b if w >= 0.5 else a
    return a + w * (b - a)


def _regret(v: float, best: float) -> float:
    return (v - best) / best if math.isfinite(v) else DIVERGED_REGRET


def fit_lrkit(cases: list[dict[str, Any]]) -> tuple[float, float]:
    """(factor, band) of the lrkit rule with the lowest mean interpolated regret on ``cases``
    (ties: lower median, then the default-nearest constants)."""
    from lrkit.finder.suggestions import lrkit_rule

    best: tuple[float, float, float, float, float] | None = None
    for factor in FACTORS:
        for band in BANDS:
            regs = []
            for c in cases:
                sug = lrkit_rule(c["rt_lrs"], c["rt_losses"], factor=factor, band=band).lr
                regs.append(_regret(interpolated(c["grid"], sug), c["grid_best_val_loss"]))
            key = (
                statistics.fmean(regs),
                statistics.median(regs),
                abs(math.log(factor / 4.0)),
                factor,
                band,
            )
            if best is None or key < best:
                best = key
    assert best is not None
    return best[3], best[4]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="~10 min: 8 cases over 7 data sets")
    ap.add_argument("--out", default="finder_quality.json", help="JSON output path")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default 2, quick 1)")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds start here (default 0)")
    ap.add_argument("--skip", action="append", default=[], help="leave out a task (repeatable)")
    a = ap.parse_args(argv)

    from lrkit.bench.tasks import get_task, missing_requirements
    from lrkit.finder import RangeTestResult
    from lrkit.finder.suggestions import lrkit_rule

    cases = QUICK if a.quick else FULL
    n_seeds = a.seeds if a.seeds is not None else (1 if a.quick else 2)
    seeds = list(range(a.first_seed, a.first_seed + n_seeds))
    ks = range(-4, 4) if a.quick else range(-5, 6)
    cases = [c for c in cases if not missing_requirements(get_task(c[0])) and c[0] not in a.skip]
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
        allres = _run(pool, jobs)
        results = {
            key: RangeTestResult.from_dict(allres[("rt", *key)]) for key in grid
        }  # (task, opt, seed) -> result
        steps_of = {(t, o): s for t, o, s in cases}
        suggested: dict[tuple[str, str, int], dict[str, float]] = {}
        for key, r in results.items():
            suggested[key] = {rule: r.suggest(rule).lr for rule in RULES}
        # leave one data set out: fit the lrkit rule's constants on the others
        rows: list[dict[str, Any]] = []
        for task, opt, steps in cases:
            for seed in seeds:
                key = (task, opt, seed)
                vals = [(p, allres[("tr", *key, p, steps)]) for p in grid[key]]
                best_lr, best = min(vals, key=lambda v: v[1])
                rows.append(
                    {
                        "task": task,
                        "group": group(task),
                        "optimizer": opt,
                        "seed": seed,
                        "train_steps": steps,
                        "grid": vals,
                        "grid_best_lr": best_lr,
                        "grid_best_val_loss": best,
                        "rt_lrs": list(results[key].lrs),
                        "rt_losses": list(results[key].losses),
                        "range_test_steps": len(results[key]),
                        "range_test_stop": results[key].stop_reason,
                        "rules": {},
                    }
                )
        fitted: dict[str, tuple[float, float]] = {}
        for g in sorted({r["group"] for r in rows}):
            fitted[g] = fit_lrkit([r for r in rows if r["group"] != g])
        for r in rows:
            factor, band = fitted[r["group"]]
            key = (r["task"], r["optimizer"], r["seed"])
            suggested[key][FIT] = lrkit_rule(
                r["rt_lrs"], r["rt_losses"], factor=factor, band=band
            ).lr
        jobs2 = set()
        for key, sug in suggested.items():
            for lr in sug.values():
                job = ("tr", *key, lr, steps_of[key[:2]])
                if job not in allres:
                    jobs2.add(job)
        allres.update(_run(pool, sorted(jobs2, key=lambda j: j[1] != "charlm")))
    finally:
        if pool is not None:
            pool.close()
            pool.join()

    all_rules = (*RULES, FIT)
    for r in rows:
        key = (r["task"], r["optimizer"], r["seed"])
        for rule, lr in suggested[key].items():
            v = allres[("tr", *key, lr, r["train_steps"])]
            r["rules"][rule] = {
                "lr": lr,
                "val_loss": v,
                "regret": _regret(v, r["grid_best_val_loss"]),
            }
        r["fitted"] = dict(zip(("factor", "band"), fitted[r["group"]], strict=True))
        r["grid"] = [[p, v] for p, v in r["grid"]]
    wall = time.perf_counter() - t0

    summary = {}
    for rule in all_rules:
        regs = [r["rules"][rule]["regret"] for r in rows]
        summary[rule] = {
            "median_regret": statistics.median(regs),
            "mean_regret": statistics.fmean(regs),
            "max_regret": max(regs),
            "within_5pct": sum(x <= 0.05 for x in regs),
            "n": len(regs),
        }
    groups = {}
    for g in sorted({r["group"] for r in rows}):
        groups[g] = {
            "fitted": dict(zip(("factor", "band"), fitted[g], strict=True)),
            "median_regret": {
                rule: statistics.median(
                    [r["rules"][rule]["regret"] for r in rows if r["group"] == g]
                )
                for rule in all_rules
            },
        }
    _print(rows, summary, groups, wall)
    report = {
        "quick": a.quick,
        "wall_seconds": wall,
        "workers": a.workers,
        "seeds": seeds,
        "rules": list(all_rules),
        "held_out": groups,
        "cases": rows,
        "summary": summary,
    }
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1, default=lambda x: None)
    print(f"JSON written to {a.out}")
    return report


def _print(
    rows: list[dict[str, Any]], summary: dict[str, Any], groups: dict[str, Any], wall: float
) -> None:
    rules = (*RULES, FIT)
    head = f"{'task':28s} {'opt':5s} {'seed':>4s} {'grid best':>14s}"
    head += "".join(f" {r:>15s}" for r in rules)
    print(head)
    print("-" * len(head))
    for r in rows:
        line = f"{r['task'].split(':')[-1]:28s} {r['optimizer']:5s} {r['seed']:4d} "
        line += f"{r['grid_best_lr']:7.3g}:{r['grid_best_val_loss']:6.3f}"
        for rule in rules:
            x = r["rules"][rule]
            line += f" {x['lr']:7.2g} {100 * x['regret']:6.1f}%"
        print(line)
    print("-" * len(head))
    print("\nHeld-out data set (all its cases), median regret; lrkit-loto fitted on the others:")
    print(f"{'data set':18s} {'fitted':>14s}" + "".join(f" {r:>11s}" for r in rules))
    for g, d in groups.items():
        fit = f"f={d['fitted']['factor']:g},b={d['fitted']['band']:g}"
        print(
            f"{g:18s} {fit:>14s}" + "".join(f" {100 * d['median_regret'][r]:10.1f}%" for r in rules)
        )
    print(f"\n{'regret over all held-out cases':>33s}" + "".join(f" {r:>11s}" for r in rules))
    for stat in ("median_regret", "mean_regret", "max_regret"):
        print(f"{stat:>33s}" + "".join(f" {100 * summary[r][stat]:10.1f}%" for r in rules))
    print(
        f"{'within 5 % of grid best':>33s}"
        + "".join(f" {summary[r]['within_5pct']:>6d}/{summary[r]['n']:<4d}" for r in rules)
    )
    print(f"wall time {wall:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])

"""How many runs does ``lrkit bench --seeds auto`` need, and does it decide as 16 fixed seeds do?

For each built-in task: run the suite with a fixed ``--seeds 16`` (``--max-seeds``), then race the
same per-seed scores with the ``--seeds auto`` rule (:func:`lrkit.bench.planning.sequential.simulate`).
Runs are deterministic by key, so this is exactly what ``--seeds auto`` runs (a rerun of
``--seeds auto`` in the same folder finds every one of its runs finished: the script checks it
with ``--verify``). Printed per task: the share of the fixed runs the race needed, why it stopped,
what each recommends, and whether they agree: the race's choice is the fixed bench's best or
statistically tied with it (overlapping 95 % CIs), or the race's group contains the fixed best.

    python benchmarks/bench_decisions.py [--tasks synthetic-linear digits-mlp charlm]
        [--max-seeds 16] [--only constant cosine ...] [--steps N] [--workers 2] [--verify]
    python benchmarks/bench_decisions.py --from-results docs/findings/results.json

``--from-results`` trains nothing: it races the per-seed scores of an existing results.json
(e.g. the literature preset's: tuned peak LRs, 8 seeds) with ``--max-seeds`` = its seed count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrkit.bench.analysis.recommend import tied_with_best
from lrkit.bench.driver import run_bench
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.planning.sequential import RaceRule, simulate
from lrkit.bench.presentation.race_report import chosen_schedule, race_recommendation


def _config(task: str, args: argparse.Namespace, out: Path, **seeds: Any) -> BenchConfig:
    """The bench of ``task`` in ``out``/fixed-<task>; ``seeds`` picks fixed seeds or the race."""
    return BenchConfig(
        name=f"fixed-{task}",
        tasks=(task,),
        steps=args.steps,
        only=tuple(args.only or ()),
        workers=args.workers,
        out=str(out),
        quiet=True,
        plots=False,
        bootstrap=500,
        **seeds,
    )


def _fixed(task: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    cfg = _config(task, args, out, seeds=args.max_seeds)
    t0 = time.perf_counter()
    outcome = run_bench(cfg)
    results = json.loads((cfg.run_dir / "results.json").read_text())
    return {"t": results["tasks"][task], "wall": time.perf_counter() - t0, "ran": outcome.ran}


@dataclass(frozen=True)
class _Uncorrected(RaceRule):
    """The same race with no correction: every interval at ``per_look`` (no guarantee left).

    Not a rule to use: a lower bound on the runs any rule with the 5 % guarantee needs on the same
    scores, since the correction only widens the intervals.
    """

    per_look: float = 0.05

    def level(self, n_schedules: int) -> float:
        return self.per_look


def _scores(t: dict[str, Any], max_seeds: int) -> dict[str, list[float | None]]:
    metric = t["rank_metric"]
    return {
        name: [None if e["diverged"] else v for v in e["per_seed"][metric]][:max_seeds]
        for name, e in t["schedules"].items()
    }


def _race(t: dict[str, Any], max_seeds: int) -> dict[str, Any]:
    rule = RaceRule(max_seeds=max_seeds, higher_is_better=bool(t["rank_higher_is_better"]))
    return simulate(_scores(t, max_seeds), rule).to_dict()


def _uncorrected_share(t: dict[str, Any], max_seeds: int, per_look: float) -> float:
    """The share of the fixed runs the race needs with every interval at ``per_look``."""
    higher = bool(t["rank_higher_is_better"])
    rule = _Uncorrected(per_look=per_look, max_seeds=max_seeds, higher_is_better=higher)
    result = simulate(_scores(t, max_seeds), rule)
    return result.runs / (len(result.schedules) * max_seeds)


def _verify(task: str, args: argparse.Namespace, out: Path) -> int:
    """Rerun as ``--seeds auto`` in the fixed bench's folder: how many runs were new (0)."""
    return run_bench(_config(task, args, out, seeds="auto", max_seeds=args.max_seeds)).ran


def _compare(task: str, t: dict[str, Any], max_seeds: int) -> tuple[float, bool, float]:
    """Print one task's comparison; return (share of runs, same recommendation, the share an
    uncorrected race at 5 % per look would need)."""
    race = _race(t, max_seeds)
    t_auto = {**t, "plan": {**(t.get("plan") or {}), "race": race}}
    best, tied = tied_with_best(t)
    fixed_group = [best, *tied] if best else []
    chosen = chosen_schedule(t_auto)
    same = (chosen in fixed_group) or (best in race["group"])
    share = race["runs"] / race["runs_fixed"]
    cap = " (noisy ties forced the cap)" if race["stop"] == "cap" else ""
    print(f"## {task}: {len(t['schedules'])} schedules, fixed {max_seeds} seeds")
    print(
        f"  auto: {race['runs']} of {race['runs_fixed']} runs ({share:.0%}), stopped: "
        f"{race['stop']} after {race['seeds']} seeds{cap}"
    )
    print(f"  auto says:  {race_recommendation(t_auto)}")
    print(f"  fixed says: best {best}, tied with it (overlapping CIs): {', '.join(tied) or '-'}")
    print(f"  same recommendation (schedule or tie group): {'yes' if same else 'NO'}")
    bound = _uncorrected_share(t, max_seeds, 0.05)
    print(
        f"  without the correction (every interval at 5 %, no guarantee): {bound:.0%} of the "
        f"runs; at 20 %: {_uncorrected_share(t, max_seeds, 0.20):.0%}"
    )
    return share, same, bound


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", default=["synthetic-linear", "digits-mlp", "charlm"])
    p.add_argument("--max-seeds", type=int, default=16)
    p.add_argument("--only", nargs="*", default=None, help="schedules (default: the suite)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--out", default="runs/bench-decisions")
    p.add_argument("--verify", action="store_true", help="rerun with --seeds auto: 0 new runs")
    p.add_argument("--from-results", default=None, help="race an existing results.json")
    args = p.parse_args()
    out = Path(args.out)
    shares: list[float] = []
    bounds: list[float] = []
    agree = 0
    if args.from_results:
        tasks = json.loads(Path(args.from_results).read_text())["tasks"]
        for task, t in tasks.items():
            n = min(len(e["seeds"]) for e in t["schedules"].values())
            share, same, bound = _compare(task, t, n)
            shares.append(share)
            bounds.append(bound)
            agree += same
        _summary(shares, bounds, agree, len(tasks))
        return
    for task in args.tasks:
        fixed = _fixed(task, args, out)
        share, same, bound = _compare(task, fixed["t"], args.max_seeds)
        shares.append(share)
        bounds.append(bound)
        agree += same
        print(f"  fixed wall {fixed['wall']:.0f} s ({fixed['ran']} runs new)")
        if args.verify:
            print(
                f"  --seeds auto rerun in the same folder ran {_verify(task, args, out)} new runs"
            )
        sys.stdout.flush()
    _summary(shares, bounds, agree, len(args.tasks))


def _summary(shares: list[float], bounds: list[float], agree: int, n: int) -> None:
    mean = sum(shares) / len(shares)
    print(
        f"\nmean share of runs auto needed: {mean:.0%} (goal <= 50 %); same recommendation "
        f"on {agree} of {n} tasks"
    )
    print(
        f"the same race without its correction (5 % per interval and look, no guarantee) would "
        f"need {sum(bounds) / len(bounds):.0%}"
    )


if __name__ == "__main__":
    main()

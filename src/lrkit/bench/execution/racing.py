"""Run the main seeds of a bench as races (``--seeds auto``) and the LR grid of ``--tune-lr``.

Every task plan (one per task and budget) races its schedules with the rule of
:mod:`lrkit.bench.planning.sequential`: all races run their next round together (one backend call, so
workers stay busy across tasks), then each race looks at its scores and drops the schedules
significantly worse than its leader. The driver gives this module two callables (make the jobs
of a plan, execute jobs), so it imports nothing of the driver.

>>> rule_for(RaceRule(), higher_is_better=True).higher_is_better
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from lrkit.bench.execution.runner import Job
from lrkit.bench.planning.sequential import Race, RaceRule

__all__ = ["race_grid", "race_main", "ray_session", "rule_for", "score_of", "seeds_note"]

#: Make the main jobs of one plan for some of its entries (by name) and seeds.
MakeJobs = Callable[[Any, Sequence[str], Sequence[int]], list[Job]]
#: Execute jobs (finished ones are skipped); returns how many ran.
Execute = Callable[[Sequence[Job], str], int]


def rule_for(rule: RaceRule, *, higher_is_better: bool) -> RaceRule:
    """The rule with the score direction of a task's ranked metric."""
    return replace(rule, higher_is_better=higher_is_better)


def score_of(rec: Mapping[str, Any] | None, metric: str) -> float | None:
    """The ranked score of a finished run: its final ``metric``; None unless status is "ok".

    >>> score_of({"status": "ok", "final": {"val_loss": 0.5}}, "val_loss")
    0.5
    >>> score_of({"status": "diverged", "final": {"val_loss": 0.5}}, "val_loss") is None
    True
    """
    if not rec or rec.get("status") != "ok":
        return None
    v = (rec.get("final") or {}).get(metric)
    if v is None or not math.isfinite(float(v)):
        return None
    return float(v)


def seeds_note(n_seeds: int, n_schedules: int, alpha: float = 0.05) -> str | None:
    """What to say before a fixed-seed bench whose seeds cannot reach significance.

    The paired sign-flip test's smallest p-value is ``2 / 2**n``; with ``n <= 5`` seeds it is
    at least 0.0625, so no difference can be significant at 0.05.

    >>> print(seeds_note(2, 3))
    note: with 2 seeds the paired test cannot go below p=0.5, so this bench cannot find a significant difference; use --seeds auto to run as many seeds as the data need (up to --max-seeds, default 16), or --seeds 6 or more.
    >>> seeds_note(6, 3) is None
    True
    """
    if n_schedules < 2 or n_seeds < 1 or 2.0 / 2**n_seeds < alpha:
        return None
    return (
        f"note: with {n_seeds} seed{'s' if n_seeds > 1 else ''} the paired test cannot go below "
        f"p={2.0 / 2**n_seeds:.2g}, so this bench cannot find a significant difference; use "
        f"--seeds auto to run as many seeds as the data need (up to --max-seeds, default 16), "
        f"or --seeds 6 or more."
    )


def _metric(plan: Any, rank_metric: str) -> tuple[str, bool]:
    """(metric, higher is better) the race of ``plan`` compares, as the report ranks."""
    if rank_metric == "target" and plan.target_metric != "val_loss":
        return str(plan.target_metric), bool(plan.higher_is_better)
    return "val_loss", False


def race_main(
    plans: Sequence[Any],
    seeds: Sequence[int],
    rule: RaceRule,
    rank_metric: str,
    make_jobs: MakeJobs,
    execute: Execute,
    done: Mapping[str, Mapping[str, Any]],
) -> tuple[list[Job], int]:
    """Race the entries of every plan over ``seeds`` (``rule.max_seeds`` of them).

    Sets ``plan.race`` (the :meth:`RaceResult.to_dict` of the race) and returns every main job
    planned (the report's keys) and how many runs were executed.
    """
    races: list[tuple[Any, Race, str]] = []
    for plan in plans:
        if not plan.entries:  # every schedule skipped on this task: nothing to race
            continue
        metric, higher = _metric(plan, rank_metric)
        names = [entry.name for entry, _opt in plan.entries]
        races.append((plan, Race(names, rule_for(rule, higher_is_better=higher)), metric))
    planned: dict[str, Job] = {}
    ran = 0
    while True:
        round_jobs: list[tuple[Any, Race, str, dict[tuple[str, int], Job]]] = []
        for plan, race, metric in races:
            n = race.need()
            if n is None:
                continue
            jobs = make_jobs(plan, race.alive, list(seeds[:n]))
            round_jobs.append((plan, race, metric, {(j.entry.name, j.seed): j for j in jobs}))
        if not round_jobs:
            break
        flat = [j for *_, js in round_jobs for j in js.values()]
        for j in flat:
            planned.setdefault(j.key, j)
        looks = sorted({race.need() or 0 for _, race, *_ in round_jobs})
        ran += execute(flat, f"bench (seeds auto: {'/'.join(map(str, looks))} seeds)")
        for _plan, race, metric, js in round_jobs:
            n = race.need() or 0
            scores = {
                name: [score_of(done.get(js[(name, s)].key), metric) for s in seeds[:n]]
                for name in race.alive
            }
            race.observe(scores)
    for plan, race, _metric_name in races:
        result = race.result
        plan.race = result.to_dict() if result is not None else {}
    return list(planned.values()), ran


def race_grid(
    grids: Mapping[int, Mapping[float, Sequence[Job]]],
    rule: RaceRule,
    execute: Execute,
    done: Mapping[str, Mapping[str, Any]],
    label: str,
) -> tuple[dict[int, dict[float, list[Job]]], int]:
    """Race the LR values of each tuning grid (``--tune-lr`` with more than 2 tuning seeds).

    ``grids[i][lr]`` are the tuning jobs of one LR, one per tuning seed (``rule.max_seeds``);
    all grids run their rounds together. An LR significantly worse than the grid's best leaves
    early. Returns, per grid and LR, the jobs that ran (a prefix of the seeds) and how many
    runs were executed.
    """
    races: dict[int, tuple[Race, dict[str, float]]] = {}
    for i, grid in grids.items():
        names = {repr(lr): lr for lr in grid}
        races[i] = (Race(list(names), rule), names)
    ran = 0
    while True:
        wanted = {i: race.need() for i, (race, _names) in races.items()}
        jobs = [
            j
            for i, n in wanted.items()
            if n is not None
            for name in races[i][0].alive
            for j in grids[i][races[i][1][name]][:n]
        ]
        if not jobs:
            break
        ran += execute(jobs, label)
        for i, n in wanted.items():
            if n is None:
                continue
            race, names = races[i]
            race.observe(
                {
                    name: [score_of(done.get(j.key), "val_loss") for j in grids[i][names[name]][:n]]
                    for name in race.alive
                }
            )
    out: dict[int, dict[float, list[Job]]] = {}
    for i, (race, names) in races.items():
        result = race.result
        out[i] = {
            lr: list(grids[i][lr][: result.seeds_of(name) if result else len(grids[i][lr])])
            for name, lr in names.items()
        }
    return out, ran


@contextmanager
def ray_session(
    backend: str, address: str | None, workers: int, jobs: Sequence[Job]
) -> Iterator[None]:
    """Keep one Ray session open across the rounds of a race (a private one is shut down at
    the end); nothing to do for the other backends or when Ray is already initialised."""
    if backend != "ray":
        yield
        return
    try:
        import ray
    except ImportError:  # the backend raises its own clear error
        yield
        return
    if ray.is_initialized():
        yield
        return
    from lrkit.bench.execution.backends import ray_runtime_env

    kwargs: dict[str, Any] = {"log_to_driver": False}
    if address is None:
        kwargs.update(num_cpus=workers, include_dashboard=False)
    else:
        kwargs["address"] = address
    env = ray_runtime_env(jobs)
    if env:
        kwargs["runtime_env"] = env
    ray.init(**kwargs)
    try:
        yield
    finally:
        ray.shutdown()

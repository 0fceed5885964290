"""The bench driver: plan jobs from a config, pick peak LRs, run, resume, aggregate, report.

The driver is the only writer of ``runs/<name>/runs.jsonl``. A rerun of the same command skips
every finished run (status "ok" or "diverged", matched by key) and retries errored ones.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lrkit.bench.api import OWN_OPTIMIZER
from lrkit.bench.execution.backends import make_backend
from lrkit.bench.execution.progress import progress_line, should_print
from lrkit.bench.execution.records import RunsFile, latest_by_key, read_records
from lrkit.bench.execution.rundir import check_run_dir, lock_run_dir, write_atomic
from lrkit.bench.execution.runner import Job, make_job
from lrkit.bench.planning.budgets import budget_plans, budgets_meta, merged_budgets
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.planning.plan import TaskPlan
from lrkit.bench.planning.suite import (
    DEFAULT_SUITE,
    SuiteEntry,
    finder_policy,
    resolve_optimizer,
    select,
)
from lrkit.bench.planning.tuning import (
    all_failed,
    log_grid,
    mean_scores,
    next_extension,
    tune_result,
)
from lrkit.finder.recommend import PeakRule
from lrkit.finder.result import RangeTestResult

__all__ = ["BenchOutcome", "TaskPlan", "plan_tasks", "run_bench"]

FINISHED = ("ok", "diverged")


@dataclass
class BenchOutcome:
    """Where the results went and how many runs were run / skipped / failed."""

    run_dir: Path
    report: Path | None
    results: Path | None
    ran: int
    skipped: int
    errors: int
    wall_time: float
    error_messages: list[str] = field(default_factory=list)


def suite_for(cfg: BenchConfig) -> tuple[SuiteEntry, ...]:
    """The suite a config asks for: default entries (unless disabled) + its own, filtered."""
    base = DEFAULT_SUITE if cfg.default_suite else ()
    own = {e.name for e in cfg.schedules}
    merged = tuple(e for e in base if e.name not in own) + tuple(cfg.schedules)
    if not merged:
        raise ValueError("bench: no schedules to run (default suite off and no --schedule given)")
    if cfg.baseline != BenchConfig.baseline:  # the default may be absent (no comparisons)
        check_baseline(cfg.baseline, [e.name for e in merged])
    return select(merged, cfg.only or None)


def check_baseline(baseline: str, names: Sequence[str]) -> None:
    """Raise ValueError unless ``baseline`` names a schedule of the suite (with "did you mean").

    >>> check_baseline("cosin", ["constant", "cosine"])
    Traceback (most recent call last):
    ...
    ValueError: bench: --baseline 'cosin' is not a schedule of this bench; did you mean 'cosine'? known: constant, cosine
    """
    if baseline in names:
        return
    import difflib

    close = difflib.get_close_matches(str(baseline), list(names), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"bench: --baseline {baseline!r} is not a schedule of this bench{hint} "
        f"known: {', '.join(names)}"
    )


def plan_tasks(cfg: BenchConfig) -> list[TaskPlan]:
    """Resolve every task's budget, evaluation period and the entries it can run."""
    from lrkit.bench.tasks import get_task, missing_requirements

    entries = suite_for(cfg)
    plans: list[TaskPlan] = []
    for name in cfg.tasks:
        try:
            spec = get_task(name)
        except SystemExit as exc:  # e.g. -t builtins:exit: never a silent exit 0
            raise RuntimeError(
                f"bench: loading task {name!r} called exit({exc.code!r}); a task factory "
                f"must return a lrkit.bench.tasks.TaskSpec"
            ) from None
        missing = missing_requirements(spec)
        if missing:
            raise ImportError(
                f"bench: task {name!r} needs {', '.join(missing)}, which is not installed"
            )
        _check_needs(spec, name, cfg)
        steps = cfg.steps or spec.steps
        if cfg.eval_every is not None:
            every = cfg.eval_every
        else:
            every = max(1, round(spec.eval_every * steps / spec.steps))
        every = min(every, steps)
        default_opt = cfg.optimizer or spec.optimizers[0]
        if default_opt not in spec.optimizers:
            raise ValueError(
                f"bench: --optimizer {default_opt!r} is not supported by task {name!r}; "
                f"allowed: {', '.join(spec.optimizers)}"
            )
        plan = TaskPlan(
            task=spec.name,
            source=name,
            device="cuda" if cfg.gpus_per_run else "cpu",
            steps=steps,
            eval_every=every,
            target_metric=spec.target_metric,
            target_value=float(spec.target_value),
            higher_is_better=spec.higher_is_better,
            default_lr={o: spec.lr_for(o) for o in spec.optimizers},
        )
        for entry in entries:
            opt, why = resolve_optimizer(entry, default_opt, spec.optimizers)
            if opt is None:
                plan.skipped.append((entry.name, why))
            else:
                entry.build(1.0, steps)  # fail early on a bad schedule text
                plan.entries.append((entry, opt))
        plans.append(plan)
    _check_unique(plans)
    return plans


def _check_needs(spec: Any, source: str, cfg: BenchConfig) -> None:
    """A function task without decorator ``steps``/``lr`` needs ``--steps``/``--lr``."""
    if "steps" in spec.needs and cfg.steps is None:
        raise ValueError(
            f"bench: task {source!r} sets no step budget; give --steps N "
            f"(or @lrkit.bench.task(steps=N))"
        )
    if "lr" in spec.needs and cfg.lr is None and cfg.lr_mode != "finder":
        raise ValueError(
            f"bench: task {source!r} sets no peak LR; give --lr X, --lr-from-finder "
            f"(or @lrkit.bench.task(lr=X))"
        )


def _check_unique(plans: Sequence[TaskPlan]) -> None:
    seen: dict[str, str] = {}
    for p in plans:
        if p.task in seen:
            raise ValueError(
                f"bench: tasks {seen[p.task]!r} and {p.source!r} have the same name {p.task!r}; "
                f"give one another name"
            )
        seen[p.task] = p.source


def _job(
    plan: TaskPlan,
    entry: SuiteEntry,
    opt: str,
    lr: float,
    seed: int,
    purpose: str,
    batch_size: int | None,
    eval_every: int | None = None,
) -> Job:
    return make_job(
        task=plan.task,
        entry=entry,
        peak_lr=lr,
        seed=seed,
        steps=plan.steps,
        eval_every=eval_every or plan.eval_every,
        optimizer=opt,
        batch_size=batch_size,
        purpose=purpose,
        target_metric=plan.target_metric,
        target_value=plan.target_value,
        higher_is_better=plan.higher_is_better,
        source=plan.source if plan.source != plan.task else "",
        device=plan.device,
    )


def _range_test(
    plan: TaskPlan, opt: str, cfg: BenchConfig, run_dir: Path, say: Callable[[str], None]
) -> RangeTestResult:
    """An LR range test on the task (tune seed, 1e-6 to 10 over the task's steps, between
    :data:`~lrkit.finder.recommend.MIN_NUM_STEPS` and 100), kept in the run folder
    (:data:`~lrkit.bench.execution.range_test.RANGE_TESTS_NAME`) and reused by a rerun whose
    task, optimizer, tune seed, batch size and sweep are the same."""
    from lrkit.bench.execution import range_test as rt
    from lrkit.bench.tasks import get_task
    from lrkit.finder.recommend import MIN_NUM_STEPS

    sweep: dict[str, Any] = {
        "start": 1e-6,
        "end": 10.0,
        "num_steps": min(100, max(plan.steps, MIN_NUM_STEPS)),
    }
    key = {"task": plan.task, "source": plan.source, "optimizer": opt, "seed": cfg.tune_seed}
    key.update(batch_size=cfg.batch_size, **sweep)
    where = run_dir / rt.RANGE_TESTS_NAME
    try:
        stored = rt.load_range_test(run_dir, key)
    except ValueError as exc:
        say(f"range test store {where} unreadable ({exc}): running the tests again")
        stored = None
    if stored is not None:
        say(f"range test on {plan.task} ({opt}): reused from {where}")
        family = get_task(plan.source or plan.task).optimizer_family(opt)
        return replace(stored, optimizer=family)  # the declaration may be new
    say(f"range test on {plan.task} ({opt}) ...")
    result = rt.range_test_task(
        plan.source or plan.task, opt, cfg.tune_seed, batch_size=cfg.batch_size, **sweep
    )
    rt.store_range_test(run_dir, key, result)
    return result


def _finder_peak(result: RangeTestResult, entry: SuiteEntry) -> tuple[float, str]:
    """The peak LR the finder recommends for ``entry``'s shape, and the rule's name.

    A one-cycle, wsd or cosine schedule gets that policy's default rule of
    :func:`lrkit.finder.recommend` (:data:`~lrkit.finder.recommend.DEFAULT_RULES`, read with the
    optimizer family the range test recorded, ``result.optimizer``); any other shape, for which
    no rule was measured, gets ``recommend``'s default policy's (one-cycle's) rule, so that every
    schedule's peak comes from the rules with the lowest held-out regret rather than one from
    the 0.x rule.

    Args:
        result: the range test of the task.
        entry: the suite entry whose peak is wanted.
    """
    rule = _finder_rule(entry)
    return float(rule.peak(result, result.optimizer)), rule.name


def _finder_rule(entry: SuiteEntry) -> PeakRule:
    from lrkit.finder.recommend import DEFAULT_RULES, peak_rule

    return peak_rule(DEFAULT_RULES[finder_policy(entry) or "one_cycle"])


def _family_notes(
    plan: TaskPlan, opt: str, result: RangeTestResult, entries: Sequence[SuiteEntry]
) -> list[str]:
    """One line per peak rule that applies the unknown-family multiplier to ``plan``'s task."""
    notes = []
    for rule in dict.fromkeys(_finder_rule(e) for e in entries):
        note = rule.unknown_family_note(result.optimizer)
        if note:
            how = (
                "declare it with @lrkit.bench.task(optimizer='sgd' | 'adam' | 'adamw')"
                if opt == OWN_OPTIMIZER
                else f"optimizer {opt!r} is in no measured family"
            )
            notes.append(f"range test on {plan.task}: rule {rule.name}: {note}; {how}")
    return notes


class _Display:
    """Rich progress bar with ETA and the current leader; silent when ``quiet``."""

    def __init__(self, quiet: bool, terminal: bool | None = None) -> None:
        self.quiet = quiet
        self._progress: Any = None
        self._task_id: Any = None
        self._scores: dict[tuple[str, str], list[float]] = {}
        self._terminal = terminal
        self._plain: list[Any] = []  # [description, done, total, start time] without a terminal

    def start(self, description: str, total: int) -> None:
        if self.quiet or total == 0:
            return
        terminal = self._terminal
        if terminal is None:
            from rich.console import Console

            terminal = Console().is_terminal  # where the live bar would draw
        if not terminal:
            self._plain = [description, 0, total, time.perf_counter()]
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[leader]}"),
            transient=False,
        )
        self._progress.start()
        self._task_id = self._progress.add_task(description, total=total, leader="")

    def seen(self, rec: dict[str, Any]) -> None:
        if rec.get("purpose") != "main" or rec.get("status") not in FINISHED:
            return
        v = (rec.get("final") or {}).get("val_loss")
        self._scores.setdefault((rec["task"], rec["schedule"]), []).append(
            math.inf if v is None else float(v)
        )

    def leader(self) -> str:
        best: dict[str, tuple[float, str]] = {}
        for (task, sched), vals in self._scores.items():
            m = sum(vals) / len(vals)
            if not math.isfinite(m):  # diverged or no val_loss: not a leader
                continue
            if task not in best or m < best[task][0]:
                best[task] = (m, sched)
        return "  ".join(f"{t}: {s} ({m:.3g})" for t, (m, s) in sorted(best.items()))

    def advance(self, rec: dict[str, Any]) -> None:
        self.seen(rec)
        if self._plain:
            self._plain[1] += 1
            description, done, total, t0 = self._plain
            if should_print(done, total):
                elapsed = time.perf_counter() - t0
                line = progress_line(
                    description, done, total, elapsed=elapsed, leader=self.leader()
                )
                print(line, file=sys.stderr, flush=True)
        if self._progress is not None:
            lead = self.leader()
            self._progress.update(self._task_id, advance=1, leader=f"leader {lead}" if lead else "")

    def stop(self) -> None:
        self._plain = []
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _execute(
    jobs: Sequence[Job],
    cfg: BenchConfig,
    runs: RunsFile,
    done: dict[str, dict[str, Any]],
    display: _Display,
    description: str,
    errors: list[str],
) -> int:
    pending = [j for j in jobs if done.get(j.key, {}).get("status") not in FINISHED]
    if not pending:
        return 0  # nothing to run: no backend (and no GPU check) needed
    display.start(description, len(pending))
    backend = make_backend(
        cfg.backend,
        workers=cfg.n_workers(),
        address=cfg.address,
        gpus_per_run=cfg.gpus_per_run,
        workers_given=cfg.workers is not None,
        run_timeout=cfg.run_timeout,
    )

    def on_result(rec: dict[str, Any]) -> None:
        runs.append(rec)
        done[rec["key"]] = rec
        if rec.get("status") == "error":
            errors.append(f"{rec['task']}/{rec['schedule']}/seed {rec['seed']}: {rec['error']}")
        display.advance(rec)

    try:
        backend.run(pending, on_result)
    finally:
        display.stop()
    return len(pending)


def _tune(
    items: Sequence[tuple[TaskPlan, SuiteEntry, str, float]],
    cfg: BenchConfig,
    runs: RunsFile,
    done: dict[str, dict[str, Any]],
    display: _Display,
    errors: list[str],
) -> tuple[int, int]:
    """Tune each (plan, entry) on ``cfg.tune_seeds`` seeds: grid, then edge extensions.

    Returns (runs executed, tuning jobs planned). Sets ``plan.peak``, ``plan.lr_source`` and
    ``plan.tuning`` (see :func:`lrkit.bench.planning.tuning.tune_result`).
    """
    seeds = [cfg.tune_seed + i for i in range(cfg.tune_seeds)]
    state: dict[int, dict[str, Any]] = {}
    for i, (_plan, _entry, _opt, base) in enumerate(items):
        state[i] = {"lrs": log_grid(base, cfg.tune_factors), "ext": 0, "open": True}
    ran = 0
    round_no = 0
    seen: set[str] = set()
    while True:
        jobs: dict[int, dict[float, list[Job]]] = {}
        for i, (plan, entry, opt, _base) in enumerate(items):
            st = state[i]
            if not st["open"]:
                continue
            jobs[i] = {
                # tuning needs only the final val loss: one evaluation, at the end
                lr: [
                    _job(plan, entry, opt, lr, s, "tune", cfg.batch_size, eval_every=plan.steps)
                    for s in seeds
                ]
                for lr in st["lrs"]
            }
        # each tuning run once per invocation: a failed one is not retried at each extension
        skip = frozenset(seen)
        flat = [j for per in jobs.values() for js in per.values() for j in js if j.key not in skip]
        label = "tuning LR" if round_no == 0 else f"tuning LR (extension {round_no})"
        if cfg.tune_seeds > 2:  # race the grid: LRs clearly behind stop early
            jobs, r = _race_grid(jobs, cfg, runs, done, display, label, errors, skip)
            ran += r
        else:
            ran += _execute(flat, cfg, runs, done, display, label, errors)
        seen.update(j.key for per in jobs.values() for js in per.values() for j in js)
        round_no += 1
        for i, per in jobs.items():
            plan, entry, _opt, _base = items[i]
            _tune_step(plan, entry, state[i], _tune_scores(per, done), cfg, seeds)
        if not any(st["open"] for st in state.values()):
            return ran, len(seen)


def _race_grid(
    jobs: dict[int, dict[float, list[Job]]],
    cfg: BenchConfig,
    runs: RunsFile,
    done: dict[str, dict[str, Any]],
    display: _Display,
    label: str,
    errors: list[str],
    skip: frozenset[str] = frozenset(),
) -> tuple[dict[int, dict[float, list[Job]]], int]:
    """Race each grid's LRs over the tuning seeds (see :func:`lrkit.bench.execution.racing.race_grid`);
    the jobs in ``skip`` ran earlier in this invocation and are not run again."""
    from lrkit.bench.execution.racing import race_grid
    from lrkit.bench.planning.sequential import RaceRule

    rule = RaceRule(
        min_seeds=min(cfg.min_seeds, cfg.tune_seeds), max_seeds=cfg.tune_seeds, margin=cfg.margin
    )

    def execute(js: Sequence[Job], what: str) -> int:
        fresh = [j for j in js if j.key not in skip]
        return _execute(fresh, cfg, runs, done, display, what, errors)

    return race_grid(jobs, rule, execute, done, label)


def _tune_scores(
    per: dict[float, list[Job]], done: dict[str, dict[str, Any]]
) -> dict[float, list[float | None]]:
    """Final val loss of each tuning job per LR (None where the run failed or has none)."""
    scores: dict[float, list[float | None]] = {}
    for lr, js in per.items():
        vals: list[float | None] = []
        for j in js:
            rec = done.get(j.key, {})
            v = (rec.get("final") or {}).get("val_loss")
            vals.append(None if rec.get("status") != "ok" or v is None else float(v))
        scores[lr] = vals
    return scores


def _tune_step(
    plan: TaskPlan,
    entry: SuiteEntry,
    st: dict[str, Any],
    scores: dict[float, list[float | None]],
    cfg: BenchConfig,
    seeds: list[int],
) -> None:
    """Extend the LR grid of one entry at its edge, or close it and record the chosen peak;
    a grid where every run failed is closed unextended and its entry skipped (no main runs)."""
    means = mean_scores(scores)
    failed = all_failed(means)
    nxt = None
    if not failed:
        nxt = next_extension(
            means, extensions=st["ext"], max_extensions=cfg.tune_extensions, ratio=cfg.tune_ratio
        )
    if nxt is None:
        st["open"] = False
        if failed:  # nothing to choose from
            n, lo, hi = sum(len(v) for v in scores.values()), min(scores), max(scores)
            plan.skipped.append(
                (
                    entry.name,
                    f"its whole LR tuning grid failed (no peak LR from {lo:.3g} to {hi:.3g} "
                    f"gave a finite val loss on every tuning seed; {n} runs), so it got no "
                    f"main runs",
                )
            )
            return
        res = tune_result(scores, extensions=st["ext"], seeds=seeds)
        plan.tuning[entry.name] = res
        plan.peak[entry.name] = float(res["chosen"])
        plan.lr_source[entry.name] = "tuned" if res["edge"] is None else "tuned (edge)"
    else:
        st["lrs"] = sorted([*st["lrs"], nxt])
        st["ext"] += 1


def run_bench(cfg: BenchConfig, *, log: Callable[[str], None] | None = None) -> BenchOutcome:
    """Run (or resume) a bench and write runs.jsonl, results.json, report.md and the PNGs.

    The run folder is locked for the whole run (see :func:`lock_run_dir`).
    """
    t0 = time.perf_counter()
    say = log or (lambda _msg: None)
    plans = plan_tasks(cfg)
    if not cfg.auto_seeds:
        from lrkit.bench.execution.racing import seeds_note

        note = seeds_note(len(cfg.seeds), max((len(p.entries) for p in plans), default=0))
        if note:
            say(note)
    bplans = budget_plans(plans, cfg.budgets)  # refuses a budget under one step, before mkdir
    for line in merged_budgets(bplans):
        say(line)
    run_dir = Path(os.path.abspath(cfg.run_dir))  # a task may chdir (--workers 1)
    run_dir.mkdir(parents=True, exist_ok=True)
    check_run_dir(run_dir)  # no links inside: never write through them
    with lock_run_dir(run_dir):
        return _run_locked(cfg, plans, bplans, run_dir, say, t0)


def _run_locked(
    cfg: BenchConfig,
    plans: list[TaskPlan],
    bplans: dict[float, list[TaskPlan]],
    run_dir: Path,
    say: Callable[[str], None],
    t0: float,
) -> BenchOutcome:
    from lrkit.bench.presentation.report import build_report

    runs_path = run_dir / "runs.jsonl"
    done = latest_by_key(read_records(runs_path))
    display = _Display(cfg.quiet)
    for rec in done.values():
        display.seen(rec)
    errors: list[str] = []
    ran = 0
    all_plans = [p for group in bplans.values() for p in group]
    with RunsFile(runs_path) as runs:
        # 1. Peak LR per (task, budget, entry).
        to_tune = _assign_peaks(cfg, all_plans, run_dir, say)
        n_tune = 0
        if to_tune:
            r, n_tune = _tune(to_tune, cfg, runs, done, display, errors)
            ran += r
        # 2. Main runs, ordered seed-major so the leader and ETA mean something early;
        #    with --seeds auto in rounds, dropping schedules behind (lrkit.bench.execution.racing).
        if cfg.auto_seeds:
            main, budget_keys, r = _race_jobs(cfg, bplans, runs, done, display, errors)
            ran += r
        else:
            main, budget_keys = _main_jobs(cfg, bplans)
            ran += _execute(main, cfg, runs, done, display, "bench", errors)
    meta = _bench_meta(cfg, plans, budget_keys[1.0])
    if cfg.budgets:
        meta["budgets"] = budgets_meta(bplans, budget_keys)
    write_atomic(run_dir / "bench.json", json.dumps(meta, indent=2) + "\n")
    paths = build_report(run_dir, force=False)  # unchanged inputs: keep the report
    return BenchOutcome(
        run_dir=run_dir,
        report=paths.get("report"),
        results=paths.get("results"),
        ran=ran,
        skipped=len(main) + n_tune - ran,
        errors=len(errors),
        wall_time=time.perf_counter() - t0,
        error_messages=errors,
    )


def _assign_peaks(
    cfg: BenchConfig, plans: list[TaskPlan], run_dir: Path, say: Callable[[str], None]
) -> list[tuple[TaskPlan, SuiteEntry, str, float]]:
    """Set the peak LR of each (plan, entry) from the range test or the given/default LR.

    Returns the (plan, entry, optimizer, base LR) items left to tune when ``lr_mode`` is "tune".
    """
    finder_cache: dict[tuple[str, str], RangeTestResult] = {}
    to_tune: list[tuple[TaskPlan, SuiteEntry, str, float]] = []
    for plan in plans:
        for entry, opt in plan.entries:
            base = cfg.lr if cfg.lr is not None else plan.default_lr[opt]
            if cfg.lr_mode == "finder":
                if (plan.task, opt) not in finder_cache:
                    finder_cache[(plan.task, opt)] = _range_test(plan, opt, cfg, run_dir, say)
                    for note in _family_notes(
                        plan,
                        opt,
                        finder_cache[(plan.task, opt)],
                        [e for e, o in plan.entries if o == opt],
                    ):
                        say(note)
                try:
                    peak, rule = _finder_peak(finder_cache[(plan.task, opt)], entry)
                except ValueError as exc:  # a test that diverged at once
                    raise ValueError(f"bench: range test on {plan.task} ({opt}): {exc}") from None
                plan.peak[entry.name] = peak
                plan.lr_source[entry.name] = f"range test ({rule})"
            elif cfg.lr_mode == "tune":
                to_tune.append((plan, entry, opt, base))
            else:
                plan.peak[entry.name] = base
                plan.lr_source[entry.name] = "given" if cfg.lr is not None else "task default"
    return to_tune


def _main_jobs(
    cfg: BenchConfig, bplans: dict[float, list[TaskPlan]]
) -> tuple[list[Job], dict[float, list[str]]]:
    """The main jobs, seed-major, and the job keys of each budget."""
    main: list[Job] = []
    budget_keys: dict[float, list[str]] = {b: [] for b in bplans}
    for seed in cfg.seeds:
        for b, group in bplans.items():
            for plan in group:
                for entry, opt in plan.entries:
                    if entry.name not in plan.peak:  # its whole tuning grid failed
                        continue
                    job = _job(
                        plan, entry, opt, plan.peak[entry.name], seed, "main", cfg.batch_size
                    )
                    main.append(job)
                    budget_keys[b].append(job.key)
    return main, budget_keys


def _race_jobs(
    cfg: BenchConfig,
    bplans: dict[float, list[TaskPlan]],
    runs: RunsFile,
    done: dict[str, dict[str, Any]],
    display: _Display,
    errors: list[str],
) -> tuple[list[Job], dict[float, list[str]], int]:
    """``--seeds auto``: race every plan's schedules (see :func:`lrkit.bench.execution.racing.race_main`)."""
    from lrkit.bench.execution.racing import race_main, ray_session
    from lrkit.bench.planning.sequential import RaceRule

    rule = RaceRule(min_seeds=cfg.min_seeds, max_seeds=cfg.max_seeds, margin=cfg.margin)

    def make_jobs(plan: TaskPlan, names: Sequence[str], seeds: Sequence[int]) -> list[Job]:
        wanted = set(names)
        return [
            _job(plan, entry, opt, plan.peak[entry.name], seed, "main", cfg.batch_size)
            for seed in seeds
            for entry, opt in plan.entries
            if entry.name in wanted
        ]

    def execute(jobs: Sequence[Job], label: str) -> int:
        return _execute(jobs, cfg, runs, done, display, label, errors)

    all_plans = [p for group in bplans.values() for p in group]
    first = [j for p in all_plans for j in make_jobs(p, [e.name for e, _ in p.entries], [0])]
    with ray_session(cfg.backend, cfg.address, cfg.n_workers(), first):
        main, ran = race_main(all_plans, cfg.seeds, rule, cfg.rank_metric, make_jobs, execute, done)
    keys = {j.key for j in main}
    budget_keys = {
        b: [
            j.key
            for p in group
            for j in make_jobs(p, [e.name for e, _ in p.entries], cfg.seeds)
            if j.key in keys
        ]
        for b, group in bplans.items()
    }
    return main, budget_keys, ran


def _bench_meta(cfg: BenchConfig, plans: list[TaskPlan], keys: list[str]) -> dict[str, Any]:
    """The bench.json content (without budgets): config, main job keys and each plan's LRs."""
    return {
        "schema": "lrkit.bench/1",
        "name": cfg.name,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": cfg.to_dict(),
        "keys": keys,
        "plans": [
            {
                "task": p.task,
                "source": p.source,
                "steps": p.steps,
                "eval_every": p.eval_every,
                "skipped": [{"schedule": n, "reason": r} for n, r in p.skipped],
                "peak_lr": p.peak,
                "lr_source": p.lr_source,
                "tuning": p.tuning,
                **({"race": p.race} if p.race else {}),
            }
            for p in plans
        ],
    }

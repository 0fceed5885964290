"""Typer commands ``lrkit bench`` and ``lrkit report`` (wired into lrkit.cli via :func:`register`)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

__all__ = ["bench", "register", "report"]


def _fail(msg: str) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code=2)


def bench(
    preset: Annotated[
        str | None,
        typer.Option(help="Named preset: demo (make demo), quick, smoke (tests) or literature."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML file; flags override it.")
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task",
            "-t",
            help="Built-in task name, path/to/file.py:function or pkg.module:function (repeatable).",
        ),
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(
            help="'auto' (race: seeds in rounds, schedules behind dropped, stop when decided) "
            "or a number of seeds (0..N-1).",
        ),
    ] = None,
    max_seeds: Annotated[
        int | None, typer.Option(help="--seeds auto: the most seeds per schedule (default 16).")
    ] = None,
    min_seeds: Annotated[
        int | None, typer.Option(help="--seeds auto: seeds of the first round (default 3).")
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(
            help="--seeds auto: schedules within this relative margin count as equivalent "
            "(default 0.01 = 1 %).",
        ),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Step budget (default: the task's).")] = None,
    eval_every: Annotated[int | None, typer.Option(help="Evaluate every N steps.")] = None,
    lr: Annotated[
        float | None, typer.Option(help="Peak LR for every schedule (default: the task's).")
    ] = None,
    tune_lr: Annotated[
        bool, typer.Option("--tune-lr", help="Tune each schedule's peak LR on a log grid.")
    ] = False,
    tune_seeds: Annotated[
        int | None,
        typer.Option(
            help="Seeds per tuning grid value (default 2; separate from --seeds); above 2 the "
            "grid is raced: LRs clearly behind stop early.",
        ),
    ] = None,
    budgets: Annotated[
        str | None,
        typer.Option(help="Budget shares, e.g. 10%,25%,50%,100%: rank vs budget."),
    ] = None,
    lr_from_finder: Annotated[
        bool, typer.Option("--lr-from-finder", help="Peak LR from an LR range test per task.")
    ] = False,
    optimizer: Annotated[
        str | None, typer.Option(help="Optimizer (default: the task's first).")
    ] = None,
    schedule: Annotated[
        list[str] | None,
        typer.Option(
            "--schedule",
            "-s",
            help="A suite entry by NAME, or an extra schedule NAME=TEXT (unit peak); repeatable.",
        ),
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option(help="Run only these schedule names (repeatable).")
    ] = None,
    suite: Annotated[
        str | None, typer.Option(help="'default' (the built-in suite) or 'none'.")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Schedule the others are compared with.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (default: CPU count).")
    ] = None,
    backend: Annotated[str | None, typer.Option(help="local, ray or serial.")] = None,
    gpus_per_run: Annotated[
        int | None,
        typer.Option(
            help="GPUs per run: each local worker gets its own (workers default to "
            "GPUs // N); with Ray each run requests N.",
        ),
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address ('auto', 'ray://host:10001').")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Run name: results go to OUT/NAME.")] = None,
    out: Annotated[str | None, typer.Option(help="Output root folder (default runs).")] = None,
    run_timeout: Annotated[
        float | None,
        typer.Option(help="Stop a run after this many seconds (an error record)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG figures.")] = False,
) -> None:
    """Compare LR schedules on small tasks over seeds; write runs/NAME/report.md."""
    from lrkit.bench.driver import run_bench
    from lrkit.bench.planning.config import BenchConfig, load_toml
    from lrkit.bench.planning.suite import parse_schedule_arg

    try:
        file_data: dict[str, Any] = load_toml(config) if config is not None else {}
        preset = preset or file_data.pop("preset", None)
        file_data.pop("preset", None)
        if tune_lr and lr_from_finder:
            raise ValueError("--tune-lr and --lr-from-finder exclude each other")
        if lr is not None and lr_from_finder:
            raise ValueError(
                "--lr and --lr-from-finder exclude each other: the range test sets every peak LR"
            )
        entries = [parse_schedule_arg(s) for s in schedule or [] if "=" in s]
        only = _only_with_named(only, schedule, entries)
        overrides: dict[str, Any] = {
            "tasks": tuple(task) if task else None,
            "seeds": _seeds_flag(seeds),
            "max_seeds": max_seeds,
            "min_seeds": min_seeds,
            "margin": margin,
            "steps": steps,
            "eval_every": eval_every,
            "lr": lr,
            "lr_mode": "tune" if tune_lr else "finder" if lr_from_finder else None,
            "tune_seeds": tune_seeds,
            "budgets": budgets,
            "optimizer": optimizer,
            "schedules": tuple(entries) if entries else None,
            "only": tuple(only) if only else None,
            "default_suite": None if suite is None else _suite_flag(suite),
            "baseline": baseline,
            "workers": workers,
            "backend": backend,
            "gpus_per_run": gpus_per_run,
            "address": address,
            "name": name,
            "out": out,
            "run_timeout": run_timeout,
            "quiet": True if quiet else None,
            "plots": False if no_plots else None,
        }
        cfg = BenchConfig.from_layers(preset=preset, file=file_data, overrides=overrides)
        if cfg.lr_mode == "finder":
            _check_finder()
        log = (lambda _m: None) if cfg.quiet else (lambda m: typer.echo(m, err=True))
        with _warnings_as_lines():
            outcome = run_bench(cfg, log=log)
    except (ValueError, TypeError, ImportError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # a read-only --out, a folder given as --config, a full disk
        raise _fail(_os_error(exc)) from None
    typer.echo(
        f"{outcome.ran} runs done, {outcome.skipped} already finished (skipped), "
        f"{outcome.errors} failed; {outcome.wall_time:.1f} s"
    )
    for msg in outcome.error_messages[:5]:
        typer.echo(f"  failed: {msg}", err=True)
    typer.echo(f"report: {outcome.report}")
    if outcome.errors:
        raise typer.Exit(code=1)


def _os_error(exc: OSError) -> str:
    where = f" {exc.filename!r}" if exc.filename else ""
    return f"{exc.strerror or type(exc).__name__}{where}" if exc.strerror else str(exc)


#: Distinct warnings kept for display after a command; more are counted, not kept.
MAX_WARNINGS = 50


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show bench warnings (skipped records) as one ``warning:`` line each on stderr.

    Warnings are collected while the command runs, each distinct one (category and message)
    once and at most :data:`MAX_WARNINGS` of them, so a task that warns at every step costs no
    memory; they are shown once the command is over, outside the collecting context (shown
    inside it, each would be collected again). A task's own warnings go to
    :func:`warnings.showwarning`.
    """
    from lrkit.bench.execution.records import RecordWarning

    kept: dict[tuple[type[Warning], str], warnings.WarningMessage] = {}
    more = 0

    def collect(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        nonlocal more
        key = (category, str(message))
        if key in kept:
            return
        if len(kept) >= MAX_WARNINGS:
            more += 1
            return
        kept[key] = warnings.WarningMessage(message, category, filename, lineno, file, line)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", RecordWarning)
            warnings.showwarning = collect
            yield
    finally:
        for w in kept.values():
            if issubclass(w.category, RecordWarning):
                typer.echo(f"warning: {w.message}", err=True)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        if more:
            typer.echo(f"warning: {more} more distinct warning(s) not shown", err=True)


def _only_with_named(
    only: list[str] | None, schedule: list[str] | None, entries: list[Any]
) -> list[str] | None:
    """``-s NAME`` (no ``=``) selects a suite entry: it joins ``--only``, and so do the
    ``NAME=TEXT`` entries given with it (else the selection would drop them)."""
    from lrkit._validate import did_you_mean
    from lrkit.bench.planning.suite import DEFAULT_SUITE

    named = [s.strip() for s in schedule or [] if "=" not in s]
    if not named:
        return only
    known = [e.name for e in DEFAULT_SUITE]
    for name in named:
        if name not in known:
            raise ValueError(
                f"--schedule {name!r} is not a suite entry{did_you_mean(name, known)} "
                f"({', '.join(known)}); to add a "
                f"schedule give NAME=TEXT (e.g. mine='cosine(start=1.0, steps=\"100%\")')"
            )
    return [*(only or []), *named, *(e.name for e in entries)]


def _seeds_flag(value: str | None) -> int | str | None:
    """``--seeds``: "auto" or a count."""
    if value is None or value.strip().lower() == "auto":
        return None if value is None else "auto"
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"--seeds must be 'auto' or a number >= 1, got {value!r}") from None


def _suite_flag(value: str) -> bool:
    if value not in ("default", "none"):
        raise ValueError(f"--suite must be 'default' or 'none', got {value!r}")
    return value == "default"


def _check_finder() -> None:
    try:
        from lrkit.finder.runner import RangeTest  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            f"--lr-from-finder needs lrkit.finder.RangeTest, which is not available: {exc}"
        ) from exc


def report(
    run_dir: Annotated[Path, typer.Argument(help="A bench run folder, e.g. runs/quick.")],
    plots: Annotated[
        bool | None,
        typer.Option(
            "--plots/--no-plots", help="Draw the PNG figures (default: as the bench run did)."
        ),
    ] = None,
) -> None:
    """Rebuild results.json, report.md and the PNGs of a bench run from its runs.jsonl."""
    from lrkit.bench.presentation.report import build_report

    try:
        with _warnings_as_lines():
            paths = build_report(run_dir, plots=plots)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except FileNotFoundError as exc:
        raise _fail(str(exc) if not exc.filename else _os_error(exc)) from None
    except OSError as exc:
        raise _fail(_os_error(exc)) from None
    typer.echo(f"report: {paths['report']}")


def register(app: typer.Typer) -> None:
    """Add the ``bench`` and ``report`` commands to a Typer app."""
    app.command("bench")(bench)
    app.command("report")(report)

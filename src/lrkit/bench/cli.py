"""Typer commands ``lrkit bench`` and ``lrkit report`` (wired into lrkit.cli via :func:`register`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["bench", "register", "report"]


def _fail(msg: str) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code=2)


def bench(
    preset: Annotated[
        str | None, typer.Option(help="Named preset: quick (make demo) or smoke (tests).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML file; flags override it.")
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option("--task", "-t", help="Task name or pkg.module:factory (repeatable)."),
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Number of seeds (0..N-1).")] = None,
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
        typer.Option(help="Seeds per tuning grid value (default 2; separate from --seeds)."),
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
        typer.Option("--schedule", "-s", help="Extra schedule NAME=TEXT (unit peak, repeatable)."),
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
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address ('auto', 'ray://host:10001').")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Run name: results go to OUT/NAME.")] = None,
    out: Annotated[str | None, typer.Option(help="Output root folder (default runs).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG figures.")] = False,
) -> None:
    """Compare LR schedules on small tasks over seeds; write runs/NAME/report.md."""
    from lrkit.bench.config import BenchConfig, load_toml
    from lrkit.bench.driver import run_bench
    from lrkit.bench.suite import parse_schedule_arg

    try:
        file_data: dict[str, Any] = load_toml(config) if config is not None else {}
        preset = preset or file_data.pop("preset", None)
        file_data.pop("preset", None)
        if tune_lr and lr_from_finder:
            raise ValueError("--tune-lr and --lr-from-finder exclude each other")
        overrides: dict[str, Any] = {
            "tasks": tuple(task) if task else None,
            "seeds": seeds,
            "steps": steps,
            "eval_every": eval_every,
            "lr": lr,
            "lr_mode": "tune" if tune_lr else "finder" if lr_from_finder else None,
            "tune_seeds": tune_seeds,
            "budgets": budgets,
            "optimizer": optimizer,
            "schedules": tuple(parse_schedule_arg(s) for s in schedule) if schedule else None,
            "only": tuple(only) if only else None,
            "default_suite": None if suite is None else _suite_flag(suite),
            "baseline": baseline,
            "workers": workers,
            "backend": backend,
            "address": address,
            "name": name,
            "out": out,
            "quiet": True if quiet else None,
            "plots": False if no_plots else None,
        }
        cfg = BenchConfig.from_layers(preset=preset, file=file_data, overrides=overrides)
        if cfg.lr_mode == "finder":
            _check_finder()
        log = (lambda _m: None) if cfg.quiet else (lambda m: typer.echo(m, err=True))
        outcome = run_bench(cfg, log=log)
    except (ValueError, TypeError, ImportError, FileNotFoundError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"{outcome.ran} runs done, {outcome.skipped} already finished (skipped), "
        f"{outcome.errors} failed; {outcome.wall_time:.1f} s"
    )
    for msg in outcome.error_messages[:5]:
        typer.echo(f"  failed: {msg}", err=True)
    typer.echo(f"report: {outcome.report}")
    if outcome.errors:
        raise typer.Exit(code=1)


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
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG figures.")] = False,
) -> None:
    """Rebuild results.json, report.md and the PNGs of a bench run from its runs.jsonl."""
    from lrkit.bench.report import build_report

    try:
        paths = build_report(run_dir, plots=False if no_plots else None)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"report: {paths['report']}")


def register(app: typer.Typer) -> None:
    """Add the ``bench`` and ``report`` commands to a Typer app."""
    app.command("bench")(bench)
    app.command("report")(report)

"""``lrkit find``: run the LR range test on a bench task, print suggestions and a schedule.

Wire it into a typer app with :func:`register` (``lrkit.cli`` does).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["find", "image_format", "register", "write_error"]


def image_format(path: Path, option: str = "--output") -> str:
    """The format to save a figure at ``path`` in: its suffix, or "png" when it has none.

    ValueError naming ``option`` for an existing folder or a suffix matplotlib cannot write.
    The figure goes to exactly ``path`` (matplotlib alone would write ``path + ".png"``).

    >>> image_format(Path("curve.svg")), image_format(Path("curve"))
    ('svg', 'png')
    >>> try:
    ...     image_format(Path("notes.txt"))
    ... except ValueError as err:
    ...     print(str(err)[:57])
    --output 'notes.txt': cannot save a figure as '.txt'; use
    """
    from matplotlib.backend_bases import FigureCanvasBase

    if path.is_dir():
        raise ValueError(
            f"{option} {str(path)!r} is a folder; give a file name, e.g. "
            f"{str(path / 'schedules.png')!r}"
        )
    suffix = path.suffix.lower().removeprefix(".")
    if not suffix:
        return "png"
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    if suffix not in formats:
        raise ValueError(
            f"{option} {str(path)!r}: cannot save a figure as {path.suffix!r}; use one of "
            f"{', '.join('.' + f for f in formats)}"
        )
    return suffix


def write_error(option: str, path: Path, exc: OSError) -> str:
    """One line saying why writing ``path`` (given as ``option``) failed.

    >>> write_error("--json", Path("/dev/full"), OSError(28, "No space left on device"))
    "--json: cannot write '/dev/full': No space left on device"
    """
    return f"{option}: cannot write {str(path)!r}: {exc.strerror or type(exc).__name__}"


def find(
    task: Annotated[
        str,
        typer.Option(
            "--task",
            "-t",
            help="Bench task name, path/to/file.py:function or pkg.module:function (or factory).",
        ),
    ] = "digits-mlp",
    optimizer: Annotated[
        str | None, typer.Option("--optimizer", help="Task optimizer (default: the task's first).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the fresh trainer.")] = 0,
    start: Annotated[float, typer.Option(help="Lowest LR of the sweep.")] = 1e-7,
    end: Annotated[float, typer.Option(help="Highest LR of the sweep.")] = 10.0,
    num_steps: Annotated[int, typer.Option("--num-steps", help="Steps of the sweep.")] = 100,
    mode: Annotated[str, typer.Option(help="Sweep shape: exp or linear.")] = "exp",
    cycle: Annotated[bool, typer.Option(help="Run the low→high→low triangle.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Save a plot of the curve (PNG, SVG).")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Save the result as JSON.")
    ] = None,
    recommend: Annotated[
        str | None,
        typer.Option("--recommend", help="Print a schedule: one_cycle, wsd, cosine or cyclic."),
    ] = None,
    steps: Annotated[
        int | None, typer.Option("--steps", help="Training steps of the recommended schedule.")
    ] = None,
    rule: Annotated[
        str | None,
        typer.Option(
            help="Peak rule used by --recommend (default: the policy's, e.g. valley_x4 for "
            "one_cycle; lrkit: the 0.x rule)."
        ),
    ] = None,
) -> None:
    """Run the LR range test on a bench task and print the suggestions of every rule."""
    import difflib

    from rich.console import Console
    from rich.table import Table

    from lrkit.bench.execution.range_test import range_test_task
    from lrkit.bench.tasks import get_task, missing_requirements
    from lrkit.finder import suggestions as sugg
    from lrkit.finder.recommend import (
        DEFAULT_RULES,
        MIN_NUM_STEPS,
        MIN_POINTS,
        PEAK_RULES,
        POLICIES,
        peak_rule,
    )
    from lrkit.finder.runner import MAX_NUM_STEPS

    console = Console()
    try:
        spec = get_task(task)
        missing = missing_requirements(spec)
        if missing:
            raise ValueError(f"task {task!r} needs {', '.join(missing)} (not installed)")
        if recommend is None and (rule is not None or steps is not None):
            given = " and ".join(
                f for f, v in (("--rule", rule), ("--steps", steps)) if v is not None
            )
            raise ValueError(
                f"{given} only shape{'s' if ' and ' not in given else ''} the schedule of "
                f"--recommend; add --recommend one_cycle (or wsd, cosine, cyclic)"
            )
        if recommend is not None and recommend not in POLICIES:
            close = difflib.get_close_matches(recommend, list(POLICIES), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"--recommend must be one of {', '.join(POLICIES)}, got {recommend!r}{hint}"
            )
        rules = [*PEAK_RULES, *sugg.names()]
        if rule is not None and rule not in rules:
            close = difflib.get_close_matches(rule, rules, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"--rule must be one of {', '.join(rules)}, got {rule!r}{hint}")
        if recommend is not None and num_steps < MIN_NUM_STEPS:
            raise ValueError(
                f"--num-steps {num_steps} is too short a range test to recommend from: with "
                f"--recommend give an int in [{MIN_NUM_STEPS}, {MAX_NUM_STEPS}] (default 100, as "
                f"fastai and torch-lr-finder)"
            )
        if recommend is not None and steps is not None and steps < 2:
            raise ValueError(f"--steps must be an int >= 2 (the schedule's length), got {steps}")
        fmt = image_format(output) if output is not None else None
        if json_path is not None and json_path.is_dir():
            raise ValueError(f"--json {str(json_path)!r} is a folder; give a file name")
        if recommend is not None and steps is None and "steps" in spec.needs:
            raise ValueError(
                f"--recommend needs --steps for task {spec.name!r} (its decorator gives no steps)"
            )
        result = range_test_task(
            task,
            optimizer,
            seed,
            start=start,
            end=end,
            num_steps=num_steps,
            mode=mode,
            cycle=cycle,
        )
        if len(result) == 0:
            raise ValueError(f"the range test recorded no finite loss ({result.stop_reason})")
    except (ValueError, TypeError, ImportError) as err:
        raise _fail(console, str(err)) from None

    opt = optimizer or spec.optimizers[0]
    table = Table(title=f"LR range test: {spec.name} ({opt}, seed {seed})")
    table.add_column("rule")
    table.add_column("suggested lr", justify="right")
    table.add_column("step", justify="right")
    table.add_column("how")
    for name, s in result.suggestions().items():
        table.add_row(name, f"{s.lr:.3g}", str(s.index), sugg.get(name).summary)
    console.print(table)
    console.print(
        f"{len(result)} steps recorded, stop: {result.stop_reason}; "
        f"lr {result.lrs[0]:.3g} → {result.lrs[-1]:.3g}"
    )
    if result.rising < MIN_POINTS or num_steps < MIN_NUM_STEPS:
        console.print(
            f"note: {result.rising} points on the rising part of a {num_steps}-step sweep, too "
            f"few for the rules to read (a recommendation needs a sweep of {MIN_NUM_STEPS} steps "
            f"or more and {MIN_POINTS} points): treat these suggestions as noise",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if recommend is not None:
        total = spec.steps if steps is None else steps
        with warnings.catch_warnings():  # said below, with the fix for a task
            warnings.filterwarnings("ignore", "recommend\\(\\): optimizer family unknown")
            try:
                schedules = result.recommend(total, recommend, rule=rule, momentum=True)
            except ValueError as err:  # too few points recorded (an early divergence)
                raise _fail(console, str(err)) from None
        if recommend == "cyclic":
            how = "Smith's bounds"
        else:
            chosen = peak_rule(rule if rule is not None else DEFAULT_RULES[recommend])
            m = chosen.multiplier(result.optimizer)
            how = f"rule {chosen.name}" + (f": {chosen.base} x {m:g}" if m != 1 else "")
            note = chosen.unknown_family_note(result.optimizer)
            if note:
                fix = (
                    "declare it with @lrkit.bench.task(optimizer='sgd' | 'adam' | 'adamw')"
                    if spec.function is not None
                    else f"optimizer {opt!r} is in no measured family"
                )
                console.print(f"{note}; {fix}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"recommended ({recommend}, {total} steps, {how}):")
        console.print(str(schedules["lr"]), markup=False, highlight=False, soft_wrap=True)
        if "momentum" in schedules:
            console.print("momentum (SGD momentum, betas[0] of Adam):")
            console.print(str(schedules["momentum"]), markup=False, highlight=False, soft_wrap=True)
    if output is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        result.plot(ax=ax)
        fig.tight_layout()
        try:
            fig.savefig(output, format=fmt)
        except OSError as exc:
            raise _fail(console, write_error("--output", output, exc)) from None
        finally:
            plt.close(fig)
        console.print(f"plot written to {output}", markup=False, highlight=False, soft_wrap=True)
    if json_path is not None:
        try:
            json_path.write_text(json.dumps(result.to_dict()))
        except OSError as exc:
            raise _fail(console, write_error("--json", json_path, exc)) from None
        console.print(
            f"result written to {json_path}", markup=False, highlight=False, soft_wrap=True
        )


def _fail(console: Any, message: str) -> typer.Exit:
    from rich.markup import escape

    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    """Add the ``find`` command to ``app``."""
    app.command("find")(find)

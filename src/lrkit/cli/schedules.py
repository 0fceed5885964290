"""``lrkit show``, ``lrkit plot`` and ``lrkit list``: preview schedules in the terminal or an image.

Heavy imports (matplotlib) happen inside the commands that need them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import lrkit
from lrkit.compose import phase_starts
from lrkit.core import Schedule
from lrkit.errors import ScheduleError

__all__ = ["MAX_EVALUATED", "chart", "list_names", "plain_text", "plot", "register", "show"]


def _console() -> Console:
    """A console made for this call: it reads ``COLUMNS`` and the output stream now, not at import."""
    return Console()


_BLOCKS = " ▁▂▃▄▅▆▇█"


#: Up to this many steps ``show`` and ``plot`` evaluate every step; beyond, an even sample.
MAX_EVALUATED = 1_000_000
_SAMPLES = 64 * 1024


def _error(message: str) -> typer.Exit:
    _console().print(
        f"[red]error:[/red] {escape(message)}", markup=True, highlight=False, soft_wrap=True
    )
    return typer.Exit(2)


def _grid(steps: int) -> np.ndarray:
    """The steps to evaluate: all of ``range(steps)``, or an even sample of a huge range.

    >>> _grid(4).tolist(), len(_grid(3_000_000_000)), int(_grid(3_000_000_000)[-1])
    ([0, 1, 2, 3], 65536, 2999999999)
    """
    if steps <= MAX_EVALUATED:
        return np.arange(steps)
    return np.unique(np.round(np.linspace(0, steps - 1, _SAMPLES)).astype(np.int64))


_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`~?(?:[^`<]*<)?([^`>]+)>?`")
_LITERAL = re.compile(r"``(.+?)``")


def plain_text(doc: str) -> str:
    """A docstring summary as plain text: ````x```` → x, :class:`~a.B` → B, :func:`f` → f.

    >>> plain_text("Values clipped into ``[low, high]``: see :class:`~lrkit.core.Clip`.")
    'Values clipped into [low, high]: see Clip.'
    """
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], doc)
    return _LITERAL.sub(r"\1", text)


def _load(spec: str, steps: int | None) -> tuple[Schedule, int]:
    """Parse ``spec``, bind shares to ``steps`` and pick how many steps to show."""
    if steps is not None and steps < 1:
        raise _error(f"--steps must be an int >= 1, got {steps}")
    try:
        schedule = lrkit.parse(spec)
        if not schedule.is_bound:
            if steps is None:
                raise ScheduleError(f"{spec!r} uses shares of training; pass --steps N")
            schedule = schedule.bind(steps)
    except ScheduleError as err:
        raise _error(str(err)) from None
    if steps is None:
        steps = int(schedule.duration) + 1 if schedule.duration is not None else 1000
    return schedule, steps


def chart(values: np.ndarray, *, width: int = 64, height: int = 10) -> list[str]:
    """A bar chart of ``values`` in block characters, ``height`` rows of ``width`` columns.

    >>> chart(np.array([0.0, 1.0]), width=2, height=1)
    [' █']
    """
    columns = np.array_split(values, min(width, len(values)))
    tops = np.array([float(np.max(c)) for c in columns])
    low, high = float(np.min(values)), float(np.max(values))
    span = high - low if high > low else 1.0
    eighths = np.round((tops - low) / span * height * 8).astype(int)
    rows = []
    for row in range(height - 1, -1, -1):
        level = np.clip(eighths - row * 8, 0, 8)
        rows.append("".join(_BLOCKS[v] for v in level))
    return rows


def _key_steps(schedule: Schedule, steps: int) -> list[int]:
    marks = {0, 1, steps - 1}
    marks.update(int(steps * f) for f in (0.1, 0.25, 0.5, 0.75, 0.9))
    if schedule.is_bound:
        for begin in phase_starts(schedule)[1:]:
            marks.update({int(begin) - 1, int(begin)})
    return sorted(m for m in marks if 0 <= m < steps)


def show(
    spec: Annotated[str, typer.Argument(help="Schedule text, e.g. 'warmup(100) >> cosine(...)'.")],
    steps: Annotated[int | None, typer.Option(help="Steps to show (binds '%' shares).")] = None,
) -> None:
    """Print a schedule's canonical text, its values at key steps and a terminal chart."""
    schedule, steps = _load(spec, steps)
    grid = _grid(steps)
    values = schedule(grid)
    console = _console()
    console.print(f"[bold]{escape(str(schedule))}[/bold]", highlight=False)
    sampled = len(grid) < steps
    table = Table("step", "value", title=f"{steps} steps", title_justify="left")
    marks = _key_steps(schedule, steps)
    at_marks = schedule(np.asarray(marks, dtype=np.int64)) if sampled else values[marks]
    for mark, value in zip(marks, at_marks, strict=True):
        table.add_row(str(mark), f"{value:.6g}")
    console.print(table)
    if sampled:
        console.print(f"chart: {len(grid)} evenly sampled steps", highlight=False)
    high, low = float(np.max(values)), float(np.min(values))
    rows = chart(values)
    for index, row in enumerate(rows):
        label = (
            f"{high:9.3g} "
            if index == 0
            else (f"{low:9.3g} " if index == len(rows) - 1 else " " * 10)
        )
        console.print(f"{label}│{row}", highlight=False)
    console.print(" " * 10 + "└" + "─" * len(rows[0]), highlight=False)
    console.print(" " * 11 + f"0{'step':^{len(rows[0]) - 2 - len(str(steps - 1))}}{steps - 1}")


def plot(
    specs: Annotated[list[str], typer.Argument(help="One or more schedule texts.")],
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Image file to write (PNG, or as its suffix says: .svg, .pdf)."
        ),
    ] = Path("schedules.png"),
    steps: Annotated[int | None, typer.Option(help="Steps to plot (binds '%' shares).")] = None,
    log: Annotated[bool, typer.Option("--log", help="Logarithmic value axis.")] = False,
) -> None:
    """Plot one or more schedules on one chart (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lrkit.cli.find import image_format, write_error

    try:
        fmt = image_format(output)
    except ValueError as err:
        raise _error(str(err)) from None
    loaded = [_load(spec, steps) for spec in specs]
    span = steps or max(n for _, n in loaded)
    fig, ax = plt.subplots(figsize=(9, 4.2 + 0.22 * len(loaded)), dpi=110)
    for schedule, _ in loaded:
        label = str(schedule)
        label = label if len(label) <= 110 else label[:107] + "..."
        grid = _grid(span)
        ax.plot(grid, schedule(grid), label=label, linewidth=1.6)
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.set_title("lrkit schedules")
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    fig.tight_layout()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, format=fmt)
    except OSError as exc:
        raise _error(write_error("--output", output, exc)) from None
    finally:
        plt.close(fig)
    _console().print(f"wrote {output}", markup=False, highlight=False, soft_wrap=True)


def list_names() -> None:
    """List every registered schedule with an example."""
    table = Table("name", "kind", "example", "summary")
    for name in lrkit.registry.names():
        entry = lrkit.registry.get(name)
        # escape: rich would eat "[low, high]" as markup; docstring roles read as plain text
        table.add_row(
            escape(name),
            escape(entry.kind),
            escape(entry.example),
            escape(plain_text(entry.summary)),
        )
    _console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``show``, ``plot`` and ``list`` to the typer ``app``."""
    app.command()(show)
    app.command()(plot)
    app.command("list")(list_names)

"""The ``lrkit`` command line: one typer app, one module per group of commands.

- :mod:`lrkit.cli.schedules`: ``show``, ``plot``, ``list`` (preview schedules);
- :mod:`lrkit.cli.find`: ``find`` (an LR range test on a bench task);
- :mod:`lrkit.cli.bench`: ``bench``, ``report`` (compare schedules).

The CLI needs typer and rich (``pip install 'lrkit[cli]'``); the console script itself is
:mod:`lrkit._entry`, which needs nothing. Heavy imports (matplotlib, frameworks, the bench) happen
inside the commands that need them.
"""

from __future__ import annotations

import typer

from lrkit.cli import schedules

__all__ = ["app", "main"]

app = typer.Typer(
    name="lrkit",
    help="Learning-rate schedules as values: preview them, find an LR, and bench schedules.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schedules.register(app)


def _register_subcommands() -> None:
    """``find`` and ``bench``/``report``: registered when the script runs, not at import."""
    from lrkit.cli.bench import register as register_bench
    from lrkit.cli.find import register as register_find

    register_find(app)
    register_bench(app)


def main() -> None:
    """Entry point of the ``lrkit`` script."""
    _register_subcommands()
    app()

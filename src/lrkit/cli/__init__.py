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
    """Entry point of the ``lrkit`` script.

    When stdout is closed early (``lrkit show ... | head``) the command ends quietly with
    status 0, as ``cat`` or ``git log`` piped into ``head`` do (rich and click exit with 1).
    """
    _register_subcommands()
    before = _file_id(1)
    try:
        app()
    except SystemExit as exc:
        if exc.code == 1 and _stdout_closed(before):
            raise SystemExit(0) from None
        raise


def _file_id(fd: int) -> tuple[int, int] | None:
    """``(device, inode)`` of what ``fd`` is open on, or None (closed, or not a real fd)."""
    import os

    try:
        st = os.fstat(fd)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _stdout_closed(before: tuple[int, int] | None) -> bool:
    """True when the command stopped because stdout was closed (a broken pipe): rich then
    points stdout at /dev/null (``Console.on_broken_pipe``), click wraps the streams in
    ``PacifyFlushWrapper``."""
    import os
    import sys

    if type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):  # click's (private) wrapper
        return True
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        devnull = _file_id(null)
    finally:
        os.close(null)
    return before != devnull and _file_id(1) == devnull

"""The ``lrkit`` console script: a tiny entry point that needs nothing but the standard library.

The command line itself (:mod:`lrkit.cli`) needs typer and rich (``pip install 'lrkit[cli]'``);
without them, and without any other optional dependency a command needs, the command prints one
line naming the extra to install and exits with status 1 instead of an ImportError traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``lrkit`` command, or print which extra to install."""
    from lrkit._extras import MissingExtraError, extra_for, hint

    try:
        from lrkit.cli import main as cli_main

        cli_main()
    except MissingExtraError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except ModuleNotFoundError as err:
        if err.name is None or extra_for(err.name) is None:
            raise
        purpose = "the lrkit command" if extra_for(err.name) == "cli" else "this lrkit command"
        print(f"error: {hint(err.name, purpose)}", file=sys.stderr)
        raise SystemExit(1) from None

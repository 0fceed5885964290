"""Optional dependencies: a missing one is reported as one line naming the extra to install.

``pip install lrkit`` installs numpy only. The command line needs ``lrkit[cli]`` (typer, rich),
plots need ``lrkit[plot]`` (matplotlib), the bench needs ``lrkit[bench]``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "extra_for", "require"]

EXTRAS: dict[str, str] = {
    "typer": "cli",
    "rich": "cli",
    "matplotlib": "plot",
    "sklearn": "bench",
    "schedulefree": "bench",
    "torch": "torch",
    "jax": "jax",
    "jaxlib": "jax",
    "optax": "jax",
    "keras": "keras",
    "ray": "ray",
}
"""Top-level module name -> the lrkit extra that installs it."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def extra_for(module: str) -> str | None:
    """The extra that installs ``module`` (``None`` if lrkit has no extra for it).

    >>> extra_for("matplotlib.pyplot")
    'plot'
    """
    return EXTRAS.get(module.split(".", 1)[0])


def hint(module: str, purpose: str | None = None) -> str:
    """The one-line message for a missing ``module``.

    >>> hint("typer", "the lrkit command")
    "the lrkit command needs typer, which is not installed: pip install 'lrkit[cli]'"
    """
    root = module.split(".", 1)[0]
    extra = extra_for(root)
    what = f"{purpose} needs {root}" if purpose else f"{root} is needed"
    install = f"pip install 'lrkit[{extra}]'" if extra else f"pip install {root}"
    return f"{what}, which is not installed: {install}"


def require(module: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra that installs it.

    >>> require("numpy").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        missing = err.name or module
        if missing.split(".", 1)[0] != module.split(".", 1)[0]:
            raise  # the module exists but one of its own dependencies is broken
        raise MissingExtraError(hint(module, purpose)) from None

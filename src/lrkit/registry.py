"""One registry of schedule names, shared by the text form, ``from_dict``, the CLI and the bench.

Each entry maps a name to the class that stores it (used by ``from_dict``), the factory the text form
calls (often the class itself), a kind (``leaf``, ``combinator``, ``preset``, ``alias``) and an example
text used by docs and by the contract tests that run over every entry.

>>> import lrkit
>>> "cosine" in lrkit.registry.names()
True
>>> lrkit.registry.get("cosine").example
'cosine(start=0.1, end=0.001, steps=100)'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lrkit.errors import ScheduleError, ScheduleTypeError

__all__ = ["Entry", "add", "get", "names", "register", "suggest"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry:
    """A registered schedule name.

    Args:
      name: the registered name.
      factory: what the text form calls.
      cls: the stored class (``None`` for an alias).
      kind: ``leaf``, ``combinator``, ``preset`` or ``alias``.
      example: text of an example.
      summary: first line of the docstring.

    >>> from lrkit import registry
    >>> entry = registry.get("cosine")
    >>> entry.kind, entry.example
    ('leaf', 'cosine(start=0.1, end=0.001, steps=100)')
    """

    name: str
    factory: Callable[..., Any]
    cls: type | None
    kind: str
    example: str
    summary: str


_ENTRIES: dict[str, Entry] = {}


def add(
    name: str,
    obj: Callable[..., Any],
    *,
    kind: str = "leaf",
    example: str,
    factory: Callable[..., Any] | None = None,
) -> None:
    """Add ``name``: ``obj`` is the stored class (or, for an alias, the factory function).

    Schedule classes call this themselves when defined with ``name=`` (see
    :class:`lrkit.core.Schedule`).

    Args:
      name: the name in the text form.
      obj: the stored class, or an alias's factory function.
      kind: ``leaf``, ``combinator``, ``preset`` or ``alias``.
      example: text of an example, used by the docs and the contract tests.
      factory: what the text form calls (default: ``obj``).

    A name belongs to one class: registering another under it is refused (CONTRIBUTING.md shows
    a new leaf, registered by its ``name=``).

    >>> import lrkit
    >>> from lrkit import registry
    >>> registry.add("cosine", lrkit.linear, example="linear(1.0, steps=10)")
    Traceback (most recent call last):
    lrkit.errors.ScheduleError: register(): 'cosine' is already registered
    """
    old = _ENTRIES.get(name)
    if old is not None and _qualname(old.cls or old.factory) != _qualname(obj):
        raise ScheduleError(f"register(): {name!r} is already registered")
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    _ENTRIES[name] = Entry(
        name=name,
        factory=factory or obj,
        cls=obj if isinstance(obj, type) else None,
        kind=kind,
        example=example,
        summary=doc[0] if doc else "",
    )


def register(
    name: str, *, kind: str = "leaf", example: str, factory: Callable[..., Any] | None = None
) -> Callable[[F], F]:
    """Decorator form of :func:`add` (used for aliases: functions that build a schedule).

    Args:
      name: the name in the text form.
      kind: ``leaf``, ``combinator``, ``preset`` or ``alias``.
      example: text of an example.
      factory: what the text form calls (default: the decorated object).

    ``piecewise_linear`` is such an alias: the text form calls the function, which returns a
    ``piecewise`` schedule.

    >>> import lrkit
    >>> from lrkit import registry
    >>> registry.get("piecewise_linear").kind, lrkit.parse("piecewise_linear(points=[[0, 1.0], [4, 0.0]])")(1)
    ('alias', 0.75)
    """

    def decorate(obj: F) -> F:
        if isinstance(obj, type):
            raise ScheduleTypeError(
                f"registry.register({name!r}): registers functions (aliases); a schedule class "
                f"registers itself: class {obj.__name__}(Schedule, name={name!r}, "
                f"example={example!r}) (decorating a class was the 0.1 spelling)"
            )
        add(name, obj, kind=kind, example=example, factory=factory)
        return obj

    return decorate


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"


def suggest(name: str) -> list[str]:
    """Known names closest to ``name`` (at most 3, by ``difflib``'s ratio >= 0.5).

    Args:
        name: a name that may be misspelt.

    >>> suggest("cosin")
    ['cosine']
    """
    return difflib.get_close_matches(name, list(_ENTRIES), n=3, cutoff=0.5)


def get(name: str) -> Entry:
    """The entry for ``name``; an unknown name raises a ``ScheduleError`` naming the nearest ones.

    Args:
        name: a registered name, as in the text form.

    >>> get("wsd").kind
    'preset'
    """
    try:
        return _ENTRIES[name]
    except KeyError:
        close = suggest(name)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ScheduleError(
            f"unknown schedule {name!r}{hint} (known: {', '.join(sorted(_ENTRIES))})"
        ) from None


def names(kind: str | None = None) -> list[str]:
    """Registered names, optionally of one kind, sorted.

    Args:
        kind: ``leaf``, ``combinator``, ``preset`` or ``alias``; ``None`` (default) for all.

    >>> names("preset")
    ['one_cycle', 'one_cycle_momentum', 'wsd']
    """
    return sorted(n for n, e in _ENTRIES.items() if kind is None or e.kind == kind)

"""Size limits for schedules read from text or dicts, far beyond any real schedule.

Hostile input (a 100 000-level nesting, a 10 000-part chain) must get a clear error naming the limit,
never Python's ``RecursionError`` or ``MemoryError``. Real schedules nest fewer than ten levels.

>>> import lrkit
>>> depth(lrkit.cosine(start=1.0, steps=10).clip(low=0.1).shift(3), {})
3
"""

from __future__ import annotations

import dataclasses

__all__ = ["MAX_CHAIN", "MAX_DEPTH", "MAX_NESTING", "MAX_PATH", "TextShape", "depth", "text_cost"]

MAX_NESTING = 200
"""Deepest nesting of the text form (brackets, signs and method calls, one level each) and of the
dicts and lists given to ``from_dict``."""

MAX_CHAIN = 2000
"""Longest operator chain of the text form (``a >> b >> ...``, ``*``, ``+``), nesting included."""

MAX_DEPTH = 100
"""Deepest schedule tree ``parse`` and ``from_dict`` build (combinators inside combinators)."""

MAX_PATH = MAX_CHAIN + MAX_NESTING
"""Largest estimate of the text form's syntax-tree depth (chained operators, signs, method calls
and brackets along one path, see :func:`text_cost`): a chain of ``MAX_CHAIN`` parts inside
``MAX_NESTING`` levels, within what CPython's parser handles even when called deep in a program.
The parser refuses text beyond it, and a schedule whose text would be beyond it cannot be built."""

TextShape = tuple[int, int, int, int, int]
"""How a schedule's text form fills one level of brackets, as the parser's size scan counts it:
``(ops, plus_run, times_run, level, child)`` — ``>>`` operators, the longest runs of ``+`` and
``*``, the most method calls and signs on one operand, and the costliest bracket inside."""


def text_cost(shape: TextShape) -> int:
    """The parser's estimate of the syntax-tree depth of text with this :data:`TextShape`.

    >>> text_cost((3, 0, 1, 1, 4))  # a >> b >> c >> d * 2.0 with one method call
    10
    """
    ops, plus_run, times_run, level, child = shape
    return ops + plus_run + times_run + 2 * level + child


def _is_schedule(value: object) -> bool:
    # duck-typed: this module sits below lrkit.core in the import graph
    return dataclasses.is_dataclass(value) and hasattr(value, "_eval")


def _children(value: object) -> list[object]:
    """The schedules held directly by ``value``'s fields (or inside a tuple field)."""
    found: list[object] = []
    if not _is_schedule(value):
        return found
    items = [getattr(value, field.name) for field in dataclasses.fields(value)]  # type: ignore[arg-type]
    while items:
        item = items.pop()
        if _is_schedule(item):
            found.append(item)
        elif isinstance(item, tuple):
            items.extend(item)
    return found


def depth(schedule: object, memo: dict[int, tuple[object, int]]) -> int:
    """Levels of the schedule tree (a leaf is 1), computed without recursion.

    ``memo`` maps ``id(node)`` to ``(node, depth)`` (the node is kept so its id stays unique);
    pass the same dict while building a tree bottom-up and each node is walked once.
    """
    stack: list[tuple[object, bool]] = [(schedule, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in memo:
            continue
        known = getattr(node, "__dict__", {}).get("_depth")
        if known is not None:  # cached on the node when it was built
            memo[id(node)] = (node, known)
            continue
        kids = _children(node)
        if expanded:
            deepest = max((memo[id(kid)][1] for kid in kids), default=0)
            memo[id(node)] = (node, 1 + deepest)
            if hasattr(node, "__dict__"):
                node.__dict__["_depth"] = 1 + deepest  # not a field: equality ignores it
            continue
        stack.append((node, True))
        stack.extend((kid, False) for kid in kids if id(kid) not in memo)
    return memo[id(schedule)][1]

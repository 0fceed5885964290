"""A griffe extension for the API reference: lrkit's docstrings, written for ``help()`` and doctest,
read well as Markdown.

* Doctests are inline (``>>> s(50)`` and its output), not under an ``Examples:`` header; Markdown
  would read ``>>>`` as a quote and ``[0.5, 0.25]`` as a link. Every run of doctest lines (up to the
  next blank line) is wrapped in a ``pycon`` fence.
* Sphinx roles (``:class:`Schedule```) become code spans.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):(`+)~?([^`]+)\1")


def markdown_docstring(text: str) -> str:
    """Doctests fenced, Sphinx roles as code spans.

    >>> markdown_docstring("The :class:`~lrkit.Schedule` base.")
    'The `lrkit.Schedule` base.'
    """
    return fence_doctests(_ROLE.sub(lambda m: f"`{m.group(2)}`", text))


def fence_doctests(text: str) -> str:
    """Wrap each doctest run of ``text`` in a pycon code fence.

    >>> fence_doctests("Purpose.\\n\\n>>> 1 + 1\\n2\\n\\nMore.").splitlines()
    ['Purpose.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
    """
    out: list[str] = []
    lines = text.splitlines()
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
        if fenced or not (stripped == ">>>" or stripped.startswith(">>> ")):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


def _walk(obj: Any, seen: set[int]) -> None:
    if obj.is_alias or id(obj) in seen:
        return
    seen.add(id(obj))
    if obj.docstring is not None:
        obj.docstring.value = markdown_docstring(obj.docstring.value)
    for member in obj.members.values():
        _walk(member, seen)


class DoctestFences(griffe.Extension):
    """Rewrite every docstring of a loaded package with :func:`markdown_docstring`."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        _walk(pkg, set())

"""The text form: a small parser over a whitelist of Python expression syntax, and ``from_dict``.

The grammar is Python's own expression syntax restricted to: calls of registered names with literal
arguments (numbers, strings, ``True``/``False``/``None``, lists, ``pct(20)``, nested schedules), the
method calls of :data:`lrkit.core.METHODS` (``.repeat() .clip() .shift() .truncate() .mirror()
.retarget()``), ``a >> b`` (sequence), ``s * k`` (scale), ``a * b`` (product) and ``a + b`` /
``s + k`` (sum).
It is parsed with :func:`ast.parse` and walked by this module; nothing is ever evaluated.

>>> import lrkit
>>> s = lrkit.parse('warmup(100) >> cosine(start=1e-3, end=1e-5, steps="90%")')
>>> str(s)
'warmup(100) >> cosine(start=0.001, end=1e-05, steps="90%")'
>>> lrkit.parse("cosin(start=1.0, steps=10)")
Traceback (most recent call last):
...
lrkit.errors.TextFormError: unknown schedule 'cosin'; did you mean 'cosine'?
  cosin(start=1.0, steps=10)
  ^^^^^
"""

from __future__ import annotations

import ast
import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from lrkit import registry
from lrkit.compose import WarmupPrefix, sequence
from lrkit.core import METHODS, Schedule, from_dict
from lrkit.durations import Pct
from lrkit.errors import ScheduleError, ScheduleTypeError, TextFormError

__all__ = ["as_schedule", "from_dict", "parse"]


def as_schedule(value: object, where: str) -> Schedule:
    """A schedule given as a value or as its text form; ``where`` names the argument in errors.

    The one coercion used by the adapters (``lrkit.torch``, ``lrkit.optax``, ``lrkit.keras``).

    >>> str(as_schedule("constant(0.1)", "schedule"))
    'constant(0.1)'
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        return parse(value)
    raise ScheduleTypeError(
        f"{where}={value!r} is invalid; it must be an lrkit.Schedule or its text form (a str) "
        "such as 'warmup(100) >> cosine(start=0.1, steps=900)'"
    )


def parse(text: str) -> Schedule:
    """The schedule written as ``text`` (the inverse of ``str(schedule)``)."""
    if not isinstance(text, str):
        raise ScheduleTypeError(f"parse(): text must be a str, got {type(text).__name__}")
    source = text.strip()
    if not source:
        raise TextFormError("empty schedule text", text=text, column=0)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        line = (err.lineno or 1) - 1
        lines = source.splitlines() or [source]
        row = lines[min(line, len(lines) - 1)]
        column = max(0, (err.offset or 1) - 1)
        raise TextFormError(
            f"invalid syntax: {err.msg}", text=row, column=min(column, len(row))
        ) from None
    return _Reader(source).schedule(tree.body)


class _Reader:
    def __init__(self, source: str) -> None:
        self.lines = source.splitlines() or [source]

    def fail(self, message: str, node: ast.AST) -> TextFormError:
        lineno = getattr(node, "lineno", 1)
        row = self.lines[lineno - 1]
        column = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", None)
        if getattr(node, "end_lineno", lineno) != lineno:
            end = len(row)
        return TextFormError(message, text=row, column=column, end=end)

    def schedule(self, node: ast.expr) -> Schedule:
        value = self.value(node)
        if isinstance(value, WarmupPrefix):
            raise self.fail(
                f"{value} must be followed by the schedule it leads into, e.g. "
                f"{value} >> cosine(start=0.1, steps=900)",
                node,
            )
        if not isinstance(value, Schedule):
            raise self.fail(f"expected a schedule, got {ast.unparse(node)!r}", node)
        return value

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool | int | float | str) or node.value is None:
                return node.value
            raise self.fail(f"unsupported literal {ast.unparse(node)!r}", node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.value(node.operand)
            if isinstance(operand, bool) or not isinstance(operand, int | float):
                raise self.fail("a sign must precede a number", node)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.List | ast.Tuple):
            return tuple(self.value(item) for item in node.elts)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name):
            raise self.fail(
                f"unknown name {node.id!r}: write numbers and strings literally, schedules as calls",
                node,
            )
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.Gt) for op in node.ops):
            raise self.fail(
                f"'>' is not an operator of the text form in {ast.unparse(node)!r}; "
                "did you mean '>>' (sequence: a >> b)?",
                node,
            )
        raise self.fail(f"unsupported syntax {type(node).__name__} in {ast.unparse(node)!r}", node)

    def chain(self, node: ast.expr) -> list[ast.expr]:
        """The operands of ``a >> b >> c`` (sequencing is associative)."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
            return [*self.chain(node.left), *self.chain(node.right)]
        return [node]

    def binary(self, node: ast.BinOp) -> Any:
        if isinstance(node.op, ast.RShift):
            parts = [self.value(operand) for operand in self.chain(node)]
            for operand, part in zip(self.chain(node), parts, strict=True):
                if not isinstance(part, Schedule | WarmupPrefix):
                    raise self.fail(f"expected a schedule, got {ast.unparse(operand)!r}", operand)
            return self.build(node, lambda: sequence(*parts))
        if isinstance(node.op, ast.Mult):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, WarmupPrefix) or isinstance(right, WarmupPrefix):
                return self.build(node, lambda: left * right)
            if isinstance(left, Schedule) and not isinstance(right, Schedule):
                return self.build(node, lambda: self.scaled(left, right, node))
            if isinstance(right, Schedule) and not isinstance(left, Schedule):
                return self.build(node, lambda: self.scaled(right, left, node))
            if isinstance(left, Schedule) and isinstance(right, Schedule):
                return self.build(node, lambda: left * right)
            raise self.fail("'*' needs a schedule and a number or two schedules", node)
        if isinstance(node.op, ast.Add):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, Schedule | WarmupPrefix) or isinstance(
                right, Schedule | WarmupPrefix
            ):
                return self.build(node, lambda: left + right)
            raise self.fail("'+' needs at least one schedule", node)
        raise self.fail(
            f"unsupported operator {type(node.op).__name__}: use '>>' (sequence), '*' or '+'",
            node,
        )

    def scaled(self, schedule: Schedule, factor: Any, node: ast.AST) -> Schedule:
        if isinstance(factor, bool) or not isinstance(factor, int | float):
            raise self.fail(f"'*' needs a number, got {factor!r}", node)
        return schedule * factor

    def call(self, node: ast.Call) -> Any:
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
            kw.arg is None for kw in node.keywords
        ):
            raise self.fail("*args and **kwargs are not allowed", node)
        args = [self.value(arg) for arg in node.args]
        kwargs = {kw.arg: self.value(kw.value) for kw in node.keywords if kw.arg}
        func = node.func
        if isinstance(func, ast.Attribute):
            receiver = self.schedule(func.value)
            if func.attr not in METHODS:
                close = difflib.get_close_matches(func.attr, METHODS, n=1)
                hint = f"; did you mean .{close[0]}()?" if close else ""
                raise self.fail(
                    f"unknown method .{func.attr}(){hint} (known: "
                    + ", ".join(f".{m}()" for m in METHODS)
                    + ")",
                    func,
                )
            method = getattr(receiver, func.attr)
            self.check_signature(func.attr, method, args, kwargs, node)
            return self.build(node, lambda: method(*args, **kwargs))
        if not isinstance(func, ast.Name):
            raise self.fail(f"cannot call {ast.unparse(func)!r}", func)
        if func.id == "pct":
            self.check_signature("pct", Pct, args, kwargs, node)
            return self.build(node, lambda: Pct(*args, **kwargs))
        try:
            entry = registry.get(func.id)
        except ScheduleError:
            close = registry.suggest(func.id)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise self.fail(f"unknown schedule {func.id!r}{hint}", func) from None
        self.check_signature(func.id, entry.factory, args, kwargs, node)
        return self.build(node, lambda: entry.factory(*args, **kwargs))

    def check_signature(
        self,
        name: str,
        factory: Callable[..., Any],
        args: list[Any],
        kwargs: Mapping[str, Any],
        node: ast.Call,
    ) -> None:
        signature = inspect.signature(factory)
        try:
            signature.bind(*args, **kwargs)
        except TypeError as err:
            accepted = [p for p in signature.parameters if not p.startswith("_")]
            unknown = [k for k in kwargs if k not in signature.parameters]
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, accepted, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            detail = f"unknown argument {', '.join(hints)}" if hints else str(err)
            raise self.fail(
                f"{name}(): {detail}; accepted arguments: {', '.join(accepted)}", node
            ) from None

    def build(self, node: ast.AST, make: Callable[[], Any]) -> Any:
        try:
            return make()
        except TextFormError:
            raise
        except (ScheduleError, TypeError, ValueError) as err:
            raise self.fail(str(err).splitlines()[0], node) from None

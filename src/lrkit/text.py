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
import functools
import inspect
import io
import keyword
import math
import sys
import tokenize
from collections.abc import Callable, Mapping
from typing import Any

from lrkit import registry
from lrkit._limits import MAX_CHAIN, MAX_DEPTH, MAX_NESTING, MAX_PATH, depth, text_cost
from lrkit._validate import unknown_arguments
from lrkit.compose import WarmupPrefix, add, product, sequence
from lrkit.core import METHODS, Schedule, from_dict
from lrkit.durations import Pct
from lrkit.errors import ScheduleError, ScheduleTypeError, TextFormError

__all__ = ["MAX_CHAIN", "MAX_DEPTH", "MAX_NESTING", "as_schedule", "from_dict", "parse"]


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


_EXCERPT = 76  # longest line shown under an error message


def parse(text: str) -> Schedule:
    """The schedule written as ``text`` (the inverse of ``str(schedule)``).

    Limits, far beyond real schedules: nesting up to ``MAX_NESTING`` (200) levels, operator chains up to
    ``MAX_CHAIN`` (2000) parts, schedule trees up to ``MAX_DEPTH`` (100) levels deep; beyond them
    :class:`~lrkit.TextFormError` names the limit.

    The text is read with Python's ``ast`` over a whitelist (schedule calls, numbers, strings,
    lists, ``>>``, ``*``, ``+``, unary minus); nothing is ever evaluated.

    Args:
        text: a schedule's text form, e.g. ``"warmup(100) >> cosine(start=0.1, steps=900)"``.

    >>> import lrkit
    >>> s = lrkit.parse("warmup(10) >> cosine(start=0.1, steps=90)")
    >>> s(10), str(s) == "warmup(10) >> cosine(start=0.1, steps=90)"
    (0.1, True)
    """
    if not isinstance(text, str):
        raise ScheduleTypeError(f"parse(): text must be a str, got {type(text).__name__}")
    source = text.strip()
    if not source:
        raise TextFormError("empty schedule text", text=text, column=0)
    _check_encodable(source)
    _check_size(source)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        line = (err.lineno or 1) - 1
        lines = source.splitlines() or [source]
        row = lines[min(line, len(lines) - 1)]
        column = min(max(0, (err.offset or 1) - 1), len(row))
        message = str(err.msg).split(" - ")[0]  # drop CPython's hints on huge int literals
        raise _error(f"invalid syntax: {message}", row, column, None) from None
    except (RecursionError, MemoryError):  # pragma: no cover - _check_size keeps below these
        raise TextFormError(
            f"schedule text too deeply nested or too long to parse ({len(source)} characters)"
        ) from None
    return _Reader(source).schedule(tree.body)


def _check_encodable(source: str) -> None:
    """Reject characters that are not Unicode text (lone surrogates, such as the ``'\\udcff'``
    Python makes of a byte that is not UTF-8 in a command-line argument)."""
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = source[err.start]
        shown = source.encode("ascii", "backslashreplace").decode("ascii")
        column = len(source[: err.start].encode("ascii", "backslashreplace"))
        raise _error(
            f"invalid character {bad!r} at column {err.start + 1}: not Unicode text "
            "(a byte that is not UTF-8?)",
            shown,
            column,
            column + len(ascii(bad)) - 2,
        ) from None


def _error(message: str, row: str, column: int, end: int | None) -> TextFormError:
    """A text-form error; a long line is cut to a window around the bad spot."""
    if len(row) > _EXCERPT:
        stop = max(column + 1, end if end is not None else column + 1)
        first = max(0, min(column - _EXCERPT // 3, len(row) - _EXCERPT))
        last = first + _EXCERPT
        prefix = "..." if first else ""
        suffix = "..." if last < len(row) else ""
        row = prefix + row[first:last] + suffix
        column = column - first + len(prefix)
        end = min(stop, last) - first + len(prefix)
    return TextFormError(message, text=row, column=column, end=end)


_OPEN, _CLOSE = "([{", ")]}"
_PRECEDENCE = {">>": 1, "<<": 1, "+": 2, "-": 2, "*": 3, "/": 3, "//": 3, "%": 3, "@": 3}
_SEPARATORS = (",", "=", ":", ";")


class _Frame:
    """Sizes inside one pair of brackets (or the whole text): an upper bound of the syntax tree's depth."""

    def __init__(self) -> None:
        self.best = 0  # largest bound over the finished arguments
        self.reset()

    def reset(self) -> None:
        self.ops = 0  # operators of the lowest precedence ('>>') and others without a run
        self.runs = {2: 0, 3: 0}  # current run of '+' / '*' since a lower operator
        self.longest = {2: 0, 3: 0}
        self.level = 0  # signs and method calls of the current operand
        self.deepest = 0  # the same, largest over the operands
        self.child = 0  # deepest bracket closed in this argument

    def operator(self, precedence: int) -> None:
        if precedence in self.runs:
            self.runs[precedence] += 1
            self.longest[precedence] = max(self.longest[precedence], self.runs[precedence])
        else:
            self.ops += 1
        for higher in self.runs:
            if higher > precedence:
                self.runs[higher] = 0
        self.level = 0

    def parts(self) -> int:
        """Parts of the longest chain of one operator so far (``a >> b >> c`` has 3).

        Counted as :attr:`lrkit.core.Schedule._chain` counts a built schedule, so whatever is
        built can be printed and parsed back.
        """
        return 1 + max(self.ops, *self.runs.values())

    def bound(self) -> int:
        """The :func:`lrkit._limits.text_cost` of what this frame holds so far."""
        shape = (self.ops, self.longest[2], self.longest[3], self.deepest, self.child)
        return text_cost(shape)

    def finish(self) -> None:
        self.best = max(self.best, self.bound())
        self.reset()


def _check_size(source: str) -> None:
    """Reject text nested or chained beyond the limits, before Python's parser sees it.

    CPython's parser runs out of stack (``RecursionError``, ``MemoryError``) on a few thousand
    levels; this scan is iterative and stops at the first token over a limit.
    """
    frames = [_Frame()]
    nesting = 0  # brackets + signs + method calls along the current path
    operand_ended = False
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, string = token.type, token.string
            frame = frames[-1]
            deeper = grew = False
            if kind == tokenize.OP:
                if string in _OPEN:
                    frames.append(_Frame())
                    deeper = True
                elif string in _CLOSE:
                    if len(frames) > 1:
                        frame.finish()
                        closed = frames.pop()
                        nesting -= 1 + closed.level
                        frame, grew = frames[-1], True
                        frame.child = max(frame.child, 2 + closed.best)
                elif string == "." or (string in _SIGNS and not operand_ended):
                    frame.level += 1  # a method call, a sign (or a star in a call)
                    frame.deepest = max(frame.deepest, frame.level)
                    deeper = grew = True
                elif string in _SEPARATORS:
                    nesting -= frame.level
                    frame.finish()
                else:
                    nesting -= frame.level
                    frame.operator(_PRECEDENCE.get(string, 0))
                    grew = True
                operand_ended = string in _CLOSE
            elif kind == tokenize.NAME and keyword.iskeyword(string) and string not in _LITERALS:
                nesting -= frame.level
                frame.operator(0)
                grew, operand_ended = True, False
            else:
                operand_ended = kind in (tokenize.NAME, tokenize.NUMBER, tokenize.STRING)
            if deeper:
                nesting += 1
                if nesting > MAX_NESTING:
                    raise _token_error(
                        f"nesting deeper than {MAX_NESTING} levels (brackets, signs and method "
                        "calls each add one)",
                        source,
                        token,
                    )
            if grew and frame.parts() > MAX_CHAIN:
                raise _token_error(
                    f"too long: more than {MAX_CHAIN} chained parts ('>>', '*', '+' each join two)",
                    source,
                    token,
                )
            if grew and (frame.bound() > MAX_PATH or frames[0].bound() > MAX_PATH):
                raise _token_error(
                    f"too long: more than {MAX_PATH} chained operators ('>>', '*', '+') and "
                    "nested calls along one path",
                    source,
                    token,
                )
    except (tokenize.TokenError, SyntaxError):
        return  # an unfinished text: Python's parser reports it with a caret


def _token_error(message: str, source: str, token: tokenize.TokenInfo) -> TextFormError:
    lines = source.splitlines() or [source]
    row = lines[min(token.start[0], len(lines)) - 1]
    return _error(message, row, token.start[1], None)


_SIGNS = ("+", "-", "*", "**", "~")
_LITERALS = ("True", "False", "None")


class _Reader:
    def __init__(self, source: str) -> None:
        self.lines = source.splitlines() or [source]
        self.depths: dict[int, tuple[object, int]] = {}

    def fail(self, message: str, node: ast.AST) -> TextFormError:
        lineno = getattr(node, "lineno", 1)
        row = self.lines[lineno - 1]
        column = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", None)
        if getattr(node, "end_lineno", lineno) != lineno:
            end = len(row)
        return _error(message, row, column, end)

    def snippet(self, node: ast.AST) -> str:
        """The source text of ``node``, shortened (never ``ast.unparse``: it recurses)."""
        text = ast.get_source_segment("\n".join(self.lines), node) or type(node).__name__
        return text if len(text) <= 60 else text[:57] + "..."

    def schedule(self, node: ast.expr) -> Schedule:
        value = self.value(node)
        if isinstance(value, WarmupPrefix):
            raise self.fail(
                f"{value} must be followed by the schedule it leads into, e.g. "
                f"{value} >> cosine(start=0.1, steps=900)",
                node,
            )
        if not isinstance(value, Schedule):
            raise self.fail(f"expected a schedule, got {self.snippet(node)!r}", node)
        return value

    def value(self, node: ast.expr, param: str | None = None) -> Any:
        if isinstance(node, ast.Constant):
            return self.literal(node, param)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.value(node.operand, param)
            if isinstance(operand, bool) or not isinstance(operand, int | float):
                raise self.fail("a sign must precede a number", node)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.List | ast.Tuple):
            return tuple(self.value(item, param) for item in node.elts)
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
                f"'>' is not an operator of the text form in {self.snippet(node)!r}; "
                "did you mean '>>' (sequence: a >> b)?",
                node,
            )
        raise self.fail(f"unsupported syntax {type(node).__name__} in {self.snippet(node)!r}", node)

    def literal(self, node: ast.Constant, param: str | None) -> Any:
        value = node.value
        if not (isinstance(value, bool | int | float | str) or value is None):
            raise self.fail(f"unsupported literal {self.snippet(node)!r}", node)
        too_big = (
            isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX
        ) or (isinstance(value, float) and math.isinf(value))
        if too_big:
            where = f"{param} " if param else ""
            raise self.fail(
                f"{where}out of range: {self.snippet(node)} is beyond the largest float "
                f"({_FLOAT_MAX:.4g})",
                node,
            )
        return value

    def binary(self, node: ast.BinOp) -> Any:
        """A chain ``a op b op c ...`` of one operator, read without recursing along the chain.

        A chain of schedules only is built in one call (``sequence``, ``product``, ``add``: equal to
        folding ``>>``, ``*``, ``+``), so a long chain costs linear time; chains with numbers fold.
        """
        spine = [node]
        while isinstance(spine[-1].left, ast.BinOp) and type(spine[-1].left.op) is type(node.op):
            spine.append(spine[-1].left)
        if not isinstance(node.op, ast.RShift | ast.Mult | ast.Add):
            raise self.fail(
                f"unsupported operator {type(node.op).__name__}: use '>>' (sequence), '*' or '+'",
                node,
            )
        steps = spine[::-1]
        operands = [self.value(steps[0].left), *(self.value(step.right) for step in steps)]
        if isinstance(node.op, ast.RShift):
            return self.sequence(node, steps, operands)
        if len(operands) > 2 and all(isinstance(item, Schedule) for item in operands):
            join = product if isinstance(node.op, ast.Mult) else add
            return self.build(node, lambda: join(*operands))
        result = operands[0]
        for step, right in zip(steps, operands[1:], strict=True):
            result = self.combine(step, result, right)
        return result

    def sequence(self, node: ast.BinOp, steps: list[ast.BinOp], parts: list[Any]) -> Any:
        """``a >> b >> c``: ``sequence(a, b, c)`` (a warm-up prefix takes all after it)."""
        nodes = [steps[0].left, *(step.right for step in steps)]
        for part, side in zip(parts, nodes, strict=True):
            if not isinstance(part, Schedule | WarmupPrefix):
                raise self.fail(f"expected a schedule, got {self.snippet(side)!r}", side)
        if sum(isinstance(part, WarmupPrefix) for part in parts) >= MAX_DEPTH:
            raise self.fail(  # each prefix nests the rest of the chain one level deeper
                f"schedule nested deeper than {MAX_DEPTH} levels (a warm-up takes all after it)",
                node,
            )
        return self.build(node, lambda: sequence(*parts))

    def combine(self, node: ast.BinOp, left: Any, right: Any) -> Any:
        operands = [item for item in (left, right) if isinstance(item, Schedule)]
        if isinstance(left, WarmupPrefix) or isinstance(right, WarmupPrefix):
            return self.build(
                node, lambda: left * right if isinstance(node.op, ast.Mult) else left + right
            )
        if isinstance(node.op, ast.Mult):
            if isinstance(left, Schedule) and not isinstance(right, Schedule):
                return self.build(node, lambda: self.scaled(left, right, node), operands)
            if isinstance(right, Schedule) and not isinstance(left, Schedule):
                return self.build(node, lambda: self.scaled(right, left, node), operands)
            if isinstance(left, Schedule) and isinstance(right, Schedule):
                return self.build(node, lambda: left * right, operands)
            raise self.fail("'*' needs a schedule and a number or two schedules", node)
        if isinstance(left, Schedule) or isinstance(right, Schedule):
            return self.build(node, lambda: left + right, operands)
        raise self.fail("'+' needs at least one schedule", node)

    def check_depth(
        self, schedule: Schedule, node: ast.AST, operands: list[Schedule] | None = None
    ) -> None:
        """Reject a schedule tree deeper than ``MAX_DEPTH``.

        For ``left op right`` the depth is at most one more than its operands'; that bound is kept
        while it is under the limit, so folding a long chain of ``+ 0.1`` costs no tree walks.
        """
        if operands:
            bound = 1 + max(depth(item, self.depths) for item in operands)
            if bound <= MAX_DEPTH:
                self.depths.setdefault(id(schedule), (schedule, bound))
                return
        if depth(schedule, self.depths) > MAX_DEPTH:
            raise self.fail(
                f"schedule nested deeper than {MAX_DEPTH} levels (combinators inside combinators)",
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
        func = node.func
        names = _parameter_names(func)
        args = [
            self.value(arg, names[index] if index < len(names) else None)
            for index, arg in enumerate(node.args)
        ]
        kwargs = {kw.arg: self.value(kw.value, kw.arg) for kw in node.keywords if kw.arg}
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
            raise self.fail(f"cannot call {self.snippet(func)!r}", func)
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
        signature = _signature(factory)
        try:
            signature.bind(*args, **kwargs)
        except TypeError as err:
            accepted = [p for p in signature.parameters if not p.startswith("_")]
            unknown = [k for k in kwargs if k not in signature.parameters]
            message = (
                unknown_arguments(name, unknown, accepted)
                if unknown
                else f"{name}(): {err}; accepted arguments: {', '.join(accepted)}"
            )
            raise self.fail(message, node) from None

    def build(
        self, node: ast.AST, make: Callable[[], Any], operands: list[Schedule] | None = None
    ) -> Any:
        try:
            value = make()
        except TextFormError:
            raise
        except (ScheduleError, TypeError, ValueError, ArithmeticError) as err:
            raise self.fail(str(err).splitlines()[0], node) from None
        if isinstance(value, Schedule):
            self.check_depth(value, node, operands)
        return value


_FLOAT_MAX = sys.float_info.max


def _parameter_names(func: ast.expr) -> list[str]:
    """Parameter names of the called factory or method, in order (empty when unknown)."""
    target: Any = None
    if isinstance(func, ast.Attribute) and func.attr in METHODS:
        target = getattr(Schedule, func.attr)
    elif isinstance(func, ast.Name) and func.id == "pct":
        target = Pct
    elif isinstance(func, ast.Name):
        try:
            target = registry.get(func.id).factory
        except ScheduleError:
            return []  # the call reports the unknown name
    if target is None:
        return []
    try:
        names = list(_signature(target).parameters)
    except (TypeError, ValueError):  # pragma: no cover - every factory has a signature
        return []
    return names[1:] if names and names[0] == "self" else names


def _signature(target: Callable[..., Any]) -> inspect.Signature:
    """``inspect.signature``, cached for factories and methods (parsing calls it once per call)."""
    function = getattr(target, "__func__", None)
    if function is not None:  # a bound method: the cached signature of its function, minus self
        full = _function_signature(function)
        return full.replace(parameters=list(full.parameters.values())[1:])
    return _function_signature(target)


@functools.lru_cache(maxsize=512)
def _function_signature(target: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(target)

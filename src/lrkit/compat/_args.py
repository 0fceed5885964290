"""Argument checks shared by the ``lrkit.compat`` modules.

One convention for every compat module: errors are lrkit's ``ScheduleError`` family (built by
:mod:`lrkit._validate`; ``ScheduleTypeError`` for a wrong type, so ``except ValueError`` and
``except TypeError`` keep working) and every message reads
``<where>: <name>=<value!r> is invalid; <name> must be <allowed>``. ``<where>`` is the name the
user called: PyTorch's and Hugging Face's (``StepLR``, ``get_scheduler``) for the drop-ins of
:func:`fail`, :func:`int_at_least` and :func:`real`; ``lrkit.compat.<module>.<function>`` for the
function families of :class:`Checks` (keras, optax).

>>> str(Checks("optax").fail("f", "x", -1, ">= 0"))
'lrkit.compat.optax.f: x=-1 is invalid; x must be >= 0'
>>> str(fail("StepLR", "gamma", "a", "a real number"))
"StepLR: gamma='a' is invalid; gamma must be a real number"
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from lrkit import _validate as check
from lrkit.errors import ScheduleError, ScheduleTypeError

__all__ = ["Checks", "fail", "int_at_least", "real", "type_fail"]

_MAX_INT = 2**53
P = ParamSpec("P")
R = TypeVar("R")


class Checks:
    """Checks whose ``ScheduleError`` messages start with ``lrkit.compat.<module>.<function>``."""

    def __init__(self, module: str) -> None:
        self.prefix = f"lrkit.compat.{module}"

    def named(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorator: prefix lrkit's argument errors raised inside ``func`` with its full name."""
        where = f"{self.prefix}.{func.__name__}"

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except ScheduleError as exc:
                if str(exc).startswith(where):
                    raise
                kind = ScheduleTypeError if isinstance(exc, TypeError) else ScheduleError
                raise kind(f"{where}: {exc}") from exc

        return wrapper

    def fail(self, func: str, name: str, value: object, allowed: str) -> ScheduleError:
        """A ``ScheduleError`` for a value outside the allowed range."""
        return check.invalid(f"{self.prefix}.{func}", name, value, allowed)

    def type_fail(self, func: str, name: str, value: object, allowed: str) -> ScheduleTypeError:
        """A ``ScheduleTypeError`` for a value of the wrong type."""
        return check.invalid_type(f"{self.prefix}.{func}", name, value, allowed)

    def number(self, func: str, name: str, value: object) -> float:
        """``value`` as a float; a real number (not a bool) or ``ScheduleTypeError``."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.type_fail(func, name, value, "a number")
        return float(value)


def fail(func: str, name: str, value: object, allowed: str) -> ScheduleError:
    """A ``ScheduleError`` naming ``func``, the parameter, its value and what is allowed."""
    return check.invalid(func, name, value, allowed)


def type_fail(func: str, name: str, value: object, allowed: str) -> ScheduleTypeError:
    """A ``ScheduleTypeError`` (a ``TypeError``) naming ``func``, the parameter and its value."""
    return check.invalid_type(func, name, value, allowed)


def int_at_least(func: str, name: str, value: object, low: int) -> int:
    """``value`` as an int ``>= low``: ``ScheduleTypeError`` for a non-int (or bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise check.invalid_type(func, name, value, f"an int >= {low}")
    if not low <= int(value) <= _MAX_INT:
        raise fail(
            func, name, value, f"an int in [{low}, 2**53] (larger steps are not exact floats)"
        )
    return int(value)


def real(func: str, name: str, value: object, low: float | None = None) -> float:
    """``value`` as a finite float (``>= low`` when given): ``ScheduleTypeError`` for a non-real
    (or bool), else ``ScheduleError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise check.invalid_type(func, name, value, "a real number")
    try:
        out = float(value)
    except OverflowError:  # an int beyond the float range
        out = math.inf
    if not math.isfinite(out) or (low is not None and out < low):
        raise fail(func, name, value, "finite" + ("" if low is None else f" and >= {low:g}"))
    return out

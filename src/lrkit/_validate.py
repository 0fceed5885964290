"""The one validation module: every argument check of lrkit goes through it.

Errors are lrkit's :class:`~lrkit.errors.ScheduleError` family (a ``ValueError``; wrong types raise
:class:`~lrkit.errors.ScheduleTypeError`, also a ``TypeError``). Messages name the function, the
parameter, the value and what is allowed, in one of two shapes:

* schedules (text-form names): ``cosine(): steps must be an int >= 1, got 0`` — :func:`number`,
  :func:`integer`, :func:`boolean`, :func:`choice`;
* objects with PyTorch-style argument names (``Plateau``, ``lrkit.compat``, the framework
  adapters): ``Plateau: factor=2.0 is invalid; factor must be in (0, 1)`` — :func:`invalid` and
  :func:`invalid_type` build those errors.

>>> integer("cosine", "steps", 0, low=1)
Traceback (most recent call last):
...
lrkit.errors.ScheduleError: cosine(): steps must be an int >= 1, got 0
>>> str(invalid("Plateau", "factor", 2.0, "in (0, 1)"))
'Plateau: factor=2.0 is invalid; factor must be in (0, 1)'
"""

from __future__ import annotations

import math
import numbers
import reprlib
import sys
import warnings
from collections.abc import Iterable

from lrkit.errors import ScheduleError, ScheduleTypeError

__all__ = [
    "boolean",
    "choice",
    "deprecated",
    "integer",
    "invalid",
    "invalid_type",
    "number",
    "renamed",
]


def number(
    func: str,
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number within the given bounds, returned as ``float``.

    Args:
      func: the function named in the message.
      name: the parameter.
      value: the argument.
      low: lowest allowed value (``None``: unbounded).
      high: highest allowed value.
      low_open: exclude ``low`` itself.
      high_open: exclude ``high`` itself.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ScheduleTypeError(f"{func}(): {name} must be a number, got {value!r}")
    allowed = _describe(low, high, low_open, high_open)
    try:
        result = float(value)
    except OverflowError:  # an int beyond the float range
        raise ScheduleError(
            f"{func}(): {name} must be a finite number{allowed}, got {reprlib.repr(value)}"
        ) from None
    if not math.isfinite(result):
        raise ScheduleError(f"{func}(): {name} must be a finite number{allowed}, got {value!r}")
    too_low = low is not None and (result <= low if low_open else result < low)
    too_high = high is not None and (result >= high if high_open else result > high)
    if too_low or too_high:
        raise ScheduleError(f"{func}(): {name} must be{allowed or ' finite'}, got {value!r}")
    return result


def integer(func: str, name: str, value: object, *, low: int | None = None) -> int:
    """An ``int`` (numpy integers too, not ``bool``) no smaller than ``low``.

    Args:
      func: the function named in the message.
      name: the parameter.
      value: the argument.
      low: smallest allowed value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ScheduleTypeError(f"{func}(): {name} must be an int, got {value!r}")
    result = int(value)
    if low is not None and result < low:
        raise ScheduleError(f"{func}(): {name} must be an int >= {low}, got {value!r}")
    return result


def boolean(func: str, name: str, value: object) -> bool:
    """A real ``bool`` (no truthy strings).

    Args:
      func: the function named in the message.
      name: the parameter.
      value: the argument.
    """
    if not isinstance(value, bool):
        raise ScheduleTypeError(f"{func}(): {name} must be True or False, got {value!r}")
    return value


def did_you_mean(value: object, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` naming the option closest to ``value`` (difflib), or ``""``.

    Args:
      value: what was given.
      options: the allowed names.

    >>> did_you_mean("serail", ["local", "ray", "serial"]), did_you_mean("zzz", ["local"])
    ("; did you mean 'serial'?", '')
    """
    import difflib

    close = difflib.get_close_matches(str(value), list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_arguments(func: str, given: Iterable[str], accepted: list[str]) -> str:
    """The message for keyword arguments ``func`` does not take: each unknown name with the
    closest accepted one (``gamma``, PyTorch's name, points at ``factor``), then the accepted
    arguments. The text form and the Python constructors word it the same way.

    Args:
      func: the schedule's name.
      given: the keywords given.
      accepted: the public arguments ``func`` takes, in order.

    >>> unknown_arguments("cosine", ["strat"], ["start", "end", "steps"])
    "cosine(): unknown argument 'strat' (did you mean 'start'?); accepted arguments: start, end, steps"
    """
    import difflib

    hints = []
    for key in given:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            if not close and key == "gamma" and "factor" in accepted:
                close = ["factor"]  # PyTorch's name for the multiplier
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"{func}(): unknown argument {', '.join(hints)}; accepted arguments: {', '.join(accepted)}"
    )


def choice(func: str, name: str, value: object, options: Iterable[str]) -> str:
    """One of the allowed strings.

    Args:
      func: the function named in the message.
      name: the parameter.
      value: the argument.
      options: the allowed strings.
    """
    allowed = list(options)
    if not isinstance(value, str) or value not in allowed:
        listed = ", ".join(repr(option) for option in allowed)
        raise ScheduleError(f"{func}(): {name} must be one of {listed}, got {value!r}")
    return value


def _describe(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        return f" in {left}{low:g}, {high:g}{right}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def invalid(where: str, name: str, value: object, allowed: str) -> ScheduleError:
    """``<where>: <name>=<value!r> is invalid; <name> must be <allowed>`` (to raise).

    Args:
      where: the callable as the user wrote it (``Plateau``, ``StepLR``).
      name: the parameter.
      value: the argument.
      allowed: what is allowed, e.g. ``"in (0, 1)"``.
    """
    return ScheduleError(
        f"{where}: {name}={reprlib.repr(value)} is invalid; {name} must be {allowed}"
    )


def invalid_type(where: str, name: str, value: object, allowed: str) -> ScheduleTypeError:
    """As :func:`invalid`, for a value of the wrong type (also a ``TypeError``).

    Args:
      where: the callable as the user wrote it.
      name: the parameter.
      value: the argument.
      allowed: what is allowed.
    """
    return ScheduleTypeError(
        f"{where}: {name}={reprlib.repr(value)} is invalid; {name} must be {allowed}"
    )


def deprecated(message: str) -> None:
    """Warn with a ``DeprecationWarning`` attributed to the first caller outside lrkit.

    Args:
      message: what is deprecated and what to write instead.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     deprecated("old is deprecated; write new")
    >>> caught[0].category.__name__
    'DeprecationWarning'
    """
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and _in_lrkit(frame.f_globals.get("__name__")):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, DeprecationWarning, stacklevel=level + 1)


def _in_lrkit(module: object) -> bool:
    """Whether ``module`` (a frame's ``__name__``; dataclass ``__init__`` included) is lrkit's."""
    return isinstance(module, str) and (module == "lrkit" or module.startswith("lrkit."))


def renamed(func: str, old: str, old_value: object, new: str, new_value: object) -> object:
    """The value of a renamed keyword: ``new_value``, or ``old_value`` (with a deprecation warning)
    where only the old spelling was given; both given is an error.

    Args:
      func: the function named in messages.
      old: the old keyword.
      old_value: its value (``None`` when not given).
      new: the new keyword.
      new_value: its value (``None`` when not given).

    >>> renamed("exponential", "gamma", None, "factor", 0.5)
    0.5
    """
    if old_value is None:
        return new_value
    if new_value is not None:
        raise ScheduleTypeError(
            f"{func}(): give {new}= only ({old}= is its deprecated spelling), got "
            f"{new}={new_value!r} and {old}={old_value!r}"
        )
    deprecated(f"{func}(): {old}= is deprecated, write {new}={old_value!r}")
    return old_value

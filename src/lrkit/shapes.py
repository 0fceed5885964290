"""Interpolation shapes: how a value travels from ``start`` to ``end`` over ``steps`` steps.

With progress ``p = t / steps`` and what remains ``q = (steps - t) / steps`` (both exact for whole
steps), each shape gives the weight ``w(q)`` left on ``start`` and its complement ``c = 1 - w``:

==========  ==========================================  =====================================
shape       w (weight on ``start``)                     written accurately as
==========  ==========================================  =====================================
linear      q                                           c = p
cosine      (1 + cos(π p)) / 2                          sin²(π q / 2) past p = 1/2
poly        q ** power                                  c = 1 - w
1-sqrt      1 - sqrt(p)                                 w = q / (1 + sqrt(p)), c = sqrt(p)
rex         q / (1/2 + q/2)                             w = 2q / (1 + q), c = p / (1 + q)
exp         geometric: value = start · (end/start)^p    (start, end > 0)
constant    1 until ``steps``, then 0                   (a jump at the end)
==========  ==========================================  =====================================

The value is ``start · w + end · c``. A decay computes ``w`` accurately and ``c = 1 − w``; a ramp
computes ``c`` accurately and ``w = 1 − c``. Values close to zero keep full relative precision, and
``w`` and ``c`` are exactly 0 or 1 at the two ends, so both endpoints are hit exactly and joins in a
sequence are continuous to the last bit.

Every shape argument of lrkit (``warmup(shape=)``, ``piecewise(shape=)``, ``one_cycle(shape=)``,
``wsd(shape=)``) takes these names, checked by :func:`shape_name`; the older spelling ``"cos"`` is
read as ``"cosine"`` with a ``DeprecationWarning`` (removed in 0.3).

>>> import numpy as np
>>> [round(float(v), 4) for v in interpolate("cosine", 1.0, 0.0, np.arange(5.0), 4.0, np)]
[1.0, 0.8536, 0.5, 0.1464, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrkit._validate import deprecated
from lrkit.core import Array
from lrkit.errors import ScheduleError, ScheduleTypeError

__all__ = ["SHAPES", "interpolate", "shape_name"]

SHAPES = ("linear", "cosine", "poly", "1-sqrt", "rex", "exp", "constant")
_ALIASES = {"cos": "cosine"}


def shape_name(func: str, name: str, value: object, allowed: tuple[str, ...] = SHAPES) -> str:
    """``value`` as a canonical shape name from ``allowed`` (a subset of :data:`SHAPES`).

    Args:
      func: the function named in errors.
      name: the parameter named in errors.
      value: the shape name given.
      allowed: the accepted subset of :data:`SHAPES`.

    >>> shape_name("piecewise", "shape", "cosine")
    'cosine'
    """
    if not isinstance(value, str):
        raise ScheduleTypeError(f"{func}(): {name} must be a shape name (str), got {value!r}")
    canonical = _ALIASES.get(value, value)
    if canonical != value and canonical in allowed:
        deprecated(f"{func}(): {name}={value!r} is deprecated, write {name}={canonical!r}")
    if canonical not in allowed:
        listed = ", ".join(repr(option) for option in allowed)
        raise ScheduleError(f"{func}(): {name} must be one of {listed}, got {value!r}")
    return canonical


def _half_cos(done: Array, left: Array, total: float, xp: Any) -> Array:
    """(1 + cos(π·done/total)) / 2: the cosine itself up to the midpoint (exactly 1/2 there, as
    PyTorch computes it), then sin²(π·left/(2·total)), which keeps full precision near zero."""
    first_half = done <= left
    if xp is np:  # one transcendental per element: each formula only where it is used
        out = np.cos(done * (math.pi / total), out=np.empty_like(done), where=first_half)
        out = np.add(out, 1.0, out=out, where=first_half)
        out = np.multiply(out, 0.5, out=out, where=first_half)
        sine = np.sin(left * (math.pi / (2.0 * total)), out=np.empty_like(left), where=~first_half)
        return np.square(sine, out=out, where=~first_half)
    head = (1.0 + xp.cos(done * (math.pi / total))) / 2.0
    tail = xp.sin(left * (math.pi / (2.0 * total))) ** 2
    return xp.where(first_half, head, tail)


def _weight(shape: str, local: Array, total: float, power: float, xp: Any) -> Array:
    """w, the weight left on ``start`` at ``local`` steps of ``total``, accurate near w = 0."""
    if shape == "linear":
        return (total - local) / total
    if shape == "cosine":
        half = _half_cos(local, total - local, total, xp)
        return half if power == 1.0 else half**power
    if shape == "poly":
        return ((total - local) / total) ** power
    q = (total - local) / total
    if shape == "1-sqrt":
        return q / (1.0 + xp.sqrt(local / total))
    if shape == "rex":
        return 2.0 * q / (1.0 + q)
    raise ScheduleError(f"unknown shape {shape!r}")  # pragma: no cover - validated by callers


def _complement(shape: str, local: Array, total: float, power: float, xp: Any) -> Array:
    """c = 1 − w, accurate near c = 0 where the shape allows it."""
    if shape == "linear":
        return local / total
    if shape == "cosine" and power == 1.0:
        return _half_cos(total - local, local, total, xp)
    if shape == "1-sqrt":
        return xp.sqrt(local / total)
    if shape == "rex":
        return (local / total) / (1.0 + (total - local) / total)
    return 1.0 - _weight(shape, local, total, power, xp)


def interpolate(
    shape: str,
    start: float,
    end: float,
    t: Array,
    steps: float,
    xp: Any,
    *,
    power: float = 1.0,
) -> Array:
    """Value of ``shape`` going from ``start`` (t=0) to ``end`` (t=steps), held after ``steps``.

    Args:
      shape: one of :data:`SHAPES`.
      start: the value at ``t = 0``.
      end: the value at ``t = steps`` and after.
      t: steps (an array of ``xp``, ``>= 0``).
      steps: length of the travel.
      xp: the array namespace of ``t``.
      power: exponent of ``poly`` (and of ``cosine``).
    """
    if steps <= 0:
        return xp.zeros_like(t) + end
    if shape == "constant":
        return xp.where(t < steps, start, end) + xp.zeros_like(t)
    local = xp.minimum(t, float(steps))
    if shape == "exp":
        p = local / steps
        ratio = end / start
        if math.isfinite(ratio) and ratio > 0.0:
            value = start * ratio**p
        else:  # end/start beyond the float range (start near 0): in log space, no overflow
            value = xp.exp(math.log(start) + p * (math.log(end) - math.log(start)))
        value = xp.where(p >= 1.0, end, value)
        return xp.where(p <= 0.0, start, value)
    if abs(start) >= abs(end):
        w = _weight(shape, local, steps, power, xp)
        return start * w if end == 0.0 else start * w + end * (1.0 - w)
    c = _complement(shape, local, steps, power, xp)
    return end * c if start == 0.0 else start * (1.0 - c) + end * c

"""Interpolation shapes: how a value travels from ``start`` to ``end`` over ``steps`` steps.

With progress ``p = t / steps`` and what remains ``q = (steps - t) / steps`` (both exact for whole
steps), each shape gives the weight ``w(q)`` left on ``start`` and its complement ``c = 1 - w``:

==========  ==========================================  =====================================
shape       w (weight on ``start``)                     written accurately as
==========  ==========================================  =====================================
linear      q                                           c = p
cos         (1 + cos(π p)) / 2                          sin²(π q / 2) past p = 1/2
poly        q ** power                                  c = 1 - w
1-sqrt      1 - sqrt(p)                                 w = q / (1 + sqrt(p)), c = sqrt(p)
rex         q / (1/2 + q/2)                             w = 2q / (1 + q), c = p / (1 + q)
exp         geometric: value = start · (end/start)^p    (start, end > 0)
==========  ==========================================  =====================================

The value is ``end + (start - end) · w`` when ``|start| >= |end|`` (a decay: exact near its end) and
``start + (end - start) · c`` otherwise (a ramp: exact near its start), so values close to zero keep
full relative precision.

>>> import numpy as np
>>> [round(float(v), 4) for v in interpolate("cos", 1.0, 0.0, np.arange(5.0), 4.0, np)]
[1.0, 0.8536, 0.5, 0.1464, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

from lrkit.core import Array

__all__ = ["SHAPES", "interpolate"]

SHAPES = ("linear", "cos", "poly", "1-sqrt", "rex", "exp")


def _half_cos(p: Array, q: Array, xp: Any) -> Array:
    """(1 + cos(π p)) / 2, written without cancellation: sin²(π q / 2) once p passes 1/2."""
    head = (1.0 + xp.cos(p * math.pi)) / 2.0
    tail = xp.sin(q * (math.pi / 2)) ** 2
    return xp.where(p <= 0.5, head, tail)


def _weight(shape: str, p: Array, q: Array, power: float, xp: Any) -> Array:
    """w(q), the weight left on ``start``; the complement c(p) is ``_weight`` with p and q swapped
    for the symmetric shapes, and written out for the others."""
    if shape == "linear":
        return q
    if shape == "cos":
        half = _half_cos(p, q, xp)
        return half if power == 1.0 else half**power
    if shape == "poly":
        return q**power
    if shape == "1-sqrt":
        return q / (1.0 + xp.sqrt(p))
    if shape == "rex":
        return 2.0 * q / (1.0 + q)
    raise ValueError(f"unknown shape {shape!r}")  # pragma: no cover - validated by callers


def _complement(shape: str, p: Array, q: Array, power: float, xp: Any) -> Array:
    """c = 1 − w(q), written without cancellation where the shape allows."""
    if shape == "linear" or (shape == "cos" and power == 1.0):
        return _weight(shape, q, p, power, xp)
    if shape == "1-sqrt":
        return xp.sqrt(p)
    if shape == "rex":
        return p / (1.0 + q)
    return 1.0 - _weight(shape, p, q, power, xp)


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
    """Value of ``shape`` going from ``start`` (t=0) to ``end`` (t=steps), held after ``steps``."""
    local = xp.minimum(t, steps * 1.0) if steps > 0 else xp.zeros_like(t) + 1.0
    total = steps if steps > 0 else 1.0
    p = local / total
    if shape == "exp":
        value = start * (end / start) ** p
        value = xp.where(p >= 1.0, xp.zeros_like(value) + end, value)
        return xp.where(p <= 0.0, xp.zeros_like(value) + start, value)
    q = (total - local) / total
    if abs(start) >= abs(end):
        value = end + (start - end) * _weight(shape, p, q, power, xp)
    else:
        value = start + (end - start) * _complement(shape, p, q, power, xp)
    # both endpoints exactly, so joins in a sequence are continuous to the last bit
    value = xp.where(q <= 0.0, xp.zeros_like(value) + end, value)
    return xp.where(p <= 0.0, xp.zeros_like(value) + start, value)

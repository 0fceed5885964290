"""Array helpers that keep evaluation fast and finite.

``pow`` and ``exp`` take a slow path (about 20x slower in numpy) when their result underflows below
the smallest normal float, which a long step or exponential decay reaches after enough steps. These
helpers clamp the exponent so that never happens and return 0 where the exact value is below the
smallest normal float64; here below e^-680 (about 5e-296).

>>> import numpy as np
>>> [float(v) for v in decay_pow(0.1, np.array([1.0, 2.0, 400.0]), np)]
[0.1, 0.01, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

from lrkit.core import Array

__all__ = ["decay_exp", "decay_pow"]

# results below e^-680 (about 5e-296, far below any useful value) become 0: pow and exp are fast
# above it and take a slow path near the smallest normal float (2.2e-308)
_LOG_TINY = -680.0


def decay_pow(base: float, exponent: Array, xp: Any) -> Array:
    """``base ** exponent`` for ``exponent >= 0``; 0 once the result is below e^-680.

    Args:
      base: the base (in (0, 1) decays; otherwise plain ``**``).
      exponent: an array of exponents >= 0.
      xp: the array namespace.
    """
    if not 0.0 < base < 1.0:
        return base**exponent
    cap = _LOG_TINY / math.log(base)
    return xp.where(exponent < cap, base ** xp.minimum(exponent, cap), 0.0)


def decay_exp(exponent: Array, xp: Any) -> Array:
    """``exp(exponent)``; 0 once the result is below e^-680."""
    return xp.where(exponent > _LOG_TINY, xp.exp(xp.maximum(exponent, _LOG_TINY)), 0.0)

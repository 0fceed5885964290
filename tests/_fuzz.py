"""The example budget of a Hypothesis property: as written in ``make test``, 10x in ``make fuzz``."""

from __future__ import annotations

import os

FUZZ = os.environ.get("LRKIT_HYPOTHESIS_PROFILE", "ci") == "fuzz"
FUZZ_FACTOR = 10


def examples(n: int) -> int:
    """``n`` examples in the everyday suite, ``10 * n`` under ``make fuzz``.

    >>> examples(40) in (40, 400)
    True
    """
    return n * FUZZ_FACTOR if FUZZ else n

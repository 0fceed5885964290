"""Plot of an LR range test: loss against LR, suggestions marked (needs matplotlib)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.finder.suggestions import suggest

if TYPE_CHECKING:
    from lrkit.finder.result import RangeTestResult

__all__ = ["plot"]


def plot(
    result: RangeTestResult,
    ax: Any = None,
    rules: Iterable[str] | None = ("lrkit", "valley", "steepest"),
    *,
    raw: bool = True,
) -> Any:
    """Plot loss against LR (log axis for ``mode="exp"``), suggestions marked; returns ax.

    The raw losses are drawn faintly, the smoothed curve on top; the falling half of a ``cycle``
    test is dashed.

    Args:
      result: the range test.
      ax: a matplotlib axes (a new figure when ``None``).
      rules: suggestion rules to mark.
      raw: also draw the raw losses.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    x = np.asarray(result.lrs)
    k = result.rising
    if raw:
        ax.plot(x[:k], result.losses[:k], color="0.75", lw=0.8, label="loss")
    ax.plot(x[:k], result.smoothed[:k], color="C0", lw=1.6, label="smoothed loss")
    if result.cycle and len(x) > k:
        ax.plot(x[k - 1 :], result.smoothed[k - 1 :], "--", color="C0", lw=1.2, label="falling")
    if rules and len(x):
        ys = np.asarray(result.smoothed)
        for c, name in enumerate(rules, start=1):
            s = suggest(result, name)
            yv = float(np.interp(math.log(s.lr), np.log(x[:k]), ys[:k]))
            ax.axvline(s.lr, color=f"C{c}", lw=0.8, ls=":")
            ax.plot([s.lr], [yv], "o", color=f"C{c}", label=f"{name}: {s.lr:.3g}")
    if result.mode == "exp":
        ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    if len(x):
        lo = float(np.min(result.smoothed[:k]))
        hi = float(result.smoothed[0])
        span = max(hi - lo, 1e-12)
        ax.set_ylim(lo - 0.1 * span, hi + 0.6 * span)
    ax.legend(fontsize="small")
    ax.set_title(f"LR range test ({result.stop_reason})")
    return ax

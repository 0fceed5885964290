"""Plot of an LR range test: loss against LR, suggestions marked (needs matplotlib)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.finder.suggestions import get, lrkit_smooth, rule_curve, suggest

if TYPE_CHECKING:
    from lrkit.finder.result import RangeTestResult

__all__ = ["plot"]


def _views(rules: list[str]) -> list[tuple[str, list[str]]]:
    """The distinct curves the ``rules`` read, each with the rules reading it; the lrkit rule's
    view first when no rule is given (it is the rule ``recommend`` uses by default)."""
    views: dict[tuple[str, int], tuple[str, list[str]]] = {}
    for name in rules or ["lrkit"]:
        r = get(name)
        key = (r.curve, id(r.smoother))
        views.setdefault(key, (name, []))[1].append(name)
    return list(views.values())


def _label(first: str, readers: list[str]) -> str:
    r = get(first)
    if r.smoother is lrkit_smooth:
        return "smoothed loss (zero-lag, as the lrkit rule reads it)"
    if r.curve == "smoothed" and r.smoother is None:
        return "EMA of the loss (as fastai, torch-lr-finder read it)"
    return f"loss as {', '.join(readers)} read{'s' if len(readers) == 1 else ''} it"


def plot(
    result: RangeTestResult,
    ax: Any = None,
    rules: Iterable[str] | None = ("lrkit", "valley", "steepest"),
    *,
    raw: bool = True,
) -> Any:
    """Plot loss against LR (log axis for ``mode="exp"``), suggestions marked; returns ax.

    The curve drawn is the one each rule reads (:func:`~lrkit.finder.suggestions.rule_curve`):
    the zero-lag robust smoothing of the ``lrkit`` rule (solid), the causal EMA that fastai's
    and torch-lr-finder's rules read (dashed, only when such a rule is marked); each suggestion
    sits on its rule's curve. The raw losses are drawn faintly; the falling half of a ``cycle``
    test is dotted. The y range shows the main curve from its highest point before its minimum
    (at least its median) down to the lowest curve drawn; the blow-up at the end leaves the
    frame. A new figure (``ax=None``) uses matplotlib's constrained layout, so the axis labels
    are inside the saved image.

    Args:
      result: the range test.
      ax: a matplotlib axes (a new figure when ``None``).
      rules: suggestion rules to mark, by registered name (default ``"lrkit"``, ``"valley"``
        (fastai's default) and ``"steepest"`` (torch-lr-finder's); ``None`` or empty: none,
        the curve of the ``lrkit`` rule only).
      raw: also draw the raw losses (default ``True``).

    >>> from lrkit.finder import RangeTestResult
    >>> r = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1), losses=(2.0, 1.0, 3.0),
    ...                     smoothed=(2.0, 1.0, 3.0))
    >>> ax = plot(r, rules=["minimum"])
    >>> ax.get_xscale(), ax.get_title()
    ('log', 'LR range test (completed)')
    >>> [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    ['loss', 'EMA of the loss (as fastai, torch-lr-finder read it)', 'minimum: 0.001']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(ax.figure)
    """
    from lrkit._extras import require

    plt = require("matplotlib.pyplot", "RangeTestResult.plot()")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    names = list(rules or ())
    x = np.asarray(result.lrs)
    k = result.rising
    if raw:
        ax.plot(x[:k], result.losses[:k], color="0.75", lw=0.8, label="loss")
    lows: list[float] = []
    top = math.nan
    curves: dict[str, np.ndarray] = {}
    for i, (first, readers) in enumerate(_views(names) if len(x) else []):
        xs, ys = rule_curve(result, first)
        style = {"color": "C0", "lw": 1.6} if i == 0 else {"color": "0.35", "lw": 1.0, "ls": "--"}
        ax.plot(xs, ys, label=_label(first, readers), **style)
        for name in readers:
            curves[name] = ys
        lows.append(float(np.min(ys)))
        if i == 0:  # where the curve comes from: its highest point up to the minimum
            top = max(float(np.max(ys[: int(np.argmin(ys)) + 1])), float(np.median(ys)))
    if result.cycle and len(x) > k:
        fall = np.asarray(result.losses[k - 1 :])
        smoother = get(_views(names)[0][0]).smoother
        ax.plot(
            x[k - 1 :],
            smoother(fall) if smoother else result.smoothed[k - 1 :],
            ":",
            color="C0",
            lw=1.2,
            label="falling",
        )
    for c, name in enumerate(names if len(x) else [], start=1):
        s = suggest(result, name)
        yv = float(np.interp(math.log(s.lr), np.log(x[:k]), curves[name]))
        ax.axvline(s.lr, color=f"C{c}", lw=0.8, ls=":")
        ax.plot([s.lr], [yv], "o", color=f"C{c}", label=f"{name}: {s.lr:.3g}")
    if result.mode == "exp":
        ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    if lows:
        lo = min(lows)
        span = max(top - lo, 1e-3 * max(abs(top), 1e-12))
        ax.set_ylim(lo - 0.1 * span, top + 0.6 * span)
    ax.legend(fontsize="small")
    ax.set_title(f"LR range test ({result.stop_reason})")
    return ax

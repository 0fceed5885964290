"""A bench winner as text you paste: the peak LR folded into the schedule, and the Python line.

The suite runs unit-peak shapes scaled by a (tuned) peak LR: ``cosine(start=1.0, ...) * 0.024``.
:func:`fold_peak` pushes the factor into the leaves' values (``start``, ``end``, ``peak``,
``low``, ``high``, ``final``, ``values``) so the text reads as one schedule,
``cosine(start=0.024, ...)``, and checks on every step of the run that the folded schedule gives
the values that ran (otherwise it keeps ``(...) * peak``, which parses to the same values).

>>> fold_peak('warmup("5%") >> cosine(start=1.0, end=0.0, steps="95%")', 0.024, 1000)
'warmup("5%") >> cosine(start=0.024, steps="95%")'
>>> scheduler_line('cosine(start=0.1, steps="100%")', None, 500)
'scheduler = lrkit.torch.Scheduler(optimizer, \\'cosine(start=0.1, steps="100%")\\', total_steps=500)'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["fold_peak", "paste_block", "scheduler_line"]

#: Fields of a schedule node that hold LR values (they scale with the peak).
VALUE_FIELDS = frozenset({"start", "end", "peak", "low", "high", "final", "values", "value"})
#: Nodes whose own value fields are not LR values (a momentum mirror, a warm-up's start share).
_KEEP = frozenset({"mirror", "warmup"})


def _fold(node: Any, k: float) -> Any:
    if isinstance(node, list):
        return [_fold(n, k) for n in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "scale" and isinstance(node.get("factor"), int | float):
        return _fold(node["schedule"], k * float(node["factor"]))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict | list) and key != "values":
            out[key] = _fold(value, k)
        elif key in VALUE_FIELDS and node.get("type") not in _KEEP:
            out[key] = _scaled(value, k)
        else:
            out[key] = value
    return out


def _scaled(value: Any, k: float) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(f"{float(value) * k:.12g}")
    if isinstance(value, list):
        return [_scaled(v, k) for v in value]
    return value


def fold_peak(unit_text: str, peak: float, steps: int) -> str:
    """The text of ``unit_text * peak`` with the peak folded into the leaves.

    The result, parsed and bound to ``steps``, gives the values of the run at every step
    (checked here to a relative 1e-9; when folding would change them the text is
    ``(unit text) * peak``).

    Args:
        unit_text: the unit-peak LR shape of a suite entry.
        peak: the peak LR it ran at.
        steps: the step budget it ran for.

    >>> fold_peak("constant(1.0)", 0.05, 10)
    'constant(0.05)'
    """
    import lrkit

    ran = lrkit.parse(unit_text) * float(peak)
    try:
        folded = lrkit.from_dict(_fold(ran.to_dict(), 1.0))
    except (TypeError, ValueError):
        return str(ran)
    t = np.arange(steps + 1)
    a = np.asarray(ran.bind(steps)(t), dtype=np.float64)
    b = np.asarray(folded.bind(steps)(t), dtype=np.float64)
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=1e-12 * abs(peak)):
        return str(ran)
    return str(folded)


def scheduler_line(
    lr_text: str,
    momentum_text: str | None,
    steps: int,
    plateau: Mapping[str, Any] | None = None,
) -> str:
    """The one Python line that builds the :class:`lrkit.torch.Scheduler` for a schedule.

    >>> scheduler_line("constant(0.1)", None, 100, {"factor": 0.5, "patience": 2})
    "scheduler = lrkit.torch.Scheduler(optimizer, 'constant(0.1)', total_steps=100, plateau=lrkit.Plateau(factor=0.5, patience=2))"
    """
    spec = (
        repr(lr_text)
        if momentum_text is None
        else f"{{'lr': {lr_text!r}, 'momentum': {momentum_text!r}}}"
    )
    extra = ""
    if plateau:
        args = ", ".join(f"{k}={json.dumps(v)}" for k, v in plateau.items())
        extra = f", plateau=lrkit.Plateau({args})"
    return f"scheduler = lrkit.torch.Scheduler(optimizer, {spec}, total_steps={steps}{extra})"


def paste_block(entry: Mapping[str, Any]) -> list[str]:
    """Markdown lines: the winner's text with its peak folded in and the Python line.

    ``entry`` is one schedule of results.json (``lr_text``, ``peak_lr``, ``steps``,
    ``momentum_text``, ``plateau``, ``optimizer``).
    """
    text = fold_peak(str(entry["lr_text"]), float(entry["peak_lr"]), int(entry["steps"]))
    mom = entry.get("momentum_text")
    lines = [
        "```text",
        text,
        "```",
        "",
        "```python",
        scheduler_line(text, mom, int(entry["steps"]), entry.get("plateau")),
        "```",
    ]
    if mom:
        lines.insert(3, f"with momentum (beta1 for Adam) `{mom}`")
    if str(entry.get("optimizer", "")).endswith("schedulefree"):
        lines.append(
            f"with the schedule-free optimizer ({entry['optimizer']}, package schedulefree)"
        )
    return lines

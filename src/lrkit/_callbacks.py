"""Framework-free helpers of the Hugging Face and Lightning callbacks (imports nothing heavy)."""

from __future__ import annotations

from typing import Any

__all__ = ["bind_auto", "scheduler_length"]


def bind_auto(sched: Any, total_steps: object, where: str) -> bool:
    """Bind ``sched`` to ``total_steps`` if it was built with ``total_steps="auto"``.

    Returns whether it bound. A scheduler already bound (built with a number, or restored from a
    checkpoint) is left as it is; so is any object without ``total_steps``.

    >>> bind_auto(object(), 10, "example")
    False
    """
    if getattr(sched, "total_steps", 0) is not None:
        return False
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(
            f"{where}: cannot bind the total_steps='auto' scheduler: the trainer reports "
            f"{total_steps!r} training steps (give max_steps, max_epochs or a sized dataset)"
        )
    sched.bind_total_steps(total_steps)
    return True


def scheduler_length(sched: Any) -> int | None:
    """The number of steps a scheduler's schedules run for, ``None`` when they never end.

    ``total_steps`` when the scheduler has one, else the longest finite duration among its
    ``"lr"`` schedules.

    >>> import lrkit
    >>> class S:
    ...     total_steps = None
    ...     schedules = [{"lr": lrkit.cosine(start=1.0, steps=90)}]
    >>> scheduler_length(S())
    90
    """
    total = getattr(sched, "total_steps", None)
    if isinstance(total, int) and not isinstance(total, bool):
        return total
    lengths = []
    for spec in getattr(sched, "schedules", []):
        s = spec.get("lr")
        if s is not None and s.bounded and s.duration is not None:
            lengths.append(int(s.duration))
    return max(lengths) if lengths else None

"""Framework-free helpers of the Hugging Face and Lightning callbacks (imports nothing heavy)."""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["bind_auto", "scheduler_length"]


def bind_auto(sched: Any, total_steps: object, where: str, retarget: bool = False) -> bool:
    """Bind ``sched`` to the trainer's ``total_steps`` if it was built with ``total_steps="auto"``.

    Returns whether the scheduler changed. A scheduler bound to the same number (built with it,
    or restored from a checkpoint) is left as it is; one bound to another number (a resumed run
    with a new budget, or a count computed by hand) warns, or with ``retarget=True`` is
    retargeted at its current step (:meth:`lrkit.torch.Scheduler.retarget`: the rest of its
    schedules is stretched onto the new budget). A scheduler without ``total_steps`` (fixed
    lengths) is left alone.

    >>> bind_auto(object(), 10, "example")
    False
    """
    total = getattr(sched, "total_steps", 0)  # AttributeError (built without one): fixed lengths
    if total is not None and not isinstance(total, int):
        return False
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        if total is None:
            raise ValueError(
                f"{where}: cannot bind the total_steps='auto' scheduler: the trainer reports "
                f"{total_steps!r} training steps (give max_steps, max_epochs or a sized dataset)"
            )
        return False
    if total is None:
        sched.bind_total_steps(total_steps)
        return True
    if total in (0, total_steps):
        return False
    if retarget:
        sched.retarget(total_steps)
        return True
    warnings.warn(
        f"{where}: the scheduler is bound to total_steps={total} but the trainer will make "
        f"{total_steps} steps: its schedule would end early (or hold its last value); pass "
        "retarget=True to the callback to stretch the rest of it onto the new budget, or build "
        "the scheduler with total_steps='auto'",
        UserWarning,
        stacklevel=3,
    )
    return False


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

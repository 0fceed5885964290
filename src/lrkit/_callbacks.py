"""Framework-free helpers of the Hugging Face and Lightning callbacks (imports nothing heavy)."""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["bind_auto", "scheduler_length", "warn_length"]


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


def warn_length(sched: Any, total_steps: object, where: str) -> bool:
    """Warn when a scheduler of fixed-length schedules does not fit the trainer's steps.

    A scheduler without ``total_steps`` whose longest ``"lr"`` schedule lasts under 90 % or over
    110 % of the ``total_steps`` optimizer steps the trainer will make is most likely counted in
    other units (epochs, batches before gradient accumulation). Returns whether it warned.

    >>> import lrkit
    >>> class S:
    ...     schedules = [{"lr": lrkit.cosine(start=1.0, steps=100)}]
    >>> warn_length(S(), 100, "example")
    False
    """
    if hasattr(sched, "total_steps") or isinstance(total_steps, bool):
        return False  # bound to a budget: bind_auto checks it
    if not isinstance(total_steps, int) or total_steps < 1:
        return False
    length = scheduler_length(sched)
    if not length or 0.9 * total_steps <= length <= 1.1 * total_steps:
        return False
    if length < total_steps:
        effect = f"it would hold its final value for the last {total_steps - length} steps"
    else:
        effect = f"training would end at {total_steps / length:.0%} of it"
    warnings.warn(
        f"{where}: the scheduler's schedule is {length} steps long but the trainer will make "
        f"{total_steps} optimizer steps, so {effect}. Is its length counted in epochs, or in "
        "batches before gradient accumulation? Build the scheduler with total_steps='auto' "
        "(durations as shares such as '20%') and the callback binds it to the trainer's steps.",
        UserWarning,
        stacklevel=3,
    )
    return True

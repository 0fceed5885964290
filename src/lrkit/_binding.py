"""The adapters' glue: a schedule given as a value or as its text, bound to the run's length.

``lrkit.torch.Scheduler``, ``lrkit.optax.as_optax`` and ``lrkit.keras.Schedule`` take a schedule
(an :class:`lrkit.Schedule` or its text form) and an optional ``total_steps``; this module is the
one place that turns them into a schedule with every duration in steps, with one error policy:

- ``total_steps`` not an int: :class:`~lrkit.ScheduleTypeError`; out of range:
  :class:`~lrkit.ScheduleError`; both read ``<where>: total_steps=<value> is invalid;
  total_steps must be an int in [1, 2**53]``;
- shares of training (``"20%"``) left without ``total_steps``: :class:`~lrkit.UnboundScheduleError`,
  ``<where>: <param>='<text>' has durations given as shares of training ('%'); pass
  total_steps=<...> to bind them``.
"""

from __future__ import annotations

from lrkit import _validate as check
from lrkit.core import Schedule
from lrkit.durations import MAX_STEPS
from lrkit.errors import UnboundScheduleError
from lrkit.text import as_schedule

__all__ = ["bind", "bound_schedule", "check_total_steps"]


def check_total_steps(
    where: str, total_steps: object, *, most: int = MAX_STEPS, also: str = ""
) -> int:
    """``total_steps`` as an int in ``[1, most]``, or the adapters' error naming ``where``.

    Args:
      where: the callable as the user wrote it (``lrkit.optax.as_optax``).
      total_steps: the argument.
      most: the largest number allowed (a power of two: ``2**53`` by default).
      also: what else the caller accepts, appended to the message (``", 'auto' or None"``).

    >>> check_total_steps("as_optax", 100)
    100
    >>> check_total_steps("as_optax", 0)
    Traceback (most recent call last):
      ...
    lrkit.errors.ScheduleError: as_optax: total_steps=0 is invalid; total_steps must be an int in [1, 2**53]
    """
    allowed = f"an int in [1, 2**{most.bit_length() - 1}]{also}"
    if isinstance(total_steps, bool) or not isinstance(total_steps, int):
        raise check.invalid_type(where, "total_steps", total_steps, allowed)
    if not 1 <= total_steps <= most:
        raise check.invalid(where, "total_steps", total_steps, allowed)
    return total_steps


def bind(
    schedule: Schedule,
    total_steps: int | None,
    where: str,
    param: str = "schedule",
    *,
    steps: str = "optimizer steps of the whole run",
    also: str = "",
) -> Schedule:
    """``schedule`` with its shares of training bound to ``total_steps`` (checked already).

    Without ``total_steps`` the schedule must have every duration in steps already.

    Args:
      schedule: the schedule.
      total_steps: the run's length, or ``None``.
      where: the callable as the user wrote it, for the message.
      param: the argument holding the schedule (``schedule[0]['lr']``).
      steps: what ``total_steps`` counts, for the message.
      also: another way to bind, appended to the message (``" (or total_steps='auto' ...)"``).

    >>> import lrkit
    >>> str(bind(lrkit.cosine(0.1, steps="50%"), 200, "as_optax"))
    'cosine(start=0.1, steps=100)'
    """
    if total_steps is not None:
        schedule = schedule.bind(total_steps)
    if not schedule.is_bound:
        raise UnboundScheduleError(
            f"{where}: {param}={str(schedule)!r} has durations given as shares of training ('%'); "
            f"pass total_steps=<{steps}>{also} to bind them"
        )
    return schedule


def bound_schedule(value: object, total_steps: object, where: str) -> Schedule:
    """A schedule from ``value`` (a schedule or its text), bound to ``total_steps`` (or ``None``).

    The coercion (:func:`lrkit.text.as_schedule`), :func:`check_total_steps` and :func:`bind`.

    Args:
      value: an :class:`lrkit.Schedule` or its text form.
      total_steps: the run's length in optimizer steps, or ``None``.
      where: the callable as the user wrote it, for the messages.

    >>> str(bound_schedule("warmup(10) >> cosine(start=0.1, steps='90%')", 100, "as_optax"))
    'warmup(10) >> cosine(start=0.1, steps=90)'
    """
    schedule = as_schedule(value, f"{where}: schedule")
    total = None if total_steps is None else check_total_steps(where, total_steps)
    return bind(schedule, total, where)

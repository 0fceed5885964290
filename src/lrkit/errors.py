"""The lrkit error family.

Every error lrkit raises for bad input derives from :class:`ScheduleError`, itself a ``ValueError``,
so ``except ValueError`` keeps working. Wrong *types* raise :class:`ScheduleTypeError`, which is both a
``ScheduleError`` and a ``TypeError``.
"""

from __future__ import annotations

__all__ = [
    "ScheduleError",
    "ScheduleStateError",
    "ScheduleTypeError",
    "TextFormError",
    "UnboundScheduleError",
]


class ScheduleError(ValueError):
    """A schedule was built or used with invalid arguments."""


class ScheduleTypeError(ScheduleError, TypeError):
    """An argument has the wrong type (also a ``TypeError``)."""


class ScheduleStateError(ScheduleError, RuntimeError):
    """A call out of order (a finished range test asked for its next LR); also a ``RuntimeError``."""


class UnboundScheduleError(ScheduleError):
    """A schedule holding shares of training (``"20%"``) was evaluated before ``bind(total_steps)``."""


class TextFormError(ScheduleError):
    """The text form of a schedule could not be parsed; the message points at the bad spot.

    >>> err = TextFormError("unknown schedule 'cosin'", text="cosin(start=1.0, steps=10)", column=0, end=5)
    >>> print(err)
    unknown schedule 'cosin'
      cosin(start=1.0, steps=10)
      ^^^^^
    """

    def __init__(
        self,
        message: str,
        *,
        text: str | None = None,
        column: int | None = None,
        end: int | None = None,
    ) -> None:
        self.message = message
        self.text = text
        self.column = column
        rendered = message
        if text is not None and column is not None:
            width = max(1, (end if end is not None else column + 1) - column)
            rendered = f"{message}\n  {text}\n  {' ' * column}{'^' * width}"
        super().__init__(rendered)

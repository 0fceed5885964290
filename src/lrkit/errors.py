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
    """A schedule was built or used with invalid arguments (a ``ValueError``).

    Every misuse of lrkit raises this family, so one ``except ValueError`` (or
    ``except lrkit.ScheduleError``) catches it; the message names the function, the parameter,
    the value and what is allowed.

    Args:
        *args: the message, as for ``ValueError``.

    >>> import lrkit
    >>> try:
    ...     lrkit.cosine(start=0.1, steps=0)
    ... except lrkit.ScheduleError as err:
    ...     print(err)
    cosine(): steps must be an int >= 1, got 0
    """


class ScheduleTypeError(ScheduleError, TypeError):
    """An argument has the wrong type (both a ``ScheduleError`` and a ``TypeError``).

    Args:
        *args: the message, as for ``TypeError``.

    >>> import lrkit
    >>> try:
    ...     lrkit.cosine(start="x", steps=10)
    ... except TypeError as err:
    ...     print(type(err).__name__, "-", err)
    ScheduleTypeError - cosine(): start must be a number, got 'x'
    """


class ScheduleStateError(ScheduleError, RuntimeError):
    """A call out of order (a finished range test asked for its next LR); also a ``RuntimeError``.

    Args:
        *args: the message, as for ``RuntimeError``.

    >>> import lrkit.finder
    >>> test = lrkit.finder.RangeTest(start=1e-4, end=1.0, num_steps=2)
    >>> for lr in test:
    ...     _ = test.record(1.0)
    >>> try:
    ...     test.lr()
    ... except RuntimeError as err:
    ...     print(type(err).__name__, "-", err)
    ScheduleStateError - RangeTest.lr: the test is finished
    """


class UnboundScheduleError(ScheduleError):
    """A schedule holding shares of training (``"20%"``) was evaluated before ``bind(total_steps)``.

    Args:
        *args: the message, as for ``ValueError``.

    >>> import lrkit
    >>> s = lrkit.cosine(start=0.1, steps="20%")
    >>> try:
    ...     s(3)
    ... except lrkit.UnboundScheduleError:
    ...     print("bind first:", s.bind(100))
    bind first: cosine(start=0.1, steps=20)
    """


class TextFormError(ScheduleError):
    """The text form of a schedule could not be parsed; the message points at the bad spot.

    Args:
        message: what is wrong.
        text: the text that was parsed (shown under the message).
        column: where the bad spot starts in ``text`` (0-based); a caret line marks it.
        end: where it ends (exclusive); ``column + 1`` when omitted.

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

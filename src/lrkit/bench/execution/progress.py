"""Progress of a bench as plain lines, for output that is not a terminal (pipes, CI logs).

A live bar redraws itself with control characters, which a log file shows as garbage; when the
output is not a terminal the driver prints a line like ``bench: 12/60 runs, ETA 0:41`` at
every 5 % of the runs instead.

>>> progress_line("bench", 12, 60, elapsed=10.0)
'bench: 12/60 runs, ETA 0:40'
>>> should_print(3, 60), should_print(60, 60)
(True, True)
>>> should_print(4, 60)
False
"""

from __future__ import annotations

import math

__all__ = ["format_eta", "progress_line", "should_print"]


def format_eta(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a duration in seconds, rounded up; "?" when unknown.

    >>> format_eta(41), format_eta(3725.2), format_eta(float("nan"))
    ('0:41', '1:02:06', '?')
    """
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = math.ceil(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def progress_line(
    description: str, done: int, total: int, *, elapsed: float, leader: str = ""
) -> str:
    """One progress line: runs done of total, the ETA from the mean time per run so far, and
    the current leader (when given)."""
    eta = elapsed / done * (total - done) if done else math.nan
    line = f"{description}: {done}/{total} runs, ETA {format_eta(eta)}"
    return f"{line}, leader {leader}" if leader else line


def should_print(done: int, total: int, every_share: float = 0.05) -> bool:
    """True at every ``every_share`` of ``total`` runs (at least every run) and at the end."""
    step = max(1, math.floor(total * every_share))
    return done == total or done % step == 0

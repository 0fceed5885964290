"""What every lrkit command promises on bad input, checked one way by the CLI tests."""

from __future__ import annotations


def one_error_line(code: int, output: str, *needles: str) -> None:
    """The command exited with 2 and printed one ``error: ...`` line (no traceback) that contains
    every one of ``needles``."""
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    for needle in needles:
        assert needle in lines[0], output

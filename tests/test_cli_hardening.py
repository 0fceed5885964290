"""`lrkit show` / `lrkit list` on hostile input: one error line, bounded memory, plain text."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import lrkit
from lrkit.cli import app, plain_text

runner = CliRunner()


@pytest.mark.parametrize("steps", ["0", "-5"])
def test_show_with_steps_below_one_is_one_error_line(steps: str) -> None:
    result = runner.invoke(app, ["show", "cosine(start=0.1, steps=100)", "--steps", steps])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: --steps must be an int >= 1, got {steps}"


def test_show_with_billions_of_steps_samples_the_curve() -> None:
    # 3e9 float64 values would be 22 GiB; the sampled chart needs a few hundred KiB
    result = runner.invoke(
        app, ["show", "cosine(start=0.1, steps=3000000000)", "--steps", "3000000000"]
    )
    assert result.exit_code == 0, result.output
    assert "3000000000 steps" in result.output
    assert "chart: 65536 evenly sampled steps" in result.output
    assert "│ 1500000000 │ 0.05" in result.output  # key steps are exact, not sampled
    assert "2999999999" in result.output


def test_list_shows_brackets_and_renders_docstring_roles_as_plain_text() -> None:
    result = runner.invoke(app, ["list"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "Values clipped into [low, high]: s.clip(low=..., high=...)." in result.output
    assert "``" not in result.output and ":class:" not in result.output
    assert "milestones=[30, 60, 80]" in result.output


@pytest.mark.parametrize(
    ("doc", "plain"),
    [
        ("``a + b``", "a + b"),
        (":class:`~lrkit.core.Clip` and :func:`lrkit.parse`", "Clip and parse"),
        (":meth:`Schedule.bind <lrkit.core.Schedule.bind>`", "bind"),
        ("[bold]not markup[/bold]", "[bold]not markup[/bold]"),
    ],
)
def test_plain_text_renders_roles(doc: str, plain: str) -> None:
    assert plain_text(doc) == plain


def test_every_registered_summary_renders_without_markup() -> None:
    for name in lrkit.registry.names():
        text = plain_text(lrkit.registry.get(name).summary)
        assert "``" not in text and ":class:`" not in text, name


def test_output_width_is_read_at_each_command_not_at_import() -> None:
    """The terminal width comes from COLUMNS when a command runs (a console made at import
    time kept whatever width the importing process had: narrow output in some test orders)."""
    import importlib
    import os

    import lrkit.cli

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "20"
    try:
        cli = importlib.reload(lrkit.cli)
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    result = CliRunner().invoke(cli.app, ["list"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "Values clipped into [low, high]: s.clip(low=..., high=...)." in result.output

"""`lrkit show`, `lrkit plot` and `lrkit list` (lrkit/cli/schedules.py).

What they print for a schedule, and on bad or hostile input: one error line (never a traceback),
bounded memory, plain text.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lrkit
from _cli import one_error_line
from lrkit.cli import app
from lrkit.cli.schedules import plain_text

runner = CliRunner()


def test_show_prints_canonical_text_key_steps_and_a_chart() -> None:
    result = runner.invoke(app, ["show", "warmup(10) >> cosine(start=0.1, end=0.001, steps=90)"])
    assert result.exit_code == 0, result.output
    assert "warmup(10) >> cosine(start=0.1, end=0.001, steps=90)" in result.output
    assert "│ 10   │ 0.1" in result.output  # the join is listed
    assert "█" in result.output


def test_show_binds_shares_with_steps_and_explains_when_missing() -> None:
    result = runner.invoke(app, ["show", 'cosine(start=1.0, steps="50%")', "--steps", "200"])
    assert result.exit_code == 0, result.output
    assert "cosine(start=1.0, steps=100)" in result.output
    missing = runner.invoke(app, ["show", 'cosine(start=1.0, steps="50%")'])
    assert missing.exit_code == 2
    assert "pass --steps N" in missing.output


def test_show_reports_text_errors_with_a_caret() -> None:
    result = runner.invoke(app, ["show", "cosin(start=1.0, steps=10)"])
    assert result.exit_code == 2
    assert "did you mean 'cosine'" in result.output
    assert "^^^^^" in result.output


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "p.png"
    result = runner.invoke(
        app,
        [
            "plot",
            "one_cycle(peak=0.1, steps=100)",
            "cosine(start=0.1, steps=100)",
            "-o",
            str(out),
            "--log",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_list_shows_every_registered_name() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    for name in ("one_cycle", "cyclic", "wsd", "repeat"):
        assert name in result.output


# -- bad and hostile input -------------------------------------------------------------------------
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


def _plot(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["plot", "cosine(start=0.1, steps=10)", *args])
    return result.exit_code, result.output


def test_plot_into_an_existing_folder_is_one_error_line(tmp_path: Path) -> None:
    code, out = _plot("-o", str(tmp_path))
    one_error_line(code, out, "is a folder; give a file name")
    assert not Path(f"{tmp_path}.png").exists()


def test_plot_with_an_unknown_suffix_is_one_error_line(tmp_path: Path) -> None:
    code, out = _plot("-o", str(tmp_path / "x.txt"))
    one_error_line(code, out, "cannot save a figure as '.txt'; use one of")
    assert not list(tmp_path.iterdir())


def test_plot_without_a_suffix_writes_a_png_at_exactly_that_path(tmp_path: Path) -> None:
    target = tmp_path / "curve"
    code, out = _plot("-o", str(target))
    assert code == 0, out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not Path(f"{target}.png").exists() and out.strip() == f"wrote {target}"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_plot_to_a_full_device_is_one_error_line() -> None:
    code, out = _plot("-o", "/dev/full")
    one_error_line(code, out, "cannot write '/dev/full': No space left on device")


def test_written_paths_stay_on_one_line_on_a_narrow_terminal(tmp_path: Path) -> None:
    target = tmp_path / ("a-long-folder-name-" * 4) / "curve.png"
    target.parent.mkdir()
    result = runner.invoke(
        app, ["plot", "cosine(start=0.1, steps=10)", "-o", str(target)], env={"COLUMNS": "30"}
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {target}"  # copy-pastable: never wrapped


def test_the_cli_shows_a_non_utf8_argument_as_one_error_not_a_traceback() -> None:
    import subprocess

    pytest.importorskip("typer")  # the `lrkit` command needs the cli extra

    done = subprocess.run(
        [sys.executable, "-m", "lrkit", "show", b"\xff"], capture_output=True, timeout=120
    )
    out = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert done.returncode == 2 and "Traceback" not in out
    assert out.startswith("error: invalid character '\\udcff'"), out


@pytest.mark.parametrize(
    "args",
    [["show", "cosine(start=1.0, steps=1000)"], ["list"], ["bench", "--help"]],
)
def test_the_cli_exits_quietly_with_0_when_stdout_is_closed(args: list[str]) -> None:
    import os
    import subprocess

    pytest.importorskip("typer")
    read_end, write_end = os.pipe()
    os.close(read_end)  # no reader at all: the first write fails (as `lrkit show ... | head`)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lrkit", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, b"")


def test_the_cli_keeps_status_1_when_stdout_is_devnull_from_the_start(tmp_path: Path) -> None:
    from lrkit.cli import _file_id, _stdout_closed

    null = os.open(os.devnull, os.O_WRONLY)
    try:
        assert not _stdout_closed(_file_id(null))  # was /dev/null already: not a broken pipe
    finally:
        os.close(null)

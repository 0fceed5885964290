"""`lrkit show`, `lrkit plot` and `lrkit list`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lrkit.cli import app

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

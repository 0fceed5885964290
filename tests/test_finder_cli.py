"""`lrkit find` through a local typer app (the lead wires `register` into lrkit.cli)."""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("torch")
typer = pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

import lrkit  # noqa: E402
from lrkit.cli.find import register  # noqa: E402
from lrkit.finder import RangeTestResult  # noqa: E402


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    register(app)
    return app


def test_find_prints_suggestions_schedule_and_writes_files(tmp_path):
    png, js = tmp_path / "curve.png", tmp_path / "r.json"
    args = ["find", "--task", "synthetic-linear", "--num-steps", "40", "--start", "1e-5"]
    args += ["--recommend", "one_cycle", "--steps", "500", "-o", str(png), "--json", str(js)]
    res = CliRunner().invoke(make_app(), args, env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    for rule in ("lrkit", "valley", "steepest", "minimum"):
        assert rule in res.output
    line = next(x for x in res.output.splitlines() if x.startswith("one_cycle("))
    schedule = lrkit.parse(line)
    result = RangeTestResult.from_dict(json.loads(js.read_text()))
    assert schedule == result.recommend(500, "one_cycle")
    assert len(result) <= 40 and png.stat().st_size > 1000


def test_find_reports_bad_input_cleanly():
    runner = CliRunner()
    res = runner.invoke(make_app(), ["find", "--task", "no-such-task"])
    assert res.exit_code == 2 and "error" in res.output
    res = runner.invoke(make_app(), ["find", "--task", "synthetic-linear", "--recommend", "x"])
    assert res.exit_code == 2 and "--recommend must be one of" in res.output


def _one_error_line(res, needle):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], res.output


@pytest.mark.parametrize("steps", ["-1", "0", "1"])
def test_find_checks_recommend_steps_before_the_sweep(steps):
    args = ["find", "--task", "synthetic-linear", "--recommend", "one_cycle", "--steps", steps]
    res = CliRunner().invoke(make_app(), args)
    _one_error_line(res, f"--steps must be an int >= 2 (the schedule's length), got {steps}")


def test_find_checks_the_plot_path_before_the_sweep(tmp_path):
    args = ["find", "--task", "synthetic-linear", "-o", str(tmp_path / "curve.txt")]
    _one_error_line(CliRunner().invoke(make_app(), args), "cannot save a figure as '.txt'")
    args = ["find", "--task", "synthetic-linear", "--json", str(tmp_path)]
    _one_error_line(CliRunner().invoke(make_app(), args), "is a folder")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_find_json_to_a_full_device_is_an_error_line_after_the_table():
    args = ["find", "--task", "synthetic-linear", "--num-steps", "20", "--json", "/dev/full"]
    res = CliRunner().invoke(make_app(), args, env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and not isinstance(res.exception, OSError)
    last = res.output.strip().splitlines()[-1]
    assert last == "error: --json: cannot write '/dev/full': No space left on device"

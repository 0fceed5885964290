"""`lrkit find` through a local typer app (the lead wires `register` into lrkit.cli)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
typer = pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

import lrkit  # noqa: E402
from lrkit.finder import RangeTestResult  # noqa: E402
from lrkit.finder.cli import register  # noqa: E402


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

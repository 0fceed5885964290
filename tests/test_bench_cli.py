"""`lrkit bench` / `lrkit report` through Typer's CliRunner, the TOML config and flag precedence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lrkit.bench.execution.records import read_records
from lrkit.bench.planning.config import BenchConfig, load_toml
from lrkit.cli.bench import register

FAKE = "test_bench_runner:fake_task"


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_cli_bench_runs_prints_report_path_and_report_rebuilds(tmp_path: Path) -> None:
    runner = CliRunner()
    args = [
        "bench",
        "--task",
        FAKE,
        "--seeds",
        "2",
        "--only",
        "constant",
        "--only",
        "cosine",
        "--only",
        "late",
        "--schedule",
        'late=constant(1.0, steps="50%") >> linear(start=1.0, end=0.0, steps="50%")',
        "--backend",
        "serial",
        "--out",
        str(tmp_path),
        "--name",
        "cli",
        "--quiet",
    ]
    res = runner.invoke(_app(), args)
    assert res.exit_code == 0, res.output
    report = tmp_path / "cli" / "report.md"
    assert f"report: {report}" in res.output
    assert "6 runs done, 0 already finished" in res.output
    for png in ("lr", "loss", "final"):
        assert (tmp_path / "cli" / f"fake-{png}.png").stat().st_size > 1000
    text = report.read_text()
    assert "| rank | schedule |" in text and "`late`" in text
    # rerun: everything skipped
    res = runner.invoke(_app(), args)
    assert "0 runs done, 6 already finished" in res.output
    # `lrkit report` rebuilds from runs.jsonl alone
    report.unlink()
    (tmp_path / "cli" / "results.json").unlink()
    res = runner.invoke(_app(), ["report", str(tmp_path / "cli"), "--no-plots"])
    assert res.exit_code == 0, res.output
    assert report.exists()
    results = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert results["schema"] == "lrkit.bench/1"
    assert set(results["tasks"]["fake"]["schedules"]) == {"constant", "cosine", "late"}


def test_cli_errors_are_clean_messages(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(_app(), ["bench", "--task", "no-such-task", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "neither a built-in task" in res.output
    res = runner.invoke(
        _app(), ["bench", "--task", FAKE, "--schedule", "oops", "--out", str(tmp_path)]
    )
    assert res.exit_code == 2 and "NAME=TEXT" in res.output
    res = runner.invoke(_app(), ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_config_file_is_read_and_flags_override_it(tmp_path: Path) -> None:
    cfg_path = tmp_path / "bench.toml"
    cfg_path.write_text(
        f"""
name = "fromfile"
tasks = ["{FAKE}"]
seeds = 1
steps = 30
only = ["constant"]
backend = "serial"
out = "{tmp_path}"
quiet = true
plots = false

[[schedule]]
name = "half"
lr = 'constant(1.0, steps="50%") >> constant(0.5)'

[[schedule]]
name = "plat"
lr = "constant(1.0)"
plateau = {{ factor = 0.5, patience = 1 }}
"""
    )
    data = load_toml(cfg_path)
    cfg = BenchConfig.from_layers(file=data, overrides={"seeds": 2, "steps": None})
    assert cfg.seeds == (0, 1) and cfg.steps == 30 and cfg.name == "fromfile"
    assert [e.name for e in cfg.schedules] == ["half", "plat"]
    assert cfg.schedules[1].plateau == {"factor": 0.5, "patience": 1}
    res = CliRunner().invoke(
        _app(),
        ["bench", "--config", str(cfg_path), "--seeds", "2", "--only", "half", "--only", "plat"],
    )
    assert res.exit_code == 0, res.output
    recs = read_records(tmp_path / "fromfile" / "runs.jsonl")
    assert sorted((r["schedule"], r["seed"]) for r in recs) == [
        ("half", 0),
        ("half", 1),
        ("plat", 0),
        ("plat", 1),
    ]
    assert {r["steps"] for r in recs} == {30}


def test_config_rejects_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("seedz = 3\n")
    with pytest.raises(ValueError, match="unknown option 'seedz'"):
        BenchConfig.from_layers(file=load_toml(p))
    p.write_text("seeds = [\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_toml(p)
    with pytest.raises(ValueError, match="unknown preset"):
        BenchConfig.from_layers(preset="huge")
    with pytest.raises(ValueError, match="lr_mode"):
        BenchConfig(lr_mode="magic")


def test_presets_quick_and_smoke() -> None:
    quick = BenchConfig.from_layers(preset="quick")
    assert quick.tasks == ("digits-mlp", "synthetic-linear") and quick.seeds == (0, 1)
    assert quick.default_suite and quick.steps is None
    smoke = BenchConfig.from_layers(preset="smoke", overrides={"workers": 1})
    assert smoke.steps is not None and smoke.steps <= 50 and smoke.workers == 1

"""``lrkit bench --seeds auto``: config, CLI, the racing driver, the report and the paste block."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import lrkit
from lrkit.bench.driver import run_bench
from lrkit.bench.execution.racing import seeds_note
from lrkit.bench.execution.records import read_records
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.planning.suite import DEFAULT_SUITE
from lrkit.bench.presentation.paste import fold_peak, scheduler_line
from lrkit.cli.bench import register

# Final val loss = 1 + 0.5 w² (w shrinks with the LR sum) + a seed effect shared by every
# schedule + a small noise of its own: constant(1.0) x 0.1 ends far better than a decay.
RACE_TASK = """
import random


def race(run):
    w = 2.0
    mid = run.hparams(run.steps // 2)["lr"]
    shared = random.Random(run.seed).gauss(0.0, 0.05)
    own = random.Random(f"{run.seed}/{mid!r}").gauss(0.0, 0.001)
    for step in range(run.steps):
        lr = run.hparams(step)["lr"]
        w -= lr * w
        run.log(step, loss=0.5 * w * w)
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=1.0 + 0.5 * w * w + shared + own)
"""


def _task(tmp_path: Path) -> str:
    path = tmp_path / "racetask.py"
    path.write_text(textwrap.dedent(RACE_TASK))
    return f"{path}:race"


def _cfg(tmp_path: Path, **kw: Any) -> BenchConfig:
    base: dict[str, Any] = {
        "tasks": (_task(tmp_path),),
        "seeds": "auto",
        "steps": 20,
        "lr": 0.1,
        "only": ("constant", "cosine", "linear-to-zero"),
        "backend": "serial",
        "plots": False,
        "quiet": True,
        "out": str(tmp_path / "runs"),
        "bootstrap": 200,
    }
    base.update(kw)
    return BenchConfig(**base)


def test_seeds_auto_drops_schedules_behind_and_names_the_winner(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    out = run_bench(cfg)
    assert out.errors == 0
    assert out.ran == 9  # 3 schedules x 3 seeds: decided at the first look, not 3 x 16
    run_dir = tmp_path / "runs" / "bench"
    race = json.loads((run_dir / "bench.json").read_text())["plans"][0]["race"]
    assert race["stop"] == "winner" and race["winner"] == "constant"
    assert race["runs"] == 9 and race["runs_fixed"] == 48
    t = json.loads((run_dir / "results.json").read_text())["tasks"]["race"]
    assert t["recommendation"].startswith("Use **constant** at peak LR 0.1: significantly better")
    assert t["paste"]["schedule"] == "constant" and t["paste"]["text"] == "constant(0.1)"
    report = (run_dir / "report.md").read_text()
    assert "**Race** (`--seeds auto`)" in report and "Runs: 9 of 48" in report
    assert "```text\n  constant(0.1)\n  ```" in report
    assert "cannot go below" not in report  # 3 seeds decided the race: no "too few seeds" note
    # a rerun finds every run of the race finished
    again = run_bench(cfg)
    assert again.ran == 0 and again.skipped == 9


def test_seeds_auto_stops_on_practically_equivalent_schedules(tmp_path: Path) -> None:
    cfg = _cfg(
        tmp_path,
        only=("constant", "flat"),
        schedules=({"name": "flat", "lr": "constant(1.0000001)"},),
    )
    run_bench(cfg)
    run_dir = tmp_path / "runs" / "bench"
    race = json.loads((run_dir / "bench.json").read_text())["plans"][0]["race"]
    assert race["stop"] == "equivalent" and sorted(race["group"]) == ["constant", "flat"]
    t = json.loads((run_dir / "results.json").read_text())["tasks"]["race"]
    assert "practically equivalent (each within 1 %" in t["recommendation"]
    assert len(read_records(run_dir / "runs.jsonl")) == 2 * race["seeds"]


def test_seeds_auto_races_the_schedules_of_every_task_together(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, tasks=(_task(tmp_path), "synthetic-linear"), steps=20, lr=0.1)
    out = run_bench(cfg)
    assert out.errors == 0
    plans = json.loads((tmp_path / "runs" / "bench" / "bench.json").read_text())["plans"]
    assert {p["task"] for p in plans} == {"race", "synthetic-linear"}
    assert all(p["race"]["runs"] <= p["race"]["runs_fixed"] for p in plans)


def test_config_takes_seeds_auto_with_its_cap_and_margin() -> None:
    cfg = BenchConfig(seeds="auto", max_seeds=6, min_seeds=2, margin=0.02)  # type: ignore[arg-type]
    assert cfg.auto_seeds and cfg.seeds == tuple(range(6))
    assert cfg.to_dict()["auto_seeds"] is True
    assert not BenchConfig(seeds=4).auto_seeds
    with pytest.raises(ValueError, match="max_seeds=2 must be >= min_seeds=3"):
        BenchConfig(seeds="auto", max_seeds=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_seeds=1 must be an int >= 2"):
        BenchConfig(seeds="auto", min_seeds=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="margin"):
        BenchConfig(seeds="auto", margin=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'auto', a count"):
        BenchConfig(seeds="many")  # type: ignore[arg-type]


def test_seeds_auto_in_a_config_file_and_a_flag_over_the_demo_preset(tmp_path: Path) -> None:
    from lrkit.bench.planning.config import load_toml

    path = tmp_path / "bench.toml"
    path.write_text('seeds = "auto"\nmax_seeds = 12\nmargin = 0.02\n')
    cfg = BenchConfig.from_layers(file=load_toml(path))
    assert cfg.auto_seeds and cfg.max_seeds == 12 and cfg.margin == 0.02
    fixed = BenchConfig.from_layers(preset="demo", overrides={"seeds": 3})
    assert not fixed.auto_seeds and fixed.seeds == (0, 1, 2)


def test_cli_seeds_auto_flags_reach_the_race(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    args = ["bench", "-t", _task(tmp_path), "--steps", "20", "--lr", "0.1", "--seeds", "auto"]
    args += ["--max-seeds", "4", "--min-seeds", "2", "--margin", "0.05", "--backend", "serial"]
    args += ["-s", "constant", "-s", "cosine", "--no-plots", "-q", "--out", str(tmp_path)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    race = json.loads((tmp_path / "bench" / "bench.json").read_text())["plans"][0]["race"]
    assert race["rule"]["looks"] == [2, 3, 4] and race["rule"]["margin"] == 0.05
    bad = CliRunner().invoke(app, ["bench", "--seeds", "lots", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--seeds must be 'auto' or a number" in bad.output


def test_two_seeds_are_called_out_before_the_bench_runs(tmp_path: Path) -> None:
    said: list[str] = []
    run_bench(_cfg(tmp_path, seeds=2), log=said.append)
    assert any("cannot find a significant difference" in s and "--seeds auto" in s for s in said)
    said.clear()
    run_bench(_cfg(tmp_path, name="auto"), log=said.append)
    assert not any("cannot find" in s for s in said)
    assert seeds_note(6, 5) is None and seeds_note(2, 1) is None


@pytest.mark.parametrize("entry", DEFAULT_SUITE, ids=lambda e: e.name)
def test_pasted_text_parses_to_the_schedule_that_ran(entry: Any) -> None:
    steps, peak = 1000, 0.024
    ran, _mom = entry.build(peak, steps)
    text = fold_peak(entry.lr, peak, steps)
    assert "* 0.024" not in text  # the peak is folded into the leaves
    pasted = lrkit.parse(text).bind(steps)
    t = np.arange(steps + 1)
    assert np.allclose(pasted(t), ran(t), rtol=1e-9, atol=1e-15)


def test_python_line_builds_the_torch_scheduler_with_the_momentum_schedule() -> None:
    torch = pytest.importorskip("torch")
    import lrkit.torch

    entry = next(e for e in DEFAULT_SUITE if e.name == "one-cycle+momentum")
    lr_s, mom_s = entry.build(0.05, 30)
    assert mom_s is not None
    text = fold_peak(entry.lr, 0.05, 30)
    line = scheduler_line(text, entry.canonical_texts()[1], 30)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    scope: dict[str, Any] = {"lrkit": lrkit, "optimizer": opt}
    exec(line, scope)  # the line a user pastes
    scheduler = scope["scheduler"]
    for step in range(30):
        assert opt.param_groups[0]["lr"] == pytest.approx(float(lr_s(step)), rel=1e-9)
        assert opt.param_groups[0]["momentum"] == pytest.approx(float(mom_s(step)), rel=1e-9)
        opt.step()
        scheduler.step()


def test_suite_separates_one_cycle_from_one_cycle_with_momentum() -> None:
    by_name = {e.name: e for e in DEFAULT_SUITE}
    assert by_name["one-cycle"].momentum is None
    assert by_name["one-cycle+momentum"].momentum is not None
    assert by_name["one-cycle"].lr == by_name["one-cycle+momentum"].lr


def test_tune_lr_races_the_grid_when_there_are_more_than_two_tuning_seeds(tmp_path: Path) -> None:
    cfg = _cfg(
        tmp_path,
        seeds=3,
        only=("constant",),
        lr_mode="tune",
        tune_seeds=4,
        tune_extensions=0,
    )
    out = run_bench(cfg)
    assert out.errors == 0
    tuning = json.loads((tmp_path / "runs" / "bench" / "bench.json").read_text())["plans"][0]
    grid = tuning["tuning"]["constant"]["grid"]
    assert len(grid) == 5
    n_tune = sum(len(g["scores"]) for g in grid)
    assert 5 * 3 <= n_tune < 5 * 4  # every LR ran the first look; some left before 4 seeds
    assert out.ran == n_tune + 3
    best = tuning["tuning"]["constant"]["chosen"]
    assert len(next(g for g in grid if g["lr"] == best)["scores"]) == 4


def test_demo_preset_races_a_few_schedules_with_a_small_cap() -> None:
    demo = BenchConfig.from_layers(preset="demo")
    assert demo.auto_seeds and demo.max_seeds <= 10 and len(demo.only) <= 6
    assert {"one-cycle", "one-cycle+momentum", "constant"} <= set(demo.only)
    assert "--preset demo" in (Path(__file__).parents[1] / "Makefile").read_text()


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # one local Ray instance at a time under xdist
def test_seeds_auto_races_over_several_rounds_on_a_private_ray_instance(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    import os
    import subprocess
    import sys

    task = _task(tmp_path)
    args = ["bench", "-t", task, "--steps", "20", "--lr", "0.1", "--seeds", "auto"]
    args += ["--min-seeds", "2", "--max-seeds", "4", "--margin", "0", "-s", "constant"]
    args += ["-s", "flat=constant(1.0000001)", "--workers", "2", "--no-plots", "-q"]
    # Ray forks its helper processes: run it in a fresh interpreter, never in this process
    proc = subprocess.run(
        [sys.executable, "-m", "lrkit", *args, "--backend", "ray", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    race = json.loads((tmp_path / "r" / "bench" / "bench.json").read_text())["plans"][0]["race"]
    assert [look["seeds"] for look in race["history"]] == [2, 3, 4]  # one Ray session, 3 rounds
    assert race["stop"] == "cap" and race["runs"] == 8
    CliRunner().invoke(
        _app_for_tests(), [*args, "--backend", "serial", "--out", str(tmp_path / "s")]
    )
    ray_recs = {r["key"]: r["final"] for r in read_records(tmp_path / "r" / "bench" / "runs.jsonl")}
    serial = {r["key"]: r["final"] for r in read_records(tmp_path / "s" / "bench" / "runs.jsonl")}
    assert ray_recs == serial


def _app_for_tests() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app

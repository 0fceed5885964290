"""`lrkit find` through a local typer app (the lead wires `register` into lrkit.cli)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
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


def test_find_checks_the_rule_before_the_sweep():
    args = ["find", "--task", "synthetic-linear", "--recommend", "cosine", "--rule", "valey_x4"]
    res = CliRunner().invoke(make_app(), args, env={"COLUMNS": "200"})
    _one_error_line(res, "--rule must be one of valley_x4, valley_by_optimizer, lrkit,")
    assert "got 'valey_x4'; did you mean 'valley_x4'?" in res.output


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


FUNCTION_TASK = """
import torch
import lrkit.bench as lb

SEEN = []


@lb.task(name="toy-fn", lr=0.01{steps})
def train(run):
    torch.manual_seed(run.seed)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    w = torch.zeros(4, requires_grad=True)
    opt = torch.optim.SGD([w], lr=run.lr, momentum=0.9)
    sched = run.scheduler(opt)
    for step in range(run.steps):
        SEEN.append(opt.param_groups[0]["lr"])
        loss = ((x @ w - y) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        run.log(step, loss=loss.item())
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=loss.item())
"""


def _task_file(tmp_path, steps: str = ", steps=300"):
    path = tmp_path / "toytask.py"
    path.write_text(FUNCTION_TASK.replace("{steps}", steps))
    return path


def test_find_runs_the_range_test_on_a_function_task(tmp_path):
    path = _task_file(tmp_path)
    js = tmp_path / "r.json"
    args = ["find", "-t", f"{path}:train", "--num-steps", "60", "--start", "1e-5", "--end", "10"]
    args += ["--recommend", "one_cycle", "--json", str(js)]
    res = CliRunner().invoke(make_app(), args, env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    assert "toy-fn" in res.output and "lrkit" in res.output
    result = RangeTestResult.from_dict(json.loads(js.read_text()))
    assert result.stop_reason == "diverged" and 10 < len(result) < 60
    line = next(x for x in res.output.splitlines() if x.startswith("one_cycle("))
    assert lrkit.parse(line) == result.recommend(300, "one_cycle")  # the task's own steps
    assert "one_cycle_momentum(steps=300)" in res.output


def test_range_test_of_a_function_task_sweeps_its_lr_through_run_scheduler(tmp_path):
    from lrkit.bench.execution.range_test import range_test_task
    from lrkit.finder import RangeTest

    path = _task_file(tmp_path)
    result = range_test_task(f"{path}:train", start=1e-4, end=1e-2, num_steps=20)
    assert result.stop_reason == "completed" and len(result) == 20
    plan = RangeTest(start=1e-4, end=1e-2, num_steps=20).planned_lrs
    assert result.lrs == plan
    module = next(
        m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == str(path)
    )
    np.testing.assert_allclose(module.SEEN, plan, rtol=1e-12)  # what the optimizer used
    assert result.losses[-1] < result.losses[0]


def test_find_on_a_function_task_without_steps_needs_steps_for_recommend(tmp_path):
    path = _task_file(tmp_path, steps="")
    args = ["find", "-t", f"{path}:train", "--num-steps", "20", "--recommend", "cosine"]
    res = CliRunner().invoke(make_app(), args, env={"COLUMNS": "120"})
    assert res.exit_code == 2 and "--recommend needs --steps" in res.output
    res = CliRunner().invoke(make_app(), [*args, "--steps", "100"], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    assert "warmup(5) >> cosine(" in res.output and "momentum" not in res.output


def test_range_test_refuses_a_function_task_that_skips_log_steps(tmp_path):
    from lrkit.bench.execution.range_test import range_test_task

    path = tmp_path / "sparse.py"
    path.write_text(
        "def train(run):\n"
        "    for step in range(run.steps):\n"
        "        if step % 2 == 0:\n"
        "            run.log(step, loss=1.0)\n"
    )
    with pytest.raises(ValueError, match="after every step, in order; got step 2"):
        range_test_task(f"{path}:train", num_steps=10)


def test_find_recommends_with_the_policys_default_rule_and_the_tasks_optimizer(tmp_path):
    js = tmp_path / "r.json"
    args = ["find", "--task", "synthetic-linear", "--optimizer", "adamw", "--num-steps", "40"]
    args += ["--start", "1e-5", "--recommend", "cosine", "--steps", "500", "--json", str(js)]
    res = CliRunner().invoke(make_app(), args, env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    assert "rule valley_by_optimizer: valley x 2" in res.output
    result = RangeTestResult.from_dict(json.loads(js.read_text()))
    assert result.optimizer == "adam"
    line = next(x for x in res.output.splitlines() if x.startswith("warmup("))
    assert lrkit.parse(line) == result.recommend(500, "cosine", optimizer="adamw")
    args += ["--rule", "lrkit"]
    res = CliRunner().invoke(make_app(), args, env={"COLUMNS": "120"})
    assert res.exit_code == 0 and "rule lrkit):" in res.output, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("warmup("))
    assert lrkit.parse(line) == result.recommend(500, "cosine", rule="lrkit")


def test_find_cli_hints_at_the_recommend_policy_name() -> None:
    typer = pytest.importorskip("typer")
    from typer.testing import CliRunner

    from lrkit.cli.find import register

    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    res = CliRunner().invoke(app, ["find", "--task", "synthetic-linear", "--recommend", "onecycle"])
    assert res.exit_code == 2
    assert "did you mean 'one_cycle'?" in res.output


def test_find_says_when_the_optimizer_family_is_unknown_and_reads_a_declared_one(tmp_path):
    args = ["--num-steps", "40", "--start", "1e-5", "--recommend", "cosine", "--steps", "300"]
    path = _task_file(tmp_path)  # no optimizer declared: the family is unknown
    res = CliRunner().invoke(make_app(), ["find", "-t", f"{path}:train", *args])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "optimizer family unknown: valley x 4, SGD's" in text
    assert "declare it with @lrkit.bench.task(optimizer=" in text
    assert "rule valley_by_optimizer: valley x 4" in text
    declared = tmp_path / "declared.py"
    declared.write_text(FUNCTION_TASK.replace("{steps}", ', steps=300, optimizer="adam"'))
    res = CliRunner().invoke(make_app(), ["find", "-t", f"{declared}:train", *args])
    assert res.exit_code == 0, res.output
    assert "rule valley_by_optimizer: valley x 2" in res.output
    assert "unknown" not in res.output


def test_find_with_optimizer_on_a_function_task_points_at_the_decorator(tmp_path):
    path = _task_file(tmp_path)
    args = ["find", "-t", f"{path}:train", "--optimizer", "adamw", "--num-steps", "20"]
    res = CliRunner().invoke(make_app(), args, env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert "allowed: own" in res.output and "@lrkit.bench.task(optimizer=...)" in res.output


def test_find_refuses_a_sweep_too_short_to_recommend_from_before_running_it(tmp_path):
    path = tmp_path / "never.py"
    path.write_text("def train(run):\n    raise RuntimeError('the sweep ran')\n")
    args = ["find", "-t", f"{path}:train", "--num-steps", "2", "--recommend", "one_cycle"]
    res = CliRunner().invoke(make_app(), [*args, "--steps", "1000"], env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [
        "error: --num-steps 2 is too short a range test to recommend from: with --recommend "
        "give an int in [20, 1000000] (default 100, as fastai and torch-lr-finder)"
    ]


def test_find_refuses_to_recommend_from_a_test_that_diverged_at_once():
    args = ["find", "--task", "synthetic-linear", "--start", "5", "--end", "1e6"]
    args += ["--num-steps", "40", "--recommend", "one_cycle"]
    res = CliRunner().invoke(make_app(), args, env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    assert "one_cycle(" not in res.output
    text = " ".join(res.output.split())
    assert "note: " in text and "too few for the rules to read" in text
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("error: recommend(): the range test recorded ")
    assert "a recommendation needs at least 10" in last


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--rule", "valley"], "--rule only shapes the schedule of --recommend"),
        (["--steps", "1000"], "--steps only shapes the schedule of --recommend"),
        (["--rule", "valley", "--steps", "9"], "--rule and --steps only shape"),
    ],
)
def test_find_refuses_recommend_options_without_recommend_before_the_sweep(tmp_path, extra, needle):
    path = tmp_path / "never.py"
    path.write_text("def train(run):\n    raise RuntimeError('the sweep ran')\n")
    res = CliRunner().invoke(make_app(), ["find", "-t", f"{path}:train", *extra])
    assert res.exit_code == 2, res.output
    (line,) = res.output.strip().splitlines()
    assert line.startswith("error: ") and needle in line and "add --recommend" in line

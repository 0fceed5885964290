"""GPU assignment (`--gpus-per-run`) with fake device lists, and `--backend ray` with a task file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lrkit.bench.driver import run_bench
from lrkit.bench.execution.backends import RayBackend, _check_ray_gpus
from lrkit.bench.execution.devices import assign_gpus, visible_gpus
from lrkit.bench.execution.records import read_records
from lrkit.bench.planning.config import BenchConfig
from lrkit.cli.bench import register

# Reports what the worker sees: its CUDA_VISIBLE_DEVICES and run.device (no CUDA needed).
ENV_TASK = """
import os
import lrkit.bench as lb


@lb.task(name="env-probe", steps=4, lr=0.1, eval_every=4)
def probe(run: lb.Run) -> None:
    for step in range(run.steps):
        run.hparams(step)  # a run must read its LR
        run.log(step, loss=1.0 / (step + 1))
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    run.evaluate(
        run.steps - 1,
        val_loss=0.5,
        gpu=float(gpus) if gpus.isdigit() else -1.0,
        n_gpus=float(len([g for g in gpus.split(",") if g])),
        on_cuda=float(run.device == "cuda"),
        uploaded=float(os.path.isfile("probe.py") and os.getcwd() != os.path.dirname(__file__)),
    )
"""


def test_assign_gpus_splits_disjoint_groups() -> None:
    assert assign_gpus(["0", "1", "2", "3", "4"], 2) == [("0", "1"), ("2", "3")]
    assert assign_gpus(["3", "5"], 1) == [("3",), ("5",)]
    assert assign_gpus(["0", "1", "2", "3"], 1, workers=3) == [("0",), ("1",), ("2",)]
    assert assign_gpus(["0", "1", "2", "3"], 4) == [("0", "1", "2", "3")]
    with pytest.raises(ValueError, match="no GPU is visible"):
        assign_gpus([], 1)
    with pytest.raises(ValueError, match="only 2 are visible"):
        assign_gpus(["0", "1"], 3)
    with pytest.raises(ValueError, match=r"--workers 3 needs 6 GPUs .* use --workers 2"):
        assign_gpus(["0", "1", "2", "3"], 2, workers=3)
    with pytest.raises(ValueError, match="repeat"):
        assign_gpus(["0", "0"], 1)
    with pytest.raises(ValueError, match="per_run=0"):
        assign_gpus(["0"], 0)


def test_visible_gpus_reads_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 3")
    assert visible_gpus() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,-1,2")
    assert visible_gpus() == ["1"]


def _cfg(tmp_path: Path, task_file: Path, **kw: object) -> BenchConfig:
    base: dict[str, object] = {
        "name": "g",
        "tasks": (f"{task_file}:probe",),
        "seeds": (0, 1, 2, 3),
        "out": str(tmp_path / "runs"),
        "quiet": True,
        "only": ("constant",),
        "plots": False,
        "bootstrap": 200,
    }
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


def test_local_pool_gives_each_worker_its_own_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_file = tmp_path / "probe.py"
    task_file.write_text(textwrap.dedent(ENV_TASK))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7,9")  # fake ids: the task never touches CUDA
    out = run_bench(_cfg(tmp_path, task_file, gpus_per_run=1))  # workers default: 2 // 1
    assert out.errors == 0, out.error_messages
    recs = read_records(tmp_path / "runs" / "g" / "runs.jsonl")
    assert len(recs) == 4
    assert {r["evals"]["gpu"][0] for r in recs} <= {7.0, 9.0}
    assert {r["evals"]["n_gpus"][0] for r in recs} == {1.0}
    assert {r["evals"]["on_cuda"][0] for r in recs} == {1.0}


def test_gpus_per_run_without_gpus_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_file = tmp_path / "probe.py"
    task_file.write_text(textwrap.dedent(ENV_TASK))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    app = typer.Typer()
    register(app)
    args = ["bench", "-t", f"{task_file}:probe", "--gpus-per-run", "1", "-q"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert res.exit_code == 2 and "no GPU is visible" in res.output
    res = CliRunner().invoke(app, [*args, "--backend", "serial", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "no GPU is visible" in res.output  # in-process too
    with pytest.raises(ValueError, match="gpus_per_run=-1"):
        BenchConfig(gpus_per_run=-1)


_RAY_CHECK = """
import json, sys
import ray
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.driver import run_bench

task_file, out_dir = sys.argv[1], sys.argv[2]
cfg = BenchConfig(name="g", tasks=(task_file + ":probe",), seeds=(0, 1), out=out_dir,
    quiet=True, only=("constant",), plots=False, bootstrap=200, backend="ray", workers=2)
assert not ray.is_initialized()
try:
    out = run_bench(cfg)
finally:
    if ray.is_initialized():
        ray.shutdown()
print(json.dumps({"errors": out.errors, "messages": out.error_messages,
    "initialized": ray.is_initialized()}))
"""


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # one local Ray instance at a time under xdist
def test_ray_backend_runs_a_task_file_from_its_working_dir(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "probe.py").write_text(textwrap.dedent(ENV_TASK))
    # the backend starts a private local Ray (2 CPUs, no dashboard) with the task's folder as
    # runtime_env working_dir, and shuts it down at the end; Ray forks its helper processes,
    # so it runs in a fresh interpreter, never in this (possibly JAX-threaded) test process
    runs = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-c", _RAY_CHECK, str(folder / "probe.py"), str(runs)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["errors"] == 0, got["messages"]
    assert got["initialized"] is False
    recs = read_records(runs / "g" / "runs.jsonl")
    assert {r["task"] for r in recs} == {"env-probe"} and len(recs) == 2
    assert {r["evals"]["uploaded"][0] for r in recs} == {1.0}  # the worker's cwd holds the file
    assert {r["evals"]["on_cuda"][0] for r in recs} == {0.0}


def test_ray_runs_request_gpus_and_fail_clearly_without() -> None:
    assert RayBackend(num_gpus=1).remote_options()["num_gpus"] == 1
    assert "num_gpus" not in RayBackend().remote_options()
    _check_ray_gpus({"CPU": 8.0, "GPU": 4.0}, 2)
    with pytest.raises(ValueError, match="the Ray cluster has 0 GPU"):
        _check_ray_gpus({"CPU": 8.0}, 1)

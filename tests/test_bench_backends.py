"""Bench backends: the local process pool (spawn) and Ray on a local 2-CPU instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lrkit.bench.driver import run_bench
from lrkit.bench.execution.records import read_records
from lrkit.bench.planning.config import BenchConfig

FAKE = "test_bench_runner:fake_task"


def _cfg(tmp_path: Path, **kw: object) -> BenchConfig:
    base: dict[str, object] = {
        "name": "b",
        "tasks": (FAKE,),
        "seeds": 2,
        "out": str(tmp_path),
        "quiet": True,
        "only": ("constant", "cosine"),
        "plots": False,
        "bootstrap": 200,
    }
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


def test_local_pool_matches_serial_results(tmp_path: Path) -> None:
    serial = run_bench(_cfg(tmp_path / "s", backend="serial"))
    pool = run_bench(_cfg(tmp_path / "p", backend="local", workers=2))
    assert serial.ran == pool.ran == 4 and pool.errors == 0
    a = {r["key"]: r["final"] for r in read_records(tmp_path / "s" / "b" / "runs.jsonl")}
    b = {r["key"]: r["final"] for r in read_records(tmp_path / "p" / "b" / "runs.jsonl")}
    assert a == b  # same keys, bit-identical outcomes


THREADS_TASK = """
def threads(run):
    import torch

    for step in range(run.steps):
        run.hparams(step)
        run.log(step, loss=1.0)
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=float(torch.get_num_threads()))
"""


@pytest.mark.parametrize("backend", ["serial", "local"])
def test_a_run_gets_one_torch_thread_on_either_backend(tmp_path: Path, backend: str) -> None:
    torch = pytest.importorskip("torch")
    (tmp_path / "threads_task.py").write_text(THREADS_TASK)
    task = f"{tmp_path / 'threads_task.py'}:threads"
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_bench(
            _cfg(
                tmp_path,
                tasks=(task,),
                steps=4,
                lr=0.1,
                seeds=1,
                only=("constant",),
                backend=backend,
                workers=1 if backend == "serial" else 2,
            )
        )
        assert torch.get_num_threads() == 2  # the serial backend restores this process's count
    finally:
        torch.set_num_threads(before)
    (record,) = read_records(tmp_path / "b" / "runs.jsonl")
    assert record["final"]["val_loss"] == 1.0


_RAY_CHECK = """
import json, sys
import ray
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.driver import run_bench

out_dir, path = sys.argv[1], sys.argv[2]
cfg = BenchConfig(name="b", tasks=("test_bench_runner:fake_task",), seeds=2, out=out_dir,
    quiet=True, only=("constant", "cosine"), plots=False, bootstrap=200, backend="ray")
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
    runtime_env={"env_vars": {"PYTHONPATH": path}})
try:
    first = run_bench(cfg)
    reused = ray.is_initialized()  # an existing session is reused, not shut down
    again = run_bench(cfg)
finally:
    ray.shutdown()
print(json.dumps({"first": [first.ran, first.errors, first.error_messages],
    "again": [again.ran, again.skipped], "reused": reused}))
"""


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # one local Ray instance at a time under xdist
def test_ray_backend_on_local_two_cpu_instance(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    here = str(Path(__file__).parent)
    path = os.pathsep.join([here, *(p for p in sys.path if p)])
    # Ray forks its helper processes: run it in a fresh interpreter, never in this (possibly
    # JAX/torch-threaded) test process
    proc = subprocess.run(
        [sys.executable, "-c", _RAY_CHECK, str(tmp_path), path],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["first"][:2] == [4, 0], got["first"][2]
    assert got["reused"] is True
    assert got["again"] == [0, 4]
    recs = read_records(tmp_path / "b" / "runs.jsonl")
    assert len(recs) == 4 and {r["status"] for r in recs} == {"ok"}
    serial = run_bench(_cfg(tmp_path / "s", backend="serial"))
    assert serial.ran == 4
    ref = {r["key"]: r["final"] for r in read_records(tmp_path / "s" / "b" / "runs.jsonl")}
    assert ref == {r["key"]: r["final"] for r in recs}

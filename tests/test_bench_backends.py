"""Bench backends: the local process pool (spawn) and Ray on a local 2-CPU instance."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from lrkit.bench.config import BenchConfig
from lrkit.bench.driver import run_bench
from lrkit.bench.records import read_records

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


@pytest.mark.slow
def test_ray_backend_on_local_two_cpu_instance(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    here = str(Path(__file__).parent)
    path = os.pathsep.join([here, *(p for p in sys.path if p)])
    t0 = time.perf_counter()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        out = run_bench(_cfg(tmp_path, backend="ray"))
        assert (out.ran, out.errors) == (4, 0), out.error_messages
        assert ray.is_initialized()  # an existing session is reused, not shut down
        again = run_bench(_cfg(tmp_path, backend="ray"))
        assert (again.ran, again.skipped) == (0, 4)
    finally:
        ray.shutdown()
    recs = read_records(tmp_path / "b" / "runs.jsonl")
    assert len(recs) == 4 and {r["status"] for r in recs} == {"ok"}
    serial = run_bench(_cfg(tmp_path / "s", backend="serial"))
    assert serial.ran == 4
    ref = {r["key"]: r["final"] for r in read_records(tmp_path / "s" / "b" / "runs.jsonl")}
    assert ref == {r["key"]: r["final"] for r in recs}
    assert time.perf_counter() - t0 < 120

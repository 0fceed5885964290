"""The bench survives its runs: dead workers, hangs, overflow, a killed driver, two drivers,
bad records and a malformed bench.json (hostile tasks in tests/bench_tasks_hostile.py)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrkit.bench.driver import lock_run_dir, run_bench
from lrkit.bench.execution.records import RecordWarning, RunsFile, read_records
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.presentation.report import build_report

HERE = Path(__file__).parent
HOSTILE = "bench_tasks_hostile"


def _cfg(tmp_path: Path, task: str, **kw: object) -> BenchConfig:
    base: dict[str, object] = {
        "name": "r",
        "tasks": (f"{HOSTILE}:{task}",),
        "seeds": 2,
        "out": str(tmp_path),
        "quiet": True,
        "only": ("constant",),
        "plots": False,
        "bootstrap": 200,
        "backend": "serial",
    }
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


def _records(tmp_path: Path) -> dict[int, dict[str, object]]:
    return {int(r["seed"]): r for r in read_records(tmp_path / "r" / "runs.jsonl")}


def test_dead_worker_becomes_an_error_record_and_the_other_runs_finish(tmp_path: Path) -> None:
    out = run_bench(_cfg(tmp_path, "exit_task", seeds=3, backend="local", workers=2))
    recs = _records(tmp_path)
    assert (out.ran, out.errors) == (3, 1)
    assert recs[1]["status"] == "error" and recs[1]["exitcode"] == 3
    assert "died (exit code 3)" in str(recs[1]["error"])
    assert recs[0]["status"] == recs[2]["status"] == "ok"  # the pool was replaced, runs went on
    assert out.report is not None and out.report.exists()
    assert (tmp_path / "r" / "results.json").exists()


def test_hanging_train_step_is_stopped_by_run_timeout_in_a_worker(tmp_path: Path) -> None:
    # one worker + a timeout: a killable one-process pool, not the in-process runner
    out = run_bench(_cfg(tmp_path, "hang_task", backend="local", workers=1, run_timeout=3))
    recs = _records(tmp_path)
    assert (out.ran, out.errors) == (2, 1)
    assert recs[1]["status"] == "error" and "run_timeout=3 s" in str(recs[1]["error"])
    assert recs[0]["status"] == "ok"
    assert out.report is not None and out.report.exists()


def test_hanging_train_step_is_stopped_by_run_timeout_in_process(tmp_path: Path) -> None:
    out = run_bench(_cfg(tmp_path, "hang_task", run_timeout=0.5))
    recs = _records(tmp_path)
    assert (out.ran, out.errors) == (2, 1)
    assert "RunTimeout" in str(recs[1]["error"]) and recs[0]["status"] == "ok"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no alarm left behind


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan, True, "5"])
def test_run_timeout_must_be_a_finite_positive_number(tmp_path: Path, value: object) -> None:
    with pytest.raises(ValueError, match="run_timeout"):
        _cfg(tmp_path, "hang_task", run_timeout=value)


def test_huge_losses_whose_sum_overflows_keep_a_finite_auc_and_strict_json(tmp_path: Path) -> None:
    out = run_bench(_cfg(tmp_path, "huge_task"))  # val loss 1.5e308: y0 + y1 overflows
    assert out.errors == 0
    recs = _records(tmp_path)
    assert {r["status"] for r in recs.values()} == {"ok"}
    assert all(r["val_loss_auc"] == pytest.approx(1.5e308) for r in recs.values())
    # every file is strict JSON (no NaN/Infinity tokens)
    for line in (tmp_path / "r" / "runs.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert out.results is not None
    results = json.loads(out.results.read_text(), parse_constant=lambda c: pytest.fail(c))
    (task,) = results["tasks"].values()  # keyed by the task's name
    entry = task["schedules"]["constant"]
    assert entry["metrics"]["val_loss_auc"]["mean"] == pytest.approx(1.5e308)
    assert out.report is not None and out.report.exists()


def test_overflowing_std_and_mean_across_seeds_never_crash_the_report(tmp_path: Path) -> None:
    out = run_bench(_cfg(tmp_path, "huge_final_task"))
    assert out.errors == 0 and out.results is not None
    results = json.loads(out.results.read_text(), parse_constant=lambda c: pytest.fail(c))
    (task,) = results["tasks"].values()  # keyed by the task's name
    st = task["schedules"]["constant"]["metrics"]
    assert st["val_loss"]["n"] == 2 and st["val_loss"]["mean"] == pytest.approx(0.85e308)
    assert st["val_loss"]["std"] == pytest.approx(math.sqrt(2) * 0.85e308)


def test_nan_validation_loss_marks_the_run_diverged(tmp_path: Path) -> None:
    out = run_bench(_cfg(tmp_path, "nan_val_task", seeds=1))
    rec = _records(tmp_path)[0]
    assert out.errors == 0 and rec["status"] == "diverged" and rec["final"]["val_loss"] is None


def test_non_finite_numbers_in_any_record_are_written_as_null(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    with RunsFile(path) as f:
        f.append({"key": "k", "x": [math.inf, -math.inf, math.nan, 1e308 * 10, 2.0]})
    assert json.loads(path.read_text()) == {"key": "k", "x": [None, None, None, None, 2.0]}


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"lr": math.inf}, "lr=inf must be None or a finite number > 0"),
        ({"lr": math.nan}, "lr=nan"),
        ({"lr": 1e308, "lr_mode": "tune"}, "overflows to inf"),
        ({"tune_factors": (1.0, math.inf)}, "tune_factors"),
        ({"stats_seed": "x"}, "stats_seed='x' must be an int"),
        ({"stats_seed": 1.5}, "stats_seed"),
        ({"bootstrap": True}, "bootstrap"),
    ],
)
def test_bad_numbers_are_rejected_before_any_run(
    tmp_path: Path, kw: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        _cfg(tmp_path, "exit_task", **kw)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../x", "a\\b", "", " x", "x\0"])
def test_run_name_must_be_one_path_component(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="single folder name"):
        _cfg(tmp_path, "exit_task", name=name)


def test_bad_plateau_fails_before_any_run(tmp_path: Path) -> None:
    entry = {"name": "p", "lr": "constant(1.0)", "plateau": {"factor": 5}}
    with pytest.raises(ValueError, match=r"schedule 'p' has a bad plateau.*factor"):
        _cfg(tmp_path, "exit_task", schedules=(entry,))


def test_unknown_baseline_fails_up_front_with_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--baseline 'cosin' .*did you mean 'cosine'"):
        run_bench(_cfg(tmp_path, "exit_task", baseline="cosin"))
    with pytest.raises(ValueError, match="--baseline 'nosuch' is not a schedule"):
        run_bench(_cfg(tmp_path, "exit_task", baseline="nosuch"))
    assert not (tmp_path / "r" / "runs.jsonl").exists()


def test_second_bench_on_the_same_folder_names_the_holder_pid(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    code = (
        "import sys, time; from pathlib import Path; from lrkit.bench.driver import lock_run_dir\n"
        "with lock_run_dir(Path(sys.argv[1])):\n"
        "    print('locked', flush=True); time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(
            RuntimeError, match=f"in use by another `lrkit bench` \\(pid {holder.pid}\\)"
        ):
            run_bench(_cfg(tmp_path, "exit_task", seeds=1))
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its holder (even kill -9): the folder is usable again
    with lock_run_dir(run_dir):
        pass


def test_incomplete_records_are_skipped_with_a_counted_warning_and_rerun(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "exit_task", seeds=1)
    run_bench(cfg)
    runs = tmp_path / "r" / "runs.jsonl"
    key = read_records(runs)[0]["key"]
    with runs.open("a") as fh:
        fh.write(json.dumps({"key": key, "status": "ok"}) + "\n")
        fh.write(json.dumps([1, 2]) + "\n")
    with pytest.warns(RecordWarning, match=r"skipped 2 incomplete or malformed.*'task'"):
        build_report(tmp_path / "r", plots=False)  # `lrkit report` skips them: no KeyError
    with pytest.warns(RecordWarning, match="skipped 2"):
        out = run_bench(cfg)
    assert (out.ran, out.skipped) == (0, 1)  # the earlier complete record of the key stands


@pytest.mark.parametrize(
    ("meta", "match"),
    [([1, 2], "must be a JSON object, got list"), ({"keys": 5}, "'keys' must be a list")],
)
def test_malformed_bench_json_gets_a_clear_error(tmp_path: Path, meta: object, match: str) -> None:
    run_bench(_cfg(tmp_path, "exit_task", seeds=1))
    (tmp_path / "r" / "bench.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=match):
        build_report(tmp_path / "r", plots=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its new parent) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_exit_when_the_driver_is_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    code = (
        "import sys\n"
        "from lrkit.bench.planning.config import BenchConfig\n"
        "from lrkit.bench.driver import run_bench\n"
        "if __name__ == '__main__':\n"
        "    run_bench(BenchConfig(name='r', tasks=('bench_tasks_hostile:pid_task',), seeds=2,\n"
        "        out=sys.argv[1], quiet=True, only=('constant',), plots=False, bootstrap=200,\n"
        "        backend='local', workers=2))\n"
    )
    env = {
        **os.environ,
        "LRKIT_TEST_PID_DIR": str(pids),
        "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path]),
    }
    driver = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env)
    try:
        deadline = time.monotonic() + 120
        while len(list(pids.glob("*.pid"))) < 2:  # both workers are inside train_step
            assert driver.poll() is None, "the driver ended early"
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.1)
    finally:
        driver.kill()  # kill -9
        driver.wait()
    workers = [int(p.stem) for p in pids.glob("*.pid")]
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their driver"


def test_a_finished_record_without_a_target_is_valid() -> None:
    """Function tasks without ``target=`` write ``"target": null``; reading keeps such runs."""
    from lrkit.bench.execution.records import record_problem

    rec = {
        "key": "k",
        "status": "ok",
        "task": "t",
        "schedule": "cosine",
        "seed": 0,
        "lr_text": "cosine(0.1, steps=10)",
        "optimizer": "own",
        "peak_lr": 0.1,
        "steps": 10,
        "target": None,
        "curves": {"step": [0], "lr": [0.1]},
        "evals": {"step": [9]},
        "final": {"val_loss": 1.0},
    }
    assert record_problem(rec) is None
    assert (
        record_problem({**rec, "target": {"metric": "val_loss"}}) == "missing or malformed 'target'"
    )

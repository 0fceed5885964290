"""A bench run folder and the processes of its runs: warnings shown once and never looping,
no write through a link, atomic artifacts, hostile records skipped, a task's chdir and
subprocesses contained (tasks as small files written by each test)."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from _cli import one_error_line
from lrkit.bench.driver import run_bench
from lrkit.bench.execution.pool import WorkerPool
from lrkit.bench.execution.records import RecordWarning, RunsFile, read_records
from lrkit.bench.execution.rundir import RunDirError, check_run_dir, read_bytes, write_atomic
from lrkit.bench.planning.config import BenchConfig
from lrkit.cli.bench import _warnings_as_lines, register

# Function tasks: gradient descent on w**2 / 2 that evaluates what each trigger needs.
TASKS = """
import math
import os
import subprocess
import time
import warnings


def _loop(run, val):
    w = 2.0 + 0.1 * run.seed
    for step in range(run.steps):
        w -= run.hparams(step)["lr"] * w
        run.log(step, loss=0.5 * w * w)
        if run.should_evaluate(step):
            run.evaluate(step, **val(run, step))


def plain(run):
    _loop(run, lambda r, s: {"val_loss": 0.5})


def metric_at_last_eval(run):  # "acc" only at the last evaluation: all-NaN curve columns
    _loop(run, lambda r, s: {"val_loss": 1.0, **({"acc": 0.5} if s == r.steps - 1 else {})})


def minus_inf(run):
    _loop(run, lambda r, s: {"val_loss": -math.inf})


def nan_val(run):
    _loop(run, lambda r, s: {"val_loss": math.nan})


def huge(run):
    _loop(run, lambda r, s: {"val_loss": 1.5e308})


def warns_in_loop(run):
    warnings.warn("a warning from inside the training loop", UserWarning)
    _loop(run, lambda r, s: {"val_loss": 1.0})


def chdir_away(run):
    os.makedirs("elsewhere", exist_ok=True)
    os.chdir("elsewhere")
    _loop(run, lambda r, s: {"val_loss": 1.0})


def _start_sleep():
    child = subprocess.Popen(["sleep", "300"])
    tmp = PID_FILE + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(child.pid))
    os.replace(tmp, PID_FILE)


def sleep_then_hang(run):
    _start_sleep()
    while True:
        time.sleep(0.05)


def sleep_then_die(run):
    _start_sleep()
    os._exit(3)
"""


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _task_file(tmp_path: Path, source: str = TASKS, name: str = "tasks.py") -> Path:
    path = tmp_path / name
    path.write_text(f"PID_FILE = {str(tmp_path / 'child.pid')!r}\n" + textwrap.dedent(source))
    return path


def _bench(tmp_path: Path, fn: str, *args: str, name: str = "r") -> tuple[int, str]:
    task = f"{_task_file(tmp_path)}:{fn}"
    argv = ["bench", "-t", task, "--steps", "6", "--eval-every", "3", "--lr", "0.1"]
    argv += ["--only", "constant", "--workers", "1", "--no-plots", "--quiet"]
    argv += ["--out", str(tmp_path), "--name", name, *args]
    res = CliRunner().invoke(_app(), argv)
    return res.exit_code, res.output


def _report(run_dir: Path) -> tuple[int, str]:
    res = CliRunner().invoke(_app(), ["report", str(run_dir), "--no-plots"])
    return res.exit_code, res.output


# --- warnings: collected during the command, shown once after it -------------------------


@pytest.mark.timeout(20)
def test_warnings_are_shown_after_the_block_once_each(capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        with _warnings_as_lines():
            for _ in range(3):
                warnings.warn("task warning", UserWarning, stacklevel=1)
                warnings.warn("skipped 1 record", RecordWarning, stacklevel=1)
    assert [str(w.message) for w in outer] == ["task warning"]
    assert capsys.readouterr().err.count("warning: skipped 1 record") == 1


@pytest.mark.timeout(20)
def test_a_flood_of_distinct_warnings_keeps_a_bounded_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lrkit.cli.bench import MAX_WARNINGS

    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        with _warnings_as_lines():
            for i in range(MAX_WARNINGS + 1000):
                warnings.warn(f"step {i}", UserWarning, stacklevel=1)
    assert len(outer) == MAX_WARNINGS
    assert "warning: 1000 more distinct warning(s) not shown" in capsys.readouterr().err


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("fn", "args"),
    [
        ("metric_at_last_eval", ("--seeds", "2")),
        ("minus_inf", ("--seeds", "2")),
        ("nan_val", ("--seeds", "1", "--tune-lr", "--tune-seeds", "1")),
        ("huge", ("--seeds", "2", "--only", "cosine")),  # the comparison overflows
        ("warns_in_loop", ("--seeds", "2")),
    ],
)
@pytest.mark.filterwarnings("ignore:a warning from inside the training loop:UserWarning")
def test_bench_and_report_finish_on_runs_that_warn(
    tmp_path: Path, fn: str, args: tuple[str, ...]
) -> None:
    code, out = _bench(tmp_path, fn, *args)
    assert code == 0, out
    assert "report: " in out
    code, out = _report(tmp_path / "r")
    assert code == 0, out


@pytest.mark.timeout(120)
def test_val_losses_near_the_float_maximum_still_get_their_figures(tmp_path: Path) -> None:
    task = _task_file(tmp_path)
    argv = ["bench", "-t", f"{task}:huge", "--steps", "6", "--lr", "0.1", "--seeds", "2"]
    argv += ["--only", "constant", "--only", "cosine", "--workers", "1", "-q"]
    res = CliRunner().invoke(_app(), [*argv, "--out", str(tmp_path), "--name", "h"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "h").glob("*.png")) == [
        "huge-final.png",
        "huge-loss.png",
        "huge-lr.png",
    ]


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore:imported:UserWarning")  # the task file's own warning
def test_a_task_file_that_warns_when_imported_does_not_hang_the_bench(tmp_path: Path) -> None:
    src = 'import warnings\nwarnings.warn("imported", UserWarning)\n' + TASKS
    task = _task_file(tmp_path, src, name="noisy.py")
    argv = ["bench", "-t", f"{task}:plain", "--steps", "6", "--lr", "0.1", "--seeds", "1"]
    argv += ["--only", "constant", "--workers", "1", "--no-plots", "-q", "--out", str(tmp_path)]
    res = CliRunner().invoke(_app(), argv)
    assert res.exit_code == 0, res.output


# --- links and atomic writes --------------------------------------------------------------


@pytest.mark.parametrize("name", [".lock", "bench.json", "report.md", "results.json", "runs.jsonl"])
def test_a_link_inside_the_run_folder_is_refused_and_its_target_untouched(
    tmp_path: Path, name: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    if name != ".lock":  # a finished bench, then one of its files swapped for a link
        code, out = _bench(tmp_path, "plain", "--seeds", "1")
        assert code == 0, out
        (tmp_path / "r" / name).unlink()
    else:
        (tmp_path / "r").mkdir()
    (tmp_path / "r" / name).symlink_to(victim)
    code, out = _bench(tmp_path, "plain", "--seeds", "2")
    one_error_line(code, out, "symbolic link", name)
    assert victim.read_text() == "precious\n"
    if name != ".lock":
        code, out = _report(tmp_path / "r")
        one_error_line(code, out, "symbolic link", name)
        assert victim.read_text() == "precious\n"


def test_files_are_never_opened_through_a_link_planted_after_the_check(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run = tmp_path / "r"
    run.mkdir()
    check_run_dir(run)
    for name in ("runs.jsonl", "bench.json", "report.md"):
        (run / name).symlink_to(victim)
    with pytest.raises(RunDirError, match="symbolic link"):
        RunsFile(run / "runs.jsonl")
    with pytest.raises(RunDirError, match="symbolic link"):
        read_records(run / "runs.jsonl")
    with pytest.raises(RunDirError, match="symbolic link"):
        read_bytes(run / "bench.json")
    write_atomic(run / "report.md", "# new\n")  # replaces the link itself
    assert not (run / "report.md").is_symlink() and (run / "report.md").read_text() == "# new\n"
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("name", [".lock", "runs.jsonl"])
def test_a_hard_link_written_in_place_is_refused(tmp_path: Path, name: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "r").mkdir()
    os.link(victim, tmp_path / "r" / name)
    code, out = _bench(tmp_path, "plain", "--seeds", "1")
    one_error_line(code, out, "hard link", name)
    assert victim.read_text() == "precious\n"


def test_a_fifo_in_the_run_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "runs.jsonl")
    with pytest.raises(RunDirError, match="not a regular file"):
        read_records(tmp_path / "runs.jsonl")


def test_an_atomic_write_that_fails_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "results.json"
    write_atomic(target, "old\n")

    def fail(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


# --- report.md before the digest ----------------------------------------------------------


def _plain_cfg(tmp_path: Path, name: str = "r") -> BenchConfig:
    return BenchConfig(
        name=name,
        tasks=(f"{_task_file(tmp_path)}:plain",),
        seeds=1,
        steps=6,
        lr=0.1,
        out=str(tmp_path),
        quiet=True,
        only=("constant",),
        plots=False,
        bootstrap=200,
        backend="serial",
    )


def test_a_name_that_is_not_utf8_gets_a_full_report(tmp_path: Path) -> None:
    # `--name $'\xff'` on a UTF-8 system: the argument arrives as the surrogate "\udcff"
    out = run_bench(_plain_cfg(tmp_path, "\udcff"))
    assert out.report is not None
    assert "# lrkit bench: \\udcff" in out.report.read_text(encoding="utf-8")


def test_a_report_that_fails_to_render_records_no_digest_and_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lrkit.bench.presentation.report as report_mod

    cfg = _plain_cfg(tmp_path)

    def boom(*args: object) -> str:
        raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")

    with monkeypatch.context() as m:
        m.setattr(report_mod, "render_markdown", boom)
        with pytest.raises(UnicodeEncodeError):
            run_bench(cfg)
    run = tmp_path / "r"
    assert not (run / "results.json").exists() and not (run / "report.md").exists()
    out = run_bench(cfg)  # nothing left to run, but no digest: the report is built
    assert out.ran == 0 and "## Recommendation" in (run / "report.md").read_text()
    assert json.loads((run / "results.json").read_text())["inputs_digest"]


# --- hostile records ----------------------------------------------------------------------


def _hostile(good: dict[str, object], case: str) -> str:
    rec = json.loads(json.dumps(good))
    if case == "deep":
        return "[" * 100_000
    if case == "long-int":
        return "1" * 5000
    if case == "time-null":
        rec["time"] = None
    elif case == "evals-scalar":
        rec["evals"]["val_loss"] = 0.5
    elif case == "final-str":
        rec["final"]["val_loss"] = "x"
    elif case == "final-nan":
        return json.dumps(rec).replace('"val_loss": 0.5', '"val_loss": NaN')
    elif case == "evals-short":
        rec["evals"]["val_loss"] = rec["evals"]["val_loss"][:-1]
    elif case == "curves-lr-str":
        rec["curves"]["lr"] = ["x"] * len(rec["curves"]["lr"])
    elif case == "plateau-nested":
        rec["plateau"] = {"factor": [[[0.5]]]}
    elif case == "huge-int":
        return json.dumps(rec).replace('"val_loss": 0.5', '"val_loss": 1' + "0" * 400)
    elif case == "seed-2**64":
        rec["seed"] = 2**64
    return json.dumps(rec)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "case",
    [
        "deep",
        "long-int",
        "time-null",
        "evals-scalar",
        "final-str",
        "final-nan",
        "evals-short",
        "curves-lr-str",
        "plateau-nested",
        "huge-int",
        "seed-2**64",
    ],
)
def test_hostile_record_lines_are_skipped_with_one_counted_warning(
    tmp_path: Path, case: str
) -> None:
    code, out = _bench(tmp_path, "plain", "--seeds", "1")
    assert code == 0, out
    runs = tmp_path / "r" / "runs.jsonl"
    (good,) = read_records(runs)
    with runs.open("a") as fh:
        fh.write(_hostile(good, case) + "\n")  # the same key: the last record would win
    code, out = _report(tmp_path / "r")
    assert code == 0, out
    assert out.count("warning: ") == 1 and "skipped 1 incomplete or malformed" in out, out
    with pytest.warns(RecordWarning, match="skipped 1"):
        assert [r["key"] for r in read_records(runs)] == [good["key"]]


# --- the working folder -------------------------------------------------------------------


def test_a_task_that_changes_folder_in_process_does_not_move_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _task_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = ["bench", "-t", "tasks.py:chdir_away", "--steps", "6", "--lr", "0.1", "--seeds", "2"]
    argv += ["--only", "constant", "--workers", "1", "--no-plots", "-q", "--out", "runs"]
    res = CliRunner().invoke(_app(), [*argv, "--name", "c"])
    assert res.exit_code == 0, res.output
    assert "2 runs done" in res.output
    assert (tmp_path / "runs" / "c" / "report.md").exists()
    assert Path.cwd() == tmp_path


# --- the processes a run starts -----------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped by its new parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def child_pid(tmp_path: Path) -> Iterator[Path]:
    """The file a task writes its ``sleep 300`` child's pid to; the child is killed after
    the test whatever happened."""
    path = tmp_path / "child.pid"
    yield path
    if path.exists():
        pid = int(path.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _assert_gone(pid_file: Path) -> None:
    assert pid_file.exists(), "the task never started its child"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:  # SIGKILL was sent: wait for it
        time.sleep(0.05)
    assert not _alive(pid), f"the task's child {pid} outlived its run"


def _local_cfg(tmp_path: Path, fn: str, **kw: object) -> BenchConfig:
    base: dict[str, object] = {
        "name": "p",
        "tasks": (f"{_task_file(tmp_path)}:{fn}",),
        "seeds": 1,
        "steps": 6,
        "lr": 0.1,
        "out": str(tmp_path),
        "quiet": True,
        "only": ("constant",),
        "plots": False,
        "bootstrap": 200,
        "backend": "local",
    }
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


@pytest.mark.timeout(120)
def test_run_timeout_ends_the_processes_the_task_started(tmp_path: Path, child_pid: Path) -> None:
    out = run_bench(_local_cfg(tmp_path, "sleep_then_hang", workers=1, run_timeout=5))
    assert out.errors == 1 and "run_timeout" in out.error_messages[0]
    _assert_gone(child_pid)


@pytest.mark.timeout(120)
def test_run_timeout_in_the_serial_backend_ends_the_processes_the_run_started(
    tmp_path: Path, child_pid: Path
) -> None:
    out = run_bench(_local_cfg(tmp_path, "sleep_then_hang", backend="serial", run_timeout=3))
    assert out.errors == 1 and "run_timeout" in out.error_messages[0]
    _assert_gone(child_pid)


def test_descendants_finds_grandchildren_and_end_processes_ends_them() -> None:
    import subprocess

    from lrkit.bench.execution.backends import descendants, end_processes

    if not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    before = descendants(os.getpid())
    shell = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"])
    try:
        deadline = time.monotonic() + 20
        while len(descendants(os.getpid()) - before) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)  # the shell and its two sleeps
        started = descendants(os.getpid()) - before
        assert shell.pid in started and len(started) == 3
        end_processes(started)
        deadline = time.monotonic() + 20  # SIGKILL was sent to all; reparented ones die a bit later
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in started)
    finally:
        shell.kill()
        shell.wait()


@pytest.mark.timeout(120)
def test_a_dead_worker_takes_the_processes_its_task_started_with_it(
    tmp_path: Path, child_pid: Path
) -> None:
    out = run_bench(_local_cfg(tmp_path, "sleep_then_die", workers=2))
    assert out.errors == 1 and "exit code 3" in out.error_messages[0]
    _assert_gone(child_pid)


def start_sleep_or_wait(item: tuple[str, str]) -> str:
    """Pool item: "sleep" starts ``sleep 300``, writes its pid and hangs; "wait" returns once
    that pid is written."""
    import subprocess

    what, pid_file = item
    if what == "sleep":
        child = subprocess.Popen(["sleep", "300"])
        Path(pid_file + ".tmp").write_text(str(child.pid))
        os.replace(pid_file + ".tmp", pid_file)
        while True:
            time.sleep(0.05)
    deadline = time.monotonic() + 60
    while not Path(pid_file).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return what


@pytest.mark.timeout(120)
def test_an_interrupted_pool_ends_the_processes_its_items_started(child_pid: Path) -> None:
    def interrupt(item: object, result: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C in the driver while the other item runs

    items = [("sleep", str(child_pid)), ("wait", str(child_pid))]
    with pytest.raises(KeyboardInterrupt), WorkerPool(2) as pool:
        pool.map_unordered(start_sleep_or_wait, items, interrupt)
    _assert_gone(child_pid)


@pytest.mark.timeout(120)
def test_a_killed_driver_leaves_no_process_its_runs_started(
    tmp_path: Path, child_pid: Path
) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lrkit.bench.planning.config import BenchConfig\n"
        "from lrkit.bench.driver import run_bench\n"
        "if __name__ == '__main__':\n"
        "    run_bench(BenchConfig(name='k', tasks=(sys.argv[1],), seeds=1, steps=6, lr=0.1,\n"
        "        out=sys.argv[2], quiet=True, only=('constant',), plots=False, bootstrap=200,\n"
        "        backend='local', workers=2))\n"
    )
    task = f"{_task_file(tmp_path)}:sleep_then_hang"
    driver = subprocess.Popen([sys.executable, "-c", code, task, str(tmp_path)])
    try:
        deadline = time.monotonic() + 90
        while not child_pid.exists():  # the run started its child
            assert driver.poll() is None, "the driver ended early"
            assert time.monotonic() < deadline, "the run never started its child"
            time.sleep(0.05)
    finally:
        driver.kill()  # kill -9: the worker notices and ends its process group
        driver.wait()
    _assert_gone(child_pid)

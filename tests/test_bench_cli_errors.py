"""`lrkit bench` / `lrkit report` on bad input: one `error:` line (exit 2), never a traceback,
never a silent exit 0, and nothing run before the input is known to be good."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from _cli import one_error_line
from lrkit.bench.driver import run_bench
from lrkit.bench.execution.records import read_records
from lrkit.bench.planning.config import BenchConfig
from lrkit.cli.bench import register

FAKE = "test_bench_runner:fake_task"
HOSTILE = "bench_tasks_hostile"


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _bench(tmp_path: Path, *args: str) -> tuple[int, str]:
    base = ["bench", "--task", FAKE, "--seeds", "1", "--only", "constant", "--backend", "serial"]
    res = CliRunner().invoke(_app(), [*base, "--out", str(tmp_path), "--quiet", *args])
    return res.exit_code, res.output


def test_output_folder_that_cannot_be_created_is_one_error_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, out = _bench(tmp_path, "--out", str(blocker / "runs"))
    one_error_line(code, out, str(blocker))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_one_error_line(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    code, out = _bench(tmp_path, "--out", str(ro))
    one_error_line(code, out, "Permission denied")


def test_permission_denied_output_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a read-only --out gives a non-root user (root may write anywhere, so simulate it)
    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    code, out = _bench(tmp_path, "--name", "ro")
    one_error_line(code, out, "Permission denied", str(tmp_path / "ro"))


def test_config_that_is_a_folder_is_one_error_line(tmp_path: Path) -> None:
    code, out = _bench(tmp_path, "-c", str(tmp_path))
    one_error_line(code, out, "is a folder, not a TOML file")


@pytest.mark.parametrize("name", ["..", "../escape", "a/b", "."])
def test_name_outside_out_is_rejected(tmp_path: Path, name: str) -> None:
    code, out = _bench(tmp_path / "out", "--name", name)
    one_error_line(code, out, "single folder name")
    assert not (tmp_path / "escape").exists() and not any(tmp_path.glob("*/runs.jsonl"))


def test_task_factory_that_exits_is_an_error_not_a_silent_success(tmp_path: Path) -> None:
    code, out = _bench(tmp_path, "-t", "builtins:exit")
    one_error_line(code, out, "called exit(")


def test_unknown_baseline_fails_up_front_with_did_you_mean(tmp_path: Path) -> None:
    code, out = _bench(tmp_path, "--baseline", "cosin", "--name", "b")
    one_error_line(code, out, "did you mean 'cosine'")
    assert not (tmp_path / "b" / "runs.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--lr", "inf"], "finite number > 0"),
        (["--lr", "nan"], "finite number > 0"),
        (["--lr", "1e308", "--tune-lr"], "overflows to inf"),
        (["--run-timeout", "0"], "run_timeout"),
    ],
)
def test_bad_numbers_fail_before_any_run(tmp_path: Path, args: list[str], needle: str) -> None:
    code, out = _bench(tmp_path, *args, "--name", "n")
    one_error_line(code, out, needle)
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        (
            '[[schedule]]\nname = "p"\nlr = "constant(1.0)"\nplateau = {factor = 5}\n',
            "bad plateau",
        ),
        ('stats_seed = "x"\n', "stats_seed='x'"),
        ('plots = "yes"\n', "plots='yes'"),
    ],
)
def test_bad_toml_values_fail_before_any_run(tmp_path: Path, toml: str, needle: str) -> None:
    cfg = tmp_path / "bench.toml"
    cfg.write_text(toml)
    code, out = _bench(tmp_path, "-c", str(cfg), "--name", "t")
    one_error_line(code, out, needle)
    assert not (tmp_path / "t").exists()


def test_run_timeout_flag_turns_a_hang_into_a_failed_run(tmp_path: Path) -> None:
    args = ["bench", "-t", f"{HOSTILE}:hang_task", "--seeds", "2", "--only", "constant"]
    args += ["--backend", "serial", "--run-timeout", "0.5", "--out", str(tmp_path), "--quiet"]
    res = CliRunner().invoke(_app(), [*args, "--no-plots"])
    assert res.exit_code == 1, res.output
    assert "1 failed" in res.output and "run_timeout=0.5 s" in res.output


def test_report_warns_once_with_the_count_of_skipped_records(tmp_path: Path) -> None:
    code, out = _bench(tmp_path, "--name", "w", "--no-plots")
    assert code == 0, out
    runs = tmp_path / "w" / "runs.jsonl"
    key = read_records(runs)[0]["key"]
    with runs.open("a") as fh:
        fh.write(json.dumps({"key": key, "status": "ok"}) + "\n")
    res = CliRunner().invoke(_app(), ["report", str(tmp_path / "w"), "--no-plots"])
    assert res.exit_code == 0, res.output
    assert "warning: " in res.output and "skipped 1 incomplete or malformed" in res.output


def test_malformed_bench_json_is_one_error_line(tmp_path: Path) -> None:
    code, out = _bench(tmp_path, "--name", "m", "--no-plots")
    assert code == 0, out
    (tmp_path / "m" / "bench.json").write_text('{"keys": 5}')
    res = CliRunner().invoke(_app(), ["report", str(tmp_path / "m")])
    one_error_line(res.exit_code, res.output, "'keys' must be a list")


@pytest.mark.parametrize(
    ("task", "needle"),
    [
        ("returns_str_task", "got str '0.5' at step 0"),
        ("returns_bool_task", "got bool True at step 0"),
        ("returns_grad_tensor_task", "tensor that requires grad at step 0"),
    ],
)
def test_train_step_returning_a_non_float_is_an_error_naming_train_step(
    tmp_path: Path, task: str, needle: str
) -> None:
    if task == "returns_grad_tensor_task":
        pytest.importorskip("torch")
    cfg = BenchConfig(
        name="x",
        tasks=(f"{HOSTILE}:{task}",),
        seeds=1,
        out=str(tmp_path),
        quiet=True,
        only=("constant",),
        plots=False,
        bootstrap=200,
        backend="serial",
    )
    out = run_bench(cfg)
    assert out.errors == 1
    (rec,) = read_records(tmp_path / "x" / "runs.jsonl")
    assert rec["status"] == "error"
    assert ".train_step must return the batch loss as a float" in rec["error"]
    assert needle in rec["error"]


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("tasks = 0\n", "tasks=0 must be a name or a list of names"),
        ("tasks = []\n", "tasks must name at least one task"),
        ('tune_seed = "x"\n', "tune_seed='x' must be an int in [0, 2**32 - 1]"),
        ("bootstrap = 1000000000\n", "bootstrap=1000000000 must be an int in [100, 100000]"),
        ("bootstrap = 0\n", "bootstrap=0 must be an int in [100, 100000]"),
        ("seeds = 10000000000\n", "seeds=10000000000 must be a count in [1, 10000]"),
        ("seeds = [-1]\n", "seeds must be ints in [0, 2**32 - 1]"),
        ("steps = 100000000000\n", "steps=100000000000 must be None or an int in [1, 10000000]"),
        ("workers = 1000000\n", "workers=1000000 must be None or an int in [1, 1024]"),
        ("tune_ratio = 1e300\n", "tune_ratio=1e+300 must be a number in (1, 100]"),
        ("tune_extensions = 1000\n", "tune_extensions=1000 must be an int in [0, 20]"),
        ('tune_lr = "yes"\n', "tune_lr='yes' must be true or false"),
        ("claims = 1\n", "claims=1 must be true or false"),
        ("only = [1]\n", "only=(1,) must be a name or a list of names"),
        ("baseline = 5\n", "baseline=5 must be a non-empty str"),
        ("preset = [1]\n", "preset=[1] must be a preset name"),
        ("extra = 5\n", "unknown option 'extra'"),
        ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "nests arrays or tables too deeply"),
    ],
)
def test_out_of_range_config_values_name_the_key_and_range(
    tmp_path: Path, toml: str, needle: str
) -> None:
    cfg = tmp_path / "bench.toml"
    cfg.write_text(toml)
    if toml.split(" ")[0] in ("tasks", "seeds", "only"):  # no flag overrides the file's value
        args = ["bench", "-c", str(cfg), "--out", str(tmp_path), "--name", "t", "-q"]
        res = CliRunner().invoke(_app(), args)
        code, out = res.exit_code, res.output
    else:
        code, out = _bench(tmp_path, "-c", str(cfg), "--name", "t")
    one_error_line(code, out, needle)
    assert not (tmp_path / "t").exists()


def test_huge_seed_count_flag_is_one_error_line(tmp_path: Path) -> None:
    code, out = _bench(tmp_path, "--seeds", "10000000000", "--name", "t")
    one_error_line(code, out, "seeds=10000000000 must be a count in [1, 10000]")
    assert not (tmp_path / "t").exists()


def test_config_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (1 << 20) + "\nseeds = 1\n")
    code, out = _bench(tmp_path, "-c", str(big), "--name", "t")
    one_error_line(code, out, "is larger than 1 MiB")
    if Path("/dev/zero").exists():  # endless: only the first MiB may be read
        code, out = _bench(tmp_path, "-c", "/dev/zero", "--name", "t")
        one_error_line(code, out, "'/dev/zero' is larger than 1 MiB")


@pytest.mark.parametrize("bootstrap", [10**9, 0, "x", None])
def test_report_refuses_an_out_of_range_stored_config(tmp_path: Path, bootstrap: object) -> None:
    code, out = _bench(tmp_path, "--name", "m", "--no-plots")
    assert code == 0, out
    path = tmp_path / "m" / "bench.json"
    meta = json.loads(path.read_text())
    meta["config"]["bootstrap"] = bootstrap
    path.write_text(json.dumps(meta))
    res = CliRunner().invoke(_app(), ["report", str(tmp_path / "m")])
    one_error_line(res.exit_code, res.output, "bench.json: config: bootstrap=", "[100, 100000]")


def test_report_turns_plots_back_on_after_no_plots(tmp_path: Path) -> None:
    code, out = _bench(tmp_path, "--name", "p", "--no-plots")
    assert code == 0, out
    run = tmp_path / "p"
    res = CliRunner().invoke(_app(), ["report", str(run)])
    assert res.exit_code == 0, res.output
    assert not list(run.glob("*.png"))  # as the bench run did
    res = CliRunner().invoke(_app(), ["report", str(run), "--plots"])
    assert res.exit_code == 0, res.output
    assert list(run.glob("*.png"))
    assert "![" in (run / "report.md").read_text()


LONG_NAME_TASK = """
import lrkit.bench as lb


@lb.task(name="a" * 300, steps=10, lr=0.1)
def train(run):
    for step in range(run.steps):
        run.log(step, loss=run.hparams(step)["lr"])
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=1.0)
"""


@pytest.mark.parametrize("name", ["a" * 300, "é" * 51, "two\\nlines"])
def test_a_task_name_too_long_for_a_file_name_fails_before_any_run(
    tmp_path: Path, name: str
) -> None:
    task = tmp_path / "longname.py"
    task.write_text(LONG_NAME_TASK.replace('"a" * 300', repr(name.replace("\\n", "\n"))))
    args = ["bench", "-t", f"{task}:train", "--only", "constant", "--backend", "serial"]
    res = CliRunner().invoke(_app(), [*args, "--out", str(tmp_path / "out"), "-q"])
    one_error_line(res.exit_code, res.output, "name must be a non-empty str of at most 100 bytes")
    assert not (tmp_path / "out").exists()


def test_a_task_spec_with_a_long_name_is_refused() -> None:
    from lrkit.bench.tasks import TaskSpec
    from test_bench_runner import fake_task

    spec = fake_task()
    with pytest.raises(ValueError, match=r"TaskSpec\('aaa.*name must be a non-empty str of at"):
        TaskSpec(**{**spec.__dict__, "name": "a" * 101})
    assert TaskSpec(**{**spec.__dict__, "name": "a" * 100}).name == "a" * 100


@pytest.mark.parametrize("preset", ["quick", "smoke", "literature"])
def test_the_stored_config_of_every_preset_reads_back_unchanged(preset: str) -> None:
    cfg = BenchConfig.from_layers(preset=preset, overrides={"budgets": "10%"})
    stored = json.loads(json.dumps(cfg.to_dict()))  # as bench.json holds it
    assert BenchConfig.from_stored(stored) == cfg
    assert BenchConfig.from_stored({**stored, "from_a_newer_lrkit": 1}) == cfg


def test_lr_with_lr_from_finder_is_refused_from_flags_and_toml(tmp_path: Path) -> None:
    code, out = _bench(tmp_path, "--lr-from-finder", "--lr", "0.01", "--name", "n")
    one_error_line(code, out, "--lr and --lr-from-finder exclude each other")
    cfg = tmp_path / "bench.toml"
    cfg.write_text("lr_from_finder = true\nlr = 0.01\n")
    code, out = _bench(tmp_path, "-c", str(cfg), "--name", "n")
    one_error_line(code, out, "lr=0.01 and lr_mode='finder'", "exclude each other")
    cfg.write_text("tune_lr = true\nlr_from_finder = true\n")
    code, out = _bench(tmp_path, "-c", str(cfg), "--name", "n")
    one_error_line(code, out, "tune_lr and lr_from_finder exclude each other")
    assert not (tmp_path / "n").exists()
    with pytest.raises(ValueError, match="exclude each other"):
        BenchConfig(lr=0.01, lr_mode="finder")
    old = BenchConfig.from_stored({"lr": 0.01, "lr_mode": "finder"})  # an older run folder
    assert old.lr is None and old.lr_mode == "finder"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-s", "cosin"], "--schedule 'cosin' is not a suite entry; did you mean 'cosine'?"),
        (["--backend", "serail"], "backend='serail'; allowed: ('local', 'ray', 'serial'); did"),
        (["--only", "cosin"], "unknown schedule name(s) ['cosin']; did you mean 'cosine'?"),
    ],
)
def test_misspelt_names_get_a_did_you_mean(tmp_path: Path, args: list[str], needle: str) -> None:
    base = ["bench", "--task", FAKE, "--seeds", "1", "--out", str(tmp_path), "--quiet"]
    res = CliRunner().invoke(_app(), [*base, *args, "--name", "n"])
    one_error_line(res.exit_code, res.output, needle)
    assert not (tmp_path / "n").exists()

"""Function tasks (`@lrkit.bench.task` + `lrkit.bench.Run`): a user's own loop under `lrkit bench`."""

from __future__ import annotations

import json
import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import lrkit
import lrkit.bench as lb
from lrkit.bench.driver import plan_tasks, run_bench
from lrkit.bench.execution.records import read_records
from lrkit.bench.execution.runner import make_job, run_job
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.planning.suite import DEFAULT_SUITE, SuiteEntry
from lrkit.bench.tasks import get_task
from lrkit.cli.bench import register

# A torch task as a user writes it: AdamW, run.scheduler, and the beta1 the optimizer really
# used at each evaluated step, so the test can check the momentum schedule drives betas[0].
TORCH_TASK = """
import torch
import torch.nn.functional as F
import lrkit.bench as lb


@lb.task(name="tiny-reg", steps=40, lr=0.05, eval_every=10, target=("val_loss", 0.5))
def train(run: lb.Run) -> None:
    g = torch.Generator().manual_seed(run.seed)
    x = torch.randn(128, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    torch.manual_seed(run.seed)
    model = torch.nn.Linear(4, 1).to(run.device)
    opt = torch.optim.AdamW(model.parameters(), lr=run.lr)
    sched = run.scheduler(opt)
    for step in range(run.steps):
        beta1 = opt.param_groups[0]["betas"][0]
        loss = F.mse_loss(model(x), y)
        loss.backward(); opt.step(); sched.step(); opt.zero_grad()
        run.log(step, loss=loss.item())
        if run.should_evaluate(step):
            with torch.no_grad():
                run.evaluate(step, val_loss=F.mse_loss(model(x), y).item(), beta1=beta1)
"""

# Framework-free: gradient descent on w**2/2 driven by run.hparams(step); no decorator.
PLAIN_TASK = """
import math


def quad(run):
    w = 2.0 + 0.1 * run.seed
    for step in range(run.steps):
        lr = run.hparams(step)["lr"]
        w -= lr * w
        loss = 0.5 * w * w if abs(w) < 1e6 else math.inf
        run.log(step, loss=loss)
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=VAL(w))


def VAL(w):
    return 0.5 * w * w


def stuck(run):
    for step in range(run.steps):
        run.hparams(step)  # reads its LR (and then makes no progress)
        run.log(step, loss=1.0)
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=1.0)
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_function_task_under_lrkit_bench_with_two_spawned_workers(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    task_file = _write(tmp_path, "mytask.py", TORCH_TASK)
    args = ["bench", "-t", f"{task_file}:train", "--seeds", "2", "--workers", "2"]
    args += [
        "--only",
        "constant",
        "--only",
        "one-cycle+momentum",
        "--name",
        "fn",
        "--no-plots",
        "-q",
    ]
    res = CliRunner().invoke(_app(), [*args, "--out", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    run_dir = tmp_path / "runs" / "fn"
    recs = read_records(run_dir / "runs.jsonl")
    assert len(recs) == 4 and {r["status"] for r in recs} == {"ok"}
    assert {r["task"] for r in recs} == {"tiny-reg"} and {r["optimizer"] for r in recs} == {"own"}
    report = (run_dir / "report.md").read_text()
    assert "## tiny-reg" in report and "mytask.py" not in report.split("## Method")[0]
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["tasks"]) == {"tiny-reg"}
    # the momentum schedule of one-cycle+momentum really drove AdamW's betas[0]
    mom = next(e for e in DEFAULT_SUITE if e.name == "one-cycle+momentum").build(0.05, 40)[1]
    assert mom is not None
    for rec in recs:
        used = rec["evals"]["beta1"]
        steps = np.asarray(rec["evals"]["step"]) - 1
        if rec["schedule"] == "one-cycle+momentum":
            assert np.allclose(used, mom(steps), rtol=0, atol=1e-12)
            assert max(used) - min(used) > 0.05
        else:
            assert used == [0.9] * len(used)  # AdamW's default, untouched
        assert rec["final"]["val_loss"] is not None and len(rec["curves"]["lr"]) == 40


def _job(source: str, entry: SuiteEntry, *, steps: int = 30, lr: float = 0.1) -> dict[str, object]:
    spec = get_task(source)
    return run_job(
        make_job(
            task=spec.name,
            entry=entry,
            peak_lr=lr,
            seed=0,
            steps=steps,
            eval_every=10,
            optimizer="own",
            batch_size=None,
            purpose="main",
            target_metric=spec.target_metric,
            target_value=spec.target_value,
            higher_is_better=spec.higher_is_better,
            source=source,
        )
    )


def test_plain_function_runs_records_lr_curve_and_auc(tmp_path: Path) -> None:
    path = _write(tmp_path, "plain.py", PLAIN_TASK)
    cosine = next(e for e in DEFAULT_SUITE if e.name == "cosine")
    rec = _job(f"{path}:quad", cosine)
    assert rec["status"] == "ok", rec.get("error")
    assert rec["task"] == "quad" and rec["steps_done"] == 30
    expected = cosine.build(0.1, 30)[0](np.arange(30))
    assert np.allclose(rec["curves"]["lr"], expected)  # type: ignore[index]
    assert rec["evals"]["step"] == [10, 20, 30]  # type: ignore[index]
    assert rec["val_loss_auc"] is not None


def test_plateau_is_fed_by_run_evaluate(tmp_path: Path) -> None:
    path = _write(tmp_path, "plain.py", PLAIN_TASK)
    entry = SuiteEntry("p", "constant(1.0)", plateau={"factor": 0.5, "patience": 0})
    rec = _job(f"{path}:stuck", entry, steps=30)
    assert rec["status"] == "ok", rec.get("error")
    lrs = rec["curves"]["lr"]  # type: ignore[index]
    # the evaluation after step 10 sets the best; the one after step 20 sees no improvement
    # (patience 0), so the LR halves from step 20; the last one reduces again, at the end
    assert lrs[19] == 0.1 and lrs[20] == 0.05 and lrs[29] == 0.05
    assert rec["plateau_reductions"] == 2


def test_diverged_loss_ends_the_run(tmp_path: Path) -> None:
    path = _write(tmp_path, "plain.py", PLAIN_TASK)
    rec = _job(f"{path}:quad", DEFAULT_SUITE[0], lr=5.0)  # w *= -4 each step: overflows
    assert rec["status"] == "diverged"
    assert rec["final"].get("val_loss") is None  # type: ignore[attr-defined]
    assert 0 < rec["steps_done"] < 30  # type: ignore[operator]


def test_package_module_form_and_missing_steps_or_lr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "plain_mod.py", PLAIN_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = get_task("plain_mod:quad")
    assert spec.function is not None and spec.needs == ("steps", "lr") and spec.name == "quad"
    cfg = BenchConfig(tasks=("plain_mod:quad",), seeds=(0,), out=str(tmp_path))
    with pytest.raises(ValueError, match="--steps"):
        plan_tasks(cfg)
    with pytest.raises(ValueError, match="--lr X, --lr-from-finder"):
        plan_tasks(cfg.with_(steps=20))
    out = run_bench(
        cfg.with_(steps=20, lr=0.1, only=("constant", "cosine"), backend="serial", plots=False)
    )
    assert (out.ran, out.errors) == (2, 0)
    sys.modules.pop("plain_mod", None)


def _finder_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, schedule: str
) -> BenchConfig:
    """A one-run ``--lr-from-finder`` bench of PLAIN_TASK's ``quad`` written as ``module``."""
    _write(tmp_path, f"{module}.py", PLAIN_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    return BenchConfig(
        tasks=(f"{module}:quad",),
        seeds=(0,),
        out=str(tmp_path),
        steps=20,
        lr_mode="finder",
        only=(schedule,),
        backend="serial",
        plots=False,
        name="f",
    )


def test_lr_from_finder_runs_the_range_test_through_the_task_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lrkit.bench.execution.range_test import range_test_task
    from lrkit.finder.recommend import DEFAULT_RULES, peak_rule

    cfg = _finder_bench(tmp_path, monkeypatch, "finder_mod", "constant")
    out = run_bench(cfg)  # no --lr: the range test gives the peak
    assert (out.ran, out.errors) == (1, 0)
    (rec,) = [json.loads(x) for x in (tmp_path / "f" / "runs.jsonl").read_text().splitlines()]
    result = range_test_task(
        "finder_mod:quad", None, cfg.tune_seed, start=1e-6, end=10.0, num_steps=20
    )
    rule = peak_rule(DEFAULT_RULES["one_cycle"])  # the function's own optimizer: family unknown
    assert rec["peak_lr"] == pytest.approx(rule.peak(result, None), rel=1e-12)
    meta = json.loads((tmp_path / "f" / "bench.json").read_text())
    assert meta["plans"][0]["lr_source"]["constant"] == f"range test ({rule.name})"
    sys.modules.pop("finder_mod", None)


def test_run_validates_steps_and_metrics() -> None:
    run = lb.Run(seed=0, steps=5, lr=0.1, schedule=lrkit.constant(0.1), eval_every=2)
    with pytest.raises(ValueError, match=r"step=5 is invalid; step must be an int in \[0, 5\)"):
        run.log(5, loss=1.0)
    with pytest.raises(TypeError, match="metric 'val_loss' must be a real number"):
        run.evaluate(1, val_loss="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eval_every"):
        lb.task(eval_every=0)(lambda run: None)
    with pytest.raises(ValueError, match="name='a/b' is invalid"):
        lb.task(name="a/b")(lambda run: None)
    assert math.isclose(run.hparams(4)["lr"], 0.1)


SILENT_TASK = """
import lrkit.bench as lb


@lb.task
def silent(run):
    pass


@lb.task(steps=5, lr=0.1)
def raises(run):
    run.log(0, loss=1.0)
    raise RuntimeError("user bug")
"""


def test_a_task_that_logs_nothing_or_raises_gives_an_error_record(tmp_path: Path) -> None:
    path = _write(tmp_path, "silent.py", SILENT_TASK)
    spec = get_task(f"{path}:silent")  # bare @lb.task: defaults only
    assert spec.name == "silent" and spec.needs == ("steps", "lr")
    rec = _job(f"{path}:silent", DEFAULT_SUITE[0])
    assert rec["status"] == "error" and "logged no training loss" in str(rec["error"])
    rec = _job(f"{path}:raises", DEFAULT_SUITE[0], steps=5)
    assert rec["status"] == "error" and rec["error"] == "RuntimeError: user bug"


def test_momentum_schedule_drives_sgd_momentum_through_run_scheduler() -> None:
    torch = pytest.importorskip("torch")
    entry = next(e for e in DEFAULT_SUITE if e.name == "one-cycle+momentum")
    lr_s, mom_s = entry.build(0.1, 20)
    run = lb.Run(seed=0, steps=20, lr=0.1, schedule=lr_s, momentum_schedule=mom_s)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = run.scheduler(opt)
    seen = []
    for step in range(20):
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        opt.step()
        sched.step()
        assert run.hparams(step) == pytest.approx({"lr": seen[-1][0], "momentum": seen[-1][1]})
    assert mom_s is not None and [m for _, m in seen] == pytest.approx(mom_s(np.arange(20)))
    adagrad = torch.optim.Adagrad([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="Adagrad has neither 'momentum' nor 'betas'"):
        run.scheduler(adagrad)


MISTAKES_TASK = """
def train(run):
    for step in range(run.steps):
        run.log(step, loss=1.0 / (step + 1))  # never calls run.evaluate
"""


MISNAMED_TASK = """
import lrkit.bench as lb


@lb.task(target=("val_accuracy", 0.9))
def train(run):
    for step in range(run.steps):
        run.log(step, loss=1.0)
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=1.0, val_acc=0.95)  # not the target's name
"""


def test_new_user_mistakes_get_errors_that_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "oops.py", MISTAKES_TASK)
    rec = _job(f"{path}:train", DEFAULT_SUITE[0])
    assert rec["status"] == "error" and "made no evaluation" in str(rec["error"])
    assert "run.evaluate(step, val_loss=...)" in str(rec["error"])
    with pytest.raises(ImportError, match=r"has no attribute 'trian'; did you mean 'train'\?"):
        get_task(f"{path}:trian")
    with pytest.raises(ImportError, match=r"task file .*oops\.py' has no attribute 'x'"):
        get_task(f"{path}:x")
    pytest.importorskip("torch")
    unstepped = _write(tmp_path, "unstepped.py", TORCH_TASK.replace("sched.step(); ", ""))
    rec = _job(f"{unstepped}:train", DEFAULT_SUITE[0])
    assert rec["status"] == "error" and "never stepped the scheduler" in str(rec["error"])
    misnamed = _write(tmp_path, "misnamed.py", MISNAMED_TASK)
    rec = _job(f"{misnamed}:train", DEFAULT_SUITE[0])
    assert rec["status"] == "error"
    assert str(rec["error"]).endswith(
        "declares target=('val_accuracy', 0.9) but never passed val_accuracy=... to "
        "run.evaluate (it passed: val_acc, val_loss)"
    )
    for name, text, why in [
        ("syntax.py", "def train(run)\n    pass\n", r"SyntaxError: expected ':' \(.*line 1\)"),
        ("imports.py", "import no_such_pkg_xyz\n", "ModuleNotFoundError: No module named"),
        ("raises.py", "raise RuntimeError('at import')\n", "RuntimeError: at import"),
    ]:
        bad = _write(tmp_path, name, text)
        with pytest.raises(ImportError, match=rf"importing task file .*{name}' failed: {why}"):
            get_task(f"{bad}:train")
    _write(tmp_path, "plain_mod2.py", PLAIN_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match=r"module 'plain_mod2' .*\(functions there: VAL, quad"):
        get_task("plain_mod2:qaud")
    sys.modules.pop("plain_mod2", None)


def test_report_says_when_the_baseline_was_not_run(tmp_path: Path) -> None:
    path = _write(tmp_path, "plain.py", PLAIN_TASK)
    cfg = BenchConfig(
        tasks=(f"{path}:quad",),
        seeds=(0, 1),
        steps=20,
        lr=0.1,
        only=("cosine", "linear-to-zero"),  # as `-s cosine -s linear-to-zero`: no constant
        backend="serial",
        plots=False,
        quiet=True,
        out=str(tmp_path),
        bootstrap=200,
    )
    out = run_bench(cfg)
    assert (out.ran, out.errors) == (4, 0)
    t = json.loads((tmp_path / "bench" / "results.json").read_text())["tasks"]["quad"]
    assert t["recommendation"].endswith("(Not compared with a baseline: `constant` was not run.)")
    assert "add `-s constant`" in t["findings"][-1]
    # quad declares no target: no "steps to val loss ≤ 0" column or finding
    report = (tmp_path / "bench" / "report.md").read_text()
    assert "steps to" not in report and "peak LR 0.1 (given); no target set." in report
    assert t["target"]["value"] is None


def test_report_of_a_bench_whose_runs_all_failed_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path, "silent.py", SILENT_TASK)
    cfg = BenchConfig(
        tasks=(f"{path}:raises",),
        seeds=(0,),
        only=("constant",),
        backend="serial",
        plots=False,
        quiet=True,
        out=str(tmp_path),
    )
    out = run_bench(cfg)
    assert (out.ran, out.errors) == (1, 1)
    report = (tmp_path / "bench" / "report.md").read_text()
    assert "- No run finished: every run failed" in report


def test_headline_of_a_single_schedule_bench(tmp_path: Path) -> None:
    path = _write(tmp_path, "plain.py", PLAIN_TASK)
    cfg = BenchConfig(
        tasks=(f"{path}:quad",),
        seeds=(0,),
        steps=20,
        lr=0.1,
        only=("cosine",),
        backend="serial",
        plots=False,
        quiet=True,
        out=str(tmp_path),
    )
    run_bench(cfg)
    report = (tmp_path / "bench" / "report.md").read_text()
    assert "no finished runs" not in report
    assert "- **quad**: only cosine was run (final val loss " in report


def test_module_form_finds_a_package_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `lrkit` is a console script: the current folder is not on sys.path as under `python -m`
    (tmp_path / "userpkg_cwd").mkdir()
    (tmp_path / "userpkg_cwd" / "__init__.py").write_text("")
    _write(tmp_path / "userpkg_cwd", "tasks.py", PLAIN_TASK)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        assert get_task("userpkg_cwd.tasks:quad").name == "quad"
        assert sys.path[0] == str(tmp_path)
        with pytest.raises(ImportError, match=r"is 'nopkg_cwd' installed, or its folder on"):
            get_task("nopkg_cwd.tasks:quad")
    finally:
        for mod in ("userpkg_cwd", "userpkg_cwd.tasks"):
            sys.modules.pop(mod, None)


IGNORING_TASK = """
def fixed(run):
    w = 2.0
    for step in range(run.steps):
        w -= 0.1 * w  # its own LR: the schedule never reaches the loop
        run.log(step, loss=0.5 * w * w)
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=0.5 * w * w)


def peak_only(run):
    w, lr = 2.0, run.lr  # the peak LR at every step, whatever the schedule
    for step in range(run.steps):
        w -= lr * w
        run.log(step, loss=0.5 * w * w)
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=0.5 * w * w)


def str_loss(run):
    for step in range(run.steps):
        run.hparams(step)
        run.log(step, loss="1.5")


def str_metric(run):
    for step in range(run.steps):
        run.hparams(step)
        run.log(step, loss=1.5)
        if run.should_evaluate(step):
            run.evaluate(step, val_loss="1.5")
"""


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("fixed", "task 'fixed' never read its LR, so it did not train with the schedule 'cosine'"),
        ("peak_only", "task 'peak_only' read only run.lr (the peak LR), so it did not train"),
        ("str_loss", "TypeError: Run.log: loss must be a real number"),
        ("str_metric", "TypeError: Run.evaluate: metric 'val_loss' must be a real number"),
    ],
)
def test_a_loop_that_ignores_its_schedule_or_logs_text_is_an_error(
    tmp_path: Path, name: str, needle: str
) -> None:
    path = _write(tmp_path, "ignoring.py", IGNORING_TASK)
    cosine = next(e for e in DEFAULT_SUITE if e.name == "cosine")
    rec = _job(f"{path}:{name}", cosine)
    assert rec["status"] == "error" and needle in str(rec["error"]), rec["error"]
    if name.startswith("str_"):
        assert "got str '1.5'" in str(rec["error"])
    with pytest.raises(TypeError, match="got bool True"):
        lb.Run(seed=0, steps=2, lr=0.1, schedule=lrkit.constant(0.1)).log(0, loss=True)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")
def test_a_loop_that_steps_its_scheduler_once_is_an_error(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    once = TORCH_TASK.replace("sched.step(); ", "").replace(
        "    for step in range(run.steps):", "    sched.step()\n    for step in range(run.steps):"
    )
    path = _write(tmp_path, "once.py", once)
    rec = _job(f"{path}:train", DEFAULT_SUITE[0])
    assert rec["status"] == "error"
    assert "stepped 1 time(s) the scheduler from run.scheduler(opt) in a run of 30 steps" in str(
        rec["error"]
    )
    # one step short is fine: the last sched.step() sets an LR no optimizer step uses
    short = TORCH_TASK.replace("sched.step(); ", "sched.step() if step < run.steps - 1 else None; ")
    rec = _job(f"{_write(tmp_path, 'short.py', short)}:train", DEFAULT_SUITE[0])
    assert rec["status"] == "ok", rec.get("error")


def test_task_declares_its_optimizer_for_the_finders_family() -> None:
    def train(run: lb.Run) -> None:
        pass

    spec = lb.task(optimizer="adamw")(train).to_spec("x.py:train")
    assert spec.optimizers == ("own",) and spec.declared_optimizer == "adamw"
    assert spec.optimizer_family("own") == "adam"
    assert lb.task(train).to_spec("x.py:train").optimizer_family("own") is None
    with pytest.raises(ValueError, match=r"optimizer='sgdd' is invalid.*did you mean 'sgd'"):
        lb.task(optimizer="sgdd")(train)


def test_lr_from_finder_says_when_the_family_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _finder_bench(tmp_path, monkeypatch, "family_mod", "cosine")
    lines: list[str] = []
    run_bench(cfg, log=lines.append)
    text = "\n".join(lines)
    assert "rule valley_by_optimizer: optimizer family unknown: valley x 4, SGD's" in text
    assert "declare it with @lrkit.bench.task(optimizer=" in text
    sys.modules.pop("family_mod", None)

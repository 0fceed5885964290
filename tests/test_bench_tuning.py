"""LR tuning: the grid, edge extension (pure functions), tuning seeds, the sensitivity report."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from lrkit.bench.driver import run_bench
from lrkit.bench.execution.records import read_records
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.planning.tuning import (
    best_lr,
    log_grid,
    mean_scores,
    next_extension,
    robust_range,
    robustness_sentence,
    tune_result,
)
from lrkit.bench.tasks import TaskConfig, TaskSpec

QUAD = "test_bench_tuning:quad_task"


class Quad:
    """Gradient descent on w**2/2 from w0 = 2 with seed noise: lr = 1 is best, lr >= 2 fails."""

    def __init__(self, config: TaskConfig) -> None:
        self.rng = np.random.default_rng(config.seed)
        self.w = 2.0 + 0.1 * (config.seed % 7)

    def train_step(self, hparams: Mapping[str, float]) -> float:
        grad = self.w + 0.01 * float(self.rng.standard_normal())
        self.w -= hparams["lr"] * grad
        return 0.5 * self.w**2 if math.isfinite(self.w) and abs(self.w) < 1e6 else math.inf

    def evaluate(self) -> dict[str, float]:
        loss = 0.5 * self.w**2
        return {"val_loss": loss, "val_accuracy": 1.0 / (1.0 + loss)}


def quad_task() -> TaskSpec:
    return TaskSpec(
        name="quad",
        description="w**2/2",
        steps=20,
        lr=0.01,
        momentum=0.0,
        eval_every=5,
        target_metric="val_loss",
        target_value=0.01,
        higher_is_better=False,
        optimizers=("sgd",),
        requires=(),
        make=Quad,  # type: ignore[arg-type]
    )


def _cfg(tmp_path: Path, **kw: object) -> BenchConfig:
    base: dict[str, object] = {
        "name": "t",
        "tasks": (QUAD,),
        "seeds": 2,
        "out": str(tmp_path),
        "quiet": True,
        "backend": "serial",
        "only": ("constant",),
        "plots": False,
        "bootstrap": 200,
        "lr_mode": "tune",
    }
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


def test_default_grid_is_quarter_to_four_times_ratio_two() -> None:
    assert log_grid(0.1, BenchConfig().tune_factors) == pytest.approx([0.025, 0.05, 0.1, 0.2, 0.4])
    assert BenchConfig().tune_seeds == 2


def test_edge_extension_grows_the_side_where_the_best_sits() -> None:
    assert next_extension({0.1: 1.0, 0.2: 2.0, 0.4: 3.0}, extensions=0) == pytest.approx(0.05)
    assert next_extension({0.1: 3.0, 0.2: 2.0, 0.4: 1.0}, extensions=3) == pytest.approx(0.8)
    assert next_extension({0.1: 3.0, 0.2: 1.0, 0.4: 2.0}, extensions=0) is None
    assert next_extension({0.1: 3.0, 0.2: 2.0, 0.4: 1.0}, extensions=4) is None
    # all diverged: grow downwards
    assert next_extension({0.1: math.inf, 0.2: math.inf}, extensions=0) == pytest.approx(0.05)
    # a diverged top value next to the best keeps the best interior
    assert next_extension({0.1: 2.0, 0.2: 1.0, 0.4: math.inf}, extensions=0) is None


def test_best_is_picked_by_the_mean_over_tuning_seeds() -> None:
    # seed 0 alone prefers 0.1; the mean over both seeds prefers 0.2
    scores = {0.05: [3.0, 3.0], 0.1: [1.0, 3.0], 0.2: [1.5, 1.5], 0.4: [2.0, 2.0]}
    assert best_lr(mean_scores(scores)) == (0.2, None)
    assert mean_scores({0.1: [1.0, None]}) == {0.1: math.inf}


def test_robust_range_and_sentence_from_constructed_curves() -> None:
    wsd = {0.05: 1.3, 0.1: 1.015, 0.2: 1.0, 0.4: 1.01, 0.8: 1.2}
    const = {0.05: 1.2, 0.1: 1.0, 0.2: 1.019, 0.4: 1.5}
    assert robust_range(wsd) == (0.1, 0.4)
    assert robust_range(const) == (0.1, 0.2)
    assert robustness_sentence({"constant": const, "wsd": wsd}) == (
        "Within 2 % of its best tuned val loss: wsd over a 4× LR range, "
        "constant over a 2× LR range."
    )


def test_tune_result_marks_edges() -> None:
    r = tune_result({0.1: [1.0], 0.2: [2.0]}, extensions=4, seeds=[7])
    assert (r["chosen"], r["edge"], r["range"], r["extensions"]) == (0.1, "low", [0.1, 0.2], 4)


def test_bench_extends_the_grid_until_the_best_is_interior(tmp_path: Path) -> None:
    # base 4: grid 1..16 (lr >= 2 never converges), so the best starts at the low edge and the
    # grid grows downwards by x1/2 until the best is interior
    run_bench(_cfg(tmp_path, lr=4.0, seeds=1))
    recs = read_records(tmp_path / "t" / "runs.jsonl")
    tune = [r for r in recs if r["purpose"] == "tune"]
    meta = json.loads((tmp_path / "t" / "bench.json").read_text())
    tuning = meta["plans"][0]["tuning"]["constant"]
    n_ext = tuning["extensions"]
    assert 1 <= n_ext <= 4 and tuning["edge"] is None
    expected = [4.0 * 2.0**k for k in range(-2 - n_ext, 3)]
    assert sorted({r["peak_lr"] for r in tune}) == pytest.approx(expected)
    assert {r["seed"] for r in tune} == {10_000, 10_001}
    assert min(expected) < tuning["chosen"] < max(expected)
    means = {g["lr"]: g["mean"] for g in tuning["grid"]}
    assert means[tuning["chosen"]] == min(v for v in means.values() if v is not None)
    (main,) = [r for r in recs if r["purpose"] == "main"]
    assert main["peak_lr"] == tuning["chosen"]


def test_report_warns_when_tuned_lr_stays_at_the_edge(tmp_path: Path) -> None:
    # base 0.001: even 4 extensions (up to 0.064) cannot reach lr = 1
    run_bench(_cfg(tmp_path, lr=0.001, seeds=2, tune_seeds=1, only=("constant", "cosine")))
    meta = json.loads((tmp_path / "t" / "bench.json").read_text())
    tuning = meta["plans"][0]["tuning"]
    assert tuning["constant"]["edge"] == "high" and tuning["constant"]["extensions"] == 4
    assert tuning["constant"]["range"] == pytest.approx([0.00025, 0.064])
    report = (tmp_path / "t" / "report.md").read_text()
    assert "tuned LR at the edge of the searched range [0.00025, 0.064]" in report
    assert "**LR sensitivity**" in report and "Within 2 % of its best" in report


def test_sensitivity_plot_is_written(tmp_path: Path) -> None:
    run_bench(_cfg(tmp_path, lr=1.0, seeds=1, tune_seeds=1, plots=True))
    (png,) = (tmp_path / "t").glob("*-lr-sensitivity.png")
    assert png.stat().st_size > 1000
    assert png.name in (tmp_path / "t" / "report.md").read_text()


# A function task whose `constant` schedule always fails (raises, diverges or gives a NaN
# val loss, by the mode in the file name) while decaying schedules train normally.
FAILING_TASK = """
import math


def train(run):
    constant = run.lr_at(run.steps - 1) == run.lr
    w = 2.0
    for step in range(run.steps):
        if constant and MODE == "raise":
            raise RuntimeError("broken for constant")
        w -= 0.5 * run.lr_at(step) * w
        loss = math.inf if constant and MODE == "diverge" else 0.5 * w * w
        run.log(step, loss=loss)
        if run.should_evaluate(step):
            run.evaluate(step, val_loss=math.nan if constant and MODE == "nan" else 0.5 * w * w)
"""


@pytest.mark.parametrize("mode", ["raise", "diverge", "nan"])
def test_a_schedule_whose_whole_tuning_grid_fails_gets_no_main_runs(
    tmp_path: Path, mode: str
) -> None:
    task = tmp_path / f"failing_{mode}.py"
    task.write_text(f"MODE = {mode!r}\n" + FAILING_TASK)
    cfg = _cfg(
        tmp_path,
        tasks=(f"{task}:train",),
        steps=10,
        lr=0.1,
        only=("constant", "cosine"),
        baseline="cosine",
    )
    out = run_bench(cfg)
    recs = read_records(tmp_path / "t" / "runs.jsonl")
    tune = [r for r in recs if r["purpose"] == "tune" and r["schedule"] == "constant"]
    # the 5-value grid on 2 tuning seeds, once: no extension, no retry of a failed run
    assert len(tune) == len({r["key"] for r in tune}) == 5 * 2
    assert len({r["peak_lr"] for r in tune}) == 5
    main = [r for r in recs if r["purpose"] == "main"]
    assert {r["schedule"] for r in main} == {"cosine"} and len(main) == 2
    assert out.errors == (10 if mode == "raise" else 0)
    meta = json.loads((tmp_path / "t" / "bench.json").read_text())
    (plan,) = meta["plans"]
    assert "constant" not in plan["peak_lr"] and "constant" not in plan["tuning"]
    (skip,) = plan["skipped"]
    assert skip["schedule"] == "constant"
    assert skip["reason"].startswith("its whole LR tuning grid failed (no peak LR from 0.025 to")
    report = (tmp_path / "t" / "report.md").read_text()
    assert "Skipped constant: its whole LR tuning grid failed" in report
    assert "so it got no main runs." in report and "tuned (edge)" not in report

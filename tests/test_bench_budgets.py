"""Rank vs budget: parsing, whole schedules per budget, per-budget statistics and report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lrkit.bench.analysis.budget_ranks import rank_table
from lrkit.bench.driver import run_bench
from lrkit.bench.execution.records import read_records
from lrkit.bench.planning.budgets import budget_label, budget_steps, parse_budgets
from lrkit.bench.planning.config import BenchConfig, load_toml

QUAD = "test_bench_tuning:quad_task"


def _cfg(tmp_path: Path, **kw: object) -> BenchConfig:
    base: dict[str, object] = {
        "name": "t",
        "tasks": (QUAD,),
        "seeds": 2,
        "out": str(tmp_path),
        "quiet": True,
        "backend": "serial",
        "only": ("constant", "cosine"),
        "plots": False,
        "bootstrap": 200,
        "lr": 0.1,
        "budgets": "25%,50%",
    }
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


def test_parse_budgets_accepts_percent_and_fractions_and_adds_full_budget() -> None:
    assert parse_budgets("10%,25%,50%,100%") == (0.1, 0.25, 0.5, 1.0)
    assert parse_budgets([0.5, "10%"]) == (0.1, 0.5, 1.0)
    assert parse_budgets("") == () and parse_budgets(None) == ()
    for bad in ("0%", "150%", "x", "-5%"):
        with pytest.raises(ValueError, match="budgets"):
            parse_budgets(bad)
    assert budget_steps(300, 0.1) == 30


def test_budgets_from_config_file(tmp_path: Path) -> None:
    p = tmp_path / "b.toml"
    p.write_text('budgets = ["10%", "50%"]\ntune_seeds = 3\n')
    cfg = BenchConfig.from_layers(file=load_toml(p))
    assert cfg.budgets == (0.1, 0.5, 1.0) and cfg.tune_seeds == 3


def test_each_budget_runs_a_whole_schedule(tmp_path: Path) -> None:
    run_bench(_cfg(tmp_path))
    recs = [r for r in read_records(tmp_path / "t" / "runs.jsonl") if r["purpose"] == "main"]
    assert sorted({r["steps"] for r in recs}) == [5, 10, 20]
    cos5 = next(r for r in recs if r["schedule"] == "cosine" and r["steps"] == 5)
    # bound to 5 steps: the cosine reaches (nearly) zero by the end of the short run
    assert cos5["curves"]["lr"][0] == pytest.approx(0.1)
    assert cos5["curves"]["lr"][-1] < 0.01
    assert cos5["eval_every"] == 5 and cos5["evals"]["step"] == [0, 5]
    res = json.loads((tmp_path / "t" / "results.json").read_text())
    (tb,) = res["budgets"].values()
    assert tb["labels"] == ["25%", "50%", "100%"]
    assert set(tb["ranks"]) == {"constant", "cosine"}
    assert all(len(v) == 3 for v in tb["ranks"].values())
    st = tb["by_budget"]["25%"]["schedules"]["cosine"]["metrics"]["val_loss"]
    assert st["n"] == 2 and st["ci"] is not None
    # the main tables still describe the full budget only
    (t,) = res["tasks"].values()
    assert {e["steps"] for e in t["schedules"].values()} == {20}
    report = (tmp_path / "t" / "report.md").read_text()
    assert "## Rank vs budget" in report and "| schedule | 25% (5 steps)" in report


def test_budgets_with_tuning_tune_per_budget(tmp_path: Path) -> None:
    run_bench(_cfg(tmp_path, lr_mode="tune", tune_seeds=1, seeds=1, only=("constant",)))
    tune = [r for r in read_records(tmp_path / "t" / "runs.jsonl") if r["purpose"] == "tune"]
    assert sorted({r["steps"] for r in tune}) == [5, 10, 20]
    meta = json.loads((tmp_path / "t" / "bench.json").read_text())
    assert [b["label"] for b in meta["budgets"]] == ["25%", "50%", "100%"]
    assert all(b["plans"][0]["tuning"]["constant"]["grid"] for b in meta["budgets"])


def test_budget_plot_is_written(tmp_path: Path) -> None:
    run_bench(_cfg(tmp_path, plots=True, seeds=2))
    (png,) = (tmp_path / "t").glob("*-budgets.png")
    assert png.stat().st_size > 1000


def test_rank_table_orders_by_mean_rank() -> None:
    tb = {
        "labels": ["10%", "100%"],
        "ranks": {"a": [2, 1], "b": [1, 1], "c": [None, 3]},
        "means": {"a": [2.0, 1.0], "b": [1.0, 1.0], "c": [None, 3.0]},
        "by_budget": {"10%": {"steps": 10}, "100%": {"steps": 100}},
    }
    rows = rank_table(tb)
    assert [r.split("|")[1].strip() for r in rows[2:]] == ["`b`", "`a`", "`c`"]
    assert rows[4].endswith("| 3 |")


def test_cli_budgets_and_tune_seeds_flags(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from lrkit.cli.bench import register

    app = typer.Typer()
    register(app)
    args = ["bench", "-t", QUAD, "--seeds", "1", "--only", "constant", "--backend", "serial"]
    args += ["--out", str(tmp_path), "--name", "c", "--no-plots", "-q", "--lr", "0.5"]
    res = CliRunner().invoke(app, [*args, "--budgets", "50%", "--tune-lr", "--tune-seeds", "1"])
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "c" / "bench.json").read_text())
    assert meta["config"]["budgets"] == [0.5, 1.0] and meta["config"]["tune_seeds"] == 1
    bad = CliRunner().invoke(app, [*args, "--budgets", "200%"])
    assert bad.exit_code == 2 and "budgets" in bad.output


def test_literature_preset_has_the_claims_schedules() -> None:
    from lrkit.bench.driver import suite_for

    cfg = BenchConfig.from_layers(preset="literature")
    names = {e.name for e in suite_for(cfg)}
    for c in (
        "cosine",
        "cosine-to-10pct",
        "wsd",
        "one-cycle+momentum",
        "triangular",
        "cosine-restarts",
    ):
        assert c in names
    assert cfg.lr_mode == "tune" and len(cfg.seeds) >= 8 and cfg.claims
    assert cfg.budgets == (0.1, 0.25, 0.5, 1.0)


def test_budgets_with_equal_step_counts_run_once_and_the_report_says_so(tmp_path: Path) -> None:
    # on 20 steps: 5 % and 6 % are both 1 step, 98 % rounds to the full 20 steps
    lines: list[str] = []
    run_bench(_cfg(tmp_path, budgets="5%,6%,50%,98%"), log=lines.append)
    recs = [r for r in read_records(tmp_path / "t" / "runs.jsonl") if r["purpose"] == "main"]
    assert len(recs) == len({r["key"] for r in recs}) == 3 * 2 * 2  # 3 step counts
    assert sorted({r["steps"] for r in recs}) == [1, 10, 20]
    assert "task quad: budgets 5% and 6% both give 1 step; run once, as 6%" in lines
    assert "task quad: budgets 98% and 100% both give 20 steps; run once, as 100%" in lines
    meta = json.loads((tmp_path / "t" / "bench.json").read_text())
    assert [b["label"] for b in meta["budgets"]] == ["6%", "50%", "100%"]
    res = json.loads((tmp_path / "t" / "results.json").read_text())
    (tb,) = res["budgets"].values()
    assert tb["labels"] == ["6%", "50%", "100%"]
    assert all(len(v) == 3 for v in tb["ranks"].values())  # no rank counted twice
    assert tb["by_budget"]["6%"]["merged"] == ["5%"]
    assert tb["by_budget"]["100%"]["merged"] == ["98%"]
    report = (tmp_path / "t" / "report.md").read_text()
    assert "| 6% (1 steps; also 5%) | 50% (10 steps) | 100% (20 steps; also 98%) |" in report
    assert "Budgets 5% and 6%; 98% and 100% give this task the same step count" in report


@pytest.mark.parametrize(
    ("budgets", "needle"),
    [
        ("1%,2%,3%,100%", "budget 1% of task 'quad' (20 steps) is 0.2 steps"),
        ("1e-300%", "budget 1e-300% of task 'quad' (20 steps) is 2e-301 steps"),
    ],
)
def test_budgets_under_one_step_are_refused_before_any_run(
    tmp_path: Path, budgets: str, needle: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(needle) + ".* at least one step .*5% or more"):
        run_bench(_cfg(tmp_path, budgets=budgets))
    assert not (tmp_path / "t").exists()


def test_a_tiny_budget_keeps_its_size_and_label() -> None:
    (tiny, full) = parse_budgets("1e-300%")
    assert tiny == pytest.approx(1e-302, rel=1e-12) and full == 1.0
    assert budget_label(tiny) == "1e-300%"
    # two shares with one label are one budget
    assert parse_budgets("12.34561%,12.34562%") == (0.1235, 1.0)

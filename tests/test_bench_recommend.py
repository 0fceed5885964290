"""The report you can act on: table order with tie letters, the recommendation sentence, the
skipped rebuild of an unchanged bench, and plain progress lines outside a terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lrkit.bench.analysis.recommend import complexity, ordered_rows, recommendation, tied_with_best
from lrkit.bench.driver import _Display, run_bench
from lrkit.bench.execution.progress import format_eta, progress_line, should_print
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.planning.suite import DEFAULT_SUITE
from lrkit.bench.presentation.report import build_report, render_markdown

TEXTS = {e.name: e for e in DEFAULT_SUITE}


def _entry(name: str, mean: float | None, half: float, lr: float = 0.1) -> dict[str, Any]:
    e = TEXTS[name]
    ci = None if mean is None else [mean - half, mean + half]
    return {
        "peak_lr": lr,
        "lr_text": str(e.unit_lr()),
        "momentum_text": e.canonical_texts()[1],
        "plateau": dict(e.plateau) if e.plateau else None,
        "metrics": {"val_loss": {"mean": mean, "ci": ci}},
    }


def _task(entries: dict[str, dict[str, Any]], **kw: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "rank_metric": "val_loss",
        "rank_higher_is_better": False,
        "schedules": entries,
        "baseline": "constant",
        "comparisons": {},
    }
    t.update(kw)
    return t


def test_table_is_sorted_by_the_statistic_and_letters_never_break_the_order() -> None:
    # rows follow the mean, not the grouping: cosine-restarts (0.0908) before wsd (0.0934), with
    # the same letter, not wsd in group "1=" and cosine-restarts in "7="
    t = _task(
        {
            "cosine": _entry("cosine", 0.0900, 0.0010),
            "wsd": _entry("wsd", 0.0934, 0.0030),
            "cosine-restarts": _entry("cosine-restarts", 0.0908, 0.0002),
            "constant": _entry("constant", 0.1200, 0.0020),
            "triangular": _entry("triangular", None, 0.0),
        }
    )
    rows = ordered_rows(t)
    assert [r["name"] for r in rows] == [
        "cosine",
        "cosine-restarts",
        "wsd",
        "constant",
        "triangular",
    ]
    assert [r["letters"] for r in rows] == ["a", "a", "a", "b", ""]
    means = [r["mean"] for r in rows if r["mean"] is not None]
    assert means == sorted(means)
    # a schedule between two groups carries both letters
    t2 = _task(
        {
            "cosine": _entry("cosine", 1.0, 0.1),
            "wsd": _entry("wsd", 1.25, 0.1),
            "rex": _entry("rex", 1.12, 0.1),
        }
    )
    assert [(r["name"], r["letters"]) for r in ordered_rows(t2)] == [
        ("cosine", "a"),
        ("rex", "ab"),
        ("wsd", "b"),
    ]
    higher = _task({"a": _entry("cosine", 0.9, 0.01), "b": _entry("wsd", 0.95, 0.01)})
    higher["rank_higher_is_better"] = True
    assert [r["name"] for r in ordered_rows(higher)] == ["b", "a"]


def test_complexity_counts_nodes_then_parameters() -> None:
    order = sorted(
        ["warmup-cosine", "cosine", "constant", "linear-to-zero", "plateau", "one-cycle"],
        key=lambda n: complexity(_entry(n, 1.0, 0.1)),
    )
    assert order[:3] == ["constant", "linear-to-zero", "cosine"]
    assert complexity(_entry("plateau", 1.0, 0.1))[0] == 2  # constant + the plateau controller
    assert complexity(_entry("one-cycle+momentum", 1.0, 0.1))[0] == 2  # lr + momentum schedules


def _sig(name: str, diff: float = -0.02) -> dict[str, Any]:
    return {name: {"val_loss": {"n": 8, "significant": True, "mean_diff": diff}}}


def test_recommendation_names_best_and_simplest_tied_schedule() -> None:
    t = _task(
        {
            "cosine": _entry("cosine", 0.090, 0.002, lr=0.1),
            "wsd": _entry("wsd", 0.091, 0.002, lr=0.2),
            "linear-to-zero": _entry("linear-to-zero", 0.0915, 0.002, lr=0.05),
            "constant": _entry("constant", 0.12, 0.002),
        },
        comparisons=_sig("cosine"),
    )
    assert tied_with_best(t) == ("cosine", ["wsd", "linear-to-zero"])
    text = recommendation(t)
    assert text.startswith("Use **cosine** at peak LR 0.1; wsd and linear-to-zero are ")
    assert (
        "simplest of them (fewest schedule nodes, then parameters) is **linear-to-zero** at "
        "peak LR 0.05" in text
    )


def test_recommendation_without_ties_or_without_a_winner() -> None:
    t = _task(
        {"cosine": _entry("cosine", 0.09, 0.001), "constant": _entry("constant", 0.12, 0.001)},
        comparisons=_sig("cosine"),
    )
    assert recommendation(t).endswith("no other schedule is statistically tied with it.")
    t["comparisons"] = {}
    assert recommendation(t) == (
        "No schedule beat the baseline **constant** (peak LR 0.1) significantly; the best mean "
        "was cosine at peak LR 0.1."
    )
    for e in t["schedules"].values():
        e["seeds"] = [0, 1]
    assert "(2 seeds cannot show a significant difference; rerun with --seeds 6 or more)" in (
        recommendation(t)
    )
    t["comparisons"] = _sig("cosine", diff=+0.03)  # significant, but worse
    assert recommendation(t).startswith("No schedule beat the baseline")
    t["baseline"] = None
    assert recommendation(t).startswith("Use **cosine**")
    # without a baseline nothing else says that 2 seeds are too few to act on
    assert recommendation(t).endswith(
        "(Only 2 seeds: these CIs are little more than the range of the runs; rerun with "
        "--seeds 6 or more before acting on it.)"
    )
    assert recommendation(_task({"wsd": _entry("wsd", None, 0.0)})) == (
        "No schedule has a final val_loss in every seed: nothing to recommend (a task function "
        "reports it with run.evaluate(step, val_loss=...))."
    )


def test_a_schedule_that_diverged_in_some_seed_is_never_recommended() -> None:
    # one-cycle's finite seeds have the best mean, but it diverged in one seed: last, no letter
    t = _task(
        {
            "one-cycle": {**_entry("one-cycle", 0.11, 0.01), "diverged": 1},
            "constant": {**_entry("constant", 0.51, 0.01), "diverged": 0},
            "cosine": {**_entry("cosine", 0.50, 0.01), "diverged": 0},
        }
    )
    rows = ordered_rows(t)
    assert [(r["name"], r["letters"]) for r in rows] == [
        ("cosine", "a"),
        ("constant", "a"),
        ("one-cycle", ""),
    ]
    assert tied_with_best(t) == ("cosine", ["constant"])
    assert "one-cycle" not in recommendation(t)
    for e in t["schedules"].values():
        e["diverged"] = 2
    assert recommendation(t).startswith("Every schedule diverged in some seed")


def test_progress_leader_ignores_runs_without_a_final_val_loss(
    capsys: pytest.CaptureFixture[str],
) -> None:
    display = _Display(quiet=False, terminal=False)
    display.start("bench", 2)
    for final in ({}, {"val_loss": 0.25}):
        display.advance(
            {"purpose": "main", "status": "ok", "task": "t", "schedule": "c", "seed": 0}
            | {"final": final}
        )
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("bench: 1/2 runs, ETA")
    assert "leader" not in lines[0] and "inf" not in lines[0]


FAKE = "test_bench_runner:fake_task"


def _cfg(tmp_path: Path) -> BenchConfig:
    return BenchConfig(
        name="r",
        tasks=(FAKE,),
        seeds=(0, 1),
        out=str(tmp_path),
        quiet=True,
        backend="serial",
        only=("constant", "cosine"),
        plots=False,
        bootstrap=200,
    )


def test_rerun_with_nothing_new_keeps_the_report_and_lrkit_report_rebuilds(
    tmp_path: Path,
) -> None:
    cfg = _cfg(tmp_path)
    out = run_bench(cfg)
    assert out.ran == 4 and out.report is not None
    results = tmp_path / "r" / "results.json"
    first = json.loads(results.read_text())
    assert len(first["inputs_digest"]) == 64
    report = out.report.read_text()
    assert "## Recommendation" in report and "- **fake**: " in report
    assert "| rank | schedule | group |" in report
    results.write_text(json.dumps({**first, "marker": 1}))  # would vanish on a rebuild
    out2 = run_bench(cfg)
    assert out2.ran == 0 and json.loads(results.read_text())["marker"] == 1
    # a different selection of the same runs is a different report
    run_bench(cfg.with_(only=("constant",)))
    assert "marker" not in json.loads(results.read_text())
    results.write_text(json.dumps({**json.loads(results.read_text()), "marker": 1}))
    build_report(tmp_path / "r")  # what `lrkit report` calls: always rebuilds
    rebuilt = json.loads(results.read_text())
    assert "marker" not in rebuilt
    assert set(rebuilt["tasks"]["fake"]["schedules"]) == {"constant"}
    md = render_markdown(rebuilt, {})
    assert md.count("## fake") == 1


def test_progress_prints_plain_lines_outside_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    display = _Display(quiet=False, terminal=False)
    display.start("bench", 4)
    for seed in range(4):
        rec = {
            "purpose": "main",
            "status": "ok",
            "task": "t",
            "schedule": "cosine",
            "seed": seed,
            "final": {"val_loss": 0.5},
        }
        display.advance(rec)
    display.stop()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4 and all("\x1b" not in line and "\r" not in line for line in lines)
    assert lines[-1].startswith("bench: 4/4 runs, ETA 0:00, leader t: cosine (0.5)")
    assert progress_line("tuning LR", 0, 10, elapsed=0.0) == "tuning LR: 0/10 runs, ETA ?"
    assert format_eta(59.2) == "1:00"
    assert [d for d in range(1, 101) if should_print(d, 100)] == list(range(5, 101, 5))

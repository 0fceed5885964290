"""report.md, results.json and PNGs from runs.jsonl, including edge cases (divergence, 1 seed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lrkit.bench.driver import run_bench
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.presentation.report import build_report

FAKE = "test_bench_runner:fake_task"


def test_report_files_with_diverged_schedule_and_single_seed(tmp_path: Path) -> None:
    cfg = BenchConfig(
        name="r",
        tasks=(FAKE,),
        seeds=1,
        out=str(tmp_path),
        quiet=True,
        backend="serial",
        only=("constant", "cosine", "boom"),
        bootstrap=200,
        schedules=({"name": "boom", "lr": "constant(30.0)"},),  # 30 x 0.1 = 3 > 2: diverges
    )
    out = run_bench(cfg)
    assert out.errors == 0
    run = tmp_path / "r"
    pngs = sorted(p.name for p in run.glob("*.png"))
    assert len(pngs) == 3
    for p in run.glob("*.png"):
        assert 1_000 < p.stat().st_size < 300_000
    res = json.loads((run / "results.json").read_text())
    t = res["tasks"]["fake"]
    assert t["schedules"]["boom"]["diverged"] == 1
    assert t["ranking"][-1]["name"] == "boom"
    text = (run / "report.md").read_text()
    assert "boom (1/1 seeds)" in text and "(diverged 1/1)" in text
    # rebuilt report is identical apart from the timestamp
    before = json.loads((run / "results.json").read_text())
    build_report(run, plots=False)
    after = json.loads((run / "results.json").read_text())
    before.pop("generated"), after.pop("generated")
    assert before == after


# --- the report's wording, on constructed runs (no training) ---------------------------------


def _rec(sched: str, seed: int, loss: float, stt: int = 20, lr: float = 0.1) -> dict[str, Any]:
    return {
        "key": f"{sched}-{seed}",
        "purpose": "main",
        "task": "t",
        "schedule": sched,
        "seed": seed,
        "status": "ok",
        "lr_text": {"constant": "constant(1.0)", "wsd": 'wsd(peak=1.0, steps="100%")'}.get(
            sched, 'cosine(start=1.0, steps="100%")'
        ),
        "momentum_text": None,
        "plateau": None,
        "optimizer": "adamw",
        "peak_lr": lr,
        "steps": 200,
        "target": {"metric": "val_accuracy", "value": 0.9, "higher_is_better": True},
        "final": {"val_loss": loss, "val_accuracy": 0.95},
        "steps_to_target": stt,
        "val_loss_auc": loss * 2,
        "time": {"wall": 1.0},
        "curves": {"step": [0, 199], "lr": [lr, lr]},
        "evals": {"step": [0, 200], "val_loss": [2.0, loss], "val_accuracy": [0.1, 0.95]},
    }


def _runs(n: int, **scores: float) -> list[dict[str, Any]]:
    """n seeds per schedule; schedule ``name`` scores ``scores[name] + 0.002 * seed``."""
    return [_rec(name, s, v + 0.002 * s) for name, v in scores.items() for s in range(n)]


def _results(records: list[dict[str, Any]], plan: dict[str, Any] | None = None) -> dict[str, Any]:
    from lrkit.bench.presentation.report import _results as results_of

    meta = {"config": {"bootstrap": 300}, "plans": [{"task": "t", **(plan or {})}]}
    res = results_of(Path("runs/x"), meta, records, alpha=0.05)
    res["n_other_runs"] = {}
    return res


def _winner_race() -> dict[str, Any]:
    """A race that dropped constant behind wsd at its first look (3 seeds)."""
    rule = {"min_seeds": 3, "max_seeds": 6, "margin": 0.01, "alpha": 0.05, "looks": [3, 4, 5, 6]}
    return {
        "rule": rule,
        "stop": "winner",
        "seeds": 3,
        "runs": 6,
        "runs_fixed": 12,
        "leader": "wsd",
        "winner": "wsd",
        "group": ["wsd"],
        "schedules": ["constant", "wsd"],
        "seeds_per_schedule": {"constant": 3, "wsd": 3},
        "level": 0.0125,
        "history": [
            {
                "seeds": 3,
                "leader": "wsd",
                "alive": ["wsd"],
                "dropped": {"constant": "significantly worse than wsd at 3 seeds"},
                "intervals": {"constant": [0.2, 0.6]},
                "stop": "winner",
            }
        ],
    }


def test_a_race_winner_is_never_contradicted_by_the_fixed_sample_p_value() -> None:
    from lrkit.bench.presentation.report import render_markdown

    res = _results(_runs(3, constant=0.068, wsd=0.048), {"race": _winner_race()})
    t = res["tasks"]["t"]
    assert t["comparisons"]["wsd"]["val_loss"]["p"] == 0.25  # the fixed test cannot decide
    first = t["findings"][0]
    assert (
        first.startswith("The race's sequential test") and "**wsd** significantly better" in first
    )
    nonsig = next(f for f in t["findings"] if "no significant difference" in f)
    # where the p-value appears, the race's verdict on the same pair stands next to it
    assert nonsig.startswith("By the fixed-sample test (paired permutation test computed after")
    assert (
        "wsd (p=0.25, the smallest it gives with 3 pairs; the race's sequential test found wsd "
        "significantly better than constant at 3 seeds)"
    ) in nonsig
    text = render_markdown(res, {})
    headline = text.split("## Headline")[1].split("## Method")[0]
    assert "The race's sequential test" in headline and "overlaps no other" not in headline
    assert "Δ vs constant (fixed-sample p)" in text
    assert "see Race below" in t["recommendation"] and "see Method" not in t["recommendation"]
    assert "optional stopping" in text.split("## Method")[1].split("## t")[0]


def test_few_seeds_best_mean_is_described_not_claimed_separated() -> None:
    t = _results(_runs(3, constant=0.068, wsd=0.048))["tasks"]["t"]
    assert t["findings"][0] == (
        "**wsd** had the lowest mean final val loss (0.05 ± 0.002); its bootstrap 95 % CI "
        "overlaps no other schedule's (only 3 seeds: such a CI is little more than the range of "
        "the runs): a description, not a test."
    )
    two = _results(_runs(2, constant=0.068, wsd=0.048))["tasks"]["t"]
    assert "just the range of the two runs" in two["findings"][0]


def test_one_seed_report_shows_values_only_and_says_nothing_can_be_tested() -> None:
    from lrkit.bench.presentation.report import render_markdown

    res = _results(_runs(1, constant=0.0906, cosine=0.18))
    t = res["tasks"]["t"]
    text = render_markdown(res, {})
    row = next(line for line in text.splitlines() if line.startswith("| 1 | `constant`"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == "–" and cells[4] == "0.0906" and cells[5] == "–"  # no letters, ±, CI
    assert "± 0 " not in text and "[0.0906, 0.0906]" not in text
    assert "overlaps no other" not in text and "1 seeds" not in text and "seed(s)" not in text
    assert "one seed cannot show a difference" in t["findings"][0]
    assert "steps per run, seed 0, peak LR" in text
    assert t["recommendation"].startswith("One seed per schedule cannot show a difference")
    assert "No significant difference" not in text and "p=1" not in text


def test_finder_peaks_are_shown_per_schedule_with_the_rule_that_set_them() -> None:
    from lrkit.bench.presentation.labels import peak_source, peak_words
    from lrkit.bench.presentation.report import render_markdown

    recs = [_rec("constant", s, 0.1 + 0.01 * s, lr=0.09681) for s in range(3)]
    recs += [_rec("cosine", s, 0.08 + 0.01 * s, lr=0.0484) for s in range(3)]
    src = {"constant": "range test (valley_x4)", "cosine": "range test (valley_by_optimizer)"}
    res = _results(recs, {"lr_source": src})
    t = res["tasks"]["t"]
    assert peak_source(t, "cosine") == "valley × 2" and peak_source(t, "constant") == "valley × 4"
    words = peak_words(t)
    assert words.startswith("peak LR per schedule from a range test of the task")
    assert "valley_x4 = fastai's valley x 4 for constant" in words
    assert "valley_by_optimizer = " in words and "for cosine)" in words
    text = render_markdown(res, {})
    assert "| `cosine` | a | 0.0484 (valley × 2) |" in text
    assert "0.09681 (valley × 4)" in text and "0.0484, 0.09681" not in text


def test_run_counts_figure_alt_texts_and_mean_steps_read_plainly() -> None:
    from lrkit.bench.presentation.report import _other_runs, render_markdown

    recs = [_rec("constant", s, 0.1 + 0.01 * s, stt=(20, 40, 80)[s]) for s in range(3)]
    recs += [_rec("cosine", s, 0.08 + 0.01 * s) for s in range(3)]
    res = _results(recs)
    meta = {
        "keys": [r["key"] for r in recs],
        "plans": [{"tuning": {"constant": {"grid": [{"scores": [0.1, None]}, {"scores": [0.2]}]}}}],
    }
    res["n_other_runs"] = _other_runs(meta, recs)
    text = render_markdown(res, {"t": ["t-loss.png", "t-final.png"]})
    assert "(6 main runs, plus 3 tuning runs)" in text
    assert "![t: validation loss over training per schedule" in text and "![t](" not in text
    assert "![t: final metric per schedule with its 95 % CI" in text
    assert "| 47 (3/3) |" in text and "46.67" not in text
    assert (
        "cosine (20 vs 47 steps, 57 % fewer, p=0.5, not significant); step counts are means" in text
    )
    from lrkit.bench.presentation.sections import tuning_lines

    grid = {"grid": [{"lr": 0.1, "mean": 0.2}], "chosen": 0.1, "seeds": [10000]}
    tuned = tuning_lines({"plan": {"tuning": {"constant": grid}}})
    assert any("tuned on 1 seed (10000)" in line for line in tuned)


def test_fixed_seed_report_gives_the_paste_block_of_the_schedule_it_names() -> None:
    import lrkit
    from lrkit.bench.presentation.report import render_markdown

    res = _results(_runs(3, constant=0.068, wsd=0.048))
    t = res["tasks"]["t"]
    assert t["recommendation"].startswith("No schedule beat the baseline **constant**")
    assert t["paste"]["schedule"] == "wsd"
    assert t["paste"]["label"] == "the best mean, not shown significantly better than constant"
    pasted = lrkit.parse(t["paste"]["text"]).bind(200)
    ran = (lrkit.parse(t["schedules"]["wsd"]["lr_text"]) * 0.1).bind(200)
    assert [float(pasted(s)) for s in (0, 50, 199)] == [float(ran(s)) for s in (0, 50, 199)]
    rec = render_markdown(res, {}).split("## Recommendation")[1].split("## Headline")[0]
    assert "To paste: **wsd** (the best mean, not shown significantly better than constant):" in rec
    assert "```text" in rec and "lrkit.torch.Scheduler(optimizer, " in rec
    # the baseline with the best mean is what the report names: it is pasted, labelled so
    t2 = _results(_runs(3, constant=0.048, wsd=0.068))["tasks"]["t"]
    assert t2["paste"]["schedule"] == "constant"
    assert t2["paste"]["label"] == "the baseline constant, which also had the best mean"


def test_a_fixed_sample_significance_the_race_did_not_confirm_says_so() -> None:
    race = {
        **_winner_race(),
        "stop": "cap",
        "seeds": 8,
        "winner": None,
        "group": ["wsd", "constant"],
        "history": [
            {
                "seeds": 8,
                "leader": "wsd",
                "alive": ["wsd", "constant"],
                "dropped": {},
                "intervals": {"constant": [-0.1, 0.5]},
            }
        ],
    }
    t = _results(_runs(8, constant=0.068, wsd=0.048), {"race": race})["tasks"]["t"]
    assert t["comparisons"]["wsd"]["val_loss"]["significant"]
    assert t["findings"][0].startswith("The race's sequential test")
    assert (
        "reached its cap of 8 seeds without separating **wsd** and **constant**"
        in (t["findings"][0])
    )
    better = next(f for f in t["findings"] if f.startswith("Better"))
    assert better.startswith(
        "Better final val loss than constant by the fixed-sample test (computed after the race "
        "stopped): wsd ("
    )
    assert better.endswith(
        "; the race, whose intervals are corrected for its looks, did not separate them)."
    )

"""Claims: verdict rules, stratified CI, steps-to-reach and anytime measures on constructed data."""

from __future__ import annotations

from typing import Any

import pytest

from lrkit.bench.analysis.claims import (
    CLAIMS,
    Claim,
    anytime_loss,
    claims_lines,
    evaluate_claims,
    overall_verdict,
    stratified_ci,
    verdict,
)


def test_beats_rule_uses_zero_and_matches_rule_uses_the_margin() -> None:
    assert verdict((0.001, 0.2), "beats") == "reproduced"
    assert verdict((-0.2, -0.001), "beats") == "contradicted"
    assert verdict((-0.01, 0.01), "beats") == "inconclusive"
    # non-inferiority with the 2 % margin
    assert verdict((-0.019, 0.05), "matches") == "reproduced"
    assert verdict((-0.5, -0.021), "matches") == "contradicted"
    assert verdict((-0.03, 0.01), "matches") == "inconclusive"
    assert verdict((-0.03, 0.01), "matches", margin=0.05) == "reproduced"
    assert verdict(None, "beats") == "not run"
    with pytest.raises(ValueError, match="kind"):
        verdict((0.0, 1.0), "wins")


def test_pooled_verdict_is_overruled_when_a_task_contradicts_it() -> None:
    assert overall_verdict("reproduced", {"a": "reproduced", "b": "reproduced"}) == (
        "reproduced",
        "",
    )
    v, note = overall_verdict("reproduced", {"a": "reproduced", "b": "contradicted"})
    assert v == "inconclusive" and "contradicted on b" in note
    assert overall_verdict("contradicted", {"a": "reproduced"})[0] == "inconclusive"
    assert overall_verdict("contradicted", {"a": "inconclusive"}) == ("contradicted", "")


def test_mixed_tasks_make_the_claim_inconclusive() -> None:
    recs = [r for r in _records() if r["task"] == "t1"]
    # on t2 cosine is clearly worse than constant: claim 1 holds on t1 only
    for s in range(8):
        recs.append(_rec("t2", "constant", s, [3.0, 2.0, 1.5, 1.0 + 0.01 * s]))
        recs.append(_rec("t2", "cosine", s, [3.0, 2.0, 1.5, 1.05 + 0.01 * s]))
    (row,) = evaluate_claims(recs, {}, claims=[CLAIMS[0]], resamples=300)
    assert row["per_task"]["t1"]["verdict"] == "reproduced"
    assert row["per_task"]["t2"]["verdict"] == "contradicted"
    assert row["verdict"] == "inconclusive" and "contradicted on t2" in row["note"]


def test_stratified_ci_weighs_tasks_equally_and_is_seeded() -> None:
    point, ci = stratified_ci({"a": [0.1] * 8, "b": [0.3, 0.3]}, seed=1)
    assert point == pytest.approx(0.2) and ci == pytest.approx((0.2, 0.2))
    g = {"a": [0.1, 0.2, -0.05, 0.15], "b": [0.0, 0.1, 0.05]}
    assert stratified_ci(g, seed=3) == stratified_ci(g, seed=3)
    _, (lo, hi) = stratified_ci(g, seed=3)
    assert lo < 0.075 < hi


def test_anytime_loss_interpolates_between_evaluations() -> None:
    assert anytime_loss([0, 10, 20], [3.0, 2.0, 1.0], 20, [0.25, 1.0]) == pytest.approx(
        (2.5 + 1.0) / 2
    )
    assert anytime_loss([0, 10], [3.0, None], 10, [1.0]) is None


def _rec(task: str, sched: str, seed: int, curve: list[float], status: str = "ok") -> Any:
    steps = [10 * i for i in range(len(curve))]
    return {
        "key": f"{task}/{sched}/{seed}",
        "purpose": "main",
        "task": task,
        "schedule": sched,
        "seed": seed,
        "status": status,
        "steps": steps[-1],
        "eval_every": 10,
        "evals": {"step": steps, "val_loss": curve},
        "final": {"val_loss": curve[-1] if status == "ok" else None},
    }


def _records() -> list[Any]:
    recs = []
    for task in ("t1", "t2"):
        for s in range(8):
            e = 0.01 * (s % 3)  # seed noise shared by the pair
            recs.append(_rec(task, "constant", s, [3.0, 2.0, 1.5, 1.2 + e]))
            # clearly better at the end, and reaches 1.2 + e by step 20
            recs.append(_rec(task, "cosine", s, [3.0, 1.8, 1.1 + e, 1.0 + e]))
            # within 1 % of cosine: matches
            recs.append(_rec(task, "wsd", s, [3.0, 1.9, 1.3, 1.005 + e]))
            # clearly worse than cosine: contradicts "matches or beats"
            recs.append(_rec(task, "linear-to-zero", s, [3.0, 2.0, 1.5, 1.3 + e]))
    return recs


def test_evaluate_claims_on_constructed_runs() -> None:
    res = {c["id"]: c for c in evaluate_claims(_records(), {}, resamples=500)}
    assert res["1"]["verdict"] == "reproduced"
    assert res["1"]["effect"] == pytest.approx(
        sum((1.2 + e - 1.0 - e) / (1.2 + e) for e in [0.01 * (s % 3) for s in range(8)]) / 8
    )
    assert res["1"]["n"] == 16 and set(res["1"]["per_task"]) == {"t1", "t2"}
    assert res["2"]["verdict"] == "reproduced"
    assert res["3a"]["verdict"] == "contradicted"
    assert res["5"]["verdict"] == "not run"  # no schedule-free runs
    # claim 6 on these curves: cosine-restarts missing -> not run
    assert res["6"]["verdict"] == "not run"


def test_steps_claim_counts_the_share_of_the_run_saved() -> None:
    claim = Claim("x", "cosine is faster", "-", "cosine", "constant", "steps", "beats")
    (row,) = evaluate_claims(_records(), {}, claims=[claim], resamples=200)
    # constant reaches its final at step 30, cosine at step 20: 10/30 of the run saved
    assert row["effect"] == pytest.approx(1 / 3) and row["verdict"] == "reproduced"


def test_diverged_claimant_counts_against_the_claim() -> None:
    recs = [r for r in _records() if r["schedule"] != "cosine"]
    recs += [_rec("t1", "cosine", s, [3.0, 9.0, 9.0, 9.0], status="diverged") for s in range(8)]
    (row,) = evaluate_claims(recs, {}, claims=[CLAIMS[0]], resamples=200)
    assert row["verdict"] == "contradicted" and row["effect"] == pytest.approx(-1.0)


def test_claims_section_lists_every_claim_with_its_verdict() -> None:
    lines = claims_lines(evaluate_claims(_records(), {}, resamples=200))
    text = "\n".join(lines)
    assert text.startswith("## Claims")
    for c in CLAIMS:
        assert f"| {c.id}. {c.text}" in text
    assert "**reproduced**" in text and "**contradicted**" in text and "**not run**" in text


def test_claims_section_end_to_end_from_a_bench_run(tmp_path: Any) -> None:
    import json

    from lrkit.bench.driver import run_bench
    from lrkit.bench.planning.config import PRESETS, BenchConfig

    lit = PRESETS["literature"]
    cfg = BenchConfig(
        name="lit",
        tasks=("test_bench_tuning:quad_task",),
        seeds=3,
        out=str(tmp_path),
        quiet=True,
        backend="serial",
        plots=False,
        bootstrap=200,
        lr=0.3,
        only=lit["only"],
        schedules=lit["schedules"],
        budgets=(0.5,),
        claims=True,
    )
    run_bench(cfg)
    res = json.loads((tmp_path / "lit" / "results.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in res["claims"]}
    assert set(verdicts) == {c.id for c in CLAIMS}
    assert verdicts["5"] == "not run"  # the quad task has no schedule-free optimizer
    allowed = {"reproduced", "contradicted", "inconclusive"}
    assert all(v in allowed for k, v in verdicts.items() if k != "5")
    assert res["claims"][0]["n"] == 3
    assert "## Claims" in (tmp_path / "lit" / "report.md").read_text()

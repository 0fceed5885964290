"""Bench statistics: deterministic bootstrap, permutation p-values, ties, comparisons."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from lrkit.bench.analysis.aggregate import (
    aggregate,
    bootstrap_ci,
    paired_permutation_p,
    rank_with_ties,
)
from lrkit.bench.presentation.report import findings


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean() -> None:
    x = [0.31, 0.29, 0.35, 0.33, 0.30, 0.32]
    a = bootstrap_ci(x, seed=[1, 2, 3])
    assert a == bootstrap_ci(x, seed=[1, 2, 3])
    assert a != bootstrap_ci(x, seed=[1, 2, 4])
    assert min(x) <= a[0] < np.mean(x) < a[1] <= max(x)


def test_bootstrap_ci_matches_explicit_percentile_bootstrap() -> None:
    x = np.array([1.0, 4.0, 2.0, 8.0])
    rng = np.random.default_rng(7)
    means = x[rng.integers(0, 4, size=(2000, 4))].mean(axis=1)
    expected = tuple(np.quantile(means, [0.025, 0.975]))
    assert bootstrap_ci(x, seed=7) == pytest.approx(expected)


def test_permutation_p_is_exact_sign_flip_enumeration() -> None:
    d = np.array([0.3, -0.1, 0.4, 0.2, 0.25])
    obs = abs(d.mean())
    flips = [abs(np.dot(s, d)) / 5 for s in itertools.product((-1, 1), repeat=5)]
    expected = np.mean([f >= obs - 1e-12 for f in flips])
    assert paired_permutation_p(d) == pytest.approx(expected)
    assert paired_permutation_p([1.0, 2.0]) == 0.5  # two seeds can never be significant
    assert paired_permutation_p([0.0, 0.0]) == 1.0
    big = paired_permutation_p(np.full(20, 0.1) + np.linspace(0, 0.01, 20), seed=3)
    assert big < 1e-3


def test_ranking_ties_when_cis_overlap_the_group_leader() -> None:
    cis = {"a": (1.0, 1.2), "b": (1.1, 1.4), "c": (1.3, 1.5), "d": (1.45, 1.6), "e": None}
    means = {"a": 1.1, "b": 1.25, "c": 1.4, "d": 1.5, "e": None}
    r = rank_with_ties(cis, means)
    assert [(x["name"], x["rank"], x["tied"]) for x in r] == [
        ("a", 1, True),
        ("b", 1, True),
        ("c", 3, True),
        ("d", 3, True),
        ("e", 5, False),
    ]
    hi = rank_with_ties(cis, means, higher_is_better=True)
    assert hi[0]["name"] == "d" and hi[0]["rank"] == 1


def _rec(
    sched: str, seed: int, loss: float, acc: float, stt: int | None, status: str = "ok"
) -> dict[str, Any]:
    return {
        "key": f"{sched}-{seed}",
        "purpose": "main",
        "task": "t",
        "schedule": sched,
        "seed": seed,
        "status": status,
        "lr_text": "constant(1.0)",
        "momentum_text": None,
        "plateau": None,
        "optimizer": "sgd",
        "peak_lr": 0.1,
        "steps": 100,
        "target": {"metric": "val_accuracy", "value": 0.9, "higher_is_better": True},
        "final": {
            "val_loss": None if status == "diverged" else loss,
            "val_accuracy": None if status == "diverged" else acc,
        },
        "steps_to_target": stt,
        "val_loss_auc": loss * 2,
        "time": {"wall": 1.0},
        "curves": {"step": [0, 99], "lr": [0.1, 0.1]},
        "evals": {"step": [0, 100], "val_loss": [2.0, loss], "val_accuracy": [0.1, acc]},
    }


def _records() -> list[dict[str, Any]]:
    recs = []
    for s in range(6):
        recs.append(_rec("constant", s, 0.50 + 0.01 * s, 0.90, 80))
        recs.append(_rec("fast", s, 0.30 + 0.01 * s, 0.95, 40))
        recs.append(_rec("same", s, 0.50 + 0.01 * s + (0.002 if s % 2 else -0.002), 0.9, 80))
    recs.append(_rec("bad", 0, 0, 0, None, status="diverged"))
    return recs


def test_aggregate_ranks_compares_and_words_findings_honestly() -> None:
    out = aggregate(_records(), resamples=500)
    t = out["tasks"]["t"]
    assert t["ranking"][0]["name"] == "fast" and t["ranking"][0]["rank"] == 1
    assert not t["ranking"][0]["tied"]
    assert t["ranking"][-1]["name"] == "bad"
    fast = t["comparisons"]["fast"]
    assert fast["val_loss"]["p"] == pytest.approx(2 / 64)
    assert fast["val_loss"]["significant"] and fast["steps_to_target"]["rel_diff"] == -0.5
    same = t["comparisons"]["same"]["val_loss"]
    assert not same["significant"] and same["ci_overlap"]
    assert out == aggregate(_records(), resamples=500)  # deterministic
    t["findings"] = text = findings("t", t, 0.05)
    joined = " ".join(text)
    assert "**fast** had the lowest final val loss" in joined
    assert "No significant difference in final val loss from constant: same" in joined
    assert "fewer steps than constant: fast (40 vs 80 steps, 50 %" in joined
    assert "bad (1/1 seeds)" in joined


def test_two_seed_findings_never_claim_significance() -> None:
    recs = [r for r in _records() if r["seed"] < 2]
    t = aggregate(recs, resamples=500)["tasks"]["t"]
    text = " ".join(findings("t", t, 0.05))
    assert "Better final val loss" not in text
    assert "cannot go below p=0.5" in text

"""benchmarks/finder_quality.py: regret read off a grid, leave-one-task-out fitting, and the
corpus of benchmarks/finder_corpus.py covering what moves the best LR."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import finder_corpus as fc
import finder_quality as fq


def _case(task: str, best_lr: float, opt: str = "sgd") -> fq.Case:
    """A case whose grid is a parabola in log LR with its minimum at ``best_lr``, and a range
    test whose loss falls until 4 * best_lr and then blows up."""
    grid = [(lr, 1.0 + math.log10(lr / best_lr) ** 2) for lr in np.geomspace(1e-4, 10.0, 13)]
    lrs = np.geomspace(1e-7, 10.0, 100)
    x = np.log10(lrs / (4 * best_lr))
    losses = 2.0 - np.tanh(x + 2.0) + np.maximum(0.0, x) * 20.0
    return fq.Case(task, "mlp", opt, 0, "one_cycle", grid, list(lrs), list(losses), list(losses))


def test_regret_is_read_off_the_grid_in_log_lr() -> None:
    grid = [(0.01, 2.0), (0.1, 1.0), (1.0, math.inf)]
    assert fq.interpolated(grid, 10**-1.5) == pytest.approx(1.5)
    assert fq.interpolated(grid, 0.001) == 2.0  # flat outside the grid
    assert fq.interpolated(grid, 0.9) == math.inf  # the diverged neighbour is nearer
    assert fq.regret(math.inf, 1.0) == fq.DIVERGED_REGRET
    c = _case("a", 0.05)
    assert c.best[0] == pytest.approx(0.05, rel=0.5) and c.regret_at(c.best[0]) == 0.0


def test_leave_one_task_out_scores_each_task_with_constants_fitted_on_the_others() -> None:
    cases = [_case(f"t{i}", lr) for i, lr in enumerate((0.01, 0.02, 0.05, 0.1))]
    fam = fq.Family("x m", {f"m={m:g}": (lambda c, m=m: m * c.lrs[-1]) for m in (0.01, 1.0)})
    out = fq.loto(fam, cases)
    assert [r["task"] for r in out["rows"]] == ["t0", "t1", "t2", "t3"]
    assert all(r["fit"] == {"*": "m=0.01"} for r in out["rows"])  # 10 is never the best
    assert out["fit_all"] == {"*": "m=0.01"}
    per_opt = fq.Family("x m", fam.members, by_opt=True)
    mixed = [*cases[:2], *(_case(f"a{i}", 0.01, "adam") for i in range(2))]
    fits = {r["task"]: r["fit"] for r in fq.loto(per_opt, mixed)["rows"]}
    assert set(fits["a0"]) == {"sgd", "adam"}


def test_every_family_suggests_a_positive_lr_on_a_range_test() -> None:
    c = _case("t", 0.03)
    for fam in fq.families():
        for fn in fam.members.values():
            lr = fn(c)
            assert math.isfinite(lr) and lr > 0, fam.name


def test_the_library_default_is_scored_as_recommend_reads_it() -> None:
    from lrkit.finder import RangeTestResult
    from lrkit.finder.recommend import DEFAULT_RULES

    for policy, opt in (("one_cycle", "sgd"), ("cosine", "adam"), ("cosine", "sgd")):
        c = _case("t", 0.03, opt)
        fam, fitted = fq.library_default(policy)
        assert list(fam.members) == [DEFAULT_RULES[policy]] and fitted.startswith("valley x m")
        r = RangeTestResult(tuple(c.lrs), tuple(c.losses), tuple(c.smoothed), optimizer=opt)
        peak = float(np.max(r.recommend(1000, policy)(np.arange(1000))))
        (fn,) = fam.members.values()
        assert fn(c) == pytest.approx(peak, rel=5e-3)  # recommend rounds to 3 digits


def test_corpus_varies_architecture_optimizer_batch_and_task_kind() -> None:
    tasks = fc.TASKS
    assert len(tasks) >= 16 and len({t.name for t in tasks}) == len(tasks)
    assert {"mlp", "norm-mlp", "cnn", "transformer", "synthetic"} <= {t.family for t in tasks}
    assert {"sgd", "momentum", "nesterov", "adam", "adamw"} <= {t.optimizer for t in tasks}
    assert {"bn", "ln"} <= {t.norm for t in tasks}
    assert min(t.batch for t in tasks) <= 16 and max(t.batch for t in tasks) >= 256
    assert {t.data for t in tasks} >= {"diabetes", "teacher", "linear", "chars", "digits"}
    assert len({(t.depth, t.width) for t in tasks}) >= 5


def test_the_nested_choice_of_a_family_never_lets_the_held_out_task_choose() -> None:
    cases = [_case(f"t{i}", lr) for i, lr in enumerate((0.01, 0.02, 0.05, 0.1))]
    good = fq.Family("good", {f"m={m:g}": (lambda c, m=m: m * c.lrs[-1]) for m in (0.01, 1.0)})
    alone = fq.nested_choice([good], cases)
    held = fq.loto(good, cases)
    assert (alone["mean"], alone["median"], alone["max"]) == (
        held["mean"],
        held["median"],
        held["max"],
    )
    assert alone["picks"] == {"good": 4}
    # a family exact on t3 alone and far off elsewhere: only t3 would pick it, and t3 is held out
    best = {c.task: c.best[0] for c in cases}
    lucky = fq.Family("lucky", {"x": lambda c: best["t3"] if c.task == "t3" else 1e-4})
    both = fq.nested_choice([good, lucky], cases)
    assert both["picks"] == {"good": 4} and both["mean"] == held["mean"]


def test_the_combination_rules_read_the_curve_they_name() -> None:
    c = _case("t", 0.03)
    shape = fq._curve_shape(c)
    assert shape["blow"] == c.lrs[-1] and shape["start"] < shape["end"] <= shape["blow"]
    fams = {f.name: f for f in fq.combinations()}
    med = fams["median(valley x m, lrkit x a, blow-up / d)"].members["m=1,a=1,d=2"]
    valley, lk = fq._base(c, "valley"), fq._base(c, "lrkit")
    assert med(c) == sorted((valley, lk, c.lrs[-1] / 2))[1]


def test_the_other_seed_reference_scores_each_seed_at_the_other_seeds_grid_best() -> None:
    a, b = _case("t", 0.01), _case("t", 0.1)
    b.seed = 1
    ref = fq.other_seed([a, b])
    assert ref is not None
    assert ref["mean"] == pytest.approx((a.regret_at(b.best[0]) + b.regret_at(a.best[0])) / 2)
    assert ref["mean"] > 0 and ref["above_15"] == 2
    assert fq.other_seed([a]) is None  # one seed: no reference

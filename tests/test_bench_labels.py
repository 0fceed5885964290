"""Report wording a reader understands without the Method section (lrkit.bench.presentation.labels, report)."""

from __future__ import annotations

from typing import Any

import pytest

from lrkit.bench.presentation.labels import peak_words, plot_title, seed_words
from lrkit.bench.presentation.report import _nonsignificant


def _task() -> dict[str, Any]:
    def entry(mean: float, half: float, opt: str = "sgd", peak: float = 0.1) -> dict[str, Any]:
        return {
            "peak_lr": peak,
            "optimizer": opt,
            "seeds": [0, 1, 2],
            "metrics": {"val_loss": {"mean": mean, "ci": [mean - half, mean + half]}},
        }

    return {
        "rank_metric": "val_loss",
        "rank_higher_is_better": False,
        "baseline": "constant",
        "schedules": {
            "constant": entry(1.0, 0.05),
            "cosine": entry(0.8, 0.05),
            "wsd": entry(0.82, 0.05),
            "schedule-free": entry(0.9, 0.01, "sgd-schedulefree", 1.0),
        },
        "plan": {
            "lr_source": dict.fromkeys(
                ["constant", "cosine", "wsd", "schedule-free"], "task default"
            )
        },
    }


def test_p_below_alpha_listed_as_not_significant_says_the_cis_overlap() -> None:
    r = {
        "n": 6,
        "p": 0.031,
        "same_sign": True,
        "rel_diff": -0.04,
        "mean_diff": -0.04,
        "ci_overlap": True,
        "significant": False,
    }
    lines = _nonsignificant([("wsd", r)], "final val loss", "constant")
    assert "wsd 4 % lower (p=0.031 < 0.05, but the 95 % CIs of the two means overlap)" in lines[1]


def test_header_names_each_optimizers_peak_lr_and_where_it_came_from() -> None:
    words = peak_words(_task())
    assert words == (
        "peak LR 0.1 (task default); schedule-free: 1 (the task default for sgd-schedulefree)"
    )
    assert seed_words(_task()) == "seeds 0, 1, 2"


def test_plot_titles_say_position_and_overlap_instead_of_rank_marks() -> None:
    t = _task()
    assert plot_title(t, "cosine") == "1. cosine (best mean)"
    assert plot_title(t, "wsd") == "2. wsd (CI overlaps the best)"
    assert plot_title(t, "constant") == "4. constant (baseline)"
    assert "#" not in "".join(plot_title(t, n) for n in t["schedules"])


def test_fixed_seed_recommendation_comes_with_the_pasteable_text_of_the_best() -> None:
    import lrkit
    from lrkit.bench.presentation.race_report import paste_info

    t = {
        "rank_higher_is_better": False,
        "rank_metric": "val_loss",
        "baseline": "constant",
        "comparisons": {"wc": {"val_loss": {"n": 8, "significant": True, "mean_diff": -0.1}}},
        "schedules": {
            "constant": {
                "peak_lr": 0.1,
                "lr_text": "constant(1.0)",
                "steps": 200,
                "metrics": {"val_loss": {"mean": 0.3, "ci": [0.28, 0.32]}},
            },
            "wc": {
                "peak_lr": 0.024,
                "steps": 200,
                "lr_text": 'warmup("5%") >> cosine(start=1.0, steps="95%")',
                "momentum_text": None,
                "metrics": {"val_loss": {"mean": 0.2, "ci": [0.19, 0.21]}},
            },
        },
    }
    got = paste_info(t)
    assert got is not None and got["schedule"] == "wc"
    assert got["text"] == 'warmup("5%") >> cosine(start=0.024, steps="95%")'
    ran = (lrkit.parse(t["schedules"]["wc"]["lr_text"]) * 0.024).bind(200)
    pasted = lrkit.parse(got["text"]).bind(200)
    for s in (0, 5, 10, 100, 199):
        assert float(pasted(s)) == pytest.approx(float(ran(s)), rel=1e-12, abs=1e-15)
    assert got["python"].endswith("total_steps=200)")

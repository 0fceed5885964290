"""Report wording a reader understands without the Method section (lrkit.bench.labels, report)."""

from __future__ import annotations

from typing import Any

from lrkit.bench.labels import peak_words, plot_title, seed_words
from lrkit.bench.report import _nonsignificant


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

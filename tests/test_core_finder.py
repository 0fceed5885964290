"""The finder's result is a plain record; suggestions, recommend and plot are functions of it."""

from __future__ import annotations

import numpy as np
import pytest

from lrkit import ScheduleError
from lrkit.finder import RangeTestResult, plot, recommend, suggest, suggestions


def _result(n: int = 300) -> RangeTestResult:
    lrs = np.geomspace(1e-6, 10.0, n)
    rng = np.random.default_rng(0)
    losses = 2.0 - np.tanh(np.log10(lrs) + 3.0) + np.maximum(0.0, np.log10(lrs) + 1.0) * 8
    losses = losses + rng.normal(0.0, 0.01, n)
    return RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), smoothed=tuple(losses))


def test_print_shows_a_short_summary_instead_of_the_curves() -> None:
    r = _result()
    text = str(r)
    assert text == repr(r)
    assert text.startswith("LR range test: 300 steps (completed), lr 1e-06 -> 10 (exp sweep")
    assert "suggestions: lrkit " in text and "valley " in text
    assert len(text) < 400 and text.count("e-0") < 20


def test_print_of_an_empty_result_says_so() -> None:
    r = RangeTestResult(lrs=(), losses=(), smoothed=(), stop_reason="nonfinite")
    assert str(r).endswith("no finite loss, no suggestions")


@pytest.mark.parametrize("rule", suggestions.names())
def test_suggestion_index_points_at_the_suggested_lr(rule: str) -> None:
    r = _result()
    s = suggest(r, rule)
    lrs = np.asarray(r.lrs)
    assert lrs[s.index] <= s.lr * (1 + 1e-12)
    assert s.index == len(lrs) - 1 or lrs[s.index + 1] > s.lr
    assert r.suggest(rule) == s


def test_recommend_and_plot_are_functions_the_methods_delegate_to() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    r = _result()
    assert recommend(r, 1000, "wsd") == r.recommend(1000, "wsd")
    ax = plot(r)
    assert ax.get_xscale() == "log"


def test_recommend_hints_at_the_policy_name() -> None:
    with pytest.raises(ScheduleError, match=r"got 'onecycle'; did you mean 'one_cycle'\?"):
        recommend(_result(), 1000, "onecycle")
    with pytest.raises(ScheduleError, match=r"total_steps must be an int >= 2"):
        recommend(_result(), 1, "one_cycle")


def test_find_cli_hints_at_the_recommend_policy_name() -> None:
    typer = pytest.importorskip("typer")
    from typer.testing import CliRunner

    from lrkit.cli.find import register

    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    res = CliRunner().invoke(app, ["find", "--task", "synthetic-linear", "--recommend", "onecycle"])
    assert res.exit_code == 2
    assert "did you mean 'one_cycle'?" in res.output

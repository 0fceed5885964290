"""lrkit.finder.result: the result is a plain record (a short print, a JSON round trip, the rising
half of a cycle); suggestions, recommend and plot are functions of it that its methods delegate
to."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _finder_curves import (
    noisy_result,
    range_test_result,
)
from lrkit.finder import (
    RangeTestResult,
    plot,
    recommend,
)


def test_print_shows_a_short_summary_instead_of_the_curves() -> None:
    r = noisy_result()
    text = str(r)
    assert text == repr(r)
    assert text.startswith("LR range test: 300 steps (completed), lr 1e-06 -> 10 (exp sweep")
    assert "suggestions: lrkit " in text and "valley " in text
    assert len(text) < 400 and text.count("e-0") < 20


def test_print_of_an_empty_result_says_so() -> None:
    r = RangeTestResult(lrs=(), losses=(), smoothed=(), stop_reason="nonfinite")
    assert str(r).endswith("no finite loss, no suggestions")


def test_recommend_and_plot_are_functions_the_methods_delegate_to() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    r = noisy_result()
    assert recommend(r, 1000, "wsd") == r.recommend(1000, "wsd")
    ax = plot(r)
    assert ax.get_xscale() == "log"


def test_result_roundtrips_through_json():
    r = range_test_result()
    d = json.loads(json.dumps(r.to_dict()))
    assert RangeTestResult.from_dict(d) == r
    with pytest.raises(ValueError, match="unknown keys"):
        RangeTestResult.from_dict({**d, "bogus": 1})


def test_result_curves_and_rules_use_the_rising_half_of_a_cycle():
    r = range_test_result(n=40, cycle=True, diverge=None)
    assert len(r) == 79 and r.rising == 40
    x, _ = r.curve()
    assert len(x) == 40 and np.all(np.diff(x) > 0)
    for s in r.suggestions().values():
        assert s.index < 40

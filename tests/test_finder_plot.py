"""lrkit.finder.plot: the curve each rule reads, its suggestion on it, labels inside the image."""

from __future__ import annotations

import numpy as np
import pytest

from _finder_curves import (
    range_test_result,
)
from lrkit.finder import (
    RangeTestResult,
    suggestions,
)


def test_plot_marks_suggestions(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = range_test_result()
    fig, ax = plt.subplots()
    out = r.plot(ax=ax, rules=("lrkit", "valley"))
    assert out is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("lrkit:") for lab in labels)
    assert ax.get_xscale() == "log"
    fig.savefig(tmp_path / "p.png")
    plt.close(fig)


def test_plot_draws_the_curve_each_rule_reads_and_puts_its_marker_on_it():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = range_test_result()
    fig, ax = plt.subplots()
    r.plot(ax=ax, rules=("lrkit", "valley"), raw=False)
    lines = {line.get_label(): line for line in ax.get_lines()}
    main = next(v for k, v in lines.items() if k.startswith("smoothed loss"))
    ema_line = next(v for k, v in lines.items() if k.startswith("EMA"))
    x, raw = r.curve("raw")
    np.testing.assert_allclose(main.get_ydata(), suggestions.lrkit_smooth(raw))
    np.testing.assert_allclose(ema_line.get_ydata(), r.curve("smoothed")[1])
    assert not np.allclose(main.get_ydata(), ema_line.get_ydata())  # the EMA lags
    for name, curve in (("lrkit", main), ("valley", ema_line)):
        s = r.suggest(name)
        (yv,) = lines[f"{name}: {s.lr:.3g}"].get_ydata()
        assert yv == pytest.approx(np.interp(np.log(s.lr), np.log(x), curve.get_ydata()))
    plt.close(fig)


def test_plot_of_a_cycle_test_draws_the_falling_half_with_the_rules_smoothing():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = range_test_result(n=40, cycle=True, diverge=None)
    ax = r.plot(rules=None)
    (fall,) = [line for line in ax.get_lines() if line.get_label() == "falling"]
    np.testing.assert_allclose(fall.get_ydata(), suggestions.lrkit_smooth(r.losses[39:]))
    plt.close(ax.figure)


def test_plot_of_the_default_rule_alone_draws_no_ema():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = range_test_result().plot(rules=("lrkit",))
    assert not any(line.get_label().startswith("EMA") for line in ax.get_lines())
    plt.close(ax.figure)


def test_plot_on_its_own_figure_keeps_the_axis_labels_inside_the_image(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = range_test_result().plot()
    fig = ax.figure
    fig.savefig(tmp_path / "p.png")  # lays the figure out
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
        ext = label.get_window_extent(renderer)
        assert box.x0 <= ext.x0 and ext.x1 <= box.x1, label.get_text()
        assert box.y0 <= ext.y0 and ext.y1 <= box.y1, label.get_text()
    plt.close(fig)


def test_plot_of_a_curve_lowest_at_its_start_still_shows_the_curve():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lrs = np.geomspace(1e-7, 1.0, 60)
    losses = 1.0 + 0.2 * np.sin(np.arange(60) / 4.0)
    losses[:3] = 0.5  # a lucky start: the smoothed minimum is the first point
    r = RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), smoothed=tuple(losses))
    ax = r.plot(rules=("lrkit",))
    _, hi = ax.get_ylim()
    assert hi > float(np.median(suggestions.lrkit_smooth(losses)))
    plt.close(ax.figure)

"""PNG figures of a bench task: LR curves, validation-loss curves with seed bands, final bars.

Uses matplotlib's object API (``Figure``), never pyplot, so it changes no global state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrkit.bench.presentation.labels import plot_title

__all__ = [
    "plot_budgets",
    "plot_final",
    "plot_loss",
    "plot_lr",
    "plot_sensitivity",
    "plot_task",
    "safe_name",
]

_BLUE = "#1f5fa8"
_ORANGE = "#d9730d"
_GREY = "#8a8a8a"
_GREEN = "#2e8b57"
_DPI = 100


def _order(t: Mapping[str, Any]) -> list[str]:
    """Schedules in ranking order (best first)."""
    return [r["name"] for r in t["ranking"]]


def _grid(n: int) -> tuple[int, int]:
    cols = 5 if n > 8 else 4 if n > 4 else max(n, 1)
    return math.ceil(n / cols), cols


#: Values beyond this magnitude are not drawn: an axis around them overflows (1.5e308).
_DRAWABLE = 1e300


def _drawable(v: float | None, k: float = 1.0) -> bool:
    return v is not None and abs(v * k) <= _DRAWABLE


def _arr(values: Sequence[float | None]) -> np.ndarray:
    a = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.where(np.abs(a) <= _DRAWABLE, a, np.nan)


def _log_apt(y: np.ndarray) -> bool:
    """Log scale when the LR is positive, spans > 30x and spends most of the run far below
    its peak (exponential-like); linear for shapes that end at (nearly) zero."""
    pos = y[np.isfinite(y)]
    if pos.size < 2 or pos.min() <= 0:
        return False
    top = float(pos.max())
    return top / float(pos.min()) > 30 and float(np.median(pos)) < 0.2 * top


def _adjust(fig: Any, rows: int, wspace: float) -> None:
    height = fig.get_figheight()
    fig.subplots_adjust(
        left=0.05,
        right=0.97,
        bottom=0.55 / height,
        top=1 - 0.6 / height,
        wspace=wspace,
        hspace=0.42,
    )


def _new_figure(width: float, height: float) -> Any:
    from lrkit._extras import require

    Figure = require("matplotlib.figure", "the bench plots").Figure
    return Figure(figsize=(width, height), dpi=_DPI, layout=None)


def _save(fig: Any, path: Path) -> None:
    """Write ``fig`` as a PNG atomically (never through a link), like every run-folder file."""
    import io

    from lrkit.bench.execution.rundir import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_atomic(path, buf.getvalue())


def plot_lr(task: str, t: Mapping[str, Any], path: Path) -> Path:
    """Small multiples of each schedule's LR (log scale where it spans > 30x), momentum dashed."""
    names = list(t["schedules"])
    rows, cols = _grid(len(names))
    fig = _new_figure(3.1 * cols, 2.1 * rows + 0.7)
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    _adjust(fig, rows, wspace=0.42)
    peaks = [e["peak_lr"] for e in t["schedules"].values()]
    common = max(set(peaks), key=peaks.count)
    any_mom = False
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.set_axis_off()
            continue
        e = t["schedules"][names[i]]
        x = np.asarray(e["lr_curve"]["step"])
        y = _arr(e["lr_curve"]["lr"])
        ax.plot(x, y, color=_BLUE, lw=1.6)
        if _log_apt(y):
            ax.set_yscale("log")
            ax.minorticks_off()
        else:
            ax.set_ylim(bottom=0, top=float(np.nanmax(y)) * 1.1 if y.size else 1)
        title = names[i]
        if len(peaks) > 1 and e["peak_lr"] != common:
            title += f" (peak {e['peak_lr']:.3g})"
        if e.get("plateau"):
            title += ", seed 0"
        ax.set_title(title, fontsize=9.5)
        ax.tick_params(labelsize=7.5)
        ax.grid(alpha=0.25)
        if e.get("momentum_curve"):
            any_mom = True
            ax2 = ax.twinx()
            ax2.plot(x, _arr(e["momentum_curve"]), color=_ORANGE, lw=1.1, ls="--")
            ax2.set_ylim(0.8, 1.0)
            ax2.set_yticks([0.85, 0.95])
            ax2.tick_params(labelsize=7, colors=_ORANGE, pad=1)
        if i % cols == 0:
            ax.set_ylabel("learning rate", fontsize=8.5)
        if i // cols == rows - 1 or i + cols >= len(names):
            ax.set_xlabel("step", fontsize=8.5)
            ax.tick_params(labelbottom=True)
    sub = f"peak LR {common:.3g}"
    if any_mom:
        sub += "; orange dashed = momentum (right axis)"
    fig.suptitle(f"{task}: learning-rate schedules ({sub})", fontsize=11)
    _save(fig, path)
    return path


def plot_loss(task: str, t: Mapping[str, Any], path: Path) -> Path:
    """Small multiples of validation loss (mean over seeds, band = min..max) vs the baseline."""
    names = _order(t)
    base = t.get("baseline")
    rows, cols = _grid(len(names))
    fig = _new_figure(3.1 * cols, 2.1 * rows + 0.7)
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    _adjust(fig, rows, wspace=0.12)
    lo, hi = _val_loss_range(t)
    base_curve = (t["schedules"][base].get("curves") or {}) if base else {}
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.set_axis_off()
            continue
        name = names[i]
        _draw_val_loss(ax, name, t["schedules"][name].get("curves") or {}, base, base_curve)
        ax.set_title(plot_title(t, name), fontsize=8.5)
        ax.tick_params(labelsize=7.5)
        ax.grid(alpha=0.25)
        if i % cols == 0:
            ax.set_ylabel("val loss", fontsize=8.5)
        if i + cols >= len(names):
            ax.set_xlabel("step", fontsize=8.5)
            ax.tick_params(labelbottom=True)
    if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
        pad = (hi - lo) * 0.15
        axes.flat[0].set_ylim(max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad)
    n = max(len(e["seeds"]) for e in t["schedules"].values())
    ref = f"; grey dashed = {base}" if base else ""
    fig.suptitle(
        f"{task}: validation loss, ranked (mean of {n} seeds, band = min–max{ref})",
        fontsize=11,
    )
    _save(fig, path)
    return path


def _val_loss_range(t: Mapping[str, Any]) -> tuple[float, float]:
    """(lowest, 90th-percentile) finite mean val loss past the first evaluation, all schedules."""
    lo, hi = math.inf, -math.inf
    for e in t["schedules"].values():
        c = e.get("curves") or {}
        vl = c.get("val_loss")
        if vl:
            m = _arr(vl["mean"])
            if m.size > 1:
                finite = m[1:][np.isfinite(m[1:])]
                if finite.size:
                    lo = min(lo, float(finite.min()))
                    hi = max(hi, float(np.quantile(finite, 0.9)))
    return lo, hi


def _draw_val_loss(
    ax: Any, name: str, c: Mapping[str, Any], base: str | None, base_curve: Mapping[str, Any]
) -> None:
    """One panel: the baseline's mean val loss dashed, this schedule's mean and min..max band."""
    if base and name != base and base_curve.get("val_loss"):
        ax.plot(
            base_curve["step"],
            _arr(base_curve["val_loss"]["mean"]),
            color=_GREY,
            lw=1.1,
            ls="--",
            label=base,
        )
    if c.get("val_loss"):
        x = np.asarray(c["step"])
        ax.fill_between(
            x,
            _arr(c["val_loss"]["min"]),
            _arr(c["val_loss"]["max"]),
            color=_BLUE,
            alpha=0.25,
            lw=0,
        )
        ax.plot(x, _arr(c["val_loss"]["mean"]), color=_BLUE, lw=1.5, label=name)


def plot_final(task: str, t: Mapping[str, Any], path: Path) -> Path:
    """Dot plot of final metrics with 95 % bootstrap CI bars, best first."""
    names = _order(t)
    tmetric = t["target"]["metric"]
    metrics = [t["rank_metric"]]
    if tmetric not in metrics:
        metrics.append(tmetric)
    height = 0.36 * len(names) + 1.4
    fig = _new_figure(4.6 * len(metrics) + 0.6, height)
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    fig.subplots_adjust(
        left=0.15, right=0.98, bottom=0.9 / height, top=1 - 0.55 / height, wspace=0.08
    )
    top = {r["name"] for r in t["ranking"] if r["rank"] == 1}
    base = t.get("baseline")
    y = np.arange(len(names))
    for ax, m in zip(axes, metrics, strict=True):
        pct = "accuracy" in m
        k = 100.0 if pct else 1.0
        means, lo, hi, colors = [], [], [], []
        for n in names:
            st = t["schedules"][n]["metrics"][m]
            mean = st["mean"] if _drawable(st["mean"], k) else np.nan
            ci = st["ci"] if st["ci"] and all(_drawable(v, k) for v in st["ci"]) else [mean, mean]
            means.append(mean * k)
            lo.append((mean - ci[0]) * k)
            hi.append((ci[1] - mean) * k)
            colors.append(_GREEN if n in top else _GREY if n == base else _BLUE)
        means_a = np.asarray(means)
        for yi, (mv, lo_i, hi_i, c) in enumerate(zip(means_a, lo, hi, colors, strict=True)):
            ax.errorbar(
                mv, yi, xerr=[[lo_i], [hi_i]], fmt="o", color=c, ms=6, elinewidth=1.6, capsize=3
            )
        finite = means_a[np.isfinite(means_a)]
        if finite.size:
            left = np.nanmin(means_a - np.asarray(lo))
            right = np.nanmax(means_a + np.asarray(hi))
            span = max(right - left, 1e-12)
            ax.set_xlim(
                max(left - 0.15 * span, 0.0) if left >= 0 else left - 0.15 * span,
                right + 0.1 * span,
            )
        label = m.replace("_", " ") + (" (%)" if pct else "")
        better = (
            "higher" if (pct or (m == tmetric and t["target"]["higher_is_better"])) else "lower"
        )
        ax.set_xlabel(f"final {label} ({better} is better)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8.5)
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    n_seeds = max(len(e["seeds"]) for e in t["schedules"].values())
    fig.suptitle(
        f"{task}: final metrics, mean and 95 % bootstrap CI over {n_seeds} seeds "
        f"(green = rank 1, grey = {base or 'baseline'})",
        fontsize=10.5,
    )
    _save(fig, path)
    return path


def plot_task(task: str, t: Mapping[str, Any], run_dir: Path) -> list[Path]:
    """All figures of one task into ``run_dir``; returns their paths."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in task)
    return [
        plot_lr(task, t, run_dir / f"{safe}-lr.png"),
        plot_loss(task, t, run_dir / f"{safe}-loss.png"),
        plot_final(task, t, run_dir / f"{safe}-final.png"),
    ]


def _line_figure() -> tuple[Any, Any, Any]:
    """(figure, axes, tab20 colormap) of a one-panel line plot with room for a legend on the right."""
    from matplotlib import colormaps

    fig = _new_figure(7.5, 4.6)
    ax = fig.subplots()
    fig.subplots_adjust(left=0.13, right=0.72, bottom=0.13, top=0.9)
    return fig, ax, colormaps["tab20"]


def _finish_lines(ax: Any, ys: Sequence[float], xlabel: str, ylabel: str) -> None:
    """Log y when the finite ``ys`` span more than 30x; labels, grid and the legend on the right."""
    if ys and min(ys) > 0 and max(ys) / min(ys) > 30:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.tick_params(labelsize=8.5)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)


def plot_sensitivity(task: str, tuning: Mapping[str, Any], path: Path) -> Path:
    """Final val loss (mean over tuning seeds) vs peak LR, log x, one line per schedule.

    The chosen LR of each schedule is marked with a filled circle; diverged grid values are
    left out of the line.
    """
    fig, ax, cmap = _line_figure()
    finite_all: list[float] = []
    for i, name in enumerate(sorted(tuning)):
        r = tuning[name]
        pts = [(float(g["lr"]), g["mean"]) for g in r["grid"]]
        xs = np.array([p[0] for p in pts])
        ys = _arr([p[1] for p in pts])
        c = cmap(i % 20)
        ax.plot(xs, ys, "-", color=c, lw=1.4, marker=".", ms=5, label=name)
        finite_all += [float(v) for v in ys[np.isfinite(ys)]]
        chosen = float(r["chosen"])
        yc = dict(pts).get(chosen)
        if yc is not None:
            ax.plot([chosen], [yc], "o", color=c, ms=8, mec="black", mew=0.8)
    ax.set_xscale("log")
    _finish_lines(ax, finite_all, "peak LR (log scale)", "final val loss (mean over tuning seeds)")
    fig.suptitle(f"{task}: LR sensitivity (circled = chosen peak LR)", fontsize=10.5)
    _save(fig, path)
    return path


def plot_budgets(task: str, tb: Mapping[str, Any], path: Path) -> Path:
    """Final ranked metric (mean and 95 % CI over seeds) vs budget share, one line per schedule."""
    fig, ax, cmap = _line_figure()
    shares = np.asarray(tb["shares"], dtype=np.float64) * 100.0
    metric = "val_loss"
    all_y: list[float] = []
    for i, name in enumerate(sorted(tb["means"])):
        mean, lo, hi = [], [], []
        for lab in tb["labels"]:
            v = tb["by_budget"][lab]
            metric = v["rank_metric"]
            st = v["schedules"].get(name, {}).get("metrics", {}).get(metric, {})
            m = st.get("mean")
            ci = st.get("ci") or [m, m]
            mean.append(m)
            lo.append(ci[0])
            hi.append(ci[1])
        c = cmap(i % 20)
        all_y += [float(v) for v in _arr(mean) if np.isfinite(v)]
        ax.plot(shares, _arr(mean), "-o", color=c, lw=1.4, ms=4, label=name)
        ax.fill_between(shares, _arr(lo), _arr(hi), color=c, alpha=0.12, lw=0)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(shares, [f"{s:g} %" for s in shares])
    _finish_lines(
        ax,
        all_y,
        "budget (share of the task's steps; each a whole schedule)",
        f"final {metric.replace('_', ' ')}",
    )
    fig.suptitle(f"{task}: final metric vs budget (mean, 95 % CI band)", fontsize=10.5)
    _save(fig, path)
    return path


def safe_name(task: str) -> str:
    """A file-name-safe form of a task name."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in task)

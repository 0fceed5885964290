"""Report sections for LR tuning (sensitivity) and rank vs budget, as markdown lines.

Each function takes the aggregated results (``results.json`` content) and returns lines; the
report (:mod:`lrkit.bench.presentation.report`) appends them. Everything said is computed from the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lrkit.bench.analysis.budget_ranks import rank_table
from lrkit.bench.analysis.recommend import seeds_phrase
from lrkit.bench.planning.budgets import budget_label
from lrkit.bench.planning.tuning import means_of, robustness_sentence

__all__ = ["budget_lines", "edge_warnings", "tuning_lines"]


def _f(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.3g}"


def edge_warnings(tuning: Mapping[str, Any]) -> list[str]:
    """One warning per schedule whose tuned LR is at the edge of the searched range.

    >>> edge_warnings({"constant": {"edge": "low", "range": [0.0125, 0.4], "chosen": 0.0125}})
    ['`constant`: tuned LR at the edge of the searched range [0.0125, 0.4] (lowest value); the optimum may lie outside it.']
    """
    out = []
    for name, r in tuning.items():
        if r.get("edge"):
            lo, hi = r["range"]
            side = "lowest" if r["edge"] == "low" else "highest"
            out.append(
                f"`{name}`: tuned LR at the edge of the searched range [{_f(lo)}, {_f(hi)}] "
                f"({side} value); the optimum may lie outside it."
            )
    return out


def tuning_lines(t: Mapping[str, Any], images: Sequence[str] = ()) -> list[str]:
    """The "LR sensitivity" block of one task: warnings, robustness sentence, table, figure."""
    plan = t.get("plan") or {}
    tuning: Mapping[str, Any] = plan.get("tuning") or {}
    if not tuning:
        return []
    lines = ["**LR sensitivity** (tuning runs: mean final val loss over the tuning seeds)", ""]
    seeds = next(iter(tuning.values())).get("seeds", [])
    lines.append(
        f"Each schedule's peak LR was tuned on {seeds_phrase(len(seeds))} "
        f"({', '.join(map(str, seeds))}), separate from the evaluation seeds, on a log grid "
        "extended by ×2 while the best value was at an edge; the chosen LR is **bold**."
    )
    lines.append("")
    for w in edge_warnings(tuning):
        lines.append(f"- ⚠ {w}")
    lines.append(f"- {robustness_sentence({n: means_of(r) for n, r in tuning.items()})}")
    lines.append("")
    lrs = sorted({float(g["lr"]) for r in tuning.values() for g in r["grid"]})
    lines.append("| schedule | " + " | ".join(_f(lr) for lr in lrs) + " |")
    lines.append("|" + "---|" * (len(lrs) + 1))
    for name, r in tuning.items():
        by_lr = {float(g["lr"]): g["mean"] for g in r["grid"]}
        cells = []
        for lr in lrs:
            if lr not in by_lr:
                cells.append("")
                continue
            v = _f(by_lr[lr]) if by_lr[lr] is not None else "diverged"
            cells.append(f"**{v}**" if lr == r["chosen"] else v)
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines.append("")
    for img in images:
        lines.append(f"![LR sensitivity]({img})")
        lines.append("")
    return lines


def budget_lines(
    budgets: Mapping[str, Any], images: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """The "Rank vs budget" section: per task a table of ranks (and means) per budget share."""
    if not budgets:
        return []
    lines = [
        "## Rank vs budget",
        "",
        "Every schedule was run bound to each budget (a whole schedule per budget, its shape "
        "scaled to the shorter run; with LR tuning, tuned per "
        "budget). Cells: rank (ties by overlapping 95 % CIs share a rank) and the mean of the "
        "ranked metric. The last column averages the ranks: the schedule to pick when the "
        "training length is unknown.",
        "",
    ]
    for task, tb in budgets.items():
        lines.append(f"### {task}")
        lines.append("")
        lines += rank_table(tb)
        lines.append("")
        best = _best_per_budget(tb)
        if best:
            lines.append("Best per budget: " + "; ".join(best) + ".")
            lines.append("")
        for img in (images or {}).get(task, []):
            lines.append(f"![{task} metric vs budget]({img})")
            lines.append("")
    return lines


def _best_per_budget(tb: Mapping[str, Any]) -> list[str]:
    out = []
    for i, label in enumerate(tb["labels"]):
        firsts = sorted(n for n, rks in tb["ranks"].items() if rks[i] == 1)
        if firsts:
            out.append(f"{label}: {', '.join(f'`{n}`' for n in firsts)}")
    return out


def budget_share_labels(shares: Sequence[float]) -> list[str]:
    """Labels for budget shares (``[0.1, 1.0]`` -> ``['10%', '100%']``)."""
    return [budget_label(s) for s in shares]


def extra_results(
    records: Sequence[Mapping[str, Any]], meta: Mapping[str, Any], cfg: Mapping[str, Any]
) -> dict[str, Any]:
    """results.json additions: ``budgets`` (when the bench ran several budgets) and ``claims``."""
    from lrkit.bench.analysis.budget_ranks import aggregate_budgets

    out: dict[str, Any] = {}
    if meta.get("budgets"):
        out["budgets"] = aggregate_budgets(
            records,
            meta["budgets"],
            baseline=str(cfg.get("baseline", "constant")),
            rank_metric=str(cfg.get("rank_metric", "val_loss")),
            resamples=int(cfg.get("bootstrap", 2000)),
            stats_seed=int(cfg.get("stats_seed", 0)),
        )
    if cfg.get("claims"):
        from lrkit.bench.analysis.claims import evaluate_claims

        out["claims"] = evaluate_claims(
            records,
            meta,
            resamples=int(cfg.get("bootstrap", 2000)),
            stats_seed=int(cfg.get("stats_seed", 0)),
        )
    return out


def extra_plots(results: Mapping[str, Any], run_dir: Any) -> dict[str, list[Any]]:
    """Sensitivity figures (under the task's key) and budget figures (key ``budgets:<task>``)."""
    from pathlib import Path

    from lrkit.bench.presentation.plots import plot_budgets, plot_sensitivity, safe_name

    run = Path(run_dir)
    out: dict[str, list[Any]] = {}
    for task, t in results["tasks"].items():
        tuning = (t.get("plan") or {}).get("tuning") or {}
        if tuning:
            out[task] = [
                plot_sensitivity(task, tuning, run / f"{safe_name(task)}-lr-sensitivity.png")
            ]
    for task, tb in (results.get("budgets") or {}).items():
        out[f"budgets:{task}"] = [plot_budgets(task, tb, run / f"{safe_name(task)}-budgets.png")]
    return out


def extra_sections(results: Mapping[str, Any], images: Mapping[str, Sequence[str]]) -> list[str]:
    """Markdown of the sections after the per-task ones: rank vs budget, then claims."""
    lines: list[str] = []
    budgets = results.get("budgets") or {}
    if budgets:
        imgs = {task: list(images.get(f"budgets:{task}", [])) for task in budgets}
        lines += budget_lines(budgets, imgs)
    if results.get("claims"):
        from lrkit.bench.analysis.claims import claims_lines

        lines += claims_lines(results["claims"])
    return lines

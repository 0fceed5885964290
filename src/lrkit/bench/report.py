"""results.json (schema ``lrkit.bench/1``) and report.md from a run folder's runs.jsonl.

:func:`build_report` is what ``lrkit report runs/<name>`` calls; it only reads runs.jsonl (and
bench.json, when present, to restrict the report to the runs of the last bench command).
Findings are worded from the statistics, never beyond them: a difference is called significant
only when the paired permutation p-value is below alpha *and* the 95 % CIs do not overlap.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lrkit.bench.aggregate import aggregate
from lrkit.bench.records import latest_by_key, read_records
from lrkit.bench.sections import extra_plots, extra_results, extra_sections, tuning_lines

__all__ = ["SCHEMA", "build_report", "findings", "render_markdown"]

SCHEMA = "lrkit.bench/1"


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _pct(x: float) -> str:
    return f"{abs(x) * 100:.0f} %"


def _pval(p: float) -> str:
    return f"p={p:.2g}" if p >= 0.001 else "p<0.001"


def _target_words(target: Mapping[str, Any]) -> str:
    metric = str(target["metric"]).replace("val_", "val ")
    value = float(target["value"])
    op = "≥" if target["higher_is_better"] else "≤"
    if "accuracy" in metric:
        return f"{value * 100:g} % {metric}"
    return f"{metric} {op} {value:g}"


def _metric_words(metric: str) -> str:
    return {
        "val_loss": "final val loss",
        "val_accuracy": "final val accuracy",
        "val_loss_auc": "val-loss AUC",
    }.get(metric, f"final {metric.replace('_', ' ')}")


def findings(task: str, t: Mapping[str, Any], alpha: float) -> list[str]:
    """Plain-language findings for one task, derived only from the aggregated statistics."""
    out: list[str] = []
    sched = t["schedules"]
    ranking = t["ranking"]
    rmetric = t["rank_metric"]
    words = _metric_words(rmetric)
    lower = not t["rank_higher_is_better"]
    n_seeds = max((len(e["seeds"]) for e in sched.values()), default=0)
    top = [r for r in ranking if r["rank"] == 1 and r["mean"] is not None]
    if top:
        lead = top[0]["name"]
        st = sched[lead]["metrics"][rmetric]
        best_word = "lowest" if lower else "highest"
        lo, hi = st["ci"]
        overlapping = [
            n
            for n, e in sched.items()
            if n != lead
            and e["metrics"][rmetric]["ci"] is not None
            and not (e["metrics"][rmetric]["ci"][1] < lo or e["metrics"][rmetric]["ci"][0] > hi)
        ]
        value = f"{_fmt(st['mean'])} ± {_fmt(st['std'], 2)}"
        if not overlapping and len(sched) > 1:
            out.append(
                f"**{lead}** had the {best_word} {words} ({value}); its 95 % CI overlaps no "
                f"other schedule's"
                + (
                    f" (only {n_seeds} seeds: such a CI is little more than the range of the runs)."
                    if n_seeds < 6
                    else "."
                )
            )
        elif overlapping:
            shown = ", ".join(overlapping[:6]) + (
                f" and {len(overlapping) - 6} more" if len(overlapping) > 6 else ""
            )
            out.append(
                f"{lead} had the {best_word} mean {words} ({value}), but its 95 % CI overlaps "
                f"those of {shown}: no single winner."
            )
    diverged = [
        f"{n} ({e['diverged']}/{len(e['seeds'])} seeds)" for n, e in sched.items() if e["diverged"]
    ]
    if diverged:
        out.append("Diverged (non-finite training loss): " + ", ".join(diverged) + ".")
    base = t.get("baseline")
    comps: Mapping[str, Any] = t.get("comparisons", {})
    if base is None or not comps:
        return out
    # Final-metric comparisons with the baseline.
    sig_better: list[str] = []
    sig_worse: list[str] = []
    nonsig: list[tuple[str, Mapping[str, Any]]] = []
    for name, c in comps.items():
        r = c.get(rmetric, {})
        if not r.get("n"):
            continue
        better = (r["mean_diff"] < 0) == lower
        if r["significant"]:
            rel_words = (
                f", {_pct(r['rel_diff'])} {'lower' if r['mean_diff'] < 0 else 'higher'}"
                if r.get("rel_diff") is not None
                else ""
            )
            b_mean = sched[base]["metrics"][rmetric]["mean"]
            text = (
                f"{name} ({_fmt(sched[name]['metrics'][rmetric]['mean'])} vs "
                f"{_fmt(b_mean)}{rel_words}, {_pval(r['p'])})"
            )
            (sig_better if better else sig_worse).append(text)
        else:
            nonsig.append((name, r))
    compared = [(n, c[rmetric]) for n, c in comps.items() if c.get(rmetric, {}).get("n")]
    if n_seeds > 1 and compared:
        each = [n for n, r in compared if r["same_sign"] and ((r["mean_diff"] < 0) == lower)]
        out.append(
            f"{len(each)} of {len(compared)} schedules had a {'lower' if lower else 'higher'} "
            f"{words} than {base} in every seed (a count, not a test)."
        )
    if sig_better:
        out.append(f"Better {words} than {base}: " + "; ".join(sig_better) + ".")
    if sig_worse:
        out.append(f"Worse {words} than {base}: " + "; ".join(sig_worse) + ".")
    if nonsig:
        names = ", ".join(n for n, _ in nonsig)
        out.append(f"No significant difference in {words} from {base}: {names}.")
        consistent = [
            (n, r) for n, r in nonsig if r.get("same_sign") and r["n"] > 1 and r.get("rel_diff")
        ]
        consistent.sort(key=lambda nr: -abs(nr[1]["rel_diff"]))
        if consistent:
            parts = []
            for n, r in consistent[:3]:
                direction = "lower" if r["mean_diff"] < 0 else "higher"
                parts.append(f"{n} {_pct(r['rel_diff'])} {direction} ({_pval(r['p'])})")
            out.append(
                f"Largest differences that point the same way in every seed but are not "
                f"significant: {', '.join(parts)}."
            )
    # Steps to target.
    target = t["target"]
    tw = _target_words(target)
    b = sched[base]
    b_all = b["reached_target"] == len(b["seeds"])
    faster: list[tuple[float, str]] = []
    slower: list[tuple[float, str]] = []
    same: list[str] = []
    for name, c in comps.items():
        e = sched[name]
        r = c.get("steps_to_target", {})
        if e["reached_target"] != len(e["seeds"]) or not b_all or not r.get("n"):
            continue
        m_e = e["metrics"]["steps_to_target"]["mean"]
        m_b = b["metrics"]["steps_to_target"]["mean"]
        rel = float(r.get("rel_diff") or 0.0)
        sig = "" if r["significant"] else ", not significant"
        more = "fewer" if rel < 0 else "more"
        text = (
            f"{name} ({_fmt(m_e)} vs {_fmt(m_b)} steps, {_pct(rel)} {more}, {_pval(r['p'])}{sig})"
        )
        if abs(rel) < 1e-12:
            same.append(name)
        elif rel < 0:
            faster.append((rel, text))
        else:
            slower.append((rel, text))
    if faster:
        faster.sort()
        out.append(
            f"Reached {tw} in fewer steps than {base}: " + "; ".join(t for _, t in faster) + "."
        )
    if slower:
        slower.sort(reverse=True)
        out.append(
            f"Reached {tw} in more steps than {base}: " + "; ".join(t for _, t in slower) + "."
        )
    if not b_all:
        reached_all = [
            n for n, e in sched.items() if n != base and e["reached_target"] == len(e["seeds"])
        ]
        missing = len(b["seeds"]) - b["reached_target"]
        line = (
            f"{base} did not reach {tw} within {b['steps']} steps in {missing} of "
            f"{len(b['seeds'])} seeds"
        )
        line += (
            f"; reached it in every seed: {', '.join(reached_all)}."
            if reached_all
            else "; no schedule reached it in every seed."
        )
        out.append(line)
    never = [n for n, e in sched.items() if e["reached_target"] == 0]
    if never and len(never) < len(sched):
        out.append(f"Never reached {tw}: {', '.join(never)}.")
    min_p = 2.0 / 2**n_seeds if n_seeds else 1.0
    if min_p >= alpha:
        out.append(
            f"With {n_seeds} seed(s) the paired permutation test cannot go below p={min_p:.2g}, "
            f"so no difference can be significant at {alpha:g}; the differences above are "
            f"descriptive. Rerun with `--seeds 6` or more to test them."
        )
    return out


def _stat_cell(st: Mapping[str, Any], pct: bool = False) -> str:
    if st.get("mean") is None:
        return "–"
    k = 100.0 if pct else 1.0
    return f"{_fmt(st['mean'] * k)} ± {_fmt(st['std'] * k, 2)}"


def _ci_cell(st: Mapping[str, Any], pct: bool = False) -> str:
    if not st.get("ci"):
        return "–"
    k = 100.0 if pct else 1.0
    return f"[{_fmt(st['ci'][0] * k)}, {_fmt(st['ci'][1] * k)}]"


def render_markdown(results: Mapping[str, Any], images: Mapping[str, Sequence[str]]) -> str:
    """report.md text: setup, per-task findings, ranking table and figures."""
    lines: list[str] = []
    name = results.get("name", "bench")
    alpha = float(results["stats"]["alpha"])
    lines.append(f"# lrkit bench: {name}")
    lines.append("")
    lines.append(
        f"Generated {results['generated']} from `runs.jsonl` ({results['n_runs']} runs). "
        "Rebuild with `lrkit report " + str(results.get("run_dir", f"runs/{name}")) + "`."
    )
    lines.append("")
    lines.append("## Headline")
    lines.append("")
    for task, t in results["tasks"].items():
        f = t["findings"]
        lines.append(f"- **{task}**: {f[0] if f else 'no finished runs.'}")
    lines.append("")
    lines.append("## Method")
    lines.append("")
    lines.append(
        "Every schedule is a unit-peak shape scaled by its peak LR and bound to the same step "
        "budget. Statistics over seeds: mean ± sample std, a percentile bootstrap 95 % CI of "
        f"the mean ({results['stats']['bootstrap_resamples']} seeded resamples). Ranking: sorted "
        "by mean; a schedule whose CI overlaps the CI of a better group leader shares that "
        "leader's rank (=), so a shared rank means the CIs cannot separate them. Comparisons with the baseline are paired by seed (two-sided "
        f"sign-flip permutation test); *significant* means p < {alpha:g} **and** "
        "non-overlapping CIs. AUC = mean validation loss over training (trapezoid over "
        "evaluations, including the one at step 0)."
    )
    lines.append("")
    for task, t in results["tasks"].items():
        sched = t["schedules"]
        any_e = next(iter(sched.values()))
        lines.append(f"## {task}")
        lines.append("")
        plan = t.get("plan") or {}
        peaks = sorted({e["peak_lr"] for e in sched.values()})
        src = sorted(set((plan.get("lr_source") or {}).values())) or ["recorded"]
        lines.append(
            f"{any_e['steps']} steps per run, seeds {', '.join(map(str, any_e['seeds']))}, "
            f"peak LR {', '.join(_fmt(p) for p in peaks)} ({', '.join(src)}), "
            f"target {_target_words(t['target'])}."
        )
        for sk in plan.get("skipped", []):
            lines.append(f"Skipped {sk['schedule']}: {sk['reason']}.")
        lines.append("")
        lines.append("**Findings**")
        lines.append("")
        for f in t["findings"]:
            lines.append(f"- {f}")
        lines.append("")
        tmetric = t["target"]["metric"]
        is_acc = "accuracy" in tmetric
        rm = _metric_words(t["rank_metric"])
        head = ["rank", "schedule", "peak LR", f"{rm}", "95 % CI"]
        if tmetric != "val_loss":
            head.append(tmetric.replace("_", " ") + (" (%)" if is_acc else ""))
        head += [f"steps to {_target_words(t['target'])}", "val-loss AUC"]
        base = t.get("baseline")
        if base:
            head.append(f"Δ vs {base} (p)")
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for r in t["ranking"]:
            e = sched[r["name"]]
            m = e["metrics"]
            rank = f"{r['rank']}{'=' if r['tied'] else ''}"
            row = [
                rank,
                f"`{r['name']}`",
                _fmt(e["peak_lr"]),
                _stat_cell(m[t["rank_metric"]]),
                _ci_cell(m[t["rank_metric"]]),
            ]
            if tmetric != "val_loss":
                row.append(_stat_cell(m[tmetric], pct=is_acc))
            st = m["steps_to_target"]
            reached = f"{e['reached_target']}/{len(e['seeds'])}"
            row.append(
                f"{_fmt(st['mean'])} ({reached})" if st["mean"] is not None else f"– ({reached})"
            )
            row.append(_stat_cell(m["val_loss_auc"]))
            if base:
                c = t["comparisons"].get(r["name"], {}).get(t["rank_metric"], {})
                if r["name"] == base:
                    row.append("baseline")
                elif c.get("n"):
                    rel = c.get("rel_diff")
                    d = f"{rel * 100:+.0f} %" if rel is not None else _fmt(c["mean_diff"])
                    star = " *" if c["significant"] else ""
                    row.append(f"{d} ({_pval(c['p'])}){star}")
                else:
                    row.append("–")
            if e["diverged"]:
                row[1] += f" (diverged {e['diverged']}/{len(e['seeds'])})"
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        lines.append("Schedules (unit-peak text, scaled by the peak LR):")
        lines.append("")
        for n, e in sched.items():
            extra = ""
            if e.get("momentum_text"):
                extra += f"; momentum `{e['momentum_text']}`"
            if e.get("plateau"):
                extra += f"; plateau {json.dumps(e['plateau'])}"
            if e["optimizer"] != any_e["optimizer"] or e["optimizer"].endswith("schedulefree"):
                extra += f"; optimizer {e['optimizer']}"
            lines.append(f"- `{n}`: `{e['lr_text']}`{extra}")
        lines.append("")
        lines += tuning_lines(t)
        for img in images.get(task, []):
            lines.append(f"![{task}]({img})")
            lines.append("")
    lines += extra_sections(results, images)
    lines.append("Generated by lrkit bench; see docs/bench.md for the method.")
    lines.append("")
    return "\n".join(lines)


def build_report(run_dir: str | os.PathLike[str], *, plots: bool | None = None) -> dict[str, Path]:
    """Aggregate ``run_dir/runs.jsonl`` into results.json, report.md and PNGs; return paths."""
    run = Path(run_dir)
    runs_path = run / "runs.jsonl"
    if not runs_path.exists():
        raise FileNotFoundError(
            f"lrkit report: {str(runs_path)!r} does not exist; run `lrkit bench` first"
        )
    meta: dict[str, Any] = {}
    meta_path = run / "bench.json"
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError:
            meta = {}
    records = list(latest_by_key(read_records(runs_path)).values())
    all_records = records
    keys = meta.get("keys")
    if keys:
        wanted = set(keys)
        records = [r for r in records if r["key"] in wanted]
    cfg = meta.get("config", {})
    alpha = 0.05
    agg = aggregate(
        records,
        baseline=str(cfg.get("baseline", "constant")),
        rank_metric=str(cfg.get("rank_metric", "val_loss")),
        resamples=int(cfg.get("bootstrap", 2000)),
        stats_seed=int(cfg.get("stats_seed", 0)),
        alpha=alpha,
    )
    plans = {p["task"]: p for p in meta.get("plans", [])}
    for task, t in agg["tasks"].items():
        t["plan"] = plans.get(task)
        t["findings"] = findings(task, t, alpha)
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "name": meta.get("name", run.name),
        "run_dir": str(run),
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_runs": len(records),
        "config": cfg,
        "stats": {
            "alpha": alpha,
            "bootstrap_resamples": agg["bootstrap_resamples"],
            "test": "paired sign-flip permutation",
            "ci": "percentile bootstrap 95 %",
        },
        "tasks": agg["tasks"],
    }
    results.update(extra_results(all_records, meta, cfg))
    paths: dict[str, Path] = {}
    images: dict[str, list[str]] = {}
    do_plots = cfg.get("plots", True) if plots is None else plots
    if do_plots:
        from lrkit.bench.plots import plot_task

        for task, t in agg["tasks"].items():
            files = plot_task(task, t, run)
            images[task] = [p.name for p in files]
            for p in files:
                paths[p.stem] = p
        for key, files in extra_plots(results, run).items():
            images.setdefault(key, []).extend(p.name for p in files)
            for p in files:
                paths[p.stem] = p
    results_path = run / "results.json"
    results_path.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
    report_path = run / "report.md"
    report_path.write_text(render_markdown(results, images))
    paths["results"] = results_path
    paths["report"] = report_path
    return paths

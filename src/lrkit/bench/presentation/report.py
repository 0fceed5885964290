"""results.json (schema ``lrkit.bench/1``) and report.md from a run folder's runs.jsonl.

:func:`build_report` is what ``lrkit report runs/<name>`` calls; it only reads runs.jsonl (and
bench.json, when present, to restrict the report to the runs of the last bench command).
Findings are worded from the statistics, never beyond them: a difference is called significant
only when the paired permutation p-value is below alpha *and* the 95 % CIs do not overlap.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lrkit.bench.analysis.aggregate import aggregate
from lrkit.bench.analysis.recommend import (
    few_seeds_words,
    n_seeds,
    ordered_rows,
    race_pair,
    recommendation,
    seeds_phrase,
)
from lrkit.bench.execution.records import json_safe, latest_by_key, read_meta, read_records
from lrkit.bench.execution.rundir import check_run_dir, open_file, read_bytes, write_atomic
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.presentation.labels import peak_source, peak_words, seed_words
from lrkit.bench.presentation.race_report import (
    paste_info,
    paste_lines,
    race_findings,
    race_lines,
    race_recommendation,
)
from lrkit.bench.presentation.sections import (
    extra_plots,
    extra_results,
    extra_sections,
    tuning_lines,
)

__all__ = ["SCHEMA", "build_report", "findings", "inputs_digest", "render_markdown"]

SCHEMA = "lrkit.bench/1"


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _steps(x: float) -> str:
    """A mean of step counts, to the step: ``46.67`` -> ``"47"``."""
    return f"{x:,.0f}"


def _pct(x: float) -> str:
    return f"{abs(x) * 100:.0f} %"


def _pval(p: float) -> str:
    return f"p={p:.2g}" if p >= 0.001 else "p<0.001"


def _has_target(t: Mapping[str, Any]) -> bool:
    """False for a function task declared without ``target=``."""
    return t["target"].get("value") is not None


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
    """Plain-language findings for one task, derived only from the aggregated statistics.

    With a race (``--seeds auto``) the first finding is the race's decision, and every
    fixed-sample p-value that disagrees with it says so next to it.
    """
    out = race_findings(t) + _winner_findings(t)
    diverged = [
        f"{n} ({e['diverged']}/{len(e['seeds'])} seeds)"
        for n, e in t["schedules"].items()
        if e["diverged"]
    ]
    if diverged:
        out.append("Diverged (non-finite training loss): " + ", ".join(diverged) + ".")
    if t.get("baseline") is None or not t.get("comparisons"):
        return out
    out += _single_run_findings(t) if _n_seeds(t) == 1 else _baseline_findings(t)
    if _has_target(t):
        out += _target_findings(t)
    out += _seed_note(t, alpha)
    return out


def _n_seeds(t: Mapping[str, Any]) -> int:
    return n_seeds(t)


def _race_of(t: Mapping[str, Any]) -> Mapping[str, Any]:
    race: Mapping[str, Any] = (t.get("plan") or {}).get("race") or {}
    return race


def _winner_findings(t: Mapping[str, Any]) -> list[str]:
    """Whether the schedule with the best mean is separated from all others by its CI."""
    sched = t["schedules"]
    rmetric = t["rank_metric"]
    words = _metric_words(rmetric)
    top = [r for r in t["ranking"] if r["rank"] == 1 and r["mean"] is not None]
    if not top:
        return []
    lead = top[0]["name"]
    st = sched[lead]["metrics"][rmetric]
    best_word = "highest" if t["rank_higher_is_better"] else "lowest"
    n = _n_seeds(t)
    if len(sched) == 1:
        return [f"only {lead} was run ({words} {_stat_cell(st)}): nothing to compare it with."]
    if n == 1:
        return [
            f"**{lead}** had the {best_word} {words} ({_fmt(st['mean'])}) in a single seed; one "
            f"seed cannot show a difference (no spread to compare with): rerun with "
            f"`--seeds auto`."
        ]
    lo, hi = st["ci"]
    overlapping = [
        name
        for name, e in sched.items()
        if name != lead
        and e["metrics"][rmetric]["ci"] is not None
        and not (e["metrics"][rmetric]["ci"][1] < lo or e["metrics"][rmetric]["ci"][0] > hi)
    ]
    value = _stat_cell(st)
    if not overlapping:
        if n < 6:
            return [
                f"**{lead}** had the {best_word} mean {words} ({value}); its bootstrap 95 % CI "
                f"overlaps no other schedule's ({few_seeds_words(n)}): a description, not a "
                f"test."
            ]
        return [
            f"**{lead}** had the {best_word} {words} ({value}); its 95 % CI overlaps no "
            f"other schedule's."
        ]
    shown = ", ".join(overlapping[:6]) + (
        f" and {len(overlapping) - 6} more" if len(overlapping) > 6 else ""
    )
    if _race_of(t).get("stop") == "winner":
        return [
            f"{lead} had the {best_word} mean {words} ({value}); its 95 % CI overlaps those of "
            f"{shown}: the CI of each mean alone ignores the pairing by seed that the race's "
            f"test uses."
        ]
    return [
        f"{lead} had the {best_word} mean {words} ({value}), but its 95 % CI overlaps "
        f"those of {shown}: no single winner."
    ]


def _single_run_findings(t: Mapping[str, Any]) -> list[str]:
    """One seed: the differences from the baseline as values, with no test and no p-value."""
    base, rmetric = t["baseline"], t["rank_metric"]
    parts = []
    for name, c in t["comparisons"].items():
        r = c.get(rmetric, {})
        if r.get("n") and r.get("rel_diff") is not None:
            direction = "lower" if r["mean_diff"] < 0 else "higher"
            parts.append(f"{name} {_pct(r['rel_diff'])} {direction}")
    if not parts:
        return []
    return [
        f"{_metric_words(rmetric)[0].upper()}{_metric_words(rmetric)[1:]} relative to {base} "
        f"in one run each (no test: a single seed has no spread): {', '.join(parts)}."
    ]


def _race_note(race: Mapping[str, Any], name: str, base: str, significant: bool) -> str:
    """The race's verdict on ``name`` vs ``base`` where the fixed-sample test says otherwise
    ("" where they agree or the race compared neither with the other)."""
    got = race_pair(race, name, base) if race else None
    if got is None:
        return ""
    verdict, k = got
    if verdict in ("better", "worse") and not significant:
        return (
            f"the race's sequential test found {name} significantly {verdict} than {base} at "
            f"{seeds_phrase(k)}"
        )
    if verdict in ("equivalent", "open") and significant:
        return "the race, whose intervals are corrected for its looks, did not separate them"
    return ""


def _baseline_findings(t: Mapping[str, Any]) -> list[str]:
    """Final-metric comparisons with the baseline (paired by seed)."""
    out: list[str] = []
    sched, base, rmetric = t["schedules"], t["baseline"], t["rank_metric"]
    comps: Mapping[str, Any] = t["comparisons"]
    race = _race_of(t)
    words = _metric_words(rmetric)
    lower = not t["rank_higher_is_better"]
    sig_better: list[str] = []
    sig_worse: list[str] = []
    nonsig: list[tuple[str, Mapping[str, Any]]] = []
    for name, c in comps.items():
        r = c.get(rmetric, {})
        if not r.get("n"):
            continue
        if not r["significant"]:
            nonsig.append((name, r))
            continue
        rel_words = (
            f", {_pct(r['rel_diff'])} {'lower' if r['mean_diff'] < 0 else 'higher'}"
            if r.get("rel_diff") is not None
            else ""
        )
        note = _race_note(race, name, base, significant=True)
        note = f"; {note}" if note else ""
        text = (
            f"{name} ({_fmt(sched[name]['metrics'][rmetric]['mean'])} vs "
            f"{_fmt(sched[base]['metrics'][rmetric]['mean'])}{rel_words}, {_pval(r['p'])}{note})"
        )
        (sig_better if (r["mean_diff"] < 0) == lower else sig_worse).append(text)
    compared = [(n, c[rmetric]) for n, c in comps.items() if c.get(rmetric, {}).get("n")]
    if _n_seeds(t) > 1 and compared:
        each = [n for n, r in compared if r["same_sign"] and ((r["mean_diff"] < 0) == lower)]
        out.append(
            f"{len(each)} of {len(compared)} schedules had a {'lower' if lower else 'higher'} "
            f"{words} than {base} in every seed (a count, not a test)."
        )
    by = " by the fixed-sample test (computed after the race stopped)" if race else ""
    if sig_better:
        out.append(f"Better {words} than {base}{by}: " + "; ".join(sig_better) + ".")
    if sig_worse:
        out.append(f"Worse {words} than {base}{by}: " + "; ".join(sig_worse) + ".")
    if nonsig:
        out += _nonsignificant(nonsig, words, base, race)
    return out


def _nonsignificant(
    nonsig: Sequence[tuple[str, Mapping[str, Any]]],
    words: str,
    base: str,
    race: Mapping[str, Any] | None = None,
) -> list[str]:
    if race:
        parts = []
        for n, r in nonsig:
            note = _race_note(race, n, base, significant=False)
            if note:
                least = r["p"] <= float(r.get("min_p", 0.0)) * (1 + 1e-9)
                smallest = f", the smallest it gives with {r['n']} pairs" if least else ""
                parts.append(f"{n} ({_pval(r['p'])}{smallest}; {note})")
            else:
                parts.append(n)
        out = [
            f"By the fixed-sample test (paired permutation test computed after the race stopped: "
            f"it describes the data, the race decides), no significant difference in {words} "
            f"from {base}: {', '.join(parts)}."
        ]
    else:
        out = [
            f"No significant difference in {words} from {base}: {', '.join(n for n, _ in nonsig)}."
        ]
    consistent = [
        (n, r) for n, r in nonsig if r.get("same_sign") and r["n"] > 1 and r.get("rel_diff")
    ]
    consistent.sort(key=lambda nr: -abs(nr[1]["rel_diff"]))
    if consistent:
        parts = []
        for n, r in consistent[:3]:
            direction = "lower" if r["mean_diff"] < 0 else "higher"
            parts.append(f"{n} {_pct(r['rel_diff'])} {direction} ({_why_not(r)})")
        out.append(
            f"Largest differences that point the same way in every seed but are not "
            f"significant{' by the fixed-sample test' if race else ''}: {', '.join(parts)}."
        )
    return out


def _why_not(r: Mapping[str, Any], alpha: float = 0.05) -> str:
    """The p-value, and why a p below alpha is still not called significant."""
    if r["p"] < alpha and r.get("ci_overlap"):
        return f"{_pval(r['p'])} < {alpha:g}, but the 95 % CIs of the two means overlap"
    return _pval(r["p"])


def _target_findings(t: Mapping[str, Any]) -> list[str]:
    """Steps to the task's target, compared with the baseline."""
    out: list[str] = []
    sched, base, comps = t["schedules"], t["baseline"], t["comparisons"]
    tw = _target_words(t["target"])
    b = sched[base]
    b_all = b["reached_target"] == len(b["seeds"])
    faster: list[tuple[float, str]] = []
    slower: list[tuple[float, str]] = []
    for name, c in comps.items():
        e = sched[name]
        r = c.get("steps_to_target", {})
        if e["reached_target"] != len(e["seeds"]) or not b_all or not r.get("n"):
            continue
        m_e = e["metrics"]["steps_to_target"]["mean"]
        m_b = b["metrics"]["steps_to_target"]["mean"]
        rel = float(r.get("rel_diff") or 0.0)
        sig = "" if r["significant"] else ", not significant"
        if not r["significant"] and r["p"] < 0.05 and r.get("ci_overlap"):
            sig = ", not significant: p < 0.05 but the 95 % CIs overlap"
        more = "fewer" if rel < 0 else "more"
        test = f", {_pval(r['p'])}{sig}" if r["n"] > 1 else ", one run each: no test"
        text = f"{name} ({_steps(m_e)} vs {_steps(m_b)} steps, {_pct(rel)} {more}{test})"
        if abs(rel) >= 1e-12:
            (faster if rel < 0 else slower).append((rel, text))
    if faster:
        faster.sort()
        out.append(
            f"Reached {tw} in fewer steps than {base}: "
            + "; ".join(x for _, x in faster)
            + "; step counts are means over the seeds."
        )
    if slower:
        slower.sort(reverse=True)
        out.append(
            f"Reached {tw} in more steps than {base}: "
            + "; ".join(x for _, x in slower)
            + "; step counts are means over the seeds."
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
    return out


def _seed_note(t: Mapping[str, Any], alpha: float) -> list[str]:
    if (t.get("plan") or {}).get("race"):  # --seeds auto: the race's rule decides, said below
        return []
    n = _n_seeds(t)
    min_p = 2.0 / 2**n if n else 1.0
    if min_p < alpha:
        return []
    if n == 1:
        return [
            "With 1 seed there is no spread to compare: no difference can be tested, and the "
            "values above are single runs. Rerun with `--seeds auto` (or `--seeds 6` or more) "
            "to test them."
        ]
    return [
        f"With {seeds_phrase(n)} the paired permutation test cannot go below p={min_p:.2g}, "
        f"so no difference can be significant at {alpha:g}; the differences above are "
        f"descriptive. Rerun with `--seeds auto` (or `--seeds 6` or more) to test them."
    ]


def _stat_cell(st: Mapping[str, Any], pct: bool = False) -> str:
    if st.get("mean") is None:
        return "–"
    k = 100.0 if pct else 1.0
    if st.get("n") == 1 or st.get("std") is None:  # one value: no spread to show
        return _fmt(st["mean"] * k)
    return f"{_fmt(st['mean'] * k)} ± {_fmt(st['std'] * k, 2)}"


def _ci_cell(st: Mapping[str, Any], pct: bool = False) -> str:
    if not st.get("ci") or st.get("n") == 1:  # one value: no interval
        return "–"
    k = 100.0 if pct else 1.0
    return f"[{_fmt(st['ci'][0] * k)}, {_fmt(st['ci'][1] * k)}]"


def render_markdown(results: Mapping[str, Any], images: Mapping[str, Sequence[str]]) -> str:
    """report.md text: recommendations, headline, method, then per task its findings,
    ranking table, schedules and figures."""
    lines = _preamble(results)
    for task, t in results["tasks"].items():
        lines += _task_section(task, t, images.get(task, []))
    lines += extra_sections(results, images)
    lines.append("Generated by lrkit bench; see docs/bench.md for the method.")
    lines.append("")
    return "\n".join(lines)


def _runs_words(results: Mapping[str, Any]) -> str:
    """ "12 main runs (+52 tuning runs)": the runs the statistics use, and the others counted.

    >>> _runs_words({"n_runs": 12, "n_other_runs": {"tuning": 52, "budget": 0}})
    '12 main runs, plus 52 tuning runs'
    """
    n = int(results["n_runs"])
    main = f"{n} main run{'' if n == 1 else 's'}"
    other = [
        f"{k} {what} run{'' if k == 1 else 's'}"
        for what, k in (results.get("n_other_runs") or {}).items()
        if k
    ]
    return main + (f", plus {' and '.join(other)}" if other else "")


def _preamble(results: Mapping[str, Any]) -> list[str]:
    name = results.get("name", "bench")
    alpha = float(results["stats"]["alpha"])
    run_dir = str(results.get("run_dir", f"runs/{name}"))
    lines = [
        f"# lrkit bench: {name}",
        "",
        f"Generated {results['generated']} from `runs.jsonl` ({_runs_words(results)}). "
        f"Rebuild with `lrkit report {run_dir}`.",
        "",
        "## Recommendation",
        "",
    ]
    for task, t in results["tasks"].items():
        lines.append(f"- **{task}**: {t.get('recommendation') or recommendation(t)}")
        lines += paste_lines(t)
    if not results["tasks"]:
        lines.append("- No run finished: every run failed (`error` in runs.jsonl says why).")
    lines += ["", "## Headline", ""]
    for task, t in results["tasks"].items():
        f = t["findings"]
        lines.append(f"- **{task}**: {f[0] if f else 'no finished runs.'}")
    lines += [
        "",
        "## Method",
        "",
        "Every schedule is a unit-peak shape scaled by its peak LR and bound to the same step "
        "budget. Statistics over seeds: mean ± sample std, a percentile bootstrap 95 % CI of "
        f"the mean ({results['stats']['bootstrap_resamples']} seeded resamples). The ranking "
        "table is sorted by the mean; its *group* letters come from the CIs: walking down the "
        "table, a schedule whose CI overlaps no earlier group leader's CI starts a new letter; "
        "each schedule carries the letter of every leader whose CI overlaps its own, so "
        "schedules sharing a letter are not separated by their CIs. The recommendation names "
        "the best mean, the schedules whose CI overlaps its CI (statistically tied) and the "
        "simplest of them: fewest nodes in the schedule tree (a plateau controller counts as "
        "one), then fewest parameters. Comparisons with the baseline are paired by seed "
        f"(two-sided sign-flip permutation test); *significant* means p < {alpha:g} **and** "
        "non-overlapping CIs. AUC = mean validation loss over training (trapezoid over "
        "evaluations, from the one at step 0 for built-in tasks, from the first one the loop "
        "made for function tasks)." + _race_method(results),
        "",
    ]
    return lines


def _race_method(results: Mapping[str, Any]) -> str:
    """The Method's sentence on ``--seeds auto``, when some task raced."""
    if not any((t.get("plan") or {}).get("race") for t in results["tasks"].values()):
        return ""
    return (
        " With `--seeds auto` the decision is the race's (section *Race* of each task): after "
        "each round of seeds every schedule is compared with the leader by a Student-t "
        "interval of the paired differences, at a level corrected for the comparisons and the "
        "looks fixed in advance, so its guarantee holds however often it looks (optional "
        "stopping). The fixed-sample p-values and CIs are computed after the race stopped: "
        "they describe the data, and with few seeds can disagree with the race's decision; "
        "the findings say so where they do."
    )


def _task_section(task: str, t: Mapping[str, Any], images: Sequence[str]) -> list[str]:
    sched = t["schedules"]
    any_e = next(iter(sched.values()))
    plan = t.get("plan") or {}
    lines = [
        f"## {task}",
        "",
        f"{any_e['steps']} steps per run, {seed_words(t)}, {peak_words(t)}"
        + (f", target {_target_words(t['target'])}." if _has_target(t) else "; no target set."),
    ]
    lines += [f"Skipped {sk['schedule']}: {sk['reason']}." for sk in plan.get("skipped", [])]
    lines += ["", "**Findings**", ""]
    lines += [f"- {f}" for f in t["findings"]]
    lines.append("")
    lines += race_lines(t)
    lines += _ranking_table(t)
    lines += ["", "Schedules (unit-peak text, scaled by the peak LR):", ""]
    lines += _schedule_lines(t)
    lines.append("")
    lines += tuning_lines(t)
    for img in images:
        lines += [f"![{image_alt(task, img)}]({img})", ""]
    return lines


#: What each figure of a task shows, by the end of its file name (lrkit.bench.presentation.plots).
_FIGURES = (
    (
        "-lr-sensitivity.png",
        "LR sensitivity: mean tuning val loss against the peak LR per schedule",
    ),
    ("-lr.png", "LR (and momentum) of each schedule over training"),
    ("-loss.png", "validation loss over training per schedule (mean over seeds, band min to max)"),
    ("-final.png", "final metric per schedule with its 95 % CI, best first"),
    ("-budgets.png", "metric against the step budget per schedule"),
)


def image_alt(task: str, filename: str) -> str:
    """The alt text of a figure: the task and what the figure shows.

    >>> image_alt("toy", "toy-loss.png")
    'toy: validation loss over training per schedule (mean over seeds, band min to max)'
    """
    what = next((w for end, w in _FIGURES if filename.endswith(end)), "figure")
    return f"{task}: {what}"


def _ranking_table(t: Mapping[str, Any]) -> list[str]:
    """The ranking table, sorted by the statistic, with the tie letters as a column."""
    sched = t["schedules"]
    tmetric = t["target"]["metric"]
    is_acc = "accuracy" in tmetric
    head = ["rank", "schedule", "group", "peak LR", _metric_words(t["rank_metric"]), "95 % CI"]
    if tmetric != "val_loss":
        head.append(tmetric.replace("_", " ") + (" (%)" if is_acc else ""))
    if _has_target(t):
        head.append(f"steps to {_target_words(t['target'])} (mean over the seeds that reached it)")
    head.append("val-loss AUC")
    base = t.get("baseline")
    if base:
        head.append(f"Δ vs {base} ({'fixed-sample p' if _race_of(t) else 'p'})")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in ordered_rows(t):
        e = sched[r["name"]]
        m = e["metrics"]
        row = [
            str(r["position"]),
            f"`{r['name']}`",
            r["letters"] or "–",
            _fmt(e["peak_lr"]) + (f" ({src})" if (src := peak_source(t, r["name"])) else ""),
            _stat_cell(m[t["rank_metric"]]),
            _ci_cell(m[t["rank_metric"]]),
        ]
        if tmetric != "val_loss":
            row.append(_stat_cell(m[tmetric], pct=is_acc))
        if _has_target(t):
            st = m["steps_to_target"]
            reached = f"{e['reached_target']}/{len(e['seeds'])}"
            row.append(
                f"{_steps(st['mean'])} ({reached})" if st["mean"] is not None else f"– ({reached})"
            )
        row.append(_stat_cell(m["val_loss_auc"]))
        if base:
            row.append(_delta_cell(t, r["name"], base))
        if e["diverged"]:
            row[1] += f" (diverged {e['diverged']}/{len(e['seeds'])})"
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _delta_cell(t: Mapping[str, Any], name: str, base: str) -> str:
    if name == base:
        return "baseline"
    c = t["comparisons"].get(name, {}).get(t["rank_metric"], {})
    if not c.get("n"):
        return "–"
    rel = c.get("rel_diff")
    d = f"{rel * 100:+.0f} %" if rel is not None else _fmt(c["mean_diff"])
    if c["n"] == 1:  # one pair: no test
        return d
    return f"{d} ({_pval(c['p'])}){' *' if c['significant'] else ''}"


def _schedule_lines(t: Mapping[str, Any]) -> list[str]:
    sched = t["schedules"]
    first = next(iter(sched.values()))
    lines = []
    for n, e in sched.items():
        extra = ""
        if e.get("momentum_text"):
            extra += f"; momentum `{e['momentum_text']}`"
        if e.get("plateau"):
            extra += f"; plateau {json.dumps(e['plateau'])}"
        if e["optimizer"] != first["optimizer"] or e["optimizer"].endswith("schedulefree"):
            extra += f"; optimizer {e['optimizer']}"
        lines.append(f"- `{n}`: `{e['lr_text']}`{extra}")
    return lines


def inputs_digest(run_dir: str | os.PathLike[str]) -> str:
    """SHA-256 of what a report is built from: runs.jsonl and bench.json (without its
    "updated" time). Equal digests mean equal statistics."""
    run = Path(run_dir)
    h = hashlib.sha256()
    with os.fdopen(open_file(run / "runs.jsonl", os.O_RDONLY), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    meta = _read_meta(run)
    meta.pop("updated", None)
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()


def _read_meta(run: Path) -> dict[str, Any]:
    # checked: a malformed bench.json is a ValueError naming the field, not a KeyError later
    meta = read_meta(run / "bench.json")
    if "config" in meta:  # by the rules of the command line: no bootstrap=10**9, no 0
        BenchConfig.from_stored(meta["config"], where=str(run / "bench.json"))
    return meta


def _up_to_date(run: Path, digest: str, plots: bool) -> dict[str, Path] | None:
    """The paths of the existing report when results.json was built from ``digest`` (and the
    figures exist, when ``plots``)."""
    results_path, report_path = run / "results.json", run / "report.md"
    raw = read_bytes(results_path)
    if raw is None or not report_path.exists():
        return None
    try:
        old = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8): rebuild it
        return None
    if not isinstance(old, dict) or old.get("inputs_digest") != digest:
        return None
    paths = {p.stem: p for p in run.glob("*.png")}
    if plots and not paths:
        return None
    paths.update(results=results_path, report=report_path)
    return paths


def _results(
    run: Path, meta: Mapping[str, Any], records: list[dict[str, Any]], alpha: float
) -> dict[str, Any]:
    """The results.json document: aggregated statistics, findings and recommendations."""
    cfg = meta.get("config", {})
    agg = aggregate(
        records,
        baseline=str(cfg.get("baseline", "constant")),
        rank_metric=str(cfg.get("rank_metric", "val_loss")),
        resamples=int(cfg.get("bootstrap", 2000)),
        stats_seed=int(cfg.get("stats_seed", 0)),
        alpha=alpha,
    )
    plans = {p["task"]: p for p in meta.get("plans", [])}
    base = str(cfg.get("baseline", "constant"))
    for task, t in agg["tasks"].items():
        t["plan"] = plans.get(task)
        t["findings"] = findings(task, t, alpha)
        t["recommendation"] = race_recommendation(t) or recommendation(t)
        t["paste"] = paste_info(t)
        if t.get("baseline") is None and t["schedules"]:
            # e.g. `-s cosine -s wsd`: nothing says whether either beats a constant LR
            t["findings"].append(
                f"No comparison with a baseline: `{base}` was not run (add `-s {base}`, or "
                f"name one of the schedules run with `--baseline`)."
            )
            t["recommendation"] += f" (Not compared with a baseline: `{base}` was not run.)"
    return {
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


def _other_runs(meta: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Runs of the last bench command beyond the main ones: LR tuning (every score of every
    tuning grid in bench.json) and the shorter budgets (their finished keys)."""
    main = set(meta.get("keys") or [])
    plans = list(meta.get("plans") or [])
    budget_keys: set[str] = set()
    for b in meta.get("budgets") or []:
        if float(b.get("share", 1.0)) != 1.0:
            plans += list(b.get("plans") or [])
            budget_keys.update(str(k) for k in b.get("keys") or [])
    tuning = sum(
        len(g.get("scores") or [])
        for p in plans
        for r in (p.get("tuning") or {}).values()
        for g in r.get("grid") or []
    )
    budget = sum(1 for r in records if r.get("key") in budget_keys - main)
    return {"tuning": tuning, "budget": budget}


def build_report(
    run_dir: str | os.PathLike[str], *, plots: bool | None = None, force: bool = True
) -> dict[str, Path]:
    """Aggregate ``run_dir/runs.jsonl`` into results.json, report.md and PNGs; return paths.

    With ``force=False`` nothing is rebuilt when results.json records the same
    :func:`inputs_digest` (a rerun with nothing new to do); ``lrkit report`` forces.
    """
    run = Path(run_dir)
    check_run_dir(run)  # no links inside: never read or write through them
    runs_path = run / "runs.jsonl"
    if not runs_path.exists():
        raise FileNotFoundError(
            f"lrkit report: {str(runs_path)!r} does not exist; run `lrkit bench` first"
        )
    meta = _read_meta(run)
    do_plots = bool(meta.get("config", {}).get("plots", True) if plots is None else plots)
    digest = inputs_digest(run)
    if not force:
        existing = _up_to_date(run, digest, do_plots)
        if existing is not None:
            return existing
    records = list(latest_by_key(read_records(runs_path)).values())
    all_records = records  # budgets and claims read runs beyond the main keys
    keys = meta.get("keys")
    if keys:
        wanted = set(keys)
        records = [r for r in records if r["key"] in wanted]
    results = _results(run, meta, records, alpha=0.05)
    results["n_other_runs"] = _other_runs(meta, all_records)
    results.update(extra_results(all_records, meta, meta.get("config", {})))
    results["inputs_digest"] = digest
    paths: dict[str, Path] = {}
    images: dict[str, list[str]] = {}
    if do_plots:
        from lrkit.bench.presentation.plots import plot_task

        for task, t in results["tasks"].items():
            files = plot_task(task, t, run)
            images[task] = [p.name for p in files]
            paths.update({p.stem: p for p in files})
        for key, files in extra_plots(results, run).items():
            images.setdefault(key, []).extend(p.name for p in files)
            paths.update({p.stem: p for p in files})
    results_path = run / "results.json"
    results = json_safe(results)  # non-finite numbers (overflowed stats) become null
    text = json.dumps(results, indent=1, allow_nan=False) + "\n"
    report_path = run / "report.md"
    # the report first, results.json last: its inputs digest says the report is done
    write_atomic(report_path, render_markdown(results, images))
    write_atomic(results_path, text)
    paths["results"] = results_path
    paths["report"] = report_path
    return paths

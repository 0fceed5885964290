"""Labels a reader understands without the Method section: the task header and plot titles.

>>> t = {"schedules": {"a": {"peak_lr": 0.1, "optimizer": "sgd"},
...                    "b": {"peak_lr": 0.1, "optimizer": "sgd"},
...                    "sf": {"peak_lr": 1.0, "optimizer": "sgd-schedulefree"}},
...      "plan": {"lr_source": {"a": "task default", "b": "task default", "sf": "task default"}}}
>>> peak_words(t)
'peak LR 0.1 (task default); sf: 1 (the task default for sgd-schedulefree)'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrkit.bench.analysis.recommend import ordered_rows

__all__ = ["peak_source", "peak_words", "plot_title", "seed_words"]

_FINDER = "range test ("


def _f(x: float) -> str:
    return f"{x:.4g}"


def _finder_rule(source: str) -> str | None:
    """The finder's peak rule named in an ``lr_source`` like "range test (valley_x4)"."""
    if source.startswith(_FINDER) and source.endswith(")"):
        return source[len(_FINDER) : -1]
    return None


def _multiplier(rule: str, optimizer: str) -> float | None:
    from lrkit.finder.recommend import OPTIMIZER_FAMILIES, PEAK_RULES

    found = PEAK_RULES.get(rule)
    return None if found is None else found.multiplier(OPTIMIZER_FAMILIES.get(optimizer))


def peak_source(t: Mapping[str, Any], name: str) -> str:
    """Where one schedule's peak LR came from, short enough for a table cell ("" when the
    header says it for every schedule: a shared task default, a given LR, tuning).

    >>> t = {"schedules": {"cosine": {"optimizer": "adamw"}},
    ...      "plan": {"lr_source": {"cosine": "range test (valley_by_optimizer)"}}}
    >>> peak_source(t, "cosine")
    'valley × 2'
    """
    sources: Mapping[str, str] = (t.get("plan") or {}).get("lr_source") or {}
    rule = _finder_rule(str(sources.get(name, "")))
    if rule is None:
        return ""
    m = _multiplier(rule, str(t["schedules"][name].get("optimizer", "")))
    return rule if m is None else f"valley × {m:g}"


def _finder_words(t: Mapping[str, Any], rules: Mapping[str, list[str]]) -> str:
    """The header for peaks from the range test: which rule each schedule got, in words."""
    from lrkit.finder.recommend import PEAK_RULES

    def names(ns: list[str]) -> str:
        return ", ".join(ns[:6]) + (f" and {len(ns) - 6} more" if len(ns) > 6 else "")

    parts = []
    for rule, ns in rules.items():
        found = PEAK_RULES.get(rule)
        what = f"{rule} = {found.summary}" if found is not None else rule
        parts.append(f"{what} for {names(ns)}")
    return (
        "peak LR per schedule from a range test of the task (column *peak LR*; finder rule "
        + "; ".join(parts)
        + ")"
    )


def peak_words(t: Mapping[str, Any]) -> str:
    """How the peak LRs were set, in words: one shared value, per optimizer, or tuned."""
    sched: Mapping[str, Any] = t["schedules"]
    sources: Mapping[str, str] = (t.get("plan") or {}).get("lr_source") or {}
    if any(str(sources.get(n, "")).startswith("tuned") for n in sched):
        return "peak LR tuned per schedule (column *peak LR*; tuning runs below)"
    rules: dict[str, list[str]] = {}
    for n in sched:
        rule = _finder_rule(str(sources.get(n, "")))
        if rule is not None:
            rules.setdefault(rule, []).append(n)
    if rules and sum(map(len, rules.values())) == len(sched):
        return _finder_words(t, rules)
    by_opt: dict[str, list[str]] = {}
    for n, e in sched.items():
        by_opt.setdefault(str(e.get("optimizer", "")), []).append(n)
    main_opt = max(by_opt, key=lambda o: len(by_opt[o]))

    def part(names: list[str]) -> tuple[str, str]:
        peaks = sorted({float(sched[n]["peak_lr"]) for n in names})
        src = sorted({str(sources.get(n, "recorded")) for n in names})
        return ", ".join(_f(p) for p in peaks), ", ".join(src)

    peaks, src = part(by_opt[main_opt])
    head = f"peak LR {peaks} ({src})"
    rest = []
    for opt, names in by_opt.items():
        if opt != main_opt:
            peaks, src = part(names)
            rest.append(f"{', '.join(names)}: {peaks} (the {src} for {opt})")
    return head + ("; " + "; ".join(rest) if rest else "")


def seed_words(t: Mapping[str, Any]) -> str:
    """The seeds run: a list, or the race's range ("seeds 0–7, fewer for schedules dropped")."""
    seeds = sorted({int(s) for e in t["schedules"].values() for s in e["seeds"]})
    counts = {len(e["seeds"]) for e in t["schedules"].values()}
    if len(counts) > 1:
        return (
            f"seeds {seeds[0]}–{seeds[-1]} ({min(counts)} to {max(counts)} per schedule: the race "
            f"dropped some early)"
        )
    return f"seed{'' if len(seeds) == 1 else 's'} {', '.join(map(str, seeds))}"


def plot_title(t: Mapping[str, Any], name: str) -> str:
    """A panel title: position by mean, and whether its CI overlaps the best one's.

    >>> t = {"rank_higher_is_better": False, "rank_metric": "val_loss", "baseline": "a",
    ...      "schedules": {"a": {"metrics": {"val_loss": {"mean": 1.0, "ci": [0.9, 1.1]}}},
    ...                    "b": {"metrics": {"val_loss": {"mean": 1.05, "ci": [1.0, 1.2]}}}}}
    >>> plot_title(t, "a"), plot_title(t, "b")
    ('1. a (best mean; baseline)', '2. b (CI overlaps the best)')
    """
    rows = ordered_rows(t)
    row = next((r for r in rows if r["name"] == name), None)
    if row is None:
        return name
    notes = []
    best = rows[0]
    if row is best and row["ci"] is not None:
        notes.append("best mean")
    elif row["ci"] is None:
        notes.append("no CI: diverged or missing")
    elif best["ci"] is not None and not (
        row["ci"][1] < best["ci"][0] or row["ci"][0] > best["ci"][1]
    ):
        notes.append("CI overlaps the best")
    if name == t.get("baseline"):
        notes.append("baseline")
    return f"{row['position']}. {name}" + (f" ({'; '.join(notes)})" if notes else "")

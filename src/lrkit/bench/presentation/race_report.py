"""Report text for ``--seeds auto``: the race's recommendation, its rounds, and the paste block.

Reads one task of results.json (``t["plan"]["race"]`` is the :class:`RaceResult` dict the
driver stored) and nothing else.

>>> race_recommendation({"plan": {}}) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lrkit.bench.analysis.recommend import (
    complexity,
    n_seeds,
    recommendation,
    seeds_phrase,
    tied_with_best,
)
from lrkit.bench.presentation.paste import fold_peak, paste_block, scheduler_line

__all__ = [
    "chosen_schedule",
    "paste_choice",
    "paste_info",
    "race_findings",
    "race_lines",
    "race_recommendation",
]


def _race(t: Mapping[str, Any]) -> Mapping[str, Any]:
    race: Mapping[str, Any] = (t.get("plan") or {}).get("race") or {}
    return race


def _pct(x: float) -> str:
    return f"{x * 100:g} %"


def _join(names: Sequence[str]) -> str:
    shown = [f"**{n}**" for n in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _simplest(t: Mapping[str, Any], names: Sequence[str]) -> str:
    sched = t["schedules"]
    order = {n: i for i, n in enumerate(names)}
    return min((n for n in names if n in sched), key=lambda n: (complexity(sched[n]), order[n]))


def chosen_schedule(t: Mapping[str, Any]) -> str | None:
    """The schedule the recommendation tells you to use (None when it names none).

    With a race: the winner, the simplest of an equivalent group, or at the cap the best mean
    so far. With fixed seeds: the best mean, whether or not it beat the baseline significantly
    (:func:`paste_choice` says which case it is).
    """
    got = paste_choice(t)
    return None if got is None else got[0]


def paste_choice(t: Mapping[str, Any]) -> tuple[str, str] | None:
    """The schedule whose paste block the report gives, and what it is, in words.

    None when the recommendation names no schedule (every schedule diverged or failed).
    """
    race = _race(t)
    sched = t["schedules"]
    if race:
        lead = race.get("leader")
        if race["stop"] == "winner" and lead in sched:
            return str(lead), "the race's winner"
        if race["stop"] == "only" and lead in sched:
            return str(lead), "the only schedule run"
        if race["stop"] == "equivalent":
            group = [g for g in race["group"] if g in sched]
            if group:
                return _simplest(t, group), "the simplest of the practically equivalent group"
        if race["stop"] == "cap" and lead in sched:
            return str(lead), "the best mean so far, not separated from the rest of its group"
        return None
    best, tied = tied_with_best(t)
    if best is None:
        return None
    text = recommendation(t)
    if n_seeds(t) == 1:
        return best, "the best single run: one seed tests nothing"
    if text.startswith("Use "):
        if tied:
            return best, "the best mean; statistically tied with " + ", ".join(tied)
        return best, "the recommended schedule"
    base = t.get("baseline")
    if best == base:
        return best, f"the baseline {base}, which also had the best mean"
    return best, f"the best mean, not shown significantly better than {base}"


def race_recommendation(t: Mapping[str, Any]) -> str | None:
    """The recommendation of a race (None when the task did not race)."""
    race = _race(t)
    if not race:
        return None
    sched = t["schedules"]
    rule = race["rule"]
    n, stop, lead = race["seeds"], race["stop"], str(race.get("leader"))

    def at(name: str) -> str:
        return f"**{name}** at peak LR {float(sched[name]['peak_lr']):.4g}"

    if stop == "none":
        return "Every schedule diverged or failed: lower the peak LR (--lr) or use --tune-lr."
    if stop == "only":
        return f"Only {at(lead)} was run: nothing to compare it with."
    if stop == "winner":
        return (
            f"Use {at(lead)}: significantly better than every other schedule by the race's "
            f"sequential test (stopped after {seeds_phrase(n)}; valid under optional stopping, "
            f"see Race below)."
        )
    group = [g for g in race["group"] if g in sched]
    simplest = _simplest(t, group)
    if stop == "equivalent":
        return (
            f"{_join(group)} are practically equivalent (each within "
            f"{_pct(rule['margin'])} of {lead}, after {n} seeds): use the simplest of them, "
            f"{at(simplest)}."
        )
    last = race["history"][-1]["intervals"] if race.get("history") else {}
    others = [g for g in group if g != lead]
    close = [
        g
        for g in others
        if g in last and -rule["margin"] <= last[g][0] <= last[g][1] <= rule["margin"]
    ]
    open_ = [g for g in others if g not in close]
    within = (
        f" {_join(close)} {'is' if len(close) == 1 else 'are'} within {_pct(rule['margin'])} of it;"
        if close
        else ""
    )
    return (
        f"No single winner after {n} seeds (the cap). Best mean so far: {at(lead)};{within} "
        f"{_join(open_)} {'is' if len(open_) == 1 else 'are'} neither significantly worse nor "
        f"shown within {_pct(rule['margin'])} of it. Raise --max-seeds to separate them."
    )


def race_findings(t: Mapping[str, Any]) -> list[str]:
    """The race's decision as the first finding (also the Headline): what decided, and how.

    >>> race_findings({"plan": {}})
    []
    """
    race = _race(t)
    if not race or race["stop"] in ("none", "only"):
        return []
    rule, n, lead = race["rule"], int(race["seeds"]), str(race.get("leader"))
    how = (
        f"paired differences with the leader, Student-t intervals at level "
        f"{race['level']:.2g} each: valid under optional stopping"
    )
    if race["stop"] == "winner":
        return [
            f"The race's sequential test ({how}) found **{lead}** significantly better than every "
            f"other schedule at {seeds_phrase(n)}; this decides the recommendation. The "
            f"fixed-sample p-values below are computed after the race stopped and describe the "
            f"data."
        ]
    group = [g for g in race["group"] if g in t["schedules"]]
    if race["stop"] == "equivalent":
        return [
            f"The race's sequential test ({how}) found {_join(group)} practically equivalent "
            f"(each within {_pct(rule['margin'])} of {lead}) at {seeds_phrase(n)}; the other "
            f"schedules left the race before (see Race)."
        ]
    return [
        f"The race's sequential test ({how}) reached its cap of {seeds_phrase(n)} without "
        f"separating {_join(group)}: no single winner; best mean so far **{lead}**."
    ]


def paste_info(t: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{"schedule", "label", "text", "python", ...}`` for the schedule the report names
    (results.json ``paste``); ``label`` says what it is (see :func:`paste_choice`)."""
    got = paste_choice(t)
    if got is None or got[0] not in t["schedules"]:
        return None
    name, label = got
    e = t["schedules"][name]
    text = fold_peak(str(e["lr_text"]), float(e["peak_lr"]), int(e["steps"]))
    return {
        "schedule": name,
        "label": label,
        "text": text,
        "momentum": e.get("momentum_text"),
        "steps": int(e["steps"]),
        "python": scheduler_line(text, e.get("momentum_text"), int(e["steps"]), e.get("plateau")),
    }


def paste_lines(t: Mapping[str, Any], indent: str = "  ") -> list[str]:
    """The paste block of the chosen schedule, indented to sit under a list item."""
    got = paste_choice(t)
    if got is None or got[0] not in t["schedules"]:
        return []
    name, label = got
    block = [f"To paste: **{name}** ({label}):", "", *paste_block(t["schedules"][name])]
    return ["", *(indent + line if line else "" for line in block)]


def race_lines(t: Mapping[str, Any]) -> list[str]:
    """The "Race" block of one task: rounds, who left when and why, runs saved."""
    race = _race(t)
    if not race:
        return []
    rule = race["rule"]
    runs, fixed = int(race["runs"]), int(race["runs_fixed"])
    lines = [
        f"**Race** (`--seeds auto`): looks after {', '.join(map(str, rule['looks']))} seeds; "
        f"each schedule is compared with the leader by paired differences at level "
        f"{race['level']:.2g} per interval (alpha {rule['alpha']:g} split over comparisons and "
        f"looks); stopped after {race['seeds']} seeds ({race['stop']}). Runs: {runs} of "
        f"{fixed} that {rule['max_seeds']} fixed seeds would take ({runs / max(fixed, 1):.0%}).",
        "",
    ]
    per = race.get("seeds_per_schedule") or {}
    reasons = {k: v for look in race["history"] for k, v in look["dropped"].items()}
    for name in race["schedules"]:
        why = reasons.get(name, "in the final group")
        lines.append(f"- `{name}`: {per.get(name, race['seeds'])} seeds, {why}")
    lines += [
        "",
        "The p-values (fixed-sample paired permutation test) and CIs in the table below are "
        "computed after the race stopped: they describe the data and may not reach "
        "significance where the race did (few seeds) or the other way round; the decision is "
        "the race's, whose intervals are valid under optional stopping.",
        "",
    ]
    return lines

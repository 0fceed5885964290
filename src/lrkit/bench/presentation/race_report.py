"""Report text for ``--seeds auto``: the race's recommendation, its rounds, and the paste block.

Reads one task of results.json (``t["plan"]["race"]`` is the :class:`RaceResult` dict the
driver stored) and nothing else.

>>> race_recommendation({"plan": {}}) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lrkit.bench.analysis.recommend import complexity, recommendation, tied_with_best
from lrkit.bench.presentation.paste import fold_peak, paste_block, scheduler_line

__all__ = ["chosen_schedule", "paste_info", "race_lines", "race_recommendation"]


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
    so far; otherwise the best mean when the fixed-seed recommendation says "Use".
    """
    race = _race(t)
    if race:
        if race["stop"] in ("winner", "only"):
            return str(race["leader"])
        if race["stop"] == "equivalent":
            return _simplest(t, race["group"])
        if race["stop"] == "cap" and race.get("leader") in t["schedules"]:
            return str(race["leader"])  # the best mean so far, said so in the recommendation
        return None
    best, _tied = tied_with_best(t)
    if best is not None and recommendation(t).startswith("Use "):
        return best
    return None


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
            f"Use {at(lead)}: significantly better than every other schedule (race stopped "
            f"after {n} seeds; valid under optional stopping, see Method)."
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


def paste_info(t: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{"schedule", "text", "python"}`` for the chosen schedule (results.json ``paste``)."""
    name = chosen_schedule(t)
    if name is None or name not in t["schedules"]:
        return None
    e = t["schedules"][name]
    text = fold_peak(str(e["lr_text"]), float(e["peak_lr"]), int(e["steps"]))
    return {
        "schedule": name,
        "text": text,
        "momentum": e.get("momentum_text"),
        "steps": int(e["steps"]),
        "python": scheduler_line(text, e.get("momentum_text"), int(e["steps"]), e.get("plateau")),
    }


def paste_lines(t: Mapping[str, Any], indent: str = "  ") -> list[str]:
    """The paste block of the chosen schedule, indented to sit under a list item."""
    name = chosen_schedule(t)
    if name is None or name not in t["schedules"]:
        return []
    return ["", *(indent + line if line else "" for line in paste_block(t["schedules"][name]))]


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
        "The p-values and CIs in the table below are computed after the race stopped and "
        "describe the data; the decision above uses the intervals valid under optional "
        "stopping.",
        "",
    ]
    return lines

"""What the bench report leads with: the table order, tie letters and one recommendation per task.

Everything here reads the aggregated statistics of one task (``results.json["tasks"][name]``)
and nothing else, so it is tested on constructed data.

* **Order**: by the ranking statistic (mean over seeds), best first; schedules without a CI
  or that diverged in any seed last (as in the ``ranking`` of results.json).
* **Tie letters** (a compact-letter display): walking down that order, a schedule whose 95 % CI
  overlaps no earlier group leader's CI leads a new group with the next letter; then every
  schedule carries the letter of each leader whose CI overlaps its own. Two schedules sharing
  a letter are not separated from the same leader; the letters never break the order.
* **Simplest**: fewest nodes in the schedule tree (LR schedule + momentum schedule + 1 for a
  plateau controller), then fewest parameters set, then the better mean.

>>> t = {"rank_higher_is_better": False, "rank_metric": "val_loss", "schedules": {
...     "a": {"metrics": {"val_loss": {"mean": 1.0, "ci": [0.9, 1.1]}}},
...     "b": {"metrics": {"val_loss": {"mean": 1.05, "ci": [1.0, 1.2]}}},
...     "c": {"metrics": {"val_loss": {"mean": 2.0, "ci": [1.9, 2.1]}}}}}
>>> [(r["name"], r["letters"]) for r in ordered_rows(t)]
[('a', 'a'), ('b', 'a'), ('c', 'b')]
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "complexity",
    "few_seeds_words",
    "n_seeds",
    "ordered_rows",
    "race_pair",
    "recommendation",
    "seeds_phrase",
    "tied_with_best",
]


def _stat(e: Mapping[str, Any], metric: str) -> Mapping[str, Any]:
    st: Mapping[str, Any] = e.get("metrics", {}).get(metric, {})
    return st


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return not (a[1] < b[0] or a[0] > b[1])


def n_seeds(t: Mapping[str, Any]) -> int:
    """The most seeds any schedule of the task ran (0 when none)."""
    return max((len(e.get("seeds", ())) for e in t["schedules"].values()), default=0)


def seeds_phrase(n: int) -> str:
    """``"1 seed"``, ``"3 seeds"``.

    >>> seeds_phrase(1), seeds_phrase(3)
    ('1 seed', '3 seeds')
    """
    return f"{n} seed{'' if n == 1 else 's'}"


def _single(st: Mapping[str, Any]) -> bool:
    """Whether a summary rests on one value (no spread: no CI to compare)."""
    return bool(st.get("n", 2) == 1)


def _letter(i: int) -> str:
    letters = string.ascii_lowercase
    return letters[i] if i < len(letters) else f"g{i + 1}"


def ordered_rows(t: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Schedules of one task ordered by the ranking statistic with their tie letters.

    Each row: ``name``, ``mean``, ``ci`` (or None), ``position`` (1-based) and ``letters``
    ("" when the schedule has no CI).
    """
    metric = t["rank_metric"]
    sign = -1.0 if t["rank_higher_is_better"] else 1.0
    sched: Mapping[str, Any] = t["schedules"]
    valid = [
        n
        for n, e in sched.items()
        if _stat(e, metric).get("ci") is not None
        and _stat(e, metric).get("mean") is not None
        and not e.get("diverged")  # diverged in some seed: its mean hides that; last
    ]
    valid.sort(key=lambda n: (sign * float(_stat(sched[n], metric)["mean"]), n))
    # one seed: its "CI" is a point, and points never overlap; no letters rather than false ones
    spread = [n for n in valid if not _single(_stat(sched[n], metric))]
    leaders: list[Sequence[float]] = []
    for name in spread:
        ci = _stat(sched[name], metric)["ci"]
        if not any(_overlap(ci, lci) for lci in leaders):
            leaders.append(ci)
    rows: list[dict[str, Any]] = []
    for name in valid:
        st = _stat(sched[name], metric)
        letters = "".join(_letter(i) for i, lci in enumerate(leaders) if _overlap(st["ci"], lci))
        if name not in spread:
            letters = ""
        rows.append({"name": name, "mean": st["mean"], "ci": st["ci"], "letters": letters})
    rows += [{"name": n, "mean": None, "ci": None, "letters": ""} for n in sched if n not in valid]
    for pos, row in enumerate(rows, start=1):
        row["position"] = pos
    return rows


def tied_with_best(t: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """The best schedule and the others whose 95 % CI overlaps its CI (in table order)."""
    rows = [r for r in ordered_rows(t) if r["ci"] is not None]
    if not rows:
        return None, []
    best = rows[0]
    return best["name"], [r["name"] for r in rows[1:] if _overlap(r["ci"], best["ci"])]


def _tree_size(node: object) -> tuple[int, int]:
    """(nodes, parameters) of a schedule's ``to_dict`` tree."""
    if isinstance(node, list):
        sizes = [_tree_size(n) for n in node]
        return sum(s[0] for s in sizes), sum(s[1] for s in sizes)
    if not isinstance(node, dict):
        return 0, 0
    nodes, params = (1, 0) if "type" in node else (0, 0)
    for key, value in node.items():
        if key == "type" or value is None:
            continue
        if isinstance(value, dict | list):
            n, p = _tree_size(value)
            nodes, params = nodes + n, params + p
        else:
            params += 1
    return nodes, params


def complexity(entry: Mapping[str, Any]) -> tuple[int, int]:
    """(nodes, parameters) of a schedule entry: LR tree + momentum tree + plateau.

    >>> complexity({"lr_text": "constant(1.0)"})
    (1, 1)
    >>> complexity({"lr_text": 'warmup("5%") >> cosine(start=1.0, steps="95%")'})
    (2, 7)
    >>> complexity({"lr_text": "constant(1.0)", "plateau": {"factor": 0.5, "patience": 2}})
    (2, 3)
    """
    import lrkit

    nodes, params = _tree_size(lrkit.parse(entry["lr_text"]).to_dict())
    if entry.get("momentum_text"):
        n, p = _tree_size(lrkit.parse(entry["momentum_text"]).to_dict())
        nodes, params = nodes + n, params + p
    if entry.get("plateau"):
        nodes, params = nodes + 1, params + len(entry["plateau"])
    return nodes, params


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _significantly_better(t: Mapping[str, Any], name: str) -> bool:
    c = t.get("comparisons", {}).get(name, {}).get(t["rank_metric"], {})
    if not c.get("n") or not c.get("significant"):
        return False
    return bool((c["mean_diff"] < 0) != bool(t["rank_higher_is_better"]))


def recommendation(t: Mapping[str, Any]) -> str:
    """One sentence a person can act on: the best schedule and its peak LR, the schedules
    statistically tied with it (overlapping 95 % CIs) and the simplest of them; or "no schedule
    beat the baseline" when no schedule is significantly better than the baseline.

    >>> t = {"rank_higher_is_better": False, "rank_metric": "val_loss", "baseline": "constant",
    ...     "comparisons": {"cosine": {"val_loss": {"n": 8, "significant": True,
    ...         "mean_diff": -0.1}}},
    ...     "schedules": {
    ...     "constant": {"peak_lr": 0.1, "lr_text": "constant(1.0)",
    ...                  "metrics": {"val_loss": {"mean": 0.3, "ci": [0.28, 0.32]}}},
    ...     "cosine": {"peak_lr": 0.1, "lr_text": 'cosine(start=1.0, end=0.0, steps="100%")',
    ...                "metrics": {"val_loss": {"mean": 0.2, "ci": [0.19, 0.21]}}},
    ...     "linear": {"peak_lr": 0.2, "lr_text": 'linear(start=1.0, end=0.0, steps="100%")',
    ...                "metrics": {"val_loss": {"mean": 0.205, "ci": [0.2, 0.21]}}}}}
    >>> recommendation(t)
    'Use **cosine** at peak LR 0.1; linear is statistically tied with it (overlapping 95 % CIs), \
and the simplest of them (fewest schedule nodes, then parameters) is **linear** at peak LR 0.2.'
    """
    best, tied = tied_with_best(t)
    sched = t["schedules"]
    if best is None:
        if sched and all(e.get("diverged") for e in sched.values()):
            return (
                "Every schedule diverged in some seed (non-finite training loss): lower the "
                "peak LR (--lr) or let --tune-lr pick one per schedule."
            )
        m = t["rank_metric"]
        return (
            f"No schedule has a final {m} in every seed: nothing to recommend (a task "
            f"function reports it with run.evaluate(step, {m}=...))."
        )
    seeds = n_seeds(t)
    if seeds == 1:
        return (
            f"One seed per schedule cannot show a difference (no spread to compare): the best "
            f"single run was {best} at peak LR {_fmt(sched[best]['peak_lr'])}; rerun with "
            f"--seeds auto before acting on it."
        )
    base = t.get("baseline")
    if base in sched and not any(_significantly_better(t, n) for n in sched if n != base):
        lead = (
            f"the best mean was {best} at peak LR {_fmt(sched[best]['peak_lr'])}"
            if best != base
            else "it also had the best mean"
        )
        few = (
            f" ({seeds_phrase(seeds)} cannot show a significant difference; rerun with "
            f"--seeds 6 or more)"
            if seeds > 0 and 2.0 / 2**seeds >= 0.05
            else ""
        )
        return (
            f"No schedule beat the baseline **{base}** (peak LR {_fmt(sched[base]['peak_lr'])}) "
            f"significantly{few}; {lead}."
        )
    head = f"Use **{best}** at peak LR {_fmt(sched[best]['peak_lr'])}"
    few = (
        f" (Only {seeds} seeds: these CIs are little more than the range of the runs; rerun "
        f"with --seeds 6 or more before acting on it.)"
        if 0 < seeds < 6
        else ""
    )
    if not tied:
        return head + "; no other schedule is statistically tied with it." + few
    group = [best, *tied]
    order = {n: i for i, n in enumerate(group)}
    simplest = min(group, key=lambda n: (complexity(sched[n]), order[n]))
    names = _join(tied)
    verb = "is" if len(tied) == 1 else "are"
    if simplest == best:
        return (
            f"{head}; {names} {verb} statistically tied with it (overlapping 95 % CIs), and "
            f"{best} is also the simplest of them.{few}"
        )
    return (
        f"{head}; {names} {verb} statistically tied with it (overlapping 95 % CIs), and the "
        f"simplest of them (fewest schedule nodes, then parameters) is **{simplest}** at peak "
        f"LR {_fmt(sched[simplest]['peak_lr'])}.{few}"
    )


def few_seeds_words(n: int) -> str:
    """What a bootstrap CI of ``n`` < 6 values is worth, in words.

    >>> few_seeds_words(2)
    'only 2 seeds: a bootstrap CI of 2 values is just the range of the two runs'
    >>> few_seeds_words(3)
    'only 3 seeds: such a CI is little more than the range of the runs'
    """
    if n == 2:
        return "only 2 seeds: a bootstrap CI of 2 values is just the range of the two runs"
    return f"only {seeds_phrase(n)}: such a CI is little more than the range of the runs"


def race_pair(race: Mapping[str, Any], a: str, b: str) -> tuple[str, int] | None:
    """What a race (``plan["race"]`` of results.json) decided about ``a`` against ``b``.

    ``("better", n)``: the race dropped ``b`` as significantly worse than ``a`` (the leader of
    that look) at ``n`` seeds; ``("worse", n)`` the other way round; ``("equivalent", n)``: both
    ended in a tie group within the practical margin; ``("open", n)``: both were still in the race
    at its cap. None: the race compared neither with the other (e.g. both dropped behind a third).

    >>> race = {"stop": "winner", "seeds": 3, "group": ["a"], "history": [
    ...     {"seeds": 3, "leader": "a", "dropped": {"b": "significantly worse than a at 3 seeds"}}]}
    >>> race_pair(race, "a", "b"), race_pair(race, "b", "a")
    (('better', 3), ('worse', 3))
    """
    for look in race.get("history") or ():
        dropped = look.get("dropped") or {}
        lead = look.get("leader")
        for x, y, word in ((a, b, "better"), (b, a, "worse")):
            if lead == x and str(dropped.get(y, "")).startswith("significantly worse"):
                return word, int(look["seeds"])
        if a in dropped or b in dropped:
            return None
    group = race.get("group") or []
    if a in group and b in group and race.get("stop") in ("equivalent", "cap"):
        return ("equivalent" if race["stop"] == "equivalent" else "open"), int(race["seeds"])
    return None


def _join(names: Sequence[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]

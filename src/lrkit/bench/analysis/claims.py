"""The literature's claims about LR schedules, tested on bench results with a verdict rule in code.

Each claim compares schedule A with schedule B on the same tasks and seeds. Per task and seed the
*effect* is A's relative improvement over B (positive = the direction the claim states):

* ``final``: ``(loss_B - loss_A) / loss_B`` on the final validation loss;
* ``steps``: the share of the run saved to reach B's final validation loss of that seed,
  ``(steps_B - steps_A) / T`` (first evaluation at or below it; never reached = ``T + eval_every``);
* ``anytime``: like ``final`` on the *anytime* loss, the mean over the budget shares ``b`` of the
  validation loss of the full-length run at step ``b * T`` (linear interpolation between
  evaluations): what you get when training is stopped early.

The claim's effect is the mean over tasks of the per-task mean effect (each task weighs the same);
its 95 % CI is a stratified percentile bootstrap (seeds resampled within each task).

Verdict rule (:func:`verdict`), with ``margin`` = 2 % for "matches or beats" claims:

* "beats" claims: **reproduced** when the CI lies above 0, **contradicted** when it lies below 0,
  else **inconclusive**;
* "matches or beats" claims (non-inferiority): **reproduced** when the CI lies above ``-margin``,
  **contradicted** when it lies below ``-margin``, else **inconclusive**.

>>> verdict((0.01, 0.05), "beats")
'reproduced'
>>> verdict((-0.05, 0.01), "beats")
'inconclusive'
>>> verdict((-0.015, 0.01), "matches")
'reproduced'
>>> verdict((-0.09, -0.03), "matches")
'contradicted'

The same rule gives each task its own verdict (the task's CI). A claim reproduced (or
contradicted) on the pooled CI but contradicted (reproduced) on one of the tasks by that task's
own CI is **inconclusive (mixed)**: an average over tasks must not hide a task where the claim
fails (:func:`overall_verdict`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrkit.bench.analysis.aggregate import paired_permutation_p

__all__ = [
    "CLAIMS",
    "MARGIN",
    "Claim",
    "anytime_loss",
    "claims_lines",
    "evaluate_claims",
    "overall_verdict",
    "steps_to_reach",
    "stratified_ci",
    "verdict",
]

#: Non-inferiority margin of "matches or beats" claims (relative final validation loss).
MARGIN = 0.02


@dataclass(frozen=True)
class Claim:
    """One claim: schedule ``a`` vs ``b``, the measure, and whether A must beat or match B."""

    id: str
    text: str
    source: str
    a: str
    b: str
    measure: str  # "final", "steps" or "anytime"
    kind: str  # "beats" or "matches"


#: The six claims of docs/findings.md (3 and 4 have two parts each).
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "1",
        "A decaying schedule (cosine to 0) ends better than a tuned constant LR",
        "folklore; Loshchilov & Hutter 2017",
        "cosine",
        "constant",
        "final",
        "beats",
    ),
    Claim(
        "2",
        "WSD with a 20 % 1-sqrt cool-down matches or beats cosine",
        "Hägele et al. 2024",
        "wsd",
        "cosine",
        "final",
        "matches",
    ),
    Claim(
        "3a",
        "Linear decay to zero matches or beats cosine",
        "Bergsma et al. 2025; Defazio et al. 2023",
        "linear-to-zero",
        "cosine",
        "final",
        "matches",
    ),
    Claim(
        "3b",
        "Cosine to 0 beats cosine to 10 % of the peak",
        "Bergsma et al. 2025",
        "cosine",
        "cosine-to-10pct",
        "final",
        "beats",
    ),
    Claim(
        "4a",
        "One-cycle reaches the tuned constant's final val loss in fewer steps",
        "Smith & Topin 2019",
        "one-cycle+momentum",
        "constant",
        "steps",
        "beats",
    ),
    Claim(
        "4b",
        "Triangular CLR reaches the tuned constant's final val loss in fewer steps",
        "Smith 2017",
        "triangular",
        "constant",
        "steps",
        "beats",
    ),
    Claim(
        "5",
        "Schedule-free matches a tuned cosine",
        "Defazio et al. 2024",
        "schedule-free",
        "cosine",
        "final",
        "matches",
    ),
    Claim(
        "6",
        "Warm restarts (SGDR) have better anytime performance than one long cosine",
        "Loshchilov & Hutter 2017",
        "cosine-restarts",
        "cosine",
        "anytime",
        "beats",
    ),
)


def verdict(ci: tuple[float, float] | None, kind: str, margin: float = MARGIN) -> str:
    """Reproduced / contradicted / inconclusive from the effect's CI (see the module docstring).

    ``ci`` is the 95 % CI of the effect (positive = the claimed direction); None gives
    "not run". For ``kind="matches"`` the threshold is ``-margin`` instead of 0.
    """
    if kind not in ("beats", "matches"):
        raise ValueError(f"verdict: kind={kind!r}; allowed: 'beats', 'matches'")
    if ci is None:
        return "not run"
    lo, hi = ci
    t = 0.0 if kind == "beats" else -abs(margin)
    if lo > t:
        return "reproduced"
    if hi < t:
        return "contradicted"
    return "inconclusive"


def overall_verdict(pooled: str, per_task: Mapping[str, str]) -> tuple[str, str]:
    """The claim's verdict from the pooled verdict and the per-task verdicts, with a note.

    Reproduced/contradicted only when no task says the opposite by its own CI; a pooled
    verdict that some task contradicts becomes "inconclusive" with a note naming the tasks.

    >>> overall_verdict("reproduced", {"a": "reproduced", "b": "inconclusive"})
    ('reproduced', '')
    >>> overall_verdict("reproduced", {"a": "reproduced", "b": "contradicted"})
    ('inconclusive', 'mixed: reproduced on a; contradicted on b')
    >>> overall_verdict("inconclusive", {"a": "reproduced", "b": "contradicted"})
    ('inconclusive', 'mixed: reproduced on a; contradicted on b')
    """
    rep = sorted(t for t, v in per_task.items() if v == "reproduced")
    con = sorted(t for t, v in per_task.items() if v == "contradicted")
    note = ""
    if rep and con:
        note = f"mixed: reproduced on {', '.join(rep)}; contradicted on {', '.join(con)}"
    if pooled == "reproduced" and con:
        return "inconclusive", note
    if pooled == "contradicted" and rep:
        return "inconclusive", note
    return pooled, note


def stratified_ci(
    groups: Mapping[str, Sequence[float]],
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int | Sequence[int] = 0,
) -> tuple[float, tuple[float, float]]:
    """Mean over groups of each group's mean, and its stratified percentile bootstrap CI.

    Each resample draws, within every group, as many values as it has (with replacement); the
    statistic is the mean over groups of the group means.

    >>> m, (lo, hi) = stratified_ci({"a": [1.0, 1.0], "b": [3.0, 3.0]})
    >>> m, lo, hi
    (2.0, 2.0, 2.0)
    """
    arrays = [np.asarray(v, dtype=np.float64) for v in groups.values() if len(v)]
    if not arrays:
        raise ValueError("stratified_ci: no values")
    point = float(np.mean([a.mean() for a in arrays]))
    rng = np.random.default_rng(seed)
    stats = np.zeros(resamples)
    for a in arrays:
        idx = rng.integers(0, a.size, size=(resamples, a.size))
        stats += a[idx].mean(axis=1)
    stats /= len(arrays)
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return point, (float(lo), float(hi))


def steps_to_reach(
    steps: Sequence[int], losses: Sequence[float | None], threshold: float, total: int, every: int
) -> int:
    """First evaluation step whose loss is at or below ``threshold``; ``total + every`` if none.

    >>> steps_to_reach([0, 10, 20], [3.0, 1.0, 0.5], 1.0, 20, 10)
    10
    >>> steps_to_reach([0, 10, 20], [3.0, 2.0, 1.5], 1.0, 20, 10)
    30
    """
    for s, v in zip(steps, losses, strict=True):
        if v is not None and math.isfinite(v) and v <= threshold:
            return int(s)
    return int(total + every)


def anytime_loss(
    steps: Sequence[int], losses: Sequence[float | None], total: int, shares: Sequence[float]
) -> float | None:
    """Mean over ``shares`` of the loss at step ``share * total`` (linear interpolation).

    >>> anytime_loss([0, 10, 20], [3.0, 2.0, 1.0], 20, [0.5, 1.0])
    1.5
    """
    pts = [(s, v) for s, v in zip(steps, losses, strict=True) if v is not None]
    if len(pts) < 2 or any(not math.isfinite(v) for _, v in pts):
        return None
    xs = np.array([p[0] for p in pts], dtype=np.float64)
    ys = np.array([p[1] for p in pts], dtype=np.float64)
    return float(np.mean(np.interp([b * total for b in shares], xs, ys)))


def _seed_for(*parts: object) -> list[int]:
    return [zlib.crc32(str(p).encode()) for p in parts]


def _per_seed(rec: Mapping[str, Any], measure: str, shares: Sequence[float]) -> float | None:
    if rec.get("status") != "ok":
        return None
    if measure == "anytime":
        ev = rec.get("evals") or {}
        return anytime_loss(ev.get("step", []), ev.get("val_loss", []), int(rec["steps"]), shares)
    v = (rec.get("final") or {}).get("val_loss")
    return None if v is None else float(v)


def _effects(
    claim: Claim,
    runs: Mapping[tuple[str, str], Mapping[int, Mapping[str, Any]]],
    tasks: Sequence[str],
    shares: Sequence[float],
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for task in tasks:
        ra, rb = runs.get((task, claim.a)), runs.get((task, claim.b))
        if not ra or not rb:
            continue
        diffs: list[float] = []
        for seed in sorted(set(ra) & set(rb)):
            a, b = ra[seed], rb[seed]
            if claim.measure == "steps":
                thr = _per_seed(b, "final", shares)
                if thr is None:
                    continue
                total, every = int(b["steps"]), int(b["eval_every"])
                ea, eb = a.get("evals") or {}, b.get("evals") or {}
                if a.get("status") != "ok":
                    sa = total + every
                else:
                    sa = steps_to_reach(ea["step"], ea["val_loss"], thr, total, every)
                sb = steps_to_reach(eb["step"], eb["val_loss"], thr, total, every)
                diffs.append((sb - sa) / total)
            else:
                va, vb = _per_seed(a, claim.measure, shares), _per_seed(b, claim.measure, shares)
                if vb is None or vb == 0:
                    continue
                if va is None:  # A diverged: as bad as it gets for the claim
                    va = math.inf
                diffs.append(max((vb - va) / abs(vb), -1.0))
        if diffs:
            out[task] = diffs
    return out


def evaluate_claims(
    records: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any],
    *,
    resamples: int = 2000,
    stats_seed: int = 0,
    claims: Sequence[Claim] = CLAIMS,
    margin: float = MARGIN,
) -> list[dict[str, Any]]:
    """Every claim's effect, CI, per-task detail and verdict from the full-budget main runs.

    ``records`` are run records; ``meta`` is bench.json (its ``keys`` select the full-budget main
    runs, its ``config.budgets`` give the anytime shares, default 10/25/50/100 %).
    """
    runs = _claim_runs(records, meta)
    tasks = sorted({t for t, _ in runs})
    shares = list((meta.get("config") or {}).get("budgets") or ()) or [0.1, 0.25, 0.5, 1.0]
    out: list[dict[str, Any]] = []
    for c in claims:
        eff = _effects(c, runs, tasks, shares)
        row: dict[str, Any] = {
            "id": c.id,
            "text": c.text,
            "source": c.source,
            "a": c.a,
            "b": c.b,
            "measure": c.measure,
            "kind": c.kind,
            "margin": margin if c.kind == "matches" else 0.0,
            "test": "paired by seed; stratified percentile bootstrap 95 % CI of the mean "
            "relative effect (tasks weigh equally); per task a sign-flip permutation p",
        }
        if not eff:
            row.update(effect=None, ci=None, n=0, per_task={}, verdict="not run")
            out.append(row)
            continue
        point, ci = stratified_ci(eff, resamples=resamples, seed=_seed_for(stats_seed, c.id))
        per_task = _claim_per_task(c, eff, resamples, stats_seed, margin)
        pooled = verdict(ci, c.kind, margin)
        final, note = overall_verdict(pooled, {t: str(d["verdict"]) for t, d in per_task.items()})
        row.update(
            effect=point,
            ci=list(ci),
            n=sum(len(d) for d in eff.values()),
            per_task=per_task,
            pooled_verdict=pooled,
            verdict=final,
            note=note,
        )
        out.append(row)
    return out


def _claim_runs(
    records: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]
) -> dict[tuple[str, str], dict[int, Mapping[str, Any]]]:
    """Finished full-budget main runs by (task, schedule), then by seed."""
    wanted = set(meta.get("keys") or [])
    runs: dict[tuple[str, str], dict[int, Mapping[str, Any]]] = {}
    for r in records:
        if r.get("purpose", "main") != "main" or (wanted and r.get("key") not in wanted):
            continue
        if r.get("status") not in ("ok", "diverged"):
            continue
        runs.setdefault((str(r["task"]), str(r["schedule"])), {})[int(r["seed"])] = r
    return runs


def _claim_per_task(
    c: Claim,
    eff: Mapping[str, Any],
    resamples: int,
    stats_seed: int,
    margin: float,
) -> dict[str, dict[str, Any]]:
    """Per task: the claim's effect, bootstrap CI, pair count, permutation p and verdict.

    Args:
        c: the claim.
        eff: its paired effects per task.
        resamples: bootstrap resamples.
        stats_seed: base seed of the bootstrap.
        margin: the "matches" margin.
    """
    per_task: dict[str, dict[str, Any]] = {}
    for task, d in eff.items():
        tp, tci = stratified_ci(
            {task: d}, resamples=resamples, seed=_seed_for(stats_seed, c.id, task)
        )
        per_task[task] = {
            "effect": tp,
            "ci": list(tci),
            "n": len(d),
            "p": paired_permutation_p(d),
            "verdict": verdict(tci, c.kind, margin),
        }
    return per_task


def _pct(x: float) -> str:
    return f"{x * 100:+.1f} %"


_MEASURE = {
    "final": "relative final val loss improvement",
    "steps": "share of the run saved reaching B's final val loss",
    "anytime": "relative anytime val loss improvement",
}


def claims_lines(claims: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown of the Claims section: one table row per claim, then per-task detail."""
    if not claims:
        return []
    lines = [
        "## Claims",
        "",
        "Effect = A's improvement over B (positive = the claimed direction), paired by seed, "
        "mean over tasks; 95 % CI by stratified bootstrap. Verdict rule: *beats* claims are "
        "reproduced when the CI is above 0 and contradicted when it is below 0; *matches or "
        f"beats* claims are reproduced when the CI is above −{MARGIN * 100:g} % (non-inferiority "
        f"margin) and contradicted when it is below −{MARGIN * 100:g} %; anything else is "
        "inconclusive. The same rule on each task's own CI gives per-task verdicts; a pooled "
        "verdict that some task contradicts is reported as inconclusive (mixed).",
        "",
        "| claim | A vs B | measure | effect | 95 % CI | pairs | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in claims:
        eff = "–" if c.get("effect") is None else _pct(c["effect"])
        ci = "–" if not c.get("ci") else f"[{_pct(c['ci'][0])}, {_pct(c['ci'][1])}]"
        kind = "beats" if c["kind"] == "beats" else "matches or beats"
        note = f" ({c['note']})" if c.get("note") else ""
        lines.append(
            f"| {c['id']}. {c['text']} ({c['source']}) | `{c['a']}` {kind} `{c['b']}` | "
            f"{_MEASURE[c['measure']]} | {eff} | {ci} | {c['n']} | **{c['verdict']}**{note} |"
        )
    lines.append("")
    lines.append("Per task (effect, 95 % CI, paired permutation p, verdict by the same rule):")
    lines.append("")
    for c in claims:
        parts = [
            f"{task} {_pct(d['effect'])} [{_pct(d['ci'][0])}, {_pct(d['ci'][1])}], "
            f"p={d['p']:.2g}, {d['verdict']}"
            for task, d in (c.get("per_task") or {}).items()
        ]
        lines.append(f"- {c['id']}: " + ("; ".join(parts) if parts else "not run"))
    lines.append("")
    return lines

"""How good is the LR range test's advice on tasks it never saw? Leave-one-task-out regret.

Corpus: ``benchmarks/finder_corpus.py`` (18 small CPU tasks varying architecture, optimizer,
batch size, data size, depth/width; classification, regression, synthetic tasks with a known
generating model). For each task and seed:

1. grid search, per policy: train the policy at each peak LR of a log grid (13 points over 4
   decades around the optimizer family's usual LR; ``--quick``: 9), the grid best is the lowest
   final validation loss. Policies: ``one_cycle`` — ``one_cycle(peak, steps)`` with
   ``one_cycle_momentum(steps)`` (0.95 → 0.85 → 0.95; ``betas[0]`` for Adam; not for plain SGD),
   what ``recommend(policy="one_cycle", momentum=True)`` gives; ``cosine`` — ``warmup(5 %) >>
   cosine(peak → 0)`` at the task's constant momentum;
2. one LR range test (``lrkit.finder.RangeTest`` defaults: 1e-7 → 10 in 100 steps) on a fresh
   trainer at the task's momentum;
3. every candidate rule's suggestion is read off the grid (validation loss interpolated linearly
   in log LR between grid points; a diverged neighbour wins when it is the nearer one; flat
   outside the grid); regret = ``(val_loss - grid_best) / grid_best``, a diverged run counts 10.

Candidate rules come in *families*, each with free constants: lrkit's rule (``factor``,
``band``), fastai's ``valley`` / ``minimum`` / ``steep`` and torch-lr-finder's ``steepest``
times a multiplier, geometric means of two rules times a multiplier, and per-optimizer-family
versions (separate constants for SGD and Adam), and combinations (:func:`combinations`: the
median of three suggestions, caps and floors by the blow-up LR, lrkit's rule or fastai's
minimum, the valley's width choosing the multiplier, a noise gate). Fixed rules (fastai's and
torch-lr-finder's defaults, lrkit's 0.x rule) are families with one member.

Leave one task out: for each held-out task, each family's constants are fitted on the other
tasks (lowest mean regret), then scored on the held-out task. A family's *held-out regret* is
over all held-out tasks; the family with the lowest held-out mean regret, with its constants
fitted on all tasks, is the default for that policy. The rule ``recommend()`` uses by default
(``lrkit.finder.recommend.DEFAULT_RULES``, read from the library) is scored too, per task
family, against the target (median <= 3 %, mean <= 5 %, max <= 15 %); its constants were fitted
on this corpus, so the held-out figure is its family's. The lowest of many held-out means is
itself chosen on the corpus; :func:`nested_choice` holds that choice out too (per task, the
family is picked on the other tasks only) and the default's family is kept unless the nested
choice beats its held-out mean. With ``--verify`` the chosen family, the
library default and the 0.x rule are also trained at their exact suggestions (no
interpolation).

    python benchmarks/finder_quality.py [--quick] [--seeds 2] [--policies one_cycle cosine]
        [--workers 2] [--verify] [--out FILE]

Full run: 18 tasks x 13 LRs x 2 seeds x 2 policies = 936 training runs of 200-300 steps plus
36 range tests (1504 s with ``--verify`` on a shared 2-core machine;
``benchmarks/results/finder_quality_full.txt``). ``--quick``: one seed, 9 LRs, ``one_cycle`` only,
budgets halved (``--policies cosine`` and ``--first-seed 1`` give the other quick runs;
``--from`` merges them).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # finder_corpus, also in workers

DIVERGED_REGRET = 10.0
OLD_DEFAULT = "lrkit (0.x default f=4, b=1)"  # recommend()'s rule before the held-out choice
TARGET = (0.03, 0.05, 0.15)  # issue target for the default one-cycle rule: median, mean, max
CENTER = {
    "adam": 3e-3,
    "adamw": 3e-3,
    "momentum": 0.03,
    "nesterov": 0.03,
    "sgd": 0.3,
}  # grid centre
DECADES = 4.0


# -- training jobs (run in worker processes) ---------------------------------------------------
def _schedules(policy: str, peak: float, steps: int, momentum: float) -> tuple[Any, Any]:
    import lrkit

    if policy == "one_cycle":
        lr = lrkit.one_cycle(peak=peak, steps=steps)
        mom = lrkit.one_cycle_momentum(steps=steps) if momentum > 0 else lrkit.constant(0.0)
        return lr, mom
    w = round(0.05 * steps)
    return lrkit.warmup(w) >> lrkit.cosine(start=peak, end=0.0, steps=steps - w), lrkit.constant(
        momentum
    )


def train(name: str, seed: int, policy: str, peak: float, steps: int) -> float:
    """Final validation loss of ``policy`` at peak LR ``peak`` (inf if diverged)."""
    import numpy as np

    import finder_corpus as fc

    t = fc.task(name)
    trainer = fc.make(name, seed)
    lr, mom = _schedules(policy, peak, steps, t.momentum)
    lrs = np.asarray(lr(np.arange(steps)), dtype=float)
    moms = np.asarray(mom(np.arange(steps)), dtype=float)
    for k in range(steps):
        if not math.isfinite(trainer.train_step(float(lrs[k]), float(moms[k]))):
            return math.inf
    return trainer.evaluate()


def range_test(name: str, seed: int) -> dict[str, Any]:
    """One default range test on a fresh trainer, as a ``RangeTestResult`` dict."""
    import finder_corpus as fc
    from lrkit.finder import RangeTest

    t = fc.task(name)
    trainer = fc.make(name, seed)
    test = RangeTest()
    for lr in test:
        test.record(trainer.train_step(lr, t.momentum))
    return test.result().to_dict()


def _job(job: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
    kind, *args = job
    return job, (range_test(*args) if kind == "rt" else train(*args))


def _run(pool: Any, jobs: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
    if pool is None:
        return dict(_job(j) for j in jobs)
    return dict(pool.imap_unordered(_job, jobs, chunksize=1))


# -- regret -------------------------------------------------------------------------------------
def interpolated(grid: Sequence[tuple[float, float]], lr: float) -> float:
    """Val loss at ``lr`` off a grid search: linear in log LR between neighbours; a diverged
    (inf) neighbour wins when it is the nearer one; flat outside the grid."""
    xs = [math.log(p) for p, _ in grid]
    ys = [v for _, v in grid]
    x = math.log(lr)
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    k = max(i for i in range(len(xs)) if xs[i] <= x)
    w = (x - xs[k]) / (xs[k + 1] - xs[k])
    a, b = ys[k], ys[k + 1]
    if not (math.isfinite(a) and math.isfinite(b)):
        return b if w >= 0.5 else a
    return a + w * (b - a)


def regret(v: float, best: float) -> float:
    return min((v - best) / best, DIVERGED_REGRET) if math.isfinite(v) else DIVERGED_REGRET


@dataclass
class Case:
    """One (task, seed, policy) with its grid and range test."""

    task: str
    family: str
    opt_family: str
    seed: int
    policy: str
    grid: list[tuple[float, float]]
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]

    @property
    def best(self) -> tuple[float, float]:
        return min(self.grid, key=lambda g: g[1])

    def regret_at(self, lr: float) -> float:
        return regret(interpolated(self.grid, lr), self.best[1])


# -- the candidate families ---------------------------------------------------------------------
Suggest = Callable[[Case], float]
MULTS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
FACTORS = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
BANDS = (0.5, 1.0, 2.0)


def _base(case: Case, rule: str, **kw: float) -> float:
    """A registered rule's suggestion on the case's range test (cached per case)."""
    key = (rule, tuple(sorted(kw.items())))
    cache = case.__dict__.setdefault("_sugg", {})
    if key not in cache:
        from lrkit.finder import suggestions as sg

        curve = case.losses if sg.get(rule).curve == "raw" else case.smoothed
        fn = sg.get(rule).fn
        cache[key] = fn(case.lrs, curve, **kw).lr  # type: ignore[call-arg]
    return float(cache[key])


@dataclass(frozen=True)
class Family:
    """Rules with free constants: ``members`` maps a constants label to a suggestion function;
    ``by_opt`` fits the constants separately for the SGD and the Adam family."""

    name: str
    members: dict[str, Suggest]
    by_opt: bool = False


def _lrkit(factor: float, band: float) -> Suggest:
    return lambda c: _base(c, "lrkit", factor=factor, band=band)


def _last_in_band(factor: float, band: float) -> Suggest:
    """lrkit's rule, but the stop point is the *last* point before the final rise that lies
    within ``band`` noise units of the smoothed minimum (survives a curve that is only noise)."""

    def fn(c: Case) -> float:
        import numpy as np

        from lrkit.finder.suggestions import lrkit_smooth

        cache = c.__dict__.setdefault("_sugg", {})
        if "smooth" not in cache:
            y = np.asarray(c.losses)
            z = lrkit_smooth(y)
            w = max(5, round(0.1 * y.size) | 1)
            cache["smooth"] = (z, 1.4826 * float(np.median(np.abs(y - z))) / math.sqrt(w))
        z, noise = cache["smooth"]
        inside = np.nonzero(z <= z.min() + band * noise)[0]
        return float(c.lrs[int(inside[-1])]) / factor

    return fn


def families() -> list[Family]:
    fams = [
        Family(OLD_DEFAULT, {"f=4,b=1": _lrkit(4.0, 1.0)}),
        Family("valley (fastai default)", {"x1": lambda c: _base(c, "valley")}),
        Family("minimum (fastai)", {"x1": lambda c: _base(c, "minimum")}),
        Family("steepest (torch-lr-finder)", {"x1": lambda c: _base(c, "steepest")}),
        Family(
            "lrkit f,b",
            {f"f={f:g},b={b:g}": _lrkit(f, b) for f, b in itertools.product(FACTORS, BANDS)},
        ),
        Family(
            "lrkit f,b per optimizer",
            {f"f={f:g},b={b:g}": _lrkit(f, b) for f, b in itertools.product(FACTORS, BANDS)},
            by_opt=True,
        ),
    ]
    for rule in ("valley", "minimum", "steep", "steepest"):
        fams.append(
            Family(
                f"{rule} x m",
                {f"m={m:g}": (lambda c, r=rule, m=m: m * _base(c, r)) for m in MULTS},
            )
        )
        fams.append(
            Family(
                f"{rule} x m per optimizer",
                {f"m={m:g}": (lambda c, r=rule, m=m: m * _base(c, r)) for m in MULTS},
                by_opt=True,
            )
        )
    fams.append(
        Family(
            "blow-up LR / d",
            {f"d={d:g}": (lambda c, d=d: c.lrs[-1] / d) for d in (4, 8, 16, 32, 64, 128)},
        )
    )
    fams.append(
        Family(
            "lrkit last-in-band f",
            {f"f={f:g},b={b:g}": _last_in_band(f, b) for f, b in itertools.product(FACTORS, BANDS)},
        )
    )
    for a, b in (("lrkit", "minimum"), ("lrkit", "valley"), ("minimum", "valley")):
        fams.append(
            Family(
                f"sqrt({a}*{b}) x m",
                {
                    f"m={m:g}": (lambda c, a=a, b=b, m=m: m * math.sqrt(_base(c, a) * _base(c, b)))
                    for m in MULTS
                },
            )
        )
    fams += combinations()
    return fams


def _curve_shape(c: Case) -> dict[str, float]:
    """What the combination rules read off a case's range test besides the registered rules
    (cached): ``blow`` the last LR of the test (where it stopped, diverged), ``start``/``end``
    the LRs where fastai's longest valley of the smoothed curve starts and ends (after valley's
    trimming), ``snr`` the loss drop (first to lowest smoothed loss) over the raw losses' noise
    (step-to-step spread of the first 20 points)."""
    cache = c.__dict__.setdefault("_sugg", {})
    if "shape" not in cache:
        import numpy as np

        from lrkit.finder.suggestions import _longest_valley

        x, y, raw = (np.asarray(v, dtype=float) for v in (c.lrs, c.smoothed, c.losses))
        ok = np.isfinite(y)
        cut = int(np.argmin(ok)) if not ok.all() else y.size
        x, y = x[:cut], y[:cut]
        s = slice(x.size // 10, x.size - 5) if x.size - x.size // 10 - 5 >= 3 else slice(0, x.size)
        a, b = _longest_valley(y[s])
        a = max(a, 0)  # fastai's scan can leave max_start at -1 (a valley from the first point)
        noise = float(np.std(np.diff(raw[:20]))) / math.sqrt(2.0)
        drop = float(y[s][0] - y[s].min())
        cache["shape"] = {
            "blow": float(x[-1]),
            "start": float(x[s][a]),
            "end": float(x[s][b]),
            "snr": drop / max(noise, 1e-12),
        }
    return dict(cache["shape"])


def _blend(lr: float, fallback: float, w: float) -> float:
    """``lr ** w * fallback ** (1 - w)`` with ``w`` clipped to [0, 1]."""
    w = min(1.0, max(0.0, w))
    return math.exp(w * math.log(lr) + (1.0 - w) * math.log(fallback))


def other_seed(cases: list[Case]) -> dict[str, float] | None:
    """Regret at the grid-best LR of the same task's other seed: what knowing the task's best LR
    (an oracle no range test has) leaves to seed noise; ``None`` without two seeds per task."""
    by = {(c.task, c.seed): c for c in cases}
    regs = []
    for c in cases:
        other = [o for (t, s), o in by.items() if t == c.task and s != c.seed]
        if not other:
            return None
        regs.append(c.regret_at(other[0].best[0]))
    return {
        "mean": statistics.fmean(regs),
        "median": statistics.median(regs),
        "max": max(regs),
        "above_15": sum(r > 0.15 for r in regs),
    }


def _geo(lo: float, hi: float, n: int) -> list[float]:
    return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]


def combinations() -> list[Family]:
    """Rules combining two or three readings of the curve (issue 21's search, all fitted by
    leave-one-task-out like the rest): the median of three suggestions, caps and floors of
    valley x m by the blow-up LR, lrkit's rule or fastai's minimum, geometric means, the valley's
    width choosing the multiplier, and a noise gate falling back to the blow-up LR."""
    v = lambda c: _base(c, "valley")  # noqa: E731
    lk = lambda c: _base(c, "lrkit")  # noqa: E731
    mn = lambda c: _base(c, "minimum")  # noqa: E731
    sh = _curve_shape
    ms = _geo(0.5, 16.0, 11)  # factor sqrt(2) apart
    ds = _geo(2.0, 512.0, 17)
    fams = [
        *(
            Family(
                f"median(valley x m, {label} x a, blow-up / d)",
                {
                    f"m={m:.3g},a={a:.3g},d={d:.3g}": (
                        lambda c, m=m, a=a, d=d, second=second: statistics.median(
                            (m * v(c), a * second(c), sh(c)["blow"] / d)
                        )
                    )
                    for m, a, d in itertools.product(_geo(1.0, 8.0, 7), a_grid, ds)
                },
            )
            for label, second, a_grid in (
                ("lrkit", lk, _geo(1.0, 8.0, 7)),
                ("minimum", mn, _geo(0.3125, 10.0, 11)),
            )
        ),
        Family(
            "max(valley x m, lrkit x a)",
            {
                f"m={m:.3g},a={a:.3g}": (lambda c, m=m, a=a: max(m * v(c), a * lk(c)))
                for m, a in itertools.product(_geo(0.5, 8.0, 9), _geo(0.5, 8.0, 9))
            },
        ),
        Family(
            "min(valley x m, minimum x a)",
            {
                f"m={m:.3g},a={a:.3g}": (lambda c, m=m, a=a: min(m * v(c), a * mn(c)))
                for m, a in itertools.product(ms, _geo(0.3125, 20.0, 13))
            },
        ),
        Family(
            "max(valley x m, blow-up / d)",
            {
                f"m={m:.3g},d={d:.3g}": (lambda c, m=m, d=d: max(m * v(c), sh(c)["blow"] / d))
                for m, d in itertools.product(ms, ds)
            },
        ),
        Family(
            "min(valley x m, blow-up / d)",
            {
                f"m={m:.3g},d={d:.3g}": (lambda c, m=m, d=d: min(m * v(c), sh(c)["blow"] / d))
                for m, d in itertools.product(ms, ds)
            },
        ),
        Family(
            "valley^a x blow-up^(1-a) x m",
            {
                f"a={a:.3g},m={m:.3g}": (
                    lambda c, a=a, m=m: m * v(c) ** a * sh(c)["blow"] ** (1.0 - a)
                )
                for a, m in itertools.product(
                    [0.5 + 0.05 * i for i in range(11)], _geo(1 / 256, 16.0, 33)
                )
            },
        ),
        Family(
            "sqrt(valley x valley end) x m",
            {
                f"m={m:.3g}": (lambda c, m=m: m * math.sqrt(v(c) * sh(c)["end"]))
                for m in _geo(1 / 16, 8.0, 22)
            },
        ),
        Family(
            "valley end / d per optimizer",
            {f"d={d:.3g}": (lambda c, d=d: sh(c)["end"] / d) for d in _geo(1.0, 64.0, 19)},
            by_opt=True,
        ),
        Family(
            "valley x m x 10^(k (width - 3.5))",
            {
                f"m={m:.3g},k={k:.3g}": (
                    lambda c, m=m, k=k: (
                        m * v(c) * 10 ** (k * (math.log10(sh(c)["end"] / sh(c)["start"]) - 3.5))
                    )
                )
                for m, k in itertools.product(ms, [-1.0 + 0.125 * i for i in range(17)])
            },
        ),
        Family(
            "snr blend: valley x m toward blow-up / d",  # (valley x m)^w (blow-up / d)^(1-w)
            {
                f"m={m:.3g},d={d:.3g},s={s:.3g}": (
                    lambda c, m=m, d=d, s=s: _blend(m * v(c), sh(c)["blow"] / d, sh(c)["snr"] / s)
                )
                for m, d, s in itertools.product(ms, ds, _geo(0.5, 32.0, 7))
            },
        ),
        Family(
            "noise gate: snr < s ? blow-up / d : valley x m",
            {
                f"s={s:g},m={m:.3g},d={d:.3g}": (
                    lambda c, s=s, m=m, d=d: m * v(c) if sh(c)["snr"] >= s else sh(c)["blow"] / d
                )
                for s, m, d in itertools.product((0.05, 0.3, 0.5, 1.0), ms, ds)
            },
        ),
    ]
    return fams


def library_default(policy: str) -> tuple[Family, str]:
    """The peak rule ``recommend(policy=policy)`` uses by default, read from lrkit, as a family
    with one member (its constants are fixed: its held-out figures are in-sample for them), and
    the name of the family its constants were fitted from (whose held-out figures are not)."""
    from lrkit.finder.recommend import DEFAULT_RULES, peak_rule

    rule = peak_rule(DEFAULT_RULES[policy])

    def fn(c: Case) -> float:
        return rule.multiplier(c.opt_family) * _base(c, rule.base)

    fitted = f"{rule.base} x m" + (" per optimizer" if rule.by_optimizer else "")
    return Family(f"library default: {rule.name}", {rule.name: fn}), fitted


def _regrets(fam: Family, cases: list[Case]) -> Any:
    """``R[i, j]``: regret of member ``i`` on case ``j`` (cached per case: each member's
    suggestion is read off the grid once, whatever the folds)."""
    import numpy as np

    out = np.empty((len(fam.members), len(cases)))
    for j, c in enumerate(cases):
        memo = c.__dict__.setdefault("_regret", {})
        for i, (lab, fn) in enumerate(fam.members.items()):
            key = (fam.name, lab)
            if key not in memo:
                memo[key] = c.regret_at(fn(c))
            out[i, j] = memo[key]
    return out


def _pick(table: Any) -> int:
    """Row of ``table`` (members x cases) with the lowest mean regret (ties: lower median, then
    row order)."""
    import numpy as np

    means = table.mean(axis=1)
    medians = np.median(table, axis=1)
    return int(np.lexsort((np.arange(len(means)), medians, means))[0])


def _fit_rows(fam: Family, regs: Any, opts: list[str], train: Any) -> dict[str, int]:
    """Member rows fitted on the cases where ``train`` is true, ``{opt_family or "*": row}``;
    per optimizer family when ``fam.by_opt`` (no training case of a family: fit on all)."""
    import numpy as np

    if not fam.by_opt:
        return {"*": _pick(regs[:, train])}
    out = {}
    for g in ("sgd", "adam"):
        mask = train & (np.asarray(opts) == g)
        out[g] = _pick(regs[:, mask if mask.any() else train])
    return out


def _fit(fam: Family, cases: list[Case]) -> dict[str, str]:
    """The member label with the lowest mean regret on ``cases`` (per optimizer family when
    ``fam.by_opt``; ties: lower median, then label order), as ``{opt_family or "*": label}``."""
    import numpy as np

    labels = list(fam.members)
    rows = _fit_rows(
        fam, _regrets(fam, cases), [c.opt_family for c in cases], np.ones(len(cases), bool)
    )
    return {g: labels[i] for g, i in rows.items()}


def _apply(fam: Family, fit: dict[str, str], c: Case) -> float:
    return fam.members[fit[c.opt_family if fam.by_opt else "*"]](c)


def _held_out(fam: Family, regs: Any, tasks: Any, opts: list[str], train: Any) -> Any:
    """Leave-one-task-out regrets of the cases where ``train`` is true (constants fitted on the
    other tasks among them); NaN elsewhere."""
    import numpy as np

    out = np.full(len(tasks), np.nan)
    for task in sorted(set(tasks[train].tolist())):
        fit = _fit_rows(fam, regs, opts, train & (tasks != task))
        for j in np.nonzero(train & (tasks == task))[0]:
            out[j] = regs[fit[opts[j] if fam.by_opt else "*"], j]
    return out


def loto(fam: Family, cases: list[Case]) -> dict[str, Any]:
    """Leave-one-task-out: fit on the other tasks, score the held-out task's cases."""
    import numpy as np

    labels = list(fam.members)
    regs = _regrets(fam, cases)
    tasks = np.array([c.task for c in cases])
    opts = [c.opt_family for c in cases]
    rows = []
    for task in sorted(set(tasks.tolist())):
        fit = {g: labels[i] for g, i in _fit_rows(fam, regs, opts, tasks != task).items()}
        for c in (c for c in cases if c.task == task):
            lr = _apply(fam, fit, c)
            rows.append(
                {
                    "task": c.task,
                    "seed": c.seed,
                    "lr": lr,
                    "regret": c.regret_at(lr),
                    "fit": fit,
                    "family": c.family,
                    "opt_family": c.opt_family,
                }
            )
    regs_out = [r["regret"] for r in rows]
    return {
        "rows": rows,
        "mean": statistics.fmean(regs_out),
        "median": statistics.median(regs_out),
        "max": max(regs_out),
        "fit_all": _fit(fam, cases),
    }


def nested_choice(fams: list[Family], cases: list[Case]) -> dict[str, Any]:
    """The held-out regret of *choosing the family* by held-out mean: for each task, the family
    is chosen by leave-one-task-out on the other tasks only (inner folds), its constants are
    fitted on them, and the task is scored. Picking the lowest of many held-out means favours a
    family that was lucky on this corpus; this figure does not (the held-out task chooses neither
    the family nor its constants)."""
    import numpy as np

    tasks = np.array([c.task for c in cases])
    opts = [c.opt_family for c in cases]
    tables = [_regrets(f, cases) for f in fams]
    held = np.full(len(cases), np.nan)
    picks: dict[str, int] = {}
    for task in sorted(set(tasks.tolist())):
        train = tasks != task
        inner = [
            _held_out(f, r, tasks, opts, train)[train] for f, r in zip(fams, tables, strict=True)
        ]
        k = min(
            range(len(fams)),
            key=lambda i: (statistics.fmean(inner[i]), float(np.median(inner[i])), i),
        )
        fit = _fit_rows(fams[k], tables[k], opts, train)
        for j in np.nonzero(~train)[0]:
            held[j] = tables[k][fit[opts[j] if fams[k].by_opt else "*"], j]
        picks[fams[k].name] = picks.get(fams[k].name, 0) + 1
    regs = held.tolist()
    return {
        "mean": statistics.fmean(regs),
        "median": statistics.median(regs),
        "max": max(regs),
        "picks": picks,
    }


# -- main ---------------------------------------------------------------------------------------
def collect(
    tasks: Sequence[Any],
    seeds: list[int],
    policies: list[str],
    points: int,
    scale: float,
    pool: Any,
) -> tuple[list[Case], dict[str, int]]:
    """Run the grids and range tests; one :class:`Case` per (task, seed, policy)."""
    steps = {t.name: max(50, round(t.steps * scale)) for t in tasks}
    grids = {
        t.name: [
            CENTER[t.optimizer] * 10 ** (DECADES * (i / (points - 1) - 0.5)) for i in range(points)
        ]
        for t in tasks
    }
    jobs: list[tuple[Any, ...]] = []
    for t in tasks:
        for s in seeds:
            jobs.append(("rt", t.name, s))
            jobs += [
                ("tr", t.name, s, p, lr, steps[t.name]) for p in policies for lr in grids[t.name]
            ]
    jobs.sort(key=lambda j: ("transformer" not in j[1], j[0] != "rt"))  # slow ones first
    res = _run(pool, jobs)
    cases = []
    for t in tasks:
        for s in seeds:
            rt = res[("rt", t.name, s)]
            for p in policies:
                grid = [(lr, res[("tr", t.name, s, p, lr, steps[t.name])]) for lr in grids[t.name]]
                cases.append(
                    Case(
                        t.name,
                        t.family,
                        t.opt_family,
                        s,
                        p,
                        grid,
                        rt["lrs"],
                        rt["losses"],
                        rt["smoothed"],
                    )
                )
    return cases, steps


def load(path: str) -> tuple[list[Case], dict[str, int], dict[str, Any]]:
    """The cases of a saved report (to re-analyse without training)."""
    import finder_corpus as fc
    from lrkit.finder.smoothing import ema

    with open(path) as f:
        old = json.load(f)
    cases = []
    for p, d in old["policies"].items():
        for c in d["cases"]:
            t = fc.task(c["task"])
            smoothed = ema(c["rt_losses"], 0.05).tolist()  # RangeTest's default EMA
            grid = [(lr, math.inf if v is None else v) for lr, v in c["grid"]]
            cases.append(
                Case(
                    t.name,
                    t.family,
                    t.opt_family,
                    c["seed"],
                    p,
                    grid,
                    c["rt_lrs"],
                    c["rt_losses"],
                    smoothed,
                )
            )
    return cases, old["steps"], old


def analyse(cases: list[Case], pool: Any, verify: bool, steps: dict[str, int]) -> dict[str, Any]:
    """Leave-one-task-out over every family, per policy."""
    out: dict[str, Any] = {}
    for p in dict.fromkeys(c.policy for c in cases):
        pc = [c for c in cases if c.policy == p]
        lib, fitted = library_default(p)
        fams = families()
        held = {f.name: loto(f, pc) for f in fams}
        chosen = min(fams, key=lambda f: (held[f.name]["mean"], held[f.name]["median"]))
        lib_held = loto(lib, pc)
        nested = nested_choice(fams, pc)
        out[p] = {
            "nested_choice": nested,
            "other_seed": other_seed(pc),
            "held_out": {
                k: {x: v[x] for x in ("mean", "median", "max", "fit_all")} for k, v in held.items()
            },
            "chosen": chosen.name,
            "chosen_rows": held[chosen.name]["rows"],
            "default_rows": held[OLD_DEFAULT]["rows"],
            "library_default": lib.name,
            "library_fitted_from": fitted,
            "library_rows": lib_held["rows"],
            "cases": [
                {
                    "task": c.task,
                    "seed": c.seed,
                    "grid": c.grid,
                    "grid_best": c.best,
                    "rt_lrs": c.lrs,
                    "rt_losses": c.losses,
                }
                for c in pc
            ],
        }
        if verify:
            out[p]["verified"] = _verify(pool, pc, chosen, {**held, lib.name: lib_held}, steps, lib)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 seed, 9 LRs, one_cycle, half budgets")
    ap.add_argument("--out", default="finder_quality.json", help="JSON output path")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default 2, quick 1)")
    ap.add_argument("--policies", nargs="+", default=None, choices=("one_cycle", "cosine"))
    ap.add_argument("--points", type=int, default=None, help="grid points (default 13, quick 9)")
    ap.add_argument("--only", action="append", default=[], help="run only this task (repeatable)")
    ap.add_argument("--verify", action="store_true", help="train the chosen rules' exact LRs")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds start here (default 0)")
    ap.add_argument(
        "--from",
        dest="source",
        nargs="+",
        default=None,
        help="re-analyse the grids and range tests of saved JSONs, merged (no training except "
        "--verify)",
    )
    a = ap.parse_args(argv)

    import finder_corpus as fc

    t0 = time.perf_counter()
    pool = mp.get_context("spawn").Pool(a.workers) if a.workers > 1 else None
    try:
        if a.source:
            cases, steps, meta = [], {}, {"quick": True, "seeds": [], "points": 0, "from": a.source}
            for path in a.source:  # several runs (other seeds) are merged
                more, more_steps, old = load(path)
                cases += more
                steps.update(more_steps)
                meta["quick"] = meta["quick"] and old["quick"]
                meta["seeds"] = sorted(set(meta["seeds"]) | set(old["seeds"]))
                meta["points"] = old["points"]
        else:
            tasks = [t for t in fc.TASKS if not a.only or t.name in a.only]
            n_seeds = a.seeds if a.seeds is not None else (1 if a.quick else 2)
            seeds = list(range(a.first_seed, a.first_seed + n_seeds))
            policies = a.policies or (["one_cycle"] if a.quick else ["one_cycle", "cosine"])
            points = a.points or (9 if a.quick else 13)
            cases, steps = collect(tasks, seeds, policies, points, 0.5 if a.quick else 1.0, pool)
            meta = {"quick": a.quick, "seeds": seeds, "points": points}
        report: dict[str, Any] = {**meta, "steps": steps}
        report["policies"] = analyse(cases, pool, a.verify, steps)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    report["wall_seconds"] = time.perf_counter() - t0
    _print(report)
    if a.source:  # the grids and range tests stay in the source files
        for d in report["policies"].values():
            d.pop("cases")
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1, default=lambda x: None)
    print(f"JSON written to {a.out}")
    return report


def _verify(
    pool: Any,
    cases: list[Case],
    chosen: Family,
    held: dict[str, Any],
    steps: dict[str, int],
    lib: Family,
) -> dict[str, Any]:
    """Train the held-out suggestions of the chosen family, of the library's default rule and of
    the 0.x default exactly."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys((chosen.name, lib.name, OLD_DEFAULT)):
        rows = held[name]["rows"]
        jobs = [
            ("tr", r["task"], r["seed"], cases[0].policy, r["lr"], steps[r["task"]]) for r in rows
        ]
        res = _run(pool, jobs)
        regs = []
        for r, j in zip(rows, jobs, strict=True):
            best = next(c.best[1] for c in cases if c.task == r["task"] and c.seed == r["seed"])
            regs.append(regret(res[j], best))
        out[name] = {
            "regrets": regs,
            "mean": statistics.fmean(regs),
            "median": statistics.median(regs),
            "max": max(regs),
        }
    return out


def _table(rows: list[dict[str, Any]], key: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r[key], []).append(r["regret"])
    return out


def _print(report: dict[str, Any]) -> None:
    pct = lambda x: f"{100 * x:7.1f}%"  # noqa: E731
    for p, d in report["policies"].items():
        print(f"\n== policy {p}: held-out (leave-one-task-out) regret of each rule family ==")
        print(f"{'family':46s} {'mean':>8s} {'median':>8s} {'max':>8s}  constants (fit on all)")
        for name, h in sorted(d["held_out"].items(), key=lambda kv: kv[1]["mean"]):
            fit = ", ".join(f"{k}: {v}" for k, v in h["fit_all"].items())
            print(f"{name:46s} {pct(h['mean'])} {pct(h['median'])} {pct(h['max'])}  {fit}")
        print(f"\nlowest held-out mean: {d['chosen']}")
        n = d.get("nested_choice")
        if n is not None:
            picks = ", ".join(f"{k} {v}x" for k, v in sorted(n["picks"].items()))
            print(
                f"choosing the family by held-out mean, the choice itself held out (nested): "
                f"mean {pct(n['mean']).strip()}, median {pct(n['median']).strip()}, max "
                f"{pct(n['max']).strip()} (picked: {picks})"
            )
            o = d.get("other_seed")
            if o is not None:
                print(
                    f"reference, the other seed's grid-best LR (an oracle): mean "
                    f"{pct(o['mean']).strip()}, median {pct(o['median']).strip()}, max "
                    f"{pct(o['max']).strip()}, {o['above_15']} cases above 15 %"
                )
            fitted = d.get("library_fitted_from")
            h = d["held_out"].get(fitted) if fitted else None
            if h is not None:
                keep = n["mean"] >= h["mean"]
                print(
                    f"the default's family '{fitted}' held out: mean {pct(h['mean']).strip()}; "
                    + (
                        "choosing among the families does not beat it held out: keep the default"
                        if keep
                        else "the nested choice beats it held out: change the default"
                    )
                )
        tables = [("chosen", d["chosen_rows"])]
        if "library_rows" in d:
            lib = d["library_default"]
            fitted = d["library_fitted_from"]
            h = d["held_out"].get(fitted)
            if h is not None:
                print(
                    f"{lib} (recommend()'s default, read from lrkit): its constants were fitted "
                    f"on this corpus; held out, its family '{fitted}' has mean "
                    f"{pct(h['mean']).strip()}, median {pct(h['median']).strip()}, max "
                    f"{pct(h['max']).strip()}"
                )
            regs = [r["regret"] for r in d["library_rows"]]
            stats = (statistics.median(regs), statistics.fmean(regs), max(regs))
            met = all(v <= t for v, t in zip(stats, TARGET, strict=True))
            print(
                f"{lib} with its constants: median {pct(stats[0]).strip()}, mean "
                f"{pct(stats[1]).strip()}, max {pct(stats[2]).strip()}; target (median <= 3 %, mean <= 5 %, max <= 15 %): "
                + ("met" if met else "NOT met")
            )
            tables.append((lib, d["library_rows"]))
        tables.append(("0.x default (lrkit f=4, b=1)", d["default_rows"]))
        for label, rows in tables:
            print(f"\n{label} — held-out regret per task family and optimizer family:")
            for key in ("family", "opt_family"):
                for g, regs in sorted(_table(rows, key).items()):
                    print(
                        f"  {g:14s} n={len(regs):2d} median {pct(statistics.median(regs))} "
                        f"mean {pct(statistics.fmean(regs))} max {pct(max(regs))}"
                    )
            worst = sorted(rows, key=lambda r: -r["regret"])[:4]
            print(
                "  worst: "
                + "; ".join(
                    f"{r['task']} (seed {r['seed']}) {pct(r['regret']).strip()}" for r in worst
                )
            )
        grid_edge = [
            c["task"]
            for c in d["cases"]
            if c["grid_best"][0] in (c["grid"][0][0], c["grid"][-1][0])
        ]
        if grid_edge:
            print(f"\ngrid best at the edge of the grid (regret understated): {grid_edge}")
        if "verified" in d:
            print("\ntrained at the exact held-out suggestion (no interpolation):")
            for name, v in d["verified"].items():
                print(
                    f"  {name:34s} mean {pct(v['mean'])} median {pct(v['median'])} "
                    f"max {pct(v['max'])}"
                )
    print(f"\nwall time {report['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])

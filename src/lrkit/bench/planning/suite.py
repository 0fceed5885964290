"""The schedule suite: entries as data (unit-peak lrkit text with % durations), bound at run time.

An entry's ``lr`` text describes the *shape* with peak 1 and durations as shares of training
(``"5%"``); :meth:`SuiteEntry.build` scales it by the peak LR and binds it to the step budget, so
every schedule in a comparison gets the same budget and the same peak rule. ``momentum`` is an
optional absolute momentum schedule (not scaled); ``plateau`` holds keyword arguments of
:class:`lrkit.Plateau` (reported the validation loss at each evaluation); ``optimizer``
overrides the task's optimizer (``"schedulefree"`` picks the schedule-free variant of the
task's default optimizer family).

>>> [e.name for e in DEFAULT_SUITE][:4]
['constant', 'step-halving', 'exponential', 'polynomial']
>>> parse_schedule_arg("mine=cosine(start=1.0, steps='100%')").name
'mine'
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrkit._validate import did_you_mean
from lrkit.plateau import _TORCH_KEYS

if TYPE_CHECKING:
    from lrkit.core import Schedule
    from lrkit.plateau import Plateau

__all__ = [
    "DEFAULT_SUITE",
    "SCHEDULEFREE",
    "SuiteEntry",
    "entry_from_mapping",
    "finder_policy",
    "parse_schedule_arg",
    "resolve_optimizer",
    "select",
]

#: Optimizer override meaning "the schedule-free variant of the task's default optimizer".
SCHEDULEFREE = "schedulefree"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_PLATEAU_KEYS = _TORCH_KEYS


def _parse(text: str, where: str) -> Schedule:
    import lrkit

    try:
        return lrkit.parse(text)
    except ValueError as exc:
        raise ValueError(f"{where}: cannot parse schedule text {text!r}: {exc}") from exc


@dataclass(frozen=True)
class SuiteEntry:
    """One schedule of a bench suite, as data.

    >>> e = SuiteEntry("cos", "cosine(start=1.0, steps='100%')")
    >>> lr, mom = e.build(peak_lr=0.1, steps=100)
    >>> round(float(lr(0)), 6), round(float(lr(50)), 6), mom is None
    (0.1, 0.05, True)
    """

    name: str
    lr: str
    momentum: str | None = None
    plateau: Mapping[str, Any] | None = field(default=None, hash=False)
    optimizer: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ValueError(
                f"SuiteEntry: name={self.name!r} is invalid; use letters, digits and . _ + -"
            )
        if not isinstance(self.lr, str) or not self.lr.strip():
            raise ValueError(
                f"SuiteEntry({self.name!r}): lr must be schedule text, got {self.lr!r}"
            )
        if self.momentum is not None and (
            not isinstance(self.momentum, str) or not self.momentum.strip()
        ):
            raise ValueError(
                f"SuiteEntry({self.name!r}): momentum must be None or schedule text, "
                f"got {self.momentum!r}"
            )
        if self.plateau is not None:
            if not isinstance(self.plateau, Mapping):
                raise TypeError(
                    f"SuiteEntry({self.name!r}): plateau must be a mapping of Plateau keyword "
                    f"arguments, got {type(self.plateau).__name__}"
                )
            bad = sorted(set(self.plateau) - set(_PLATEAU_KEYS))
            if bad:
                raise ValueError(
                    f"SuiteEntry({self.name!r}): unknown plateau option(s) {bad}; "
                    f"allowed: {', '.join(_PLATEAU_KEYS)}"
                )
            object.__setattr__(self, "plateau", dict(sorted(self.plateau.items())))
        if self.optimizer is not None and (
            not isinstance(self.optimizer, str) or not self.optimizer
        ):
            raise ValueError(
                f"SuiteEntry({self.name!r}): optimizer must be None or a name, "
                f"got {self.optimizer!r}"
            )

    def unit_lr(self) -> Schedule:
        """The parsed unit-peak LR shape (unbound)."""
        return _parse(self.lr, f"suite entry {self.name!r} (lr)")

    def canonical_texts(self) -> tuple[str, str | None]:
        """Canonical text of the LR shape and of the momentum schedule (stable across spelling)."""
        lr = str(self.unit_lr())
        mom = (
            None
            if self.momentum is None
            else str(_parse(self.momentum, f"suite entry {self.name!r} (momentum)"))
        )
        return lr, mom

    def build(self, peak_lr: float, steps: int) -> tuple[Schedule, Schedule | None]:
        """The LR schedule (shape x ``peak_lr``) and momentum schedule, bound to ``steps``."""
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"SuiteEntry.build: steps must be an int >= 1, got {steps!r}")
        if not float(peak_lr) > 0:
            raise ValueError(f"SuiteEntry.build: peak_lr must be > 0, got {peak_lr!r}")
        lr = (self.unit_lr() * float(peak_lr)).bind(steps)
        mom = None
        if self.momentum is not None:
            mom = _parse(self.momentum, f"suite entry {self.name!r} (momentum)").bind(steps)
        return lr, mom

    def make_plateau(self) -> Plateau | None:
        """A fresh :class:`lrkit.Plateau` from ``plateau`` (None when the entry has none)."""
        if self.plateau is None:
            return None
        from lrkit.plateau import Plateau

        return Plateau(**dict(self.plateau))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (inverse of :func:`entry_from_mapping`)."""
        out: dict[str, Any] = {"name": self.name, "lr": self.lr}
        if self.momentum is not None:
            out["momentum"] = self.momentum
        if self.plateau is not None:
            out["plateau"] = dict(self.plateau)
        if self.optimizer is not None:
            out["optimizer"] = self.optimizer
        if self.note:
            out["note"] = self.note
        return out


_CYCLIC = 'cyclic(low=0.25, high=1.0, half_cycle="12.5%", mode="triangular")'

#: The default suite: every schedule family lrkit covers, as unit-peak shapes.
DEFAULT_SUITE: tuple[SuiteEntry, ...] = (
    SuiteEntry("constant", "constant(1.0)", note="fixed LR baseline"),
    SuiteEntry("step-halving", 'step(start=1.0, every="25%", factor=0.5)', note="halve every 25 %"),
    SuiteEntry(
        "exponential",
        'exponential(start=1.0, rate=4.60517, every="100%")',
        note="start * exp(-ln(100) t/T): smooth decay to 1 % of the peak",
    ),
    SuiteEntry(
        "polynomial",
        'polynomial(start=1.0, end=0.0, steps="100%", power=2.0)',
        note="quadratic decay to 0",
    ),
    SuiteEntry("cosine", 'cosine(start=1.0, end=0.0, steps="100%")', note="cosine to 0"),
    SuiteEntry(
        "cosine-restarts",
        'cosine(start=1.0, end=0.0, steps="14.2857%").repeat(mult=2.0)',
        note="SGDR, 3 cycles with T_mult=2",
    ),
    SuiteEntry(
        "triangular",
        _CYCLIC,
        momentum=f"{_CYCLIC}.mirror(low=0.85, high=0.95)",
        note="Smith's triangular CLR, 4 cycles, low = peak/4, momentum inverse to the LR",
    ),
    SuiteEntry(
        "one-cycle",
        'one_cycle(peak=1.0, steps="100%")',
        note="PyTorch OneCycleLR's LR curve alone (momentum/beta1 left at the optimizer's)",
    ),
    SuiteEntry(
        "one-cycle+momentum",
        'one_cycle(peak=1.0, steps="100%")',
        momentum='one_cycle_momentum(steps="100%")',
        note="PyTorch OneCycleLR defaults: the LR curve and momentum/beta1 cycled inversely",
    ),
    SuiteEntry(
        "warmup-cosine",
        'warmup("5%") >> cosine(start=1.0, end=0.0, steps="95%")',
        note="5 % linear warm-up, cosine to 0",
    ),
    SuiteEntry(
        "wsd",
        'wsd(peak=1.0, steps="100%", warmup="5%", decay=0.2, shape="1-sqrt")',
        note="warm-up, stable, 20 % (1-sqrt) cool-down",
    ),
    SuiteEntry(
        "inverse-sqrt", 'inverse_sqrt(peak=1.0, warmup="5%")', note="5 % warm-up, then 1/sqrt"
    ),
    SuiteEntry(
        "linear-to-zero", 'linear(start=1.0, end=0.0, steps="100%")', note="linear decay to 0"
    ),
    SuiteEntry("rex", 'rex(start=1.0, end=0.0, steps="100%")', note="REX decay to 0"),
    SuiteEntry(
        "plateau",
        "constant(1.0)",
        plateau={"factor": 0.5, "patience": 2, "threshold": 1e-3},
        note="constant x ReduceLROnPlateau on val loss (factor 0.5, patience 2 evals)",
    ),
    SuiteEntry(
        "schedule-free",
        "constant(1.0)",
        optimizer=SCHEDULEFREE,
        note="schedule-free optimizer (package schedulefree) at a constant LR",
    ),
)


def resolve_optimizer(
    entry: SuiteEntry, default: str, supported: Sequence[str]
) -> tuple[str | None, str]:
    """The optimizer an entry runs with on a task, or ``(None, reason)`` when it cannot run.

    >>> resolve_optimizer(DEFAULT_SUITE[0], "sgd", ("sgd",))
    ('sgd', '')
    >>> resolve_optimizer(SuiteEntry("x", "constant(1.0)", optimizer="lion"), "sgd", ("sgd",))[1]
    "optimizer 'lion' is not supported by this task (sgd)"
    >>> resolve_optimizer(SuiteEntry("x", "constant(1.0)", optimizer="lion"), "own", ("own",))[1]
    'it needs its own optimizer (lion), and a function task brings its own'
    """
    if entry.optimizer is None:
        return default, ""
    from lrkit.bench.api import OWN_OPTIMIZER

    if tuple(supported) == (OWN_OPTIMIZER,):
        return None, (
            f"it needs its own optimizer ({entry.optimizer}), and a function task brings its own"
        )
    name = entry.optimizer
    if name == SCHEDULEFREE:
        name = f"{default.split('-')[0]}-schedulefree"
        if importlib.util.find_spec("schedulefree") is None:
            return None, "package schedulefree is not installed"
    if name not in supported:
        return None, f"optimizer {name!r} is not supported by this task ({', '.join(supported)})"
    return name, ""


def parse_schedule_arg(arg: str) -> SuiteEntry:
    """A suite entry from a ``--schedule NAME=TEXT`` argument (text is a unit-peak LR shape).

    >>> parse_schedule_arg("flat=constant(1.0)").lr
    'constant(1.0)'
    >>> parse_schedule_arg("constant(1.0)")
    Traceback (most recent call last):
    ...
    ValueError: --schedule: expected NAME=TEXT (e.g. mine='cosine(start=1.0, steps="100%")'), got 'constant(1.0)'
    """
    name, sep, text = arg.partition("=")
    name = name.strip()
    if not sep or not _NAME_RE.match(name) or "(" in name:
        raise ValueError(
            "--schedule: expected NAME=TEXT (e.g. mine='cosine(start=1.0, steps=\"100%\")'), "
            f"got {arg!r}"
        )
    return SuiteEntry(name, text.strip())


def entry_from_mapping(data: Mapping[str, Any]) -> SuiteEntry:
    """A suite entry from a config-file table (keys: name, lr, momentum, plateau, optimizer).

    >>> entry_from_mapping({"name": "c", "lr": "constant(1.0)"}).name
    'c'
    """
    allowed = {"name", "lr", "momentum", "plateau", "optimizer", "note"}
    bad = sorted(set(data) - allowed)
    if bad:
        raise ValueError(
            f"schedule table: unknown key(s) {bad}; allowed: {', '.join(sorted(allowed))}"
        )
    if "name" not in data or "lr" not in data:
        raise ValueError(f"schedule table: needs 'name' and 'lr', got keys {sorted(data)}")
    return SuiteEntry(
        name=data["name"],
        lr=data["lr"],
        momentum=data.get("momentum"),
        plateau=data.get("plateau"),
        optimizer=data.get("optimizer"),
        note=str(data.get("note", "")),
    )


#: The schedule functions whose peak the finder's ``recommend`` has a rule for, by policy.
_FINDER_POLICIES = (("one_cycle", "one_cycle"), ("wsd", "wsd"), ("cosine", "cosine"))
_CALL_RE = re.compile(r"\b([a-z_]+)\(")


def finder_policy(entry: SuiteEntry) -> str | None:
    """The :func:`lrkit.finder.recommend` policy of ``entry``'s LR shape, or None.

    The first of ``one_cycle``, ``wsd``, ``cosine`` whose function the entry's LR text calls
    (a warm-up before a cosine is still the cosine policy); None for any other shape, and for a
    repeated one (restarts revisit the peak; the finder's rules were measured on one cycle).

    Args:
        entry: a suite entry.

    >>> finder_policy(SuiteEntry("wc", "warmup('5%') >> cosine(start=1.0, steps='95%')"))
    'cosine'
    >>> finder_policy(SuiteEntry("oc", "one_cycle(peak=1.0, steps='100%')")) is None
    False
    >>> finder_policy(SuiteEntry("c", "constant(1.0)")) is None
    True
    >>> finder_policy(SuiteEntry("r", "cosine(start=1.0, steps='10%').repeat()")) is None
    True
    """
    called = set(_CALL_RE.findall(entry.lr))
    if "repeat" in called:
        return None
    return next((policy for policy, fn in _FINDER_POLICIES if fn in called), None)


def select(
    entries: Iterable[SuiteEntry], only: Sequence[str] | None = None
) -> tuple[SuiteEntry, ...]:
    """Entries whose names are in ``only`` (all when None); unknown or duplicate names raise.

    >>> [e.name for e in select(DEFAULT_SUITE, ["cosine", "constant"])]
    ['constant', 'cosine']
    """
    items = tuple(entries)
    names = [e.name for e in items]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"suite: duplicate schedule name(s) {dup}; names must be unique")
    if not only:
        return items
    unknown = sorted(set(only) - set(names))
    if unknown:
        hint = did_you_mean(unknown[0], names) if len(unknown) == 1 else ""
        raise ValueError(
            f"suite: unknown schedule name(s) {unknown}{hint or ';'} known: {', '.join(names)}"
        )
    return tuple(e for e in items if e.name in set(only))

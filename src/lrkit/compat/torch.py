"""Drop-ins for every ``torch.optim.lr_scheduler`` class, built from closed-form lrkit schedules.

``lrkit.compat.torch.StepLR(optimizer, step_size=30, gamma=0.1)`` takes PyTorch's arguments, names
and defaults and returns an :class:`lrkit.torch.Scheduler` (a real ``LRScheduler``) whose
``.schedule`` prints as lrkit text and whose ``state_dict()`` holds only primitives. The values
equal PyTorch's for every step PyTorch defines (checked against PyTorch in the tests); where
PyTorch stops (``OneCycleLR`` raises past ``total_steps``, PyTorch #38170) lrkit holds the last
value.

Per-group learning rates are honoured as PyTorch does: each param group gets its own schedule,
built from its own initial lr (``group["initial_lr"]`` if an earlier scheduler set it, else
``group["lr"]``). ``momentum`` schedules write ``betas[0]`` for Adam-family optimizers.

The ``*_schedule`` functions are the pure part: PyTorch's arguments for one param group in, an
lrkit schedule out (no optimizer needed).

>>> str(step_lr_schedule(0.1, step_size=30))
'step(start=0.1, every=30, factor=0.1)'
>>> str(cosine_annealing_warm_restarts_schedule(0.1, T_0=10, T_mult=2))
'cosine(start=0.1, steps=10).repeat(mult=2.0)'
"""

from __future__ import annotations

import itertools
import math
import numbers
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Sequence as SequenceABC
from dataclasses import field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch.optim import Optimizer

from lrkit.compat import _args
from lrkit.compose import Mirror, Product, Repeat, Scale, Sequence, sequence
from lrkit.core import Array, Schedule
from lrkit.errors import ScheduleError
from lrkit.families import (
    CYCLIC_MODES,
    Constant,
    Cosine,
    Cyclic,
    Exponential,
    InverseTime,
    Linear,
    MultiStep,
    Polynomial,
    Step,
)
from lrkit.plateau import Plateau
from lrkit.presets import OneCycle, OneCycleMomentum
from lrkit.torch._state import MAX_STEP
from lrkit.torch.scheduler import Scheduler

__all__ = [
    "ChainedScheduler",
    "CompatScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "Product",
    "PythonFunction",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "constant_lr_schedule",
    "cosine_annealing_lr_schedule",
    "cosine_annealing_warm_restarts_schedule",
    "cyclic_lr_schedule",
    "exponential_lr_schedule",
    "linear_lr_schedule",
    "multi_step_lr_schedule",
    "one_cycle_lr_schedule",
    "polynomial_lr_schedule",
    "step_lr_schedule",
]

GroupSpec = dict[str, Schedule]


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------
_fail = _args.fail
#: Growing drop-ins (StepLR/ExponentialLR with gamma > 1) hold at this value: equal to PyTorch
#: below it, finite where PyTorch's own values overflow to inf.
_GROWTH_CAP = 1e300
_int = _args.int_at_least
_real = _args.real


def _lr(value: Any) -> float:
    return float(value.item()) if isinstance(value, torch.Tensor) else float(value)


def _per_group(func: str, name: str, optimizer: Optimizer, value: object) -> list[float]:
    """A scalar for every group or a list with one entry per group (PyTorch's ``_format_param``)."""
    n = len(optimizer.param_groups)
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise ValueError(
                f"{func}: {name} has {len(value)} entries but the optimizer has {n} param groups"
            )
        return [_real(func, name, v) for v in value]
    return [_real(func, name, value)] * n


def _check_optimizer(func: str, optimizer: object) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{func}: optimizer={type(optimizer).__name__} is invalid; "
            "optimizer must be a torch.optim.Optimizer"
        )
    return optimizer


def _check_last_epoch(func: str, last_epoch: object) -> int:
    if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral):
        raise TypeError(f"{func}: last_epoch={last_epoch!r} is invalid; it must be an int >= -1")
    if not -1 <= int(last_epoch) <= MAX_STEP:
        raise _fail(
            func, "last_epoch", last_epoch, "-1 (a fresh start) or a step index in [0, 2**52]"
        )
    return int(last_epoch)


def _base_lrs(func: str, optimizer: Optimizer, last_epoch: int) -> list[float]:
    """Each group's initial lr, as PyTorch's ``LRScheduler.__init__`` picks it."""
    out: list[float] = []
    for i, group in enumerate(optimizer.param_groups):
        if "initial_lr" in group:
            out.append(_lr(group["initial_lr"]))
        elif last_epoch == -1:
            out.append(_lr(group["lr"]))
        else:
            raise ValueError(
                f"{func}: last_epoch={last_epoch} resumes a run, but optimizer.param_groups[{i}] "
                "has no 'initial_lr'; load the optimizer state first or pass last_epoch=-1"
            )
    return out


def _momentum_key(func: str, optimizer: Optimizer) -> None:
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"{func}: cycle_momentum=True needs an optimizer with 'momentum' or 'betas' "
            f"({type(optimizer).__name__} has neither); pass cycle_momentum=False"
        )


# ---------------------------------------------------------------------------------------------
# schedules that lrkit's text form cannot hold
# ---------------------------------------------------------------------------------------------
class PythonFunction(Schedule, eq=False):
    """``base · fn(t)`` (LambdaLR) or ``base · Π_{k=1..t} fn(k)`` (MultiplicativeLR, cumulative).

    A Python callable has no text form: ``str()`` names the function, :func:`lrkit.parse` cannot
    read it back, and a state dict holding it keeps only the step (as PyTorch keeps no lambdas).
    Values are computed on NumPy arrays only; the cumulative product is cached.

    >>> s = PythonFunction(0.1, lambda t: 0.5)
    >>> s(3)
    0.05
    """

    name: ClassVar[str] = "python_function"
    base: float
    fn: Callable[[int], float]
    cumulative: bool = False
    _cache: list[float] = field(default_factory=list, compare=False)

    @property
    def bounded(self) -> bool:
        return False

    @property
    def duration(self) -> float | None:
        return None

    def _at(self, t: int) -> float:
        if not self.cumulative:
            return self.base * float(self.fn(t))
        cache = self._cache
        if not cache:
            cache.append(self.base)
        while len(cache) <= t:
            cache.append(cache[-1] * float(self.fn(len(cache))))
        return cache[t]

    def _eval(self, t: Array, xp: Any) -> Array:
        if xp is not np:
            raise ScheduleError(f"{self}: a Python function is evaluated on NumPy arrays only")
        flat = [self._at(round(float(v))) for v in np.asarray(t).ravel()]
        return np.asarray(flat, dtype=np.float64).reshape(np.shape(t))

    def __str__(self) -> str:
        label = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        kind = ", cumulative=True" if self.cumulative else ""
        return f'python_function(base={self.base!r}, fn="{label}"{kind})'

    def to_dict(self) -> dict[str, Any]:
        raise ScheduleError(f"{self} wraps a Python callable and has no dict or text form")


# ---------------------------------------------------------------------------------------------
# the pure part: PyTorch's arguments for one param group -> an lrkit schedule
# ---------------------------------------------------------------------------------------------
def step_lr_schedule(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """StepLR: ``lr · gamma^⌊t/step_size⌋``.

    >>> [step_lr_schedule(1.0, 2, 0.5)(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    func = "StepLR"
    every = _int(func, "step_size", step_size, 1)
    factor = _real(func, "gamma", gamma)
    if factor <= 1.0:
        return Step(lr, every=every, factor=factor)
    # growing (gamma > 1): hold once the next multiplication would take the value past
    # _GROWTH_CAP (where PyTorch's own values run on to inf), or gamma's power past the float range
    log_gamma = math.log(factor)
    most = math.floor(math.log(sys.float_info.max) / log_gamma) - 1  # gamma**most is finite
    fits = math.floor((math.log(_GROWTH_CAP) - math.log(lr)) / log_gamma) if lr > 0.0 else 1
    times = max(1, min(fits, most))
    return Step(lr, every=every, factor=factor, steps=min(every * times + 1, MAX_STEP))


def multi_step_lr_schedule(lr: float, milestones: Iterable[int], gamma: float = 0.1) -> Schedule:
    """MultiStepLR: ``lr · gamma^(number of milestones <= t)`` (a repeated milestone counts twice).

    >>> [multi_step_lr_schedule(1.0, [1, 3, 3], 0.5)(t) for t in range(5)]
    [1.0, 0.5, 0.5, 0.125, 0.125]
    """
    func = "MultiStepLR"
    stones = sorted(_int(func, "milestones", m, 0) for m in milestones)
    gamma = _real(func, "gamma", gamma)
    at_zero = sum(1 for m in stones if m == 0)
    start = lr * gamma**at_zero if at_zero else lr
    later = tuple(m for m in stones if m > 0)
    try:
        return MultiStep(start, later, gamma) if later else Constant(start)
    except ScheduleError as exc:  # lr · gamma^len(milestones) overflows
        raise _fail(
            func, "gamma", gamma, f"small enough that lr·gamma^{len(stones)} stays finite"
        ) from exc


def constant_lr_schedule(lr: float, factor: float = 1.0 / 3, total_iters: int = 5) -> Schedule:
    """ConstantLR: ``lr · factor`` for ``t < total_iters``, then ``lr``.

    >>> str(constant_lr_schedule(0.3, 0.5, 2))
    'constant(0.15, steps=2) >> constant(0.3)'
    """
    func = "ConstantLR"
    factor = _real(func, "factor", factor)
    if not 0.0 <= factor <= 1.0:
        raise _fail(func, "factor", factor, "in [0, 1]")
    total = _int(func, "total_iters", total_iters, 0)
    if total == 0:
        return Constant(lr)
    return Constant(lr * factor, steps=total) >> Constant(lr)


def linear_lr_schedule(
    lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5
) -> Schedule:
    """LinearLR: from ``lr·start_factor`` to ``lr·end_factor`` over ``total_iters`` steps, then held.

    >>> [linear_lr_schedule(1.0, 0.5, 1.0, 2)(t) for t in range(4)]
    [0.5, 0.75, 1.0, 1.0]
    """
    func = "LinearLR"
    start = _real(func, "start_factor", start_factor)
    end = _real(func, "end_factor", end_factor)
    if not 0.0 < start <= 1.0:
        raise _fail(func, "start_factor", start_factor, "in (0, 1]")
    if not 0.0 <= end <= 1.0:
        raise _fail(func, "end_factor", end_factor, "in [0, 1]")
    return Linear(lr * start, lr * end, steps=_int(func, "total_iters", total_iters, 1))


def exponential_lr_schedule(lr: float, gamma: float) -> Schedule:
    """ExponentialLR: ``lr · gamma^t``.

    >>> exponential_lr_schedule(1.0, 0.5)(3)
    0.125
    """
    gamma = _real("ExponentialLR", "gamma", gamma)
    # growing (gamma > 1): held at _GROWTH_CAP, where PyTorch's own values run on to inf
    return Exponential(lr, gamma, final=_GROWTH_CAP) if gamma > 1.0 else Exponential(lr, gamma)


def polynomial_lr_schedule(lr: float, total_iters: int = 5, power: float = 1.0) -> Schedule:
    """PolynomialLR: ``lr · (1 − min(t, total_iters)/total_iters)^power``.

    >>> [polynomial_lr_schedule(1.0, 2, 2.0)(t) for t in range(4)]
    [1.0, 0.25, 0.0, 0.0]
    """
    func = "PolynomialLR"
    return Polynomial(
        lr, 0.0, steps=_int(func, "total_iters", total_iters, 1), power=_real(func, "power", power)
    )


def cosine_annealing_lr_schedule(lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    """CosineAnnealingLR: cosine from ``lr`` to ``eta_min`` over ``T_max`` steps, then back up.

    PyTorch's values are periodic (period ``2·T_max``): past ``T_max`` the LR climbs back to
    ``lr``, so the drop-in does too.

    >>> s = cosine_annealing_lr_schedule(1.0, T_max=2)
    >>> [s(t) for t in range(5)]
    [1.0, 0.5, 0.0, 0.5, 1.0]
    """
    func = "CosineAnnealingLR"
    steps = _int(func, "T_max", T_max, 1)
    eta = _real(func, "eta_min", eta_min, low=0.0)
    down = Cosine(lr, eta, steps=steps)
    return Repeat(down >> Cosine(eta, lr, steps=steps))


def cosine_annealing_warm_restarts_schedule(
    lr: float,
    T_0: int,
    T_mult: int = 1,
    eta_min: float = 0.0,
) -> Schedule:
    """CosineAnnealingWarmRestarts: ``cosine(lr → eta_min, T_0).repeat(mult=T_mult)`` (SGDR).

    >>> s = cosine_annealing_warm_restarts_schedule(1.0, T_0=2)
    >>> [s(t) for t in range(4)]
    [1.0, 0.5, 1.0, 0.5]
    """
    func = "CosineAnnealingWarmRestarts"
    t0 = _int(func, "T_0", T_0, 1)
    mult = _int(func, "T_mult", T_mult, 1)
    eta = _real(func, "eta_min", eta_min, low=0.0)
    return Cosine(lr, eta, steps=t0).repeat(mult=float(mult))


_CYCLIC_MODES = CYCLIC_MODES  # one list of CyclicLR modes: lrkit.families.CYCLIC_MODES


def cyclic_lr_schedule(
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    cycle_momentum: bool = True,
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
) -> GroupSpec:
    """CyclicLR for one group: ``{"lr": cyclic(...)}`` plus ``"momentum"``, mirrored, if cycled.

    >>> spec = cyclic_lr_schedule(0.01, 0.1, step_size_up=10)
    >>> str(spec["lr"]), str(spec["momentum"])
    ('cyclic(low=0.01, high=0.1, half_cycle=10)', 'cyclic(low=0.01, high=0.1, half_cycle=10).mirror(low=0.8, high=0.9)')
    """
    func = "CyclicLR"
    if mode not in _CYCLIC_MODES:
        raise _fail(func, "mode", mode, "one of 'triangular', 'triangular2', 'exp_range'")
    up = _int(func, "step_size_up", step_size_up, 1)
    down = None if step_size_down is None else _int(func, "step_size_down", step_size_down, 1)
    lr = Cyclic(
        _real(func, "base_lr", base_lr),
        _real(func, "max_lr", max_lr),
        half_cycle=up,
        mode=mode,
        gamma=_real(func, "gamma", gamma) if mode == "exp_range" else 1.0,
        half_cycle_down=None if down is None or down == up else down,
    )
    spec: GroupSpec = {"lr": lr}
    if cycle_momentum:
        low, high = _momenta(func, base_momentum, max_momentum)
        spec["momentum"] = Mirror(lr, low=low, high=high)
    return spec


def _momenta(func: str, base_momentum: object, max_momentum: object) -> tuple[float, float]:
    """``base_momentum`` and ``max_momentum`` checked to lie in [0, 1] (a momentum or beta1)."""
    out = []
    for name, value in (("base_momentum", base_momentum), ("max_momentum", max_momentum)):
        v = _real(func, name, value)
        if not 0.0 <= v <= 1.0:
            raise _fail(func, name, value, "in [0, 1] (a momentum or Adam's beta1)")
        out.append(v)
    return out[0], out[1]


def one_cycle_lr_schedule(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    cycle_momentum: bool = True,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> GroupSpec:
    """OneCycleLR for one group: ``{"lr": one_cycle(...), "momentum": one_cycle_momentum(...)}``.

    >>> str(one_cycle_lr_schedule(0.1, 100)["lr"])
    'one_cycle(peak=0.1, steps=100)'
    """
    func = "OneCycleLR"
    steps = _int(func, "total_steps", total_steps, 1)
    if isinstance(pct_start, bool) or not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
        raise _fail(func, "pct_start", pct_start, "a float in [0, 1]")
    if anneal_strategy not in ("cos", "linear"):
        raise _fail(func, "anneal_strategy", anneal_strategy, "'cos' or 'linear'")
    shape = str(anneal_strategy)
    spec: GroupSpec = {
        "lr": OneCycle(
            _real(func, "max_lr", max_lr),
            steps=steps,
            warmup=pct_start,
            div=_real(func, "div_factor", div_factor),
            final_div=_real(func, "final_div_factor", final_div_factor),
            shape=shape,
            three_phase=bool(three_phase),
        )
    }
    if cycle_momentum:
        _momenta(func, base_momentum, max_momentum)
        spec["momentum"] = OneCycleMomentum(
            steps=steps,
            low=_real(func, "base_momentum", base_momentum),
            high=_real(func, "max_momentum", max_momentum),
            warmup=pct_start,
            shape=shape,
            three_phase=bool(three_phase),
        )
    return spec


# ---------------------------------------------------------------------------------------------
# the drop-ins
# ---------------------------------------------------------------------------------------------
Kind = Literal["multiplicative", "absolute", "plateau"]


class CompatScheduler(Scheduler):
    """An :class:`lrkit.torch.Scheduler` made by a drop-in; ``.schedule`` is its lrkit schedule.

    ``last_epoch=-1`` (the default) starts at step 0. ``last_epoch=k >= 0`` resumes as PyTorch's
    closed-form schedulers do: every group must hold ``"initial_lr"`` and the constructor writes
    the values of step ``k + 1`` (PyTorch's recursive schedulers instead keep the optimizer's
    current lr; resuming with ``load_state_dict`` is exact for every drop-in).
    """

    #: "multiplicative": each group's lr is ``base · multiplier(t)`` and PyTorch updates it by
    #: ratios, so ChainedScheduler multiplies it with others; "absolute": PyTorch overwrites.
    kind: Kind = "absolute"

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: list[GroupSpec],
        *,
        last_epoch: int = -1,
        plateau: Plateau | None = None,
        multipliers: list[Schedule] | None = None,
        bases: list[float] | None = None,
    ) -> None:
        self._multipliers = multipliers
        self._bases = bases
        super().__init__(optimizer, schedule, plateau=plateau)
        if last_epoch >= 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.step(last_epoch + 1)
            self._step_count = 1

    @property
    def schedule(self) -> Schedule | GroupSpec | list[GroupSpec]:
        """The lrkit schedule: one for every group, a ``{key: schedule}`` dict, or one per group."""
        specs = self.schedules
        first = specs[0]
        if all(_same_spec(s, first) for s in specs[1:]):
            return first["lr"] if list(first) == ["lr"] else first
        return specs

    @property
    def has_text_form(self) -> bool:
        """Whether every schedule prints as lrkit text that :func:`lrkit.parse` reads back."""
        return not any(
            _contains(s, (PythonFunction,)) for spec in self.schedules for s in spec.values()
        )

    # -- migration from PyTorch's own checkpoints ----------------------------------------------
    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> None:
        """Restore :meth:`state_dict` output, or the ``state_dict()`` of the PyTorch scheduler
        this drop-in replaces (torch 2.x, also after ``torch.load(weights_only=True)``).

        A PyTorch state gives the step (``last_epoch``; a ``ChainedScheduler``'s children's); the
        schedule is this drop-in's, so build it with the arguments of the saved scheduler. The
        lr PyTorch last wrote (``_last_lr``) is checked against this drop-in's value at that step
        (relative 1e-6: PyTorch's recursive forms drift by ~1e-10); a mismatch (other arguments)
        is a ``ValueError``, or ignored with ``strict=False``. The next ``step()`` continues with
        the values PyTorch would have produced.
        """
        if _is_torch_state(state_dict):
            self._load_torch_state(state_dict, strict)
            return
        super().load_state_dict(state_dict, strict)

    def _load_torch_state(self, state: Mapping[str, Any], strict: bool) -> None:
        func = f"{type(self).__name__}.load_state_dict"
        if "last_epoch" in state:
            t = state["last_epoch"]
        else:  # ChainedScheduler: its children share the step
            children = state.get("_schedulers") or [{}]
            t = children[0].get("last_epoch")
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or int(t) < 0:
            raise ValueError(
                f"{func}: the PyTorch state has last_epoch={t!r}; a whole step >= 0 is needed "
                "(a fractional epoch passed to step(epoch) has no closed form)"
            )
        t = int(t)
        mine = self.state_dict()  # this drop-in's own state, moved to step t
        mine["last_epoch"], mine["_step_count"] = t, t + 1
        Scheduler.load_state_dict(self, mine)
        saved = state.get("_last_lr")
        ours = [_lr(v) for v in self.get_last_lr()]
        if strict and isinstance(saved, list | tuple) and len(saved) == len(ours):
            for gi, (want, got) in enumerate(zip(saved, ours, strict=True)):
                if not math.isclose(_lr(want), got, rel_tol=1e-6, abs_tol=1e-12):
                    raise ValueError(
                        f"{func}: the PyTorch {type(self).__name__} state has lr={_lr(want)!r} "
                        f"for param group {gi} at step {t}, this drop-in gives {got!r}; build it "
                        "with the arguments of the saved scheduler (or pass strict=False)"
                    )


def _is_torch_state(state: object) -> bool:
    """Whether ``state`` is a PyTorch ``LRScheduler.state_dict()`` rather than lrkit's."""
    return (
        isinstance(state, Mapping)
        and "format" not in state
        and ("last_epoch" in state or "_schedulers" in state)
    )


def _same_spec(a: GroupSpec, b: GroupSpec) -> bool:
    return list(a) == list(b) and all(str(a[k]) == str(b[k]) for k in a)


def _contains(s: Schedule, kinds: tuple[type, ...]) -> bool:
    if isinstance(s, kinds):
        return True
    for f in s._fields():
        value = getattr(s, f.name)
        items = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, Schedule) and _contains(v, kinds) for v in items):
            return True
    return False


def _multiplicative(
    func: str,
    optimizer: Optimizer,
    last_epoch: int,
    build: Callable[[float], Schedule],
) -> tuple[list[GroupSpec], list[Schedule], list[float]]:
    _check_optimizer(func, optimizer)
    last = _check_last_epoch(func, last_epoch)
    bases = _base_lrs(func, optimizer, last)
    return [{"lr": build(b)} for b in bases], [build(1.0)] * len(bases), bases


class StepLR(CompatScheduler):
    """PyTorch's ``StepLR``: multiply each group's lr by ``gamma`` every ``step_size`` steps.

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> str(StepLR(opt, step_size=30).schedule)
    'step(start=0.1, every=30, factor=0.1)'
    """

    kind: Kind = "multiplicative"

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        specs, mult, bases = _multiplicative(
            "StepLR", optimizer, last_epoch, lambda b: step_lr_schedule(b, step_size, gamma)
        )
        super().__init__(optimizer, specs, last_epoch=last_epoch, multipliers=mult, bases=bases)


class MultiStepLR(CompatScheduler):
    """PyTorch's ``MultiStepLR``: multiply by ``gamma`` at each milestone."""

    kind: Kind = "multiplicative"

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        stones = list(milestones)
        specs, mult, bases = _multiplicative(
            "MultiStepLR", optimizer, last_epoch, lambda b: multi_step_lr_schedule(b, stones, gamma)
        )
        super().__init__(optimizer, specs, last_epoch=last_epoch, multipliers=mult, bases=bases)


class ConstantLR(CompatScheduler):
    """PyTorch's ``ConstantLR``: ``lr · factor`` until ``total_iters``, then ``lr``."""

    kind: Kind = "multiplicative"

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        specs, mult, bases = _multiplicative(
            "ConstantLR",
            optimizer,
            last_epoch,
            lambda b: constant_lr_schedule(b, factor, total_iters),
        )
        super().__init__(optimizer, specs, last_epoch=last_epoch, multipliers=mult, bases=bases)


class LinearLR(CompatScheduler):
    """PyTorch's ``LinearLR``: ``lr`` times a factor going linearly from start to end factor."""

    kind: Kind = "multiplicative"

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        specs, mult, bases = _multiplicative(
            "LinearLR",
            optimizer,
            last_epoch,
            lambda b: linear_lr_schedule(b, start_factor, end_factor, total_iters),
        )
        super().__init__(optimizer, specs, last_epoch=last_epoch, multipliers=mult, bases=bases)


class ExponentialLR(CompatScheduler):
    """PyTorch's ``ExponentialLR``: ``lr · gamma^t``."""

    kind: Kind = "multiplicative"

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        specs, mult, bases = _multiplicative(
            "ExponentialLR", optimizer, last_epoch, lambda b: exponential_lr_schedule(b, gamma)
        )
        super().__init__(optimizer, specs, last_epoch=last_epoch, multipliers=mult, bases=bases)


class PolynomialLR(CompatScheduler):
    """PyTorch's ``PolynomialLR``: ``lr · (1 − t/total_iters)^power``, then 0."""

    kind: Kind = "multiplicative"

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        specs, mult, bases = _multiplicative(
            "PolynomialLR",
            optimizer,
            last_epoch,
            lambda b: polynomial_lr_schedule(b, total_iters, power),
        )
        super().__init__(optimizer, specs, last_epoch=last_epoch, multipliers=mult, bases=bases)


class CosineAnnealingLR(CompatScheduler):
    """PyTorch's ``CosineAnnealingLR`` (periodic: back up to the initial lr after ``T_max``).

    Its values are PyTorch's closed form; PyTorch's own recursive ``step()`` drifts from that closed
    form by up to ~1e-10 relative over thousands of steps with ``eta_min > 0`` (see docs/compat.md).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        func = "CosineAnnealingLR"
        _check_optimizer(func, optimizer)
        last = _check_last_epoch(func, last_epoch)
        bases = _base_lrs(func, optimizer, last)
        specs: list[GroupSpec] = [
            {"lr": cosine_annealing_lr_schedule(b, T_max, eta_min)} for b in bases
        ]
        mult = (
            [cosine_annealing_lr_schedule(1.0, T_max, 0.0)] * len(bases) if eta_min == 0 else None
        )
        if mult is not None:
            self.kind = "multiplicative"
        super().__init__(optimizer, specs, last_epoch=last, multipliers=mult, bases=bases)


class CosineAnnealingWarmRestarts(CompatScheduler):
    """PyTorch's ``CosineAnnealingWarmRestarts`` (SGDR): periods ``T_0, T_0·T_mult, ...``."""

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        func = "CosineAnnealingWarmRestarts"
        _check_optimizer(func, optimizer)
        last = _check_last_epoch(func, last_epoch)
        bases = _base_lrs(func, optimizer, last)
        specs: list[GroupSpec] = [
            {"lr": cosine_annealing_warm_restarts_schedule(b, T_0, T_mult, eta_min)} for b in bases
        ]
        super().__init__(optimizer, specs, last_epoch=last, bases=bases)


class CyclicLR(CompatScheduler):
    """PyTorch's ``CyclicLR``; ``momentum`` (``betas[0]`` for Adam) cycles inversely to the lr.

    A custom ``scale_fn`` is a Python callable and has no lrkit text form: it is rejected; use
    ``mode=`` (or build the schedule with lrkit and :class:`lrkit.torch.Scheduler`).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        func = "CyclicLR"
        _check_optimizer(func, optimizer)
        last = _check_last_epoch(func, last_epoch)
        if scale_fn is not None:
            raise ValueError(
                f"{func}: scale_fn={scale_fn!r} is a Python callable, which has no lrkit text form; "
                "use mode='triangular', 'triangular2' or 'exp_range'"
            )
        _ = scale_mode  # PyTorch ignores it unless scale_fn is given
        lows = _per_group(func, "base_lr", optimizer, base_lr)
        highs = _per_group(func, "max_lr", optimizer, max_lr)
        if cycle_momentum:
            _momentum_key(func, optimizer)
        base_m = _per_group(func, "base_momentum", optimizer, base_momentum)
        max_m = _per_group(func, "max_momentum", optimizer, max_momentum)
        specs = [
            cyclic_lr_schedule(
                lo, hi, step_size_up, step_size_down, mode, gamma, cycle_momentum, bm, mm
            )
            for lo, hi, bm, mm in zip(lows, highs, base_m, max_m, strict=True)
        ]
        if last == -1:  # as PyTorch: lr = base_lr, then LRScheduler's setdefault("initial_lr")
            for lo, group in zip(lows, optimizer.param_groups, strict=True):
                group.setdefault("initial_lr", lo)
        super().__init__(optimizer, specs, last_epoch=last, bases=lows)


class OneCycleLR(CompatScheduler):
    """PyTorch's ``OneCycleLR`` (momentum or ``betas[0]`` cycled inversely), holding after the end.

    PyTorch raises past ``total_steps`` (PyTorch #38170) and extrapolates its last phase at step
    ``total_steps`` itself; the drop-in equals PyTorch on steps ``0 .. total_steps − 1`` and holds
    the final value from there on.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        func = "OneCycleLR"
        _check_optimizer(func, optimizer)
        last = _check_last_epoch(func, last_epoch)
        if total_steps is not None:
            steps = _int(func, "total_steps", total_steps, 1)
        elif epochs is not None and steps_per_epoch is not None:
            steps = _int(func, "epochs", epochs, 1) * _int(
                func, "steps_per_epoch", steps_per_epoch, 1
            )
        else:
            raise ValueError(
                f"{func}: give total_steps, or both epochs and steps_per_epoch "
                f"(got total_steps={total_steps!r}, epochs={epochs!r}, "
                f"steps_per_epoch={steps_per_epoch!r})"
            )
        self.total_steps = steps
        peaks = _per_group(func, "max_lr", optimizer, max_lr)
        if cycle_momentum:
            _momentum_key(func, optimizer)
        base_m = _per_group(func, "base_momentum", optimizer, base_momentum)
        max_m = _per_group(func, "max_momentum", optimizer, max_momentum)
        specs = [
            one_cycle_lr_schedule(
                peak,
                steps,
                pct_start,
                anneal_strategy,
                cycle_momentum,
                bm,
                mm,
                div_factor,
                final_div_factor,
                three_phase,
            )
            for peak, bm, mm in zip(peaks, base_m, max_m, strict=True)
        ]
        if last == -1:  # as PyTorch, which later schedulers on this optimizer then start from
            for peak, group in zip(peaks, optimizer.param_groups, strict=True):
                group["initial_lr"] = peak / div_factor
        super().__init__(optimizer, specs, last_epoch=last, bases=[p / div_factor for p in peaks])


class LambdaLR(CompatScheduler):
    """PyTorch's ``LambdaLR``: ``lr · lr_lambda(t)``; see :class:`PythonFunction` for saving.

    A Python callable has no text form, so this warns (``UserWarning``) and its ``state_dict()``
    says so under ``"python_functions"``: loading restores the step only, into a LambdaLR built
    with the same function(s) — as PyTorch, which does not save lambdas either. Pass
    ``precompute=n`` to evaluate the function once on steps ``0 .. n−1`` and keep the values as a
    text schedule (``piecewise_constant``; held after ``n − 1``) instead.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
        *,
        precompute: int | None = None,
    ) -> None:
        func = type(self).__name__
        _check_optimizer(func, optimizer)
        last = _check_last_epoch(func, last_epoch)
        bases = _base_lrs(func, optimizer, last)
        fns = _lambdas(func, lr_lambda, len(bases))
        cumulative = isinstance(self, MultiplicativeLR)
        specs: list[GroupSpec] = []
        for b, fn in zip(bases, fns, strict=True):
            s: Schedule = PythonFunction(b, fn, cumulative)
            if precompute is not None:
                s = _tabulate(s, _int(func, "precompute", precompute, 1))
            specs.append({"lr": s})
        if precompute is None:
            warnings.warn(
                f"{func}: lr_lambda is a Python callable, which cannot be saved as lrkit text; "
                "state_dict() keeps only the step (rebuild with the same function before "
                "load_state_dict). Pass precompute=<steps> for a text schedule, or build the "
                "schedule with lrkit.",
                UserWarning,
                stacklevel=2,
            )
        self._lr_lambdas = fns
        mult: list[Schedule] | None = None
        if cumulative:
            mult = [PythonFunction(1.0, fn, True) for fn in fns]
            if precompute is not None:
                mult = [_tabulate(m, precompute) for m in mult]
        super().__init__(optimizer, specs, last_epoch=last, multipliers=mult, bases=bases)

    def _load_torch_state(self, state: Mapping[str, Any], strict: bool) -> None:
        """PyTorch saves no plain function (``None``) but a callable object's ``__dict__``."""
        saved = state.get("lr_lambdas")
        if isinstance(saved, list | tuple) and len(saved) == len(self._lr_lambdas):
            for fn, attrs in zip(self._lr_lambdas, saved, strict=True):
                if isinstance(attrs, Mapping) and hasattr(fn, "__dict__"):
                    fn.__dict__.update(attrs)
            for spec in self.schedules:
                for sched in spec.values():
                    if isinstance(sched, PythonFunction):
                        sched._cache.clear()
            for m in self._multipliers or []:
                if isinstance(m, PythonFunction):
                    m._cache.clear()
        super()._load_torch_state(state, strict)

    def state_dict(self) -> dict[str, Any]:
        """As :meth:`lrkit.torch.Scheduler.state_dict`, plus a note on the Python callables."""
        state = super().state_dict()
        if not self.has_text_form:
            state["python_functions"] = (
                "this scheduler's schedule calls Python functions: the 'schedules' texts name "
                "them but cannot be parsed; load_state_dict restores the step into a scheduler "
                "built with the same functions"
            )
        return state


class MultiplicativeLR(LambdaLR):
    """PyTorch's ``MultiplicativeLR``: ``lr_t = lr_{t−1} · lr_lambda(t)`` (a cumulative product).

    Values are the exact sequential products PyTorch computes; same saving rules as LambdaLR.
    """

    kind: Kind = "multiplicative"


def _lambdas(func: str, lr_lambda: object, n: int) -> list[Callable[[int], float]]:
    fns = list(lr_lambda) if isinstance(lr_lambda, list | tuple) else [lr_lambda] * n
    if len(fns) != n:
        raise ValueError(f"{func}: expected {n} lr_lambdas (one per param group), got {len(fns)}")
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"{func}: lr_lambda={fn!r} is invalid; it must be a function")
    return fns  # type: ignore[return-value]


def _tabulate(s: Schedule, n: int) -> Schedule:
    from lrkit.families import PiecewiseConstant

    values = np.asarray(s(np.arange(n)), dtype=np.float64).tolist()
    if n == 1:
        return Constant(values[0])
    return PiecewiseConstant(tuple(range(1, n)), tuple(values))


class _TorchReduceLROnPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """PyTorch's class in the drop-in's bases, for ``isinstance`` only.

    Its constructor (which would bypass ``LRScheduler.__init__``) is replaced by
    ``LRScheduler.__init__``; every method the drop-in uses comes from :class:`Scheduler`, which
    precedes this class in the method resolution order.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        torch.optim.lr_scheduler.LRScheduler.__init__(self, optimizer)


class ReduceLROnPlateau(CompatScheduler, _TorchReduceLROnPlateau):
    """PyTorch's ``ReduceLROnPlateau``: each group's lr held, reduced by an :class:`lrkit.Plateau`.

    ``step(metrics)`` works as PyTorch's: one evaluation per call, the reduction takes effect at
    once. The schedule is ``constant(lr)`` per group; the plateau state is part of ``state_dict()``.

    It is an instance of ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (a subclass whose
    behaviour and state are lrkit's), so Hugging Face's Trainer and Lightning pass it the metric.
    PyTorch's attributes (``mode``, ``factor``, ``patience``, ``best``, ``num_bad_epochs``,
    ``cooldown_counter``, ``min_lrs``, ...) read the :class:`lrkit.Plateau` controller.

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> s = ReduceLROnPlateau(opt, factor=0.5, patience=0)
    >>> isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau)
    True
    >>> for metric in (1.0, 2.0):
    ...     s.step(metric)
    >>> s.get_last_lr(), s.num_bad_epochs, s.best
    ([0.05], 0, 1.0)
    """

    kind: Kind = "plateau"

    def __init__(
        self,
        optimizer: Optimizer,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: list[float] | float = 0,
        eps: float = 1e-8,
    ) -> None:
        func = "ReduceLROnPlateau"
        _check_optimizer(func, optimizer)
        n = len(optimizer.param_groups)
        if isinstance(min_lr, list | tuple) and len(min_lr) != n:
            raise ValueError(
                f"{func}: expected {n} min_lrs (one per param group), got {len(min_lr)}"
            )
        plateau = Plateau(
            mode=mode,
            factor=factor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            cooldown=cooldown,
            min_lr=list(min_lr) if isinstance(min_lr, list | tuple) else min_lr,
            eps=eps,
        )
        bases = [_lr(g["lr"]) for g in optimizer.param_groups]
        specs: list[GroupSpec] = [{"lr": Constant(b)} for b in bases]
        super().__init__(optimizer, specs, plateau=plateau, bases=bases)

    def step(self, metrics: Any = None, epoch: int | None = None) -> None:  # type: ignore[override]
        """One evaluation of ``metrics`` (as PyTorch's); reduces the lr after a plateau."""
        if self._step_count == 0:  # the constructor's step 0
            super().step()
            return
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step: metrics is required (the monitored value)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            super().step(epoch)
        self.report(metrics, sync=False)

    def _load_torch_state(self, state: Mapping[str, Any], strict: bool) -> None:
        """PyTorch's plateau state: its controller and counters; the reduced lr it wrote.

        PyTorch keeps no count of reductions, only the current lr (``_last_lr``): the drop-in
        finds the number of reductions of its own base lr that gives it; where none does (the
        lr was changed by hand) each group's schedule becomes ``constant(_last_lr)``.
        """
        func = "ReduceLROnPlateau.load_state_dict"
        p = self._controller()
        mine = {
            "mode": p.mode,
            "factor": p.factor,
            "patience": p.patience,
            "threshold": p.threshold,
            "threshold_mode": p.threshold_mode,
            "cooldown": p.cooldown,
            "eps": p.eps,
            "min_lrs": self.min_lrs,
        }
        theirs = {k: state.get(k, v) for k, v in mine.items()}
        theirs["min_lrs"] = [float(v) for v in theirs["min_lrs"]]
        if theirs != mine and strict:
            diff = {k: (theirs[k], mine[k]) for k in mine if theirs[k] != mine[k]}
            raise ValueError(
                f"{func}: the saved PyTorch ReduceLROnPlateau differs from this one "
                f"(saved, current): {diff}; pass strict=False to use the saved settings"
            )
        mins = theirs["min_lrs"]
        p = Plateau(
            mode=theirs["mode"],
            factor=theirs["factor"],
            patience=theirs["patience"],
            threshold=theirs["threshold"],
            threshold_mode=theirs["threshold_mode"],
            cooldown=theirs["cooldown"],
            min_lr=mins[0] if len(set(mins)) == 1 else mins,
            eps=theirs["eps"],
        )
        p.best = float(state.get("best", p.best))
        p.num_bad_epochs = int(state.get("num_bad_epochs", 0))
        p.cooldown_counter = int(state.get("cooldown_counter", 0))
        t = int(state.get("last_epoch", 0))
        p.evaluations = t
        groups = self.optimizer.param_groups
        lrs = [_lr(v) for v in state.get("_last_lr", [g["lr"] for g in groups])]
        if len(lrs) != len(groups):
            raise ValueError(
                f"{func}: the PyTorch state has lrs for {len(lrs)} param groups, the optimizer "
                f"has {len(groups)}"
            )
        new = self.state_dict()
        bases = [float(spec["lr"](0)) for spec in self.schedules]
        while [p.apply(b, gi) for gi, b in enumerate(bases)] != lrs:
            before = [p.apply(b, gi) for gi, b in enumerate(bases)]
            p.reductions += 1
            if [p.apply(b, gi) for gi, b in enumerate(bases)] == before:  # no reduction fits
                p.reductions = 0
                new["schedules"] = [{"lr": str(Constant(v))} for v in lrs]
                new["base_lrs"] = lrs
                break
        new["plateau"] = p.state_dict()
        new["last_epoch"], new["_step_count"] = t, t + 1
        Scheduler.load_state_dict(self, new, strict=False)

    # -- PyTorch's attributes, read from the plateau controller ---------------------------------
    def _controller(self) -> Plateau:
        p = self.plateau
        if p is None:  # pragma: no cover - the constructor always sets one
            raise ValueError("ReduceLROnPlateau: no plateau controller")
        return p

    @property
    def mode(self) -> str:
        """``"min"`` or ``"max"``."""
        return self._controller().mode

    @property
    def factor(self) -> float:  # type: ignore[override]
        """The factor of each reduction."""
        return self._controller().factor

    @property
    def patience(self) -> int | None:  # type: ignore[override]
        """Evaluations without improvement tolerated before a reduction."""
        return self._controller().patience

    @property
    def threshold(self) -> float:
        """The significance threshold of an improvement."""
        return self._controller().threshold

    @property
    def threshold_mode(self) -> str:
        """``"rel"`` or ``"abs"``."""
        return self._controller().threshold_mode

    @property
    def cooldown(self) -> int:  # type: ignore[override]
        """Evaluations ignored after a reduction."""
        return self._controller().cooldown

    @property
    def eps(self) -> float:  # type: ignore[override]
        """A reduction smaller than this is skipped."""
        return self._controller().eps

    @property
    def min_lrs(self) -> list[float]:  # type: ignore[override]
        """The lower bound of every param group's lr."""
        p = self._controller()
        return [p.min_lr_for(gi) for gi in range(len(self.optimizer.param_groups))]

    @property
    def best(self) -> float:  # type: ignore[override]
        """The best metric so far."""
        return self._controller().best

    @property
    def num_bad_epochs(self) -> int:  # type: ignore[override]
        """Evaluations without improvement since the last improvement (or reduction)."""
        return self._controller().num_bad_epochs

    @property
    def cooldown_counter(self) -> int:  # type: ignore[override]
        """Evaluations still ignored after the last reduction."""
        return self._controller().cooldown_counter

    @property
    def in_cooldown(self) -> bool:
        """Whether evaluations are being ignored after a reduction."""
        return self._controller().in_cooldown

    @property
    def mode_worse(self) -> float:  # type: ignore[override]
        """The worst possible metric for ``mode`` (``inf`` for ``"min"``)."""
        return math.inf if self.mode == "min" else -math.inf

    def _is_better(self, a: float, best: float) -> bool:
        return self._controller().is_better(a, best)

    def _reset(self) -> None:
        """Forget the best metric and the counters (reductions so far are kept), as PyTorch."""
        p = self._controller()
        p.best = self.mode_worse
        p.num_bad_epochs = 0
        p.cooldown_counter = 0

    def _reduce_lr(self, epoch: Any = None) -> None:
        """One reduction now, as PyTorch's (used by code that calls it directly)."""
        state = self.state_dict()
        state["plateau"]["reductions"] += 1
        Scheduler.load_state_dict(self, state)


class SequentialLR(CompatScheduler):
    """PyTorch's ``SequentialLR``: ``schedulers[i]`` from ``milestones[i−1]``, on its own clock.

    Each child restarts at local step 0 at its milestone, as PyTorch does. Children are lrkit
    drop-ins (or :class:`lrkit.torch.Scheduler`); a child that runs longer than its slot is cut
    there (``truncate`` where no shorter form exists), one that ends earlier holds its last value.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: SequenceABC[Scheduler],
        milestones: SequenceABC[int],
        last_epoch: int = -1,
    ) -> None:
        func = "SequentialLR"
        _check_optimizer(func, optimizer)
        last = _check_last_epoch(func, last_epoch)
        children = _children(func, optimizer, schedulers)
        stones = [_int(func, "milestones", m, 1) for m in milestones]
        if len(stones) != len(children) - 1:
            raise ValueError(
                f"{func}: expects len(milestones) == len(schedulers) - 1, got "
                f"{len(stones)} milestones for {len(children)} schedulers"
            )
        if any(b <= a for a, b in itertools.pairwise(stones)):
            raise _fail(func, "milestones", list(milestones), "strictly increasing")
        for i, child in enumerate(children[1:], start=1):
            if isinstance(child, MultiplicativeLR):
                raise ValueError(
                    f"{func}: schedulers[{i}] is a MultiplicativeLR, which PyTorch restarts from "
                    "the previous scheduler's last lr, not in closed form; put it first"
                )
        starts = [0, *stones]
        specs: list[GroupSpec] = []
        for gi in range(len(optimizer.param_groups)):
            keys = set().union(*(set(c.schedules[gi]) for c in children))
            spec: GroupSpec = {}
            for key in sorted(keys):
                parts: list[Schedule] = []
                for i, child in enumerate(children):
                    s = child.schedules[gi].get(key)
                    if s is None:
                        raise ValueError(
                            f"{func}: schedulers[{i}] does not drive {key!r} of group {gi} while "
                            "another child does; give every child the same keys"
                        )
                    if i < len(children) - 1:
                        s = _cut(func, s, starts[i + 1] - starts[i])
                    parts.append(s)
                spec[key] = parts[0] if len(parts) == 1 else Sequence(tuple(parts))
            specs.append(spec)
        super().__init__(optimizer, specs, last_epoch=last)


class ChainedScheduler(CompatScheduler):
    """PyTorch's ``ChainedScheduler``: every child stepped each step.

    Multiplicative children (StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
    PolynomialLR, MultiplicativeLR, CosineAnnealingLR with eta_min=0 up to T_max) multiply:
    ``lr = base · Π multiplier_i(t)``. An absolute child (CyclicLR, OneCycleLR, LambdaLR, ...)
    overwrites the lr, so it must come after every multiplicative one; PyTorch's values for a
    multiplicative child after an absolute one are not closed form and are rejected.
    """

    def __init__(
        self, schedulers: SequenceABC[Scheduler], optimizer: Optimizer | None = None
    ) -> None:
        func = "ChainedScheduler"
        if not schedulers:
            raise ValueError(f"{func}: expects at least one scheduler, got none")
        opt = optimizer if optimizer is not None else schedulers[0].optimizer
        _check_optimizer(func, opt)
        children = _children(func, opt, schedulers)
        last_absolute = max(
            (i for i, c in enumerate(children) if c.kind != "multiplicative"), default=-1
        )
        if last_absolute >= 0 and last_absolute != len(children) - 1:
            raise ValueError(
                f"{func}: schedulers[{last_absolute}] ({type(children[last_absolute]).__name__}) "
                "overwrites the lr and is followed by multiplicative schedulers; PyTorch's values "
                "for that chain are not closed form"
            )
        n = len(opt.param_groups)
        specs: list[GroupSpec] = []
        if last_absolute >= 0:
            specs = [dict(s) for s in children[last_absolute].schedules]
        else:
            bases = children[0]._bases or _base_lrs(func, opt, -1)
            for gi in range(n):
                factors = [c._multipliers[gi] for c in children if c._multipliers is not None]
                lr = factors[0] if len(factors) == 1 else Product(tuple(factors))
                specs.append({"lr": Scale(lr, bases[gi])})
        for i, child in enumerate(children):
            for gi in range(n):
                extra = set(child.schedules[gi]) - {"lr"}
                if extra and i != last_absolute:
                    raise ValueError(
                        f"{func}: schedulers[{i}] drives {sorted(extra)} and is overridden by a "
                        "later scheduler; not supported"
                    )
        super().__init__(opt, specs)


def _children(func: str, optimizer: Optimizer, schedulers: object) -> list[CompatScheduler]:
    if isinstance(schedulers, Mapping) or not isinstance(schedulers, SequenceABC) or not schedulers:
        raise ValueError(f"{func}: schedulers must be a non-empty list of schedulers")
    out: list[CompatScheduler] = []
    for i, s in enumerate(schedulers):
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(
                f"{func}: schedulers[{i}] is a ReduceLROnPlateau, which needs a metric at every "
                "step; give the plateau to lrkit.torch.Scheduler(plateau=...) instead"
            )
        if not isinstance(s, CompatScheduler):
            raise TypeError(
                f"{func}: schedulers[{i}]={type(s).__name__} is invalid; use lrkit.compat.torch "
                "drop-ins (PyTorch's own schedulers have no lrkit schedule)"
            )
        if s.optimizer is not optimizer:
            raise ValueError(f"{func}: schedulers[{i}] belongs to a different optimizer")
        out.append(s)
    return out


_ENDLESS_WITH_STEPS = (Constant, Step, Exponential, InverseTime, Cyclic)


def _cut(func: str, s: Schedule, n: int) -> Schedule:
    """``s`` on steps ``[0, n)`` with duration exactly ``n`` (padded with its last value).

    Leaves with ``steps=``, linear ramps, sequences and plain repeats are rewritten to end at
    ``n`` (shorter text); any other schedule is cut with ``s.truncate(n)``.
    """
    if s.bounded:
        d = s.duration
        assert d is not None
        if d == n:
            return s
        if d < n and float(d).is_integer():
            return s >> Constant(float(s(d)), steps=n - int(d))
        if d < n:
            return s.truncate(n)  # holds s(d) from d on
    if isinstance(s, _ENDLESS_WITH_STEPS):  # values before n do not depend on steps=
        return s._replace(steps=n)
    if isinstance(s, Linear):
        return Linear(s.start, float(s(n)), steps=n)
    if isinstance(s, Scale):
        return Scale(_cut(func, s.schedule, n), s.factor)
    if isinstance(s, Repeat) and s.mult == 1.0 and s.decay == 1.0 and s.cycles is None:
        period = s.schedule.duration
        assert period is not None
        copies = max(1, math.ceil(n / period))
        return _cut(func, sequence(*(s.schedule,) * copies), n)
    if isinstance(s, Sequence):
        kept: list[Schedule] = []
        begin = 0.0
        for part in s.parts:
            length = part.duration
            if length is None or begin + length >= n:
                kept.append(_cut(func, part, int(n - begin)))
                break
            kept.append(part)
            begin += length
        return sequence(*kept)
    return s.truncate(n)

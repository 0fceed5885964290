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

import fractions
import functools
import itertools
import math
import numbers
import sys
import types
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Sequence as SequenceABC
from dataclasses import field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrkit.compat import _args
from lrkit.compose import Mirror, Product, Repeat, Scale, Sequence, sequence
from lrkit.core import Array, Schedule
from lrkit.errors import ScheduleError, ScheduleTypeError
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
from lrkit.torch import _state
from lrkit.torch._specs import assign
from lrkit.torch._state import MAX_STEP
from lrkit.torch.scheduler import Scheduler, _retargeted

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
_MAX_INT = 2**53


def _int(func: str, name: str, value: object, low: int) -> int:
    """:func:`lrkit.compat._args.int_at_least`, also for a bool (PyTorch's arithmetic reads
    ``True`` as 1 and ``False`` as 0)."""
    return _args.int_at_least(func, name, int(value) if isinstance(value, bool) else value, low)


def _real(func: str, name: str, value: object, low: float | None = None) -> float:
    """:func:`lrkit.compat._args.real`, also for a one-element tensor and a bool (PyTorch takes
    those: its arithmetic reads ``True`` as 1 and ``False`` as 0)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool):
        value = int(value)
    return _args.real(func, name, value, low)


def _reached(func: str, name: str, value: object) -> bool:
    """Whether a step count ``value`` is a step PyTorch reaches (``last_epoch == value`` for an
    int ``0 <= last_epoch <= 2**52``): a fractional, negative or huge one is never reached, so
    PyTorch never acts on it. A bool counts as 0 or 1; a non-number is a ``ScheduleTypeError``."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise _args.type_fail(func, name, value, "a number (a step)")
    step = float(value)
    return step.is_integer() and 0 <= step <= MAX_STEP


def _period(func: str, name: str, value: object) -> int | None:
    """The steps between PyTorch's ``last_epoch % value == 0`` (an exact float remainder): the
    numerator of ``|value|`` as a fraction (2.5 = 5/2 acts every 5 steps, −2 every 2); ``None``
    where no step up to 2**52 is a multiple (NaN, ±inf, 0.1, huge). 0 is refused: PyTorch's
    first step divides by it."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, numbers.Real):
        raise _args.type_fail(func, name, value, "a number of steps")
    if value == 0:
        raise _fail(func, name, value, "nonzero (PyTorch divides by it: ZeroDivisionError)")
    if isinstance(value, numbers.Integral):
        n = abs(int(value))
    elif math.isfinite(value):
        n = abs(fractions.Fraction(float(value)).numerator)
    else:
        return None
    return n if n <= MAX_STEP else None


def _lr(value: Any) -> float:
    return float(value.item()) if isinstance(value, torch.Tensor) else float(value)


def _per_group(func: str, name: str, optimizer: Optimizer, value: object) -> list[float]:
    """A scalar for every group or a list with one entry per group (PyTorch's ``_format_param``)."""
    n = len(optimizer.param_groups)
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise _fail(
                func,
                name,
                value,
                f"one value or a list of {n} (one per param group; {name} has {len(value)} "
                f"entries but the optimizer has {n} param groups)",
            )
        return [_real(func, name, v) for v in value]
    return [_real(func, name, value)] * n


def _check_optimizer(func: str, optimizer: object) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise _args.type_fail(
            func, "optimizer", type(optimizer).__name__, "a torch.optim.Optimizer"
        )
    return optimizer


def _check_last_epoch(func: str, last_epoch: object) -> int:
    if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral):
        raise _args.type_fail(func, "last_epoch", last_epoch, "an int >= -1")
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
            raise _InitialLrMissing(
                f"{func}: param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                f"scheduler with last_epoch >= 0 (last_epoch={last_epoch}); load the optimizer "
                "state first or pass last_epoch=-1"
            )
    return out


def _momentum_key(func: str, optimizer: Optimizer) -> None:
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise _fail(
            func,
            "cycle_momentum",
            True,
            f"False for an optimizer without 'momentum' or 'betas' ({type(optimizer).__name__} "
            "has neither)",
        )


# ---------------------------------------------------------------------------------------------
# schedules that lrkit's text form cannot hold
# ---------------------------------------------------------------------------------------------
class PythonFunction(Schedule, eq=False):
    """``base · fn(t)`` (LambdaLR) or ``base · Π_{k=1..t} fn(k)`` (MultiplicativeLR, cumulative).

    A Python callable has no text form: ``str()`` names the function, :func:`lrkit.parse` cannot
    read it back, and a state dict holding it keeps only the step (as PyTorch keeps no lambdas).
    Values are computed on NumPy arrays only; the cumulative product is cached.

    Args:
        base: the initial lr (``base`` in the formula).
        fn: a function of the step ``t`` (an int) returning a factor.
        cumulative: multiply ``fn(1) … fn(t)`` (MultiplicativeLR) instead of taking ``fn(t)``.

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
    """StepLR: ``lr · gamma^⌊t/step_size⌋``, as PyTorch's ``StepLR`` for one param group.

    Args:
        lr: the group's initial lr.
        step_size: steps between two multiplications by ``gamma`` (an int >= 1).
        gamma: the multiplier (PyTorch's default 0.1); above 1 the value is held once it would
            pass 1e300, where PyTorch's runs on to inf.

    >>> [step_lr_schedule(1.0, 2, 0.5)(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    func = "StepLR"
    every = _period(func, "step_size", step_size)
    factor = _real(func, "gamma", gamma)
    if every is None:  # PyTorch's `last_epoch % step_size == 0` never holds after step 0
        return Constant(lr)
    if factor == 0.0:  # PyTorch's lr is 0 from the first multiplication on
        return Constant(lr, steps=every) >> Constant(0.0)
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

    As PyTorch's ``MultiStepLR`` for one param group.

    Args:
        lr: the group's initial lr.
        milestones: the steps (ints >= 0) at which the lr is multiplied by ``gamma``.
        gamma: the multiplier (PyTorch's default 0.1).

    >>> [multi_step_lr_schedule(1.0, [1, 3, 3], 0.5)(t) for t in range(5)]
    [1.0, 0.5, 0.5, 0.125, 0.125]
    """
    func = "MultiStepLR"
    stones = sorted(int(m) for m in milestones if _reached(func, "milestones", m))
    gamma = _real(func, "gamma", gamma)
    at_zero = sum(1 for m in stones if m == 0)
    start = lr * gamma**at_zero if at_zero else lr
    later = tuple(m for m in stones if m > 0)
    if gamma == 0.0 and later:  # PyTorch's lr is 0 from the first milestone on
        return Constant(start, steps=later[0]) >> Constant(0.0)
    try:
        return MultiStep(start, later, gamma) if later else Constant(start)
    except ScheduleError as exc:  # lr · gamma^len(milestones) overflows
        raise _fail(
            func, "gamma", gamma, f"small enough that lr·gamma^{len(stones)} stays finite"
        ) from exc


def constant_lr_schedule(lr: float, factor: float = 1.0 / 3, total_iters: int = 5) -> Schedule:
    """ConstantLR: ``lr · factor`` for ``t < total_iters``, then ``lr``.

    As PyTorch's ``ConstantLR`` for one param group.

    Args:
        lr: the group's initial lr.
        factor: the multiplier of the first ``total_iters`` steps, in [0, 1] (default 1/3).
        total_iters: how many steps the lr is multiplied (an int >= 0; default 5).

    >>> str(constant_lr_schedule(0.3, 0.5, 2))
    'constant(0.15, steps=2) >> constant(0.3)'
    """
    func = "ConstantLR"
    factor = _real(func, "factor", factor)
    if not 0.0 <= factor <= 1.0:
        raise _fail(func, "factor", factor, "in [0, 1]")
    if not _reached(func, "total_iters", total_iters) or int(total_iters) == 0:
        # PyTorch multiplies at step 0 and never reaches total_iters to undo it
        return Constant(lr * factor)
    return Constant(lr * factor, steps=int(total_iters)) >> Constant(lr)


def linear_lr_schedule(
    lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5
) -> Schedule:
    """LinearLR: from ``lr·start_factor`` to ``lr·end_factor`` over ``total_iters`` steps, then held.

    ``lr · (start_factor + (end_factor − start_factor)·min(t, total_iters)/total_iters)``, as
    PyTorch's ``LinearLR`` for one param group.

    Args:
        lr: the group's initial lr.
        start_factor: the multiplier at step 0, in (0, 1] (default 1/3).
        end_factor: the multiplier from step ``total_iters`` on, in [0, 1] (default 1).
        total_iters: the length of the ramp (an int >= 1; default 5).

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
    total = _real(func, "total_iters", total_iters)
    if total <= 0.0:  # PyTorch's ramp never starts: the lr holds lr·start_factor
        return Constant(lr * start)
    # PyTorch's lr·(start + (end − start)·t/total_iters) up to the last step it reaches
    n = min(math.floor(total), MAX_STEP)
    if n == 0:
        return Constant(lr * start)
    last = end if n == total else start + (end - start) * n / total
    return Linear(lr * start, lr * last, steps=n)


def exponential_lr_schedule(lr: float, gamma: float) -> Schedule:
    """ExponentialLR: ``lr · gamma^t``, as PyTorch's ``ExponentialLR`` for one param group.

    Args:
        lr: the group's initial lr.
        gamma: the multiplier per step; above 1 the value is held at 1e300, where PyTorch's runs
            on to inf.

    >>> exponential_lr_schedule(1.0, 0.5)(3)
    0.125
    """
    gamma = _real("ExponentialLR", "gamma", gamma)
    if gamma == 0.0:  # PyTorch's lr is 0 from step 1 on
        return Constant(lr, steps=1) >> Constant(0.0)
    # growing (gamma > 1): held at _GROWTH_CAP, where PyTorch's own values run on to inf
    return Exponential(lr, gamma, final=_GROWTH_CAP) if gamma > 1.0 else Exponential(lr, gamma)


def polynomial_lr_schedule(lr: float, total_iters: int = 5, power: float = 1.0) -> Schedule:
    """PolynomialLR: ``lr · (1 − min(t, total_iters)/total_iters)^power``.

    As PyTorch's ``PolynomialLR`` for one param group.

    Args:
        lr: the group's initial lr.
        total_iters: the steps to reach 0 (an int >= 1; default 5).
        power: the exponent (default 1.0, a straight line).

    >>> [polynomial_lr_schedule(1.0, 2, 2.0)(t) for t in range(4)]
    [1.0, 0.25, 0.0, 0.0]
    """
    func = "PolynomialLR"
    total = _int(func, "total_iters", total_iters, -_MAX_INT)
    # power=inf is PyTorch's (finite values: 0 from step 1); other non-finite powers give NaN
    power = math.inf if power == math.inf else _real(func, "power", power)
    if total <= 0 or power == 0.0:  # PyTorch's decay never starts (x**0 is 1): the lr holds
        return Constant(lr)
    if power == math.inf:  # PyTorch's factor (1 − 1/total_iters)**inf is 0 at step 1
        return Constant(lr, steps=1) >> Constant(0.0)
    return Polynomial(lr, 0.0, steps=total, power=power)


def cosine_annealing_lr_schedule(lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    """CosineAnnealingLR: cosine from ``lr`` to ``eta_min`` over ``T_max`` steps, then back up.

    PyTorch's values are periodic (period ``2·T_max``): past ``T_max`` the LR climbs back to
    ``lr``, so the drop-in does too: ``eta_min + (lr − eta_min)·(1 + cos(π·t/T_max))/2``, as
    PyTorch's ``CosineAnnealingLR`` for one param group.

    Args:
        lr: the group's initial lr.
        T_max: the steps from ``lr`` down to ``eta_min`` (an int >= 1).
        eta_min: the lowest lr (>= 0; default 0).

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

    ``eta_min + (lr − eta_min)·(1 + cos(π·T_cur/T_i))/2``, where period ``i`` lasts
    ``T_i = T_0·T_mult^i`` steps and ``T_cur`` counts the steps since its start; as PyTorch's
    ``CosineAnnealingWarmRestarts`` for one param group.

    Args:
        lr: the group's initial lr.
        T_0: the length of the first period (an int >= 1).
        T_mult: the factor by which each period is longer than the one before (an int >= 1).
        eta_min: the lowest lr (>= 0; default 0).

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

    ``lr(t) = base_lr + (max_lr − base_lr)·x(t)·scale``, where ``x`` rises from 0 to 1 over
    ``step_size_up`` steps and falls back over ``step_size_down``; ``scale`` is 1
    (``"triangular"``), halves every cycle (``"triangular2"``) or is ``gamma^t``
    (``"exp_range"``). The momentum goes the other way: ``max_momentum −
    (max_momentum − base_momentum)·x(t)``. As PyTorch's ``CyclicLR`` for one param group.

    Args:
        base_lr: the lowest lr, where each cycle starts.
        max_lr: the lr at the top of the cycle (in ``"triangular"`` mode).
        step_size_up: steps from ``base_lr`` to ``max_lr`` (an int >= 1; default 2000).
        step_size_down: steps back down (None: ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: the per-step factor of ``"exp_range"`` (ignored by the other modes).
        cycle_momentum: whether to cycle the momentum too (a ``"momentum"`` entry).
        base_momentum: the momentum at the lr's top (default 0.8).
        max_momentum: the momentum at the lr's bottom (default 0.9).

    >>> spec = cyclic_lr_schedule(0.01, 0.1, step_size_up=10)
    >>> str(spec["lr"]), str(spec["momentum"])
    ('cyclic(low=0.01, high=0.1, half_cycle=10)', 'cyclic(low=0.01, high=0.1, half_cycle=10).mirror(low=0.8, high=0.9)')
    """
    func = "CyclicLR"
    if mode not in _CYCLIC_MODES:
        raise _fail(func, "mode", mode, "one of 'triangular', 'triangular2', 'exp_range'")
    up = _int(func, "step_size_up", step_size_up, 1)
    down = None if step_size_down is None else _int(func, "step_size_down", step_size_down, 1)
    base, top = _real(func, "base_lr", base_lr), _real(func, "max_lr", max_lr)

    def wave(low: float, high: float) -> Cyclic:
        """``low + (high − low)·x(t)·scale``: PyTorch's cycle between two values."""
        return Cyclic(
            low,
            high,
            half_cycle=up,
            mode=mode,
            factor=_real(func, "gamma", gamma) if mode == "exp_range" else 1.0,
            half_cycle_down=None if down is None or down == up else down,
        )

    # PyTorch's lr goes from base_lr towards max_lr, down when max_lr < base_lr: the mirror
    # of the cycle between them
    cycle = wave(min(base, top), max(base, top))
    spec: GroupSpec = {"lr": cycle if base <= top else Mirror(cycle, low=top, high=base)}
    if cycle_momentum:
        low, high = _momenta(func, base_momentum, max_momentum)
        # the momentum goes from max_momentum towards base_momentum, up when it is larger
        spec["momentum"] = Mirror(cycle, low=low, high=high) if low <= high else wave(high, low)
    return spec


def _momenta(func: str, base_momentum: object, max_momentum: object) -> tuple[float, float]:
    """``base_momentum`` and ``max_momentum`` as floats >= 0 (above 1 too, as PyTorch)."""
    return (
        _real(func, "base_momentum", base_momentum, low=0.0),
        _real(func, "max_momentum", max_momentum, low=0.0),
    )


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

    The lr rises from ``max_lr/div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then anneals (cosine or linear) to ``max_lr/(div_factor·final_div_factor)``;
    the momentum goes from ``max_momentum`` down to ``base_momentum`` and back. With
    ``three_phase`` the lr first comes back down to ``max_lr/div_factor`` symmetrically, then
    anneals. As PyTorch's ``OneCycleLR`` for one param group.

    Args:
        max_lr: the peak lr.
        total_steps: the length of the cycle (an int >= 1).
        pct_start: the share of the steps spent rising, in [0, 1] (default 0.3).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: whether to add a ``"momentum"`` schedule.
        base_momentum: the momentum at the lr's peak (default 0.85).
        max_momentum: the momentum at the start and end (default 0.95).
        div_factor: ``max_lr / initial lr`` (default 25).
        final_div_factor: ``initial lr / final lr`` (default 1e4).
        three_phase: PyTorch's three-phase variant.

    >>> str(one_cycle_lr_schedule(0.1, 100)["lr"])
    'one_cycle(peak=0.1, steps=100)'
    """
    func = "OneCycleLR"
    steps = _int(func, "total_steps", total_steps, 1)
    if isinstance(pct_start, bool) or not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
        raise _fail(func, "pct_start", pct_start, "a float in [0, 1]")
    if anneal_strategy not in ("cos", "linear"):
        raise _fail(func, "anneal_strategy", anneal_strategy, "'cos' or 'linear'")
    shape = {"cos": "cosine", "linear": "linear"}[str(anneal_strategy)]  # lrkit's shape names
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
        base_m, max_m = _momenta(func, base_momentum, max_momentum)
        momentum = OneCycleMomentum(
            steps=steps,
            low=min(base_m, max_m),
            high=max(base_m, max_m),
            warmup=pct_start,
            shape=shape,
            three_phase=bool(three_phase),
        )
        # PyTorch's momentum goes from max_momentum to base_momentum and back: up and down
        # again when base_momentum is the larger, the mirror of lrkit's high → low → high
        spec["momentum"] = momentum if base_m <= max_m else Mirror(momentum, low=max_m, high=base_m)
    return spec


# ---------------------------------------------------------------------------------------------
# the drop-ins
# ---------------------------------------------------------------------------------------------
Kind = Literal["multiplicative", "absolute", "plateau"]

_tls = torch.optim.lr_scheduler
#: PyTorch's own classes, taken before anything (a test conftest) replaces them with these drop-ins
_TORCH: dict[str, type[LRScheduler]] = {
    name: getattr(_tls, name)
    for name in (
        "StepLR",
        "MultiStepLR",
        "ConstantLR",
        "LinearLR",
        "ExponentialLR",
        "PolynomialLR",
        "CosineAnnealingLR",
        "CosineAnnealingWarmRestarts",
        "LambdaLR",
        "MultiplicativeLR",
        "CyclicLR",
        "OneCycleLR",
    )
}
EPOCH_DEPRECATION_WARNING: str = _tls.EPOCH_DEPRECATION_WARNING

#: what lrkit's engine keeps per scheduler: slots, so that ``__dict__`` holds what PyTorch's
#: scheduler holds (its hyper-parameters and counters), as PyTorch's own tests compare it
_ENGINE_SLOTS = (
    "_shared",
    "_auto",
    "_raw",
    "_retargets",
    "_specs",
    "_plan",
    "_total",
    "_plateau",
    "_cursors",
    "_lr_not_driven",
    "_last_group",
    "_next_step",
    "_multipliers",
    "_bases",
    "_seen",
    "_ready",
    "_stale",
)


class _InitialLrMissing(ScheduleError, KeyError):
    """``last_epoch >= 0`` without ``initial_lr`` in a param group: PyTorch's ``KeyError``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class _Hyper:
    """A PyTorch hyper-parameter of a drop-in, kept in the instance ``__dict__`` under PyTorch's
    name (so ``state_dict()`` saves it, as PyTorch's does); a write after construction
    rebuilds the schedule, as the write changes what PyTorch's scheduler computes next."""

    name: str

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value
        if getattr(obj, "_ready", False):
            obj._written(self.name)


def _copy_lr(v: Any) -> Any:
    return v.clone() if isinstance(v, torch.Tensor) else v


class CompatScheduler(Scheduler):
    """An :class:`lrkit.torch.Scheduler` made by a drop-in; ``.schedule`` is its lrkit schedule.

    Driving its param groups alone, a drop-in writes its closed-form values. When anything else
    changed a group's lr since the drop-in's last write (another scheduler stepped on the same
    optimizer, the user wrote ``group["lr"]``, a resumed optimizer holds another lr), that group
    follows PyTorch's own chainable rule from the lr it finds, as PyTorch's scheduler does, so
    stacked schedulers compose as PyTorch's (``_detached`` says which groups do, and is saved).

    ``last_epoch=-1`` (the default) starts at step 0; ``last_epoch=k >= 0`` resumes: every group
    must hold ``"initial_lr"`` (PyTorch's ``KeyError`` otherwise).

    The drop-ins below build it; to drive an optimizer with lrkit's own schedules, use
    :class:`lrkit.torch.Scheduler`.

    Args:
        optimizer: the optimizer whose param groups it drives.
        schedule: one ``{"lr": schedule, "momentum": schedule, ...}`` per param group.
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k``.
        plateau: a :class:`lrkit.Plateau` that reduces the lr (``ReduceLROnPlateau``), or None.
        multipliers: per group, the lr over the initial lr for multiplicative drop-ins (what
            a chain multiplies), or None.
        bases: each group's initial lr (``base_lrs``; default: read from the groups).

    >>> import lrkit
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = CompatScheduler(opt, [{"lr": lrkit.cosine(start=1.0, steps=4)}])
    >>> for _ in range(2):
    ...     opt.step()
    ...     s.step()
    >>> s.get_last_lr()
    [0.5]
    """

    __slots__ = _ENGINE_SLOTS
    _seen: list[Any] | None
    _multipliers: list[Schedule] | None
    _bases: list[float] | None
    _ready: bool
    _stale: bool

    #: "multiplicative": each group's lr is ``base · multiplier(t)`` and PyTorch updates it by
    #: ratios, so ChainedScheduler multiplies it with others; "absolute": PyTorch overwrites.
    kind: Kind = "absolute"
    #: PyTorch's class whose chainable ``get_lr`` a group follows once something else wrote it
    _torch: ClassVar[type[LRScheduler] | None] = None
    #: PyTorch's hyper-parameter attributes, adopted by ``load_state_dict``
    _hyper: ClassVar[tuple[str, ...]] = ()

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
        self._ready = False
        self._stale = False
        self._seen = None
        groups = optimizer.param_groups
        before = [_copy_lr(g["lr"]) for g in groups]
        self._detached = [False] * len(groups)
        self._get_lr_called_within_step = False
        super().__init__(optimizer, schedule, plateau=plateau)
        if last_epoch >= 0:
            self._resume(last_epoch, before)
        self._ready = True

    # -- engine hooks -----------------------------------------------------------------------
    def _bound(self, total: int | Literal["auto"] | None) -> list[GroupSpec]:
        """The specs bound to ``total``: no range checks, a drop-in accepts what PyTorch does."""
        assert total != "auto"
        from lrkit.torch import _specs

        return _specs.bind(self._raw, total)

    def _set_base_lrs(self) -> None:
        """``base_lrs`` are the initial lrs, as PyTorch's (not the values of step 0)."""
        if self._bases is not None:
            self.base_lrs = list(self._bases)
        else:
            self.base_lrs = [_lr(g.get("initial_lr", g["lr"])) for g in self.optimizer.param_groups]

    def _resume(self, last_epoch: int, before: list[Any]) -> None:
        """Step ``last_epoch + 1`` as PyTorch's constructor does when resuming."""
        groups = self.optimizer.param_groups
        for g, v in zip(groups, before, strict=True):
            assign(g, "lr", _lr(v))
        if self._torch is not None and self._specs is not None:
            closed = self.values_at(last_epoch)
            self._detached = [
                _lr(v) != row.get("lr", _lr(v)) for v, row in zip(before, closed, strict=True)
            ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Scheduler.step(self, last_epoch + 1)
        self._step_count = 1
        self._next_step = -1  # the user's first step checks the call order
        if True in self._detached:
            self._is_initial = True
            try:
                self._follow(before)
            finally:
                self._is_initial = False
        self._seen = [_lr(g["lr"]) for g in groups]

    # -- stepping ---------------------------------------------------------------------------
    def step(self, epoch: int | None = None) -> None:
        """One step (PyTorch's ``step``); ``step(epoch)`` warns as PyTorch does and jumps there."""
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        if self._stale:
            self._rebuild()
        if self._torch is None:
            Scheduler.step(self, epoch)
            return
        groups = self.optimizer.param_groups
        seen = self._seen
        alone = (
            seen is not None
            and self._step_count > 0
            and len(seen) == len(groups)
            and True not in self._detached
        )
        if alone:
            assert seen is not None
            for g, v in zip(groups, seen):  # noqa: B905 - lengths checked above
                if g["lr"] != v:  # another writer: follow PyTorch's rule from there on
                    alone = False
                    break
        if alone:
            Scheduler.step(self, epoch)  # the closed form
            if type(groups[0]["lr"]) is float:  # what was written is what the groups hold
                self._seen = self._last_lr
                return
        else:
            self._step_following(epoch, groups)
        self._seen = [_lr(g["lr"]) for g in groups]

    def _step_following(self, epoch: int | None, groups: list[dict[str, Any]]) -> None:
        """A step where some group may have been written by another writer: mark those groups,
        write the closed form, then PyTorch's chainable rule for the marked groups."""
        det = self._detached
        if len(det) < len(groups):
            det.extend([False] * (len(groups) - len(det)))
        before = [_copy_lr(g["lr"]) for g in groups]
        if self._step_count == 0:
            seen = [_lr(g.get("initial_lr", g["lr"])) for g in groups]
        else:
            seen = self._seen or [_lr(v) for v in before]
        for gi, v in enumerate(before):
            if not det[gi] and (gi >= len(seen) or _lr(v) != seen[gi]):
                det[gi] = True
        Scheduler.step(self, epoch)
        if epoch is None and True in det:
            self._follow(before)

    def _follow(self, before: list[Any]) -> None:
        """PyTorch's chainable ``get_lr`` for the detached groups, from the lrs they held."""
        assert self._torch is not None
        groups = self.optimizer.param_groups
        det = self._detached
        for gi, v in enumerate(before):
            if det[gi]:
                assign(groups[gi], "lr", _lr(v))
        self._get_lr_called_within_step = True
        try:
            values = self._torch.get_lr(self)
        finally:
            self._get_lr_called_within_step = False
        for gi, v in enumerate(values):
            if det[gi]:
                assign(groups[gi], "lr", _lr(v))
                self._last_lr[gi] = _lr(groups[gi]["lr"])

    # -- PyTorch's hyper-parameters -----------------------------------------------------------
    def _hyper_values(self) -> dict[str, Any]:
        return {k: self.__dict__[k] for k in self._hyper if k in self.__dict__}

    def _group_specs(self, h: Mapping[str, Any], bases: list[float]) -> list[GroupSpec]:
        """The schedules of every group from hyper-parameters ``h`` (the subclass's rule)."""
        return self.schedules

    def _group_multipliers(self, h: Mapping[str, Any], n: int) -> list[Schedule] | None:
        return self._multipliers

    def _written(self, name: str) -> None:
        """A hyper-parameter was written: rebuild before the next step; a chainable drop-in
        continues from the lr it wrote, with the new value, as PyTorch's."""
        self._stale = True
        if self._torch is not None:
            self._detached = [True] * len(self.optimizer.param_groups)

    def _rebuild(self) -> None:
        h = self._hyper_values()
        specs = self._group_specs(h, [_lr(b) for b in self.base_lrs])
        self._multipliers = self._group_multipliers(h, len(specs))
        self._raw = [dict(s) for s in specs]
        self._install(self._bound(self._total))
        self._stale = False

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

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """lrkit's state (schedule texts, step) plus PyTorch's: every attribute PyTorch's
        scheduler saves (hyper-parameters, ``base_lrs``, counters), as primitives."""
        state = super().state_dict()
        for k, v in self.__dict__.items():
            if k != "optimizer" and k not in state:
                p = _primitive(v)
                if p is not _NOT_PRIMITIVE:
                    state[k] = p
        return state

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> None:
        """Restore :meth:`state_dict` output, or the ``state_dict()`` of the PyTorch scheduler
        this drop-in replaces (torch 2.x, also after ``torch.load(weights_only=True)``).

        As PyTorch's, the saved hyper-parameters are adopted (``StepLR(o, 1)`` loading a
        ``StepLR(o, 3)`` state continues with ``step_size=3``) with the saved step, ``base_lrs``
        and last lrs. Everything is checked first: a state that cannot be loaded is one
        ``ScheduleError`` and the scheduler stays as it was. ``strict`` is accepted for
        lrkit's signature; adopting the saved settings is what PyTorch does.
        """
        self._prepare_load(state_dict)()

    def _prepare_load(self, state: object) -> Callable[[], None]:
        """Check ``state`` and return the function that loads it (which cannot fail)."""
        func = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise ScheduleTypeError(
                f"{func}: state_dict={type(state).__name__} is invalid; expected a dict"
            )
        n = len(self.optimizer.param_groups)
        t = _saved_int(func, state, "last_epoch", self.last_epoch, low=0)
        count = _saved_int(func, state, "_step_count", t + 1, low=0)
        bases = _saved_floats(func, state, "base_lrs", n, [_lr(b) for b in self.base_lrs])
        assert bases is not None
        last = _saved_floats(func, state, "_last_lr", n, None)
        detached = state.get("_detached", [False] * n)
        if (
            not isinstance(detached, list)
            or len(detached) != n
            or not all(isinstance(d, bool) for d in detached)
        ):
            raise _fail(func, "state_dict['_detached']", detached, f"a list of {n} bools")
        h = {**self._hyper_values(), **self._saved_hyper(func, state)}
        try:
            specs = self._group_specs(h, bases)
            mult = self._group_multipliers(h, n)
            retargets = _state.check(state, n).retargets if "format" in state else []
            bound = _retargeted(_specs_bind([dict(s) for s in specs], self._total), retargets)
            values = [{k: float(s(t)) for k, s in spec.items()} for spec in bound]
        except (ScheduleError, ValueError, TypeError, OverflowError) as exc:
            raise ScheduleError(
                f"{func}: the saved state cannot be loaded into this {type(self).__name__} ({exc})"
            ) from None
        if True not in detached and not all(
            math.isfinite(v) for row in values for v in row.values()
        ):
            raise _fail(func, "state_dict", "…", "a state whose lrs at its step are finite")

        def commit() -> None:
            self.__dict__.update(h)
            self._multipliers = mult
            self._bases = list(bases)
            self._raw = [dict(s) for s in specs]
            self._retargets = list(retargets)
            self._install(bound)
            self.base_lrs = list(bases)
            self.last_epoch = t
            self._step_count = count
            self._detached = list(detached)
            self._stale = False
            if True not in detached:
                self._rewrite()
            elif last is not None:  # a group that follows PyTorch's rule: the lr it last wrote
                for g, d, v in zip(self.optimizer.param_groups, detached, last, strict=True):
                    if d:
                        assign(g, "lr", v)
            if last is not None:
                self._last_lr = list(last)
            self._seen = [_lr(g["lr"]) for g in self.optimizer.param_groups]

        return commit

    def _saved_hyper(self, func: str, state: Mapping[str, Any]) -> dict[str, Any]:
        return {k: state[k] for k in self._hyper if k in state}


_NOT_PRIMITIVE = object()


def _primitive(v: Any) -> Any:
    """``v`` as primitives (int, float, str, bool, None, lists, str/int-keyed dicts), or
    ``_NOT_PRIMITIVE``."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return float(v.item())
    if isinstance(v, list | tuple):
        out = [_primitive(x) for x in v]
        return _NOT_PRIMITIVE if any(x is _NOT_PRIMITIVE for x in out) else out
    if isinstance(v, Mapping):
        d = {k: _primitive(x) for k, x in v.items()}
        ok = all(isinstance(k, str | int) for k in d) and _NOT_PRIMITIVE not in d.values()
        return dict(d) if ok else _NOT_PRIMITIVE
    return _NOT_PRIMITIVE


def _saved_int(func: str, state: Mapping[str, Any], key: str, default: int, *, low: int) -> int:
    v = state.get(key, default)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not low <= int(v) <= MAX_STEP:
        raise _fail(func, key, v, f"an int in [{low}, 2**52]")
    return int(v)


def _saved_floats(
    func: str, state: Mapping[str, Any], key: str, n: int, default: list[float] | None
) -> list[float] | None:
    v = state.get(key)
    if v is None:
        return default
    ok = isinstance(v, list | tuple) and len(v) == n
    out: list[float] = []
    if ok:
        for x in v:
            if isinstance(x, torch.Tensor) and x.numel() == 1:
                x = x.item()
            if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x):
                ok = False
                break
            out.append(float(x))
    if not ok:
        raise _fail(func, key, v, f"a list of {n} finite floats")
    return out


def _specs_bind(specs: list[GroupSpec], total: int | None) -> list[GroupSpec]:
    from lrkit.torch import _specs

    return _specs.bind(specs, total)


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


class _ClosedForm(CompatScheduler):
    """A drop-in built from its hyper-parameters by ``_rule(base, **h)`` per group."""

    __slots__ = ()

    def __init__(self, optimizer: Optimizer, last_epoch: int, h: dict[str, Any]) -> None:
        func = type(self).__name__
        _check_optimizer(func, optimizer)
        last = _check_last_epoch(func, last_epoch)
        bases = _base_lrs(func, optimizer, last)
        specs = self._group_specs(h, bases)  # checks the arguments before anything is set
        self.__dict__.update(h)
        mult = self._group_multipliers(h, len(bases))
        super().__init__(optimizer, specs, last_epoch=last, multipliers=mult, bases=bases)

    @staticmethod
    def _rule(base: float, h: Mapping[str, Any]) -> Schedule:
        raise NotImplementedError

    def _group_specs(self, h: Mapping[str, Any], bases: list[float]) -> list[GroupSpec]:
        return [{"lr": self._rule(b, h)} for b in bases]

    def _group_multipliers(self, h: Mapping[str, Any], n: int) -> list[Schedule] | None:
        if self.kind != "multiplicative":
            return None
        return [self._rule(1.0, h)] * n


class StepLR(_ClosedForm):
    """PyTorch's ``StepLR``: multiply each group's lr by ``gamma`` every ``step_size`` steps.

    ``lr_t = lr · gamma^⌊t/step_size⌋``; it matches PyTorch's ``StepLR``.
    ``lr`` is each param group's initial lr (``group["initial_lr"]`` if an earlier scheduler
    set it, else ``group["lr"]``).

    Args:
        optimizer: the optimizer whose param groups it drives.
        step_size: steps between two multiplications (an int >= 1).
        gamma: the multiplier (default 0.1).
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> str(StepLR(opt, step_size=30).schedule)
    'step(start=0.1, every=30, factor=0.1)'
    """

    kind: Kind = "multiplicative"
    _torch = _TORCH["StepLR"]
    _hyper = ("step_size", "gamma")
    step_size = _Hyper()
    gamma = _Hyper()

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        super().__init__(optimizer, last_epoch, {"step_size": step_size, "gamma": gamma})

    @staticmethod
    def _rule(base: float, h: Mapping[str, Any]) -> Schedule:
        return step_lr_schedule(base, h["step_size"], h["gamma"])


def _milestones(value: object) -> list[int]:
    if isinstance(value, Mapping):  # PyTorch's Counter {milestone: times}
        return [m for m, times in value.items() for _ in range(int(times))]
    if isinstance(value, torch.Tensor):
        return [int(v) for v in value.reshape(-1).tolist()]
    if not isinstance(value, Iterable):
        raise _args.type_fail("MultiStepLR", "milestones", value, "a list of ints (steps)")
    return list(value)


class MultiStepLR(_ClosedForm):
    """PyTorch's ``MultiStepLR``: multiply by ``gamma`` at each milestone.

    ``lr_t = lr · gamma^(number of milestones <= t)`` (a repeated milestone counts twice); it
    matches PyTorch's ``MultiStepLR``.
    ``lr`` is each param group's initial lr (``group["initial_lr"]`` if an earlier scheduler
    set it, else ``group["lr"]``).

    Args:
        optimizer: the optimizer whose param groups it drives.
        milestones: the steps (ints >= 0) at which the lr is multiplied.
        gamma: the multiplier (default 0.1).
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> str(MultiStepLR(opt, milestones=[2, 3], gamma=0.5).schedule)
    'multistep(start=1.0, milestones=[2, 3], factor=0.5)'
    """

    kind: Kind = "multiplicative"
    _torch = _TORCH["MultiStepLR"]
    _hyper = ("milestones", "gamma")
    milestones = _Hyper()
    gamma = _Hyper()

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        stones = Counter(_milestones(milestones))
        super().__init__(optimizer, last_epoch, {"milestones": stones, "gamma": gamma})

    @staticmethod
    def _rule(base: float, h: Mapping[str, Any]) -> Schedule:
        return multi_step_lr_schedule(base, _milestones(h["milestones"]), h["gamma"])

    def _saved_hyper(self, func: str, state: Mapping[str, Any]) -> dict[str, Any]:
        h = super()._saved_hyper(func, state)
        if "milestones" in h:
            h["milestones"] = Counter(_milestones(h["milestones"]))
        return h


class ConstantLR(_ClosedForm):
    """PyTorch's ``ConstantLR``: ``lr · factor`` until ``total_iters``, then ``lr``.

    ``lr_t = lr · factor`` for ``t < total_iters``, else ``lr``; it matches PyTorch's
    ``ConstantLR``.
    ``lr`` is each param group's initial lr (``group["initial_lr"]`` if an earlier scheduler
    set it, else ``group["lr"]``).

    Args:
        optimizer: the optimizer whose param groups it drives.
        factor: the multiplier of the first ``total_iters`` steps, in [0, 1] (default 1/3).
        total_iters: how many steps the lr is multiplied (an int >= 0; default 5).
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> str(ConstantLR(opt, factor=0.5, total_iters=2).schedule)
    'constant(0.5, steps=2) >> constant(1.0)'
    """

    kind: Kind = "multiplicative"
    _torch = _TORCH["ConstantLR"]
    _hyper = ("factor", "total_iters")
    factor = _Hyper()
    total_iters = _Hyper()

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        super().__init__(optimizer, last_epoch, {"factor": factor, "total_iters": total_iters})

    @staticmethod
    def _rule(base: float, h: Mapping[str, Any]) -> Schedule:
        return constant_lr_schedule(base, h["factor"], h["total_iters"])


class LinearLR(_ClosedForm):
    """PyTorch's ``LinearLR``: ``lr`` times a factor going linearly from start to end factor.

    ``lr_t = lr · (start_factor + (end_factor − start_factor)·min(t, total_iters)/total_iters)``;
    it matches PyTorch's ``LinearLR``.
    ``lr`` is each param group's initial lr (``group["initial_lr"]`` if an earlier scheduler
    set it, else ``group["lr"]``).

    Args:
        optimizer: the optimizer whose param groups it drives.
        start_factor: the multiplier at step 0, in (0, 1] (default 1/3).
        end_factor: the multiplier from step ``total_iters`` on, in [0, 1] (default 1).
        total_iters: the length of the ramp (an int >= 1; default 5).
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> str(LinearLR(opt, start_factor=0.5, total_iters=2).schedule)
    'linear(start=0.5, end=1.0, steps=2)'
    """

    kind: Kind = "multiplicative"
    _torch = _TORCH["LinearLR"]
    _hyper = ("start_factor", "end_factor", "total_iters")
    start_factor = _Hyper()
    end_factor = _Hyper()
    total_iters = _Hyper()

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        h = {"start_factor": start_factor, "end_factor": end_factor, "total_iters": total_iters}
        super().__init__(optimizer, last_epoch, h)

    @staticmethod
    def _rule(base: float, h: Mapping[str, Any]) -> Schedule:
        return linear_lr_schedule(base, h["start_factor"], h["end_factor"], h["total_iters"])


class ExponentialLR(_ClosedForm):
    """PyTorch's ``ExponentialLR``: ``lr_t = lr · gamma^t``; it matches PyTorch's ``ExponentialLR``.

    With ``gamma > 1`` the lr is held at 1e300, where PyTorch's runs on to inf.
    ``lr`` is each param group's initial lr (``group["initial_lr"]`` if an earlier scheduler
    set it, else ``group["lr"]``).

    Args:
        optimizer: the optimizer whose param groups it drives.
        gamma: the multiplier per step.
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> str(ExponentialLR(opt, gamma=0.5).schedule)
    'exponential(start=1.0, factor=0.5)'
    """

    kind: Kind = "multiplicative"
    _torch = _TORCH["ExponentialLR"]
    _hyper = ("gamma",)
    gamma = _Hyper()

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        super().__init__(optimizer, last_epoch, {"gamma": gamma})

    @staticmethod
    def _rule(base: float, h: Mapping[str, Any]) -> Schedule:
        return exponential_lr_schedule(base, h["gamma"])


class PolynomialLR(_ClosedForm):
    """PyTorch's ``PolynomialLR``: ``lr · (1 − t/total_iters)^power``, then 0.

    ``lr_t = lr · (1 − min(t, total_iters)/total_iters)^power``; it matches PyTorch's
    ``PolynomialLR``.
    ``lr`` is each param group's initial lr (``group["initial_lr"]`` if an earlier scheduler
    set it, else ``group["lr"]``).

    Args:
        optimizer: the optimizer whose param groups it drives.
        total_iters: the steps to reach 0 (an int >= 1; default 5).
        power: the exponent (default 1.0, a straight line).
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> str(PolynomialLR(opt, total_iters=4, power=2.0).schedule)
    'polynomial(start=1.0, steps=4, power=2.0)'
    """

    kind: Kind = "multiplicative"
    _torch = _TORCH["PolynomialLR"]
    _hyper = ("total_iters", "power")
    total_iters = _Hyper()
    power = _Hyper()

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        super().__init__(optimizer, last_epoch, {"total_iters": total_iters, "power": power})

    @staticmethod
    def _rule(base: float, h: Mapping[str, Any]) -> Schedule:
        return polynomial_lr_schedule(base, h["total_iters"], h["power"])


class CosineAnnealingLR(_ClosedForm):
    """PyTorch's ``CosineAnnealingLR`` (periodic: back up to the initial lr after ``T_max``).

    Its values are PyTorch's closed form; PyTorch's own recursive ``step()`` drifts from that closed
    form by up to ~1e-10 relative over thousands of steps with ``eta_min > 0`` (see docs/compat.md).

    ``lr_t = eta_min + (lr − eta_min)·(1 + cos(π·t/T_max))/2`` (period ``2·T_max``); it matches
    PyTorch's ``CosineAnnealingLR``.
    ``lr`` is each param group's initial lr (``group["initial_lr"]`` if an earlier scheduler
    set it, else ``group["lr"]``).

    Args:
        optimizer: the optimizer whose param groups it drives.
        T_max: the steps from ``lr`` down to ``eta_min`` (an int >= 1).
        eta_min: the lowest lr (>= 0; default 0).
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = CosineAnnealingLR(opt, T_max=2)
    >>> str(s.schedule)
    '(cosine(start=1.0, steps=2) >> cosine(start=0.0, end=1.0, steps=2)).repeat()'
    """

    _torch = _TORCH["CosineAnnealingLR"]
    _hyper = ("T_max", "eta_min")
    T_max = _Hyper()
    eta_min = _Hyper()

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        super().__init__(optimizer, last_epoch, {"T_max": T_max, "eta_min": eta_min})

    @staticmethod
    def _rule(base: float, h: Mapping[str, Any]) -> Schedule:
        return cosine_annealing_lr_schedule(base, h["T_max"], h["eta_min"])

    def _group_multipliers(self, h: Mapping[str, Any], n: int) -> list[Schedule] | None:
        if _lr(h["eta_min"]) != 0.0:
            return None
        return [cosine_annealing_lr_schedule(1.0, h["T_max"], 0.0)] * n


class CosineAnnealingWarmRestarts(_ClosedForm):
    """PyTorch's ``CosineAnnealingWarmRestarts`` (SGDR): periods ``T_0, T_0·T_mult, ...``.

    ``T_cur`` and ``T_i`` are kept as PyTorch keeps them; while they are where the closed form
    has them, the lr is the closed form; after a write to ``T_cur`` or a fractional epoch
    (``step(epoch + i / iters)``), it is PyTorch's ``eta_min + (base − eta_min)·(1 +
    cos(π·T_cur/T_i))/2``.

    ``lr_t = eta_min + (lr − eta_min)·(1 + cos(π·T_cur/T_i))/2`` with ``T_i = T_0·T_mult^i`` in
    period ``i`` and ``T_cur`` the steps since it began; it matches PyTorch's
    ``CosineAnnealingWarmRestarts``.
    ``lr`` is each param group's initial lr (``group["initial_lr"]`` if an earlier scheduler
    set it, else ``group["lr"]``).

    Args:
        optimizer: the optimizer whose param groups it drives.
        T_0: the length of the first period (an int >= 1).
        T_mult: the factor by which each period is longer than the one before (an int >= 1).
        eta_min: the lowest lr (>= 0; default 0).
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> str(CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2).schedule)
    'cosine(start=1.0, steps=2).repeat(mult=2.0)'
    """

    _torch = _TORCH["CosineAnnealingWarmRestarts"]
    _hyper = ("T_0", "T_i", "T_mult", "eta_min", "T_cur")
    T_0 = _Hyper()
    T_i = _Hyper()
    T_mult = _Hyper()
    eta_min = _Hyper()
    T_cur = _Hyper()

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        h = {"T_0": T_0, "T_i": T_0, "T_mult": T_mult, "eta_min": eta_min, "T_cur": last_epoch}
        super().__init__(optimizer, last_epoch, h)

    @staticmethod
    def _rule(base: float, h: Mapping[str, Any]) -> Schedule:
        return cosine_annealing_warm_restarts_schedule(base, h["T_0"], h["T_mult"], h["eta_min"])

    def _written(self, name: str) -> None:
        if name in ("T_0", "T_mult", "eta_min"):
            self._stale = True

    def _resume(self, last_epoch: int, before: list[Any]) -> None:
        self.last_epoch = last_epoch
        self._step_count = 0
        self._cawr_step(None)
        self._step_count = 1

    def step(self, epoch: float | None = None) -> None:
        """PyTorch's ``step``: ``step()``, or ``step(epoch)`` with a whole or fractional epoch."""
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._cawr_step(epoch)

    def _phase(self, t: float) -> tuple[float, float]:
        """``(T_cur, T_i)`` at epoch ``t``, as PyTorch's ``step(t)`` sets them."""
        t0, mult = self.T_0, self.T_mult
        if t < t0:
            return t, t0
        if mult == 1:
            return t % t0, t0
        n = int(math.log((t / t0 * (mult - 1) + 1), mult))
        return t - t0 * (mult**n - 1) / (mult - 1), t0 * mult**n

    def _cawr_step(self, epoch: float | None) -> None:
        if self._stale:
            self._rebuild()
        d = self.__dict__
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            t: float = self.last_epoch + 1
            d["T_cur"] = self.T_cur + 1
            if d["T_cur"] >= self.T_i:
                d["T_cur"] = d["T_cur"] % self.T_i
                d["T_i"] = self.T_i * self.T_mult
        else:
            if isinstance(epoch, torch.Tensor):
                epoch = epoch.item()
            if isinstance(epoch, bool) or not isinstance(epoch, numbers.Real):
                raise _args.type_fail(
                    "CosineAnnealingWarmRestarts.step", "epoch", epoch, "a number >= 0"
                )
            if not 0 <= epoch <= MAX_STEP:
                raise _fail(
                    "CosineAnnealingWarmRestarts.step",
                    "epoch",
                    epoch,
                    f"Expected non-negative epoch (a number in [0, 2**52]), but got {epoch}",
                )
            t = epoch
            d["T_cur"], d["T_i"] = self._phase(epoch)
            if d["T_cur"] == int(d["T_cur"]) and isinstance(epoch, numbers.Integral):
                d["T_cur"] = int(d["T_cur"])
        self.last_epoch = math.floor(t)
        groups = self.optimizer.param_groups
        whole = float(t).is_integer()
        if whole and (self.T_cur, self.T_i) == self._phase(int(t)) and self._specs is not None:
            lrs = [row["lr"] for row in self.values_at(int(t))]
        else:
            eta = _lr(self.eta_min)
            cos = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
            lrs = [eta + (_lr(b) - eta) * cos for b in self.base_lrs]
        for g, v in zip(groups, lrs, strict=True):
            assign(g, "lr", v)
        self._last_lr = [_lr(g["lr"]) for g in groups]


def _group_momenta(
    func: str, optimizer: Optimizer, cycle_momentum: bool, base: object, high: object
) -> tuple[list[float], list[float], bool]:
    """Per-group base and max momenta; as PyTorch, written into the groups when cycled."""
    base_m = _per_group(func, "base_momentum", optimizer, base)
    max_m = _per_group(func, "max_momentum", optimizer, high)
    use_beta1 = "betas" in optimizer.defaults
    if cycle_momentum:
        _momentum_key(func, optimizer)
        for bm, mm, group in zip(base_m, max_m, optimizer.param_groups, strict=True):
            group["max_momentum"], group["base_momentum"] = mm, bm
    return base_m, max_m, use_beta1


class CyclicLR(CompatScheduler):
    """PyTorch's ``CyclicLR``; ``momentum`` (``betas[0]`` for Adam) cycles inversely to the lr.

    The built-in modes are closed-form lrkit schedules. A custom ``scale_fn`` is a Python
    callable with no lrkit text form: it is called at step time with PyTorch's formula, and
    ``state_dict()`` saves it as PyTorch does (``None`` for a function, a callable object's
    ``__dict__``).

    ``lr_t = base_lr + (max_lr − base_lr)·x(t)·scale``, where ``x`` rises from 0 to 1 over
    ``step_size_up`` steps and falls back over ``step_size_down``; ``scale`` is 1
    (``"triangular"``), halves every cycle (``"triangular2"``), is ``gamma^t`` (``"exp_range"``)
    or ``scale_fn(cycle)`` / ``scale_fn(t)`` (``scale_mode``). The momentum is
    ``max_momentum − (max_momentum − base_momentum)·x(t)``. It matches PyTorch's ``CyclicLR``.

    Args:
        optimizer: the optimizer whose param groups it drives.
        base_lr: the lowest lr, one for all groups or a list with one per group.
        max_lr: the lr at the top of the cycle (in ``"triangular"`` mode), one or one per group.
        step_size_up: steps from ``base_lr`` to ``max_lr`` (an int >= 1; default 2000).
        step_size_down: steps back down (None: ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"`` (ignored with ``scale_fn``).
        gamma: the per-step factor of ``"exp_range"``.
        scale_fn: a custom scale, a function of one number with values in [0, 1], or None.
        scale_mode: what ``scale_fn`` receives: the ``"cycle"`` number or the ``"iterations"``.
        cycle_momentum: whether to cycle the momentum (``betas[0]`` for Adam) too.
        base_momentum: the momentum at the lr's top (default 0.8), one or one per group.
        max_momentum: the momentum at the lr's bottom (default 0.9), one or one per group.
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    >>> s = CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=2)
    >>> str(s.schedule["lr"])
    'cyclic(low=0.1, high=1.0, half_cycle=2)'
    >>> s.get_last_lr(), opt.param_groups[0]["momentum"]  # the lr's bottom, the momentum's top
    ([0.1], 0.9)
    """

    _hyper = (
        "max_lrs",
        "total_size",
        "step_ratio",
        "mode",
        "gamma",
        "scale_mode",
        "cycle_momentum",
        "use_beta1",
        "base_momentums",
        "max_momentums",
    )
    max_lrs = _Hyper()
    total_size = _Hyper()
    step_ratio = _Hyper()
    mode = _Hyper()
    gamma = _Hyper()
    scale_mode = _Hyper()
    cycle_momentum = _Hyper()
    base_momentums = _Hyper()
    max_momentums = _Hyper()

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
        if scale_fn is not None and not callable(scale_fn):
            raise _args.type_fail(func, "scale_fn", scale_fn, "None or a function of one number")
        lows = _per_group(func, "base_lr", optimizer, base_lr)
        highs = _per_group(func, "max_lr", optimizer, max_lr)
        up = _int(func, "step_size_up", step_size_up, 1)
        down = up if step_size_down is None else _int(func, "step_size_down", step_size_down, 1)
        base_m, max_m, use_beta1 = _group_momenta(
            func, optimizer, bool(cycle_momentum), base_momentum, max_momentum
        )
        h: dict[str, Any] = {
            "max_lrs": highs,
            "total_size": float(up + down),
            "step_ratio": up / (up + down),
            "mode": mode,
            "gamma": gamma,
            "scale_mode": scale_mode,
            "cycle_momentum": bool(cycle_momentum),
            "use_beta1": use_beta1,
            "base_momentums": base_m,
            "max_momentums": max_m,
        }
        self.__dict__["_scale_fn_custom"] = scale_fn
        specs = self._group_specs(h, lows)
        self.__dict__.update(h)
        self._init_scale_fn()
        if last == -1:  # as PyTorch: lr = base_lr, then LRScheduler's setdefault("initial_lr")
            for lo, group in zip(lows, optimizer.param_groups, strict=True):
                assign(group, "lr", lo)  # a tensor lr is filled in place
                group.setdefault("initial_lr", lo)
        super().__init__(optimizer, specs, last_epoch=last, bases=lows)

    # PyTorch's scale functions (its ``_scale_fn_ref`` names one of them)
    scale_fn = _TORCH["CyclicLR"].scale_fn  # type: ignore[attr-defined]
    _init_scale_fn = _TORCH["CyclicLR"]._init_scale_fn  # type: ignore[attr-defined]
    _triangular_scale_fn = staticmethod(_TORCH["CyclicLR"]._triangular_scale_fn)  # type: ignore[attr-defined]
    _triangular2_scale_fn = staticmethod(_TORCH["CyclicLR"]._triangular2_scale_fn)  # type: ignore[attr-defined]
    _exp_range_scale_fn = staticmethod(_TORCH["CyclicLR"]._exp_range_scale_fn)  # type: ignore[attr-defined]

    def step(self, epoch: int | None = None) -> None:
        """One step; with a custom ``scale_fn``, PyTorch's formula, calling it at step time."""
        if self.__dict__.get("_scale_fn_custom") is None:
            CompatScheduler.step(self, epoch)
            return
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        if self._step_count == 1:
            self._warn_call_order()
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._get_lr_called_within_step = True
        try:
            values = _TORCH["CyclicLR"].get_lr(self)
        finally:
            self._get_lr_called_within_step = False
        groups = self.optimizer.param_groups
        for g, v in zip(groups, values, strict=True):
            assign(g, "lr", _lr(v))
        self._last_lr = [_lr(g["lr"]) for g in groups]

    def _written(self, name: str) -> None:
        self._stale = True

    def state_dict(self) -> dict[str, Any]:
        """lrkit's and PyTorch's state; ``_scale_fn_custom`` as PyTorch's: ``None`` for a
        function, a callable object's ``__dict__`` (primitives)."""
        state = super().state_dict()
        fn = self.__dict__.get("_scale_fn_custom")
        attrs = None if fn is None or isinstance(fn, types.FunctionType) else vars(fn)
        p = None if attrs is None else _primitive(attrs)
        state["_scale_fn_custom"] = None if p is _NOT_PRIMITIVE else p
        return state

    def _prepare_load(self, state: object) -> Callable[[], None]:
        load = super()._prepare_load(state)
        assert isinstance(state, Mapping)
        saved = state.get("_scale_fn_custom")
        fn = self.__dict__.get("_scale_fn_custom")
        if saved is not None and (not isinstance(saved, Mapping) or fn is None):
            raise _fail(
                "CyclicLR.load_state_dict",
                "_scale_fn_custom",
                saved,
                "None, or a callable object's __dict__ for a CyclicLR built with that scale_fn",
            )

        def commit() -> None:
            load()
            if saved is not None:
                vars(fn).update(saved)
            self._init_scale_fn()
            self._stale = False

        return commit

    def _resume(self, last_epoch: int, before: list[Any]) -> None:
        if self.__dict__.get("_scale_fn_custom") is None:
            super()._resume(last_epoch, before)
            return
        self.last_epoch, self._step_count = last_epoch, 0
        self.step()
        self._step_count = 1

    def _group_specs(self, h: Mapping[str, Any], bases: list[float]) -> list[GroupSpec]:
        func = "CyclicLR"
        custom = self.__dict__.get("_scale_fn_custom")
        if custom is not None:  # a Python callable: computed at step time (no text form)
            return [{"lr": PythonFunction(1.0, custom)} for _ in bases]
        total = _real(func, "total_size", h["total_size"])
        up = round(total * _real(func, "step_ratio", h["step_ratio"]))
        down = round(total) - up
        n = len(bases)
        highs = h["max_lrs"]
        if not isinstance(highs, list | tuple) or len(highs) != n:
            raise _fail(func, "max_lrs", highs, f"a list of {n} lrs")
        return [
            cyclic_lr_schedule(
                lo,
                _real(func, "max_lr", hi),
                up,
                down,
                h["mode"],
                h["gamma"],
                h["cycle_momentum"],
                bm,
                mm,
            )
            for lo, hi, bm, mm in zip(
                bases, highs, h["base_momentums"], h["max_momentums"], strict=True
            )
        ]


class OneCycleLR(CompatScheduler):
    """PyTorch's ``OneCycleLR`` (momentum or ``betas[0]`` cycled inversely), holding after the end.

    PyTorch raises past ``total_steps`` (PyTorch #38170) and extrapolates its last phase at step
    ``total_steps`` itself; the drop-in equals PyTorch on steps ``0 .. total_steps − 1`` and holds
    the final value from there on.

    The lr rises from ``max_lr/div_factor`` to ``max_lr`` over the first ``pct_start`` of the
    steps, then anneals (cosine or linear) to ``max_lr/(div_factor·final_div_factor)``; the
    momentum goes from ``max_momentum`` to ``base_momentum`` and back. With ``three_phase`` the
    lr first comes back down to ``max_lr/div_factor`` as it rose, then anneals. It matches
    PyTorch's ``OneCycleLR``.

    Args:
        optimizer: the optimizer whose param groups it drives.
        max_lr: the peak lr, one for all groups or a list with one per group.
        total_steps: the length of the cycle (None: ``epochs · steps_per_epoch``).
        epochs: with ``steps_per_epoch``, the length when ``total_steps`` is None.
        steps_per_epoch: see ``epochs``.
        pct_start: the share of the steps spent rising, in [0, 1] (default 0.3).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: whether to cycle the momentum (``betas[0]`` for Adam) too.
        base_momentum: the momentum at the lr's peak (default 0.85), one or one per group.
        max_momentum: the momentum at the start and end (default 0.95), one or one per group.
        div_factor: ``max_lr / initial lr`` (default 25).
        final_div_factor: ``initial lr / final lr`` (default 1e4).
        three_phase: PyTorch's three-phase variant.
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    >>> s = OneCycleLR(opt, max_lr=1.0, total_steps=10)
    >>> str(s.schedule["lr"]), s.get_last_lr()
    ('one_cycle(peak=1.0, steps=10)', [0.04])
    """

    # PyTorch's annealing functions, which pre-2.2 PyTorch states name under "anneal_func"
    _annealing_cos = staticmethod(_TORCH["OneCycleLR"]._annealing_cos)  # type: ignore[attr-defined]
    _annealing_linear = staticmethod(_TORCH["OneCycleLR"]._annealing_linear)  # type: ignore[attr-defined]

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
            raise _fail(
                func,
                "total_steps",
                total_steps,
                "an int >= 1, or give both epochs and steps_per_epoch "
                f"(got epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r})",
            )
        self.total_steps = steps
        peaks = _per_group(func, "max_lr", optimizer, max_lr)
        div = _real(func, "div_factor", div_factor)
        base_m, max_m, use_beta1 = _group_momenta(
            func, optimizer, bool(cycle_momentum), base_momentum, max_momentum
        )
        specs = [
            one_cycle_lr_schedule(
                peak,
                steps,
                pct_start,
                anneal_strategy,
                cycle_momentum,
                bm,
                mm,
                div,
                final_div_factor,
                three_phase,
            )
            for peak, bm, mm in zip(peaks, base_m, max_m, strict=True)
        ]
        self.__dict__.update(
            {
                "_anneal_func_type": anneal_strategy,
                "cycle_momentum": bool(cycle_momentum),
                "use_beta1": use_beta1,
            }
        )
        final = _real(func, "final_div_factor", final_div_factor)
        if last == -1:  # as PyTorch, which later schedulers on this optimizer then start from
            for peak, group in zip(peaks, optimizer.param_groups, strict=True):
                group["initial_lr"] = peak / div
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final
        super().__init__(optimizer, specs, last_epoch=last, bases=[p / div for p in peaks])


class LambdaLR(CompatScheduler):
    """PyTorch's ``LambdaLR``: ``lr · lr_lambda(t)``, with ``lr_lambda`` called at each step.

    A Python callable has no text form, so this warns (``UserWarning``). As PyTorch's,
    ``state_dict()`` holds ``lr_lambdas``: ``None`` for a function, the ``__dict__`` of a
    callable object (restored into this scheduler's objects by ``load_state_dict``). Pass
    ``precompute=n`` to evaluate the function once on steps ``0 .. n−1`` and keep the values as a
    text schedule (``piecewise_constant``; held after ``n − 1``) instead.

    ``lr_t = lr · lr_lambda(t)``; it matches PyTorch's ``LambdaLR``.
    ``lr`` is each param group's initial lr (``group["initial_lr"]`` if an earlier scheduler
    set it, else ``group["lr"]``).

    Args:
        optimizer: the optimizer whose param groups it drives.
        lr_lambda: a function of the step (an int) returning a factor, or a list with one
            per param group.
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).
        precompute: None (call ``lr_lambda`` at each step), or a number of steps to tabulate
            it over (lrkit's keyword; PyTorch has none).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = LambdaLR(opt, lr_lambda=lambda t: 1 / (t + 1), precompute=3)
    >>> str(s.schedule)
    'piecewise_constant(boundaries=[1, 2], values=[1.0, 0.5, 0.3333333333333333])'
    """

    _torch = _TORCH["LambdaLR"]

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
        fns = _lambdas(func, lr_lambda, len(bases), isinstance(self, MultiplicativeLR))
        cumulative = isinstance(self, MultiplicativeLR)
        specs: list[GroupSpec] = []
        self._precomputed = precompute is not None
        for b, fn in zip(bases, fns, strict=True):
            s: Schedule = PythonFunction(b, fn, cumulative)
            if precompute is not None:
                s = _tabulate(s, _int(func, "precompute", precompute, 1))
            specs.append({"lr": s})
        if precompute is None:
            warnings.warn(
                f"{func}: lr_lambda is a Python callable, which cannot be saved as lrkit text; "
                "state_dict() keeps the step and a callable object's __dict__, as PyTorch's "
                "(rebuild with the same function before load_state_dict). Pass "
                "precompute=<steps> for a text schedule, or build the schedule with lrkit.",
                UserWarning,
                stacklevel=2,
            )
        self.lr_lambdas = fns
        mult: list[Schedule] | None = None
        if cumulative:
            mult = [PythonFunction(1.0, fn, True) for fn in fns]
            if precompute is not None:
                mult = [_tabulate(m, precompute) for m in mult]
        super().__init__(optimizer, specs, last_epoch=last, multipliers=mult, bases=bases)

    def _resume(self, last_epoch: int, before: list[Any]) -> None:
        if self._precomputed:
            super()._resume(last_epoch, before)
            return
        for g, v in zip(self.optimizer.param_groups, before, strict=True):
            assign(g, "lr", _lr(v))
        self.last_epoch, self._step_count = last_epoch, 0
        self._is_initial = True
        try:
            self._lambda_step(None)
        finally:
            self._is_initial = False

    def step(self, epoch: int | None = None) -> None:
        """One step: ``lr_lambda`` is called now, with the new step, as PyTorch's."""
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        if self._precomputed:
            Scheduler.step(self, epoch)
            return
        self._lambda_step(epoch)

    def _lambda_step(self, epoch: int | None) -> None:
        assert self._torch is not None
        if self._step_count == 1:
            self._warn_call_order()
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._get_lr_called_within_step = True
        try:
            values = self._torch.get_lr(self)
        finally:
            self._get_lr_called_within_step = False
        groups = self.optimizer.param_groups
        for g, v in zip(groups, values, strict=True):
            assign(g, "lr", _lr(v))
        self._last_lr = [_lr(g["lr"]) for g in groups]

    def state_dict(self) -> dict[str, Any]:
        """lrkit's and PyTorch's state; ``lr_lambdas`` as PyTorch's: ``None`` for a function,
        a callable object's ``__dict__`` (primitives) otherwise."""
        state = super().state_dict()
        saved: list[Any] = []
        for fn in self.lr_lambdas:
            attrs = None if isinstance(fn, types.FunctionType) else getattr(fn, "__dict__", None)
            p = None if attrs is None else _primitive(attrs)
            saved.append(None if p is _NOT_PRIMITIVE else p)
        state["lr_lambdas"] = saved
        if not self.has_text_form:
            state["python_functions"] = (
                "this scheduler's schedule calls Python functions: the 'schedules' texts name "
                "them but cannot be parsed; load_state_dict restores the step into a scheduler "
                "built with the same functions"
            )
        return state

    def _prepare_load(self, state: object) -> Callable[[], None]:
        func = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise ScheduleTypeError(
                f"{func}: state_dict={type(state).__name__} is invalid; expected a dict"
            )
        n = len(self.optimizer.param_groups)
        saved = state.get("lr_lambdas", [None] * len(self.lr_lambdas))
        if not isinstance(saved, list | tuple) or len(saved) != len(self.lr_lambdas):
            raise _fail(
                func, "state_dict['lr_lambdas']", saved, f"a list of {len(self.lr_lambdas)}"
            )
        for attrs, fn in zip(saved, self.lr_lambdas, strict=True):
            if attrs is not None and (
                not isinstance(attrs, Mapping) or not hasattr(fn, "__dict__")
            ):
                raise _fail(
                    func, "state_dict['lr_lambdas']", saved, "None or a callable object's __dict__"
                )
        t = _saved_int(func, state, "last_epoch", self.last_epoch, low=0)
        count = _saved_int(func, state, "_step_count", t + 1, low=0)
        bases = _saved_floats(func, state, "base_lrs", n, [_lr(b) for b in self.base_lrs])
        last = _saved_floats(func, state, "_last_lr", n, None)

        def commit() -> None:
            for attrs, fn in zip(saved, self.lr_lambdas, strict=True):
                if attrs is not None:
                    fn.__dict__.update(attrs)
            for spec in self.schedules:
                for sched in spec.values():
                    if isinstance(sched, PythonFunction):
                        sched._cache.clear()
            self.base_lrs = list(bases) if bases is not None else self.base_lrs
            self.last_epoch, self._step_count = t, count
            if not isinstance(self, MultiplicativeLR):  # LambdaLR's lr at t, in closed form
                groups = self.optimizer.param_groups
                for g, b, fn in zip(groups, self.base_lrs, self.lr_lambdas, strict=True):
                    assign(g, "lr", _lr(b) * float(fn(t)))
            self._last_lr = [_lr(g["lr"]) for g in self.optimizer.param_groups]
            if last is not None:
                self._last_lr = list(last)
            self._next_step = -1

        return commit


class MultiplicativeLR(LambdaLR):
    """PyTorch's ``MultiplicativeLR``: ``lr_t = lr_{t−1} · lr_lambda(t)`` (a cumulative product),
    from the lr the group holds, with ``lr_lambda`` called at each step; same saving rules as
    LambdaLR.

    ``lr_t = lr · Π_{k=1..t} lr_lambda(k)``; it matches PyTorch's ``MultiplicativeLR``.

    Args:
        optimizer: the optimizer whose param groups it drives.
        lr_lambda: a function of the step (an int) returning the factor of that step, or a
            list with one per param group.
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).
        precompute: None (call ``lr_lambda`` at each step), or a number of steps to tabulate
            the product over (lrkit's keyword; PyTorch has none).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = MultiplicativeLR(opt, lr_lambda=lambda t: 0.5, precompute=4)
    >>> str(s.schedule)
    'piecewise_constant(boundaries=[1, 2, 3], values=[1.0, 0.5, 0.25, 0.125])'
    """

    kind: Kind = "multiplicative"
    _torch = _TORCH["MultiplicativeLR"]


def _lambdas(
    func: str, lr_lambda: object, n: int, multiplicative: bool
) -> list[Callable[[int], float]]:
    fns = list(lr_lambda) if isinstance(lr_lambda, list | tuple) else [lr_lambda] * n
    if len(fns) != n:
        raise _fail(
            func,
            "lr_lambda",
            lr_lambda,
            f"one function or a list of {n} (Expected {n} lr_lambdas, but got {len(fns)})",
        )
    for fn in fns:
        if not callable(fn):
            raise _args.type_fail(
                func,
                "lr_lambda",
                fn,
                f"a function (lr_lambda should be a function, but got {type(fn).__name__})",
            )
    return fns  # type: ignore[return-value]


def _tabulate(s: Schedule, n: int) -> Schedule:
    from lrkit.families import PiecewiseConstant

    values = np.asarray(s(np.arange(n)), dtype=np.float64).tolist()
    if n == 1:
        return Constant(values[0])
    return PiecewiseConstant(tuple(range(1, n)), tuple(values))


def _torch_number(func: str, name: str, value: object, *, keep_int: bool = False) -> Any:
    """A number as PyTorch's ``ReduceLROnPlateau`` takes it: any real (NaN, ±inf and a bool
    included) or a one-element tensor; an int stays an int where ``keep_int`` (patience,
    cooldown: PyTorch compares counters with them as given)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise _args.type_fail(func, name, value, "a real number")
    if isinstance(value, numbers.Integral) and keep_int:
        return int(value)
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range: PyTorch's float arithmetic fails
        raise _fail(func, name, value, "a number within the float range") from None


class _TorchPlateau(Plateau):
    """:class:`lrkit.Plateau` with PyTorch's argument rules, for the ``ReduceLROnPlateau``
    drop-in: PyTorch refuses only ``factor >= 1``; any other real is taken and means what it
    means in PyTorch's arithmetic (``factor <= 0`` takes the lr to ``max(lr·factor, min_lr)`` at
    the first reduction, a negative ``patience`` reduces at every evaluation, a negative ``eps``
    also applies increases, a NaN option makes its comparison false). Its state follows the same
    rules, so a drop-in's ``state_dict()`` loads back whatever the arguments were.
    """

    @classmethod
    def _checked_options(
        cls,
        factor: object,
        patience: object,
        threshold: object,
        cooldown: object,
        min_lr: object,
        eps: object,
    ) -> dict[str, Any]:
        func = "ReduceLROnPlateau"
        f = _torch_number(func, "factor", factor)
        if f >= 1.0:
            raise _fail(func, "factor", factor, "< 1.0 (PyTorch: Factor should be < 1.0.)")
        if patience is None:  # PyTorch's first comparison with it raises TypeError
            raise _args.type_fail(func, "patience", patience, "a number")
        mins = min_lr if isinstance(min_lr, list | tuple) else [min_lr]
        if not mins:
            raise _fail(func, "min_lr", min_lr, "a number or a non-empty list of numbers")
        return {
            "factor": f,
            "patience": _torch_number(func, "patience", patience, keep_int=True),
            "threshold": _torch_number(func, "threshold", threshold),
            "cooldown": _torch_number(func, "cooldown", cooldown, keep_int=True),
            "min_lrs": tuple(_torch_number(func, "min_lr", m) for m in mins),
            "eps": _torch_number(func, "eps", eps),
        }

    def _validated_counters(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The counters as PyTorch keeps them: ``best`` any float, ``cooldown_counter`` any
        real (it counts down from ``cooldown`` by one while above 0), ``reductions`` any count
        (PyTorch's ``_reduce_lr()`` may be called between evaluations)."""
        func = "Plateau.load_state_dict"
        best = _torch_number(func, "best", state["best"])
        counters = {k: _saved_int(func, state, k, 0, low=0) for k in _COUNTS}
        if counters["next_level"] != 0:
            raise _fail(func, "next_level", counters["next_level"], "0 (no levels)")
        cooldown = _torch_number(func, "cooldown_counter", state["cooldown_counter"], keep_int=True)
        return {"best": best, "cooldown_counter": cooldown, **counters}


_COUNTS = ("num_bad_epochs", "reductions", "next_level", "evaluations")


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

    After more than ``patience`` evaluations without improving on the best by ``threshold``,
    each group's lr becomes ``max(lr · factor, min_lr)`` (unless that changes it by ``eps`` or
    less), then ``cooldown`` evaluations pass before counting again. It matches PyTorch's
    ``ReduceLROnPlateau``.

    Args:
        optimizer: the optimizer whose param groups it drives.
        mode: ``"min"`` (lower is better) or ``"max"``.
        factor: the multiplier of a reduction, < 1 (default 0.1); as PyTorch, ``factor <= 0``
            takes the lr to ``max(lr · factor, min_lr)`` at the first reduction.
        patience: the bad evaluations tolerated before a reduction (default 10).
        threshold: the improvement that counts (default 1e-4).
        threshold_mode: ``"rel"`` (relative to the best) or ``"abs"``.
        cooldown: evaluations to wait after a reduction (default 0).
        min_lr: the lowest lr, one for all groups or a list with one per group (default 0).
        eps: the smallest change of lr applied (default 1e-8).

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
            raise _fail(func, "min_lr", min_lr, f"one lr or a list of {n} (one per param group)")
        plateau = _TorchPlateau(
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
        # PyTorch's attributes: the lower bound of every group's lr (a list torch code may
        # extend after add_param_group) and the scalar min_lr given, if any
        self.default_min_lr = None if isinstance(min_lr, list | tuple) else min_lr
        self.min_lrs = [plateau.min_lr_for(gi) for gi in range(n)]
        super().__init__(optimizer, specs, plateau=plateau, bases=bases)

    def step(self, metrics: Any = None, epoch: int | None = None) -> None:  # type: ignore[override]
        """One evaluation of ``metrics``, as PyTorch's: the reduction takes effect at once.

        The bookkeeping is PyTorch's, ±inf and NaN included (a NaN or +inf metric in ``"min"``
        mode is a bad evaluation; ``-inf`` becomes the best): the drop-in keeps PyTorch's
        choices where :class:`lrkit.Plateau` ignores non-finite metrics.
        """
        if self._step_count == 0:  # the constructor's step 0
            super().step()
            return
        if metrics is None:
            raise _args.type_fail(
                "ReduceLROnPlateau.step", "metrics", metrics, "a number (the monitored value)"
            )
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        try:
            current = _lr(metrics)  # PyTorch's float(metrics)
        except (TypeError, ValueError, RuntimeError):
            raise _args.type_fail(
                "ReduceLROnPlateau.step", "metrics", metrics, "a number (the monitored value)"
            ) from None
        self._match_groups()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Scheduler.step(self, epoch)
        p = self._controller()
        p.evaluations += 1
        if p.is_better(current, p.best):
            p.best = current
            p.num_bad_epochs = 0
        else:
            p.num_bad_epochs += 1
        if p.in_cooldown:
            p.cooldown_counter -= 1
            p.num_bad_epochs = 0
        if p.patience is not None and p.num_bad_epochs > p.patience:
            self._check_min_lrs()
            p.reductions += 1
            p.cooldown_counter = p.cooldown
            p.num_bad_epochs = 0
            self._rewrite()

    def _check_min_lrs(self) -> None:
        """PyTorch's check before a reduction: one ``min_lrs`` entry per param group."""
        groups = self.optimizer.param_groups
        if len(self.min_lrs) != len(groups):
            raise _GroupsChanged(
                f"ReduceLROnPlateau.step: The number of param groups in the `optimizer` "
                f"({len(groups)}) differs from when `ReduceLROnPlateau` was initialized "
                f"({len(self.min_lrs)}), usually due to a new param group being added to the "
                "optimizer. Please modify the `min_lrs` field to match the length of the "
                "`optimizer` param groups."
            )

    def _match_groups(self) -> None:
        """Param groups added since construction get their own lr and the default min_lr, as
        PyTorch's (a per-group ``min_lr`` list cannot be extended: PyTorch's RuntimeError)."""
        groups = self.optimizer.param_groups
        specs = self._specs
        p = self._controller()
        if len(self.min_lrs) != len(groups) and self.default_min_lr is not None:
            self.min_lrs = [self.default_min_lr] * len(groups)
        mins = tuple(_torch_number("ReduceLROnPlateau", "min_lrs", m) for m in self.min_lrs)
        # groups without a min_lr (PyTorch raises when it next reduces) hold 0 until then
        mins = mins + (0.0,) * (len(groups) - len(mins))
        if mins != p.min_lrs:
            p.min_lrs = mins
        if specs is None or len(groups) == len(specs):
            return
        if len(groups) < len(specs):
            raise _GroupsChanged(
                f"ReduceLROnPlateau.step: the optimizer has {len(groups)} param groups, fewer "
                f"than the {len(specs)} it had when ReduceLROnPlateau was initialized"
            )
        scale = p.scale if p.reductions else 1.0
        new: list[GroupSpec] = []
        for g in groups[len(specs) :]:
            lr = _lr(g["lr"])
            start = lr / scale if scale > 0.0 and p.apply(lr / scale) == lr else lr
            new.append({"lr": Constant(start)})
        self._raw = self._raw + new
        self._install(specs + new)
        self.base_lrs = list(self.base_lrs) + [_lr(g["lr"]) for g in groups[len(specs) :]]
        self._detached = self._detached + [False] * len(new)

    def state_dict(self) -> dict[str, Any]:
        """lrkit's state (with the plateau controller's) plus PyTorch's keys, as primitives."""
        state = super().state_dict()
        p = self._controller()
        state.update(
            {
                "factor": p.factor,
                "patience": p.patience,
                "cooldown": p.cooldown,
                "eps": p.eps,
                "mode": p.mode,
                "threshold": p.threshold,
                "threshold_mode": p.threshold_mode,
                "best": p.best,
                "mode_worse": self.mode_worse,
                "cooldown_counter": p.cooldown_counter,
                "num_bad_epochs": p.num_bad_epochs,
            }
        )
        return state

    def _prepare_load(self, state: object) -> Callable[[], None]:
        """Check a saved lrkit or PyTorch ReduceLROnPlateau state; return what loads it.

        As PyTorch's, the saved settings are adopted. A PyTorch state keeps only the lr it
        wrote (``_last_lr``), not the number of reductions: that number is found in closed form
        (``log(lr/base)/log(factor)``, checked); where no number of reductions of the base lr
        gives it (the lr was set by hand), each group continues from ``constant(_last_lr)``.
        """
        func = "ReduceLROnPlateau.load_state_dict"
        if not isinstance(state, Mapping):
            raise ScheduleTypeError(
                f"{func}: state_dict={type(state).__name__} is invalid; expected a dict"
            )
        groups = self.optimizer.param_groups
        n = len(groups)
        t = _saved_int(func, state, "last_epoch", self.last_epoch, low=0)
        count = _saved_int(func, state, "_step_count", t + 1, low=0)
        bases = _saved_floats(func, state, "base_lrs", n, [_lr(b) for b in self.base_lrs])
        assert bases is not None
        lrs = _saved_floats(func, state, "_last_lr", n, None)
        saved_plateau = state.get("plateau")
        if "format" in state and isinstance(saved_plateau, Mapping):
            try:
                p = _TorchPlateau.from_state_dict(saved_plateau)
                p.min_lr_for(n - 1)
            except (KeyError, TypeError, ValueError) as err:
                raise ScheduleError(
                    f"{func}: state_dict['plateau'] is invalid; expected a Plateau.state_dict() "
                    f"({err})"
                ) from None
            specs: list[GroupSpec] = [{"lr": Constant(b)} for b in bases]
        else:
            p = self._torch_plateau(func, state, n)
            p.evaluations = t
            specs, p.reductions = _reductions(p, bases, lrs)
            if p.reductions < 0:
                p.reductions = 0
                bases = list(lrs or bases)

        def commit() -> None:
            self._plateau = p
            self.min_lrs = [p.min_lr_for(gi) for gi in range(n)]
            self._raw = [dict(s) for s in specs]
            self._install([dict(s) for s in specs])
            self._bases = list(bases)
            self.base_lrs = list(bases)
            self.last_epoch, self._step_count = t, count
            self._detached = [False] * n
            self._rewrite()
            if lrs is not None:
                self._last_lr = list(lrs)

        return commit

    def _torch_plateau(self, func: str, state: Mapping[str, Any], n: int) -> Plateau:
        """A Plateau from PyTorch's keys (missing ones: this scheduler's), every value checked."""
        p = self._controller()
        mins = state.get("min_lrs", self.min_lrs)
        if isinstance(mins, torch.Tensor):
            mins = mins.tolist()
        if not isinstance(mins, list | tuple) or len(mins) not in (1, n):
            raise _fail(func, "state_dict['min_lrs']", mins, f"a list of {n} lrs >= 0")
        best = state.get("best", p.best)
        if isinstance(best, torch.Tensor) and best.numel() == 1:
            best = best.item()
        if isinstance(best, bool) or not isinstance(best, numbers.Real):
            raise _args.type_fail(func, "state_dict['best']", best, "a number")
        counters = {
            "num_bad_epochs": _saved_int(func, state, "num_bad_epochs", p.num_bad_epochs, low=0),
            # PyTorch's counter goes below 0 (a negative or fractional cooldown)
            "cooldown_counter": _torch_number(
                func,
                "state_dict['cooldown_counter']",
                state.get("cooldown_counter", p.cooldown_counter),
                keep_int=True,
            ),
        }
        try:
            out = _TorchPlateau(
                mode=state.get("mode", p.mode),
                factor=state.get("factor", p.factor),
                patience=state.get("patience", p.patience),
                threshold=state.get("threshold", p.threshold),
                threshold_mode=state.get("threshold_mode", p.threshold_mode),
                cooldown=state.get("cooldown", p.cooldown),
                min_lr=list(mins) if len(mins) > 1 else mins[0],
                eps=state.get("eps", p.eps),
            )
        except (TypeError, ValueError) as err:
            raise ScheduleError(f"{func}: the saved settings are invalid ({err})") from None
        out.best = float(best)
        out.num_bad_epochs = counters["num_bad_epochs"]
        out.cooldown_counter = counters["cooldown_counter"]
        return out

    # -- PyTorch's attributes, read from the plateau controller ---------------------------------
    def _controller(self) -> Plateau:
        p = self.plateau
        if p is None:  # pragma: no cover - the constructor always sets one
            raise ScheduleError("ReduceLROnPlateau: no plateau controller")
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

    ``lr_t = schedulers[i](t − milestones[i−1])`` for ``milestones[i−1] <= t < milestones[i]``
    (``milestones[−1]`` read as 0, the last child running on); it matches PyTorch's
    ``SequentialLR``.

    Args:
        optimizer: the optimizer of every child.
        schedulers: the children, in order (lrkit drop-ins or :class:`lrkit.torch.Scheduler`).
        milestones: the steps at which the next child takes over (one fewer than the children,
            strictly increasing).
        last_epoch: -1 starts at step 0; ``k >= 0`` resumes after step ``k`` (every group
            must then hold ``"initial_lr"``, as PyTorch requires).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> warm = LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> s = SequentialLR(opt, [warm, ExponentialLR(opt, gamma=0.5)], milestones=[2])
    >>> str(s.schedule)
    'linear(start=0.5, end=1.0, steps=2) >> exponential(start=1.0, factor=0.5)'
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
            raise _fail(
                func,
                "milestones",
                list(milestones),
                f"one fewer than the schedulers (expects len(milestones) == len(schedulers) - 1, "
                f"got {len(stones)} milestones for {len(children)} schedulers)",
            )
        if any(b <= a for a, b in itertools.pairwise(stones)):
            raise _fail(func, "milestones", list(milestones), "strictly increasing")
        for i, child in enumerate(children[1:], start=1):
            if isinstance(child, MultiplicativeLR):
                raise _fail(
                    func,
                    f"schedulers[{i}]",
                    "MultiplicativeLR",
                    "a closed-form scheduler (a MultiplicativeLR restarts from the previous "
                    "scheduler's last lr, not in closed form; put it first)",
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
                        raise _fail(
                            func,
                            f"schedulers[{i}]",
                            type(child).__name__,
                            f"a scheduler driving {key!r} of group {gi}, as another child does "
                            "(give every child the same keys)",
                        )
                    if i < len(children) - 1:
                        s = _cut(func, s, starts[i + 1] - starts[i])
                    parts.append(s)
                spec[key] = parts[0] if len(parts) == 1 else Sequence(tuple(parts))
            specs.append(spec)
        super().__init__(optimizer, specs, last_epoch=last)


class ChainedScheduler(CompatScheduler):
    """PyTorch's ``ChainedScheduler``: every child stepped, in order, at each step.

    The children compose as PyTorch's do: each continues from the lr the one before it wrote,
    so ``get_last_lr()`` of the chain and of every child is PyTorch's. ``schedules`` shows the
    chain in closed form where it has one: the product of the multiplicative children
    (StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, MultiplicativeLR,
    CosineAnnealingLR with eta_min=0) times the base lr, or a last absolute child's schedule.

    For multiplicative children, ``lr_t = lr · Π_i m_i(t)`` with ``m_i`` child ``i``'s lr over
    its initial lr; it matches PyTorch's ``ChainedScheduler``.

    Args:
        schedulers: the children, stepped in this order.
        optimizer: their optimizer (None: the first child's).

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = ChainedScheduler([ConstantLR(opt, factor=0.5, total_iters=2), ExponentialLR(opt, gamma=0.5)])
    >>> for _ in range(3):
    ...     opt.step()
    ...     s.step()
    >>> s.get_last_lr()
    [0.125]
    """

    def __init__(
        self, schedulers: SequenceABC[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        func = "ChainedScheduler"
        if isinstance(schedulers, Mapping) or not isinstance(schedulers, SequenceABC):
            raise _args.type_fail(func, "schedulers", schedulers, "a non-empty list of schedulers")
        if not schedulers:
            raise _fail(func, "schedulers", schedulers, "a non-empty list of schedulers")
        opt = optimizer if optimizer is not None else schedulers[0].optimizer
        _check_optimizer(func, opt)
        children = _children(func, opt, schedulers, compat_only=False)
        self._schedulers = children
        super().__init__(opt, _chain_specs(children, opt))

    def step(self, epoch: int | None = None) -> None:
        """Step every child (PyTorch's ``ChainedScheduler`` writes nothing itself)."""
        groups = self.optimizer.param_groups
        if self._step_count == 0:  # the constructor's step: the children have written already
            self._step_count = 1
            self.last_epoch = 0
            self._last_lr = [_lr(g["lr"]) for g in groups]
            return
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        for s in self._schedulers:
            s.step()
        self._step_count += 1
        self.last_epoch += 1
        self._last_lr = [_lr(g["lr"]) for g in groups]

    def state_dict(self) -> dict[str, Any]:
        """lrkit's state plus PyTorch's: ``_schedulers`` holds every child's ``state_dict()``."""
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def _prepare_load(self, state: object) -> Callable[[], None]:
        func = "ChainedScheduler.load_state_dict"
        if not isinstance(state, Mapping):
            raise ScheduleTypeError(
                f"{func}: state_dict={type(state).__name__} is invalid; expected a dict"
            )
        saved = state.get("_schedulers")
        if not isinstance(saved, list) or len(saved) != len(self._schedulers):
            raise _fail(
                func,
                "state_dict['_schedulers']",
                saved,
                f"a list of {len(self._schedulers)} scheduler states, one per child",
            )
        loads: list[Callable[[], None]] = []
        for child, st in zip(self._schedulers, saved, strict=True):
            if isinstance(child, CompatScheduler):
                loads.append(child._prepare_load(st))
            else:
                loads.append(functools.partial(child.load_state_dict, st))
        n = len(self.optimizer.param_groups)
        first = saved[0] if isinstance(saved[0], Mapping) else {}
        # PyTorch's ChainedScheduler keeps no step of its own: its children's
        t = _saved_int(func, state, "last_epoch", first.get("last_epoch", self.last_epoch), low=0)
        count = _saved_int(func, state, "_step_count", t + 1, low=0)
        last = _saved_floats(func, state, "_last_lr", n, None)

        def commit() -> None:
            for load in loads:
                load()
            self.last_epoch, self._step_count = t, count
            kids = [c for c in self._schedulers if isinstance(c, CompatScheduler)]
            for c, st in zip(self._schedulers, saved, strict=True):
                if isinstance(c, CompatScheduler) and "_detached" not in st:
                    # a PyTorch state: in a chain every child continues from the others' lr
                    c._detached = [True] * n
            groups = self.optimizer.param_groups
            if last is not None:  # the lrs the chain wrote last: exact, as they were saved
                for g, v in zip(groups, last, strict=True):
                    assign(g, "lr", v)
            elif len(kids) == len(self._schedulers) and all(
                c._multipliers is not None for c in kids
            ):
                self._rewrite()  # the chain's closed form at t: base · Π multipliers
            for c in kids:
                c._seen = [_lr(g["lr"]) for g in self.optimizer.param_groups]
            self._last_lr = (
                list(last) if last is not None else list(self._schedulers[-1].get_last_lr())
            )

        return commit


def _chain_specs(children: list[LRScheduler], opt: Optimizer) -> list[GroupSpec]:
    """The chain's closed form where it has one (see :class:`ChainedScheduler`), else the
    schedules of its last child (or the lrs the groups hold)."""
    groups = opt.param_groups
    last = children[-1]
    if not all(isinstance(c, CompatScheduler) for c in children):
        if isinstance(last, CompatScheduler):
            return [dict(s) for s in last.schedules]
        return [{"lr": Constant(_lr(g["lr"]))} for g in groups]
    kids = [c for c in children if isinstance(c, CompatScheduler)]
    absolute = [i for i, c in enumerate(kids) if c._multipliers is None]
    if absolute:
        return [dict(s) for s in kids[-1].schedules]
    bases = kids[0]._bases or [_lr(g.get("initial_lr", g["lr"])) for g in groups]
    specs: list[GroupSpec] = []
    for gi in range(len(groups)):
        factors = [c._multipliers[gi] for c in kids if c._multipliers is not None]
        lr = factors[0] if len(factors) == 1 else Product(tuple(factors))
        specs.append({"lr": Scale(lr, bases[gi])})
    return specs


class _GroupsChanged(ScheduleError, RuntimeError):
    """PyTorch's ``RuntimeError`` when param groups were added and ``min_lrs`` cannot follow."""


def _reductions(
    p: Plateau, bases: list[float], lrs: list[float] | None
) -> tuple[list[GroupSpec], int]:
    """Each group's ``constant(base)`` and the number of reductions that takes every base lr to
    the saved lr; ``-1`` (and ``constant(lr)``) where none does. Closed form: the candidates are
    next to ``log(lr/base)/log(factor)`` and to the number that reaches ``min_lr``; each check
    costs that many multiplications (linear, never a search)."""
    specs: list[GroupSpec] = [{"lr": Constant(b)} for b in bases]
    if lrs is None:
        return specs, 0
    # a factor <= 0 takes effect once at most when eps >= 0 (the next product is >= the lr)
    candidates: set[int] = {0, 1}
    log_f = math.log(p.factor) if 0.0 < p.factor < 1.0 else 0.0
    for gi, (b, lr) in enumerate(zip(bases, lrs, strict=True)):
        if log_f == 0.0 or b <= 0.0 or lr <= 0.0:
            continue
        floor = p.min_lr_for(gi)
        for target in (lr, floor) if floor > 0.0 else (lr,):
            k = math.log(target / b) / log_f
            if math.isfinite(k) and 0 <= k < 1e6:
                candidates.update(range(max(0, math.floor(k) - 1), math.ceil(k) + 2))
    for k in sorted(candidates):
        p.reductions = k
        if all(p.apply(b, gi) == lr for gi, (b, lr) in enumerate(zip(bases, lrs, strict=True))):
            return specs, k
    return [{"lr": Constant(lr)} for lr in lrs], -1


def _children(
    func: str, optimizer: Optimizer, schedulers: object, *, compat_only: bool = True
) -> list[Any]:
    if isinstance(schedulers, Mapping) or not isinstance(schedulers, SequenceABC) or not schedulers:
        raise _fail(func, "schedulers", schedulers, "a non-empty list of schedulers")
    out: list[Any] = []
    for i, s in enumerate(schedulers):
        if isinstance(s, ReduceLROnPlateau):
            raise _fail(
                func,
                f"schedulers[{i}]",
                type(s).__name__,
                "a scheduler stepped without a metric (a ReduceLROnPlateau needs one at every "
                "step; give the plateau to lrkit.torch.Scheduler(plateau=...) instead)",
            )
        ok = isinstance(s, CompatScheduler if compat_only else LRScheduler)
        if not ok:
            raise _args.type_fail(
                func,
                f"schedulers[{i}]",
                type(s).__name__,
                "an lrkit.compat.torch drop-in (PyTorch's own schedulers have no lrkit schedule)"
                if compat_only
                else "a learning-rate scheduler",
            )
        if s.optimizer is not optimizer:
            raise _fail(
                func,
                f"schedulers[{i}]",
                type(s).__name__,
                "a scheduler of the same optimizer (ChainedScheduler expects all schedulers to "
                "belong to the same optimizer)",
            )
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

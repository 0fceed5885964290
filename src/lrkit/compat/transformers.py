"""Hugging Face ``transformers`` schedulers by name, built from lrkit schedules (no transformers import).

:func:`schedule` is the pure part: a scheduler name and Hugging Face's arguments in, the lrkit
schedule of one param group out, in absolute values for the group's base ``lr`` (``lr=1.0`` gives
the multiplier that Hugging Face's ``LambdaLR`` applies). :func:`get_scheduler` and the
``get_*_schedule*`` functions take an optimizer, as Hugging Face's do, and return an
:class:`lrkit.torch.Scheduler` (imports torch) whose ``lr_lambdas`` are those multipliers, as
Hugging Face's ``LambdaLR``; ``"reduce_lr_on_plateau"`` and ``"greedy"`` give the metric-driven
``ReduceLROnPlateau`` and ``GreedyLR``. Every ``SchedulerType`` name of transformers 5 works.
Bad arguments raise lrkit's ``ScheduleError`` family (``ValueError``/``TypeError``), named with
Hugging Face's parameters.

Values equal Hugging Face's on steps ``0 .. num_training_steps`` (``.. num_training_steps − 1``
for ``"cosine_warmup_with_min_lr"``, whose cosine ends one step early); after that every lrkit
schedule holds its last value, where Hugging Face's cosine family (a ``cos`` of progress > 1)
would climb again.

>>> str(schedule("linear", lr=0.1, num_warmup_steps=10, num_training_steps=100))
'warmup(10) >> linear(start=0.1, steps=90)'
>>> str(schedule("cosine", lr=0.1, num_warmup_steps=0, num_training_steps=100))
'cosine(start=0.1, steps=100)'
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lrkit import _validate as check
from lrkit.compat import _args
from lrkit.compose import Repeat, Sequence, Shift, warmup
from lrkit.core import Schedule
from lrkit.errors import ScheduleError
from lrkit.families import (
    Constant,
    Cosine,
    InverseSqrt,
    Linear,
    OneMinusSqrt,
    Piecewise,
    Polynomial,
)

if TYPE_CHECKING:
    from torch.optim import Optimizer

    from lrkit.compat._transformers_torch import GreedyLR
    from lrkit.torch.scheduler import Scheduler

__all__ = [
    "NAMES",
    "GreedyLR",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_greedy_schedule",
    "get_inverse_sqrt_schedule",
    "get_linear_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_reduce_on_plateau_schedule",
    "get_scheduler",
    "get_wsd_schedule",
    "schedule",
]

#: Every name of Hugging Face's ``SchedulerType`` (transformers 5.x) that :func:`schedule` maps to
#: an lrkit schedule; :func:`get_scheduler` also takes ``"greedy"`` (:class:`GreedyLR`).
NAMES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
)
_METRIC_DRIVEN = {
    "greedy": "GreedyLR raises and lowers the lr from a metric, so it has no closed-form schedule; "
    "get_scheduler('greedy', optimizer) gives the GreedyLR drop-in",
}


_fail = _args.fail


def _real(func: str, name: str, value: object, low: float | None = None) -> float:
    """:func:`lrkit.compat._args.real`, also for a bool (Hugging Face's arithmetic reads
    ``True`` as 1 and ``False`` as 0)."""
    return _args.real(func, name, int(value) if isinstance(value, bool) else value, low)


def _int(func: str, name: str, value: object, low: int = 0) -> int:
    if value is None:
        raise ScheduleError(f"{func} requires `{name}`, please provide that argument.")
    return _args.int_at_least(func, name, int(value) if isinstance(value, bool) else value, low)


def _with_warmup(warm: int, rest: Schedule) -> Schedule:
    """Hugging Face's warm-up ``lr · t / max(1, warm)`` in front of ``rest``."""
    return warmup(warm) >> rest if warm > 0 else rest


def _wave(func: str, high: float, low: float, steps: float, cycles: float) -> Schedule:
    """``low + (high − low)·(1 + cos(2π·cycles·p))/2`` over ``p = t/steps`` (Hugging Face's cosine).

    Half a cycle is one ``cosine`` leaf (held after ``steps``); more cycles are a ``piecewise`` wave
    through the extremes (continued past ``steps`` to the next extreme, as Hugging Face's).
    """
    cycles = abs(cycles)  # Hugging Face's cos(2π·cycles·p) is even in cycles
    if cycles == 0.0:
        return Constant(high)
    if cycles == 0.5:
        return Cosine(high, low, steps=int(steps))
    half = steps / (2.0 * cycles)
    count = math.ceil(2.0 * cycles - 1e-12)
    points = tuple((k * half, high if k % 2 == 0 else low) for k in range(count + 1))
    return Piecewise(points, "cosine")


def _min_rate(
    func: str, base_lr: float, default_lr: float | None, min_lr: object, min_lr_rate: object
) -> float:
    if min_lr is not None and min_lr_rate is not None:
        raise _fail(
            func,
            "min_lr_rate",
            min_lr_rate,
            "None when min_lr is set (only one of min_lr or min_lr_rate should be set)",
        )
    if min_lr is not None:
        return _real(func, "min_lr", min_lr) / (base_lr if default_lr is None else default_lr)
    if min_lr_rate is None:
        raise ScheduleError(
            f"{func}: One of min_lr or min_lr_rate should be set through the `lr_scheduler_kwargs`"
        )
    return _real(func, "min_lr_rate", min_lr_rate)


def _linear(lr: float, warm: int, total: int, **_: Any) -> Schedule:
    decay = total - warm
    if decay <= 0:  # Hugging Face's ramp lr·t/warm, then max(0, total − t) = 0
        return Linear(0.0, lr, steps=warm) >> Constant(0.0) if warm else Constant(0.0)
    return _with_warmup(warm, Linear(lr, 0.0, steps=decay))


def _cosine(lr: float, warm: int, total: int, num_cycles: float = 0.5, **_: Any) -> Schedule:
    func = "cosine"
    return _with_warmup(
        warm, _wave(func, lr, 0.0, max(1, total - warm), _real(func, "num_cycles", num_cycles))
    )


def _cosine_restarts(lr: float, warm: int, total: int, num_cycles: int = 1, **_: Any) -> Schedule:
    func = "cosine_with_restarts"
    cycles = _int(func, "num_cycles", num_cycles, 1)
    span = max(1, total - warm)
    period = span / cycles
    one: Schedule = (
        Cosine(lr, 0.0, steps=int(period))
        if float(period).is_integer()
        else Piecewise(((0.0, lr), (period, 0.0)), "cosine")
    )
    body: Schedule = one if cycles == 1 else Repeat(one, cycles=cycles)
    return _with_warmup(warm, body)


def _polynomial(
    lr: float,
    warm: int,
    total: int,
    lr_end: float = 1e-7,
    power: float = 1.0,
    default_lr: float | None = None,
    **_: Any,
) -> Schedule:
    func = "polynomial"
    init = lr if default_lr is None else default_lr
    end = _real(func, "lr_end", lr_end)
    if not init > end:
        raise _fail(func, "lr_end", end, f"smaller than initial lr ({init})")
    scale = lr / init
    exponent = math.inf if power == math.inf else _real(func, "power", power)
    decay = max(1, total - warm)
    if exponent in (0.0, math.inf):  # Hugging Face's remaining**power: 1 on [warm, total] for 0,
        # 1 only at warm for inf (1**inf), lr_end after
        held = decay + 1 if exponent == 0.0 else 1
        return _with_warmup(warm, Constant(lr, steps=held) >> Constant(end * scale))
    return _with_warmup(warm, Polynomial(lr, end * scale, steps=decay, power=exponent))


def _constant(lr: float, warm: int, total: int | None, **_: Any) -> Schedule:
    return _with_warmup(warm, Constant(lr))


def _inverse_sqrt(
    lr: float, warm: int, total: int | None, timescale: int | None = None, **_: Any
) -> Schedule:
    scale = timescale if timescale is not None else (warm or 10_000)
    return InverseSqrt(lr, warm, timescale=_int("inverse_sqrt", "timescale", scale, 1))


def _cosine_min_lr(
    lr: float,
    warm: int,
    total: int,
    num_cycles: float = 0.5,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    default_lr: float | None = None,
    **_: Any,
) -> Schedule:
    func = "cosine_with_min_lr"
    rate = _min_rate(func, lr, default_lr, min_lr, min_lr_rate)
    wave = _wave(func, lr, lr * rate, max(1, total - warm), _real(func, "num_cycles", num_cycles))
    return _with_warmup(warm, wave)


def _cosine_warmup_min_lr(
    lr: float,
    warm: int,
    total: int,
    num_cycles: float = 0.5,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    warmup_lr_rate: float | None = None,
    default_lr: float | None = None,
    **_: Any,
) -> Schedule:
    # Hugging Face: warm-up (t+1)/w (or warmup_lr_rate → 1 over w−1 steps); the cosine's
    # progress is (t − w + 1)/max(1, total − w), i.e. one step ahead.
    func = "cosine_warmup_with_min_lr"
    rate = _min_rate(func, lr, default_lr, min_lr, min_lr_rate)
    wave = _wave(func, lr, lr * rate, max(1, total - warm), _real(func, "num_cycles", num_cycles))
    if warmup_lr_rate is None:
        if warm == 0:
            return Shift(wave, -1)
        if warm == 1:
            return wave
        return Linear(lr / warm, lr, steps=warm - 1) >> wave
    start = lr * _real(func, "warmup_lr_rate", warmup_lr_rate)
    if warm == 0:
        return Shift(wave, -1)
    if warm == 1:
        return Constant(start, steps=1) >> Shift(wave, -1)
    return Linear(start, lr, steps=warm - 1) >> wave


def _wsd(
    lr: float,
    warm: int,
    total: int | None,
    num_decay_steps: int | None = None,
    num_stable_steps: int | None = None,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0.0,
    num_cycles: float = 0.5,
    **_: Any,
) -> Schedule:
    func = "warmup_stable_decay"
    decay = _int(func, "num_decay_steps", num_decay_steps, 0)
    if total is None and num_stable_steps is None:
        raise ScheduleError(
            f"{func}: Either num_training_steps or num_stable_steps must be specified."
        )
    if total is not None and num_stable_steps is not None:
        warnings.warn(
            "Both num_training_steps and num_stable_steps are specified. num_stable_steps will be used.",
            stacklevel=3,
        )
    stable = (
        _int(func, "num_stable_steps", num_stable_steps, 0)
        if num_stable_steps is not None
        else _int(
            func,
            "num_training_steps - num_warmup_steps - num_decay_steps",
            (total or 0) - warm - decay,
            0,
        )
    )
    for name, kind in (("warmup_type", warmup_type), ("decay_type", decay_type)):
        if kind not in ("linear", "cosine", "1-sqrt"):
            raise _fail(func, name, kind, "'linear', 'cosine' or '1-sqrt'")
    ratio = _real(func, "min_lr_ratio", min_lr_ratio)
    low = lr * ratio
    parts: list[Schedule] = []
    if warm:
        ramp: Schedule
        if warmup_type == "linear":
            ramp = Linear(low, lr, steps=warm)
        elif warmup_type == "cosine":
            ramp = Cosine(low, lr, steps=warm)
        else:  # 1 − sqrt(1 − p): a power-½ polynomial from low to lr
            ramp = Polynomial(low, lr, steps=warm, power=0.5)
        parts.append(ramp)
    if stable:
        parts.append(Constant(lr, steps=stable))
    if decay:
        cycles = _real(func, "num_cycles", num_cycles)
        if decay_type == "linear":
            parts.append(Linear(lr, low, steps=decay))
        elif decay_type == "1-sqrt":
            parts.append(OneMinusSqrt(lr, low, steps=decay))
        else:
            if not float(2.0 * cycles).is_integer() or cycles <= 0:
                raise _fail(
                    func,
                    "num_cycles",
                    num_cycles,
                    "a positive multiple of 0.5 with decay_type='cosine'",
                )
            wave = _wave(func, lr, low, decay, cycles)
            parts.append(wave)
            if wave(decay) != low:  # an even number of half-waves ends high: Hugging Face drops
                parts.append(Constant(low))
    else:
        parts.append(Constant(low))
    return parts[0] if len(parts) == 1 else Sequence(tuple(parts))


_BUILDERS: dict[str, Callable[..., Schedule]] = {
    "linear": _linear,
    "cosine": _cosine,
    "cosine_with_restarts": _cosine_restarts,
    "polynomial": _polynomial,
    "constant": _constant,
    "constant_with_warmup": _constant,
    "inverse_sqrt": _inverse_sqrt,
    "cosine_with_min_lr": _cosine_min_lr,
    "cosine_warmup_with_min_lr": _cosine_warmup_min_lr,
    "warmup_stable_decay": _wsd,
}
_NEEDS_TOTAL = {
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
}


def _name(name: object, where: str = "get_scheduler") -> str:
    value = getattr(name, "value", name)  # a transformers SchedulerType enum member
    if not isinstance(value, str):
        raise check.invalid_type(where, "name", name, "a scheduler name (str)")
    if value not in NAMES and value not in _METRIC_DRIVEN:
        allowed = ", ".join((*NAMES, *_METRIC_DRIVEN))
        raise _fail(where, "name", value, f"one of {allowed}")
    return value


def schedule(
    name: str,
    *,
    lr: float = 1.0,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    default_lr: float | None = None,
    **scheduler_specific_kwargs: Any,
) -> Schedule:
    """The lrkit schedule of Hugging Face scheduler ``name`` for a param group with base ``lr``.

    ``lr=1.0`` (default) gives the multiplier Hugging Face's ``LambdaLR`` applies. ``default_lr``
    is ``optimizer.defaults["lr"]``, which Hugging Face uses to turn ``lr_end`` (polynomial) and
    ``min_lr`` (cosine_with_min_lr) into rates; it defaults to ``lr``.

    Args:
      name: one of :data:`NAMES` (a str or a ``transformers.SchedulerType``), as Hugging Face's.
      lr: the group's base learning rate (keyword-only, default 1.0: the multiplier).
      num_warmup_steps: steps ``W`` of the warm-up (an int >= 0; required except for
        ``"constant"`` and ``"reduce_lr_on_plateau"``).
      num_training_steps: steps ``T`` of the whole run (an int >= 0; required by the decaying
        schedules, as Hugging Face's).
      default_lr: ``optimizer.defaults["lr"]`` (default None: ``lr``).
      **scheduler_specific_kwargs: the arguments of the named scheduler, as Hugging Face's
        ``scheduler_specific_kwargs``: ``num_cycles``, ``lr_end``, ``power``, ``timescale``,
        ``min_lr``, ``min_lr_rate``, ``warmup_lr_rate``, ``num_decay_steps``, ``num_stable_steps``,
        ``warmup_type``, ``decay_type``, ``min_lr_ratio``.

    >>> s = schedule("cosine", lr=0.1, num_warmup_steps=10, num_training_steps=100)
    >>> str(s), [round(s(t), 6) for t in (5, 10, 55, 100)]  # 0.1·½(1 + cos(π·(t − 10)/90))
    ('warmup(10) >> cosine(start=0.1, steps=90)', [0.05, 0.1, 0.05, 0.0])
    >>> str(schedule("warmup_stable_decay", lr=0.1, num_warmup_steps=10, num_decay_steps=20,
    ...              num_training_steps=100, decay_type="1-sqrt"))
    'linear(start=0.0, end=0.1, steps=10) >> constant(0.1, steps=70) >> one_minus_sqrt(start=0.1, steps=20)'
    """
    key = _name(name, "schedule")
    if key in _METRIC_DRIVEN:
        raise ScheduleError(f"schedule: name={key!r} is not supported: {_METRIC_DRIVEN[key]}")
    if key == "reduce_lr_on_plateau":
        return Constant(lr)
    if key == "constant":
        return Constant(lr)
    warm = _int(key, "num_warmup_steps", num_warmup_steps, 0)
    total = num_training_steps
    if key in _NEEDS_TOTAL:
        total = _int(key, "num_training_steps", num_training_steps, 0)
    if key in ("polynomial", "cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        scheduler_specific_kwargs["default_lr"] = default_lr
    return _BUILDERS[key](float(lr), warm, total, **scheduler_specific_kwargs)


# ---------------------------------------------------------------------------------------------
# with an optimizer (imports torch)
# ---------------------------------------------------------------------------------------------
def get_scheduler(
    name: str,
    optimizer: Optimizer,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: Mapping[str, Any] | None = None,
) -> Scheduler | GreedyLR:
    """Hugging Face's ``transformers.get_scheduler``, as an :class:`lrkit.torch.Scheduler`.

    Each param group ``i`` is driven by ``lr_lambdas[i] * base_i``, where ``lr_lambdas[i]`` is
    :func:`schedule` with ``lr=1.0`` (Hugging Face's ``LambdaLR`` multiplier, as an lrkit
    schedule) and ``base_i`` the group's lr (``group["initial_lr"]`` if set, as ``LambdaLR``
    uses). ``"reduce_lr_on_plateau"`` gives :class:`lrkit.compat.torch.ReduceLROnPlateau`,
    ``"greedy"`` :class:`GreedyLR`.

    Args:
      name: one of :data:`NAMES` or ``"greedy"`` (a str or a ``transformers.SchedulerType``).
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the warm-up (an int >= 0; default None, required by the
        schedules that warm up, as Hugging Face's).
      num_training_steps: steps ``T`` of the whole run (an int >= 0; default None, required by
        the decaying schedules).
      scheduler_specific_kwargs: a dict of the named scheduler's other arguments (default None),
        as Hugging Face's (see :func:`schedule`).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_scheduler("linear", opt, num_warmup_steps=10, num_training_steps=100)
    >>> str(sched.lr_lambdas[0])
    'warmup(10) >> linear(start=1.0, steps=90)'
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (5, 10, 55, 100)]  # 0.1·t/10, then 0.1·(100 − t)/90
    [0.05, 0.1, 0.05, 0.0]
    """
    from lrkit.compat._transformers_torch import GreedyLR
    from lrkit.compat.torch import ReduceLROnPlateau

    key = _name(name)
    if scheduler_specific_kwargs is not None and not isinstance(scheduler_specific_kwargs, Mapping):
        raise check.invalid_type(
            "get_scheduler", "scheduler_specific_kwargs", scheduler_specific_kwargs, "a dict"
        )
    kwargs = dict(scheduler_specific_kwargs or {})
    if key == "reduce_lr_on_plateau":
        return ReduceLROnPlateau(optimizer, **kwargs)
    if key == "greedy":
        return GreedyLR(optimizer, **kwargs)
    return _get(key, optimizer, num_warmup_steps, num_training_steps, kwargs)


def _get(
    name: str,
    optimizer: Optimizer,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Scheduler:
    """The ``LambdaScheduler`` of a scheduler Hugging Face builds with ``LambdaLR``: group ``i``
    driven by ``lr_lambdas[i] * base_i``."""
    from lrkit.compat._transformers_torch import LambdaScheduler

    key = _name(name)
    kwargs = dict(kwargs or {})
    if key == "constant":
        kwargs, num_warmup_steps = {}, 0
    if key == "constant_with_warmup":
        kwargs = {}
    if not hasattr(optimizer, "param_groups") or not hasattr(optimizer, "defaults"):
        raise check.invalid_type(
            "get_scheduler", "optimizer", type(optimizer).__name__, "a torch.optim.Optimizer"
        )
    default_lr = float(optimizer.defaults["lr"])
    multiplier = schedule(
        key,
        lr=1.0,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
        default_lr=default_lr,
        **kwargs,
    )
    bases = []
    for group in optimizer.param_groups:
        base = group.get("initial_lr", group["lr"])
        bases.append(float(base.item()) if hasattr(base, "item") else float(base))
    return LambdaScheduler(optimizer, [multiplier] * len(bases), bases)


def get_greedy_schedule(optimizer: Optimizer, **kwargs: Any) -> GreedyLR:
    """``transformers.get_greedy_schedule``: :class:`GreedyLR` with ``kwargs``.

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      **kwargs: :class:`GreedyLR`'s arguments (``mode``, ``factor``, ``patience``...), as Hugging
        Face's.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_greedy_schedule(opt, patience=1, factor=0.5)
    >>> for loss in (3.0, 2.0, 1.0):  # two improvements in a row: 0.1 / 0.5
    ...     sched.step(loss)
    >>> sched.get_last_lr()
    [0.2]
    """
    from lrkit.compat._transformers_torch import GreedyLR

    return GreedyLR(optimizer, **kwargs)


def __getattr__(name: str) -> Any:
    """``GreedyLR`` is imported on first use (it imports torch)."""
    if name == "GreedyLR":
        from lrkit.compat._transformers_torch import GreedyLR

        return GreedyLR
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_constant_schedule(optimizer: Optimizer, last_epoch: int = -1) -> Scheduler:
    """``transformers.get_constant_schedule``: the optimizer's lr at every step.

    value(t) = lr

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_constant_schedule(opt)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (0, 50, 100)]
    [0.1, 0.1, 0.1]
    """
    return _resumed(_get("constant", optimizer), last_epoch)


def get_constant_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, last_epoch: int = -1
) -> Scheduler:
    """``transformers.get_constant_schedule_with_warmup``: linear warm-up, then constant.

    value(t) = lr · min(1, t/W)

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the linear warm-up ``t/W`` (an int >= 0).
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_constant_schedule_with_warmup(opt, num_warmup_steps=10)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (0, 5, 10, 100)]
    [0.0, 0.05, 0.1, 0.1]
    """
    return _resumed(_get("constant_with_warmup", optimizer, num_warmup_steps), last_epoch)


def get_linear_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int, last_epoch: int = -1
) -> Scheduler:
    """``transformers.get_linear_schedule_with_warmup``: linear warm-up, then a line to 0.

    value(t) = lr · t/W for t < W, else lr · max(0, (T − t)/(T − W))

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the linear warm-up ``t/W`` (an int >= 0).
      num_training_steps: steps ``T`` of the whole run, warm-up included (an int >= 0).
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=10, num_training_steps=100)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (5, 10, 55, 100)]
    [0.05, 0.1, 0.05, 0.0]
    """
    return _resumed(_get("linear", optimizer, num_warmup_steps, num_training_steps), last_epoch)


def get_cosine_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
) -> Scheduler:
    """``transformers.get_cosine_schedule_with_warmup``: linear warm-up, then a cosine.

    value(t) = lr · t/W for t < W, else lr · ½(1 + cos(2π · num_cycles · p)),
    p = (t − W)/(T − W)

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the linear warm-up ``t/W`` (an int >= 0).
      num_training_steps: steps ``T`` of the whole run, warm-up included (an int >= 0).
      num_cycles: cosine waves over ``T − W`` steps (>= 0; default 0.5, one decay to 0, as
        Hugging Face's).
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=10, num_training_steps=100)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (5, 10, 55, 100)]
    [0.05, 0.1, 0.05, 0.0]
    """
    return _resumed(
        _get("cosine", optimizer, num_warmup_steps, num_training_steps, {"num_cycles": num_cycles}),
        last_epoch,
    )


def get_cosine_with_hard_restarts_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: int = 1,
    last_epoch: int = -1,
) -> Scheduler:
    """Hugging Face's cosine with hard restarts: after a warm-up, decays restarting from the lr.

    ``transformers.get_cosine_with_hard_restarts_schedule_with_warmup``, as an
    :class:`lrkit.torch.Scheduler`.

    value(t) = lr · t/W for t < W, else lr · ½(1 + cos(π · ((num_cycles · p) mod 1))),
    p = (t − W)/(T − W) (0 from p >= 1 on in Hugging Face's; lrkit holds the last value)

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the linear warm-up ``t/W`` (an int >= 0).
      num_training_steps: steps ``T`` of the whole run, warm-up included (an int >= 0).
      num_cycles: the number of decays, each restarting at lr (an int >= 1; default 1, as
        Hugging Face's).
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_cosine_with_hard_restarts_schedule_with_warmup(opt, 10, 100, num_cycles=2)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (10, 32, 55)]  # step 32: 0.1·½(1 + cos(π·44/90))
    [0.1, 0.051745, 0.1]
    """
    return _resumed(
        _get(
            "cosine_with_restarts",
            optimizer,
            num_warmup_steps,
            num_training_steps,
            {"num_cycles": num_cycles},
        ),
        last_epoch,
    )


def get_polynomial_decay_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    lr_end: float = 1e-7,
    power: float = 1.0,
    last_epoch: int = -1,
) -> Scheduler:
    """Hugging Face's polynomial decay: after a warm-up, a polynomial decay to ``lr_end``.

    ``transformers.get_polynomial_decay_schedule_with_warmup``, as an
    :class:`lrkit.torch.Scheduler`.

    value(t) = lr · t/W for t < W, else (lr − lr_end) · (1 − p)^power + lr_end,
    p = (t − W)/(T − W) (``lr`` is ``optimizer.defaults["lr"]``; other groups scale with it)

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the linear warm-up ``t/W`` (an int >= 0).
      num_training_steps: steps ``T`` of the whole run, warm-up included (an int >= 0).
      lr_end: the final lr (below the optimizer's lr; default 1e-7, as Hugging Face's).
      power: exponent of the decay (default 1.0, a line, as Hugging Face's).
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_polynomial_decay_schedule_with_warmup(opt, 10, 100, lr_end=0.01, power=2.0)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (10, 55, 100)]  # step 55: 0.09·(1 − ½)² + 0.01
    [0.1, 0.0325, 0.01]
    """
    return _resumed(
        _get(
            "polynomial",
            optimizer,
            num_warmup_steps,
            num_training_steps,
            {"lr_end": lr_end, "power": power},
        ),
        last_epoch,
    )


def get_inverse_sqrt_schedule(
    optimizer: Optimizer, num_warmup_steps: int, timescale: int | None = None, last_epoch: int = -1
) -> Scheduler:
    """``transformers.get_inverse_sqrt_schedule``: warm-up, then ``1/√t`` decay.

    value(t) = lr · t/W for t < W, else lr / √((t + timescale − W)/timescale)

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the linear warm-up ``t/W`` (an int >= 0).
      timescale: steps per unit of the decay (an int >= 1; default None: ``num_warmup_steps``,
        or 10,000 without warm-up, as Hugging Face's).
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_inverse_sqrt_schedule(opt, num_warmup_steps=10)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (5, 10, 40, 90)]  # 0.1/√(t/10) after the warm-up
    [0.05, 0.1, 0.05, 0.033333]
    """
    return _resumed(
        _get("inverse_sqrt", optimizer, num_warmup_steps, None, {"timescale": timescale}),
        last_epoch,
    )


def get_reduce_on_plateau_schedule(optimizer: Optimizer, **kwargs: Any) -> Scheduler:
    """``transformers.get_reduce_on_plateau_schedule``: PyTorch's ``ReduceLROnPlateau``.

    Returns :class:`lrkit.compat.torch.ReduceLROnPlateau` (PyTorch's defaults: ``factor=0.1``,
    ``patience=10``).

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      **kwargs: ``ReduceLROnPlateau``'s arguments (``mode``, ``factor``, ``patience``...), as
        Hugging Face's.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_reduce_on_plateau_schedule(opt, factor=0.5, patience=0)
    >>> for loss in (1.0, 1.0):  # no improvement: one reduction
    ...     sched.step(loss)
    >>> sched.get_last_lr()
    [0.05]
    """
    from lrkit.compat.torch import ReduceLROnPlateau

    return ReduceLROnPlateau(optimizer, **kwargs)


def get_cosine_with_min_lr_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
) -> Scheduler:
    """Hugging Face's cosine with a floor: after a warm-up, a cosine down to ``min_lr``.

    ``transformers.get_cosine_with_min_lr_schedule_with_warmup``, as an
    :class:`lrkit.torch.Scheduler`.

    value(t) = lr · t/W for t < W, else lr · (r + (1 − r) · ½(1 + cos(2π · num_cycles · p))),
    p = (t − W)/(T − W), r = ``min_lr_rate`` (or ``min_lr / lr``)

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the linear warm-up ``t/W`` (an int >= 0).
      num_training_steps: steps ``T`` of the whole run, warm-up included (an int >= 0).
      num_cycles: cosine waves over ``T − W`` steps (>= 0; default 0.5, as Hugging Face's).
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).
      min_lr: the floor as a learning rate (default None; give it or ``min_lr_rate``).
      min_lr_rate: the floor as a share of the lr (default None; give it or ``min_lr``).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_cosine_with_min_lr_schedule_with_warmup(opt, 10, 100, min_lr_rate=0.1)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (10, 55, 100)]  # 0.1·(0.1 + 0.9·½(1 + cos(π·(t − 10)/90)))
    [0.1, 0.055, 0.01]
    """
    kwargs = {"num_cycles": num_cycles, "min_lr": min_lr, "min_lr_rate": min_lr_rate}
    return _resumed(
        _get("cosine_with_min_lr", optimizer, num_warmup_steps, num_training_steps, kwargs),
        last_epoch,
    )


def get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    warmup_lr_rate: float | None = None,
) -> Scheduler:
    """Hugging Face's cosine with a floor and a warm-up rate: the ``min_lr`` cosine, one step ahead.

    ``transformers.get_cosine_with_min_lr_schedule_with_warmup_lr_rate``, as an
    :class:`lrkit.torch.Scheduler`.

    value(t) = lr · (t + 1)/W for t < W (or ``warmup_lr_rate`` → 1 over the first ``W − 1``
    steps), else lr · (r + (1 − r) · ½(1 + cos(2π · num_cycles · p))), p = (t − W + 1)/(T − W);
    equal to Hugging Face's up to step ``T − 1``, then held (Hugging Face's p passes 1 at ``T``).

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the linear warm-up ``t/W`` (an int >= 0).
      num_training_steps: steps ``T`` of the whole run, warm-up included (an int >= 0).
      num_cycles: cosine waves over ``T − W`` steps (>= 0; default 0.5, as Hugging Face's).
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).
      min_lr: the floor as a learning rate (default None; give it or ``min_lr_rate``).
      min_lr_rate: the floor as a share of the lr (default None; give it or ``min_lr``).
      warmup_lr_rate: the share of the lr at step 0 (default None: ``1/W``, as Hugging Face's).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_cosine_with_min_lr_schedule_with_warmup_lr_rate(opt, 10, 100, min_lr_rate=0.1)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (0, 9, 54, 99)]  # step 0: 0.1·1/10; step 54: p = ½; step 99: p = 1
    [0.01, 0.1, 0.055, 0.01]
    """
    kwargs = {
        "num_cycles": num_cycles,
        "min_lr": min_lr,
        "min_lr_rate": min_lr_rate,
        "warmup_lr_rate": warmup_lr_rate,
    }
    return _resumed(
        _get("cosine_warmup_with_min_lr", optimizer, num_warmup_steps, num_training_steps, kwargs),
        last_epoch,
    )


def get_wsd_schedule(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_decay_steps: int,
    num_training_steps: int | None = None,
    num_stable_steps: int | None = None,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
) -> Scheduler:
    """``transformers.get_wsd_schedule``: warm-up, stable, decay (WSD).

    ``W`` warm-up steps from ``min_lr_ratio·lr`` to ``lr``, ``num_stable_steps`` at ``lr`` (by
    default what ``num_training_steps`` leaves), ``num_decay_steps`` back to ``min_lr_ratio·lr``
    (Hu et al., MiniCPM, 2024).

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      num_warmup_steps: steps ``W`` of the linear warm-up ``t/W`` (an int >= 0).
      num_decay_steps: steps of the decay (an int >= 0).
      num_training_steps: steps of the whole run (default None; give it or ``num_stable_steps``).
      num_stable_steps: steps at ``lr`` (default None: ``T − W − num_decay_steps``; wins, with a
        warning, when both are given, as Hugging Face's).
      warmup_type: ``"linear"``, ``"cosine"`` or ``"1-sqrt"`` (default ``"linear"``).
      decay_type: ``"linear"``, ``"cosine"`` or ``"1-sqrt"`` (default ``"cosine"``).
      min_lr_ratio: start and end value as a share of the lr (default 0).
      num_cycles: half-waves of the cosine decay (a positive multiple of 0.5; default 0.5).
      last_epoch: the index of the last step done, to resume a run (default -1, a new run,
        as Hugging Face's).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = get_wsd_schedule(opt, 10, 20, num_training_steps=100)
    >>> lrs = []
    >>> for _ in range(101):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> [lrs[t] for t in (5, 10, 80, 90, 100)]  # from step 80: 0.1·½(1 + cos(π·(t − 80)/20))
    [0.05, 0.1, 0.1, 0.05, 0.0]
    """
    kwargs = {
        "num_decay_steps": num_decay_steps,
        "num_stable_steps": num_stable_steps,
        "warmup_type": warmup_type,
        "decay_type": decay_type,
        "min_lr_ratio": min_lr_ratio,
        "num_cycles": num_cycles,
    }
    return _resumed(
        _get("warmup_stable_decay", optimizer, num_warmup_steps, num_training_steps, kwargs),
        last_epoch,
    )


def _resumed(scheduler: Scheduler, last_epoch: int) -> Scheduler:
    if isinstance(last_epoch, bool) or not isinstance(last_epoch, int):
        raise check.invalid_type("get_scheduler", "last_epoch", last_epoch, "an int >= -1")
    if last_epoch == -1:
        return scheduler
    if last_epoch < -1:
        raise _fail("get_scheduler", "last_epoch", last_epoch, "-1 or a step index >= 0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler.step(last_epoch + 1)
    scheduler._step_count = 1
    return scheduler

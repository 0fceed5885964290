"""The torch half of :mod:`lrkit.compat.transformers`: the schedulers Hugging Face returns.

:class:`LambdaScheduler` is what the ``get_*_schedule*`` functions return (Hugging Face returns a
PyTorch ``LambdaLR``): each group's lr is ``base_lr · lr_lambdas[i](t)``, with lrkit multiplier
schedules as the lambdas. :class:`GreedyLR` is Hugging Face's metric-driven ``GreedyLR``
(``get_scheduler("greedy", ...)``). Imported by :mod:`lrkit.compat.transformers` once an
optimizer is involved (it imports torch).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from torch.optim import Optimizer

from lrkit import _validate as check
from lrkit.compat import _args
from lrkit.compat.torch import CompatScheduler, PythonFunction
from lrkit.core import Schedule
from lrkit.errors import ScheduleError

__all__ = ["GreedyLR", "LambdaScheduler"]

LrLambda = Callable[[int], float]


def _scaled(fn: LrLambda, base: float) -> Schedule:
    """``base · fn(t)``: in closed form (text) for an lrkit schedule, else a Python function."""
    if isinstance(fn, Schedule):
        return fn if base == 1.0 else fn * base
    return PythonFunction(base, fn)


class LambdaScheduler(CompatScheduler):
    """Hugging Face's schedulers (a PyTorch ``LambdaLR``): group i's lr is ``base_i · λ_i(t)``.

    ``lr_lambdas`` holds one multiplier per group, the lrkit schedule of
    :func:`lrkit.compat.transformers.schedule` with ``lr=1.0`` (callable as Hugging Face's
    lambdas are; ``str()`` gives its text). The groups are driven by ``lr_lambdas[i] * base_i``
    in closed form. As with ``LambdaLR``, code may replace the lambdas (``s.lr_lambdas = [...]``
    or item by item): from the next ``step()`` on the groups follow the new callables (a Python
    callable has no text form, so the state dict then keeps the step only).
    """

    def __init__(
        self, optimizer: Optimizer, multipliers: Sequence[Schedule], bases: Sequence[float]
    ) -> None:
        if len(multipliers) != len(bases):
            raise ScheduleError(
                f"LambdaScheduler: {len(multipliers)} lr_lambdas for {len(bases)} param groups"
            )
        self.lr_lambdas: list[LrLambda] = list(multipliers)
        self._lambda_bases = [float(b) for b in bases]
        self._followed = list(self.lr_lambdas)
        specs = [
            {"lr": _scaled(m, b)} for m, b in zip(multipliers, self._lambda_bases, strict=True)
        ]
        super().__init__(optimizer, specs)
        self.base_lrs = list(self._lambda_bases)  # LambdaLR's: the initial lrs

    def _follow_lambdas(self) -> None:
        """Drive the groups by ``lr_lambdas`` when code replaced them since the last step."""
        fns = self.lr_lambdas
        if (
            isinstance(fns, list | tuple)
            and len(fns) == len(self._followed)
            and all(a is b for a, b in zip(fns, self._followed, strict=True))
        ):
            return
        if not isinstance(fns, list | tuple) or len(fns) != len(self._lambda_bases):
            raise ScheduleError(
                f"LambdaScheduler: lr_lambdas={fns!r} is invalid; lr_lambdas must be a list of "
                f"{len(self._lambda_bases)} callables (one per param group)"
            )
        for i, fn in enumerate(fns):
            if not callable(fn):
                raise _args.fail("LambdaScheduler", f"lr_lambdas[{i}]", fn, "a callable")
        self._raw = [{"lr": _scaled(fn, b)} for fn, b in zip(fns, self._lambda_bases, strict=True)]
        self._install(self._bound(self._total))
        self._followed = list(fns)

    def step(self, epoch: int | None = None) -> None:
        """Advance one step (``epoch``: jump to that step), following replaced ``lr_lambdas``."""
        self._follow_lambdas()
        super().step(epoch)

    def get_lr(self) -> list[Any]:
        """The LRs of the current step, from the current ``lr_lambdas``."""
        self._follow_lambdas()
        return super().get_lr()


def _is_number(value: object) -> bool:
    """A real number, not a bool (Hugging Face takes ints or floats for step counts)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def _per_group(name: str, value: object, optimizer: Optimizer) -> list[float]:
    """GreedyLR's ``min_lr``/``max_lr``: a number, or a list with one per param group."""
    n = len(optimizer.param_groups)
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise _args.fail(
                "GreedyLR", name, list(value), f"a number or a list of {n} (one per param group)"
            )
        return [_args.real("GreedyLR", name, v) for v in value]
    return [_args.real("GreedyLR", name, value)] * n


class GreedyLR:
    """Hugging Face's ``GreedyLR``: raise the lr on improvement, lower it on a plateau.

    After more than ``patience`` better (worse) metrics in a row the lr of every group is divided
    (multiplied) by ``factor``, within ``[min_lr, max_lr]``; ``cooldown``/``warmup`` pause the
    counting after a decrease/increase; after ``reset_start`` decreases at ``min_lr`` it restarts
    from the initial lrs. Same arguments, attributes, ``step(metrics)`` and state dict as
    ``transformers.optimization.GreedyLR`` (Hugging Face, arXiv:2512.14527); bad arguments raise
    lrkit's ``ScheduleError`` family (``ValueError``/``TypeError``) naming them.

    Args:
      optimizer: the ``torch.optim.Optimizer`` whose param groups are scheduled.
      mode: ``"min"`` (a lower metric is better) or ``"max"`` (default ``"min"``, as Hugging
        Face's).
      factor: the multiplier of a decrease, the divisor of an increase (< 1; default 0.95).
      patience: better (worse) metrics in a row tolerated before an increase (decrease)
        (default 10).
      threshold: the least change that counts as better (default 1e-6).
      threshold_mode: ``"abs"`` (``best − threshold``) or ``"rel"`` (``best·(1 − threshold)``)
        (default ``"abs"``).
      cooldown: metrics ignored after a decrease (default 0).
      warmup: metrics ignored after an increase (default 0).
      min_lr: the floor, one float or one per group (default 1e-3).
      max_lr: the ceiling, one float or one per group (default 1.0).
      eps: the least change of an lr that is applied (default 1e-8).
      verbose: print a line at each change (default False).
      smooth: compare the rolling mean of the last ``window_size`` metrics (default False).
      window_size: metrics in the rolling mean (an int >= 1; default 50).
      reset_start: decreases at ``min_lr`` before the lrs restart from their initial values
        (default 500).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = GreedyLR(opt, patience=1, factor=0.5)
    >>> for loss in (3.0, 2.0, 1.0):
    ...     sched.step(loss)
    >>> sched.get_last_lr()
    [0.2]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.95,
        patience: int = 10,
        threshold: float = 1e-6,
        threshold_mode: str = "abs",
        cooldown: int = 0,
        warmup: int = 0,
        min_lr: float | list[float] = 1e-3,
        max_lr: float | list[float] = 1.0,
        eps: float = 1e-8,
        verbose: bool = False,
        smooth: bool = False,
        window_size: int = 50,
        reset_start: int = 500,
    ) -> None:
        func = "GreedyLR"
        factor = _args.real(func, "factor", factor)
        if factor >= 1.0:
            raise _args.fail(func, "factor", factor, "< 1.0")
        if not isinstance(optimizer, Optimizer):
            raise check.invalid_type(
                func, "optimizer", type(optimizer).__name__, "a torch.optim.Optimizer"
            )
        if mode not in ("min", "max"):
            raise _args.fail(func, "mode", mode, "'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise _args.fail(func, "threshold_mode", threshold_mode, "'rel' or 'abs'")
        for name, value in (("patience", patience), ("cooldown", cooldown), ("warmup", warmup)):
            if not _is_number(value):
                raise check.invalid_type(func, name, value, "a number of steps")
        self.optimizer = optimizer
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.warmup = warmup
        self.cooldown_counter = 0
        self.warmup_counter = 0
        self.mode = mode
        self.threshold = _args.real(func, "threshold", threshold)
        self.threshold_mode = threshold_mode
        self.eps = _args.real(func, "eps", eps)
        self.smooth = smooth
        self.window_size = _args.int_at_least(func, "window_size", window_size, 1)
        if not _is_number(reset_start):
            raise check.invalid_type(func, "reset_start", reset_start, "a number of steps")
        self.reset_start = reset_start
        self.reset_start_original = self.reset_start
        self.last_epoch = 0
        self.min_lrs = _per_group("min_lr", min_lr, optimizer)
        self.max_lrs = _per_group("max_lr", max_lr, optimizer)
        self._init_lrs = [group["lr"] for group in optimizer.param_groups]
        self._last_lr = list(self._init_lrs)
        self.best = self._worst()
        self.num_bad_epochs = 0
        self.num_good_epochs = 0
        self._window: list[float] = []
        self._window_sum = 0.0

    def _worst(self) -> float:
        return float("inf") if self.mode == "min" else float("-inf")

    def _smoothed(self, value: float) -> float:
        """The rolling average of the last ``window_size`` metrics (Hugging Face's)."""
        self._window.append(value)
        self._window_sum += value
        if len(self._window) > self.window_size:
            self._window_sum -= self._window.pop(0)
        return self._window_sum / len(self._window)

    def step(self, metrics: float, epoch: int | None = None) -> None:
        """Give one metric value; adjust the lrs after ``patience`` good or bad steps."""
        current = float(metrics)
        if self.smooth:
            current = self._smoothed(current)
        epoch = self.last_epoch + 1 if epoch is None else epoch
        self.last_epoch = epoch
        if self.cooldown_counter > 0 or self.warmup_counter > 0:
            if self.cooldown_counter > 0:
                self.cooldown_counter -= 1
            else:
                self.warmup_counter -= 1
            self.num_bad_epochs = 0
            self.num_good_epochs = 0
        else:
            if self.is_better(current, self.best):
                self.best = current
                self.num_bad_epochs = 0
                self.num_good_epochs += 1
            else:
                self.num_bad_epochs += 1
                self.num_good_epochs = 0
            if self.num_good_epochs > self.patience:
                self._increase_lr(epoch)
                self.warmup_counter = self.warmup
                self.num_good_epochs = 0
            elif self.num_bad_epochs > self.patience:
                self._reduce_lr(epoch)
                self.cooldown_counter = self.cooldown
                self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def is_better(self, current: float, best: float) -> bool:
        """Whether ``current`` improves on ``best`` by more than the threshold."""
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return current < (best * (1.0 - self.threshold) if rel else best - self.threshold)
        return current > (best * (1.0 + self.threshold) if rel else best + self.threshold)

    def _reduce_lr(self, epoch: int) -> None:
        all_at_min = True
        for i, group in enumerate(self.optimizer.param_groups):
            old = float(group["lr"])
            new = max(old * self.factor, self.min_lrs[i])
            if old - new > self.eps:
                group["lr"] = new
                if self.verbose:
                    print(f"Epoch {epoch}: reducing learning rate of group {i} to {new:.4e}.")
            if group["lr"] > self.min_lrs[i]:
                all_at_min = False
        if all_at_min:
            self.reset_start -= 1
            if self.reset_start <= 0:
                self._reset()

    def _increase_lr(self, epoch: int) -> None:
        for i, group in enumerate(self.optimizer.param_groups):
            old = float(group["lr"])
            new = min(old / self.factor, self.max_lrs[i])
            if new - old > self.eps:
                group["lr"] = new
                if self.verbose:
                    print(f"Epoch {epoch}: increasing learning rate of group {i} to {new:.4e}.")
        self.reset_start = self.reset_start_original

    def _reset(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self._init_lrs, strict=True):
            group["lr"] = lr
        self.best = self._worst()
        self.num_bad_epochs = 0
        self.num_good_epochs = 0
        self.cooldown_counter = 0
        self.warmup_counter = 0
        self.reset_start = self.reset_start_original
        self._window, self._window_sum = [], 0.0
        if self.verbose:
            print("Scheduler reset to initial state.")

    def get_last_lr(self) -> list[float]:
        """The lrs after the last :meth:`step`."""
        return self._last_lr

    _STATE: ClassVar[tuple[str, ...]] = (
        "factor", "min_lrs", "max_lrs", "patience", "verbose", "cooldown", "warmup",
        "cooldown_counter", "warmup_counter", "mode", "threshold", "threshold_mode", "best",
        "num_bad_epochs", "num_good_epochs", "eps", "last_epoch", "smooth", "window_size",
        "reset_start", "reset_start_original", "_last_lr", "_init_lrs",
    )  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        """The state as primitives (Hugging Face's keys)."""
        state: dict[str, Any] = {key: getattr(self, key) for key in self._STATE}
        if self.smooth:
            state["_streaming_avg"] = {
                "window_size": self.window_size,
                "values": list(self._window),
                "sum": self._window_sum,
            }
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (or Hugging Face GreedyLR's); missing keys keep
        their current values, as Hugging Face's."""
        if not isinstance(state_dict, dict):
            raise check.invalid_type("GreedyLR.load_state_dict", "state_dict", state_dict, "a dict")
        for key in self._STATE:
            setattr(self, key, state_dict.get(key, getattr(self, key)))
        avg = state_dict.get("_streaming_avg")
        if isinstance(avg, dict):
            self._window = list(avg.get("values", []))
            self._window_sum = float(avg.get("sum", 0.0))
        if "_last_lr" in state_dict:
            for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=False):
                group["lr"] = lr

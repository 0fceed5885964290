"""The result of an LR range test: a plain record of the curves and the settings, with its dict form.

What is computed from it lives in functions that take it: :func:`lrkit.finder.suggest`
(suggestions), :func:`lrkit.finder.recommend` (a schedule) and :func:`lrkit.finder.plot`; the
methods of the same names delegate to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import numpy.typing as npt

from lrkit import _validate as check
from lrkit.errors import ScheduleError, ScheduleTypeError
from lrkit.finder import suggestions as _sugg
from lrkit.finder.suggestions import Suggestion

if TYPE_CHECKING:
    from lrkit.core import Schedule

__all__ = ["RangeTestResult", "StopReason"]

StopReason = Literal["completed", "diverged", "nonfinite", "running"]
"""Why a range test ended (:attr:`RangeTestResult.stop_reason`, :attr:`RangeTest.stop_reason`).

* ``"completed"``: every planned LR was run;
* ``"diverged"``: the smoothed loss rose above ``diverge`` times the best one (fastai's and
  torch-lr-finder's early stop);
* ``"nonfinite"``: a loss was NaN or infinite (that loss is not recorded);
* ``"running"``: the result was taken before the test ended.

A type (``typing.Literal``) for annotations, not a class: the values are plain strings.

>>> from typing import get_args
>>> get_args(StopReason)
('completed', 'diverged', 'nonfinite', 'running')
>>> RangeTestResult(lrs=(0.1,), losses=(1.0,), smoothed=(1.0,)).stop_reason
'completed'
"""
_STOP_REASONS = ("completed", "diverged", "nonfinite", "running")
_OPTIMIZERS = ("sgd", "adam")
_FORMAT = "lrkit.range_test/1"


@dataclass(frozen=True, repr=False)
class RangeTestResult:
    """Curves of an LR range test and the settings that produced them.

    ``lrs[i]`` is the LR of step ``i``, ``losses[i]`` its raw training loss and ``smoothed[i]``
    the bias-corrected EMA used for the divergence stop. A NaN/inf loss is never stored (the
    test stops before it). For a ``cycle`` test the first ``num_steps`` points are the rising
    half; suggestions only look at the rising part.

    Args:
      lrs: the LR of each recorded step.
      losses: raw training losses.
      smoothed: bias-corrected EMA of the losses.
      start: lowest LR of the sweep.
      end: highest LR of the sweep.
      num_steps: steps of the sweep.
      mode: ``"exp"`` or ``"linear"``.
      smooth: EMA weight of a new loss.
      diverge: divergence threshold (``None``: never stop).
      cycle: whether the low → high → low triangle ran.
      stop_reason: ``completed``, ``diverged``, ``nonfinite`` or ``running``.
      optimizer: the family of the optimizer the test ran with, ``"sgd"`` or ``"adam"``
        (:func:`lrkit.torch.find_lr` fills it in), or ``None`` if unknown; read by
        :meth:`recommend` for rules with a multiplier per optimizer family.

    >>> r = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1), losses=(2.0, 1.0, 3.0),
    ...                     smoothed=(2.0, 1.0, 3.0))
    >>> r.suggest("minimum")
    Suggestion(lr=0.001, index=0)
    >>> RangeTestResult.from_dict(r.to_dict()) == r
    True
    >>> print(r)  # doctest: +NORMALIZE_WHITESPACE
    LR range test: 3 steps (completed), lr 0.001 -> 0.1 (exp sweep 1e-07 -> 10, 100 steps),
    optimizer family unknown; suggestions: lrkit 0.025 (index 1), minimum 0.001 (index 0), steep 0.001 (index 0),
    steepest 0.001 (index 0), valley 0.1 (index 2)
    """

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    start: float = 1e-7
    end: float = 10.0
    num_steps: int = 100
    mode: str = "exp"
    smooth: float = 0.05
    diverge: float | None = 4.0
    cycle: bool = False
    stop_reason: StopReason = "completed"
    optimizer: str | None = None

    def __post_init__(self) -> None:
        n = len(self.lrs)
        if len(self.losses) != n or len(self.smoothed) != n:
            raise ScheduleError(
                "RangeTestResult(): lrs, losses and smoothed must have the same length, got "
                f"{n}, {len(self.losses)}, {len(self.smoothed)}"
            )
        check.choice("RangeTestResult", "stop_reason", self.stop_reason, _STOP_REASONS)
        if self.optimizer is not None:
            check.choice("RangeTestResult", "optimizer", self.optimizer, _OPTIMIZERS)
        for name in ("lrs", "losses", "smoothed"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))

    # -- curves ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.lrs)

    @property
    def rising(self) -> int:
        """Number of points on the rising part of the sweep (all of them unless ``cycle``)."""
        return min(len(self.lrs), self.num_steps) if self.cycle else len(self.lrs)

    def curve(
        self, kind: Literal["raw", "smoothed"] = "smoothed"
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(lrs, losses)`` of the rising part as arrays, raw or smoothed."""
        k = self.rising
        y = self.losses if kind == "raw" else self.smoothed
        return np.asarray(self.lrs[:k]), np.asarray(y[:k])

    # -- summary ------------------------------------------------------------------------
    def __str__(self) -> str:
        head = (
            f"LR range test: {len(self)} steps ({self.stop_reason}), "
            + (f"lr {self.lrs[0]:.3g} -> {self.lrs[-1]:.3g} " if self.lrs else "")
            + f"({self.mode} sweep {self.start:.3g} -> {self.end:.3g}, {self.num_steps} steps"
            + (", cycle" if self.cycle else "")
            + "), optimizer family "
            + (self.optimizer or "unknown")
        )
        if not self.lrs:
            return head + "; no finite loss, no suggestions"
        found = ", ".join(
            f"{name} {s.lr:.3g} (index {s.index})" for name, s in self.suggestions().items()
        )
        return f"{head}; suggestions: {found}"

    __repr__ = __str__

    # -- what is computed from the record (functions; the methods delegate) --------------
    def suggest(self, rule: str = "lrkit") -> Suggestion:
        """:func:`lrkit.finder.suggest`: the suggestion of one registered rule."""
        return _sugg.suggest(self, rule)

    def suggestions(self, rules: Iterable[str] | None = None) -> dict[str, Suggestion]:
        """Suggestions of several rules (default: every registered rule), by name."""
        return {name: self.suggest(name) for name in (_sugg.names() if rules is None else rules)}

    def bounds(self) -> tuple[Suggestion, Suggestion]:
        """:func:`lrkit.finder.suggestions.bounds`: Smith's cyclic bounds."""
        return _sugg.bounds(self)

    @overload
    def recommend(
        self,
        total_steps: int,
        policy: str = ...,
        *,
        rule: str | None = ...,
        optimizer: str | None = ...,
        warmup: float = ...,
        cycles: int = ...,
        momentum: Literal[False] = ...,
    ) -> Schedule: ...

    @overload
    def recommend(
        self,
        total_steps: int,
        policy: str = ...,
        *,
        rule: str | None = ...,
        optimizer: str | None = ...,
        warmup: float = ...,
        cycles: int = ...,
        momentum: Literal[True],
    ) -> dict[str, Schedule]: ...

    @overload
    def recommend(
        self,
        total_steps: int,
        policy: str = ...,
        *,
        rule: str | None = ...,
        optimizer: str | None = ...,
        warmup: float = ...,
        cycles: int = ...,
        momentum: bool,
    ) -> Schedule | dict[str, Schedule]: ...

    def recommend(
        self,
        total_steps: int,
        policy: str = "one_cycle",
        *,
        rule: str | None = None,
        optimizer: str | None = None,
        warmup: float = 0.05,
        cycles: int = 2,
        momentum: bool = False,
    ) -> Schedule | dict[str, Schedule]:
        """:func:`lrkit.finder.recommend`: an lrkit schedule for ``total_steps`` of training.

        Args:
          total_steps: steps of the training run.
          policy: ``"one_cycle"``, ``"wsd"``, ``"cosine"`` or ``"cyclic"``.
          rule: the peak rule giving the LR (``None``: the policy's default;
            ``"lrkit"``: the 0.x default).
          optimizer: ``"sgd"``, ``"adam"`` or ``"adamw"`` (``None``: :attr:`optimizer`).
          warmup: warm-up share of ``wsd``/``cosine``.
          cycles: cycles of ``cyclic``.
          momentum: also return the momentum schedule: ``{"lr": ..., "momentum": ...}``, the
            form :class:`lrkit.torch.Scheduler` takes.
        """
        from lrkit.finder.recommend import _recommend

        return _recommend(
            self,
            total_steps,
            policy,
            rule=rule,
            optimizer=optimizer,
            warmup=warmup,
            cycles=cycles,
            momentum=momentum,
            stacklevel=3,
        )

    def plot(
        self,
        ax: Any = None,
        rules: Iterable[str] | None = ("lrkit", "valley", "steepest"),
        *,
        raw: bool = True,
    ) -> Any:
        """:func:`lrkit.finder.plot`: loss against LR with the suggestions marked.

        Args:
          ax: a matplotlib axes (a new figure when ``None``).
          rules: suggestion rules to mark.
          raw: also draw the raw losses.
        """
        from lrkit.finder.plot import plot

        return plot(self, ax, rules, raw=raw)

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of primitives (floats, ints, str, lists); ``"optimizer"`` only if known."""
        out: dict[str, Any] = {
            "format": _FORMAT,
            "lrs": list(self.lrs),
            "losses": list(self.losses),
            "smoothed": list(self.smoothed),
            "start": self.start,
            "end": self.end,
            "num_steps": self.num_steps,
            "mode": self.mode,
            "smooth": self.smooth,
            "diverge": self.diverge,
            "cycle": self.cycle,
            "stop_reason": self.stop_reason,
        }
        if self.optimizer is not None:
            out["optimizer"] = self.optimizer
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RangeTestResult:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, Mapping):
            raise ScheduleTypeError(
                f"RangeTestResult.from_dict(): expected a mapping, got {type(data)}"
            )
        fmt = data.get("format", _FORMAT)
        if fmt != _FORMAT:
            raise ScheduleError(
                f"RangeTestResult.from_dict(): format must be {_FORMAT!r}, got {fmt!r}"
            )
        keys: tuple[str, ...] = (
            "lrs",
            "losses",
            "smoothed",
            "start",
            "end",
            "num_steps",
            "mode",
            "smooth",
        )
        keys += ("diverge", "cycle", "stop_reason", "optimizer")
        unknown = set(data) - set(keys) - {"format"}
        if unknown:
            raise ScheduleError(f"RangeTestResult.from_dict(): unknown keys {sorted(unknown)}")
        missing = [k for k in ("lrs", "losses", "smoothed") if k not in data]
        if missing:
            raise ScheduleError(f"RangeTestResult.from_dict(): missing keys {missing}")
        kwargs = {k: data[k] for k in keys if k in data}
        for k in ("lrs", "losses", "smoothed"):
            kwargs[k] = tuple(float(v) for v in kwargs[k])
        return cls(**kwargs)

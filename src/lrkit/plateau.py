"""Metric-driven LR controller: PyTorch's ReduceLROnPlateau rule, framework-free.

The controller is the one stateful piece of lrkit and stays outside the schedule algebra: it
watches a metric through :meth:`Plateau.report` and counts *reductions*; :meth:`Plateau.apply`
turns a closed-form schedule value into the final value by applying those reductions.
"""

from __future__ import annotations

import itertools
import math
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lrkit.errors import ScheduleError, ScheduleTypeError

__all__ = ["Plateau"]

Mode = Literal["min", "max"]
ThresholdMode = Literal["rel", "abs"]
OnNan = Literal["bad", "skip", "raise"]

_MODES = ("min", "max")
_THRESHOLD_MODES = ("rel", "abs")
_ON_NAN = ("bad", "skip", "raise")
_STATE_VERSION = 1


def _fail(param: str, value: object, allowed: str) -> ScheduleError:
    return ScheduleError(f"Plateau: {param}={_short(value)} is invalid; {param} must be {allowed}")


def _short(value: object) -> str:
    return reprlib.repr(value)


def _check_real(param: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ScheduleTypeError(
            f"Plateau: {param}={_short(value)} is invalid; {param} must be a real number"
        )
    try:
        out = float(value)
    except OverflowError:
        raise _fail(param, value, "a finite number within the float range") from None
    if not math.isfinite(out):
        raise _fail(param, value, "finite")
    return out


def _check_count(param: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ScheduleTypeError(
            f"Plateau: {param}={_short(value)} is invalid; {param} must be an int >= 0"
        )
    if value < 0:
        raise _fail(param, value, "an int >= 0")
    return int(value)


def _check_min_lrs(min_lr: object) -> tuple[float, ...]:
    """``min_lr`` as a non-empty tuple of numbers >= 0 (one per parameter group, or one shared)."""
    if isinstance(min_lr, Sequence) and not isinstance(min_lr, str):
        min_lrs = tuple(_check_real("min_lr", v) for v in min_lr)
        if not min_lrs:
            raise _fail("min_lr", min_lr, "a number >= 0 or a non-empty list of them")
    else:
        min_lrs = (_check_real("min_lr", min_lr),)
    if any(v < 0.0 for v in min_lrs):
        raise _fail("min_lr", min_lr, ">= 0")
    return min_lrs


def _check_levels(levels: object, mode: str) -> tuple[float, ...]:
    """``levels`` as a tuple of numbers, strictly in the direction of improvement for ``mode``."""
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence):
        raise ScheduleTypeError(
            f"Plateau: levels={_short(levels)} is invalid; levels must be a list of numbers"
        )
    lv = tuple(_check_real("levels", v) for v in levels)
    direction = 1.0 if mode == "max" else -1.0
    if any(direction * (b - a) <= 0.0 for a, b in itertools.pairwise(lv)):
        order = "increasing" if mode == "max" else "decreasing"
        raise _fail("levels", list(levels), f"strictly {order} for mode={mode!r}")
    return lv


def _metric(metric: object) -> float:
    """A reported metric as a float: numbers, numpy scalars and 0-d arrays or tensors, not text."""
    text_like = isinstance(metric, (str, bytes, bytearray, bool, np.bool_))
    if text_like or not hasattr(type(metric), "__float__"):
        raise ScheduleTypeError(
            f"Plateau.report: metric={_short(metric)} is invalid; metric must be a real number "
            "(a float, an int, a numpy scalar or a 0-d array/tensor)"
        )
    try:
        return float(metric)  # type: ignore[arg-type]
    except OverflowError:
        raise ScheduleError(
            f"Plateau.report: metric={_short(metric)} is invalid; it is beyond the float range"
        ) from None
    except (TypeError, ValueError):
        raise ScheduleTypeError(
            f"Plateau.report: metric={_short(metric)} is invalid; metric must be a real number "
            "(a float, an int, a numpy scalar or a 0-d array/tensor)"
        ) from None


_STATE_KEYS = (
    "version",
    "config",
    "best",
    "num_bad_epochs",
    "cooldown_counter",
    "reductions",
    "next_level",
    "evaluations",
)
#: The options Plateau shares with PyTorch's ReduceLROnPlateau (also a bench suite's plateau keys).
_TORCH_KEYS = (
    "mode",
    "factor",
    "patience",
    "threshold",
    "threshold_mode",
    "cooldown",
    "min_lr",
    "eps",
)
_CONFIG_KEYS = (*_TORCH_KEYS, "levels", "on_nan")


def _state_error(key: str, value: object, expected: str) -> ScheduleError:
    return ScheduleError(
        f"Plateau.load_state_dict: {key}={_short(value)} is invalid; expected {expected}"
    )


def _state_count(state: Mapping[str, Any], key: str, high: int | None, why: str = "") -> int:
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _state_error(key, value, "an int")
    if value < 0 or (high is not None and value > high):
        upper = f" and <= {high}{why}" if high is not None else ""
        raise _state_error(key, value, f"an int >= 0{upper}")
    return int(value)


def _same_config(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two configs are equal, a NaN option equal to a NaN one (PyTorch's drop-in keeps
    the NaN options PyTorch accepts)."""

    def key(v: object) -> object:
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        if isinstance(v, list | tuple):
            return [key(x) for x in v]
        return v

    return {k: key(v) for k, v in a.items()} == {k: key(v) for k, v in b.items()}


class Plateau:
    r"""Reduce a value when a metric stops improving (PyTorch's ``ReduceLROnPlateau`` rule).

    Call :meth:`report` once per evaluation. An evaluation is *better* than the best so far when
    (``mode="min"``, ``threshold_mode="rel"``) ``metric < best * (1 - threshold)``; ``"abs"`` uses
    ``best - threshold``; ``mode="max"`` mirrors both. After more than ``patience`` evaluations in a
    row that are not better, one *reduction* happens, then ``cooldown`` evaluations are ignored.
    ``levels`` adds a second rule: one reduction each time the metric first crosses a level
    (drops below it in ``"min"`` mode, rises above it in ``"max"`` mode).

    :meth:`apply` applies the reductions to a value, one multiplication at a time, exactly as
    PyTorch does to ``param_group["lr"]``::

        v <- max(v * factor, min_lr)   unless that changes v by no more than eps

    so for a constant base value the sequence equals ``ReduceLROnPlateau``'s bit for bit. Defaults
    are PyTorch's (factor 0.1, patience 10, threshold 1e-4 "rel", cooldown 0, min_lr 0, eps 1e-8).

    A NaN or infinite metric never becomes the best value: with ``on_nan="bad"`` (default) it
    counts as an evaluation without improvement, ``"skip"`` ignores it, ``"raise"`` raises.

    Args:
        mode: ``"min"`` (a lower metric is better) or ``"max"``.
        factor: the multiplier of one reduction, in (0, 1).
        patience: evaluations without improvement tolerated before a reduction (>= 0);
            ``None`` turns the patience rule off (``levels`` only).
        threshold: how much better counts as better (>= 0), relative or absolute.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: evaluations ignored after each reduction (>= 0).
        min_lr: the floor of the reduced value, one number or one per param group (>= 0).
        eps: a reduction that changes the value by no more than ``eps`` is skipped (>= 0).
        levels: metric levels; crossing each one first time is one reduction.
        on_nan: what a NaN or infinite metric does: ``"bad"``, ``"skip"`` or ``"raise"``.

    >>> p = Plateau(factor=0.5, patience=1)
    >>> [p.report(m) for m in (1.0, 1.0, 1.0, 0.5, 0.6, 0.6)]
    [False, False, True, False, False, True]
    >>> p.reductions, p.scale, p.apply(0.1)
    (2, 0.25, 0.025)
    """

    def __init__(
        self,
        mode: Mode = "min",
        factor: float = 0.1,
        patience: int | None = 10,
        threshold: float = 1e-4,
        threshold_mode: ThresholdMode = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
        *,
        levels: Sequence[float] = (),
        on_nan: OnNan = "bad",
    ) -> None:
        if mode not in _MODES:
            raise _fail("mode", mode, "'min' or 'max'")
        opts = self._checked_options(factor, patience, threshold, cooldown, min_lr, eps)
        if threshold_mode not in _THRESHOLD_MODES:
            raise _fail("threshold_mode", threshold_mode, "'rel' or 'abs'")
        lv = _check_levels(levels, mode)
        if on_nan not in _ON_NAN:
            raise _fail("on_nan", on_nan, "'bad', 'skip' or 'raise'")
        if opts["patience"] is None and not lv:
            raise _fail("patience", None, "an int >= 0 unless levels are given")

        self.mode: Mode = mode
        self.factor: float = opts["factor"]
        self.patience: int | None = opts["patience"]
        self.threshold: float = opts["threshold"]
        self.threshold_mode: ThresholdMode = threshold_mode
        self.cooldown: int = opts["cooldown"]
        self.min_lrs: tuple[float, ...] = opts["min_lrs"]
        self.eps: float = opts["eps"]
        self.levels = lv
        self.on_nan: OnNan = on_nan
        self.reset()

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
        """The options shared with PyTorch, checked with lrkit's rules (a subclass may apply
        other rules: the PyTorch drop-in applies PyTorch's)."""
        factor = _check_real("factor", factor)
        if not 0.0 < factor < 1.0:
            raise _fail("factor", factor, "in the open interval (0, 1)")
        if patience is not None:
            patience = _check_count("patience", patience)
        threshold = _check_real("threshold", threshold)
        if threshold < 0.0:
            raise _fail("threshold", threshold, ">= 0")
        cooldown = _check_count("cooldown", cooldown)
        min_lrs = _check_min_lrs(min_lr)
        eps = _check_real("eps", eps)
        if eps < 0.0:
            raise _fail("eps", eps, ">= 0")
        return {
            "factor": factor,
            "patience": patience,
            "threshold": threshold,
            "cooldown": cooldown,
            "min_lrs": min_lrs,
            "eps": eps,
        }

    @classmethod
    def threshold_halving(
        cls,
        levels: Sequence[float],
        *,
        mode: Mode = "min",
        factor: float = 0.5,
        patience: int | None = None,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
        on_nan: OnNan = "bad",
    ) -> Plateau:
        """Halve the value each time the metric first drops below the next of ``levels``.

        ``levels`` must be strictly decreasing (increasing for ``mode="max"``); a metric that
        jumps past several levels at once gives one reduction per level. ``patience`` (off by
        default) adds the plateau rule on top.

        >>> p = Plateau.threshold_halving([1.0, 0.5, 0.25])
        >>> [p.report(m) for m in (1.2, 0.9, 0.8, 0.2)]
        [False, True, False, True]
        >>> p.reductions, p.apply(0.1)
        (3, 0.0125)
        """
        return cls(
            mode=mode,
            factor=factor,
            patience=patience,
            threshold=0.0,
            min_lr=min_lr,
            eps=eps,
            levels=levels,
            on_nan=on_nan,
        )

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> Plateau:
        """A controller rebuilt from :meth:`state_dict` output (config and state).

        >>> p = Plateau(patience=0)
        >>> _ = p.report(1.0), p.report(2.0)
        >>> Plateau.from_state_dict(p.state_dict()).reductions
        1
        """
        out = cls()
        out.load_state_dict(state, strict=False)
        return out

    # -- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the history: best value, counters and reductions (the scale returns to 1)."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.reductions = 0
        self.next_level = 0
        self.evaluations = 0

    @property
    def in_cooldown(self) -> bool:
        """Whether the controller is currently ignoring evaluations after a reduction."""
        return self.cooldown_counter > 0

    @property
    def scale(self) -> float:
        """``factor ** reductions`` (before the ``min_lr`` and ``eps`` rules of :meth:`apply`).

        Multiplied out one reduction at a time (as Keras and PyTorch reduce a value), cached, and
        stopped once it underflows to 0, so asking after each report costs one multiplication.
        """
        factor, done, value = self.__dict__.get("_scale_cache", (self.factor, 0, 1.0))
        if factor != self.factor or done > self.reductions:
            done, value = 0, 1.0
        while done < self.reductions and value != 0.0:
            value *= self.factor
            done += 1
        self.__dict__["_scale_cache"] = (self.factor, done, value)
        result: float = value
        return result

    def is_better(self, metric: float, best: float) -> bool:
        """PyTorch's ``ReduceLROnPlateau._is_better`` comparison."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < best * (1.0 - self.threshold)
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (self.threshold + 1.0)
        return metric > best + self.threshold

    def report(self, metric: object) -> bool:
        """Record one evaluation of the metric; return whether it caused a reduction."""
        current = _metric(metric)
        finite = math.isfinite(current)
        if not finite:
            if self.on_nan == "raise":
                raise ScheduleError(
                    f"Plateau.report: metric={current!r} is not finite (on_nan='raise')"
                )
            if self.on_nan == "skip":
                return False
        self.evaluations += 1
        before = self.reductions

        if finite and self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.patience is not None and self.num_bad_epochs > self.patience:
            self.reductions += 1
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

        if finite:
            sign = -1.0 if self.mode == "min" else 1.0
            while (
                self.next_level < len(self.levels)
                and sign * (current - self.levels[self.next_level]) > 0.0
            ):
                self.next_level += 1
                self.reductions += 1
        return self.reductions != before

    # -- applying ----------------------------------------------------------------------------
    def min_lr_for(self, group: int = 0) -> float:
        """The ``min_lr`` of param group ``group`` (one value serves every group)."""
        if len(self.min_lrs) == 1:
            return self.min_lrs[0]
        if not 0 <= group < len(self.min_lrs):
            raise ScheduleError(
                f"Plateau.apply: group={group!r} is invalid; min_lr was given for "
                f"{len(self.min_lrs)} groups"
            )
        return self.min_lrs[group]

    def apply(self, value: float, group: int = 0) -> float:
        """The value after the reductions so far: ``v <- max(v*factor, min_lr)`` per reduction.

        A reduction that would change the value by no more than ``eps`` is dropped, and so are
        the ones after it (they would be dropped too), as in PyTorch.

        >>> p = Plateau(factor=0.5, patience=0, min_lr=0.1)
        >>> p.reductions = 5
        >>> p.apply(1.0), p.apply(0.05)
        (0.1, 0.05)
        """
        v = float(value)
        floor = self.min_lr_for(group)
        for _ in range(self.reductions):
            new = max(v * self.factor, floor)
            if v - new > self.eps:
                v = new
            else:
                break
        return v

    def apply_array(self, values: npt.ArrayLike, group: int = 0) -> npt.NDArray[np.float64]:
        """:meth:`apply` on every element of a float64 array (same results, bit for bit).

        >>> p = Plateau(factor=0.5, patience=0)
        >>> p.reductions = 1
        >>> p.apply_array([0.2, 0.4]).tolist()
        [0.1, 0.2]
        """
        v = np.array(values, dtype=np.float64)
        floor = self.min_lr_for(group)
        for _ in range(self.reductions):
            new = np.maximum(v * self.factor, floor)
            changed = (v - new) > self.eps
            if not changed.any():
                break
            v = np.where(changed, new, v)
        return v

    # -- state dict --------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor arguments as primitives."""
        return {
            "mode": self.mode,
            "factor": self.factor,
            "patience": self.patience,
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "cooldown": self.cooldown,
            "min_lr": list(self.min_lrs),
            "eps": self.eps,
            "levels": list(self.levels),
            "on_nan": self.on_nan,
        }

    def state_dict(self) -> dict[str, Any]:
        """The controller's state (and config) as ints, floats, strings, lists and dicts."""
        return {
            "version": _STATE_VERSION,
            "config": self.config(),
            "best": self.best,
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
            "reductions": self.reductions,
            "next_level": self.next_level,
            "evaluations": self.evaluations,
        }

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Restore :meth:`state_dict` output; a different config is an error unless not strict.

        With ``strict=False`` the saved config replaces this controller's one. Everything is
        checked before anything changes: wrong state raises one :class:`~lrkit.ScheduleError`
        (a ``ValueError``) naming the key, the value and what was expected, and leaves the
        controller as it was.
        """
        config, counters = self._validated_state(state, strict)
        if config is not None:
            self.__dict__.update(config.__dict__)
        self.__dict__.update(counters)
        self.__dict__.pop("_scale_cache", None)

    def validate_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Raise what :meth:`load_state_dict` would raise, changing nothing (for atomic loads).

        >>> p = Plateau()
        >>> p.validate_state_dict(p.state_dict() | {"reductions": -3})
        Traceback (most recent call last):
        ...
        lrkit.errors.ScheduleError: Plateau.load_state_dict: reductions=-3 is invalid; expected an int >= 0 and <= 0 (evaluations + next_level)
        """
        self._validated_state(state, strict)

    def _validated_state(
        self, state: Mapping[str, Any], strict: bool
    ) -> tuple[Plateau | None, dict[str, Any]]:
        """The controller to take the config from (``None``: keep this one) and the counters."""
        if not isinstance(state, Mapping):
            raise ScheduleTypeError(
                "Plateau.load_state_dict: state must be a Plateau.state_dict() mapping, got "
                f"{type(state).__name__}"
            )
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise ScheduleError(
                f"Plateau.load_state_dict: state is missing {', '.join(map(repr, missing))} "
                f"(a Plateau.state_dict() has {', '.join(_STATE_KEYS)})"
            )
        if state["version"] != _STATE_VERSION or isinstance(state["version"], bool):
            raise _state_error("version", state["version"], str(_STATE_VERSION))
        saved = state["config"]
        if not isinstance(saved, Mapping):
            raise _state_error("config", saved, "a mapping of the constructor arguments")
        missing = [key for key in _CONFIG_KEYS if key not in saved]
        if missing:
            raise ScheduleError(
                f"Plateau.load_state_dict: config is missing {', '.join(map(repr, missing))}"
            )
        fresh: Plateau | None = None
        if not _same_config(saved, self.config()):
            if strict:
                mine = self.config()
                diff = {k: (saved.get(k), mine.get(k)) for k in mine if saved.get(k) != mine.get(k)}
                raise ScheduleError(
                    "Plateau.load_state_dict: the saved controller differs from this one "
                    f"(saved, current): {diff}; pass strict=False to use the saved one"
                )
            fresh = self._from_config(saved)
        return fresh, (fresh or self)._validated_counters(state)

    @classmethod
    def _from_config(cls, saved: Mapping[str, Any]) -> Plateau:
        min_lr = saved["min_lr"]
        if isinstance(min_lr, list | tuple) and len(min_lr) == 1:
            min_lr = min_lr[0]
        try:
            return cls(
                **{key: saved[key] for key in _CONFIG_KEYS if key != "min_lr"}, min_lr=min_lr
            )
        except (TypeError, ValueError) as err:
            raise ScheduleError(f"Plateau.load_state_dict: config: {err}") from None

    def _validated_counters(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The counters of ``state``, checked against this controller's config."""
        best = state["best"]
        initial = math.inf if self.mode == "min" else -math.inf
        if isinstance(best, bool) or not isinstance(best, (int, float, np.integer, np.floating)):
            raise _state_error("best", best, "a number")
        try:
            best = float(best)
        except OverflowError:
            raise _state_error("best", best, "a number within the float range") from None
        if math.isnan(best) or (math.isinf(best) and best != initial):
            raise _state_error("best", best, f"a finite number (or {initial} before any)")
        evaluations = _state_count(state, "evaluations", None)
        next_level = _state_count(state, "next_level", len(self.levels), " (the number of levels)")
        patience = self.patience
        counters = {
            "best": best,
            "num_bad_epochs": _state_count(
                state,
                "num_bad_epochs",
                patience,
                " (patience)" if patience is not None else "",
            ),
            "cooldown_counter": _state_count(
                state, "cooldown_counter", self.cooldown, " (cooldown)"
            ),
            "reductions": _state_count(
                state, "reductions", evaluations + next_level, " (evaluations + next_level)"
            ),
            "next_level": next_level,
            "evaluations": evaluations,
        }
        if counters["reductions"] < next_level:
            raise _state_error("reductions", counters["reductions"], f">= next_level={next_level}")
        return counters

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"Plateau({args}; reductions={self.reductions}, best={self.best!r})"

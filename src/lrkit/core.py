"""The :class:`Schedule` base: evaluation over scalars and arrays, operators, binding and text.

A schedule is a frozen dataclass: a pure, closed-form function of the step. ``s(t)`` accepts an
``int``/``float`` step (returns a ``float``) or an array of steps from any array-API namespace (numpy,
torch, jax; returns an array of the same shape and namespace). There is no hidden counter: resuming a
run is evaluating at the saved step.

>>> import lrkit
>>> s = lrkit.warmup(2) >> lrkit.cosine(start=1.0, end=0.0, steps=4)
>>> [round(s(t), 4) for t in range(7)]
[0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0]
>>> str(s)
'warmup(2) >> cosine(start=1.0, steps=4)'
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lrkit.durations import Pct
from lrkit.errors import ScheduleError, ScheduleTypeError, UnboundScheduleError

if TYPE_CHECKING:
    from lrkit.compose import (
        Clip,
        Mirror,
        Product,
        Repeat,
        Scale,
        Sequence,
        Shift,
        Sum,
        Truncate,
    )

__all__ = ["Array", "Schedule", "namespace_of"]

Array = Any
"""An array of any array-API namespace (numpy, torch, jax)."""

_CHUNK = 65536
_BLOCK = 256


def namespace_of(x: Array) -> Any:
    """The array-API namespace of ``x`` (plain ``numpy`` for numpy arrays)."""
    if isinstance(x, np.ndarray | np.generic):
        return np
    import array_api_compat

    return array_api_compat.array_namespace(x)


def _is_torch(xp: Any) -> bool:
    return "torch" in getattr(xp, "__name__", "")


class Schedule:
    """Base class of every lrkit schedule: a frozen value, a closed-form function of the step.

    Subclasses are frozen dataclasses registered under a name (see :mod:`lrkit.registry`); they
    implement ``_eval(t, xp)`` on a float array ``t >= 0`` with array-API operations only, so the same
    code runs on numpy, torch and under ``jax.jit``.
    """

    name: ClassVar[str] = "schedule"
    _positional: ClassVar[tuple[str, ...]] = ()

    # -- evaluation -------------------------------------------------------------------------
    def _eval(self, t: Array, xp: Any) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, t: Any) -> Any:
        """Value at step ``t`` (scalar -> ``float``; array -> array of the same namespace)."""
        if isinstance(t, bool):
            raise ScheduleTypeError(f"{self.name}: step must be a number or an array, got {t!r}")
        self._check_bound()
        if isinstance(t, numbers.Real) and not isinstance(t, np.ndarray):
            step = float(t)
            if not math.isfinite(step) or step < 0.0:
                raise ScheduleError(f"{self.name}: step must be a finite number >= 0, got {t!r}")
            if step.is_integer() and step < 2.0**52:
                return self._value_at(int(step))
            # a 1-element array (not 0-d) keeps numpy on the same vectorised kernels as arrays,
            # so s(t) == s(array)[i] bit for bit
            return float(self._eval(np.array([step], dtype=np.float64), np)[0])
        if isinstance(t, list | tuple | range):
            t = np.asarray(t)
        xp = namespace_of(t)
        if xp is np:
            steps = np.asarray(t, dtype=np.float64)
            if steps.size and not (np.all(np.isfinite(steps)) and np.min(steps) >= 0.0):
                raise ScheduleError(f"{self.name}: steps must be finite numbers >= 0")
            if steps.ndim == 0:
                return self._eval(steps.reshape(1), np).reshape(())
            if steps.size > _CHUNK:
                return self._eval_chunked(steps)
            return self._eval(steps, np)
        if _is_torch(xp):
            if not xp.isdtype(t.dtype, "real floating"):
                t = xp.astype(t, xp.float64)
        else:
            t = t * 1.0  # ints become the namespace's default float (jax: float32 unless x64)
        t = xp.where(t > 0, t, xp.zeros_like(t))
        return self._eval(t, xp)

    def _value_at(self, step: int) -> float:
        """Value at a whole step, from a cached block of ``_BLOCK`` steps around it.

        Training loops ask for consecutive steps; evaluating them a block at a time makes each call
        a list lookup. Values are element-wise, so they equal one-by-one evaluation bit for bit.
        """
        base = step - step % _BLOCK
        block = self.__dict__.get("_block")
        if block is None or block[0] != base:
            values = self._eval(np.arange(base, base + _BLOCK, dtype=np.float64), np)
            block = (base, values.tolist())
            self.__dict__["_block"] = block  # not a field: equality and hashing ignore it
        value: float = block[1][step - base]
        return value

    def _eval_chunked(self, steps: np.ndarray) -> np.ndarray:
        """Large numpy inputs in cache-sized chunks: the temporaries stay in cache (about 2x faster
        on a million steps); values are element-wise, so they are the same bit for bit."""
        flat = steps.reshape(-1)
        out = np.empty_like(flat)
        for begin in range(0, flat.size, _CHUNK):
            out[begin : begin + _CHUNK] = self._eval(flat[begin : begin + _CHUNK], np)
        return out.reshape(steps.shape)

    # -- length -----------------------------------------------------------------------------
    @property
    def bounded(self) -> bool:
        """Whether the schedule has an end (after which it holds its last value)."""
        return True

    @property
    def duration(self) -> float | None:
        """Number of steps until the schedule's end, ``None`` if it has none.

        Raises :class:`UnboundScheduleError` while a duration is still a share of training.
        """
        raise NotImplementedError  # pragma: no cover

    # -- shares of training -----------------------------------------------------------------
    @cached_property
    def _unbound_share(self) -> str | None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            found = _find_share(getattr(self, field.name))
            if found is not None:
                return f"{field.name}={found}" if found.endswith("%") else found
        return None

    @property
    def is_bound(self) -> bool:
        """``True`` when no duration is left as a share of training."""
        return self._unbound_share is None

    def _check_bound(self) -> None:
        if self._unbound_share is not None:
            raise UnboundScheduleError(
                f"{self} has a duration given as a share of training ({self._unbound_share}); "
                "call .bind(total_steps) first (or pass total_steps= to the scheduler)"
            )

    def bind(self, total_steps: int) -> Schedule:
        """Resolve every share of training (``"20%"``) against ``total_steps``.

        >>> import lrkit
        >>> str(lrkit.cosine(start=1.0, steps="50%").bind(1000))
        'cosine(start=1.0, steps=500)'
        """
        if isinstance(total_steps, bool) or not isinstance(total_steps, numbers.Integral):
            raise ScheduleTypeError(f"bind(): total_steps must be an int, got {total_steps!r}")
        if total_steps < 1:
            raise ScheduleError(f"bind(): total_steps must be an int >= 1, got {total_steps!r}")
        if self.is_bound:
            return self
        changes = {
            field.name: _bind_value(getattr(self, field.name), int(total_steps))
            for field in dataclasses.fields(self)  # type: ignore[arg-type]
        }
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    # -- composition ------------------------------------------------------------------------
    def __rshift__(self, other: object) -> Sequence:
        from lrkit.compose import Sequence

        if not isinstance(other, Schedule):
            return NotImplemented
        return Sequence.of(self, other)

    def __mul__(self, factor: object) -> Scale | Product:
        from lrkit.compose import Product, Scale

        if isinstance(factor, Schedule):
            return Product((self, factor))
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            return NotImplemented
        return Scale(self, float(factor))

    __rmul__ = __mul__

    def __add__(self, other: object) -> Sum:
        from lrkit.compose import add

        if isinstance(other, bool) or not isinstance(other, Schedule | numbers.Real):
            return NotImplemented
        return add(self, other if isinstance(other, Schedule) else float(other))

    __radd__ = __add__

    def repeat(self, mult: float = 1.0, decay: float = 1.0, cycles: int | None = None) -> Repeat:
        """Warm restarts (SGDR): replay this schedule, each period ``mult``× longer, peaks × ``decay``."""
        from lrkit.compose import Repeat

        return Repeat(self, mult=mult, decay=decay, cycles=cycles)

    def clip(self, low: float | None = None, high: float | None = None) -> Clip:
        """Values clipped into ``[low, high]``."""
        from lrkit.compose import Clip

        return Clip(self, low=low, high=high)

    def shift(self, steps: int | str | Pct) -> Shift:
        """Delay by ``steps``: ``s.shift(n)(t) == s(max(0, t - n))`` (negative ``n`` advances)."""
        from lrkit.compose import Shift

        return Shift(self, steps)  # type: ignore[arg-type]

    def truncate(self, steps: int | str | Pct) -> Truncate:
        """The first ``steps`` steps, then hold: ``s.truncate(n)(t) == s(min(t, n))``."""
        from lrkit.compose import Truncate

        return Truncate(self, steps)  # type: ignore[arg-type]

    def mirror(self, low: float, high: float) -> Mirror:
        """This schedule's range mapped inversely onto ``[low, high]`` (momentum inverse to the LR)."""
        from lrkit.compose import Mirror

        return Mirror(self, low=low, high=high)

    # -- range ------------------------------------------------------------------------------
    def value_range(self) -> tuple[float, float]:
        """``(min, max)`` of the values the schedule takes (used by :meth:`mirror`)."""
        if not self.bounded:
            raise ScheduleError(
                f"{self.name}: the value range of an endless schedule is unknown: {self}"
            )
        self._check_bound()
        end = self.duration or 0.0
        count = (math.ceil(end)) + 1
        steps = (
            np.arange(count, dtype=np.float64)
            if count <= 2_000_001
            else np.linspace(0, end, 2_000_001)
        )
        values = self(np.append(steps, end))
        return float(np.min(values)), float(np.max(values))

    # -- text and dicts ---------------------------------------------------------------------
    def _text_args(self, skip: int = 0) -> list[str]:
        """The arguments of the text form, without the first ``skip`` fields (rendered elsewhere).

        Skipped fields are never rendered, so printing stays linear in the size of the tree.
        """
        args: list[str] = [""] * skip  # placeholders keep the positional bookkeeping right
        for field in dataclasses.fields(self)[skip:]:  # type: ignore[arg-type]
            value = getattr(self, field.name)
            has_default = field.default is not dataclasses.MISSING
            if has_default and _same(value, field.default):
                continue
            rendered = format_value(value)
            if field.name in self._positional and len(args) == self._positional.index(field.name):
                args.append(rendered)
            else:
                args.append(f"{field.name}={rendered}")
        return args[skip:]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self._text_args())})"

    def __repr__(self) -> str:
        return f"lrkit.parse({str(self)!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; ``lrkit.from_dict(s.to_dict()) == s``."""
        out: dict[str, Any] = {"type": self.name}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            out[field.name] = _encode(getattr(self, field.name))
        return out


def _same(value: object, default: object) -> bool:
    return (type(value) is type(default) and value == default) or (
        value is None and default is None
    )


def _find_share(value: object) -> str | None:
    if isinstance(value, Pct):
        return str(value)
    if isinstance(value, Schedule):
        return None if value.is_bound else str(value)
    if isinstance(value, tuple):
        for item in value:
            found = _find_share(item)
            if found is not None:
                return found
    return None


def _bind_value(value: object, total_steps: int) -> object:
    if isinstance(value, Pct):
        return value.resolve(total_steps)
    if isinstance(value, Schedule):
        return value.bind(total_steps)
    if isinstance(value, tuple):
        return tuple(_bind_value(item, total_steps) for item in value)
    return value


def format_value(value: object) -> str:
    """Render an argument in the text form (floats exactly, shares as ``"20%"``)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Pct):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, Schedule):
        return str(value)
    raise ScheduleTypeError(f"cannot write {value!r} in the text form")


def _encode(value: object) -> object:
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, Pct):
        return str(value)
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    return value

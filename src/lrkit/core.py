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
import reprlib
import sys
import warnings
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, ClassVar, Self, dataclass_transform, overload

import numpy as np

from lrkit import _limits, registry
from lrkit._validate import unknown_arguments
from lrkit.durations import MAX_STEPS, Duration, Pct, scalar, steps_of
from lrkit.errors import ScheduleError, ScheduleTypeError, UnboundScheduleError

__all__ = ["COMBINATORS", "METHODS", "Array", "Schedule", "from_dict", "namespace_of"]

Array = Any
"""An array of any array-API namespace (numpy, torch, jax)."""

_CHUNK = 65536
_BLOCK = 256

METHODS = ("repeat", "clip", "shift", "truncate", "mirror", "retarget")
"""Combinators written as a method call on a schedule (``s.clip(...)``); the text form accepts
exactly these (each is also a registry entry of the same name)."""

COMBINATORS: dict[str, Callable[..., Schedule]] = {}
"""Builders behind the operators and methods (``>>``, ``*``, ``+`` and :data:`METHODS`), filled by
:mod:`lrkit.compose` when it loads, so this module never imports the combinators."""


def _combinator(name: str) -> Callable[..., Schedule]:
    try:
        return COMBINATORS[name]
    except KeyError:  # pragma: no cover - lrkit/__init__ always loads lrkit.compose
        raise ScheduleError(f"{name}: lrkit.compose is not loaded") from None


def namespace_of(x: Array) -> Any:
    """The array-API namespace of ``x`` (plain ``numpy`` for numpy arrays)."""
    if isinstance(x, np.ndarray | np.generic):
        return np
    from lrkit._namespace import array_namespace

    return array_namespace(x)


def _is_torch(xp: Any) -> bool:
    return "torch" in getattr(xp, "__name__", "")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
class Schedule:
    """Base class of every lrkit schedule: a frozen value, a closed-form function of the step.

    Every subclass is made a frozen dataclass (value equality, hashing, pickling) when it is
    defined; ``class Foo(Schedule, name="foo", example="foo(...)")`` also registers it under
    ``name`` (see :mod:`lrkit.registry`), which puts it in the text form, ``from_dict``, the CLI and
    the contract tests. A subclass implements ``_eval(t, xp)`` on a float array ``t >= 0`` with
    array-API operations only, so the same code runs on numpy, torch and under ``jax.jit``.

    Class settings (``ClassVar``, never dataclass fields):

    * ``name``: the registered name (set by ``name=``).
    * ``_positional``: fields printed without ``name=`` in the text form, in order.
    * ``_length_field``: the field holding the schedule's own length (``"steps"``; ``None`` when
      the length is computed); a schedule is bounded when that field is not ``None``.

    A leaf in a few lines (CONTRIBUTING.md, "Add a leaf"):

    >>> import numpy as np
    >>> import lrkit
    >>> class Halving(lrkit.Schedule):
    ...     start: float
    ...     def _eval(self, t, xp):
    ...         return self.start * 0.5 ** xp.floor(t)
    >>> s = Halving(1.0)
    >>> s(3), s(np.arange(3)).tolist(), s == Halving(1.0)
    (0.125, [1.0, 0.5, 0.25], True)
    """

    name: ClassVar[str] = "schedule"
    _positional: ClassVar[tuple[str, ...]] = ()
    _length_field: ClassVar[str | None] = "steps"

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        kind: str = "leaf",
        example: str | None = None,
        factory: Callable[..., Any] | None = None,
        eq: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True, repr=False, eq=eq)(cls)
        # immutability comes from Schedule.__setattr__ (its message), not the generated methods
        for method in ("__setattr__", "__delattr__"):
            delattr(cls, method)
        _check_bounds_after_init(cls)
        if name is not None:
            if example is None:
                raise ScheduleTypeError(f"class {cls.__name__}: name={name!r} needs example=")
            cls.name = name
            registry.add(name, cls, kind=kind, example=example, factory=factory)

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(
            f"cannot assign to field {name!r}: schedules are values"
        )

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}: schedules are values")

    def _set_fields(self, **values: object) -> None:
        """Store validated field values from ``__post_init__`` (the dataclass is frozen)."""
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def _fields(self) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(self)  # type: ignore[arg-type]

    def _replace(self, **changes: object) -> Self:
        """A copy with some fields changed (validated again by ``__post_init__``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    @classmethod
    def _from_fields(cls, fields: Mapping[str, Any]) -> object:
        """Rebuild from the fields of :meth:`to_dict` (decoded); used by :func:`from_dict`."""
        return cls(**fields)

    # -- evaluation -------------------------------------------------------------------------
    def _eval(self, t: Array, xp: Any) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    @overload
    def __call__(self, t: float) -> float: ...

    @overload
    def __call__(self, t: Array) -> Array: ...

    def __call__(self, t: Any) -> Any:
        """Value at step ``t`` (scalar -> ``float``; array -> array of the same namespace)."""
        if isinstance(t, bool):
            raise ScheduleTypeError(f"{self.name}: step must be a number or an array, got {t!r}")
        self._check_bound()
        if isinstance(t, numbers.Real) and not isinstance(t, np.ndarray):
            try:
                step = float(t)
            except OverflowError:
                step = math.inf
            if not math.isfinite(step) or step < 0.0:
                raise ScheduleError(
                    f"{self.name}: step must be a finite number >= 0, got {reprlib.repr(t)}"
                )
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
        if not _concrete_steps_ok(t, xp):
            raise ScheduleError(f"{self.name}: steps must be finite numbers >= 0")
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
    def _length(self) -> Duration | None:
        """The value of the field named by ``_length_field`` (``None`` if there is none)."""
        if self._length_field is None:
            return None
        length: Duration | None = getattr(self, self._length_field, None)
        return length

    @property
    def bounded(self) -> bool:
        """Whether the schedule has an end (after which it holds its last value)."""
        return self._length() is not None

    @property
    def duration(self) -> float | None:
        """Number of steps until the schedule's end, ``None`` if it has none.

        Raises :class:`UnboundScheduleError` while a duration is still a share of training.
        """
        return steps_of(self._length())

    @property
    def _chain(self) -> int:
        """Parts of the ``>>`` chain this schedule is written as at its top level (1 for most).

        Counted as the text form counts a chain, so that whatever can be built can be printed and
        parsed back: :data:`lrkit._limits.MAX_CHAIN` limits both.
        """
        return 1

    def _text_shape(self) -> _limits.TextShape:
        """The :data:`lrkit._limits.TextShape` of ``str(self)`` (an upper bound), from those of
        the schedules it holds; this default is ``name(arg=..., ...)``."""
        kids = [kid for kid in _limits._children(self) if isinstance(kid, Schedule)]
        args = [_limits.text_cost(text_shape(kid)) for kid in kids]
        return (0, 0, 0, 0, 2 + max([6, *args]))  # literal arguments: lists of lists, signs

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
        if not 1 <= total_steps <= MAX_STEPS:
            raise ScheduleError(
                f"bind(): total_steps must be an int in [1, 2**53], got {reprlib.repr(total_steps)}"
            )
        if self.is_bound:
            return self
        changes = {
            field.name: _bind_value(getattr(self, field.name), int(total_steps))
            for field in self._fields()
        }
        return self._replace(**changes)

    # -- composition (built by lrkit.compose through COMBINATORS) ---------------------------
    def __rshift__(self, other: object) -> Schedule:
        """``a >> b``: ``a`` for its duration, then ``b`` from its own step 0."""
        if not isinstance(other, Schedule):
            return NotImplemented
        return _combinator("sequence")(self, other)

    # numpy defers ``array * schedule`` to the schedule (no element-wise object arrays)
    __array_ufunc__ = None

    def _operand(self, op: str, value: object) -> object:
        """A 0-d array as its number; an array or list is refused (``s * array`` is no schedule)."""
        value = scalar(value)
        if isinstance(value, list | tuple) or isinstance(getattr(value, "ndim", None), int):
            shape = getattr(
                value, "shape", (len(value),) if isinstance(value, list | tuple) else ()
            )
            raise ScheduleTypeError(
                f"{self.name} {op} k: k must be a number or a schedule, got an array of shape "
                f"{tuple(shape)}; to combine values with an array, evaluate first: "
                f"s(steps) {op} array"
            )
        return value

    def __mul__(self, factor: object) -> Schedule:
        """``s * k`` scales the values; ``a * b`` multiplies two schedules."""
        factor = self._operand("*", factor)
        if isinstance(factor, Schedule):
            return _combinator("product")(self, factor)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            return NotImplemented
        return _combinator("scale")(self, factor)  # scale() checks it (a huge int names factor)

    __rmul__ = __mul__

    def __add__(self, other: object) -> Schedule:
        """``a + b`` and ``s + k``: values added."""
        other = self._operand("+", other)
        if isinstance(other, bool) or not isinstance(other, Schedule | numbers.Real):
            return NotImplemented
        return _combinator("add")(self, other)

    __radd__ = __add__

    def repeat(self, mult: float = 1.0, decay: float = 1.0, cycles: int | None = None) -> Schedule:
        """Warm restarts (SGDR): replay this schedule, each period ``mult``× longer, peaks × ``decay``.

        Args:
          mult: each period is ``mult`` times longer than the one before (>= 1).
          decay: each period's values are ``decay`` times the one before (> 0).
          cycles: number of periods, ``None`` for endless.
        """
        return _combinator("repeat")(self, mult=mult, decay=decay, cycles=cycles)

    def clip(self, low: float | None = None, high: float | None = None) -> Schedule:
        """Values clipped into ``[low, high]``."""
        return _combinator("clip")(self, low=low, high=high)

    def shift(self, steps: int | str | Pct) -> Schedule:
        """Delay by ``steps``: ``s.shift(n)(t) == s(max(0, t - n))`` (negative ``n`` advances)."""
        return _combinator("shift")(self, steps)

    def truncate(self, steps: int | str | Pct) -> Schedule:
        """The first ``steps`` steps, then hold: ``s.truncate(n)(t) == s(min(t, n))``."""
        return _combinator("truncate")(self, steps)

    def mirror(self, low: float, high: float) -> Schedule:
        """This schedule's range mapped inversely onto ``[low, high]`` (momentum inverse to the LR)."""
        return _combinator("mirror")(self, low=low, high=high)

    def retarget(self, at: int, end: int, new_end: int) -> Schedule:
        """The budget changed at step ``at``: steps ``at..end`` stretched onto ``at..new_end``.

        See :class:`lrkit.compose.Retarget`: the value at ``at`` is kept and the old end value is
        reached at ``new_end``.

        Args:
          at: the step where the budget changes (an int >= 0).
          end: the old end of training (an int > ``at``).
          new_end: the new end of training (an int > ``at``).
        """
        return _combinator("retarget")(self, at=at, end=end, new_end=new_end)

    # -- range ------------------------------------------------------------------------------
    def _bounds_known(self) -> bool:
        return self.__dict__.get("_bounds_cache") is not None

    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` with ``low <= s(t) <= high`` at every step, in closed form.

        Exact (the smallest and largest value, or their limits for an endless decay) for the
        leaves and presets and for warm-ups, sequences, scaling, clipping and repeats of them; a
        product or sum combines its parts' bounds, and a truncation or a negative shift keeps
        its schedule's, so those may be loose. :meth:`mirror` maps these bounds onto its range and
        ``lrkit.torch.Scheduler`` checks momentum against ``[0, 1]`` with them.

        Checked once at construction: a schedule whose values could overflow to infinity cannot be
        built. ``(-inf, inf)`` when unknown (a duration still a share of training, or a custom leaf
        without ``_bounds``).

        >>> import lrkit
        >>> (lrkit.cosine(start=1.0, end=0.1, steps=10) * 0.5).bounds()
        (0.05, 0.5)
        """
        found = self.__dict__.get("_bounds_cache", _UNSET)
        if found is _UNSET:
            found = self._bounds()
            self.__dict__["_bounds_cache"] = found
        return (-math.inf, math.inf) if found is None else found

    def _bounds(self) -> tuple[float, float] | None:
        """Closed-form ``(low, high)`` of the values, ``None`` when unknown; raise
        :func:`overflow` naming the parameter when a bound exceeds the float range."""
        return None

    def value_range(self) -> tuple[float, float]:
        """Deprecated alias of :meth:`bounds` (to be removed in the next release).

        >>> import lrkit, warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", DeprecationWarning)
        ...     lrkit.constant(0.1).value_range()
        (0.1, 0.1)
        """
        warnings.warn(
            "Schedule.value_range() is deprecated and will be removed in the next release; use "
            "Schedule.bounds(), the closed-form (low, high)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.bounds()

    # -- text and dicts ---------------------------------------------------------------------
    def _text_args(self, skip: int = 0, without: tuple[str, ...] = ()) -> list[str]:
        """The arguments of the text form, without the first ``skip`` fields and those named in
        ``without`` (rendered elsewhere).

        Left-out fields are never rendered, so printing stays linear in the size of the tree.
        """
        args: list[str] = [""] * skip  # placeholders keep the positional bookkeeping right
        for field in dataclasses.fields(self)[skip:]:  # type: ignore[arg-type]
            if field.name in without:
                continue
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


def text_shape(schedule: Schedule) -> _limits.TextShape:
    """``schedule._text_shape()``, computed once per schedule (cached on it, not a field)."""
    found: _limits.TextShape | None = schedule.__dict__.get("_text_shape")
    if found is None:
        found = schedule._text_shape()
        schedule.__dict__["_text_shape"] = found
    return found


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


def from_dict(data: Mapping[str, Any]) -> Schedule:
    """The schedule stored by ``schedule.to_dict()`` (the inverse of :meth:`Schedule.to_dict`).

    Decoded without recursion; nesting is limited to ``MAX_DEPTH`` (100) schedule levels and
    ``MAX_NESTING`` (200) levels of dicts and lists (:mod:`lrkit._limits`).

    Args:
        data: a dict of primitives, as ``to_dict()`` returned it (``{"name": ..., fields}``).

    >>> import lrkit
    >>> s = lrkit.cosine(start=0.1, steps=100).repeat(mult=2.0)
    >>> lrkit.from_dict(s.to_dict()) == s
    True
    """
    _check_nesting(data)
    value = _decode(data)
    if not isinstance(value, Schedule):
        raise ScheduleTypeError(f"from_dict(): expected a schedule dict, got {reprlib.repr(data)}")
    return value


def _check_nesting(data: object) -> None:
    """Reject data nested beyond the limits, walking it without recursion."""
    from lrkit._limits import MAX_DEPTH, MAX_NESTING

    deepest: dict[int, tuple[int, int]] = {}
    stack: list[tuple[object, int, int]] = [(data, 0, 0)]
    while stack:
        value, schedules, containers = stack.pop()
        if isinstance(value, Mapping):
            schedules, containers = schedules + 1, containers + 1
            items = list(value.values())
        elif isinstance(value, list | tuple):
            containers += 1
            items = list(value)
        else:
            continue
        if schedules > MAX_DEPTH:
            raise ScheduleError(f"from_dict(): schedule nested deeper than {MAX_DEPTH} levels")
        if containers > MAX_NESTING:
            raise ScheduleError(
                f"from_dict(): nesting deeper than {MAX_NESTING} levels of dicts and lists"
            )
        seen = deepest.get(id(value))
        if seen is not None and seen[0] >= schedules and seen[1] >= containers:
            continue  # shared sub-structure already checked at this depth
        deepest[id(value)] = (schedules, containers)
        stack.extend((item, schedules, containers) for item in items)


def _decode(data: object) -> Any:
    """Dicts become schedules, lists tuples: bottom up, without recursion."""
    done: dict[int, Any] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        value, ready = stack.pop()
        if id(value) in done:
            continue
        if isinstance(value, Mapping):
            items = [item for key, item in value.items() if key != "type"]
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            done[id(value)] = value
            continue
        if not ready:
            stack.append((value, True))
            stack.extend((item, False) for item in items if id(item) not in done)
            continue
        if isinstance(value, Mapping):
            fields = {str(key): done[id(item)] for key, item in value.items() if key != "type"}
            done[id(value)] = _build(value, fields)
        else:
            done[id(value)] = tuple(done[id(item)] for item in items)
    return done[id(data)]


def _build(value: Mapping[Any, Any], fields: dict[str, Any]) -> object:
    """One decoded schedule dict: its class rebuilt from its (decoded) fields."""
    if "type" not in value:
        raise ScheduleError(
            f"from_dict(): a schedule dict needs a 'type' key, got {reprlib.repr(value)}"
        )
    entry = registry.get(str(value["type"]))
    if not (isinstance(entry.cls, type) and issubclass(entry.cls, Schedule)):
        raise ScheduleError(f"from_dict(): {value['type']!r} is an alias, not a stored type")
    for key, item in fields.items():
        if (isinstance(item, int) and not isinstance(item, bool) and abs(item) > _FLOAT_MAX) or (
            isinstance(item, float) and math.isinf(item)
        ):
            raise ScheduleError(
                f"from_dict(): {value['type']}.{key} is out of range: {reprlib.repr(item)} is "
                f"beyond the largest float ({_FLOAT_MAX:.4g})"
            )
    try:
        return entry.cls._from_fields(fields)
    except TypeError as err:
        if isinstance(err, ScheduleError) and not isinstance(err, _UnknownArgumentError):
            raise
        raise ScheduleTypeError(f"from_dict(): bad fields for {value['type']!r}: {err}") from None
    except ArithmeticError as err:
        raise ScheduleError(f"from_dict(): bad value for {value['type']!r}: {err}") from None


_FLOAT_MAX = sys.float_info.max

_UNSET = object()


def overflow(func: str, param: str, value: object, bound: float, detail: str = "") -> ScheduleError:
    """The error for a parameter that would make values overflow (``bound`` may be ``inf``)."""
    reach = "overflows the float range" if not math.isfinite(bound) else f"reaches {bound:g}"
    extra = f" ({detail})" if detail else ""
    return ScheduleError(
        f"{func}(): {param}={reprlib.repr(value)} makes the values overflow: their bound "
        f"{reach}{extra}, beyond the largest float {_FLOAT_MAX:.4g}"
    )


def finite_bounds(
    func: str, param: str, value: object, low: float, high: float, detail: str = ""
) -> tuple[float, float]:
    """``(low, high)``, or :func:`overflow` when either is not finite."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise overflow(func, param, value, high if not math.isfinite(high) else low, detail)
    return low, high


def _keyword_names(init: Callable[..., Any]) -> frozenset[str] | None:
    """The names ``init`` takes as keywords (None when it takes ``**kwargs``)."""
    import inspect

    params = list(inspect.signature(init).parameters.values())[1:]  # past self
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


class _UnknownArgumentError(ScheduleTypeError):
    """A keyword the schedule does not take (``from_dict`` names the fields it came from)."""


def _unknown_arguments(
    cls: type[Schedule], init: Callable[..., Any], kwargs: Mapping[str, Any]
) -> ScheduleTypeError:
    """The error for keywords ``init`` does not take (worded as the text form's)."""
    import inspect

    accepted = [n for n in list(inspect.signature(init).parameters)[1:] if not n.startswith("_")]
    return _UnknownArgumentError(unknown_arguments(cls.name, kwargs, accepted))


def _check_bounds_after_init(cls: type[Schedule]) -> None:
    """Wrap the dataclass ``__init__`` of ``cls``: compute the value bounds once it is built."""
    init = cls.__init__
    params = cls.__dict__["__dataclass_params__"]
    keywords = _keyword_names(init)

    def __init__(self: Schedule, *args: Any, **kwargs: Any) -> None:
        if cls.__dict__["__dataclass_params__"] is not params:
            raise ScheduleTypeError(
                f"class {cls.__name__}: remove its @dataclass decorator; a Schedule subclass is "
                "a frozen dataclass already (decorating it again was the 0.1 spelling)"
            )
        if keywords is not None and not keywords.issuperset(kwargs):
            raise _unknown_arguments(cls, init, kwargs)
        init(self, *args, **kwargs)
        if type(self) is cls:
            levels = _limits.depth(self, {})  # children keep theirs: O(number of children)
            if levels > _limits.MAX_DEPTH:
                raise ScheduleError(
                    f"{self.name}(): schedule nested deeper than {_limits.MAX_DEPTH} levels "
                    "(combinators inside combinators); real schedules need fewer than ten"
                )
            cost = _limits.text_cost(text_shape(self))
            if cost > _limits.MAX_PATH:
                raise ScheduleError(
                    f"{self.name}(): too large to be written in the text form: its chains and "
                    f"nesting reach {cost} along one path, more than {_limits.MAX_PATH}"
                )
            low, high = self.bounds()
            if (
                math.isnan(low)
                or math.isnan(high)
                or (self._bounds_known() and not (math.isfinite(low) and math.isfinite(high)))
            ):
                raise ScheduleError(
                    f"{self.name}(): the values can reach {high:g}, beyond the largest float "
                    f"{_FLOAT_MAX:.4g}: {self}"
                )

    __init__.__doc__ = init.__doc__
    __init__.__wrapped__ = init  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[method-assign,assignment]


def _concrete_steps_ok(t: Array, xp: Any) -> bool:
    """Whether a torch/jax step array holds finite numbers >= 0 (``True`` while traced/compiled)."""
    if _is_torch(xp):
        import torch

        if torch.compiler.is_compiling():
            return True
        return bool(torch.all(torch.isfinite(t) & (t >= 0))) if t.numel() else True
    try:
        return bool(xp.all(xp.isfinite(t) & (t >= 0)))
    except Exception:  # a jax tracer under jit: checked values are not available
        return True

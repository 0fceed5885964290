"""``lrkit.torch.Scheduler``: any lrkit schedule as a real ``torch.optim.lr_scheduler.LRScheduler``."""

from __future__ import annotations

import functools
import warnings
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

import lrkit
from lrkit._binding import check_total_steps
from lrkit.core import _BLOCK
from lrkit.errors import ScheduleError, ScheduleTypeError, UnboundScheduleError
from lrkit.plateau import Plateau
from lrkit.torch import _specs, _state
from lrkit.torch._specs import GroupSpec, ScheduleArg, ScheduleLike, Spec, assign, fail, to_float
from lrkit.torch.distributed import mean_across_ranks

__all__ = ["GroupSpec", "ScheduleArg", "ScheduleLike", "Scheduler"]

_CALL_ORDER_OVERRIDDEN = (
    "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
    "initialization. Please, make sure to call `optimizer.step()` before `lr_scheduler.step()`. "
    "See more details at https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)
_CALL_ORDER_WRONG = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and "
    "later, you should call them in the opposite order: `optimizer.step()` before "
    "`lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the first value "
    "of the learning rate schedule. See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)


_RUN = 4096  # steps evaluated at once while stepping on (a multiple of the core's _BLOCK)


def _check_total(total_steps: object) -> int | Literal["auto"] | None:
    if total_steps is None or total_steps == "auto":
        return total_steps
    return check_total_steps(
        "Scheduler", total_steps, most=_state.MAX_STEP, also=", 'auto' or None"
    )


def _check_step(where: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _state.MAX_STEP:
        raise ScheduleTypeError(
            f"{where}: {name}={value!r} is invalid; pass an int in [0, 2**52] "
            "(metrics go to Scheduler.report(metric))"
        )
    return value


def _unbound_error() -> UnboundScheduleError:
    return UnboundScheduleError(
        "Scheduler.step: the scheduler was built with total_steps='auto' and is not bound yet; "
        "call bind_total_steps(n) first (the lrkit Hugging Face and Lightning callbacks do it at "
        "train start)"
    )


def _retargeted(specs: list[Spec], retargets: list[tuple[int, int, int]]) -> list[Spec]:
    """``specs`` with every ``(at, end, new_end)`` time warp of :meth:`Scheduler.retarget`
    (none where ``at == end``: a budget raised once the old one was used up leaves the schedules
    as they are, holding or continuing past their end)."""
    for at, end, new_end in retargets:
        if at == end:
            continue
        specs = [
            {k: s.retarget(at=at, end=end, new_end=new_end) for k, s in spec.items()}
            for spec in specs
        ]
    return specs


def _eager_under_compile(fn: Callable[..., None]) -> Callable[..., None]:
    """``fn`` as is, but run eagerly (``torch.compiler.disable``) when traced by torch.compile."""
    eager = torch.compiler.disable(fn)  # type: ignore[no-untyped-call]

    @functools.wraps(fn)
    def method(*args: Any, **kwargs: Any) -> None:
        if torch.compiler.is_dynamo_compiling():
            eager(*args, **kwargs)
            return
        fn(*args, **kwargs)

    return method


class Scheduler(LRScheduler):
    r"""Drive optimizer hyper-parameters from closed-form lrkit schedules.

    ``schedule`` is one schedule (an :class:`lrkit.Schedule` or its text) for entry ``key`` of
    every param group, a dict ``{"lr": s1, "momentum": s2, "weight_decay": s3}``, or a list with
    one such entry per param group. ``"momentum"`` means ``betas[0]`` for Adam-family optimizers.

    ``total_steps`` binds durations given as shares of training (``"20%"``); ``"auto"`` leaves
    them unbound until :meth:`bind_total_steps` (the Hugging Face and Lightning callbacks call it
    at train start). ``as_tensors=True`` turns the driven float entries (``lr``, ``betas``,
    ``momentum``, ``weight_decay``) into 0-d tensors on the parameters' device, once, so a
    compiled optimizer step never sees a changing Python float.

    As every PyTorch scheduler: the values of step 0 are written at construction, call
    :meth:`step` after ``optimizer.step()``; ``last_epoch`` is the step whose values are in the
    optimizer. The value at step ``t`` is ``schedule(t)`` (times the reductions of ``plateau``,
    for ``"lr"``, see :class:`lrkit.Plateau`); it never depends on earlier values, so resuming
    is exact. Entries held as tensors are updated in place with ``fill_`` (no new tensor, no
    host synchronisation), so compiled steps and CUDA graphs see every change. Under
    ``torch.compile`` :meth:`step` runs eagerly, as PyTorch's own schedulers do.

    ``state_dict()`` holds only primitives (the schedules as text), so it loads with
    ``torch.load(..., weights_only=True)``.

    Args:
        optimizer: the optimizer whose ``param_groups`` are driven.
        schedule: one schedule for every group, a ``{key: schedule}`` dict, or one per group.
        total_steps: binds shares of training; ``"auto"`` binds later; ``None``: none needed.
        key: the entry a single schedule drives (default ``"lr"``).
        plateau: a :class:`lrkit.Plateau` scaling ``"lr"``, fed by :meth:`report`.
        as_tensors: turn the driven float entries into 0-d tensors at construction.

    >>> import torch, lrkit
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    >>> sched = Scheduler(opt, lrkit.linear(0.1, 0.0, steps=4))
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(sched.get_last_lr()[0])
    ...     opt.step()
    ...     sched.step()
    >>> [round(v, 6) for v in lrs]
    [0.1, 0.075, 0.05, 0.025, 0.0]
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: ScheduleArg,
        *,
        total_steps: int | Literal["auto"] | None = None,
        key: str = "lr",
        plateau: Plateau | None = None,
        as_tensors: bool = False,
    ) -> None:
        self._check_arguments(optimizer, key, plateau, as_tensors)
        total = _check_total(total_steps)
        groups = optimizer.param_groups
        raw, self._shared = _specs.normalise(schedule, len(groups), key)
        if plateau is not None and not any("lr" in spec for spec in raw):
            raise ScheduleError(
                "Scheduler: plateau is given but no schedule drives 'lr'; the plateau controller "
                "scales the 'lr' schedule"
            )
        _specs.check_targets(groups, raw)
        self._auto = total == "auto"
        self._raw = raw
        self._retargets: list[tuple[int, int, int]] = []
        self._specs: list[Spec] | None = None
        self._install(None if total == "auto" else self._bound(total))
        # a drop-in (compat OneCycleLR) may have set ``self.total_steps`` before this call
        preset = None if self._auto else getattr(self, "_total", None)
        self._total: int | None = total if isinstance(total, int) else preset
        self._plateau = plateau
        if as_tensors:
            _specs.make_tensors(groups, raw)
        # LRScheduler.__init__ with last_epoch=-1 never needs 'initial_lr' (PyTorch #160626); it
        # wraps optimizer.step for the call-order warning and performs step 0 via self.step().
        super().__init__(optimizer)
        self._set_base_lrs()
        self._next_step = -1  # the user's first step goes through _prepare (call-order check)

    @staticmethod
    def _check_arguments(
        optimizer: object, key: object, plateau: object, as_tensors: object
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ScheduleTypeError(
                f"Scheduler: optimizer={type(optimizer).__name__} is invalid; "
                "optimizer must be a torch.optim.Optimizer"
            )
        if not isinstance(key, str) or not key or key == "params":
            raise fail("key", key, "the name of a param-group entry such as 'lr' or 'momentum'")
        if plateau is not None and not isinstance(plateau, Plateau):
            raise ScheduleTypeError(
                f"Scheduler: plateau={plateau!r} is invalid; plateau must be an lrkit.Plateau"
            )
        if not isinstance(as_tensors, bool):
            raise fail("as_tensors", as_tensors, "True or False")

    def _bound(self, total: int | Literal["auto"] | None) -> list[Spec]:
        """The raw specs bound to ``total`` and checked (values in range, lengths)."""
        assert total != "auto"
        specs = _specs.bind(self._raw, total)
        _specs.check_values(specs, total)
        return specs

    def _set_base_lrs(self) -> None:
        groups = self.optimizer.param_groups
        specs = self._specs
        self.base_lrs = [
            float(specs[gi]["lr"](0))
            if specs is not None and "lr" in specs[gi]
            else to_float(group.get("initial_lr", group["lr"]))
            for gi, group in enumerate(groups)
        ]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass's own ``step`` runs eagerly under ``torch.compile`` too (no recompiles)."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("step")
        if callable(own):
            cls.step = _eager_under_compile(own)  # type: ignore[method-assign]

    # what ``step`` follows (set by ``_install`` and ``_seek``)
    _cursors: list[_Cursor]
    _lr_not_driven: list[int]
    _last_group: dict[str, Any] | None
    _next_step: int

    #: set once ``step`` ran under torch.compile and said whether it writes Python floats
    _float_warning_given = False

    # -- what is driven ------------------------------------------------------------------------
    @property
    def schedules(self) -> list[dict[str, lrkit.Schedule]]:
        """The schedule of every param group, ``[{key: schedule}, ...]`` (unbound while "auto")."""
        return [dict(spec) for spec in (self._raw if self._specs is None else self._specs)]

    @property
    def schedule(
        self,
    ) -> lrkit.Schedule | Mapping[str, lrkit.Schedule] | Sequence[Mapping[str, lrkit.Schedule]]:
        """The lr schedule: the one spec shared by every group (its schedule if it drives one
        key, else the ``{key: schedule}`` dict), or group 0's ``"lr"`` schedule."""
        specs = self.schedules
        first = specs[0]
        if all(_specs.texts([s]) == _specs.texts([first]) for s in specs[1:]):
            return next(iter(first.values())) if len(first) == 1 else first
        return first.get("lr", first)

    @property
    def plateau(self) -> Plateau | None:
        """The plateau controller scaling ``"lr"``, if any."""
        return self._plateau

    @property
    def total_steps(self) -> int | None:
        """The number of steps the schedules were bound to; ``None`` while ``"auto"`` is unbound.

        A scheduler built without ``total_steps`` has no such attribute (``hasattr`` is False),
        as accelerate's ``AcceleratedScheduler`` caps steps by it when present.
        """
        if self._total is None and not self._auto:
            raise AttributeError(
                "Scheduler.total_steps: this scheduler was built without total_steps (its "
                "schedules have fixed lengths); pass total_steps=<n> or 'auto' to set one"
            )
        return self._total

    @total_steps.setter
    def total_steps(self, value: int) -> None:
        self._total = _check_step("Scheduler.total_steps", "total_steps", value)

    def bind_total_steps(self, total_steps: int) -> None:
        """Bind a ``total_steps="auto"`` scheduler to ``total_steps`` and write step 0's values.

        Binding again to the same number does nothing; another number is an error (use
        :meth:`retarget` to change the budget of a bound run).
        """
        total = _check_total(total_steps)
        if total is None or total == "auto":
            raise fail("total_steps", total_steps, "an int >= 1")
        if self._total is not None:
            if total == self._total:
                return
            raise ScheduleError(
                f"Scheduler.bind_total_steps: total_steps={total} but the scheduler is already "
                f"bound to {self._total}; use retarget({total}) to change the budget mid-run"
            )
        if not self._auto:
            raise ScheduleError(
                "Scheduler.bind_total_steps: this scheduler was built without "
                "total_steps='auto'; its schedules have fixed lengths"
            )
        self._install(self._bound(total))
        self._total = total
        self._set_base_lrs()
        self._rewrite()

    def retarget(self, total_steps: int) -> None:
        """Change the budget at the current step ``k``: the rest of every schedule (steps
        ``k .. old total``) is stretched or squeezed onto ``k .. total_steps``.

        Each schedule ``s`` becomes ``s.retarget(at=k, end=old_total, new_end=total_steps)``
        (a combinator of the schedule algebra), so ``state_dict()`` carries it and resuming is
        exact. Values before ``k`` and the value at ``k`` are unchanged. A run that used up its
        old budget (``k == old_total``, e.g. resumed from its last checkpoint) has nothing left
        to stretch: its schedules go on as they are (holding their last value) to the new total.
        """
        total = _check_total(total_steps)
        if total is None or total == "auto":
            raise fail("total_steps", total_steps, "an int >= 1")
        specs, old = self._specs, self._total
        if specs is None or old is None:
            raise ScheduleError(
                "Scheduler.retarget: the scheduler has no total_steps to change; build it with "
                "total_steps=<n> (or bind an 'auto' one with bind_total_steps(n)) first"
            )
        k = self.last_epoch
        if total <= k or k > old:
            raise fail(
                "total_steps",
                total,
                f"an int > the current step {k} (and the current step must be <= the old "
                f"total_steps={old})",
            )
        if total == old:
            return
        self._install(_retargeted(specs, [(k, old, total)]))
        self._retargets.append((k, old, total))
        self._total = total

    # -- stepping ------------------------------------------------------------------------------
    def step(self, epoch: int | None = None) -> None:
        """Advance one step (call after ``optimizer.step()``); ``step(t)`` jumps to step ``t``.

        Each driven entry has a cursor over its schedule's values; writing the step after the
        last one written reads each cursor's next value. Any other step (``step(t)``, a write to
        ``last_epoch``, a loaded state) and changed param groups (``add_param_group``,
        ``optimizer.load_state_dict``) first point new cursors at it.
        """
        if torch.compiler.is_dynamo_compiling():
            # traced by torch.compile: run eagerly instead (a graph break, as for PyTorch's own
            # schedulers), so no guard ever sees the step counter and nothing recompiles
            _step_eagerly(self, epoch)
            return
        t = self.last_epoch + 1 if epoch is None else _check_step("Scheduler.step", "epoch", epoch)
        if t != self._next_step or self.optimizer.param_groups[-1] is not self._last_group:
            self._prepare(t)  # also the user's first step: the call-order check lives there
        self._step_count += 1
        self.last_epoch = t
        lrs = self._last_lr  # one float per group, updated in place (get_last_lr copies it)
        for cursor in self._cursors:
            try:
                value = next(cursor.values)
            except StopIteration:  # the end of the block
                value = cursor.refill()
            if cursor.plain:  # a Python float that no plateau scales
                cursor.group[cursor.key] = value
            else:
                value = self._write_entry(cursor, value)
            if cursor.is_lr:
                lrs[cursor.gi] = value
        if self._lr_not_driven:  # groups whose lr no schedule drives: report what they hold
            for gi in self._lr_not_driven:
                lrs[gi] = to_float(self.optimizer.param_groups[gi]["lr"])
        self._next_step = t + 1

    def _prepare(self, t: int) -> None:
        """Before writing a step that is not the next one: checks, then new cursors at ``t``."""
        if self._step_count == 1:
            self._warn_call_order()
        if self._specs is None and self._step_count > 0:
            raise _unbound_error()
        self._seek(t)

    def _warn_call_order(self) -> None:
        """PyTorch's call-order check (https://github.com/pytorch/pytorch/issues/20124)."""
        if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
            warnings.warn(_CALL_ORDER_OVERRIDDEN, UserWarning, stacklevel=3)
        elif not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(_CALL_ORDER_WRONG, UserWarning, stacklevel=3)

    def _extend_to_new_groups(self, specs: list[Spec]) -> None:
        """Give param groups added with ``add_param_group`` since construction the shared spec."""
        groups = self.optimizer.param_groups
        if not self._shared or len(groups) < len(specs):
            raise ScheduleError(
                f"Scheduler.step: the optimizer has {len(groups)} param groups but the schedule "
                f"list has {len(specs)} entries (one per group at construction); groups "
                f"{list(range(len(specs), len(groups)))} were added later. Build the "
                "Scheduler after add_param_group, or give one schedule shared by every group"
            )
        new = [dict(specs[0]) for _ in range(len(groups) - len(specs))]
        _specs.check_targets(groups[len(specs) :], new)
        self._raw = self._raw + [dict(self._raw[0]) for _ in new]
        self._install(specs + new)
        self.base_lrs = list(self.base_lrs) + [
            float(s["lr"](0)) if "lr" in s else to_float(g["lr"])
            for s, g in zip(new, groups[len(specs) :], strict=True)
        ]

    def _write_entry(self, cursor: _Cursor, value: float) -> float:
        """Write ``value`` (times the plateau's scale for ``"lr"``) into a tensor entry in place,
        Adam's ``betas`` or a float entry; return the value written."""
        if cursor.is_lr and self._plateau is not None:
            value = self._plateau.apply(value, cursor.gi)
        assign(cursor.group, cursor.key, value)
        return value

    def _rewrite(self) -> None:
        """Write the values of the current step (``last_epoch``) again, in closed form: after a
        plateau reduction, a loaded state or a bound budget (``step``'s cursors stay put)."""
        groups = self.optimizer.param_groups
        if self._specs is None:  # 'auto' and not bound: nothing is driven yet
            rows: list[dict[str, float]] = [{} for _ in groups]
        else:
            if len(groups) != len(self._specs):
                self._extend_to_new_groups(self._specs)
            rows = self.values_at(self.last_epoch)
        for group, row in zip(groups, rows, strict=True):
            for key, value in row.items():
                assign(group, key, value)  # tensors in place, betas
        self._last_lr = [
            row["lr"] if "lr" in row else to_float(group["lr"])
            for group, row in zip(groups, rows, strict=True)
        ]

    def _seek(self, t: int) -> None:
        """Point a new cursor at step ``t`` for every driven entry of the optimizer's groups."""
        groups = self.optimizer.param_groups
        # step() fills this list in place, one lr per group: a fresh one of the right length
        self._last_lr = [to_float(g["lr"]) for g in groups]
        if self._specs is None:  # 'auto' and not bound: nothing is driven yet
            self._cursors, self._lr_not_driven = [], list(range(len(groups)))
            self._last_group = None  # seek at every write
            return
        if len(groups) != len(self._specs):
            self._extend_to_new_groups(self._specs)
        scaled = self._plateau is not None
        self._cursors = [
            _Cursor(groups[gi], gi, key, s, t, scaled=scaled and key == "lr")
            for gi, key, s in self._plan
        ]
        self._lr_not_driven = [gi for gi, spec in enumerate(self._specs) if "lr" not in spec]
        self._last_group = groups[-1]

    def _install(self, specs: list[Spec] | None) -> None:
        """Set the bound specs and the flat list of driven entries, ``(group, key, schedule)``."""
        self._specs = specs
        self._plan = [(gi, k, s) for gi, spec in enumerate(specs or []) for k, s in spec.items()]
        self._last_group = None
        self._next_step = -1  # the next write seeks

    # -- values ----------------------------------------------------------------------------
    def values_at(self, step: int) -> list[dict[str, float]]:
        """The values written at ``step`` for every group, ``[{key: value}, ...]``."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise fail("step", step, "an int >= 0")
        if self._specs is None:
            raise ScheduleError("Scheduler.values_at: call bind_total_steps(n) first")
        out: list[dict[str, float]] = []
        for gi, spec in enumerate(self._specs):
            row = {k: float(s(step)) for k, s in spec.items()}
            if "lr" in row and self._plateau is not None:
                row["lr"] = self._plateau.apply(row["lr"], gi)
            out.append(row)
        return out

    def get_lr(self) -> list[float | torch.Tensor]:
        """The LRs of the current step (``last_epoch``), computed in closed form."""
        if self._specs is None:
            return [to_float(g["lr"]) for g in self.optimizer.param_groups]
        return [
            row["lr"] if "lr" in row else to_float(g["lr"])
            for row, g in zip(
                self.values_at(self.last_epoch), self.optimizer.param_groups, strict=True
            )
        ]

    def get_last_lr(self) -> list[float | torch.Tensor]:
        """The LRs written by the last :meth:`step` (floats, one per param group)."""
        return list(self._last_lr)

    # -- plateau -----------------------------------------------------------------------------
    def report(self, metric: Any, *, sync: bool = True) -> bool:
        """Give the plateau controller one evaluation of the metric; return whether LR dropped.

        When ``torch.distributed`` is initialised the metric is first averaged over all ranks
        (``sync=False`` turns that off), so every rank takes the same decision. A reduction
        takes effect at once, at the current step.
        """
        if self._plateau is None:
            raise ScheduleError(
                "Scheduler.report: this scheduler has no plateau controller; construct it with "
                "plateau=lrkit.Plateau(...)"
            )
        if torch.compiler.is_dynamo_compiling():
            return bool(_report_eagerly(self, metric, sync=sync))
        value = mean_across_ranks(metric) if sync else to_float(metric)
        reduced = self._plateau.report(value)
        if reduced:
            self._rewrite()
        return reduced

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The state as primitives: step counters, schedule texts, budget and plateau state."""
        return {
            "format": _state.FORMAT,
            "version": _state.VERSION,
            "last_epoch": int(self.last_epoch),
            "_step_count": int(self._step_count),
            "total_steps": self._total,
            "schedules": _specs.texts(self.schedules),
            "retargets": [list(r) for r in self._retargets],
            "plateau": None if self._plateau is None else self._plateau.state_dict(),
            "base_lrs": [to_float(v) for v in self.base_lrs],
            "_last_lr": [to_float(v) for v in self._last_lr],
        }

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> None:
        """Restore :meth:`state_dict` output and write that step's values into the optimizer.

        Everything is checked before anything changes: a malformed state is one ValueError
        naming the key, and the scheduler stays as it was. A saved schedule (or plateau
        controller) that differs from this scheduler's is an error; with ``strict=False`` the
        saved text is parsed with :func:`lrkit.parse` and used instead. A budget set with
        :meth:`bind_total_steps` or changed with :meth:`retarget` is restored.
        """
        saved = _state.check(state_dict, len(self.optimizer.param_groups))
        specs, own = self._specs_to_load(saved, strict)
        plateau = self._plateau_to_load(saved.plateau, strict)
        if plateau is self._plateau and plateau is not None and saved.plateau is not None:
            plateau.load_state_dict(saved.plateau, strict=strict)
        # nothing below can fail: commit
        self._plateau = plateau
        if own:
            self._retargets = list(saved.retargets)
        else:  # not strict: the saved schedules replace this scheduler's own
            assert specs is not None
            self._raw, self._retargets, self._auto = [dict(s) for s in specs], [], False
        self._install(specs)
        self._total = saved.total_steps
        self.last_epoch = saved.last_epoch
        self._step_count = saved.step_count
        if saved.base_lrs is not None:
            self.base_lrs = list(saved.base_lrs)
        self._rewrite()

    def _specs_to_load(
        self, saved: _state.SavedState, strict: bool
    ) -> tuple[list[Spec] | None, bool]:
        """The specs the saved state drives and whether they are this scheduler's own (checked
        equal; ``None``: an unbound 'auto' state) or, not strict, the saved texts. Raises before
        anything changes."""
        where = "Scheduler.load_state_dict"
        base_total = saved.retargets[0][1] if saved.retargets else saved.total_steps
        if base_total is None and self._auto and _specs.texts(self._raw) == saved.schedules:
            return None, True
        try:
            mine = _retargeted(_specs.bind(self._raw, base_total), saved.retargets)
        except (lrkit.ScheduleError, ValueError):
            mine = None
        own_total = self._retargets[0][1] if self._retargets else self._total
        same_budget = self._auto or own_total is None or own_total == base_total
        if same_budget and mine is not None and _specs.texts(mine) == saved.schedules:
            return mine, True
        if strict:
            current = _specs.texts(self.schedules)
            diffs = [
                f"group {gi}: saved {s!r} != current {m!r}"
                for gi, (s, m) in enumerate(zip(saved.schedules, current, strict=True))
                if s != m
            ] or [f"saved total_steps={base_total} != this scheduler's {own_total}"]
            raise ScheduleError(
                f"{where}: the saved schedule differs from this scheduler's: "
                + "; ".join(diffs)
                + "; pass strict=False to use the saved schedule"
            )
        try:
            specs = [{k: lrkit.parse(t) for k, t in row.items()} for row in saved.schedules]
        except lrkit.ScheduleError as err:
            raise ScheduleError(
                f"{where}: state_dict['schedules']={saved.schedules!r} is invalid; expected "
                f"lrkit schedule texts ({err})"
            ) from None
        _specs.check_targets(self.optimizer.param_groups, specs)
        _specs.bind(specs, None)  # the saved texts must be bound
        return specs, False

    def _plateau_to_load(self, saved: Mapping[str, Any] | None, strict: bool) -> Plateau | None:
        """The plateau controller after loading (a new one only when not strict)."""
        where = "Scheduler.load_state_dict"
        if saved is None:
            if self._plateau is not None and strict:
                raise ScheduleError(
                    f"{where}: the state has no plateau controller but this scheduler has one; "
                    "pass strict=False to drop it"
                )
            return None
        if self._plateau is None and strict:
            raise ScheduleError(
                f"{where}: the state has a plateau controller but this scheduler has none; "
                "pass strict=False to use the saved one"
            )
        try:
            # checks the saved state on a copy (of this scheduler's kind of controller)
            kind = Plateau if self._plateau is None else type(self._plateau)
            fresh = kind.from_state_dict(saved)
        except (KeyError, TypeError, ValueError) as err:
            raise ScheduleError(
                f"{where}: state_dict['plateau'] is invalid; expected a Plateau.state_dict() "
                f"({err})"
            ) from None
        if self._plateau is None:
            return fresh
        if strict and fresh.config() != self._plateau.config():
            self._plateau.load_state_dict(saved, strict=True)  # raises its own message
        return self._plateau

    def __repr__(self) -> str:
        return (
            f"Scheduler(schedules={_specs.texts(self.schedules)}, last_epoch={self.last_epoch}, "
            f"total_steps={self._total}, plateau={self._plateau})"
        )


class _Cursor:
    """One driven entry, ``group[key]``, and an iterator over its schedule's values from step ``t``.

    The values are evaluated a block at a time with ``schedule._eval`` (element-wise, so each is
    ``schedule(step)`` bit for bit): from ``t`` to the next multiple of ``_BLOCK`` (the core's block,
    so a jump costs little), then ``_RUN`` steps at a time. How the entry is written is decided
    here, from what the group holds: a Python float (``plain``, no plateau) is replaced; a tensor
    (filled in place), Adam's ``betas`` or a plateau-scaled lr go through ``_write_entry``.
    """

    __slots__ = ("gi", "group", "is_lr", "key", "plain", "schedule", "start", "values")

    def __init__(
        self,
        group: dict[str, Any],
        gi: int,
        key: str,
        schedule: lrkit.Schedule,
        t: int,
        *,
        scaled: bool,
    ) -> None:
        self.group, self.gi, self.key, self.schedule = group, gi, key, schedule
        self.is_lr = key == "lr"
        self.plain = type(group.get(key)) is float and not scaled
        self.start = t - t % _BLOCK + _BLOCK  # the first step of the next block
        self.values = iter(self._evaluate(t, self.start))

    def _evaluate(self, begin: int, end: int) -> array[float]:
        # an array.array yields its doubles as Python floats, made one at a time as they are read
        values = self.schedule._eval(np.arange(begin, end, dtype=np.float64), np)
        return array("d", np.ascontiguousarray(values, dtype=np.float64).tobytes())

    def refill(self) -> float:
        """Evaluate the next block and return its first value."""
        begin, self.start = self.start, self.start + _RUN
        self.values = iter(self._evaluate(begin, self.start))
        value: float = next(self.values)
        return value


#: What ``step``/``report`` call when traced by ``torch.compile``: the same methods, run eagerly
#: (``torch.compiler.disable``); eager calls skip this wrapper, which costs about a microsecond.
@torch.compiler.disable  # type: ignore[untyped-decorator]
def _step_eagerly(sched: Scheduler, epoch: int | None) -> None:
    """``Scheduler.step`` called from code that torch.compile traces: run it eagerly, and say
    once if it writes Python floats, on which a compiled optimizer step guards (recompiles)."""
    if not sched._float_warning_given:
        sched._float_warning_given = True
        floats = _specs.float_targets(sched.optimizer.param_groups, sched._plan)
        if floats:
            warnings.warn(
                f"lrkit.torch.Scheduler under torch.compile writes Python floats into {floats}; "
                "the compiled optimizer step guards on them and recompiles when they change. "
                "Hold them as tensors: Scheduler(..., as_tensors=True)",
                UserWarning,
                stacklevel=2,
            )
    Scheduler.step(sched, epoch)


_report_eagerly = torch.compiler.disable(Scheduler.report)  # type: ignore[no-untyped-call]

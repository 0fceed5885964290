"""``lrkit.torch.Scheduler``: any lrkit schedule as a real ``torch.optim.lr_scheduler.LRScheduler``."""

from __future__ import annotations

import itertools
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

import lrkit
from lrkit.plateau import Plateau
from lrkit.torch.distributed import mean_across_ranks

__all__ = ["CHUNK", "Scheduler"]

#: Steps evaluated at once by the vectorised core; ``step()`` then only writes dict entries.
CHUNK = 4096
_FORMAT = "lrkit.torch.Scheduler"
_VERSION = 1
_BETAS = "betas"

ScheduleLike: TypeAlias = lrkit.Schedule | str
GroupSpec: TypeAlias = ScheduleLike | Mapping[str, ScheduleLike]
ScheduleArg: TypeAlias = GroupSpec | Sequence[GroupSpec]


def _err(param: str, value: object, allowed: str) -> ValueError:
    return ValueError(f"Scheduler: {param}={value!r} is invalid; {param} must be {allowed}")


def _as_schedule(obj: object, where: str, total_steps: int | None) -> lrkit.Schedule:
    if isinstance(obj, str):
        s = lrkit.parse(obj)
    elif isinstance(obj, lrkit.Schedule):
        s = obj
    else:
        raise TypeError(
            f"Scheduler: {where}={obj!r} is invalid; it must be an lrkit.Schedule or lrkit text "
            "such as 'warmup(100) >> cosine(start=0.1, steps=900)'"
        )
    if total_steps is not None:
        s = s.bind(total_steps)
    if not s.is_bound:
        raise ValueError(
            f"Scheduler: {where}={str(s)!r} has durations given as shares of training ('%'); "
            "pass total_steps=<number of scheduler steps> to bind them"
        )
    return s


def _as_group_spec(obj: object, key: str, where: str, total_steps: int | None) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        if not obj:
            raise _err(where, dict(obj), "a non-empty dict {key: schedule}")
        out: dict[str, lrkit.Schedule] = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise _err(f"{where} key", k, "a str naming a param-group entry ('lr', ...)")
            out[k] = _as_schedule(v, f"{where}[{k!r}]", total_steps)
        return out
    return {key: _as_schedule(obj, where, total_steps)}


def _normalise(
    schedule: object, n_groups: int, key: str, total_steps: int | None
) -> list[dict[str, lrkit.Schedule]]:
    if isinstance(schedule, Sequence) and not isinstance(schedule, str):
        if len(schedule) != n_groups:
            raise ValueError(
                f"Scheduler: schedule is a list of {len(schedule)} entries but the optimizer has "
                f"{n_groups} param groups; give one entry per group (or one schedule for all)"
            )
        return [
            _as_group_spec(s, key, f"schedule[{i}]", total_steps) for i, s in enumerate(schedule)
        ]
    spec = _as_group_spec(schedule, key, "schedule", total_steps)
    return [dict(spec) for _ in range(n_groups)]


def _target(group: Mapping[str, Any], key: str, gi: int) -> str:
    """The param-group entry that ``key`` writes: ``momentum`` is ``betas[0]`` for Adam."""
    if key == "momentum" and _BETAS in group:
        return _BETAS
    if key not in group:
        raise ValueError(
            f"Scheduler: key {key!r} is not an entry of optimizer.param_groups[{gi}] "
            f"(entries: {sorted(k for k in group if k != 'params')})"
        )
    return key


def _disarm_hook(ref: weakref.ReferenceType[Scheduler]) -> Callable[[Any], None]:
    """An optimizer load_state_dict post hook: its new param-group dicts need a re-arm."""

    def hook(optimizer: Any) -> None:
        sched = ref()
        if sched is not None:
            sched._invalidate()

    return hook


def _to_float(v: Any) -> float:
    return float(v.item()) if isinstance(v, torch.Tensor) else float(v)


class Scheduler(LRScheduler):
    r"""Drive optimizer hyper-parameters from closed-form lrkit schedules.

    ``schedule`` is one schedule (an :class:`lrkit.Schedule` or its text) for entry ``key`` of
    every param group, a dict ``{"lr": s1, "momentum": s2, "weight_decay": s3}``, or a list with
    one such entry per param group. ``"momentum"`` means ``betas[0]`` for Adam-family optimizers.
    ``total_steps`` binds durations given as shares of training (``"20%"``).

    As every PyTorch scheduler: the values of step 0 are written at construction, call
    :meth:`step` after ``optimizer.step()``; ``last_epoch`` is the step whose values are in the
    optimizer. The value at step ``t`` is ``schedule(t)`` (times the reductions of ``plateau``,
    for ``"lr"``, see :class:`lrkit.Plateau`); it never depends on earlier values, so resuming
    is exact. Values are computed 4096 steps at a time with the vectorised core, so ``step()``
    only writes the param-group entries. LRs held as tensors (``capturable`` optimizers) are
    updated in place with ``fill_``.

    ``state_dict()`` holds only primitives (the schedules as text), so it loads with
    ``torch.load(..., weights_only=True)``.

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
        total_steps: int | None = None,
        key: str = "lr",
        plateau: Plateau | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"Scheduler: optimizer={type(optimizer).__name__} is invalid; "
                "optimizer must be a torch.optim.Optimizer"
            )
        if total_steps is not None and (
            isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1
        ):
            raise _err("total_steps", total_steps, "an int >= 1 or None")
        if not isinstance(key, str) or not key or key == "params":
            raise _err("key", key, "the name of a param-group entry such as 'lr' or 'momentum'")
        if plateau is not None and not isinstance(plateau, Plateau):
            raise TypeError(
                f"Scheduler: plateau={plateau!r} is invalid; plateau must be an lrkit.Plateau"
            )
        groups = optimizer.param_groups
        specs = _normalise(schedule, len(groups), key, total_steps)
        if plateau is not None and not any("lr" in spec for spec in specs):
            raise ValueError(
                "Scheduler: plateau is given but no schedule drives 'lr'; the plateau controller "
                "scales the 'lr' schedule"
            )
        self._schedule_total = total_steps
        self._plateau = plateau
        # position: step _t0 + _i (or the fast closure's index); _sc_off = _step_count - step
        self._t0 = -1
        self._i = 0
        self._sc_off = 1
        self._set_specs(optimizer, specs)
        # LRScheduler.__init__ with last_epoch=-1 never needs 'initial_lr' (PyTorch #160626); it
        # wraps optimizer.step for the call-order warning and performs step 0 via self.step().
        super().__init__(optimizer)
        optimizer.register_load_state_dict_post_hook(_disarm_hook(weakref.ref(self)))
        self.base_lrs = [
            float(spec["lr"](0)) if "lr" in spec else _to_float(group["initial_lr"])
            for spec, group in zip(self._specs, optimizer.param_groups, strict=True)
        ]

    # -- set-up ------------------------------------------------------------------------------
    def _set_specs(
        self, optimizer: torch.optim.Optimizer, specs: list[dict[str, lrkit.Schedule]]
    ) -> None:
        groups = optimizer.param_groups
        self._targets = [
            {k: _target(g, k, gi) for k in spec}
            for gi, (spec, g) in enumerate(zip(specs, groups, strict=True))
        ]
        self._specs = specs
        self._invalidate()

    def _invalidate(self) -> None:
        """Forget the precomputed chunk (the next step or write recomputes it)."""
        self._drop_fast()
        self._t0 += self._i
        self._i = 0
        self._n = 0
        self._plan: list[tuple[int, str, bool, list[float]]] = []
        self._lr_vals: list[list[float] | None] = [None] * len(self._specs)
        self._seen = -1

    def _index(self) -> int:
        """Index of the current step in the chunk (kept by the fast closure while armed)."""
        fast_pos = self.__dict__.get("_fast_pos")
        return self._i if fast_pos is None else int(fast_pos())

    def _drop_fast(self) -> None:
        """Leave the fast path: take its position back and use the class ``step`` again."""
        d = self.__dict__
        fast_pos = d.pop("_fast_pos", None)
        if fast_pos is not None:
            self._i = fast_pos()
        d.pop("step", None)

    @property
    def schedules(self) -> list[dict[str, lrkit.Schedule]]:
        """The bound schedule of every param group, ``[{key: schedule}, ...]``."""
        return [dict(spec) for spec in self._specs]

    @property
    def plateau(self) -> Plateau | None:
        """The plateau controller scaling ``"lr"``, if any."""
        return self._plateau

    # -- step counters (the fast path keeps the position in a closure) -------------------------
    @property  # type: ignore[override]
    def last_epoch(self) -> int:
        """The step whose values are in the optimizer (0 right after construction)."""
        return self._t0 + self._index()

    @last_epoch.setter
    def last_epoch(self, value: int) -> None:
        count = self._step_count
        self._invalidate()
        self._t0 = int(value)
        self._i = 0
        self._sc_off = count - self._t0

    @property  # type: ignore[override]
    def _step_count(self) -> int:
        return self.last_epoch + self._sc_off

    @_step_count.setter
    def _step_count(self, value: int) -> None:
        self._sc_off = int(value) - self.last_epoch

    @property  # type: ignore[override]
    def _last_lr(self) -> list[float]:
        i = self._index()
        groups = self.optimizer.param_groups
        return [
            _to_float(groups[gi]["lr"]) if vals is None else vals[i]
            for gi, vals in enumerate(self._lr_vals)
        ]

    @_last_lr.setter
    def _last_lr(self, value: list[float]) -> None:
        pass  # always derived from the precomputed values

    # -- values ------------------------------------------------------------------------------
    def values_at(self, step: int) -> list[dict[str, float]]:
        """The values written at ``step`` for every group, ``[{key: value}, ...]``."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise _err("step", step, "an int >= 0")
        out: list[dict[str, float]] = []
        for gi, spec in enumerate(self._specs):
            row: dict[str, float] = {}
            for k, s in spec.items():
                v = float(np.asarray(s(np.arange(step, step + 1)), dtype=np.float64)[0])
                if k == "lr" and self._plateau is not None:
                    v = float(self._plateau.apply_array([v], gi)[0])
                row[k] = v
            out.append(row)
        return out

    def _fill(self, start: int) -> None:
        """Evaluate every schedule on ``start .. start + CHUNK - 1`` with the vectorised core."""
        self._drop_fast()
        steps = np.arange(start, start + CHUNK, dtype=np.int64)
        plan: list[tuple[int, str, bool, list[float]]] = []
        lr_vals: list[list[float] | None] = [None] * len(self._specs)
        for gi, spec in enumerate(self._specs):
            for k, s in spec.items():
                arr = np.asarray(s(steps), dtype=np.float64)
                if k == "lr" and self._plateau is not None:
                    arr = self._plateau.apply_array(arr, gi)
                vals: list[float] = arr.tolist()
                target = self._targets[gi][k]
                plan.append((gi, target, target == _BETAS, vals))
                if k == "lr":
                    lr_vals[gi] = vals
        self._plan = plan
        self._lr_vals = lr_vals
        self._t0 = start
        self._i = 0
        self._n = CHUNK
        self._seen = self._plateau.reductions if self._plateau is not None else -1

    def _goto(self, t: int, count: int) -> None:
        """Write the values of step ``t`` (slow path) and re-arm the fast path."""
        self._drop_fast()
        p = self._plateau
        i = t - self._t0
        if not 0 <= i < self._n or (p is not None and p.reductions != self._seen):
            self._fill(t)
            i = 0
        self._i = i
        self._sc_off = count - t
        groups = self.optimizer.param_groups
        for gi, target, is_betas, vals in self._plan:
            v = vals[i]
            group = groups[gi]
            cur = group[target]
            if is_betas:
                if isinstance(cur[0], torch.Tensor):
                    cur[0].fill_(v)
                else:
                    group[target] = (v, *cur[1:])
            elif isinstance(cur, torch.Tensor):
                cur.fill_(v)
            else:
                group[target] = v
        # after the call-order check of the first user step, unless a subclass overrides step()
        if count >= 2 and type(self).step is Scheduler.step:
            self._arm_fast()

    def _arm_fast(self) -> None:
        """Install ``step`` as a closure that only indexes the chunk and writes dict entries."""
        groups = self.optimizer.param_groups
        plateau = self._plateau
        seen = self._seen
        last = self._n - 1
        # every write becomes ``dict[key] = values[i]``: betas get their tuples precomputed
        plain: list[tuple[dict[str, Any], str, list[Any]]] = []
        tensors: list[tuple[torch.Tensor, list[float]]] = []
        for gi, target, is_betas, vals in self._plan:
            group = groups[gi]
            cur = group[target]
            if is_betas:
                if isinstance(cur[0], torch.Tensor):
                    tensors.append((cur[0], vals))
                else:
                    rest = tuple(cur[1:])
                    if len(rest) == 1:
                        tuples = list(zip(vals, itertools.repeat(rest[0])))
                    else:
                        tuples = [(v, *rest) for v in vals]
                    plain.append((group, target, tuples))
            elif isinstance(cur, torch.Tensor):
                tensors.append((cur, vals))
            else:
                plain.append((group, target, vals))
        slow = Scheduler.step
        me = self
        i = self._i

        def pos() -> int:
            return i

        # the guard below (same in every variant) falls back to the class step() whenever the
        # chunk ends, a step is given or the plateau moved; optimizer.load_state_dict (which
        # replaces the param-group dicts) disarms the fast path through a post hook
        fast: Callable[[int | None], None]
        if len(plain) == 1 and not tensors:
            g0, k0, v0 = plain[0]

            def fast1(epoch: int | None = None) -> None:
                nonlocal i
                if epoch is None and i < last and (plateau is None or plateau.reductions == seen):
                    i += 1
                    g0[k0] = v0[i]
                    return
                slow(me, epoch)

            fast = fast1
        elif len(plain) == 2 and not tensors:
            (g0, k0, v0), (g1, k1, v1) = plain

            def fast2(epoch: int | None = None) -> None:
                nonlocal i
                if epoch is None and i < last and (plateau is None or plateau.reductions == seen):
                    i += 1
                    g0[k0] = v0[i]
                    g1[k1] = v1[i]
                    return
                slow(me, epoch)

            fast = fast2
        else:

            def fast_n(epoch: int | None = None) -> None:
                nonlocal i
                if epoch is None and i < last and (plateau is None or plateau.reductions == seen):
                    i += 1
                    for g, k, vs in plain:
                        g[k] = vs[i]
                    for tensor, vs in tensors:
                        tensor.fill_(vs[i])
                    return
                slow(me, epoch)

            fast = fast_n

        fast.__doc__ = Scheduler.step.__doc__
        self.__dict__["_fast_pos"] = pos
        self.__dict__["step"] = fast

    # -- the LRScheduler contract ------------------------------------------------------------
    def step(self, epoch: int | None = None) -> None:
        """Advance one step (call after ``optimizer.step()``); ``step(t)`` jumps to step ``t``."""
        count = self._step_count
        if count == 1:
            # PyTorch's call-order check (https://github.com/pytorch/pytorch/issues/20124)
            if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
                warnings.warn(
                    "Seems like `optimizer.step()` has been overridden after learning rate "
                    "scheduler initialization. Please, make sure to call `optimizer.step()` "
                    "before `lr_scheduler.step()`. See more details at "
                    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
                    UserWarning,
                    stacklevel=2,
                )
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn(
                    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
                    "In PyTorch 1.1.0 and later, you should call them in the opposite order: "
                    "`optimizer.step()` before `lr_scheduler.step()`.  Failure to do this "
                    "will result in PyTorch skipping the first value of the learning rate "
                    "schedule. See more details at "
                    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
                    UserWarning,
                    stacklevel=2,
                )
        if epoch is None:
            t = self.last_epoch + 1
        else:
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise TypeError(
                    f"Scheduler.step: epoch={epoch!r} is invalid; pass nothing, or an int >= 0 "
                    "to jump to that step (metrics go to Scheduler.report(metric))"
                )
            t = epoch
        self._goto(t, count + 1)

    def get_lr(self) -> list[float | torch.Tensor]:
        """The LRs of the current step (``last_epoch``), computed in closed form."""
        return [
            row["lr"] if "lr" in row else _to_float(g["lr"])
            for row, g in zip(
                self.values_at(self.last_epoch), self.optimizer.param_groups, strict=True
            )
        ]

    def get_last_lr(self) -> list[float | torch.Tensor]:
        """The LRs written by the last :meth:`step` (floats, one per param group)."""
        return list(self._last_lr)

    def __getstate__(self) -> dict[str, Any]:
        self._drop_fast()  # closures are not state; copies re-arm the fast path on their own
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._invalidate()
        self.optimizer.register_load_state_dict_post_hook(_disarm_hook(weakref.ref(self)))

    # -- plateau -----------------------------------------------------------------------------
    def report(self, metric: Any, *, sync: bool = True) -> bool:
        """Give the plateau controller one evaluation of the metric; return whether LR dropped.

        When ``torch.distributed`` is initialised the metric is first averaged over all ranks
        (``sync=False`` turns that off), so every rank takes the same decision. A reduction
        takes effect at once, at the current step.
        """
        if self._plateau is None:
            raise ValueError(
                "Scheduler.report: this scheduler has no plateau controller; construct it with "
                "plateau=lrkit.Plateau(...)"
            )
        value = mean_across_ranks(metric) if sync else _to_float(metric)
        reduced = self._plateau.report(value)
        if reduced:
            self._goto(self.last_epoch, self._step_count)
        return reduced

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The state as primitives: step counters, schedule texts and plateau state."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "last_epoch": int(self.last_epoch),
            "_step_count": int(self._step_count),
            "total_steps": self._schedule_total,
            "schedules": [{k: str(s) for k, s in spec.items()} for spec in self._specs],
            "plateau": None if self._plateau is None else self._plateau.state_dict(),
            "base_lrs": [_to_float(v) for v in self.base_lrs],
            "_last_lr": [_to_float(v) for v in self._last_lr],
        }

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> None:
        """Restore :meth:`state_dict` output and write that step's values into the optimizer.

        A saved schedule (or plateau controller) that differs from this scheduler's is an error;
        with ``strict=False`` the saved text is parsed with :func:`lrkit.parse` and used instead.
        """
        state = state_dict
        if not isinstance(state, Mapping) or state.get("format") != _FORMAT:
            raise ValueError(
                "Scheduler.load_state_dict: state_dict is not an lrkit.torch.Scheduler state "
                f"(keys: {sorted(state) if isinstance(state, Mapping) else type(state).__name__})"
            )
        saved_texts: list[dict[str, str]] = [dict(g) for g in state["schedules"]]
        n_groups = len(self.optimizer.param_groups)
        if len(saved_texts) != n_groups:
            raise ValueError(
                f"Scheduler.load_state_dict: the state has schedules for {len(saved_texts)} param "
                f"groups, the optimizer has {n_groups}"
            )
        mine = [{k: str(s) for k, s in spec.items()} for spec in self._specs]
        if saved_texts != mine:
            if strict:
                diffs = [
                    f"group {gi}: saved {s!r} != current {m!r}"
                    for gi, (s, m) in enumerate(zip(saved_texts, mine, strict=True))
                    if s != m
                ]
                raise ValueError(
                    "Scheduler.load_state_dict: the saved schedule differs from this scheduler's: "
                    + "; ".join(diffs)
                    + "; pass strict=False to use the saved schedule"
                )
            specs = [{k: lrkit.parse(text) for k, text in g.items()} for g in saved_texts]
            self._set_specs(self.optimizer, specs)
        saved_plateau = state.get("plateau")
        if saved_plateau is None:
            if self._plateau is not None:
                if strict:
                    raise ValueError(
                        "Scheduler.load_state_dict: the state has no plateau controller but this "
                        "scheduler has one; pass strict=False to drop it"
                    )
                self._plateau = None
        elif self._plateau is None:
            if strict:
                raise ValueError(
                    "Scheduler.load_state_dict: the state has a plateau controller but this "
                    "scheduler has none; pass strict=False to use the saved one"
                )
            self._plateau = Plateau.from_state_dict(saved_plateau)
        else:
            self._plateau.load_state_dict(saved_plateau, strict=strict)
        self._schedule_total = state.get("total_steps")
        self.base_lrs = [float(v) for v in state.get("base_lrs", self.base_lrs)]
        self._invalidate()
        self._goto(int(state["last_epoch"]), int(state["_step_count"]))

    def __repr__(self) -> str:
        texts = [{k: str(s) for k, s in spec.items()} for spec in self._specs]
        return (
            f"Scheduler(schedules={texts}, last_epoch={self.last_epoch}, plateau={self._plateau})"
        )

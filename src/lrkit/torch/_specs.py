"""Schedule specs of :class:`lrkit.torch.Scheduler`: normalising, binding, checking, writing."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import torch

import lrkit
from lrkit import _binding
from lrkit import _validate as check
from lrkit.errors import ScheduleError
from lrkit.text import as_schedule as text_as_schedule

ScheduleLike: TypeAlias = lrkit.Schedule | str
GroupSpec: TypeAlias = ScheduleLike | Mapping[str, ScheduleLike]
ScheduleArg: TypeAlias = GroupSpec | Sequence[GroupSpec]
Spec: TypeAlias = dict[str, lrkit.Schedule]

_BETAS = "betas"
#: entries that ``as_tensors=True`` turns into 0-d tensors (``momentum`` means ``betas`` for Adam)
TENSOR_KEYS = ("lr", "momentum", "weight_decay")
#: keys whose values are fractions: a schedule outside [0, 1] is refused at construction
FRACTION_KEYS = ("momentum", "dampening")


def fail(param: str, value: object, allowed: str) -> ScheduleError:
    """The Scheduler's message: ``Scheduler: <param>=<value!r> is invalid; ...``."""
    return check.invalid("Scheduler", param, value, allowed)


def as_schedule(obj: object, where: str) -> lrkit.Schedule:
    """A schedule from an :class:`lrkit.Schedule` or its text (:func:`lrkit.text.as_schedule`)."""
    return text_as_schedule(obj, f"Scheduler: {where}")


def _group_spec(obj: object, key: str, where: str) -> Spec:
    if isinstance(obj, Mapping):
        if not obj:
            raise fail(where, dict(obj), "a non-empty dict {key: schedule}")
        out: Spec = {}
        for k, v in obj.items():
            if not isinstance(k, str) or not k or k == "params":
                raise fail(f"{where} key", k, "a str naming a param-group entry ('lr', ...)")
            out[k] = as_schedule(v, f"{where}[{k!r}]")
        return out
    return {key: as_schedule(obj, where)}


def normalise(schedule: object, n_groups: int, key: str) -> tuple[list[Spec], bool]:
    """One ``{key: schedule}`` per param group, and whether one spec is shared by every group."""
    if isinstance(schedule, Sequence) and not isinstance(schedule, str):
        if len(schedule) != n_groups:
            raise ScheduleError(
                f"Scheduler: schedule is a list of {len(schedule)} entries but the optimizer has "
                f"{n_groups} param groups; give one entry per group (or one schedule for all)"
            )
        return [_group_spec(s, key, f"schedule[{i}]") for i, s in enumerate(schedule)], False
    spec = _group_spec(schedule, key, "schedule")
    return [dict(spec) for _ in range(n_groups)], True


def bind(specs: list[Spec], total_steps: int | None) -> list[Spec]:
    """Every schedule with its shares of training resolved against ``total_steps``."""
    out = []
    for gi, spec in enumerate(specs):
        row: Spec = {}
        for k, s in spec.items():
            row[k] = _binding.bind(
                s,
                total_steps,
                "Scheduler",
                f"schedule[{gi}][{k!r}]",
                steps="number of scheduler steps",
                also=" (or total_steps='auto' and call bind_total_steps(n) later)",
            )
        out.append(row)
    return out


def texts(specs: list[Spec]) -> list[dict[str, str]]:
    """The specs in lrkit's text form (what ``state_dict()`` stores)."""
    return [{k: str(s) for k, s in spec.items()} for spec in specs]


def target(group: Mapping[str, Any], key: str, gi: int) -> str:
    """The param-group entry that ``key`` writes: ``momentum`` is ``betas[0]`` for Adam."""
    if key == "momentum" and _BETAS in group:
        return _BETAS
    if key not in group:
        raise ScheduleError(
            f"Scheduler: key {key!r} is not an entry of optimizer.param_groups[{gi}] "
            f"(entries: {sorted(k for k in group if k != 'params')})"
        )
    return key


def check_targets(groups: Sequence[Mapping[str, Any]], specs: list[Spec]) -> None:
    """Every key of every spec names an entry of its param group."""
    for gi, (group, spec) in enumerate(zip(groups, specs, strict=True)):
        for k in spec:
            target(group, k, gi)


def check_values(specs: list[Spec], total_steps: int | None) -> None:
    """Fractions (momentum, betas[0]) stay in [0, 1]; warn when a length differs from the total."""
    for gi, spec in enumerate(specs):
        for k, s in spec.items():
            if k in FRACTION_KEYS:
                low, high = s.bounds()
                if not (low >= 0.0 and high <= 1.0):
                    raise fail(
                        f"schedule[{gi}][{k!r}]",
                        str(s),
                        f"a schedule with values in [0, 1] (its bounds() are [{low}, {high}])",
                    )
            if total_steps is not None and s.bounded:
                length = s.duration
                if length is not None and length != total_steps:
                    warnings.warn(
                        f"Scheduler: schedule[{gi}][{k!r}]={str(s)!r} lasts {length:g} steps but "
                        f"total_steps={total_steps}; after its end it holds its last value "
                        "(give its durations as shares, e.g. steps='100%', to follow total_steps)",
                        UserWarning,
                        stacklevel=4,
                    )


# -- writing into param groups -----------------------------------------------------------------
def assign(group: dict[str, Any], key: str, value: float) -> None:
    """Write ``value`` into ``group[key]``; a tensor entry is filled in place (never replaced)."""
    if key == "momentum" and _BETAS in group:
        betas = group[_BETAS]
        first = betas[0]
        if isinstance(first, torch.Tensor):
            first.fill_(value)
        else:
            group[_BETAS] = (value, *betas[1:])
        return
    current = group[key]
    if isinstance(current, torch.Tensor):
        current.fill_(value)
    else:
        group[key] = value


def float_targets(
    groups: Sequence[Mapping[str, Any]], plan: Sequence[tuple[int, str, Any]]
) -> list[str]:
    """The driven entries held as Python floats, as ``param_groups[i]['key']`` strings."""
    out = []
    for gi, key, _ in plan:
        group = groups[gi]
        if key == "momentum" and _BETAS in group:
            if not isinstance(group[_BETAS][0], torch.Tensor):
                out.append(f"param_groups[{gi}]['betas'][0]")
        elif not isinstance(group[key], torch.Tensor):
            out.append(f"param_groups[{gi}][{key!r}]")
    return out


def to_float(v: Any) -> float:
    """A Python float from a float or a 0-d tensor."""
    return float(v.item()) if isinstance(v, torch.Tensor) else float(v)


def _tensor(value: Any, device: torch.device) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail("as_tensors", True, f"used on finite float entries, got {value!r}")
    return torch.tensor(float(value), device=device)


def make_tensors(groups: Sequence[dict[str, Any]], specs: list[Spec]) -> None:
    """Turn the float entries that the specs drive into 0-d tensors on the params' device."""
    for group, spec in zip(groups, specs, strict=True):
        params = group["params"]
        device = params[0].device if params else torch.device("cpu")
        for key in spec:
            if key == "momentum" and _BETAS in group:
                group[_BETAS] = tuple(_tensor(b, device) for b in group[_BETAS])
            elif key in TENSOR_KEYS:
                group[key] = _tensor(group[key], device)

"""Checking a :meth:`lrkit.torch.Scheduler.state_dict` before anything is loaded from it."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lrkit.errors import ScheduleError

FORMAT = "lrkit.torch.Scheduler"
VERSION = 2
#: the largest step a checkpoint may hold (whole steps are exact in float64 below 2**52)
MAX_STEP = 2**52

_WHERE = "Scheduler.load_state_dict"


def _bad(key: str, value: object, expected: str) -> ScheduleError:
    return ScheduleError(
        f"{_WHERE}: state_dict[{key!r}]={reprlib.repr(value)} is invalid; expected {expected}"
    )


def _int(state: Mapping[str, Any], key: str, low: int, high: int = MAX_STEP) -> int:
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(key, value, f"an int in [{low}, {high}]")
    return value


@dataclass(frozen=True)
class SavedState:
    """A checked ``state_dict()``: every field has the right type and range."""

    last_epoch: int
    step_count: int
    total_steps: int | None
    schedules: list[dict[str, str]]
    retargets: list[tuple[int, int, int]]
    plateau: Mapping[str, Any] | None
    base_lrs: list[float] | None


def check(state: object, n_groups: int) -> SavedState:
    """The fields of ``state``, or one ValueError naming the key, the value and what is expected."""
    if not isinstance(state, Mapping) or state.get("format") != FORMAT:
        raise ScheduleError(
            f"{_WHERE}: state_dict is not an lrkit.torch.Scheduler state "
            f"(keys: {sorted(map(str, state)) if isinstance(state, Mapping) else type(state).__name__})"
        )
    required = ("version", "last_epoch", "_step_count", "schedules", "plateau", "total_steps")
    missing = [k for k in required if k not in state]
    if missing:
        raise ScheduleError(
            f"{_WHERE}: state_dict has no {', '.join(map(repr, missing))}; expected the keys "
            f"{list(required)} of Scheduler.state_dict()"
        )
    version = _int(state, "version", 1, VERSION)
    total = state["total_steps"]
    if total is not None:
        total = _int(state, "total_steps", 1)
    plateau = state["plateau"]
    if plateau is not None and not isinstance(plateau, Mapping):
        raise _bad("plateau", plateau, "None or a Plateau.state_dict() dict")
    return SavedState(
        last_epoch=_int(state, "last_epoch", 0),
        step_count=_int(state, "_step_count", 0),
        total_steps=total,
        schedules=_schedules(state["schedules"], n_groups),
        retargets=_retargets(state.get("retargets", []) if version >= 2 else []),
        plateau=plateau,
        base_lrs=_base_lrs(state.get("base_lrs"), n_groups),
    )


def _schedules(value: object, n_groups: int) -> list[dict[str, str]]:
    expected = f"a list of {n_groups} non-empty dicts {{key: schedule text}}, one per param group"
    if not isinstance(value, list) or len(value) != n_groups:
        raise _bad("schedules", value, expected)
    out: list[dict[str, str]] = []
    for row in value:
        if not isinstance(row, Mapping) or not row:
            raise _bad("schedules", value, expected)
        for k, text in row.items():
            if not isinstance(k, str) or not isinstance(text, str):
                raise _bad("schedules", value, expected)
        out.append(dict(row))
    return out


def _retargets(value: object) -> list[tuple[int, int, int]]:
    expected = "a list of [at, end, new_end] ints with 0 <= at <= end and at < new_end"
    if not isinstance(value, list):
        raise _bad("retargets", value, expected)
    out = []
    for item in value:
        ok = isinstance(item, list | tuple) and len(item) == 3
        ok = ok and all(isinstance(v, int) and not isinstance(v, bool) for v in item)
        if not ok or not (0 <= item[0] <= item[1] and item[0] < item[2] <= MAX_STEP):
            raise _bad("retargets", value, expected)
        out.append((int(item[0]), int(item[1]), int(item[2])))
    return out


def _base_lrs(value: object, n_groups: int) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n_groups:
        raise _bad("base_lrs", value, f"a list of {n_groups} finite floats")
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        raise _bad("base_lrs", value, f"a list of {n_groups} finite floats")
    return [float(v) for v in value]

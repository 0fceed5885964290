"""Run records: the run key, compact per-step arrays and the crash-safe ``runs.jsonl`` file.

One finished (task, schedule, seed) run is one JSON object on one line. Lines are appended with
flush + fsync, so ``kill -9`` loses at most the runs in flight; a torn last line (killed
mid-write) is dropped on the next open, garbled lines are skipped, and the *last* record of a
key wins.

>>> rec = {"key": "k1", "status": "error", "task": "t", "schedule": "s", "seed": 0, "error": "x"}
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "runs.jsonl"
>>> with RunsFile(path) as runs:
...     runs.append(rec)
>>> [r["key"] for r in read_records(path)]
['k1']
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from lrkit.bench.execution.rundir import open_file, read_bytes

__all__ = [
    "MAX_POINTS",
    "RECORD_OPTIONAL",
    "RECORD_SCHEMA",
    "RECORD_VERSION",
    "RecordWarning",
    "RunsFile",
    "decimate",
    "finite_or_none",
    "json_safe",
    "latest_by_key",
    "read_meta",
    "read_records",
    "record_problem",
    "run_key",
]

#: Version of one run record (a line of runs.jsonl).
RECORD_VERSION = 1
#: Per-step arrays are stored with at most this many points (plus exact final values).
MAX_POINTS = 500


def run_key(
    *,
    task: str,
    lr_text: str,
    momentum_text: str | None,
    plateau: Mapping[str, Any] | None,
    peak_lr: float,
    seed: int,
    steps: int,
    optimizer: str,
    eval_every: int,
    batch_size: int | None,
) -> str:
    """A stable hex key for one run: everything that changes its outcome, hashed.

    The schedule enters as its unit-peak text, so renaming a suite entry keeps its finished runs.

    >>> k = run_key(task="t", lr_text="constant(1.0)", momentum_text=None, plateau=None,
    ...     peak_lr=0.1, seed=0, steps=10, optimizer="sgd", eval_every=5, batch_size=None)
    >>> len(k), k == run_key(task="t", lr_text="constant(1.0)", momentum_text=None,
    ...     plateau=None, peak_lr=0.1, seed=1, steps=10, optimizer="sgd", eval_every=5,
    ...     batch_size=None)
    (16, False)
    """
    payload = {
        "task": task,
        "lr": lr_text,
        "momentum": momentum_text,
        "plateau": dict(sorted(plateau.items())) if plateau else None,
        "peak_lr": repr(float(peak_lr)),
        "seed": int(seed),
        "steps": int(steps),
        "optimizer": optimizer,
        "eval_every": int(eval_every),
        "batch_size": batch_size,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def finite_or_none(value: float) -> float | None:
    """``float(value)`` if finite, else None (JSON has no NaN/inf).

    >>> finite_or_none(1.5), finite_or_none(float("nan"))
    (1.5, None)
    """
    v = float(value)
    return v if math.isfinite(v) else None


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (nan, inf, also numpy floats) replaced by None.

    Dicts, lists and tuples are copied recursively; everything JSON cannot hold as a number
    becomes null, so ``json.dumps(..., allow_nan=False)`` never fails on a run's numbers.

    >>> json_safe({"a": [1.0, float("inf")], "b": float("nan"), "c": "x"})
    {'a': [1.0, None], 'b': None, 'c': 'x'}
    """
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _listify(values: npt.NDArray[np.float64]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


def decimate(
    values: npt.ArrayLike, *, max_points: int = MAX_POINTS, mode: str = "sample"
) -> tuple[list[int], list[float | None]]:
    """Compact a per-step array to at most ``max_points`` ``(steps, values)``.

    ``mode="sample"`` keeps the value at each kept step (for schedules); ``mode="mean"``
    averages each bin of consecutive steps, ignoring non-finite values, and labels it with the
    bin's last step (for noisy losses). Short arrays are returned whole.

    >>> decimate([1.0, 2.0, 3.0, 4.0], max_points=2, mode="mean")
    ([1, 3], [1.5, 3.5])
    >>> decimate([1.0, 2.0, 3.0, 4.0], max_points=2)
    ([0, 3], [1.0, 4.0])
    """
    arr = np.asarray(values, dtype=np.float64)
    n = arr.shape[0]
    if max_points < 2:
        raise ValueError(f"decimate: max_points must be >= 2, got {max_points!r}")
    if mode not in ("sample", "mean"):
        raise ValueError(f"decimate: mode must be 'sample' or 'mean', got {mode!r}")
    if n <= max_points:
        return list(range(n)), _listify(arr)
    if mode == "sample":
        # step >= 1, so floor(x + 0.5) is strictly increasing: no duplicates to remove
        idx = np.floor(np.linspace(0, n - 1, max_points) + 0.5).astype(np.int64)
        return idx.tolist(), _listify(arr[idx])
    edges = np.round(np.linspace(0, n, max_points + 1)).astype(np.int64)
    finite = np.isfinite(arr)
    sums = np.add.reduceat(np.where(finite, arr, 0.0), edges[:-1])
    counts = np.add.reduceat(finite.astype(np.int64), edges[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return (edges[1:] - 1).tolist(), _listify(means)


class RecordWarning(UserWarning):
    """Some lines of a runs.jsonl were skipped (incomplete or malformed records)."""


def _is_int(v: object) -> bool:
    """An int (not a bool) that fits in 64 bits."""
    return isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63


def _is_num(v: object) -> bool:
    """A number that is a finite float (not a bool, not ``NaN``/``Infinity``, not an int too
    large for a float)."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _num_or_none(v: object) -> bool:
    return v is None or _is_num(v)


def _str(v: object) -> bool:
    return isinstance(v, str)


def _name(v: object) -> bool:
    return isinstance(v, str) and bool(v)


def _str_or_none(v: object) -> bool:
    return v is None or isinstance(v, str)


def _values(v: object, ok: Any) -> bool:
    """``v`` is a list whose every item passes ``ok``."""
    return isinstance(v, list) and all(ok(x) for x in v)


def _numbers_by_name(v: object) -> bool:
    """An object of numbers or nulls (``final``, ``time``)."""
    return isinstance(v, dict) and all(_num_or_none(x) for x in v.values())


def _target(v: object) -> bool:
    return v is None or (  # None: a function task without target=
        isinstance(v, dict)
        and isinstance(v.get("metric"), str)
        and _is_num(v.get("value"))
        and isinstance(v.get("higher_is_better"), bool)
    )


def _plateau(v: object) -> bool:
    scalar = (str, int, float, bool, type(None))
    return v is None or (isinstance(v, dict) and all(isinstance(x, scalar) for x in v.values()))


def _series(v: object, names: Sequence[str], *, index: str) -> bool:
    """An object of lists: ``index`` a list of ints, each of ``names`` (all other keys when
    ``names`` is empty) a list of numbers or nulls as long as it."""
    if not (isinstance(v, dict) and _values(v.get(index), _is_int)):
        return False
    n = len(v[index])
    for key in names or [k for k in v if k != index]:
        if key in v and not (_values(v[key], _num_or_none) and len(v[key]) == n):
            return False
    return True


def _curves(v: object) -> bool:
    if not (isinstance(v, dict) and _series(v, ("lr", "momentum"), index="step")):
        return False
    if "lr" not in v:
        return False
    return "train_loss" not in v or _series(v, ("train_loss",), index="train_loss_step")


#: The schema of one record: field -> check, for every record, then by status. Optional
#: fields (:data:`RECORD_OPTIONAL`) are checked only when present.
RECORD_SCHEMA: dict[str, dict[str, Any]] = {
    "all": {
        "key": _name,
        "status": lambda v: v in ("ok", "diverged", "error"),
        "task": _name,
        "schedule": _name,
        "seed": _is_int,
    },
    "error": {"error": _str},
    "finished": {
        "lr_text": _str,
        "optimizer": _str,
        "peak_lr": _is_num,
        "steps": _is_int,
        "target": _target,
        "curves": _curves,
        "evals": lambda v: _series(v, (), index="step"),
        "final": _numbers_by_name,
    },
}
RECORD_OPTIONAL: dict[str, Any] = {
    "v": _is_int,
    "purpose": _str,
    "momentum_text": _str_or_none,
    "plateau": _plateau,
    "eval_every": _is_int,
    "batch_size": lambda v: v is None or _is_int(v),
    "steps_done": _is_int,
    "steps_to_target": lambda v: v is None or _is_int(v),
    "val_loss_auc": _num_or_none,
    "plateau_reductions": lambda v: v is None or _is_int(v),
    "time": _numbers_by_name,
    "bound_lr_text": _str,
}


def record_problem(rec: object) -> str | None:
    """Why ``rec`` is not a usable run record (None when it is), checked against
    :data:`RECORD_SCHEMA` and :data:`RECORD_OPTIONAL`.

    Every record needs ``key``, ``status`` ("ok", "diverged" or "error"), ``task``,
    ``schedule`` and ``seed``; a finished one ("ok"/"diverged") also its settings, target,
    curves (lists of equal length), evaluations (one value or null per evaluated step) and
    final metrics (numbers or null); an "error" record its ``error`` text. Optional fields
    (``time``, ``purpose``, ``steps_to_target``, ...) are checked when present.

    >>> record_problem({"key": "k", "status": "ok"})
    "missing or malformed 'task'"
    >>> record_problem({"key": "k", "status": "error", "task": "t", "schedule": "s",
    ...     "seed": 0, "error": "x", "time": None})
    "malformed 'time'"
    """
    if not isinstance(rec, dict):
        return f"not a JSON object ({type(rec).__name__})"
    checks = dict(RECORD_SCHEMA["all"])
    if rec.get("status") == "error":
        checks.update(RECORD_SCHEMA["error"])
    elif rec.get("status") in ("ok", "diverged"):
        checks.update(RECORD_SCHEMA["finished"])
    for name, ok in checks.items():
        if name not in rec or not ok(rec[name]):
            return f"missing or malformed {name!r}"
    for name, ok in RECORD_OPTIONAL.items():
        if name in rec and not ok(rec[name]):
            return f"malformed {name!r}"
    return None


def _parse_line(raw: bytes) -> Any:
    """One line as JSON; ValueError for anything that is not (bad UTF-8, bad JSON, nesting
    too deep for the parser, an integer too long to convert)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All valid records of a runs.jsonl, in file order.

    Lines that are not JSON, and records that :func:`record_problem` rejects (a hand-edited
    ``{"key": ..., "status": "ok"}``, a ``"time": null``), are skipped with one
    :class:`RecordWarning` that counts them; a torn last line (a driver killed mid-write) is
    skipped silently. A missing file reads as no records; a link is refused
    (:class:`~lrkit.bench.execution.rundir.RunDirError`).
    """
    p = Path(path)
    try:
        fd = open_file(p, os.O_RDONLY)
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    bad: list[str] = []
    with os.fdopen(fd, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                rec = _parse_line(raw)
            except ValueError:
                if raw.endswith(b"\n"):  # a torn tail has no newline: expected, not reported
                    bad.append(f"line {lineno}: not valid JSON")
                continue
            problem = record_problem(rec)
            if problem is None:
                out.append(rec)
            else:
                bad.append(f"line {lineno}: {problem}")
    if bad:
        import warnings

        warnings.warn(
            f"{p}: skipped {len(bad)} incomplete or malformed record(s) "
            f"({'; '.join(bad[:3])}{'; ...' if len(bad) > 3 else ''}); "
            f"their runs count as not done and are rerun",
            RecordWarning,
            stacklevel=2,
        )
    return out


def latest_by_key(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each key (a rerun of an errored run replaces it).

    >>> latest_by_key([{"key": "a", "v": 1}, {"key": "a", "v": 2}])
    {'a': {'key': 'a', 'v': 2}}
    """
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        out[str(rec["key"])] = dict(rec)
    return out


class RunsFile:
    """Append-only writer for runs.jsonl: one record per line, flushed and fsynced.

    Opening repairs a torn tail: an incomplete last line (no newline, not valid JSON) is cut
    off; a complete last record that only lacks its newline gets one. A runs.jsonl that is a
    symbolic link is refused (:class:`~lrkit.bench.execution.rundir.RunDirError`), never written through.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = open_file(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
        try:
            self.repaired = self._repair_tail()
        except BaseException:
            os.close(self._fd)
            raise

    def _repair_tail(self) -> bool:
        fd = self._fd
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return False
        # Find the start of the last line.
        pos, start = size, 0
        while pos > 0:
            read_from = max(0, pos - 4096)
            nl = os.pread(fd, pos - read_from, read_from).rfind(b"\n")
            if nl >= 0:
                start = read_from + nl + 1
                break
            pos = read_from
        try:
            _parse_line(os.pread(fd, size - start, start))
            os.write(fd, b"\n")  # O_APPEND: at the end
        except ValueError:
            os.ftruncate(fd, start)
        os.fsync(fd)
        return True

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a JSON line (non-finite floats as null), then fsync."""
        line = json.dumps(json_safe(record), separators=(",", ":"), allow_nan=False) + "\n"
        data = memoryview(line.encode("utf-8"))
        while data:
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RunsFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(read_records(self.path))


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A run folder's bench.json (written by the driver), checked: {} when it does not exist.

    ValueError naming the file and the field when it is not JSON, not an object, or a field
    has the wrong type (``keys``: list of str; ``config``: object; ``plans``: list of objects).
    """
    p = Path(path)
    raw = read_bytes(p)  # never through a link
    if raw is None:
        return {}
    try:
        meta = _parse_line(raw)
    except ValueError as exc:
        raise ValueError(
            f"{p}: not valid JSON ({exc}); delete it and rerun `lrkit bench` to rewrite it"
        ) from None
    if not isinstance(meta, dict):
        raise ValueError(
            f"{p}: must be a JSON object, got {type(meta).__name__}; delete it and rerun "
            f"`lrkit bench` to rewrite it"
        )
    checks: dict[str, tuple[str, Any]] = {
        "keys": (
            "a list of run keys (str)",
            lambda v: isinstance(v, list) and all(isinstance(k, str) for k in v),
        ),
        "config": ("an object", lambda v: isinstance(v, dict)),
        "plans": (
            "a list of objects with a 'task'",
            lambda v: (
                isinstance(v, list)
                and all(isinstance(x, dict) and isinstance(x.get("task"), str) for x in v)
            ),
        ),
        "name": ("a str", lambda v: isinstance(v, str)),
    }
    for name, (what, ok) in checks.items():
        if name in meta and not ok(meta[name]):
            raise ValueError(
                f"{p}: {name!r} must be {what}, got {meta[name]!r:.80}; delete the file and "
                f"rerun `lrkit bench` to rewrite it"
            )
    return meta

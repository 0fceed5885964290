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

__all__ = [
    "MAX_POINTS",
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
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def record_problem(rec: object) -> str | None:
    """Why ``rec`` is not a usable run record (None when it is).

    Every record needs ``key``, ``status`` ("ok", "diverged" or "error"), ``task``,
    ``schedule`` and ``seed``; a finished one ("ok"/"diverged") also its settings, target,
    curves, evaluations and final metrics; an "error" record its ``error`` text.

    >>> record_problem({"key": "k", "status": "ok"})
    "missing or malformed 'task'"
    """
    if not isinstance(rec, dict):
        return f"not a JSON object ({type(rec).__name__})"
    checks: list[tuple[str, Any]] = [
        ("key", lambda v: isinstance(v, str) and v),
        ("status", lambda v: v in ("ok", "diverged", "error")),
        ("task", lambda v: isinstance(v, str) and v),
        ("schedule", lambda v: isinstance(v, str) and v),
        ("seed", _is_int),
    ]
    if rec.get("status") == "error":
        checks.append(("error", lambda v: isinstance(v, str)))
    elif rec.get("status") in ("ok", "diverged"):
        checks += [
            ("lr_text", lambda v: isinstance(v, str)),
            ("optimizer", lambda v: isinstance(v, str)),
            ("peak_lr", _is_num),
            ("steps", _is_int),
            (
                "target",
                lambda v: (
                    v is None  # a function task without target=
                    or (
                        isinstance(v, dict)
                        and isinstance(v.get("metric"), str)
                        and _is_num(v.get("value"))
                        and isinstance(v.get("higher_is_better"), bool)
                    )
                ),
            ),
            (
                "curves",
                lambda v: (
                    isinstance(v, dict)
                    and isinstance(v.get("step"), list)
                    and isinstance(v.get("lr"), list)
                ),
            ),
            ("evals", lambda v: isinstance(v, dict) and isinstance(v.get("step"), list)),
            ("final", lambda v: isinstance(v, dict)),
        ]
    for name, ok in checks:
        if name not in rec or not ok(rec[name]):
            return f"missing or malformed {name!r}"
    return None


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All valid records of a runs.jsonl, in file order.

    Lines that are not JSON, and records that :func:`record_problem` rejects (a hand-edited
    ``{"key": ..., "status": "ok"}``), are skipped with one :class:`RecordWarning` that counts
    them; a torn last line (a driver killed mid-write) is skipped silently. A missing file
    reads as no records.
    """
    p = Path(path)
    if not p.exists():
        return []
    out: list[dict[str, Any]] = []
    bad: list[str] = []
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
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
    off; a complete last record that only lacks its newline gets one.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired = self._repair_tail()
        self._fh = self.path.open("ab")

    def _repair_tail(self) -> bool:
        if not self.path.exists():
            return False
        with self.path.open("r+b") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if size == 0:
                return False
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return False
            # Find the start of the last line.
            pos = size
            chunk = 4096
            start = 0
            while pos > 0:
                read_from = max(0, pos - chunk)
                fh.seek(read_from)
                block = fh.read(pos - read_from)
                nl = block.rfind(b"\n")
                if nl >= 0:
                    start = read_from + nl + 1
                    break
                pos = read_from
            fh.seek(start)
            tail = fh.read()
            try:
                json.loads(tail.decode("utf-8"))
                ok = True
            except (UnicodeDecodeError, json.JSONDecodeError):
                ok = False
            if ok:
                fh.seek(size)
                fh.write(b"\n")
            else:
                fh.truncate(start)
            fh.flush()
            os.fsync(fh.fileno())
        return True

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a JSON line (non-finite floats as null), then flush and fsync."""
        line = json.dumps(json_safe(record), separators=(",", ":"), allow_nan=False) + "\n"
        self._fh.write(line.encode("utf-8"))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

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
    if not p.exists():
        return {}
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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

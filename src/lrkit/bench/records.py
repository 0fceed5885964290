"""Run records: the run key, compact per-step arrays and the crash-safe ``runs.jsonl`` file.

One finished (task, schedule, seed) run is one JSON object on one line. Lines are appended with
flush + fsync, so ``kill -9`` loses at most the runs in flight; a torn last line (killed
mid-write) is dropped on the next open, garbled lines are skipped, and the *last* record of a
key wins.

>>> rec = {"key": "k1", "status": "ok"}
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
    "RunsFile",
    "decimate",
    "finite_or_none",
    "latest_by_key",
    "read_records",
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


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All well-formed records of a runs.jsonl, in file order; bad or torn lines are skipped.

    A missing file reads as no records.
    """
    p = Path(path)
    if not p.exists():
        return []
    out: list[dict[str, Any]] = []
    with p.open("rb") as fh:
        for raw in fh:
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(rec, dict) and isinstance(rec.get("key"), str):
                out.append(rec)
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
        """Write one record as a JSON line, then flush and fsync."""
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
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

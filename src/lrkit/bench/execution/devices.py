"""GPUs for bench workers: which devices each local worker gets, and making a worker see them.

``--gpus-per-run N`` gives every local worker its own N GPUs through ``CUDA_VISIBLE_DEVICES``
(set in the fresh worker before any framework is imported), so a run uses ``run.device``
("cuda", i.e. the first of its GPUs) without knowing the machine. The assignment is a pure
function, tested with fake device lists.

>>> assign_gpus(["0", "1", "2", "3"], 2)
[('0', '1'), ('2', '3')]
>>> assign_gpus(["0", "1", "2"], 1, workers=2)
[('0',), ('1',)]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["assign_gpus", "init_gpu_worker", "visible_gpus"]


def _bad(msg: str) -> ValueError:
    return ValueError(f"bench --gpus-per-run: {msg}")


def assign_gpus(
    gpu_ids: Sequence[str], per_run: int, workers: int | None = None
) -> list[tuple[str, ...]]:
    """Split ``gpu_ids`` into disjoint groups of ``per_run``, one group per worker.

    The number of workers defaults to ``len(gpu_ids) // per_run``; asking for more workers
    than there are groups, or for GPUs where none are visible, is a ValueError.

    Args:
        gpu_ids: the visible GPU ids (``CUDA_VISIBLE_DEVICES`` entries or indices).
        per_run: GPUs per run, >= 1.
        workers: number of workers, or None for as many as the GPUs allow.

    >>> assign_gpus([], 1)
    Traceback (most recent call last):
    ...
    ValueError: bench --gpus-per-run: 1 GPU(s) per run were asked for, but no GPU is visible \
here (CUDA_VISIBLE_DEVICES is empty or torch sees no CUDA device); drop the flag to run on CPUs
    """
    if isinstance(per_run, bool) or not isinstance(per_run, int) or per_run < 1:
        raise _bad(f"per_run={per_run!r} is invalid; it must be an int >= 1")
    ids = [str(g) for g in gpu_ids]
    if not ids:
        raise _bad(
            f"{per_run} GPU(s) per run were asked for, but no GPU is visible here "
            f"(CUDA_VISIBLE_DEVICES is empty or torch sees no CUDA device); drop the flag to "
            f"run on CPUs"
        )
    if len(set(ids)) != len(ids):
        raise _bad(f"the GPU ids {ids!r} repeat")
    groups = len(ids) // per_run
    if groups == 0:
        raise _bad(f"{per_run} GPUs per run were asked for, but only {len(ids)} are visible")
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise _bad(f"workers={workers!r} is invalid; it must be None or an int >= 1")
        if workers > groups:
            raise _bad(
                f"--workers {workers} needs {workers * per_run} GPUs at {per_run} per run, but "
                f"{len(ids)} are visible; use --workers {groups} or fewer"
            )
        groups = workers
    return [tuple(ids[i * per_run : (i + 1) * per_run]) for i in range(groups)]


def visible_gpus() -> list[str]:
    """The GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else the indices
    of torch's CUDA devices (an empty list without torch or without CUDA)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [g.strip() for g in env.split(",") if g.strip()]
        # CUDA stops at the first invalid id, such as -1
        valid: list[str] = []
        for g in ids:
            if g.startswith("-"):
                break
            valid.append(g)
        return valid
    try:
        import torch
    except ImportError:
        return []
    return [str(i) for i in range(torch.cuda.device_count())]


def init_gpu_worker(queue: Any) -> None:
    """Pool initializer: take one GPU group from ``queue`` and make it the only one visible.

    Runs first thing in a fresh (spawned) worker, before torch initialises CUDA.
    """
    group = queue.get()
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(group)

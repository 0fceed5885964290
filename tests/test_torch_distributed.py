"""Scheduler.report under torch.distributed: 2 gloo ranks on CPU take the same plateau decisions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import lrkit
from lrkit.plateau import Plateau
from lrkit.torch import Scheduler, mean_across_ranks

SCHEDULE = lrkit.warmup(4) >> lrkit.cosine(start=0.1, end=0.01, steps=60)
EVALS = 12
STEPS_PER_EVAL = 5


def _metrics(rank: int) -> list[float]:
    """Rank-local metrics that disagree: rank 0 improves, rank 1 worsens faster (mean worsens)."""
    if rank == 0:
        return [1.0 - 0.05 * k for k in range(EVALS)]
    return [0.9 + 0.03 * k for k in range(EVALS)]


def _plateau() -> Plateau:
    return Plateau(factor=0.5, patience=1, threshold=0.0)


def _drive(rank: int, sync: bool) -> list[float]:
    torch.manual_seed(0)
    param = torch.zeros(2, requires_grad=True)
    param.grad = torch.ones(2)
    opt = torch.optim.SGD([param], lr=1.0)
    sched = Scheduler(opt, SCHEDULE, plateau=_plateau())
    lrs = []
    for k in range(EVALS):
        for _ in range(STEPS_PER_EVAL):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        sched.report(_metrics(rank)[k], sync=sync)
    return lrs


def _worker(rank: int, store: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    # a file store in the test's tmp dir: no port to pick, nothing shared with other tests
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        mean = mean_across_ranks(torch.tensor(float(rank)))
        lrs = _drive(rank, sync=True)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps({"mean": mean, "lrs": lrs}))
        dist.barrier()  # neither rank tears down while the other still communicates
    finally:
        dist.destroy_process_group()
    # gloo's C++ threads can abort interpreter finalization (SIGABRT, "terminate called without
    # an active exception"); the results are on disk, so leave without finalizing
    os._exit(0)


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_lrs_from_the_averaged_metric(tmp_path: Path) -> None:
    # the local metrics alone would lead the ranks apart (this also warms torch.optim up, once)
    local = [_drive(0, sync=False), _drive(1, sync=False)]
    assert local[0] != local[1]
    # spawn, never fork: the test process may already run JAX/torch threads (fork after
    # threads can deadlock or abort); the children import this module to find _worker
    store = tmp_path / "gloo.store"
    mp.start_processes(
        _worker, args=(str(store), str(tmp_path)), nprocs=2, join=True, start_method="spawn"
    )
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["mean"] == r1["mean"] == 0.5
    assert r0["lrs"] == r1["lrs"]

    # the shared decision is the one a single process takes on the mean metric
    averaged = [(a + b) / 2 for a, b in zip(_metrics(0), _metrics(1), strict=True)]
    plateau = _plateau()
    expected = []
    for k in range(EVALS):
        expected += [plateau.apply(SCHEDULE(k * STEPS_PER_EVAL + j)) for j in range(5)]
        plateau.report(averaged[k])
    assert r0["lrs"] == expected

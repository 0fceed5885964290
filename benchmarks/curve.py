"""Evaluate 1,000,000 steps of warmup >> cosine as one array, against per-step alternatives.

Prints the time per step of (a) one vectorised call, (b) a Python loop of scalar calls and (c) stepping
PyTorch's SequentialLR(LinearLR, CosineAnnealingLR) on a dummy optimizer (``sched.step()`` alone, no
``optimizer.step()`` in the timed loop; when torch is installed),
and the ratios measured in this same run. The per-step alternatives run on a slice of the steps
(``--loop-steps``) and are reported per step. Target: the array path >= 100x faster than torch.

    python benchmarks/curve.py [--steps 1000000] [--loop-steps 50000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import lrkit


def median_time(repeats: int, run: Callable[[], object]) -> float:
    """Median wall time of ``repeats`` calls (after one warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--loop-steps", type=int, default=50_000)
    args = parser.parse_args()
    total, warm = args.steps, args.steps // 20
    schedule = lrkit.warmup(warm) >> lrkit.cosine(start=1e-3, end=1e-5, steps=total - warm)
    steps = np.arange(total)

    array_s = median_time(9, lambda: schedule(steps)) / total
    loop_n = min(args.loop_steps, total)
    loop_s = median_time(3, lambda: [schedule(t) for t in range(loop_n)]) / loop_n
    print(f"schedule: {schedule}")
    print(f"array evaluation      : {array_s * 1e9:10.1f} ns/step  ({total:,} steps in one call)")
    print(f"python loop of scalars: {loop_s * 1e9:10.1f} ns/step  (ratio {loop_s / array_s:,.0f}x)")
    try:
        import torch
        from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
    except ImportError:
        print("torch not installed: skipping the SequentialLR comparison")
        return

    def step_torch() -> None:
        param = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([param], lr=1e-3)
        sched = SequentialLR(
            opt,
            [
                LinearLR(opt, start_factor=1e-8, end_factor=1.0, total_iters=warm),
                CosineAnnealingLR(opt, T_max=total - warm, eta_min=1e-5),
            ],
            milestones=[warm],
        )
        opt.step()  # once, so PyTorch does not warn; the loop times the scheduler alone
        for _ in range(loop_n):
            sched.step()

    torch_s = median_time(5, step_torch) / loop_n
    ratio = torch_s / array_s
    print(f"torch SequentialLR    : {torch_s * 1e9:10.1f} ns/step  (ratio {ratio:,.0f}x)")
    print(
        f"RESULT array vs torch: {ratio:,.0f}x faster (target >= 100x): {'OK' if ratio >= 100 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()

"""lrkit.torch on a CUDA device: CUDA graphs, compiled steps, per-step overhead (prints; exits 1
on failure, to run on a machine with a CUDA device).

1. The CUDA-graph test (``tests/test_torch_compile.py -k cuda``): a capturable Adam step
   captured in a ``torch.cuda.CUDAGraph`` follows the LR that lrkit writes between replays.
2. The compiled recipe (``opt.step(); sched.step()`` under ``torch.compile``, inductor) on the
   GPU: frames compiled after the first step (recompiles) over a whole schedule.
3. Per-step overhead of ``scheduler.step()`` with the LR a CUDA tensor (an in-place ``fill_``):
   lrkit vs PyTorch's ``CosineAnnealingLR`` of the same curve, same run, as a ratio.

    .venv/bin/python benchmarks/cuda_checks.py [--steps 2000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Any

import torch
from torch._dynamo.utils import counters
from torch.optim.lr_scheduler import CosineAnnealingLR

import lrkit
from lrkit.torch import Scheduler


def _optimizer() -> torch.optim.Adam:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10)
    ).cuda()
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    return torch.optim.Adam(
        model.parameters(), lr=torch.tensor(1e-3, device="cuda"), capturable=True
    )


def recompiles(steps: int) -> int:
    """Frames compiled after the first call of the compiled recipe on the GPU."""
    torch._dynamo.reset()
    counters.clear()
    opt = _optimizer()
    sched = Scheduler(opt, lrkit.warmup(steps // 10) >> lrkit.cosine(start=1e-3, steps=steps))

    @torch.compile
    def step() -> None:
        opt.step()
        sched.step()

    step()
    first = counters["frames"]["total"]
    for _ in range(steps + steps // 5):  # past the end of the schedule
        step()
    torch.cuda.synchronize()
    return int(counters["frames"]["total"] - first)


def overhead(make: Any, steps: int) -> float:
    """Median µs per ``scheduler.step()`` over 5 repeats of ``steps`` calls (CUDA lr tensor)."""
    times = []
    for _ in range(5):
        opt = _optimizer()
        sched = make(opt, steps)
        opt.step()
        torch.cuda.synchronize()
        start = time.perf_counter_ns()
        for _ in range(steps):
            sched.step()
        torch.cuda.synchronize()
        times.append((time.perf_counter_ns() - start) / steps / 1e3)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 1
    print(f"torch {torch.__version__}; {torch.cuda.get_device_name()}")
    test = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rs",
        "tests/test_torch_compile.py",
        "-k",
        "cuda",
    ]
    graph_ok = subprocess.run(test, check=False).returncode == 0
    print(f"1. CUDA graph test: {'passed' if graph_ok else 'FAILED'}")
    n = recompiles(args.steps)
    print(f"2. compiled recipe on the GPU (inductor): {n} recompiles over {args.steps} steps")
    ours = overhead(lambda o, s: Scheduler(o, lrkit.cosine(start=1e-3, steps=s)), args.steps)
    theirs = overhead(lambda o, s: CosineAnnealingLR(o, T_max=s), args.steps)
    print(
        f"3. step overhead, CUDA lr tensor: torch {theirs:.2f} µs, lrkit {ours:.2f} µs, "
        f"ratio {theirs / ours:.1f}x"
    )
    return 0 if graph_ok and n == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

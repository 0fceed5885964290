"""A compiled optimizer step with an LR scheduler: recompiles and step time, torch vs lrkit.

PyTorch's recipe compiles ``opt.step(); sched.step()`` together. For a small MLP on CPU this
script runs that recipe (Adam, warm-up then cosine) four ways in the same run:

    (a) torch SequentialLR(LinearLR, CosineAnnealingLR), float lr
    (b) the same torch scheduler, lr a 0-d tensor
    (c) lrkit.torch.Scheduler, lr a 0-d tensor
    (d) lrkit.torch.Scheduler(as_tensors=True) on a float-lr optimizer

and prints, per setup, the frames dynamo compiled after the first step (recompiles) and the
median time of the compiled step (forward and backward run eagerly, outside the timer; the
setups' steps interleaved), with the ratio to the fastest torch setup. Goal: lrkit 0 recompiles, ratio <= 1.

    .venv/bin/python benchmarks/compiled_step.py [--steps 300] [--backend inductor]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch._dynamo.utils import counters
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

import lrkit
from lrkit.torch import Scheduler

PEAK = 1e-3
Setup = Callable[[torch.optim.Optimizer, int], Any]


def _torch_sched(opt: torch.optim.Optimizer, steps: int) -> Any:
    warm = steps // 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's construction note
        return SequentialLR(
            opt,
            [
                LinearLR(opt, start_factor=0.01, total_iters=warm),
                CosineAnnealingLR(opt, T_max=steps - warm),
            ],
            milestones=[warm],
        )


def _lrkit_sched(opt: torch.optim.Optimizer, steps: int, **kw: Any) -> Scheduler:
    warm = steps // 10
    s = lrkit.warmup(warm, start=0.01 * PEAK) >> lrkit.cosine(start=PEAK, steps=steps - warm)
    return Scheduler(opt, s, **kw)


SETUPS: list[tuple[str, bool, Setup]] = [
    ("(a) torch, float lr", False, _torch_sched),
    ("(b) torch, tensor lr", True, _torch_sched),
    ("(c) lrkit, tensor lr", True, _lrkit_sched),
    ("(d) lrkit, as_tensors=True", False, lambda o, n: _lrkit_sched(o, n, as_tensors=True)),
]


class Run:
    """One setup: a model, its optimizer and scheduler, and the compiled recipe."""

    def __init__(self, setup: Setup, tensor_lr: bool, steps: int, backend: str) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
        )
        lr: float | torch.Tensor = torch.tensor(PEAK) if tensor_lr else PEAK
        opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        sched = setup(opt, steps)
        self.opt = opt

        @torch.compile(fullgraph=False, backend=backend)
        def step() -> None:
            opt.step()
            sched.step()

        self.step = step
        self.recompiles = 0
        self.times: list[float] = []

    def train_step(self, x: torch.Tensor, y: torch.Tensor, first: bool) -> None:
        """Forward and backward (eager), then the compiled step, timed; count new frames."""
        self.opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(self.model(x), y).backward()
        frames = counters["frames"]["total"]
        start = time.perf_counter_ns()
        self.step()
        self.times.append((time.perf_counter_ns() - start) / 1e3)
        if not first:
            self.recompiles += counters["frames"]["total"] - frames


def run_all(steps: int, backend: str) -> list[tuple[str, int, float]]:
    """Every setup, their steps interleaved so that machine noise hits all of them alike."""
    torch._dynamo.reset()
    counters.clear()
    runs = [(name, Run(make, tensor, steps, backend)) for name, tensor, make in SETUPS]
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    for i in range(steps):
        for _, r in runs:
            r.train_step(x, y, first=i == 0)
    skip = steps // 10  # the first steps compile
    return [(name, r.recompiles, statistics.median(r.times[skip:])) for name, r in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--backend", default="inductor")
    args = parser.parse_args()
    print(f"torch {torch.__version__}; backend {args.backend}; {args.steps} steps")
    rows = run_all(args.steps, args.backend)
    best_torch = min(t for name, _, t in rows if "torch" in name)
    print(f"{'setup':30s} {'recompiles':>10s} {'median µs':>10s} {'/ best torch':>12s}")
    for name, recompiles, t in rows:
        print(f"{name:30s} {recompiles:10d} {t:10.1f} {t / best_torch:11.2f}x")


if __name__ == "__main__":
    main()

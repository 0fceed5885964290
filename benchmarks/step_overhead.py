"""Per-step overhead of ``scheduler.step()``: PyTorch's schedulers vs ``lrkit.torch.Scheduler``.

Both sides drive the same curve on the same optimizer type in the same run. Each repeat builds a
fresh optimizer and scheduler, calls ``optimizer.step()`` once (so the call-order check passes)
and times ``STEPS`` calls of ``scheduler.step()`` (lrkit's plain ``step()``: each driven entry
reads the next value of a cursor over block-evaluated schedule values, refills included). The script prints the median µs/step of
several repeats and the ratio torch / lrkit. Goal: lrkit's overhead at least 5x below torch's.

    .venv/bin/python benchmarks/step_overhead.py [--steps 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from torch.optim import SGD, Optimizer
from torch.optim import lr_scheduler as tls

import lrkit
from lrkit.torch import Scheduler

LR = 0.1
Factory = Callable[[Optimizer, int], object]


def cases() -> list[tuple[str, Factory, Factory]]:
    """(name, torch factory, lrkit factory); factories take (optimizer, steps)."""
    warm = 500
    return [
        (
            "StepLR",
            lambda o, n: tls.StepLR(o, step_size=30, gamma=0.1),
            lambda o, n: Scheduler(o, lrkit.step(LR, every=30, factor=0.1)),
        ),
        (
            "ExponentialLR",
            lambda o, n: tls.ExponentialLR(o, gamma=0.9999),
            lambda o, n: Scheduler(o, lrkit.exponential(LR, 0.9999)),
        ),
        (
            "CosineAnnealingLR",
            lambda o, n: tls.CosineAnnealingLR(o, T_max=n),
            lambda o, n: Scheduler(o, lrkit.cosine(start=LR, end=0.0, steps=n)),
        ),
        (
            "OneCycleLR (+momentum)",
            lambda o, n: tls.OneCycleLR(o, max_lr=LR, total_steps=n + 10),
            lambda o, n: Scheduler(
                o,
                {
                    "lr": lrkit.one_cycle(LR, steps=n + 10),
                    "momentum": lrkit.one_cycle_momentum(steps=n + 10),
                },
            ),
        ),
        (
            "CyclicLR (+momentum)",
            lambda o, n: tls.CyclicLR(o, base_lr=LR / 4, max_lr=LR, step_size_up=2000),
            lambda o, n: Scheduler(
                o,
                {
                    "lr": lrkit.cyclic(LR / 4, LR, half_cycle=2000),
                    "momentum": lrkit.cyclic(LR / 4, LR, half_cycle=2000).mirror(0.8, 0.9),
                },
            ),
        ),
        (
            "SequentialLR(LinearLR, Cosine)",
            lambda o, n: tls.SequentialLR(
                o,
                [
                    tls.LinearLR(o, start_factor=0.01, total_iters=warm),
                    tls.CosineAnnealingLR(o, T_max=n - warm),
                ],
                milestones=[warm],
            ),
            lambda o, n: Scheduler(
                o, lrkit.warmup(warm, start=0.01 * LR) >> lrkit.cosine(start=LR, steps=n - warm)
            ),
        ),
    ]


def time_steps(factory: Factory, steps: int) -> float:
    """µs per ``scheduler.step()`` over ``steps`` calls on a fresh SGD(momentum=0.9)."""
    param = torch.zeros(4, requires_grad=True)
    param.grad = torch.zeros(4)
    opt = SGD([param], lr=LR, momentum=0.9)
    sched = factory(opt, steps)
    opt.step()
    start = time.perf_counter_ns()
    for _ in range(steps):  # looks sched.step up on every call, as a training loop does
        sched.step()  # type: ignore[attr-defined]
    return (time.perf_counter_ns() - start) / steps / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # SequentialLR's construction warns; not what we time
    print(f"torch {torch.__version__}; {args.steps} steps, median of {args.repeats} repeats")
    print(f"{'scheduler':32s} {'torch µs':>9s} {'lrkit µs':>9s} {'ratio':>7s}")
    ratios = []
    for name, make_torch, make_lrkit in cases():
        t_torch: list[float] = []
        t_lrkit: list[float] = []
        for _ in range(args.repeats):  # interleaved so that machine noise hits both sides
            t_torch.append(time_steps(make_torch, args.steps))
            t_lrkit.append(time_steps(make_lrkit, args.steps))
        a, b = statistics.median(t_torch), statistics.median(t_lrkit)
        ratios.append(a / b)
        print(f"{name:32s} {a:9.3f} {b:9.3f} {a / b:6.1f}x")
    print(f"lowest ratio {min(ratios):.1f}x, median {statistics.median(ratios):.1f}x (goal: >= 5x)")


if __name__ == "__main__":
    main()

"""Metric averaging across ``torch.distributed`` ranks, for plateau decisions."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["mean_across_ranks"]


def mean_across_ranks(metric: Any) -> float:
    """The mean of ``metric`` over all ranks when ``torch.distributed`` is initialised.

    Without an initialised process group (or with one rank) it is ``float(metric)``. Every rank
    must call it (it is a collective). NCCL groups reduce on the current CUDA device.

    mean = (metric_0 + ... + metric_{world-1}) / world, summed in float64

    Args:
        metric: this rank's metric: a number or a one-element tensor.

    >>> mean_across_ranks(torch.tensor(0.5))
    0.5
    """
    value = float(metric.item()) if isinstance(metric, torch.Tensor) else float(metric)
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return value
    world = dist.get_world_size()
    if world <= 1:
        return value
    device = torch.device("cpu")
    if "nccl" in str(dist.get_backend()).lower() and torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())
    buf = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return float(buf.item()) / world

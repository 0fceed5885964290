"""PyTorch adapter: lrkit schedules as ``torch.optim.lr_scheduler.LRScheduler`` (imports torch)."""

from lrkit.torch.distributed import mean_across_ranks
from lrkit.torch.finder import find_lr
from lrkit.torch.scheduler import Scheduler

__all__ = ["Scheduler", "find_lr", "mean_across_ranks"]

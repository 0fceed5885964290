"""PyTorch adapter: lrkit schedules as ``torch.optim.lr_scheduler.LRScheduler`` (imports torch)."""

from lrkit.torch.distributed import mean_across_ranks
from lrkit.torch.scheduler import Scheduler

# finder helper: add `from lrkit.torch.finder import find_lr` on the next line (and to __all__)
__all__ = ["Scheduler", "mean_across_ranks"]

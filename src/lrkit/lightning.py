"""Lightning integration: :class:`LrkitCallback` (imports ``lightning``).

``LrkitCallback`` connects every :class:`lrkit.torch.Scheduler` returned by
``configure_optimizers`` with the Trainer's loop:

- at train start it binds a scheduler built with ``total_steps="auto"``: with
  ``"interval": "step"`` (the usual choice) to ``trainer.estimated_stepping_batches`` (optimizer
  steps, after gradient accumulation), with ``"interval": "epoch"`` to ``trainer.max_epochs``
  (each divided by the config's ``frequency``);
- after each validation it reports ``trainer.callback_metrics[monitor]`` to the scheduler's
  :class:`lrkit.Plateau` (``Scheduler.report`` averages it over ``torch.distributed`` ranks);
- at the end of training it warns when a scheduler was stepped for less than 90 % or more than
  110 % of its length, the sign of a schedule counted in epochs but stepped per batch or the
  other way round.

The plateau state and the binding are in the scheduler's ``state_dict()``, which Lightning saves
in its checkpoints, so ``fit(..., ckpt_path=...)`` continues exactly.
``lrkit.compat.torch.ReduceLROnPlateau`` needs no callback: Lightning passes it the metric.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import lightning
import torch

from lrkit._callbacks import bind_auto, scheduler_length
from lrkit.torch.scheduler import Scheduler

__all__ = ["LrkitCallback"]


def _configs(trainer: Any) -> list[Any]:
    """The trainer's scheduler configs whose scheduler is an lrkit Scheduler."""
    return [c for c in trainer.lr_scheduler_configs if isinstance(c.scheduler, Scheduler)]


class LrkitCallback(lightning.Callback):
    """Bind ``total_steps="auto"`` schedulers, feed their plateau, check their length.

    Args:
        monitor: the logged metric reported to the plateau controller after each validation.
        check_length: warn at the end of training when a scheduler was stepped for less than
            90 % or more than 110 % of its length (skipped when training was stopped early).
        strict: a missing ``monitor`` metric is an error (else the evaluation is skipped).
        retarget: when a scheduler is bound to another number of steps than the run will make
            (resumed with a new ``max_epochs``/``max_steps``), call ``scheduler.retarget(n)`` at
            train start instead of warning (the rest of the schedule is stretched onto ``n``).

    >>> LrkitCallback(monitor="val_acc").monitor
    'val_acc'
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        check_length: bool = True,
        strict: bool = True,
        retarget: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                f"LrkitCallback: monitor={monitor!r} is invalid; monitor must be the name of a "
                "logged metric such as 'val_loss'"
            )
        self.monitor = monitor
        self.check_length = bool(check_length)
        self.strict = bool(strict)
        self.retarget = bool(retarget)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Bind every ``total_steps="auto"`` scheduler to the run's number of its steps."""
        for config in _configs(trainer):
            freq = max(1, int(config.frequency))
            if config.interval == "step":
                steps = float(trainer.estimated_stepping_batches)
            else:
                epochs = trainer.max_epochs
                steps = float(epochs) if epochs is not None and epochs >= 0 else math.inf
            n = math.ceil(steps / freq) if math.isfinite(steps) else None
            bind_auto(config.scheduler, n, "LrkitCallback", self.retarget)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Report ``trainer.callback_metrics[monitor]`` to each scheduler's plateau controller."""
        if trainer.sanity_checking:
            return
        targets = [
            c.scheduler
            for c in _configs(trainer)
            if c.scheduler.plateau is not None
            # Lightning itself passes the monitored metric to a ReduceLROnPlateau
            and not isinstance(c.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        ]
        if not targets:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            if not self.strict:
                return
            raise KeyError(
                f"LrkitCallback: monitor={self.monitor!r} is not among the logged metrics "
                f"{sorted(trainer.callback_metrics)}; log it with self.log({self.monitor!r}, ...) "
                "in validation_step or pass LrkitCallback(monitor=...)"
            )
        for sched in targets:
            sched.report(value)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        """Warn when a scheduler ran for < 90 % or > 110 % of its length (a unit mismatch)."""
        if not self.check_length or trainer.should_stop:
            return
        for config in _configs(trainer):
            sched = config.scheduler
            length = scheduler_length(sched)
            if not length:
                continue
            stepped = int(sched.last_epoch)
            unit = "optimizer step" if config.interval == "step" else "epoch"
            if stepped < 0.9 * length:
                warnings.warn(
                    f"LrkitCallback: the scheduler was stepped {stepped} times (once per {unit}, "
                    f"interval={config.interval!r}) but its schedule is {length} steps long, so "
                    f"training ended at {stepped / length:.0%} of it. Is the schedule's length "
                    "counted in steps while the scheduler is stepped per epoch? Use "
                    "interval='step', or total_steps='auto' with LrkitCallback.",
                    UserWarning,
                    stacklevel=2,
                )
            elif stepped > 1.1 * length:
                warnings.warn(
                    f"LrkitCallback: the scheduler was stepped {stepped} times (once per {unit}, "
                    f"interval={config.interval!r}) but its schedule is {length} steps long, so "
                    f"it held its final value for the last {stepped - length} steps. Is the "
                    "schedule's length counted in epochs while the scheduler is stepped per "
                    "batch? Use total_steps='auto' with LrkitCallback.",
                    UserWarning,
                    stacklevel=2,
                )

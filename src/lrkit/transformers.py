"""Hugging Face ``Trainer`` integration: :class:`LrkitCallback` (imports ``transformers``).

``LrkitCallback`` connects an :class:`lrkit.torch.Scheduler` passed to the Trainer
(``optimizers=(opt, sched)``) with the Trainer's loop:

- at train start it binds a scheduler built with ``total_steps="auto"`` to ``state.max_steps``,
  the number of optimizer steps (after gradient accumulation), so no step count is computed by
  hand, and warns when fixed-length schedules do not fit ``max_steps`` (a step/epoch mix-up);
- after each evaluation it reports ``metrics[metric]`` to the scheduler's :class:`lrkit.Plateau`
  (``Scheduler.report``, which averages over ``torch.distributed`` ranks).

The plateau state and the binding are part of the scheduler's ``state_dict()``, which the Trainer
saves in every checkpoint, so ``train(resume_from_checkpoint=...)`` continues exactly.
``lrkit.compat.torch.ReduceLROnPlateau`` needs no callback: the Trainer passes it the metric.
"""

from __future__ import annotations

from typing import Any

import torch
import transformers

from lrkit._callbacks import bind_auto, warn_length
from lrkit.errors import ScheduleError, ScheduleTypeError
from lrkit.torch.scheduler import Scheduler

__all__ = ["LrkitCallback"]


def _unwrap(sched: Any) -> Any:
    """The scheduler inside accelerate's ``AcceleratedScheduler`` (or ``sched`` itself)."""
    while not isinstance(sched, Scheduler) and hasattr(sched, "scheduler"):
        sched = sched.scheduler
    return sched


class LrkitCallback(transformers.TrainerCallback):
    """Bind ``total_steps="auto"`` schedulers at train start; feed the plateau after evaluations.

    A scheduler bound to another number of steps than the Trainer's ``max_steps`` warns at train
    start (or is retargeted, ``retarget=True``); so does one whose fixed-length schedules last
    under 90 % or over 110 % of ``max_steps`` (a length counted in epochs or batches).

    Args:
        metric: the key of the evaluation metrics reported to the plateau controller;
            ``"loss"`` means ``"eval_loss"`` (Hugging Face prefixes ``eval_``).
        scheduler: the lrkit scheduler; ``None`` (default) uses the Trainer's ``lr_scheduler``.
        retarget: when the scheduler is bound to another number of steps than the Trainer will
            make (a run resumed with a new ``max_steps``), call ``scheduler.retarget(max_steps)``
            at train start instead of warning: the rest of the schedule is stretched onto the new
            budget, from the current step on.

    >>> cb = LrkitCallback(metric="loss")
    >>> cb.metric
    'eval_loss'
    """

    def __init__(
        self,
        metric: str = "eval_loss",
        scheduler: Scheduler | None = None,
        retarget: bool = False,
    ) -> None:
        if not isinstance(metric, str) or not metric:
            raise ScheduleError(
                f"LrkitCallback: metric={metric!r} is invalid; metric must be the name of an "
                "evaluation metric such as 'eval_loss'"
            )
        if scheduler is not None and not isinstance(scheduler, Scheduler):
            raise ScheduleTypeError(
                f"LrkitCallback: scheduler={type(scheduler).__name__} is invalid; scheduler must "
                "be an lrkit.torch.Scheduler or None (the Trainer's)"
            )
        self.metric = metric if metric.startswith("eval_") else f"eval_{metric}"
        self.scheduler = scheduler
        self.retarget = bool(retarget)

    def _scheduler(self, kwargs: dict[str, Any]) -> Scheduler | None:
        sched = (
            self.scheduler if self.scheduler is not None else _unwrap(kwargs.get("lr_scheduler"))
        )
        return sched if isinstance(sched, Scheduler) else None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Bind a ``total_steps="auto"`` scheduler to ``state.max_steps`` optimizer steps."""
        sched = self._scheduler(kwargs)
        if sched is None:
            if kwargs.get("lr_scheduler") is not None:
                raise ScheduleTypeError(
                    "LrkitCallback: the Trainer's lr_scheduler is a "
                    f"{type(kwargs['lr_scheduler']).__name__}, not an lrkit.torch.Scheduler; pass "
                    "optimizers=(optimizer, lrkit.torch.Scheduler(optimizer, ...)) to the Trainer"
                )
            return
        bind_auto(sched, int(state.max_steps), "LrkitCallback", self.retarget)
        warn_length(sched, int(state.max_steps), "LrkitCallback")

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Report ``metrics[self.metric]`` to the scheduler's plateau controller, if it has one."""
        sched = self._scheduler(kwargs)
        if sched is None or sched.plateau is None:
            return
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            return  # the Trainer itself passes the metric to a ReduceLROnPlateau
        metrics = metrics or {}
        if self.metric not in metrics:
            raise KeyError(
                f"LrkitCallback: metric={self.metric!r} is not among the evaluation metrics "
                f"{sorted(metrics)}; pass LrkitCallback(metric=...) with one of them"
            )
        sched.report(metrics[self.metric])

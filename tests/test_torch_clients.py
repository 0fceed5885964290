"""lrkit.torch.Scheduler inside real training clients: Lightning, HF Trainer, Accelerate.

Each test compares the LR (and momentum) sequence of an interrupted-and-resumed run with an
uninterrupted one, step for step, exactly.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import lrkit
from _clients import (
    Regressor,
    data,
    hf_args,
    hf_dataset,
    hf_record,
    import_lightning,
    lightning_module,
    lightning_record,
    lightning_trainer,
)
from lrkit.torch import Scheduler

STEPS = 24
SCHEDULE = {
    "lr": lrkit.warmup(4) >> lrkit.cosine(start=0.05, end=0.001, steps=STEPS - 4),
    "momentum": lrkit.one_cycle_momentum(steps=STEPS),
}


def _lr_momentum(group: dict[str, Any]) -> tuple[float, float]:
    return group["lr"], group["momentum"]


def _optimizer_and_scheduler(params: Any) -> tuple[torch.optim.Optimizer, Scheduler]:
    opt = torch.optim.SGD(params, lr=1.0, momentum=0.9)
    return opt, Scheduler(opt, SCHEDULE)


def _expected() -> list[tuple[float, float]]:
    return [(SCHEDULE["lr"](t), SCHEDULE["momentum"](t)) for t in range(STEPS)]


# -- Lightning ---------------------------------------------------------------------------------
def test_lightning_resume_from_checkpoint_gives_the_uninterrupted_lr_sequence(
    tmp_path: Path,
) -> None:
    lightning = import_lightning()
    from torch.utils.data import DataLoader, TensorDataset

    def configure(params: Any) -> dict[str, Any]:
        opt, sched = _optimizer_and_scheduler(params)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    Tiny = lightning_module(lightning, configure, validate=False)

    def fit(epochs: int, ckpt: Path | None = None) -> tuple[Any, Any]:
        torch.manual_seed(0)
        record = lightning_record(lightning, _lr_momentum)
        trainer = lightning_trainer(lightning, epochs, [record])
        loader = DataLoader(TensorDataset(*data(48)), batch_size=8)  # 6 steps per epoch
        trainer.fit(Tiny(), loader, ckpt_path=ckpt, weights_only=True if ckpt else None)
        return trainer, record

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        _, full = fit(4)
        first_trainer, first = fit(2)
        ckpt = tmp_path / "mid.ckpt"
        first_trainer.save_checkpoint(ckpt)
        _, resumed = fit(4, ckpt)
    assert full.seen == _expected()
    assert first.seen + resumed.seen == full.seen


# -- Hugging Face Trainer ----------------------------------------------------------------------
def test_hf_trainer_resume_from_checkpoint_gives_the_uninterrupted_lr_sequence(
    tmp_path: Path,
) -> None:
    transformers = pytest.importorskip("transformers")
    dataset = hf_dataset(48)

    def run(out: Path, resume: str | None = None) -> tuple[Any, Any]:
        torch.manual_seed(0)
        model = Regressor()
        opt, sched = _optimizer_and_scheduler(model.parameters())
        args = hf_args(
            transformers,
            out,
            max_steps=STEPS,
            per_device_train_batch_size=8,
            save_strategy="steps",
            save_steps=10,
        )
        record = hf_record(transformers, _lr_momentum)
        trainer = transformers.Trainer(
            model=model,
            args=args,
            train_dataset=dataset,
            optimizers=(opt, sched),
            callbacks=[record],
        )
        trainer.train(resume_from_checkpoint=resume)
        return record, sched

    full, sched_full = run(tmp_path / "full")
    assert [full.seen[t] for t in range(STEPS)] == _expected()
    ckpt = tmp_path / "full" / "checkpoint-10"
    assert (ckpt / "scheduler.pt").exists()
    resumed, sched_resumed = run(tmp_path / "resumed", resume=str(ckpt))
    assert sorted(resumed.seen) == list(range(10, STEPS))
    assert [resumed.seen[t] for t in range(10, STEPS)] == [full.seen[t] for t in range(10, STEPS)]
    assert sched_resumed.state_dict() == sched_full.state_dict()


# -- Accelerate --------------------------------------------------------------------------------
@pytest.mark.parametrize("accumulate", [1, 2])
def test_accelerate_prepared_scheduler_steps_once_per_optimizer_step(accumulate: int) -> None:
    accelerate = pytest.importorskip("accelerate")
    from accelerate.scheduler import AcceleratedScheduler
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    accelerator = accelerate.Accelerator(cpu=True, gradient_accumulation_steps=accumulate)
    model = nn.Linear(4, 1)
    opt, sched = _optimizer_and_scheduler(model.parameters())
    loader = DataLoader(TensorDataset(*data(STEPS * accumulate * 2)), batch_size=2)
    model, opt, loader, prepared = accelerator.prepare(model, opt, loader, sched)
    assert isinstance(prepared, AcceleratedScheduler)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x, y in loader:
            with accelerator.accumulate(model):
                accelerator.backward(nn.functional.mse_loss(model(x), y))
                if accelerator.sync_gradients:
                    group = opt.param_groups[0]
                    seen.append((group["lr"], group["momentum"]))
                opt.step()
                prepared.step()
                opt.zero_grad()
    assert seen == _expected()
    assert sched.last_epoch == STEPS
    assert prepared.get_last_lr() == [SCHEDULE["lr"](STEPS)]
    restored = Scheduler(torch.optim.SGD(nn.Linear(4, 1).parameters(), momentum=0.9), SCHEDULE)
    restored.load_state_dict(prepared.state_dict())
    assert restored.last_epoch == STEPS

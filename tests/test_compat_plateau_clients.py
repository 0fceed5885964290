"""``lrkit.compat.torch.ReduceLROnPlateau`` inside real training clients: HF Trainer and Lightning.

Both clients decide whether to pass a metric with ``isinstance(s,
torch.optim.lr_scheduler.ReduceLROnPlateau)``. The oracle is PyTorch's own ReduceLROnPlateau run in
the same client on the same data: the LR sequences must be equal, and a run resumed from a
mid-training checkpoint must continue the uninterrupted one exactly.

``mode="max"`` on a falling loss makes every evaluation "not better", so the LR is reduced every
``patience + 1`` evaluations: several reductions happen in a few steps.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.optim import lr_scheduler as L

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
from lrkit.compat import torch as C
from lrkit.compat import transformers as CT

PLATEAU = {"mode": "max", "factor": 0.5, "patience": 1}


def test_dropin_is_an_instance_of_pytorchs_class_with_its_attributes() -> None:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s = C.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3, cooldown=2, min_lr=0.01)
    t = CT.get_scheduler("reduce_lr_on_plateau", opt)
    assert isinstance(s, L.ReduceLROnPlateau) and isinstance(t, L.ReduceLROnPlateau)
    assert isinstance(s, L.LRScheduler)
    ref = L.ReduceLROnPlateau(
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1),
        mode="max",
        factor=0.5,
        patience=3,
        cooldown=2,
        min_lr=0.01,
    )
    metrics = [1.0, 0.5, 0.5, 0.5, 0.5, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    for m in metrics:
        s.step(m)
        ref.step(m)
        for name in ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown"):
            assert getattr(s, name) == getattr(ref, name), name
        for name in ("eps", "min_lrs", "best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
            assert getattr(s, name) == getattr(ref, name), name
        assert s.in_cooldown == ref.in_cooldown
        assert s.mode_worse == ref.mode_worse
        assert s.get_last_lr() == ref.get_last_lr()
    state = s.state_dict()
    assert state["format"] == "lrkit.torch.Scheduler"  # lrkit's primitive state, not torch's


# -- Hugging Face Trainer ----------------------------------------------------------------------
HF_STEPS = 20


def _hf_run(out: Path, make: Any, resume: str | None = None) -> dict[int, float]:
    transformers = pytest.importorskip("transformers")
    dataset = hf_dataset()
    torch.manual_seed(0)
    model = Regressor()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    args = hf_args(
        transformers,
        out,
        max_steps=HF_STEPS,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=32,
        eval_strategy="steps",
        eval_steps=2,
        metric_for_best_model="loss",  # which metric HF passes to a ReduceLROnPlateau
        save_strategy="steps",
        save_steps=10,
    )
    record = hf_record(transformers)
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        eval_dataset=dataset,
        optimizers=(opt, make(opt)),
        callbacks=[record],
    )
    trainer.train(resume_from_checkpoint=resume)
    return record.seen


def test_hf_trainer_passes_eval_loss_to_the_dropin_as_to_pytorchs(tmp_path: Path) -> None:
    """``get_scheduler("reduce_lr_on_plateau", ...)`` in HF Trainer with eval every 2 steps: the
    LRs equal PyTorch's ReduceLROnPlateau in the same Trainer, and resuming from checkpoint-10
    continues the uninterrupted run."""
    ours = _hf_run(
        tmp_path / "lrkit",
        lambda o: CT.get_scheduler(
            "reduce_lr_on_plateau", o, scheduler_specific_kwargs=dict(PLATEAU)
        ),
    )
    ref = _hf_run(tmp_path / "torch", lambda o: L.ReduceLROnPlateau(o, **PLATEAU))
    assert sorted(ours) == list(range(HF_STEPS))
    assert ours == ref
    assert len(set(ours.values())) >= 4  # several reductions happened
    resumed = _hf_run(
        tmp_path / "resumed",
        lambda o: C.ReduceLROnPlateau(o, **PLATEAU),
        resume=str(tmp_path / "lrkit" / "checkpoint-10"),
    )
    assert resumed == {t: ours[t] for t in range(10, HF_STEPS)}


# -- Lightning ---------------------------------------------------------------------------------
def _lightning_run(
    make: Any, epochs: int, ckpt: Path | None = None, save: Path | None = None
) -> list[float]:
    lightning = import_lightning()
    from torch.utils.data import DataLoader, TensorDataset

    def configure(params: Any) -> dict[str, Any]:
        opt = torch.optim.SGD(params, lr=0.05)
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": make(opt), "monitor": "val_loss"},
        }

    Tiny = lightning_module(lightning, configure)
    torch.manual_seed(0)
    record = lightning_record(lightning)
    trainer = lightning_trainer(lightning, epochs, [record])
    train = DataLoader(TensorDataset(*data()), batch_size=8)  # 4 steps per epoch
    val = DataLoader(TensorDataset(*data(16)), batch_size=16)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        trainer.fit(Tiny(), train, val, ckpt_path=ckpt, weights_only=True if ckpt else None)
    if save is not None:
        trainer.save_checkpoint(save)
    return record.seen


def test_lightning_steps_the_dropin_with_the_monitored_metric_as_pytorchs(tmp_path: Path) -> None:
    """``{"scheduler": ReduceLROnPlateau(opt), "monitor": "val_loss"}`` in Lightning: LRs equal
    PyTorch's ReduceLROnPlateau's; resuming after epoch 3 continues the uninterrupted run."""
    ours = _lightning_run(lambda o: C.ReduceLROnPlateau(o, **PLATEAU), 6)
    ref = _lightning_run(lambda o: L.ReduceLROnPlateau(o, **PLATEAU), 6)
    assert ours == ref
    assert len(set(ours)) >= 3
    ckpt = tmp_path / "mid.ckpt"
    first = _lightning_run(lambda o: C.ReduceLROnPlateau(o, **PLATEAU), 3, save=ckpt)
    resumed = _lightning_run(lambda o: C.ReduceLROnPlateau(o, **PLATEAU), 6, ckpt=ckpt)
    assert first + resumed == ours

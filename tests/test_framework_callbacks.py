"""``lrkit.transformers.LrkitCallback`` and ``lrkit.lightning.LrkitCallback`` in the real Trainers.

Oracle for the plateau reporter: an lrkit Scheduler driving ``constant(lr)`` with an
``lrkit.Plateau`` and the callback gives, step for step, the LRs of PyTorch's own
``ReduceLROnPlateau`` run by the same Trainer on the same data. A warm-up/cosine schedule with a
plateau then resumes from a mid-training checkpoint exactly (the plateau state travels in the
scheduler's state_dict). ``mode="max"`` on a falling loss makes every evaluation "not better", so
reductions happen every ``patience + 1`` evaluations within a few steps.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from torch.optim import lr_scheduler as L

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

PLATEAU = {"mode": "max", "factor": 0.5, "patience": 1}


def test_import_lrkit_imports_neither_framework() -> None:
    code = (
        "import sys, lrkit, lrkit.compat.transformers; "
        "print(sorted(m for m in ('transformers', 'lightning') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- Hugging Face Trainer ----------------------------------------------------------------------
HF_STEPS = 20


def _hf_run(
    out: Path,
    make: Any,
    resume: str | None = None,
    lrkit_callback: bool = True,
    retarget: bool = False,
    **extra: Any,
) -> tuple[dict[int, float], Any]:
    transformers = pytest.importorskip("transformers")
    from lrkit.transformers import LrkitCallback

    dataset = hf_dataset()
    torch.manual_seed(0)
    model = Regressor()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sched = make(opt)
    settings: dict[str, Any] = {
        "max_steps": HF_STEPS,
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 32,
        "eval_strategy": "steps",
        "eval_steps": 2,
        "metric_for_best_model": "loss",  # only used by HF for a torch ReduceLROnPlateau
        "save_strategy": "steps",
        "save_steps": 10,
    }
    settings.update(extra)
    args = hf_args(transformers, out, **settings)
    record = hf_record(transformers)
    callbacks = [record, LrkitCallback(retarget=retarget)] if lrkit_callback else [record]
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        eval_dataset=dataset,
        optimizers=(opt, sched),
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=resume)
    return record.seen, sched


def test_hf_callback_reports_eval_loss_like_pytorchs_reduce_lr_on_plateau(tmp_path: Path) -> None:
    ours, _ = _hf_run(
        tmp_path / "lrkit",
        lambda o: Scheduler(o, "constant(0.05)", plateau=lrkit.Plateau(**PLATEAU)),
    )
    ref, _ = _hf_run(
        tmp_path / "torch", lambda o: L.ReduceLROnPlateau(o, **PLATEAU), lrkit_callback=False
    )
    assert sorted(ours) == list(range(HF_STEPS))
    assert ours == ref
    assert len(set(ours.values())) >= 4


SHARES = "warmup('20%') >> cosine(start=0.05, end=0.001, steps='80%')"


def test_hf_callback_binds_auto_and_resumes_a_plateau_on_a_cosine_exactly(tmp_path: Path) -> None:
    """``total_steps="auto"`` is bound to ``state.max_steps`` at train start: the LRs equal those
    of a scheduler built with ``total_steps=20`` by hand; resuming from checkpoint-10 (a fresh
    "auto" scheduler, binding and plateau restored from scheduler.pt) continues exactly."""

    def make(total: Any) -> Any:
        return lambda o: Scheduler(o, SHARES, total_steps=total, plateau=lrkit.Plateau(**PLATEAU))

    full, sched = _hf_run(tmp_path / "full", make("auto"))
    assert sched.total_steps == HF_STEPS
    by_hand, _ = _hf_run(tmp_path / "by_hand", make(HF_STEPS))
    assert full == by_hand
    assert sched.plateau is not None and sched.plateau.reductions >= 3
    bound = lrkit.parse(SHARES).bind(HF_STEPS)
    assert any(full[t] != bound(t) for t in full)  # the plateau scaled the cosine
    resumed, sched2 = _hf_run(
        tmp_path / "resumed", make("auto"), resume=str(tmp_path / "full" / "checkpoint-10")
    )
    assert resumed == {t: full[t] for t in range(10, HF_STEPS)}
    assert sched2.state_dict() == sched.state_dict()


def test_hf_callback_binds_auto_to_optimizer_steps_after_gradient_accumulation(
    tmp_path: Path,
) -> None:
    """32 samples, batch 8, accumulation 2, 5 epochs: 10 optimizer steps, not 20 batches."""
    seen, sched = _hf_run(
        tmp_path / "acc",
        lambda o: Scheduler(o, SHARES, total_steps="auto"),
        max_steps=-1,
        num_train_epochs=5,
        gradient_accumulation_steps=2,
        eval_strategy="no",
        save_strategy="no",
    )
    assert sched.total_steps == 10 and sched.last_epoch == 10
    bound = lrkit.parse(SHARES).bind(10)
    assert seen == {t: bound(t) for t in range(10)}


def _retargeted(total: int, at: int, new_total: int) -> list[float]:
    """Oracle: a plain-loop Scheduler bound to ``total``, retargeted at step ``at``."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    ref = Scheduler(opt, SHARES, total_steps=total)
    out = []
    for t in range(new_total):
        if t == at:
            ref.retarget(new_total)
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        ref.step()
    return out


def _hf_retarget_resumes(
    tmp_path: Path, first: int, budget: int, second: int
) -> tuple[dict[int, float], Scheduler, dict[int, float]]:
    """A full 20-step Trainer run with an ``"auto"`` scheduler; a run resumed from its
    checkpoint-``first`` with ``max_steps=budget`` and ``retarget=True``; and that run resumed
    from its own checkpoint-``second``. Returns (LRs of the longer run, its scheduler, LRs of
    the second resume)."""

    def make(o: Any) -> Scheduler:
        return Scheduler(o, SHARES, total_steps="auto")

    def resume(name: str, checkpoint: Path) -> tuple[dict[int, float], Scheduler]:
        return _hf_run(
            tmp_path / name,
            make,
            resume=str(checkpoint),
            retarget=True,
            max_steps=budget,
            eval_strategy="no",
        )

    _hf_run(tmp_path / "full", make, eval_strategy="no")
    longer, sched = resume("longer", tmp_path / "full" / f"checkpoint-{first}")
    again, _ = resume("again", tmp_path / "longer" / f"checkpoint-{second}")
    return longer, sched, again


def test_hf_callback_retargets_a_run_resumed_with_a_larger_budget(tmp_path: Path) -> None:
    """A 20-step run is resumed from checkpoint-10 with ``max_steps=30`` and
    ``LrkitCallback(retarget=True)``: from step 10 the rest of the schedule is stretched onto 30
    steps (oracle: ``Scheduler.retarget`` in a plain loop), and that run resumed from its own
    checkpoint-20 continues it exactly."""
    longer, sched, again = _hf_retarget_resumes(tmp_path, 10, 30, 20)
    expected = _retargeted(HF_STEPS, 10, 30)
    assert sched.total_steps == 30
    assert longer == {t: expected[t] for t in range(10, 30)}
    assert again == {t: longer[t] for t in range(20, 30)}


def test_hf_callback_retargets_a_finished_run_resumed_with_a_larger_budget(tmp_path: Path) -> None:
    """A finished 20-step run resumed from checkpoint-20 with ``max_steps=40`` and
    ``LrkitCallback(retarget=True)``: nothing of the old budget is left to stretch, so the
    schedule holds its last value to step 40 (oracle: ``Scheduler.retarget`` in a plain loop);
    that run resumed from its own checkpoint-30 continues it exactly."""
    longer, sched, again = _hf_retarget_resumes(tmp_path, HF_STEPS, 40, 30)
    expected = _retargeted(HF_STEPS, HF_STEPS, 40)
    assert sched.total_steps == 40 and sched.last_epoch == 40
    assert longer == {t: expected[t] for t in range(HF_STEPS, 40)}
    assert set(longer.values()) == {lrkit.parse(SHARES).bind(HF_STEPS)(HF_STEPS)}
    assert again == {t: longer[t] for t in range(30, 40)}


def test_hf_callback_warns_for_a_fixed_schedule_shorter_than_the_run(tmp_path: Path) -> None:
    """The README's promise: both callbacks warn about step/epoch mix-ups. A fixed 5-step
    schedule in a 20-step Trainer run warns at train start; a fitting one does not."""
    quiet = {"eval_strategy": "no", "save_strategy": "no"}
    with pytest.warns(UserWarning, match="schedule is 5 steps long but the trainer will make 20"):
        seen, _ = _hf_run(
            tmp_path / "short", lambda o: Scheduler(o, lrkit.cosine(0.05, steps=5)), **quiet
        )
    assert len(seen) == HF_STEPS
    with pytest.warns(UserWarning, match="schedule is 200 steps long .* end at 10% of it"):
        _hf_run(tmp_path / "long", lambda o: Scheduler(o, lrkit.cosine(0.05, steps=200)), **quiet)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="LrkitCallback")
        _hf_run(tmp_path / "fits", lambda o: Scheduler(o, lrkit.cosine(0.05, steps=20)), **quiet)


def test_a_budget_other_than_the_bound_one_warns_or_retargets() -> None:
    from lrkit._callbacks import bind_auto

    class Bound:
        total_steps = 20
        retargeted: ClassVar[list[int]] = []

        def retarget(self, n: int) -> None:
            self.retargeted.append(n)

    with pytest.warns(UserWarning, match="bound to total_steps=20 but the trainer will make 30"):
        assert not bind_auto(Bound(), 30, "LrkitCallback")
    assert bind_auto(Bound(), 30, "LrkitCallback", retarget=True)
    assert Bound.retargeted == [30]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not bind_auto(Bound(), 20, "LrkitCallback")  # the same budget: nothing to do


# -- Lightning ---------------------------------------------------------------------------------
def _lightning_run(
    make: Any,
    epochs: int,
    ckpt: Path | None = None,
    save: Path | None = None,
    interval: str = "step",
    monitor: str | None = None,
    callback: bool = True,
    accumulate: int = 1,
    stop_after: int | None = None,
    retarget: bool = False,
) -> tuple[list[float], Any]:
    lightning = import_lightning()
    from torch.utils.data import DataLoader, TensorDataset

    from lrkit.lightning import LrkitCallback

    made: list[Any] = []

    def configure(params: Any) -> dict[str, Any]:
        opt = torch.optim.SGD(params, lr=0.05)
        sched = make(opt)
        made.append(sched)
        config: dict[str, Any] = {"scheduler": sched, "interval": interval}
        if monitor is not None:
            config["monitor"] = monitor
        return {"optimizer": opt, "lr_scheduler": config}

    Tiny = lightning_module(lightning, configure)

    class Stop(lightning.Callback):  # type: ignore[misc,name-defined]
        """Interrupt the run after ``stop_after`` epochs (the max_epochs budget stays)."""

        def on_train_epoch_end(self, trainer: Any, *args: Any) -> None:
            if stop_after is not None and trainer.current_epoch + 1 >= stop_after:
                trainer.should_stop = True

    torch.manual_seed(0)
    record = lightning_record(lightning)
    callbacks = [record, LrkitCallback(retarget=retarget)] if callback else [record]
    callbacks.append(Stop())
    trainer = lightning_trainer(lightning, epochs, callbacks, accumulate_grad_batches=accumulate)
    train = DataLoader(TensorDataset(*data()), batch_size=8)  # 4 batches per epoch
    val = DataLoader(TensorDataset(*data(16)), batch_size=16)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        trainer.fit(Tiny(), train, val, ckpt_path=ckpt, weights_only=True if ckpt else None)
    if save is not None:
        trainer.save_checkpoint(save)
    return record.seen, made[-1]


def test_lightning_callback_reports_val_loss_like_pytorchs_reduce_lr_on_plateau() -> None:
    ours, _ = _lightning_run(
        lambda o: Scheduler(o, "constant(0.05)", plateau=lrkit.Plateau(**PLATEAU)), 6
    )
    ref, _ = _lightning_run(
        lambda o: L.ReduceLROnPlateau(o, **PLATEAU),
        6,
        interval="epoch",
        monitor="val_loss",
        callback=False,
    )
    assert ours == ref
    assert len(set(ours)) >= 3


def test_lightning_callback_binds_auto_and_resumes_a_plateau_on_a_cosine_exactly(
    tmp_path: Path,
) -> None:
    """``total_steps="auto"`` is bound to ``trainer.estimated_stepping_batches`` (6 epochs of 4
    batches): LRs equal a scheduler built with ``total_steps=24``; a run interrupted after epoch 3
    and resumed (fresh "auto" scheduler, binding and plateau restored from the checkpoint)
    continues exactly. (An interrupted run does not get the length warning.)"""

    def make(total: Any) -> Any:
        return lambda o: Scheduler(o, SHARES, total_steps=total, plateau=lrkit.Plateau(**PLATEAU))

    full, sched = _lightning_run(make("auto"), 6)
    assert sched.total_steps == 24 and sched.plateau.reductions >= 2
    by_hand, _ = _lightning_run(make(24), 6)
    assert full == by_hand
    ckpt = tmp_path / "mid.ckpt"
    first, _ = _lightning_run(make("auto"), 6, save=ckpt, stop_after=3)
    resumed, sched2 = _lightning_run(make("auto"), 6, ckpt=ckpt)
    assert len(first) == 12
    assert first + resumed == full
    assert sched2.state_dict() == sched.state_dict()


def test_lightning_callback_binds_auto_to_optimizer_steps_after_accumulation() -> None:
    """4 batches per epoch, accumulation 2, 3 epochs: 6 optimizer steps; no length warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        seen, sched = _lightning_run(
            lambda o: Scheduler(o, SHARES, total_steps="auto"), 3, accumulate=2
        )
    assert sched.total_steps == 6 and sched.last_epoch == 6
    bound = lrkit.parse(SHARES).bind(6)
    assert seen[::2] == [bound(t) for t in range(6)]


def test_lightning_callback_retargets_a_run_resumed_with_more_epochs(tmp_path: Path) -> None:
    """A 6-epoch run (24 steps) interrupted after epoch 3 resumes with ``max_epochs=9`` and
    ``LrkitCallback(retarget=True)``: from step 12 the rest of the schedule is stretched onto 36
    steps, as ``Scheduler.retarget`` does in a plain loop."""
    ckpt = tmp_path / "mid.ckpt"

    def make(o: Any) -> Scheduler:
        return Scheduler(o, SHARES, total_steps="auto")

    first, _ = _lightning_run(make, 6, save=ckpt, stop_after=3)
    longer, sched = _lightning_run(make, 9, ckpt=ckpt, retarget=True)
    assert sched.total_steps == 36
    assert first + longer == _retargeted(24, 12, 36)


@pytest.mark.parametrize(
    ("interval", "steps", "says"),
    [("epoch", 8, "ended at 25%"), ("step", 2, "held its final value for the last 6")],
)
def test_lightning_callback_warns_on_a_step_epoch_unit_mismatch(
    interval: str, steps: int, says: str
) -> None:
    """2 epochs of 4 batches: a schedule of 8 steps stepped per epoch, or a schedule of 2 (the
    epoch count) stepped per batch."""
    with pytest.warns(UserWarning, match=says):
        _lightning_run(
            lambda o: Scheduler(o, lrkit.cosine(start=0.05, steps=steps)), 2, interval=interval
        )


def test_both_callbacks_report_the_metric_averaged_over_ranks(monkeypatch: Any) -> None:
    """The callbacks report through ``Scheduler.report``'s rank average (``mean_across_ranks``,
    itself proven with 2 gloo ranks in test_torch_distributed.py): here a stand-in says the mean
    over the ranks is 5.0 whatever this rank saw, and the plateau receives 5.0."""
    pytest.importorskip("transformers")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        pytest.importorskip("lightning")
    from types import SimpleNamespace

    import lrkit.torch.scheduler as scheduler_module
    from lrkit.lightning import LrkitCallback as LightningCallback
    from lrkit.transformers import LrkitCallback as HFCallback

    local: list[float] = []

    def mean_of_ranks(metric: Any) -> float:
        local.append(float(metric))
        return 5.0

    monkeypatch.setattr(scheduler_module, "mean_across_ranks", mean_of_ranks)
    for which in ("hf", "lightning"):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = Scheduler(opt, "constant(0.1)", plateau=lrkit.Plateau())
        if which == "hf":
            HFCallback().on_evaluate(
                None, None, None, metrics={"eval_loss": 1.5}, lr_scheduler=sched
            )
        else:
            config = SimpleNamespace(scheduler=sched, interval="step", frequency=1)
            trainer = SimpleNamespace(
                sanity_checking=False,
                lr_scheduler_configs=[config],
                callback_metrics={"val_loss": torch.tensor(1.5)},
            )
            LightningCallback().on_validation_end(trainer, None)
        assert sched.plateau is not None and sched.plateau.best == 5.0
    assert local == [1.5, 1.5]

"""Tiny models, data and trainers shared by the tests that run lrkit inside real clients.

Used by test_compat_plateau_clients.py, test_framework_callbacks.py and test_torch_clients.py:
a 4 → 1 linear regression on seeded data, the HF ``Trainer`` and Lightning ``Trainer`` settings
that keep a run quiet, CPU-only and deterministic, and callbacks that record the LR each step sees.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn


def data(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` seeded inputs of 4 features and their sums as targets."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    return x, x.sum(dim=1, keepdim=True)


def lr_of(group: dict[str, Any]) -> Any:
    """What the recorders keep by default: the param group's lr."""
    return group["lr"]


# -- Hugging Face Trainer ----------------------------------------------------------------------
class Regressor(nn.Module):
    """A linear layer that returns ``{"loss", "logits"}`` as HF Trainer expects."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, Any]:
        out = self.net(x)
        loss = nn.functional.mse_loss(out, labels) if labels is not None else None
        return {"loss": loss, "logits": out}


def hf_dataset(n: int = 32) -> list[dict[str, torch.Tensor]]:
    """:func:`data` as a list of HF examples."""
    x, y = data(n)
    return [{"x": x[i], "labels": y[i]} for i in range(len(x))]


def hf_record(transformers: Any, read: Callable[[dict[str, Any]], Any] = lr_of) -> Any:
    """A TrainerCallback whose ``seen`` maps each global step to ``read(param_groups[0])``."""

    class Record(transformers.TrainerCallback):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.seen: dict[int, Any] = {}

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.seen[state.global_step] = read(kw["optimizer"].param_groups[0])

    return Record()


def hf_args(transformers: Any, out: Path, **settings: Any) -> Any:
    """TrainingArguments writing to ``out``: no logging or tqdm, CPU, seed 0, plus ``settings``."""
    return transformers.TrainingArguments(
        output_dir=str(out),
        logging_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
        **settings,
    )


# -- Lightning ---------------------------------------------------------------------------------
def import_lightning() -> Any:
    """``lightning``, or skip the test; silences lightning's own pytree warning at import."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        return pytest.importorskip("lightning")


def lightning_module(
    lightning: Any, configure: Callable[[Any], dict[str, Any]], *, validate: bool = True
) -> Any:
    """A LightningModule class around a linear layer, MSE loss and ``configure(parameters)``.

    With ``validate`` it logs ``val_loss`` in a validation step.
    """

    class Tiny(lightning.LightningModule):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(4, 1)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return nn.functional.mse_loss(self.net(x), y)

        def configure_optimizers(self) -> dict[str, Any]:
            return configure(self.parameters())

    if not validate:
        return Tiny

    class TinyWithValidation(Tiny):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    return TinyWithValidation


def lightning_record(lightning: Any, read: Callable[[dict[str, Any]], Any] = lr_of) -> Any:
    """A Lightning Callback whose ``seen`` lists ``read(param_groups[0])`` before each batch."""

    class Record(lightning.Callback):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.seen: list[Any] = []

        def on_train_batch_start(self, trainer: Any, *args: Any) -> None:
            self.seen.append(read(trainer.optimizers[0].param_groups[0]))

    return Record()


def lightning_trainer(lightning: Any, epochs: int, callbacks: list[Any], **extra: Any) -> Any:
    """A quiet CPU Lightning Trainer: no logger, checkpointing, progress bar or sanity check."""
    return lightning.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=callbacks,
        **extra,
    )

"""Task ``digits-mlp``: a 64-64-10 ReLU MLP in PyTorch on sklearn's bundled digits.

Data: :mod:`lrkit.bench.tasks._digits` (fixed stratified 1437/360 split, standardised).
Minibatches of 64 cycle through the training set in a fresh seeded order each epoch (22 steps
per epoch); each training batch gets Gaussian input noise (std ``NOISE_STD`` = 1 in standardised
units, from the run's generator) as augmentation: it keeps the gradient noise alive, so with the
default budget a decaying LR clearly beats a constant one at the same peak (sgd, lr 0.1, 1000
steps, 4 seeds: constant 0.958 val accuracy, cosine 0.977, linear decay 0.980). Optimizers: "sgd" (momentum 0.9, nesterov False), "adamw" (betas (0.9, 0.999)),
"sgd-schedulefree" and "adamw-schedulefree" (package ``schedulefree``; evaluation uses the
averaged weights). The seed fixes the initial weights and the batch order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrkit.bench.tasks.base import TaskConfig, TaskSpec, Trainer, require

if TYPE_CHECKING:
    import torch

__all__ = ["make", "task"]

HIDDEN = 64
BATCH_SIZE = 64
NOISE_STD = 1.0


def make(config: TaskConfig) -> Trainer:
    """Build a digits-mlp trainer for ``config``."""
    spec = task()
    require(spec.name, *spec.requires)
    import torch
    from torch import nn

    from lrkit.bench.tasks import _digits, _torch

    generator = _torch.setup(spec, config)
    x_train, y_train, x_val, y_val = (torch.from_numpy(a.copy()) for a in _digits.load())
    x_train, x_val = x_train.to(torch.float32), x_val.to(torch.float32)

    def factory() -> nn.Module:
        return nn.Sequential(
            nn.Linear(_digits.N_FEATURES, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, _digits.N_CLASSES),
        )

    model = _torch.build(factory, generator)
    sampler = _torch.EpochSampler(_digits.N_TRAIN, config.batch_size or BATCH_SIZE, generator)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = sampler.next()
        x = x_train[idx]
        if NOISE_STD > 0:
            x = x + NOISE_STD * torch.randn(x.shape, generator=generator)
        return x, y_train[idx]

    return _torch.trainer(
        spec, config, model, next_batch, _torch.cross_entropy, _torch.classifier_eval(x_val, y_val)
    )


def task() -> TaskSpec:
    """The ``digits-mlp`` TaskSpec."""
    return TaskSpec(
        name="digits-mlp",
        description=(
            "64-64-10 ReLU MLP (PyTorch) on sklearn's 8x8 digits, fixed stratified 1437/360 "
            "split, batch 64; sgd / adamw / schedule-free variants"
        ),
        steps=1000,
        lr=0.1,
        momentum=0.9,
        eval_every=50,
        target_metric="val_accuracy",
        target_value=0.97,
        higher_is_better=True,
        optimizers=("sgd", "adamw", "sgd-schedulefree", "adamw-schedulefree"),
        requires=("torch", "sklearn"),
        make=make,
        batch_size=BATCH_SIZE,
        optimizer_lrs=(("adamw", 0.01), ("sgd-schedulefree", 1.0), ("adamw-schedulefree", 0.01)),
    )

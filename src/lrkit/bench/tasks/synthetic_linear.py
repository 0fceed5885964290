"""Task ``synthetic-linear``: the PyTorch tutorial model, Linear(10 -> 2) + cross-entropy + SGD.

Data (fixed, the same for every seed): x ~ N(0, I) in R^10 with per-feature scales spread
log-uniformly over [0.2, 5] (an ill-conditioned problem, so the LR matters), label
y = [x . w* > 0] for a fixed random w*, then 10 % of the labels flipped (Bayes accuracy ~0.9).
1024 training and 1024 validation examples; batches of 32 cycle through the training set in a
fresh seeded order each epoch. The seed fixes the initial weights and the batch order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lrkit.bench.tasks.base import TaskConfig, TaskSpec, Trainer, require

if TYPE_CHECKING:
    import torch

__all__ = ["make", "make_data", "task"]

N_FEATURES = 10
N_TRAIN = 1024
N_VAL = 1024
LABEL_NOISE = 0.1
DATA_SEED = 20_170_101
BATCH_SIZE = 32


def make_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fixed data set: ``(x_train, y_train, x_val, y_val)`` (float32, int64).

    >>> x_train, y_train, x_val, y_val = make_data()
    >>> x_train.shape, y_val.shape, sorted(set(y_train.tolist()))
    ((1024, 10), (1024,), [0, 1])
    """
    rng = np.random.default_rng(DATA_SEED)
    n = N_TRAIN + N_VAL
    scales = np.geomspace(0.2, 5.0, N_FEATURES)
    x = rng.standard_normal((n, N_FEATURES)) * scales
    w_star = rng.standard_normal(N_FEATURES) / scales
    y = (x @ w_star > 0).astype(np.int64)
    flip = rng.random(n) < LABEL_NOISE
    y = np.where(flip, 1 - y, y)
    x = x.astype(np.float32)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def make(config: TaskConfig) -> Trainer:
    """Build a synthetic-linear trainer for ``config``."""
    spec = task()
    require(spec.name, *spec.requires)
    import torch
    from torch import nn

    from lrkit.bench.tasks import _torch

    generator = _torch.setup(spec, config)
    x_train, y_train, x_val, y_val = (torch.from_numpy(a) for a in make_data())
    model = _torch.build(lambda: nn.Linear(N_FEATURES, 2), generator)
    sampler = _torch.EpochSampler(N_TRAIN, config.batch_size or BATCH_SIZE, generator)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = sampler.next()
        return x_train[idx], y_train[idx]

    return _torch.trainer(
        spec, config, model, next_batch, _torch.cross_entropy, _torch.classifier_eval(x_val, y_val)
    )


def task() -> TaskSpec:
    """The ``synthetic-linear`` TaskSpec."""
    return TaskSpec(
        name="synthetic-linear",
        description=(
            "Linear(10->2) + cross-entropy on fixed ill-conditioned Gaussian data with a linear "
            "rule and 10% label noise (PyTorch tutorial model); 1024 train / 1024 val"
        ),
        steps=300,
        lr=0.1,
        momentum=0.9,
        eval_every=25,
        target_metric="val_accuracy",
        target_value=0.85,
        higher_is_better=True,
        optimizers=("sgd", "adamw", "sgd-schedulefree", "adamw-schedulefree"),
        requires=("torch",),
        make=make,
        batch_size=BATCH_SIZE,
        optimizer_lrs=(("adamw", 0.01), ("sgd-schedulefree", 1.0), ("adamw-schedulefree", 0.03)),
    )

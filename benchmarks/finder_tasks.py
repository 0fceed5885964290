"""Extra tasks for benchmarks/finder_quality.py: small MLPs on scikit-learn's bundled data sets
and on generated data, with and without BatchNorm (user tasks ``finder_tasks:<factory>``).

Data sets (all offline): iris, wine, breast_cancer (classification), diabetes (regression, target
standardised; metric val_loss = MSE), "blobs" (``make_classification``, 2000 x 20, 5 classes,
random_state 0). A fixed stratified 75/25 split (random_state 0), features standardised with the
training statistics. Model: in -> 64 -> 64 -> out ReLU MLP, optionally with BatchNorm1d after
each hidden Linear; batch 32 in a seeded epoch order with Gaussian input noise (std 1, as
digits-mlp: it keeps iris and wine from reaching a validation loss of ~0, where a relative
regret means nothing); 300 steps; sgd (momentum 0.9) or adamw.

Factories: ``iris``, ``iris_bn``, ``wine``, ``wine_bn``, ``breast_cancer``, ``breast_cancer_bn``,
``diabetes``, ``diabetes_bn``, ``blobs``, ``blobs_bn``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from lrkit.bench.tasks import TaskConfig, TaskSpec, Trainer

DATASETS = ("iris", "wine", "breast_cancer", "diabetes", "blobs")
HIDDEN = 64
BATCH = 32
NOISE_STD = 1.0
STEPS = 300


@cache
def load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_val, y_val)`` of data set ``name`` (standardised features)."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name == "blobs":
        x, y = datasets.make_classification(
            n_samples=2000,
            n_features=20,
            n_informative=10,
            n_classes=5,
            n_clusters_per_class=2,
            class_sep=1.0,
            random_state=0,
        )
    else:
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    regression = name == "diabetes"
    xt, xv, yt, yv = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=None if regression else y
    )
    mean, std = xt.mean(axis=0), xt.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    xt, xv = (xt - mean) / std, (xv - mean) / std
    if regression:
        ym, ys = yt.mean(), yt.std()
        yt, yv = (yt - ym) / ys, (yv - ym) / ys
    return xt, yt, xv, yv


def _make(name: str, bn: bool, config: TaskConfig) -> Trainer:
    import torch
    from torch import nn

    from lrkit.bench.tasks import _torch

    spec = _spec(name, bn)
    generator = _torch.setup(spec, config)
    xt, yt, xv, yv = load(name)
    regression = name == "diabetes"
    x_train = torch.tensor(xt, dtype=torch.float32)
    x_val = torch.tensor(xv, dtype=torch.float32)
    if regression:
        y_train = torch.tensor(yt, dtype=torch.float32)
        y_val = torch.tensor(yv, dtype=torch.float32)
        n_out = 1
    else:
        y_train = torch.tensor(yt, dtype=torch.long)
        y_val = torch.tensor(yv, dtype=torch.long)
        n_out = int(yt.max()) + 1
    n_in = x_train.shape[1]

    def factory() -> nn.Module:
        layers: list[nn.Module] = []
        width = n_in
        for _ in range(2):
            layers.append(nn.Linear(width, HIDDEN))
            if bn:
                layers.append(nn.BatchNorm1d(HIDDEN))
            layers.append(nn.ReLU())
            width = HIDDEN
        layers.append(nn.Linear(width, n_out))
        return nn.Sequential(*layers)

    model = _torch.build(factory, generator)
    for m in model.modules():  # BatchNorm: weight 1, bias 0, fresh running statistics
        if isinstance(m, nn.BatchNorm1d):
            m.reset_parameters()
    sampler = _torch.EpochSampler(x_train.shape[0], config.batch_size or BATCH, generator)

    def next_batch() -> tuple[Any, Any]:
        idx = sampler.next()
        x = x_train[idx]
        return x + NOISE_STD * torch.randn(x.shape, generator=generator), y_train[idx]

    if regression:

        def loss_fn(model: nn.Module, x: Any, y: Any) -> Any:
            return nn.functional.mse_loss(model(x).squeeze(-1), y)

        def eval_fn(model: nn.Module) -> dict[str, float]:
            return {"val_loss": float(nn.functional.mse_loss(model(x_val).squeeze(-1), y_val))}

        return _torch.trainer(spec, config, model, next_batch, loss_fn, eval_fn)
    return _torch.trainer(
        spec, config, model, next_batch, _torch.cross_entropy, _torch.classifier_eval(x_val, y_val)
    )


def _spec(name: str, bn: bool) -> TaskSpec:
    regression = name == "diabetes"
    return TaskSpec(
        name=f"{name}{'-bn' if bn else ''}",
        description=f"64-64 ReLU MLP{' + BatchNorm' if bn else ''} on sklearn {name}",
        steps=STEPS,
        lr=0.1,
        momentum=0.9,
        eval_every=50,
        target_metric="val_loss" if regression else "val_accuracy",
        target_value=0.5 if regression else 0.9,
        higher_is_better=not regression,
        optimizers=("sgd", "adamw"),
        requires=("torch", "sklearn"),
        make=lambda config: _make(name, bn, config),
        batch_size=BATCH,
        optimizer_lrs=(("adamw", 0.01),),
    )


def _factory(name: str, bn: bool) -> Any:
    def f() -> TaskSpec:
        return _spec(name, bn)

    f.__name__ = f"{name}{'_bn' if bn else ''}"
    return f


for _name in DATASETS:
    for _bn in (False, True):
        globals()[f"{_name}{'_bn' if _bn else ''}"] = _factory(_name, _bn)

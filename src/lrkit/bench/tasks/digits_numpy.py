"""Task ``digits-numpy``: the digits-mlp network written from scratch in numpy.

A 64-64-10 ReLU MLP, softmax cross-entropy, hand-written backpropagation and SGD with
heavy-ball momentum and (coupled, L2) weight decay, exactly PyTorch's ``SGD`` update with
dampening 0 and nesterov False::

    g = grad + weight_decay * w;   buf = momentum * buf + g (buf = g at the first step);
    w = w - lr * buf

Same data pipeline as ``digits-mlp`` (fixed 1437/360 split, batch 64, Gaussian input noise of
std 1), float64 throughout; needs only numpy and scikit-learn (for the data). The seed fixes
the initial weights, the batch order and the noise (``np.random.default_rng(seed)``).

>>> rng = np.random.default_rng(0)
>>> params = init_params(rng, (4, 3, 2))
>>> x, y = rng.standard_normal((5, 4)), np.array([0, 1, 1, 0, 1])
>>> loss, grads = loss_and_grads(params, x, y)
>>> sorted(grads) == sorted(params), round(loss, 4)
(True, 0.7039)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from lrkit.bench.tasks.base import TaskConfig, TaskSpec, Trainer, check_hparams, require

__all__ = ["NumpyMLPTrainer", "forward", "init_params", "loss_and_grads", "make", "task"]

SIZES = (64, 64, 64, 10)
BATCH_SIZE = 64
NOISE_STD = 1.0

Params = dict[str, np.ndarray]


def init_params(rng: np.random.Generator, sizes: tuple[int, ...] = SIZES) -> Params:
    """Weights ``W{i}`` (fan_in, fan_out) and biases ``b{i}``, all U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) as PyTorch's Linear default."""
    params: Params = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        bound = 1.0 / np.sqrt(fan_in)
        params[f"W{i}"] = rng.uniform(-bound, bound, (fan_in, fan_out))
        params[f"b{i}"] = rng.uniform(-bound, bound, fan_out)
    return params


def _n_layers(params: Mapping[str, np.ndarray]) -> int:
    return len(params) // 2


def forward(params: Mapping[str, np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Activations ``[x, h1, ..., logits]``: ReLU after every layer but the last."""
    acts = [x]
    n = _n_layers(params)
    for i in range(1, n + 1):
        z = acts[-1] @ params[f"W{i}"] + params[f"b{i}"]
        acts.append(np.maximum(z, 0.0) if i < n else z)
    return acts


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    out: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return out


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy in nats: mean(logsumexp(z) - z[y])."""
    return float(-_log_softmax(logits)[np.arange(len(y)), y].mean())


def loss_and_grads(
    params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[float, Params]:
    """Mean cross-entropy of the batch and its gradient with respect to every parameter.

    Backpropagation: dz_L = (softmax(z_L) - onehot(y)) / N; dW_i = a_{i-1}^T dz_i;
    db_i = sum(dz_i); dz_{i-1} = (dz_i W_i^T) * [z_{i-1} > 0].
    """
    acts = forward(params, x)
    logp = _log_softmax(acts[-1])
    n = len(y)
    loss = float(-logp[np.arange(n), y].mean())
    dz = np.exp(logp)
    dz[np.arange(n), y] -= 1.0
    dz /= n
    grads: Params = {}
    for i in range(_n_layers(params), 0, -1):
        grads[f"W{i}"] = acts[i - 1].T @ dz
        grads[f"b{i}"] = dz.sum(axis=0)
        if i > 1:
            dz = (dz @ params[f"W{i}"].T) * (acts[i - 1] > 0)
    return loss, grads


class NumpyMLPTrainer:
    """Trainer for ``digits-numpy``: SGD with heavy-ball momentum on :func:`loss_and_grads`."""

    def __init__(self, config: TaskConfig, spec: TaskSpec) -> None:
        from lrkit.bench.tasks import _digits

        self.task = spec.name
        self.x_train, self.y_train, self.x_val, self.y_val = _digits.load()
        self.rng = np.random.default_rng(config.seed)
        self.params = init_params(self.rng)
        self.velocity: Params = {}
        self.hparams = {"lr": spec.lr, "momentum": spec.momentum, "weight_decay": spec.weight_decay}
        self.batch_size = min(config.batch_size or BATCH_SIZE, len(self.y_train))
        self._perm = np.empty(0, dtype=np.int64)
        self._pos = 0
        self.step_count = 0

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pos + self.batch_size > len(self._perm):
            self._perm = self.rng.permutation(len(self.y_train))
            self._pos = 0
        idx = self._perm[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        x = self.x_train[idx]
        if NOISE_STD > 0:
            x = x + NOISE_STD * self.rng.standard_normal(x.shape)
        return x, self.y_train[idx]

    def train_step(self, hparams: Mapping[str, float]) -> float:
        """Set ``hparams``, one SGD-momentum step on the next batch, return the batch loss."""
        self.hparams.update(check_hparams(self.task, hparams))
        lr, mom, wd = self.hparams["lr"], self.hparams["momentum"], self.hparams["weight_decay"]
        x, y = self._next_batch()
        with np.errstate(all="ignore"):
            loss, grads = loss_and_grads(self.params, x, y)
            for name, w in self.params.items():
                g = grads[name] + wd * w if wd != 0.0 else grads[name]
                buf = self.velocity.get(name)
                buf = g if buf is None else mom * buf + g
                self.velocity[name] = buf
                w -= lr * buf
        self.step_count += 1
        return loss

    def evaluate(self) -> dict[str, float]:
        """Validation cross-entropy (nats) and accuracy on the full validation set."""
        with np.errstate(all="ignore"):
            logits = forward(self.params, self.x_val)[-1]
            loss = cross_entropy(logits, self.y_val)
            acc = float((logits.argmax(axis=1) == self.y_val).mean())
        return {"val_loss": loss, "val_accuracy": acc}


def make(config: TaskConfig) -> Trainer:
    """Build a digits-numpy trainer for ``config``."""
    spec = task()
    spec.check_config(config)
    require(spec.name, *spec.requires)
    try:  # a dependency of scikit-learn; caps BLAS threads like torch.set_num_threads
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover
        pass
    else:
        threadpool_limits(limits=config.threads, user_api="blas")
    return NumpyMLPTrainer(config, spec)


def task() -> TaskSpec:
    """The ``digits-numpy`` TaskSpec."""
    return TaskSpec(
        name="digits-numpy",
        description=(
            "64-64-10 ReLU MLP written in numpy (forward, backprop, SGD with heavy-ball "
            "momentum) on sklearn's 8x8 digits, fixed 1437/360 split, batch 64"
        ),
        steps=1000,
        lr=0.1,
        momentum=0.9,
        eval_every=50,
        target_metric="val_accuracy",
        target_value=0.97,
        higher_is_better=True,
        optimizers=("sgd",),
        requires=("sklearn",),
        make=make,
        batch_size=BATCH_SIZE,
    )

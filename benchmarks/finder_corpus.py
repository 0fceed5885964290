"""A corpus of small CPU training tasks that vary what moves the best learning rate, for
``benchmarks/finder_quality.py``.

Each :class:`Task` fixes an architecture, a data set, an optimizer, a batch size and a step
budget; :func:`make` builds a fresh trainer of it for a seed (model init and batch order; the
data sets are fixed). What varies over the corpus:

* architecture: MLP, MLP + BatchNorm, MLP + LayerNorm, a small CNN (8x8 digits), a small
  char-level transformer; depth 1-4 and width 16-256;
* optimizer: SGD (no momentum), SGD + momentum 0.9, SGD + Nesterov, Adam, AdamW (weight decay
  0.05);
* batch size 16-256, training-set size 200-2000, classification and regression;
* synthetic tasks with a known generating model (a linear teacher, a random ReLU teacher
  network, Friedman #1), with label noise so that the best validation loss is well above 0.

All data is offline: scikit-learn's bundled sets (digits, wine, breast cancer, diabetes),
generated sets, and for the transformer the Python stdlib's own source (as the bench's
``charlm``). Families (for the per-family report): ``mlp``, ``norm-mlp``, ``cnn``,
``transformer``, ``synthetic``; optimizer families ``sgd`` and ``adam``.

A trainer has ``train_step(lr, momentum) -> loss`` (``momentum`` is ``betas[0]`` for the Adam
family; ignored by plain SGD) and ``evaluate() -> val_loss``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

__all__ = ["TASKS", "Task", "make", "task"]


@dataclass(frozen=True)
class Task:
    """One corpus task.

    Args:
      name: unique name.
      family: architecture family for the report.
      model: ``mlp``, ``cnn`` or ``transformer``.
      data: data set name (see :func:`_data`).
      optimizer: ``sgd``, ``momentum``, ``nesterov``, ``adam`` or ``adamw``.
      batch: batch size.
      steps: training steps.
      depth: hidden layers (MLP) or transformer blocks.
      width: hidden width (MLP), channels (CNN) or model dim (transformer).
      norm: ``""``, ``"bn"`` or ``"ln"``.
      n_train: training examples kept (``0``: all).
      noise: std of Gaussian noise added to training inputs (keeps tiny data sets from
        reaching a validation loss near 0, where a relative regret means nothing).
    """

    name: str
    family: str
    model: str
    data: str
    optimizer: str
    batch: int
    steps: int
    depth: int = 2
    width: int = 64
    norm: str = ""
    n_train: int = 0
    noise: float = 0.0

    @property
    def opt_family(self) -> str:
        """``"adam"`` for Adam and AdamW, else ``"sgd"``."""
        return "adam" if self.optimizer.startswith("adam") else "sgd"

    @property
    def momentum(self) -> float:
        """The optimizer's momentum (``betas[0]``); 0 for plain SGD."""
        return 0.0 if self.optimizer == "sgd" else 0.9


TASKS: tuple[Task, ...] = (
    Task("digits-mlp-momentum", "mlp", "mlp", "digits", "momentum", 32, 300),
    Task("digits-mlp-adam", "mlp", "mlp", "digits", "adam", 64, 300),
    Task("digits-bn-nesterov", "norm-mlp", "mlp", "digits", "nesterov", 128, 300, norm="bn"),
    Task("digits-ln-adamw", "norm-mlp", "mlp", "digits", "adamw", 32, 300, norm="ln"),
    Task("digits-small-sgd", "mlp", "mlp", "digits", "sgd", 16, 300, width=32, n_train=300),
    Task("digits-cnn-momentum", "cnn", "cnn", "digits", "momentum", 64, 300, width=16),
    Task("digits-cnn-adam", "cnn", "cnn", "digits", "adam", 16, 300, width=8),
    Task(
        "chars-transformer-adamw",
        "transformer",
        "transformer",
        "chars",
        "adamw",
        16,
        200,
        depth=1,
        width=32,
    ),
    Task(
        "chars-transformer-adam",
        "transformer",
        "transformer",
        "chars",
        "adam",
        32,
        200,
        depth=2,
        width=24,
    ),
    Task(
        "teacher-deep-momentum",
        "synthetic",
        "mlp",
        "teacher",
        "momentum",
        16,
        300,
        depth=4,
        width=32,
    ),
    Task("teacher-wide-adam", "synthetic", "mlp", "teacher", "adam", 256, 300, depth=1, width=256),
    Task("linear-sgd", "synthetic", "mlp", "linear", "sgd", 32, 300, depth=0),
    Task("logistic-nesterov", "synthetic", "mlp", "logistic", "nesterov", 256, 300, depth=0),
    Task("friedman-ln-adam", "synthetic", "mlp", "friedman", "adam", 64, 300, norm="ln"),
    Task("blobs-bn-adamw", "norm-mlp", "mlp", "blobs", "adamw", 256, 300, norm="bn"),
    Task(
        "cancer-mlp-sgd",
        "mlp",
        "mlp",
        "breast_cancer",
        "sgd",
        16,
        300,
        depth=1,
        width=16,
        noise=1.0,
    ),
    Task("diabetes-ln-momentum", "norm-mlp", "mlp", "diabetes", "momentum", 32, 300, norm="ln"),
    Task("wine-mlp-adamw", "mlp", "mlp", "wine", "adamw", 64, 300, depth=3, width=128, noise=1.0),
)
_BY_NAME = {t.name: t for t in TASKS}


def task(name: str) -> Task:
    """The corpus task called ``name``."""
    return _BY_NAME[name]


# -- data ---------------------------------------------------------------------------------------
def _standardise(xt: np.ndarray, xv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = xt.mean(axis=0), xt.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (xt - mean) / std, (xv - mean) / std


def _synthetic(name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(x, y, regression)`` of a generated set with a known generating model."""
    rng = np.random.default_rng(12345)
    if name == "linear":  # y = x @ w + noise, ill-conditioned features
        scales = np.geomspace(0.1, 3.0, 20)
        x = rng.standard_normal((2000, 20)) * scales
        s = x @ rng.standard_normal(20)
        return x, s / s.std() + 0.5 * rng.standard_normal(2000), True
    if name == "logistic":  # labels from a linear logit, 10 % flipped
        x = rng.standard_normal((2000, 30))
        y = (x @ rng.standard_normal(30) > 0).astype(np.int64)
        flip = rng.random(2000) < 0.1
        return x, np.where(flip, 1 - y, y), False
    if name == "teacher":  # a random 16-64-1 ReLU network plus noise
        x = rng.standard_normal((2000, 16))
        w1, w2 = rng.standard_normal((16, 64)) / 4.0, rng.standard_normal(64) / 8.0
        y = np.maximum(x @ w1, 0.0) @ w2
        return x, y / y.std() + 0.3 * rng.standard_normal(2000), True
    from sklearn import datasets

    if name == "friedman":
        x, y = datasets.make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
        return x, y, True
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
        return x, y, False
    raise KeyError(name)


@cache
def _data(name: str, n_train: int) -> tuple[Any, Any, Any, Any, bool]:
    """``(x_train, y_train, x_val, y_val, regression)`` as float32/int64 arrays."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name in ("digits", "wine", "breast_cancer", "diabetes"):
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        regression = name == "diabetes"
    else:
        x, y, regression = _synthetic(name)
    xt, xv, yt, yv = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=None if regression else y
    )
    if n_train:
        xt, yt = xt[:n_train], yt[:n_train]
    xt, xv = _standardise(xt, xv)
    if regression:
        m, s = yt.mean(), yt.std()
        yt, yv = (yt - m) / s, (yv - m) / s
    return xt, yt, xv, yv, regression


@cache
def _chars() -> tuple[np.ndarray, int]:
    """The stdlib text of the bench's charlm as character codes, and the vocabulary size."""
    from lrkit.bench.tasks.charlm import load_text

    text = load_text()[:120_000]
    vocab = sorted(set(text))
    table = {c: i for i, c in enumerate(vocab)}
    return np.asarray([table[c] for c in text], dtype=np.int64), len(vocab)


# -- models -------------------------------------------------------------------------------------
def _mlp(t: Task, n_in: int, n_out: int) -> Any:
    from torch import nn

    layers: list[nn.Module] = []
    width = n_in
    for _ in range(t.depth):
        layers.append(nn.Linear(width, t.width))
        if t.norm == "bn":
            layers.append(nn.BatchNorm1d(t.width))
        elif t.norm == "ln":
            layers.append(nn.LayerNorm(t.width))
        layers.append(nn.ReLU())
        width = t.width
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def _cnn(t: Task) -> Any:
    from torch import nn

    c = t.width
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, c, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(c, 2 * c, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * c * 16, 10),
    )


SEQ = 32


def _transformer(t: Task, vocab: int) -> Any:
    import torch
    from torch import nn

    class CharFormer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = t.width
            self.embed = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(torch.zeros(SEQ, d))
            layer = nn.TransformerEncoderLayer(
                d, nhead=4, dim_feedforward=2 * d, dropout=0.0, batch_first=True
            )
            self.blocks = nn.TransformerEncoder(layer, t.depth, enable_nested_tensor=False)
            self.head = nn.Linear(d, vocab)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(SEQ))

        def forward(self, x: Any) -> Any:
            h = self.embed(x) + self.pos
            return self.head(self.blocks(h, mask=self.mask, is_causal=True))

    return CharFormer()


def _optimizer(t: Task, params: Any) -> Any:
    import torch

    if t.optimizer == "sgd":
        return torch.optim.SGD(params, lr=0.01)
    if t.optimizer in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=t.optimizer == "nesterov")
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=1e-3)
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)


# -- trainer ------------------------------------------------------------------------------------
class Trainer:
    """A fresh model and optimizer of task ``t`` for ``seed``: ``train_step``, ``evaluate``."""

    def __init__(self, t: Task, seed: int) -> None:
        import torch
        from torch import nn

        torch.set_num_threads(1)
        torch.manual_seed(seed)
        self.t = t
        self.g = torch.Generator().manual_seed(seed)
        if t.model == "transformer":
            codes, vocab = _chars()
            cut = int(0.9 * codes.size)
            self.train_codes = torch.tensor(codes[:cut])
            val = torch.tensor(codes[cut:])
            starts = torch.linspace(0, val.numel() - SEQ - 2, 64).long()
            self.xv = torch.stack([val[s : s + SEQ] for s in starts])
            self.yv = torch.stack([val[s + 1 : s + SEQ + 1] for s in starts])
            self.model = _transformer(t, vocab)
            self.regression = False
        else:
            xt, yt, xv, yv, self.regression = _data(t.data, t.n_train)
            ydt = torch.float32 if self.regression else torch.long
            self.xt, self.xv = (
                torch.tensor(xt, dtype=torch.float32),
                torch.tensor(xv, dtype=torch.float32),
            )
            self.yt, self.yv = torch.tensor(yt, dtype=ydt), torch.tensor(yv, dtype=ydt)
            n_out = 1 if self.regression else int(self.yt.max()) + 1
            self.model = _cnn(t) if t.model == "cnn" else _mlp(t, self.xt.shape[1], n_out)
        self.opt = _optimizer(t, self.model.parameters())
        self.loss: Callable[[Any, Any], Any] = (
            (lambda out, y: nn.functional.mse_loss(out.squeeze(-1), y))
            if self.regression
            else (
                lambda out, y: nn.functional.cross_entropy(
                    out.reshape(-1, out.shape[-1]), y.reshape(-1)
                )
            )
        )
        self._perm = torch.empty(0, dtype=torch.long)
        self._pos = 0

    def _batch(self) -> tuple[Any, Any]:
        import torch

        b = self.t.batch
        if self.t.model == "transformer":
            starts = torch.randint(0, self.train_codes.numel() - SEQ - 1, (b,), generator=self.g)
            idx = starts[:, None] + torch.arange(SEQ + 1)
            w = self.train_codes[idx]
            return w[:, :-1], w[:, 1:]
        n = self.xt.shape[0]
        if self._pos + b > self._perm.numel():
            self._perm = torch.randperm(n, generator=self.g)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + b]
        self._pos += b
        x = self.xt[idx]
        if self.t.noise:
            x = x + self.t.noise * torch.randn(x.shape, generator=self.g)
        return x, self.yt[idx]

    def train_step(self, lr: float, momentum: float) -> float:
        """One step at ``lr`` (and ``momentum``, ``betas[0]`` for Adam); the batch loss."""
        for group in self.opt.param_groups:
            group["lr"] = lr
            if "betas" in group:
                group["betas"] = (momentum, group["betas"][1])
            elif group["momentum"] > 0:
                group["momentum"] = momentum
        self.model.train()
        x, y = self._batch()
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss(self.model(x), y)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def evaluate(self) -> float:
        """Validation loss (cross-entropy in nats, or MSE of the standardised target)."""
        import torch

        self.model.eval()
        with torch.no_grad():
            v = float(self.loss(self.model(self.xv), self.yv))
        return v if math.isfinite(v) else math.inf


def make(name: str, seed: int) -> Trainer:
    """A fresh trainer of corpus task ``name`` for ``seed``."""
    return Trainer(task(name), seed)

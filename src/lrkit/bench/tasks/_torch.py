"""Shared PyTorch machinery of the built-in torch tasks (imported only inside ``make``).

Everything random goes through a local ``torch.Generator``; modules are built on the meta
device and initialised from that generator, so the global RNG state is never touched.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import nn

from lrkit.bench.tasks.base import TaskConfig, TaskSpec, check_hparams, require

__all__ = [
    "OPTIMIZERS",
    "EpochSampler",
    "TorchTrainer",
    "build",
    "classifier_eval",
    "classifier_metrics",
    "cross_entropy",
    "init_module_",
    "make_optimizer",
    "setup",
    "trainer",
]

#: Optimizer names understood by :func:`make_optimizer`, in the order tasks list them.
OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw", "sgd-schedulefree", "adamw-schedulefree")
_SCHEDULE_FREE = frozenset({"sgd-schedulefree", "adamw-schedulefree"})


def _sgd(params: list[nn.Parameter], lr: float, mom: float, wd: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=mom, nesterov=False, weight_decay=wd)


def _adamw(params: list[nn.Parameter], lr: float, mom: float, wd: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=lr, betas=(mom, 0.999), weight_decay=wd)


def _schedulefree(kind: str) -> Callable[..., torch.optim.Optimizer]:
    try:
        import schedulefree
    except ImportError:
        raise ImportError(
            f"optimizer {kind!r} needs the package 'schedulefree', which is not installed; "
            f"install it with: pip install schedulefree"
        ) from None
    cls: Callable[..., torch.optim.Optimizer] = getattr(
        schedulefree, "SGDScheduleFree" if kind == "sgd-schedulefree" else "AdamWScheduleFree"
    )
    return cls


def _sgd_sf(params: list[nn.Parameter], lr: float, mom: float, wd: float) -> torch.optim.Optimizer:
    cls = _schedulefree("sgd-schedulefree")
    return cls(params, lr=lr, momentum=mom, weight_decay=wd, warmup_steps=0)


def _adamw_sf(
    params: list[nn.Parameter], lr: float, mom: float, wd: float
) -> torch.optim.Optimizer:
    cls = _schedulefree("adamw-schedulefree")
    return cls(params, lr=lr, betas=(mom, 0.999), weight_decay=wd, warmup_steps=0)


_BUILDERS: dict[str, Callable[[list[nn.Parameter], float, float, float], torch.optim.Optimizer]] = {
    "sgd": _sgd,
    "adamw": _adamw,
    "sgd-schedulefree": _sgd_sf,
    "adamw-schedulefree": _adamw_sf,
}


def make_optimizer(
    name: str, params: list[nn.Parameter], lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    """Build optimizer ``name``: SGD (heavy-ball, nesterov False), AdamW (betas=(momentum,
    0.999)) or their schedule-free versions (package ``schedulefree``, warmup_steps=0)."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValueError(
            f"make_optimizer: optimizer {name!r} is not known; allowed: {', '.join(OPTIMIZERS)}"
        )
    opt = builder(params, lr, momentum, weight_decay)
    if name in _SCHEDULE_FREE:
        opt.train()  # type: ignore[attr-defined]
    return opt


def init_module_(module: nn.Module, generator: torch.Generator) -> None:
    """Initialise ``module`` in place like PyTorch's defaults, drawing from ``generator``.

    Linear: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)); GRU/LSTM/RNN: every
    parameter U(-1/sqrt(hidden), 1/sqrt(hidden)); Embedding: N(0, 1); LayerNorm: (1, 0).
    """
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.Linear):
                bound = 1.0 / math.sqrt(sub.in_features)
                sub.weight.uniform_(-bound, bound, generator=generator)
                if sub.bias is not None:
                    sub.bias.uniform_(-bound, bound, generator=generator)
            elif isinstance(sub, nn.RNNBase):
                bound = 1.0 / math.sqrt(sub.hidden_size)
                for p in sub.parameters():
                    p.uniform_(-bound, bound, generator=generator)
            elif isinstance(sub, nn.Embedding):
                sub.weight.normal_(0.0, 1.0, generator=generator)
            elif isinstance(sub, nn.LayerNorm) and sub.elementwise_affine:
                sub.weight.fill_(1.0)
                if sub.bias is not None:
                    sub.bias.zero_()


def build(factory: Callable[[], nn.Module], generator: torch.Generator) -> nn.Module:
    """Construct ``factory()`` on the meta device (no RNG use), move it to CPU, then
    :func:`init_module_` it from ``generator``."""
    with torch.device("meta"):
        module = factory()
    module = module.to_empty(device="cpu")
    init_module_(module, generator)
    return module


class EpochSampler:
    """Cycles through ``n`` examples in batches: a fresh permutation each epoch from
    ``generator``, equal-size batches (the last partial batch of an epoch is dropped)."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator) -> None:
        self.n = n
        self.batch_size = min(batch_size, n)
        self.generator = generator
        self._perm = torch.empty(0, dtype=torch.long)
        self._pos = 0

    def next(self) -> torch.Tensor:
        """Indices of the next batch."""
        if self._pos + self.batch_size > self._perm.numel():
            self._perm = torch.randperm(self.n, generator=self.generator)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx


def classifier_metrics(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Mean cross-entropy (nats) and accuracy of ``logits`` (N, C) against ``targets`` (N,)."""
    loss = nn.functional.cross_entropy(logits, targets)
    acc = (logits.argmax(dim=-1) == targets).to(torch.float64).mean()
    return {"val_loss": float(loss), "val_accuracy": float(acc)}


def cross_entropy(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Training loss of a classifier: mean cross-entropy of ``model(inputs)`` against ``targets``."""
    return nn.functional.cross_entropy(model(inputs), targets)


def classifier_eval(
    x_val: torch.Tensor, y_val: torch.Tensor
) -> Callable[[nn.Module], dict[str, float]]:
    """An ``eval_fn``: :func:`classifier_metrics` of ``model(x_val)`` against ``y_val``."""

    def eval_fn(model: nn.Module) -> dict[str, float]:
        return classifier_metrics(model(x_val), y_val)

    return eval_fn


class TorchTrainer:
    """A :class:`~lrkit.bench.tasks.Trainer` around a torch model and optimizer.

    ``next_batch()`` returns ``(inputs, targets)``; ``loss_fn(model, inputs, targets)`` returns
    the scalar training loss; ``eval_fn(model)`` returns the validation metrics (called under
    ``torch.no_grad`` and ``model.eval()``).
    """

    def __init__(
        self,
        task: str,
        model: nn.Module,
        optimizer_name: str,
        optimizer: torch.optim.Optimizer,
        next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor]],
        loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
        eval_fn: Callable[[nn.Module], dict[str, float]],
    ) -> None:
        self.task = task
        self.model = model
        self.optimizer_name = optimizer_name
        self.optimizer = optimizer
        self.schedule_free = optimizer_name in _SCHEDULE_FREE
        self._next_batch = next_batch
        self._loss_fn = loss_fn
        self._eval_fn = eval_fn
        self.step_count = 0

    def _apply(self, hparams: dict[str, float]) -> None:
        if self.schedule_free and hparams.get("momentum", 1.0) <= 0.0:
            raise ValueError(
                f"{self.task}.train_step: hparam 'momentum' must be in (0, 1) for "
                f"{self.optimizer_name!r}, got {hparams['momentum']!r}"
            )
        for group in self.optimizer.param_groups:
            if "lr" in hparams:
                group["lr"] = hparams["lr"]
            if "weight_decay" in hparams:
                group["weight_decay"] = hparams["weight_decay"]
            if "momentum" in hparams:
                if "betas" in group:
                    group["betas"] = (hparams["momentum"], group["betas"][1])
                else:
                    group["momentum"] = hparams["momentum"]

    def train_step(self, hparams: Mapping[str, float]) -> float:
        """Set ``hparams`` on every param group, one optimizer step, return the batch loss."""
        self._apply(check_hparams(self.task, hparams))
        self.model.train()
        inputs, targets = self._next_batch()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss_fn(self.model, inputs, targets)
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        self.step_count += 1
        return float(loss.detach())

    def evaluate(self) -> dict[str, float]:
        """Validation metrics; schedule-free optimizers are switched to their averaged (eval)
        weights and the training weights are then restored bit for bit."""
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        with torch.no_grad():
            saved = [p.detach().clone() for p in params] if self.schedule_free else []
            if self.schedule_free:
                self.optimizer.eval()  # type: ignore[attr-defined]
            self.model.eval()
            try:
                return self._eval_fn(self.model)
            finally:
                self.model.train()
                if self.schedule_free:
                    self.optimizer.train()  # type: ignore[attr-defined]
                    for p, value in zip(params, saved, strict=True):
                        p.copy_(value)


def setup(spec: TaskSpec, config: TaskConfig) -> torch.Generator:
    """Check ``config`` against ``spec``, set torch threads, return the run's generator."""
    spec.check_config(config)
    if config.optimizer in _SCHEDULE_FREE:
        require(spec.name, "schedulefree")
    torch.set_num_threads(config.threads)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(config.seed)
    return generator


def trainer(
    spec: TaskSpec,
    config: TaskConfig,
    model: nn.Module,
    next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    eval_fn: Callable[[nn.Module], dict[str, float]],
) -> TorchTrainer:
    """A :class:`TorchTrainer` for ``model`` with optimizer ``config.optimizer`` at the spec's
    lr (:meth:`~lrkit.bench.tasks.TaskSpec.lr_for`), momentum and weight decay."""
    optimizer = make_optimizer(
        config.optimizer,
        list(model.parameters()),
        spec.lr_for(config.optimizer),
        spec.momentum,
        spec.weight_decay,
    )
    return TorchTrainer(spec.name, model, config.optimizer, optimizer, next_batch, loss_fn, eval_fn)

"""``find_lr``: the LR range test on a PyTorch model, leaving model, optimizer and RNGs untouched."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from lrkit.errors import ScheduleError, ScheduleTypeError
from lrkit.finder.result import RangeTestResult
from lrkit.finder.runner import RangeTest
from lrkit.torch.distributed import mean_across_ranks

__all__ = ["find_lr"]


def _optimizer_family(optimizer: torch.optim.Optimizer) -> str | None:
    """The family of ``optimizer`` that :func:`lrkit.finder.recommend` knows, or ``None``.

    ``"sgd"`` for :class:`torch.optim.SGD` (with or without momentum or Nesterov), ``"adam"`` for
    :class:`torch.optim.Adam` and :class:`torch.optim.AdamW` (and their subclasses): the
    families the finder's corpus measured; ``None`` for any other optimizer.

    >>> p = [torch.nn.Parameter(torch.zeros(1))]
    >>> _optimizer_family(torch.optim.AdamW(p)), _optimizer_family(torch.optim.RMSprop(p))
    ('adam', None)
    """
    if isinstance(optimizer, torch.optim.SGD):
        return "sgd"
    if isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW):
        return "adam"
    return None


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, tuple | list):
        return type(obj)(_to_device(o, device) for o in obj)
    if isinstance(obj, Mapping):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def _split(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, tuple | list) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ScheduleTypeError(
        "find_lr: with loss_fn, each batch must be a tuple or list (inputs, targets, ...), got "
        f"{type(batch).__name__}; pass step_fn=... for other batch types"
    )


def _generators(loader: Any) -> list[torch.Generator]:
    """The torch generators a DataLoader (or its sampler) draws its order from."""
    found: list[torch.Generator] = []
    for obj in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        g = getattr(obj, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not h for h in found):
            found.append(g)
        inner = getattr(obj, "sampler", None)
        g = getattr(inner, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not h for h in found):
            found.append(g)
    return found


class _Tensors:
    """Tensor objects and their values, put back in place: the same objects, the old bits."""

    def __init__(self) -> None:
        self._saved: list[tuple[torch.Tensor, torch.Tensor]] = []

    def keep(self, value: Any) -> Any:
        """Remember every tensor in ``value`` (a tensor, tuple, list or dict) and return it."""
        if isinstance(value, torch.Tensor):
            self._saved.append((value, value.detach().clone()))
        elif isinstance(value, tuple | list):
            for item in value:
                self.keep(item)
        elif isinstance(value, Mapping):
            for item in value.values():
                self.keep(item)
        return value

    def restore(self) -> None:
        with torch.no_grad():
            for tensor, value in self._saved:
                tensor.copy_(value)


def _module_slots(model: torch.nn.Module) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every module's ``_parameters`` and ``_buffers`` dicts with a copy of their entries."""
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for m in model.modules():
        params: dict[str, Any] = m._parameters
        buffers: dict[str, Any] = m._buffers
        out += [(params, dict(params)), (buffers, dict(buffers))]
    return out


def _all_params(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The model's parameters and those the optimizer holds besides (a temperature, ...)."""
    out: list[torch.Tensor] = list(model.parameters())
    seen = {id(p) for p in out}
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def _rng_states(loader: Any) -> Callable[[], None]:
    """Snapshot the Python, NumPy, torch (CUDA) and loader RNGs; return their restorer."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = (
        torch.cuda.get_rng_state_all()
        if torch.cuda.is_available() and torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
        else None
    )
    gens = _generators(loader)
    gen_states = [g.get_state() for g in gens]

    def restore() -> None:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        for gen, state in zip(gens, gen_states, strict=True):
            gen.set_state(state)

    return restore


@contextmanager
def _preserved(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader: Any) -> Any:
    """Snapshot everything the range test changes and put it back, whatever happens.

    Tensors are restored in place (``copy_`` into the same objects), so a tensor captured
    before (an lr tensor, a CUDA graph's input) holds its old value afterwards.
    """
    tensors = _Tensors()
    params = _all_params(model, optimizer)
    in_model = {id(p) for p in model.parameters()}
    tensors.keep([p for p in params if id(p) not in in_model])  # the model's come with slots
    slots = _module_slots(model)
    for _, entries in slots:
        tensors.keep(entries)
    grads = [(p, tensors.keep(p.grad)) for p in params]
    group_list = list(optimizer.param_groups)  # a group added meanwhile is removed again
    groups = [(g, dict(g)) for g in group_list]
    for _, entries in groups:
        tensors.keep({k: v for k, v in entries.items() if k != "params"})
    state = {p: (st, dict(st)) for p, st in optimizer.state.items()}
    for _, (_, entries) in state.items():
        tensors.keep(entries)
    modes = [(m, m.training) for m in model.modules()]
    restore_rngs = _rng_states(loader)
    try:
        yield
    finally:
        for live, entries in slots:
            live.clear()
            live.update(entries)
        for p, grad in grads:
            p.grad = grad
        optimizer.param_groups[:] = group_list
        for group, entries in groups:
            group.clear()
            group.update(entries)
        optimizer.state.clear()
        for p, (st, entries) in state.items():
            st.clear()
            st.update(entries)
            optimizer.state[p] = st
        tensors.restore()
        for m, training in modes:
            m.training = training
        restore_rngs()


def _cycle(loader: Iterable[Any]) -> Iterator[Any]:
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ScheduleError("find_lr: train_loader yielded no batches")


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def _check_arguments(
    model: object, optimizer: object, loss_fn: object, step_fn: object, accumulation_steps: object
) -> None:
    func = "find_lr"
    if not isinstance(model, torch.nn.Module):
        raise ScheduleTypeError(
            f"{func}: model must be a torch.nn.Module, got {type(model).__name__}"
        )
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ScheduleTypeError(
            f"{func}: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if (loss_fn is None) == (step_fn is None):
        raise ScheduleError(f"{func}: give exactly one of loss_fn= or step_fn=")
    if not (isinstance(accumulation_steps, int) and not isinstance(accumulation_steps, bool)):
        raise ScheduleTypeError(
            f"{func}: accumulation_steps must be an int, got {accumulation_steps!r}"
        )
    if accumulation_steps < 1:
        raise ScheduleError(f"{func}: accumulation_steps must be >= 1, got {accumulation_steps!r}")
    if step_fn is not None and accumulation_steps != 1:
        raise ScheduleError(
            f"{func}: accumulation_steps={accumulation_steps} needs loss_fn=; a step_fn does its "
            "own accumulation"
        )
    lazy = [
        f"{name!r} ({type(m).__name__})" if name else type(m).__name__
        for name, m in model.named_modules()
        if any(
            torch.nn.parameter.is_lazy(t) for t in (*m._parameters.values(), *m._buffers.values())
        )
    ]
    if lazy:
        raise ScheduleError(
            f"{func}: the model has uninitialized lazy parameters in {', '.join(lazy[:5])}"
            f"{' ...' if len(lazy) > 5 else ''}; find_lr leaves the model as it was, so it "
            "cannot materialize them: run one forward pass on a batch first, e.g. "
            "model(next(iter(train_loader))[0])"
        )
    in_model = {id(p) for p in model.parameters()}
    held = [p for g in optimizer.param_groups for p in g["params"]]
    if not any(id(p) in in_model for p in held):
        raise ScheduleError(
            f"{func}: the optimizer holds none of the model's parameters (it holds {len(held)} "
            f"tensors, the model has {len(in_model)}); the sweep would train nothing and the "
            "loss curve would be flat. Pass the optimizer built on model.parameters()"
        )


def _default_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    batches: Iterator[Any],
    accumulation_steps: int,
    dev: torch.device,
) -> Callable[[Any], torch.Tensor]:
    """One sweep step: ``accumulation_steps`` batches back-propagated, then ``optimizer.step()``."""

    def step(batch: Any) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        total: torch.Tensor | None = None
        for k in range(accumulation_steps):
            inputs, targets = _split(_to_device(batch if k == 0 else next(batches), dev))
            loss = loss_fn(model(inputs), targets) / accumulation_steps
            loss.backward()  # type: ignore[no-untyped-call]
            total = loss.detach() if total is None else total + loss.detach()
        optimizer.step()
        assert total is not None
        return total

    return step


def find_lr(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable[Any],
    loss_fn: Callable[[Any, Any], torch.Tensor] | None = None,
    *,
    step_fn: Callable[[Any], Any] | None = None,
    accumulation_steps: int = 1,
    start: float = 1e-7,
    end: float = 10.0,
    num_steps: int = 100,
    mode: str = "exp",
    smooth: float = 0.05,
    diverge: float | None = 4.0,
    cycle: bool = False,
    device: torch.device | str | None = None,
) -> RangeTestResult:
    """Run an LR range test (:class:`lrkit.finder.RangeTest`) on ``model`` and return its result.

    Each step sets the LR on every param group, then either

    * ``loss_fn`` given: for ``accumulation_steps`` batches ``(inputs, targets, ...)`` (moved to
      ``device``, default the model's), ``loss_fn(model(inputs), targets) / accumulation_steps``
      is back-propagated, then ``optimizer.step()``; the recorded loss is their mean; or
    * ``step_fn(batch) -> loss`` given: it does the whole training step itself (zero_grad,
      forward, backward, ``optimizer.step()``; AMP, several outputs, ...) on one batch.

    The loader is cycled when it runs out. Under ``torch.distributed`` each step's loss is
    averaged over the ranks before the stop decision, so all ranks stop together (every rank
    must call ``find_lr``). A NaN/inf loss ends the test (see ``RangeTest``). The result records
    the optimizer's family, which ``result.recommend()`` reads: ``result.optimizer`` is
    ``"sgd"`` for ``torch.optim.SGD``, ``"adam"`` for ``Adam`` and ``AdamW`` (subclasses
    included), ``None`` for any other optimizer.

    Afterwards the model's parameters, buffers (BatchNorm statistics included), gradients and
    train/eval modes, the optimizer's state and param-group hyper-parameters (also for tensors
    the optimizer holds outside the model), and the Python, NumPy, torch (and CUDA) RNG states
    plus the loader's own generator are exactly as before — also when the test stops early or
    the step raises. Tensors are restored in place: every tensor object held before (an lr
    tensor, Adam's moments, a gradient) is the same object afterwards, with its old bits.
    A param group added during the sweep (by ``step_fn``) is removed again. An optimizer that
    holds none of the model's parameters is refused (ValueError), and so is a model with
    uninitialized lazy parameters (``LazyLinear`` before its first forward pass): materializing
    them would change the model for good.

    Args:
      model: the model to train during the sweep (no uninitialized lazy parameters).
      optimizer: an optimizer holding (some of) ``model``'s parameters; its ``lr`` is set on
        every param group at each step and put back afterwards.
      train_loader: the batches (a ``DataLoader`` or any iterable; at least one batch), cycled
        when they run out.
      loss_fn: ``loss_fn(model(inputs), targets) -> loss tensor`` for batches
        ``(inputs, targets, ...)``; give exactly one of ``loss_fn`` and ``step_fn``.
      step_fn: ``step_fn(batch) -> loss``, the whole training step on one batch (keyword
        only; instead of ``loss_fn``).
      accumulation_steps: batches whose gradients are summed per optimizer step, with
        ``loss_fn`` only (an int >= 1; default 1, as torch-lr-finder's
        ``accumulation_steps``).
      start: the lowest LR (> 0; default ``1e-7``, fastai's ``start_lr``), as
        :class:`~lrkit.finder.RangeTest`'s.
      end: the highest LR (> ``start``; default 10, fastai's and torch-lr-finder's ``end_lr``).
      num_steps: optimizer steps of the rising sweep (an int in ``[2, 1_000_000]``; default
        100, fastai's ``num_it``, torch-lr-finder's ``num_iter``).
      mode: ``"exp"`` (default, fastai and torch-lr-finder) or ``"linear"`` (Smith 2017).
      smooth: EMA weight of a new loss, in ``[0, 1)`` (default 0.05, torch-lr-finder's
        ``smooth_f``; 0: no smoothing).
      diverge: stop once the smoothed loss exceeds ``diverge`` times the best (> 1, or
        ``None``: never; default 4, as fastai; torch-lr-finder's ``diverge_th`` is 5).
      cycle: run the low → high → low triangle of Smith 2017 (default ``False``).
      device: where the batches go with ``loss_fn`` (default: the device of the model's first
        parameter, or the CPU).

    >>> model = torch.nn.Linear(3, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> data = [(torch.ones(4, 3), torch.zeros(4, 1))]
    >>> r = find_lr(model, opt, data, torch.nn.functional.mse_loss, start=1e-4, end=1.0,
    ...             num_steps=20)
    >>> len(r) > 0, opt.param_groups[0]["lr"]
    (True, 0.1)
    >>> r.lrs[0], r.stop_reason in ("completed", "diverged")
    (0.0001, True)
    """
    _check_arguments(model, optimizer, loss_fn, step_fn, accumulation_steps)
    test = RangeTest(start, end, num_steps, mode, smooth, diverge, cycle)
    if device is None:
        first = next(model.parameters(), None)
        dev = first.device if first is not None else torch.device("cpu")
    else:
        dev = torch.device(device)
    with _preserved(model, optimizer, train_loader):
        batches = _cycle(train_loader)
        model.train()
        if step_fn is None:
            assert loss_fn is not None
            step_fn = _default_step(model, optimizer, loss_fn, batches, accumulation_steps, dev)
        for lr in test:
            _set_lr(optimizer, lr)
            loss = step_fn(next(batches))
            test.record(mean_across_ranks(loss))
        optimizer.zero_grad(set_to_none=True)
    return dataclasses.replace(test.result(), optimizer=_optimizer_family(optimizer))

"""torch.compile: ``opt.step(); sched.step()`` compiled together never recompiles (issue 12).

Each case runs the recipe ``@torch.compile def step(): opt.step(); sched.step()`` over a whole
schedule of more than 2000 steps (across the core's 256-step value blocks and past the end of
the schedule) and counts the frames dynamo compiles after the first call: a recompile adds one.
``error_on_recompile`` turns any recompile into an error that names the failing guard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch._dynamo.utils import counters

import lrkit
from lrkit.torch import Scheduler

STEPS = 2100
LR = lrkit.warmup(100) >> lrkit.cosine(start=0.01, end=1e-4, steps=1800)  # ends at step 1900
MOM = LR.mirror(0.85, 0.95)
T = torch.tensor


def _model() -> torch.nn.Linear:
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 4)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    return model


def _lr_only() -> tuple[torch.optim.Optimizer, Scheduler]:
    opt = torch.optim.Adam(_model().parameters(), lr=T(0.01))
    return opt, Scheduler(opt, LR)


def _float_betas() -> tuple[torch.optim.Optimizer, Scheduler]:
    opt = torch.optim.Adam(_model().parameters(), lr=0.01)  # floats: lrkit makes them tensors
    return opt, Scheduler(opt, {"lr": LR, "momentum": MOM}, as_tensors=True)


def _tensor_betas() -> tuple[torch.optim.Optimizer, Scheduler]:
    opt = torch.optim.Adam(_model().parameters(), lr=T(0.01), betas=(T(0.9), T(0.999)))
    return opt, Scheduler(opt, {"lr": LR, "momentum": MOM})


def _sgd_momentum() -> tuple[torch.optim.Optimizer, Scheduler]:
    opt = torch.optim.SGD(_model().parameters(), lr=0.01, momentum=0.9)
    sched = Scheduler(opt, {"lr": LR, "momentum": MOM}, as_tensors=True)
    opt.step()  # creates the momentum buffers: their first use recompiles SGD itself
    return opt, sched


def _weight_decay() -> tuple[torch.optim.Optimizer, Scheduler]:
    opt = torch.optim.AdamW(_model().parameters(), lr=0.01, weight_decay=0.1)
    return opt, Scheduler(opt, {"lr": LR, "weight_decay": LR * 10}, as_tensors=True)


def _two_groups() -> tuple[torch.optim.Optimizer, Scheduler]:
    model = _model()
    opt = torch.optim.Adam([{"params": [model.weight]}, {"params": [model.bias]}], lr=0.01)
    return opt, Scheduler(opt, [LR, LR * 0.5], as_tensors=True)


def _plateau() -> tuple[torch.optim.Optimizer, Scheduler]:
    opt = torch.optim.Adam(_model().parameters(), lr=T(0.01))
    return opt, Scheduler(opt, LR, plateau=lrkit.Plateau(factor=0.5, patience=0))


def _drop_in() -> tuple[torch.optim.Optimizer, Scheduler]:
    from lrkit.compat.torch import OneCycleLR

    opt = torch.optim.Adam(_model().parameters(), lr=T(0.01), betas=(T(0.9), T(0.999)))
    return opt, OneCycleLR(opt, max_lr=0.01, total_steps=1900)


CASES: dict[str, Callable[[], tuple[torch.optim.Optimizer, Scheduler]]] = {
    "lr": _lr_only,
    "lr+float-betas(as_tensors)": _float_betas,
    "lr+tensor-betas": _tensor_betas,
    "lr+sgd-momentum": _sgd_momentum,
    "lr+weight-decay": _weight_decay,
    "2-groups": _two_groups,
    "plateau": _plateau,
    "compat.torch.OneCycleLR": _drop_in,
}


def recompiles(make: Callable[[], tuple[torch.optim.Optimizer, Any]], backend: str) -> int:
    """Frames compiled after the first call of the compiled recipe, over ``STEPS`` steps."""
    torch._dynamo.reset()
    counters.clear()
    opt, sched = make()

    @torch.compile(fullgraph=False, backend=backend)
    def step() -> None:
        opt.step()
        sched.step()

    step()
    first = counters["frames"]["total"]
    with torch._dynamo.config.patch(error_on_recompile=True):
        for i in range(STEPS):
            step()
            if i % 250 == 0 and getattr(sched, "plateau", None) is not None:
                sched.report(1.0 + i)  # a worse metric: every report reduces the LR
    return counters["frames"]["total"] - first


def _values(opt: torch.optim.Optimizer) -> list[float]:
    g = opt.param_groups[0]
    mom = g["betas"][0] if "betas" in g else g.get("momentum", 0.0)
    return [float(g["lr"]), float(mom), float(g["weight_decay"])]


@pytest.mark.parametrize("name", list(CASES))
def test_recipe_never_recompiles_with_eager_backend(name: str) -> None:
    assert recompiles(CASES[name], "eager") == 0


@pytest.mark.parametrize("name", ["lr+float-betas(as_tensors)", "2-groups", "plateau"])
def test_compiled_recipe_writes_the_eager_values(name: str) -> None:
    make = CASES[name]
    opt_c, sched_c = make()
    opt_e, sched_e = make()
    torch._dynamo.reset()

    @torch.compile(backend="eager")
    def step() -> None:
        opt_c.step()
        sched_c.step()

    for _ in range(200):
        step()
        opt_e.step()
        sched_e.step()
        assert _values(opt_c) == _values(opt_e)
    assert sched_c.state_dict() == sched_e.state_dict()


@pytest.mark.slow
def test_recipe_never_recompiles_with_inductor() -> None:
    for name in ("lr", "lr+float-betas(as_tensors)", "2-groups", "plateau"):
        assert recompiles(CASES[name], "inductor") == 0, name


def test_tensor_lr_objects_are_kept_and_updated_under_compile() -> None:
    opt, sched = _float_betas()
    lr, b1, b2 = opt.param_groups[0]["lr"], *opt.param_groups[0]["betas"]
    torch._dynamo.reset()

    @torch.compile(backend="eager")
    def step() -> None:
        opt.step()
        sched.step()

    for t in range(1, 40):
        step()
        group = opt.param_groups[0]
        assert group["lr"] is lr and group["betas"][0] is b1 and group["betas"][1] is b2
        assert float(lr) == pytest.approx(LR(t), rel=1e-6)
        assert float(b1) == pytest.approx(MOM(t), rel=1e-6)

"""torch.compile: ``opt.step(); sched.step()`` compiled together never recompiles.

Each case runs the recipe ``@torch.compile def step(): opt.step(); sched.step()`` over a whole
schedule of more than 2000 steps (across the core's 256-step value blocks and past the end of
the schedule) and counts the frames dynamo compiles after the first call: a recompile adds one.
``error_on_recompile`` turns any recompile into an error that names the failing guard.
"""

from __future__ import annotations

import warnings
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


# -- CUDA graphs: skipped without a CUDA device -----------------------------------------------
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _capturable_adam() -> tuple[torch.nn.Parameter, torch.optim.Adam, Scheduler]:
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(64, device="cuda"))
    p.grad = torch.randn(64, device="cuda")
    opt = torch.optim.Adam([p], lr=torch.tensor(0.01, device="cuda"), capturable=True)
    return p, opt, Scheduler(opt, lrkit.linear(0.01, 0.0, steps=8))


@needs_cuda
def test_cuda_graph_replays_use_the_lr_that_lrkit_writes_between_replays() -> None:
    p_graph, opt_graph, sched_graph = _capturable_adam()
    p_eager, opt_eager, sched_eager = _capturable_adam()
    lr = opt_graph.param_groups[0]["lr"]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up before capture, as CUDA graphs require
        for _ in range(3):
            opt_graph.step()
    torch.cuda.current_stream().wait_stream(side)
    for _ in range(3):
        opt_eager.step()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        opt_graph.step()
    for t in range(1, 11):  # past the end of the schedule: lr 0 leaves p unchanged
        graph.replay()
        sched_graph.step()
        opt_eager.step()
        sched_eager.step()
        assert opt_graph.param_groups[0]["lr"] is lr
        torch.testing.assert_close(p_graph, p_eager, rtol=1e-6, atol=1e-7)
        assert float(lr) == pytest.approx(lrkit.linear(0.01, 0.0, steps=8)(t), abs=1e-9)
    before = p_graph.detach().clone()
    graph.replay()  # lr is 0 now: the captured step must not move the parameter
    torch.testing.assert_close(p_graph.detach(), before, rtol=0, atol=0)


def test_float_entries_under_compile_get_one_warning_naming_them() -> None:
    opt = torch.optim.Adam(_model().parameters(), lr=T(0.01))  # float betas, driven
    sched = Scheduler(opt, {"lr": LR, "momentum": MOM})
    torch._dynamo.reset()

    @torch.compile(backend="eager")
    def step() -> None:
        opt.step()
        sched.step()

    with pytest.warns(UserWarning, match=r"param_groups\[0\]\['betas'\]\[0\].*as_tensors") as rec:
        for _ in range(5):
            step()
    assert sum("as_tensors" in str(w.message) for w in rec) == 1
    opt2, sched2 = _float_betas()

    @torch.compile(backend="eager")
    def step2() -> None:
        opt2.step()
        sched2.step()

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        step2()

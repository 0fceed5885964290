"""lrkit.torch.find_lr: restores everything bitwise, cycles loaders, averages across ranks, records
the optimizer family; lazy parameters and param groups added during the sweep."""

from __future__ import annotations

import copy
import math
import os
import random
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrkit  # noqa: E402
from lrkit.finder import RangeTestResult  # noqa: E402
from lrkit.torch.finder import find_lr  # noqa: E402

nn = torch.nn
F = torch.nn.functional


def make_setup(seed: int = 0, opt: str = "adam"):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3)
    )
    if opt == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(96, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y),
        batch_size=16,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed + 1),
    )
    # a few real steps so that Adam moments, BatchNorm statistics and grads are non-trivial
    for xb, yb in list(loader)[:3]:
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    model.eval()  # a non-default mode that must come back
    return model, optimizer, loader


def snapshot(model, optimizer, loader):
    return {
        "tensors": [t.detach().clone() for t in model.state_dict().values()],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "modes": [m.training for m in model.modules()],
        "opt": copy.deepcopy(optimizer.state_dict()),
        "torch_rng": torch.get_rng_state().clone(),
        "np_rng": np.random.get_state(),
        "py_rng": random.getstate(),
        "loader_rng": loader.generator.get_state().clone(),
    }


def assert_same(a, b):
    assert len(a["tensors"]) == len(b["tensors"])
    for x, y in zip(a["tensors"], b["tensors"], strict=True):
        assert x.dtype == y.dtype and torch.equal(x, y)
    for x, y in zip(a["grads"], b["grads"], strict=True):
        assert (x is None and y is None) or torch.equal(x, y)
    assert a["modes"] == b["modes"]
    sa, sb = a["opt"], b["opt"]
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for k in sa["state"]:
        for name, v in sa["state"][k].items():
            w = sb["state"][k][name]
            assert torch.equal(v, w) if isinstance(v, torch.Tensor) else v == w
    assert torch.equal(a["torch_rng"], b["torch_rng"])
    na, nb = a["np_rng"], b["np_rng"]
    assert na[0] == nb[0] and np.array_equal(na[1], nb[1]) and na[2:] == nb[2:]
    assert a["py_rng"] == b["py_rng"]
    assert torch.equal(a["loader_rng"], b["loader_rng"])


def seed_all():
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_find_lr_restores_everything_bitwise_after_full_run(opt):
    model, optimizer, loader = make_setup(opt=opt)
    seed_all()
    before = snapshot(model, optimizer, loader)
    r = find_lr(
        model, optimizer, loader, F.cross_entropy, start=1e-5, end=1.0, num_steps=30, diverge=None
    )
    assert isinstance(r, RangeTestResult) and len(r) == 30 and r.stop_reason == "completed"
    assert_same(before, snapshot(model, optimizer, loader))


def test_find_lr_restores_everything_after_early_stop():
    model, optimizer, loader = make_setup()
    seed_all()
    before = snapshot(model, optimizer, loader)
    r = find_lr(model, optimizer, loader, F.cross_entropy, start=1e-3, end=1e4, num_steps=60)
    assert r.stop_reason in ("diverged", "nonfinite") and len(r) < 60
    assert_same(before, snapshot(model, optimizer, loader))


def test_find_lr_restores_everything_when_the_step_raises():
    model, optimizer, loader = make_setup()
    seed_all()
    before = snapshot(model, optimizer, loader)
    calls = []

    def step(batch):
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("boom")
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        torch.rand(3)  # the step may use RNGs too
        return loss

    with pytest.raises(RuntimeError, match="boom"):
        find_lr(model, optimizer, loader, step_fn=step, num_steps=20)
    assert_same(before, snapshot(model, optimizer, loader))


def test_training_after_find_lr_is_identical_to_training_without_it():
    def train(with_finder: bool) -> list[float]:
        model, optimizer, loader = make_setup(seed=3)
        seed_all()
        if with_finder:
            find_lr(model, optimizer, loader, F.cross_entropy, start=1e-4, end=1.0, num_steps=15)
        model.train()
        out = []
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            out.append(loss.item())
        return out

    assert train(True) == train(False)


def test_nan_loss_ends_the_test_cleanly_and_restores():
    model, optimizer, loader = make_setup()
    seed_all()
    before = snapshot(model, optimizer, loader)

    def step(batch):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        return loss * float("nan") if optimizer.param_groups[0]["lr"] > 1e-2 else loss

    r = find_lr(model, optimizer, loader, step_fn=step, start=1e-5, end=1.0, num_steps=40)
    assert r.stop_reason == "nonfinite"
    assert all(math.isfinite(v) for v in r.losses) and max(r.lrs) <= 1e-2
    assert math.isfinite(r.suggest("lrkit").lr)
    assert_same(before, snapshot(model, optimizer, loader))


def test_loader_is_cycled_and_accumulation_uses_several_batches():
    batches = [(torch.full((2, 1), float(i)), torch.zeros(2, 1)) for i in range(3)]
    model = nn.Linear(1, 1, bias=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    seen = []

    def loss_fn(out, target):
        seen.append(out.shape[0])
        return F.mse_loss(out, target)

    find_lr(
        model, optimizer, batches, loss_fn, start=1e-6, end=1e-5, num_steps=10, accumulation_steps=2
    )
    assert len(seen) == 20  # 10 steps x 2 micro-batches over a 3-batch loader
    seen_batches = []
    find_lr(
        model,
        optimizer,
        batches,
        step_fn=lambda b: seen_batches.append(b) or 1.0,
        start=1e-6,
        end=1e-5,
        num_steps=7,
        diverge=None,
    )
    assert [float(b[0][0, 0]) for b in seen_batches] == [0, 1, 2, 0, 1, 2, 0]


def test_find_lr_sets_the_sweep_lr_on_every_param_group():
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(
        [{"params": [model.weight], "lr": 0.1}, {"params": [model.bias], "lr": 0.2}]
    )
    lrs = []

    def step(batch):
        lrs.append(tuple(g["lr"] for g in optimizer.param_groups))
        return 1.0

    r = find_lr(model, optimizer, [0], step_fn=step, start=1e-3, end=1.0, num_steps=4)
    assert [a for a, b in lrs] == [b for a, b in lrs] == list(r.lrs)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.2]


def test_find_lr_rejects_bad_arguments():
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="exactly one of loss_fn= or step_fn="):
        find_lr(model, optimizer, [0])
    with pytest.raises(ValueError, match="accumulation_steps"):
        find_lr(model, optimizer, [0], step_fn=lambda b: 1.0, accumulation_steps=2)
    with pytest.raises(TypeError, match="model must be"):
        find_lr(object(), optimizer, [0], step_fn=lambda b: 1.0)
    with pytest.raises(ValueError, match="no batches"):
        find_lr(model, optimizer, [], step_fn=lambda b: 1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_find_lr_on_cuda_restores_everything():
    model, optimizer, loader = make_setup()
    model.cuda()
    optimizer.load_state_dict(optimizer.state_dict())  # move state to the params' device
    seed_all()
    before = [t.clone() for t in model.state_dict().values()]
    cuda_rng = torch.cuda.get_rng_state()
    r = find_lr(model, optimizer, loader, F.cross_entropy, start=1e-5, end=10.0, num_steps=30)
    assert len(r) > 0
    for a, b in zip(before, model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(cuda_rng, torch.cuda.get_rng_state())


# -- distributed ------------------------------------------------------------------------------


def _worker(rank: int, world: int, store: str, out_dir: str) -> None:
    import json

    import torch.distributed as dist

    torch.set_num_threads(1)
    # a file store in the test's tmp dir: no port to pick, nothing shared with other tests
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        torch.manual_seed(rank)  # different data and losses on each rank
        model = nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
        steps = []

        def step(batch):
            optimizer.zero_grad()
            loss = F.mse_loss(model(batch[0]), batch[1])
            loss.backward()
            optimizer.step()
            steps.append(1)
            # rank 1 alone produces a NaN at its 25th step: both ranks must stop there
            if rank == 1 and len(steps) == 25:
                return torch.tensor(float("nan"))
            return loss

        r = find_lr(model, optimizer, data, step_fn=step, start=1e-4, end=1.0, num_steps=50)
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump({"result": r.to_dict(), "steps": len(steps)}, f)
        dist.barrier()  # neither rank tears down while the other still communicates
    finally:
        dist.destroy_process_group()
    # gloo's C++ threads can abort interpreter finalization (SIGABRT, "terminate called without
    # an active exception"); the results are on disk, so leave without finalizing
    os._exit(0)


@pytest.mark.slow
def test_distributed_ranks_average_losses_and_stop_together(tmp_path):
    import json

    import torch.multiprocessing as mp

    world = 2
    # spawn (never fork after JAX/torch threads); the children import this module for _worker
    store = str(tmp_path / "gloo.store")
    mp.start_processes(
        _worker, args=(world, store, str(tmp_path)), nprocs=world, join=True, start_method="spawn"
    )
    outs = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world)]
    assert outs[0]["steps"] == outs[1]["steps"] == 25
    r0, r1 = (RangeTestResult.from_dict(o["result"]) for o in outs)
    assert r0 == r1  # identical (averaged) curves, identical decisions
    assert r0.stop_reason == "nonfinite" and len(r0) == 24


def _held_tensors(model, optimizer):
    """Every tensor object the model and optimizer hold, with a copy of its bits."""
    objs = list(model.parameters()) + list(model.buffers())
    objs += [p.grad for p in model.parameters() if p.grad is not None]
    for group in optimizer.param_groups:
        objs += list(group["params"]) + [p.grad for p in group["params"] if p.grad is not None]
        for v in group.values():
            if isinstance(v, torch.Tensor):
                objs.append(v)
            elif isinstance(v, tuple):
                objs += [b for b in v if isinstance(b, torch.Tensor)]
    for st in optimizer.state.values():
        objs += [v for v in st.values() if isinstance(v, torch.Tensor)]
    return [(t, t.detach().clone()) for t in objs]


def _assert_same_objects_same_bits(before, model, optimizer):
    after = {id(t) for t, _ in _held_tensors(model, optimizer)}
    assert after == {id(t) for t, _ in before}, "a tensor object was replaced"
    for t, bits in before:
        assert torch.equal(t, bits), "a tensor holds other bits"


def test_find_lr_restores_tensor_objects_in_place_lr_tensor_and_adam_state():
    model, _, loader = make_setup(seed=4)
    t = torch.tensor
    opt = torch.optim.Adam(model.parameters(), lr=t(1e-3), betas=(t(0.9), t(0.99)))
    for xb, yb in list(loader)[:2]:
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    lr = opt.param_groups[0]["lr"]
    moments = opt.state[next(model.parameters())]["exp_avg"]
    before = _held_tensors(model, opt)
    find_lr(model, opt, loader, F.cross_entropy, start=1e-5, end=10.0, num_steps=15, diverge=None)
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(1e-3)
    assert opt.state[next(model.parameters())]["exp_avg"] is moments
    _assert_same_objects_same_bits(before, model, opt)


def test_find_lr_restores_parameters_the_optimizer_holds_outside_the_model():
    model, _, loader = make_setup(seed=5)
    temperature = nn.Parameter(torch.tensor(1.0))
    temperature.grad = torch.tensor(0.25)
    grad = temperature.grad
    opt = torch.optim.Adam([*model.parameters(), temperature], lr=1e-3)

    def step(batch):
        xb, yb = batch
        opt.zero_grad()
        loss = F.cross_entropy(model(xb) / temperature, yb)
        loss.backward()
        opt.step()
        return loss.detach()

    before = _held_tensors(model, opt)
    find_lr(model, opt, loader, step_fn=step, start=1e-4, end=10.0, num_steps=20, diverge=None)
    assert temperature.item() == 1.0 and temperature.grad is grad and float(grad) == 0.25
    assert not opt.state  # the sweep's Adam state is gone: there was none before
    _assert_same_objects_same_bits(before, model, opt)


def test_find_lr_refuses_an_optimizer_holding_none_of_the_model_parameters():
    model, _, loader = make_setup(seed=6)
    other = torch.optim.SGD([nn.Parameter(torch.zeros(3))], lr=0.1)
    with pytest.raises(ValueError, match="none of the model's parameters"):
        find_lr(model, other, loader, F.cross_entropy, num_steps=5)


def test_find_lr_records_the_optimizer_family_that_recommend_reads():
    model = nn.Linear(3, 1)
    data = [(torch.ones(4, 3), torch.zeros(4, 1))]
    kinds = {
        "sgd": torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True),
        "adam": torch.optim.AdamW(model.parameters(), lr=0.1),
        None: torch.optim.RMSprop(model.parameters(), lr=0.1),
    }
    for family, opt in kinds.items():
        r = find_lr(model, opt, data, F.mse_loss, start=1e-4, end=1.0, num_steps=20)
        assert r.optimizer == family
        if family is None:  # RMSprop: no measured family, said (recommend's tests check the text)
            with pytest.warns(UserWarning, match="optimizer family unknown"):
                assert r.recommend(100, "cosine") == r.recommend(100, "cosine", optimizer=None)
        else:
            assert r.recommend(100, "cosine") == r.recommend(100, "cosine", optimizer=family)


def _torch_data() -> list[tuple[Any, Any]]:
    import torch

    torch.manual_seed(0)
    return [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(4)]


def test_find_lr_with_lazy_parameters_is_one_clear_error_and_changes_nothing() -> None:
    import torch

    from lrkit.torch import find_lr

    model = torch.nn.Sequential(torch.nn.LazyLinear(4), torch.nn.ReLU(), torch.nn.LazyLinear(1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        lrkit.ScheduleError,
        match=r"find_lr: .*lazy parameters in '0' \(LazyLinear\), '2' \(LazyLinear\).*forward pass",
    ):
        find_lr(model, opt, _torch_data(), torch.nn.functional.mse_loss, num_steps=5)
    assert all(torch.nn.parameter.is_lazy(p) for p in model.parameters())
    data = _torch_data()
    model(data[0][0])  # materialized, as the message says: the sweep runs
    result = find_lr(model, opt, data, torch.nn.functional.mse_loss, num_steps=5)
    assert len(result) == 5


def test_find_lr_removes_a_param_group_added_during_the_sweep() -> None:
    import torch

    from lrkit.torch import find_lr

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    groups = opt.param_groups
    first = groups[0]
    extra = torch.nn.Parameter(torch.zeros(1))

    def step(batch: Any) -> Any:
        if len(opt.param_groups) == 1:
            opt.add_param_group({"params": [extra], "lr": 0.5})
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(batch[0]), batch[1]) + (extra - 1.0).pow(2).sum()
        loss.backward()
        opt.step()
        return loss

    find_lr(model, opt, _torch_data(), step_fn=step, num_steps=5)
    assert opt.param_groups is groups and opt.param_groups == [first]
    assert first["lr"] == 0.1 and extra not in opt.state and not opt.state

"""lrkit.torch.Scheduler: the LRScheduler contract, block boundaries, state, tensors, plateau."""

from __future__ import annotations

import copy
import io
import random
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import LRScheduler, OneCycleLR

import lrkit
import lrkit.core
from lrkit.plateau import Plateau
from lrkit.torch import Scheduler

WARM_COS = lrkit.warmup(5) >> lrkit.cosine(start=0.1, end=0.001, steps=45)


def _params(n: int = 1) -> list[torch.Tensor]:
    out = []
    for _ in range(n):
        p = torch.zeros(3, requires_grad=True)
        p.grad = torch.ones(3)
        out.append(p)
    return out


def _sgd(groups: int = 1, **kw: Any) -> torch.optim.SGD:
    kw = {"lr": 1.0, "momentum": 0.9, "weight_decay": 0.0, **kw}
    return torch.optim.SGD([{"params": [p]} for p in _params(groups)], **kw)


def _adamw(groups: int = 1, **kw: Any) -> torch.optim.AdamW:
    return torch.optim.AdamW([{"params": [p]} for p in _params(groups)], lr=1.0, **kw)


def _snapshot(opt: torch.optim.Optimizer) -> list[tuple[float, ...]]:
    def f(v: Any) -> float:
        return float(v.item()) if isinstance(v, torch.Tensor) else float(v)

    rows = []
    for g in opt.param_groups:
        mom = g["betas"][0] if "betas" in g else g.get("momentum", 0.0)
        rows.append((f(g["lr"]), f(mom), f(g["weight_decay"])))
    return rows


def _run(opt: torch.optim.Optimizer, sched: Scheduler, steps: int) -> list[list[tuple[float, ...]]]:
    out = []
    for _ in range(steps):
        out.append(_snapshot(opt))
        opt.step()
        sched.step()
    return out


def test_is_a_torch_lr_scheduler_and_writes_step_zero_at_construction() -> None:
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS)
    assert isinstance(sched, LRScheduler)
    assert sched.last_epoch == 0 and sched._step_count == 1
    assert opt.param_groups[0]["lr"] == WARM_COS(0) == sched.get_last_lr()[0]
    assert sched.base_lrs == [WARM_COS(0)]


def test_values_equal_the_schedule_at_every_step_for_every_group_and_key() -> None:
    lr = [WARM_COS, lrkit.linear(0.5, 0.05, steps=30)]
    mom = lrkit.one_cycle_momentum(steps=50)
    wd = lrkit.constant(0.01, steps=20) >> lrkit.constant(0.0)
    spec = [{"lr": lr[0], "momentum": mom, "weight_decay": wd}, {"lr": lr[1], "momentum": mom}]
    opt = _adamw(groups=2)
    sched = Scheduler(opt, spec)
    for t, rows in enumerate(_run(opt, sched, 60)):
        assert rows[0] == (WARM_COS(t), mom(t), wd(t))
        assert rows[1][:2] == (lr[1](t), mom(t))
    assert sched.get_last_lr() == [WARM_COS(60), lr[1](60)]
    assert opt.param_groups[0]["betas"][1] == 0.999  # only betas[0] is scheduled


def test_end_to_end_matches_torch_one_cycle_lr_with_momentum() -> None:
    n = 200
    opt_t, opt_l = _sgd(lr=0.1), _sgd(lr=0.1)
    ref = OneCycleLR(opt_t, max_lr=0.1, total_steps=n)
    sched = Scheduler(
        opt_l, {"lr": lrkit.one_cycle(0.1, steps=n), "momentum": lrkit.one_cycle_momentum(steps=n)}
    )
    a, b = _run(opt_t, ref, n), _run(opt_l, sched, n)  # type: ignore[arg-type]
    np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-12, atol=1e-15)


def test_text_schedule_and_share_durations_bind_to_total_steps() -> None:
    opt = _sgd()
    sched = Scheduler(opt, "warmup('10%') >> cosine(start=0.1, steps='90%')", total_steps=100)
    assert sched.schedules[0]["lr"] == lrkit.parse("warmup(10) >> cosine(start=0.1, steps=90)")
    with pytest.raises(ValueError, match="total_steps"):
        Scheduler(_sgd(), lrkit.cosine(start=0.1, steps="50%"))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"schedule": 0.1}, TypeError, "schedule=0.1"),
        ({"schedule": [WARM_COS, WARM_COS]}, ValueError, "2 entries"),
        ({"schedule": {}}, ValueError, "schedule"),
        ({"schedule": WARM_COS, "key": "nesterovish"}, ValueError, "nesterovish"),
        ({"schedule": WARM_COS, "total_steps": 0}, ValueError, "total_steps=0"),
        ({"schedule": WARM_COS, "plateau": "yes"}, TypeError, "plateau"),
        ({"schedule": {"momentum": WARM_COS}, "plateau": Plateau()}, ValueError, "'lr'"),
        ({"schedule": "cosine(start=0.1"}, lrkit.TextFormError, None),
    ],
)
def test_bad_arguments_fail_at_construction(
    kwargs: dict[str, Any], exc: type[Exception], match: str | None
) -> None:
    with pytest.raises(exc, match=match):
        Scheduler(_sgd(), **kwargs)
    with pytest.raises(TypeError, match="Optimizer"):
        Scheduler("sgd", WARM_COS)  # type: ignore[arg-type]


def test_correct_loop_emits_no_warning_and_wrong_order_warns_like_torch() -> None:
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(opt, sched, 20)
    opt2 = _sgd()
    sched2 = Scheduler(opt2, WARM_COS)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched2.step()


LINEAR = lrkit.linear(0.1, 0.0, steps=10)


def _amp_loop(skip_first: bool, recommended: bool) -> tuple[list[float], int]:
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = Scheduler(opt, LINEAR)
    scaler = torch.amp.GradScaler("cpu")
    lrs, applied = [], 0
    for i in range(6):
        opt.zero_grad()
        bad = (skip_first and i == 0) or i == 3  # overflow: GradScaler skips optimizer.step()
        loss = model(torch.ones(1, 2)).sum() * (float("inf") if bad else 1.0)
        scaler.scale(loss).backward()
        lrs.append(opt.param_groups[0]["lr"])
        before = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        skipped = scaler.get_scale() < before
        applied += not skipped
        if not (recommended and skipped):
            sched.step()
    return lrs, applied


def test_grad_scaler_recommended_pattern_emits_no_warning_even_if_first_step_skipped() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lrs, applied = _amp_loop(skip_first=True, recommended=True)
        # LR follows the optimizer steps that really happened
        assert lrs == [LINEAR(t) for t in (0, 0, 1, 2, 2, 3)] and applied == 4
        _amp_loop(skip_first=False, recommended=False)  # later skips never warn


def test_step_with_a_step_jumps_and_a_metric_is_refused() -> None:
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS)
    opt.step()
    sched.step(30)
    assert sched.last_epoch == 30 and opt.param_groups[0]["lr"] == WARM_COS(30)
    sched.step()
    assert opt.param_groups[0]["lr"] == WARM_COS(31)
    with pytest.raises(TypeError, match="report"):
        sched.step(0.5)  # type: ignore[arg-type]


def test_value_block_boundaries_give_closed_form_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lrkit.core, "_BLOCK", 7)  # the core's cached block of scalar values
    spec = {"lr": WARM_COS, "momentum": lrkit.linear(0.95, 0.85, steps=40)}
    for make in (_sgd, _adamw):
        opt = make(groups=3)
        sched = Scheduler(opt, spec)
        for t, rows in enumerate(_run(opt, sched, 60)):
            assert all(r[:2] == (WARM_COS(t), spec["momentum"](t)) for r in rows)
        assert sched.last_epoch == 60 and sched._step_count == 61


def test_cursors_follow_blocks_jumps_and_changed_groups_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import lrkit.torch.scheduler as scheduler_module

    monkeypatch.setattr(scheduler_module, "_BLOCK", 8)  # small blocks: many refills and seeks
    monkeypatch.setattr(scheduler_module, "_RUN", 24)
    mom = lrkit.linear(0.95, 0.85, steps=40)
    opt = _sgd(groups=2)
    sched = Scheduler(opt, {"lr": WARM_COS, "momentum": mom})
    lr_t = torch.tensor(1.0, dtype=torch.float64)
    adam = torch.optim.Adam(_params(), lr=lr_t, betas=(torch.tensor(0.9), torch.tensor(0.999)))
    tensors = Scheduler(adam, {"lr": WARM_COS, "momentum": mom})
    for i in range(120):
        if i == 30:
            sched.last_epoch = tensors.last_epoch = 50  # a write is followed by the next step
        elif i == 70:
            opt.load_state_dict(copy.deepcopy(opt.state_dict()))  # new group dicts
        elif i == 90:
            opt.add_param_group({"params": _params()})  # driven by the shared spec
        opt.step()
        adam.step()
        if i == 60:
            sched.step(7)  # a jump back, mid-block
            tensors.step(7)
        else:
            sched.step()
            tensors.step()
        t = sched.last_epoch
        assert [(g["lr"], g["momentum"]) for g in opt.param_groups] == [
            (WARM_COS(t), mom(t))
        ] * len(opt.param_groups)
        assert sched.get_last_lr() == [WARM_COS(t)] * len(opt.param_groups)
        group = adam.param_groups[0]
        assert group["lr"] is lr_t and lr_t.item() == WARM_COS(t)  # float64: exact, in place
        assert group["betas"][0].item() == pytest.approx(mom(t), rel=1e-6)
        assert tensors.get_last_lr() == [WARM_COS(t)]


def test_step_count_is_kept_for_accelerate_style_increments() -> None:
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS)
    opt.step()
    sched.step()
    sched._step_count += 1  # what AcceleratedScheduler does under gradient accumulation
    assert sched._step_count == 3 and sched.last_epoch == 1
    sched.step()
    assert sched._step_count == 4 and sched.last_epoch == 2
    assert not hasattr(sched, "total_steps")  # AcceleratedScheduler would cap steps by it


def _is_primitive(obj: object) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _is_primitive(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_is_primitive(v) for v in obj)
    return obj is None or isinstance(obj, (bool, int, float, str))


def _resume_case(seed: int, make: Any, plateau: bool) -> None:
    rng = random.Random(seed)
    spec = [
        {
            "lr": WARM_COS,
            "momentum": lrkit.one_cycle_momentum(steps=300),
            "weight_decay": lrkit.linear(0.05, 0.0, steps=500),
        },
        {"lr": lrkit.cyclic(0.01, 0.1, half_cycle=37, mode="triangular2")},
    ]

    def build() -> tuple[torch.optim.Optimizer, Scheduler]:
        opt = make(groups=2)
        pl = Plateau(factor=0.5, patience=1, min_lr=1e-4) if plateau else None
        sched = Scheduler(opt, spec, plateau=pl)
        opt.step()  # once, for the call-order check; the scheduler never reads the params
        return opt, sched

    metrics = [rng.random() for _ in range(400)]

    def drive(opt: torch.optim.Optimizer, sched: Scheduler, start: int, n: int) -> list[Any]:
        out = []
        for t in range(start, start + n):
            out.append(_snapshot(opt))
            sched.step()
            if plateau and t % 10 == 9:
                sched.report(metrics[t // 10])
        return out

    at = rng.randrange(1, 1500)
    opt_a, sched_a = build()
    expected = drive(opt_a, sched_a, 0, at + 1000)

    opt_b, sched_b = build()
    drive(opt_b, sched_b, 0, at)
    buf = io.BytesIO()
    state = sched_b.state_dict()
    assert _is_primitive(state)
    torch.save({"opt": opt_b.state_dict(), "sched": state}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)

    opt_c, sched_c = build()  # fresh optimizer: no 'initial_lr' needed (PyTorch #160626)
    opt_c.load_state_dict(ckpt["opt"])
    sched_c.load_state_dict(ckpt["sched"])
    assert drive(opt_c, sched_c, at, 1000) == expected[at:]

    opt_d, sched_d = build()  # scheduler state alone, optimizer left fresh
    for g in opt_d.param_groups:
        g.pop("initial_lr", None)
    sched_d.load_state_dict(ckpt["sched"])
    assert drive(opt_d, sched_d, at, 1000) == expected[at:]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("make", [_sgd, _adamw])
def test_resume_at_random_step_continues_bit_for_bit(seed: int, make: Any) -> None:
    _resume_case(seed, make, plateau=False)


def test_resume_with_plateau_continues_bit_for_bit() -> None:
    _resume_case(3, _adamw, plateau=True)


def test_loading_a_different_schedule_is_an_error_unless_not_strict() -> None:
    saved = Scheduler(_sgd(), WARM_COS)
    state = saved.state_dict()
    opt = _sgd()
    other = Scheduler(opt, lrkit.constant(0.3))
    with pytest.raises(ValueError, match="saved schedule differs"):
        other.load_state_dict(state)
    other.load_state_dict(state, strict=False)
    assert other.schedules[0]["lr"] == WARM_COS and opt.param_groups[0]["lr"] == WARM_COS(0)
    with pytest.raises(ValueError, match="not an lrkit"):
        other.load_state_dict({"last_epoch": 3})
    with pytest.raises(ValueError, match="param"):
        Scheduler(_sgd(groups=2), WARM_COS).load_state_dict(state)
    with pytest.raises(ValueError, match="plateau"):
        Scheduler(_sgd(), WARM_COS, plateau=Plateau()).load_state_dict(state)


def test_tensor_lr_is_filled_in_place() -> None:
    opt = torch.optim.Adam(_params(), lr=torch.tensor(1e-3))
    lr_tensor = opt.param_groups[0]["lr"]
    spec = {"lr": WARM_COS, "momentum": lrkit.linear(0.9, 0.8, steps=20)}
    sched = Scheduler(opt, spec)
    for t in range(30):
        assert opt.param_groups[0]["lr"] is lr_tensor
        assert float(lr_tensor) == pytest.approx(WARM_COS(t), rel=1e-6)  # tensor is float32
        assert opt.param_groups[0]["betas"][0] == spec["momentum"](t)
        assert sched.get_last_lr()[0] == WARM_COS(t)
        opt.step()
        sched.step()


def test_optimizer_load_state_dict_keeps_scheduler_writing_to_live_groups() -> None:
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS)
    _run(opt, sched, 5)
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))  # replaces the param-group dicts
    _run(opt, sched, 3)
    assert opt.param_groups[0]["lr"] == WARM_COS(8)


def test_deepcopy_drives_its_own_optimizer() -> None:
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS)
    _run(opt, sched, 3)
    twin = copy.deepcopy(sched)
    assert twin.optimizer is not opt
    twin.optimizer.step()
    twin.step()
    assert opt.param_groups[0]["lr"] == WARM_COS(3)
    assert twin.optimizer.param_groups[0]["lr"] == WARM_COS(4)
    twin.step()
    twin.optimizer.load_state_dict(twin.optimizer.state_dict())  # new group dicts in the copy
    twin.step()
    assert twin.optimizer.param_groups[0]["lr"] == WARM_COS(6)


def test_plateau_multiplies_the_closed_form_and_reductions_act_at_once() -> None:
    opt = _sgd()
    plateau = Plateau(factor=0.5, patience=0, min_lr=1e-3)
    sched = Scheduler(opt, WARM_COS, plateau=plateau)
    _run(opt, sched, 10)
    assert sched.report(1.0) is False
    assert sched.report(2.0) is True  # reduced now, at step 10
    assert opt.param_groups[0]["lr"] == plateau.apply(WARM_COS(10)) == WARM_COS(10) * 0.5
    for t, rows in enumerate(_run(opt, sched, 40), start=10):
        assert rows[0][0] == plateau.apply(WARM_COS(t))
    assert opt.param_groups[0]["lr"] == 1e-3  # min_lr holds at the end of the cosine
    plateau.report(3.0)  # reported directly: the next step still sees it
    opt.step()
    sched.step()
    assert plateau.reductions == 2


def test_report_without_plateau_is_an_error() -> None:
    with pytest.raises(ValueError, match="plateau"):
        Scheduler(_sgd(), WARM_COS).report(0.5)


def test_step_is_the_class_method_and_counters_are_plain_attributes() -> None:
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS)
    _run(opt, sched, 3)
    assert "step" not in vars(sched)  # no per-instance closures
    assert {"last_epoch", "_step_count", "_last_lr"} <= set(vars(sched))
    for name in ("last_epoch", "_step_count", "_last_lr"):
        assert not isinstance(getattr(Scheduler, name, None), property)
    sched.last_epoch = 20  # a write is kept (no setter drops it) and the next step follows it
    sched.step()
    assert sched.last_epoch == 21 and opt.param_groups[0]["lr"] == WARM_COS(21)


def test_subclass_overriding_step_is_called() -> None:
    calls = []

    class Counting(Scheduler):
        def step(self, epoch: int | None = None) -> None:
            calls.append(epoch)
            super().step(epoch)

    opt = _sgd()
    sched = Counting(opt, WARM_COS)
    rows = _run(opt, sched, 12)
    assert len(calls) == 13 and [r[0][0] for r in rows] == [WARM_COS(t) for t in range(12)]


# -- tensor hyper-parameters stay tensors, updated in place ---------------------------------------
def _tensor_adam() -> torch.optim.Adam:
    t = torch.tensor
    return torch.optim.Adam(_params(), lr=t(0.01), betas=(t(0.9), t(0.999)), weight_decay=t(0.0))


def _drop_ins() -> dict[str, Any]:
    from lrkit.compat import torch as ct
    from lrkit.compat import transformers as ht

    def hf(name: str, **kw: Any) -> Any:
        return lambda o: ht.get_scheduler(name, o, 5, 60, scheduler_specific_kwargs=kw)

    out: dict[str, Any] = {
        "StepLR": lambda o: ct.StepLR(o, 7, gamma=0.5),
        "MultiStepLR": lambda o: ct.MultiStepLR(o, [5, 9]),
        "ConstantLR": lambda o: ct.ConstantLR(o, factor=0.5, total_iters=4),
        "LinearLR": lambda o: ct.LinearLR(o, start_factor=0.1, total_iters=9),
        "ExponentialLR": lambda o: ct.ExponentialLR(o, gamma=0.9),
        "PolynomialLR": lambda o: ct.PolynomialLR(o, total_iters=20, power=2.0),
        "CosineAnnealingLR": lambda o: ct.CosineAnnealingLR(o, T_max=20),
        "CosineAnnealingWarmRestarts": lambda o: ct.CosineAnnealingWarmRestarts(o, T_0=6),
        "CyclicLR": lambda o: ct.CyclicLR(o, 0.001, 0.01, step_size_up=5),
        "OneCycleLR": lambda o: ct.OneCycleLR(o, max_lr=0.01, total_steps=40),
        "LambdaLR": lambda o: ct.LambdaLR(o, lambda t: 1.0 / (t + 1)),
        "MultiplicativeLR": lambda o: ct.MultiplicativeLR(o, lambda t: 0.9),
        "ReduceLROnPlateau": lambda o: ct.ReduceLROnPlateau(o, patience=0),
        "SequentialLR": lambda o: ct.SequentialLR(
            o, [ct.ConstantLR(o, 0.1, 3), ct.ExponentialLR(o, 0.9)], milestones=[3]
        ),
        "ChainedScheduler": lambda o: ct.ChainedScheduler(
            [ct.ConstantLR(o, 0.1, 3), ct.ExponentialLR(o, 0.9)]
        ),
    }
    kwargs = {
        "cosine_with_min_lr": {"min_lr_rate": 0.1},
        "cosine_warmup_with_min_lr": {"min_lr_rate": 0.1},
        "warmup_stable_decay": {"num_decay_steps": 20},
    }
    for name in ht.NAMES:
        out[f"hf:{name}"] = hf(name, **kwargs.get(name, {}))
    return out


@pytest.mark.parametrize("name", list(_drop_ins()))
def test_every_drop_in_updates_tensor_hyper_parameters_in_place(name: str) -> None:
    make = _drop_ins()[name]
    opt = _tensor_adam()
    group = opt.param_groups[0]
    held = [group["lr"], *group["betas"], group["weight_decay"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR / ChainedScheduler construction notes
        sched = make(opt)
    seen = set()
    for t in range(30):
        opt.step()
        if "Plateau" in name or "plateau" in name:
            sched.step(1.0 + t)  # a worse metric every time: the lr is reduced
        else:
            sched.step()
        group = opt.param_groups[0]
        now = [group["lr"], *group["betas"], group["weight_decay"]]
        assert all(a is b for a, b in zip(now, held, strict=True)), "a tensor was replaced"
        assert float(group["lr"]) == pytest.approx(sched.get_last_lr()[0], rel=1e-6)
        seen.add(float(group["lr"]))
    assert len(seen) > 1 or name == "hf:constant", "the schedule never changed the lr"


def test_as_tensors_makes_driven_entries_tensors_on_the_params_device() -> None:
    opt = _adamw(weight_decay=0.01)
    spec = {"lr": WARM_COS, "momentum": lrkit.linear(0.95, 0.85, steps=20)}
    sched = Scheduler(opt, spec, as_tensors=True)
    group = opt.param_groups[0]
    lr, betas = group["lr"], group["betas"]
    assert isinstance(lr, torch.Tensor) and lr.ndim == 0
    assert all(isinstance(b, torch.Tensor) and b.ndim == 0 for b in betas)
    assert lr.device == group["params"][0].device
    assert isinstance(group["weight_decay"], float)  # not driven: left as it was
    assert float(betas[1]) == pytest.approx(0.999)
    for t in range(1, 25):
        opt.step()
        sched.step()
        assert group["lr"] is lr and group["betas"][0] is betas[0]
        assert float(lr) == pytest.approx(WARM_COS(t), rel=1e-6)
        assert float(betas[0]) == pytest.approx(spec["momentum"](t), rel=1e-6)
    with pytest.raises(ValueError, match="as_tensors"):
        Scheduler(_sgd(), WARM_COS, as_tensors=1)  # type: ignore[arg-type]


def test_plateau_reduction_fills_the_tensor_lr_in_place() -> None:
    opt = torch.optim.Adam(_params(), lr=torch.tensor(0.1))
    lr = opt.param_groups[0]["lr"]
    sched = Scheduler(opt, lrkit.constant(0.1), plateau=Plateau(factor=0.5, patience=0))
    sched.report(1.0)
    assert sched.report(2.0) is True
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.05)


# -- checkpoint state is validated before anything changes ----------------------------------------
def _same_state(sched: Scheduler, opt: torch.optim.Optimizer, before: Any) -> None:
    assert (sched.state_dict(), _snapshot(opt)) == before


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("last_epoch", "7"),
        ("last_epoch", 7.9),
        ("last_epoch", True),
        ("last_epoch", 10**30),
        ("last_epoch", -3),
        ("_step_count", None),
        ("schedules", "abc"),
        ("schedules", [{}]),
        ("schedules", [{"lr": 3}]),
        ("total_steps", 0),
        ("plateau", "yes"),
        ("base_lrs", ["x"]),
        ("retargets", [[5, 3, 9]]),
    ],
)
def test_bad_state_is_one_value_error_and_changes_nothing(key: str, value: Any) -> None:
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS)
    _run(opt, sched, 4)
    state = sched.state_dict()
    before = (sched.state_dict(), _snapshot(opt))
    bad = {**state, key: value}
    for strict in (True, False):
        with pytest.raises(ValueError, match=key) as info:
            sched.load_state_dict(bad, strict=strict)
        assert repr(value)[:20] in str(info.value) and "expected" in str(info.value)
        _same_state(sched, opt, before)


def test_missing_keys_are_named() -> None:
    sched = Scheduler(_sgd(), WARM_COS)
    state = sched.state_dict()
    for key in ("last_epoch", "_step_count", "schedules", "plateau"):
        with pytest.raises(ValueError, match=key):
            sched.load_state_dict({k: v for k, v in state.items() if k != key})


def test_not_strict_with_a_new_schedule_and_a_bad_step_leaves_the_scheduler_as_it_was() -> None:
    saved = Scheduler(_sgd(), lrkit.constant(0.3)).state_dict()
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS, plateau=Plateau(patience=0))
    _run(opt, sched, 3)
    before = (sched.state_dict(), _snapshot(opt))
    with pytest.raises(ValueError, match="last_epoch"):
        sched.load_state_dict({**saved, "last_epoch": -3}, strict=False)
    _same_state(sched, opt, before)
    with pytest.raises(ValueError, match="plateau"):
        sched.load_state_dict({**saved, "plateau": {"config": 1}}, strict=False)
    _same_state(sched, opt, before)
    with pytest.raises(ValueError, match="schedules"):
        sched.load_state_dict({**saved, "schedules": [{"lr": "cosine(start=0.1"}]}, strict=False)
    _same_state(sched, opt, before)
    sched.load_state_dict(saved, strict=False)  # a good state still loads
    assert sched.schedules[0]["lr"] == lrkit.constant(0.3) and sched.plateau is None


# -- total_steps="auto", bind_total_steps, retarget -----------------------------------------------
SHARES = "warmup('5%') >> cosine(start=0.1, steps='95%')"


def _auto(total: int | str = "auto", **kw: Any) -> tuple[torch.optim.Optimizer, Scheduler]:
    opt = _sgd()
    sched = Scheduler(opt, SHARES, total_steps=total, **kw)  # type: ignore[arg-type]
    opt.step()
    return opt, sched


def test_auto_builds_unbound_and_step_before_binding_is_a_clear_error() -> None:
    opt, sched = _auto()
    assert sched.total_steps is None and not sched.schedules[0]["lr"].is_bound
    assert opt.param_groups[0]["lr"] == 1.0  # nothing written yet
    with pytest.raises(ValueError, match="bind_total_steps"):
        sched.step()
    sched.bind_total_steps(200)
    assert sched.total_steps == 200 and sched.last_epoch == 0
    expected = lrkit.parse(SHARES).bind(200)
    assert sched.schedule == expected and sched.schedules == [{"lr": expected}]
    assert [r[0][0] for r in _run(opt, sched, 5)] == [expected(t) for t in range(5)]
    sched.bind_total_steps(200)  # the same binding again: nothing happens
    with pytest.raises(ValueError, match="retarget"):
        sched.bind_total_steps(300)
    with pytest.raises(ValueError, match="auto"):
        Scheduler(_sgd(), WARM_COS).bind_total_steps(10)


def test_state_dict_restores_the_binding_bit_for_bit() -> None:
    opt, sched = _auto()
    sched.bind_total_steps(300)
    _run(opt, sched, 40)
    state = sched.state_dict()
    expected = _run(opt, sched, 300)
    opt2, resumed = _auto()  # the resumed job builds it unbound again
    resumed.load_state_dict(state)
    assert resumed.total_steps == 300
    assert _run(opt2, resumed, 300) == expected


def test_retarget_stretches_the_rest_and_resumes_exactly_from_the_original_code() -> None:
    opt, sched = _auto(total=1000)
    lrs = [r[0][0] for r in _run(opt, sched, 300)]
    original = lrkit.parse(SHARES).bind(1000)
    assert lrs == [original(t) for t in range(300)]
    sched.retarget(2000)
    assert sched.total_steps == 2000 and opt.param_groups[0]["lr"] == original(300)
    stretched = original.retarget(at=300, end=1000, new_end=2000)
    assert sched.schedule == stretched
    _run(opt, sched, 500)
    state = torch.load(_saved(sched.state_dict()), weights_only=True)
    expected = _run(opt, sched, 1400)
    assert expected[-1][0][0] == original(1000)  # the old end value, reached at the new end
    for total in (1000, "auto"):  # the job's own code, unchanged, then the checkpoint
        opt2, resumed = _auto(total=total)
        resumed.load_state_dict(state)
        assert resumed.total_steps == 2000 and resumed.last_epoch == 800
        assert _run(opt2, resumed, 1400) == expected
    with pytest.raises(ValueError, match="total_steps"):
        sched.retarget(sched.last_epoch)
    with pytest.raises(ValueError, match="total_steps"):
        Scheduler(_sgd(), WARM_COS).retarget(100)


def _saved(state: dict[str, Any]) -> io.BytesIO:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return buf


def test_a_different_original_budget_is_refused_in_strict_mode() -> None:
    opt, sched = _auto(total=1000)
    _run(opt, sched, 10)
    sched.retarget(1500)
    with pytest.raises(ValueError, match="differs"):
        _auto(total=900)[1].load_state_dict(sched.state_dict())


# -- guard rails ----------------------------------------------------------------------------------
def test_fixed_length_differing_from_total_steps_warns() -> None:
    with pytest.warns(UserWarning, match="lasts 100 steps but total_steps=200"):
        Scheduler(_sgd(), lrkit.cosine(start=1e-3, steps=100), total_steps=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Scheduler(_sgd(), SHARES, total_steps=200)
        Scheduler(_sgd(), lrkit.cosine(start=1e-3, steps=200), total_steps=200)


@pytest.mark.parametrize("make", [_sgd, _adamw])
def test_momentum_schedule_outside_zero_one_is_refused(make: Any) -> None:
    with pytest.raises(ValueError, match=r"momentum.*\[0, 1\]"):
        Scheduler(make(), {"lr": WARM_COS, "momentum": lrkit.linear(0.95, 1.2, steps=10)})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Scheduler(make(), lrkit.constant(1.5), key="momentum")


def test_momentum_is_checked_with_the_closed_form_bounds() -> None:
    endless = lrkit.exponential(0.95, factor=0.99)  # bounds (0, 0.95): no sampling needed
    assert Scheduler(_sgd(), {"lr": WARM_COS, "momentum": endless}).schedules[0]["momentum"]
    # a step decay ending at 0.45: bounds() is exact there (0.45, not 0), the message gives it
    decay = lrkit.step(0.9, every=50, factor=0.5**0.5, steps=100)
    with pytest.raises(ValueError, match=r"bounds\(\) are \[0.900*\d*, 1.8\]"):
        Scheduler(_sgd(), {"lr": WARM_COS, "momentum": decay * 2.0})


def test_groups_added_later_get_the_shared_spec_or_a_clear_error() -> None:
    opt = _sgd()
    sched = Scheduler(opt, WARM_COS)
    opt.add_param_group({"params": _params()})
    opt.step()
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == [WARM_COS(1)] * 2
    assert len(sched.schedules) == 2 and len(sched.get_last_lr()) == 2
    opt2 = _sgd(groups=2)
    per_group = Scheduler(opt2, [WARM_COS, LINEAR])
    opt2.add_param_group({"params": _params()})
    opt2.step()
    with pytest.raises(ValueError, match=r"groups \[2\] were added later"):
        per_group.step()


def test_schedule_and_schedules_name_the_same_schedules() -> None:
    sched = Scheduler(_sgd(groups=2), WARM_COS)
    assert sched.schedule == WARM_COS and sched.schedules == [{"lr": WARM_COS}] * 2
    spec = {"lr": WARM_COS, "momentum": lrkit.constant(0.9)}
    assert Scheduler(_sgd(), spec).schedule == spec
    per_group = Scheduler(_sgd(groups=2), [WARM_COS, LINEAR])
    assert per_group.schedule == WARM_COS and per_group.schedules[1] == {"lr": LINEAR}


def test_call_order_warning_matches_pytorch_on_the_first_step_only() -> None:
    """Stepping the scheduler before the optimizer warns as PyTorch's schedulers do, once."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = Scheduler(opt, lrkit.cosine(0.1, steps=10))
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()  # later steps never warn
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched2 = Scheduler(opt2, lrkit.cosine(0.1, steps=10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt2.step()
        sched2.step()
    assert sched2.get_last_lr() == [lrkit.cosine(0.1, steps=10)(1)]


@pytest.mark.parametrize(
    "misuse",
    [
        lambda opt: Scheduler(opt, 5),
        lambda opt: Scheduler(opt, "cosine(0.1, steps=10)", total_steps=0),
        lambda opt: Scheduler(opt, "cosine(0.1, steps=10)", key=""),
        lambda opt: Scheduler(opt, "cosine(0.1, steps=10)").load_state_dict({"last_epoch": "7"}),
        lambda opt: Scheduler(opt, "cosine(0.1, steps='50%')", total_steps="auto").step(),
        lambda opt: lrkit.torch.find_lr(torch.nn.Linear(1, 1), opt, [], loss_fn=None),
    ],
)
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`")
def test_every_torch_adapter_error_is_a_schedule_error(misuse: Any) -> None:
    """One error policy: the torch adapter raises lrkit's ScheduleError family."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(lrkit.ScheduleError):
        misuse(opt)


def test_get_last_lr_returns_a_snapshot_that_later_steps_leave_alone() -> None:
    """step() updates its lr list in place; what get_last_lr() returned must not change."""
    opt = torch.optim.SGD(
        [
            {"params": [torch.nn.Parameter(torch.zeros(1))]},
            {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.5},
        ],
        lr=0.1,
    )
    sched = Scheduler(opt, [{"lr": lrkit.cosine(0.1, steps=10)}, {"momentum": lrkit.constant(0.9)}])
    opt.step()
    before = sched.get_last_lr()
    sched.step()
    after = sched.get_last_lr()
    assert before == [lrkit.cosine(0.1, steps=10)(0), 0.5]
    assert after == [lrkit.cosine(0.1, steps=10)(1), 0.5]
    opt.param_groups[1]["lr"] = 0.25  # a group whose lr no schedule drives: reported as held
    sched.step()
    assert sched.get_last_lr() == [lrkit.cosine(0.1, steps=10)(2), 0.25]
    assert before == [lrkit.cosine(0.1, steps=10)(0), 0.5]


def test_successive_retargets_fold_and_resume_exactly() -> None:
    opt, sched = _auto(total=200)
    total = 200
    for _ in range(150):  # one budget change per step, beyond the nesting limit of 100
        _run(opt, sched, 1)
        total += 1
        sched.retarget(total)
    stretched = sched.schedule
    assert isinstance(stretched, lrkit.compose.Retarget) and len(stretched.at) == 150  # type: ignore[arg-type]
    state = torch.load(_saved(sched.state_dict()), weights_only=True)
    expected = _run(opt, sched, 250)
    opt2, resumed = _auto(total=200)
    resumed.load_state_dict(state)
    assert resumed.total_steps == total and _run(opt2, resumed, 250) == expected


def test_retarget_at_the_old_end_holds_the_last_value_and_resumes_exactly() -> None:
    opt, sched = _auto(total=100)
    _run(opt, sched, 100)
    last = lrkit.parse(SHARES).bind(100)(100)
    sched.retarget(250)  # a finished run given a larger budget: nothing left to stretch
    assert sched.total_steps == 250 and sched.schedule == lrkit.parse(SHARES).bind(100)
    state = torch.load(_saved(sched.state_dict()), weights_only=True)
    assert state["retargets"] == [[100, 100, 250]]
    expected = _run(opt, sched, 150)
    assert {r[0][0] for r in expected} == {last}
    opt2, resumed = _auto(total="auto")
    resumed.load_state_dict(state)
    assert resumed.total_steps == 250 and _run(opt2, resumed, 150) == expected
    with pytest.raises(ValueError, match="current step must be <= the old total_steps"):
        _run(opt, sched, 10)  # past 250 now
        sched.retarget(400)  # stepped past its budget: refused

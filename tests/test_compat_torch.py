"""Oracle tests: lrkit.compat.torch drop-ins against PyTorch's own schedulers.

Tolerance. Every comparison is ``rtol=1e-12`` plus ``atol = 4 ulp of the curve's peak``. The
absolute part is not a loosening of the relative one where values are large: it only matters
where a curve approaches zero, because PyTorch computes ``1 + cos(x)`` near ``x = π`` (and
``1 − t/T`` near ``t = T``) with cancellation, so its *own* error there is a few ulp of the peak
(measured: up to 1.4e-11 relative, 2.8e-17 absolute for a peak of 0.1). lrkit writes those curves
as ``sin²`` / ``(T − t)/T`` and is exact to a few ulp of the value;
``test_lrkit_is_exact_near_cosine_trough`` proves that against a 50-digit evaluation.

Oracles: classes with a recursive ``get_lr`` (CosineAnnealingLR, LinearLR, PolynomialLR,
ExponentialLR, ...) are compared with PyTorch's own ``_get_closed_form_lr``; the recursion itself
drifts from it by up to 1.5e-10 relative (CosineAnnealingLR, T_max=2500, eta_min=0.9·lr, 5000
steps; ``test_pytorch_recursive_cosine_drifts``). Non-recursive classes are stepped.
"""

from __future__ import annotations

import io
import itertools
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mpmath = pytest.importorskip("mpmath")

from torch.optim import lr_scheduler as L  # noqa: E402

import lrkit  # noqa: E402
from lrkit.compat import torch as C  # noqa: E402

RTOL = 1e-12
ULP = np.finfo(np.float64).eps
LRS = (0.1, 0.03)  # two param groups with different lrs


def _atol(peak: float) -> float:
    return 4 * ULP * peak


def make_opt(kind: str = "sgd", lrs: tuple[float, ...] = LRS) -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)]
    if kind == "adam":
        return torch.optim.Adam(groups, lr=lrs[0])
    return torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)


def _read(opt: torch.optim.Optimizer, key: str) -> list[float]:
    if key == "momentum" and "betas" in opt.param_groups[0]:
        return [float(g["betas"][0]) for g in opt.param_groups]
    return [float(g[key]) for g in opt.param_groups]


def stepped(opt: torch.optim.Optimizer, sched: object, n: int, keys=("lr",)) -> dict:
    """Values of ``keys`` in the optimizer at steps 0..n-1 (step() after optimizer.step())."""
    out: dict[str, list[list[float]]] = {k: [] for k in keys}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            for k in keys:
                out[k].append(_read(opt, k))
            opt.step()
            sched.step()  # type: ignore[attr-defined]
    return {k: np.asarray(v) for k, v in out.items()}


def closed_form(sched: L.LRScheduler, n: int) -> np.ndarray:
    """PyTorch's own closed form at steps 0..n-1, per group."""
    rows = []
    for t in range(n):
        sched.last_epoch = t
        rows.append([float(v) for v in sched._get_closed_form_lr()])  # type: ignore[attr-defined]
    return np.asarray(rows)


def torch_reference(name: str, kwargs: dict, n: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = make_opt()
        sched = getattr(L, name)(opt, **kwargs)
    if hasattr(sched, "_get_closed_form_lr"):
        return closed_form(sched, n)
    return stepped(opt, sched, n)["lr"]


PURE = {
    "StepLR": C.step_lr_schedule,
    "MultiStepLR": C.multi_step_lr_schedule,
    "ConstantLR": C.constant_lr_schedule,
    "LinearLR": C.linear_lr_schedule,
    "ExponentialLR": C.exponential_lr_schedule,
    "PolynomialLR": C.polynomial_lr_schedule,
    "CosineAnnealingLR": C.cosine_annealing_lr_schedule,
    "CosineAnnealingWarmRestarts": C.cosine_annealing_warm_restarts_schedule,
}


def _grid(name: str) -> list[dict]:
    g = {
        "StepLR": [
            {"step_size": s, "gamma": g}
            for s, g in itertools.product((1, 7, 250), (0.1, 0.5, 0.97))
        ],
        "MultiStepLR": [
            {"milestones": m, "gamma": g}
            for m, g in itertools.product(([1, 2, 3], [30, 80], [0, 10, 10, 2000]), (0.1, 0.7))
        ],
        "ConstantLR": [
            {"factor": f, "total_iters": t}
            for f, t in itertools.product((0.0, 1 / 3, 0.9, 1.0), (1, 5, 1000))
        ],
        "LinearLR": [
            {"start_factor": s, "end_factor": e, "total_iters": t}
            for s, e, t in itertools.product((0.001, 1 / 3, 1.0), (0.0, 0.2, 1.0), (1, 7, 2500))
        ],
        "ExponentialLR": [{"gamma": g} for g in (0.5, 0.9, 0.99, 0.9993, 1.0)],
        "PolynomialLR": [
            {"total_iters": t, "power": p}
            for t, p in itertools.product((1, 5, 800, 2999), (0.5, 1.0, 2.0, 3.7))
        ],
        "CosineAnnealingLR": [
            {"T_max": t, "eta_min": e}
            for t, e in itertools.product((1, 3, 100, 997, 2500), (0.0, 1e-4, 0.05))
        ],
        "CosineAnnealingWarmRestarts": [
            {"T_0": t, "T_mult": m, "eta_min": e}
            for t, m, e in itertools.product((1, 10, 333), (1, 2, 3), (0.0, 1e-3))
        ],
    }
    return g[name]


CASES = [(name, kw) for name in PURE for kw in _grid(name)]


@pytest.mark.parametrize(
    ("name", "kwargs"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
)
def test_pure_schedule_matches_pytorch_closed_form(name: str, kwargs: dict) -> None:
    """lrkit values (vectorised, per group) equal PyTorch's over 3000 steps."""
    n = 3000
    ref = torch_reference(name, kwargs, n)
    for gi, lr in enumerate(LRS):
        ours = PURE[name](lr, **kwargs)(np.arange(n))
        np.testing.assert_allclose(ours, ref[:, gi], rtol=RTOL, atol=_atol(lr), err_msg=str(ours))


CYCLIC = [
    {
        "base_lr": [0.01, 0.001],
        "max_lr": [0.1, 0.02],
        "step_size_up": up,
        "step_size_down": down,
        "mode": mode,
        "gamma": gamma,
        "base_momentum": bm,
        "max_momentum": 0.95,
    }
    for up, down, (mode, gamma), bm in itertools.product(
        (1, 20, 333),
        (None, 7),
        (("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.999), ("exp_range", 0.99993)),
        ([0.8, 0.85],),
    )
]
ONECYCLE = [
    {
        "max_lr": [0.1, 0.5],
        "total_steps": n,
        "pct_start": p,
        "anneal_strategy": a,
        "three_phase": three,
        "div_factor": d,
        "final_div_factor": f,
        "base_momentum": [0.85, 0.8],
    }
    for n, p, a, three, (d, f) in itertools.product(
        (100, 2001), (0.25, 0.45), ("cos", "linear"), (False, True), ((25.0, 1e4), (10.0, 100.0))
    )
]


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [(kw, ("sgd", "adam")[i % 2]) for i, kw in enumerate(CYCLIC)],
    ids=[f"cyclic-{i}" for i in range(len(CYCLIC))],
)
def test_cyclic_lr_and_momentum_match_pytorch(kwargs: dict, kind: str) -> None:
    """CyclicLR: lr and momentum (betas[0] for Adam) equal PyTorch's, per group, 2000 steps."""
    n = 2000
    opt = make_opt(kind)
    ref = stepped(opt, L.CyclicLR(opt, **kwargs), n, ("lr", "momentum"))
    opt2 = make_opt(kind)
    ours = stepped(opt2, C.CyclicLR(opt2, **kwargs), n, ("lr", "momentum"))
    np.testing.assert_allclose(ours["lr"], ref["lr"], rtol=RTOL, atol=_atol(0.1))
    np.testing.assert_allclose(ours["momentum"], ref["momentum"], rtol=RTOL, atol=_atol(1.0))


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [(kw, ("sgd", "adam")[i % 2]) for i, kw in enumerate(ONECYCLE)],
    ids=[f"onecycle-{i}" for i in range(len(ONECYCLE))],
)
def test_one_cycle_lr_and_momentum_match_pytorch(kwargs: dict, kind: str) -> None:
    """OneCycleLR on steps 0..total_steps-1 (PyTorch raises after), lr and momentum/betas[0]."""
    n = kwargs["total_steps"]
    opt = make_opt(kind)
    ref = stepped(opt, L.OneCycleLR(opt, **kwargs), n, ("lr", "momentum"))
    opt2 = make_opt(kind)
    sched = C.OneCycleLR(opt2, **kwargs)
    ours = stepped(opt2, sched, n, ("lr", "momentum"))
    np.testing.assert_allclose(ours["lr"], ref["lr"], rtol=RTOL, atol=_atol(0.5))
    np.testing.assert_allclose(ours["momentum"], ref["momentum"], rtol=RTOL, atol=_atol(1.0))
    # lrkit holds where PyTorch raises (#38170)
    for _ in range(3):
        sched.step()
    assert _read(opt2, "lr") == ours["lr"][-1].tolist()


def test_one_cycle_epochs_times_steps_per_epoch() -> None:
    opt = make_opt()
    s = C.OneCycleLR(opt, max_lr=0.1, epochs=4, steps_per_epoch=25)
    assert s.total_steps == 100
    assert str(s.schedule["lr"] if isinstance(s.schedule, dict) else s.schedule[0]["lr"]) == (
        "one_cycle(peak=0.1, steps=100)"
    )


DROPINS = [
    ("StepLR", {"step_size": 13, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [10, 200, 200, 700], "gamma": 0.3}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 40}),
    ("LinearLR", {"start_factor": 0.01, "end_factor": 0.5, "total_iters": 600}),
    ("ExponentialLR", {"gamma": 0.997}),
    ("PolynomialLR", {"total_iters": 900, "power": 1.5}),
    ("CosineAnnealingLR", {"T_max": 100, "eta_min": 0.001}),
    ("CosineAnnealingWarmRestarts", {"T_0": 10, "T_mult": 2, "eta_min": 0.001}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 50, "mode": "triangular2"}),
    ("OneCycleLR", {"max_lr": [0.1, 0.3], "total_steps": 1500, "three_phase": True}),
]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize(("name", "kwargs"), DROPINS, ids=[d[0] for d in DROPINS])
def test_dropin_steps_like_pytorch_scheduler(name: str, kwargs: dict, kind: str) -> None:
    """Optimizer param-group values after each step() equal PyTorch's on an identical optimizer.

    PyTorch is stepped (recursive get_lr included): over these 1500 steps its drift stays below
    3e-13, so rtol=1e-12 holds against the real, stepped PyTorch.
    """
    n = 1500
    keys = ("lr", "momentum") if name in ("CyclicLR", "OneCycleLR") else ("lr",)
    opt = make_opt(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_sched = getattr(L, name)(opt, **kwargs)
    ref = stepped(opt, ref_sched, n, keys)
    opt2 = make_opt(kind)
    sched = getattr(C, name)(opt2, **kwargs)
    ours = stepped(opt2, sched, n, keys)
    for k in keys:
        np.testing.assert_allclose(ours[k], ref[k], rtol=RTOL, atol=_atol(0.3))
    assert isinstance(sched, lrkit.torch.Scheduler)
    assert sched.get_last_lr() == [float(g["lr"]) for g in opt2.param_groups]
    assert sched.has_text_form
    for spec in sched.schedules:
        for s in spec.values():
            assert lrkit.parse(str(s)) == s


@pytest.mark.parametrize(("name", "kwargs"), DROPINS, ids=[d[0] for d in DROPINS])
def test_dropin_state_dict_round_trip_weights_only(name: str, kwargs: dict) -> None:
    """Save at step 137 with torch.save, load with weights_only=True into a fresh drop-in: the
    continued run equals the uninterrupted one."""
    keys = ("lr", "momentum") if name in ("CyclicLR", "OneCycleLR") else ("lr",)
    opt = make_opt("adam")
    sched = getattr(C, name)(opt, **kwargs)
    stepped(opt, sched, 137, keys)
    buf = io.BytesIO()
    torch.save({"sched": sched.state_dict(), "opt": opt.state_dict()}, buf)
    rest = stepped(opt, sched, 300, keys)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    opt2 = make_opt("adam")
    sched2 = getattr(C, name)(opt2, **kwargs)
    opt2.load_state_dict(state["opt"])
    sched2.load_state_dict(state["sched"])
    again = stepped(opt2, sched2, 300, keys)
    for k in keys:
        np.testing.assert_array_equal(again[k], rest[k])


def test_lrkit_is_exact_near_cosine_trough() -> None:
    """Where PyTorch's 1+cos(x) cancels, lrkit stays within 4 ulp of a 50-digit evaluation."""
    mpmath.mp.dps = 50
    T = 2500
    t = np.arange(T - 40, T + 1)
    ours = C.cosine_annealing_lr_schedule(0.1, T_max=T)(t)
    exact = np.array(
        [float(mpmath.mpf("0.1") * (1 + mpmath.cos(mpmath.pi * int(k) / T)) / 2) for k in t]
    )
    torch_cf = torch_reference("CosineAnnealingLR", {"T_max": T}, T + 1)[T - 40 :, 0]
    ours_err = np.abs(ours - exact) / np.maximum(exact, 1e-300)
    torch_err = np.abs(torch_cf - exact) / np.maximum(exact, 1e-300)
    assert ours_err[:-1].max() < 1e-14
    assert torch_err[:-1].max() > 1e-12  # PyTorch's own rounding, which the atol covers
    assert ours[-1] == exact[-1] == 0.0


def test_pytorch_recursive_cosine_drifts() -> None:
    """Documents why recursive classes are compared with PyTorch's closed form: the stepped values
    of CosineAnnealingLR drift away from it (1.5e-10 relative here)."""
    n, kwargs = 5000, {"T_max": 2500, "eta_min": 0.09}
    opt = make_opt()
    rec = stepped(opt, L.CosineAnnealingLR(opt, **kwargs), n)["lr"][:, 0]
    cf = torch_reference("CosineAnnealingLR", kwargs, n)[:, 0]
    drift = np.max(np.abs(rec - cf) / cf)
    assert 1e-11 < drift < 1e-9
    ours = C.cosine_annealing_lr_schedule(0.1, **kwargs)(np.arange(n))
    np.testing.assert_allclose(ours, cf, rtol=RTOL)


# -- SequentialLR / ChainedScheduler -----------------------------------------------------------
SEQUENTIAL = [
    (
        [
            ("LinearLR", {"start_factor": 0.01, "total_iters": 100}),
            ("CosineAnnealingLR", {"T_max": 1900}),
        ],
        [100],
    ),
    (
        [
            ("ConstantLR", {"factor": 0.1, "total_iters": 50}),
            ("ExponentialLR", {"gamma": 0.999}),
            ("StepLR", {"step_size": 100, "gamma": 0.5}),
        ],
        [30, 700],
    ),
    (
        [
            ("LinearLR", {"start_factor": 0.1, "total_iters": 300}),
            ("PolynomialLR", {"total_iters": 500, "power": 2.0}),
        ],
        [120],
    ),
    (
        [
            ("ExponentialLR", {"gamma": 0.99}),
            ("CosineAnnealingWarmRestarts", {"T_0": 50, "T_mult": 2}),
        ],
        [200],
    ),
    (
        [
            ("CosineAnnealingLR", {"T_max": 100, "eta_min": 0.001}),
            ("MultiStepLR", {"milestones": [50, 90]}),
        ],
        [300],
    ),
]


def _build(mod: object, opt: torch.optim.Optimizer, spec: list) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [getattr(mod, name)(opt, **kw) for name, kw in spec]


@pytest.mark.parametrize(("children", "milestones"), SEQUENTIAL)
def test_sequential_lr_restarts_children_like_pytorch(children: list, milestones: list) -> None:
    """SequentialLR: each child on local time from its milestone, as PyTorch's (2000 steps)."""
    n = 2000
    opt = make_opt()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_sched = L.SequentialLR(opt, _build(L, opt, children), milestones)
    ref = stepped(opt, ref_sched, n)["lr"]
    opt2 = make_opt()
    sched = C.SequentialLR(opt2, _build(C, opt2, children), milestones)
    ours = stepped(opt2, sched, n)["lr"]
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=_atol(0.1))
    assert ">>" in str(sched.schedules[0]["lr"])


# Children that run longer than their slot and have no shorter form: cut with ``truncate``.
SEQUENTIAL_CUT = [
    (
        [
            ("CosineAnnealingLR", {"T_max": 500, "eta_min": 0.001}),
            ("ExponentialLR", {"gamma": 0.995}),
        ],
        [200],
    ),
    (
        [
            ("PolynomialLR", {"total_iters": 800, "power": 2.0}),
            ("CosineAnnealingWarmRestarts", {"T_0": 40, "T_mult": 2, "eta_min": 0.001}),
            ("LinearLR", {"start_factor": 0.5, "total_iters": 100}),
        ],
        [300, 900],
    ),
    (
        [
            ("OneCycleLR", {"max_lr": 0.2, "total_steps": 1000, "cycle_momentum": False}),
            ("PolynomialLR", {"total_iters": 1500, "power": 0.5}),
        ],
        [400],
    ),
    (
        [
            (
                "CyclicLR",
                {
                    "base_lr": 0.01,
                    "max_lr": 0.1,
                    "step_size_up": 70,
                    "mode": "exp_range",
                    "gamma": 0.999,
                    "cycle_momentum": False,
                },
            ),
            ("OneCycleLR", {"max_lr": 0.1, "total_steps": 900, "cycle_momentum": False}),
            ("ExponentialLR", {"gamma": 0.99}),
        ],
        [250, 700],
    ),
]


@pytest.mark.parametrize(("children", "milestones"), SEQUENTIAL_CUT)
def test_sequential_lr_truncates_children_longer_than_their_slot(
    children: list, milestones: list
) -> None:
    """Any child that outlasts its milestone is cut there, as PyTorch switches children."""
    n = 1500
    opt = make_opt()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = stepped(opt, L.SequentialLR(opt, _build(L, opt, children), milestones), n)["lr"]
    opt2 = make_opt()
    sched = C.SequentialLR(opt2, _build(C, opt2, children), milestones)
    ours = stepped(opt2, sched, n)["lr"]
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=_atol(0.2))
    assert ".truncate(" in str(sched.schedules[0]["lr"])
    assert sched.has_text_form
    for spec in sched.schedules:
        assert lrkit.parse(str(spec["lr"])) == spec["lr"]


def test_sequential_lr_truncates_cyclic_momentum_like_pytorch() -> None:
    """Children driving lr and momentum (CyclicLR, OneCycleLR): both keys cut at the milestone."""
    children = [
        ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 30}),
        ("OneCycleLR", {"max_lr": 0.1, "total_steps": 500}),
    ]
    n, keys = 480, ("lr", "momentum")
    opt = make_opt()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = stepped(opt, L.SequentialLR(opt, _build(L, opt, children), [100]), n, keys)
    opt2 = make_opt()
    sched = C.SequentialLR(opt2, _build(C, opt2, children), [100])
    ours = stepped(opt2, sched, n, keys)
    for key in keys:
        np.testing.assert_allclose(ours[key], ref[key], rtol=RTOL, atol=_atol(0.9), err_msg=key)
    assert "mirror(" in str(sched.schedules[0]["momentum"])


CHAINED = [
    ([("StepLR", {"step_size": 30, "gamma": 0.5}), ("ExponentialLR", {"gamma": 0.999})], 2000),
    (
        [
            ("ConstantLR", {"factor": 0.5, "total_iters": 20}),
            ("LinearLR", {"start_factor": 0.1, "total_iters": 300}),
            ("PolynomialLR", {"total_iters": 1500, "power": 2.0}),
        ],
        2000,
    ),
    ([("MultiStepLR", {"milestones": [100, 400]}), ("CosineAnnealingLR", {"T_max": 1000})], 1001),
    (
        [
            ("ExponentialLR", {"gamma": 0.99}),
            (
                "CyclicLR",
                {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 40, "cycle_momentum": False},
            ),
        ],
        2000,
    ),
]


@pytest.mark.parametrize(("children", "n"), CHAINED)
def test_chained_scheduler_is_product_of_multipliers(children: list, n: int) -> None:
    """ChainedScheduler equals PyTorch's where its values are closed form: the product of the
    multiplicative children (CosineAnnealingLR up to T_max), or a last absolute child."""
    opt = make_opt()
    ref = stepped(opt, L.ChainedScheduler(_build(L, opt, children)), n)["lr"]
    opt2 = make_opt()
    sched = C.ChainedScheduler(_build(C, opt2, children))
    ours = stepped(opt2, sched, n)["lr"]
    if children[-1][0] == "CyclicLR":
        # PyTorch quirk at step 0 only: CyclicLR's constructor step runs before it sets its own
        # base_lrs, so PyTorch shows the groups' initial lr there; from step 1 on it is CyclicLR's.
        ours, ref = ours[1:], ref[1:]
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=_atol(0.1))


def test_chained_scheduler_of_text_parts_has_a_text_form_that_round_trips() -> None:
    """The chain is core's ``product(...) * lr``: it prints as text that parses back equal."""
    opt = make_opt()
    children = [
        ("StepLR", {"step_size": 30, "gamma": 0.5}),
        ("ExponentialLR", {"gamma": 0.999}),
        ("LinearLR", {"start_factor": 0.1, "total_iters": 300}),
    ]
    sched = C.ChainedScheduler(_build(C, opt, children))
    assert sched.has_text_form
    for spec in sched.schedules:  # one per param group (lrs 0.1 and 0.03)
        text = str(spec["lr"])
        assert text.startswith("product(")
        assert lrkit.parse(text) == spec["lr"]
    single = make_opt(lrs=(0.1,))
    one = C.ChainedScheduler(_build(C, single, children))
    assert isinstance(one.schedule, lrkit.Schedule)
    assert lrkit.parse(str(one.schedule)) == one.schedule
    # A Python function anywhere in the chain: no text form.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lam = C.MultiplicativeLR(single, lambda t: 0.99)
    assert not C.ChainedScheduler([C.StepLR(single, 30), lam]).has_text_form


def test_chained_multiplicative_after_absolute_composes_as_pytorch() -> None:
    """A multiplicative child after an absolute one: no closed form, PyTorch's values."""
    children = [
        ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "cycle_momentum": False}),
        ("ExponentialLR", {"gamma": 0.9}),
    ]
    opt, opt2 = make_opt(), make_opt()
    ref = stepped(opt, L.ChainedScheduler(_build(L, opt, children)), 30)["lr"]
    ours = stepped(opt2, C.ChainedScheduler(_build(C, opt2, children)), 30)["lr"]
    np.testing.assert_allclose(ours[1:], ref[1:], rtol=1e-12)


# -- arguments PyTorch takes that lrkit's own schedules do not --------------------------------
EDGE_ARGUMENTS = [
    ("StepLR", {"step_size": 3, "gamma": 0.0}),
    ("StepLR", {"step_size": True, "gamma": 0.5}),
    ("StepLR", {"step_size": 2, "gamma": True}),
    ("StepLR", {"step_size": 2.5, "gamma": 0.5}),
    ("StepLR", {"step_size": -2, "gamma": 0.5}),
    ("StepLR", {"step_size": 0.1, "gamma": 0.5}),
    ("StepLR", {"step_size": math.inf, "gamma": 0.5}),
    ("StepLR", {"step_size": 10**400, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5], "gamma": 0}),
    ("MultiStepLR", {"milestones": [0, 5], "gamma": 0.0}),
    ("MultiStepLR", {"milestones": [-1, 3], "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2.5, 4, 2.0, 10**20], "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.0}),
    ("ExponentialLR", {"gamma": True}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 0}),
    ("ConstantLR", {"factor": 0.5, "total_iters": -3}),
    ("ConstantLR", {"factor": True, "total_iters": True}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 2.5}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 10**20}),
    ("LinearLR", {"start_factor": 0.5, "total_iters": 0}),
    ("LinearLR", {"start_factor": 0.5, "total_iters": -1}),
    ("LinearLR", {"start_factor": True, "end_factor": False, "total_iters": 4}),
    ("LinearLR", {"start_factor": 0.5, "total_iters": 6.5}),
    ("LinearLR", {"start_factor": 0.5, "total_iters": 0.5}),
    ("LinearLR", {"start_factor": 0.5, "end_factor": 0.0, "total_iters": 10**20}),
    ("PolynomialLR", {"total_iters": 0}),
    ("PolynomialLR", {"total_iters": -2, "power": 2.0}),
    ("PolynomialLR", {"total_iters": 4, "power": 0}),
    ("PolynomialLR", {"total_iters": 4, "power": math.inf}),
    ("PolynomialLR", {"total_iters": 4, "power": True}),
    ("CosineAnnealingLR", {"T_max": True}),
    ("CosineAnnealingWarmRestarts", {"T_0": True, "T_mult": True, "eta_min": False}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": True, "gamma": True}),
]


def _resumed(module: object, name: str, kwargs: dict, load_into: object, n: int) -> list:
    """lrs of ``module.name(**kwargs)`` at steps 0..n-1, checkpointed at step n // 2 (optimizer and
    scheduler through ``torch.save``/``weights_only``) and continued by ``load_into.name``."""
    opt = make_opt()
    sched = getattr(module, name)(opt, **kwargs)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(n):
            if t == n // 2:
                buf = io.BytesIO()
                torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
                buf.seek(0)
                saved = torch.load(buf, weights_only=True)
                opt = make_opt()
                sched = getattr(load_into, name)(opt, **kwargs)
                opt.load_state_dict(saved["opt"])
                sched.load_state_dict(saved["sched"])
            lrs.append(_read(opt, "lr"))
            opt.step()
            sched.step()
    return lrs


@pytest.mark.parametrize(("name", "kwargs"), EDGE_ARGUMENTS, ids=repr)
def test_drop_ins_take_edge_arguments_pytorch_takes(name: str, kwargs: dict) -> None:
    """gamma=0, total_iters <= 0, power 0 or inf, bools for numbers: PyTorch's values, through
    the drop-in's own state_dict round trip and through loading PyTorch's state."""
    opt = make_opt()
    expected = stepped(opt, getattr(L, name)(opt, **kwargs), 20)["lr"]
    opt = make_opt()
    ours = stepped(opt, getattr(C, name)(opt, **kwargs), 20)["lr"]
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(_resumed(C, name, kwargs, C, 20), expected, rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(_resumed(L, name, kwargs, C, 20), expected, rtol=1e-12, atol=1e-17)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize(
    "bounds",
    [
        {"base_lr": 0.1, "max_lr": 0.01},
        {"base_momentum": 0.95, "max_momentum": 0.85},
        {"base_lr": 0.1, "max_lr": 0.01, "base_momentum": 0.95, "max_momentum": 0.85},
    ],
    ids=repr,
)
def test_cyclic_lr_with_reversed_bounds_goes_the_other_way_as_pytorch(
    mode: str, bounds: dict
) -> None:
    """base_lr > max_lr (the lr falls from base_lr) and base_momentum > max_momentum (the
    momentum rises): PyTorch's lr and momentum, also after a state_dict round trip."""
    kwargs = {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "step_size_down": 3}
    kwargs |= {"mode": mode, "gamma": 0.97, **bounds}
    keys = ("lr", "momentum")
    opt = make_opt()
    ref = stepped(opt, L.CyclicLR(opt, **kwargs), 40, keys)
    opt = make_opt()
    ours = C.CyclicLR(opt, **kwargs)
    got = stepped(opt, ours, 40, keys)
    for k in keys:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-17)
    opt2 = make_opt()
    again = C.CyclicLR(opt2, **kwargs)
    again.load_state_dict(ours.state_dict())
    assert again.get_last_lr() == ours.get_last_lr()


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
def test_one_cycle_lr_with_base_momentum_above_max_momentum_as_pytorch(
    three_phase: bool, anneal_strategy: str
) -> None:
    """base_momentum > max_momentum: PyTorch's momentum rises to base_momentum and comes back."""
    kwargs = {"max_lr": 0.1, "total_steps": 40, "base_momentum": 0.95, "max_momentum": 0.85}
    kwargs |= {"three_phase": three_phase, "anneal_strategy": anneal_strategy}
    keys = ("lr", "momentum")
    opt = make_opt()
    ref = stepped(opt, L.OneCycleLR(opt, **kwargs), 40, keys)
    opt = make_opt()
    got = stepped(opt, C.OneCycleLR(opt, **kwargs), 40, keys)
    for k in keys:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-17)


# -- ReduceLROnPlateau -------------------------------------------------------------------------
PLATEAU = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2, "threshold_mode": "abs", "threshold": 0.01},
    {"patience": 0, "cooldown": 3, "min_lr": [0.001, 0.002], "factor": 0.3},
    {"patience": 1, "eps": 1e-3, "min_lr": 0.0},
]


@pytest.mark.parametrize("kwargs", PLATEAU)
def test_reduce_lr_on_plateau_steps_like_pytorch(kwargs: dict) -> None:
    """step(metric) as PyTorch's, two groups, noisy plateauing metric, 400 steps, then a
    weights_only state_dict round trip continues identically."""
    rng = np.random.default_rng(0)
    metric = np.concatenate([np.linspace(1, 0.5, 50), 0.5 + 0.01 * rng.standard_normal(350)])
    if kwargs.get("mode") == "max":
        metric = -metric
    opt, opt2 = make_opt(), make_opt()
    ref_sched, sched = L.ReduceLROnPlateau(opt, **kwargs), C.ReduceLROnPlateau(opt2, **kwargs)
    for t, m in enumerate(metric):
        assert _read(opt2, "lr") == _read(opt, "lr"), t
        opt.step(), opt2.step()
        ref_sched.step(float(m))
        sched.step(torch.tensor(m))
        if t == 200:
            buf = io.BytesIO()
            torch.save(sched.state_dict(), buf)
            buf.seek(0)
            opt3 = make_opt()
            sched = C.ReduceLROnPlateau(opt3, **kwargs)
            sched.load_state_dict(torch.load(buf, weights_only=True))
            opt2 = opt3
    assert sched.get_last_lr() == ref_sched.get_last_lr()
    assert str(sched.schedules[0]["lr"]) == "constant(0.1)"


# every argument PyTorch's ReduceLROnPlateau takes (it refuses only factor >= 1, an unknown mode
# or threshold_mode and a min_lr list of the wrong length), with the values it gives
PLATEAU_EDGES = [
    {"factor": 0.0},
    {"factor": 0},
    {"factor": False},
    {"factor": -0.0},
    {"factor": -0.5},
    {"factor": -math.inf},
    {"factor": math.nan},
    {"factor": 0.0, "min_lr": 0.01},
    {"factor": -0.5, "min_lr": -1.0},
    {"factor": -2.0, "min_lr": -math.inf},
    {"factor": 0.0, "patience": -1},
    {"patience": -1},
    {"patience": 2.5},
    {"patience": True},
    {"patience": math.inf},
    {"patience": math.nan},
    {"threshold": -0.1},
    {"threshold": math.inf},
    {"threshold": -math.inf},
    {"threshold": math.nan},
    {"threshold": True},
    {"mode": "max", "threshold_mode": "abs", "threshold": -0.05, "factor": 0.5},
    {"cooldown": -1},
    {"cooldown": 1.5},
    {"cooldown": math.inf},
    {"cooldown": math.nan},
    {"cooldown": True},
    {"min_lr": -0.1},
    {"min_lr": math.inf},
    {"min_lr": math.nan},
    {"min_lr": [-0.1, 0.0]},
    {"min_lr": True},
    {"eps": -1.0},
    {"eps": math.inf},
    {"eps": -math.inf},
    {"eps": math.nan},
    {"eps": True},
    {"factor": 0.5, "eps": -1.0, "min_lr": 0.5},
]
PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.95, 1.0, 0.8, 0.8, 0.8, 0.85, 0.7] * 3


def _plateau_run(
    opt: torch.optim.Optimizer, sched: object, build: object, steps: range
) -> tuple[torch.optim.Optimizer, object, list[list[float]]]:
    """Step ``sched`` through ``steps`` of PLATEAU_METRICS; at step 15, save the optimizer and
    the scheduler (``torch.save``, ``weights_only``) and continue with ``build(new optimizer)``
    loading both."""
    lrs: list[list[float]] = []
    for t in steps:
        if t == 15:
            buf = io.BytesIO()
            torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, buf)  # type: ignore[attr-defined]
            buf.seek(0)
            saved = torch.load(buf, weights_only=True)
            opt = make_opt()
            sched = build(opt)  # type: ignore[operator]
            opt.load_state_dict(saved["opt"])
            sched.load_state_dict(saved["sched"])  # type: ignore[attr-defined]
        opt.step()
        sched.step(PLATEAU_METRICS[t])  # type: ignore[attr-defined]
        lrs.append(list(sched.get_last_lr()))  # type: ignore[attr-defined]
    return opt, sched, lrs


@pytest.mark.parametrize("kwargs", PLATEAU_EDGES, ids=repr)
def test_reduce_lr_on_plateau_takes_every_argument_pytorch_takes(kwargs: dict) -> None:
    """Same lrs as PyTorch's class at every step (factor <= 0 drops to max(lr·factor, min_lr),
    NaN options make their comparison false, ...), through the drop-in's own state_dict round
    trip and through loading PyTorch's state."""
    kwargs = {"patience": 1, **kwargs}
    steps = range(len(PLATEAU_METRICS))
    opt = make_opt()
    _, ref, expected = _plateau_run(
        opt, L.ReduceLROnPlateau(opt, **kwargs), lambda o: L.ReduceLROnPlateau(o, **kwargs), steps
    )
    opt = make_opt()
    _, ours, got = _plateau_run(
        opt, C.ReduceLROnPlateau(opt, **kwargs), lambda o: C.ReduceLROnPlateau(o, **kwargs), steps
    )
    assert got == expected
    for name in ("factor", "patience", "threshold", "cooldown", "eps", "num_bad_epochs"):
        a, b = getattr(ours, name), getattr(ref, name)
        assert a == b or (math.isnan(a) and math.isnan(b)), name
    # PyTorch's own run, checkpointed at step 15 and continued by the drop-in
    opt = make_opt()
    _, _, migrated = _plateau_run(
        opt, L.ReduceLROnPlateau(opt, **kwargs), lambda o: C.ReduceLROnPlateau(o, **kwargs), steps
    )
    assert migrated == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"factor": 1.0},
        {"factor": True},
        {"factor": 2},
        {"mode": "MIN"},
        {"threshold_mode": "relative"},
        {"min_lr": [0.0]},
    ],
    ids=repr,
)
def test_reduce_lr_on_plateau_refuses_what_pytorch_refuses(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        L.ReduceLROnPlateau(make_opt(), **kwargs)
    with pytest.raises(ValueError):
        C.ReduceLROnPlateau(make_opt(), **kwargs)


def test_reduce_lr_on_plateau_factor_zero_sets_min_lr_while_plateau_stays_strict() -> None:
    """The drop-in takes PyTorch's factor=0 (the lr becomes min_lr at the first reduction);
    lrkit's own Plateau keeps refusing it."""
    sched = C.ReduceLROnPlateau(make_opt(), factor=0.0, patience=0, min_lr=0.001)
    sched.step(1.0)
    sched.step(2.0)
    assert sched.get_last_lr() == [0.001] * len(LRS)
    with pytest.raises(lrkit.ScheduleError, match="factor"):
        lrkit.Plateau(factor=0.0)


@pytest.mark.parametrize(
    "kwargs", [{"factor": 0.5}, {"factor": 0.0}, {"factor": math.nan}], ids=repr
)
def test_reduce_lr_on_plateau_reduce_lr_called_directly_as_pytorch(kwargs: dict) -> None:
    """PyTorch's ``_reduce_lr()`` may be called before any evaluation; the state stays loadable."""
    lrs = []
    for module in (L, C):
        opt = make_opt()
        sched = module.ReduceLROnPlateau(opt, patience=2, **kwargs)
        sched._reduce_lr(0)
        sched._reduce_lr(0)
        sched.step(1.0)
        lrs.append(_read(opt, "lr"))
        if module is C:
            again = C.ReduceLROnPlateau(make_opt(), patience=2, **kwargs)
            again.load_state_dict(sched.state_dict())
            assert again.get_last_lr() == sched.get_last_lr()
    assert lrs[1] == lrs[0]


def test_reduce_lr_on_plateau_requires_metrics() -> None:
    s = C.ReduceLROnPlateau(make_opt())
    with pytest.raises(TypeError, match="metrics"):
        s.step()


# -- LambdaLR / MultiplicativeLR ----------------------------------------------------------------
def _lam(t: int) -> float:
    return 0.97**t + 0.01 * (t % 7)


def _mul(t: int) -> float:
    return 0.999 if t % 3 else 1.001


@pytest.mark.parametrize("name", ["LambdaLR", "MultiplicativeLR"])
def test_lambda_schedulers_match_pytorch_and_warn(name: str) -> None:
    fn = _lam if name == "LambdaLR" else _mul
    opt = make_opt()
    ref = stepped(opt, getattr(L, name)(opt, fn), 2000)["lr"]
    opt2 = make_opt()
    with pytest.warns(UserWarning, match="cannot be saved as lrkit text"):
        sched = getattr(C, name)(opt2, [fn, fn])
    ours = stepped(opt2, sched, 2000)["lr"]
    np.testing.assert_allclose(ours, ref, rtol=RTOL)
    assert not sched.has_text_form
    state = sched.state_dict()
    assert "python_functions" in state and "_lam" in str(state["schedules"]) + "_lam" + "_mul"
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    with pytest.warns(UserWarning):
        again = getattr(C, name)(make_opt(), fn)
    again.load_state_dict(torch.load(buf, weights_only=True))
    assert again.last_epoch == sched.last_epoch


def test_lambda_precompute_gives_a_text_schedule() -> None:
    opt = make_opt()
    ref = stepped(opt, L.LambdaLR(opt, _lam), 300)["lr"]
    opt2 = make_opt()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = C.LambdaLR(opt2, _lam, precompute=300)
    np.testing.assert_array_equal(stepped(opt2, sched, 300)["lr"], ref)
    assert sched.has_text_form and "python_functions" not in sched.state_dict()
    s = sched.schedules[0]["lr"]
    assert lrkit.parse(str(s)) == s


# -- per-group bases, last_epoch, errors --------------------------------------------------------
def test_groups_use_their_own_initial_lr_like_pytorch() -> None:
    """A second scheduler on the same optimizer uses group['initial_lr'] (set by the first)."""
    opt = make_opt()
    C.ExponentialLR(opt, gamma=0.5)
    sched = C.StepLR(opt, step_size=10)
    assert [str(s["lr"]) for s in sched.schedules] == [
        "step(start=0.1, every=10, factor=0.1)",
        "step(start=0.03, every=10, factor=0.1)",
    ]
    assert isinstance(sched.schedule, list)


def test_last_epoch_resumes_like_pytorch_closed_form() -> None:
    """last_epoch=k: the constructor writes step k+1's values, as PyTorch's LambdaLR does."""
    opt, opt2 = make_opt(), make_opt()
    for g in opt.param_groups + opt2.param_groups:
        g["initial_lr"] = g["lr"]
    ref = L.LambdaLR(opt, _lam, last_epoch=25)
    with pytest.warns(UserWarning):
        ours = C.LambdaLR(opt2, _lam, last_epoch=25)
    assert ours.last_epoch == ref.last_epoch == 26
    np.testing.assert_allclose(_read(opt2, "lr"), _read(opt, "lr"), rtol=RTOL)
    rest, rest2 = stepped(opt, ref, 50), stepped(opt2, ours, 50)
    np.testing.assert_allclose(rest2["lr"], rest["lr"], rtol=RTOL)
    with pytest.raises(ValueError, match="initial_lr"):
        C.StepLR(make_opt(), step_size=3, last_epoch=4)


def test_bad_arguments_name_class_and_parameter() -> None:
    opt = make_opt()
    with pytest.raises(TypeError, match="CyclicLR: scale_fn"):
        C.CyclicLR(opt, 0.01, 0.1, scale_fn=0.5)  # type: ignore[arg-type]
    rms = torch.optim.Rprop([torch.nn.Parameter(torch.zeros(1))])
    with pytest.raises(ValueError, match="cycle_momentum"):
        C.OneCycleLR(rms, max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="OneCycleLR: total_steps=None is invalid"):
        C.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="max_lr has 3 entries"):
        C.OneCycleLR(opt, max_lr=[0.1, 0.2, 0.3], total_steps=10)
    with pytest.raises(TypeError, match="StepLR: step_size"):
        C.StepLR(opt, step_size="2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"lrkit\.compat\.torch"):
        C.SequentialLR(opt, [L.StepLR(opt, 3), L.StepLR(opt, 3)], [5])
    assert math.isfinite(C.StepLR(make_opt(), 3).get_last_lr()[0])


@pytest.mark.parametrize(
    ("name", "kwargs", "param"),
    [
        ("OneCycleLR", {"max_lr": 0.1, "total_steps": 10, "base_momentum": -0.1}, "base_momentum"),
        ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "base_momentum": -0.1}, "base_momentum"),
    ],
)
def test_negative_momentum_names_class_and_parameter(name: str, kwargs: dict, param: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}: {param}=.* >= 0"):
        getattr(C, name)(make_opt(), **kwargs)
    kwargs = {**kwargs, "cycle_momentum": False}  # not cycled: not checked, as PyTorch
    getattr(C, name)(make_opt(), **kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("OneCycleLR", {"max_lr": 0.1, "total_steps": 10, "max_momentum": 1.5}),
        ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "max_momentum": 5.0}),
        ("OneCycleLR", {"max_lr": 25, "total_steps": 10, "base_momentum": 1, "max_momentum": 22}),
    ],
)
def test_momentum_above_1_is_accepted_and_cycled_as_pytorch(name: str, kwargs: dict) -> None:
    opt, opt2 = make_opt(), make_opt()
    ref = stepped(opt, getattr(L, name)(opt, **kwargs), 9, ("lr", "momentum"))
    ours = stepped(opt2, getattr(C, name)(opt2, **kwargs), 9, ("lr", "momentum"))
    for key in ("lr", "momentum"):
        np.testing.assert_allclose(ours[key], ref[key], rtol=RTOL)


# -- composing with other writers of the lr ----------------------------------------------------
COMPOUND = [
    (("StepLR", {"gamma": 0.1, "step_size": 3}), ("ExponentialLR", {"gamma": 0.9})),
    (("MultiStepLR", {"gamma": 0.1, "milestones": [2, 5, 9]}), ("ExponentialLR", {"gamma": 0.9})),
    (("StepLR", {"gamma": 0.1, "step_size": 3}), ("ConstantLR", {"factor": 0.4, "total_iters": 4})),
    (
        ("LinearLR", {"start_factor": 0.4, "end_factor": 0.9, "total_iters": 4}),
        ("MultiStepLR", {"milestones": [2, 5, 9]}),
    ),
    (("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}), ("StepLR", {"step_size": 3})),
    (
        ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),
        ("LinearLR", {"start_factor": 0.4, "total_iters": 4}),
    ),
    (("ExponentialLR", {"gamma": 0.9}), ("PolynomialLR", {"total_iters": 5, "power": 2.0})),
]


@pytest.mark.parametrize(("first", "second"), COMPOUND)
def test_stacked_drop_ins_compose_as_pytorch(first: tuple, second: tuple) -> None:
    """Two schedulers stepped on one optimizer: each continues from the lr the other wrote."""
    opt, opt2 = make_opt(), make_opt()
    ref = stepped(opt, _Both(_build(L, opt, [first, second])), 30)["lr"]
    ours = stepped(opt2, _Both(_build(C, opt2, [first, second])), 30)["lr"]
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)


class _Both:
    def __init__(self, scheds: list) -> None:
        self.scheds = scheds

    def step(self) -> None:
        for s in self.scheds:
            s.step()


def test_a_drop_in_stacked_with_pytorchs_own_scheduler_composes_as_pytorch() -> None:
    opt, opt2 = make_opt(), make_opt()
    ref = _Both([L.StepLR(opt, 3, 0.5), L.ExponentialLR(opt, 0.9)])
    ours = _Both([C.StepLR(opt2, 3, 0.5), L.ExponentialLR(opt2, 0.9)])
    np.testing.assert_allclose(
        stepped(opt2, ours, 20)["lr"], stepped(opt, ref, 20)["lr"], rtol=1e-12
    )


def test_a_drop_in_continues_from_an_lr_the_user_wrote() -> None:
    opt, opt2 = make_opt(), make_opt()
    ref, ours = L.StepLR(opt, 3, 0.5), C.StepLR(opt2, 3, 0.5)
    for t in range(12):
        if t == 4:
            for o in (opt, opt2):
                o.param_groups[0]["lr"] = 0.7
        for o, s in ((opt, ref), (opt2, ours)):
            o.step()
            s.step()
        assert _read(opt2, "lr") == pytest.approx(_read(opt, "lr"), rel=1e-12)


def test_a_drop_in_alone_writes_its_closed_form_bit_for_bit() -> None:
    opt = make_opt()
    sched = C.CosineAnnealingLR(opt, T_max=7, eta_min=0.001)
    got = stepped(opt, sched, 40)["lr"]
    want = [[float(spec["lr"](t)) for spec in sched.schedules] for t in range(40)]
    assert got.tolist() == want


def test_chained_scheduler_steps_its_children() -> None:
    opt = make_opt()
    kids = [C.LinearLR(opt, start_factor=0.4, total_iters=3), C.StepLR(opt, 2)]
    chain = C.ChainedScheduler(kids)
    for _ in range(5):
        opt.step()
        chain.step()
    assert [k.last_epoch for k in kids] == [5, 5]
    assert chain.get_last_lr() == kids[-1].get_last_lr() == _read(opt, "lr")


# -- PyTorch's attributes, warnings and arguments ----------------------------------------------
def test_pytorch_attributes_exist_and_base_lrs_are_the_initial_lrs() -> None:
    opt = make_opt()
    assert C.ConstantLR(opt, factor=0.5).base_lrs == list(LRS)
    cos = C.CosineAnnealingLR(make_opt(), T_max=10, eta_min=0.01)
    assert (cos.T_max, cos.eta_min) == (10, 0.01)
    sgdr = C.CosineAnnealingWarmRestarts(make_opt(), T_0=4, T_mult=2)
    assert (sgdr.T_0, sgdr.T_i, sgdr.T_mult, sgdr.T_cur, sgdr.eta_min) == (4, 4, 2, 0, 0.0)
    step = C.StepLR(make_opt(), 3, 0.5)
    assert (step.step_size, step.gamma) == (3, 0.5)
    assert dict(C.MultiStepLR(make_opt(), [2, 5, 5]).milestones) == {2: 1, 5: 2}
    cyc = C.CyclicLR(make_opt(), 0.01, 0.1, step_size_up=3)
    assert (cyc.max_lrs, cyc.mode, cyc.total_size) == ([0.1, 0.1], "triangular", 6.0)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")
def test_writing_an_attribute_takes_effect_as_in_pytorch() -> None:
    opt, opt2 = make_opt(), make_opt()
    ref, ours = (
        L.CosineAnnealingWarmRestarts(opt, T_0=4),
        C.CosineAnnealingWarmRestarts(opt2, T_0=4),
    )
    refs, ourss = L.StepLR(make_opt(), 2), C.StepLR(make_opt(), 2)
    for epoch in (7, 8, 9):
        ref.T_cur = ours.T_cur = epoch
        ref.step()
        ours.step()
        assert ours.T_cur == ref.T_cur
        assert _read(opt2, "lr") == pytest.approx(_read(opt, "lr"), rel=1e-12)
    refs.gamma = ourss.gamma = 0.5
    for _ in range(6):
        refs.step()
        ourss.step()
    assert ourss.get_last_lr() == pytest.approx(refs.get_last_lr(), rel=1e-12)


def test_step_with_an_epoch_warns_pytorchs_deprecation() -> None:
    sched = C.StepLR(make_opt(), 2)
    sched.optimizer.step()
    with pytest.warns(UserWarning) as record:
        sched.step(3)
    assert [str(w.message) for w in record] == [L.EPOCH_DEPRECATION_WARNING]


def test_a_resumed_scheduler_warns_about_the_call_order_and_needs_initial_lr() -> None:
    opt = make_opt()
    for g in opt.param_groups:
        g["initial_lr"] = 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = C.StepLR(opt, 3, last_epoch=10)
    with pytest.warns(UserWarning, match="how-to-adjust-learning-rate"):
        sched.step()
    with pytest.raises(KeyError, match="initial_lr"):
        C.StepLR(make_opt(), 3, last_epoch=4)


def test_tensor_arguments_and_fractional_restart_epochs_are_accepted() -> None:
    opt, opt2 = make_opt(), make_opt()
    ref = L.OneCycleLR(opt, max_lr=torch.tensor(0.1), total_steps=10)
    ours = C.OneCycleLR(opt2, max_lr=torch.tensor(0.1), total_steps=10)
    # PyTorch computes in the tensor's float32; the drop-in in float64
    assert _read(opt2, "lr") == pytest.approx(_read(opt, "lr"), rel=1e-6)
    assert ours.base_lrs == pytest.approx([float(b) for b in ref.base_lrs], rel=1e-6)
    C.CyclicLR(make_opt(), base_lr=torch.tensor(0.01), max_lr=torch.tensor(0.1))
    opt, opt2 = make_opt(), make_opt()
    ref, ours = L.CosineAnnealingWarmRestarts(opt, 3, 2), C.CosineAnnealingWarmRestarts(opt2, 3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (0.1, 1.5, 2.9, 3.0, 7.25, 20.0, 4):
            ref.step(epoch)
            ours.step(epoch)
            assert _read(opt2, "lr") == pytest.approx(_read(opt, "lr"), rel=1e-12)
            assert (ours.T_cur, ours.T_i, ours.last_epoch) == (ref.T_cur, ref.T_i, ref.last_epoch)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")
def test_lr_lambda_is_called_at_step_time() -> None:
    calls: list[int] = []

    def fn(t: int) -> float:
        calls.append(t)
        return 0.9**t

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = C.LambdaLR(make_opt(lrs=(0.1,)), fn)
    assert calls == [0]
    sched.step()
    sched.step()
    assert calls == [0, 1, 2]


class _Scale:
    def __init__(self, x: float) -> None:
        self.x = x

    def __call__(self, t: int) -> float:
        return self.x


def test_lambda_state_saves_a_callable_objects_dict_as_pytorch() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = C.LambdaLR(make_opt(lrs=(0.1,)), _Scale(0.5))
        state = _save(sched.state_dict())
        assert state["lr_lambdas"] == [{"x": 0.5}]
        assert C.LambdaLR(make_opt(lrs=(0.1,)), lambda t: 1.0).state_dict()["lr_lambdas"] == [None]
        copy = C.LambdaLR(make_opt(lrs=(0.1,)), _Scale(-0.1))
    copy.load_state_dict(state)
    assert copy.lr_lambdas[0].x == 0.5
    assert copy.get_last_lr() == [0.05]


def _save(obj: object) -> object:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_reduce_lr_on_plateau_follows_add_param_group_as_pytorch() -> None:
    opts = make_opt(), make_opt()
    scheds = (
        L.ReduceLROnPlateau(opts[0], patience=0, factor=0.5),
        C.ReduceLROnPlateau(opts[1], patience=0, factor=0.5),
    )
    for opt, sched in zip(opts, scheds, strict=True):
        sched.step(1.0)
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.2})
        sched.step(2.0)
        sched.step(3.0)
    assert _read(opts[1], "lr") == _read(opts[0], "lr") == pytest.approx([0.025, 0.0075, 0.05])
    listed = C.ReduceLROnPlateau(make_opt(), patience=0, min_lr=[0.0, 0.0])
    listed.optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.2})
    listed.step(1.0)
    with pytest.raises(RuntimeError, match="The number of param groups"):
        listed.step(2.0)


@pytest.mark.parametrize("mode", ["min", "max"])
def test_reduce_lr_on_plateau_after_infinite_and_nan_metrics_matches_pytorch(mode: str) -> None:
    metrics = [1.0, math.nan, math.nan, math.inf, -math.inf, 0.5, 2.0, math.nan, 3.0, 1.0]
    opt, opt2 = make_opt(), make_opt()
    ref = L.ReduceLROnPlateau(opt, mode=mode, patience=1, factor=0.5)
    ours = C.ReduceLROnPlateau(opt2, mode=mode, patience=1, factor=0.5)
    for m in metrics:
        ref.step(m)
        ours.step(m)
        assert _read(opt2, "lr") == _read(opt, "lr")
        assert (ours.best, ours.num_bad_epochs) == pytest.approx(
            (ref.best, ref.num_bad_epochs), nan_ok=True
        )


@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_cyclic_lr_with_a_custom_scale_fn_matches_pytorch(scale_mode: str) -> None:
    """A custom scale_fn is called at step time, as PyTorch's; its object state is saved."""
    kwargs = {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "scale_mode": scale_mode}
    opt, opt2 = make_opt(), make_opt()
    ref = L.CyclicLR(opt, scale_fn=_Scale(0.5), **kwargs)
    ours = C.CyclicLR(opt2, scale_fn=_Scale(0.5), **kwargs)
    assert not ours.has_text_form
    got = stepped(opt2, ours, 20, ("lr", "momentum"))
    want = stepped(opt, ref, 20, ("lr", "momentum"))
    for key in ("lr", "momentum"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12)
    state = _save(ours.state_dict())
    assert state["_scale_fn_custom"] == {"x": 0.5}
    fresh = C.CyclicLR(make_opt(), scale_fn=_Scale(0.9), **kwargs)
    fresh.load_state_dict(state)
    assert fresh._scale_fn_custom.x == 0.5 and fresh.last_epoch == 20

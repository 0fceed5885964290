"""Migration from PyTorch's own checkpoints: every ``lrkit.compat.torch`` drop-in loads the
``state_dict()`` of the PyTorch scheduler it replaces and continues as PyTorch would have.

Oracle: PyTorch's scheduler saved at step K (``torch.save``, then ``torch.load(weights_only=True)``)
and stepped on; the drop-in, built with the same arguments, loads that state and must give the
same next N values (lr, and momentum where cycled). Tolerance as in test_compat_torch.py.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.optim import lr_scheduler as L  # noqa: E402

from lrkit.compat import torch as C  # noqa: E402

K, N = 37, 150
LRS = (0.1, 0.03)
RTOL = 1e-12
ATOL = 4 * np.finfo(np.float64).eps * 0.3


def make_opt() -> Any:
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in LRS]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, LRS, strict=True)]
    return torch.optim.SGD(groups, lr=LRS[0], momentum=0.9)


def _lam(t: int) -> float:
    return 0.97**t + 0.01 * (t % 7)


def _mul(t: int) -> float:
    return 0.999 if t % 3 else 1.001


def _seq(m: Any, o: Any) -> Any:
    kids = [m.LinearLR(o, start_factor=0.1, total_iters=20), m.StepLR(o, step_size=15, gamma=0.5)]
    return m.SequentialLR(o, kids, milestones=[20])


def _chain(m: Any, o: Any) -> Any:
    return m.ChainedScheduler([m.StepLR(o, step_size=10, gamma=0.5), m.ExponentialLR(o, 0.99)])


# name -> builder(module, optimizer): the same call for torch.optim.lr_scheduler and the drop-in
BUILDERS: dict[str, Callable[[Any, Any], Any]] = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=13, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[10, 40, 40, 70], gamma=0.3),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=40),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.01, end_factor=0.5, total_iters=60),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.97),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=90, power=1.5),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=50, eta_min=0.001),
    "CosineAnnealingLR-eta0": lambda m, o: m.CosineAnnealingLR(o, T_max=50),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=10, T_mult=2, eta_min=0.001
    ),
    "CyclicLR": lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=15, mode="triangular2"
    ),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[0.1, 0.3], total_steps=K + N + 1),
    "LambdaLR": lambda m, o: m.LambdaLR(o, _lam),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, _mul),
    "SequentialLR": _seq,
    "ChainedScheduler": _chain,
}
MOMENTUM = ("CyclicLR", "OneCycleLR")


def _values(opt: Any) -> list[float]:
    return [float(v) for g in opt.param_groups for v in (g["lr"], g["momentum"])]


def _run(opt: Any, sched: Any, n: int, metrics: Any = None) -> np.ndarray:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n):
            out.append(_values(opt))
            opt.step()
            sched.step() if metrics is None else sched.step(metrics[i])
    return np.asarray(out)


def _save(obj: Any) -> Any:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("sched_first", [True, False], ids=["sched-then-opt", "opt-then-sched"])
@pytest.mark.parametrize("name", list(BUILDERS))
def test_dropin_continues_a_pytorch_checkpoint_as_pytorch(name: str, sched_first: bool) -> None:
    build = BUILDERS[name]
    opt = make_opt()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = build(L, opt)
    _run(opt, ref, K)
    ckpt = _save({"opt": opt.state_dict(), "sched": ref.state_dict()})
    expected = _run(opt, ref, N)

    opt2 = make_opt()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LambdaLR's "no text form" warning
        if sched_first:  # the usual resume code: build everything, then load
            ours = build(C, opt2)
            opt2.load_state_dict(ckpt["opt"])
        else:
            opt2.load_state_dict(ckpt["opt"])
            ours = build(C, opt2)
    ours.load_state_dict(ckpt["sched"])
    assert ours.last_epoch == K
    got = _run(opt2, ours, N)
    cols = slice(None) if name in MOMENTUM else slice(0, None, 2)  # lr (and momentum)
    np.testing.assert_allclose(got[:, cols], expected[:, cols], rtol=RTOL, atol=ATOL)

    # and from there on it is an lrkit checkpoint like any other
    if name not in ("LambdaLR", "MultiplicativeLR"):
        again = _save({"opt": opt2.state_dict(), "sched": ours.state_dict()})
        more = _run(opt2, ours, 20)
        opt3 = make_opt()
        fresh = build(C, opt3)
        opt3.load_state_dict(again["opt"])
        fresh.load_state_dict(again["sched"])
        np.testing.assert_array_equal(_run(opt3, fresh, 20), more)


@pytest.mark.parametrize("sched_first", [True, False], ids=["sched-then-opt", "opt-then-sched"])
def test_reduce_lr_on_plateau_continues_a_pytorch_checkpoint(sched_first: bool) -> None:
    """PyTorch saves no count of reductions, only the lr: the drop-in recovers it."""
    kwargs = {"mode": "min", "factor": 0.5, "patience": 2, "cooldown": 1, "min_lr": [0.002, 0.0]}
    rng = np.random.default_rng(0)
    metric = np.concatenate([np.linspace(1, 0.5, 10), 0.5 + 0.01 * rng.standard_normal(K + N)])
    opt = make_opt()
    ref = L.ReduceLROnPlateau(opt, **kwargs)
    _run(opt, ref, K, metric[:K])
    assert float(opt.param_groups[0]["lr"]) < LRS[0]  # reductions happened before the save
    ckpt = _save({"opt": opt.state_dict(), "sched": ref.state_dict()})
    expected = _run(opt, ref, N, metric[K:])

    opt2 = make_opt()
    if sched_first:
        ours = C.ReduceLROnPlateau(opt2, **kwargs)
        opt2.load_state_dict(ckpt["opt"])
    else:
        opt2.load_state_dict(ckpt["opt"])
        ours = C.ReduceLROnPlateau(opt2, **kwargs)
    ours.load_state_dict(ckpt["sched"])
    saved = ckpt["sched"]
    assert ours.best == saved["best"] and ours.num_bad_epochs == saved["num_bad_epochs"]
    assert ours.cooldown_counter == saved["cooldown_counter"]
    got = _run(opt2, ours, N, metric[K:])
    np.testing.assert_array_equal(got[:, ::2], expected[:, ::2])
    if sched_first:  # the base lr is the initial one: the state keeps the text, counts reductions
        assert str(ours.schedules[0]["lr"]) == "constant(0.1)"
        assert ours.plateau is not None and ours.plateau.reductions > 0


def test_loading_a_pytorch_state_adopts_its_arguments() -> None:
    """As PyTorch's: the saved hyper-parameters replace the drop-in's own."""
    opt = make_opt()
    ref = L.StepLR(opt, step_size=5, gamma=0.5)
    _run(opt, ref, 12)
    ours = C.StepLR(make_opt(), step_size=30, gamma=0.1)
    ours.load_state_dict(ref.state_dict())
    assert (ours.step_size, ours.gamma, ours.last_epoch) == (5, 0.5, 12)
    assert ours.get_last_lr() == ref.get_last_lr()
    np.testing.assert_allclose(_run(ours.optimizer, ours, 20), _run(opt, ref, 20), rtol=RTOL)
    plateau = C.ReduceLROnPlateau(make_opt(), patience=3)
    plateau.load_state_dict(L.ReduceLROnPlateau(make_opt(), patience=5).state_dict())
    assert plateau.patience == 5


def test_a_fractional_epoch_is_rejected() -> None:
    opt = make_opt()
    ref = L.CosineAnnealingWarmRestarts(opt, T_0=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.step(2.5)
    state = ref.state_dict()
    state["last_epoch"] = 2.5
    with pytest.raises(ValueError, match=r"last_epoch=2\.5"):
        C.CosineAnnealingWarmRestarts(make_opt(), T_0=10).load_state_dict(state)

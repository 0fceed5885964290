"""Oracle tests: lrkit.compat.transformers against Hugging Face's own schedulers.

Hugging Face's value at step t is ``base_lr · lr_lambda(t)`` (a ``LambdaLR``), so the oracle is the
lambda itself, evaluated by transformers. Tolerance: ``rtol=1e-12`` plus ``atol = 4 ulp of the
peak``: near a cosine trough Hugging Face computes ``0.5·(1 + cos(x))`` with cancellation (its own
error there is ~1 ulp of the peak, up to 1.4e-11 relative; lrkit's sin² form is exact, see
test_compat_torch.py::test_lrkit_is_exact_near_cosine_trough).

Range: steps ``0 .. num_training_steps`` (``.. num_training_steps − 1`` for
cosine_warmup_with_min_lr, whose cosine ends one step early); after that Hugging Face's cosine
family climbs again (a cos of progress > 1) while lrkit holds its final value.
"""

from __future__ import annotations

import inspect
import io
import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers_opt = pytest.importorskip("transformers.optimization")

import lrkit  # noqa: E402
from lrkit.compat import transformers as H  # noqa: E402

RTOL = 1e-12
ULP = np.finfo(np.float64).eps


def make_opt(lrs: tuple[float, ...] = (0.1,)) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.AdamW(groups, lr=lrs[0])


def hf_lambda(name: str, warm, total, kwargs: dict, lr: float = 0.1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = transformers_opt.get_scheduler(
            name,
            make_opt((lr,)),
            num_warmup_steps=warm,
            num_training_steps=total,
            scheduler_specific_kwargs=dict(kwargs),
        )
    return s.lr_lambdas[0]


W, N = (0, 1, 10, 250), (1000, 3000)
CASES: list[tuple[str, int | None, int | None, dict]] = []
for w, n in itertools.product(W, N):
    CASES += [
        ("linear", w, n, {}),
        ("cosine", w, n, {}),
        ("cosine", w, n, {"num_cycles": 1.3}),
        ("cosine", w, n, {"num_cycles": 2.0}),
        ("cosine_with_restarts", w, n, {"num_cycles": 1}),
        ("cosine_with_restarts", w, n, {"num_cycles": 3}),
        ("cosine_with_restarts", w, n, {"num_cycles": 7}),
        ("polynomial", w, n, {}),
        ("polynomial", w, n, {"lr_end": 1e-4, "power": 2.0}),
        ("polynomial", w, n, {"lr_end": 0.0, "power": 0.5}),
        ("constant_with_warmup", w, n, {}),
        ("inverse_sqrt", w, n, {"timescale": 7}),
        ("cosine_with_min_lr", w, n, {"min_lr": 1e-3}),
        ("cosine_with_min_lr", w, n, {"min_lr_rate": 0.1, "num_cycles": 1.5}),
        ("cosine_warmup_with_min_lr", w, n, {"min_lr_rate": 0.05}),
        ("cosine_warmup_with_min_lr", w, n, {"min_lr": 1e-3, "warmup_lr_rate": 0.2}),
        ("warmup_stable_decay", w, n, {"num_decay_steps": 300}),
        (
            "warmup_stable_decay",
            w,
            n,
            {
                "num_decay_steps": 300,
                "warmup_type": "1-sqrt",
                "decay_type": "1-sqrt",
                "min_lr_ratio": 0.1,
            },
        ),
        (
            "warmup_stable_decay",
            w,
            n,
            {
                "num_decay_steps": 200,
                "warmup_type": "cosine",
                "decay_type": "linear",
                "min_lr_ratio": 0.05,
            },
        ),
        (
            "warmup_stable_decay",
            w,
            None,
            {
                "num_decay_steps": 200,
                "num_stable_steps": 400,
                "decay_type": "cosine",
                "num_cycles": 1.0,
            },
        ),
    ]
    if w:
        CASES.append(("inverse_sqrt", w, n, {}))
CASES += [("constant", None, None, {}), ("inverse_sqrt", 0, 1000, {})]


@pytest.mark.parametrize(
    ("name", "warm", "total", "kwargs"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_schedule_matches_hugging_face_lambda(name, warm, total, kwargs) -> None:
    """lrkit's schedule for a group of lr 0.1 equals 0.1 · HF's lr_lambda(t), vectorised."""
    lr = 0.1
    lam = hf_lambda(name, warm, total, kwargs, lr)
    end = (total or 2000) + (0 if name == "cosine_warmup_with_min_lr" else 1)
    t = np.arange(end)
    ref = np.array([lr * lam(int(k)) for k in t])
    s = H.schedule(name, lr=lr, num_warmup_steps=warm, num_training_steps=total, **kwargs)
    np.testing.assert_allclose(s(t), ref, rtol=RTOL, atol=4 * ULP * lr, err_msg=str(s))
    if "piecewise" not in str(s):
        assert lrkit.parse(str(s)) == s


def test_multiplier_form_is_relative_to_base_lr() -> None:
    s = H.schedule("linear", num_warmup_steps=2, num_training_steps=6)
    assert [s(t) for t in range(7)] == [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]


GET = [
    ("linear", 20, 800, None),
    ("cosine", 20, 800, {"num_cycles": 0.5}),
    ("cosine_with_restarts", 5, 800, {"num_cycles": 3}),
    ("polynomial", 5, 800, {"lr_end": 1e-4, "power": 3.0}),
    ("constant", None, None, None),
    ("constant_with_warmup", 30, None, None),
    ("inverse_sqrt", 30, None, None),
    ("cosine_with_min_lr", 10, 800, {"min_lr": 1e-4}),
    ("cosine_warmup_with_min_lr", 10, 800, {"min_lr_rate": 0.01}),
    ("warmup_stable_decay", 10, 800, {"num_decay_steps": 100, "min_lr_ratio": 0.1}),
]


@pytest.mark.parametrize(("name", "warm", "total", "kwargs"), GET, ids=[g[0] for g in GET])
def test_get_scheduler_steps_like_hugging_face(name, warm, total, kwargs) -> None:
    """get_scheduler on an optimizer with two groups (lrs 0.1, 0.02): the groups' lr after each
    step equals HF's scheduler; a weights_only state_dict round trip at step 300 continues."""
    n = (total or 800) - 1
    opt, opt2 = make_opt((0.1, 0.02)), make_opt((0.1, 0.02))
    ref = transformers_opt.get_scheduler(name, opt, warm, total, kwargs)
    ours = H.get_scheduler(name, opt2, warm, total, kwargs)
    assert isinstance(ours, lrkit.torch.Scheduler)
    for t in range(n):
        a = [g["lr"] for g in opt.param_groups]
        b = [g["lr"] for g in opt2.param_groups]
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=4 * ULP * 0.1, err_msg=f"step {t}")
        opt.step(), opt2.step()
        ref.step()
        ours.step()
        if t == 300:
            buf = io.BytesIO()
            torch.save(ours.state_dict(), buf)
            buf.seek(0)
            opt3 = make_opt((0.1, 0.02))
            ours = H.get_scheduler(name, opt3, warm, total, kwargs)
            ours.load_state_dict(torch.load(buf, weights_only=True))
            opt2 = opt3


def test_reduce_lr_on_plateau_by_name_steps_like_hugging_face() -> None:
    opt, opt2 = make_opt(), make_opt()
    kw = {"patience": 1, "factor": 0.5}
    ref = transformers_opt.get_scheduler("reduce_lr_on_plateau", opt, scheduler_specific_kwargs=kw)
    ours = H.get_scheduler("reduce_lr_on_plateau", opt2, scheduler_specific_kwargs=kw)
    for m in [1.0, 0.9, 0.9, 0.9, 0.95, 0.8, 0.8, 0.8, 0.8]:
        ref.step(m)
        ours.step(m)
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


# get_greedy_schedule (GreedyLR raises the lr on improvement: not a Plateau) and
# get_adafactor_schedule (Adafactor's own relative step) have no lrkit equivalent.
FUNCS = [
    n
    for n in dir(transformers_opt)
    if n.startswith("get_")
    and n.endswith(("schedule", "warmup", "lr_rate"))
    and n not in ("get_greedy_schedule", "get_adafactor_schedule")
]


@pytest.mark.parametrize("fname", FUNCS)
def test_every_hugging_face_function_has_a_dropin_with_its_signature(fname: str) -> None:
    ours = getattr(H, fname)
    theirs = getattr(transformers_opt, fname)
    assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters)


def test_every_scheduler_type_name_is_mapped() -> None:
    from transformers.trainer_utils import SchedulerType

    for member in SchedulerType:
        if member.value == "greedy":
            with pytest.raises(ValueError, match=r"greedy.*not supported"):
                H.schedule(member.value)
            continue
        assert member.value in H.NAMES
        kw = {"num_decay_steps": 10} if member.value == "warmup_stable_decay" else {}
        if member.value in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
            kw = {"min_lr_rate": 0.1}
        s = H.schedule(member, lr=0.1, num_warmup_steps=5, num_training_steps=100, **kw)
        assert isinstance(s, lrkit.Schedule)


def test_wrapped_functions_match_their_hugging_face_twins() -> None:
    opt, opt2 = make_opt(), make_opt()
    ref = transformers_opt.get_wsd_schedule(
        opt, 10, 50, num_training_steps=300, decay_type="1-sqrt"
    )
    ours = H.get_wsd_schedule(opt2, 10, 50, num_training_steps=300, decay_type="1-sqrt")
    for _ in range(300):
        assert opt2.param_groups[0]["lr"] == pytest.approx(
            opt.param_groups[0]["lr"], rel=RTOL, abs=1e-17
        )
        opt.step(), opt2.step()
        ref.step()
        ours.step()


def test_errors_name_function_and_argument() -> None:
    with pytest.raises(ValueError, match="requires `num_training_steps`"):
        H.schedule("cosine", num_warmup_steps=10)
    with pytest.raises(ValueError, match="requires `num_warmup_steps`"):
        H.schedule("linear", num_training_steps=10)
    with pytest.raises(ValueError, match="min_lr or min_lr_rate"):
        H.schedule("cosine_with_min_lr", num_warmup_steps=1, num_training_steps=10)
    with pytest.raises(ValueError, match="name must be one of"):
        H.schedule("cosin")


def test_module_imports_neither_transformers_nor_torch() -> None:
    code = (
        "import sys, lrkit.compat.transformers as H; "
        "H.schedule('linear', num_warmup_steps=1, num_training_steps=10); "
        "assert 'transformers' not in sys.modules and 'torch' not in sys.modules, "
        "[m for m in sys.modules if m.startswith(('torch', 'transformers'))][:3]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

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


def _scheduler_type_kwargs(name: str) -> dict:
    if name == "warmup_stable_decay":
        return {"num_decay_steps": 10}
    if name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        return {"min_lr_rate": 0.1}
    if name == "greedy":
        return {"patience": 2}
    return {}


def test_get_scheduler_takes_every_scheduler_type_name_as_hugging_face() -> None:
    from transformers.trainer_utils import SchedulerType

    for member in SchedulerType:
        kw = _scheduler_type_kwargs(member.value)
        ours = H.get_scheduler(member, make_opt((0.1, 0.3)), 5, 100, kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = transformers_opt.get_scheduler(member, make_opt((0.1, 0.3)), 5, 100, kw)
        assert type(ours).__name__ == type(theirs).__name__.replace("LambdaLR", "LambdaScheduler")
        assert hasattr(ours, "lr_lambdas") == hasattr(theirs, "lr_lambdas"), member
        if hasattr(theirs, "lr_lambdas"):
            assert ours.base_lrs == theirs.base_lrs == [0.1, 0.3]
            assert len(ours.lr_lambdas) == len(theirs.lr_lambdas) == 2
            for t in range(0, 100, 7):
                for mine, hf in zip(ours.lr_lambdas, theirs.lr_lambdas, strict=True):
                    assert mine(t) == pytest.approx(hf(t), rel=RTOL, abs=4 * ULP)


def test_greedy_scheduler_equals_hugging_face_greedy_lr() -> None:
    kw = {"patience": 2, "factor": 0.5, "min_lr": 0.01, "max_lr": 0.5, "cooldown": 1}
    kw |= {"warmup": 1, "smooth": True, "window_size": 3, "reset_start": 4}
    opt, opt2 = make_opt((0.1, 0.2)), make_opt((0.1, 0.2))
    theirs = transformers_opt.get_scheduler("greedy", opt, scheduler_specific_kwargs=kw)
    ours = H.get_scheduler("greedy", opt2, scheduler_specific_kwargs=kw)
    rng = np.random.default_rng(0)
    losses = np.concatenate([np.linspace(3, 1, 20), np.full(30, 1.0), rng.uniform(0, 2, 50)])
    for loss in losses:
        theirs.step(float(loss))
        ours.step(float(loss))
        assert ours.get_last_lr() == theirs.get_last_lr()
    assert ours.state_dict() == theirs.state_dict()
    fresh = H.get_greedy_schedule(make_opt((0.1, 0.2)), **kw)
    fresh.load_state_dict(theirs.state_dict())
    assert fresh.state_dict() == theirs.state_dict()


def test_replaced_lr_lambdas_drive_the_groups_as_in_lambda_lr() -> None:
    opt = make_opt((1.0,))
    sched = H.get_linear_schedule_with_warmup(opt, 2, 10)
    assert str(sched.lr_lambdas[0]) == "warmup(2) >> linear(start=1.0, steps=8)"
    original = sched.lr_lambdas[0]
    sched.lr_lambdas = [lambda t: original(t) * 0.5]  # wrapped, as code written for LambdaLR may
    lrs = []
    for _ in range(4):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.25, 0.5, 0.4375, 0.375])
    sched.lr_lambdas[0] = original  # item by item: followed too (back to closed form)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == 0.625
    assert sched.has_text_form
    sched.lr_lambdas = None
    with pytest.raises(lrkit.ScheduleError, match="lr_lambdas"):
        sched.step()


@pytest.mark.parametrize(
    ("call", "kind", "message"),
    [
        (lambda o: H.get_scheduler("nosuch", o), ValueError, "name must be one of"),
        (lambda o: H.get_scheduler(3, o), TypeError, "name"),
        (lambda o: H.get_scheduler("cosine", o, 10), ValueError, "requires `num_training_steps`"),
        (lambda o: H.get_scheduler("linear", o), ValueError, "requires `num_warmup_steps`"),
        (lambda o: H.get_scheduler("linear", o, 1, 10, [1]), TypeError, "scheduler_specific_kw"),
        (lambda o: H.get_scheduler("linear", object(), 1, 10), TypeError, "optimizer"),
        (lambda o: H.get_linear_schedule_with_warmup(o, 1, 10, last_epoch="x"), TypeError, "last"),
        (lambda o: H.get_linear_schedule_with_warmup(o, 1, 10, last_epoch=-5), ValueError, "last"),
        (lambda o: H.get_linear_schedule_with_warmup(o, -1, 10), ValueError, "num_warmup_steps"),
        (lambda o: H.get_cosine_schedule_with_warmup(o, 1, 10, num_cycles="x"), ValueError, "cyc"),
        (
            lambda o: H.get_polynomial_decay_schedule_with_warmup(o, 1, 10, lr_end=1),
            ValueError,
            "lr_end",
        ),
        (lambda o: H.get_cosine_with_min_lr_schedule_with_warmup(o, 1, 10), ValueError, "min_lr"),
        (
            lambda o: H.get_cosine_with_min_lr_schedule_with_warmup(
                o, 1, 10, min_lr=0, min_lr_rate=0
            ),
            ValueError,
            "min_lr",
        ),
        (lambda o: H.get_wsd_schedule(o, 1, 2), ValueError, "num_stable_steps"),
        (lambda o: H.get_wsd_schedule(o, 1, 2, 10, decay_type="exp"), ValueError, "decay_type"),
        (lambda o: H.get_greedy_schedule(o, factor=1.5), ValueError, "factor"),
        (lambda o: H.get_greedy_schedule(o, mode="up"), ValueError, "mode"),
        (lambda o: H.get_greedy_schedule(o, threshold_mode="x"), ValueError, "threshold_mode"),
        (lambda o: H.get_greedy_schedule(o, min_lr=[0.1, 0.2]), ValueError, "min_lr"),
        (lambda o: H.get_greedy_schedule(o, patience="3"), TypeError, "patience"),
        (lambda o: H.get_greedy_schedule(object()), TypeError, "optimizer"),
        (lambda o: H.get_reduce_on_plateau_schedule(o, mode="up"), ValueError, "mode"),
    ],
)
def test_misuse_raises_the_schedule_error_family_naming_hugging_face_parameters(
    call, kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind, match=message) as info:
        call(make_opt())
    assert isinstance(info.value, lrkit.ScheduleError)


HF_EDGES = [
    (
        "get_cosine_schedule_with_warmup",
        {"num_warmup_steps": 5, "num_training_steps": 20, "num_cycles": -0.5},
    ),
    (
        "get_cosine_schedule_with_warmup",
        {"num_warmup_steps": 5, "num_training_steps": 20, "num_cycles": -1.5},
    ),
    (
        "get_cosine_with_min_lr_schedule_with_warmup",
        {"num_warmup_steps": 5, "num_training_steps": 20, "min_lr_rate": 0.1, "num_cycles": -0.5},
    ),
    (
        "get_polynomial_decay_schedule_with_warmup",
        {"num_warmup_steps": 5, "num_training_steps": 20, "power": 0},
    ),
    (
        "get_polynomial_decay_schedule_with_warmup",
        {"num_warmup_steps": 5, "num_training_steps": 20, "power": float("inf")},
    ),
    ("get_linear_schedule_with_warmup", {"num_warmup_steps": 5, "num_training_steps": 3}),
    ("get_linear_schedule_with_warmup", {"num_warmup_steps": 40, "num_training_steps": 20}),
    ("get_linear_schedule_with_warmup", {"num_warmup_steps": 5, "num_training_steps": 5}),
    ("get_linear_schedule_with_warmup", {"num_warmup_steps": True, "num_training_steps": 20}),
    ("get_constant_schedule_with_warmup", {"num_warmup_steps": True}),
    (
        "get_cosine_schedule_with_warmup",
        {"num_warmup_steps": 5, "num_training_steps": 20, "num_cycles": True},
    ),
    (
        "get_cosine_with_hard_restarts_schedule_with_warmup",
        {"num_warmup_steps": True, "num_training_steps": 20, "num_cycles": True},
    ),
    (
        "get_polynomial_decay_schedule_with_warmup",
        {"num_warmup_steps": 5, "num_training_steps": 20, "power": True},
    ),
    ("get_inverse_sqrt_schedule", {"num_warmup_steps": True, "timescale": True}),
    (
        "get_cosine_with_min_lr_schedule_with_warmup",
        {"num_warmup_steps": 5, "num_training_steps": 20, "min_lr_rate": True},
    ),
    (
        "get_wsd_schedule",
        {
            "num_warmup_steps": True,
            "num_decay_steps": 10,
            "num_training_steps": 20,
            "min_lr_ratio": False,
        },
    ),
]


@pytest.mark.parametrize(("fname", "kwargs"), HF_EDGES, ids=repr)
def test_edge_arguments_hugging_face_takes_give_its_values(fname: str, kwargs: dict) -> None:
    """Bools as 0/1 and a warm-up at least as long as training (Hugging Face ramps lr·t/warm,
    then 0) give Hugging Face's lrs on steps 0 .. num_training_steps."""
    n = min(30, int(kwargs.get("num_training_steps", 29)) + 1)
    runs = []
    for module in (transformers_opt, H):
        opt = make_opt()
        sched = getattr(module, fname)(opt, **kwargs)
        lrs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(n):
                lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                sched.step()
        runs.append(lrs)
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12, atol=1e-17)

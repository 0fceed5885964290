"""Tests for the bench task protocol and the built-in tasks (lrkit.bench.tasks)."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lrkit.bench.tasks import (
    HPARAM_KEYS,
    TaskConfig,
    TaskSpec,
    Trainer,
    check_hparams,
    get_task,
    missing_requirements,
    task_names,
)

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

ALL_TASKS = task_names()
TASK_OPTIMIZERS = [(name, opt) for name in ALL_TASKS for opt in get_task(name).optimizers]


def default_hparams(name: str, optimizer: str | None = None) -> dict[str, float]:
    spec = get_task(name)
    return {"lr": spec.lr_for(optimizer or spec.optimizers[0]), "momentum": spec.momentum}


def run_losses(
    name: str, seed: int, steps: int, optimizer: str | None = None, evaluate_every: int = 0
) -> tuple[list[float], dict[str, float]]:
    spec = get_task(name)
    opt = optimizer or spec.optimizers[0]
    trainer = spec.make(TaskConfig(seed=seed, optimizer=opt))
    hp = default_hparams(name, opt)
    losses = []
    for t in range(steps):
        losses.append(trainer.train_step(hp))
        if evaluate_every and (t + 1) % evaluate_every == 0:
            trainer.evaluate()
    return losses, trainer.evaluate()


# --- registry ---------------------------------------------------------------------------------


def test_task_names_lists_the_four_builtin_tasks_sorted() -> None:
    assert task_names() == ["charlm", "digits-mlp", "digits-numpy", "synthetic-linear"]


@pytest.mark.parametrize("name", ALL_TASKS)
def test_builtin_spec_is_consistent(name: str) -> None:
    spec = get_task(name)
    assert spec.name == name
    assert spec.steps >= spec.eval_every >= 1
    assert missing_requirements(spec) == []
    assert spec.target_metric in ("val_loss", "val_accuracy")
    assert spec.higher_is_better == (spec.target_metric == "val_accuracy")
    for opt in spec.optimizers:
        assert spec.lr_for(opt) > 0


def test_listing_and_looking_up_tasks_imports_no_framework() -> None:
    code = (
        "import sys; from lrkit.bench.tasks import get_task, task_names\n"
        "[get_task(n) for n in task_names()]\n"
        "import lrkit.bench\n"
        "bad = [m for m in ('torch', 'sklearn', 'schedulefree') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- every task, every optimizer: one step and one evaluation ---------------------------------


@pytest.mark.parametrize(("name", "optimizer"), TASK_OPTIMIZERS)
def test_every_task_and_optimizer_steps_and_evaluates_finitely(name: str, optimizer: str) -> None:
    spec = get_task(name)
    trainer = spec.make(TaskConfig(seed=0, optimizer=optimizer))
    assert isinstance(trainer, Trainer)
    loss = trainer.train_step(default_hparams(name, optimizer))
    assert isinstance(loss, float) and math.isfinite(loss)
    metrics = trainer.evaluate()
    assert "val_loss" in metrics and spec.target_metric in metrics
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    if spec.higher_is_better:
        assert 0.0 <= metrics["val_accuracy"] <= 1.0


@pytest.mark.parametrize("name", ALL_TASKS)
def test_same_seed_gives_bit_identical_losses_and_other_seed_differs(name: str) -> None:
    a, ma = run_losses(name, seed=3, steps=6, evaluate_every=2)
    b, mb = run_losses(name, seed=3, steps=6, evaluate_every=2)
    c, _ = run_losses(name, seed=4, steps=6, evaluate_every=2)
    assert a == b and ma == mb
    assert a != c


@pytest.mark.parametrize(
    ("name", "optimizer"),
    [
        ("digits-mlp", "sgd"),
        ("digits-mlp", "sgd-schedulefree"),
        ("digits-mlp", "adamw-schedulefree"),
        ("digits-numpy", "sgd"),
        ("charlm", "adamw"),
    ],
)
def test_evaluate_does_not_change_the_training_trajectory(name: str, optimizer: str) -> None:
    with_eval, _ = run_losses(name, seed=1, steps=8, optimizer=optimizer, evaluate_every=1)
    without, _ = run_losses(name, seed=1, steps=8, optimizer=optimizer)
    assert with_eval == without


def test_schedulefree_evaluates_the_averaged_weights_not_the_training_ones() -> None:
    trainer = get_task("digits-mlp").make(TaskConfig(optimizer="sgd-schedulefree"))
    for _ in range(20):
        trainer.train_step({"lr": 1.0})
    opt = trainer.optimizer  # type: ignore[attr-defined]
    model = trainer.model  # type: ignore[attr-defined]
    x_val = torch.zeros(1, 64)
    with torch.no_grad():
        train_out = model(x_val).clone()
        opt.eval()
        eval_out = model(x_val).clone()
        opt.train()
    assert not torch.equal(train_out, eval_out)


@pytest.mark.parametrize("name", ALL_TASKS)
def test_tasks_leave_global_rng_state_untouched(name: str) -> None:
    torch_state = torch.get_rng_state().clone()
    np_state = np.random.get_state()[1].copy()
    run_losses(name, seed=0, steps=3)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)


def test_torch_tasks_set_threads_from_config() -> None:
    before = torch.get_num_threads()
    try:
        get_task("synthetic-linear").make(TaskConfig(threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# --- hparams ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("optimizer", "momentum_of"),
    [
        ("sgd", lambda g: g["momentum"]),
        ("adamw", lambda g: g["betas"][0]),
        ("sgd-schedulefree", lambda g: g["momentum"]),
        ("adamw-schedulefree", lambda g: g["betas"][0]),
    ],
)
def test_train_step_sets_lr_momentum_weight_decay_on_every_group(
    optimizer: str, momentum_of: object
) -> None:
    trainer = get_task("digits-mlp").make(TaskConfig(optimizer=optimizer))
    trainer.train_step({"lr": 0.0123, "momentum": 0.77, "weight_decay": 0.005})
    for group in trainer.optimizer.param_groups:  # type: ignore[attr-defined]
        assert group["lr"] == 0.0123
        assert momentum_of(group) == 0.77  # type: ignore[operator]
        assert group["weight_decay"] == 0.005


def test_numpy_trainer_keeps_hparams_until_changed() -> None:
    trainer = get_task("digits-numpy").make(TaskConfig())
    trainer.train_step({"lr": 0.01, "momentum": 0.5, "weight_decay": 1e-4})
    trainer.train_step({"lr": 0.02})
    assert trainer.hparams == {"lr": 0.02, "momentum": 0.5, "weight_decay": 1e-4}  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ALL_TASKS)
def test_unknown_hparam_is_a_value_error_naming_it(name: str) -> None:
    trainer = get_task(name).make(TaskConfig(optimizer=get_task(name).optimizers[0]))
    with pytest.raises(ValueError, match=r"unknown hparam 'beta1'.*lr, momentum, weight_decay"):
        trainer.train_step({"lr": 0.1, "beta1": 0.9})


@pytest.mark.parametrize(
    ("hparams", "exc", "pattern"),
    [
        ({"momentum": 1.0}, ValueError, r"'momentum' must be in \[0, 1\), got 1.0"),
        ({"lr": -0.1}, ValueError, r"'lr' must be >= 0, got -0.1"),
        ({"lr": float("nan")}, ValueError, r"'lr' must be a finite number"),
        ({"lr": "fast"}, TypeError, r"'lr' must be a real number, got 'fast'"),
        ({"weight_decay": True}, ValueError, r"'weight_decay' must be a finite number"),
    ],
)
def test_bad_hparam_values_are_rejected_with_clear_errors(
    hparams: dict[str, object], exc: type[Exception], pattern: str
) -> None:
    with pytest.raises(exc, match=pattern):
        check_hparams("digits-mlp", hparams)  # type: ignore[arg-type]
    assert HPARAM_KEYS == ("lr", "momentum", "weight_decay")


def test_schedulefree_rejects_zero_momentum() -> None:
    trainer = get_task("digits-mlp").make(TaskConfig(optimizer="sgd-schedulefree"))
    with pytest.raises(ValueError, match=r"'momentum' must be in \(0, 1\) for 'sgd-schedulefree'"):
        trainer.train_step({"lr": 0.1, "momentum": 0.0})


@pytest.mark.parametrize("name", ["synthetic-linear", "digits-mlp", "digits-numpy", "charlm"])
def test_divergence_returns_huge_or_non_finite_losses_instead_of_raising(name: str) -> None:
    spec = get_task(name)
    trainer = spec.make(TaskConfig(optimizer="sgd"))
    losses = [trainer.train_step({"lr": 1e12, "momentum": 0.9}) for _ in range(6)]
    assert all(isinstance(v, float) for v in losses)
    assert any(not math.isfinite(v) or v > 1e3 for v in losses)  # a linear model stays finite
    metrics = trainer.evaluate()
    assert "val_loss" in metrics


# --- learning -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["digits-mlp", "digits-numpy"])
def test_short_constant_lr_run_learns_digits_far_above_chance(name: str) -> None:
    trainer = get_task(name).make(TaskConfig(seed=0))
    before = trainer.evaluate()["val_accuracy"]
    for _ in range(150):
        trainer.train_step({"lr": 0.03, "momentum": 0.9})
    after = trainer.evaluate()
    assert before < 0.3
    assert after["val_accuracy"] > 0.85
    assert after["val_loss"] < 0.6


def test_synthetic_linear_constant_lr_run_gets_near_the_noise_ceiling() -> None:
    trainer = get_task("synthetic-linear").make(TaskConfig(seed=0))
    for _ in range(300):
        trainer.train_step({"lr": 0.02, "momentum": 0.9})
    assert trainer.evaluate()["val_accuracy"] > 0.8  # 10 % label noise: ceiling ~0.9


def test_charlm_val_loss_is_nats_per_char_starting_near_log_vocab() -> None:
    from lrkit.bench.tasks import charlm

    _, _, vocab = charlm.encoded()
    trainer = get_task("charlm").make(TaskConfig())
    m0 = trainer.evaluate()
    assert abs(m0["val_loss"] - math.log(vocab)) < 0.5
    assert m0["bits_per_char"] == pytest.approx(m0["val_loss"] / math.log(2))
    for _ in range(40):
        trainer.train_step({"lr": 1.0})
    assert trainer.evaluate()["val_loss"] < math.log(vocab) - 0.8


def test_charlm_text_is_deterministic_stdlib_source_split_by_position() -> None:
    from lrkit.bench.tasks import charlm

    text = charlm.load_text()
    assert text == charlm.load_text.__wrapped__()
    assert "def " in text and len(text) <= charlm.MAX_CHARS
    train, val, vocab = charlm.encoded()
    assert len(train) + len(val) == len(text)
    assert len(val) == len(text) - int(len(text) * 0.9)
    assert vocab == len(set(text))


# --- digits-numpy internals against oracles -----------------------------------------------------


def test_digits_numpy_gradients_match_finite_differences() -> None:
    from lrkit.bench.tasks import digits_numpy as dn

    rng = np.random.default_rng(0)
    params = dn.init_params(rng, (6, 5, 4, 3))
    x = rng.standard_normal((7, 6))
    y = rng.integers(0, 3, 7)
    _, grads = dn.loss_and_grads(params, x, y)
    eps = 1e-6
    for name, w in params.items():
        numeric = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            orig = w[i]
            w[i] = orig + eps
            up = dn.loss_and_grads(params, x, y)[0]
            w[i] = orig - eps
            down = dn.loss_and_grads(params, x, y)[0]
            w[i] = orig
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)


def test_digits_numpy_loss_and_gradients_equal_torch_autograd() -> None:
    from lrkit.bench.tasks import digits_numpy as dn

    rng = np.random.default_rng(1)
    params = dn.init_params(rng)
    x = rng.standard_normal((16, 64))
    y = rng.integers(0, 10, 16)
    loss, grads = dn.loss_and_grads(params, x, y)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(x)
    for i in (1, 2, 3):
        h = h @ tp[f"W{i}"] + tp[f"b{i}"]
        h = torch.relu(h) if i < 3 else h
    tloss = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    tloss.backward()
    assert loss == pytest.approx(float(tloss.detach()), rel=1e-12)
    for k, v in tp.items():
        np.testing.assert_allclose(grads[k], v.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_digits_numpy_update_equals_torch_sgd_with_momentum_and_weight_decay() -> None:
    from lrkit.bench.tasks import digits_numpy as dn

    trainer = get_task("digits-numpy").make(TaskConfig(seed=2))
    tp = [torch.tensor(v.copy(), requires_grad=True) for v in trainer.params.values()]  # type: ignore[attr-defined]
    sgd = torch.optim.SGD(tp, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=False)
    rng = np.random.default_rng(5)
    for lr in (0.1, 0.05, 0.2):
        x, y = rng.standard_normal((8, 64)), rng.integers(0, 10, 8)
        trainer._next_batch = lambda x=x, y=y: (x, y)  # type: ignore[attr-defined]
        _, grads = dn.loss_and_grads(trainer.params, x, y)  # type: ignore[attr-defined]
        for p, name in zip(tp, trainer.params, strict=True):  # type: ignore[attr-defined]
            p.grad = torch.tensor(grads[name])
        for group in sgd.param_groups:
            group["lr"] = lr
        sgd.step()
        trainer.train_step({"lr": lr, "momentum": 0.9, "weight_decay": 0.01})
    for p, w in zip(tp, trainer.params.values(), strict=True):  # type: ignore[attr-defined]
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12, atol=1e-15)


# --- config / spec validation -------------------------------------------------------------------


def test_unsupported_optimizer_is_a_value_error_listing_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"digits-numpy: optimizer 'adamw' is not supported; "):
        get_task("digits-numpy").make(TaskConfig(optimizer="adamw"))
    with pytest.raises(ValueError, match=r"allowed: sgd, adamw, sgd-schedulefree"):
        get_task("digits-mlp").make(TaskConfig(optimizer="lion"))


def test_missing_schedulefree_gives_an_import_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "schedulefree", None)
    with pytest.raises(ImportError, match="schedulefree"):
        get_task("digits-mlp").make(TaskConfig(optimizer="adamw-schedulefree"))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"seed": -1}, "seed must be an int"),
        ({"seed": 1.5}, "seed must be an int"),
        ({"optimizer": ""}, "optimizer must be a non-empty str"),
        ({"batch_size": 0}, "batch_size must be None or an int >= 1"),
        ({"threads": 0}, "threads must be an int >= 1"),
    ],
)
def test_task_config_rejects_bad_values(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        TaskConfig(**kwargs)  # type: ignore[arg-type]


def test_batch_size_from_config_is_used() -> None:
    trainer = get_task("digits-numpy").make(TaskConfig(batch_size=10))
    assert trainer._next_batch()[0].shape == (10, 64)  # type: ignore[attr-defined]


def _spec_kwargs() -> dict[str, object]:
    return dict(
        name="t",
        description="d",
        steps=10,
        lr=0.1,
        momentum=0.9,
        eval_every=5,
        target_metric="val_loss",
        target_value=0.5,
        higher_is_better=False,
        optimizers=("sgd",),
        requires=(),
        make=lambda config: None,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("steps", 0),
        ("lr", 0.0),
        ("momentum", 1.0),
        ("eval_every", 0),
        ("optimizers", ()),
        ("optimizers", ["sgd"]),
        ("requires", "torch"),
        ("make", 3),
        ("higher_is_better", 1),
        ("optimizer_lrs", (("adamw", 0.1),)),
    ],
)
def test_task_spec_rejects_bad_fields_naming_them(field: str, value: object) -> None:
    kwargs = _spec_kwargs() | {field: value}
    with pytest.raises(ValueError, match=rf"TaskSpec\('t'\): {field} must be"):
        TaskSpec(**kwargs)  # type: ignore[arg-type]


# --- user tasks ---------------------------------------------------------------------------------

USER_MODULE = '''
from lrkit.bench.tasks import TaskConfig, TaskSpec, check_hparams


class Quadratic:
    """Minimise (w - 3)^2 by gradient descent."""

    def __init__(self, config: TaskConfig) -> None:
        self.w = float(config.seed)

    def train_step(self, hparams):
        hp = check_hparams("quadratic", hparams)
        loss = (self.w - 3.0) ** 2
        self.w -= hp.get("lr", 0.1) * 2.0 * (self.w - 3.0)
        return loss

    def evaluate(self):
        return {"val_loss": (self.w - 3.0) ** 2}


def make_task() -> TaskSpec:
    return TaskSpec(
        name="quadratic", description="toy", steps=20, lr=0.1, momentum=0.0, eval_every=5,
        target_metric="val_loss", target_value=1e-3, higher_is_better=False,
        optimizers=("gd",), requires=(), make=Quadratic,
    )


def not_a_spec():
    return 42


NOT_CALLABLE = 7
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pkg = tmp_path / "lrkit_user_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tasks_mod.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    for mod in ("lrkit_user_pkg", "lrkit_user_pkg.tasks_mod"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    return "lrkit_user_pkg.tasks_mod"


def test_user_task_loads_from_module_factory_path_and_trains(user_module: str) -> None:
    spec = get_task(f"{user_module}:make_task")
    assert spec.name == "quadratic"
    trainer = spec.make(TaskConfig(seed=0, optimizer="gd"))
    losses = [trainer.train_step({"lr": 0.4}) for _ in range(5)]
    assert losses[0] == 9.0 and losses[-1] < 1e-3
    assert trainer.evaluate()["val_loss"] < 1e-3


@pytest.mark.parametrize(
    "path", ["no-colon-or-name", "a.b:", ":factory", "a..b:f", "mod:1x", "mod:f:g", "a b:f"]
)
def test_malformed_task_path_is_a_value_error(path: str) -> None:
    with pytest.raises(ValueError, match=r"neither a built-in task .* 'package\.module:factory'"):
        get_task(path)


def test_unimportable_user_module_is_an_import_error_naming_it() -> None:
    with pytest.raises(ImportError, match=r"cannot import module 'lrkit_no_such_mod\.sub'"):
        get_task("lrkit_no_such_mod.sub:make_task")


def test_missing_factory_is_an_import_error_naming_module_and_attribute(user_module: str) -> None:
    with pytest.raises(ImportError, match=rf"module '{user_module}' has no attribute 'nope'"):
        get_task(f"{user_module}:nope")


def test_factory_not_returning_a_task_spec_is_a_type_error(user_module: str) -> None:
    with pytest.raises(TypeError, match=r"not_a_spec\(\) must return a .*TaskSpec, got int"):
        get_task(f"{user_module}:not_a_spec")
    with pytest.raises(TypeError, match=r"NOT_CALLABLE must be a callable"):
        get_task(f"{user_module}:NOT_CALLABLE")


def test_get_task_rejects_non_string() -> None:
    with pytest.raises(TypeError, match="get_task: name_or_path must be a str"):
        get_task(3)  # type: ignore[arg-type]

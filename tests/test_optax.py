"""lrkit schedules drive optax optimizers inside jitted training steps (lrkit.optax)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

import lrkit  # noqa: E402
import lrkit.optax as lo  # noqa: E402
from lrkit.plateau import Plateau  # noqa: E402

X = jnp.asarray(np.random.default_rng(0).normal(size=(32, 3)), dtype=jnp.float32)
Y = X @ jnp.asarray([1.0, -2.0, 0.5]) + 0.3


def loss_fn(params: dict[str, Any]) -> Any:
    return jnp.mean((X @ params["w"] + params["b"] - Y) ** 2)


def init_params() -> dict[str, Any]:
    return {"w": jnp.zeros(3, jnp.float32), "b": jnp.zeros((), jnp.float32)}


def make_step(tx: optax.GradientTransformation) -> Any:
    @jax.jit
    def step(params: Any, state: Any) -> tuple[Any, Any, Any, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss, (updates, grads)

    return step


def test_sgd_with_an_lrkit_schedule_applies_s_of_count_in_a_jitted_step() -> None:
    """``optax.sgd(learning_rate=s)``: each update is exactly ``-s(count) * grad``."""
    s = lrkit.warmup(5) >> lrkit.cosine(start=0.1, end=0.001, steps=15)
    tx = optax.sgd(learning_rate=s)
    params, state = init_params(), None
    state = tx.init(params)
    step = make_step(tx)
    losses = []
    for t in range(20):
        params, state, loss, (updates, grads) = step(params, state)
        np.testing.assert_allclose(updates["w"], -s(t) * grads["w"], rtol=1e-5, atol=1e-9)
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    assert step._cache_size() == 1  # traced once: no Python branching on the step


def test_adamw_accepts_an_lrkit_schedule_and_trains_under_jit() -> None:
    s = lrkit.one_cycle(0.1, steps=50)
    tx = optax.adamw(learning_rate=s, weight_decay=1e-4)
    params = init_params()
    state = tx.init(params)
    step = make_step(tx)
    first = float(loss_fn(params))
    for _ in range(50):
        params, state, _, _ = step(params, state)
    assert float(loss_fn(params)) < 0.1 * first


def test_a_0d_int32_count_returns_a_0d_jax_array() -> None:
    s = lrkit.cosine(start=0.1, steps=100)
    value = s(jnp.asarray(25, dtype=jnp.int32))
    assert isinstance(value, jax.Array) and value.shape == ()
    assert float(value) == pytest.approx(s(25), rel=1e-6)


def test_as_optax_binds_shares_and_fixes_the_dtype() -> None:
    lr = lo.as_optax("warmup('10%') >> cosine(start=0.1, steps='90%')", total_steps=200)
    assert str(lr) == "warmup(20) >> cosine(start=0.1, steps=180)"
    values = jax.jit(lr)(jnp.arange(0, 201, dtype=jnp.int32))
    assert values.dtype == jnp.float32
    np.testing.assert_allclose(values, lr.schedule(np.arange(0, 201)), rtol=1e-5, atol=1e-8)
    scalar = lr(3)
    assert isinstance(scalar, jax.Array) and scalar.shape == ()
    assert lo.as_optax(lrkit.constant(0.1), dtype=jnp.bfloat16)(0).dtype == jnp.bfloat16


def test_as_optax_rejects_unbound_shares_and_bad_total_steps() -> None:
    with pytest.raises(ValueError, match="total_steps"):
        lo.as_optax(lrkit.cosine(start=0.1, steps="50%"))
    with pytest.raises(ValueError, match="total_steps=0"):
        lo.as_optax(lrkit.cosine(start=0.1, steps=10), total_steps=0)
    with pytest.raises(TypeError, match="schedule"):
        lo.as_optax(0.1)  # type: ignore[arg-type]


def test_inject_hyperparams_schedules_lr_and_momentum_one_cycle() -> None:
    """One-cycle LR with the inverse momentum curve, as PyTorch's OneCycleLR does for SGD."""
    lr = lrkit.one_cycle(0.1, steps=30)
    momentum = lrkit.one_cycle_momentum(steps=30)
    tx = lo.inject_hyperparams(optax.sgd, learning_rate=lr, momentum=momentum, nesterov=True)
    params = init_params()
    state = tx.init(params)
    step = make_step(tx)
    for t in range(30):
        params, state, _, _ = step(params, state)
        current = lo.current_hyperparams(state)
        assert current["learning_rate"] == pytest.approx(lr(t), rel=1e-5)
        assert current["momentum"] == pytest.approx(momentum(t), rel=1e-5)
    assert step._cache_size() == 1


def test_inject_hyperparams_schedules_adam_b1_and_binds_shares() -> None:
    b1 = lrkit.linear(0.95, 0.85, steps="50%")
    tx = lo.inject_hyperparams(optax.adam, total_steps=20, learning_rate=0.01, b1=b1)
    state = tx.init(init_params())
    step = make_step(tx)
    params = init_params()
    for _ in range(12):
        params, state, _, _ = step(params, state)
    current = lo.current_hyperparams(state)
    assert current["b1"] == pytest.approx(0.85, rel=1e-6)  # step 11 is past the 10-step ramp
    assert current["learning_rate"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="inject_hyperparams"):
        lo.current_hyperparams(optax.sgd(0.1).init(init_params()))


def test_with_plateau_scales_updates_without_recompiling() -> None:
    plateau = Plateau(factor=0.5, patience=0)
    tx = lo.with_plateau(optax.sgd(learning_rate=lrkit.constant(0.1)))
    params = init_params()
    state = tx.init(params)
    step = make_step(tx)
    _, state, _, (updates, grads) = step(params, state)
    np.testing.assert_allclose(updates["w"], -0.1 * grads["w"], rtol=1e-6)
    plateau.report(1.0)
    assert plateau.report(2.0)  # a reduction: scale 0.5
    state = lo.apply_plateau(state, plateau)
    _, state, _, (updates, grads) = step(params, state)
    np.testing.assert_allclose(updates["w"], -0.05 * grads["w"], rtol=1e-6)
    assert step._cache_size() == 1
    with pytest.raises(ValueError, match="with_plateau"):
        lo.apply_plateau(optax.sgd(0.1).init(params), plateau)


@pytest.mark.parametrize(
    ("call", "kind", "message"),
    [
        (lambda: lo.as_optax("cosine(start=1.0, steps=10)", total_steps=0), ValueError, "total"),
        (lambda: lo.as_optax("cosine(start=1.0, steps='50%')"), ValueError, "share"),
        (lambda: lo.current_hyperparams(()), ValueError, "inject_hyperparams"),
        (lambda: lo.apply_plateau((), "plateau"), TypeError, "plateau"),
        (lambda: lo.apply_plateau((), Plateau()), ValueError, "with_plateau"),
    ],
)
def test_adapter_misuse_raises_the_schedule_error_family(
    call: Any, kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind, match=message) as info:
        call()
    assert isinstance(info.value, lrkit.ScheduleError)

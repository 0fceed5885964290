"""Every registered schedule traces under ``jax.jit`` and equals its numpy values (float32)."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

import lrkit  # noqa: E402

STEPS = np.arange(0, 301)


def example(name: str) -> lrkit.Schedule:
    """The registry's own example of ``name`` (the core's contract-test source)."""
    schedule = lrkit.parse(lrkit.registry.get(name).example)
    assert isinstance(schedule, lrkit.Schedule)
    return schedule


@pytest.mark.parametrize("name", lrkit.registry.names())
def test_jitted_schedule_equals_numpy_values_in_float32(name: str) -> None:
    schedule = example(name)
    expected = schedule(STEPS)  # numpy float64
    got = jax.jit(schedule)(jnp.asarray(STEPS, dtype=jnp.int32))
    assert isinstance(got, jax.Array)
    assert got.dtype == jnp.float32 and got.shape == STEPS.shape
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-7 * scale)


def test_optax_scalar_int32_count_gives_a_0d_jax_array_for_every_schedule() -> None:
    """optax calls a schedule with a 0-d int32 ``count``: the value is a 0-d jax array."""
    count = jnp.asarray(7, dtype=jnp.int32)
    for name in lrkit.registry.names():
        schedule = example(name)
        value = schedule(count)
        assert isinstance(value, jax.Array), name
        assert value.shape == (), name
        assert float(value) == pytest.approx(schedule(7), rel=1e-5), name

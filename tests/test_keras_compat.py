"""lrkit.compat.keras equals Keras 3's own schedule classes (float64) at every step."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before the first import of keras

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

# Keras' torch backend converts tensors with np.array(x, copy=False): numpy 2 warns, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import lrkit  # noqa: E402
from lrkit.compat import keras as compat  # noqa: E402
from lrkit.keras import Schedule  # noqa: E402

STEPS = np.arange(0, 3001)
schedules = keras.optimizers.schedules


@pytest.fixture(scope="module", autouse=True)
def float64() -> Iterator[None]:
    """Keras computes in its floatx: float64 for this module, restored afterwards."""
    old = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(old)


def keras_values(schedule: Any, steps: np.ndarray = STEPS, *, per_step: bool = False) -> np.ndarray:
    if per_step:  # ops.cond on the step: one scalar at a time
        out = np.array([float(schedule(int(t))) for t in steps])
    else:
        out = schedule(keras.ops.convert_to_tensor(steps))
        out = out.numpy() if hasattr(out, "numpy") else np.asarray(out)
    return np.asarray(out)


def check(
    ours: Schedule,
    theirs: Any,
    steps: np.ndarray = STEPS,
    *,
    per_step: bool = False,
    float32: bool = False,
) -> None:
    """Equal values at ``steps``: float64 tolerance, float32 where Keras rounds through it."""
    assert isinstance(ours, keras.optimizers.schedules.LearningRateSchedule)
    expected = keras_values(theirs, steps, per_step=per_step)
    got = ours.schedule(steps)
    scale = float(np.max(np.abs(expected)))
    # Keras computes in floatx (float64 here) except where its ops promote to float32
    # (ops.floor in staircase mode, m_mul in CosineDecayRestarts).
    rtol = 4e-6 if float32 or expected.dtype != np.float64 else 1e-12
    atol = rtol * 1e-2 * scale
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=str(ours))
    assert lrkit.parse(str(ours)) == ours.schedule
    # The Keras-facing value (floatx) through __call__, at a few steps.
    for i in (0, len(steps) // 2, len(steps) - 1):
        value = float(ours(int(steps[i])))
        assert value == pytest.approx(expected[i], rel=rtol, abs=atol)


GRID: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("ExponentialDecay", (0.1, 100, 0.96), {}),
    ("ExponentialDecay", (0.1, 100, 0.5), {"staircase": True}),
    ("ExponentialDecay", (1e-3, 7, 0.99), {}),
    ("PolynomialDecay", (0.1, 1000), {}),
    ("PolynomialDecay", (0.1, 1000, 0.01, 0.5), {}),
    ("PolynomialDecay", (0.1, 777, 0.0, 2.0), {}),
    ("InverseTimeDecay", (0.1, 1.0, 0.5), {}),
    ("InverseTimeDecay", (0.1, 100, 0.5), {"staircase": True}),
    ("CosineDecay", (0.1, 1000), {}),
    ("CosineDecay", (0.1, 1000, 0.1), {}),
    ("CosineDecay", (0.1, 500, 0.0), {"warmup_steps": 200}),  # no target: warm-up ignored
    ("CosineDecayRestarts", (0.1, 100), {}),
    ("CosineDecayRestarts", (0.1, 100, 1.0, 1.0, 0.1), {}),
    ("CosineDecayRestarts", (0.1, 100, 1.0, 0.7), {}),  # m_mul goes through float32
    ("CosineDecayRestarts", (0.1, 50, 1.5, 0.5), {}),
    ("CosineDecayRestarts", (1.0, 300, 2.0, 1.0, 0.05), {}),
    # alpha != 0 with m_mul != 1: Keras' floor alpha·lr0 is not scaled by m_mul^i (add).
    ("CosineDecayRestarts", (0.1, 100, 1.0, 0.7, 0.1), {}),
    ("CosineDecayRestarts", (0.1, 50, 1.5, 0.5, 0.2), {}),
    ("CosineDecayRestarts", (1.0, 300, 2.0, 0.9, 0.05), {}),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [pytest.param(n, a, k, id=f"{n}-{i}") for i, (n, a, k) in enumerate(GRID)],
)
def test_compat_schedule_matches_keras(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    ours = getattr(compat, name)(*args, **kwargs)
    theirs = getattr(schedules, name)(*args, **kwargs)
    check(ours, theirs, float32=name == "CosineDecayRestarts" and args[3:4] not in ((), (1.0,)))


@pytest.mark.parametrize(
    ("boundaries", "values"),
    [
        ([100, 1100], [1.0, 0.5, 0.1]),
        ([0, 10, 2000], [0.3, 0.2, 0.1, 0.05]),
        ([99.5, 1000.0], [1.0, 0.5, 0.1]),
    ],
)
def test_piecewise_constant_decay_matches_keras_around_boundaries(
    boundaries: list[float], values: list[float]
) -> None:
    """Keras keeps the earlier value *at* a boundary: compared at every step near each one."""
    near = [np.arange(max(0, int(b) - 3), int(b) + 4) for b in boundaries]
    steps = np.unique(np.concatenate([np.arange(0, 2501, 50), *near]))
    ours = compat.PiecewiseConstantDecay(boundaries, values)
    theirs = schedules.PiecewiseConstantDecay(boundaries, values)
    check(ours, theirs, steps, per_step=True)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((0.0, 500), {"warmup_target": 0.1, "warmup_steps": 100}),
        ((0.01, 400, 0.1), {"warmup_target": 0.2, "warmup_steps": 150}),
        ((0.01, 400, 0.1), {"warmup_target": 0.2, "warmup_steps": 0}),
    ],
)
def test_cosine_decay_with_warmup_matches_keras(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    steps = np.arange(0, 701)
    ours = compat.CosineDecay(*args, **kwargs)
    check(ours, schedules.CosineDecay(*args, **kwargs), steps, per_step=True)
    if kwargs["warmup_steps"]:
        assert str(ours).startswith(f"warmup({kwargs['warmup_steps']}")


@pytest.mark.parametrize(("decay_steps", "power"), [(100, 1.0), (64, 2.0), (1, 0.5)])
def test_polynomial_decay_cycle_matches_keras_up_to_total_steps(
    decay_steps: int, power: float
) -> None:
    args = (0.1, decay_steps, 0.001, power)
    steps = np.arange(0, 1001)
    ours = compat.PolynomialDecay(*args, cycle=True, total_steps=1000)
    check(ours, schedules.PolynomialDecay(*args, cycle=True), steps)


def test_cosine_decay_restarts_keeps_the_alpha_floor_unscaled_like_keras() -> None:
    """With m_mul != 1 only the cosine part shrinks: cycle i ends at alpha·lr0, not m^i·alpha·lr0."""
    ours = compat.CosineDecayRestarts(1.0, 10, t_mul=1.0, m_mul=0.5, alpha=0.2)
    assert str(ours) == "add(cosine(start=0.8, steps=10).repeat(decay=0.5), constant(0.2))"
    steps = np.arange(0, 101)
    check(ours, schedules.CosineDecayRestarts(1.0, 10, 1.0, 0.5, 0.2), steps, float32=True)
    assert float(ours.schedule(59.999)) == pytest.approx(0.2, abs=1e-6)  # the floor every cycle
    assert lrkit.from_dict(ours.schedule.to_dict()) == ours.schedule


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compat.CosineDecayRestarts(0.1, 100, t_mul=0.5), "mult"),
        (lambda: compat.CosineDecayRestarts(0.1, 100, m_mul=0.5, alpha=1.5), "alpha"),
        (lambda: compat.PiecewiseConstantDecay([10, 20], [1.0, 0.5]), "values"),
        (lambda: compat.PiecewiseConstantDecay([-3], [1.0, 0.5]), "boundaries"),
        (lambda: compat.ExponentialDecay(0.1, 0, 0.5), "every"),
        (lambda: compat.ExponentialDecay(-0.1, 10, 0.5), "start"),
    ],
)
def test_compat_bad_arguments_raise_value_error_naming_class(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "lrkit.compat.keras." in str(info.value)
    assert isinstance(info.value, lrkit.ScheduleError)


def test_polynomial_decay_cycle_without_total_steps_matches_keras() -> None:
    steps = np.arange(0, 2001)
    for args in ((0.1, 100, 0.001, 1.0), (0.1, 64, 0.001, 2.0), (0.05, 10, 0.2, 0.5)):
        ours = compat.PolynomialDecay(*args, cycle=True)
        expected = keras_values(schedules.PolynomialDecay(*args, cycle=True), steps)
        np.testing.assert_allclose(ours.schedule(steps), expected, rtol=1e-12)
        assert float(ours(1234)) == pytest.approx(expected[1234], rel=1e-12)


def test_cosine_decay_restarts_with_growing_restarts_matches_keras_then_holds() -> None:
    steps = np.arange(0, 3001)
    for args in ((0.05, 10, 3.0, 4.0, 0.1), (0.05, 10, 1.0, 1.5, 0.0)):
        ours = compat.CosineDecayRestarts(*args)
        expected = keras_values(schedules.CosineDecayRestarts(*args), steps)
        finite = np.isfinite(expected)  # Keras' growing peaks overflow float32 to inf
        np.testing.assert_allclose(ours.schedule(steps)[finite], expected[finite], rtol=4e-6)
    held = compat.CosineDecayRestarts(1.0, 1, t_mul=1.0, m_mul=10.0)
    assert np.isfinite(held.schedule(np.arange(0, 1000))).all()
    assert held.schedule(999) <= 1e300


def test_negative_steps_are_keras_values() -> None:
    cases = [
        compat.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001]),
        compat.ExponentialDecay(0.1, 10, 0.5),
        compat.PolynomialDecay(0.1, 10, 0.01, power=2.0),
        compat.InverseTimeDecay(0.1, 10, 0.5),
        compat.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=10),
        compat.CosineDecayRestarts(0.1, 10, m_mul=0.5),
    ]
    for ours in cases:
        theirs = getattr(schedules, ours.keras_class)(**ours.arguments)
        for step in (-999, -5, -1):
            expected = float(keras.ops.convert_to_numpy(theirs(step)))
            assert float(ours(step)) == pytest.approx(expected, rel=1e-12, nan_ok=True)
            assert ours.value(step) == pytest.approx(expected, rel=1e-12, nan_ok=True)


def test_drop_ins_serialize_with_keras_arguments() -> None:
    for ours in (
        compat.PolynomialDecay(0.1, 10, 0.01, cycle=True, name="p"),
        compat.CosineDecayRestarts(0.05, 10, t_mul=3.0, m_mul=4.0, alpha=0.1),
    ):
        config = ours.get_config()
        assert config["keras_class"] == ours.keras_class and "initial_learning_rate" in config
        back = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
        assert back.get_config() == config
        assert float(back(57)) == float(ours(57))


@pytest.mark.parametrize(
    ("call", "kind", "message"),
    [
        (lambda: compat.PolynomialDecay(0.1, 0, cycle=True), ValueError, "decay_steps"),
        (lambda: compat.PolynomialDecay(0.1, 10, cycle="yes"), TypeError, "cycle"),
        (lambda: compat.PiecewiseConstantDecay("10", [1.0]), TypeError, "boundaries"),
        (
            lambda: compat.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps="x"),
            ValueError,
            "warm",
        ),
        (lambda: compat.InverseTimeDecay("a", 10, 0.5), TypeError, "initial_learning_rate"),
        (lambda: compat.CosineDecayRestarts(0.1, 10, m_mul=0.5, alpha=1.5), ValueError, "alpha"),
        (lambda: compat.DropIn.from_config({"keras_class": "Nope"}), ValueError, "keras_class"),
        (lambda: compat.ExponentialDecay(0.1, 0, 0.5), ValueError, "decay_steps=0"),
        (lambda: compat.CosineDecay(-0.1, 10), ValueError, "initial_learning_rate=-0.1"),
        (lambda: compat.CosineDecayRestarts(0.1, -3), ValueError, "first_decay_steps=-3"),
        (lambda: compat.PolynomialDecay(0.1, 10, end_learning_rate=-1), ValueError, "end_learning"),
        (lambda: compat.InverseTimeDecay(0.1, "10", 0.5), TypeError, "decay_steps"),
    ],
)
def test_misuse_raises_the_schedule_error_family_naming_keras_parameters(
    call: Callable[[], object], kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind, match=message) as info:
        call()
    assert isinstance(info.value, lrkit.ScheduleError)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((0.1, 5, 0.0), {}),
        ((0.1, 5, 0.0), {"staircase": True}),
        ((0.1, 5, 1.5), {}),
        ((0.1, 5, 1.5), {"staircase": True}),
    ],
    ids=repr,
)
def test_exponential_decay_takes_a_zero_or_growing_rate_as_keras(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """decay_rate=0 (lr, then 0) and decay_rate > 1 (growing) give Keras' values."""
    steps = np.arange(0, 60)
    ours = compat.ExponentialDecay(*args, **kwargs)
    check(ours, schedules.ExponentialDecay(*args, **kwargs), steps)


@pytest.mark.parametrize("cycle", [False, True])
def test_polynomial_decay_with_power_zero_holds_the_initial_lr_as_keras(cycle: bool) -> None:
    steps = np.arange(0, 60)
    ours = compat.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=0.0, cycle=cycle)
    theirs = schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=0.0, cycle=cycle)
    check(ours, theirs, steps, per_step=cycle)

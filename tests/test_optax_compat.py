"""lrkit.compat.optax equals optax's own schedules (float64), and its values are lrkit text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import lrkit  # noqa: E402
from lrkit.compat import optax as compat  # noqa: E402

STEPS = np.arange(0, 2501)


@pytest.fixture(scope="module", autouse=True)
def x64() -> Iterator[None]:
    """Compare in float64: enable JAX's x64 mode for this module only."""
    old = bool(jax.config.read("jax_enable_x64"))
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


def optax_values(schedule: Callable[[Any], Any], *, scalar_only: bool = False) -> np.ndarray:
    """optax's values, eagerly on the whole array (jit may rewrite ``x / T`` as ``x * (1/T)``).

    ``piecewise_interpolate_schedule`` (and the one-cycles built on it) takes only a scalar
    ``count`` (an array silently gives wrong values): it is vmapped and jitted instead.
    """
    counts = jax.numpy.asarray(STEPS, dtype=jax.numpy.int64)
    if scalar_only:
        out = np.asarray(jax.jit(jax.vmap(schedule))(counts))
    else:
        out = np.broadcast_to(np.asarray(schedule(counts), dtype=np.float64), counts.shape)
    assert out.dtype == np.float64
    return out


def check(ours: lrkit.Schedule, theirs: Callable[[Any], Any], scalar_only: bool = False) -> None:
    expected = optax_values(theirs, scalar_only=scalar_only)
    got = ours(STEPS)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14 * scale, err_msg=str(ours))
    assert lrkit.parse(str(ours)) == ours  # a text-printable value
    assert lrkit.from_dict(ours.to_dict()) == ours


NAMES = [
    "constant_schedule",
    "linear_schedule",
    "polynomial_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "exponential_decay",
    "cosine_decay_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
]

GRID: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {
    "constant_schedule": [((0.1,), {}), ((0.0,), {})],
    "linear_schedule": [
        ((1.0, 0.01, 100), {}),
        ((0.0, 0.5, 1000), {"transition_begin": 250}),
        ((0.3, 0.3, 10, 5), {}),
        ((0.2, 0.1, 0), {}),  # transition_steps=0: init_value forever
        ((1e-3, 0.0, 2000, 499), {}),
    ],
    "polynomial_schedule": [
        ((1.0, 0.01, 2, 100), {}),
        ((1.0, 0.01, 2, 100), {"transition_begin": 5}),
        ((0.1, 0.0, 0.5, 999, 37), {}),
        ((0.01, 0.5, 3.0, 1500), {}),
        ((0.4, 0.1, 1.7, 0), {}),
    ],
    "piecewise_constant_schedule": [
        ((1.0, {100: 0.1, 200: 0.01}), {}),
        ((0.5, {0: 0.5, 300: 2.0, 1200: 0.25}), {}),
        ((0.5, {-10: 3.0, 7: 0.5}), {}),
        ((0.3, {}), {}),
        ((0.3, None), {}),
        ((0.3, {50: 0.0, 60: 5.0}), {}),
        ((2.0, {0: 0.5}), {}),
    ],
    "piecewise_interpolate_schedule": [
        (("linear", 1.0, {4: 0.1, 8: 0.01}), {}),
        (("cosine", 1.0, {400: 0.1, 1800: 0.01}), {}),
        (("cosine", 0.2, {0: 3.0, 100: 0.5}), {}),
        (("linear", 0.2, {-50: 3.0, 100: 0.5, 1000: 2.0}), {}),
        (("linear", 0.2, {-50: 3.0, -10: 2.0}), {}),
        (("cosine", 0.7, None), {}),
    ],
    "exponential_decay": [
        ((1.0, 100, 0.5), {}),
        ((1.0, 100, 0.5), {"staircase": True}),
        ((0.1, 30, 0.9), {"transition_begin": 200, "end_value": 0.01}),
        ((0.1, 30, 0.9), {"transition_begin": 200, "end_value": 0.01, "staircase": True}),
        ((0.01, 100, 1.01), {"end_value": 0.05}),
        ((0.01, 100, 1.5), {"end_value": 0.005}),  # clipped everywhere: min(I, E)
        ((0.01, 100, 0.5), {"end_value": 0.05}),  # clipped everywhere: max(I, E)
        ((0.01, 100, 1.0), {"end_value": 0.005}),
        ((0.01, 100, 1.0), {}),
        ((0.2, 0, 0.5), {}),
        ((0.2, 10, 0.0), {}),
        ((3e-4, 7, 0.97), {"transition_begin": 3}),
    ],
    "cosine_decay_schedule": [
        ((0.1, 1000), {}),
        ((0.1, 1000, 0.1), {}),
        ((1.0, 1), {}),
        ((0.5, 777, 0.5), {}),
        ((0.05, 300, 2.0), {}),  # alpha > 1: a rising cosine
        ((0.1, 1000, 0.0, 2.0), {}),  # exponent: lrkit's cosine power
        ((0.1, 800, 0.1, 0.5), {}),
        ((0.05, 300), {"alpha": 2.0, "exponent": 3.0}),  # a rising cosine with an exponent
        ((0.1, 500), {"exponent": 0.0}),  # exponent 0: init_value forever
    ],
    "warmup_constant_schedule": [
        ((0.0, 0.1, 100), {}),
        ((0.05, 0.1, 0), {}),  # optax quirk: init_value forever
        ((0.2, 0.1, 333), {}),
    ],
    "warmup_cosine_decay_schedule": [
        ((0.0, 1e-3, 100, 1000), {}),
        ((1e-4, 1e-3, 0, 500), {"end_value": 1e-5}),
        ((1e-4, 1e-3, 250, 2000), {"end_value": 1e-5}),
        ((0.0, 0.0, 10, 100), {"end_value": 0.5}),
        ((0.3, 0.1, 10, 1999), {"end_value": 0.2}),
        ((0.0, 1e-3, 100, 1000), {"exponent": 2.0}),
        ((1e-4, 1e-3, 250, 2000), {"end_value": 1e-5, "exponent": 0.7}),
    ],
    "warmup_exponential_decay_schedule": [
        ((0.0, 0.1, 100, 50, 0.9), {}),
        ((0.01, 0.1, 100, 50, 0.9), {"transition_begin": 30, "staircase": True}),
        ((0.01, 0.1, 0, 50, 0.9), {"end_value": 0.02}),
        ((0.0, 0.1, 40, 50, 0.9), {"end_value": 0.2}),  # clip above the peak
    ],
    "linear_onecycle_schedule": [
        ((1000, 0.1), {}),
        ((1000, 0.1, 0.25, 0.9, 10.0, 100.0), {}),
        ((7, 1.0), {}),
        ((2000, 0.01, 0.5, 0.5), {}),  # colliding phase ends: optax's dict keeps the last
    ],
    "cosine_onecycle_schedule": [
        ((1000, 0.1), {}),
        ((333, 1.0, 0.5, 5.0, 1e3), {}),
        ((3, 1.0, 0.1), {}),  # first phase rounds to 0 steps
        ((2400, 3e-3, 1.0), {}),  # peak at the end: key collision
    ],
}

CASES = [
    pytest.param(name, args, kwargs, id=f"{name}-{i}")
    for name in NAMES
    for i, (args, kwargs) in enumerate(GRID[name])
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CASES)
def test_compat_schedule_matches_optax(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    ours = getattr(compat, name)(*args, **kwargs)
    theirs = getattr(optax, name)(*args, **kwargs)
    check(ours, theirs, scalar_only="onecycle" in name or "interpolate" in name)


def test_warmup_cosine_prints_as_lrkit_text() -> None:
    s = compat.warmup_cosine_decay_schedule(0.0, 1e-3, warmup_steps=100, decay_steps=1000)
    assert str(s) == "warmup(100) >> cosine(start=0.001, steps=900)"


def test_sgdr_matches_optax_over_three_cycles() -> None:
    cycles = [
        {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 50, "decay_steps": 500},
        {"init_value": 0.01, "peak_value": 0.05, "warmup_steps": 0, "decay_steps": 700},
        {
            "init_value": 0.0,
            "peak_value": 0.02,
            "warmup_steps": 100,
            "decay_steps": 900,
            "end_value": 1e-4,
        },
    ]
    check(compat.sgdr_schedule(cycles), optax.sgdr_schedule(cycles))


def test_join_schedules_matches_optax_with_cut_padded_and_skipped_pieces() -> None:
    pieces = [
        ("constant_schedule", (0.1,)),  # endless: cut at its boundary
        ("linear_schedule", (0.1, 0.0, 100)),  # shorter than its slot: holds 0.0
        ("exponential_decay", (0.05, 40, 0.5)),  # endless: cut
        ("cosine_decay_schedule", (0.05, 500)),  # last: runs on
    ]
    bounds = [50, 400, 700]
    ours = compat.join_schedules([getattr(compat, n)(*a) for n, a in pieces], bounds)
    theirs = optax.join_schedules([getattr(optax, n)(*a) for n, a in pieces], bounds)
    check(ours, theirs)
    # A boundary at 0: the first piece never runs.
    ours = compat.join_schedules(
        [compat.constant_schedule(9.0), compat.constant_schedule(0.1)], [0]
    )
    theirs = optax.join_schedules([optax.constant_schedule(9.0), optax.constant_schedule(0.1)], [0])
    check(ours, theirs)


def test_join_schedules_truncates_pieces_longer_than_their_slot_like_optax() -> None:
    """Pieces that outlast their slot are cut there (``truncate``), as optax's join does."""
    pieces = [
        ("cosine_decay_schedule", (0.1, 500, 0.1, 2.0)),  # 500 steps in a 200-step slot
        ("polynomial_schedule", (0.08, 0.01, 2.0, 900, 30)),  # shifted, cut after 300 steps
        ("piecewise_interpolate_schedule", ("cosine", 0.05, {100: 0.5, 700: 0.1})),
        ("warmup_cosine_decay_schedule", (0.0, 0.05, 100, 1500)),  # cut inside the cosine
        ("exponential_decay", (0.05, 40, 0.5)),  # last: runs on
    ]
    bounds = [200, 500, 900, 1700]
    ours = compat.join_schedules([getattr(compat, n)(*a) for n, a in pieces], bounds)
    theirs = optax.join_schedules([getattr(optax, n)(*a) for n, a in pieces], bounds)
    check(ours, theirs, scalar_only=True)  # piecewise_interpolate needs a scalar count
    assert ".truncate(200)" in str(ours)


def test_join_schedules_truncates_an_endless_piece_without_steps() -> None:
    """An endless composition (here a ``repeat``) is cut at its boundary; values equal optax's."""
    restart = lrkit.cosine(0.1, 0.0, steps=100).repeat()
    ours = compat.join_schedules([restart, compat.constant_schedule(0.01)], [250])
    theirs = optax.join_schedules(
        [
            optax.join_schedules([optax.cosine_decay_schedule(0.1, 100)] * 3, [100, 200]),
            optax.constant_schedule(0.01),
        ],
        [250],
    )
    check(ours, theirs)
    assert str(ours) == "cosine(start=0.1, steps=100).repeat().truncate(250) >> constant(0.01)"


def test_sgdr_keeps_inner_warmups_and_round_trips() -> None:
    """Warm-ups inside a sequence are kept as warm-ups; the text parses back to an equal value."""
    cycle = {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 10, "decay_steps": 100}
    s = compat.sgdr_schedule([cycle, cycle])
    assert str(s).count("warmup(10)") == 2
    check(s, optax.sgdr_schedule([cycle, cycle]))


def test_compat_float32_values_match_optax_under_jit() -> None:
    """Without x64, a jitted lrkit compat schedule equals optax's within float32 rounding."""
    jax.config.update("jax_enable_x64", False)
    try:
        counts = jax.numpy.arange(0, 2001, dtype=jax.numpy.int32)
        ours = compat.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 2000, end_value=1e-5)
        theirs = optax.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 2000, end_value=1e-5)
        got = jax.jit(ours)(counts)
        assert got.dtype == jax.numpy.float32
        np.testing.assert_allclose(got, jax.vmap(theirs)(counts), rtol=2e-6, atol=1e-10)
    finally:
        jax.config.update("jax_enable_x64", True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compat.cosine_decay_schedule(0.1, 100, exponent=-1.0), "exponent"),
        (lambda: compat.warmup_cosine_decay_schedule(0, 0.1, 5, 100, exponent=-2), "exponent"),
        (lambda: compat.cosine_decay_schedule(0.1, 0), "decay_steps"),
        (lambda: compat.warmup_cosine_decay_schedule(0.0, 0.1, 100, 100), "decay_steps"),
        (lambda: compat.exponential_decay(0.1, 10, -0.5), "decay_rate"),
        (lambda: compat.piecewise_constant_schedule(0.1, {10: -1.0}), "non-negative"),
        (lambda: compat.piecewise_interpolate_schedule("cubic", 0.1, {}), "interpolate_type"),
        (lambda: compat.linear_onecycle_schedule(0, 0.1), "transition_steps"),
        (lambda: compat.join_schedules([compat.constant_schedule(0.1)], [10]), "boundaries"),
        (
            lambda: compat.join_schedules([compat.constant_schedule(0.1)] * 3, [20, 10]),
            "strictly increasing",
        ),
        (lambda: compat.sgdr_schedule([]), "cosine_kwargs"),
    ],
)
def test_compat_bad_arguments_raise_value_error_naming_function(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "lrkit.compat.optax." in str(info.value)
    assert isinstance(info.value, lrkit.ScheduleError)


# What optax accepts without an error: transition_steps <= 0, a negative transition_begin,
# values below zero (an Affine schedule: equal values, no text form).
ACCEPTED: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("constant_schedule", (-0.1,), {}),
    ("linear_schedule", (0.1, 0.0, 10), {"transition_begin": -1}),
    ("linear_schedule", (0.2, -0.3, 100), {"transition_begin": 20}),
    ("polynomial_schedule", (10.0, 20.0, 1, -1), {}),
    ("polynomial_schedule", (0.1, 0.0, 2, -5), {}),
    ("polynomial_schedule", (-1.0, 0.5, 2.0, 300), {}),
    ("piecewise_constant_schedule", (-0.1, {3: 2.0, 6: 0.5}), {}),
    ("piecewise_interpolate_schedule", ("cosine", -0.4, {100: 0.5, 900: 0.1}), {}),
    ("exponential_decay", (1.0, -1, 1.0), {}),
    ("exponential_decay", (1.0, 0, 0.5), {"staircase": True}),
    ("exponential_decay", (-0.5, 40, 0.9), {"transition_begin": -3}),
    ("exponential_decay", (-0.5, 40, 0.9), {"end_value": -0.2}),
    ("exponential_decay", (-0.5, 40, 0.9), {"end_value": 0.1}),
    ("exponential_decay", (-0.5, 40, 1.01), {"end_value": -2.0}),
    ("exponential_decay", (0.5, 40, 1.01), {"end_value": -2.0}),
    ("exponential_decay", (0.5, 40, 0.9), {"end_value": -2.0}),
    ("cosine_decay_schedule", (-0.1, 1000, 0.1), {}),
    ("cosine_decay_schedule", (0.1, 100), {"alpha": -2.0, "exponent": 2.0}),
    ("warmup_constant_schedule", (0.1, -0.2, 50), {}),
    ("warmup_constant_schedule", (0.1, 0.2, -5), {}),
    ("warmup_cosine_decay_schedule", (0.2, 1.21, 50, 100), {"end_value": -3.0, "exponent": 2}),
    ("warmup_cosine_decay_schedule", (-0.5, -1.0, 100, 1000), {"end_value": -0.1}),
    ("warmup_exponential_decay_schedule", (0.0, -0.1, 10, 100, 0.5), {}),
    ("linear_onecycle_schedule", (1000, -0.1), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), ACCEPTED)
def test_compat_accepts_what_optax_accepts_with_equal_values(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    ours = getattr(compat, name)(*args, **kwargs)
    theirs = getattr(optax, name)(*args, **kwargs)
    expected = optax_values(theirs, scalar_only="onecycle" in name or "interpolate" in name)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    np.testing.assert_allclose(ours(STEPS), expected, rtol=1e-12, atol=1e-14 * scale)
    np.testing.assert_allclose(jax.jit(ours)(STEPS), expected, rtol=1e-12, atol=1e-14 * scale)


def test_values_below_zero_are_an_affine_schedule_without_text_form() -> None:
    s = compat.linear_schedule(0.2, -0.3, 100)
    assert isinstance(s, compat.Affine)
    assert s(100) == pytest.approx(-0.3) and s.bounds() == pytest.approx((-0.3, 0.2))
    with pytest.raises(lrkit.ScheduleError, match="no lrkit text or dict form"):
        s.to_dict()
    joined = compat.join_schedules([s, compat.constant_schedule(-1.0)], [50])
    assert joined(49) == pytest.approx(s(49)) and joined(80) == -1.0


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("init", [1.0, -2.0])
def test_growing_exponential_decay_without_end_value_holds_at_1e300(
    init: float, staircase: bool
) -> None:
    ours = compat.exponential_decay(init, 2, 10.0, transition_begin=5, staircase=staircase)
    theirs = optax.exponential_decay(init, 2, 10.0, transition_begin=5, staircase=staircase)
    steps = np.arange(0, 700)
    expected = np.asarray(theirs(jax.numpy.asarray(steps)), dtype=np.float64)
    below = np.abs(expected) <= 1e300
    assert not below.all() and np.isinf(expected).any()  # optax overflows to inf
    got = ours(steps)
    np.testing.assert_allclose(got[below], expected[below], rtol=1e-12)
    assert np.all(np.abs(got[~below]) == 1e300) and np.all(np.sign(got) == np.sign(init))


@pytest.mark.parametrize("begin", [0, 5])
def test_polynomial_schedule_with_power_zero_holds_init_value_as_optax(begin: int) -> None:
    """optax's ``frac**0`` is 1 (``0**0`` too): init_value at every step."""
    kwargs = {"init_value": 0.1, "end_value": 0.01, "power": 0, "transition_steps": 10}
    kwargs["transition_begin"] = begin
    check(compat.polynomial_schedule(**kwargs), optax.polynomial_schedule(**kwargs))

"""Contract tests run over every registered schedule (the registry's examples)."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

import lrkit
from lrkit import registry


class _Examples(dict[str, lrkit.Schedule]):
    """The registry's example of each name, parsed on first use (so a leaf registered later, as
    tests/test_core_contributing.py does, is checked by the same tests)."""

    def __missing__(self, name: str) -> lrkit.Schedule:
        self[name] = lrkit.parse(registry.get(name).example)
        return self[name]


NAMES = registry.names()  # every registered schedule: a new leaf is picked up automatically
EXAMPLES = _Examples()
STEPS = np.arange(0, 400, dtype=np.float64)


def test_registry_covers_the_standard_schedule_families() -> None:
    wanted = {
        "step", "multistep", "exponential", "cyclic", "one_cycle", "one_cycle_momentum",
        "cosine", "repeat", "warmup", "polynomial", "wsd", "inverse_sqrt", "linear", "rex",
        "constant", "piecewise", "piecewise_constant", "mirror", "sequence",
    }  # fmt: skip
    assert wanted <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_values_are_finite_and_non_negative(name: str) -> None:
    values = EXAMPLES[name](STEPS)
    assert values.shape == STEPS.shape
    assert np.all(np.isfinite(values))
    assert np.all(values >= 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_array_evaluation_equals_scalar_evaluation(name: str) -> None:
    schedule = EXAMPLES[name]
    values = schedule(STEPS)
    scalars = np.array([schedule(int(t)) for t in STEPS])
    np.testing.assert_array_equal(values, scalars)
    assert isinstance(schedule(3), float)
    assert isinstance(schedule(np.int64(3)), float)


@pytest.mark.parametrize("name", NAMES)
def test_text_round_trip_is_exact(name: str) -> None:
    schedule = EXAMPLES[name]
    again = lrkit.parse(str(schedule))
    assert again == schedule
    assert hash(again) == hash(schedule)
    assert str(again) == str(schedule)
    np.testing.assert_array_equal(again(STEPS), schedule(STEPS))


@pytest.mark.parametrize("name", NAMES)
def test_dict_round_trip_through_json_is_exact(name: str) -> None:
    schedule = EXAMPLES[name]
    data = json.loads(json.dumps(schedule.to_dict()))
    assert lrkit.from_dict(data) == schedule


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip(name: str) -> None:
    schedule = EXAMPLES[name]
    assert pickle.loads(pickle.dumps(schedule)) == schedule


@pytest.mark.parametrize("name", NAMES)
def test_bounded_schedules_hold_their_last_value(name: str) -> None:
    schedule = EXAMPLES[name]
    if not schedule.bounded:
        assert schedule.duration is None
        return
    end = schedule.duration
    assert end is not None
    last = schedule(end)
    later = schedule(np.array([end, end + 1, end + 10, 10 * end + 7, 1e9]))
    np.testing.assert_array_equal(later, np.full(5, last))


@pytest.mark.parametrize("name", NAMES)
def test_negative_or_non_finite_steps_are_rejected(name: str) -> None:
    schedule = EXAMPLES[name]
    for bad in (-1, -0.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="step"):
            schedule(bad)
    with pytest.raises(ValueError, match="steps"):
        schedule(np.array([0.0, -1.0]))


@pytest.mark.parametrize("name", NAMES)
def test_huge_steps_stay_finite(name: str) -> None:
    values = EXAMPLES[name](np.array([1e6, 1e9, 1e15]))
    assert np.all(np.isfinite(values))


@pytest.mark.parametrize("name", NAMES)
def test_repr_is_parseable_text(name: str) -> None:
    schedule = EXAMPLES[name]
    assert repr(schedule) == f"lrkit.parse({str(schedule)!r})"


def test_every_entry_has_a_summary_line() -> None:
    for name in NAMES:
        entry = registry.get(name)
        assert entry.summary or entry.kind == "alias", name


@pytest.mark.parametrize("name", NAMES)
def test_torch_tensors_evaluate_in_torch_with_the_numpy_values(name: str) -> None:
    torch = pytest.importorskip("torch")
    schedule = EXAMPLES[name]
    values = schedule(torch.arange(400))
    assert isinstance(values, torch.Tensor)
    assert values.dtype == torch.float64 and values.shape == (400,)
    np.testing.assert_allclose(values.numpy(), schedule(STEPS), rtol=1e-13, atol=1e-300)
    floats = schedule(torch.arange(400, dtype=torch.float32))
    assert floats.dtype == torch.float32


@pytest.mark.parametrize("name", ["cosine", "one_cycle", "cyclic", "sequence", "repeat"])
def test_large_arrays_evaluated_in_chunks_equal_one_pass(name: str) -> None:
    schedule = EXAMPLES[name]
    steps = np.arange(200_003, dtype=np.float64).reshape(-1, 1) * 0.01
    chunked = schedule(steps)
    assert chunked.shape == steps.shape
    np.testing.assert_array_equal(chunked, schedule._eval(steps.reshape(-1), np).reshape(-1, 1))


@pytest.mark.parametrize("name", ["cosine", "one_cycle", "sequence", "step"])
def test_scalar_block_cache_keeps_values_equality_and_hash(name: str) -> None:
    schedule = EXAMPLES[name]
    fresh = lrkit.parse(str(schedule))
    steps = [0, 1, 255, 256, 257, 511, 3, 1000, 999, 10**6, 2**40 + 3]
    values = [schedule(t) for t in steps]  # fills and replaces the cached block
    np.testing.assert_array_equal(values, schedule(np.array(steps, dtype=np.float64)))
    assert schedule == fresh and hash(schedule) == hash(fresh)
    for t in (2.5, 300.25, 1e6 + 0.5):
        assert schedule(t) == schedule(np.array([t]))[0]


# the contract every registered schedule keeps, as functions of a registered name
CONTRACT = [
    test_values_are_finite_and_non_negative,
    test_array_evaluation_equals_scalar_evaluation,
    test_text_round_trip_is_exact,
    test_dict_round_trip_through_json_is_exact,
    test_pickle_round_trip,
    test_bounded_schedules_hold_their_last_value,
    test_negative_or_non_finite_steps_are_rejected,
    test_huge_steps_stay_finite,
    test_repr_is_parseable_text,
    test_torch_tensors_evaluate_in_torch_with_the_numpy_values,
]

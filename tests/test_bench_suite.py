"""The default suite: every entry parses, binds to any budget and has the promised shape."""

from __future__ import annotations

import numpy as np
import pytest

import lrkit
from lrkit.bench.driver import suite_for
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.planning.suite import (
    DEFAULT_SUITE,
    SuiteEntry,
    entry_from_mapping,
    parse_schedule_arg,
    resolve_optimizer,
)

FAMILIES = {
    "constant",
    "step-halving",
    "exponential",
    "polynomial",
    "cosine",
    "cosine-restarts",
    "triangular",
    "one-cycle",
    "one-cycle+momentum",
    "warmup-cosine",
    "wsd",
    "inverse-sqrt",
    "linear-to-zero",
    "rex",
    "plateau",
    "schedule-free",
}


def test_default_suite_covers_every_family() -> None:
    assert {e.name for e in DEFAULT_SUITE} == FAMILIES


@pytest.mark.parametrize("entry", DEFAULT_SUITE, ids=lambda e: e.name)
@pytest.mark.parametrize("steps", [20, 100, 1234])
def test_suite_entry_parses_binds_and_peaks_at_peak_lr(entry: SuiteEntry, steps: int) -> None:
    lr, mom = entry.build(0.3, steps)
    values = np.asarray(lr(np.arange(steps)), dtype=float)
    assert values.shape == (steps,) and np.all(np.isfinite(values))
    assert values.min() >= 0.0
    assert values.max() == pytest.approx(0.3, rel=0.05 if steps > 50 else 0.5)
    # text round trip of the unit shape (what the run key is built from)
    assert str(lrkit.parse(str(entry.unit_lr()))) == str(entry.unit_lr())
    if mom is not None:
        m = np.asarray(mom(np.arange(steps)), dtype=float)
        assert m.min() >= 0.8 and m.max() <= 0.95 + 1e-12


def test_decaying_entries_end_near_zero_and_warmups_start_at_zero() -> None:
    steps = 1000
    for name in ("cosine", "linear-to-zero", "rex", "polynomial", "warmup-cosine", "wsd"):
        lr, _ = next(e for e in DEFAULT_SUITE if e.name == name).build(1.0, steps)
        assert float(lr(steps - 1)) < 0.01, name
    for name in ("warmup-cosine", "wsd", "inverse-sqrt"):
        lr, _ = next(e for e in DEFAULT_SUITE if e.name == name).build(1.0, steps)
        assert float(lr(0)) == 0.0 and float(lr(50)) == pytest.approx(1.0), name
    lr, _ = next(e for e in DEFAULT_SUITE if e.name == "exponential").build(1.0, steps)
    assert float(lr(steps)) == pytest.approx(0.01, rel=1e-4)


def test_triangular_momentum_is_mirror_of_lr() -> None:
    entry = next(e for e in DEFAULT_SUITE if e.name == "triangular")
    lr, mom = entry.build(1.0, 800)
    t = np.arange(800)
    expected = 0.95 - 0.1 * (lr(t) - 0.25) / 0.75
    np.testing.assert_allclose(mom(t), expected, atol=1e-12)


def test_schedule_arg_and_config_table_make_entries() -> None:
    e = parse_schedule_arg(
        'late=constant(1.0, steps="50%") >> linear(start=1.0, end=0.0, steps="50%")'
    )
    assert e.name == "late" and e.build(0.2, 10)[0](9) == pytest.approx(0.2 * 0.2)
    t = entry_from_mapping({"name": "p", "lr": "constant(1.0)", "plateau": {"patience": 3}})
    plateau = t.make_plateau()
    assert (
        isinstance(plateau, lrkit.Plateau)
        and plateau.config() == lrkit.Plateau(patience=3).config()
    )
    assert plateau is not t.make_plateau()  # a fresh controller for each run
    assert SuiteEntry("q", "constant(1.0)").make_plateau() is None
    with pytest.raises(ValueError, match="unknown plateau option"):
        SuiteEntry("x", "constant(1.0)", plateau={"patients": 3})
    with pytest.raises(ValueError, match="NAME=TEXT"):
        parse_schedule_arg("cosine(start=1.0)")
    with pytest.raises(ValueError, match="cannot parse schedule text"):
        SuiteEntry("bad", "cosine(start=").build(0.1, 10)


def test_user_schedule_replaces_same_name_and_only_filters() -> None:
    mine = SuiteEntry("cosine", 'cosine(start=1.0, end=0.1, steps="100%")')
    cfg = BenchConfig(schedules=(mine,), only=("constant", "cosine"))
    entries = suite_for(cfg)
    assert [e.name for e in entries] == ["constant", "cosine"] and entries[1] is mine
    with pytest.raises(ValueError, match="unknown schedule name"):
        suite_for(BenchConfig(only=("nope",)))


def test_schedulefree_override_resolves_to_task_family() -> None:
    sf = next(e for e in DEFAULT_SUITE if e.name == "schedule-free")
    assert resolve_optimizer(sf, "sgd", ("sgd", "sgd-schedulefree"))[0] == "sgd-schedulefree"
    assert resolve_optimizer(sf, "adamw", ("adamw", "adamw-schedulefree"))[0] == (
        "adamw-schedulefree"
    )
    opt, why = resolve_optimizer(sf, "sgd", ("sgd",))
    assert opt is None and "not supported" in why

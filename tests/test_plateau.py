"""lrkit.Plateau: PyTorch's ReduceLROnPlateau as the oracle, plus levels, NaN and state."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from _fuzz import examples
from lrkit.plateau import Plateau

# metric streams with plateaus: values from a small grid, so ties and near-ties are common
_metric = st.sampled_from([1.0, 0.999, 0.99995, 0.9, 0.5, 0.5001, 0.1, 2.0, 0.0, -0.3, 10.0])
_config = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["min", "max"]),
        "factor": st.sampled_from([0.1, 0.5, 0.3, 0.9, 0.99]),
        "patience": st.integers(0, 4),
        "threshold": st.sampled_from([0.0, 1e-4, 0.01, 0.2]),
        "threshold_mode": st.sampled_from(["rel", "abs"]),
        "cooldown": st.integers(0, 3),
        "min_lr": st.sampled_from([0.0, 1e-4, 0.02]),
        "eps": st.sampled_from([1e-8, 0.0, 1e-3, 0.05]),
    }
)


def _torch_lrs(
    config: dict[str, Any], bases: list[float], metrics: list[float]
) -> list[list[float]]:
    params = [torch.zeros(1, requires_grad=True) for _ in bases]
    opt = torch.optim.SGD([{"params": [p], "lr": b} for p, b in zip(params, bases, strict=True)])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **config)
    out = []
    for m in metrics:
        sched.step(m)
        out.append([g["lr"] for g in opt.param_groups])
    return out


@settings(max_examples=examples(100), deadline=None)
@given(
    config=_config,
    base=st.sampled_from([1.0, 0.1, 3e-4, 0.05, 1e-7]),
    metrics=st.lists(_metric, min_size=1, max_size=40),
)
def test_lr_sequence_matches_torch_reduce_lr_on_plateau(
    config: dict[str, Any], base: float, metrics: list[float]
) -> None:
    expected = [row[0] for row in _torch_lrs(config, [base], metrics)]
    p = Plateau(**config)
    got = []
    for m in metrics:
        p.report(m)
        got.append(p.apply(base))
    assert got == expected  # exact: same multiplications in the same order


@settings(max_examples=examples(60), deadline=None)
@given(
    config=_config,
    metrics=st.lists(_metric, min_size=1, max_size=30),
    floors=st.lists(st.sampled_from([0.0, 1e-3, 0.01]), min_size=3, max_size=3),
)
def test_per_group_min_lr_matches_torch(
    config: dict[str, Any], metrics: list[float], floors: list[float]
) -> None:
    bases = [0.1, 0.02, 1.0]
    config = {**config, "min_lr": floors}
    expected = _torch_lrs(config, bases, metrics)
    p = Plateau(**config)
    for m, row in zip(metrics, expected, strict=True):
        p.report(m)
        assert [p.apply(b, group=g) for g, b in enumerate(bases)] == row
        arr = [float(p.apply_array([b], group=g)[0]) for g, b in enumerate(bases)]
        assert arr == row


def test_reduced_flag_and_scale_count_reductions() -> None:
    p = Plateau(factor=0.5, patience=1)
    flags = [p.report(m) for m in (1.0, 1.0, 1.0, 0.5, 0.6, 0.6)]
    assert flags == [False, False, True, False, False, True]
    assert p.reductions == 2 and p.scale == 0.25 and p.apply(0.1) == 0.1 * 0.5 * 0.5


def test_min_lr_clamps_and_eps_stops_tiny_updates() -> None:
    p = Plateau(factor=0.1, patience=0, min_lr=0.02)
    p.reductions = 3
    assert p.apply(1.0) == 0.02  # 1 -> 0.1 -> max(0.01, 0.02) -> stays at 0.02
    assert p.apply(0.005) == 0.005  # already below min_lr: never raised to it
    q = Plateau(factor=0.5, patience=0, eps=0.1)
    q.reductions = 5
    assert q.apply(1.0) == 0.125  # 1 -> .5 -> .25 -> .125; next change .0625 <= eps: dropped


def test_apply_array_equals_apply_elementwise() -> None:
    p = Plateau(factor=0.3, patience=0, min_lr=1e-3, eps=1e-4)
    p.reductions = 4
    values = np.geomspace(1e-5, 10.0, 257)
    assert p.apply_array(values).tolist() == [p.apply(float(v)) for v in values]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_metric_counts_as_no_improvement_and_never_becomes_best(bad: float) -> None:
    p = Plateau(mode="min", patience=1)
    p.report(1.0)
    assert p.report(bad) is False and p.num_bad_epochs == 1 and p.best == 1.0
    assert p.report(bad) is True and p.best == 1.0  # second bad evaluation > patience
    assert p.report(0.5) is False and p.best == 0.5  # later improvement still recognised


def test_on_nan_raise_and_skip() -> None:
    p = Plateau(on_nan="raise")
    with pytest.raises(ValueError, match="not finite"):
        p.report(float("nan"))
    q = Plateau(patience=0, on_nan="skip")
    q.report(1.0)
    assert q.report(float("nan")) is False and q.num_bad_epochs == 0 and q.evaluations == 1


def test_nan_without_on_nan_matches_torch_for_nan() -> None:
    metrics = [1.0, math.nan, 0.5, math.nan, math.nan, 0.7]
    config = {"patience": 1, "factor": 0.5}
    expected = [row[0] for row in _torch_lrs(config, [0.1], metrics)]
    p = Plateau(**config)  # type: ignore[arg-type]
    assert [(p.report(m), p.apply(0.1))[1] for m in metrics] == expected


def test_threshold_halving_halves_once_per_level_crossed() -> None:
    p = Plateau.threshold_halving([1.0, 0.5, 0.25])
    flags = [p.report(m) for m in (1.2, 0.9, 0.8, 0.95, 0.2, 0.1)]
    assert flags == [False, True, False, False, True, False]
    assert p.reductions == 3 and p.apply(0.1) == 0.1 * 0.5 * 0.5 * 0.5
    q = Plateau.threshold_halving([0.5, 0.8], mode="max")
    assert [q.report(m) for m in (0.4, 0.6, 0.9)] == [False, True, True]
    with pytest.raises(ValueError, match="strictly decreasing"):
        Plateau.threshold_halving([0.5, 1.0])


def test_threshold_halving_with_patience_adds_plateau_rule() -> None:
    p = Plateau.threshold_halving([0.5], patience=1)
    assert [p.report(m) for m in (1.0, 1.0, 1.0, 0.4)] == [False, False, True, True]
    assert p.reductions == 2


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"factor": 1.0}, ValueError, "factor=1.0"),
        ({"factor": 0.0}, ValueError, "factor=0.0"),
        ({"factor": "0.1"}, TypeError, "factor"),
        ({"patience": -1}, ValueError, "patience=-1"),
        ({"patience": 1.5}, TypeError, "patience=1.5"),
        ({"patience": True}, TypeError, "patience=True"),
        ({"mode": "avg"}, ValueError, "mode='avg'"),
        ({"threshold_mode": "pct"}, ValueError, "threshold_mode='pct'"),
        ({"threshold": -1e-3}, ValueError, "threshold"),
        ({"cooldown": -2}, ValueError, "cooldown=-2"),
        ({"min_lr": -0.1}, ValueError, "min_lr"),
        ({"min_lr": []}, ValueError, "min_lr"),
        ({"eps": -1.0}, ValueError, "eps"),
        ({"eps": math.nan}, ValueError, "eps"),
        ({"on_nan": "ignore"}, ValueError, "on_nan='ignore'"),
        ({"levels": "0.5"}, TypeError, "levels"),
        ({"patience": None}, ValueError, "patience"),
    ],
)
def test_invalid_arguments_are_rejected_at_construction(
    kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match) as info:
        Plateau(**kwargs)
    assert "Plateau" in str(info.value)


def test_apply_with_wrong_group_names_group() -> None:
    p = Plateau(min_lr=[0.0, 0.1])
    with pytest.raises(ValueError, match="group=2"):
        p.apply(1.0, group=2)


def _is_primitive(obj: object) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _is_primitive(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_is_primitive(v) for v in obj)
    return obj is None or isinstance(obj, (bool, int, float, str))


def test_state_dict_is_primitive_and_resumes_exactly() -> None:
    rng = np.random.default_rng(0)
    metrics = (1.0 + np.cumsum(rng.normal(0.0, 0.05, 200))).tolist()
    full = Plateau(factor=0.5, patience=2, cooldown=1, min_lr=1e-3)
    expected = [(full.report(m), full.apply(0.1))[1] for m in metrics]

    first = Plateau(factor=0.5, patience=2, cooldown=1, min_lr=1e-3)
    got = [(first.report(m), first.apply(0.1))[1] for m in metrics[:77]]
    state = first.state_dict()
    assert _is_primitive(state)
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    second = Plateau(factor=0.5, patience=2, cooldown=1, min_lr=1e-3)
    second.load_state_dict(loaded)
    got += [(second.report(m), second.apply(0.1))[1] for m in metrics[77:]]
    assert got == expected


def test_load_state_dict_with_other_config_needs_strict_false() -> None:
    saved = Plateau(factor=0.5, patience=0)
    saved.report(1.0)
    saved.report(2.0)
    other = Plateau(factor=0.1)
    with pytest.raises(ValueError, match="factor"):
        other.load_state_dict(saved.state_dict())
    other.load_state_dict(saved.state_dict(), strict=False)
    assert other.factor == 0.5 and other.reductions == 1 and other.apply(1.0) == 0.5
    assert Plateau.from_state_dict(saved.state_dict()).config() == saved.config()


def test_report_accepts_zero_dim_tensor_and_rejects_text() -> None:
    p = Plateau()
    p.report(torch.tensor(0.25))
    assert p.best == 0.25
    with pytest.raises(TypeError, match="metric"):
        p.report("low")

"""lrkit.finder.smoothing: the bias-corrected EMA (as fastai's AvgSmoothLoss) and the zero-lag
robust smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from _finder_curves import (
    fastai_smooth,
)
from lrkit.finder.smoothing import EMA, ema, robust_smooth


def test_ema_bias_correction_matches_fastai_avg_smooth_loss():
    rng = np.random.default_rng(0)
    losses = list(rng.uniform(1, 3, 50))
    np.testing.assert_allclose(ema(losses, 0.02), fastai_smooth(losses, 0.98), rtol=1e-12)
    # the first value is the first loss, not 5 % of it
    assert EMA(0.05).update(2.0) == pytest.approx(2.0, rel=1e-14)


def test_ema_formula_and_no_smoothing():
    e = EMA(0.25)
    a, b = e.update(1.0), e.update(5.0)
    assert a == 1.0
    assert b == pytest.approx((0.75 * 0.25 * 1.0 + 0.25 * 5.0) / (1 - 0.75**2))
    assert ema([3.0, 1.0, 2.0], 0.0).tolist() == [3.0, 1.0, 2.0]


def test_robust_smooth_has_no_lag():
    y = np.r_[np.ones(20), np.zeros(20)]
    z = robust_smooth(y, 5)
    assert z[18] > 0.5 > z[21]  # the step stays where it is (an EMA would move it right)

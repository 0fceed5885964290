"""Loss smoothing for the LR range test: the causal EMA used to stop the test, zero-lag filters
used by lrkit's own suggestion rule."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lrkit import _validate as check

__all__ = ["EMA", "centered_mean", "ema", "robust_smooth", "running_median"]

FloatArray = npt.NDArray[np.float64]


class EMA:
    """Bias-corrected exponential moving average of a stream of losses (fastai's ``AvgSmoothLoss``).

    With ``beta = 1 - smooth``: ``avg_t = beta * avg_{t-1} + smooth * loss_t`` (``avg_0 = 0``) and
    the reported value is ``avg_t / (1 - beta**t)``, so the first value equals the first loss
    instead of being biased towards 0 (the correction of Kingma & Ba's Adam). ``smooth = 0``
    disables smoothing (the value is the last loss), as in torch-lr-finder. fastai uses
    ``beta = 0.98`` (``smooth = 0.02``); torch-lr-finder ``smooth_f = 0.05`` without the correction.

    >>> e = EMA(0.5)
    >>> [e.update(x) for x in (4.0, 2.0)]
    [4.0, 2.6666666666666665]
    """

    __slots__ = ("_avg", "_beta", "_count", "_smooth")

    def __init__(self, smooth: float) -> None:
        smooth = check.number("EMA", "smooth", smooth, low=0.0, high=1.0, high_open=True)
        self._smooth = float(smooth)
        self._beta = 1.0 - float(smooth)
        self._avg = 0.0
        self._count = 0

    @property
    def count(self) -> int:
        """Number of values seen."""
        return self._count

    def update(self, value: float) -> float:
        """Add one loss and return the bias-corrected average."""
        self._count += 1
        if self._smooth == 0.0:
            self._avg = float(value)
            return self._avg
        self._avg = self._beta * self._avg + self._smooth * float(value)
        return self._avg / (1.0 - self._beta**self._count)


def ema(values: Sequence[float] | npt.ArrayLike, smooth: float) -> FloatArray:
    """Bias-corrected EMA of a whole curve (see :class:`EMA`).

    >>> ema([1.0, 3.0], 0.5).tolist()
    [1.0, 2.3333333333333335]
    """
    e = EMA(smooth)
    return np.asarray([e.update(float(v)) for v in np.asarray(values, dtype=np.float64)])


def running_median(values: npt.ArrayLike, width: int) -> FloatArray:
    """Centered running median over ``width`` points (odd), the window shrinking at the ends.

    Removes isolated spikes without moving the curve along the x axis.

    >>> running_median([1.0, 9.0, 1.0, 1.0, 1.0], 3).tolist()
    [5.0, 1.0, 1.0, 1.0, 1.0]
    """
    y = np.asarray(values, dtype=np.float64)
    h = max(int(width), 1) // 2
    n = y.size
    return np.asarray([np.median(y[max(0, i - h) : min(n, i + h + 1)]) for i in range(n)])


def centered_mean(values: npt.ArrayLike, width: int) -> FloatArray:
    """Centered running mean over ``width`` points (odd), the window shrinking at the ends.

    >>> centered_mean([0.0, 3.0, 6.0], 3).tolist()
    [1.5, 3.0, 4.5]
    """
    y = np.asarray(values, dtype=np.float64)
    h = max(int(width), 1) // 2
    n = y.size
    c = np.concatenate([[0.0], np.cumsum(y)])
    lo = np.maximum(np.arange(n) - h, 0)
    hi = np.minimum(np.arange(n) + h + 1, n)
    return np.asarray((c[hi] - c[lo]) / (hi - lo))


def robust_smooth(values: npt.ArrayLike, width: int | None = None) -> FloatArray:
    """Zero-lag robust smoothing: running median (kills spikes) then running mean (kills noise).

    ``width`` defaults to about 5 % of the curve length (odd, at least 5). Unlike the causal EMA,
    the smoothed curve is not shifted towards higher learning rates.

    >>> robust_smooth([1.0, 1.0, 50.0, 1.0, 1.0], 3).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    y = np.asarray(values, dtype=np.float64)
    if width is None:
        width = max(5, math.ceil(0.05 * y.size))
    width = int(width) | 1
    return centered_mean(running_median(y, width), width)

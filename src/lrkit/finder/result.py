"""The result of an LR range test: curves, suggestions, serialisation, plot and recommendation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from lrkit.finder import suggestions as _sugg
from lrkit.finder.suggestions import Suggestion

if TYPE_CHECKING:
    from lrkit import Schedule

__all__ = ["RangeTestResult", "StopReason"]

StopReason = Literal["completed", "diverged", "nonfinite", "running"]
_STOP_REASONS = ("completed", "diverged", "nonfinite", "running")
_FORMAT = "lrkit.range_test/1"


@dataclass(frozen=True)
class RangeTestResult:
    """Curves of an LR range test and the settings that produced them.

    ``lrs[i]`` is the LR of step ``i``, ``losses[i]`` its raw training loss and ``smoothed[i]``
    the bias-corrected EMA used for the divergence stop. A NaN/inf loss is never stored (the
    test stops before it). For a ``cycle`` test the first ``num_steps`` points are the rising
    half; suggestions only look at the rising part.

    >>> r = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1), losses=(2.0, 1.0, 3.0),
    ...                     smoothed=(2.0, 1.0, 3.0))
    >>> r.suggest("minimum")
    Suggestion(lr=0.001, index=1)
    >>> RangeTestResult.from_dict(r.to_dict()) == r
    True
    """

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    start: float = 1e-7
    end: float = 10.0
    num_steps: int = 100
    mode: str = "exp"
    smooth: float = 0.05
    diverge: float | None = 4.0
    cycle: bool = False
    stop_reason: StopReason = "completed"

    def __post_init__(self) -> None:
        n = len(self.lrs)
        if len(self.losses) != n or len(self.smoothed) != n:
            raise ValueError(
                "RangeTestResult: lrs, losses and smoothed must have the same length, got "
                f"{n}, {len(self.losses)}, {len(self.smoothed)}"
            )
        if self.stop_reason not in _STOP_REASONS:
            raise ValueError(
                f"RangeTestResult: stop_reason must be one of {_STOP_REASONS}, "
                f"got {self.stop_reason!r}"
            )
        for name in ("lrs", "losses", "smoothed"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))

    # -- curves ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.lrs)

    @property
    def rising(self) -> int:
        """Number of points on the rising part of the sweep (all of them unless ``cycle``)."""
        return min(len(self.lrs), self.num_steps) if self.cycle else len(self.lrs)

    def curve(
        self, kind: Literal["raw", "smoothed"] = "smoothed"
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(lrs, losses)`` of the rising part as arrays, raw or smoothed."""
        k = self.rising
        y = self.losses if kind == "raw" else self.smoothed
        return np.asarray(self.lrs[:k]), np.asarray(y[:k])

    # -- suggestions ----------------------------------------------------------------------
    def suggest(self, rule: str = "lrkit") -> Suggestion:
        """The suggestion of one registered rule (see :func:`lrkit.finder.suggestions.names`)."""
        r = _sugg.get(rule)
        if len(self.lrs) == 0:
            raise ValueError(
                f"RangeTestResult.suggest: the test recorded no finite loss "
                f"(stop_reason={self.stop_reason!r}); nothing to suggest"
            )
        x, y = self.curve(r.curve)
        return r.fn(x, y)

    def suggestions(self, rules: Iterable[str] | None = None) -> dict[str, Suggestion]:
        """Suggestions of several rules (default: every registered rule), by name."""
        return {name: self.suggest(name) for name in (_sugg.names() if rules is None else rules)}

    def bounds(self) -> tuple[Suggestion, Suggestion]:
        """Smith's cyclic bounds: where the loss starts to fall and where it stops falling."""
        if len(self.lrs) == 0:
            raise ValueError("RangeTestResult.bounds: the test recorded no finite loss")
        x, y = self.curve("raw")
        return _sugg.falling_range(x, y)

    def recommend(
        self,
        total_steps: int,
        policy: str = "one_cycle",
        *,
        rule: str = "lrkit",
        warmup: float = 0.05,
        cycles: int = 2,
    ) -> Schedule:
        """An lrkit schedule for ``total_steps`` of training built on this test.

        * ``"one_cycle"``: ``one_cycle(peak=lr, steps=total_steps)`` (PyTorch OneCycleLR defaults).
        * ``"wsd"``: ``wsd(peak=lr, steps=total_steps, warmup=w, decay=0.2)`` — warm-up, stable,
          20 % linear decay (Hägele et al. 2024).
        * ``"cosine"``: ``warmup(w) >> cosine(start=lr, steps=total_steps - w)``.
        * ``"cyclic"``: ``cyclic(low, high, half_cycle=total_steps // (2 * cycles))`` with
          ``low``/``high`` where the loss starts/stops falling (:meth:`bounds`, Smith 2017).

        ``lr`` is the suggestion of ``rule`` rounded to 3 significant digits;
        ``w = round(warmup * total_steps)`` steps.
        """
        from lrkit.finder.recommend import recommend

        return recommend(self, total_steps, policy, rule=rule, warmup=warmup, cycles=cycles)

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of primitives (floats, ints, str, lists)."""
        return {
            "format": _FORMAT,
            "lrs": list(self.lrs),
            "losses": list(self.losses),
            "smoothed": list(self.smoothed),
            "start": self.start,
            "end": self.end,
            "num_steps": self.num_steps,
            "mode": self.mode,
            "smooth": self.smooth,
            "diverge": self.diverge,
            "cycle": self.cycle,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RangeTestResult:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, Mapping):
            raise TypeError(f"RangeTestResult.from_dict: expected a mapping, got {type(data)}")
        fmt = data.get("format", _FORMAT)
        if fmt != _FORMAT:
            raise ValueError(f"RangeTestResult.from_dict: format must be {_FORMAT!r}, got {fmt!r}")
        keys: tuple[str, ...] = (
            "lrs",
            "losses",
            "smoothed",
            "start",
            "end",
            "num_steps",
            "mode",
            "smooth",
        )
        keys += ("diverge", "cycle", "stop_reason")
        unknown = set(data) - set(keys) - {"format"}
        if unknown:
            raise ValueError(f"RangeTestResult.from_dict: unknown keys {sorted(unknown)}")
        missing = [k for k in ("lrs", "losses", "smoothed") if k not in data]
        if missing:
            raise ValueError(f"RangeTestResult.from_dict: missing keys {missing}")
        kwargs = {k: data[k] for k in keys if k in data}
        for k in ("lrs", "losses", "smoothed"):
            kwargs[k] = tuple(float(v) for v in kwargs[k])
        return cls(**kwargs)

    # -- plot -----------------------------------------------------------------------------
    def plot(
        self,
        ax: Any = None,
        rules: Iterable[str] | None = ("lrkit", "valley", "steepest"),
        *,
        raw: bool = True,
    ) -> Any:
        """Plot loss against LR (log axis for ``mode="exp"``), suggestions marked; returns ax.

        Needs matplotlib. The raw losses are drawn faintly, the smoothed curve on top; the
        falling half of a ``cycle`` test is dashed.
        """
        from lrkit._extras import require

        plt = require("matplotlib.pyplot", "RangeTestResult.plot()")
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.0))
        x = np.asarray(self.lrs)
        k = self.rising
        if raw:
            ax.plot(x[:k], self.losses[:k], color="0.75", lw=0.8, label="loss")
        ax.plot(x[:k], self.smoothed[:k], color="C0", lw=1.6, label="smoothed loss")
        if self.cycle and len(x) > k:
            ax.plot(x[k - 1 :], self.smoothed[k - 1 :], "--", color="C0", lw=1.2, label="falling")
        if rules and len(x):
            ys = np.asarray(self.smoothed)
            for c, name in enumerate(rules, start=1):
                s = self.suggest(name)
                yv = float(np.interp(math.log(s.lr), np.log(x[:k]), ys[:k]))
                ax.axvline(s.lr, color=f"C{c}", lw=0.8, ls=":")
                ax.plot([s.lr], [yv], "o", color=f"C{c}", label=f"{name}: {s.lr:.3g}")
        if self.mode == "exp":
            ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        if len(x):
            lo = float(np.min(self.smoothed[:k]))
            hi = float(self.smoothed[0])
            span = max(hi - lo, 1e-12)
            ax.set_ylim(lo - 0.1 * span, hi + 0.6 * span)
        ax.legend(fontsize="small")
        ax.set_title(f"LR range test ({self.stop_reason})")
        return ax

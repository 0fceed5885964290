"""lrkit: learning-rate (and other hyper-parameter) schedules as values.

A schedule is an immutable, closed-form function of the step: evaluate it for one step or an array,
compose it, print it as text and parse it back.

>>> import lrkit
>>> s = lrkit.warmup(100) >> lrkit.cosine(start=1e-3, end=1e-5, steps=900)
>>> round(s(550), 8)
0.000505
>>> lrkit.parse(str(s)) == s
True

Framework adapters are imported on demand: ``lrkit.torch``, ``lrkit.optax``, ``lrkit.keras``.
"""

from __future__ import annotations

import importlib

from lrkit.compose import add, product, sequence, warmup
from lrkit.core import Schedule, from_dict
from lrkit.durations import pct
from lrkit.errors import ScheduleError, ScheduleTypeError, TextFormError, UnboundScheduleError
from lrkit.families import (
    Constant,
    Cosine,
    Cyclic,
    Exponential,
    InverseSqrt,
    InverseTime,
    Linear,
    MultiStep,
    OneMinusSqrt,
    Piecewise,
    PiecewiseConstant,
    Polynomial,
    Rex,
    Step,
)
from lrkit.plateau import Plateau
from lrkit.presets import OneCycle, OneCycleMomentum, Wsd
from lrkit.text import parse

__version__ = "0.1.0"

# The constructors, under the names of the text form (each is its schedule class).
constant = Constant
step = Step
multistep = MultiStep
exponential = Exponential
inverse_time = InverseTime
inverse_sqrt = InverseSqrt
linear = Linear
polynomial = Polynomial
cosine = Cosine
one_minus_sqrt = OneMinusSqrt
rex = Rex
cyclic = Cyclic
piecewise = Piecewise
piecewise_constant = PiecewiseConstant
one_cycle = OneCycle
one_cycle_momentum = OneCycleMomentum
wsd = Wsd

__all__ = [
    "Plateau",
    "Schedule",
    "ScheduleError",
    "ScheduleTypeError",
    "TextFormError",
    "UnboundScheduleError",
    "add",
    "constant",
    "cosine",
    "cyclic",
    "exponential",
    "from_dict",
    "inverse_sqrt",
    "inverse_time",
    "linear",
    "multistep",
    "one_cycle",
    "one_cycle_momentum",
    "one_minus_sqrt",
    "parse",
    "pct",
    "piecewise",
    "piecewise_constant",
    "polynomial",
    "product",
    "rex",
    "sequence",
    "step",
    "warmup",
    "wsd",
]

# Classes live in their modules (lrkit.families, lrkit.compose, lrkit.presets, lrkit.durations);
# ``lrkit.Cosine`` and friends keep working for code written against 0.1.
_MODULES = ("lrkit.families", "lrkit.compose", "lrkit.presets", "lrkit.durations")


def __getattr__(name: str) -> object:
    if name[:1].isupper() or name == "piecewise_linear":
        for module in _MODULES:
            found = getattr(importlib.import_module(module), name, None)
            if found is not None:
                return found
    raise AttributeError(f"module 'lrkit' has no attribute {name!r}")

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

from lrkit import registry
from lrkit.compose import (
    Clip,
    Mirror,
    Product,
    Repeat,
    Retarget,
    Scale,
    Sequence,
    Shift,
    Sum,
    Truncate,
    Warmup,
    add,
    product,
    sequence,
    warmup,
)
from lrkit.core import Schedule, from_dict
from lrkit.durations import Pct, pct
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
    piecewise_linear,
)
from lrkit.presets import OneCycle, OneCycleMomentum, Wsd
from lrkit.text import parse

__version__ = "0.1.0"

# Lower-case constructors, the names used in the text form.
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
    "Clip",
    "Constant",
    "Cosine",
    "Cyclic",
    "Exponential",
    "InverseSqrt",
    "InverseTime",
    "Linear",
    "Mirror",
    "MultiStep",
    "OneCycle",
    "OneCycleMomentum",
    "OneMinusSqrt",
    "Pct",
    "Piecewise",
    "PiecewiseConstant",
    "Polynomial",
    "Product",
    "Repeat",
    "Retarget",
    "Rex",
    "Scale",
    "Schedule",
    "ScheduleError",
    "ScheduleTypeError",
    "Sequence",
    "Shift",
    "Step",
    "Sum",
    "TextFormError",
    "Truncate",
    "UnboundScheduleError",
    "Warmup",
    "Wsd",
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
    "piecewise_linear",
    "polynomial",
    "product",
    "registry",
    "rex",
    "sequence",
    "step",
    "warmup",
    "wsd",
]


def __getattr__(name: str) -> object:
    if name == "Plateau":
        from lrkit.plateau import Plateau

        return Plateau
    raise AttributeError(f"module 'lrkit' has no attribute {name!r}")

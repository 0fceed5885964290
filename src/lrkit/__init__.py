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

from lrkit import families as _families
from lrkit import presets as _presets
from lrkit.compose import add, product, sequence, warmup
from lrkit.core import Schedule, from_dict
from lrkit.durations import pct
from lrkit.errors import ScheduleError, ScheduleTypeError, TextFormError, UnboundScheduleError
from lrkit.plateau import Plateau
from lrkit.text import parse

__version__ = "0.1.0"

# The constructors, under the names of the text form (each is its schedule class).
constant = _families.Constant
step = _families.Step
multistep = _families.MultiStep
exponential = _families.Exponential
inverse_time = _families.InverseTime
inverse_sqrt = _families.InverseSqrt
linear = _families.Linear
polynomial = _families.Polynomial
cosine = _families.Cosine
one_minus_sqrt = _families.OneMinusSqrt
rex = _families.Rex
cyclic = _families.Cyclic
piecewise = _families.Piecewise
piecewise_constant = _families.PiecewiseConstant
one_cycle = _presets.OneCycle
one_cycle_momentum = _presets.OneCycleMomentum
wsd = _presets.Wsd

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
# ``lrkit.Cosine`` (the 0.1 spelling) is an AttributeError that names the module to import from.
_MODULES = ("lrkit.families", "lrkit.compose", "lrkit.presets", "lrkit.durations")


def __getattr__(name: str) -> object:
    if name == "piecewise_linear":
        return importlib.import_module("lrkit.families").piecewise_linear
    if name[:1].isupper():
        for module in _MODULES:
            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type):
                text_name = getattr(found, "name", None)
                also = f", or build it with lrkit.{text_name}(...)" if text_name in __all__ else ""
                raise AttributeError(
                    f"lrkit.{name} was removed in 0.2 (the 0.1 spelling): import the class from its "
                    f"module, `from {module} import {name}`{also}"
                )
    raise AttributeError(f"module 'lrkit' has no attribute {name!r}")

"""LR range test (Smith 2017), framework-free: run it with any training step, read suggestions,
turn the result into a schedule.

>>> from lrkit.finder import RangeTest
>>> test = RangeTest(start=1e-4, end=1.0, num_steps=30, smooth=0.0)
>>> for lr in test:
...     done = test.record((lr - 0.05) ** 2 + 1.0)  # stand-in for one training step
>>> result = test.result()
>>> len(result), result.stop_reason
(30, 'completed')
>>> sorted(result.suggestions())
['lrkit', 'minimum', 'steep', 'steepest', 'valley']
"""

from lrkit.finder import suggestions
from lrkit.finder.plot import plot
from lrkit.finder.recommend import recommend
from lrkit.finder.result import RangeTestResult, StopReason
from lrkit.finder.runner import RangeTest, sweep_schedule
from lrkit.finder.suggestions import Rule, Suggestion, suggest

__all__ = [
    "RangeTest",
    "RangeTestResult",
    "Rule",
    "StopReason",
    "Suggestion",
    "plot",
    "recommend",
    "suggest",
    "suggestions",
    "sweep_schedule",
]

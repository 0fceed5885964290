"""Hypothesis profiles: derandomized in ``make test``, random in ``make fuzz``.

A randomized test must never fail an unrelated change, so the everyday suite (``make test``, CI) runs
every property on a fixed, reproducible set of examples (``derandomize=True``, no example database).
``make fuzz`` (``LRKIT_HYPOTHESIS_PROFILE=fuzz``) runs the same properties with random seeds and ten
times the examples (:func:`_fuzz.examples`); every failure it finds becomes an explicit ``@example``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("fuzz", derandomize=False, database=None, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("LRKIT_HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every Hypothesis property ``property``, so ``make fuzz`` can select them all."""
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)

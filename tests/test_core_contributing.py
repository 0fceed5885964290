"""The "add a leaf" and "add a combinator" walkthroughs of CONTRIBUTING.md work as written."""

from __future__ import annotations

import pathlib
import re
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import lrkit
import test_core_contract as contract
from lrkit import registry

ROOT = pathlib.Path(__file__).resolve().parents[1]
NEW = ("sigmoid_decay", "maximum")


def _code_blocks() -> list[str]:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.fixture(scope="module")
def namespace() -> Iterator[dict[str, Any]]:
    module = types.ModuleType("contributing_example")  # a real module: instances must pickle
    sys.modules[module.__name__] = module
    try:
        for block in _code_blocks():
            code = compile(block, "CONTRIBUTING.md", "exec", dont_inherit=True)
            exec(code, module.__dict__)
        yield module.__dict__
    finally:
        del sys.modules[module.__name__]
        for name in NEW:  # leave the registry as it was for the other tests
            registry._ENTRIES.pop(name, None)
            contract.EXAMPLES.pop(name, None)


def test_each_walkthrough_is_at_most_15_lines_of_code() -> None:
    blocks = _code_blocks()
    assert len(blocks) == 2
    for block in blocks:
        body = block.split("\n\n\nclass ", 1)[-1]  # the class, without the imports
        lines = [
            line
            for line in body.splitlines()
            if line.strip() and not line.strip().startswith(('"""', "#"))
        ]
        assert len(lines) <= 17, lines  # 15 lines of code plus the class statement's 2 lines


def test_the_example_leaf_and_combinator_are_registered_and_parse(
    namespace: dict[str, Any],
) -> None:
    assert set(NEW) <= set(registry.names())
    leaf = lrkit.parse("sigmoid_decay(0.1, steps=100)")
    assert isinstance(leaf, namespace["SigmoidDecay"])
    assert leaf(0) == pytest.approx(0.1 / (1 + np.exp(-6.0)))
    assert leaf(100) == leaf(1000) == pytest.approx(0.1 / (1 + np.exp(6.0)))
    assert str(lrkit.parse('sigmoid_decay(0.1, steps="20%")').bind(1000)) == (
        "sigmoid_decay(start=0.1, steps=200)"
    )
    both = lrkit.parse("maximum(sigmoid_decay(0.1, steps=100), constant(0.01))")
    assert both(100) == 0.01 and both(0) == leaf(0)
    with pytest.raises(lrkit.ScheduleError, match=r"sigmoid_decay\(\): start must be"):
        namespace["SigmoidDecay"](-1.0, steps=10)


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("check", contract.CONTRACT, ids=lambda f: f.__name__)
def test_the_contract_tests_run_on_the_new_schedules(
    namespace: dict[str, Any], name: str, check: Any
) -> None:
    check(name)

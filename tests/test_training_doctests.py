"""The examples in the evaluation modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sniper.training.metrics",
    "sniper.training.splits",
    "sniper.training.simulation",
    "sniper.training.gate",
    "sniper.training.overfitting",
    "sniper.training.baselines",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed"

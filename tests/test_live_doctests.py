"""The examples in the live docstrings (backoff, covered interval, status line, buckets and their window, the side a signal takes) run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["sniper.live.config", "sniper.live.coverage", "sniper.live.status", "sniper.live.buckets", "sniper.live.scoring"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed"

"""The examples in the simulator's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["teiten.simulate", "teiten.simulate.engine", "teiten.simulate.first_payloads",
           "teiten.simulate.rates", "teiten.simulate.scenario", "teiten.simulate.pools"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

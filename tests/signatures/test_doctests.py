"""The examples in the signature modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["addresses", "categories", "compiler", "content", "engine", "keywords", "loader",
           "rule", "tables", "threshold"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    mod = importlib.import_module(f"teiten.signatures.{name}")
    result = doctest.testmod(mod)
    assert result.failed == 0

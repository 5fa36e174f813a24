"""The registry of analyses: adding an analysis is one module and one line in ``_MODULES``."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Final

from teiten.analyses.base import Analysis
from teiten.core.errors import UsageError

#: Analysis modules in the order reports and ``teiten stats`` list them.
_MODULES: Final[list[str]] = [
    "totals",
    "coverage",
    "ports",
    "countries",
    "protocols",
    "home_world",
    "port_country",
    "sport_profile",
    "daily_ports",
    "daily_countries",
    "hourly",
    "trend",
]


@lru_cache(maxsize=1)
def analyses() -> dict[str, Analysis]:
    """Every registered analysis by name."""
    out: dict[str, Analysis] = {}
    for m in _MODULES:
        a: Analysis = importlib.import_module(f"teiten.analyses.{m}").ANALYSIS
        out[a.name] = a
    return out


def names() -> list[str]:
    """Registered analysis names, in order."""
    return list(analyses())


def get(name: str) -> Analysis:
    """The analysis called ``name``; :class:`UsageError` listing the known ones otherwise."""
    try:
        return analyses()[name]
    except KeyError:
        raise UsageError(f"unknown analysis {name!r}; known: {', '.join(names())}") from None

"""Observation statistics: the seed reports' numbers, exactly, for any period and sensors.

Public API
----------
Build a context (rollups of one period, restricted to covered sensor-days), then run analyses
on it; every analysis returns a ``pyarrow.Table`` in its declared schema, with its parameters
echoed into the schema metadata (``teiten.params``).

>>> from teiten.analyses import context, parse_period, run
>>> ctx = context.from_packets(context.empty_packets(), parse_period("2026-10"))
>>> sorted(run(ctx, names=["totals", "ports"]))
['ports', 'totals']

* :func:`run` — ``run(source, period=None, params=None, names=None, ...)`` → ``{name: table}``;
  ``source`` is a :class:`~teiten.analyses.context.Context`, a store (``teiten.store.Store``,
  rollups materialised on first use) or a packet table (Arrow or Ibis).
* :func:`context.from_store` / :func:`context.from_packets` — build a context yourself.
* :func:`analysis` — one registered analysis by name (``analysis("ports")(ctx, params)``).
* :func:`compare_periods` / :func:`compare` — 今期/前期 comparison of any keyed table.
* :mod:`labels` — port labels, glossary, country names (ja/en), comparison status texts.
* :mod:`rollups` — the materialised rollups (``rollups.materialise(store, period)``).
* :mod:`summary` — month summaries and the source-port rollup, materialised with them.

Registered analyses (``names()``): totals, coverage, ports, countries, protocols, home_world,
port_country, sport_profile, daily_ports, daily_countries, hourly, trend. Each module documents
its table; ``docs/metrics.md`` defines every figure.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from teiten.analyses import context, labels, rollups
from teiten.analyses.base import Analysis, result_params
from teiten.analyses.comparison import Params as CompareParams
from teiten.analyses.comparison import compare, compare_periods
from teiten.analyses.context import Context
from teiten.analyses.coverage import Params as CoverageParams
from teiten.analyses.registry import get as analysis
from teiten.analyses.registry import names
from teiten.core.periods import Period, parse_period


def make_context(
    source: Any,
    period: Period | None = None,
    *,
    sensors: list[str] | None = None,
    registry: Any = None,
    coverage_params: CoverageParams | None = None,
    materialise: bool = True,
) -> Context:
    """A :class:`Context` from a context (returned as is), a store or a packet table."""
    if isinstance(source, Context):
        return source
    if period is None:
        from teiten.core.errors import UsageError

        raise UsageError("a period is needed to build a statistics context")
    if hasattr(source, "catalog") and hasattr(source, "read_table"):
        return context.from_store(source, period, sensors=sensors,
                                  coverage_params=coverage_params, materialise=materialise)
    return context.from_packets(source, period, registry=registry, sensors=sensors,
                                coverage_params=coverage_params)


def run(
    source: Any,
    period: Period | None = None,
    params: dict[str, Any] | None = None,
    *,
    names: list[str] | None = None,
    sensors: list[str] | None = None,
    registry: Any = None,
) -> dict[str, pa.Table]:
    """Run analyses (all registered ones by default) and return their tables by name.

    Parameters
    ----------
    source : Context, Store, pyarrow.Table or ibis.Table
        What to analyse (see :func:`make_context`).
    period : Period, optional
        Needed unless ``source`` is a context.
    params : dict, optional
        ``{analysis name: Params instance}``; defaults for the others.
    names : list of str, optional
        Which analyses (registry names); all by default.
    sensors : list of str, optional
        Restrict to these sensors.
    registry : teiten.core.sensors.Registry, optional
        For packet-table sources (a store brings its own).
    """
    from teiten.analyses.registry import get
    from teiten.analyses.registry import names as all_names

    ctx = make_context(source, period, sensors=sensors, registry=registry)
    chosen = names if names is not None else all_names()
    p = params or {}
    return {n: get(n)(ctx, p.get(n)) for n in chosen}


__all__ = [
    "Analysis",
    "CompareParams",
    "Context",
    "CoverageParams",
    "Period",
    "analysis",
    "compare",
    "compare_periods",
    "context",
    "labels",
    "make_context",
    "names",
    "parse_period",
    "result_params",
    "rollups",
    "run",
]

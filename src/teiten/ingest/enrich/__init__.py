"""Pluggable enrichment at ingest: each enricher fills one packet-table column.

An enricher is a small object with a ``column`` name and a ``__call__`` that takes the decoded
packets of one chunk (an Arrow table in :data:`teiten.core.schema.DECODED_SCHEMA` plus the
``sensor`` column and every column filled by enrichers listed before it) and returns an Arrow
array of the same length for its column. Enrichers do no I/O per packet: lookups are vectorised
over distinct values. Adding one is one module here and one line in :data:`ENRICHERS`.

Examples
--------
>>> [e.split(":")[1] for e in ENRICHERS]
['CountryEnricher', 'TrafficClassEnricher', 'ToolEnricher']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class EnrichContext:
    """Settings every enricher may read (from the command line or config)."""

    #: A MaxMind-format database (GeoLite2/DB-IP/IPinfo country) to use instead of the bundled one.
    mmdb: Path | None = None


class Enricher(Protocol):
    """Fills one column of the packet table."""

    column: str

    def __call__(self, packets: pa.Table) -> pa.Array:
        """Return the column's values for ``packets`` (same length, any string type)."""
        ...


class EnricherFactory(Protocol):
    """A class (or function) building an enricher from the context."""

    def __call__(self, ctx: EnrichContext) -> Enricher: ...


#: ``module:Factory`` in the order they run; later ones may read earlier ones' columns.
ENRICHERS: list[str] = [
    "teiten.ingest.enrich.country:CountryEnricher",
    "teiten.ingest.enrich.traffic_class:TrafficClassEnricher",
    "teiten.ingest.enrich.tool:ToolEnricher",
]


def load_enrichers(ctx: EnrichContext) -> list[Enricher]:
    """Instantiate every registered enricher."""
    out: list[Enricher] = []
    for spec in ENRICHERS:
        mod, _, attr = spec.partition(":")
        factory: EnricherFactory = getattr(importlib.import_module(mod), attr)
        out.append(factory(ctx))
    return out

"""Trend: the headline figures over the last N periods (TALOT2 figure 1.1: accesses and sources
per point per day, January–June 2007).

One :mod:`totals` row per period, oldest first, ending with the context's period; each period
is computed with its own coverage (sensor-days are never borrowed across periods).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from teiten.analyses import totals as _totals
from teiten.analyses.base import Analysis, finish

NAME: Final = "trend"
SCHEMA: Final = _totals.SCHEMA


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters.

    Parameters
    ----------
    periods : int
        Number of periods, the context's own included. Default 6.
    """

    periods: int = 6


def trend(ctx: Any, params: Params = Params()) -> pa.Table:
    """Totals of each of the last ``periods`` periods, oldest first."""
    parts = [_totals.totals(ctx.for_period(p)) for p in ctx.period.last(params.periods)]
    return finish(pa.concat_tables([t.replace_schema_metadata(None) for t in parts]), SCHEMA,
                  params)


ANALYSIS: Final = Analysis(NAME, trend, Params, SCHEMA, "headline figures, last N periods")

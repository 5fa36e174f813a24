"""Totals: the headline figures of a period (the first sentence of every seed report).

"In June 2007 there were 293,252 accesses at 10 points; each point saw 1,086 accesses a day
from 277 sources" — ``accesses``, ``accesses_per_point_day``, ``sources_per_point_day``;
"each stranger knocked 4 times" — ``accesses_per_source``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from teiten.analyses._common import execute, f
from teiten.analyses.base import Analysis, finish

NAME: Final = "totals"

SCHEMA: Final = pa.schema([
    f("period", pa.string(), "period label (2026-10, 2026-Q4, …)"),
    f("start", pa.date32(), "first observation day"),
    f("end", pa.date32(), "last observation day (inclusive)"),
    f("tz", pa.string(), "time zone of the observation days"),
    f("sensors", pa.int64(), "sensors with at least one covered day"),
    f("sensor_days", pa.int64(), "covered sensor-days"),
    f("address_days", pa.int64(), "covered address-days"),
    f("accesses", pa.int64(), "packets on covered sensor-days"),
    f("source_count", pa.int64(), "TALOT2 source count (延べ発信元数)"),
    f("distinct_sources", pa.int64(), "distinct source addresses over the period"),
    f("accesses_per_point_day", pa.float64(), "accesses / sensor_days"),
    f("sources_per_point_day", pa.float64(), "source_count / sensor_days"),
    f("accesses_per_address_day", pa.float64(), "accesses / address_days"),
    f("sources_per_address_day", pa.float64(), "source_count / address_days"),
    f("accesses_per_source", pa.float64(), "accesses / source_count (times each stranger knocks)"),
])


@dataclass(frozen=True, slots=True)
class Params:
    """Totals take no parameters."""


def _div(a: int, b: int) -> float | None:
    return a / b if b else None


def totals(ctx: Any, params: Params = Params()) -> pa.Table:
    """One row of headline figures for the context's period and sensors.

    >>> from teiten.analyses import context, parse_period
    >>> ctx = context.from_packets(context.empty_packets(), parse_period("2026-10"))
    >>> totals(ctx).column("accesses").to_pylist()
    [0]
    """
    m = execute(ctx.by([], distinct=True)).to_pylist()[0]
    acc = int(m["accesses"] or 0)
    src = int(m["source_count"] or 0)
    p = ctx.period
    sensors = len(set(ctx.covered_days["sensor"].to_pylist()))
    row = {
        "period": p.label, "start": p.start, "end": p.days()[-1], "tz": p.tz,
        "sensors": sensors, "sensor_days": ctx.sensor_days, "address_days": ctx.address_days,
        "accesses": acc, "source_count": src,
        "distinct_sources": int(m["distinct_sources"] or 0),
        "accesses_per_point_day": _div(acc, ctx.sensor_days),
        "sources_per_point_day": _div(src, ctx.sensor_days),
        "accesses_per_address_day": _div(acc, ctx.address_days),
        "sources_per_address_day": _div(src, ctx.address_days),
        "accesses_per_source": _div(acc, src),
    }
    return finish(pa.Table.from_pylist([row], schema=SCHEMA), SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, totals, Params, SCHEMA, "headline figures of the period")

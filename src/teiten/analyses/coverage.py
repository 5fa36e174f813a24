"""Coverage: which sensor and how many monitored addresses observed on which observation day.

A sensor-day is **covered** when the sensor was observing: it captured packets that day and no
declared maintenance window touched the day, or it captured nothing on a day that is quiet for
it (its median day, over the days of the period with packets, stays below
``Params.outage_min_daily``). It is **not covered** when

* ``maintenance`` — a declared maintenance window overlaps the day (by more than
  ``Params.maintenance_min_hours``; the whole day is excluded, as TALOT2 excluded 1–3 June 2007);
* ``capture-gap`` — the capture driver recorded tcpdump down (``sensor_health`` table) for more
  than ``Params.capture_gap_min_hours`` of the day;
* ``outage`` — no packet at all on a day, while the sensor normally sees at least
  ``Params.outage_min_daily`` a day;
* ``no-data`` — the sensor captured nothing during the whole period.

Packets on uncovered sensor-days are left out of every statistic (numerator and denominator
stay consistent). Address-days: a sensor with declared addresses counts the addresses monitored
at the day's local noon; a sensor without declared addresses counts the distinct destinations
it saw that day (the period's median on a quiet day).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final

import pyarrow as pa

from teiten.analyses.base import Analysis, finish
from teiten.core.periods import Period, day_number, day_start_utc, zone
from teiten.core.sensors import Registry

NAME: Final = "coverage"

SCHEMA: Final = pa.schema([
    pa.field("sensor", pa.string(), metadata={"doc": "sensor id"}),
    pa.field("day", pa.date32(), metadata={"doc": "observation day (report time zone)"}),
    pa.field("packets", pa.int64(), metadata={"doc": "packets captured that day"}),
    pa.field("addresses", pa.int64(), metadata={"doc": "monitored addresses that day"}),
    pa.field("covered", pa.bool_(), metadata={"doc": "the sensor-day counts in statistics"}),
    pa.field("reason", pa.string(),
             metadata={"doc": "observed, quiet, maintenance, capture-gap, outage or no-data"}),
])


@dataclass(frozen=True, slots=True)
class Params:
    """Coverage thresholds.

    Parameters
    ----------
    outage_min_daily : int
        A day without packets is an outage when the sensor's median day (over the period's
        days with packets) has at least this many packets. Default 100.
    maintenance_min_hours : float
        A day is excluded when a declared maintenance window overlaps it by more than this
        many hours. Default 0 (any overlap excludes the day).
    capture_gap_min_hours : float
        A day is excluded when the capture was recorded down for more than this many hours of
        it. Default 12 (half a day: a restart after a few minutes keeps the day).
    """

    outage_min_daily: int = 100
    maintenance_min_hours: float = 0.0
    capture_gap_min_hours: float = 12.0


#: Capture gaps per sensor: ``(start, end)`` in UTC, ``end`` None while capture is still down.
Gaps = Mapping[str, list[tuple[datetime, datetime | None]]]


def capture_gaps(health: pa.Table | None) -> dict[str, list[tuple[datetime, datetime | None]]]:
    """Periods without a running capture, from the store's ``sensor_health`` rows.

    A gap starts at an ``exit`` (tcpdump died) or ``stop`` event and ends at the sensor's next
    ``start`` event (``None`` when capture never came back). Health rows are few (a handful
    per capture run), so this walks them in Python.

    >>> from datetime import UTC, datetime
    >>> t = [datetime(2026, 10, 1, h, tzinfo=UTC) for h in (0, 5, 9)]
    >>> h = pa.table({"sensor": ["a", "a", "a"], "ts": t, "event": ["start", "exit", "start"]})
    >>> capture_gaps(h)["a"] == [(t[1], t[2])]
    True
    """
    out: dict[str, list[tuple[datetime, datetime | None]]] = {}
    if health is None or health.num_rows == 0:
        return out
    rows = sorted(zip(health.column("sensor").cast(pa.string()).to_pylist(),
                      health.column("ts").to_pylist(),
                      health.column("event").cast(pa.string()).to_pylist(), strict=True),
                  key=lambda r: (r[0], r[1], r[2] != "start"))
    open_gap: dict[str, datetime] = {}
    for sensor, ts, event in rows:
        if event in ("exit", "stop") and sensor not in open_gap:
            open_gap[sensor] = ts
        elif event == "start" and sensor in open_gap:
            out.setdefault(sensor, []).append((open_gap.pop(sensor), ts))
    for sensor, start in open_gap.items():
        out.setdefault(sensor, []).append((start, None))
    return out


def compute_coverage(
    days: pa.Table, registry: Registry, period: Period, params: Params,
    sensors: list[str] | None = None, gaps: Gaps | None = None,
) -> pa.Table:
    """The coverage table from the ``days`` rollup (sensor, day, packets, dsts) and registry.

    ``gaps`` are capture gaps per sensor (:func:`capture_gaps`): a day on which capture was
    down for more than ``params.capture_gap_min_hours`` is not covered (``capture-gap``).

    ``sensors`` limits the table to those ids; otherwise every registered sensor and every
    sensor seen in the data appears, for every day of the period.
    """
    seen: dict[tuple[str, int], tuple[int, int | None]] = {}
    for s, d, n, k in zip(*(days.column(c).to_pylist() for c in ("sensor", "day", "packets",
                                                                  "dsts")), strict=True):
        seen[(s, d)] = (n, k)
    ids = list(sensors) if sensors else sorted(set(registry) | {s for s, _ in seen})
    day_list = period.days()
    z = zone(period.tz)
    out: dict[str, list[Any]] = {n: [] for n in SCHEMA.names}
    for sid in ids:
        sensor = registry.get(sid)
        counts = [seen.get((sid, day_number(d)), (0, None)) for d in day_list]
        active = [n for n, _ in counts if n > 0]
        normal = statistics.median(active) if active else 0
        dst_seen = [k for n, k in counts if n > 0 and k]
        median_dsts = int(statistics.median(dst_seen)) if dst_seen else 0
        for d, (n, k) in zip(day_list, counts, strict=True):
            start, end = day_start_utc(d, period.tz), day_start_utc(d + timedelta(days=1),
                                                                     period.tz)
            overlap = 0.0
            if sensor is not None:
                for w in sensor.maintenance:
                    lo, hi = max(w.start, start), min(w.end, end)
                    overlap += max(0.0, (hi - lo).total_seconds())
            down = 0.0
            for g_start, g_end in (gaps or {}).get(sid, []):
                lo, hi = max(g_start, start), min(g_end or end, end)
                down += max(0.0, (hi - lo).total_seconds())
            if overlap > 0 and overlap > params.maintenance_min_hours * 3600:
                reason = "maintenance"
            elif down > params.capture_gap_min_hours * 3600:
                reason = "capture-gap"
            elif n > 0:
                reason = "observed"
            elif not active:
                reason = "no-data"
            elif normal >= params.outage_min_daily:
                reason = "outage"
            else:
                reason = "quiet"
            if sensor is not None and not sensor.monitors_everything:
                noon = datetime.combine(d, time(12), tzinfo=z)
                noon_ns = int(noon.timestamp()) * 1_000_000_000
                addresses = sensor.address_count(noon_ns)
            else:
                addresses = k if (n > 0 and k) else median_dsts
            out["sensor"].append(sid)
            out["day"].append(d)
            out["packets"].append(n)
            out["addresses"].append(addresses)
            out["covered"].append(reason in ("observed", "quiet"))
            out["reason"].append(reason)
    return pa.table(out, schema=SCHEMA)


def coverage(ctx: Any, params: Params = Params()) -> pa.Table:
    """The coverage table of the context's sensors over its period (see module doc).

    The context computes coverage once, with its own coverage parameters; ``params`` here
    recomputes it when it differs.
    """
    if params == ctx.coverage_params:
        tab = ctx.coverage
    else:
        tab = compute_coverage(ctx.days_table, ctx.registry, ctx.period, params, ctx.sensors,
                               ctx.gaps)
    return finish(tab, SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, coverage, Params, SCHEMA, "sensor-days observed, per sensor")

"""Rollups: the packet table reduced to what every statistic needs, once.

Three tables, all built with Ibis expressions (no per-engine SQL), all exact:

``units`` — one row per *source unit* of the TALOT2 rule: (sensor, observation day in the
report's time zone, protocol, destination port / ICMP type, source) with the source's country
and the number of packets. Its row count over a selection *is* the 延べ発信元数 (source count);
the sum of ``packets`` is the access count; distinct (src, src6) are the distinct sources.

``buckets`` — packets per (sensor, 15-minute UTC bucket, country): hourly profiles in UTC and in
any local time (every real time zone is a whole number of quarter hours from UTC), daily series
in any time zone.

``days`` — packets and distinct destinations per (sensor, observation day): coverage.

``cells`` — ``units`` summed over sources: (sensor, day, proto, port, country) → accesses and
source count; what the tables without distinct sources read.

Observation days are computed from epoch seconds plus the report zone's UTC offset, piecewise
over the zone's transitions (:func:`teiten.core.periods.utc_offset_segments`), so the expression
is plain arithmetic that every Ibis backend runs the same way.

Materialised rollups live in the store as tables named ``stats_<kind>.<tz>.<YYYY-MM>`` (one per
local month of the report time zone) with a fingerprint of the store's catalog; a stale or
missing month is rebuilt from raw packets by :func:`materialise`.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa

from teiten.core.periods import Period, day_number, parse_period

#: Version of the rollup set (2: with ``cells``; 3: with the month summaries and source ports of
#: :mod:`teiten.analyses.summary`), recorded in each month's state table.
ROLLUP_VERSION: Final = 3

#: Width of a bucket in the ``buckets`` rollup, seconds.
BUCKET_SECONDS: Final = 900

UNITS_SCHEMA: Final = pa.schema([
    pa.field("sensor", pa.string(), metadata={"doc": "sensor id"}),
    pa.field("day", pa.int32(), metadata={"doc": "observation day, days since 1970-01-01"}),
    pa.field("proto", pa.uint8(), metadata={"doc": "IP protocol number"}),
    pa.field("port", pa.int32(), metadata={"doc": "TCP/UDP dport, ICMP type, else null"}),
    pa.field("src", pa.uint32(), metadata={"doc": "IPv4 source (null for IPv6)"}),
    pa.field("src6", pa.binary(), metadata={"doc": "IPv6 source (null for IPv4)"}),
    pa.field("country", pa.string(), metadata={"doc": "source country (null unknown)"}),
    pa.field("packets", pa.int64(), metadata={"doc": "accesses in the unit"}),
])

BUCKETS_SCHEMA: Final = pa.schema([
    pa.field("sensor", pa.string(), metadata={"doc": "sensor id"}),
    pa.field("bucket", pa.int64(), metadata={"doc": "UTC epoch seconds // BUCKET_SECONDS"}),
    pa.field("day", pa.int32(), metadata={"doc": "observation day of the bucket"}),
    pa.field("country", pa.string(), metadata={"doc": "source country (null unknown)"}),
    pa.field("packets", pa.int64(), metadata={"doc": "accesses in the bucket"}),
])

DAYS_SCHEMA: Final = pa.schema([
    pa.field("sensor", pa.string(), metadata={"doc": "sensor id"}),
    pa.field("day", pa.int32(), metadata={"doc": "observation day"}),
    pa.field("packets", pa.int64(), metadata={"doc": "accesses on the sensor that day"}),
    pa.field("dsts", pa.int64(), metadata={"doc": "distinct destination addresses that day"}),
])

CELLS_SCHEMA: Final = pa.schema([
    pa.field("sensor", pa.string(), metadata={"doc": "sensor id"}),
    pa.field("day", pa.int32(), metadata={"doc": "observation day"}),
    pa.field("proto", pa.uint8(), metadata={"doc": "IP protocol number"}),
    pa.field("port", pa.int32(), metadata={"doc": "TCP/UDP dport, ICMP type, else null"}),
    pa.field("country", pa.string(), metadata={"doc": "source country (null unknown)"}),
    pa.field("accesses", pa.int64(), metadata={"doc": "packets"}),
    pa.field("source_count", pa.int64(), metadata={"doc": "source units"}),
])

_PORT_PROTOS: Final = (6, 17, 132)
_ICMP_PROTOS: Final = (1, 58)


def epoch_seconds(t: Any) -> Any:
    """Ibis expression: capture time as seconds since the epoch.

    Resolved to the microsecond (every engine's common timestamp precision; pcap's own):
    a nanosecond capture time is rounded to the nearest microsecond first. Only floor
    divisions and comparisons are applied to it, so fractional seconds never leak out.
    """
    return t.ts.cast(dt.Timestamp(timezone="UTC", scale=6)).epoch_seconds()


def day_expr(secs: Any, period: Period) -> Any:
    """Ibis expression: observation day number in ``period.tz`` from epoch seconds."""
    segs = period.offset_segments()
    off: Any = ibis.literal(segs[0][1])
    if len(segs) > 1:
        off = ibis.cases(*[(secs >= s, o) for s, o in reversed(segs[1:])], else_=segs[0][1])
    return ((secs + off) // 86400).cast("int32")


def port_expr(t: Any) -> Any:
    """Ibis expression: the port key — dport for TCP/UDP/SCTP, type for ICMP, else null."""
    return ibis.cases(
        (t.proto.isin(_PORT_PROTOS), t.dport.cast("int32")),
        (t.proto.isin(_ICMP_PROTOS), t.icmp_type.cast("int32")),
        else_=ibis.null("int32"),
    )


def in_period(t: Any, period: Period) -> Any:
    """Filter a packet table to the period (with partition pruning on ``date`` if present)."""
    secs = epoch_seconds(t)
    s0, s1 = int(period.start_utc.timestamp()), int(period.end_utc.timestamp())
    cond = (secs >= s0) & (secs < s1)
    if "date" in t.columns:  # the store's hive partition (UTC date) prunes files
        d0 = period.start_utc.date().isoformat()
        d1 = period.end_utc.date().isoformat()
        # whole UTC dates inside the period need no per-packet time test; edge dates do
        inner = (t.date > d0) & (t.date < d1)
        edge = ((t.date == d0) | (t.date == d1)) & cond
        return t.filter((t.date >= d0) & (t.date <= d1)).filter(inner | edge)
    return t.filter(cond)


def units(packets: Any, period: Period) -> Any:
    """Ibis expression of the ``units`` rollup of ``packets`` over ``period``."""
    t = in_period(packets, period)
    t = t.mutate(_day=day_expr(epoch_seconds(t), period), _port=port_expr(t))
    return t.group_by(
        sensor=t.sensor.cast("string"), day=t._day, proto=t.proto, port=t._port,
        src=t.src, src6=t.src6.cast("binary"), country=t.country.cast("string"),
    ).aggregate(packets=ibis._.count())


def buckets(packets: Any, period: Period) -> Any:
    """Ibis expression of the ``buckets`` rollup of ``packets`` over ``period``."""
    t = in_period(packets, period)
    secs = epoch_seconds(t)
    t = t.mutate(_bucket=(secs // BUCKET_SECONDS).cast("int64"), _day=day_expr(secs, period))
    return t.group_by(
        sensor=t.sensor.cast("string"), bucket=t._bucket, day=t._day,
        country=t.country.cast("string"),
    ).aggregate(packets=ibis._.count())


def days(packets: Any, period: Period, skip_dsts_for: list[str] | None = None) -> Any:
    """Ibis expression of the ``days`` rollup.

    Distinct destinations are counted for every sensor except those in ``skip_dsts_for``
    (sensors with declared addresses do not need them); theirs are null.
    """
    t = in_period(packets, period)
    t = t.mutate(_day=day_expr(epoch_seconds(t), period), _sensor=t.sensor.cast("string"))
    per = t.group_by(sensor=t._sensor, day=t._day).aggregate(packets=ibis._.count())
    d = t.filter(~t._sensor.isin(skip_dsts_for)) if skip_dsts_for else t
    nd = d.select(sensor=d._sensor, day=d._day, dst=d.dst, dst6=d.dst6.cast("binary")).distinct()
    nd = nd.group_by("sensor", "day").aggregate(dsts=ibis._.count())
    j = per.left_join(nd, ["sensor", "day"])
    return j.select(j.sensor, j.day, j.packets, dsts=j.dsts.cast("int64"))


def cells(units_table: Any) -> Any:
    """Ibis expression of the ``cells`` rollup: units summed over sources."""
    u = units_table
    return u.group_by(["sensor", "day", "proto", "port", "country"]).aggregate(
        accesses=u.packets.sum().cast("int64"), source_count=u.count().cast("int64"))


def to_arrow(expr: Any, schema: pa.Schema) -> pa.Table:
    """Execute a rollup expression and cast it to its declared schema."""
    from teiten.core.schema import conform

    tab = expr.to_pyarrow()
    return conform(tab.select(schema.names), schema)


# -- materialisation in the store ------------------------------------------------------------


def months_covering(period: Period) -> list[Period]:
    """The local months (in ``period.tz``) that cover ``period``."""
    first = parse_period(f"{period.start.year:04d}-{period.start.month:02d}", period.tz)
    out = [first]
    while out[-1].end < period.end:
        out.append(out[-1].next())
    return out


def _slug(tz: str) -> str:
    return tz.replace("/", ".").replace("+", "p")


def table_name(kind: str, month: Period) -> str:
    """Store table name of one materialised month, e.g. ``stats_units.Asia.Tokyo.2026-10``."""
    return f"stats_{kind}.{_slug(month.tz)}.{month.label}"


def store_packets(store: Any) -> Any:
    """The store's packet table as an Ibis table (the store's own ``ibis()``)."""
    return store.ibis()


def store_fingerprint(store: Any) -> str:
    """A hash of the store's committed inputs and registry: a rollup is stale when it changes."""
    ids = sorted(store.catalog.records())
    text = "\n".join(ids) + "\n" + store.registry().to_toml()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _homes(registry: Any, units_table: pa.Table) -> pa.Table:
    """(sensor, home) for the sensors of a units table: home country from the registry."""
    import pyarrow.compute as pc

    ids = sorted(x for x in pc.unique(units_table["sensor"]).to_pylist() if x is not None)
    return pa.table({
        "sensor": pa.array(ids, pa.string()),
        "home": pa.array([registry[s].country if s in registry else None for s in ids],
                         pa.string()),
    })


#: Every kind written per month (``state`` last: it marks the month fresh).
KINDS: Final = ("units", "buckets", "days", "cells", "summary", "sports", "sport_ports")


def materialise(store: Any, period: Period, *, force: bool = False,
                fingerprint: str | None = None) -> dict[str, int]:
    """Build (or reuse) the rollups for every local month covering ``period``.

    Returns the number of rows written per rollup kind (0 when every month was fresh).
    ``fingerprint`` — :func:`store_fingerprint`, when the caller already has it.
    """
    from teiten.analyses import summary

    fp = fingerprint or store_fingerprint(store)
    reg = store.registry()
    declared = [s.id for s in reg.values() if not s.monitors_everything]
    written = dict.fromkeys(KINDS, 0)
    packets = None
    for month in months_covering(period):
        state = store.read_table(table_name("state", month))
        if (not force and state is not None and "version" in state.column_names
                and state.column("fingerprint")[0].as_py() == fp
                and state.column("version")[0].as_py() == ROLLUP_VERSION):
            continue
        if packets is None:
            packets = store_packets(store)
        built = {
            "units": to_arrow(units(packets, month), UNITS_SCHEMA),
            "buckets": to_arrow(buckets(packets, month), BUCKETS_SCHEMA),
            "days": to_arrow(days(packets, month, declared), DAYS_SCHEMA),
        }
        built["cells"] = to_arrow(cells(ibis.memtable(built["units"])), CELLS_SCHEMA)
        built["sports"], built["sport_ports"] = summary.sports(packets, month, built["cells"])
        sums = summary.build(built["units"], built["cells"], built["buckets"],
                             _homes(reg, built["units"]))
        for kind, tab in built.items():
            store.write_table(table_name(kind, month), tab)
            written[kind] += tab.num_rows
        for name, tab in sums.items():
            store.write_table(table_name("summary", month), tab, partition={"grouping": name})
            written["summary"] += tab.num_rows
        store.write_table(table_name("state", month),
                          pa.table({"fingerprint": [fp], "version": [ROLLUP_VERSION]}))
    return written


def load_summary(store: Any, month: Period, grouping: str) -> pa.Table:
    """One grouping of a materialised month summary (:mod:`teiten.analyses.summary`)."""
    import pyarrow.compute as pc

    from teiten.analyses.summary import SUMMARY_SCHEMA

    tab = store.read_table(table_name("summary", month), filter=pc.field("grouping") == grouping,
                           columns=SUMMARY_SCHEMA.names)
    return SUMMARY_SCHEMA.empty_table() if tab is None else tab.cast(SUMMARY_SCHEMA)


def load(store: Any, period: Period, kind: str) -> pa.Table:
    """Read a materialised rollup for ``period`` (months concatenated, days filtered)."""
    from teiten.analyses.summary import SPORT_PORTS_SCHEMA, SPORTS_SCHEMA

    schema = {"units": UNITS_SCHEMA, "buckets": BUCKETS_SCHEMA, "days": DAYS_SCHEMA,
              "cells": CELLS_SCHEMA, "sports": SPORTS_SCHEMA,
              "sport_ports": SPORT_PORTS_SCHEMA}[kind]
    parts = []
    for month in months_covering(period):
        tab = store.read_table(table_name(kind, month), columns=schema.names)
        if tab is not None:
            parts.append(tab.select(schema.names).cast(schema))
    tab = pa.concat_tables(parts) if parts else schema.empty_table()
    months = months_covering(period)
    whole = period.start == months[0].start and period.end == months[-1].end
    if whole or "day" not in schema.names:
        return tab
    import pyarrow.compute as pc

    d0, d1 = day_number(period.start), day_number(period.end)
    mask = pc.and_(pc.greater_equal(tab["day"], d0), pc.less(tab["day"], d1))
    return tab.filter(mask)


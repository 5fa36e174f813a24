"""Month summaries: the keyed tables every report reads, pre-aggregated once per local month.

The ``units`` rollup has one row per TALOT2 source unit and ``cells`` one per (sensor, day,
port, country); a monthly report over every sensor reads them only to group them again by a
few keys. This module materialises those groupings next to the rollups, so that such a report
reads small tables:

``summary`` — one table, partitioned by ``grouping``; each grouping is the units (or cells, or
buckets) of the whole month and every sensor, grouped by its keys:

============== ========================= =========================================
grouping       keys                      measures
============== ========================= =========================================
total          —                         accesses, source_count, distinct_sources
proto          proto                     accesses, source_count, distinct_sources
port           proto, port               accesses, source_count, distinct_sources
country        country                   accesses, source_count, distinct_sources
home_port      proto, port (home units)  accesses, source_count, distinct_sources
port_country   proto, port, country      accesses, source_count
day_port       day, proto, port          accesses, source_count
day_country    day, country              accesses, source_count
day            day                       accesses, source_count
bucket_country bucket, country           accesses (from ``buckets``)
============== ========================= =========================================

A summary equals the grouping of the context's own units only when the context is the whole
month, every sensor, and no sensor-day with packets is uncovered; the context checks that and
otherwise groups its rollups (:meth:`teiten.analyses.context.Context.by`). Exact either way.

``sports`` / ``sport_ports`` — for the source-port profile without raw packets: for the
``SPORT_PORTS`` busiest TCP/UDP ports of the month, the month's ``SPORTS_PER_PORT`` busiest
source ports per (sensor, day), and per port the ``bound``: the largest month count of a source
port not kept. A profile over any part of the month (days, sensors, coverage) is exact from
these rows when its last listed source port has more accesses than ``bound`` (no source port
left out can reach it) or when nothing was left out (``bound`` 0); otherwise the profile reads
raw packets (:mod:`teiten.analyses.sport_profile`).
"""

from __future__ import annotations

from typing import Any, Final

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from teiten.analyses._common import cell_measures, measures

#: How many TCP/UDP ports (by month accesses, competition rank, ties kept) get source-port rows.
SPORT_PORTS: Final = 20

#: How many source ports are kept per port (the month's busiest; ties broken by number).
SPORTS_PER_PORT: Final = 64

#: grouping → (key columns, with distinct sources, from which rollup).
GROUPINGS: Final[dict[str, tuple[tuple[str, ...], bool, str]]] = {
    "total": ((), True, "units"),
    "proto": (("proto",), True, "units"),
    "port": (("proto", "port"), True, "units"),
    "country": (("country",), True, "units"),
    "home_port": (("proto", "port"), True, "home"),
    "port_country": (("proto", "port", "country"), False, "cells"),
    "day_port": (("day", "proto", "port"), False, "cells"),
    "day_country": (("day", "country"), False, "cells"),
    "day": (("day",), False, "cells"),
    "bucket_country": (("bucket", "country"), False, "buckets"),
}

SUMMARY_SCHEMA: Final = pa.schema([
    pa.field("day", pa.int32(), metadata={"doc": "observation day (day groupings), else null"}),
    pa.field("bucket", pa.int64(), metadata={"doc": "15-minute UTC bucket (bucket_country)"}),
    pa.field("proto", pa.uint8(), metadata={"doc": "IP protocol number"}),
    pa.field("port", pa.int32(), metadata={"doc": "TCP/UDP dport, ICMP type, else null"}),
    pa.field("country", pa.string(), metadata={"doc": "source country (null unknown)"}),
    pa.field("accesses", pa.int64(), metadata={"doc": "packets"}),
    pa.field("source_count", pa.int64(), metadata={"doc": "source units (null for buckets)"}),
    pa.field("distinct_sources", pa.int64(),
             metadata={"doc": "distinct source addresses (null where not kept)"}),
])

SPORTS_SCHEMA: Final = pa.schema([
    pa.field("sensor", pa.string(), metadata={"doc": "sensor id"}),
    pa.field("day", pa.int32(), metadata={"doc": "observation day"}),
    pa.field("proto", pa.uint8(), metadata={"doc": "IP protocol number (TCP or UDP)"}),
    pa.field("port", pa.int32(), metadata={"doc": "destination port"}),
    pa.field("sport", pa.int32(), metadata={"doc": "source port"}),
    pa.field("packets", pa.int64(), metadata={"doc": "accesses"}),
])

SPORT_PORTS_SCHEMA: Final = pa.schema([
    pa.field("proto", pa.uint8(), metadata={"doc": "IP protocol number (TCP or UDP)"}),
    pa.field("port", pa.int32(), metadata={"doc": "destination port"}),
    pa.field("bound", pa.int64(),
             metadata={"doc": "largest month count of a source port not kept (0: all kept)"}),
])


def home_units(units: Any, homes: Any) -> Any:
    """Ibis: the units whose source country is the home country of the sensor that saw them."""
    j = units.join(homes, "sensor")
    return j.filter(j.country == j.home).drop("home")


def grouped(name: str, units: Any, cells: Any, buckets: Any, homes: Any) -> Any:
    """Ibis expression of one grouping over the given rollups (Ibis tables)."""
    keys, distinct, source = GROUPINGS[name]
    if source == "cells":
        return cell_measures(cells, list(keys))
    if source == "buckets":
        return buckets.group_by(list(keys)).aggregate(
            accesses=buckets.packets.sum().cast("int64"))
    base = home_units(units, homes) if source == "home" else units
    return measures(base, list(keys), distinct)


def build(units: pa.Table, cells: pa.Table, buckets: pa.Table,
          homes: pa.Table) -> dict[str, pa.Table]:
    """Every grouping of one month's rollups, each in :data:`SUMMARY_SCHEMA`.

    ``homes`` is (sensor, home): each sensor's home country from the registry.
    """
    u, c, b, h = (ibis.memtable(t) for t in (units, cells, buckets, homes))
    return {name: to_summary(grouped(name, u, c, b, h).to_pyarrow()) for name in GROUPINGS}


def to_summary(tab: pa.Table) -> pa.Table:
    """A grouped table completed with null columns to :data:`SUMMARY_SCHEMA`."""
    n = tab.num_rows
    cols = [tab[f.name].cast(f.type) if f.name in tab.column_names else pa.nulls(n, f.type)
            for f in SUMMARY_SCHEMA]
    return pa.table(cols, schema=SUMMARY_SCHEMA)


def sport_ports(cells: pa.Table) -> list[tuple[int, int]]:
    """The month's busiest TCP/UDP ports (competition rank ≤ :data:`SPORT_PORTS`)."""
    g = ibis.memtable(cells)
    g = g.filter(g.proto.isin([6, 17]) & g.port.notnull())
    g = g.group_by(["proto", "port"]).aggregate(acc=g.accesses.sum())
    g = g.mutate(rank=ibis.rank().over(order_by=ibis.desc(g.acc)))
    tab = g.filter(g["rank"] < SPORT_PORTS).order_by(["proto", "port"]).to_pyarrow()
    return list(zip(tab["proto"].to_pylist(), tab["port"].to_pylist(), strict=True))


def keep_sports(month_counts: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Split month counts (proto, port, sport, n) into the kept (proto, port, sport) and the
    per-port bounds (:data:`SPORT_PORTS_SCHEMA`)."""
    if not month_counts.num_rows:
        return (pa.table({"proto": pa.array([], pa.uint8()), "port": pa.array([], pa.int32()),
                          "sport": pa.array([], pa.int32())}), SPORT_PORTS_SCHEMA.empty_table())
    t = month_counts.sort_by([("proto", "ascending"), ("port", "ascending"),
                              ("n", "descending"), ("sport", "ascending")])
    proto = t["proto"].to_numpy().astype(np.int64)
    port = t["port"].to_numpy().astype(np.int64)
    n = t["n"].to_numpy().astype(np.int64)
    key = proto * 65536 + port
    first = np.r_[True, key[1:] != key[:-1]]
    starts = np.flatnonzero(first)
    pos = np.arange(len(key)) - np.repeat(starts, np.diff(np.r_[starts, len(key)]))
    kept = t.filter(pa.array(pos < SPORTS_PER_PORT)).select(["proto", "port", "sport"])
    at_bound = pos == SPORTS_PER_PORT  # the first source port left out: the largest one
    bound = np.zeros(len(starts), np.int64)
    group = np.cumsum(first) - 1
    bound[group[at_bound]] = n[at_bound]
    bounds = pa.table({"proto": t["proto"].take(pa.array(starts)),
                       "port": t["port"].take(pa.array(starts)),
                       "bound": pa.array(bound)}, schema=SPORT_PORTS_SCHEMA)
    return kept, bounds


def sports(packets: Any, month: Any, cells: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The ``sports`` and ``sport_ports`` rollups of one month from raw packets.

    Two passes over the raw packets of the busiest ports: month counts per source port (to
    choose the kept ones and the bound), then the kept source ports per (sensor, day).
    """
    from teiten.analyses import rollups

    ports = sport_ports(cells)
    if not ports:
        return SPORTS_SCHEMA.empty_table(), SPORT_PORTS_SCHEMA.empty_table()
    t = rollups.in_period(packets, month)
    t = t.filter(t.proto.isin([6, 17]) & t.dport.isin(sorted({q for _, q in ports})))
    t = t.mutate(port=t.dport.cast("int32"), sport=t.sport.cast("int32"))
    counts = t.group_by(["proto", "port", "sport"]).aggregate(n=ibis._.count()).to_pyarrow()
    wanted = pa.table({"proto": pa.array([p for p, _ in ports], pa.uint8()),
                       "port": pa.array([q for _, q in ports], pa.int32())})
    counts = counts.join(wanted, ["proto", "port"], join_type="inner")
    kept, bounds = keep_sports(counts.filter(pc.is_valid(counts["sport"])))
    # the kept source ports are few: filter on them first, then on the exact triples
    t = t.filter(t.sport.isin(sorted(set(kept["sport"].to_pylist()))))
    t = t.semi_join(ibis.memtable(kept), ["proto", "port", "sport"])
    t = t.mutate(day=rollups.day_expr(rollups.epoch_seconds(t), month))
    rows = t.group_by(sensor=t.sensor.cast("string"), day=t.day, proto=t.proto, port=t.port,
                      sport=t.sport).aggregate(packets=ibis._.count())
    return rollups.to_arrow(rows, SPORTS_SCHEMA), bounds

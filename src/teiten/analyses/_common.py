"""Building blocks shared by the keyed analyses (ports, countries, …).

The three base measures of any group of source units (see ``docs/metrics.md``):

``accesses``         sum of packets;
``source_count``     number of units (the TALOT2 延べ発信元数 restricted to the group);
``distinct_sources`` distinct source addresses (IPv4 and IPv6 counted apart — a unit has one).

and the rates derived from them by dividing by the context's covered sensor-days and
address-days.
"""

from __future__ import annotations

from typing import Any, Final

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from teiten.analyses.labels import country_names, port_labels


def f(name: str, typ: pa.DataType, doc: str) -> pa.Field:
    """A schema field with its one-line doc."""
    return pa.field(name, typ, metadata={"doc": doc})


#: The measures every keyed table carries, in order.
MEASURE_FIELDS: Final[list[pa.Field]] = [
    f("accesses", pa.int64(), "packets (アクセス件数)"),
    f("source_count", pa.int64(), "TALOT2 source count (延べ発信元数): units sensor×day×port×src"),
    f("distinct_sources", pa.int64(), "distinct source addresses over the period"),
    f("access_share", pa.float64(), "accesses / all accesses of the selection"),
    f("source_share", pa.float64(), "source_count / all source counts of the selection"),
    f("accesses_per_point_day", pa.float64(),
      "accesses / covered sensor-days (1観測点・1日あたり)"),
    f("sources_per_point_day", pa.float64(), "source_count / covered sensor-days"),
    f("accesses_per_address_day", pa.float64(),
      "accesses / covered address-days (一日・1IP当たり)"),
    f("sources_per_address_day", pa.float64(), "source_count / covered address-days"),
    f("rank", pa.int32(), "rank by the table's sort measure, 1 = largest (ties share a rank)"),
]

PORT_KEY_FIELDS: Final[list[pa.Field]] = [
    f("proto", pa.uint8(), "IP protocol number"),
    f("port", pa.int32(), "destination port (TCP/UDP), ICMP type, else null"),
    f("label", pa.string(), "port label: 445/TCP, 8/ICMP, proto 47"),
]

COUNTRY_KEY_FIELDS: Final[list[pa.Field]] = [
    f("country", pa.string(), "source country, ISO 3166 alpha-2 (null unknown)"),
    f("name_en", pa.string(), "country name in English"),
    f("name_ja", pa.string(), "country name in Japanese"),
]


def cell_measures(c: Any, keys: list[str]) -> Any:
    """Ibis: accesses and source_count of ``ctx.cells`` grouped by ``keys``."""
    aggs = {"accesses": c.accesses.sum().cast("int64"),
            "source_count": c.source_count.sum().cast("int64")}
    return c.group_by(keys).aggregate(**aggs) if keys else c.aggregate(**aggs)


def measures(t: Any, keys: list[str], distinct: bool = True) -> Any:
    """Ibis: accesses, source_count (and distinct_sources) of units grouped by ``keys``."""
    aggs = {
        "accesses": t.packets.sum().cast("int64"),
        "source_count": t.count().cast("int64"),
    }
    if distinct:
        aggs["distinct_sources"] = (t.src.nunique() + t.src6.nunique()).cast("int64")
    if not keys:
        return t.aggregate(**aggs)
    return t.group_by(keys).aggregate(**aggs)


#: Sentinels standing for null keys in joins (null never equals null in a join).
NULL_PORT: Final = -1
NULL_COUNTRY: Final = ""


def key_expr(t: Any, k: str) -> Any:
    """A join-safe version of key column ``k`` (nulls replaced by a sentinel)."""
    if k == "port":
        return t.port.fill_null(NULL_PORT)
    if k == "country":
        return t.country.fill_null(NULL_COUNTRY)
    return t[k]


def top_keys(t: Any, keys: list[str], n: int | None) -> Any:
    """Ibis: the top ``n`` keys by accesses, join-safe (``_k_<key>`` columns) with their rank
    (``_rank``, competition rank from 1)."""
    acc = t.accesses.sum() if "accesses" in t.columns else t.packets.sum()
    g = t.group_by([key_expr(t, k).name(f"_k_{k}") for k in keys]).aggregate(_acc=acc)
    g = g.mutate(_rank=(ibis.rank().over(order_by=ibis.desc(g._acc)) + 1).cast("int32"))
    return g.filter(g._rank <= n) if n is not None else g


def execute(expr: Any) -> pa.Table:
    """Run an Ibis expression and return Arrow."""
    tab: pa.Table = expr.to_pyarrow()
    return tab


def ratio(num: Any, den: float | int) -> Any:
    """Vectorised ``num / den`` as float64; null when ``den`` is 0."""
    arr = pc.cast(num, pa.float64())
    if not den:
        return pa.nulls(len(arr), pa.float64())
    return pc.divide(arr, float(den))


def rank_desc(values: Any) -> pa.Array:
    """Competition ranks (1 = largest; ties share the smallest rank) of a numeric column."""
    v = np.asarray(pc.fill_null(pc.cast(values, pa.float64()), -np.inf).to_numpy(
        zero_copy_only=False))
    if not len(v):
        return pa.array([], pa.int32())
    order = np.argsort(-v, kind="stable")
    sorted_v = v[order]
    first = np.r_[True, sorted_v[1:] != sorted_v[:-1]]
    pos = np.arange(1, len(v) + 1)
    ranks_sorted = np.maximum.accumulate(np.where(first, pos, 0))
    ranks = np.empty(len(v), dtype=np.int32)
    ranks[order] = ranks_sorted
    return pa.array(ranks, pa.int32())


def with_rates(tab: pa.Table, ctx: Any, sort_by: str = "accesses",
               totals: tuple[int, int] | None = None) -> pa.Table:
    """Add shares, per-point-day and per-address-day rates and rank; sort by rank.

    ``totals`` = (all accesses, all source counts) for the shares; by default the table's own.
    """
    acc, src = tab["accesses"], tab["source_count"]
    tot_a, tot_s = totals if totals else (pc.sum(acc).as_py() or 0, pc.sum(src).as_py() or 0)
    tab = tab.append_column("access_share", ratio(acc, tot_a))
    tab = tab.append_column("source_share", ratio(src, tot_s))
    tab = tab.append_column("accesses_per_point_day", ratio(acc, ctx.sensor_days))
    tab = tab.append_column("sources_per_point_day", ratio(src, ctx.sensor_days))
    tab = tab.append_column("accesses_per_address_day", ratio(acc, ctx.address_days))
    tab = tab.append_column("sources_per_address_day", ratio(src, ctx.address_days))
    tab = tab.append_column("rank", rank_desc(tab[sort_by]))
    return sort_by_rank(tab)


def sort_by_rank(tab: pa.Table, extra: list[str] | None = None) -> pa.Table:
    """Sort by rank, then by the key columns for a deterministic order."""
    keys = [("rank", "ascending")] + [(k, "ascending") for k in (extra or [])
                                      if k in tab.column_names]
    for k in ("proto", "port", "country"):
        if k in tab.column_names and (k, "ascending") not in keys:
            keys.append((k, "ascending"))
    return tab.sort_by(keys)


def add_port_label(tab: pa.Table) -> pa.Table:
    """Insert the ``label`` column after ``port``."""
    i = tab.column_names.index("port") + 1
    return tab.add_column(i, "label", port_labels(tab["proto"], tab["port"]))


def add_country_names(tab: pa.Table) -> pa.Table:
    """Insert ``name_en`` and ``name_ja`` after ``country``."""
    i = tab.column_names.index("country") + 1
    tab = tab.add_column(i, "name_en", country_names(tab["country"], "en"))
    return tab.add_column(i + 1, "name_ja", country_names(tab["country"], "ja"))


def top(tab: pa.Table, n: int | None) -> pa.Table:
    """The first ``n`` rows (all when ``n`` is None)."""
    return tab if n is None else tab.slice(0, n)


def day_dates(days: Any) -> pa.Array:
    """int32 day numbers → date32."""
    return pc.cast(pc.cast(days, pa.int32()), pa.date32())


def lit_null(typ: str) -> Any:
    """An Ibis typed null (helper for unions)."""
    return ibis.null(typ)

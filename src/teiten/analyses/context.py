"""The input every analysis reads: rollups of one period, restricted to covered sensor-days.

Build a :class:`Context` with :func:`from_packets` (an Arrow table or Ibis table in the packet
schema — tests, ad-hoc use, another engine) or :func:`from_store` (materialised rollups and
month summaries from the store, read on first use; raw packets only when the source-port
rollup cannot answer). Analyses read

* ``ctx.by(keys, distinct=, home=)`` — accesses, source counts (and distinct sources) grouped by
  ``keys``: from the month summaries when they answer (``ctx.summarised``), else grouped from
  the rollups below; ``ctx.hour_buckets()`` likewise for the hourly profile;
* ``ctx.units`` — Ibis table of source units (``rollups.UNITS_SCHEMA``), covered days only;
* ``ctx.cells`` / ``ctx.buckets`` — units summed over sources / 15-minute buckets, covered only;
* ``ctx.sport_rollups()`` — the source-port rollup of the selection (or None);
* ``ctx.coverage`` — the coverage table; ``ctx.sensor_days`` / ``ctx.address_days``;
* ``ctx.homes`` — Ibis table (sensor, home) of each sensor's home country;
* ``ctx.covered_packets()`` — raw packets on covered sensor-days of the selected sensors (or
  None);
* ``ctx.for_period(p)`` — the same source for another period (trend, comparison), built once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from teiten.analyses import rollups
from teiten.analyses.coverage import Gaps, capture_gaps, compute_coverage
from teiten.analyses.coverage import Params as CoverageParams
from teiten.core.periods import Period, day_number
from teiten.core.schema import PACKET_SCHEMA
from teiten.core.sensors import Registry

Loader = Callable[[Period], "Context"]


#: A rollup, or a function that reads it (on first use).
Source: TypeAlias = "pa.Table | Callable[[], pa.Table]"


def _resolve(src: Source) -> pa.Table:
    return src() if callable(src) else src


class Context:
    """Rollups of one period for a selection of sensors, with coverage applied.

    Use :func:`from_packets` or :func:`from_store` rather than the constructor. ``units``,
    ``buckets`` and ``cells`` may be tables or functions returning them (read on first use);
    ``summary(grouping)`` returns a month summary (:mod:`teiten.analyses.summary`) when the
    period is one whole local month; ``sports()`` the source-port rollups
    ``(sports, sport_ports)`` when the period lies within one local month.
    """

    def __init__(
        self,
        period: Period,
        units: Source,
        buckets: Source,
        days: pa.Table,
        registry: Registry,
        *,
        sensors: list[str] | None = None,
        packets: Callable[[], Any] | None = None,
        coverage_params: CoverageParams | None = None,
        loader: Loader | None = None,
        cells: Source | None = None,
        gaps: Gaps | None = None,
        summary: Callable[[str], pa.Table] | None = None,
        sports: Callable[[], tuple[pa.Table, pa.Table]] | None = None,
    ) -> None:
        self.period = period
        self.gaps = gaps
        self.registry = registry
        self.sensors = list(sensors) if sensors else None
        self.coverage_params = coverage_params or CoverageParams()
        self._loader = loader
        self._packets = packets
        self._sources: dict[str, Source | None] = {"units": units, "buckets": buckets,
                                                   "cells": cells}
        self._tables: dict[Any, Any] = {}
        self._summary = summary
        self._sports = sports
        days = self._select(days)
        self.days_table = days
        self.coverage = compute_coverage(days, registry, period, self.coverage_params,
                                         self.sensors, gaps)
        cov = self.coverage.filter(self.coverage["covered"])
        self.covered_days = pa.table({
            "sensor": cov["sensor"],
            "day": pc.cast(cov["day"], pa.int32()),
            "addresses": cov["addresses"],
        })
        bad = self.coverage.filter(pc.and_(pc.invert(self.coverage["covered"]),
                                           pc.greater(self.coverage["packets"], 0)))
        self._uncovered_with_packets = pa.table({
            "sensor": bad["sensor"], "day": pc.cast(bad["day"], pa.int32())})
        self.sensor_days = self.covered_days.num_rows
        self.address_days = int(pc.sum(self.covered_days["addresses"]).as_py() or 0)
        ids = sorted(set(self.coverage["sensor"].to_pylist()))
        self._memo: dict[Any, Any] = {}
        self.homes = ibis.memtable(pa.table({
            "sensor": pa.array(ids, pa.string()),
            "home": pa.array([registry[s].country if s in registry else None for s in ids],
                             pa.string()),
        }))

    def _select(self, tab: pa.Table) -> pa.Table:
        """Rows of the selected sensors only."""
        if not self.sensors:
            return tab
        return tab.filter(pc.is_in(tab["sensor"], pa.array(self.sensors, pa.string())))

    def _rollup(self, kind: str) -> Any:
        """A rollup as an Ibis table: read on first use, sensors selected, covered days only."""
        if kind not in self._tables:
            src = self._sources[kind]
            if src is None:  # cells: units summed over sources
                t = ibis.memtable(rollups.cells(self.units).to_pyarrow())
            else:
                t = self.covered_only(ibis.memtable(self._select(_resolve(src))))
            self._tables[kind] = t
        return self._tables[kind]

    @property
    def units(self) -> Any:
        """Ibis table of source units (``rollups.UNITS_SCHEMA``), covered sensor-days only."""
        return self._rollup("units")

    @property
    def buckets(self) -> Any:
        """Ibis table of 15-minute buckets (``rollups.BUCKETS_SCHEMA``), covered only."""
        return self._rollup("buckets")

    @property
    def cells(self) -> Any:
        """Ibis table of units summed over sources: (sensor, day, proto, port, country) →
        ``accesses`` and ``source_count`` — what analyses without distinct sources read."""
        return self._rollup("cells")

    @property
    def summarised(self) -> bool:
        """True when the month summaries answer for this context: the period is one whole
        local month, every sensor is selected and no sensor-day with packets is uncovered."""
        return (self._summary is not None and not self.sensors
                and not self._uncovered_with_packets.num_rows)

    def by(self, keys: list[str], *, distinct: bool = False, home: bool = False) -> Any:
        """Ibis table of the base measures grouped by ``keys``.

        Columns: ``keys``, ``accesses``, ``source_count`` and, with ``distinct``,
        ``distinct_sources``. ``home`` — only units whose source country is the home country of
        their sensor. Read from the month summary when it answers (:attr:`summarised`), else
        grouped from ``units`` (distinct sources, home) or ``cells``.
        """
        from teiten.analyses import summary
        from teiten.analyses._common import cell_measures, measures

        name = "home_port" if home else {
            (): "total", ("proto",): "proto", ("proto", "port"): "port",
            ("country",): "country", ("proto", "port", "country"): "port_country",
            ("day", "proto", "port"): "day_port", ("day", "country"): "day_country",
            ("day",): "day"}.get(tuple(keys), "")
        if home and tuple(keys) != ("proto", "port"):
            name = ""
        cols = [*keys, "accesses", "source_count"] + (["distinct_sources"] if distinct else [])
        if self.summarised and name and (summary.GROUPINGS[name][1] or not distinct):
            return self._summary_table(name).select(cols)
        if home:
            return measures(summary.home_units(self.units, self.homes), keys, distinct)
        if distinct:
            return measures(self.units, keys, True)
        return cell_measures(self.cells, keys)

    def _summary_table(self, name: str) -> Any:
        assert self._summary is not None
        key = ("summary", name)
        if key not in self._tables:
            self._tables[key] = ibis.memtable(self._summary(name))
        return self._tables[key]

    def hour_buckets(self) -> Any:
        """Ibis table (country, bucket, accesses): packets per 15-minute UTC bucket and source
        country over the selection."""
        if self.summarised:
            return self._summary_table("bucket_country").select("country", "bucket", "accesses")
        b = self.buckets
        return b.group_by(["country", "bucket"]).aggregate(accesses=b.packets.sum().cast("int64"))

    def sport_rollups(self) -> tuple[Any, pa.Table] | None:
        """The source-port rollups of the selection — (Ibis ``sports`` rows on covered
        sensor-days of the period, ``sport_ports`` bounds) — or None when this context has
        none (:mod:`teiten.analyses.summary`)."""
        if self._sports is None:
            return None
        key = "sports"
        if key not in self._tables:
            rows, bounds = self._sports()
            self._tables[key] = (self.covered_only(ibis.memtable(self._select(rows))), bounds)
        out: tuple[Any, pa.Table] = self._tables[key]
        return out

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Compute once per context (results of analyses reused by comparisons, trend…)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def per_day_coverage(self) -> pa.Table:
        """Covered sensors and addresses per observation day: (day int32, sensors, addresses)."""
        return self.covered_days.group_by("day").aggregate(
            [("sensor", "count"), ("addresses", "sum")]
        ).rename_columns(["day", "sensors", "addresses"])

    def period_packets(self, where: Callable[[Any], Any] | None = None) -> Any:
        """Raw packets of the period with ``day``, ``port`` and string ``sensor`` columns (all
        days, covered or not), or None when the context has no raw packets.

        ``where(t)`` — a predicate on the raw table applied first (cheap pruning).
        """
        if self._packets is None:
            return None
        t = rollups.in_period(self._packets(), self.period)
        if where is not None:
            t = t.filter(where(t))
        t = t.mutate(
            day=rollups.day_expr(rollups.epoch_seconds(t), self.period),
            port=rollups.port_expr(t),
            sensor=t.sensor.cast("string"),
        )
        return t.filter(t.sensor.isin(self.sensors)) if self.sensors else t

    def covered_only(self, t: Any) -> Any:
        """Drop the rows of an Ibis table (with ``sensor`` and ``day``) that lie on uncovered
        sensor-days. Only uncovered days *with packets* (maintenance) can hold rows, so this is
        an anti-join with a tiny table, or nothing at all."""
        if not self._uncovered_with_packets.num_rows:
            return t
        return t.anti_join(ibis.memtable(self._uncovered_with_packets), ["sensor", "day"])

    def covered_packets(self, where: Callable[[Any], Any] | None = None) -> Any:
        """:meth:`period_packets` restricted to covered sensor-days."""
        t = self.period_packets(where)
        return None if t is None else self.covered_only(t)

    def for_period(self, period: Period) -> Context:
        """The same source and sensor selection for another period (built once per context)."""
        if period == self.period:
            return self
        if self._loader is None:
            from teiten.core.errors import UsageError

            raise UsageError("this context cannot load other periods")
        loader = self._loader
        ctx: Context = self.memo(("period", period), lambda: loader(period))
        return ctx

    @property
    def day_range(self) -> tuple[int, int]:
        """The period as day numbers ``[start, end)``."""
        return day_number(self.period.start), day_number(self.period.end)


def _normalise(packets: pa.Table) -> pa.Table:
    """Arrow packet table → types Ibis accepts (dictionary → string, fixed binary → binary)."""
    cols, fields = [], []
    for f in packets.schema:
        col = packets[f.name]
        typ = f.type
        if pa.types.is_dictionary(typ):
            typ = typ.value_type
        elif pa.types.is_fixed_size_binary(typ):
            typ = pa.binary()
        if typ != f.type:
            col = pc.cast(col, typ)
        cols.append(col)
        fields.append(pa.field(f.name, typ))
    return pa.table(cols, schema=pa.schema(fields))


def as_ibis(packets: Any) -> Any:
    """An Ibis table of packets from an Arrow table (normalised) or an Ibis table (as is)."""
    if isinstance(packets, pa.Table):
        missing = [n for n in ("ts", "sensor", "proto", "src", "country") if
                   n not in packets.column_names]
        if missing:
            from teiten.core.errors import SchemaError

            raise SchemaError(f"not a packet table: missing {missing}")
        return ibis.memtable(_normalise(packets))
    return packets


def from_packets(
    packets: Any,
    period: Period,
    *,
    registry: Registry | None = None,
    sensors: list[str] | None = None,
    coverage_params: CoverageParams | None = None,
) -> Context:
    """A context computed straight from a packet table (no materialised rollups).

    Parameters
    ----------
    packets : pyarrow.Table or ibis.Table
        Rows in :data:`teiten.core.schema.PACKET_SCHEMA` (extra columns are ignored).
    period : Period
        The period (its ``tz`` decides the observation days).
    registry : Registry, optional
        Sensors (addresses, home country, maintenance); unknown sensors count the distinct
        destinations they saw as their addresses.
    sensors : list of str, optional
        Restrict to these sensor ids.
    coverage_params : coverage.Params, optional
        Outage and maintenance thresholds.
    """
    reg = registry if registry is not None else Registry([])
    t = as_ibis(packets)
    declared = [s.id for s in reg.values() if not s.monitors_everything]

    def load(p: Period) -> Context:
        return Context(
            p,
            rollups.to_arrow(rollups.units(t, p), rollups.UNITS_SCHEMA),
            rollups.to_arrow(rollups.buckets(t, p), rollups.BUCKETS_SCHEMA),
            rollups.to_arrow(rollups.days(t, p, declared), rollups.DAYS_SCHEMA),
            reg, sensors=sensors, packets=lambda: t, coverage_params=coverage_params, loader=load,
        )

    return load(period)


def from_store(
    store: Any,
    period: Period,
    *,
    sensors: list[str] | None = None,
    coverage_params: CoverageParams | None = None,
    materialise: bool = True,
) -> Context:
    """A context from a store: materialised rollups (built on first use, rebuilt when stale).

    With ``materialise=False`` the rollups are computed from raw packets and not written.
    """
    reg = store.registry()
    gaps = capture_gaps(store.read_table("sensor_health"))
    fp = rollups.store_fingerprint(store) if materialise else None
    raw: list[Any] = []

    def packets() -> Any:  # one DuckDB connection over the store's packets, for every period
        if not raw:
            raw.append(rollups.store_packets(store))
        return raw[0]

    def load(p: Period) -> Context:
        months = rollups.months_covering(p)
        if not materialise:
            t = packets()
            declared = [s.id for s in reg.values() if not s.monitors_everything]
            return Context(
                p, rollups.to_arrow(rollups.units(t, p), rollups.UNITS_SCHEMA),
                rollups.to_arrow(rollups.buckets(t, p), rollups.BUCKETS_SCHEMA),
                rollups.to_arrow(rollups.days(t, p, declared), rollups.DAYS_SCHEMA), reg,
                sensors=sensors, packets=packets,
                coverage_params=coverage_params, loader=load, gaps=gaps)
        rollups.materialise(store, p, fingerprint=fp)
        whole_month = len(months) == 1 and (months[0].start, months[0].end) == (p.start, p.end)

        def summary(grouping: str) -> pa.Table:
            return rollups.load_summary(store, months[0], grouping)

        def sports() -> tuple[pa.Table, pa.Table]:
            return rollups.load(store, p, "sports"), rollups.load(store, p, "sport_ports")

        return Context(
            p, lambda: rollups.load(store, p, "units"), lambda: rollups.load(store, p, "buckets"),
            rollups.load(store, p, "days"), reg, sensors=sensors,
            packets=packets, coverage_params=coverage_params,
            loader=load, cells=lambda: rollups.load(store, p, "cells"), gaps=gaps,
            summary=summary if whole_month else None,
            sports=sports if len(months) == 1 else None)

    return load(period)


def empty_packets() -> pa.Table:
    """An empty packet table (for tests and examples)."""
    return PACKET_SCHEMA.empty_table()

"""The input every analysis reads: rollups of one period, restricted to covered sensor-days.

Build a :class:`Context` with :func:`from_packets` (an Arrow table or Ibis table in the packet
schema — tests, ad-hoc use, another engine) or :func:`from_store` (materialised rollups from the
store; raw packets only for the source-port profile). Analyses read

* ``ctx.units`` — Ibis table of source units (``rollups.UNITS_SCHEMA``), covered days only;
* ``ctx.buckets`` — Ibis table of 15-minute buckets (``rollups.BUCKETS_SCHEMA``), covered only;
* ``ctx.coverage`` — the coverage table; ``ctx.sensor_days`` / ``ctx.address_days``;
* ``ctx.homes`` — Ibis table (sensor, home) of each sensor's home country;
* ``ctx.covered_packets()`` — raw packets on covered sensor-days (or None);
* ``ctx.for_period(p)`` — the same source for another period (trend, comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


class Context:
    """Rollups of one period for a selection of sensors, with coverage applied.

    Use :func:`from_packets` or :func:`from_store` rather than the constructor.
    """

    def __init__(
        self,
        period: Period,
        units: pa.Table,
        buckets: pa.Table,
        days: pa.Table,
        registry: Registry,
        *,
        sensors: list[str] | None = None,
        packets: Callable[[], Any] | None = None,
        coverage_params: CoverageParams | None = None,
        loader: Loader | None = None,
        cells: pa.Table | None = None,
        gaps: Gaps | None = None,
    ) -> None:
        self.period = period
        self.gaps = gaps
        self.registry = registry
        self.sensors = list(sensors) if sensors else None
        self.coverage_params = coverage_params or CoverageParams()
        self._loader = loader
        self._packets = packets
        if self.sensors:
            keep = pa.array(self.sensors, pa.string())
            units = units.filter(pc.is_in(units["sensor"], keep))
            buckets = buckets.filter(pc.is_in(buckets["sensor"], keep))
            days = days.filter(pc.is_in(days["sensor"], keep))
            if cells is not None:
                cells = cells.filter(pc.is_in(cells["sensor"], keep))
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
        self.units = self.covered_only(ibis.memtable(units))
        self.buckets = self.covered_only(ibis.memtable(buckets))
        self.sensor_days = self.covered_days.num_rows
        self.address_days = int(pc.sum(self.covered_days["addresses"]).as_py() or 0)
        ids = sorted(set(self.coverage["sensor"].to_pylist()))
        self._memo: dict[Any, Any] = {}
        self._cells: Any = None if cells is None else self.covered_only(ibis.memtable(cells))
        self.homes = ibis.memtable(pa.table({
            "sensor": pa.array(ids, pa.string()),
            "home": pa.array([registry[s].country if s in registry else None for s in ids],
                             pa.string()),
        }))

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Compute once per context (results of analyses reused by comparisons, trend…)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def cells(self) -> Any:
        """Ibis table of units summed over sources: (sensor, day, proto, port, country) →
        ``accesses`` and ``source_count`` — what analyses without distinct sources read."""
        if self._cells is None:
            self._cells = ibis.memtable(rollups.cells(self.units).to_pyarrow())
        return self._cells

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
        return t.mutate(
            day=rollups.day_expr(rollups.epoch_seconds(t), self.period),
            port=rollups.port_expr(t),
            sensor=t.sensor.cast("string"),
        )

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
        """The same source and sensor selection for another period."""
        if period == self.period:
            return self
        if self._loader is None:
            from teiten.core.errors import UsageError

            raise UsageError("this context cannot load other periods")
        return self._loader(period)

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

    def load(p: Period) -> Context:
        if materialise:
            rollups.materialise(store, p)
            u, b, d, c = (rollups.load(store, p, k)
                          for k in ("units", "buckets", "days", "cells"))
        else:
            t = rollups.store_packets(store)
            declared = [s.id for s in reg.values() if not s.monitors_everything]
            u = rollups.to_arrow(rollups.units(t, p), rollups.UNITS_SCHEMA)
            b = rollups.to_arrow(rollups.buckets(t, p), rollups.BUCKETS_SCHEMA)
            d = rollups.to_arrow(rollups.days(t, p, declared), rollups.DAYS_SCHEMA)
            c = None
        return Context(p, u, b, d, reg, sensors=sensors,
                       packets=lambda: rollups.store_packets(store),
                       coverage_params=coverage_params, loader=load, cells=c, gaps=gaps)

    return load(period)


def empty_packets() -> pa.Table:
    """An empty packet table (for tests and examples)."""
    return PACKET_SCHEMA.empty_table()

"""The ``sensor_health`` table: capture starts, stops, restarts and kernel drop counts.

The capture driver appends rows to a JSON-lines file in its spool directory (capture knows
nothing of the store); the spool follower loads them into the store with :func:`store_health`.
Counters are cumulative within one tcpdump run (``run`` = the run's start time in ns), as
tcpdump reports them; a drop rate is ``dropped / received`` of a run's last row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from teiten.core.schema import DICT_STRING
from teiten.store import Store

TABLE: Final = "sensor_health"

_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("ts", pa.timestamp("ns", tz="UTC"), "time of the event"),
    ("sensor", DICT_STRING, "sensor id"),
    ("interface", pa.string(), "capture interface"),
    ("event", DICT_STRING, "start, stats, exit (tcpdump died), stop (asked to stop)"),
    ("run", pa.int64(), "start time (ns) of the tcpdump run the counters belong to"),
    ("captured", pa.int64(), "packets written by tcpdump in this run (null if not reported)"),
    ("received", pa.int64(), "packets received by the filter in this run"),
    ("dropped", pa.int64(), "packets dropped by the kernel in this run"),
    ("exit_code", pa.int32(), "tcpdump's exit status (exit/stop events)"),
    ("message", pa.string(), "last diagnostic line from tcpdump, if any"),
]
#: The schema of the ``sensor_health`` table.
HEALTH_SCHEMA: Final = pa.schema([pa.field(n, t, metadata={"doc": d}) for n, t, d in _FIELDS])


def health_file(spool: Path, sensor: str) -> Path:
    """Where the capture driver appends the health rows of ``sensor``."""
    return Path(spool) / f".teiten-health-{sensor}.jsonl"


def append_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append health rows (dicts with :data:`HEALTH_SCHEMA` keys) to a JSON-lines file."""
    with open(path, "a", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, sort_keys=True) + "\n")
        fh.flush()


def read_rows(path: Path) -> pa.Table:
    """Read a health JSON-lines file (a torn last line is ignored) as a table."""
    rows: list[dict[str, Any]] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows_to_table(rows)


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Health rows as a :data:`HEALTH_SCHEMA` table (missing keys are null)."""
    return pa.Table.from_arrays(
        [pa.array([r.get(f.name) for r in rows], type=f.type) for f in HEALTH_SCHEMA],
        schema=HEALTH_SCHEMA)


def store_health(store: Store, table: pa.Table) -> int:
    """Merge health rows into the store per sensor and UTC day (idempotent); new rows."""
    table = table.select(HEALTH_SCHEMA.names).cast(HEALTH_SCHEMA)
    if table.num_rows == 0:
        return 0
    days = pc.strftime(table.column("ts"), format="%Y-%m-%d")
    sensors = table.column("sensor").cast(pa.string())
    added = 0
    with store.writing():
        existing = store.read_table(TABLE)
        keys = pa.table({"s": sensors, "d": days}).group_by(["s", "d"]).aggregate([])
        for key in keys.to_pylist():
            sensor, day = str(key["s"]), str(key["d"])
            part = table.filter(pc.and_(pc.equal(sensors, sensor), pc.equal(days, day)))
            before = 0
            if existing is not None:
                hit = pc.and_(pc.equal(existing.column("sensor").cast(pa.string()), sensor),
                              pc.equal(existing.column("date").cast(pa.string()), day))
                old = existing.filter(hit).drop_columns(["sensor", "date"])
                old = old.append_column("sensor", pa.array([sensor] * old.num_rows))
                old = old.select(HEALTH_SCHEMA.names).cast(HEALTH_SCHEMA)
                before = old.num_rows
                part = pa.concat_tables([old, part])
            rows = {json.dumps(r, sort_keys=True, default=str): r for r in part.to_pylist()}
            merged = rows_to_table(sorted(rows.values(), key=lambda r: (r["ts"], r["event"])))
            if merged.num_rows == before:
                continue
            added += merged.num_rows - before
            store.write_table(TABLE, merged.drop_columns(["sensor"]),
                              partition={"sensor": sensor, "date": day})
    return added


def _query(sql: str, health: pa.Table) -> pa.Table:
    con = duckdb.connect()
    con.register("h", health.select(HEALTH_SCHEMA.names).cast(HEALTH_SCHEMA))
    result: pa.Table = con.sql(sql).to_arrow_table()
    return result


def capture_gaps(health: pa.Table) -> pa.Table:
    """Periods without a running capture, from the ``sensor_health`` rows.

    A gap starts at an ``exit`` (tcpdump died) or ``stop`` row and ends at the sensor's next
    ``start`` (``end`` is null while capture has not come back). Coverage subtracts these.

    Returns
    -------
    pyarrow.Table
        ``sensor``, ``start``, ``end``, ``reason`` (``exit`` or ``stop``), ``seconds``.
    """
    return _query(
        "with e as (select cast(sensor as varchar) as sensor, ts, cast(event as varchar) as ev, "
        "first_value(case when cast(event as varchar) = 'start' then ts end ignore nulls) "
        "over (partition by sensor order by ts, cast(event as varchar) = 'start' "
        "rows between 1 following and unbounded following) as next_start "
        "from h where cast(event as varchar) in ('start', 'exit', 'stop')) "
        "select sensor, ts as start, next_start as \"end\", ev as reason, "
        "(epoch_ns(next_start) - epoch_ns(ts)) / 1e9 as seconds "
        "from e where ev in ('exit', 'stop') order by sensor, start", health)


def drops_by_run(health: pa.Table) -> pa.Table:
    """Kernel drops per tcpdump run: the run's last counters and its drop rate.

    Returns
    -------
    pyarrow.Table
        ``sensor``, ``run`` (start, ns), ``captured``, ``received``, ``dropped``, ``drop_rate``
        (dropped / (received + dropped); null when nothing was received).
    """
    return _query(
        "select cast(sensor as varchar) as sensor, run, "
        "arg_max(captured, ts) as captured, arg_max(received, ts) as received, "
        "arg_max(dropped, ts) as dropped, "
        "arg_max(dropped, ts) / nullif(arg_max(received, ts) + arg_max(dropped, ts), 0) "
        "as drop_rate from h where cast(event as varchar) = 'stats' "
        "group by all order by sensor, run", health)

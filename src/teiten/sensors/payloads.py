"""The ``payloads`` table: one row per connection the responsive sensor answered.

Rows are built from :class:`PayloadRecord` (classification happens here, once per connection)
and stored per sensor and UTC day with :func:`store_payloads`. The analyses at the bottom
(:func:`by_protocol`, :func:`by_port`, :func:`top_user_agents`, :func:`tns_programs`,
:func:`join_sources`) are functions from Arrow tables to Arrow tables for the report.

Examples
--------
>>> rec = PayloadRecord(ts_ns=0, sensor="r1", src="198.51.100.7", sport=40000,
...                     dst="192.0.2.1", dport=80, data=b"GET / HTTP/1.0\\r\\n\\r\\n",
...                     length=18, end="eof", wait_ms=3)
>>> t = records_to_table([rec])
>>> t.column("classification")[0].as_py(), by_protocol(t).column("connections")[0].as_py()
('http', 1)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from teiten.core.errors import InputError, SchemaError
from teiten.core.schema import DICT_STRING
from teiten.sensors.classify import classify
from teiten.store import Store

TABLE: Final = "payloads"
#: Segments merged into the store per read-modify-write of the partitions.
_SEGMENTS_PER_LOAD: Final = 32

_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("ts", pa.timestamp("ns", tz="UTC"), "time the connection was accepted"),
    ("sensor", DICT_STRING, "responsive sensor id"),
    ("ip_version", pa.uint8(), "4 or 6"),
    ("src", pa.uint32(), "IPv4 source (null for IPv6)"),
    ("dst", pa.uint32(), "IPv4 destination, the original one under a redirect (null for IPv6)"),
    ("src6", pa.binary(16), "IPv6 source (null for IPv4)"),
    ("dst6", pa.binary(16), "IPv6 destination (null for IPv4)"),
    ("sport", pa.uint16(), "TCP source port"),
    ("dport", pa.uint16(), "TCP destination port (original port under a redirect)"),
    ("bytes", pa.binary(), "first payload bytes the peer sent (capped)"),
    ("length", pa.uint32(), "bytes received before the sensor closed (at most the cap)"),
    ("end", DICT_STRING, "why the sensor closed: eof, timeout, cap, error, stop (shutdown)"),
    ("wait_ms", pa.uint32(), "milliseconds from accept to the first byte (null if none)"),
    ("classification", DICT_STRING, "protocol named by teiten.sensors.classify"),
    ("fields", pa.map_(pa.string(), pa.string()), "fields extracted by the classifier"),
]
#: The schema of the ``payloads`` table (each field carries its doc string).
PAYLOAD_SCHEMA: Final = pa.schema(
    [pa.field(n, t, metadata={"doc": d}) for n, t, d in _FIELDS]
)


@dataclass(frozen=True, slots=True)
class PayloadRecord:
    """What the responder saw on one connection (before classification)."""

    ts_ns: int
    sensor: str
    src: str
    sport: int
    dst: str
    dport: int
    data: bytes
    length: int
    end: str
    wait_ms: int | None


def _addr(text: str) -> tuple[int, int | None, bytes | None]:
    a = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    if a.version == 4:
        return 4, int(a), None
    return 6, None, a.packed


def records_to_table(records: Iterable[PayloadRecord]) -> pa.Table:
    """Classify records and build a :data:`PAYLOAD_SCHEMA` table."""
    cols: dict[str, list[Any]] = {n: [] for n in PAYLOAD_SCHEMA.names}
    for r in records:
        sv, s4, s6 = _addr(r.src)
        _, d4, d6 = _addr(r.dst)
        c = classify(r.data)
        for name, value in (
            ("ts", r.ts_ns), ("sensor", r.sensor), ("ip_version", sv), ("src", s4),
            ("dst", d4), ("src6", s6), ("dst6", d6), ("sport", r.sport), ("dport", r.dport),
            ("bytes", r.data), ("length", r.length), ("end", r.end), ("wait_ms", r.wait_ms),
            ("classification", c.protocol), ("fields", list(c.fields.items())),
        ):
            cols[name].append(value)
    arrays = [pa.array(cols[f.name], type=f.type) for f in PAYLOAD_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=PAYLOAD_SCHEMA)


def classify_column(data: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Classify a binary column, e.g. the packet table's ``payload`` of a passive sensor.

    Each distinct value is classified once and the results are broadcast back, so the cost
    follows the number of distinct payloads, not of packets. Returns ``classification`` and
    ``fields`` aligned with the input (null where the input is null).

    Examples
    --------
    >>> classify_column(pa.array([b"SSH-2.0-Go", None, b"SSH-2.0-Go"])).column(0).to_pylist()
    ['ssh', None, 'ssh']
    """
    arr = data.combine_chunks() if isinstance(data, pa.ChunkedArray) else data
    encoded = pc.dictionary_encode(arr.cast(pa.binary()))
    found = [classify(v) for v in encoded.dictionary.to_pylist()]
    protocols = pa.array([c.protocol for c in found], pa.string())
    fields = pa.array([list(c.fields.items()) for c in found], PAYLOAD_SCHEMA.field("fields").type)
    return pa.table({"classification": protocols.take(encoded.indices),
                     "fields": fields.take(encoded.indices)})


def check_table(table: pa.Table) -> pa.Table:
    """Cast a payloads table to :data:`PAYLOAD_SCHEMA`; SchemaError if it cannot be."""
    missing = set(PAYLOAD_SCHEMA.names) - set(table.column_names)
    if missing:
        raise SchemaError(f"payloads table lacks columns {sorted(missing)}")
    try:
        return table.select(PAYLOAD_SCHEMA.names).cast(PAYLOAD_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"payloads table does not match its schema: {exc}") from exc


def store_payloads(store: Store, table: pa.Table) -> int:
    """Merge payload rows into the store, one partition per sensor and UTC day.

    Each touched partition is read, extended, de-duplicated (same ts, sensor, source, ports)
    and replaced atomically under the store's writer lock, so loading the same segment twice
    adds nothing. Returns the number of new rows.
    """
    table = check_table(table)
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
            if existing is not None and existing.num_rows:
                hit = pc.and_(pc.equal(existing.column("sensor").cast(pa.string()), sensor),
                              pc.equal(existing.column("date").cast(pa.string()), day))
                old = existing.filter(hit).drop_columns(["sensor", "date"])
                old = old.append_column("sensor", pa.array([sensor] * old.num_rows))
                old = check_table(old)
                before = old.num_rows
                part = pa.concat_tables([old, part])
            merged = check_table(_query(
                "select * from m qualify row_number() over (partition by ts, sensor, src, src6, "
                "sport, dst, dst6, dport order by ts) = 1 order by ts", m=part))
            if merged.num_rows == before:
                continue  # nothing new: leave the partition as it is
            added += merged.num_rows - before
            store.write_table(TABLE, merged.drop_columns(["sensor"]),
                              partition={"sensor": sensor, "date": day})
    return added


def read_payloads(store: Store) -> pa.Table:
    """The stored payloads table (empty with the declared schema when none was written)."""
    t = store.read_table(TABLE)
    if t is None:
        return PAYLOAD_SCHEMA.empty_table()
    return check_table(t.drop_columns([c for c in ("date",) if c in t.column_names]))


# -- analyses for the report ------------------------------------------------------------------

_SOURCE = "coalesce(cast(src as varchar), hex(src6))"


def _query(sql: str, **tables: pa.Table) -> pa.Table:
    con = duckdb.connect()
    for name, t in tables.items():
        con.register(name, t)
    result: pa.Table = con.sql(sql).to_arrow_table()
    return result


def by_protocol(payloads: pa.Table) -> pa.Table:
    """Connections, distinct sources and share per classified protocol (largest first)."""
    return _query(
        f"select cast(classification as varchar) as protocol, count(*) as connections, "
        f"count(distinct {_SOURCE}) as sources, "
        f"count(*) / sum(count(*)) over () as share "
        f"from p group by 1 order by connections desc, protocol", p=payloads)


def by_port(payloads: pa.Table, top: int = 20) -> pa.Table:
    """Per destination port: connections, sources and the dominant protocol."""
    return _query(
        f"select dport, count(*) as connections, count(distinct {_SOURCE}) as sources, "
        f"mode(cast(classification as varchar)) as top_protocol "
        f"from p group by dport order by connections desc, dport limit {int(top)}", p=payloads)


def _by_field(payloads: pa.Table, key: str, protocol: str | None, top: int) -> pa.Table:
    where = "and cast(classification as varchar) = $proto" if protocol else ""
    con = duckdb.connect()
    con.register("p", payloads)
    params: dict[str, object] = {"k": key}
    if protocol:
        params["proto"] = protocol
    result: pa.Table = con.sql(
        f"select fields[$k] as value, count(*) as connections, "
        f"count(distinct {_SOURCE}) as sources from p where fields[$k] is not null {where} "
        f"group by 1 order by connections desc, value limit {int(top)}",
        params=params).to_arrow_table()
    return result.rename_columns([key, "connections", "sources"])


def top_user_agents(payloads: pa.Table, top: int = 20) -> pa.Table:
    """The most frequent HTTP User-Agent strings (``user_agent``, connections, sources)."""
    return _by_field(payloads, "user_agent", "http", top)


def tns_programs(payloads: pa.Table, top: int = 20) -> pa.Table:
    """Tool names announced in Oracle TNS connect PROGRAM fields (``program``, ...)."""
    return _by_field(payloads, "program", "tns", top)


def join_sources(payloads: pa.Table, packets: pa.Table) -> pa.Table:
    """What each answered source sent, next to what the packet store saw from it.

    One row per (source, protocol): connections answered, destination ports it sent that
    protocol to, and from the packet table the packets, distinct destination ports and first
    and last time seen (null when the packet store never saw the source). IPv4 sources only.
    """
    return _query(
        "with a as (select src, cast(classification as varchar) as protocol, "
        "count(*) as connections, string_agg(distinct cast(dport as varchar), ',') as ports "
        "from p where src is not null group by 1, 2), "
        "k as (select src, count(*) as packets, count(distinct dport) as packet_ports, "
        "min(ts) as first_seen, max(ts) as last_seen from k0 where src in (select src from a) "
        "group by src) "
        "select a.src, a.protocol, a.connections, a.ports, coalesce(k.packets, 0) as packets, "
        "k.packet_ports, k.first_seen, k.last_seen from a left join k using (src) "
        "order by a.connections desc, a.src, a.protocol",
        p=payloads, k0=packets.select(["src", "dport", "ts"]))


def load_segments(segment_dir: Path, store: Store, *, delete: bool = False) -> tuple[int, int]:
    """Load the responder's segment files into the store's ``payloads`` table.

    Returns ``(segments, new rows)``. Loading is idempotent (rows are de-duplicated), so
    segments may be kept and loaded again; ``delete`` removes each one once it is stored.
    """
    files = sorted(Path(segment_dir).glob("payloads-*.parquet"))
    added = 0
    for start in range(0, len(files), _SEGMENTS_PER_LOAD):
        chunk = files[start : start + _SEGMENTS_PER_LOAD]
        tables = []
        for f in chunk:
            try:
                tables.append(check_table(pq.read_table(f)))
            except (OSError, pa.ArrowInvalid) as exc:
                raise InputError(f"{f}: unreadable payload segment: {exc}") from exc
        added += store_payloads(store, pa.concat_tables(tables))
        if delete:
            for f in chunk:
                f.unlink(missing_ok=True)
    return len(files), added

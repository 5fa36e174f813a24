"""The payloads table: storing per sensor and day, idempotent loads, report tables."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from teiten.core.errors import SchemaError
from teiten.sensors.payloads import (
    PayloadRecord,
    by_port,
    by_protocol,
    check_table,
    classify_column,
    join_sources,
    read_payloads,
    records_to_table,
    store_payloads,
    tns_programs,
    top_user_agents,
)
from teiten.store import create_store

from . import samples as s

DAY = 1_790_000_000_000_000_000  # 2026-09-21 UTC
NS_DAY = 86_400 * 10**9


def _rec(i: int, data: bytes, src: str = "203.0.113.5", dport: int = 80,
         ts: int = DAY) -> PayloadRecord:
    return PayloadRecord(ts_ns=ts + i, sensor="r1", src=src, sport=40000 + i, dst="10.77.0.2",
                         dport=dport, data=data, length=len(data), end="eof", wait_ms=1)


def _table() -> pa.Table:
    return records_to_table([
        _rec(0, s.HTTP), _rec(1, s.HTTP, src="203.0.113.6"),
        _rec(2, s.tns_connect("sqlmap"), dport=1521), _rec(3, s.tns_connect("nmap"), dport=1521),
        _rec(4, s.tns_connect("sqlmap"), src="203.0.113.7", dport=1521),
        _rec(5, b"", dport=23), _rec(6, s.tls_client_hello(), src="2001:db8::1", dport=443),
    ])


def test_addresses_follow_the_packet_table() -> None:
    rows = _table().to_pylist()
    assert rows[0]["src"] == 0xCB007105 and rows[0]["src6"] is None
    assert rows[6]["src"] is None and rows[6]["src6"] == bytes.fromhex("20010db8" + "0" * 23 + "1")


def test_store_is_idempotent(tmp_path: Path) -> None:
    store = create_store(tmp_path)
    assert store_payloads(store, _table()) == 7
    assert store_payloads(store, _table()) == 0
    assert read_payloads(store).num_rows == 7


def test_partitions_by_utc_day(tmp_path: Path) -> None:
    store = create_store(tmp_path)
    store_payloads(store, records_to_table([_rec(0, b"a"), _rec(1, b"b", ts=DAY + NS_DAY)]))
    parts = sorted(p.parent.name for p in (tmp_path / "tables/payloads").rglob("part.parquet"))
    assert parts == ["date=2026-09-21", "date=2026-09-22"]


def test_later_rows_extend_a_partition(tmp_path: Path) -> None:
    store = create_store(tmp_path)
    store_payloads(store, records_to_table([_rec(0, b"a")]))
    assert store_payloads(store, records_to_table([_rec(1, b"b")])) == 1
    assert read_payloads(store).column("bytes").to_pylist() == [b"a", b"b"]


def test_schema_is_checked() -> None:
    with pytest.raises(SchemaError):
        check_table(pa.table({"ts": [1]}))


def test_by_protocol_counts_and_sources() -> None:
    rows = {r["protocol"]: r for r in by_protocol(_table()).to_pylist()}
    assert (rows["tns"]["connections"], rows["tns"]["sources"]) == (3, 2)
    assert rows["http"]["sources"] == 2 and rows["tls"]["sources"] == 1
    assert abs(sum(r["share"] for r in rows.values()) - 1.0) < 1e-9


def test_by_port_names_dominant_protocol() -> None:
    top = by_port(_table()).to_pylist()[0]
    assert (top["dport"], top["connections"], top["top_protocol"]) == (1521, 3, "tns")


def test_tns_program_names() -> None:
    assert tns_programs(_table()).to_pylist() == [
        {"program": "sqlmap", "connections": 2, "sources": 2},
        {"program": "nmap", "connections": 1, "sources": 1}]


def test_top_user_agents() -> None:
    assert top_user_agents(_table()).to_pylist() == [
        {"user_agent": "Mozilla/5.0 zgrab/0.x", "connections": 2, "sources": 2}]


def test_join_to_packet_sources() -> None:
    packets = pa.table({
        "src": pa.array([0xCB007105] * 3 + [0x01020304], pa.uint32()),
        "dport": pa.array([80, 1521, 22, 80], pa.uint16()),
        "ts": pa.array([DAY, DAY + 1, DAY + 2, DAY], pa.timestamp("ns", tz="UTC")),
    })
    rows = join_sources(_table(), packets).to_pylist()
    first = next(r for r in rows if r["src"] == 0xCB007105 and r["protocol"] == "tns")
    assert (first["connections"], first["packets"], first["packet_ports"]) == (2, 3, 3)
    other = next(r for r in rows if r["src"] == 0xCB007106)
    assert (other["packets"], other["first_seen"]) == (0, None)


def test_classify_column_broadcasts_distinct_values() -> None:
    t = classify_column(pa.chunked_array([[s.HTTP, None], [s.SSH, s.HTTP]]))
    assert t.column("classification").to_pylist() == ["http", None, "ssh", "http"]
    assert dict(t.column("fields")[3].as_py())["method"] == "GET"

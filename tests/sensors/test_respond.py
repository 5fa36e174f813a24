"""The responder on loopback, in-process: recording, limits and the disk budget."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from teiten.core.errors import UsageError
from teiten.sensors.respond import (
    Params,
    Responder,
    Stats,
    enforce_budget,
    parse_endpoint,
)

from . import samples as s

FAST = Params(wait_seconds=0.3, flush_seconds=0.2)


def _run(tmp_path: Path, params: Params,
         client: Callable[[int], Awaitable[None]]) -> tuple[Stats, pa.Table]:
    """Start a responder on 127.0.0.1, run the client coroutine, stop, return the records."""
    r = Responder("r1", [("127.0.0.1", 0)], tmp_path / "seg", params)

    async def main() -> Stats:
        stop = asyncio.Event()
        task = asyncio.create_task(r.serve(stop))
        while not r.bound:
            await asyncio.sleep(0.01)
        await client(r.bound[0][1])
        await asyncio.sleep(params.wait_seconds + 0.2)
        stop.set()
        return await task

    stats = asyncio.run(asyncio.wait_for(main(), 30))
    files = sorted((tmp_path / "seg").glob("payloads-*.parquet"))
    table = pa.concat_tables([pq.read_table(f) for f in files]) if files else None
    return stats, table if table is not None else pa.table({})


async def _send(port: int, data: bytes, *, close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if data:
            writer.write(data)
            await writer.drain()
        if close:
            writer.write_eof()
        return await reader.read(100)  # b"" when the responder closes
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def test_records_and_classifies_first_payload(tmp_path: Path) -> None:
    async def client(port: int) -> None:
        assert await _send(port, s.HTTP) == b""

    _, t = _run(tmp_path, FAST, client)
    row = t.to_pylist()[0]
    assert (row["classification"], row["end"], row["length"]) == ("http", "eof", len(s.HTTP))
    assert dict(row["fields"])["user_agent"] == "Mozilla/5.0 zgrab/0.x"
    assert row["src"] == 0x7F000001 and row["dport"] > 0


def test_silent_peer_times_out_as_empty(tmp_path: Path) -> None:
    async def client(port: int) -> None:
        assert await _send(port, b"", close=False) == b""

    _, t = _run(tmp_path, FAST, client)
    row = t.to_pylist()[0]
    assert (row["classification"], row["end"], row["wait_ms"]) == ("empty", "timeout", None)


def test_payload_is_capped(tmp_path: Path) -> None:
    async def client(port: int) -> None:
        await _send(port, b"A" * 5000, close=False)

    _, t = _run(tmp_path, Params(max_bytes=100, wait_seconds=0.3, flush_seconds=0.2), client)
    row = t.to_pylist()[0]
    assert (row["length"], len(row["bytes"]), row["end"]) == (100, 100, "cap")


def test_per_source_rate_resets_excess(tmp_path: Path) -> None:
    params = Params(wait_seconds=0.3, flush_seconds=0.2, per_source_burst=5, per_source_rate=0.1)

    async def client(port: int) -> None:
        await asyncio.gather(*(_send(port, b"x") for _ in range(12)), return_exceptions=True)

    stats, t = _run(tmp_path, params, client)
    assert (stats.accepted, stats.reset_rate, t.num_rows) == (5, 7, 5)


def test_concurrency_cap_resets_excess(tmp_path: Path) -> None:
    params = Params(wait_seconds=0.5, flush_seconds=0.2, max_connections=3)

    async def client(port: int) -> None:
        socks = []
        for _ in range(6):
            c = socket.create_connection(("127.0.0.1", port))
            socks.append(c)
            await asyncio.sleep(0.02)
        for c in socks:
            c.close()

    stats, _ = _run(tmp_path, params, client)
    assert (stats.accepted, stats.reset_busy) == (3, 3)


def test_budget_deletes_oldest_segments(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"payloads-{i:020d}-1-000001.parquet").write_bytes(b"x" * 100)
    assert enforce_budget(tmp_path, 250) == 3
    assert [p.name[9:29] for p in sorted(tmp_path.iterdir())] == [f"{3:020d}", f"{4:020d}"]


def test_endpoint_parsing() -> None:
    assert parse_endpoint("[2001:db8::1]:1521") == ("2001:db8::1", 1521)
    with pytest.raises(UsageError):
        parse_endpoint("10.0.0.1")


def test_ipv6_peer_recorded_in_v6_columns(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    r = Responder("r1", [("::1", 0)], tmp_path / "seg", FAST)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(r.serve(stop))
        while not r.bound:
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("::1", r.bound[0][1])
        writer.write(s.SSH)
        writer.write_eof()
        await reader.read()
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.1)
        stop.set()
        await task

    try:
        asyncio.run(asyncio.wait_for(main(), 30))
    except UsageError as exc:
        pytest.skip(f"cannot listen on ::1: {exc}")
    row = pq.read_table(next((tmp_path / "seg").glob("payloads-*"))).to_pylist()[0]
    assert (row["ip_version"], row["src"], row["src6"]) == (6, None, bytes(15) + b"\x01")
    assert row["classification"] == "ssh"


def test_responder_keeps_segments_within_budget(tmp_path: Path) -> None:
    params = Params(wait_seconds=0.3, flush_seconds=0.2, segment_records=1, budget_bytes=1)

    async def client(port: int) -> None:
        for data in (s.HTTP, s.SSH, s.TELNET):
            await _send(port, data)
            await asyncio.sleep(0.1)

    stats, t = _run(tmp_path, params, client)
    assert (stats.recorded, stats.segments_written) == (3, 3)
    assert stats.segments_deleted == 2 and t.num_rows == 1
    assert t.column("classification").to_pylist() == ["telnet"]


def test_shutdown_records_open_connections(tmp_path: Path) -> None:
    params = Params(wait_seconds=30, flush_seconds=0.2)
    r = Responder("r1", [("127.0.0.1", 0)], tmp_path / "seg", params)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(r.serve(stop))
        while not r.bound:
            await asyncio.sleep(0.01)
        _, writer = await asyncio.open_connection("127.0.0.1", r.bound[0][1])
        writer.write(b"USER root\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)
        stop.set()
        await task
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    asyncio.run(asyncio.wait_for(main(), 30))
    row = pq.read_table(next((tmp_path / "seg").glob("payloads-*"))).to_pylist()[0]
    assert (row["end"], row["bytes"]) == ("stop", b"USER root\r\n")

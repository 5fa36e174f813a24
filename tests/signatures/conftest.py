"""Helpers: build packet tables in PACKET_SCHEMA from a few fields per row."""

from __future__ import annotations

import ipaddress
from typing import Any

import pyarrow as pa
import pytest

from teiten.core.schema import PACKET_SCHEMA

HOME = "192.0.2.0/24"
SRC = "198.51.100.9"
DST = "192.0.2.10"

_PROTO = {"tcp": 6, "udp": 17, "icmp": 1}


def pkt(proto: str | int = "tcp", *, src: str = SRC, dst: str = DST, ts: float = 0.0,
        **fields: Any) -> dict[str, Any]:
    """One row: IPv4 by default; ``payload`` (bytes) also sets ``payload_len``."""
    row: dict[str, Any] = {"proto": _PROTO.get(proto, proto), "ts": int(ts * 1e9), "ttl": 64,
                           "sensor": "s1"}
    a_src, a_dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if a_src.version == 4:
        row.update(ip_version=4, src=int(a_src), dst=int(a_dst), ip_id=1)
    else:
        row.update(ip_version=6, src6=a_src.packed, dst6=a_dst.packed)
    if row["proto"] in (6, 17):
        row.update(sport=40000, dport=80)
    if row["proto"] == 6:
        row.update(tcp_flags=0x02, tcp_seq=1, tcp_ack=0, tcp_win=1024)
    if row["proto"] == 1:
        row.update(icmp_type=8, icmp_code=0, icmp_id=1, icmp_seq=1)
    row["payload_len"] = 0
    row.update(fields)
    if "payload" in fields and "payload_len" not in fields:
        row["payload_len"] = len(fields["payload"])
    return row


def table(rows: list[dict[str, Any]]) -> pa.Table:
    """A PACKET_SCHEMA table; absent fields are null."""
    cols = {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in PACKET_SCHEMA}
    return pa.table(cols, schema=PACKET_SCHEMA)


@pytest.fixture
def mk() -> Any:
    """The (pkt, table) helpers for tests."""
    return pkt, table

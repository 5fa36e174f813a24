"""Every decoded column against dpkt (and tshark) on captures covering each link type/quirk."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from build import NS, T0, eth, pcap, tcp4
from corpus import frames, ipv4_packets, ipv6_packets
from reference import expected

from teiten.capture.reader import CaptureReader

LINKTYPES = [1, 101, 12, 14, 228, 229, 113, 276, 0, 108]


def _packets(linktype: int) -> list[bytes]:
    if linktype == 228:
        return ipv4_packets()
    if linktype == 229:
        return ipv6_packets()
    return ipv4_packets() + ipv6_packets()


def _decode(data: bytes, cap: int = 512) -> tuple[list[dict[str, Any]], CaptureReader]:
    reader = CaptureReader(io.BytesIO(data), "t.pcap", payload_cap=cap)
    table = pa.Table.from_batches(list(reader.batches()))
    return table.to_pylist(), reader


@pytest.mark.parametrize("linktype", LINKTYPES)
def test_every_column_matches_dpkt(linktype: int) -> None:
    fr = frames(linktype, _packets(linktype))
    rows, reader = _decode(pcap(fr, linktype))
    assert reader.damage.counts == {}
    assert len(rows) == len(fr)
    for i, (frame, row) in enumerate(zip(fr, rows, strict=True)):
        want = expected(linktype, frame)
        assert want is not None
        want.update(wire_len=len(frame), interface=0)
        got = {k: row[k] for k in want}
        assert got == want, f"packet {i}"
        assert row["ts"].value == T0 * NS + i * 1000


def test_payload_is_capped() -> None:
    fr = frames(1, ipv4_packets())
    rows, _ = _decode(pcap(fr), cap=16)
    for frame, row in zip(fr, rows, strict=True):
        want = expected(1, frame, payload_cap=16)
        assert want is not None
        assert row["payload"] == want["payload"]
        assert row["payload_len"] == want["payload_len"]


def test_ethernet_padding_is_not_payload() -> None:
    rows, _ = _decode(pcap([eth(tcp4())]))  # 54 bytes padded to 60
    assert rows[0]["wire_len"] == 60
    assert (rows[0]["payload_len"], rows[0]["payload"]) == (0, b"")


@pytest.mark.needs_tshark
def test_fields_match_tshark(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (Debian package tshark)")
    fr = frames(1, ipv4_packets())
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap(fr))
    fields = ["ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.id", "ip.len", "tcp.srcport",
              "tcp.dstport", "udp.srcport", "udp.dstport", "icmp.type", "icmp.code",
              "tcp.flags", "tcp.window_size_value", "tcp.options.mss_val"]
    cmd = ["tshark", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows, _ = _decode(path.read_bytes())
    for line, row in zip(out.splitlines(), rows, strict=True):
        t = dict(zip(fields, line.split("\t"), strict=True))
        assert t["ip.src"] == _ip(row["src"]) and t["ip.dst"] == _ip(row["dst"])
        assert int(t["ip.proto"]) == row["proto"] and int(t["ip.ttl"]) == row["ttl"]
        assert int(t["ip.id"], 16) == row["ip_id"] and int(t["ip.len"]) == row["ip_len"]
        if row["fragment"]:  # tshark leaves L4 of fragments to reassembly
            continue
        sport = t["tcp.srcport"] or t["udp.srcport"]
        dport = t["tcp.dstport"] or t["udp.dstport"]
        # in ICMP errors tshark's first port fields are the quoted packet's
        quoted = row["proto"] == 1
        assert (int(sport) if sport else None) == row["inner_sport" if quoted else "sport"]
        assert (int(dport) if dport else None) == row["inner_dport" if quoted else "dport"]
        assert (int(t["icmp.type"]) if t["icmp.type"] else None) == row["icmp_type"]
        if t["tcp.flags"]:
            assert int(t["tcp.flags"], 16) & 0xFF == row["tcp_flags"]
            assert int(t["tcp.window_size_value"]) == row["tcp_win"]
            mss = t["tcp.options.mss_val"]
            assert (int(mss) if mss else None) == row["tcp_mss"]


def _ip(v: int | None) -> str:
    return "" if v is None else ".".join(str(v >> s & 255) for s in (24, 16, 8, 0))

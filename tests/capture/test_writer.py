"""Tests of teiten.capture.writer: every field and checksum read back by dpkt and tshark."""

from __future__ import annotations

import gzip
import io
import lzma
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import dpkt
import numpy as np
import pytest
import zstandard

from teiten.capture.writer import (
    IP_DF,
    IP_PROTO_ICMP,
    IP_PROTO_TCP,
    IP_PROTO_UDP,
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    TH_ACK,
    TH_SYN,
    CaptureWriter,
    PacketColumns,
    Ragged,
    build_frames,
    quote,
    to_bytes,
    write_pcap,
    write_pcapng,
)
from teiten.core.errors import UsageError

N = 400


def _mixed(seed: int = 7) -> tuple[np.ndarray, PacketColumns]:
    """A fixed-seed mix of TCP (with/without options, payload), UDP, ICMP echo/error, proto 253."""
    rng = np.random.default_rng(seed)
    proto = rng.choice(np.array([6, 17, 1, 253], dtype=np.uint8), N, p=[0.5, 0.2, 0.2, 0.1])
    opts = [rng.choice([b"", b"\x02\x04\x05\xb4", b"\x02\x04\x05\xb4\x01\x03\x03\x08\x01\x01"
                        b"\x04\x02"]) for _ in range(N)]
    pays = [rng.bytes(int(rng.integers(0, 40))) if rng.random() < 0.5 else b"" for _ in range(N)]
    icmp_type = rng.choice(np.array([0, 8, 3], dtype=np.uint8), N)
    inner = PacketColumns.make(
        rng.integers(0, 2**32, N, dtype=np.uint32), rng.integers(0, 2**32, N, dtype=np.uint32),
        IP_PROTO_UDP, sport=rng.integers(0, 65536, N), dport=rng.integers(0, 65536, N),
        payload=b"abcdefgh",
    )
    q = quote(inner)
    pays = [q[i] if proto[i] == 1 and icmp_type[i] == 3 else p for i, p in enumerate(pays)]
    cols = PacketColumns.make(
        rng.integers(0, 2**32, N, dtype=np.uint32), rng.integers(0, 2**32, N, dtype=np.uint32),
        proto, sport=rng.integers(0, 65536, N), dport=rng.integers(0, 65536, N),
        flags=rng.choice(np.array([TH_SYN, TH_SYN | TH_ACK, 0x04], dtype=np.uint8), N),
        seq=rng.integers(0, 2**32, N, dtype=np.uint32),
        ack=rng.integers(0, 2**32, N, dtype=np.uint32), win=rng.integers(0, 65536, N),
        ttl=rng.integers(1, 256, N), ip_id=rng.integers(0, 65536, N),
        ip_frag=rng.choice(np.array([0, IP_DF], dtype=np.uint16), N), icmp_type=icmp_type,
        icmp_code=np.where(icmp_type == 3, 3, 0), icmp_id=rng.integers(0, 65536, N),
        icmp_seq=rng.integers(0, 65536, N),
        tcp_options=Ragged.from_list([o if proto[i] == 6 else b"" for i, o in enumerate(opts)]),
        payload=Ragged.from_list(pays),
    )
    ts = np.sort(rng.integers(1_700_000_000 * 10**9, 1_800_000_000 * 10**9, N))
    return ts, cols


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _check_packet(ip: dpkt.ip.IP, c: PacketColumns, i: int) -> None:
    raw = bytes(ip)
    assert _csum(raw[:20]) == 0xFFFF, "IPv4 header checksum"
    assert ip.src == struct.pack("!I", c.src[i]) and ip.dst == struct.pack("!I", c.dst[i])
    assert (ip.p, ip.ttl, ip.id) == (c.proto[i], c.ttl[i], c.ip_id[i])
    assert ip.df == bool(c.ip_frag[i] & IP_DF) and ip.offset == 0
    seg = raw[20:]
    pseudo = ip.src + ip.dst + struct.pack("!BBH", 0, ip.p, len(seg))
    if ip.p == IP_PROTO_TCP:
        t = ip.data
        assert isinstance(t, dpkt.tcp.TCP)
        assert (t.sport, t.dport, t.seq, t.ack, t.flags, t.win) == (
            c.sport[i], c.dport[i], c.seq[i], c.ack[i], c.flags[i], c.win[i])
        assert t.opts == c.tcp_options[i] and t.data == c.payload[i]
        assert _csum(pseudo + seg) == 0xFFFF, "TCP checksum"
    elif ip.p == IP_PROTO_UDP:
        u = ip.data
        assert (u.sport, u.dport, u.ulen, u.data) == (c.sport[i], c.dport[i], len(seg),
                                                     c.payload[i])
        assert _csum(pseudo + seg) == 0xFFFF, "UDP checksum"
    elif ip.p == IP_PROTO_ICMP:
        m = ip.data
        assert (m.type, m.code) == (c.icmp_type[i], c.icmp_code[i])
        assert struct.unpack("!HH", seg[4:8]) == (c.icmp_id[i], c.icmp_seq[i])
        assert seg[8:] == c.payload[i]
        assert _csum(seg) == 0xFFFF, "ICMP checksum"
    else:
        assert seg == c.payload[i]


def _read_all(data: bytes) -> list[tuple[float, bytes]]:
    f = io.BytesIO(data)
    reader = dpkt.pcapng.Reader(f) if data[:4] == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(f)
    return [(float(ts), buf) for ts, buf in reader]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
@pytest.mark.parametrize("nanosecond", [False, True])
@pytest.mark.parametrize("linktype", [LINKTYPE_ETHERNET, LINKTYPE_RAW])
def test_round_trip_every_field_and_checksum(fmt: str, nanosecond: bool, linktype: int) -> None:
    ts, cols = _mixed()
    data = to_bytes(ts, cols, linktype=linktype, fmt=fmt, nanosecond=nanosecond)  # type: ignore[arg-type]
    recs = _read_all(data)
    assert len(recs) == N
    for i, (t, buf) in enumerate(recs):
        if linktype == LINKTYPE_ETHERNET:
            eth = dpkt.ethernet.Ethernet(buf)
            assert eth.type == 0x0800
            ip = eth.data
        else:
            ip = dpkt.ip.IP(buf)
        _check_packet(ip, cols, i)
        assert t == pytest.approx(ts[i] / 1e9, abs=2e-6)


def test_timestamps_exact_in_nanosecond_pcap() -> None:
    ts, cols = _mixed()
    data = to_bytes(ts, cols, fmt="pcap", nanosecond=True)
    off, got = 24, []
    while off < len(data):
        sec, frac, caplen, _ = struct.unpack_from("<IIII", data, off)
        got.append(sec * 10**9 + frac)
        off += 16 + caplen
    assert got == ts.tolist()


def test_icmp_error_quotes_the_inner_packet() -> None:
    inner = PacketColumns.make([0x01020304], [0x05060708], IP_PROTO_UDP, sport=[1111],
                               dport=[80], payload=b"x" * 30)
    outer = PacketColumns.make([9], [0x01020304], IP_PROTO_ICMP, icmp_type=3, icmp_code=3,
                               payload=quote(inner))
    buf, _off = build_frames(outer, LINKTYPE_RAW)
    ip = dpkt.ip.IP(bytes(buf))
    q = ip.data.data.data  # ICMP -> Unreach -> quoted IP
    assert isinstance(q, dpkt.ip.IP)
    assert (q.src, q.dst, q.len) == (b"\x01\x02\x03\x04", b"\x05\x06\x07\x08", 58)
    assert struct.unpack("!HH", bytes(q)[20:24]) == (1111, 80)
    assert len(ip.data) == 8 + 28


def test_write_frames_equals_write_columns(tmp_path: Path) -> None:
    ts, cols = _mixed()
    buf, off = build_frames(cols)
    for fmt, fn in (("pcap", write_pcap), ("pcapng", write_pcapng)):
        p = tmp_path / f"a.{fmt}"
        fn(p, ts, buf, off, nanosecond=True)
        assert p.read_bytes() == to_bytes(ts, cols, fmt=fmt, nanosecond=True)  # type: ignore[arg-type]


def test_chunked_writes_equal_one_write() -> None:
    ts, cols = _mixed()
    out = io.BytesIO()
    with CaptureWriter(out, fmt="pcapng") as w:
        w.write(ts[:100], cols.take(np.arange(100)))
        w.write(ts[100:], cols.take(np.arange(100, N)))
    assert w.packets == N
    assert out.getvalue() == to_bytes(ts, cols, fmt="pcapng")


@pytest.mark.parametrize(("suffix", "decompress"), [(".gz", gzip.decompress),
                                                    (".xz", lzma.decompress)])
def test_compressed_output_from_the_suffix_is_deterministic_and_readable(
        tmp_path: Path, suffix: str, decompress: Callable[[bytes], bytes]) -> None:
    ts, cols = _mixed()
    buf, off = build_frames(cols)
    a, b = tmp_path / f"a.pcap{suffix}", tmp_path / f"b.pcap{suffix}"
    write_pcap(a, ts, buf, off)
    write_pcap(b, ts, buf, off)
    assert a.read_bytes() == b.read_bytes()
    assert decompress(a.read_bytes()) == to_bytes(ts, cols)


def test_zstd_output_decompresses_to_the_capture(tmp_path: Path) -> None:
    ts, cols = _mixed()
    buf, off = build_frames(cols)
    p = tmp_path / "a.pcapng"
    write_pcapng(p, ts, buf, off, compression="zstd")
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(p.read_bytes())).read()
    assert raw == to_bytes(ts, cols, fmt="pcapng")


def test_pcapng_declares_nanosecond_resolution() -> None:
    ts, cols = _mixed()
    data = to_bytes(ts[:1], cols.take(np.arange(1)), fmt="pcapng", nanosecond=True)
    assert b"\x09\x00\x01\x00\x09" in data[:100]  # if_tsresol = 9 (10^-9 s)
    t, _ = _read_all(data)[0]
    assert t == pytest.approx(ts[0] / 1e9, abs=1e-6)


def test_udp_zero_checksum_is_sent_as_ffff() -> None:
    # find a UDP packet whose checksum would compute to 0 by solving for the payload word
    base = PacketColumns.make([0], [0], IP_PROTO_UDP, payload=b"\0\0")
    buf, _ = build_frames(base, LINKTYPE_RAW)
    c = struct.unpack("!H", bytes(buf[26:28]))[0]
    # payload word w adds to the sum; choose it so the folded sum becomes 0xffff
    w = c  # ~sum == c, adding c makes the sum 0xffff, so the computed checksum is 0
    cols = PacketColumns.make([0], [0], IP_PROTO_UDP, payload=struct.pack("!H", w))
    buf, _ = build_frames(cols, LINKTYPE_RAW)
    assert bytes(buf[26:28]) == b"\xff\xff"


def test_bad_tcp_options_rejected() -> None:
    cols = PacketColumns.make([1], [2], IP_PROTO_TCP, tcp_options=b"\x02\x04\x05")
    with pytest.raises(UsageError, match="multiple of 4"):
        build_frames(cols)


def test_unsupported_linktype_rejected() -> None:
    with pytest.raises(UsageError, match="link type"):
        build_frames(PacketColumns.make([1], [2], IP_PROTO_TCP), 113)


def test_mismatched_column_lengths_rejected() -> None:
    with pytest.raises(UsageError, match="dst"):
        PacketColumns.make([1, 2], np.array([1, 2, 3]), IP_PROTO_TCP)


@pytest.mark.needs_tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_tshark_reads_without_warnings(tmp_path: Path, fmt: str) -> None:
    ts, cols = _mixed()
    p = tmp_path / f"a.{fmt}"
    p.write_bytes(to_bytes(ts, cols, fmt=fmt, nanosecond=True))  # type: ignore[arg-type]
    out = subprocess.run(
        ["tshark", "-n", "-r", str(p), "-o", "ip.check_checksum:TRUE",
         "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
         "-T", "fields", "-e", "ip.checksum.status", "-e", "tcp.checksum.status",
         "-e", "udp.checksum.status", "-e", "icmp.checksum.status", "-e", "_ws.malformed",
         "-e", "_ws.expert.severity"],
        capture_output=True, text=True, check=True, timeout=120,
    )
    assert [ln for ln in out.stderr.splitlines() if "Running as user" not in ln] == []
    rows = out.stdout.splitlines()
    assert len(rows) == N
    own = {IP_PROTO_TCP: 1, IP_PROTO_UDP: 2, IP_PROTO_ICMP: 3}
    for i, row in enumerate(rows):
        fields = row.split("\t")
        assert set(fields[0].split(",")) == {"1"}, "IP checksum good (outer and quoted)"
        # random payloads on random ports may upset application dissectors, never L3/L4 ones
        assert not any(f"Malformed Packet: {p}]" in fields[4] for p in ("IPv4", "TCP", "UDP",
                                                                         "ICMP"))
        if cols.proto[i] in own:
            assert fields[own[cols.proto[i]]].split(",")[0] == "1", "L4 checksum good"

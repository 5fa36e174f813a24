"""Shared fixtures: one small simulated NPA week, decoded back with dpkt (independent reader)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import dpkt
import numpy as np
import pyarrow.parquet as pq
import pytest

from teiten.simulate import Params, load_scenario, parse_period, simulate

PERIOD = "2026-10-01..2026-10-07"
SCALE = 0.02


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


@dataclass
class Decoded:
    """Every packet of a simulated world, decoded with dpkt; one list per field."""

    cols: dict[str, list[object]] = field(default_factory=dict)
    bad_checksums: int = 0

    def add(self, **kw: object) -> None:
        for k, v in kw.items():
            self.cols.setdefault(k, []).append(v)

    def arr(self, name: str) -> np.ndarray:
        return np.array(self.cols[name], dtype=object if name in ("payload", "opts",
                                                                   "sensor") else None)

    def __len__(self) -> int:
        return len(self.cols.get("ts", []))


def decode_dir(out: Path) -> Decoded:
    """Read every capture under ``out/captures`` with dpkt, verifying every checksum."""
    d = Decoded()
    for f in sorted((out / "captures").rglob("*.pcap*")):
        with open(f, "rb") as fh:
            reader = (dpkt.pcapng.Reader(fh) if f.suffix == ".pcapng" else dpkt.pcap.Reader(fh))
            for ts, buf in reader:
                eth = dpkt.ethernet.Ethernet(buf)
                ip = eth.data
                raw = bytes(ip)
                seg = raw[20:]
                pseudo = raw[12:20] + struct.pack("!BBH", 0, ip.p, len(seg))
                ok = _csum(raw[:20]) == 0xFFFF
                row: dict[str, object] = dict(
                    sensor=f.parent.name, ts=float(ts), src=struct.unpack("!I", ip.src)[0],
                    dst=struct.unpack("!I", ip.dst)[0], proto=ip.p, ttl=ip.ttl, ip_id=ip.id,
                    sport=0, dport=0, flags=0, seq=0, ack=0, win=0, opts=b"", payload=b"",
                    icmp_type=-1, icmp_code=-1, icmp_id=-1, inner_src=0, inner_dst=0,
                    inner_sport=0, inner_dport=0)
                if ip.p == 6:
                    t = ip.data
                    ok &= _csum(pseudo + seg) == 0xFFFF
                    row.update(sport=t.sport, dport=t.dport, flags=t.flags, seq=t.seq,
                               ack=t.ack, win=t.win, opts=bytes(t.opts), payload=bytes(t.data))
                elif ip.p == 17:
                    u = ip.data
                    ok &= _csum(pseudo + seg) == 0xFFFF
                    row.update(sport=u.sport, dport=u.dport, payload=bytes(u.data))
                elif ip.p == 1:
                    ok &= _csum(seg) == 0xFFFF
                    row.update(icmp_type=seg[0], icmp_code=seg[1],
                               icmp_id=struct.unpack("!H", seg[4:6])[0], payload=seg[8:])
                    if seg[0] == 3:
                        q = seg[8:]
                        row.update(inner_src=struct.unpack("!I", q[12:16])[0],
                                   inner_dst=struct.unpack("!I", q[16:20])[0],
                                   inner_sport=struct.unpack("!H", q[20:22])[0],
                                   inner_dport=struct.unpack("!H", q[22:24])[0])
                d.add(**row)
                d.bad_checksums += not ok
    return d


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated NPA week at a small scale."""
    out = tmp_path_factory.mktemp("npa")
    s, e = parse_period(PERIOD)
    simulate(load_scenario("npa"), s, e, out, Params(seed=7, scale=SCALE))
    return out


@pytest.fixture(scope="session")
def decoded(world_dir: Path) -> Decoded:
    return decode_dir(world_dir)


@pytest.fixture(scope="session")
def truth(world_dir: Path) -> dict[str, list[object]]:
    return pq.read_table(world_dir / "truth.parquet").to_pydict()


@pytest.fixture(scope="session")
def sources(world_dir: Path) -> dict[str, list[object]]:
    return pq.read_table(world_dir / "truth_sources.parquet").to_pydict()


def actor_mask(decoded: Decoded, sources: dict[str, list[object]], prefix: str) -> np.ndarray:
    """Packets whose source belongs to an actor whose name starts with ``prefix``."""
    srcs = {s for s, a in zip(sources["src"], sources["actor"], strict=True)
            if str(a).startswith(prefix)}
    return np.array([s in srcs for s in decoded.cols["src"]], dtype=bool)

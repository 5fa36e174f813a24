"""``teiten rules check`` and ``teiten signatures`` end to end (capture → store → tables)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import dpkt
import pytest

from teiten.cli.main import main
from teiten.core.sensors import Registry

from .test_bundled_rules import NACHI, SLAMMER

T_OCT = 1_791_072_000  # 2026-10-04 00:00 UTC
T_SEP = 1_788_393_600  # 2026-09-03 00:00 UTC


def frame(src: str, dst: str, l4: dpkt.Packet, proto: int) -> bytes:
    ip = dpkt.ip.IP(src=bytes(map(int, src.split("."))), dst=bytes(map(int, dst.split("."))),
                    p=proto, ttl=64, data=l4)
    ip.len = 20 + len(bytes(l4))
    return bytes(dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x11" * 6, type=0x0800, data=ip))


def write_pcap(path: Path, frames: list[tuple[float, bytes]]) -> None:
    with path.open("wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for ts, fr in frames:
            w.writepkt(fr, ts=ts)


def capture(t0: float, n_slammer: int, n_nachi: int) -> list[tuple[float, bytes]]:
    out = []
    for i in range(n_slammer):
        udp = dpkt.udp.UDP(sport=1055, dport=1434, data=SLAMMER)
        udp.ulen = 8 + len(SLAMMER)
        out.append((t0 + i, frame("203.0.113.7", "192.0.2.10", udp, 17)))
    for i in range(n_nachi):
        icmp = dpkt.icmp.ICMP(type=8, code=0, data=struct.pack(">HH", 1, i) + NACHI)
        out.append((t0 + 100 + i, frame("198.51.100.3", "192.0.2.11", icmp, 1)))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from teiten.ingest.pipeline import ingest

    d = tmp_path_factory.mktemp("sig")
    reg = Registry.from_toml_text('[[sensor]]\nid = "s1"\naddresses = ["192.0.2.0/28"]\n'
                                  'match = ["*"]\n')
    write_pcap(d / "oct.pcap", capture(T_OCT, 6, 4))
    write_pcap(d / "sep.pcap", capture(T_SEP, 2, 8))
    ingest([d / "oct.pcap", d / "sep.pcap"], d / "store", registry=reg)
    return d / "store"


def test_rules_check_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.rules"
    f.write_text('alert tcp any any -> any any (msg:"a"; flags:S; sid:1;)\n'
                 'alert tcp any any -> any any (msg:"b"; flow:established; sid:2;)\n'
                 "alert tcp any any -> any (sid:3;)\n")
    assert main(["rules", "check", str(f)]) == 0
    out = capsys.readouterr().out
    assert "1 compiled, 2 skipped (1 unsupported, 1 syntax errors)" in out
    assert "flow (needs stream state)" in out
    assert f"{f}:3: sid 3 syntax: header needs 7 fields" in out


def test_signatures_tables_and_stored_result(store: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from teiten.store import open_store

    assert main(["signatures", "--store", str(store), "--period", "2026-10", "--tz", "UTC",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    cats = {c["category"]: c for c in out["categories"]}
    # 6 Slammer + 4 Nachi alerts on 16 addresses x 31 covered days? coverage decides the days
    ad = out["meta"]["address_days"]
    assert ad > 0
    assert cats["Worm"]["value_now"] == pytest.approx(10 / ad)
    sids = {s["sid"]: s["hits"] for s in out["signatures"]}
    assert sids[1800001] == 6 and sids[1800002] == 4
    got = open_store(store).read_result("signatures", "2026-10")
    assert got is not None
    counts, meta = got
    assert sum(counts.column("hits").to_pylist()) >= 10
    assert meta["rules"]["compiled"] == 34


def test_signatures_text_output(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signatures", "--store", str(store), "--period", "2026-10", "--tz", "UTC"]) == 0
    out = capsys.readouterr().out
    assert "Table 4-1" in out and "Worm" in out and "TEITEN WORM SQL Slammer" in out

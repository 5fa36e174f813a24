"""Sensors picked by pcapng interface name; countries from a user's MaxMind database."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from teiten.capture.writer import CaptureWriter, PacketColumns
from teiten.core.sensors import Registry
from teiten.ingest.pipeline import ingest
from teiten.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "capture"))
from build import epb, eth, idb, shb, tcp4

T0_US = 1_790_812_800 * 1_000_000


def test_pcapng_interfaces_pick_their_sensors(tmp_path: Path) -> None:
    frames = [(0, "192.0.2.1"), (1, "198.51.100.1"), (1, "198.51.100.1"), (2, "192.0.2.9")]
    data = shb() + idb(1, name="eth-a") + idb(1, name="eth-b") + idb(1, name="eth-x")
    for i, (iface, dst) in enumerate(frames):
        data += epb(eth(bytes(tcp4(dst=dst))), T0_US + i, iface=iface)
    (tmp_path / "multi.pcapng").write_bytes(data)
    reg = Registry.from_toml_text(
        '[[sensor]]\nid = "a"\ninterfaces = ["eth-a"]\n'
        '[[sensor]]\nid = "b"\ninterfaces = ["eth-b"]\n'
    )
    s = ingest([tmp_path / "multi.pcapng"], tmp_path / "st", registry=reg)
    assert s.packets == 3 and s.skipped_by_reason == {"no-sensor": 1}
    t = open_store(tmp_path / "st").packets().to_table(columns=["sensor", "dst"])
    got = sorted(zip(t.column("sensor").to_pylist(), t.column("dst").to_pylist(), strict=True))
    assert got == [("a", 0xC0000201), ("b", 0xC6336401), ("b", 0xC6336401)]


def test_bundled_country_database_knows_well_known_blocks(tmp_path: Path) -> None:
    cols = PacketColumns.tcp_syn(src=[0x08080808, 0x85000001, 0x0A000001], dst=1, dport=23)
    with CaptureWriter(tmp_path / "c.pcap") as w:
        w.write(np.array([1, 2, 3]) + T0_US * 1000, cols)
    ingest([tmp_path / "c.pcap"], tmp_path / "st", sensor="s")
    t = open_store(tmp_path / "st").packets().to_table(columns=["src", "country"])
    by_src = dict(zip(t.column("src").to_pylist(), t.column("country").to_pylist(), strict=True))
    # 8.8.8.8 is Google (US); 133.0.0.0/8 is APNIC's block held in Japan; 10/8 is private
    assert by_src == {0x08080808: "US", 0x85000001: "JP", 0x0A000001: None}


def test_a_maxmind_database_replaces_the_bundled_one(tmp_path: Path) -> None:
    import mmdb_writer  # a dev dependency: a missing one must fail, not skip
    from netaddr import IPSet

    w = mmdb_writer.MMDBWriter(4, "GeoLite2-Country", languages=["en"])
    w.insert_network(IPSet(["8.0.0.0/8"]), {"country": {"iso_code": "FR"}})
    w.insert_network(IPSet(["133.0.0.0/8"]), {"country_code": "KR"})  # IPinfo-lite style
    w.to_db_file(str(tmp_path / "c.mmdb"))
    cols = PacketColumns.tcp_syn(src=[0x08080808, 0x85000001, 0x0B000001], dst=1, dport=23)
    with CaptureWriter(tmp_path / "c.pcap") as cw:
        cw.write(np.array([1, 2, 3]) + T0_US * 1000, cols)
    ingest([tmp_path / "c.pcap"], tmp_path / "st", sensor="s", mmdb=tmp_path / "c.mmdb")
    t = open_store(tmp_path / "st").packets().to_table(columns=["src", "country"])
    by_src = dict(zip(t.column("src").to_pylist(), t.column("country").to_pylist(), strict=True))
    assert by_src == {0x08080808: "FR", 0x85000001: "KR", 0x0B000001: None}


def test_an_unreadable_maxmind_database_is_one_clear_error(tmp_path: Path) -> None:
    from teiten.core.errors import InputError

    (tmp_path / "bad.mmdb").write_bytes(b"not a database")
    (tmp_path / "x.pcap").write_bytes(b"")
    with pytest.raises(InputError, match=r"bad\.mmdb"):
        ingest([tmp_path / "x.pcap"], tmp_path / "st", sensor="s", mmdb=tmp_path / "bad.mmdb")


def test_simple_packet_blocks_without_time_are_counted_not_stored(tmp_path: Path) -> None:
    from build import spb

    data = shb() + idb(1) + epb(eth(bytes(tcp4())), T0_US) + spb(eth(bytes(tcp4(dport=22))))
    (tmp_path / "spb.pcapng").write_bytes(data)
    s = ingest([tmp_path / "spb.pcapng"], tmp_path / "st", sensor="s")
    assert s.packets == 1 and s.skipped_by_reason == {"no-timestamp": 1}
    rec = next(iter(open_store(tmp_path / "st").catalog.records().values()))
    assert rec.skipped == 1 and rec.packets == 1

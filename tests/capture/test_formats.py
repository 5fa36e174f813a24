"""pcap and pcapng framing: magics, byte orders, sections, interfaces, timestamps, block kinds."""

from __future__ import annotations

import io

import pytest
from build import (
    NS,
    T0,
    block,
    epb,
    eth,
    idb,
    pb,
    pcap,
    pcap_header,
    pcap_record,
    shb,
    spb,
    tcp4,
    udp4,
)

from teiten.capture.reader import CaptureReader

FRAME = eth(tcp4())


def _rows(data: bytes) -> tuple[list[dict[str, object]], CaptureReader]:
    reader = CaptureReader(io.BytesIO(data), "t")
    batches = list(reader.batches())
    rows = [r for b in batches for r in b.to_pylist()]
    return rows, reader


@pytest.mark.parametrize("be", [False, True])
@pytest.mark.parametrize("ns", [False, True])
def test_pcap_magic_and_byte_order(be: bool, ns: bool) -> None:
    ts = T0 * NS + 123_456_789
    data = pcap_header(1, be=be, ns=ns) + pcap_record(FRAME, ts, be=be, ns=ns)
    rows, reader = _rows(data)
    assert reader.format == "pcap"
    assert rows[0]["ts"].value == (ts if ns else ts - 789)
    assert rows[0]["dport"] == 23 and rows[0]["wire_len"] == len(FRAME)


def test_pcap_interface_describes_the_file() -> None:
    reader = CaptureReader(io.BytesIO(pcap_header(101, snaplen=96)), "t")
    assert [(i.index, i.linktype, i.snaplen) for i in reader.interfaces] == [(0, 101, 96)]


def test_pcap_counts_records_and_bytes() -> None:
    data = pcap([FRAME] * 5)
    _, reader = _rows(data)
    assert (reader.records, reader.packets, reader.bytes_read) == (5, 5, len(data))


def test_wire_len_is_the_original_length() -> None:
    data = pcap_header(1) + pcap_record(FRAME, wire_len=1514)
    rows, _ = _rows(data)
    assert rows[0]["wire_len"] == 1514


@pytest.mark.parametrize("be", [False, True])
def test_pcapng_byte_orders(be: bool) -> None:
    data = shb(be=be) + idb(1, be=be) + epb(FRAME, T0 * 1_000_000 + 5, be=be)
    rows, reader = _rows(data)
    assert reader.format == "pcapng"
    assert rows[0]["ts"].value == T0 * NS + 5000
    assert rows[0]["dport"] == 23


def test_pcapng_interfaces_have_own_linktype_and_name() -> None:
    data = (shb() + idb(1, name="eth0") + idb(101, name="tun0")
            + epb(FRAME, iface=0) + epb(tcp4(dport=80), iface=1))
    rows, reader = _rows(data)
    assert [(i.linktype, i.name) for i in reader.interfaces] == [(1, "eth0"), (101, "tun0")]
    assert [(r["interface"], r["dport"]) for r in rows] == [(0, 23), (1, 80)]


def test_interfaces_known_before_reading_packets() -> None:
    data = shb() + idb(1, name="darknet0") + epb(FRAME)
    reader = CaptureReader(io.BytesIO(data), "t")
    assert [i.name for i in reader.interfaces] == ["darknet0"]


def test_new_section_resets_interfaces_and_indexes_go_on() -> None:
    data = (shb() + idb(1) + epb(FRAME)
            + shb(be=True) + idb(101, be=True) + epb(tcp4(dport=80), be=True))
    rows, reader = _rows(data)
    assert [(i.index, i.section, i.linktype) for i in reader.interfaces] == [
        (0, 0, 1), (1, 1, 101)]
    assert [(r["interface"], r["dport"]) for r in rows] == [(0, 23), (1, 80)]


def test_packet_naming_previous_section_interface_is_skipped() -> None:
    data = shb() + idb(1) + idb(1) + shb() + idb(1) + epb(FRAME, iface=1)
    rows, reader = _rows(data)
    assert rows == [] and reader.damage.counts == {"no-interface": 1}


@pytest.mark.parametrize(
    ("tsresol", "units", "ns"),
    [
        (None, 1_700_000_000_123_456, 1_700_000_000_123_456_000),  # default µs
        (9, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789),
        (3, 1_700_000_000_123, 1_700_000_000_123_000_000),
        (0x80 | 10, (1_700_000_000 << 10) + 512, 1_700_000_000_500_000_000),  # 2^-10 s
        (0x80 | 32, (5 << 32) + (1 << 31), 5_500_000_000),
    ],
)
def test_pcapng_tsresol(tsresol: int | None, units: int, ns: int) -> None:
    rows, _ = _rows(shb() + idb(1, tsresol=tsresol) + epb(FRAME, units))
    assert rows[0]["ts"].value == ns


def test_pcapng_tsoffset_is_added() -> None:
    rows, _ = _rows(shb() + idb(1, tsoffset=3600) + epb(FRAME, 1_000_000))
    assert rows[0]["ts"].value == (3600 + 1) * NS


def test_simple_packet_block_uses_interface_0_snaplen_and_has_no_time() -> None:
    data = shb() + idb(1, snaplen=40) + spb(FRAME + b"xxxx", wire_len=len(FRAME) + 4)
    rows, _ = _rows(data)
    assert rows[0]["ts"] is None
    assert rows[0]["wire_len"] == len(FRAME) + 4
    assert rows[0]["dport"] == 23  # the snapshot kept the ports
    assert rows[0]["tcp_flags"] is None  # but not the rest of the TCP header


def test_obsolete_packet_block() -> None:
    rows, _ = _rows(shb() + idb(1) + idb(101) + pb(tcp4(dport=8080), iface=1))
    assert (rows[0]["interface"], rows[0]["dport"]) == (1, 8080)


def test_other_blocks_are_skipped() -> None:
    nrb = block(4, b"\0" * 4)
    isb = block(5, b"\0" * 12)
    custom = block(0xBAD, b"\x00\x00\x7e\x7e" + b"data")
    rows, reader = _rows(shb() + idb(1) + nrb + isb + epb(FRAME) + custom + epb(FRAME))
    assert len(rows) == 2 and reader.damage.counts == {} and reader.records == 2


def test_non_ip_frames_are_counted_not_damage() -> None:
    arp = eth(bytes(28), etype=0x0806)
    rows, reader = _rows(pcap([arp, FRAME]))
    assert len(rows) == 1
    assert reader.damage.counts == {"non-ip": 1}
    assert reader.damage.damaged == 0 and reader.damage.skipped == 1
    assert reader.damage.entries == []


def test_batches_are_bounded_and_complete() -> None:
    data = pcap([FRAME] * 3000)
    reader = CaptureReader(io.BytesIO(data), "t", chunk_bytes=4096)
    sizes = [b.num_rows for b in reader.batches()]
    assert sum(sizes) == 3000 and max(sizes) < 100


def test_output_buffers_are_recycled_when_batches_are_dropped() -> None:
    data = pcap([FRAME] * 20000)
    reader = CaptureReader(io.BytesIO(data), "t", chunk_bytes=1 << 16)
    rows = 0
    for batch in reader.batches():
        rows += batch.num_rows
    assert rows == 20000
    assert len(reader._outputs._sets) <= 3  # a set in use, the one the loop holds, a spare


def test_record_larger_than_the_read_chunk() -> None:
    big = eth(udp4(data=bytes(60000)))
    data = shb() + idb(1) + epb(big) + epb(FRAME)
    reader = CaptureReader(io.BytesIO(data), "t", chunk_bytes=4096)
    rows = [r for b in reader.batches() for r in b.to_pylist()]
    assert [r["payload_len"] for r in rows] == [60000, 0]

"""Bad input, built byte by byte: read as far as valid and counted with a located reason, or
rejected with one clear line."""

from __future__ import annotations

import io
import struct

import pytest
from build import block, epb, eth, idb, pcap, pcap_header, pcap_record, shb, tcp4, udp4

from teiten.capture.reader import CaptureReader
from teiten.core.errors import CaptureFormatError, Damage

FRAME = eth(tcp4())
HDR = 24  # classic pcap file header
REC = 16 + len(FRAME)  # one record of FRAME


def _read(data: bytes) -> tuple[list[dict[str, object]], CaptureReader]:
    reader = CaptureReader(io.BytesIO(data), "bad.pcap")
    return [r for b in reader.batches() for r in b.to_pylist()], reader


# ----------------------------------------------------------------- rejected inputs
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"hello, this is not a capture\n", "not a pcap or pcapng capture"),
        (pcap_header()[:10], "pcap file header cut short"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\xde\xad\xbe\xef" + bytes(16), "section header"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00", "section header"),
    ],
)
def test_unusable_input_is_one_clear_line(data: bytes, message: str) -> None:
    with pytest.raises(CaptureFormatError, match=message) as info:
        CaptureReader(io.BytesIO(data), "bad.pcap")
    assert "\n" not in str(info.value) and str(info.value).startswith("bad.pcap: ")


def test_corrupt_compressed_input_is_rejected() -> None:
    with pytest.raises(CaptureFormatError, match="gzip data is corrupt or cut short"):
        CaptureReader(io.BytesIO(b"\x1f\x8b\x08\x00garbage"), "bad.pcap.gz")


# ------------------------------------------------------------------------- pcap
def test_truncated_record_is_located() -> None:
    data = pcap([FRAME, FRAME])[:-5]
    rows, reader = _read(data)
    assert len(rows) == 1
    assert reader.damage.entries == [Damage("bad.pcap", 1, HDR + REC, "truncated-record")]
    assert reader.damage.skipped == 1


def test_truncated_record_header() -> None:
    rows, reader = _read(pcap([FRAME]) + b"\x01\x02\x03")
    assert len(rows) == 1 and reader.damage.counts == {"truncated-record": 1}


def test_record_longer_than_snaplen_is_kept_and_counted() -> None:
    rows, reader = _read(pcap_header(snaplen=40) + pcap_record(FRAME))
    assert len(rows) == 1 and rows[0]["dport"] == 23
    assert reader.damage.counts == {"caplen-exceeds-snaplen": 1}


def test_record_longer_than_the_file() -> None:
    data = pcap_header() + pcap_record(FRAME, caplen=5000)
    rows, reader = _read(data)
    assert rows == [] and reader.damage.counts == {"truncated-record": 1}


def test_garbage_between_records_is_skipped_and_reading_resumes() -> None:
    garbage = b"\xff" * 37
    data = pcap([FRAME, FRAME]) + garbage + b"".join(pcap_record(FRAME) for _ in range(3))
    rows, reader = _read(data)
    assert len(rows) == 5
    assert reader.damage.entries == [Damage("bad.pcap", 2, HDR + 2 * REC, "garbage-skipped")]


def test_absurd_caplen_at_the_end_stops_cleanly() -> None:
    rows, reader = _read(pcap([FRAME]) + struct.pack("<IIII", 0, 0, 0x7FFFFFFF, 60) + bytes(40))
    assert len(rows) == 1 and reader.damage.counts == {"garbage-skipped": 1}


def test_unknown_linktype_records_are_skipped_and_counted() -> None:
    rows, reader = _read(pcap([FRAME, FRAME], linktype=147))
    assert rows == []
    assert reader.damage.counts == {"unknown-linktype": 2} and reader.damage.skipped == 2


# ----------------------------------------------------------------------- pcapng
def test_block_length_not_multiple_of_4_resyncs() -> None:
    bad = struct.pack("<II", 6, 33) + bytes(25)
    data = shb() + idb(1) + epb(FRAME) + bad + epb(FRAME)
    rows, reader = _read(data)
    assert len(rows) == 2
    assert [(e.reason, e.offset) for e in reader.damage.entries] == [
        ("bad-block-length", len(shb() + idb(1) + epb(FRAME)))]


def test_block_running_past_the_end() -> None:
    cut = epb(FRAME)
    rows, reader = _read(shb() + idb(1) + epb(FRAME) + cut[:-10])
    assert len(rows) == 1 and reader.damage.counts == {"truncated-record": 1}


def test_block_trailer_mismatch() -> None:
    good = epb(FRAME)
    broken = good[:-4] + struct.pack("<I", len(good) + 4)
    rows, reader = _read(shb() + idb(1) + broken + epb(FRAME))
    assert len(rows) == 1 and reader.damage.counts == {"block-trailer-mismatch": 1}


def test_packet_before_any_interface_description() -> None:
    rows, reader = _read(shb() + epb(FRAME) + idb(1) + epb(FRAME))
    assert len(rows) == 1
    assert reader.damage.entries == [Damage("bad.pcap", 0, len(shb()), "no-interface")]


def test_captured_length_larger_than_its_block() -> None:
    e = bytearray(epb(FRAME))
    struct.pack_into("<I", e, 20, len(FRAME) + 100)
    rows, reader = _read(shb() + idb(1) + bytes(e))
    assert rows == [] and reader.damage.counts == {"bad-caplen": 1}


def test_short_interface_description_makes_its_packets_unknown() -> None:
    rows, reader = _read(shb() + block(1, b"") + epb(FRAME))
    assert rows == []
    assert reader.damage.counts == {"bad-interface-description": 1, "unknown-linktype": 1}


# ------------------------------------------------------------------- IP and L4
def _ip_variant(offset: int, value: bytes) -> bytes:
    ip = bytearray(tcp4())
    ip[offset : offset + len(value)] = value
    return eth(bytes(ip))


@pytest.mark.parametrize(
    ("offset", "value"),
    [(0, b"\x44"), (0, b"\x65"), (2, b"\x00\x00"), (2, b"\x00\x0a")],
    ids=["ihl<5", "version-mismatch", "total-length-0", "total-length<ihl"],
)
def test_impossible_ip_header_is_skipped_and_counted(offset: int, value: bytes) -> None:
    rows, reader = _read(pcap([_ip_variant(offset, value), FRAME]))
    assert len(rows) == 1
    assert reader.damage.counts == {"bad-ip-header": 1}
    assert reader.damage.entries[0].record == 0


def test_ip_header_cut_by_snapshot() -> None:
    rows, reader = _read(pcap([FRAME[:14 + 12]]))
    assert rows == [] and reader.damage.counts == {"truncated-ip-header": 1}


def test_ip_length_beyond_frame_keeps_the_row() -> None:
    ip = bytearray(udp4(data=b"abcd"))
    struct.pack_into(">H", ip, 2, 1000)
    rows, reader = _read(pcap([eth(bytes(ip))]))
    assert rows[0]["payload_len"] == 1000 - 28 and rows[0]["payload"] == b"abcd" + bytes(14)
    assert reader.damage.counts == {"ip-length-exceeds-frame": 1}


def test_tcp_header_cut_by_snapshot_keeps_ip_fields() -> None:
    rows, reader = _read(pcap([FRAME[: 14 + 20 + 10]]))
    assert rows[0]["src"] is not None and rows[0]["dport"] == 23  # ports were captured
    assert rows[0]["tcp_seq"] is None and rows[0]["tcp_flags"] is None
    assert rows[0]["payload_len"] is None
    assert reader.damage.counts == {"truncated-l4-header": 1}


def test_l4_header_shorter_than_the_ports() -> None:
    rows, reader = _read(pcap([eth(udp4())[: 14 + 20 + 3]]))
    assert rows[0]["proto"] == 17 and rows[0]["dport"] is None
    assert reader.damage.counts == {"truncated-l4-header": 1}


def test_tcp_data_offset_below_5() -> None:
    ip = bytearray(tcp4(data=b"xyz"))
    ip[20 + 12] = 0x30
    rows, reader = _read(pcap([eth(bytes(ip))]))
    assert rows[0]["dport"] == 23 and rows[0]["tcp_opts"] is None
    assert rows[0]["payload"] == b"xyz"
    assert reader.damage.counts == {"bad-tcp-header": 1}


def test_damage_log_keeps_the_first_1000_and_counts_all() -> None:
    arp_free_bad = _ip_variant(0, b"\x44")
    rows, reader = _read(pcap([arp_free_bad] * 1500))
    assert rows == []
    assert reader.damage.counts == {"bad-ip-header": 1500}
    assert len(reader.damage.entries) == 1000
    assert reader.damage.entries[-1].record == 999

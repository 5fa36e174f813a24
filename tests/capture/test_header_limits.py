"""Format versions and timestamps past what the packet table holds (found on the public
test-suite captures: libpcap's invalid-version files, tcpdump's smb_data_print-segv.pcapng)."""

from __future__ import annotations

import io
import struct

import pyarrow as pa
import pytest
from build import NS, T0, block, epb, eth, idb, pcap, shb, tcp4

from teiten.capture.reader import CaptureReader
from teiten.core.errors import CaptureFormatError
from teiten.core.schema import DECODED_SCHEMA


def _read(data: bytes) -> tuple[pa.Table, CaptureReader]:
    reader = CaptureReader(io.BytesIO(data), "t.cap")
    return pa.Table.from_batches(list(reader.batches()), schema=DECODED_SCHEMA), reader


@pytest.mark.parametrize("major,minor", [(1, 4), (3, 0), (0, 0)])
def test_pcap_of_another_major_version_is_rejected(major: int, minor: int) -> None:
    data = bytearray(pcap([eth(tcp4())]))
    struct.pack_into("<HH", data, 4, major, minor)
    with pytest.raises(CaptureFormatError, match=rf"t.cap: unsupported pcap .*{major}\.{minor}"):
        CaptureReader(io.BytesIO(bytes(data)), "t.cap")


def test_pcap_of_another_minor_version_is_read() -> None:
    data = bytearray(pcap([eth(tcp4())]))
    struct.pack_into("<H", data, 6, 5)  # 2.5: tshark reads it
    table, _ = _read(bytes(data))
    assert table.num_rows == 1


@pytest.mark.parametrize("major,minor", [(0, 1), (1, 1), (2, 0)])
def test_pcapng_of_an_unknown_version_is_rejected(major: int, minor: int) -> None:
    head = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, major, minor, -1))
    data = head + idb() + epb(eth(tcp4()))
    with pytest.raises(CaptureFormatError, match=rf"unsupported pcapng .*{major}\.{minor}"):
        CaptureReader(io.BytesIO(data), "t.cap")


@pytest.mark.parametrize(
    "tsresol,late",
    [(None, 1 << 62), (9, 1 << 63), (0x80 | 30, 1 << 63), (0x80 | 1, (1 << 35) * 1000)],
)
def test_pcapng_time_past_2262_is_counted_not_wrapped(tsresol: int | None, late: int) -> None:
    # Past 2262 at microseconds, nanoseconds, 2**-30 s and 1/2 s; a later record with an
    # ordinary time is still read.
    good = {None: T0 * 1_000_000, 9: T0 * NS, 0x80 | 30: T0 << 30, 0x80 | 1: T0 * 2}[tsresol]
    data = shb() + idb(tsresol=tsresol) + epb(eth(tcp4()), late) + epb(eth(tcp4()), good)
    table, reader = _read(data)
    assert table.num_rows == 1
    assert table.column("ts").cast(pa.int64()).to_pylist() == [T0 * NS]
    assert reader.damage.counts == {"timestamp-out-of-range": 1}


def test_pcapng_time_pushed_past_2262_by_the_offset_is_counted() -> None:
    late = 9_000_000_000 * 1_000_000  # 9e9 s in µs: fits, but not with the offset added
    data = shb() + idb(tsoffset=1_000_000_000) + epb(eth(tcp4()), late)
    table, reader = _read(data)
    assert table.num_rows == 0
    assert reader.damage.counts == {"timestamp-out-of-range": 1}

"""Random bytes and random mutations of valid captures: only CaptureFormatError, always ends."""

from __future__ import annotations

import io

from build import epb, eth, idb, pcap, shb, spb
from corpus import frames, ipv4_packets, ipv6_packets
from hypothesis import given, settings
from hypothesis import strategies as st

from teiten.capture.reader import CaptureReader
from teiten.core.errors import CaptureFormatError

PACKETS = ipv4_packets() + ipv6_packets()
VALID_PCAP = pcap(frames(1, PACKETS)) + pcap(frames(113, PACKETS))[24:]
VALID_PCAPNG = (
    shb() + idb(1, name="eth0") + idb(276, tsresol=9)
    + b"".join(epb(f) for f in frames(1, PACKETS[:8]))
    + b"".join(epb(f, iface=1) for f in frames(276, PACKETS[8:]))
    + spb(eth(PACKETS[0]))
    + shb(be=True) + idb(0, be=True) + b"".join(epb(f, be=True) for f in frames(0, PACKETS))
)


def _drain(data: bytes, chunk: int = 1 << 12) -> None:
    try:
        reader = CaptureReader(io.BytesIO(data), "fuzz", chunk_bytes=chunk)
    except CaptureFormatError:
        return
    rows = sum(b.num_rows for b in reader.batches())
    assert rows == reader.packets <= reader.records
    assert reader.bytes_read == len(data)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    _drain(data)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["pcap", "pcapng"]), st.binary(max_size=300))
def test_random_bytes_after_a_valid_header(kind: str, tail: bytes) -> None:
    head = VALID_PCAP[:24] if kind == "pcap" else shb() + idb(1)
    _drain(head + tail)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([VALID_PCAP, VALID_PCAPNG]),
    st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)), min_size=1, max_size=12),
    st.integers(0, 1 << 30),
)
def test_mutated_captures(base: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(base)
    for pos, value in flips:
        data[pos % len(data)] = value
    _drain(bytes(data[: len(data) - cut % 64]))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([VALID_PCAP, VALID_PCAPNG]), st.integers(0, 4000))
def test_every_truncation(base: bytes, cut: int) -> None:
    _drain(base[: cut % (len(base) + 1)])

"""The reader's per-record arrays: sized to an input read whole, and refilled when full."""

from __future__ import annotations

import io

from build import eth, idb, pcap, shb, spb, tcp4

from teiten.capture.reader import MAX_ROWS, CaptureReader

FRAME = eth(tcp4())


def test_small_input_gets_arrays_sized_to_it() -> None:
    r = CaptureReader(io.BytesIO(pcap([FRAME] * 10)), "small.pcap")
    assert r._r_hdr.size < 100 < MAX_ROWS  # not 7 arrays of MAX_ROWS for a 1 KB input
    assert sum(b.num_rows for b in r.batches()) == 10


def test_smallest_records_all_fit_the_sized_arrays() -> None:
    # simple packet blocks with no data are 16 bytes, the smallest packet records
    data = shb() + idb() + spb(b"") * 5000 + spb(FRAME) * 3
    r = CaptureReader(io.BytesIO(data), "tiny-records.pcapng")
    rows = sum(b.num_rows for b in r.batches())
    assert (r.records, rows) == (5003, 3)


def test_input_larger_than_a_chunk_still_uses_full_arrays() -> None:
    data = pcap([FRAME] * 2000)
    r = CaptureReader(io.BytesIO(data), "big.pcap", chunk_bytes=4096)
    assert r._r_hdr.size == MAX_ROWS
    assert sum(b.num_rows for b in r.batches()) == 2000

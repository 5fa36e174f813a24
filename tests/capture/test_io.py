"""Transparent decompression, streaming from non-seekable inputs."""

from __future__ import annotations

import gzip
import io
import lzma
from collections.abc import Callable

import pytest
import zstandard
from build import eth, pcap, tcp4

from teiten.capture.io import open_decompressed
from teiten.capture.reader import CaptureReader

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "xz": lzma.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}
CAPTURE = pcap([eth(tcp4(dport=p)) for p in range(1, 400)])


class Pipe(io.RawIOBase):
    """A non-seekable stream handing out a few bytes at a time, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), 7, len(self._data))
        b[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_plain_data_passes_through() -> None:
    s = open_decompressed(io.BytesIO(b"abcdefgh"))
    assert (s.read(), s.compression) == (b"abcdefgh", None)


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_compressed_capture_from_a_pipe(kind: str) -> None:
    reader = CaptureReader(Pipe(COMPRESSORS[kind](CAPTURE)), "-")  # type: ignore[arg-type]
    ports = [p for b in reader.batches() for p in b.column("dport").to_pylist()]
    assert ports == list(range(1, 400))
    assert reader.damage.counts == {}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_truncated_compressed_stream_is_read_as_far_as_it_goes(kind: str) -> None:
    big = pcap([eth(tcp4(sport=p * 7 % 65536, dport=p % 65536)) for p in range(6000)])
    data = COMPRESSORS[kind](big)
    reader = CaptureReader(io.BytesIO(data[: len(data) * 2 // 3]), "x")
    rows = sum(b.num_rows for b in reader.batches())
    assert 0 < rows < 6000
    assert reader.damage.counts.get("truncated-compressed-stream") == 1


def test_concatenated_zstd_frames() -> None:
    half = len(CAPTURE) // 2
    c = zstandard.ZstdCompressor()
    s = open_decompressed(io.BytesIO(c.compress(CAPTURE[:half]) + c.compress(CAPTURE[half:])))
    assert s.read() == CAPTURE and s.damage is None

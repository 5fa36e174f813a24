"""Transparent decompression, streaming from non-seekable inputs."""

from __future__ import annotations

import gzip
import io
import lzma
import threading
import time
import tracemalloc
import zlib
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


def _zstd_stream(chunks: list[bytes]) -> bytes:
    out = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(out, closefd=False) as w:
        for chunk in chunks:
            w.write(chunk)
    return out.getvalue()


BOMB = 128 << 20  # decompressed size of the bombs below: zeros, after a capture's header


def _bombs() -> dict[str, bytes]:
    head, zeros = CAPTURE[:24], bytes(8 << 20)
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)
    xz = lzma.LZMACompressor()
    return {
        "gzip": gz.compress(head) + b"".join(gz.compress(zeros) for _ in range(16)) + gz.flush(),
        "xz": xz.compress(head) + b"".join(xz.compress(zeros) for _ in range(16)) + xz.flush(),
        "zstd": _zstd_stream([head, *[zeros] * 16]),
    }


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_a_decompression_bomb_is_read_in_bounded_memory(kind: str) -> None:
    # 128 MiB from a few hundred KiB (zstd: 4 KiB): one decompress call used to return all of
    # a 64 KiB piece's output, 2 GiB for zstd; now at most 256 KiB a call, 40 MiB queued.
    data = _bombs()[kind]
    assert len(data) < BOMB // 500
    tracemalloc.start()
    try:
        s = open_decompressed(io.BytesIO(data))
        buf = bytearray(32 << 20)
        total = 0
        while n := s.readinto(buf):
            total += n
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (total, s.damage) == (BOMB + 24, None)
    assert peak - len(buf) < 64 << 20


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_stopping_early_stops_the_decompressing_thread(kind: str) -> None:
    s = open_decompressed(io.BytesIO(COMPRESSORS[kind](bytes(64 << 20))))
    assert s.read(10) == bytes(10)
    s.close()
    deadline = time.monotonic() + 5
    while any(t.name == "teiten-decompress" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the decompressing thread did not stop"
        time.sleep(0.01)


@pytest.mark.parametrize("kind", ["gzip", "xz"])
def test_corrupt_compressed_data_ends_the_input_with_a_reason(kind: str) -> None:
    big = pcap([eth(tcp4(sport=p * 7 % 65536, dport=p % 65536)) for p in range(6000)])
    data = bytearray(COMPRESSORS[kind](big))
    data[len(data) * 3 // 4] ^= 0xFF  # (what one decompress call had decoded is lost with it)
    reader = CaptureReader(io.BytesIO(bytes(data)), "x")
    rows = sum(b.num_rows for b in reader.batches())
    assert 0 < rows < 6000
    assert reader.damage.counts.get("corrupt-compressed-stream") == 1


def test_gzip_members_and_trailing_zero_padding() -> None:
    third = len(CAPTURE) // 3
    parts = [CAPTURE[:third], CAPTURE[third : 2 * third], CAPTURE[2 * third :]]
    data = b"".join(gzip.compress(p) for p in parts) + bytes(512)
    s = open_decompressed(Pipe(data))  # type: ignore[arg-type]
    assert s.read() == CAPTURE and s.damage is None


def test_compressed_input_is_copied_exactly_through_small_reads() -> None:
    # pieces of every size meet reads of every size: the bytes come out in order, once
    payload = bytes(range(256)) * 4096 + bytes(1 << 20) + CAPTURE * 50
    for kind, compress in COMPRESSORS.items():
        s = open_decompressed(io.BytesIO(compress(payload)))
        got, size = bytearray(), 1
        while chunk := s.read(size):
            got += chunk
            size = size * 7 % 300_001 + 1
        assert bytes(got) == payload, kind


def test_a_closed_stream_reads_nothing() -> None:
    s = open_decompressed(io.BytesIO(gzip.compress(bytes(1 << 20))))
    assert s.read(5) == bytes(5)
    s.close()
    assert s.read(5) == b""  # at once: no wait for the stopped thread

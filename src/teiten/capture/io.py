"""Transparent decompression of capture streams (gzip, xz, zstd), streaming and seek-free.

The first bytes are sniffed for a compression magic; the returned reader yields the
decompressed bytes and works on pipes (standard input) as well as on files. A compressed stream
that ends early or is corrupt does not raise: the reader ends there and says why in
:attr:`DecompressedStream.damage`.

Examples
--------
>>> import gzip, io
>>> s = open_decompressed(io.BytesIO(gzip.compress(b"hello")))
>>> s.read(), s.compression
(b'hello', 'gzip')
"""

from __future__ import annotations

import gzip
import io
import lzma
import zlib
from typing import BinaryIO, Final, cast

import zstandard

GZIP_MAGIC: Final = b"\x1f\x8b"
XZ_MAGIC: Final = b"\xfd7zXZ\x00"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"


class _Prefixed(io.RawIOBase):
    """A raw reader that yields ``prefix`` and then the rest of ``raw`` (no seeking needed)."""

    def __init__(self, prefix: bytes, raw: BinaryIO) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        readinto = getattr(self._raw, "readinto", None)
        if readinto is not None:
            got = readinto(view)
            return 0 if got is None else int(got)
        data = self._raw.read(len(view))
        view[: len(data)] = data
        return len(data)


class _ZstdReader:
    """zstd frames decoded incrementally; a frame cut short raises :class:`EOFError`.

    (``zstandard``'s ``stream_reader`` ends silently on a truncated frame, so truncation would
    go unnoticed.)
    """

    _INPUT = 1 << 16

    def __init__(self, source: _Prefixed) -> None:
        self._source = source
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._pending = b""
        self._fed = False
        self._buffer = bytearray()

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if self._obj.eof:
                rest = self._obj.unused_data
                self._obj = self._dctx.decompressobj()
                self._fed = False
                if rest:
                    self._pending = rest
            data = self._pending or _read_prefix(self._source, self._INPUT)
            self._pending = b""
            if not data:
                if self._fed and not self._obj.eof:
                    raise EOFError("zstd frame cut short")
                break
            self._fed = True
            self._buffer += self._obj.decompress(data)
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out


class DecompressedStream(io.RawIOBase):
    """Decompressed bytes of a stream; read errors of the decompressor end the stream.

    Attributes
    ----------
    compression : str or None
        ``gzip``, ``xz``, ``zstd``, or None for plain data.
    damage : str or None
        ``truncated-compressed-stream`` or ``corrupt-compressed-stream`` when the compressed
        data ended early or was corrupt (the bytes before that point were delivered).
    """

    def __init__(
        self, inner: BinaryIO | io.RawIOBase | gzip.GzipFile | lzma.LZMAFile | _ZstdReader,
        compression: str | None,
    ) -> None:
        super().__init__()
        self._inner = inner
        self.compression = compression
        self.damage: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.damage is not None:
            return 0
        view = memoryview(b).cast("B")
        try:
            if isinstance(self._inner, _Prefixed):
                return self._inner.readinto(view)
            data = self._inner.read(len(view))
        except EOFError:
            self.damage = "truncated-compressed-stream"
            return 0
        except (OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as exc:
            if self.compression is None:
                raise
            # zstandard reports a truncated frame as an error, not as EOFError
            text = str(exc).lower()
            truncated = "truncat" in text or "incomplete" in text or "end of" in text
            self.damage = (
                "truncated-compressed-stream" if truncated else "corrupt-compressed-stream"
            )
            return 0
        view[: len(data)] = data
        return len(data)


def _read_prefix(raw: BinaryIO | io.RawIOBase, n: int) -> bytes:
    chunks = b""
    while len(chunks) < n:
        got = raw.read(n - len(chunks))
        if not got:
            break
        chunks += got
    return chunks


def open_decompressed(raw: BinaryIO) -> DecompressedStream:
    """Return a reader of the decompressed bytes of ``raw`` (gzip, xz, zstd or plain).

    Parameters
    ----------
    raw : BinaryIO
        Any readable binary stream; it is never seeked, so pipes work.

    Returns
    -------
    DecompressedStream
        A readable stream; plain data passes through unchanged.

    Examples
    --------
    >>> import io
    >>> open_decompressed(io.BytesIO(b"plain")).read()
    b'plain'
    """
    if isinstance(raw, DecompressedStream):
        return raw
    head = _read_prefix(raw, 6)
    source = _Prefixed(head, raw)
    if head.startswith(GZIP_MAGIC):
        return DecompressedStream(gzip.GzipFile(fileobj=source, mode="rb"), "gzip")
    if head.startswith(XZ_MAGIC):
        return DecompressedStream(lzma.LZMAFile(cast(BinaryIO, source), mode="rb"), "xz")
    if head.startswith(ZSTD_MAGIC):
        return DecompressedStream(_ZstdReader(source), "zstd")
    return DecompressedStream(source, None)

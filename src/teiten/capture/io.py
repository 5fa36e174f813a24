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

import io
import lzma
import zlib
from collections.abc import Callable
from typing import BinaryIO, Final, Protocol

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


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


class _IncrementalReader:
    """Compressed members decoded incrementally, so nothing decoded is lost at a cut.

    (``gzip.GzipFile`` drops what it decoded in a ``read`` that hits a cut, and ``zstandard``'s
    ``stream_reader`` ends silently on a truncated frame.) A member cut short raises
    :class:`EOFError` once everything before the cut has been returned; corrupt data raises the
    decompressor's error the same way. Concatenated members are read one after another;
    trailing zero padding is ignored.
    """

    _INPUT = 1 << 16

    def __init__(self, source: _Prefixed, make: Callable[[], _Decompressor]) -> None:
        self._source = source
        self._make = make
        self._obj = make()
        self._pending = b""
        self._fed = False
        self._buffer = bytearray()
        self._error: Exception | None = None

    def _more(self) -> bool:
        """Decode one more input piece into the buffer; False at the end."""
        if self._obj.eof:
            rest = self._obj.unused_data + self._pending
            self._pending = b""
            if rest.strip(b"\0") or (not rest and self._peek()):
                self._obj = self._make()
                self._fed = False
                self._pending = rest or self._pending
            else:
                return False
        data = self._pending or _read_prefix(self._source, self._INPUT)
        self._pending = b""
        if not data:
            if self._fed and not self._obj.eof:
                raise EOFError("compressed stream cut short")
            return False
        self._fed = True
        self._buffer += self._obj.decompress(data)
        return True

    def _peek(self) -> bool:
        self._pending = _read_prefix(self._source, self._INPUT)
        return bool(self._pending.strip(b"\0"))

    def read(self, n: int) -> bytes:
        if self._error is not None and not self._buffer:
            raise self._error
        try:
            while len(self._buffer) < n and self._more():
                pass
        except Exception as exc:  # handed out after the bytes decoded before it
            self._error = exc
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        if not out and self._error is not None:
            raise self._error
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
        self, inner: _Prefixed | _IncrementalReader,
        compression: str | None, errors: tuple[type[Exception], ...] = (),
    ) -> None:
        super().__init__()
        self._inner = inner
        self.compression = compression
        # the decompressor's own error types, beside OSError, zlib.error and LZMAError
        # (``zstandard`` is imported only for a zstd stream: ~6 ms of every start-up)
        self._errors: tuple[type[Exception], ...] = (OSError, zlib.error, lzma.LZMAError,
                                                     *errors)
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
        except self._errors as exc:
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
        return DecompressedStream(
            _IncrementalReader(source, lambda: zlib.decompressobj(wbits=31)), "gzip"
        )
    if head.startswith(XZ_MAGIC):
        return DecompressedStream(_IncrementalReader(source, lambda: lzma.LZMADecompressor()),
                                  "xz")
    if head.startswith(ZSTD_MAGIC):
        import zstandard

        dctx = zstandard.ZstdDecompressor()
        return DecompressedStream(_IncrementalReader(source, lambda: dctx.decompressobj()),
                                  "zstd", (zstandard.ZstdError,))
    return DecompressedStream(source, None)

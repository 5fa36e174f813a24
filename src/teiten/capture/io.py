"""Transparent decompression of capture streams (gzip, xz, zstd), streaming and seek-free.

The first bytes are sniffed for a compression magic; the returned reader yields the
decompressed bytes and works on pipes (standard input) as well as on files. A compressed stream
that ends early or is corrupt does not raise: the reader ends there and says why in
:attr:`DecompressedStream.damage`. Compressed data is decompressed in a thread, ahead of the
reader, in pieces of bounded size: a small file that expands to gigabytes (a "bomb") costs
time, not memory.

Examples
--------
>>> import gzip, io
>>> s = open_decompressed(io.BytesIO(gzip.compress(b"hello")))
>>> s.read(), s.compression
(b'hello', 'gzip')
"""

from __future__ import annotations

import contextlib
import io
import lzma
import queue
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from types import ModuleType
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
    """One compressed member's decoder, as ``lzma.LZMADecompressor`` and PEP 784's
    ``compression.zstd.ZstdDecompressor``: output bounded by ``max_length``, ``needs_input``
    False while output is pending."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _GzipMember:
    """A gzip member's ``zlib`` decoder behind the :class:`_Decompressor` interface."""

    def __init__(self) -> None:
        self._obj = zlib.decompressobj(wbits=31)
        self.needs_input = True

    @property
    def eof(self) -> bool:
        return self._obj.eof

    @property
    def unused_data(self) -> bytes:
        return self._obj.unused_data

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if not self.needs_input:  # the input left over by the last call's output limit
            data = self._obj.unconsumed_tail + data
        out = self._obj.decompress(data, max(max_length, 0))
        # zlib may hold output back at the limit even when all input is consumed
        self.needs_input = not self._obj.unconsumed_tail and (
            max_length <= 0 or len(out) < max_length
        )
        return out


#: Compressed bytes read at a time.
_INPUT: Final = 1 << 17
#: Most decompressed bytes one call returns: memory stays bounded however far the data
#: expands (a zstd frame of zeros expands 30,000 times: 64 KiB of it are 2 GB).
_OUTPUT: Final = 1 << 18
#: Decompressed pieces held ahead of the reader: 40 MiB, a little more than the capture
#: reader takes at a time (32 MiB), so that the next chunk is ready when it is asked for
#: (with 8 MiB, the reader waited for the rest of each chunk: zstd inputs 25 % slower).
_AHEAD: Final = 160
_END: Final = object()


class _IncrementalReader:
    """Compressed members decoded in a thread of their own, so nothing decoded is lost at a cut.

    (``gzip.GzipFile`` drops what it decoded in a ``read`` that hits a cut, and ``zstandard``'s
    ``stream_reader`` ends silently on a truncated frame.) A member cut short raises
    :class:`EOFError` once everything before the cut has been returned; corrupt data raises the
    decompressor's error the same way. Concatenated members are read one after another;
    trailing zero padding is ignored.

    The thread reads and decompresses (both release the GIL) while the caller decodes what
    came before: decompression is off the critical path, and each byte is copied once, from
    the decompressor's output into the caller's buffer. At most :data:`_AHEAD` pieces of
    :data:`_OUTPUT` bytes wait, whatever the compression ratio.
    """

    def __init__(self, source: _Prefixed, make: Callable[[], _Decompressor]) -> None:
        self._source = source
        self._make = make
        self._queue: queue.Queue[object] = queue.Queue(_AHEAD)
        self._stop = threading.Event()
        self._piece = memoryview(b"")
        self._error: BaseException | None = None
        self._done = False
        self._thread = threading.Thread(target=self._produce, name="teiten-decompress",
                                        daemon=True)
        self._thread.start()

    def _pieces(self) -> Iterator[bytes]:
        """The decompressed bytes, piece by piece, member after member."""
        obj = self._make()
        fed = False
        pending = b""
        while True:
            if obj.eof:
                rest = obj.unused_data + pending
                if not rest:
                    rest = _read_prefix(self._source, _INPUT)
                if not rest.strip(b"\0"):
                    return  # the end, or zero padding after the last member
                obj, fed, pending = self._make(), False, rest
            if obj.needs_input:
                data = pending or _read_prefix(self._source, _INPUT)
                pending = b""
                if not data:
                    if fed:
                        raise EOFError("compressed stream cut short")
                    return
                fed = True
            else:
                data = b""
            out = obj.decompress(data, _OUTPUT)
            if out:
                yield out

    def _produce(self) -> None:
        item: object = _END
        try:
            for piece in self._pieces():
                if not self._put(piece):
                    return
        except BaseException as exc:  # handed to the reader after the bytes before it
            item = exc
        self._put(item)

    def _put(self, item: object) -> bool:
        """Queue ``item`` unless the reader has gone (then False)."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` as far as the data goes; 0 at the end. The decompressor's error, or
        :class:`EOFError` for a cut, is raised once the bytes before it have been read."""
        if self._stop.is_set():
            return 0  # closed: nothing more will come
        n = 0
        while n < len(view):
            if not self._piece:
                if self._done:
                    break
                item = self._queue.get()
                if isinstance(item, bytes):
                    self._piece = memoryview(item)
                    continue
                self._done = True
                if isinstance(item, BaseException):
                    self._error = item
                break
            k = min(len(view) - n, len(self._piece))
            view[n : n + k] = self._piece[:k]
            self._piece = self._piece[k:]
            n += k
        if n == 0 and self._error is not None:
            raise self._error
        return n

    def close(self) -> None:
        """Stop the thread (it ends within its current read)."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()


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
        # (the zstd module is imported only for a zstd stream: ~5 ms of every start-up)
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
            return self._inner.readinto(view)
        except EOFError:
            self.damage = "truncated-compressed-stream"
            return 0
        except self._errors as exc:
            if self.compression is None:
                raise
            # a decoder may report a truncated member as an error, not as EOFError
            text = str(exc).lower()
            truncated = "truncat" in text or "incomplete" in text or "end of" in text
            self.damage = (
                "truncated-compressed-stream" if truncated else "corrupt-compressed-stream"
            )
            return 0

    def close(self) -> None:
        """Stop decompressing (the underlying stream is the caller's to close)."""
        if isinstance(self._inner, _IncrementalReader):
            self._inner.close()
        super().close()


def _read_prefix(raw: BinaryIO | io.RawIOBase, n: int) -> bytes:
    chunks = b""
    while len(chunks) < n:
        got = raw.read(n - len(chunks))
        if not got:
            break
        chunks += got
    return chunks


def zstd_module() -> ModuleType:
    """PEP 784's ``compression.zstd`` (Python 3.14), or its backport before that. Imported
    on first use: ~5 ms that a run without zstd data does without."""
    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd
    return zstd


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
        return DecompressedStream(_IncrementalReader(source, _GzipMember), "gzip")
    if head.startswith(XZ_MAGIC):
        return DecompressedStream(_IncrementalReader(source, lambda: lzma.LZMADecompressor()),
                                  "xz")
    if head.startswith(ZSTD_MAGIC):
        zstd = zstd_module()
        return DecompressedStream(_IncrementalReader(source, zstd.ZstdDecompressor), "zstd",
                                  (zstd.ZstdError,))
    return DecompressedStream(source, None)

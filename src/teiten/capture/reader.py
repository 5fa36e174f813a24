"""Read a pcap or pcapng capture as a stream of :data:`DECODED_SCHEMA` record batches.

The input is read in chunks of ``chunk_bytes`` (memory stays bounded whatever its size), framed
and decoded by compiled kernels (:mod:`framing`, :mod:`decode`), and turned into Arrow batches
(:mod:`arrow`). Problems never raise once the header is read: they are counted and located in
:attr:`CaptureReader.damage`. Only an input that is not a capture at all raises
:class:`~teiten.core.errors.CaptureFormatError`, with one line.

Bad input (each case is built byte by byte in ``tests/capture/test_bad_input.py``):

* empty, unreadable, not pcap/pcapng, pcap file header cut short, first pcapng section header
  unreadable: :class:`~teiten.core.errors.CaptureFormatError`, one line naming the input;
* a record or block running past the end of the input: ``truncated-record`` (the bytes after
  it are still scanned for a plausible record, so a bogus length does not hide the rest);
* pcap record with a captured length above 262144 (libpcap's limit): ``garbage-skipped``,
  then resynchronisation on the next plausible record header, confirmed by the one after it
  and by a timestamp within 30 days of the last good record; a captured length above the
  file's snapshot length but within the limit is read (as libpcap does) and counted
  ``caplen-exceeds-snaplen``;
* pcapng block length < 12 / not a multiple of 4 / above 16 MiB (``bad-block-length``) or a
  trailing length that differs (``block-trailer-mismatch``): resynchronisation on the next
  block whose type is known and whose trailing length matches;
* a packet naming an interface its section has not described: ``no-interface``; captured
  length beyond its block: ``bad-caplen``; unknown link type: ``unknown-linktype``; non-IP
  frames: ``non-ip`` (benign); all skipped;
* IP/TCP/UDP/ICMP problems: see :mod:`teiten.capture.decode`;
* a compressed input cut short or corrupt: everything before the cut is decoded, then
  ``truncated-compressed-stream`` / ``corrupt-compressed-stream``.

Examples
--------
>>> import io, struct
>>> head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
>>> r = CaptureReader(io.BytesIO(head), "empty.pcap")
>>> r.format, [i.linktype for i in r.interfaces], sum(b.num_rows for b in r.batches())
('pcap', [1], 0)
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import BinaryIO, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.capture import damage as d
from teiten.capture import framing as f
from teiten.capture.damage import DamageLog
from teiten.capture.io import open_decompressed
from teiten.capture.outputs import OutputPool, Outputs
from teiten.core.errors import CaptureFormatError
from teiten.core.schema import DECODED_SCHEMA

#: Most records framed (and rows decoded) per batch.
MAX_ROWS: Final = 1 << 19
#: Fewest bytes a record takes: a pcapng block (type, length, trailing length); a pcap record
#: header is 16.
MIN_RECORD: Final = 12
_DAMAGE_SLOTS: Final = 4096
#: Batches of at least this many records are decoded in two threads (the kernel drops the GIL).
_PARALLEL_MIN: Final = 1 << 16
_PCAP_MAGIC: Final = {  # first four bytes -> (big-endian, nanosecond)
    b"\xd4\xc3\xb2\xa1": (False, False),
    b"\x4d\x3c\xb2\xa1": (False, True),
    b"\xa1\xb2\xc3\xd4": (True, False),
    b"\xa1\xb2\x3c\x4d": (True, True),
}
_SHB_MAGIC: Final = b"\x0a\x0d\x0d\x0a"
#: pcapng section versions read, as libpcap: 1.0, and 1.2 (written by some old writers).
_PCAPNG_VERSIONS: Final = frozenset({(1, 0), (1, 2)})
_OPT_IF_NAME: Final = 2
_OPT_IF_TSRESOL: Final = 9
_OPT_IF_TSOFFSET: Final = 14


@dataclass(frozen=True, slots=True)
class Interface:
    """A capture interface: the pcap file itself, or one pcapng interface description.

    Parameters
    ----------
    index : int
        Index within the input, counted across pcapng sections (the ``interface`` column).
    linktype : int
        LINKTYPE_* number (-1 when the description was unreadable).
    name : str or None
        ``if_name`` option (pcapng).
    snaplen : int
        Snapshot length (0: none).
    tsresol : int
        Raw ``if_tsresol`` byte: 6 = microseconds (default), 9 = ns; high bit set = power of 2.
    tsoffset : int
        ``if_tsoffset`` in seconds, added to every timestamp.
    section : int
        pcapng section number, from 0.
    """

    index: int
    linktype: int
    name: str | None
    snaplen: int
    tsresol: int = 6
    tsoffset: int = 0
    section: int = 0

    @property
    def resolution_ns(self) -> float:
        """Length of one timestamp unit in nanoseconds (1000.0 for the default µs).

        >>> Interface(0, 1, None, 0, tsresol=0x80 | 10).resolution_ns
        976562.5
        """
        exp = self.tsresol & 0x7F
        return 1e9 / (2.0**exp if self.tsresol & 0x80 else 10.0**exp)


def _ts_params(tsresol: int, tsoffset: int) -> tuple[int, int, int, int]:
    """(mul, div, shift, offset ns) turning timestamp units into ns, as the kernel expects."""
    exp = tsresol & 0x7F
    off = max(min(tsoffset, 9_000_000_000), -9_000_000_000) * 1_000_000_000
    if tsresol & 0x80:
        return 1, 1, min(exp, 62), off
    if exp <= 9:
        return 10 ** (9 - exp), 1, -1, off
    return 1, 10 ** min(exp - 9, 18), -1, off


class CaptureReader:
    """Decode a pcap/pcapng stream (optionally gzip/xz/zstd compressed) into record batches.

    Parameters
    ----------
    stream : BinaryIO
        The capture, compressed or not; read sequentially (pipes work).
    name : str
        Name used to locate damage (a path, or ``-``).
    payload_cap : int
        Most payload bytes kept per packet.
    chunk_bytes : int
        Bytes read at a time (memory is a small multiple of this).

    Attributes
    ----------
    format : str
        ``pcap`` or ``pcapng``.
    interfaces : list[Interface]
        Interfaces seen so far (pcapng descriptions after the first packets appear as read).
    records, packets, bytes_read : int
        Packet records met (kept or not), rows yielded, uncompressed bytes read.
    damage : DamageLog
        Problems by reason, with the first located ones.

    Raises
    ------
    CaptureFormatError
        Empty, unreadable, or not a pcap/pcapng capture.

    Notes
    -----
    The stream is decompressed transparently (:func:`teiten.capture.io.open_decompressed`),
    so a raw file object is enough. Batches of 64 Ki records or more are decoded in two threads
    (the kernel releases the GIL). Batches share recycled output buffers with the reader:
    keep a batch as long as needed, its buffers are reused only once it is gone.
    """

    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        *,
        payload_cap: int = 512,
        chunk_bytes: int = 32 << 20,
    ) -> None:
        self.name = name
        self.payload_cap = max(int(payload_cap), 0)
        self.damage = DamageLog(name)
        self.records = 0
        self.packets = 0
        self.bytes_read = 0
        self.interfaces: list[Interface] = []
        self._chunk = max(int(chunk_bytes), 1 << 12)
        try:
            self._src = open_decompressed(stream)
        except OSError as exc:
            raise CaptureFormatError(f"{name}: cannot read: {exc}") from exc
        self._buf = np.empty(self._chunk, dtype=np.uint8)
        self._pos = 0
        self._end = 0
        self._base = 0
        self._eof = False
        self._mode = 0
        self._rec_no = 0
        self._be = False
        self._section = -1
        self._if_base = 0
        self._n_if = 0
        self._last_sec = -1
        self._d_off = np.zeros(_DAMAGE_SLOTS, np.int64)
        self._d_no = np.zeros(_DAMAGE_SLOTS, np.int64)
        self._d_code = np.zeros(_DAMAGE_SLOTS, np.uint8)
        self._pool: ThreadPoolExecutor | None = None
        self._outputs = OutputPool()
        try:
            self._fill()
        except OSError as exc:
            raise CaptureFormatError(f"{name}: cannot read: {exc}") from exc
        # Per-record arrays for one framing call. An input read whole by the first fill (a
        # small file) holds at most one record per MIN_RECORD bytes: sized to that, instead of
        # MAX_ROWS (7 arrays of 4 MiB to zero, ~1 ms an input, most of a small file's cost).
        rows = MAX_ROWS if not self._eof else min(MAX_ROWS, self._end // MIN_RECORD + 1)
        self._r_hdr = np.zeros(rows, np.int64)
        self._r_off = np.zeros(rows, np.int64)
        self._r_cap = np.zeros(rows, np.int64)
        self._r_wire = np.zeros(rows, np.int64)
        self._r_ts = np.zeros(rows, np.int64)
        self._r_if = np.zeros(rows, np.int64)
        self._r_no = np.zeros(rows, np.int64)
        self._read_header()

    # ------------------------------------------------------------------ input
    def _fill(self) -> None:
        """Move unread bytes to the front and read more (grow when one record needs it)."""
        keep = self._end - self._pos
        if self._pos:
            self._buf[:keep] = self._buf[self._pos : self._end]
            self._base += self._pos
            self._pos = 0
            self._end = keep
        if self._buf.size - keep < self._chunk // 2:
            bigger = np.empty(max(keep + self._chunk, 2 * self._buf.size), dtype=np.uint8)
            bigger[:keep] = self._buf[:keep]
            self._buf = bigger
        view = self._buf.data
        while self._end < self._buf.size and not self._eof:
            try:
                got = self._src.readinto(view[self._end :])
            except OSError:
                if self.bytes_read == 0:
                    raise
                self.damage.add(self._rec_no, self._base + self._end, d.READ_ERROR)
                got = 0
            if not got:
                self._eof = True
                if self._src.damage is not None:
                    code = d.REASONS.index(self._src.damage)
                    self.damage.add(self._rec_no, self._base + self._end, code)
                break
            self._end += got
            self.bytes_read += got

    def _u16(self, p: int) -> int:
        return int(struct.unpack_from(">H" if self._be else "<H", self._buf.data, p)[0])

    def _u32(self, p: int) -> int:
        return int(struct.unpack_from(">I" if self._be else "<I", self._buf.data, p)[0])

    def _read_header(self) -> None:
        if self._end == 0:
            if self._src.damage is not None:
                raise CaptureFormatError(
                    f"{self.name}: {self._src.compression} data is corrupt or cut short"
                )
            raise CaptureFormatError(f"{self.name}: empty input")
        magic = bytes(self._buf[:4])
        if magic in _PCAP_MAGIC:
            if self._end < 24:
                raise CaptureFormatError(f"{self.name}: pcap file header cut short")
            self._be, ns = _PCAP_MAGIC[magic]
            self.format = "pcap"
            major, minor = self._u16(4), self._u16(6)
            if major != 2:  # as libpcap and tshark: 2.x only (1.x files predate 1996)
                raise CaptureFormatError(
                    f"{self.name}: unsupported pcap format version {major}.{minor}"
                )
            snaplen = self._u32(16)
            linktype = self._u32(20) & 0xFFFF
            self._frac_mul = 1 if ns else 1000
            self._frac_max = 1_000_000_000 if ns else 1_000_000
            self._snaplen = snaplen
            self.interfaces.append(Interface(0, linktype, None, snaplen, 9 if ns else 6))
            self._n_if = 1
            self._rebuild_interfaces()
            self._pos = 24
        elif magic == _SHB_MAGIC:
            self.format = "pcapng"
            if self._end < 28 or bytes(self._buf[8:12]) not in (b"\x1a\x2b\x3c\x4d",
                                                                b"\x4d\x3c\x2b\x1a"):
                raise CaptureFormatError(f"{self.name}: pcapng section header is unreadable")
            fmt = ">" if bytes(self._buf[8:12]) == b"\x1a\x2b\x3c\x4d" else "<"
            major, minor = struct.unpack(fmt + "HH", bytes(self._buf[12:16]))
            if (major, minor) not in _PCAPNG_VERSIONS:
                raise CaptureFormatError(
                    f"{self.name}: unsupported pcapng format version {major}.{minor}"
                )
            self._rebuild_interfaces()
            self._special()
            if self._section < 0:
                raise CaptureFormatError(f"{self.name}: pcapng section header is unreadable")
            # read the interface descriptions that follow, so `interfaces` is useful up front
            while self._pos + 8 <= self._end and self._u32(self._pos) == f.IDB:
                before = self._pos
                self._special()
                if self._pos == before or self._mode:
                    break
        else:
            raise CaptureFormatError(
                f"{self.name}: not a pcap or pcapng capture (starts with {magic.hex()})"
            )

    # ------------------------------------------------------------- pcapng blocks
    def _special(self) -> None:
        """Read the SHB or IDB at the current position (the kernel stopped there)."""
        p = self._pos
        while self._end - p < 12 and not self._eof:
            self._fill()
            p = self._pos
        if self._end - p < 12:
            self.damage.add(self._rec_no, self._base + p, d.TRUNCATED_RECORD)
            self._pos = self._end
            return
        if bytes(self._buf[p : p + 4]) == _SHB_MAGIC:
            bom = bytes(self._buf[p + 8 : p + 12])
            if bom not in (b"\x1a\x2b\x3c\x4d", b"\x4d\x3c\x2b\x1a"):
                self._resync(p, d.BAD_SHB)
                return
            self._be = bom == b"\x1a\x2b\x3c\x4d"
        length = self._u32(p + 4)
        if length < 12 or length % 4 or length > f.MAX_BLOCK:
            self._resync(p, d.BAD_BLOCK_LENGTH)
            return
        while self._end - p < length and not self._eof:
            self._fill()
            p = self._pos
        if self._end - p < length:
            self._resync(p, d.TRUNCATED_RECORD)
            return
        if self._u32(p + length - 4) != length:
            self._resync(p, d.BLOCK_TRAILER_MISMATCH)
            return
        if self._u32(p) == f.SHB:
            if length < 28:
                self._resync(p, d.BAD_SHB)
                return
            self._section += 1
            self._if_base = len(self.interfaces)
            self._n_if = 0
        else:
            self._add_interface(p, length)
        self._pos = p + length

    def _resync(self, p: int, code: int) -> None:
        self.damage.add(self._rec_no, self._base + p, code)
        self._pos = p + 1
        self._mode = 1

    def _add_interface(self, p: int, length: int) -> None:
        index = len(self.interfaces)
        if length < 20:
            self.damage.add(self._rec_no, self._base + p, d.BAD_IDB)
            iface = Interface(index, -1, None, 0, 6, 0, self._section)
        else:
            fmt = ">" if self._be else "<"
            linktype = struct.unpack_from(fmt + "H", self._buf.data, p + 8)[0]
            snaplen = self._u32(p + 12)
            name: str | None = None
            tsresol, tsoffset = 6, 0
            q, stop = p + 16, p + length - 4
            while q + 4 <= stop:
                code, olen = struct.unpack_from(fmt + "HH", self._buf.data, q)
                value = bytes(self._buf[q + 4 : min(q + 4 + olen, stop)])
                if code == 0:
                    break
                if code == _OPT_IF_NAME:
                    name = value.split(b"\0", 1)[0].decode("utf-8", "replace")
                elif code == _OPT_IF_TSRESOL and len(value) >= 1:
                    tsresol = value[0]
                elif code == _OPT_IF_TSOFFSET and len(value) >= 8:
                    tsoffset = struct.unpack(fmt + "q", value[:8])[0]
                q += 4 + (olen + 3) // 4 * 4
            iface = Interface(index, linktype, name, snaplen, tsresol, tsoffset, self._section)
        self.interfaces.append(iface)
        self._n_if += 1
        self._rebuild_interfaces()

    def _rebuild_interfaces(self) -> None:
        params = [_ts_params(i.tsresol, i.tsoffset) for i in self.interfaces] or [(1, 1, -1, 0)]
        self._if_link = np.array([i.linktype for i in self.interfaces] or [-1], np.int64)
        self._if_snap = np.array([i.snaplen for i in self.interfaces] or [0], np.int64)
        self._if_mul, self._if_div, self._if_shift, self._if_off = (
            np.array(col, np.int64) for col in zip(*params, strict=True)
        )

    # ----------------------------------------------------------------- batches
    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the packets as :data:`~teiten.core.schema.DECODED_SCHEMA` batches.

        Each batch holds at most :data:`MAX_ROWS` rows; damage is counted as it is met. Once
        they are all read (or the iteration is stopped), decompression stops; the underlying
        stream stays open, the caller's to close.
        """
        try:
            yield from self._batches()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            self._src.close()

    def _batches(self) -> Iterator[pa.RecordBatch]:
        while True:
            rec_before = self._rec_no
            if self.format == "pcap":
                status, pos, n, nd, self._mode, self._rec_no, self._last_sec = f.frame_pcap(
                    self._buf, self._pos, self._end, self._eof, self._be, self._frac_mul,
                    self._frac_max, self._snaplen, self._mode, self._rec_no, self._last_sec,
                    self._r_hdr, self._r_off, self._r_cap, self._r_wire, self._r_ts,
                    self._r_no, self._d_off, self._d_no, self._d_code,
                )
            else:
                status, pos, n, nd, self._mode, self._rec_no = f.frame_pcapng(
                    self._buf, self._pos, self._end, self._eof, self._be, self._mode,
                    self._rec_no, self._n_if, self._if_base, self._if_snap, self._if_mul,
                    self._if_div, self._if_shift, self._if_off, self._r_hdr, self._r_off,
                    self._r_cap, self._r_wire, self._r_ts, self._r_if, self._r_no,
                    self._d_off, self._d_no, self._d_code,
                )
            self._pos = pos
            self.records += self._rec_no - rec_before
            if nd:
                self.damage.add_many(
                    self._d_no[:nd], self._d_off[:nd] + self._base, self._d_code[:nd]
                )
            if n:
                yield from self._decode(n)
            if status == f.SPECIAL:
                self._special()
            elif status == f.NEED_MORE:
                if self._eof:
                    return
                self._fill()

    def _decode(self, n: int) -> Iterator[pa.RecordBatch]:
        """Decode the ``n`` records framed, in two threads from :data:`_PARALLEL_MIN`; the
        first part's batch is yielded as soon as it is ready, so that the consumer enriches
        and hands it on while the helper thread still decodes the second part (waiting for
        it first kept the main thread idle for a tenth of an ingest)."""
        cuts = [0, n] if n < _PARALLEL_MIN else [0, n // 2, n]
        parts = list(pairwise(cuts))
        sets: list[Outputs] = []
        for a, b in parts:
            sets.append(self._outputs.acquire(b - a, sets))
        calls = [
            partial(out.run, self._buf, self._r_off[a:b], self._r_cap[a:b], self._r_wire[a:b],
                    self._r_ts[a:b], self._r_if[a:b], self._if_link, self.payload_cap)
            for out, (a, b) in zip(sets, parts, strict=True)
        ]
        later = []
        if len(calls) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=len(calls) - 1)
            later = [self._pool.submit(call) for call in calls[1:]]
        try:
            yield from self._done(parts[0][0], *calls[0]())
            for (a, _b), fut in zip(parts[1:], later, strict=True):
                yield from self._done(a, *fut.result())
        finally:
            for fut in later:  # stopped early: the helper is done with the buffer before a refill
                if not fut.cancel():
                    fut.exception()

    def _done(self, a: int, batch: pa.RecordBatch,
              status: npt.NDArray[np.uint8]) -> Iterator[pa.RecordBatch]:
        """Count a decoded part (its damage located by record) and yield its batch."""
        bad = np.flatnonzero(status) + a
        if bad.size:
            self.damage.add_many(self._r_no[bad], self._r_hdr[bad] + self._base, status[bad - a])
        self.packets += batch.num_rows
        if batch.num_rows:
            yield batch


def read_table(stream: BinaryIO, name: str, **options: int) -> pa.Table:
    """Decode a whole capture into one :data:`~teiten.core.schema.DECODED_SCHEMA` table.

    A convenience for small inputs and tests (memory grows with the input; stream with
    :meth:`CaptureReader.batches` otherwise). ``options`` go to :class:`CaptureReader`.

    >>> import io, struct
    >>> head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    >>> read_table(io.BytesIO(head), "empty.pcap").num_rows
    0
    """
    reader = CaptureReader(stream, name, **options)
    return pa.Table.from_batches(list(reader.batches()), schema=DECODED_SCHEMA)

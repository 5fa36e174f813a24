"""A Parquet encoder for packet files: Arrow tables in, standard Parquet files out.

Arrow's Parquet writer spends 1.5–1.8 CPU-seconds on 5 million packet rows whatever its
options (``docs/benchmarks.md``), more than decoding and enrichment together. The packet table
is flat, with a handful of types and encodings, so teiten writes its packet files itself:
compiled kernels (`teiten.store._pqkernels`) encode each column of a row group with the GIL
released, and this module frames pages, row groups and the footer. The files are plain
Parquet (format 2.6, v1 data pages, zstd where it pays: see the writer's parameters),
read by DuckDB, Arrow or any other reader; the footer carries the ``ARROW:schema`` that
Arrow's own writer stores, so Arrow reads the same types back (unsigned integers, UTC
timestamps, dictionary strings, field docs).

Supported column types: (u)int8–64, timestamp, fixed-size binary, binary, string and
dictionary<int32, string>. Per column: dictionary encoding (falls back to plain when more than
half the values are distinct), ``DELTA_BINARY_PACKED`` (64-bit integers, timestamps, and
integers of up to 16 bits) and min/max statistics.

>>> import io, pyarrow as pa, pyarrow.parquet as pq
>>> t = pa.table({"port": pa.array([80, 443, None, 80], pa.uint16())})
>>> buf = io.BytesIO()
>>> with ParquetFileWriter(buf, t.schema, dictionary=["port"]) as w:
...     w.write_table(t)
>>> pq.read_table(buf).column("port").to_pylist()
[80, 443, None, 80]
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO

import numpy as np
import pyarrow as pa

from teiten import __version__
from teiten.capture.arrow import values_of
from teiten.store import _pqkernels as kern

# Parquet enums (parquet.thrift)
_INT32, _INT64, _BYTE_ARRAY, _FIXED = 1, 2, 6, 7
_PLAIN, _RLE, _DELTA, _RLE_DICTIONARY, _BYTE_STREAM_SPLIT = 0, 3, 5, 8, 9
_DATA_PAGE, _DICTIONARY_PAGE = 0, 2
_OPTIONAL = 1
_UNCOMPRESSED, _ZSTD = 0, 6
#: a column chunk whose pages hold fewer bytes than this is written uncompressed (a column
#: that is all null in a chunk, say: compressing its few bytes costs a compression context)
_SMALL_CHUNK = 256
#: a chunk that compresses to more than this share of its size counts as incompressible ...
_INCOMPRESSIBLE = 0.95
#: ... and the column's next chunks are stored uncompressed, this many before the next try
_RETRY = 15
_CONVERTED = {(8, False): 11, (16, False): 12, (32, False): 13, (64, False): 14,
              (8, True): 15, (16, True): 16, (32, True): 17, (64, True): 18}
_UTF8 = 0
#: a column is written plain once more than this share of its non-null values are distinct
_DICTIONARY_MAX_SHARE = 0.5


class _Thrift:
    """The Thrift compact protocol, the few parts Parquet metadata uses."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._last = [0]

    def _varint(self, v: int) -> None:
        while v >= 0x80:
            self.out.append((v & 0x7F) | 0x80)
            v >>= 7
        self.out.append(v)

    def _zigzag(self, v: int) -> None:
        self._varint((v << 1) ^ (v >> 63))

    def _header(self, fid: int, ctype: int) -> None:
        delta = fid - self._last[-1]
        if 0 < delta <= 15:
            self.out.append((delta << 4) | ctype)
        else:
            self.out.append(ctype)
            self._zigzag(fid)
        self._last[-1] = fid

    def i32(self, fid: int, v: int) -> _Thrift:
        self._header(fid, 5)
        self._zigzag(v)
        return self

    def i64(self, fid: int, v: int) -> _Thrift:
        self._header(fid, 6)
        self._zigzag(v)
        return self

    def i16(self, fid: int, v: int) -> _Thrift:
        self._header(fid, 4)
        self._zigzag(v)
        return self

    def i8(self, fid: int, v: int) -> _Thrift:
        self._header(fid, 3)
        self.out.append(v & 0xFF)
        return self

    def boolean(self, fid: int, v: bool) -> _Thrift:
        self._header(fid, 1 if v else 2)
        return self

    def binary(self, fid: int, v: bytes) -> _Thrift:
        self._header(fid, 8)
        self._varint(len(v))
        self.out += v
        return self

    def begin(self, fid: int) -> _Thrift:
        """Open a struct field (close it with `end`)."""
        self._header(fid, 12)
        self._last.append(0)
        return self

    def end(self) -> _Thrift:
        self.out.append(0)
        self._last.pop()
        return self

    def list_header(self, fid: int, etype: int, n: int) -> None:
        self._header(fid, 9)
        if n < 15:
            self.out.append((n << 4) | etype)
        else:
            self.out.append(0xF0 | etype)
            self._varint(n)

    def i32_list(self, fid: int, values: list[int]) -> _Thrift:
        self.list_header(fid, 5, len(values))
        for v in values:
            self._zigzag(v)
        return self

    def str_list(self, fid: int, values: list[str]) -> _Thrift:
        self.list_header(fid, 8, len(values))
        for v in values:
            b = v.encode()
            self._varint(len(b))
            self.out += b
        return self

    def struct_list(self, fid: int, items: list[bytes]) -> _Thrift:
        """A list of structs, each already encoded (with its stop byte)."""
        self.list_header(fid, 12, len(items))
        for item in items:
            self.out += item
        return self

    def done(self) -> bytes:
        self.out.append(0)
        return bytes(self.out)


@dataclass
class _Column:
    name: str
    arrow: pa.DataType
    physical: int
    dictionary: bool
    delta: bool
    statistics: bool
    type_length: int = 0
    byte_stream_split: bool = False


@dataclass
class _Chunk:
    """One column chunk written: what its metadata needs."""

    offset: int
    dictionary_offset: int | None
    data_offset: int
    encodings: list[int]
    num_values: int
    compressed: int
    uncompressed: int
    null_count: int
    stats: tuple[bytes, bytes] | None = None
    codec: int = _ZSTD


@dataclass
class _RowGroup:
    rows: int
    chunks: list[_Chunk] = field(default_factory=list)


def _arrow_schema_metadata(schema: pa.Schema) -> bytes:
    """The ``ARROW:schema`` value Arrow's writer stores: the IPC-serialised schema, base64."""
    return base64.b64encode(schema.serialize().to_pybytes())


def _physical(t: pa.DataType) -> tuple[int, int]:
    if pa.types.is_timestamp(t) or t in (pa.int64(), pa.uint64()):
        return _INT64, 0
    if pa.types.is_integer(t):
        return _INT32, 0
    if pa.types.is_fixed_size_binary(t):
        return _FIXED, t.byte_width
    if (pa.types.is_binary(t) or pa.types.is_string(t)
            or (pa.types.is_dictionary(t) and pa.types.is_string(t.value_type)
                and t.index_type == pa.int32())):
        return _BYTE_ARRAY, 0
    raise TypeError(f"the packet-file encoder cannot write {t} columns")


def _bitmap(arr: pa.Array) -> tuple[np.ndarray, int, bool]:
    buf = arr.buffers()[0]
    if buf is None or arr.null_count == 0:
        return np.zeros(1, np.uint8), 0, False
    return np.frombuffer(buf, np.uint8), arr.offset, True


class ParquetFileWriter:
    """Write Arrow tables of one schema to a Parquet file, one row group per `write_table`.

    Parameters
    ----------
    where : path or binary file object
    schema : pyarrow.Schema
        Every table written must have exactly these columns and types.
    dictionary, delta, statistics : column names
        Dictionary-encoded columns; ``DELTA_BINARY_PACKED`` columns (64-bit integers and
        timestamps, and 8/16-bit integers: random 16-bit values take 17 bits each, where plain
        INT32 and zstd take 20); columns with min/max statistics (64-bit columns only).
    byte_stream_split : column names
        Integer columns written ``BYTE_STREAM_SPLIT`` (Parquet 2.11: the values' first bytes,
        then their second bytes...) and zstd: for 16-bit values in INT32 (ports, IP ids) the
        two zero streams cost nothing and zstd runs ~4x faster than on plain values, into
        smaller pages (and in fewer bits than delta encoding). Read by Arrow >= 17, DuckDB
        >= 1.1, parquet-java >= 1.14 (Spark 4).
    compression_level : int
        zstd level of the pages. Column chunks of under 256 bytes are stored uncompressed,
        and so is a column whose last compressed chunk did not shrink by 5% (random numbers,
        bit-packed values): it is tried again every :data:`_RETRY` chunks.
    """

    def __init__(self, where: str | os.PathLike[str] | IO[bytes], schema: pa.Schema, *,
                 dictionary: Iterable[str] = (), delta: Iterable[str] = (),
                 statistics: Iterable[str] = (), byte_stream_split: Iterable[str] = (),
                 compression_level: int = 1) -> None:
        dic, dlt, sts, bss = set(dictionary), set(delta), set(statistics), set(byte_stream_split)
        self.schema = schema
        self._columns = []
        for f in schema:
            physical, width = _physical(f.type)
            if f.name in dlt and not (physical == _INT64 or (
                    pa.types.is_integer(f.type) and f.type.bit_width <= 16)):
                raise TypeError(f"{f.name}: delta encoding is for 64-bit integer columns and "
                                "integers of at most 16 bits")
            if f.name in sts and physical != _INT64:
                raise TypeError(f"{f.name}: statistics are written for 64-bit integer columns")
            if f.name in bss and not (pa.types.is_integer(f.type) and f.name not in dic | dlt):
                raise TypeError(f"{f.name}: byte stream split is for integer columns written "
                                "neither dictionary- nor delta-encoded")
            self._columns.append(_Column(f.name, f.type, physical, f.name in dic and
                                         f.name not in dlt, f.name in dlt, f.name in sts,
                                         width, f.name in bss))
        self._codec = pa.Codec("zstd", compression_level=compression_level)
        #: per column, chunks to store uncompressed before compression is tried again
        self._skip: dict[str, int] = {}
        self._own = isinstance(where, (str, os.PathLike))
        self._fh: IO[bytes] = (where if not isinstance(where, (str, os.PathLike))
                               else open(where, "wb"))  # noqa: SIM115
        self._pos = 0
        self._row_groups: list[_RowGroup] = []
        self._closed = False
        self._write(b"PAR1")

    def __enter__(self) -> ParquetFileWriter:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _write(self, data: bytes | memoryview | pa.Buffer) -> None:
        self._fh.write(data)
        self._pos += len(data)

    def write_table(self, table: pa.Table) -> None:
        """Append ``table`` as one row group (nothing for an empty table)."""
        if table.schema != self.schema:
            raise ValueError("table schema differs from the writer's")
        n = table.num_rows
        if n == 0:
            return
        group = _RowGroup(n)
        for col, chunked in zip(self._columns, table.columns, strict=True):
            arr = chunked.chunks[0] if chunked.num_chunks == 1 else chunked.combine_chunks()
            group.chunks.append(self._column(col, arr))
        self._row_groups.append(group)

    def _page(self, body: bytes | np.ndarray, dict_size: int | None = None,
              rows: int = 0, encoding: int = _PLAIN, compress: bool = True) -> int:
        """Compress (unless not ``compress``) and write one page: a dictionary page of
        ``dict_size`` entries, or else a v1 data page of ``rows`` values (nulls included) in
        ``encoding``. Returns the length of its header."""
        raw = memoryview(body.data) if isinstance(body, np.ndarray) else body
        packed = self._codec.compress(raw) if compress else raw
        t = _Thrift()
        if dict_size is not None:
            t.i32(1, _DICTIONARY_PAGE).i32(2, len(raw)).i32(3, len(packed))
            t.begin(7).i32(1, dict_size).i32(2, _PLAIN).end()
        else:
            t.i32(1, _DATA_PAGE).i32(2, len(raw)).i32(3, len(packed))
            t.begin(5).i32(1, rows).i32(2, encoding).i32(3, _RLE).i32(4, _RLE).end()
        header = t.done()
        self._write(header)
        self._write(packed)
        return len(header)

    def _column(self, col: _Column, arr: pa.Array) -> _Chunk:
        n = len(arr)
        bitmap, bit_offset, has_nulls = _bitmap(arr)
        nulls = arr.null_count if has_nulls else 0
        start = self._pos
        dictionary_offset: int | None = None
        dict_page: np.ndarray | None = None
        dict_size = 0
        indices: np.ndarray | None = None
        stats = None
        values: np.ndarray | None = None
        encoding = _PLAIN
        t = col.arrow
        if nulls == n:  # nothing but definition levels: one run of 0s, a few bytes
            levels = _levels_run(n, 0)
            header = self._page(levels, rows=n, compress=False)
            return _Chunk(start, None, start, [_PLAIN, _RLE], n, self._pos - start,
                          header + len(levels), nulls, codec=_UNCOMPRESSED)
        if pa.types.is_dictionary(t):
            if arr.dictionary.null_count or not col.dictionary:
                arr = arr.dictionary_decode()  # null dictionary entries become nulls
                bitmap, bit_offset, has_nulls = _bitmap(arr)
                nulls = arr.null_count if has_nulls else 0
            else:
                d = arr.dictionary
                d_off = np.frombuffer(d.buffers()[1], np.int32)[d.offset:d.offset + len(d) + 1]
                d_data = (np.frombuffer(d.buffers()[2], np.uint8) if d.buffers()[2] is not None
                          else np.zeros(1, np.uint8))
                ind = arr.indices
                bitmap, bit_offset, has_nulls = _bitmap(ind)
                dict_page = kern.byte_array(d_off, d_data, np.zeros(1, np.uint8), 0, len(d), False)
                dict_size = len(d)
                indices = kern.compact_indices(values_of(ind, np.int32), bitmap, bit_offset, n,
                                            has_nulls)
        if indices is None and col.physical == _BYTE_ARRAY:
            off = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset:arr.offset + n + 1]
            data = (np.frombuffer(arr.buffers()[2], np.uint8) if arr.buffers()[2] is not None
                    else np.zeros(1, np.uint8))
            if col.dictionary:
                dict_page, dict_size, indices = kern.dict_bytes(off, data, bitmap, bit_offset, n,
                                                             has_nulls)
                if dict_size > _DICTIONARY_MAX_SHARE * (n - nulls) and dict_size > 1:
                    dict_page = indices = None
            if indices is None:
                values = kern.byte_array(off, data, bitmap, bit_offset, n, has_nulls)
        elif col.physical == _FIXED:
            w = col.type_length
            data = np.frombuffer(arr.buffers()[1], np.uint8)[arr.offset * w:(arr.offset + n) * w]
            values = kern.fixed_bytes(data, w, bitmap, bit_offset, n, has_nulls)
        elif indices is None:
            width = t.bit_width
            raw = values_of(arr, np.dtype(f"{'i' if pa.types.is_signed_integer(t) else 'u'}"
                                        f"{width // 8}") if not pa.types.is_timestamp(t)
                          else np.int64)
            out_type = np.int64 if col.physical == _INT64 else np.int32
            if col.delta:
                wide = raw.view(np.int64) if raw.itemsize == 8 else raw  # 8/16 bits: widened
                values, lo, hi = kern.delta_binary_packed(wide, bitmap, bit_offset, n,
                                                       has_nulls)
                encoding = _DELTA
                if col.statistics and n > nulls:
                    stats = (struct.pack("<q", lo), struct.pack("<q", hi))
            else:
                if col.dictionary:
                    if width <= 16 and not pa.types.is_signed_integer(t):
                        dvals, indices = kern.dict_small(raw, 1 << width, bitmap, bit_offset, n,
                                                      has_nulls)
                    else:
                        limit = max(1, int(_DICTIONARY_MAX_SHARE * (n - nulls)))
                        dvals, indices, nd = kern.dict_hash(raw, bitmap, bit_offset, n, has_nulls,
                                                         limit)
                        if nd < 0:
                            indices = None
                    if indices is not None:
                        dict_page = dvals.astype(out_type).view(np.uint8)
                        dict_size = len(dvals)
                if indices is None:
                    out = np.empty(n - nulls, out_type)
                    kern.compact(raw, bitmap, bit_offset, n, has_nulls, out)
                    values = out.view(np.uint8)
                    if col.byte_stream_split:  # byte k of every value, for each k
                        values = values.reshape(-1, out.itemsize).T.ravel()
                        encoding = _BYTE_STREAM_SPLIT
                    if col.statistics and len(out):
                        stats = (struct.pack("<q", int(out.min())),
                                 struct.pack("<q", int(out.max())))
        if indices is not None:
            assert dict_page is not None
            width = max(1, int(dict_size - 1).bit_length())
            values = kern.bit_packed(indices, width, True)
            encoding = _RLE_DICTIONARY
        assert values is not None
        levels = (kern.def_levels(bitmap, bit_offset, n) if has_nulls
                  else _levels_run(n, 1))
        body = np.concatenate([levels, values]) if len(values) else levels
        raw_size = len(body) + (len(dict_page) if dict_page is not None else 0)
        skip = self._skip.get(col.name, 0)
        compress = raw_size >= _SMALL_CHUNK and skip == 0
        if skip:
            self._skip[col.name] = skip - 1
        if dict_page is not None:
            dictionary_offset = self._pos
            raw_size += self._page(dict_page, dict_size=dict_size, compress=compress)
        data_offset = self._pos
        raw_size += self._page(body, rows=n, encoding=encoding, compress=compress)
        if compress and self._pos - start > _INCOMPRESSIBLE * raw_size:
            self._skip[col.name] = _RETRY  # compressing it costs time and saves nothing
        encodings = {_PLAIN: [_PLAIN, _RLE], _RLE_DICTIONARY: [_PLAIN, _RLE, _RLE_DICTIONARY],
                     _DELTA: [_RLE, _DELTA],
                     _BYTE_STREAM_SPLIT: [_RLE, _BYTE_STREAM_SPLIT]}[encoding]
        return _Chunk(start, dictionary_offset, data_offset, encodings, n,
                      self._pos - start, raw_size, nulls, stats,
                      codec=_ZSTD if compress else _UNCOMPRESSED)

    def close(self) -> None:
        """Write the footer (and close the file if this writer opened it)."""
        if self._closed:
            return
        self._closed = True
        try:
            footer = self._footer()
            self._write(footer)
            self._write(struct.pack("<I", len(footer)) + b"PAR1")
            self._fh.flush()
        finally:
            if self._own:
                self._fh.close()

    def _schema_elements(self) -> list[bytes]:
        items = [_Thrift().binary(4, b"schema").i32(5, len(self._columns)).done()]
        for col in self._columns:
            t = _Thrift().i32(1, col.physical)
            if col.physical == _FIXED:
                t.i32(2, col.type_length)
            t.i32(3, _OPTIONAL).binary(4, col.name.encode())
            a = col.arrow
            if pa.types.is_timestamp(a):
                unit = {"ms": 1, "us": 2, "ns": 3}[a.unit]
                if unit != 3 and a.tz is not None:
                    t.i32(6, 9 if unit == 1 else 10)
                t.begin(10).begin(8).boolean(1, a.tz is not None).begin(2).begin(unit).end()
                t.end().end().end()
            elif pa.types.is_integer(a):
                signed = pa.types.is_signed_integer(a)
                t.i32(6, _CONVERTED[(a.bit_width, signed)])
                t.begin(10).begin(10).i8(1, a.bit_width).boolean(2, signed).end().end()
            elif pa.types.is_string(a) or pa.types.is_dictionary(a):
                t.i32(6, _UTF8).begin(10).begin(1).end().end()
            items.append(t.done())
        return items

    def _footer(self) -> bytes:
        groups: list[bytes] = []
        for g in self._row_groups:
            chunks = []
            for col, c in zip(self._columns, g.chunks, strict=True):
                m = _Thrift().i64(2, c.offset).begin(3)
                m.i32(1, col.physical).i32_list(2, c.encodings).str_list(3, [col.name])
                m.i32(4, c.codec).i64(5, c.num_values).i64(6, c.uncompressed)
                m.i64(7, c.compressed).i64(9, c.data_offset)
                if c.dictionary_offset is not None:
                    m.i64(11, c.dictionary_offset)
                if c.stats is not None:
                    lo, hi = c.stats
                    m.begin(12).binary(1, hi).binary(2, lo).i64(3, c.null_count)
                    m.binary(5, hi).binary(6, lo).end()
                m.end()
                cc = m
                chunks.append(cc.done())
            total = sum(c.uncompressed for c in g.chunks)
            compressed = sum(c.compressed for c in g.chunks)
            rg = (_Thrift().struct_list(1, chunks).i64(2, total).i64(3, g.rows)
                  .i64(5, g.chunks[0].offset).i64(6, compressed).i16(7, len(groups)))
            groups.append(rg.done())
        order = _Thrift().begin(1).end().done()
        meta = (_Thrift().i32(1, 2).struct_list(2, self._schema_elements())
                .i64(3, sum(g.rows for g in self._row_groups)).struct_list(4, groups))
        kv = _Thrift().binary(1, b"ARROW:schema").binary(2, _arrow_schema_metadata(self.schema))
        meta.struct_list(5, [kv.done()])
        meta.binary(6, f"teiten version {__version__}".encode())
        meta.struct_list(7, [order] * len(self._columns))
        return meta.done()


def _levels_run(n: int, level: int) -> np.ndarray:
    """Definition levels all equal to ``level`` (1: no nulls, 0: all null): one RLE run,
    length-prefixed."""
    t = _Thrift()
    t._varint(n << 1)  # an RLE run's header is the same varint
    body = bytes(t.out) + bytes([level])
    return np.frombuffer(struct.pack("<I", len(body)) + body, np.uint8)

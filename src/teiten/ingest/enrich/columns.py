"""Packet-table columns as NumPy arrays for the compiled enrichment kernels (no copies).

A kernel reads a column as two arrays: its values (the column's own integer type, viewed
straight from the Arrow buffer) and a validity array (1 = value present). Values under a null
are undefined; the kernel decides what a null means. A missing column reads as all null.

Examples
--------
>>> import pyarrow as pa
>>> t = pa.table({"ttl": pa.array([64, None, 128], pa.uint8())})
>>> values, valid = ints(t, "ttl", np.uint8)
>>> values[valid == 1].tolist(), valid.tolist()
([64, 128], [1, 0, 1])
>>> ints(t, "dport", np.uint16)[1].tolist()
[0, 0, 0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.capture.arrow import values_of

U8 = npt.NDArray[np.uint8]

_ARROW = {np.dtype(np.uint8): pa.uint8(), np.dtype(np.uint16): pa.uint16(),
          np.dtype(np.uint32): pa.uint32(), np.dtype(np.int64): pa.int64()}  # fmt: skip


def _array(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name)
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


_constant: dict[tuple[int, np.dtype[Any]], npt.NDArray[Any]] = {}


def constant(n: int, value: int, dtype: Any = np.uint8) -> npt.NDArray[Any]:
    """A read-only array of ``n`` times ``value``, shared: for validity the kernels only read,
    or the indices of a one-value dictionary column. A fresh one per column and chunk was
    megabytes of memory to fill. One array per value and type serves every length (a view of
    its start): chunks differ in length by a few rows, and an array per length was a fresh
    one, with its page faults, for every chunk.

    >>> constant(3, 1).tolist(), constant(2, 0, np.int32).dtype.name
    ([1, 1, 1], 'int32')
    """
    key = (value, np.dtype(dtype))
    arr = _constant.get(key)
    if arr is None or len(arr) < n:
        arr = np.full(max(n, 2 * len(arr) if arr is not None else n), value, key[1])
        arr.flags.writeable = False
        _constant[key] = arr
    return arr[:n]


def _validity(arr: pa.Array) -> U8:
    n = len(arr)
    bitmap = arr.buffers()[0]
    if arr.null_count == 0 or bitmap is None:
        return constant(n, 1)
    if arr.null_count == n:
        return constant(n, 0)
    bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + n]


def ints(table: pa.Table, name: str, dtype: Any) -> tuple[npt.NDArray[Any], U8]:
    """An integer column as (values, validity), values of ``dtype`` (cast only if needed).

    Parameters
    ----------
    table : pyarrow.Table
        Packet-table columns.
    name : str
        Column name; a missing column reads as all null.
    dtype : numpy dtype
        ``uint8``, ``uint16``, ``uint32`` or ``int64``: the column's type in the packet
        table (a column of another integer type is cast to ``int64``).
    """
    n = table.num_rows
    want = np.dtype(dtype)
    if n == 0 or table.schema.get_field_index(name) < 0:
        return np.zeros(n, want), constant(n, 0)
    arr = _array(table, name)
    if arr.null_count == n:
        return np.zeros(n, want), constant(n, 0)
    if arr.type != _ARROW[want]:
        want = np.dtype(np.int64)
        arr = arr.cast(pa.int64())
    return values_of(arr, want), _validity(arr)


def binary(table: pa.Table, name: str) -> tuple[npt.NDArray[np.int32], U8, U8]:
    """A binary column as (offsets, data, validity): row ``i`` is
    ``data[offsets[i]:offsets[i + 1]]`` where valid; a missing column reads as all null."""
    n = table.num_rows
    if n == 0 or table.schema.get_field_index(name) < 0:
        return np.zeros(n + 1, np.int32), np.zeros(0, np.uint8), constant(n, 0)
    arr = _array(table, name)
    if arr.null_count == n:
        return np.zeros(n + 1, np.int32), np.zeros(0, np.uint8), constant(n, 0)
    if arr.type != pa.binary():
        arr = arr.cast(pa.binary())
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, np.int32)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data, _validity(arr)

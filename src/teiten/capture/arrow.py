"""Arrow building: decoded kernel buffers to a :data:`DECODED_SCHEMA` record batch.

Arrays are made with :meth:`pyarrow.Array.from_buffers` over the NumPy buffers the kernel
filled (validity bitmaps packed with :func:`numpy.packbits`), never through Python objects.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.capture import decode as k
from teiten.core.schema import DECODED_SCHEMA

#: Integer columns of the schema and their (width, matrix row, validity group).
INT_COLUMNS: Final[dict[str, tuple[int, int, int]]] = {
    name: (width, *slot)
    for width, names in (
        (8, {"ip_version": k.IPV, "proto": k.PROTO, "icmp_type": k.ITYPE,
             "icmp_code": k.ICODE, "tcp_flags": k.FLAGS, "ttl": k.TTL, "ip_flags": k.IPFLAGS,
             "fragment": k.FRAG, "tcp_wscale": k.WS, "inner_proto": k.IPROTO}),
        (16, {"sport": k.SPORT, "dport": k.DPORT, "ip_id": k.IPID, "ip_len": k.IPLEN,
              "tcp_win": k.WIN, "tcp_mss": k.MSS, "icmp_id": k.IID, "icmp_seq": k.ISEQ,
              "payload_len": k.PLEN, "inner_sport": k.ISPORT, "inner_dport": k.IDPORT,
              "interface": k.IFACE}),
        (32, {"src": k.SRC, "dst": k.DST, "tcp_seq": k.SEQ, "tcp_ack": k.ACK,
              "inner_src": k.ISRC, "inner_dst": k.IDST, "wire_len": k.WIRE}),
    )
    for name, slot in names.items()
}


def from_numpy(values: npt.NDArray[Any], type: pa.DataType | None = None, *,
               null: npt.NDArray[np.bool_] | None = None) -> pa.Array:
    """An Arrow array of a 1-d NumPy array (booleans packed into a bitmap; other types over
    the array's own buffer), null where ``null`` is true.

    ``pa.array`` would do, but its first call on a NumPy array imports ``numpy.ma`` (about
    20 ms of every ingest's start-up); this builds the array from buffers instead.

    >>> from_numpy(np.array([3, 4], np.int32), null=np.array([False, True])).to_pylist()
    [3, None]
    >>> from_numpy(np.array([True, False])).to_pylist()
    [True, False]
    """
    values = np.ascontiguousarray(values)
    n = len(values)
    if values.dtype == np.bool_:
        typ = pa.bool_()
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
    else:
        typ = type if type is not None else pa.from_numpy_dtype(values.dtype)
        if typ.bit_width != 8 * values.dtype.itemsize:
            raise TypeError(f"{values.dtype} values cannot make a {typ} array")
        data = pa.py_buffer(values)
    bitmap, nulls = (None, 0) if null is None else _validity(
        np.logical_not(null).view(np.uint8))
    return pa.Array.from_buffers(typ, n, [bitmap, data], nulls)


def values_of(arr: pa.Array, dtype: Any) -> npt.NDArray[Any]:
    """The values of a fixed-width Arrow array as a NumPy view of its buffer, read as
    ``dtype`` (the inverse of :func:`from_numpy`; values under nulls are undefined). A
    timestamp array reads as the int64 it stores, without a cast (a cast imports Arrow's
    compute functions, ~40 ms).

    >>> values_of(pa.array([5, None, 7], pa.uint16()).slice(1), np.uint16)[1]
    np.uint16(7)
    """
    return np.frombuffer(arr.buffers()[1], dtype)[arr.offset:arr.offset + len(arr)]


def _validity(valid: npt.NDArray[np.uint8]) -> tuple[pa.Buffer | None, int]:
    nulls = valid.size - int(np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def _binary(
    validity: tuple[pa.Buffer | None, int],
    n: int,
    offsets: npt.NDArray[np.int32],
    data: npt.NDArray[np.uint8],
) -> pa.Array:
    bitmap, nulls = validity
    used = int(offsets[n])
    return pa.Array.from_buffers(
        pa.binary(), n, [bitmap, pa.py_buffer(offsets[: n + 1]), pa.py_buffer(data[:used].copy())],
        nulls,
    )


def build_batch(
    n: int,
    M8: npt.NDArray[np.uint8],
    M16: npt.NDArray[np.uint16],
    M32: npt.NDArray[np.uint32],
    V: npt.NDArray[np.uint8],
    ts: npt.NDArray[np.int64],
    s6: npt.NDArray[np.uint8],
    d6: npt.NDArray[np.uint8],
    pay: npt.NDArray[np.uint8],
    pay_off: npt.NDArray[np.int32],
    opts: npt.NDArray[np.uint8],
    opt_off: npt.NDArray[np.int32],
) -> pa.RecordBatch:
    """Assemble the first ``n`` decoded rows into a :data:`DECODED_SCHEMA` batch (no copies
    of fixed-width values: the arrays keep the kernel's matrices alive)."""
    matrices: dict[int, npt.NDArray[np.uint8] | npt.NDArray[np.uint16] | npt.NDArray[np.uint32]]
    matrices = {8: M8, 16: M16, 32: M32}
    groups = {g: _validity(V[g, :n]) for g in range(k.N_VALID)}
    groups[k.ALWAYS] = (None, 0)
    arrays: list[pa.Array] = []
    for field in DECODED_SCHEMA:
        name = field.name
        if name in INT_COLUMNS:
            width, row, group = INT_COLUMNS[name]
            bitmap, nulls = groups[group]
            values = matrices[width][row, :n]
            arrays.append(
                pa.Array.from_buffers(field.type, n, [bitmap, pa.py_buffer(values)], nulls)
            )
        elif name == "ts":
            bitmap, nulls = groups[k.G_TS]
            arrays.append(
                pa.Array.from_buffers(field.type, n, [bitmap, pa.py_buffer(ts[:n])], nulls)
            )
        elif name in ("src6", "dst6"):
            values6 = s6 if name == "src6" else d6
            bitmap, nulls = groups[k.G_V6]
            arrays.append(
                pa.Array.from_buffers(field.type, n, [bitmap, pa.py_buffer(values6[:n])], nulls)
            )
        elif name == "tcp_opts":
            arrays.append(_binary(groups[k.G_OPTS], n, opt_off, opts))
        elif name == "payload":
            arrays.append(_binary(groups[k.G_PLEN], n, pay_off, pay))
        else:  # pragma: no cover - the schema and this module are kept in step by tests
            raise AssertionError(f"no builder for column {name}")
    return pa.RecordBatch.from_arrays(arrays, schema=DECODED_SCHEMA)

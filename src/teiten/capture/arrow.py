"""Arrow building: decoded kernel buffers to a :data:`DECODED_SCHEMA` record batch.

Arrays are made with :meth:`pyarrow.Array.from_buffers` over the NumPy buffers the kernel
filled (validity bitmaps packed with :func:`numpy.packbits`), never through Python objects.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.capture import decode as k
from teiten.core.schema import DECODED_SCHEMA

#: Integer columns of the schema and their row in the kernel's matrix.
INT_COLUMNS: Final[dict[str, int]] = {
    "ip_version": k.C_IPV, "src": k.C_SRC, "dst": k.C_DST, "proto": k.C_PROTO,
    "sport": k.C_SPORT, "dport": k.C_DPORT, "icmp_type": k.C_ITYPE, "icmp_code": k.C_ICODE,
    "tcp_flags": k.C_FLAGS, "ttl": k.C_TTL, "ip_id": k.C_IPID, "ip_len": k.C_IPLEN,
    "ip_flags": k.C_IPFLAGS, "fragment": k.C_FRAG, "tcp_seq": k.C_SEQ, "tcp_ack": k.C_ACK,
    "tcp_win": k.C_WIN, "tcp_mss": k.C_MSS, "tcp_wscale": k.C_WS, "icmp_id": k.C_IID,
    "icmp_seq": k.C_ISEQ, "payload_len": k.C_PLEN, "inner_proto": k.C_IPROTO,
    "inner_src": k.C_ISRC, "inner_dst": k.C_IDST, "inner_sport": k.C_ISPORT,
    "inner_dport": k.C_IDPORT, "wire_len": k.C_WIRE, "interface": k.C_IFACE,
}


def _validity(valid: npt.NDArray[np.uint8]) -> tuple[pa.Buffer | None, int]:
    nulls = valid.size - int(np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def _binary(
    valid: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int32], data: npt.NDArray[np.uint8]
) -> pa.Array:
    n = valid.size
    bitmap, nulls = _validity(valid)
    used = int(offsets[n])
    return pa.Array.from_buffers(
        pa.binary(), n, [bitmap, pa.py_buffer(offsets[: n + 1]), pa.py_buffer(data[:used].copy())],
        nulls,
    )


def build_batch(
    n: int,
    M: npt.NDArray[np.uint32],
    V: npt.NDArray[np.uint8],
    ts: npt.NDArray[np.int64],
    a6: npt.NDArray[np.uint8],
    pay: npt.NDArray[np.uint8],
    pay_off: npt.NDArray[np.int32],
    opts: npt.NDArray[np.uint8],
    opt_off: npt.NDArray[np.int32],
) -> pa.RecordBatch:
    """Assemble the first ``n`` decoded rows into a :data:`DECODED_SCHEMA` batch."""
    arrays: list[pa.Array] = []
    for field in DECODED_SCHEMA:
        name = field.name
        if name in INT_COLUMNS:
            row = INT_COLUMNS[name]
            bitmap, nulls = _validity(V[row, :n])
            values = M[row, :n].astype(field.type.to_pandas_dtype())
            arrays.append(
                pa.Array.from_buffers(field.type, n, [bitmap, pa.py_buffer(values)], nulls)
            )
        elif name == "ts":
            bitmap, nulls = _validity(V[k.V_TS, :n])
            arrays.append(
                pa.Array.from_buffers(field.type, n, [bitmap, pa.py_buffer(ts[:n])], nulls)
            )
        elif name in ("src6", "dst6"):
            row, cols = (k.V_SRC6, slice(0, 16)) if name == "src6" else (k.V_DST6, slice(16, 32))
            bitmap, nulls = _validity(V[row, :n])
            values = np.ascontiguousarray(a6[:n, cols])
            arrays.append(
                pa.Array.from_buffers(field.type, n, [bitmap, pa.py_buffer(values)], nulls)
            )
        elif name == "tcp_opts":
            arrays.append(_binary(V[k.V_OPTS, :n], opt_off, opts))
        elif name == "payload":
            arrays.append(_binary(V[k.C_PLEN, :n], pay_off, pay))
        else:  # pragma: no cover - the schema and this module are kept in step by tests
            raise AssertionError(f"no builder for column {name}")
    return pa.RecordBatch.from_arrays(arrays, schema=DECODED_SCHEMA)

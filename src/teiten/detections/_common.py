"""Shared plumbing of the detections: packet sources, SQL over them, sessionisation, schemas.

Private to :mod:`teiten.detections`; the analyses import from here, nothing else should.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final, TypeAlias

import duckdb
import numba
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.dataset as ds

from teiten.core.errors import SchemaError, UsageError
from teiten.core.periods import Period

#: Number of IPv4 addresses: the extrapolation factor is ``IPV4_SPACE / monitored``.
IPV4_SPACE: Final = 2**32
NS: Final = 1_000_000_000
#: Flag bit of IPv6 keys in the detections' 64-bit (address, protocol) keys: IPv4 keys are
#: ``address << 8 | protocol`` (< 2^40), IPv6 ones ``V6_KEY | index << 8 | protocol``.
V6_KEY: Final = np.uint64(1 << 62)
#: A timestamp parameter in SQL, typed like the packet table's ``ts`` column.
TS: Final = "?::TIMESTAMPTZ_NS"

#: What an analysis accepts as its packet table.
PacketSource: TypeAlias = (
    "pa.Table | ds.Dataset | duckdb.DuckDBPyConnection | duckdb.DuckDBPyRelation | Any"
)


def query(packets: PacketSource, sql: str, params: list[Any] | None = None) -> pa.Table:
    """Run ``sql`` (which reads a view called ``packets``) over a packet source.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB connection or relation, ibis.Table
        The packet table; datasets are scanned lazily with projection and filter pushdown; a
        DuckDB connection must have a ``packets`` view (``Store.duckdb()``) and is queried in
        place (the fastest route over a store).
    sql : str
        A DuckDB query naming the table ``packets``; values go in ``params`` (``?``), never
        into the text.
    params : list, optional
        Positional parameters.

    Returns
    -------
    pyarrow.Table
    """
    if isinstance(packets, duckdb.DuckDBPyConnection):  # a connection with a packets view
        rel = packets.sql(sql, params=params or None)
        if rel is None:
            raise UsageError("query returned no relation")
        return rel.to_arrow_table()
    con = duckdb.connect()
    try:
        if isinstance(packets, pa.Table | ds.Dataset):
            con.register("packets", packets)
        elif isinstance(packets, duckdb.DuckDBPyRelation):  # re-run per query, streamed
            con.register("packets", packets.to_arrow_reader(1 << 16))
        elif hasattr(packets, "to_pyarrow_batches"):  # an ibis table expression
            con.register("packets", packets.to_pyarrow_batches())
        else:
            raise UsageError(f"not a packet table: {type(packets).__name__}")
        rel = con.sql(sql, params=params or None)
        if rel is None:
            raise UsageError("query returned no relation")
        return rel.to_arrow_table()
    finally:
        con.close()


def period_where(period: Period | None) -> tuple[str, list[Any]]:
    """A SQL condition (and its parameters) keeping packets inside ``period`` (UTC bounds)."""
    if period is None:
        return "TRUE", []
    return f"ts >= {TS} AND ts < {TS}", [period.start_utc, period.end_utc]


def sessions(
    keys: npt.NDArray[np.uint64], ts_ns: npt.NDArray[np.int64], idle_ns: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Split packets into sessions: same key, no gap longer than ``idle_ns``.

    Returns ``(order, session_id)``: ``order`` sorts the packets by (key, time) and
    ``session_id[i]`` is the session of packet ``order[i]`` (0, 1, … in that order).

    >>> import numpy as np
    >>> o, s = sessions(np.array([1, 1, 1, 2], np.uint64), np.array([0, 5, 50, 1]), 10)
    >>> s.tolist()
    [0, 0, 1, 2]
    """
    order = np.lexsort((ts_ns, keys))
    k, t = keys[order], ts_ns[order]
    new = np.ones(len(k), dtype=bool)
    if len(k) > 1:
        new[1:] = (k[1:] != k[:-1]) | ((t[1:] - t[:-1]) > idle_ns)
    return order, np.cumsum(new) - 1


def max_window_count(
    session: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], slide_ns: int, buckets: int
) -> npt.NDArray[np.int64]:
    """Per session: the most packets in any window of ``buckets`` consecutive slide buckets.

    Buckets are aligned to multiples of the slide (corsaro3). ``session`` must be sorted
    (as returned by :func:`sessions`). Only windows ending at a non-empty bucket are
    evaluated, which is enough: the maximum is always reached by one of them.

    >>> import numpy as np
    >>> s = np.array([0, 0, 0, 1]); t = np.array([0, 10, 70, 0]) * 10**9
    >>> max_window_count(s, t, 10 * 10**9, 6).tolist()
    [2, 1]
    """
    if len(session) == 0:
        return np.zeros(0, dtype=np.int64)
    bucket = ts_ns // slide_ns
    bucket = bucket - bucket.min()
    span = int(bucket.max()) + buckets + 1
    # One monotonic key per (session, bucket): sessions never share a window.
    key = session.astype(np.int64) * span + bucket
    change = np.ones(len(key), dtype=bool)
    change[1:] = key[1:] != key[:-1]
    ukey = key[change]
    counts = np.diff(np.append(np.flatnonzero(change), len(key)))
    csum = np.cumsum(counts)
    lo = np.searchsorted(ukey, ukey - buckets, side="right") - 1  # last key <= k - buckets
    in_window = csum - np.where(lo >= 0, csum[np.maximum(lo, 0)], 0)
    sess = session[change]
    starts = np.flatnonzero(np.r_[True, sess[1:] != sess[:-1]])
    out: npt.NDArray[np.int64] = np.maximum.reduceat(in_window, starts)
    return out


def check_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast ``table`` to its declared ``schema`` or raise :class:`SchemaError`."""
    if table.schema.names != schema.names:
        raise SchemaError(f"result columns {table.schema.names} differ from {schema.names}")
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"result does not fit its schema: {exc}") from exc


def schema(fields: list[tuple[str, pa.DataType, str]]) -> pa.Schema:
    """An Arrow schema whose fields carry a one-line ``doc``."""
    return pa.schema([pa.field(n, t, metadata={"doc": d}) for n, t, d in fields])


def params_meta(params: Any) -> dict[str, Any]:
    """A JSON-ready dict of a ``Params`` dataclass (echoed into stored results)."""
    out: dict[str, Any] = dataclasses.asdict(params)
    json.dumps(out)  # fail early if not serialisable
    return out


def ip_text(values: npt.NDArray[np.int64] | pa.Array) -> list[str | None]:
    """Dotted-quad text of IPv4 integers (for display only)."""
    arr = values.to_pylist() if isinstance(values, pa.Array | pa.ChunkedArray) else values
    out: list[str | None] = []
    for v in arr:
        if v is None:
            out.append(None)
            continue
        x = int(v)
        out.append(f"{x >> 24 & 255}.{x >> 16 & 255}.{x >> 8 & 255}.{x & 255}")
    return out


def distinct_per_group(
    gid: npt.NDArray[np.int64], vals: npt.NDArray[np.int64], n_groups: int
) -> npt.NDArray[np.int64]:
    """Number of distinct ``vals`` in each group ``0 .. n_groups-1``.

    >>> import numpy as np
    >>> distinct_per_group(np.array([0, 0, 1, 0]), np.array([7, 7, 7, 8]), 2).tolist()
    [2, 1]
    """
    if len(gid) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    if n_groups < 1 << 30 and vals.min() >= -1 and vals.max() < (1 << 33) - 1:
        # one sort of packed (group, value + 1) keys instead of a two-key lexsort
        key = np.sort((gid.astype(np.uint64) << np.uint64(33)) | (vals + 1).astype(np.uint64))
        new = np.ones(len(key), dtype=bool)
        new[1:] = key[1:] != key[:-1]
        g = (key[new] >> np.uint64(33)).astype(np.int64)
        return np.bincount(g, minlength=n_groups).astype(np.int64)
    order = np.lexsort((vals, gid))
    g, v = gid[order], vals[order]
    new = np.ones(len(g), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (v[1:] != v[:-1])
    return np.bincount(g, weights=new, minlength=n_groups).astype(np.int64)


def top_values_per_group(
    gid: npt.NDArray[np.int64], vals: npt.NDArray[np.int64], n_groups: int, k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The ``k`` most frequent ``vals`` of each group (ties: smaller value first).

    Returns ``(offsets, values, counts)`` in list-array layout: group ``g`` owns
    ``values[offsets[g]:offsets[g+1]]``. Negative values (absent) are skipped.

    >>> import numpy as np
    >>> o, v, c = top_values_per_group(np.array([0, 0, 0, 1]), np.array([5, 6, 6, 9]), 2, 1)
    >>> o.tolist(), v.tolist(), c.tolist()
    ([0, 1, 2], [6, 9], [2, 1])
    """
    keep = vals >= 0
    g, v = gid[keep], vals[keep]
    if len(g) == 0:
        return np.zeros(n_groups + 1, dtype=np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((v, g))
    g, v = g[order], v[order]
    new = np.ones(len(g), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (v[1:] != v[:-1])
    starts = np.flatnonzero(new)
    pg, pv = g[starts], v[starts]
    pc_ = np.diff(np.append(starts, len(g)))
    order2 = np.lexsort((pv, -pc_, pg))
    pg, pv, pc_ = pg[order2], pv[order2], pc_[order2]
    first = np.ones(len(pg), dtype=bool)
    first[1:] = pg[1:] != pg[:-1]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(len(pg)), 0))
    rank = np.arange(len(pg)) - grp_start
    sel = rank < k
    pg, pv, pc_ = pg[sel], pv[sel], pc_[sel]
    counts = np.bincount(pg, minlength=n_groups)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return offsets, pv.astype(np.int64), pc_.astype(np.int64)


def packets_from_columns(columns: dict[str, Any]) -> pa.Table:
    """A :data:`PACKET_SCHEMA` table from some columns, the others null (tests, examples).

    >>> packets_from_columns({"proto": [6, 17]}).column("proto").type
    DataType(uint8)
    """
    from teiten.core.schema import PACKET_SCHEMA

    n = len(next(iter(columns.values())))
    arrays = []
    for f in PACKET_SCHEMA:
        if f.name in columns:
            arrays.append(pa.array(columns[f.name]).cast(f.type))
        else:
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=PACKET_SCHEMA)


def label_codes(table: pa.Table, name: str) -> tuple[npt.NDArray[np.int64], list[str]]:
    """A string (or dictionary) column as integer codes (-1 for null) and its dictionary."""
    if name not in table.column_names or table.num_rows == 0:
        return np.full(table.num_rows, -1, dtype=np.int64), []
    col = table.column(name).combine_chunks()
    if not pa.types.is_dictionary(col.type):
        col = col.dictionary_encode()
    if pa.types.is_dictionary(col.type) and col.dictionary.type != pa.string():
        col = col.cast(pa.dictionary(col.type.index_type, pa.string()))
    idx = np.asarray(col.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return idx, [str(x) for x in col.dictionary.to_pylist()]


def majority(
    gid: npt.NDArray[np.int64], codes: npt.NDArray[np.int64], n_groups: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per group: the most frequent non-negative code (-1 if none) and its count."""
    offs, vals, counts = top_values_per_group(gid, codes, n_groups, 1)
    code = np.full(n_groups, -1, dtype=np.int64)
    cnt = np.zeros(n_groups, dtype=np.int64)
    has = offs[1:] > offs[:-1]
    code[has] = vals
    cnt[has] = counts
    return code, cnt


# -- compiled sessionisation ------------------------------------------------------------------

_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True)
def _dense_ids_kernel(
    keys: npt.NDArray[np.uint64], ids: npt.NDArray[Any],
) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint64]]:  # pragma: no cover - compiled
    # open addressing; slot s holds its key at table[2s] and its id + 1 at table[2s+1] (one
    # cache line per probe)
    n = len(keys)
    bits = 12
    cap = 1 << bits
    table = np.zeros(2 * cap, np.uint64)
    uniq = np.empty(max(n, 1), np.uint64)
    nu = 0
    for i in range(n):
        k = keys[i]
        if 2 * (nu + 1) > cap:  # keep the load under one half: double and re-insert
            bits += 1
            cap = 1 << bits
            table = np.zeros(2 * cap, np.uint64)
            for u in range(nu):
                h = (uniq[u] * _GOLDEN) >> np.uint64(64 - bits)
                while table[2 * h + 1] != 0:
                    h = (h + np.uint64(1)) & np.uint64(cap - 1)
                table[2 * h] = uniq[u]
                table[2 * h + 1] = u + 1
        h = (k * _GOLDEN) >> np.uint64(64 - bits)
        while True:
            s = table[2 * h + 1]
            if s == 0:
                table[2 * h] = k
                table[2 * h + 1] = nu + 1
                uniq[nu] = k
                ids[i] = nu
                nu += 1
                break
            if table[2 * h] == k:
                ids[i] = np.int64(s) - 1
                break
            h = (h + np.uint64(1)) & np.uint64(cap - 1)
    return ids, uniq[:nu]


def dense_ids(keys: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint64]]:
    """Number the distinct ``keys`` 0, 1, … in order of first appearance (one hashed pass).

    Returns ``(ids, uniq)`` with ``uniq[ids] == keys``; ``ids`` are int32 when fewer than
    2^31 keys are numbered (half the memory of int64 at 100M rows), else int64.

    >>> import numpy as np
    >>> ids, uniq = dense_ids(np.array([7, 3, 7, 9], np.uint64))
    >>> ids.tolist(), uniq.tolist()
    ([0, 1, 0, 2], [7, 3, 9])
    """
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    out = np.empty(len(keys), dtype=np.int32 if len(keys) < 2**31 else np.int64)
    ids, uniq = _dense_ids_kernel(keys, out)
    return ids, uniq


@numba.njit(cache=True)
def _sessionise_kernel(
    gid: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], n_groups: int, idle_ns: int,
    min_packets: int, gap_factor: float, max_mean_gap_ns: float, perm: npt.NDArray[Any],
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.int64],
           npt.NDArray[np.int64]]:  # fmt: skip  # pragma: no cover - compiled
    n = len(gid)
    off = np.zeros(n_groups + 1, np.int64)
    for i in range(n):
        off[gid[i] + 1] += 1
    for g in range(n_groups):
        off[g + 1] += off[g]
    pos = off[:-1].copy()
    tsp = np.empty(n, np.int64)  # the times in that order: no gather per group later
    # counting sort by group, stable; rows of groups too small to keep are not moved (their
    # slots stay unset and unread). perm: as wide as the row numbers need (given).
    for i in range(n):
        g = gid[i]
        if off[g + 1] - off[g] >= min_packets:
            perm[pos[g]] = i
            tsp[pos[g]] = ts[i]
            pos[g] += 1
    cap = n // max(min_packets, 1) + 1
    s_lo = np.empty(cap, np.int64)
    s_hi = np.empty(cap, np.int64)
    s_g = np.empty(cap, np.int64)
    ns = 0
    for g in range(n_groups):
        a, b = off[g], off[g + 1]
        m = b - a
        if m < min_packets:
            continue
        t = tsp[a:b]
        ordered = True
        for j in range(1, m):
            if t[j] < t[j - 1]:
                ordered = False
                break
        if not ordered:
            o = np.argsort(t, kind="mergesort")
            perm[a:b] = perm[a:b][o]
            t = t[o]
        # sessions closed by the idle timeout: [lo[k], hi[k]] (inclusive) within the group
        lo = np.empty(m, np.int64)
        hi = np.empty(m, np.int64)
        nb = 0
        start = 0
        for j in range(1, m):
            if t[j] - t[j - 1] > idle_ns:
                lo[nb] = start
                hi[nb] = j - 1
                nb += 1
                start = j
        lo[nb] = start
        hi[nb] = m - 1
        nb += 1
        # merge across a longer gap when it is unremarkable at the merged session's mean rate
        c_lo, c_hi = lo[0], hi[0]
        for k in range(1, nb + 1):
            merge = False
            if k < nb and gap_factor > 0.0:
                gap = t[lo[k]] - t[c_hi]
                mean_gap = (t[hi[k]] - t[c_lo]) / (hi[k] - c_lo)
                merge = mean_gap <= max_mean_gap_ns and gap <= gap_factor * mean_gap
            if merge:
                c_hi = hi[k]
                continue
            if c_hi - c_lo + 1 >= min_packets:
                s_lo[ns] = a + c_lo
                s_hi[ns] = a + c_hi + 1
                s_g[ns] = g
                ns += 1
            if k < nb:
                c_lo, c_hi = lo[k], hi[k]
    return perm, s_lo[:ns], s_hi[:ns], s_g[:ns]


@dataclasses.dataclass(frozen=True, slots=True)
class Sessions:
    """Sessions of packets (see :func:`sessionise`).

    Attributes
    ----------
    rows : numpy.ndarray
        Row numbers of the packets in kept sessions, session by session, each in time order.
    bounds : numpy.ndarray
        Session ``i`` owns ``rows[bounds[i]:bounds[i + 1]]``.
    group : numpy.ndarray
        The group of each session.
    """

    rows: npt.NDArray[np.int64]
    bounds: npt.NDArray[np.int64]
    group: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.group)

    def session_of_rows(self) -> npt.NDArray[np.int64]:
        """The session number of each entry of :attr:`rows`."""
        return np.repeat(np.arange(len(self.group), dtype=np.int64), np.diff(self.bounds))


def sessionise(
    gid: npt.NDArray[np.int64],
    ts_ns: npt.NDArray[np.int64],
    n_groups: int,
    idle_ns: int,
    min_packets: int = 1,
    gap_factor: float = 0.0,
    max_mean_gap_ns: float = 0.0,
) -> Sessions:
    """Split each group's packets into sessions in one compiled pass; keep the big ones.

    A session of a group ends at a gap longer than ``idle_ns``. With ``gap_factor > 0`` such
    a gap is bridged when it is unremarkable for the session it would join: the merged
    session's mean inter-arrival ``m`` (gap included) is at most ``max_mean_gap_ns`` and the
    gap is at most ``gap_factor * m`` (for Poisson arrivals at that rate, a gap this long has
    probability ``exp(-gap_factor)``); sessions are merged greedily in time order. Sessions
    with fewer than ``min_packets`` packets are dropped. Packets need not be sorted (groups
    already in time order are not re-sorted).

    Returns
    -------
    Sessions
        The kept sessions, in group order then time order.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.array([0, 0, 0, 1, 0]); t = np.array([0, 5, 50, 1, 52])
    >>> s = sessionise(g, t, 2, 10)
    >>> s.rows.tolist(), s.bounds.tolist(), s.group.tolist()
    ([0, 1, 2, 4, 3], [0, 2, 4, 5], [0, 0, 1])
    >>> sessionise(g, t, 2, 10, min_packets=2).group.tolist()
    [0, 0]
    >>> sessionise(g, t, 2, 10, gap_factor=5, max_mean_gap_ns=20).bounds.tolist()  # 45 <= 5*17
    [0, 4, 5]
    """
    gid = np.ascontiguousarray(gid, dtype=gid.dtype if gid.dtype == np.int32 else np.int64)
    perm, lo, hi, grp = _sessionise_kernel(
        gid,
        np.ascontiguousarray(ts_ns, dtype=np.int64),
        int(n_groups),
        int(idle_ns),
        int(min_packets),
        float(gap_factor),
        float(max_mean_gap_ns),
        np.empty(len(gid), dtype=np.int32 if len(gid) < 2**31 else np.int64),
    )
    lengths = hi - lo
    bounds = np.zeros(len(lo) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    if len(lo) == 0:
        return Sessions(np.zeros(0, np.int64), bounds, grp)
    # gather the kept ranges of perm: offsets into perm for every kept packet
    step = np.ones(int(bounds[-1]), dtype=np.int64)
    step[bounds[:-1]] = lo - np.r_[0, hi[:-1] - 1]
    step[0] = lo[0]
    return Sessions(perm[np.cumsum(step)].astype(np.int64), bounds, grp)


def ip6_text(values: pa.Array | pa.ChunkedArray | list[bytes | None]) -> list[str | None]:
    """Compressed text of 16-byte IPv6 addresses (for display only).

    >>> ip6_text([bytes.fromhex("20010db8" + "0" * 23 + "1"), None])
    ['2001:db8::1', None]
    """
    import ipaddress

    arr = values.to_pylist() if isinstance(values, pa.Array | pa.ChunkedArray) else values
    return [None if v is None else str(ipaddress.IPv6Address(bytes(v))) for v in arr]

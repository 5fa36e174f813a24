"""Packet columns for the detections: read with Arrow, once, and shared between detections.

Private to :mod:`teiten.detections`. The detections that read every packet (backscatter,
scans, tools, diurnal) get their columns from :func:`packet_columns`: over an Arrow table or
dataset, or over a store's files when the store is given, columns are read with Arrow (only
those asked for, the period mapped onto the store's UTC ``date`` partitions, then onto
``ts``) and kept as NumPy arrays; string columns become integer codes once. Inside
:func:`shared_columns` every detection given the same store and period reuses the same
:class:`Columns` — the Parquet files are decoded once for all of them, and derived arrays
(the source numbering) are computed once. Other sources (a DuckDB connection or relation, an
ibis table) are queried with SQL, the detection's condition pushed into the query.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from teiten.core.periods import Period
from teiten.detections._common import (
    PacketSource,
    dense_ids,
    packets_from_columns,
    period_where,
    query,
)

_SHARED: contextvars.ContextVar[dict[tuple[Any, ...], Columns] | None] = contextvars.ContextVar(
    "teiten_detections_shared_columns", default=None
)


@contextlib.contextmanager
def shared_columns() -> Iterator[None]:
    """Within the block, detections over the same store and period share one read.

    The packet columns they read (and the source numbering) are kept in memory until the
    block ends — about 40 bytes per packet for all five detections.

    Examples
    --------
    >>> with shared_columns():
    ...     pass
    """
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _date_text(ns: int) -> str:
    return str(np.datetime64(ns, "ns").astype("datetime64[D]"))


def _period_filter(source: pa.Table | ds.Dataset, period: Period | None) -> ds.Expression | None:
    if period is None:
        return None
    lo = pa.scalar(period.start_ns, pa.timestamp("ns", "UTC"))
    hi = pa.scalar(period.end_ns, pa.timestamp("ns", "UTC"))
    filt = (ds.field("ts") >= lo) & (ds.field("ts") < hi)
    if "date" in source.schema.names:  # prune the UTC date partitions first
        d0, d1 = _date_text(period.start_ns), _date_text(period.end_ns - 1)
        filt = (ds.field("date") >= d0) & (ds.field("date") <= d1) & filt
    return filt


def _partition_filter(source: pa.Table | ds.Dataset, period: Period | None) -> ds.Expression | None:
    if period is None or "date" not in source.schema.names:
        return None
    d0, d1 = _date_text(period.start_ns), _date_text(period.end_ns - 1)
    return (ds.field("date") >= d0) & (ds.field("date") <= d1)


def _arrow_source(packets: PacketSource, store: Any) -> pa.Table | ds.Dataset | None:
    if store is not None:
        if not store.packet_files():
            return packets_from_columns({"ts": []})
        dataset: ds.Dataset = store.packets()
        return dataset
    if isinstance(packets, pa.Table | ds.Dataset):
        return packets
    return None


def _ts_int(t: pa.Table) -> pa.Table:
    """``ts`` (if present) as int64 nanoseconds."""
    if "ts" not in t.column_names:
        return t
    i = t.column_names.index("ts")
    ts = t.column(i)
    if pa.types.is_timestamp(ts.type):
        ts = ts.cast(pa.timestamp("ns", "UTC")).cast(pa.int64())
    elif ts.type != pa.int64():
        ts = ts.cast(pa.int64())
    return t.set_column(i, "ts", ts)


def read_columns(
    packets: PacketSource,
    period: Period | None,
    columns: list[str],
    *,
    store: Any = None,
    where: str = "TRUE",
    filter: ds.Expression | None = None,
) -> pa.Table:
    """The ``columns`` of the packets inside ``period`` that meet a condition (``ts`` as int64).

    Arrow tables and datasets, and the store's files when ``store`` is given, are read with
    Arrow, rows kept by ``filter`` (row groups it rules out by their statistics are
    skipped); other sources go through :func:`~teiten.detections._common.query`, rows kept
    by ``where``. ``where`` and ``filter`` must be the same condition, in SQL and as an
    Arrow expression.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB connection or relation, ibis.Table
        The packet table (ignored when ``store`` is given).
    period : teiten.core.periods.Period or None
        Only packets inside the period; None: all.
    columns : list of str
        Packet-table columns to read.
    store : teiten.store.Store, optional
        Read this store's packet files directly (``packets`` must be its packet table).
    where : str
        The row condition in SQL.
    filter : pyarrow.dataset.Expression, optional
        The same condition as an Arrow expression.

    Returns
    -------
    pyarrow.Table
        The columns in the order given, rows in storage order.

    Examples
    --------
    >>> t = packets_from_columns({"ts": [5, 7], "proto": [6, 17]})
    >>> read_columns(t, None, ["ts", "proto"], filter=ds.field("proto") == 6).num_rows
    1
    """
    source = _arrow_source(packets, store)
    if source is None:
        sel = ", ".join("epoch_ns(ts) AS ts" if c == "ts" else c for c in columns)
        cond, args = period_where(period)
        return _ts_int(query(packets, f"SELECT {sel} FROM packets WHERE {cond} AND ({where})",
                             args))  # fmt: skip
    filt = _period_filter(source, period)
    if filter is not None:
        filt = filter if filt is None else filt & filter
    if isinstance(source, pa.Table):
        t = source if filt is None else source.filter(filt)
        return _ts_int(t.select(columns))
    return _ts_int(source.to_table(columns=columns, filter=filt))


def ints(table: pa.Table, name: str, fill: int, dtype: Any = np.int64) -> npt.NDArray[Any]:
    """A numeric column as a NumPy array of ``dtype``, nulls (or a missing column) as ``fill``.

    >>> ints(packets_from_columns({"sport": [53, None]}), "sport", -1).tolist()
    [53, -1]
    """
    if name not in table.column_names:
        return np.full(table.num_rows, fill, dtype=dtype)
    return _numeric(table.column(name), fill, dtype)


def _single(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def _validity(arr: pa.Array) -> npt.NDArray[np.bool_]:
    """Which entries of ``arr`` are not null (its bitmap unpacked)."""
    n, off = len(arr), arr.offset
    if arr.null_count == 0:
        return np.ones(n, dtype=bool)
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    out: npt.NDArray[np.bool_] = np.unpackbits(bits, bitorder="little")[off : off + n].view(bool)
    return out


def _numeric(col: pa.ChunkedArray | pa.Array, fill: int, dtype: Any) -> npt.NDArray[Any]:
    """An integer (or timestamp) column as NumPy without Arrow kernels: the values buffer as
    it is (no copy when the type fits), the nulls set to ``fill``."""
    arr = _single(col)
    if pa.types.is_timestamp(arr.type):
        arr = arr.cast(pa.int64())
    if not pa.types.is_integer(arr.type):
        arr = arr.cast(pa.int64())
    n, off = len(arr), arr.offset
    if arr.null_count == n:
        return np.full(n, fill, dtype=dtype)
    raw = np.frombuffer(arr.buffers()[1], dtype=arr.type.to_pandas_dtype())[off : off + n]
    if arr.null_count == 0:
        return raw if raw.dtype == np.dtype(dtype) else raw.astype(dtype)
    out: npt.NDArray[Any] = np.where(_validity(arr), raw.astype(dtype, copy=False),
                                     np.asarray(fill).astype(dtype))  # fmt: skip
    return out


def string_codes(
    col: pa.ChunkedArray | pa.Array, code: Callable[[list[str]], Any], fill: int = 0,
    dtype: Any = np.int64,
) -> npt.NDArray[Any]:  # fmt: skip
    """Integer codes of a string or dictionary column: ``code(list of distinct strings)``
    gives one code per string; nulls get ``fill``. One small lookup for all chunks.

    >>> string_codes(pa.array(["b", None, "a"]).dictionary_encode(),
    ...              lambda v: [ord(x) for x in v]).tolist()
    [98, 0, 97]
    """
    if isinstance(col, pa.ChunkedArray) and col.num_chunks > 1 and pa.types.is_dictionary(
            col.type):  # fmt: skip
        col = col.unify_dictionaries()
        dictionary = col.chunk(0).dictionary
        idx = pa.chunked_array([c.indices for c in col.chunks], col.type.index_type)
        arr = pa.DictionaryArray.from_arrays(idx.combine_chunks(), dictionary)
    else:
        arr = _single(col)
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    values = [str(v) for v in arr.dictionary.to_pylist()]
    lut = np.asarray([*code(values), fill], dtype=dtype)
    idx = _numeric(arr.indices, len(values), np.intp)
    out: npt.NDArray[Any] = lut[idx]
    return out


def vocabulary_codes() -> tuple[dict[str, int], Callable[[list[str]], list[int]]]:
    """A growing vocabulary and the ``code`` function for :func:`string_codes` that fills it
    (codes 0, 1, … in order of first appearance)."""
    vocab: dict[str, int] = {}

    def code(values: list[str]) -> list[int]:
        return [vocab.setdefault(v, len(vocab)) for v in values]

    return vocab, code


class Columns:
    """Packet columns of one period as NumPy arrays, read on first use and kept.

    Parameters
    ----------
    source : pyarrow.Table or pyarrow.dataset.Dataset
        The packets (a SQL route's pre-filtered table, an Arrow table, or a dataset).
    period : teiten.core.periods.Period or None
        Only packets inside the period (None: all; or already applied).
    """

    def __init__(self, source: pa.Table | ds.Dataset, period: Period | None,
                 sql: tuple[PacketSource, Period | None] | None = None) -> None:  # fmt: skip
        self._sql = sql  # the SQL route: (packets, period) for further queries
        self._source = source
        self._period = period
        self._arrow: dict[str, pa.ChunkedArray] = {}
        self._memo: dict[Any, Any] = {}
        self._keep: npt.NDArray[np.bool_] | None = None  # rows inside the period
        self._loaded_ts = False

    def _load(self, names: list[str]) -> None:
        missing = [n for n in names if n not in self._arrow and n in self._source.schema.names]
        if not missing:
            return
        if not self._loaded_ts and "ts" not in missing:
            missing.append("ts")
        if isinstance(self._source, pa.Table):
            t = self._source.select(missing)
        else:
            t = self._source.to_table(columns=missing,
                                      filter=_partition_filter(self._source, self._period))
        if not self._loaded_ts:  # rows of the read partitions inside the period
            self._loaded_ts = True
            ts = _ts_int(t.select(["ts"])).column(0)
            if self._period is not None:
                keep = np.asarray(pc.and_(
                    pc.greater_equal(ts, self._period.start_ns),
                    pc.less(ts, self._period.end_ns)).fill_null(False).to_numpy(
                        zero_copy_only=False), dtype=bool)  # fmt: skip
                self._keep = None if keep.all() else keep
            t = t.set_column(t.column_names.index("ts"), "ts", ts)
        for n in t.column_names:
            col = t.column(n)
            if self._keep is not None:
                col = col.filter(pa.array(self._keep))
            self._arrow[n] = col

    def __len__(self) -> int:
        self._load(["ts"])
        return len(self._arrow["ts"]) if "ts" in self._arrow else self._source.num_rows

    def has(self, name: str) -> bool:
        """Whether the packets have column ``name``."""
        return name in self._source.schema.names

    def arrow(self, name: str) -> pa.ChunkedArray:
        """Column ``name`` as Arrow (period rows)."""
        self._load([name])
        return self._arrow[name]

    def load(self, names: list[str]) -> None:
        """Read the named columns (those not read yet) in one pass over the files."""
        self._load(names)

    def int(self, name: str, fill: int, dtype: Any = np.int64) -> npt.NDArray[Any]:
        """A numeric column as NumPy (nulls and a missing column as ``fill``), memoised."""
        key = ("int", name, fill, np.dtype(dtype).str)
        if key not in self._memo:
            if not self.has(name):
                self._memo[key] = np.full(len(self), fill, dtype=dtype)
            else:
                self._memo[key] = _numeric(self.arrow(name), fill, dtype)
        out: npt.NDArray[Any] = self._memo[key]
        return out

    def valid(self, name: str) -> npt.NDArray[np.bool_]:
        """Which rows have a value in column ``name``."""
        key = ("valid", name)
        if key not in self._memo:
            if not self.has(name):
                self._memo[key] = np.zeros(len(self), dtype=bool)
            else:
                self._memo[key] = _validity(_single(self.arrow(name)))
        out: npt.NDArray[np.bool_] = self._memo[key]
        return out

    def codes(self, name: str) -> tuple[npt.NDArray[np.int32], list[str]]:
        """A string column as codes (-1 null) into its vocabulary (first appearance order)."""
        key = ("codes", name)
        if key not in self._memo:
            if not self.has(name):
                self._memo[key] = (np.full(len(self), -1, dtype=np.int32), [])
            else:
                vocab, code = vocabulary_codes()
                c = string_codes(self.arrow(name), code, -1, np.int32)
                self._memo[key] = (c, sorted(vocab, key=vocab.__getitem__))
        out: tuple[npt.NDArray[np.int32], list[str]] = self._memo[key]
        return out

    def src_ids(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
        """Per row a number of its IPv4 source (:func:`dense_ids` of ``src``; rows without
        one share the key 2^63), and the distinct keys."""
        key = ("src_ids",)
        if key not in self._memo:
            src = self.int("src", 0, np.uint32).astype(np.uint64)
            valid = self.valid("src")
            if not valid.all():
                src[~valid] = np.uint64(2**63)
            self._memo[key] = dense_ids(src)
        out: tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]] = self._memo[key]
        return out

    def rows_where(self, names: list[str], expr: ds.Expression, where: str) -> pa.Table:
        """The named columns of the rows meeting ``expr`` (period rows, storage order), read
        on their own: for columns needed on few rows (row groups without any are skipped).
        ``where`` is the same condition in SQL, for the SQL route."""
        if self._sql is not None and not set(names) <= set(self._source.schema.names):
            return read_columns(self._sql[0], self._sql[1], names, where=where)
        filt = _period_filter(self._source, self._period)
        filt = expr if filt is None else filt & expr
        if isinstance(self._source, pa.Table):
            return _ts_int(self._source.filter(filt).select(names))
        return _ts_int(self._source.to_table(columns=names, filter=filt))


def packet_columns(
    packets: PacketSource,
    period: Period | None,
    *,
    store: Any = None,
    sql_columns: list[str],
    where: str,
) -> Columns:
    """The packets' :class:`Columns` for a detection (shared inside :func:`shared_columns`).

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB connection or relation, ibis.Table
        The packet table (ignored when ``store`` is given: its files are read).
    period : teiten.core.periods.Period or None
        Only packets inside the period.
    store : teiten.store.Store, optional
        The store whose packet table ``packets`` is.
    sql_columns : list of str
        For SQL sources: the columns to fetch, …
    where : str
        … of the rows meeting this SQL condition (the detection still applies its own mask).

    Returns
    -------
    Columns

    Examples
    --------
    >>> t = packets_from_columns({"ts": [5, 7], "proto": [6, 17]})
    >>> packet_columns(t, None, sql_columns=["proto"], where="TRUE").int("proto", 0).tolist()
    [6, 17]
    """
    source = _arrow_source(packets, store)
    if source is None:
        return Columns(read_columns(packets, period, sql_columns, where=where), None,
                       sql=(packets, period))
    shared = _SHARED.get()
    if shared is None:
        return Columns(source, period)
    files = tuple(store.packet_files()) if store is not None else id(source)
    key = (files, None if period is None else (period.start_ns, period.end_ns))
    if key not in shared:
        shared.clear()  # one period at a time
        shared[key] = Columns(source, period)
    return shared[key]

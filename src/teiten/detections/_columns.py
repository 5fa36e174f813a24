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
    packets_from_columns,
    period_where,
    query,
)

_SHARED: contextvars.ContextVar[dict[tuple[Any, ...], Extract] | None] = contextvars.ContextVar(
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


class Batch:
    """One record batch of packets, with memoised NumPy views of its columns."""

    def __init__(self, rb: pa.RecordBatch, vocabs: dict[str, Any]) -> None:
        self.rb = rb
        self._vocabs = vocabs
        self._memo: dict[Any, Any] = {}

    def __len__(self) -> int:
        return int(self.rb.num_rows)

    def has(self, name: str) -> bool:
        """Whether the batch has column ``name``."""
        return name in self.rb.schema.names

    def arrow(self, name: str) -> pa.Array:
        """Column ``name`` as Arrow."""
        return self.rb.column(name)

    def int(self, name: str, fill: int, dtype: Any = np.int64) -> npt.NDArray[Any]:
        """A numeric column as NumPy (nulls and a missing column as ``fill``)."""
        key = ("int", name, fill, np.dtype(dtype).str)
        if key not in self._memo:
            self._memo[key] = (_numeric(self.rb.column(name), fill, dtype) if self.has(name)
                               else np.full(len(self), fill, dtype=dtype))  # fmt: skip
        out: npt.NDArray[Any] = self._memo[key]
        return out

    def valid(self, name: str) -> npt.NDArray[np.bool_]:
        """Which rows have a value in column ``name``."""
        key = ("valid", name)
        if key not in self._memo:
            self._memo[key] = (_validity(self.rb.column(name)) if self.has(name)
                               else np.zeros(len(self), dtype=bool))  # fmt: skip
        out: npt.NDArray[np.bool_] = self._memo[key]
        return out

    def codes(self, name: str, dtype: Any = np.int16) -> npt.NDArray[Any]:
        """A string column as codes (-1: null) into the pass's vocabulary of that column
        (int16 by default: tools and countries have a few hundred values at most, and the
        codes are kept per packet; more distinct values than ``dtype`` holds is an error)."""
        key = ("codes", name)
        if key not in self._memo:
            if not self.has(name):
                self._memo[key] = np.full(len(self), -1, dtype=dtype)
            else:
                if name not in self._vocabs:
                    self._vocabs[name] = vocabulary_codes()
                self._memo[key] = string_codes(self.rb.column(name), self._vocabs[name][1], -1,
                                               dtype)  # fmt: skip
                if len(self._vocabs[name][0]) > np.iinfo(dtype).max:
                    raise ValueError(f"column {name!r} has more distinct values than "
                                     f"{np.dtype(dtype).name} codes hold")  # fmt: skip
        out: npt.NDArray[Any] = self._memo[key]
        return out


#: A part of the pass: the columns it reads and the function (``module:name``) that takes
#: what it needs from each :class:`Batch` (NumPy arrays, or Arrow tables, by name).
PARTS: dict[str, tuple[tuple[str, ...], str]] = {
    "backscatter4": (("ts", "ip_version", "src", "dst", "proto", "sport", "tcp_flags",
                      "icmp_type"), "teiten.detections.backscatter:take_rows"),
    "probes4": (("ts", "ip_version", "src", "dst", "proto", "sport", "dport", "tcp_flags",
                 "icmp_type", "tool", "country"), "teiten.detections.scans:take_rows"),
    "sources4": (("ts", "ip_version", "src", "tool", "country"),
                 "teiten.detections.tools:take_rows"),
}  # fmt: skip


class Extract:
    """What one pass over the packets took for each part (see :func:`extract`)."""

    def __init__(self, source: pa.Table | ds.Dataset, period: Period | None,
                 sql: tuple[PacketSource, Period | None] | None) -> None:  # fmt: skip
        self._source, self._period, self._sql = source, period, sql
        self.parts: dict[str, dict[str, Any]] = {}
        self._vocabs: dict[str, Any] = {}

    def vocabulary(self, name: str) -> list[str]:
        """The strings of column ``name`` in code order (codes from :meth:`Batch.codes`)."""
        if name not in self._vocabs:
            return []
        vocab: dict[str, int] = self._vocabs[name][0]
        return sorted(vocab, key=vocab.__getitem__)

    def run(self, parts: list[str]) -> None:
        """One pass over the batches for the given parts (not taken yet)."""
        import importlib

        todo = [p for p in parts if p not in self.parts]
        if not todo:
            return
        names = self._source.schema.names
        cols = sorted({c for p in todo for c in PARTS[p][0] if c in names}, key=names.index)
        fns = {}
        for p in todo:
            mod, fn = PARTS[p][1].split(":")
            fns[p] = getattr(importlib.import_module(mod), fn)
        got: dict[str, dict[str, Any]] = {p: {} for p in todo}
        # NumPy parts go into buffers sized for every row (pages are only touched as they
        # fill), so that nothing is concatenated at the end
        cap = (self._source.num_rows if isinstance(self._source, pa.Table) else
               self._source.count_rows(filter=_partition_filter(self._source, self._period)))
        fill: dict[str, int] = dict.fromkeys(todo, 0)
        if isinstance(self._source, pa.Table):
            batches: Any = _ts_int(self._source.select(cols)).to_batches(1 << 20)
        else:
            batches = self._source.to_batches(
                columns=cols, filter=_partition_filter(self._source, self._period),
                batch_size=1 << 20)  # fmt: skip
        for rb in batches:
            if rb.num_rows == 0:
                continue
            rb = _ts_int(pa.Table.from_batches([rb])).combine_chunks().to_batches()[0]
            if self._period is not None:
                ts = _numeric(rb.column("ts"), 0, np.int64)
                keep = (ts >= self._period.start_ns) & (ts < self._period.end_ns)
                if not keep.all():
                    rb = rb.filter(pa.array(keep))
            b = Batch(rb, self._vocabs)
            for p in todo:
                out = fns[p](b)
                lo = fill[p]
                for k, v in out.items():
                    if isinstance(v, pa.Table):
                        got[p].setdefault(k, []).append(v)
                        continue
                    if k not in got[p]:
                        got[p][k] = np.empty(cap, dtype=v.dtype)
                    got[p][k][lo : lo + len(v)] = v
                    fill[p] = lo + len(v)
        for p in todo:
            if not got[p]:  # no rows: the part's arrays, empty
                fields = [self._source.schema.field(c) for c in cols]
                empty = pa.RecordBatch.from_arrays([pa.array([], f.type) for f in fields],
                                                   names=cols)  # fmt: skip
                empty = _ts_int(pa.Table.from_batches([empty])).combine_chunks()
                rb0 = pa.RecordBatch.from_arrays([c.combine_chunks() for c in empty.columns],
                                                 names=cols)  # fmt: skip
                got[p] = {k: v if isinstance(v, np.ndarray) else [v]
                          for k, v in fns[p](Batch(rb0, self._vocabs)).items()}  # fmt: skip
            self.parts[p] = {k: (v[: fill[p]] if isinstance(v, np.ndarray)
                                 else pa.concat_tables(v)) for k, v in got[p].items()}  # fmt: skip

    def part(self, name: str) -> dict[str, Any]:
        """The arrays (or tables) part ``name`` took (empty dict when no rows)."""
        self.run([name])
        return self.parts[name]

    def rows_where(self, names: list[str], expr: ds.Expression, where: str) -> pa.Table:
        """The named columns of the rows meeting ``expr`` (period rows, storage order), read
        on their own: for columns needed on few rows (row groups without any are skipped).
        ``where`` is the same condition in SQL, for the SQL route."""
        if self._sql is not None:
            return read_columns(self._sql[0], self._sql[1], names, where=where)
        filt = _period_filter(self._source, self._period)
        filt = expr if filt is None else filt & expr
        if isinstance(self._source, pa.Table):
            return _ts_int(self._source.filter(filt).select(names))
        return _ts_int(self._source.to_table(columns=names, filter=filt))


def arrow_route(packets: PacketSource, store: Any) -> bool:
    """Whether :func:`extract` reads the packets with Arrow (else through SQL)."""
    return store is not None or isinstance(packets, pa.Table | ds.Dataset)


def extract(
    packets: PacketSource, period: Period | None, part: str | None, *, store: Any = None,
    where: str = "TRUE",
) -> Extract:  # fmt: skip
    """Take part ``part`` of the packets in one streamed pass (shared inside
    :func:`shared_columns`, where the first pass takes every part).

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB connection or relation, ibis.Table
        The packet table (ignored when ``store`` is given: its files are read).
    period : teiten.core.periods.Period or None
        Only packets inside the period.
    part : str or None
        A key of :data:`PARTS`; None: no pass (for :meth:`Extract.rows_where` only).
    store : teiten.store.Store, optional
        The store whose packet table ``packets`` is.
    where : str
        For SQL sources: the part's row condition in SQL, pushed into the query (the part's
        function still applies its own mask).

    Returns
    -------
    Extract
    """
    source = _arrow_source(packets, store)
    if source is None:
        cols = list(PARTS[part][0]) if part is not None else ["ts"]
        t = read_columns(packets, period, cols, where=where if part is not None else "FALSE")
        ex = Extract(t, None, (packets, period))
    else:
        shared = _SHARED.get()
        if shared is None:
            ex = Extract(source, period, None)
        else:
            files = tuple(store.packet_files()) if store is not None else id(source)
            key = (files, None if period is None else (period.start_ns, period.end_ns))
            if key not in shared:
                shared.clear()  # one period at a time
                shared[key] = Extract(source, period, None)
            ex = shared[key]
            if part is not None:
                ex.run(list(PARTS))
    if part is not None:
        ex.run([part])
    return ex

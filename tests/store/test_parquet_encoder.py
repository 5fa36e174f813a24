"""teiten's Parquet encoder, read back by two independent readers: Arrow and DuckDB.

Every type and encoding the packet files use is covered: nulls at every position (also with
sliced arrays whose validity bitmaps do not start on a byte), all-null and constant columns,
dictionaries that overflow into plain, long byte strings, timestamps whose deltas wrap, and
the ``ts`` statistics that DuckDB prunes row groups on.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from teiten.ingest.pipeline import (
    _BYTE_STREAM_SPLIT_COLUMNS,
    _DELTA_COLUMNS,
    _DICTIONARY_COLUMNS,
    _STATISTICS_COLUMNS,
)
from teiten.store import file_schema
from teiten.store.parquet import ParquetFileWriter

SCHEMA = file_schema()


def _column(t: pa.DataType, n: int, rng: np.random.Generator, null_p: float,
            kind: str) -> pa.Array:
    mask = rng.random(n) < null_p if null_p else None
    if pa.types.is_timestamp(t):
        if kind == "wrap":  # deltas spanning the whole int64 range
            v = rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64)
        else:
            v = np.cumsum(rng.integers(-50, 10**9, n)) + 1_700_000_000 * 10**9
        return pa.array(v, pa.int64(), mask=mask).cast(t)
    if pa.types.is_integer(t):
        top = 2**t.bit_width
        if kind == "constant":
            v = np.full(n, top - 1, np.uint64)
        elif kind == "few":
            v = rng.integers(0, 5, n, dtype=np.uint64) * (top // 8)
        else:
            v = rng.integers(0, top, n, dtype=np.uint64)
        return pa.array(v.astype(t.to_pandas_dtype()), t, mask=mask)
    if pa.types.is_fixed_size_binary(t):
        return pa.array([rng.bytes(t.byte_width) for _ in range(n)], t, mask=mask)
    if pa.types.is_dictionary(t):
        words = ["JP", "US", None, "scan-tcp", "", "中国"]
        return pa.array([words[i] for i in rng.integers(0, len(words), n)]).dictionary_encode()
    sizes = rng.integers(0, 600 if kind == "random" else 3, n)
    return pa.array([rng.bytes(int(s)) for s in sizes], t, mask=mask)


def _table(n: int, seed: int, null_p: float = 0.1, kind: str = "random") -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.Table.from_arrays([_column(f.type, n, rng, null_p, kind) for f in SCHEMA],
                                schema=SCHEMA)


def _write(path: Path, tables: list[pa.Table]) -> None:
    with ParquetFileWriter(path, SCHEMA, dictionary=_DICTIONARY_COLUMNS, delta=_DELTA_COLUMNS,
                           statistics=_STATISTICS_COLUMNS,
                           byte_stream_split=_BYTE_STREAM_SPLIT_COLUMNS) as w:
        for t in tables:
            w.write_table(t)


def _duckdb_rows(path: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    cols = ", ".join(f"epoch_ns({c})" if c == "ts" else c for c in SCHEMA.names)
    return con.execute(f"select {cols} from read_parquet(?)", [str(path)]).fetchall()


def _expected_rows(table: pa.Table) -> list[tuple[object, ...]]:
    cols = [table.column(c).cast(pa.int64()) if c == "ts" else table.column(c)
            for c in SCHEMA.names]
    py = [c.to_pylist() for c in cols]
    return [tuple(r) for r in zip(*py, strict=True)]


@pytest.mark.parametrize("n", [1, 7, 8, 9, 127, 128, 129, 130, 1000, 20_000])
@pytest.mark.parametrize("kind", ["random", "few", "constant", "wrap"])
def test_arrow_and_duckdb_read_back_every_value(tmp_path: Path, n: int, kind: str) -> None:
    tables = [_table(n, n, 0.1, kind), _table(n, n + 1, 0.0, kind)]
    path = tmp_path / "p.parquet"
    _write(path, tables)
    expected = pa.concat_tables(tables)
    back = pq.read_table(path)
    # the Arrow schema in the footer gives Arrow the same types and field docs back
    assert back.schema.equals(SCHEMA, check_metadata=True)
    for name in SCHEMA.names:
        assert back.column(name).to_pylist() == expected.column(name).to_pylist(), name
    assert _duckdb_rows(path) == _expected_rows(expected)


def test_sliced_arrays_and_all_null_columns(tmp_path: Path) -> None:
    """Slices start their validity bitmaps mid-byte; all-null columns write levels only."""
    whole = _table(3000, 5, 0.3)
    parts = [whole.slice(3, 1001), whole.slice(1004, 13), whole.slice(1017)]
    nulls = pa.Table.from_arrays([pa.nulls(50, f.type) for f in SCHEMA], schema=SCHEMA)
    path = tmp_path / "p.parquet"
    _write(path, [*parts, nulls])
    expected = pa.concat_tables([*parts, nulls])
    assert pq.read_table(path).equals(expected)
    assert _duckdb_rows(path) == _expected_rows(expected)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4


def test_dictionary_falls_back_to_plain_when_values_are_mostly_distinct(
        tmp_path: Path) -> None:
    t = _table(5000, 9, 0.0)  # random dst, wire_len, tcp_opts: mostly distinct
    path = tmp_path / "p.parquet"
    _write(path, [t])
    meta = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings
                 for i in range(meta.num_columns)}
    assert "RLE_DICTIONARY" not in encodings["dst"]
    assert "RLE_DICTIONARY" in encodings["ip_version"]
    assert encodings["ts"] == ("RLE", "DELTA_BINARY_PACKED")
    for name in _BYTE_STREAM_SPLIT_COLUMNS:
        assert encodings[name] == ("RLE", "BYTE_STREAM_SPLIT"), name
    assert pq.read_table(path).equals(t)


@pytest.mark.parametrize("t", [pa.uint8(), pa.uint16(), pa.uint32(), pa.int32(), pa.int64(),
                               pa.uint64()])
def test_byte_stream_split_of_every_integer_width(tmp_path: Path, t: pa.DataType) -> None:
    """Each width (8 and 16 bits are stored as INT32, so two or three streams are zeros),
    nulls in between, read back by Arrow and DuckDB; not combinable with the other encodings."""
    rng = np.random.default_rng(t.bit_width)
    top = 2 ** (t.bit_width - (1 if pa.types.is_signed_integer(t) else 0))
    v = rng.integers(0, top, 3000, dtype=np.uint64).astype(t.to_pandas_dtype())
    arr = pa.array(v, t, mask=rng.random(3000) < 0.2)
    schema = pa.schema([("x", t)])
    path = tmp_path / "p.parquet"
    with ParquetFileWriter(path, schema, byte_stream_split=["x"]) as w:
        w.write_table(pa.table({"x": arr.slice(5)}, schema=schema))
        w.write_table(pa.table({"x": pa.nulls(10, t)}, schema=schema))
    expected = arr.slice(5).to_pylist() + [None] * 10
    assert pq.read_table(path).column("x").to_pylist() == expected
    got = duckdb.connect().execute("select x from read_parquet(?)", [str(path)]).fetchall()
    assert [r[0] for r in got] == expected
    assert "BYTE_STREAM_SPLIT" in pq.ParquetFile(path).metadata.row_group(0).column(0).encodings
    u16 = pa.schema([("x", pa.uint16())])
    for other in ({"dictionary": ["x"]}, {"delta": ["x"]}):
        with pytest.raises(TypeError, match="byte stream split"):
            ParquetFileWriter(io.BytesIO(), u16, byte_stream_split=["x"], **other)
    with pytest.raises(TypeError, match="byte stream split"):
        ParquetFileWriter(io.BytesIO(), pa.schema([("s", pa.string())]), byte_stream_split=["s"])


def test_ts_statistics_prune_row_groups(tmp_path: Path) -> None:
    a, b = _table(500, 1, 0.0), _table(500, 2, 0.0)
    b = b.set_column(0, "ts", pa.array(
        b.column("ts").cast(pa.int64()).to_numpy() + 10**18, pa.int64()).cast(SCHEMA.field(
            "ts").type))
    path = tmp_path / "p.parquet"
    _write(path, [a, b])
    meta = pq.ParquetFile(path).metadata
    for i, t in enumerate([a, b]):
        st = meta.row_group(i).column(0).statistics
        ts = t.column("ts").cast(pa.int64()).to_numpy()
        assert st.has_min_max and st.null_count == 0
        assert (st.min_raw, st.max_raw) == (ts.min(), ts.max())
    # DuckDB reads the same statistics
    con = duckdb.connect()
    rows = con.execute("select row_group_id, stats_min_value, stats_max_value from "
                       "parquet_metadata(?) where path_in_schema = 'ts' order by 1",
                       [str(path)]).fetchall()
    assert len(rows) == 2 and all(r[1] is not None and r[2] is not None for r in rows)


def test_file_object_and_empty_file(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with ParquetFileWriter(buf, SCHEMA) as w:
        w.write_table(SCHEMA.empty_table())
    back = pq.read_table(io.BytesIO(buf.getvalue()))
    assert back.num_rows == 0 and back.schema.equals(SCHEMA)
    path = tmp_path / "e.parquet"
    path.write_bytes(buf.getvalue())
    assert _duckdb_rows(path) == []


def test_rejects_what_it_cannot_write() -> None:
    with pytest.raises(TypeError, match="cannot write"):
        ParquetFileWriter(io.BytesIO(), pa.schema([("x", pa.float64())]))
    with pytest.raises(TypeError, match="delta"):
        ParquetFileWriter(io.BytesIO(), pa.schema([("x", pa.uint32())]), delta=["x"])
    w = ParquetFileWriter(io.BytesIO(), pa.schema([("x", pa.uint16())]))
    with pytest.raises(ValueError, match="schema"):
        w.write_table(pa.table({"x": pa.array([1], pa.uint32())}))


def test_dictionary_hash_spreads_over_large_tables() -> None:
    """A table of more than 2**24 slots (chunks of more than 8M rows) used to be indexed by 24
    hash bits only: the keys crowded its first quarter and probing went quadratic."""
    from teiten.store import _pqkernels

    values = np.random.default_rng(4).permutation(9_000_000).astype(np.uint32) * 7
    start = time.perf_counter()
    dictionary, indices, n = _pqkernels.dict_hash(values, np.zeros(1, np.uint8), 0,
                                                  len(values), False, len(values))
    assert time.perf_counter() - start < 30
    assert n == len(values)
    np.testing.assert_array_equal(dictionary[indices], values)


def test_dictionary_strings_with_null_entries(tmp_path: Path) -> None:
    """A dictionary entry that is itself null reads back as a null row, counted as one."""
    schema = pa.schema([("country", pa.dictionary(pa.int32(), pa.string()))])
    arr = pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 1, 0], pa.int32()),
                                         pa.array(["JP", None]))
    path = tmp_path / "d.parquet"
    with ParquetFileWriter(path, schema, dictionary=["country"]) as w:
        w.write_table(pa.Table.from_arrays([arr], schema=schema))
    assert pq.read_table(path).column("country").to_pylist() == ["JP", None, None, None, "JP"]
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).num_values == 5
    con = duckdb.connect()
    assert con.execute("select count(country) from read_parquet(?)",
                       [str(path)]).fetchone() == (2,)


@pytest.mark.parametrize("distinct", [2, 3, 5, 17, 255, 256, 257, 4097, 40_000, 70_000])
def test_dictionary_indices_of_every_width(tmp_path: Path, distinct: int) -> None:
    """Index widths 1..17 bits, with runs not a multiple of 8 or 64 bits long."""
    rng = np.random.default_rng(distinct)
    n = 3 * distinct + 13  # a third distinct: kept as a dictionary
    base = rng.permutation(np.arange(distinct, dtype=np.uint64) * 977 + 5)
    v = base[rng.integers(0, distinct, n)]
    v[:distinct] = base  # every value appears
    schema = pa.schema([("a", pa.uint32()), ("b", pa.uint64())])
    t = pa.table({"a": pa.array(v.astype(np.uint32), pa.uint32()),
                  "b": pa.array(v, pa.uint64(), mask=rng.random(n) < 0.2)}, schema=schema)
    path = tmp_path / "w.parquet"
    with ParquetFileWriter(path, schema, dictionary=["a", "b"]) as w:
        w.write_table(t)
    meta = pq.ParquetFile(path).metadata.row_group(0)
    assert "RLE_DICTIONARY" in meta.column(0).encodings
    assert "RLE_DICTIONARY" in meta.column(1).encodings
    assert pq.read_table(path).equals(t)
    got = duckdb.connect().execute("select a, b from read_parquet(?)", [str(path)]).fetchall()
    assert got == list(zip(t.column("a").to_pylist(), t.column("b").to_pylist(), strict=True))


def test_small_chunks_are_stored_uncompressed_and_sizes_count_page_headers(
        tmp_path: Path) -> None:
    t = _table(3000, 4, 0.1)
    t = t.set_column(SCHEMA.get_field_index("src6"), "src6", pa.nulls(3000, pa.binary(16)))
    path = tmp_path / "p.parquet"
    _write(path, [t])
    meta = pq.ParquetFile(path).metadata.row_group(0)
    cols = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert cols["src6"].compression == "UNCOMPRESSED"  # all null: a few bytes of levels
    assert cols["payload"].compression == "ZSTD"
    for c in cols.values():
        if c.compression == "UNCOMPRESSED":
            assert c.total_compressed_size == c.total_uncompressed_size
        pages = 2 if c.has_dictionary_page else 1
        # the uncompressed size holds the page headers (>= 6 bytes each) and the page bodies
        assert c.total_uncompressed_size >= 6 * pages
    assert pq.read_table(path).equals(t)
    assert _duckdb_rows(path) == _expected_rows(t)


@pytest.mark.parametrize("typ", [pa.uint8(), pa.uint16()])
def test_delta_encoded_small_integers(tmp_path: Path, typ: pa.DataType) -> None:
    rng = np.random.default_rng(typ.bit_width)
    top = 2**typ.bit_width
    parts = [rng.integers(0, top, 3001), np.full(300, top - 1), np.arange(129) % top,
             rng.integers(0, top, 7)]  # random, constant, increasing, a short tail
    v = np.concatenate(parts).astype(typ.to_pandas_dtype())
    schema = pa.schema([("p", typ)])
    t = pa.table({"p": pa.array(v, typ, mask=rng.random(len(v)) < 0.1)}, schema=schema)
    path = tmp_path / "d.parquet"
    with ParquetFileWriter(path, schema, delta=["p"]) as w:
        w.write_table(t)
        w.write_table(t.slice(5, 40))
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).encodings == (
        "RLE", "DELTA_BINARY_PACKED")
    expected = pa.concat_tables([t, t.slice(5, 40)])
    assert pq.read_table(path).equals(expected)
    got = duckdb.connect().execute("select p from read_parquet(?)", [str(path)]).fetchall()
    assert [r[0] for r in got] == expected.column("p").to_pylist()


def test_incompressible_columns_skip_zstd_and_try_again(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    schema = pa.schema([("noise", pa.uint32()), ("zeros", pa.uint32())])
    path = tmp_path / "z.parquet"
    with ParquetFileWriter(path, schema) as w:
        for _ in range(20):
            w.write_table(pa.table({
                "noise": pa.array(rng.integers(0, 2**32, 2000, dtype=np.uint64).astype(
                    np.uint32)),
                "zeros": pa.array(np.zeros(2000, np.uint32))}, schema=schema))
    meta = pq.ParquetFile(path).metadata
    noise = [meta.row_group(g).column(0).compression for g in range(20)]
    zeros = {meta.row_group(g).column(1).compression for g in range(20)}
    # tried on the first chunk, then stored as is for 15 chunks, then tried again
    assert noise == ["ZSTD"] + ["UNCOMPRESSED"] * 15 + ["ZSTD"] + ["UNCOMPRESSED"] * 3
    assert zeros == {"ZSTD"}
    assert pq.read_table(path).num_rows == 40_000
    assert duckdb.connect().execute("select count(*), sum(zeros) from read_parquet(?)",
                                    [str(path)]).fetchall() == [(40_000, 0)]


def test_dictionary_of_short_and_long_byte_strings(tmp_path: Path) -> None:
    """Values of up to 7 bytes are their own keys, longer ones are hashed: prefixes of each
    other, equal lengths, zero bytes and the empty value all stay apart."""
    rng = np.random.default_rng(8)
    base = [b"", b"\x00", b"\x00\x00", b"\x02\x04\x08\x01\x03", b"\x02\x04\x08\x01\x03\x00",
            b"abcdefg", b"abcdefgh", b"abcdefghi", b"\x00" * 7, b"\x00" * 8, b"\xff" * 7,
            b"x" * 40, b"x" * 41]
    values = [base[i] for i in rng.integers(0, len(base), 5000)]
    mask = rng.random(5000) < 0.1
    schema = pa.schema([("b", pa.binary())])
    t = pa.table({"b": pa.array(values, pa.binary(), mask=mask)}, schema=schema)
    path = tmp_path / "b.parquet"
    with ParquetFileWriter(path, schema, dictionary=["b"]) as w:
        w.write_table(t)
    assert "RLE_DICTIONARY" in pq.ParquetFile(path).metadata.row_group(0).column(0).encodings
    assert pq.read_table(path).equals(t)
    got = duckdb.connect().execute("select b from read_parquet(?)", [str(path)]).fetchall()
    assert [r[0] for r in got] == t.column("b").to_pylist()

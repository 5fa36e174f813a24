"""The store: creation, tables, results, consistency rules."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from teiten.core.errors import StoreError, UsageError
from teiten.core.sensors import Sensor
from teiten.store import create_store, open_store


def test_open_refuses_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a teiten store"):
        open_store(tmp_path)


def test_open_refuses_another_format_version(tmp_path: Path) -> None:
    create_store(tmp_path)
    (tmp_path / "teiten-store.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(StoreError, match="format 99"):
        open_store(tmp_path)


def test_empty_store_has_a_queryable_packet_table(tmp_path: Path) -> None:
    store = create_store(tmp_path)
    assert store.packets().count_rows() == 0
    assert store.duckdb().execute("select count(*) from packets").fetchone() == (0,)
    assert store.ibis().count().to_pyarrow().as_py() == 0


def test_tables_replace_one_partition(tmp_path: Path) -> None:
    store = create_store(tmp_path)
    store.write_table("payloads", pa.table({"x": [1, 2]}), {"sensor": "a"})
    store.write_table("payloads", pa.table({"x": [3]}), {"sensor": "b"})
    store.write_table("payloads", pa.table({"x": [4]}), {"sensor": "a"})
    t = store.read_table("payloads")
    assert t is not None
    assert sorted(zip(t.column("sensor").to_pylist(), t.column("x").to_pylist(),
                      strict=True)) == [("a", 4), ("b", 3)]
    assert store.read_table("nothing") is None


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "x" * 80])
def test_table_and_partition_names_cannot_escape_the_store(tmp_path: Path, bad: str) -> None:
    store = create_store(tmp_path)
    with pytest.raises(UsageError):
        store.write_table(bad, pa.table({"x": [1]}))
    with pytest.raises(UsageError):
        store.write_table("t", pa.table({"x": [1]}), {"k": bad})


def test_results_round_trip_with_metadata(tmp_path: Path) -> None:
    store = create_store(tmp_path)
    store.write_result("stats", "2026-10", pa.table({"v": [1.5]}), {"tz": "Asia/Tokyo"})
    got = store.read_result("stats", "2026-10")
    assert got is not None
    assert got[0].column("v").to_pylist() == [1.5] and got[1] == {"tz": "Asia/Tokyo"}
    assert store.read_result("stats", "2026-09") is None


def test_registry_merges_sensors(tmp_path: Path) -> None:
    store = create_store(tmp_path)
    store.merge_sensors([Sensor(id="a", country="JP")])
    store.merge_sensors([Sensor(id="b")])
    reg = store.registry()
    assert list(reg) == ["a", "b"] and reg["a"].country == "JP"


def test_catalog_segments_compact_and_the_latest_commit_wins(tmp_path: Path) -> None:
    from teiten.store.catalog import InputRecord

    store = create_store(tmp_path)
    cat = store.catalog
    cat.commit(InputRecord("aa", "one.pcap", packets=1, ingested_at=1))
    cat.commit(InputRecord("bb", "two.pcap", packets=2, ingested_at=2))
    cat.compact()
    assert not list((tmp_path / "catalog").glob("seg-*"))
    cat.commit(InputRecord("aa", "one.pcap", packets=10, ingested_at=3))  # a --force re-ingest
    assert {k: r.packets for k, r in cat.records().items()} == {"aa": 10, "bb": 2}
    # a compaction killed before removing its segments leaves duplicates: still one row each
    seg = next((tmp_path / "catalog").glob("seg-*"))
    keep = seg.read_bytes()
    cat.compact()
    seg.write_bytes(keep)
    assert cat.table().num_rows == 2
    assert cat.records()["aa"].packets == 10


def test_catalog_keeps_inputs_whose_ids_share_a_prefix(tmp_path: Path) -> None:
    # segment names once held the id's first 16 characters: these two overwrote each other
    from teiten.store.catalog import InputRecord

    cat = create_store(tmp_path).catalog
    cat.commit(InputRecord("bench-detect-1000-a", "a", packets=1, ingested_at=5))
    cat.commit(InputRecord("bench-detect-1000-b", "b", packets=2, ingested_at=5))
    cat.commit(InputRecord("odd/id", "c", packets=3, ingested_at=5))
    assert {k: r.packets for k, r in cat.records().items()} == {
        "bench-detect-1000-a": 1, "bench-detect-1000-b": 2, "odd/id": 3}

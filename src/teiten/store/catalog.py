"""The catalog: one row per ingested input, committed last so that the store stays consistent.

The catalog is a small Parquet file rewritten atomically on every commit. An input's packet
files are listed in its row; files on disk that no row lists are leftovers of an interrupted
run and are swept by :meth:`Catalog.sweep`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa

from teiten.capture.arrow import from_numpy

CATALOG_SCHEMA: Final = pa.schema([
    pa.field("input_id", pa.string(),
             metadata={"doc": "content hash of the input's bytes as read (hex): BLAKE3, "
                                 "or sha256 in a store made before 2026-12 (its marker says)"}),
    pa.field("name", pa.string(), metadata={"doc": "path as given, or - for standard input"}),
    pa.field("size", pa.int64(), metadata={"doc": "bytes read from the input (compressed)"}),
    pa.field("format", pa.string(), metadata={"doc": "pcap or pcapng (+ compression)"}),
    pa.field("records", pa.int64(), metadata={"doc": "capture records read"}),
    pa.field("packets", pa.int64(), metadata={"doc": "packets stored"}),
    pa.field("unmonitored", pa.int64(),
             metadata={"doc": "packets to addresses the sensor does not monitor (left out)"}),
    pa.field("skipped", pa.int64(), metadata={"doc": "records skipped or damaged"}),
    pa.field("skipped_by_reason", pa.string(), metadata={"doc": "JSON object reason -> count"}),
    pa.field("damage", pa.string(), metadata={"doc": "JSON list of the first located problems"}),
    pa.field("ts_min", pa.timestamp("ns", tz="UTC"), metadata={"doc": "first packet stored"}),
    pa.field("ts_max", pa.timestamp("ns", tz="UTC"), metadata={"doc": "last packet stored"}),
    pa.field("sensors", pa.list_(pa.string()), metadata={"doc": "sensors the packets went to"}),
    pa.field("files", pa.list_(pa.string()), metadata={"doc": "packet files, relative to store"}),
    pa.field("ingested_at", pa.timestamp("us", tz="UTC"), metadata={"doc": "commit time"}),
    pa.field("teiten_version", pa.string(), metadata={"doc": "teiten version that wrote it"}),
])


@dataclass
class InputRecord:
    """One catalog row (see :data:`CATALOG_SCHEMA` for the meaning of each field)."""

    input_id: str
    name: str
    size: int = 0
    format: str = ""
    records: int = 0
    packets: int = 0
    unmonitored: int = 0
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    damage: list[str] = field(default_factory=list)
    ts_min: int | None = None
    ts_max: int | None = None
    sensors: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    ingested_at: int = 0  # microseconds since the epoch
    teiten_version: str = ""

    def to_row(self) -> dict[str, Any]:
        """The row as Arrow-ready values."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["skipped_by_reason"] = json.dumps(self.skipped_by_reason, sort_keys=True)
        d["damage"] = json.dumps(self.damage)
        return d

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> InputRecord:
        """Inverse of :meth:`to_row` (timestamps as integers)."""
        d = dict(row)
        d["skipped_by_reason"] = json.loads(d["skipped_by_reason"] or "{}")
        d["damage"] = json.loads(d["damage"] or "[]")
        return cls(**d)


def _read(path: Path) -> pa.Table:
    """One catalog file in :data:`CATALOG_SCHEMA` (columns it lacks, from an older teiten,
    read as null). Read with ``ParquetFile``: ``pq.read_table`` imports ``pyarrow.dataset``,
    ~15 ms of every ingest's run. ``pyarrow.parquet`` itself is imported here, not with this
    module: ~20 ms that ``teiten ingest`` spends in a background thread instead."""
    import pyarrow.parquet as pq

    t = pq.ParquetFile(path).read()
    have = set(t.column_names)
    cols = [_as(t.column(f.name), f.type) if f.name in have else pa.nulls(t.num_rows, f.type)
            for f in CATALOG_SCHEMA]
    return pa.Table.from_arrays(cols, schema=CATALOG_SCHEMA)


def _as(col: pa.ChunkedArray, typ: pa.DataType) -> pa.ChunkedArray:
    # (a cast even to the same type goes through Arrow's compute functions, ~40 ms to import)
    return col if col.type == typ else col.cast(typ)


def atomic_write_parquet(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` through a temporary file, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    import pyarrow.parquet as pq  # (see _read)

    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Catalog:
    """Read and commit catalog rows for a store directory.

    Committing an input writes one small segment file (``catalog/seg-*.parquet``, atomically):
    the cost of a commit does not grow with the catalog. :meth:`compact` folds the segments
    into ``catalog/inputs.parquet`` at the end of a writing session. When the same input id
    appears twice (a re-ingest with ``--force``, or a compaction interrupted before it removed
    its segments), the row committed last wins.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "catalog"
        self.path = self.dir / "inputs.parquet"

    def _files(self) -> list[Path]:
        segs = sorted(self.dir.glob("seg-*.parquet")) if self.dir.exists() else []
        return ([self.path] if self.path.exists() else []) + segs

    def table(self) -> pa.Table:
        """The catalog as an Arrow table, one row per input (empty if nothing was ingested;
        in commit order, or by input id where an input was committed twice)."""
        files = self._files()
        if not files:
            return CATALOG_SCHEMA.empty_table()
        table = pa.concat_tables([_read(f) for f in files])
        ids = table.column("input_id").to_numpy(zero_copy_only=False)
        if len(files) == 1 or len(set(ids)) == len(ids):
            return table  # (in commit order; sorting would import Arrow's compute functions)
        # latest commit per input id: sort by commit time, keep the last row of each id
        table = table.sort_by([("input_id", "ascending"), ("ingested_at", "ascending")])
        ids = table.column("input_id").to_numpy(zero_copy_only=False)
        last = np.ones(len(ids), dtype=bool)
        last[:-1] = ids[1:] != ids[:-1]
        return table.filter(from_numpy(last))

    def records(self) -> dict[str, InputRecord]:
        """Every committed input by id."""
        if not self._files():
            return {}
        table = self.table()
        for name in ("ts_min", "ts_max", "ingested_at"):
            i = table.schema.get_field_index(name)
            col = table.column(name)  # the stored integers, without a cast (see _as)
            table = table.set_column(i, name, pa.chunked_array(
                [c.view(pa.int64()) for c in col.chunks], pa.int64()))
        recs = (InputRecord.from_row(r) for r in table.to_pylist())
        return {rec.input_id: rec for rec in recs}

    def commit(self, record: InputRecord) -> None:
        """Add (or replace) one input's row atomically: the commit point of an ingest."""
        table = pa.Table.from_pylist([record.to_row()], schema=CATALOG_SCHEMA)
        # the id's digest, not its text: ids sharing a prefix (or holding "/") stay apart
        # (BLAKE3, which ingest has loaded: hashlib's OpenSSL is ~8 ms of an ingest's start-up)
        from blake3 import blake3

        digest = blake3(record.input_id.encode()).hexdigest()[:16]
        name = f"seg-{record.ingested_at:020d}-{digest}.parquet"
        atomic_write_parquet(table, self.dir / name)

    def compact(self) -> None:
        """Fold the segments into one file (atomic), then remove them."""
        segs = sorted(self.dir.glob("seg-*.parquet")) if self.dir.exists() else []
        if not segs:
            return
        atomic_write_parquet(self.table(), self.path)
        for seg in segs:
            seg.unlink(missing_ok=True)

    def listed_files(self) -> set[str]:
        """Every packet file some committed input owns (relative paths)."""
        return {f for r in self.records().values() for f in r.files}

    def sweep(self) -> list[str]:
        """Delete packet files and temporaries no committed input lists; return what went."""
        listed = self.listed_files()
        removed = []
        packets = self.root / "packets"
        if packets.exists():
            for p in packets.rglob("*"):
                if not p.is_file():
                    continue
                rel = p.relative_to(self.root).as_posix()
                if rel not in listed:
                    p.unlink()
                    removed.append(rel)
        return removed

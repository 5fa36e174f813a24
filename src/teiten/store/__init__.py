"""The packet store: the only code that knows paths, partitions and the query engine.

Layout (see ``docs/architecture.md``)::

    <store>/teiten-store.json                          marker: format version, content hash
    <store>/packets/sensor=<id>/date=<YYYY-MM-DD>/*.parquet
    <store>/catalog/inputs.parquet                     one row per ingested input
    <store>/registry.toml                              every sensor ingested so far
    <store>/tables/<name>/[k=v/...]part.parquet        other tables (payloads, rollups, health)
    <store>/results/<analysis>/period=<p>/result.parquet + meta.json

Readers see only files that a committed catalog row lists, so a store that an interrupted run
left behind reads consistently; the next writer sweeps the leftovers.

Examples
--------
>>> import tempfile
>>> store = create_store(tempfile.mkdtemp())
>>> store.packets().count_rows()
0
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from teiten.core import content
from teiten.core.errors import StoreError, UsageError
from teiten.core.schema import PACKET_SCHEMA
from teiten.core.sensors import Registry, Sensor
from teiten.store.catalog import Catalog, InputRecord, atomic_write_parquet

__all__ = ["Catalog", "InputRecord", "Store", "create_store", "open_store"]

FORMAT_VERSION: Final = 1
_MARKER: Final = content.STORE_MARKER
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
#: Partition columns, in path order; their values come from the directory names.
PARTITION_SCHEMA: Final = pa.schema([("sensor", pa.string()), ("date", pa.string())])


def _check_name(kind: str, value: str) -> str:
    if not _NAME_RE.match(value):
        raise UsageError(f"invalid {kind} {value!r}: use letters, digits, _ . - (max 64)")
    return value


class Store:
    """A packet store directory. Use :func:`open_store` or :func:`create_store`."""

    def __init__(self, root: Path, content_hash: str = content.DEFAULT) -> None:
        self.root = root
        self.catalog = Catalog(root)
        #: How this store's catalog names inputs (:mod:`teiten.core.content`).
        self.content_hash = content_hash

    # -- packets -----------------------------------------------------------------------------

    def packet_files(self) -> list[str]:
        """Absolute paths of every committed packet file, sorted."""
        return sorted(str(self.root / f) for f in self.catalog.listed_files())

    def packets(self) -> Any:
        """The packet table as an Arrow dataset (``sensor`` and ``date`` from the partitions).

        The ``sensor`` column is a plain string here; ``date`` is the UTC date string.
        """
        import pyarrow.dataset as ds  # imports pandas: only when asked for

        files = self.packet_files()
        return ds.dataset(files, schema=_dataset_schema(), format="parquet",
                          partitioning=ds.partitioning(PARTITION_SCHEMA, flavor="hive"),
                          partition_base_dir=str(self.root / "packets"))

    def duckdb(self) -> Any:
        """A DuckDB connection with a ``packets`` view (and a ``catalog`` view).

        >>> import tempfile
        >>> con = create_store(tempfile.mkdtemp()).duckdb()
        >>> con.execute("select count(*) from packets").fetchone()
        (0,)
        """
        import duckdb

        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        _packets_view(con, self.packet_files())
        con.register("catalog", self.catalog.table())
        return con

    def ibis_backend(self) -> Any:
        """An Ibis DuckDB backend whose ``packets`` table is the store's packet table."""
        import ibis

        backend = ibis.duckdb.connect()
        _packets_view(backend.con, self.packet_files())
        return backend

    def ibis(self) -> Any:
        """The packet table as an Ibis table expression (DuckDB backend)."""
        return self.ibis_backend().table("packets")

    # -- sensors -----------------------------------------------------------------------------

    @property
    def registry_path(self) -> Path:
        """Where the merged sensor registry lives."""
        return self.root / "registry.toml"

    def registry(self) -> Registry:
        """Every sensor ingested so far (the registry entries used at ingest)."""
        if not self.registry_path.exists():
            return Registry([], source=str(self.registry_path))
        return Registry.load(self.registry_path)

    def merge_sensors(self, sensors: list[Sensor]) -> None:
        """Record sensors in the store's registry (new ids added, known ids updated)."""
        current = dict(self.registry())
        for s in sensors:
            current[s.id] = s
        text = Registry(list(current.values())).to_toml()
        tmp = self.registry_path.with_name(f".tmp-{os.getpid()}-registry.toml")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.registry_path)

    # -- other tables and results ------------------------------------------------------------

    def write_table(self, name: str, table: pa.Table, partition: dict[str, str] | None = None,
                    ) -> Path:
        """Write (replace) one partition of a named table atomically.

        ``partition`` maps partition keys to values, e.g. ``{"sensor": "a", "date": "2026-10-01"}``;
        keys and values must be simple names (they become directory names).
        """
        d = self.root / "tables" / _check_name("table", name)
        for k, v in (partition or {}).items():
            d = d / f"{_check_name('partition key', k)}={_check_name('partition value', v)}"
        path = d / "part.parquet"
        atomic_write_parquet(table, path)
        return path

    def read_table(self, name: str, *, filter: Any = None,
                   columns: list[str] | None = None) -> pa.Table | None:
        """Read a named table with its partition columns, or None when it was never written.

        ``filter`` — an optional ``pyarrow.compute.Expression`` on the table's columns,
        partition columns included (``pc.field("grouping") == "port"``): partitions that cannot
        match are not opened, and Parquet row-group statistics prune the rest. ``columns`` —
        read only these columns (partition columns included by name).
        """
        d = self.root / "tables" / _check_name("table", name)
        files = sorted(str(p) for p in d.rglob("part.parquet")) if d.exists() else []
        if not files:
            return None
        import pyarrow.dataset as ds

        dataset = ds.dataset(files, format="parquet", partitioning="hive",
                             partition_base_dir=str(d))
        return dataset.to_table(filter=filter, columns=columns)

    def write_result(self, analysis: str, period: str, table: pa.Table,
                     meta: dict[str, Any] | None = None) -> Path:
        """Store an analysis result for a period (atomic), with JSON metadata (parameters…)."""
        d = (self.root / "results" / _check_name("analysis", analysis)
             / f"period={_check_name('period', period)}")
        atomic_write_parquet(table, d / "result.parquet")
        tmp = d / f".tmp-{os.getpid()}-meta.json"
        tmp.write_text(json.dumps(meta or {}, default=str, sort_keys=True, indent=1))
        os.replace(tmp, d / "meta.json")
        return d

    def read_result(self, analysis: str, period: str) -> tuple[pa.Table, dict[str, Any]] | None:
        """A stored result and its metadata, or None."""
        d = (self.root / "results" / _check_name("analysis", analysis)
             / f"period={_check_name('period', period)}")
        if not (d / "result.parquet").exists():
            return None
        meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
        import pyarrow.parquet as pq  # (not at start-up: see teiten.store.catalog)

        return pq.read_table(d / "result.parquet"), meta

    # -- writing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold the store's writer lock (one writer at a time) and sweep leftovers first."""
        lock = open(self.root / ".lock", "a+b")  # noqa: SIM115 - held for the block's lifetime
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            self.catalog.sweep()
            staging = self.root / "staging"
            if staging.exists():
                shutil.rmtree(staging)
            yield self
            self.catalog.compact()
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            lock.close()

    def info(self) -> dict[str, Any]:
        """Sensors, days, packets and inputs: what ``teiten store info`` shows."""
        recs = self.catalog.records()
        con = self.duckdb()
        per = con.execute(
            "select sensor, count(distinct date) as days, count(*) as packets, "
            "min(ts)::varchar as first, max(ts)::varchar as last "
            "from packets group by sensor order by sensor"
        ).fetchall()
        return {
            "root": str(self.root),
            "inputs": len(recs),
            "packets": sum(r.packets for r in recs.values()),
            "skipped": sum(r.skipped for r in recs.values()),
            "unmonitored": sum(r.unmonitored for r in recs.values()),
            "sensors": [
                {"sensor": s, "days": d, "packets": n, "first": f, "last": la}
                for s, d, n, f, la in per
            ],
        }


def file_schema() -> pa.Schema:
    """The schema of a packet file: the packet table without ``sensor`` (it is in the path)."""
    return PACKET_SCHEMA.remove(PACKET_SCHEMA.get_field_index("sensor"))


def _dataset_schema() -> pa.Schema:
    """The packet table as read back: file columns plus the partition columns as strings."""
    return file_schema().append(pa.field("sensor", pa.string())).append(
        pa.field("date", pa.string())
    )


def _packets_view(con: Any, files: list[str]) -> None:
    """Create the ``packets`` view on a DuckDB connection over the given packet files."""
    if files:
        # a view cannot take parameters: the file list is inlined as quoted SQL literals
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(
            f"create view packets as select * from read_parquet([{listed}], "
            "hive_partitioning = true)"
        )
        return
    # Ibis has no fixed-size binary type; DuckDB reads those Parquet columns as BLOB anyway
    schema = pa.schema([
        f.with_type(pa.binary()) if pa.types.is_fixed_size_binary(f.type) else f
        for f in _dataset_schema()
    ])
    con.register("_empty_packets", schema.empty_table())
    con.execute("create view packets as select * from _empty_packets")


def open_store(path: str | os.PathLike[str]) -> Store:
    """Open an existing packet store.

    Raises :class:`~teiten.core.errors.StoreError` when ``path`` is not a teiten store.
    """
    root = Path(path)
    marker = root / _MARKER
    if not marker.exists():
        raise StoreError(f"{root}: not a teiten store (no {_MARKER}); ingest something first")
    try:
        meta = json.loads(marker.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{marker}: unreadable: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise StoreError(f"{root}: store format {found} is not {FORMAT_VERSION}")
    algorithm = meta.get("content_hash", content.LEGACY)
    if algorithm not in content.ALGORITHMS:
        raise StoreError(f"{marker}: unknown content hash {algorithm!r}")
    return Store(root, algorithm)


def create_store(path: str | os.PathLike[str]) -> Store:
    """Open the store at ``path``, creating an empty one if the directory has none."""
    root = Path(path)
    marker = root / _MARKER
    if marker.exists():
        return open_store(root)
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root}: exists and is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / "packets").mkdir(exist_ok=True)
        tmp = root / f".tmp-{os.getpid()}-{_MARKER}"
        tmp.write_text(json.dumps({"format": FORMAT_VERSION, "content_hash": content.DEFAULT}))
        os.replace(tmp, marker)
    except OSError as exc:
        raise StoreError(f"{root}: cannot create store: {exc.strerror}") from exc
    return Store(root, content.DEFAULT)

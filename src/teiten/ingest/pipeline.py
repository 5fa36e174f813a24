"""The ingest pipeline: inputs → decoded batches → sensor and scope → enrichment → partitions.

Each input is staged under ``<store>/staging`` and committed in one step (files renamed into
``packets/``, then the catalog row written), so an interrupted run leaves no half input
behind; the next run sweeps leftovers and completes the work. Inputs already in the catalog
(same content hash) are skipped unless ``force`` is set, in which case the new files replace
what the earlier ingest wrote.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> from teiten.capture.writer import CaptureWriter, PacketColumns
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with CaptureWriter(d / "a.pcap") as w:
...     w.write(1_790_812_800 * 10**9 + np.arange(100) * 10**9,
...             PacketColumns.tcp_syn(src=np.arange(100) + 0x01020304, dst=0xCB007101, dport=23))
>>> summary = ingest([d / "a.pcap"], d / "store", sensor="s1")
>>> summary.packets
100
>>> ingest([d / "a.pcap"], d / "store", sensor="s1").duplicates
1
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import shutil
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final, cast

import numpy as np
import pyarrow as pa

from teiten import __version__
from teiten.capture.arrow import from_numpy, values_of
from teiten.capture.reader import CaptureReader
from teiten.core import content
from teiten.core.errors import DamagedInputError, InputError, UsageError
from teiten.core.schema import PACKET_SCHEMA
from teiten.core.sensors import Registry, Sensor, check_sensor_id
from teiten.core.threads import lower_priority
from teiten.ingest.enrich import EnrichContext, Enricher, load_enrichers
from teiten.ingest.enrich.columns import constant
from teiten.ingest.inputs import Prehasher, expand_inputs
from teiten.store import Store, create_store, file_schema
from teiten.store.catalog import InputRecord
from teiten.store.parquet import ParquetFileWriter

_DAY_NS = 86_400 * 1_000_000_000
_DAMAGE_KEEP = 50
_PENDING = 3
#: Seconds to wait for an encoder to finish a chunk before the main thread takes back the
#: chunks it has not started (when the encoders starve: :meth:`_PartitionWriter._settle_oldest`).
#: An encoder takes ~40 ms a chunk; in a run on an idle machine, the main thread waits for
#: one ~2 ms on average and never this long.
_STEAL_AFTER = 0.1
#: Parquet encoders working at once; each owns its own file per partition.
_ENCODERS = 2
#: Columns worth dictionary-encoding: few distinct values, where the dictionary is both smaller
#: and cheaper to write than plain values (measured per column on the bench capture with
#: `teiten.store.parquet`: ``docs/benchmarks.md``). ``dport``, ``sport``, ``tcp_win`` and
#: ``tcp_ack`` are cheaper plain (zstd takes their repetition); ``dst`` (a few sensor
#: addresses) pays. A chunk in which more than half the values differ is written plain anyway.
_DICTIONARY_COLUMNS = [
    "ip_version", "proto", "icmp_type", "icmp_code", "ttl", "ip_flags", "fragment",
    "tcp_flags", "tcp_opts", "tcp_mss", "tcp_wscale", "inner_proto", "country",
    "traffic_class", "tool", "dst", "wire_len", "ip_len", "payload_len", "payload",
]
#: Columns with min/max statistics: only ``ts``, whose row groups are time ranges that queries
#: prune on; the other columns' values spread over their whole range in every row group.
_STATISTICS_COLUMNS = ["ts"]
#: Capture times grow nearly monotonically: delta encoding stores them in a few bits each and
#: costs a quarter of plain + zstd.
_DELTA_COLUMNS = ["ts"]
#: 16-bit numbers stored as INT32, written BYTE_STREAM_SPLIT + zstd: the two high-byte streams
#: are zeros, and zstd on the rest is ~4x faster than on plain values. Measured on the bench
#: capture (5M rows, one thread): dport plain + zstd 65 ms, 7.6 MB -> 16 ms, 6.7 MB; random
#: sport and ip_id, delta-encoded (17 bits a value) 25 and 19 ms, 11.1 and 10.9 MB -> 9 and
#: 10 ms, 9.6 and 10.0 MB.
_BYTE_STREAM_SPLIT_COLUMNS = ["sport", "dport", "ip_id"]


@dataclass
class InputSummary:
    """What happened to one input."""

    name: str
    status: str  # ingested | duplicate | failed
    packets: int = 0
    records: int = 0
    unmonitored: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    message: str = ""


@dataclass
class IngestSummary:
    """Totals of an ingest run (what the CLI prints at the end)."""

    inputs: list[InputSummary] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def packets(self) -> int:
        """Packets stored by this run."""
        return sum(i.packets for i in self.inputs)

    @property
    def records(self) -> int:
        """Capture records read by this run (including duplicates' none)."""
        return sum(i.records for i in self.inputs)

    @property
    def duplicates(self) -> int:
        """Inputs skipped because the catalog already had them."""
        return sum(i.status == "duplicate" for i in self.inputs)

    @property
    def failed(self) -> int:
        """Inputs rejected (not a capture, unreadable, damaged under strict)."""
        return sum(i.status == "failed" for i in self.inputs)

    @property
    def skipped_by_reason(self) -> Counter[str]:
        """Skipped records by reason, over every input."""
        total: Counter[str] = Counter()
        for i in self.inputs:
            total.update(i.skipped_by_reason)
        return total

    @property
    def rate(self) -> float:
        """Records per second over the run."""
        return self.records / self.elapsed if self.elapsed > 0 else 0.0


def _token() -> str:
    """Six hex digits naming a run's or an input's staged files (random, so that two runs
    cannot collide; not a secret: ``os.urandom`` without ``secrets``, whose ``hmac`` and
    ``hashlib`` imports cost ~6 ms of the start-up)."""
    return os.urandom(3).hex()


class _HashingReader(io.RawIOBase):
    """Passes reads through while hashing and counting the raw bytes."""

    def __init__(self, raw: BinaryIO, algorithm: str,
                 on_bytes: Callable[[int], None] | None = None) -> None:
        self._raw = raw
        self.hash = content.new_hash(algorithm)
        self.count = 0
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.hash.update(data)
        self.count += n
        if self._on_bytes is not None:
            self._on_bytes(n)
        return n

    def drain(self) -> None:
        """Read (and hash) whatever the decoder did not consume."""
        while True:
            data = self._raw.read(1 << 20)
            if not data:
                return
            self.hash.update(data)
            self.count += len(data)


class _RunResources:
    """What the inputs of one run share: the Parquet encoder threads and the directories
    already made (a small input costs little more than these, made afresh per input)."""

    def __init__(self, store: Store) -> None:
        self.staging = store.root / "staging" / f"run-{_token()}"
        # Parquet encoding releases the GIL: it runs on other cores while the next chunk is
        # decoded and enriched. Chunks go round-robin to _ENCODERS single-thread encoders, each
        # with its own file per partition (a ParquetWriter is not thread-safe).
        self.pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix="teiten-parquet",
                                         initializer=lower_priority)
                      for _ in range(_ENCODERS)]
        self._dirs: set[Path] = set()

    def makedirs(self, path: Path) -> None:
        """``path`` and its parents, unless this run made (or found) them already."""
        if path not in self._dirs:
            path.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path)

    def close(self) -> None:
        """Stop the encoders and remove the (by now empty) staging directories."""
        for pool in self.pools:
            pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.staging, ignore_errors=True)


class _PartitionWriter:
    """Parquet writers per (sensor, UTC date) in the staging area, for one input."""

    def __init__(self, store: Store, shared: _RunResources) -> None:
        self.store = store
        # files are staged under a token of their own and take the input's hash in their final
        # name
        self.token = _token()
        self.shared = shared
        self.writers: dict[tuple[str, str, int], ParquetFileWriter] = {}
        self.ts_min: int | None = None
        self.ts_max: int | None = None
        self.sensors: set[str] = set()
        self._schema = file_schema()
        # At most _PENDING chunks wait for an encoder, so memory stays bounded.
        self._chunks = 0
        self._pending: deque[_Encoding] = deque()

    def write(self, sensor: str, table: pa.Table) -> None:
        col = table.column("ts")  # (no nulls: _decode dropped the packets without a time)
        ts = values_of(col.chunk(0) if col.num_chunks == 1 else col.combine_chunks(), np.int64)
        if not len(ts):
            return
        lo, hi = int(ts.min()), int(ts.max())
        self.ts_min = lo if self.ts_min is None else min(self.ts_min, lo)
        self.ts_max = hi if self.ts_max is None else max(self.ts_max, hi)
        self.sensors.add(sensor)
        days = ts // _DAY_NS
        if days[0] == days[-1] and lo // _DAY_NS == hi // _DAY_NS:
            self._write_day(sensor, int(days[0]), table)
            return
        order = np.argsort(days, kind="stable")
        sorted_days = days[order]
        bounds = np.flatnonzero(np.diff(sorted_days)) + 1
        for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(order)], strict=True):
            self._write_day(sensor, int(sorted_days[start]), table.take(order[start:end]))

    def _staged(self, sensor: str, date: str, slot: int) -> Path:
        return self.shared.staging / self._name(sensor, date, slot, f"part-{self.token}")

    def _write_day(self, sensor: str, day: int, table: pa.Table) -> None:
        date = np.datetime_as_string(np.datetime64(day, "D"))
        key = (sensor, date)
        slot = self._chunks % _ENCODERS
        self._chunks += 1
        path = self._staged(sensor, date, slot)
        w = self.writers.get((*key, slot))
        if w is None:
            self.shared.makedirs(path.parent)
            w = ParquetFileWriter(path, self._schema, dictionary=_DICTIONARY_COLUMNS,
                                  delta=_DELTA_COLUMNS, statistics=_STATISTICS_COLUMNS,
                                  byte_stream_split=_BYTE_STREAM_SPLIT_COLUMNS)
            self.writers[(*key, slot)] = w
        while len(self._pending) >= _PENDING:
            self._settle_oldest()
        job = _Encoding(slot, w, table, path)
        job.future = self.shared.pools[slot].submit(self._run, job)
        self._pending.append(job)

    def _name(self, sensor: str, date: str, slot: int, prefix: str) -> str:
        return f"sensor={sensor}/date={date}/{prefix}-{slot}.parquet"

    def _run(self, job: _Encoding) -> None:
        table, job.table = job.table, None  # (the table's buffers are reused once it is gone)
        assert table is not None
        self._encode(job.writer, table, job.path)

    def _encode(self, writer: ParquetFileWriter, table: pa.Table, path: Path) -> None:
        table = table.select(self._schema.names)
        if table.schema != self._schema:  # (field metadata aside, the enrichers' types match)
            table = table.cast(self._schema)
        writer.write_table(table)
        _start_writeback(path)

    def _settle_oldest(self) -> None:
        """Wait for the oldest chunk handed to an encoder, or encode it here if the encoder has
        not started on it after :data:`_STEAL_AFTER`.

        The encoders give way to every other thread (:mod:`teiten.core.threads`); on a
        machine busy with other work they may wait long for a core, and this thread would
        wait with them: the ingest would crawl. So the chunks still queued for that encoder
        are taken back (the newest first: the encoder reaches them only after the oldest)
        and encoded here, in order, after the oldest one (here too unless it has started
        meanwhile). A writer is thus still written in order and by one thread at a time."""
        job = self._pending.popleft()
        try:
            job.future.result(timeout=_STEAL_AFTER)
            return
        except TimeoutError:
            pass
        taken = [j for j in reversed(self._pending) if j.slot == job.slot and j.future.cancel()]
        for j in taken:
            self._pending.remove(j)
        if job.future.cancel():
            self._run(job)
        else:
            job.future.result()
        for j in reversed(taken):
            self._run(j)

    def close(self) -> None:
        try:
            while self._pending:
                self._settle_oldest()
        finally:
            while self._pending:  # after a failed chunk: the others end before the files close
                with contextlib.suppress(Exception):
                    self._pending.popleft().future.result()
            for w in self.writers.values():
                w.close()

    def commit_files(self, input_id: str) -> list[str]:
        """Fsync staged files and rename them into ``packets/`` (named after the input's hash
        and this input's token); their relative paths."""
        self.close()
        rels = []
        prefix = f"{input_id[:16]}-{self.token}"
        for sensor, date, slot in sorted(self.writers):
            rel = f"packets/{self._name(sensor, date, slot, prefix)}"
            src = self._staged(sensor, date, slot)
            with open(src, "rb") as fh:
                os.fsync(fh.fileno())
            dst = self.store.root / rel
            self.shared.makedirs(dst.parent)
            os.replace(src, dst)
            rels.append(rel)
        return rels

    def discard(self) -> None:
        """Drop everything staged for this input (a failed write is not worth reporting)."""
        with contextlib.suppress(Exception):
            self.close()
        for sensor, date, slot in self.writers:
            self._staged(sensor, date, slot).unlink(missing_ok=True)


@dataclass(slots=True)
class _Encoding:
    """A chunk handed to an encoder: what to encode (the table until the encoding starts:
    the decoder's buffers under it are recycled once nothing refers to it) and its future."""

    slot: int
    writer: ParquetFileWriter
    table: pa.Table | None
    path: Path
    future: Future[None] = field(default_factory=Future)


@dataclass
class _Staged:
    """An input decoded into staged files, its catalog row still to be written."""

    writer: _PartitionWriter
    record: InputRecord
    #: the catalog's row for the same content, replaced by this one (``force``)
    previous: InputRecord | None
    outcome: InputSummary

    def commit(self, store: Store, known: dict[str, InputRecord]) -> InputSummary:
        """Wait for the input's files, move them into ``packets/`` and write its row."""
        try:
            self.record.files = self.writer.commit_files(self.record.input_id)
        except BaseException:
            self.writer.discard()
            raise
        store.catalog.commit(self.record)
        known[self.record.input_id] = self.record
        if self.previous is not None:
            for rel in set(self.previous.files) - set(self.record.files):
                (store.root / rel).unlink(missing_ok=True)
        return self.outcome


def _start_writeback(path: Path) -> None:
    """Ask the kernel to start writing a file's dirty pages to disk now (without waiting), so
    that the fsync at commit has little left to wait for. Best effort."""
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        # POSIX_FADV_DONTNEED starts writeback of the dirty pages (Linux: WB_SYNC_NONE)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


#: Modules an ingest needs only at its first commit (``pyarrow.parquet``, for the catalog):
#: importing it takes ~20 ms of the interpreter, a tenth of the start-up, so
#: :func:`_import_ahead` imports it in a thread while the first chunk is read and decoded
#: (compiled code that does not hold the interpreter). Arrow's compute functions (another
#: ~40 ms) are not imported at all unless an input needs them (a chunk over midnight, a
#: sensor's address filter, a pcapng packet without a time). ``dateutil.relativedelta`` is
#: what Arrow imports the first time it converts Python objects (``pa.array([sensor.id])``
#: for the first chunk): 5-10 ms of the main thread otherwise.
_LATER_IMPORTS: Final = ("pyarrow.parquet", "dateutil.relativedelta")


def _import_ahead() -> None:
    """Start importing :data:`_LATER_IMPORTS` in a thread, unless they are imported (or being
    imported: a module is in ``sys.modules`` from the start of its import). Not a daemon: at
    exit the interpreter waits for an import still running rather than cut it off."""
    if all(m in sys.modules for m in _LATER_IMPORTS):
        return

    def run() -> None:
        for name in _LATER_IMPORTS:
            with contextlib.suppress(ImportError):  # (Arrow does without dateutil)
                importlib.import_module(name)

    threading.Thread(target=run, name="teiten-import").start()


class Ingestor:
    """Ingests inputs into one store; see :func:`ingest` for the parameters."""

    def __init__(self, store: Store, *, sensor: str | None = None,
                 registry: Registry | None = None, force: bool = False, strict: bool = False,
                 payload_cap: int = 512, mmdb: Path | None = None,
                 on_progress: Callable[[int, int], None] | None = None,
                 hashes: Prehasher | None = None) -> None:
        if payload_cap < 0 or payload_cap > 65535:
            raise UsageError(f"payload cap must be 0..65535 bytes, not {payload_cap}")
        self.store = store
        self.registry = registry or Registry([])
        self.fixed: Sensor | None = None
        if sensor is not None:
            self.fixed = self.registry.get(sensor) or Sensor(id=check_sensor_id(sensor))
        self.force = force
        self.strict = strict
        self.payload_cap = payload_cap
        self.enrichers: list[Enricher] = load_enrichers(EnrichContext(mmdb=mmdb))
        self.on_progress = on_progress  # (bytes, packets) increments
        self._known_sensors: dict[str, Sensor] = dict(store.registry())
        self._no_time = 0
        self._hashes = hashes

    def _sensor_for_path(self, name: str) -> Sensor | None:
        if self.fixed is not None:
            return self.fixed
        return self.registry.for_path(name) if name != "-" else None

    def run(self, inputs: list[str]) -> IngestSummary:
        """Ingest each input in turn; one input's failure does not stop the others.

        An input's commit (waiting for its last Parquet chunks, fsync, rename, catalog row)
        is put off until the next input is decoded, so that the encoders finish the one while
        the main thread decodes the other: for many small inputs this overlaps most of the
        per-input work. The next input is checked against the catalog only after that commit,
        so the outcome is the same as one input after the other — also when the run stops (an
        error, Ctrl-C) while the next input is decoded: the input decoded before it is still
        committed.
        """
        summary = IngestSummary()
        t0 = time.perf_counter()
        _import_ahead()
        known = self.store.catalog.records()
        hashes = self._hashes
        if hashes is None or hashes.algorithm != self.store.content_hash:
            hashes = Prehasher(inputs, self.store.content_hash)
        shared = _RunResources(self.store)
        staged: deque[_Staged] = deque()

        def settle() -> None:
            while staged:  # taken off first: a failed commit has discarded its files
                summary.inputs.append(staged.popleft().commit(self.store, known))

        try:
            for name in inputs:
                try:
                    outcome = self._one(name, known, hashes, shared, settle)
                except (InputError, DamagedInputError) as exc:
                    settle()
                    if self.strict:
                        raise
                    summary.inputs.append(InputSummary(name, "failed", message=str(exc)))
                    continue
                if isinstance(outcome, _Staged):
                    staged.append(outcome)
                else:
                    settle()
                    summary.inputs.append(outcome)
            settle()
        finally:
            try:
                settle()  # stopped while the next input was decoded: this one is complete
            finally:
                for rest in staged:
                    rest.writer.discard()
                shared.close()
            if hashes is not self._hashes:
                hashes.close()
        summary.elapsed = time.perf_counter() - t0
        return summary

    def _open(self, name: str) -> BinaryIO:
        if name == "-":
            return sys.stdin.buffer
        try:
            return open(name, "rb")
        except OSError as exc:
            raise InputError(f"{name}: cannot open: {exc.strerror}") from exc

    def _one(self, name: str, known: dict[str, InputRecord], hashes: Prehasher,
             shared: _RunResources, settle: Callable[[], None]) -> InputSummary | _Staged:
        """Decode one input into staged files: its outcome, or what is left to commit.
        ``settle()`` commits the inputs staged before it; it is called once this one is
        decoded, before the catalog is asked whether the input is known."""
        # A regular file is hashed in its own thread: when the hash is ready before decoding
        # starts, a known input is skipped at once; otherwise decoding starts beside the
        # hashing and stops as soon as the hash names a known input. Anything else (stdin, a
        # pipe) is hashed as it is read.
        pending = hashes.future(name)
        if (pending is not None and pending.done() and pending.result() in known
                and not self.force):
            return InputSummary(name, "duplicate", message="already ingested")

        def known_input() -> bool:
            return (pending is not None and not self.force and pending.done()
                    and pending.exception() is None and pending.result() in known)

        sensor = self._sensor_for_path(name)
        raw = self._open(name)
        try:
            hashing = _HashingReader(raw, self.store.content_hash) if pending is None else None
            stream = raw if hashing is None else cast(BinaryIO, io.BufferedReader(hashing, 1 << 20))
            reader = CaptureReader(stream, name, payload_cap=self.payload_cap)
            writer = _PartitionWriter(self.store, shared)
            try:
                stored, unmonitored, no_sensor = self._decode(reader, sensor, writer, name,
                                                              known_input)
                if hashing is not None:
                    hashing.drain()
                    input_id, size = hashing.hash.hexdigest(), hashing.count
                else:
                    input_id = cast("Future[str]", pending).result()
                    size = os.fstat(raw.fileno()).st_size
                settle()
                previous = known.get(input_id)
                if previous is not None and not self.force:
                    writer.discard()
                    return InputSummary(name, "duplicate", message="already ingested")
                skipped = dict(reader.damage.counts)
                if no_sensor:
                    skipped["no-sensor"] = no_sensor
                if self._no_time:
                    skipped["no-timestamp"] = self._no_time
                dropped = no_sensor + self._no_time  # decoded, but with nowhere to go
                if self.strict and (reader.damage.damaged or dropped):
                    writer.discard()
                    first = reader.damage.entries[0] if reader.damage.entries else name
                    raise DamagedInputError(
                        f"{name}: {sum(skipped.values())} damaged or skipped records "
                        f"({', '.join(f'{k}: {v}' for k, v in sorted(skipped.items()))}); "
                        f"first: {first}"
                    )
                record = InputRecord(
                    input_id=input_id, name=name, size=size, format=reader.format,
                    records=reader.records, packets=stored, unmonitored=unmonitored,
                    skipped=reader.damage.skipped + dropped, skipped_by_reason=skipped,
                    damage=[str(d) for d in reader.damage.entries[:_DAMAGE_KEEP]],
                    ts_min=writer.ts_min, ts_max=writer.ts_max, sensors=sorted(writer.sensors),
                    files=[], ingested_at=int(time.time() * 1e6), teiten_version=__version__,
                )
                outcome = InputSummary(name, "ingested", stored, reader.records, unmonitored,
                                       skipped)
                return _Staged(writer, record, previous, outcome)
            except BaseException:
                writer.discard()
                raise
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()

    def _decode(self, reader: CaptureReader, sensor: Sensor | None, writer: _PartitionWriter,
                name: str, stop: Callable[[], bool]) -> tuple[int, int, int]:
        """Decode, enrich and write one input; ``stop()`` ends it early (a known input)."""
        stored = unmonitored = no_sensor = 0
        self._no_time = 0
        last_bytes = 0
        used: dict[str, Sensor] = {}
        for batch in reader.batches():
            if batch.column("ts").null_count:
                # pcapng simple packet blocks carry no time: such a packet has no day to go to
                self._no_time += batch.column("ts").null_count
                batch = batch.filter(batch.column("ts").is_valid())
            for s, table in self._by_sensor(batch, reader, sensor):
                if s is None:
                    no_sensor += table.num_rows
                    continue
                mask = _monitored(s, table)
                if not mask.all():
                    unmonitored += int((~mask).sum())
                    table = table.filter(from_numpy(mask))
                if table.num_rows == 0:
                    continue
                used[s.id] = s
                table = self._enrich(s, table)
                writer.write(s.id, table)
                stored += table.num_rows
            if self.on_progress is not None:
                self.on_progress(reader.bytes_read - last_bytes, batch.num_rows)
                last_bytes = reader.bytes_read
            if stop():
                return stored, unmonitored, no_sensor  # the caller discards it all
        if stored == 0 and sensor is None and no_sensor and not used:
            raise InputError(
                f"{name}: no sensor for this input: give --sensor, or a registry whose "
                "'match' globs or 'interfaces' name it"
            )
        new = [u for u in used.values() if self._known_sensors.get(u.id) != u]
        if new:
            self.store.merge_sensors(new)
            self._known_sensors.update((u.id, u) for u in new)
        return stored, unmonitored, no_sensor

    def _by_sensor(self, batch: pa.RecordBatch, reader: CaptureReader, sensor: Sensor | None,
                   ) -> Iterator[tuple[Sensor | None, pa.Table]]:
        table = pa.Table.from_batches([batch])
        if sensor is not None:
            yield sensor, table
            return
        iface = table.column("interface").to_numpy(zero_copy_only=False)
        for i in np.unique(iface):
            name = reader.interfaces[int(i)].name if int(i) < len(reader.interfaces) else None
            s = self.registry.for_interface(name) if name else None
            part = table.filter(from_numpy(iface == i)) if len(np.unique(iface)) > 1 else table
            yield s, part

    def _enrich(self, sensor: Sensor, table: pa.Table) -> pa.Table:
        n = table.num_rows
        sensor_col = pa.DictionaryArray.from_arrays(  # (index 0 of one id: no bounds check)
            from_numpy(constant(n, 0, np.int32)), pa.array([sensor.id]), safe=False
        )
        table = table.append_column("sensor", sensor_col)
        for e in self.enrichers:
            table = table.append_column(e.column, e(table))
        # (``Table.column_names`` builds a new list at each call: ~1 ms a chunk in a loop)
        have = set(table.column_names)
        for f in PACKET_SCHEMA:
            if f.name not in have:
                table = table.append_column(f.name, pa.nulls(n, f.type))
        return table


def _monitored(sensor: Sensor, table: pa.Table) -> np.ndarray:
    if sensor.monitors_everything:
        return np.ones(table.num_rows, dtype=bool)
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    version = table.column("ip_version").to_numpy(zero_copy_only=False)
    out = np.zeros(table.num_rows, dtype=bool)
    is4 = version == 4
    if is4.any():
        dst = table.column("dst").fill_null(0).to_numpy()
        out[is4] = sensor.monitored_v4(dst[is4], ts[is4])
    is6 = ~is4
    if is6.any():
        col = table.column("dst6").filter(from_numpy(is6)).combine_chunks()
        start, stop = col.offset * 16, (col.offset + len(col)) * 16
        raw = np.frombuffer(col.buffers()[1], np.uint8)[start:stop]
        out[is6] = sensor.monitored_v6(raw.reshape(-1, 16), ts[is6])
    return out


def ingest(paths: Iterable[str | os.PathLike[str]], store_path: str | os.PathLike[str], *,
           sensor: str | None = None, registry: Registry | None = None, force: bool = False,
           strict: bool = False, payload_cap: int = 512, mmdb: Path | None = None,
           on_progress: Callable[[int, int], None] | None = None,
           hashes: Prehasher | None = None) -> IngestSummary:
    """Ingest captures into a store (created if missing).

    Parameters
    ----------
    paths : files, directories (walked recursively) or ``-`` for standard input; pcap or
        pcapng, optionally gzip/xz/zstd-compressed.
    store_path : the store directory.
    sensor : sensor id for every input; without a registry entry it monitors every address.
    registry : sensor registry matching inputs by path glob or pcapng interface name.
    force : re-ingest inputs already in the catalog, replacing what they wrote.
    strict : any damaged or skipped record fails the input (and the run).
    payload_cap : bytes of L4 payload kept per packet.
    mmdb : a MaxMind-format country database to use instead of the bundled one.
    on_progress : called with (bytes, packets) increments as the run goes.
    hashes : content hashes started ahead (:class:`~teiten.ingest.inputs.Prehasher` over
        the expanded inputs); by default the run starts its own.
    """
    inputs = expand_inputs(paths)
    store = create_store(store_path)
    with store.writing():
        ingestor = Ingestor(store, sensor=sensor, registry=registry, force=force, strict=strict,
                            payload_cap=payload_cap, mmdb=mmdb, on_progress=on_progress,
                            hashes=hashes)
        return ingestor.run(inputs)

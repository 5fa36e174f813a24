"""The responsive sensors of a simulated world: one first-payload record per answered SYN.

A responsive sensor answers every TCP SYN of a rate population (real hosts: their stack completes
the handshake; the stateless scanners and the backscatter of the event actors do not connect),
and records what the client sends first (:mod:`.first_payloads`). Records are written as the
responder's segment files, ``DIR/payloads/payloads-<YYYYMMDD>.parquet`` in the schema of
``teiten.sensors.payloads.PAYLOAD_SCHEMA`` (mirrored here as :data:`SEGMENT_SCHEMA`, since the
simulator sits below the sensors layer), so ``teiten sensor payloads --segments DIR/payloads``
loads them. ``DIR/truth_payloads.parquet`` adds the actor and template of every record.
The captures are unchanged: they hold the SYNs, as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from teiten.simulate import first_payloads as fp
from teiten.simulate.world import DAY, NS, World

if TYPE_CHECKING:
    from teiten.simulate.rates import RateChunk

I64 = npt.NDArray[np.int64]

_DICT = pa.dictionary(pa.int32(), pa.string())

#: The responder's segment schema (``teiten.sensors.payloads.PAYLOAD_SCHEMA``; a test keeps
#: the two equal).
SEGMENT_SCHEMA: Final = pa.schema([
    ("ts", pa.timestamp("ns", tz="UTC")), ("sensor", _DICT), ("ip_version", pa.uint8()),
    ("src", pa.uint32()), ("dst", pa.uint32()), ("src6", pa.binary(16)),
    ("dst6", pa.binary(16)), ("sport", pa.uint16()), ("dport", pa.uint16()),
    ("bytes", pa.binary()), ("length", pa.uint32()), ("end", _DICT), ("wait_ms", pa.uint32()),
    ("classification", _DICT), ("fields", pa.map_(pa.string(), pa.string())),
])

#: Schema of ``truth_payloads.parquet``: one row per record, in the segments' order.
TRUTH_PAYLOAD_SCHEMA: Final = pa.schema([
    ("ts", pa.timestamp("ns", tz="UTC")), ("sensor", pa.string()), ("src", pa.uint32()),
    ("sport", pa.uint16()), ("dst", pa.uint32()), ("dport", pa.uint16()),
    ("actor_id", pa.int32()), ("actor", pa.string()), ("template", pa.string()),
    ("classification", pa.string()),
])

SEGMENT_DIR: Final = "payloads"
TRUTH_FILE: Final = "truth_payloads.parquet"


def _hash(x: I64, salt: int) -> npt.NDArray[np.uint64]:
    """SplitMix64 of ``x ^ salt`` (vectorised): stable pseudo-random bits per key."""
    z = (x.astype(np.uint64) ^ np.uint64(salt)) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


class _Choice:
    """Template choice tables: a list of weighted templates per port and per worm kind."""

    def __init__(self, world: World) -> None:
        lists: list[dict[str, float]] = [fp.DEFAULT]
        self.port_list = np.zeros(65536, np.int64)
        for port, table in sorted(fp.BY_PORT.items()):
            lists.append(table)
            self.port_list[port] = len(lists) - 1
        self.kind_list = np.full(len(world.actors), -1, np.int64)
        for kind, table in sorted(fp.BY_KIND.items()):
            lists.append(table)
            for a in world.actors:
                if a.kind == kind and a.event is None:
                    self.kind_list[a.id] = len(lists) - 1
        width = max(len(t) for t in lists)
        self.cum = np.full((len(lists), width), 2.0)
        self.tmpl = np.zeros((len(lists), width), np.int64)
        for i, t in enumerate(lists):
            names = sorted(t)
            w = np.array([t[n] for n in names], np.float64)
            self.cum[i, : len(names)] = np.cumsum(w) / w.sum()
            self.tmpl[i, : len(names)] = [fp.template_index(n) for n in names]

    def pick(self, actor: I64, dport: I64, src: I64) -> I64:
        """Template of each connection: one per (source address, port list), stable."""
        lst = np.where(self.kind_list[actor] >= 0, self.kind_list[actor], self.port_list[dport])
        u = (_hash(src * 64 + lst, 0x5EED) >> np.uint64(11)).astype(np.float64) / 2.0**53
        k = (u[:, None] >= self.cum[lst]).sum(axis=1)
        out: I64 = self.tmpl[lst, k]
        return out


class Responder:
    """Collects first-payload records of the responsive sensors; writes one segment per day."""

    def __init__(self, world: World, out: Path, seed: int) -> None:
        self.w = world
        self.out = out
        self.seed = seed
        self.responsive = np.array([st.sensor.kind == "responsive" for st in world.sensors],
                                   bool)
        self.sensor_ids = [st.sensor.id for st in world.sensors]
        self.choice = _Choice(world)
        cls = fp.classifications()
        self.t_data = [t.data for t in fp.TEMPLATES]
        self.t_end = [t.end for t in fp.TEMPLATES]
        self.t_proto = [cls[t.name][0] for t in fp.TEMPLATES]
        self.t_fields = pa.array([sorted(cls[t.name][1].items()) for t in fp.TEMPLATES],
                                 SEGMENT_SCHEMA.field("fields").type)
        self.t_names = pa.array([t.name for t in fp.TEMPLATES], pa.string())
        self.actor_names = pa.array([a.name for a in world.actors], pa.string())
        self.parts: list[dict[str, npt.NDArray[np.generic]]] = []
        self.day: int | None = None
        self.records = 0
        self.files = 0
        self.per_template = np.zeros(len(fp.TEMPLATES), np.int64)
        self._truth: pq.ParquetWriter | None = None

    def add(self, rate: RateChunk, t0: int) -> None:
        """Record the connections of the responsive sensors in a chunk's rate packets."""
        if not self.responsive.any():
            return
        day = t0 // DAY
        if self.day is not None and day != self.day:
            self.flush()
        self.day = day
        sel = []
        for i in np.flatnonzero(self.responsive).tolist():
            lo, hi = int(rate.bounds[i]), int(rate.bounds[i + 1])
            if hi > lo:
                idx = lo + np.flatnonzero(rate.cols.proto[lo:hi] == 6)
                sel.append(idx)
        if not sel:
            return
        idx = np.concatenate(sel)
        if not len(idx):
            return
        c = rate.cols
        actor = rate.actor[idx].astype(np.int64)
        dport = c.dport[idx].astype(np.int64)
        tmpl = self.choice.pick(actor, dport, c.src[idx].astype(np.int64))
        h = _hash(idx.astype(np.int64) + t0 // NS * 1_000_003, self.seed)
        rtt_ms = 20 + (h % np.uint64(280)).astype(np.int64)  # accept after the handshake
        wait = 1 + ((h >> np.uint64(20)) % np.uint64(200)).astype(np.int64)  # first bytes
        sensor = np.searchsorted(rate.bounds, idx, side="right") - 1
        self.parts.append({
            "ts": rate.ts[idx] + rtt_ms * 1_000_000, "sensor": sensor, "src": c.src[idx],
            "dst": c.dst[idx], "sport": c.sport[idx], "dport": c.dport[idx], "tmpl": tmpl,
            "wait": wait, "actor": actor,
        })

    def flush(self) -> None:
        """Write the collected day as one segment (and its truth rows)."""
        if not self.parts or self.day is None:
            self.parts = []
            return
        p = {k: np.concatenate([x[k] for x in self.parts]) for k in self.parts[0]}
        self.parts = []
        n = len(p["ts"])
        tmpl = p["tmpl"]
        data = pa.array(self.t_data, pa.binary()).take(pa.array(tmpl))
        lengths = np.array([len(b) for b in self.t_data], np.int64)[tmpl]
        empty = lengths == 0
        sensors = pa.DictionaryArray.from_arrays(pa.array(p["sensor"].astype(np.int32)),
                                                 pa.array(self.sensor_ids, pa.string()))
        table = pa.table({
            "ts": pa.array(p["ts"], pa.timestamp("ns", tz="UTC")),
            "sensor": sensors,
            "ip_version": pa.array(np.full(n, 4, np.uint8)),
            "src": pa.array(p["src"].astype(np.uint32)),
            "dst": pa.array(p["dst"].astype(np.uint32)),
            "src6": pa.nulls(n, pa.binary(16)), "dst6": pa.nulls(n, pa.binary(16)),
            "sport": pa.array(p["sport"].astype(np.uint16)),
            "dport": pa.array(p["dport"].astype(np.uint16)),
            "bytes": data, "length": pa.array(lengths.astype(np.uint32)),
            "end": pa.DictionaryArray.from_arrays(
                pa.array(tmpl.astype(np.int32)), pa.array(self.t_end, pa.string())),
            "wait_ms": pa.array(p["wait"].astype(np.uint32), mask=empty),
            "classification": pa.DictionaryArray.from_arrays(
                pa.array(tmpl.astype(np.int32)), pa.array(self.t_proto, pa.string())),
            "fields": self.t_fields.take(pa.array(tmpl)),
        }, schema=SEGMENT_SCHEMA)
        d = self.out / SEGMENT_DIR
        d.mkdir(parents=True, exist_ok=True)
        stamp = np.datetime64(self.day * DAY, "ns").astype("datetime64[D]").astype(str)
        pq.write_table(table, d / f"payloads-{stamp.replace('-', '')}.parquet")
        truth = pa.table({
            "ts": table.column("ts"), "sensor": sensors.cast(pa.string()),
            "src": table.column("src"), "sport": table.column("sport"),
            "dst": table.column("dst"), "dport": table.column("dport"),
            "actor_id": pa.array(p["actor"].astype(np.int32)),
            "actor": self.actor_names.take(pa.array(p["actor"])),
            "template": self.t_names.take(pa.array(tmpl)),
            "classification": pa.array(self.t_proto, pa.string()).take(pa.array(tmpl)),
        }, schema=TRUTH_PAYLOAD_SCHEMA)
        if self._truth is None:
            self._truth = pq.ParquetWriter(self.out / TRUTH_FILE, TRUTH_PAYLOAD_SCHEMA)
        self._truth.write_table(truth)
        self.records += n
        self.files += 1
        self.per_template += np.bincount(tmpl, minlength=len(self.per_template))

    def summary(self) -> dict[str, object]:
        """Records per classification and per template (for ``truth.json``)."""
        by_proto: dict[str, int] = {}
        for i, k in enumerate(self.per_template.tolist()):
            if k:
                by_proto[self.t_proto[i]] = by_proto.get(self.t_proto[i], 0) + k
        return {"records": self.records, "segments": self.files,
                "by_classification": dict(sorted(by_proto.items())),
                "by_template": {fp.TEMPLATES[i].name: int(k)
                                for i, k in enumerate(self.per_template.tolist()) if k}}

    def close(self) -> None:
        """Flush the last day and close the truth file."""
        self.flush()
        if self._truth is not None:
            self._truth.close()
            self._truth = None
        elif self.responsive.any():
            pq.write_table(TRUTH_PAYLOAD_SCHEMA.empty_table(), self.out / TRUTH_FILE)


__all__ = ["SEGMENT_DIR", "SEGMENT_SCHEMA", "TRUTH_FILE", "TRUTH_PAYLOAD_SCHEMA", "Responder"]

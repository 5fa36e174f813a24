"""The simulation engine: a planned world to per-sensor captures plus its ground truth.

Time is cut into chunks (a day; an hour when the day is large or captures rotate hourly; a
fraction of an hour when even an hour holds more than ``max_chunk_packets``). In each chunk the
rate populations come out of one compiled pass already in (sensor, time) order
(:mod:`.rates`); the planned event packets (scans, backscatter, smurf) are built vectorised,
filtered by sensor troubles, sorted (they are few) and merged into each sensor's stream without
sorting it again; the capture writer then encodes each sensor's packets in place. Memory is
bounded by the chunk size, whatever the period length. Every random draw comes from a
generator seeded by (seed, chunk) or (seed, actor, chunk), so a run is byte-for-byte
reproducible. Responsive sensors also get first-payload records (:mod:`.responder`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from teiten.capture.writer import LINKTYPE_ETHERNET, SUFFIXES, CaptureWriter, PacketColumns
from teiten.core.errors import UsageError
from teiten.core.sensors import Registry
from teiten.simulate.packets import event_packets
from teiten.simulate.rates import RateStream
from teiten.simulate.responder import SEGMENT_DIR, TRUTH_FILE, Responder
from teiten.simulate.scenario import Scenario
from teiten.simulate.truth import TRUTH_FILES, build_truth
from teiten.simulate.world import DAY, HOUR, NS, Actor, World, plan_world

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Params:
    """How to run a simulation.

    Parameters
    ----------
    seed : int
        Random seed; the same seed, scenario, period and parameters give byte-identical output.
    scale : float
        Multiplies every packet rate and event count (1 = the preset's nominal volume).
    fmt : {"pcap", "pcapng"}
        Capture format.
    rotate : {"daily", "hourly"}
        One capture file per sensor per UTC day, or per hour like a rotating live sensor.
    nanosecond : bool
        Nanosecond timestamps (pcap magic a1b23c4d / pcapng if_tsresol 9).
    linktype : int
        1 (Ethernet) or 101 (raw IP).
    max_chunk_packets : int
        Memory bound: a day expected to hold more packets than this is generated hour by
        hour, and an hour that would hold more in halves, quarters... of an hour (down to a
        minute). Peak memory is about 300 MB at the default 1 million.
    compression : {"none", "gzip", "xz", "zstd"}
        Compress each capture file (suffix ``.gz``, ``.xz``, ``.zst``); gzip headers carry no
        time stamp or name, so compressed output is deterministic too.
    """

    seed: int = 1
    scale: float = 1.0
    fmt: Literal["pcap", "pcapng"] = "pcap"
    rotate: Literal["daily", "hourly"] = "daily"
    nanosecond: bool = False
    linktype: int = LINKTYPE_ETHERNET
    max_chunk_packets: int = 1_000_000
    compression: Literal["none", "gzip", "xz", "zstd"] = "none"


#: File suffix of each capture compression.
#: File-name suffix of each ``--compression`` (the capture writer compresses by the suffix).
COMPRESSION_SUFFIX: dict[str, str] = {"none": "", **{c: s for s, c in SUFFIXES.items() if c}}


@dataclass
class Summary:
    """What a simulation wrote."""

    out: Path
    packets: int
    files: int
    sensors: int
    actors: int
    elapsed: float
    per_sensor: dict[str, int] = field(default_factory=dict)
    payload_records: int = 0  # first-payload records of the responsive sensors

    @property
    def rate(self) -> float:
        """Packets written per second of wall time."""
        return self.packets / self.elapsed if self.elapsed else 0.0


@dataclass
class _Acc:
    """Truth accumulators filled chunk by chunk."""

    packets: I64
    first: I64
    last: I64
    per_source: I64
    counts: dict[tuple[int, int, int], int] = field(default_factory=dict)
    seen: dict[int, npt.NDArray[np.bool_]] = field(default_factory=dict)  # event -> dsts hit
    event_ts: dict[int, list[I64]] = field(default_factory=dict)
    amp_packets: dict[int, I64] = field(default_factory=dict)


#: Packets per call of the capture writer: its record buffer stays below glibc's mmap
#: threshold, so it is reused instead of page-faulted in afresh for every call.
_WRITE_SLICE = 200_000
#: The shortest chunk when a day is very busy (memory stays bounded by max_chunk_packets).
_MIN_CHUNK = 60 * 1_000_000_000

Part = tuple[int, I64, I64, I64, PacketColumns]


class _Engine:
    def __init__(self, world: World, params: Params, out: Path,
                 progress: Callable[[int, int], None] | None) -> None:
        self.w = world
        self.p = params
        self.out = out
        self.progress = progress
        n_act = len(world.actors)
        self.acc = _Acc(np.zeros(n_act, np.int64), np.full(n_act, np.iinfo(np.int64).max),
                        np.full(n_act, np.iinfo(np.int64).min),
                        np.zeros(len(world.sources.addr), np.int64))
        self.rates = RateStream(world)
        self.responder = Responder(world, out, params.seed)
        self.writers: dict[int, tuple[str, CaptureWriter]] = {}
        self.files = 0
        self.per_sensor = np.zeros(len(world.sensors), np.int64)

    # ------------------------------------------------------------------ chunking
    def chunks(self) -> list[tuple[int, int]]:
        """Time slices: a day, an hour, or a fraction of an hour for very busy worlds."""
        w = self.w
        naddr = w.n_addresses_at_start
        day_rate = sum(float(a.spec.get("rate", 0)) for a in w.actors if a.event is None)
        per_day = day_rate * naddr * w.scale
        step = DAY
        if self.p.rotate == "hourly" or per_day > self.p.max_chunk_packets:
            step = HOUR
            while step > _MIN_CHUNK and per_day / DAY * step > self.p.max_chunk_packets:
                step //= 2
        t = w.start
        out = []
        while t < w.end:
            nxt = min(w.end, (t // step + 1) * step)
            out.append((t, nxt))
            t = nxt
        return out

    # ------------------------------------------------------------------ events
    def _event(self, a: Actor, t0: int, t1: int) -> Part | None:
        ev = a.event
        assert ev is not None and ev.t_ts is not None
        if ev.end < t0 or ev.start >= t1:
            return None
        lo, hi = np.searchsorted(ev.t_ts, [t0, t1])
        if lo == hi:
            return None
        assert ev.t_addr is not None and ev.t_port is not None
        ts = ev.t_ts[lo:hi]
        dst = ev.t_addr[lo:hi]
        port = ev.t_port[lo:hi]
        rng = np.random.default_rng([self.w.seed, 11, a.id, t0 // NS])
        cols = event_packets(ev, self.w.addr[dst], port, ts, rng)
        gs = np.full(len(ts), -1, np.int64)
        if ev.kind == "smurf":
            gs = -2 - port.astype(np.int64)  # amplifier index, kept apart from the source table
        return a.id, ts, dst, gs, cols

    def _events(self, t0: int, t1: int) -> tuple[I64, I64, PacketColumns] | None:
        """Event packets of the chunk that reach a sensor, sorted by (sensor, time)."""
        w = self.w
        parts = []
        for a in w.actors:
            if a.event is not None:
                r = self._event(a, t0, t1)
                if r is not None:
                    parts.append(r)
        if not parts:
            return None
        ts = np.concatenate([p[1] for p in parts])
        dst = np.concatenate([p[2] for p in parts])
        gs = np.concatenate([p[3] for p in parts])
        part_len = np.array([len(p[1]) for p in parts], np.int64)
        part_actor = np.array([p[0] for p in parts], np.int64)
        actor = np.repeat(part_actor, part_len)
        cols = PacketColumns.concat([p[4] for p in parts])
        sensor = w.addr_sensor[dst].astype(np.int64)
        keep = (w.addr_from[dst] <= ts) & (w.addr_until[dst] > ts)
        for i, st in enumerate(w.sensors):
            for a0, a1 in st.outages + st.maintenance:
                if a0 < t1 and a1 > t0:
                    keep &= ~((sensor == i) & (ts >= a0) & (ts < a1))
        self._account(ts, dst, gs, actor, sensor, keep, part_actor, part_len, t0)
        idx = np.flatnonzero(keep)
        if not len(idx):
            return None
        order = idx[np.argsort((sensor[idx] << 47) | (ts[idx] - t0), kind="stable")]
        return ts[order], sensor[order], cols.take(order)

    def _account(self, ts: I64, dst: I64, gs: I64, actor: I64, sensor: I64,
                 keep: npt.NDArray[np.bool_], part_actor: I64, part_len: I64, t0: int) -> None:
        acc = self.acc
        starts = np.r_[0, np.cumsum(part_len)[:-1]]
        big = np.iinfo(np.int64).max
        kept = np.add.reduceat(keep.astype(np.int64), starts)
        acc.packets[part_actor] += kept
        has = kept > 0
        lo = np.minimum.reduceat(np.where(keep, ts, big), starts)
        hi = np.maximum.reduceat(np.where(keep, ts, -big), starts)
        acc.first[part_actor[has]] = np.minimum(acc.first[part_actor[has]], lo[has])
        acc.last[part_actor[has]] = np.maximum(acc.last[part_actor[has]], hi[has])
        n_sen = len(self.w.sensors)
        per = np.bincount((actor * n_sen + sensor)[keep], minlength=len(acc.packets) * n_sen)
        self._count(per.reshape(len(acc.packets), n_sen), t0)
        ends = starts + part_len
        for a, p0, p1 in zip(part_actor.tolist(), starts.tolist(), ends.tolist(), strict=True):
            m = keep[p0:p1]  # every part here is one event's packets
            if not m.any():
                continue
            seen = acc.seen.get(a)
            if seen is None:
                seen = acc.seen[a] = np.zeros(len(self.w.addr), bool)
            seen[dst[p0:p1][m]] = True
            ev = self.w.actors[a].event
            assert ev is not None
            if ev.kind in ("ddos", "smurf"):  # their truth rows need the packet rate
                acc.event_ts.setdefault(a, []).append(ts[p0:p1][m])
            g = gs[p0:p1][m]
            if (g <= -2).any():
                amp = acc.amp_packets.setdefault(a, np.zeros(len(ev.src), np.int64))
                amp += np.bincount(-2 - g, minlength=len(ev.src))

    def _count(self, per_actor_sensor: I64, t0: int) -> None:
        """Add packets per (actor, sensor) of a chunk to the per-day truth counts."""
        day = int(t0 // DAY)  # a chunk never spans two UTC days
        n_sen = per_actor_sensor.shape[1]
        flat = per_actor_sensor.ravel()
        counts = self.acc.counts
        for k in np.flatnonzero(flat).tolist():
            a, s = divmod(k, n_sen)
            counts[(a, s, day)] = counts.get((a, s, day), 0) + int(flat[k])

    # ------------------------------------------------------------------ one chunk
    def run_chunk(self, t0: int, t1: int) -> None:
        w = self.w
        ev = self._events(t0, t1)
        rng = np.random.default_rng([w.seed, 20, t0 // NS])
        tail = (ev[0], ev[2]) if ev is not None else None
        rate = self.rates.chunk(t0, t1, rng, self.acc, tail)
        if rate is not None:
            self._count(rate.per_actor_sensor, t0)
            self.responder.add(rate, t0)
        n_s = len(w.sensors)
        if ev is None:
            if rate is None:
                return
            for i in range(n_s):
                lo, hi = int(rate.bounds[i]), int(rate.bounds[i + 1])
                if hi > lo:
                    self._write(i, t0, rate.ts[lo:hi], rate.cols, np.arange(lo, hi))
            return
        e_ts, e_sensor, e_cols = ev
        e_bounds = np.searchsorted(e_sensor, np.arange(n_s + 1))
        if rate is None:
            n_r, r_ts, r_bounds, cols = 0, e_ts[:0], np.zeros(n_s + 1, np.int64), e_cols
        else:  # the event packets follow the rate packets in rate.cols
            n_r, r_ts, r_bounds, cols = rate.n_rate, rate.ts, rate.bounds, rate.cols
        for i in range(n_s):
            r_lo, r_hi = int(r_bounds[i]), int(r_bounds[i + 1])
            e_lo, e_hi = int(e_bounds[i]), int(e_bounds[i + 1])
            if r_hi == r_lo and e_hi == e_lo:
                continue
            # merge the sensor's two time-sorted runs without sorting them again
            ets = e_ts[e_lo:e_hi]
            pos = np.searchsorted(r_ts[r_lo:r_hi], ets, side="right") + np.arange(len(ets))
            m = (r_hi - r_lo) + len(ets)
            is_ev = np.zeros(m, bool)
            is_ev[pos] = True
            order = np.empty(m, np.int64)
            order[is_ev] = n_r + np.arange(e_lo, e_hi)
            order[~is_ev] = np.arange(r_lo, r_hi)
            ts = np.empty(m, np.int64)
            ts[is_ev] = ets
            ts[~is_ev] = r_ts[r_lo:r_hi]
            self._write(i, t0, ts, cols, order)

    def _writer(self, i: int, t0: int) -> CaptureWriter:
        hourly = self.p.rotate == "hourly"
        stamp = datetime.fromtimestamp(t0 // NS, tz=UTC)
        key = stamp.strftime("%Y%m%d%H" if hourly else "%Y%m%d")
        cur = self.writers.get(i)
        if cur is None or cur[0] != key:
            if cur is not None:
                cur[1].close()
            sid = self.w.sensors[i].sensor.id
            d = self.out / "captures" / sid
            d.mkdir(parents=True, exist_ok=True)
            ext = ("pcap" if self.p.fmt == "pcap" else "pcapng") + COMPRESSION_SUFFIX[
                self.p.compression]
            wr = CaptureWriter(d / f"{sid}_{key}.{ext}", self.p.linktype, fmt=self.p.fmt,
                               nanosecond=self.p.nanosecond, if_name=sid)
            cur = (key, wr)
            self.writers[i] = cur
            self.files += 1
        return cur[1]

    def _write(self, i: int, t0: int, ts: I64, cols: PacketColumns, order: I64) -> None:
        """Append packets ``cols[order]`` (times ``ts``) to sensor ``i``'s capture."""
        wr = self._writer(i, t0)
        for lo in range(0, len(order), _WRITE_SLICE):
            hi = min(len(order), lo + _WRITE_SLICE)
            wr.write(ts[lo:hi], cols, order=order[lo:hi])
        self.per_sensor[i] += len(order)

    def close(self) -> None:
        for _, wr in self.writers.values():
            wr.close()
        self.writers = {}
        self.responder.close()


#: glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_GLIBC_DEFAULT = 128 * 1024


@contextlib.contextmanager
def _reused_heap() -> Iterator[None]:
    """Keep freed chunk buffers in the heap while simulating (glibc only; else a no-op).

    Every chunk allocates the same few tens of MB of arrays; by default glibc serves each from
    fresh ``mmap`` pages or trims them back to the kernel, so every chunk page-faults them in
    again (a third of the run's CPU went to the kernel). Up to 32 MB per allocation is served
    from the heap and kept during the run; the defaults come back afterwards.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        yield
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT)
        mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT)


def simulate(
    scenario: Scenario, start: datetime, end: datetime, out: str | Path,
    params: Params = Params(), *, force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Summary:
    """Simulate ``scenario`` over ``[start, end)`` and write captures, registry and truth.

    Writes ``out/captures/<sensor>/<sensor>_<YYYYMMDD[HH]>.pcap[ng][.gz|.xz|.zst]``,
    ``out/sensors.toml`` (a :class:`teiten.core.sensors.Registry` whose ``match`` globs claim
    each sensor's files), the truth files ``truth.parquet``, ``truth_sources.parquet``,
    ``truth_counts.parquet`` and ``truth.json``, and, when the scenario has responsive
    sensors, their first-payload segments ``out/payloads/payloads-<YYYYMMDD>.parquet`` with
    ``truth_payloads.parquet`` (see ``docs/scenarios.md``).

    Parameters
    ----------
    scenario : Scenario
        From :func:`teiten.simulate.load_scenario`.
    start, end : datetime
        The period (UTC), e.g. from :func:`teiten.simulate.parse_period`.
    out : path
        Output directory.
    params : Params
        Seed, scale, format, rotation, compression.
    force : bool
        Replace an existing ``out/captures`` directory instead of refusing.
    progress : callable, optional
        Called with (chunks done, chunks total).

    Examples
    --------
    >>> import tempfile
    >>> from teiten.simulate import load_scenario, parse_period
    >>> s, e = parse_period("2026-10-01")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     summary = simulate(load_scenario("talot2"), s, e, d, Params(scale=0.05))
    >>> summary.sensors
    10
    """
    if params.fmt not in ("pcap", "pcapng") or params.rotate not in ("daily", "hourly"):
        raise UsageError("simulate: format must be pcap|pcapng and rotate daily|hourly")
    if params.scale <= 0:
        raise UsageError("simulate: --scale must be positive")
    if params.compression not in COMPRESSION_SUFFIX:
        raise UsageError("simulate: compression must be none|gzip|xz|zstd")
    t_start = time.perf_counter()
    out_dir = Path(out)
    cap = out_dir / "captures"
    if cap.exists() and any(cap.iterdir()):
        if not force:
            raise UsageError(f"{cap} is not empty (use --force to replace it)")
        shutil.rmtree(cap)
    shutil.rmtree(out_dir / SEGMENT_DIR, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (*TRUTH_FILES, TRUTH_FILE):
        (out_dir / name).unlink(missing_ok=True)
    world = plan_world(scenario, params.seed, params.scale, start, end)
    eng = _Engine(world, params, out_dir, progress)
    chunks = eng.chunks()
    with _reused_heap():
        try:
            for k, (t0, t1) in enumerate(chunks):
                eng.run_chunk(t0, t1)
                if progress:
                    progress(k + 1, len(chunks))
        finally:
            eng.close()
    registry = Registry([st.sensor for st in world.sensors], source="teiten simulate")
    (out_dir / "sensors.toml").write_text(registry.to_toml(), encoding="utf-8")
    build_truth(world, eng.acc, params, out_dir, eng.responder.summary())
    elapsed = time.perf_counter() - t_start
    return Summary(out_dir, int(eng.acc.packets.sum()), eng.files, len(world.sensors),
                   len(world.actors), elapsed,
                   {st.sensor.id: int(eng.per_sensor[i]) for i, st in enumerate(world.sensors)},
                   eng.responder.records)


__all__ = ["Params", "Summary", "simulate"]

"""The simulation engine: a planned world to per-sensor captures plus its ground truth.

Time is cut into chunks (a day, or an hour when the day is large or captures rotate hourly);
each chunk's packets are generated vectorised for every actor, filtered by sensor troubles,
sorted by (sensor, time) and appended to the sensors' capture files. Memory is bounded by the
chunk size, whatever the period length. Every random draw comes from a generator seeded by
(seed, actor, chunk), so a run is byte-for-byte reproducible.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from teiten.capture.writer import LINKTYPE_ETHERNET, CaptureWriter, PacketColumns
from teiten.core.errors import UsageError
from teiten.core.sensors import Registry
from teiten.simulate.packets import event_packets, population
from teiten.simulate.scenario import Scenario
from teiten.simulate.truth import TRUTH_FILES, build_truth
from teiten.simulate.world import DAY, HOUR, UTC_OFFSET, Actor, World, diurnal_profile, plan_world

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
        A day expected to hold more packets than this is generated hour by hour.
    """

    seed: int = 1
    scale: float = 1.0
    fmt: Literal["pcap", "pcapng"] = "pcap"
    rotate: Literal["daily", "hourly"] = "daily"
    nanosecond: bool = False
    linktype: int = LINKTYPE_ETHERNET
    max_chunk_packets: int = 1_000_000


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
    dsts: list[I64] = field(default_factory=list)
    event_ts: dict[int, list[I64]] = field(default_factory=dict)
    amp_packets: dict[int, I64] = field(default_factory=dict)


#: Resolution of the source-pick lookup table (weights are quantised to 1/65536).
_PICK = 1 << 16


@dataclass
class _Group:
    rows: I64
    pick: I64  # lookup table: uniform 16-bit draw -> row, following the source weights
    share: float
    offset_h: float


def _groups(world: World, actor: Actor) -> list[_Group]:
    S = world.sources
    rows = actor.sources
    total = float(S.weight[rows].sum()) or 1.0
    out = []
    for c in sorted(set(S.country[rows].tolist())):
        r = rows[S.country[rows] == c]
        w = S.weight[r]
        cumw = np.cumsum(w) / w.sum()
        pick = np.minimum(np.searchsorted(cumw, (np.arange(_PICK) + 0.5) / _PICK), len(r) - 1)
        out.append(_Group(r, r[pick], float(w.sum()) / total, float(UTC_OFFSET.get(c, 0.0))))
    return out


def _conficker_ok(a: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Conficker's random-scan flaw: 2nd and 4th octets are always below 128."""
    return np.asarray((((a >> 16) & 0xFF) < 128) & ((a & 0xFF) < 128))


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
        self.groups = {a.id: _groups(world, a) for a in world.actors if a.event is None}
        self.writers: dict[int, tuple[str, CaptureWriter]] = {}
        self.files = 0
        self.per_sensor = np.zeros(len(world.sensors), np.int64)

    # ------------------------------------------------------------------ chunking
    def chunks(self) -> list[tuple[int, int]]:
        w = self.w
        naddr = w.n_addresses_at_start
        day_rate = sum(float(a.spec.get("rate", 0)) for a in w.actors if a.event is None)
        per_day = day_rate * naddr * w.scale
        hourly = self.p.rotate == "hourly" or per_day > self.p.max_chunk_packets
        step = HOUR if hourly else DAY
        t = w.start
        out = []
        while t < w.end:
            nxt = min(w.end, (t // step + 1) * step)
            out.append((t, nxt))
            t = nxt
        return out

    # ------------------------------------------------------------------ generation
    def _rate_actor(self, a: Actor, t0: int, t1: int) -> tuple[I64, I64, I64, PacketColumns]:
        w = self.w
        rng = np.random.default_rng([w.seed, 10, a.id, t0 // HOUR])
        valid = np.flatnonzero((w.addr_from <= t0) & (w.addr_until > t0))
        if a.kind == "conficker":
            valid = valid[_conficker_ok(w.addr[valid])]
        empty = np.zeros(0, np.int64)
        if not len(valid) or not len(a.sources):
            return empty, empty, empty, PacketColumns.make([], [], 6)
        a0 = w.when(a.spec.get("start"), 0.0)
        a1 = w.when(a.spec.get("end"), 1.0)
        hs = np.arange(t0 - t0 % HOUR, t1, HOUR, dtype=np.int64)
        mid = hs + HOUR // 2
        trend = 1.0 + (float(a.spec.get("ramp", 1.0)) - 1.0) * np.clip(w.period_fraction(mid),
                                                                      0, 1)
        active = ((mid >= a0) & (mid < a1)).astype(float)
        lam0 = float(a.spec.get("rate", 0)) * w.scale * len(valid) / 24.0
        ts_l, gs_l = [], []
        diurnal = bool(a.spec.get("diurnal", False))
        for g in self.groups[a.id]:
            prof = (diurnal_profile((hs % DAY) / HOUR + g.offset_h) if diurnal
                    else np.ones(len(hs)))
            lam = lam0 * g.share * prof * trend * active
            k = rng.poisson(lam)
            tot = int(k.sum())
            if not tot:
                continue
            ts_l.append(np.repeat(hs, k) + rng.integers(0, HOUR, tot))
            gs_l.append(g.pick[rng.integers(0, _PICK, tot)])
        if not ts_l:
            return empty, empty, empty, PacketColumns.make([], [], 6)
        ts = np.concatenate(ts_l)
        gs = np.concatenate(gs_l)
        keep = (ts >= t0) & (ts < t1)
        ts, gs = ts[keep], gs[keep]
        dst = valid[rng.integers(0, len(valid), len(ts))]
        cols = population(w, a.kind, int(a.proto or 6), gs, w.addr[dst], ts, rng)
        return ts, dst, gs, cols

    def _event(self, a: Actor, t0: int, t1: int) -> tuple[I64, I64, I64, PacketColumns] | None:
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
        rng = np.random.default_rng([self.w.seed, 11, a.id, t0 // HOUR])
        cols = event_packets(ev, self.w.addr[dst], port, ts, rng)
        gs = np.full(len(ts), -1, np.int64)
        if ev.kind == "smurf":
            gs = -2 - port.astype(np.int64)  # amplifier index, kept apart from the source table
        return ts, dst, gs, cols

    def run_chunk(self, t0: int, t1: int) -> None:
        w = self.w
        parts = []
        for a in w.actors:
            r = self._rate_actor(a, t0, t1) if a.event is None else self._event(a, t0, t1)
            if r is not None and len(r[0]):
                parts.append((a.id, *r))
        if not parts:
            return
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
            return
        order = idx[np.argsort((sensor[idx] << 47) | (ts[idx] - t0))]
        # gather first, then encode sequentially: far kinder to caches than encoding in order
        self._write(t0, ts[order], sensor[order], cols.take(order))

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
        rate = keep & (gs >= 0)
        acc.per_source += np.bincount(gs[rate], minlength=len(acc.per_source))
        n_sen = len(self.w.sensors)
        day = int(t0 // DAY)  # a chunk never spans two UTC days
        per = np.bincount((actor * n_sen + sensor)[keep], minlength=len(acc.packets) * n_sen)
        for k in np.flatnonzero(per).tolist():
            a, s = divmod(k, n_sen)
            acc.counts[(a, s, day)] = acc.counts.get((a, s, day), 0) + int(per[k])
        ev_mask = keep & (gs < 0)
        if ev_mask.any():
            acc.dsts.append(np.unique(actor[ev_mask] * (1 << 32) + dst[ev_mask]))
            for a in np.unique(actor[ev_mask]).tolist():
                m = ev_mask & (actor == a)
                acc.event_ts.setdefault(a, []).append(ts[m])
                if (gs[m] <= -2).any():
                    ev = self.w.actors[a].event
                    assert ev is not None
                    amp = acc.amp_packets.setdefault(a, np.zeros(len(ev.src), np.int64))
                    amp += np.bincount(-2 - gs[m], minlength=len(ev.src))

    def _write(self, t0: int, ts: I64, sensor: I64, cols: PacketColumns) -> None:
        hourly = self.p.rotate == "hourly"
        stamp = datetime.fromtimestamp(t0 // 1_000_000_000, tz=UTC)
        key = stamp.strftime("%Y%m%d%H" if hourly else "%Y%m%d")
        bounds = np.searchsorted(sensor, np.arange(len(self.w.sensors) + 1))
        ext = "pcap" if self.p.fmt == "pcap" else "pcapng"
        for i, st in enumerate(self.w.sensors):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            if lo == hi:
                continue
            cur = self.writers.get(i)
            if cur is None or cur[0] != key:
                if cur is not None:
                    cur[1].close()
                sid = st.sensor.id
                d = self.out / "captures" / sid
                d.mkdir(parents=True, exist_ok=True)
                wr = CaptureWriter(d / f"{sid}_{key}.{ext}", self.p.linktype, fmt=self.p.fmt,
                                   nanosecond=self.p.nanosecond, if_name=sid)
                self.writers[i] = (key, wr)
                self.files += 1
                cur = self.writers[i]
            cur[1].write(ts[lo:hi], cols.slice(lo, hi))
            self.per_sensor[i] += hi - lo

    def close(self) -> None:
        for _, wr in self.writers.values():
            wr.close()
        self.writers = {}


def simulate(
    scenario: Scenario, start: datetime, end: datetime, out: str | Path,
    params: Params = Params(), *, force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Summary:
    """Simulate ``scenario`` over ``[start, end)`` and write captures, registry and truth.

    Writes ``out/captures/<sensor>/<sensor>_<YYYYMMDD[HH]>.pcap[ng]``, ``out/sensors.toml``
    (a :class:`teiten.core.sensors.Registry` whose ``match`` globs claim each sensor's files),
    and the truth files ``truth.parquet``, ``truth_sources.parquet``, ``truth_counts.parquet``
    and ``truth.json`` (see ``docs/scenarios.md``).

    Parameters
    ----------
    scenario : Scenario
        From :func:`teiten.simulate.load_scenario`.
    start, end : datetime
        The period (UTC), e.g. from :func:`teiten.simulate.parse_period`.
    out : path
        Output directory.
    params : Params
        Seed, scale, format, rotation.
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
    t_start = time.perf_counter()
    out_dir = Path(out)
    cap = out_dir / "captures"
    if cap.exists() and any(cap.iterdir()):
        if not force:
            raise UsageError(f"{cap} is not empty (use --force to replace it)")
        shutil.rmtree(cap)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in TRUTH_FILES:
        (out_dir / name).unlink(missing_ok=True)
    world = plan_world(scenario, params.seed, params.scale, start, end)
    eng = _Engine(world, params, out_dir, progress)
    chunks = eng.chunks()
    try:
        for k, (t0, t1) in enumerate(chunks):
            eng.run_chunk(t0, t1)
            if progress:
                progress(k + 1, len(chunks))
    finally:
        eng.close()
    registry = Registry([st.sensor for st in world.sensors], source="teiten simulate")
    (out_dir / "sensors.toml").write_text(registry.to_toml(), encoding="utf-8")
    build_truth(world, eng.acc, params, out_dir)
    elapsed = time.perf_counter() - t_start
    return Summary(out_dir, int(eng.acc.packets.sum()), eng.files, len(world.sensors),
                   len(world.actors), elapsed,
                   {st.sensor.id: int(eng.per_sensor[i]) for i, st in enumerate(world.sensors)})


__all__ = ["Params", "Summary", "simulate"]

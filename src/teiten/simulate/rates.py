"""Rate populations of one chunk as packet columns, already in (sensor, time) order.

:class:`RateStream` holds the static tables of a world (population groups, source alias tables,
templates) and :meth:`RateStream.chunk` turns a time slice into packet columns with one pass of
:func:`teiten.simulate.kernels.fill_rate` (see that module for the model). A population's
expected packets per (sensor, hour) are ``rate * scale / 24 * addresses of the sensor it can
reach * country share * diurnal profile * ramp * active``, exactly as planned in
``docs/scenarios.md``; the stream never sorts or gathers per packet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from teiten.capture.writer import PacketColumns, Ragged
from teiten.simulate import kernels as K  # noqa: N812 - K.fill_rate, K.T_ADDR read better
from teiten.simulate import payloads
from teiten.simulate.stacks import STACKS
from teiten.simulate.world import DAY, HOUR, UTC_OFFSET, World, diurnal_profile

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

#: Destination classes: every address, or only those Conficker's flawed generator can reach.
_CLASS_ALL = 0
_CLASS_CONFICKER = 1


def conficker_ok(a: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Conficker's random-scan flaw: 2nd and 4th octets are always below 128.

    Examples
    --------
    >>> conficker_ok(np.array([0x647F0001, 0x647F0081], dtype=np.uint32)).tolist()
    [True, False]
    """
    return np.asarray((((a >> 16) & 0xFF) < 128) & ((a & 0xFF) < 128))


def _table(items: list[bytes]) -> tuple[U8, I64]:
    off = np.zeros(len(items) + 1, np.int64)
    np.cumsum([len(b) for b in items], out=off[1:])
    return np.frombuffer(b"".join(items) or b"\0", np.uint8).copy(), off


#: The fixed-size columns of :class:`PacketColumns`.
_FIELDS: Final = ("src", "dst", "proto", "sport", "dport", "flags", "seq", "ack", "win", "ttl",
                  "ip_id", "ip_frag", "icmp_type", "icmp_code", "icmp_id", "icmp_seq")


class Tally(Protocol):
    """Truth accumulators the kernel adds to (one slot per actor / per source row)."""

    packets: I64
    first: I64
    last: I64
    per_source: I64


@dataclass
class RateChunk:
    """The rate packets of one chunk (sorted by sensor, then time)."""

    ts: I64  # rate packets, then the tail's
    cols: PacketColumns  # rate packets, then the tail's
    actor: I32  # actor id of each packet (tail: meaningless)
    bounds: I64  # rate packets of sensor i are [bounds[i], bounds[i + 1])
    per_actor_sensor: I64  # (actors, sensors) packets written
    n_rate: int  # rate packets (the tail follows)


class RateStream:
    """Static tables of a world's rate populations; :meth:`chunk` generates a time slice."""

    def __init__(self, world: World) -> None:
        self.w = world
        S = world.sources
        n_act = len(world.actors)
        self.n_act = n_act
        g_actor, g_kind, g_proto, g_class, g_off, g_len, g_share, g_off_h = ([] for _ in range(8))
        rows_l: list[I64] = []
        wts_l: list[F64] = []
        self.actor_ids: list[int] = []
        pos = 0
        for a in world.actors:
            if a.event is None and len(a.sources):
                self.actor_ids.append(a.id)
                rows = a.sources
                total = float(S.weight[rows].sum()) or 1.0
                for c in sorted(set(S.country[rows].tolist())):
                    r = rows[S.country[rows] == c]
                    g_actor.append(a.id)
                    g_kind.append(K.KIND_CODES[a.kind])
                    g_proto.append(int(a.proto or 6))
                    g_class.append(_CLASS_CONFICKER if a.kind == "conficker" else _CLASS_ALL)
                    g_off.append(pos)
                    g_len.append(len(r))
                    g_share.append(float(S.weight[r].sum()) / total)
                    g_off_h.append(float(UTC_OFFSET.get(c, 0.0)))
                    rows_l.append(r)
                    wts_l.append(S.weight[r].astype(np.float64))
                    pos += len(r)
        self.g_actor = np.array(g_actor, np.int32)
        self.g_kind = np.array(g_kind, np.int8)
        self.g_proto = np.array(g_proto, np.uint8)
        self.g_class = np.array(g_class, np.int8)
        self.g_off = np.array(g_off, np.int64)
        self.g_len = np.array(g_len, np.int64)
        self.g_share = np.array(g_share, np.float64)
        self.g_off_h = np.array(g_off_h, np.float64)
        src_rows = np.concatenate(rows_l) if rows_l else np.zeros(0, np.int64)
        wts = np.concatenate(wts_l) if wts_l else np.zeros(0, np.float64)
        prob = np.empty(len(wts), np.float64)
        alias = np.empty(len(wts), np.int32)
        K.alias_segments(wts, np.r_[self.g_off, pos].astype(np.int64), prob, alias)
        # the packed source table, one cache line per source, in alias-table order
        tab = np.zeros((len(src_rows), K.T_WIDTH), np.uint32)
        r = src_rows
        for col, values in ((K.T_ADDR, S.addr[r]), (K.T_TTL, S.ttl[r]), (K.T_WIN, S.win[r]),
                            (K.T_SPORT, S.sport[r]), (K.T_PORT, S.port[r]),
                            (K.T_STACK, S.stack[r]), (K.T_IPID, S.ipid[r]),
                            (K.T_EPH_LO, S.eph_lo[r]), (K.T_EPH_SPAN, S.eph_span[r]),
                            (K.T_COUNTER, S.counter[r]), (K.T_DF, S.df[r]),
                            (K.T_PROB, np.minimum(prob * 2.0**32, 2.0**32 - 1)),
                            (K.T_ALIAS, alias), (K.T_ROW, r)):
            tab[:, col] = values
        tab[prob >= 1.0, K.T_PROB] = 0xFFFFFFFF  # never take the alias
        self.tab = tab
        self.src_rows = src_rows
        # per-group rate terms that do not depend on time
        spec = {a.id: a.spec for a in world.actors}
        self.g_lam0 = np.array([float(spec[a].get("rate", 0)) * world.scale / 24.0
                                for a in g_actor], np.float64) * self.g_share
        self.g_diurnal = np.array([bool(spec[a].get("diurnal", False)) for a in g_actor], bool)
        self.g_ramp = np.array([float(spec[a].get("ramp", 1.0)) for a in g_actor], np.float64)
        self.g_a0 = np.array([world.when(spec[a].get("start"), 0.0) for a in g_actor], np.int64)
        self.g_a1 = np.array([world.when(spec[a].get("end"), 1.0) for a in g_actor], np.int64)
        # templates: TCP options per OS stack, payloads per PAY_* code
        names = world.stack_names
        self.opt_data, self.opt_off = _table([STACKS[nm].options for nm in names])
        self.opt_ts_at = np.array([STACKS[nm].ts_at for nm in names], np.int64)
        pays = [payloads.SLAMMER, payloads.messenger(), payloads.dns_any(),
                payloads.dns_any("example.com").replace(b"\x00\xff", b"\x00\x01"),
                payloads.NACHI, payloads.WINDOWS_PING]
        self.pay_data, self.pay_off = _table(pays)
        self.pay_ts_at = np.full(len(pays), -1, np.int64)
        # destination tables change only where an address's validity starts or ends
        self.edges = np.unique(np.r_[world.addr_from, world.addr_until])
        self._dest_cache: dict[int, tuple[npt.NDArray[np.uint32], I64, I64, I64, I64]] = {}
        # sensor down windows
        wo, lo, hi = [0], [], []
        for st in world.sensors:
            for a0, a1 in st.outages + st.maintenance:
                lo.append(a0)
                hi.append(a1)
            wo.append(len(lo))
        self.w_off = np.array(wo, np.int64)
        self.w_lo = np.array(lo, np.int64)
        self.w_hi = np.array(hi, np.int64)

    # ------------------------------------------------------------------------------ tables
    def _destinations(self, t0: int, t1: int) -> tuple[npt.NDArray[np.uint32], I64, I64, I64,
                                                       I64, bool]:
        """The sensors' addresses per (class, sensor) valid at ``t0``.

        Returns addresses, their validity windows, offsets per (class, sensor), counts
        (class, sensor), and whether a window edge falls inside the chunk (then every packet
        is checked).
        """
        w = self.w
        k0 = int(np.searchsorted(self.edges, t0, side="right"))
        edge = bool(np.searchsorted(self.edges, t1, side="left") > k0)  # an edge in (t0, t1)
        hit = self._dest_cache.get(k0)
        if hit is not None:
            return (*hit, edge)
        n_s = len(w.sensors)
        valid = (w.addr_from <= t0) & (w.addr_until > t0)
        parts, counts = [], np.zeros((2, n_s), np.int64)
        for cls in (_CLASS_ALL, _CLASS_CONFICKER):
            m = valid if cls == _CLASS_ALL else valid & conficker_ok(w.addr)
            idx = np.flatnonzero(m)
            idx = idx[np.argsort(w.addr_sensor[idx], kind="stable")]
            counts[cls] = np.bincount(w.addr_sensor[idx], minlength=n_s)
            parts.append(idx)
        off = np.zeros(2 * n_s + 1, np.int64)
        np.cumsum(counts.ravel(), out=off[1:])
        idx = np.concatenate(parts).astype(np.int64)
        tables = (w.addr[idx], w.addr_from[idx], w.addr_until[idx], off, counts)
        self._dest_cache = {k0: tables}  # chunks come in time order: keep the latest only
        return (*tables, edge)

    def _bins(self, t0: int, t1: int) -> tuple[I64, I64]:
        """Hour-aligned bins covering ``[t0, t1)``: starts and lengths."""
        edges = np.arange((t0 // HOUR + 1) * HOUR, t1, HOUR, dtype=np.int64)
        starts = np.r_[t0, edges].astype(np.int64)
        ends = np.r_[edges, t1].astype(np.int64)
        return starts, ends - starts

    def _lam(self, starts: I64, lens: I64) -> F64:
        """Expected packets per (bin, group) for one address of the group's class."""
        w = self.w
        hour0 = starts - starts % HOUR
        mid = hour0 + HOUR // 2
        frac = np.clip(w.period_fraction(mid), 0, 1)
        hod = (hour0 % DAY) / HOUR
        prof = np.where(self.g_diurnal[None, :],
                        diurnal_profile(hod[:, None] + self.g_off_h[None, :]), 1.0)
        trend = 1.0 + (self.g_ramp[None, :] - 1.0) * frac[:, None]
        active = (mid[:, None] >= self.g_a0[None, :]) & (mid[:, None] < self.g_a1[None, :])
        lam: F64 = (self.g_lam0[None, :] * prof * trend * active
                    * (lens / HOUR)[:, None])
        return lam

    # ------------------------------------------------------------------------------ chunk
    def chunk(self, t0: int, t1: int, rng: np.random.Generator, acc: Tally,
              tail: tuple[I64, PacketColumns] | None = None) -> RateChunk | None:
        """The rate packets of ``[t0, t1)`` (None when there are no rate populations).

        ``acc`` receives packets, first and last time per actor and packets per source.
        ``tail`` (times, columns) — the chunk's event packets — is appended after the rate
        packets in the same arrays, so they can be written together without another copy.
        """
        w = self.w
        n_s = len(w.sensors)
        n_g = len(self.g_actor)
        if not n_g:
            return None
        starts, lens = self._bins(t0, t1)
        n_b = len(starts)
        lam = self._lam(starts, lens)  # (bins, groups)
        v_addr, v_from, v_until, v_off, counts, edge = self._destinations(t0, t1)
        reach = counts[self.g_class.astype(np.int64)].T  # (sensors, groups)
        weights = reach[:, None, :] * lam[None, :, :]  # (sensors, bins, groups)
        ends = starts + lens
        partial = np.zeros((n_s, n_b), bool)
        for s in range(n_s):
            for q in range(int(self.w_off[s]), int(self.w_off[s + 1])):
                a0, a1 = int(self.w_lo[q]), int(self.w_hi[q])
                full = (a0 <= starts) & (a1 >= ends)
                weights[s, full, :] = 0.0
                partial[s] |= (a0 < ends) & (a1 > starts) & ~full
        weights = weights.reshape(n_s * n_b, n_g)
        seg_n = rng.poisson(weights.sum(axis=1)).astype(np.int64)
        total = int(seg_n.sum())
        g_prob = np.empty((n_s * n_b, n_g), np.float64)
        g_alias = np.empty((n_s * n_b, n_g), np.int32)
        K.alias_rows(weights, g_prob, g_alias)
        expo = rng.standard_exponential(total + len(seg_n))
        raw = rng.bit_generator.random_raw(total)
        n_tail = len(tail[0]) if tail is not None else 0
        o: dict[str, Any] = {name: np.empty(total + n_tail, dt) for name, dt in (
            ("ts", np.int64), ("src", np.uint32), ("dst", np.uint32), ("proto", np.uint8),
            ("sport", np.uint16), ("dport", np.uint16), ("flags", np.uint8),
            ("seq", np.uint32), ("win", np.uint16), ("ttl", np.uint8), ("ip_id", np.uint16),
            ("ip_frag", np.uint16), ("icmp_type", np.uint8), ("icmp_id", np.uint16),
            ("icmp_seq", np.uint16), ("opt", np.int8), ("pay", np.int8),
            ("actor", np.int32), ("ack", np.uint32), ("icmp_code", np.uint8))}
        seg_out = np.zeros(len(seg_n) + 1, np.int64)
        per_as = np.zeros((self.n_act, n_s), np.int64)
        n = K.fill_rate(
            np.repeat(np.arange(n_s, dtype=np.int64), n_b), np.tile(starts, n_s),
            np.tile(lens, n_s), seg_n, partial.ravel(), g_prob, g_alias, expo, raw,
            self.g_actor, self.g_kind, self.g_proto, self.g_class, self.g_off, self.g_len,
            self.tab, v_addr, v_from, v_until, v_off, n_s, edge,
            self.w_off, self.w_lo, self.w_hi, w.start,
            o["ts"], o["src"], o["dst"], o["proto"], o["sport"], o["dport"], o["flags"],
            o["seq"], o["win"], o["ttl"], o["ip_id"], o["ip_frag"], o["icmp_type"],
            o["icmp_id"], o["icmp_seq"], o["opt"], o["pay"], o["actor"], seg_out,
            acc.packets, acc.first, acc.last, per_as,
        )
        counted = self.tab[:, K.T_COUNT]
        acc.per_source[self.src_rows] += counted
        counted[:] = 0
        m = n + n_tail
        o["ack"][:n] = 0
        o["icmp_code"][:n] = 0
        tail_opts = tail_pay = Ragged.empty(0)
        if tail is not None:
            o["ts"][n:m] = tail[0]
            for name in _FIELDS:
                o[name][n:m] = getattr(tail[1], name)
            tail_opts, tail_pay = tail[1].tcp_options, tail[1].payload
        o = {k: v[:m] for k, v in o.items()}
        ts = o["ts"]
        opts = self._ragged(o["opt"][:n], self.opt_data, self.opt_off, self.opt_ts_at, ts,
                            tail_opts)
        pay = self._ragged(o["pay"][:n], self.pay_data, self.pay_off, self.pay_ts_at, ts,
                           tail_pay)
        cols = PacketColumns(**{name: o[name] for name in _FIELDS}, tcp_options=opts,
                             payload=pay)
        bounds = seg_out[np.arange(n_s + 1) * n_b]
        return RateChunk(ts, cols, o["actor"], bounds, per_as, n)

    @staticmethod
    def _ragged(codes: npt.NDArray[np.int8], data: U8, off: I64, ts_at: I64, ts: I64,
                tail: Ragged) -> Ragged:
        out, offsets = K.from_templates(codes, data, off, ts_at, ts, tail.data, tail.offsets)
        return Ragged(out, offsets)


__all__ = ["RateChunk", "RateStream", "Tally", "conficker_ok"]

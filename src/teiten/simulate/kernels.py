"""Compiled kernels of the simulation engine (Numba): alias tables and rate-packet fields.

The rate populations of a chunk are generated as one merged Poisson stream per (sensor, hour
bin): the bin's packet count is Poisson with the sum of every population's rate, the times are
sorted uniforms (normalised sums of exponential spacings, so no sort is needed), and each packet
independently picks its population group with probability proportional to the group's rate
(Poisson splitting: the same distribution as one independent Poisson process per group). Each
packet then picks a source inside its group by weight and a destination among the sensor's
addresses, and its header fields are written in place. Random draws come from one 64-bit raw
word per packet (NumPy's PCG64), stretched with SplitMix64; everything is deterministic for a
seed.

Packet kind codes (:data:`KIND_CODES`) and payload template codes (:data:`PAY_*`) are shared
with :mod:`.rates`.
"""

from __future__ import annotations

from typing import Any, Final

import numba
import numpy as np
import numpy.typing as npt

#: Rate-population kinds as small integers for the kernel.
KIND_CODES: Final[dict[str, int]] = {"background": 0, "conficker": 1, "mirai": 2, "slammer": 3,
                                     "nachi": 4, "messenger": 5, "dns-any": 6}
K_MIRAI: Final = 2
K_SLAMMER: Final = 3
K_NACHI: Final = 4
K_MESSENGER: Final = 5
K_DNS_ANY: Final = 6

#: Payload templates of rate packets (index into the table :mod:`.rates` builds).
PAY_NONE: Final = -1
PAY_SLAMMER: Final = 0
PAY_MESSENGER: Final = 1
PAY_DNS_ANY: Final = 2
PAY_DNS_A: Final = 3
PAY_NACHI: Final = 4
PAY_WINDOWS_PING: Final = 5

_IP_DF: Final = 0x4000
_TH_SYN: Final = 0x02
_PER_NS: Final = 3e-9  # Windows IP ID counter: about three packets a second

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


@numba.njit(cache=True, nogil=True, inline="always")
def _mix(x: Any) -> Any:  # pragma: no cover - compiled
    """SplitMix64 finaliser of ``x`` (uint64)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True, inline="always")
def _below(x: Any, n: Any) -> Any:  # pragma: no cover - compiled
    """Map the high 32 bits of ``x`` to 0..n-1 (multiply-shift, no division)."""
    return np.int64(((x >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@numba.njit(cache=True, nogil=True, inline="always")
def _unit(x: Any) -> Any:  # pragma: no cover - compiled
    """The low 32 bits of ``x`` as a float in [0, 1)."""
    return np.float64(x & np.uint64(0xFFFFFFFF)) * (1.0 / 4294967296.0)


@numba.njit(cache=True, nogil=True)
def alias_build(w: F64, prob: F64, alias: I32) -> None:  # pragma: no cover - compiled
    """Vose alias table of the weights ``w`` into ``prob``/``alias`` (same length).

    A draw ``k = uniform index``; ``k if u < prob[k] else alias[k]`` picks index ``i`` with
    probability ``w[i] / sum(w)``. All-zero weights give a uniform table.
    """
    n = len(w)
    tot = 0.0
    for i in range(n):
        tot += w[i]
    small = np.empty(n, np.int64)
    large = np.empty(n, np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        alias[i] = i
        prob[i] = w[i] * n / tot if tot > 0 else 1.0
        if prob[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        s = small[ns - 1]
        ns -= 1
        g = large[nl - 1]
        alias[s] = g
        prob[g] = prob[g] - (1.0 - prob[s])
        if prob[g] < 1.0:
            nl -= 1
            small[ns] = g
            ns += 1
    for k in range(nl):
        prob[large[k]] = 1.0
    for k in range(ns):
        prob[small[k]] = 1.0


@numba.njit(cache=True, nogil=True)
def alias_rows(w: F64, prob: F64, alias: I32) -> None:  # pragma: no cover - compiled
    """One alias table per row of the 2-D weights ``w``."""
    for r in range(w.shape[0]):
        alias_build(w[r], prob[r], alias[r])


@numba.njit(cache=True, nogil=True)
def alias_segments(w: F64, off: I64, prob: F64, alias: I32) -> None:  # pragma: no cover
    """One alias table per segment ``w[off[k]:off[k+1]]`` (indexes relative to the segment)."""
    for k in range(len(off) - 1):
        alias_build(w[off[k]: off[k + 1]], prob[off[k]: off[k + 1]], alias[off[k]: off[k + 1]])


#: Columns of the packed source table (uint32, one 64-byte cache line per source), indexed by
#: the source's position in its group's alias table.
T_ADDR, T_TTL, T_WIN, T_SPORT, T_PORT, T_STACK, T_IPID, T_EPH_LO, T_EPH_SPAN, T_COUNTER, \
    T_DF, T_PROB, T_ALIAS, T_ROW, T_COUNT, T_ICMP = range(16)
T_WIDTH: Final = 16


@numba.njit(cache=True, nogil=True)
def fill_rate(
    seg_sensor: I64, seg_start: I64, seg_len: I64, seg_n: I64, seg_partial: Any,
    g_prob: F64, g_alias: I32, expo: F64, raw: U64,
    grp_actor: I32, grp_kind: Any, grp_proto: Any, grp_class: Any, grp_off: I64, grp_len: I64,
    tab: Any, v_addr: Any, v_from: I64, v_until: I64, v_off: I64, n_sensors: int,
    check_valid: bool, w_off: I64, w_lo: I64, w_hi: I64, world_start: int,
    o_ts: I64, o_src: Any, o_dst: Any, o_proto: Any, o_sport: Any, o_dport: Any, o_flags: Any,
    o_seq: Any, o_win: Any, o_ttl: Any, o_ipid: Any, o_frag: Any, o_itype: Any, o_iid: Any,
    o_iseq: Any, o_opt: Any, o_pay: Any, o_actor: I32, seg_out: I64,
    act_packets: I64, act_first: I64, act_last: I64, per_act_sensor: I64,
) -> int:  # pragma: no cover - compiled
    """Generate every rate packet of a chunk; returns how many were written to ``o_*``.

    Segments are (sensor, hour bin) in (sensor, time) order, so the output is sorted by
    (sensor, time). ``seg_out[k]`` receives the output index where segment ``k`` starts.
    Packets outside their destination's validity window (checked when ``check_valid``) or
    inside a sensor outage (checked for ``seg_partial`` segments only) are not written, nor
    counted. Packets per source accumulate in ``tab[:, T_COUNT]``.
    """
    c = 0
    j = 0  # packet draw index
    e = 0  # exponential index
    n_grp = g_prob.shape[1]
    for k in range(len(seg_n)):
        seg_out[k] = c
        n = seg_n[k]
        s = seg_sensor[k]
        t_lo = seg_start[k]
        span = np.float64(seg_len[k])
        tot = 0.0
        for q in range(n + 1):
            tot += expo[e + q]
        cum = 0.0
        for _ in range(n):
            cum += expo[e]
            e += 1
            ts = t_lo + np.int64(cum / tot * span)
            x = raw[j]
            j += 1
            # population group (alias table of this segment)
            col = _below(x, n_grp)
            g = col if _unit(x) < g_prob[k, col] else g_alias[k, col]
            # source inside the group, by weight (alias columns live in the source table)
            x2 = _mix(x)
            sc = grp_off[g] + _below(x2, grp_len[g])
            if (x2 & np.uint64(0xFFFFFFFF)) >= tab[sc, T_PROB]:
                sc = grp_off[g] + np.int64(tab[sc, T_ALIAS])
            # destination among the sensor's addresses of the group's class
            x3 = _mix(x2)
            vo = v_off[grp_class[g] * n_sensors + s]
            vn = v_off[grp_class[g] * n_sensors + s + 1] - vo
            if vn <= 0:
                continue
            di = vo + _below(x3, vn)
            if check_valid and (ts < v_from[di] or ts >= v_until[di]):
                continue
            if seg_partial[k]:
                down = False
                for wi in range(w_off[s], w_off[s + 1]):
                    if w_lo[wi] <= ts < w_hi[wi]:
                        down = True
                if down:
                    continue
            x4 = _mix(x3)
            x5 = _mix(x4)
            kind = grp_kind[g]
            proto: Any = np.int64(grp_proto[g])
            dst = v_addr[di]
            eph = np.int64(tab[sc, T_EPH_LO]) + np.int64(
                ((x4 & np.uint64(0xFFFFFFFF)) * np.uint64(tab[sc, T_EPH_SPAN])) >> np.uint64(32))
            fixed = np.int64(tab[sc, T_SPORT])
            sport: Any = fixed if fixed != 0 else eph
            rid = np.int64((x4 >> np.uint64(32)) & np.uint64(0xFFFF))
            if tab[sc, T_COUNTER]:
                # + 3 a second (float multiply: a 64-bit division costs as much as the rest)
                ip_id = (np.int64(tab[sc, T_IPID])
                         + np.int64(np.float64(ts - world_start) * _PER_NS)) & 0xFFFF
            else:
                ip_id = rid
            frag = _IP_DF if tab[sc, T_DF] else 0
            dport: Any = np.int64(tab[sc, T_PORT])
            flags = 0
            seq = np.int64(0)
            opt: Any = -1
            pay = -1
            itype = 0
            iid: Any = 0
            iseq: Any = 0
            if kind == K_MIRAI:
                # seq = destination; every tenth probe of a bot goes to 2323; no options
                proto = 6
                sport = fixed
                dport = 2323 if _below(x5, 10) == 0 else 23
                flags = _TH_SYN
                seq = np.int64(dst)
                ip_id = rid
                frag = 0
            elif proto == 6:
                flags = _TH_SYN
                seq = np.int64(x5 & np.uint64(0xFFFFFFFF))
                opt = np.int64(tab[sc, T_STACK])
            elif proto == 17:
                if kind == K_SLAMMER:
                    pay = PAY_SLAMMER
                    dport = 1434
                elif kind == K_MESSENGER:
                    pay = PAY_MESSENGER
                    frag = 0
                elif kind == K_DNS_ANY:
                    pay = PAY_DNS_ANY
                    dport = 53
                elif dport == 53:
                    pay = PAY_DNS_A
            else:  # ICMP echo request: Nachi (64 x 0xAA) or Windows ping data
                itype = 8
                iid = np.int64(tab[sc, T_IPID]) | 0x100
                tab[sc, T_ICMP] += 1
                iseq = np.int64(tab[sc, T_ICMP]) & 0xFFFF
                frag = 0
                sport = 0
                dport = 0
                pay = PAY_NACHI if kind == K_NACHI else PAY_WINDOWS_PING
            o_ts[c] = ts
            o_src[c] = tab[sc, T_ADDR]
            o_dst[c] = dst
            o_proto[c] = proto
            o_sport[c] = sport
            o_dport[c] = dport
            o_flags[c] = flags
            o_seq[c] = seq
            o_win[c] = tab[sc, T_WIN]
            o_ttl[c] = tab[sc, T_TTL]
            o_ipid[c] = ip_id
            o_frag[c] = frag
            o_itype[c] = itype
            o_iid[c] = iid
            o_iseq[c] = iseq
            o_opt[c] = opt
            o_pay[c] = pay
            a = grp_actor[g]
            o_actor[c] = a
            act_packets[a] += 1
            act_first[a] = min(act_first[a], ts)
            act_last[a] = max(act_last[a], ts)
            tab[sc, T_COUNT] += 1
            per_act_sensor[a, s] += 1
            c += 1
        e += 1  # the (n + 1)-th spacing closes the segment
    seg_out[len(seg_n)] = c
    return c


@numba.njit(cache=True, nogil=True)
def from_templates(codes: Any, t_data: Any, t_off: I64, ts_at: I64, ts: I64, tail_data: Any,
                   tail_off: I64) -> tuple[Any, I64]:  # pragma: no cover - compiled
    """Ragged bytes: template ``codes[i]`` (-1 = nothing) per item, TCP timestamps patched.

    When ``ts_at[code] >= 0`` the 4 bytes there get TSval = capture time in ms (mod 2**32).
    The items of a second ragged array (``tail_data``/``tail_off``) follow. Returns
    ``(data, offsets)``.
    """
    n = len(codes)
    n_tail = len(tail_off) - 1
    offsets = np.empty(n + n_tail + 1, np.int64)
    offsets[0] = 0
    for i in range(n):
        t = codes[i]
        offsets[i + 1] = offsets[i] + (t_off[t + 1] - t_off[t] if t >= 0 else 0)
    for i in range(n_tail):
        offsets[n + i + 1] = offsets[n + i] + tail_off[i + 1] - tail_off[i]
    size = offsets[n + n_tail]
    out = np.empty((size + 3) // 4 * 4, np.uint8)[:size]
    if n_tail:
        out[offsets[n]:] = tail_data[tail_off[0]: tail_off[n_tail]]
    # word copies when every template is a multiple of 4 bytes (TCP options always are)
    words = len(t_data) % 4 == 0
    for k in range(len(t_off)):
        words = words and t_off[k] % 4 == 0
    out32 = out.view(np.uint32) if words and size % 4 == 0 else out[:0].view(np.uint32)
    t32 = t_data.view(np.uint32) if words else t_data[:0].view(np.uint32)
    for i in range(n):
        t = codes[i]
        if t < 0:
            continue
        o = offsets[i]
        a = t_off[t]
        if words and size % 4 == 0:
            for q in range((t_off[t + 1] - a) // 4):
                out32[o // 4 + q] = t32[a // 4 + q]
        else:
            for q in range(t_off[t + 1] - a):
                out[o + q] = t_data[a + q]
        p = ts_at[t]
        if p >= 0:
            v = (ts[i] // 1_000_000) & 0xFFFFFFFF
            out[o + p] = (v >> 24) & 0xFF
            out[o + p + 1] = (v >> 16) & 0xFF
            out[o + p + 2] = (v >> 8) & 0xFF
            out[o + p + 3] = v & 0xFF
    return out, offsets


__all__ = ["KIND_CODES", "alias_build", "alias_rows", "alias_segments", "fill_rate",
           "from_templates"]

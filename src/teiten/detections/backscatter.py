"""DDoS backscatter inference: victims of randomly-spoofed floods seen through their replies.

Method (``specs/detections.md`` §1): backscatter packets are corsaro's (TCP SYN+ACK or RST; ICMP
types 0, 3, 4, 5, 11, 12, 14, 16, 18 — the rules of the ``traffic_class`` enricher, applied
here on the raw fields so that unenriched tables work too). The victim is the outer source, or
for ICMP errors the quoted (inner) destination, whose protocol is then the attack protocol.
Packets are grouped per (victim, attack protocol) into vectors closed after ``idle_timeout_s``
without a packet; a vector is an attack iff it has at least ``min_packets`` packets, lasts at
least ``min_duration_s`` and has at least ``min_window_packets`` packets in some
``window_s``-second window (buckets of ``slide_s`` seconds aligned to the epoch, corsaro3).
Rates extrapolate to the whole IPv4 space by ``2^32 / monitored_addresses`` (§1.1; assumes
uniform random spoofing, one reply per attack packet, no loss). IPv4 only.

Attack types use the seed report's terms: SYN/ACK and RST answers ⇒ ``SYN flood``; echo
replies ⇒ ``PING flood``; ICMP errors quoting UDP ⇒ ``UDP flood``, quoting TCP ⇒ ``SYN
flood``, quoting ICMP ⇒ ``PING flood``; other ICMP replies ⇒ ``ICMP flood``.

Examples
--------
>>> import numpy as np
>>> from teiten.detections._common import packets_from_columns
>>> n = 40  # one SYN/ACK every 2 s from 192.0.2.7:80 to 40 monitored addresses
>>> t = packets_from_columns({"ts": np.arange(n) * 2 * 10**9, "ip_version": [4] * n,
...   "src": [0xC0000207] * n, "dst": np.arange(n) + 100, "proto": [6] * n,
...   "sport": [80] * n, "tcp_flags": [0x12] * n})
>>> r = detect(t, None, Params(monitored_addresses=256))
>>> r.column("victim_ip").to_pylist(), r.column("attack_type").to_pylist()
(['192.0.2.7'], ['SYN flood'])
>>> r.column("packets")[0].as_py(), r.column("max_window_packets")[0].as_py()
(40, 30)
>>> r.column("est_peak_pps")[0].as_py() == 30 / 60 * 2**32 / 256
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.core.periods import Period
from teiten.detections._common import (
    IPV4_SPACE,
    NS,
    PacketSource,
    check_schema,
    distinct_per_group,
    ip_text,
    max_window_count,
    period_where,
    query,
    schema,
    sessions,
    top_values_per_group,
)
from teiten.ingest.enrich import traffic_class as tc

NAME: Final = "backscatter"


@dataclass(frozen=True, slots=True)
class Params:
    """Thresholds of the DoS inference (defaults: corsaro v2 / corsaro3, spec §1.4).

    Attributes
    ----------
    min_packets : int
        An attack has at least this many backscatter packets (corsaro ``min_attack_packets``).
    min_duration_s : float
        Last packet minus first packet is at least this long (``min_attack_duration``).
    min_window_packets : int
        Some ``window_s`` window holds at least this many packets (``min_attack_packet_rate``).
    window_s : int
        Length of the rate window (``rate_window_size``).
    slide_s : int
        Step of the rate window; bucket width (``rate_window_slide``).
    idle_timeout_s : float
        A vector ends after this long without a packet (corsaro v2 300 s).
    monitored_addresses : int or None
        Addresses the sensors cover (n in 2^32/n). None: count distinct destinations seen in
        the period (a lower bound; the CLI passes the registry's count).
    max_ports : int
        Victim ports listed per attack (most packets first).
    """

    min_packets: int = 25
    min_duration_s: float = 60.0
    min_window_packets: int = 30
    window_s: int = 60
    slide_s: int = 10
    idle_timeout_s: float = 300.0
    monitored_addresses: int | None = None
    max_ports: int = 10


#: One row per inferred attack.
SCHEMA: Final[pa.Schema] = schema([
    ("victim", pa.uint32(), "victim IPv4 address (outer source, or quoted destination)"),
    ("victim_ip", pa.string(), "victim address as text"),
    ("protocol", pa.uint8(), "attack protocol (the quoted protocol for ICMP errors)"),
    ("attack_type", pa.string(), "SYN flood, PING flood, UDP flood or ICMP flood"),
    ("backscatter_class", pa.string(), "the most frequent traffic class of the replies"),
    ("victim_ports", pa.list_(pa.uint16()), "victim (service) ports, most packets first"),
    ("n_victim_ports", pa.int64(), "distinct victim ports"),
    ("start", pa.timestamp("ns", tz="UTC"), "first backscatter packet"),
    ("end", pa.timestamp("ns", tz="UTC"), "last backscatter packet"),
    ("duration_s", pa.float64(), "end - start in seconds"),
    ("packets", pa.int64(), "backscatter packets observed"),
    ("max_window_packets", pa.int64(), "most packets in one rate window (corsaro max ppm)"),
    ("peak_pps", pa.float64(), "observed peak rate: max_window_packets / window_s"),
    ("mean_pps", pa.float64(), "observed mean rate: packets / duration"),
    ("spoofed_addresses", pa.int64(), "distinct monitored (spoofed) addresses hit"),
    ("est_peak_pps", pa.float64(), "peak rate extrapolated to all IPv4: peak_pps * 2^32 / n"),
    ("est_mean_pps", pa.float64(), "mean rate extrapolated to all IPv4"),
    ("est_packets", pa.float64(), "attack packets extrapolated to all IPv4"),
    ("mismatches", pa.int64(), "ICMP errors whose quoted source is not the outer destination"),
    ("monitored_addresses", pa.int64(), "n used for the extrapolation"),
])  # fmt: skip

_BACKSCATTER_SQL: Final = (
    "((proto = 6 AND ((tcp_flags & 4) <> 0 OR (tcp_flags & 18) = 18))"
    " OR (proto = 1 AND icmp_type IN (0, 3, 4, 5, 11, 12, 14, 16, 18)))"
)
_INNER: Final = "inner_proto, inner_src, inner_dst, inner_sport, inner_dport"


def _attack_type(cls: str, proto: int) -> str:
    if cls in (tc.SYNACK, tc.RST):
        return "SYN flood"
    if cls == tc.ECHO_REPLY:
        return "PING flood"
    if cls in tc.QUOTING:
        return {6: "SYN flood", 17: "UDP flood", 1: "PING flood"}.get(proto, "ICMP flood")
    return "ICMP flood"


def monitored_count(packets: PacketSource, period: Period | None) -> int:
    """Distinct IPv4 destinations seen in the period (the fallback for ``n``)."""
    where, args = period_where(period)
    t = query(packets, f"SELECT count(DISTINCT dst) AS n FROM packets WHERE {where}", args)
    return max(int(t.column("n")[0].as_py() or 0), 1)


def detect(packets: PacketSource, period: Period | None, params: Params = Params()) -> pa.Table:
    """Infer DDoS attacks from backscatter.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB relation or ibis.Table
        The packet table (:data:`teiten.core.schema.PACKET_SCHEMA` columns).
    period : teiten.core.periods.Period or None
        Only packets inside the period (UTC bounds of its observation days); None: all.
    params : Params
        Thresholds.

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, one row per attack, sorted by start.
    """
    where, args = period_where(period)
    t = query(
        packets,
        f"""SELECT epoch_ns(ts) AS ts, src, dst, proto, sport, tcp_flags, icmp_type, {_INNER}
            FROM packets WHERE {where} AND ip_version = 4 AND {_BACKSCATTER_SQL}""",
        args,
    )
    n_mon = params.monitored_addresses or monitored_count(packets, period)
    if t.num_rows == 0:
        return SCHEMA.empty_table()

    cls = tc.class_codes(t)

    def col(name: str, fill: int) -> npt.NDArray[np.int64]:
        return tc.column(t, name, fill)

    ts, src, dst, proto = col("ts", 0), col("src", 0), col("dst", 0), col("proto", 0)
    itype, inner_dst = col("icmp_type", -1), col("inner_dst", -1)
    quoting = (proto == tc.IPPROTO_ICMP) & np.isin(itype, tc.ICMP_ERROR_TYPES) & (inner_dst >= 0)
    victim = np.where(quoting, inner_dst, src)
    aproto = np.where(quoting, col("inner_proto", 0), proto)
    vport = np.where(quoting, col("inner_dport", -1), np.where(proto == 6, col("sport", -1), -1))
    mismatch = quoting & (col("inner_src", -1) != dst)

    key = (victim.astype(np.uint64) << np.uint64(8)) | aproto.astype(np.uint64)
    order, sid = sessions(key, ts, int(params.idle_timeout_s * NS))
    ts_o = ts[order]
    n_s = int(sid[-1]) + 1
    first = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    last = np.r_[first[1:] - 1, len(sid) - 1]
    npk = last - first + 1
    start, end = ts_o[first], ts_o[last]
    duration = (end - start) / NS
    maxw = max_window_count(sid, ts_o, params.slide_s * NS, params.window_s // params.slide_s)
    ok = (npk >= params.min_packets) & (duration >= params.min_duration_s)
    ok &= maxw >= params.min_window_packets
    if not ok.any():
        return SCHEMA.empty_table()

    spoofed = distinct_per_group(sid, dst[order], n_s)
    mism = np.add.reduceat(mismatch[order].astype(np.int64), first)
    vport_o = np.maximum(vport[order], -1)
    has_none = np.add.reduceat((vport_o < 0).astype(np.int64), first) > 0
    nports = distinct_per_group(sid, vport_o, n_s) - has_none
    offs, pvals, _ = top_values_per_group(sid, vport[order], n_s, params.max_ports)
    _, top_cls, _ = top_values_per_group(sid, cls[order].astype(np.int64), n_s, 1)

    idx = np.flatnonzero(ok)
    peak = maxw / params.window_s
    mean = npk / np.maximum(duration, 1e-9)
    factor = IPV4_SPACE / n_mon
    cls_name = [tc.VOCABULARY[int(c)] for c in top_cls[idx]]
    aproto_s = aproto[order][first]
    ports = pa.ListArray.from_arrays(pa.array(offs, pa.int32()), pa.array(pvals, pa.uint16()))
    out = pa.table({
        "victim": pa.array(victim[order][first][idx], pa.uint32()),
        "victim_ip": ip_text(victim[order][first][idx]),
        "protocol": pa.array(aproto_s[idx], pa.uint8()),
        "attack_type": [
            _attack_type(c, int(p)) for c, p in zip(cls_name, aproto_s[idx], strict=True)
        ],
        "backscatter_class": cls_name,
        "victim_ports": ports.take(pa.array(idx)),
        "n_victim_ports": nports[idx],
        "start": pa.array(start[idx], pa.timestamp("ns", "UTC")),
        "end": pa.array(end[idx], pa.timestamp("ns", "UTC")),
        "duration_s": duration[idx],
        "packets": npk[idx],
        "max_window_packets": maxw[idx],
        "peak_pps": peak[idx],
        "mean_pps": mean[idx],
        "spoofed_addresses": spoofed[idx],
        "est_peak_pps": peak[idx] * factor,
        "est_mean_pps": mean[idx] * factor,
        "est_packets": npk[idx] * factor,
        "mismatches": mism[idx],
        "monitored_addresses": np.full(len(idx), n_mon, dtype=np.int64),
    })  # fmt: skip
    return check_schema(out, SCHEMA).sort_by([("start", "ascending"), ("victim", "ascending")])

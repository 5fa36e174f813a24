"""Scan campaigns: horizontal, vertical and box scans, and the Internet-wide ones.

Method (``specs/detections.md`` §2): probe packets (TCP SYN without ACK/RST, UDP not from port
53, ICMP echo requests; IPv4) are grouped per (source, protocol) into campaigns closed after
``idle_timeout_s`` without a probe (Durumeric et al.: 480 s; optionally scaled up for small
sensor sets, see :class:`Params`). Within a campaign:

- **horizontal** — some port reached at least ``min_destinations`` distinct monitored
  addresses (Zeek ``Address_Scan``: 25);
- **vertical** — some address received at least ``min_ports`` distinct ports (Zeek
  ``Port_Scan``: 15);
- **box** (strobe) — both many ports (>= ``min_ports``) and many addresses
  (>= ``min_destinations``) overall.

The campaign's Internet-wide rate is its observed probe rate × 2^32 / n and its coverage the
share of the n monitored addresses it reached (capped at 1). It is **Internet-wide** when the
extrapolated rate is at least ``internet_wide_min_pps`` (10) and it reached at least
``internet_wide_min_destinations`` (100) addresses. Address thresholds are capped at
``max_share`` of n, so sensor sets with fewer addresses than a threshold still see scans
(spec: "scaled to sensor size"). ICMP campaigns use the ICMP type as their port.

Examples
--------
>>> import numpy as np
>>> from teiten.detections._common import packets_from_columns
>>> n = 200  # one source probing 200 addresses on 23/TCP, one probe a second
>>> t = packets_from_columns({"ts": np.arange(n) * 10**9, "ip_version": [4] * n,
...     "src": [42] * n, "dst": np.arange(n) + 1000, "proto": [6] * n, "dport": [23] * n,
...     "tcp_flags": [2] * n})
>>> r = detect(t, None, Params(monitored_addresses=256))
>>> r.column("kind").to_pylist(), r.column("n_destinations").to_pylist()
(['horizontal'], [200])
>>> r.column("internet_wide").to_pylist()  # 1 pps * 2^32/256 = 16.7M pps
[True]
"""

from __future__ import annotations

import math
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
    label_codes,
    majority,
    period_where,
    query,
    schema,
    sessions,
    top_values_per_group,
)
from teiten.detections.backscatter import monitored_count

NAME: Final = "scans"


@dataclass(frozen=True, slots=True)
class Params:
    """Thresholds of scan detection (defaults from Zeek scan.zeek and Durumeric et al. 2014).

    Attributes
    ----------
    idle_timeout_s : float
        A campaign ends after this long without a probe from the source (480 s).
    min_destinations : int
        Distinct addresses on one port for a horizontal scan (Zeek: 25).
    min_ports : int
        Distinct ports on one address for a vertical scan, and overall for a box scan (15).
    internet_wide_min_pps : float
        Extrapolated Internet-wide probe rate for the Internet-wide class (10 pps).
    internet_wide_min_destinations : int
        Distinct monitored addresses reached for the Internet-wide class (100).
    max_share : float
        Address thresholds are capped at this share of the monitored addresses (0.5).
    monitored_addresses : int or None
        n for the extrapolation; None: distinct destinations seen in the period.
    max_ports : int
        Ports listed per campaign (most probes first).
    idle_reference_addresses : int
        Below this many monitored addresses the idle timeout grows as
        ``idle_reference_addresses / n`` (a scanner's probes reach a small sensor set rarely:
        at a fixed Internet-wide rate the gap between them grows as 1/n) …
    max_idle_factor : float
        … up to this factor. Default 1 (off): on the simulator's npa world a factor of 24
        recovered one slow ZMap scan but merged the trickle of hundreds of background hosts
        into false "scans" (docs/accuracy.md), so the Zeek/Durumeric timing stays the default.
    prefilter : bool
        Skip (source, protocol) pairs with fewer probes in the whole period than the smallest
        address or port threshold before sessionising (exact: such pairs cannot be scans).
    """

    idle_timeout_s: float = 480.0
    min_destinations: int = 25
    min_ports: int = 15
    internet_wide_min_pps: float = 10.0
    internet_wide_min_destinations: int = 100
    max_share: float = 0.5
    monitored_addresses: int | None = None
    max_ports: int = 10
    prefilter: bool = True
    idle_reference_addresses: int = 4096
    max_idle_factor: float = 1.0


#: One row per scan campaign.
SCHEMA: Final[pa.Schema] = schema([
    ("src", pa.uint32(), "scanning source"),
    ("src_ip", pa.string(), "source address as text"),
    ("proto", pa.uint8(), "IP protocol of the probes"),
    ("kind", pa.string(), "horizontal, vertical or box"),
    ("ports", pa.list_(pa.uint16()), "destination ports (ICMP: type), most probes first"),
    ("n_ports", pa.int64(), "distinct destination ports"),
    ("n_destinations", pa.int64(), "distinct monitored addresses probed"),
    ("max_destinations_per_port", pa.int64(), "most addresses reached on one port"),
    ("max_ports_per_destination", pa.int64(), "most ports probed on one address"),
    ("packets", pa.int64(), "probes observed"),
    ("start", pa.timestamp("ns", tz="UTC"), "first probe"),
    ("end", pa.timestamp("ns", tz="UTC"), "last probe"),
    ("duration_s", pa.float64(), "end - start in seconds"),
    ("pps", pa.float64(), "observed probe rate: packets / max(duration, 1 s)"),
    ("est_pps", pa.float64(), "Internet-wide probe rate: pps * 2^32 / n"),
    ("coverage", pa.float64(), "share of monitored addresses reached (capped at 1)"),
    ("size_class", pa.string(), ">=10%, >=1% or <1% of IPv4 (by coverage)"),
    ("internet_wide", pa.bool_(), "extrapolated rate and reach pass the Internet-wide thresholds"),
    ("tool", pa.string(), "majority tool fingerprint of the probes (null if none)"),
    ("tool_share", pa.float64(), "share of the probes carrying that fingerprint"),
    ("country", pa.string(), "source country (most frequent)"),
    ("monitored_addresses", pa.int64(), "n used for the extrapolation"),
])  # fmt: skip

_PROBE_SQL: Final = (
    "((proto = 6 AND (tcp_flags & 22) = 2) OR (proto = 17 AND coalesce(sport, 0) <> 53)"
    " OR (proto = 1 AND icmp_type = 8))"
)


def _scaled(threshold: int, share: float, n: int) -> int:
    return max(2, min(threshold, math.ceil(share * n)))


def _max_distinct_pairs(
    gid: npt.NDArray[np.int64],
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    n_groups: int,
) -> npt.NDArray[np.int64]:
    """Per group: max over values of ``a`` of the number of distinct ``b`` seen with it."""
    order = np.lexsort((b, a, gid))
    g, x, y = gid[order], a[order], b[order]
    new_a = np.ones(len(g), dtype=bool)
    new_a[1:] = (g[1:] != g[:-1]) | (x[1:] != x[:-1])
    new_b = new_a.copy()
    new_b[1:] |= y[1:] != y[:-1]
    pair = np.cumsum(new_a) - 1
    per_a = np.bincount(pair, weights=new_b).astype(np.int64)
    out = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(out, g[new_a], per_a)
    return out


def _runs(key: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Start-of-run flags of a sorted array."""
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    return new


def _campaign_counts(
    sid: npt.NDArray[np.int64], dst: npt.NDArray[np.int64], port: npt.NDArray[np.int64],
    n_s: int,
) -> tuple[npt.NDArray[np.int64], ...]:
    """Per campaign: distinct addresses, distinct ports, max addresses on one port, max ports
    on one address — with two single-key sorts of packed (campaign, port, address) keys."""
    _, didx = np.unique(dst, return_inverse=True)
    if n_s >= 1 << 23 or didx.max(initial=0) >= 1 << 24:  # too wide to pack: generic path
        return (distinct_per_group(sid, dst, n_s), distinct_per_group(sid, port, n_s),
                _max_distinct_pairs(sid, port, dst, n_s),
                _max_distinct_pairs(sid, dst, port, n_s))  # fmt: skip
    s64, d64, p64 = (x.astype(np.uint64) for x in (sid, didx, port & 0xFFFF))
    out = []
    for hi, lo, lo_bits in ((p64, d64, 24), (d64, p64, 16)):
        key = np.sort((s64 << np.uint64(40)) | (hi << np.uint64(lo_bits)) | lo)
        grp = (key >> np.uint64(40)).astype(np.int64)
        pair = key >> np.uint64(lo_bits)  # (campaign, hi)
        triple = _runs(key)
        new_pair = _runs(pair)
        n_hi = np.bincount(grp[new_pair], minlength=n_s)  # distinct hi per campaign
        lo_per_pair = np.add.reduceat(triple.astype(np.int64), np.flatnonzero(new_pair))
        best = np.zeros(n_s, dtype=np.int64)
        np.maximum.at(best, grp[new_pair], lo_per_pair)
        out.append((n_hi.astype(np.int64), best))
    (n_ports, dst_per_port), (n_dst, ports_per_dst) = out
    return n_dst, n_ports, dst_per_port, ports_per_dst


def detect(packets: PacketSource, period: Period | None, params: Params = Params()) -> pa.Table:
    """Find scan campaigns.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB relation or ibis.Table
        The packet table.
    period : teiten.core.periods.Period or None
        Only packets inside the period; None: all.
    params : Params
        Thresholds.

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, one row per campaign, most destinations first.
    """
    n_mon = params.monitored_addresses or monitored_count(packets, period)
    h = _scaled(params.min_destinations, params.max_share, n_mon)
    h_iw = _scaled(params.internet_wide_min_destinations, params.max_share, n_mon)
    where, args = period_where(period)
    cond = f"{where} AND ip_version = 4 AND {_PROBE_SQL}"
    base = f"FROM packets WHERE {cond}"
    cols = (
        "epoch_ns(ts) AS ts, src, dst, proto, coalesce(dport, icmp_type) AS port, "
        "tool::VARCHAR AS tool, country::VARCHAR AS country"
    )
    if params.prefilter:  # a scan needs at least min(h, min_ports) probes
        need = int(min(h, params.min_ports))
        sql = f"""WITH cand AS (
                SELECT src AS c_src, proto AS c_proto {base} GROUP BY src, proto
                HAVING count(*) >= {need})
            SELECT {cols} FROM packets SEMI JOIN cand ON src = c_src AND proto = c_proto
            WHERE {cond}"""
        t = query(packets, sql, args + args)
    else:
        t = query(packets, f"SELECT {cols} {base}", args)
    t = t.filter(t.column("port").is_valid())
    if t.num_rows == 0:
        return SCHEMA.empty_table()

    def col(name: str) -> npt.NDArray[np.int64]:
        return np.asarray(t.column(name).cast(pa.int64()).to_numpy(), dtype=np.int64)

    ts, src, dst, proto, port = col("ts"), col("src"), col("dst"), col("proto"), col("port")
    tool, tool_names = label_codes(t, "tool")
    ctry, ctry_names = label_codes(t, "country")
    key = (src.astype(np.uint64) << np.uint64(8)) | proto.astype(np.uint64)
    factor = min(max(params.idle_reference_addresses / n_mon, 1.0), params.max_idle_factor)
    order, sid = sessions(key, ts, int(params.idle_timeout_s * factor * NS))
    ts, src, dst, proto, port = ts[order], src[order], dst[order], proto[order], port[order]
    n_s = int(sid[-1]) + 1
    first = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    last = np.r_[first[1:] - 1, len(sid) - 1]

    n_dst, n_ports, dst_per_port, ports_per_dst = _campaign_counts(sid, dst, port, n_s)
    box = (n_ports >= params.min_ports) & (n_dst >= h)
    horizontal = ~box & (dst_per_port >= h)
    vertical = ~box & ~horizontal & (ports_per_dst >= params.min_ports)
    keep = np.flatnonzero(box | horizontal | vertical)
    if len(keep) == 0:
        return SCHEMA.empty_table()
    kind = np.where(box, "box", np.where(horizontal, "horizontal", "vertical"))

    npk = last - first + 1
    duration = (ts[last] - ts[first]) / NS
    pps = npk / np.maximum(duration, 1.0)
    est = pps * IPV4_SPACE / n_mon
    coverage = np.minimum(n_dst / n_mon, 1.0)
    iw = (est >= params.internet_wide_min_pps) & (n_dst >= h_iw)
    size = np.where(coverage >= 0.1, ">=10%", np.where(coverage >= 0.01, ">=1%", "<1%"))
    offs, pvals, _ = top_values_per_group(sid, port, n_s, params.max_ports)
    ports = pa.ListArray.from_arrays(pa.array(offs, pa.int32()), pa.array(pvals, pa.uint16()))
    tcode, tcount = majority(sid, tool[order], n_s)
    ccode, _ = majority(sid, ctry[order], n_s)

    def names(codes: npt.NDArray[np.int64], vocab: list[str]) -> list[str | None]:
        return [vocab[c] if c >= 0 else None for c in codes.tolist()]

    k = keep
    out = pa.table({
        "src": pa.array(src[first][k], pa.uint32()),
        "src_ip": ip_text(src[first][k]),
        "proto": pa.array(proto[first][k], pa.uint8()),
        "kind": kind[k].tolist(),
        "ports": ports.take(pa.array(k)),
        "n_ports": n_ports[k],
        "n_destinations": n_dst[k],
        "max_destinations_per_port": dst_per_port[k],
        "max_ports_per_destination": ports_per_dst[k],
        "packets": npk[k],
        "start": pa.array(ts[first][k], pa.timestamp("ns", "UTC")),
        "end": pa.array(ts[last][k], pa.timestamp("ns", "UTC")),
        "duration_s": duration[k],
        "pps": pps[k],
        "est_pps": est[k],
        "coverage": coverage[k],
        "size_class": size[k].tolist(),
        "internet_wide": iw[k],
        "tool": pa.array(names(tcode[k], tool_names), pa.string()),
        "tool_share": np.where(tcode[k] >= 0, tcount[k] / npk[k], 0.0),
        "country": pa.array(names(ccode[k], ctry_names), pa.string()),
        "monitored_addresses": np.full(len(k), n_mon, dtype=np.int64),
    })  # fmt: skip
    out = check_schema(out, SCHEMA)
    return out.sort_by([("n_destinations", "descending"), ("start", "ascending")])

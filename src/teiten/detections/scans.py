"""Scan campaigns: horizontal, vertical and box scans, and the Internet-wide ones.

Method (``specs/detections.md`` §2): probe packets (TCP SYN without ACK/RST, UDP not from port
53, ICMP/ICMPv6 echo requests; IPv4 and IPv6) are grouped per (source, protocol) into
campaigns closed after ``idle_timeout_s`` without a probe (Durumeric et al.: 480 s). A longer
gap does not close a campaign when it is unremarkable for the campaign's own rate (see
``gap_probability`` and ``timeout_probability``): a slow scan seen by a small sensor set
arrives at a mean interval of minutes, and the 480 s of a /8 telescope would cut it into
pieces. Within a campaign:

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

IPv6 sources are found the same way; their n is the number of distinct IPv6 destinations probed
in the period, and they have no IPv4 extrapolation (``est_pps``, ``coverage`` and
``size_class`` null, never Internet-wide).

Speed: the probe rows are read once (five narrow columns); sources are numbered by a hashed
pass and sessionised by a compiled counting sort (:func:`~teiten.detections._common.sessionise`)
that drops every session with fewer probes than the smallest threshold before anything else is
computed; tool and country are read afterwards for the kept campaigns only.

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
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from teiten.core.periods import Period
from teiten.detections._columns import Batch, extract, ints, string_codes
from teiten.detections._common import (
    IPV4_SPACE,
    NS,
    V6_KEY,
    PacketSource,
    Sessions,
    check_schema,
    dense_ids,
    distinct_per_group,
    ip6_text,
    ip_text,
    majority,
    schema,
    sessionise,
    top_values_per_group,
)
from teiten.detections.backscatter import monitored_count
from teiten.ingest.enrich.tool import VOCABULARY as TOOLS

NAME: Final = "scans"


@dataclass(frozen=True, slots=True)
class Params:
    """Thresholds of scan detection (defaults from Zeek scan.zeek and Durumeric et al. 2014).

    Attributes
    ----------
    idle_timeout_s : float
        A campaign ends after this long without a probe from the source (480 s), unless the
        gap is bridged (the next two fields; ``specs/detections.md`` §2.1).
    gap_probability : float
        A gap longer than the idle timeout is bridged when, for Poisson arrivals at the merged
        campaign's mean rate, a gap at least this long has at least this probability (0.001:
        at most 6.9 mean intervals), and that mean interval stays within the idle timeout.
        0 turns bridging off (pure idle timeout).
    sweep_alpha : float
        … and the bridged campaign is a sweep: it revisits (address, port) cells it already
        probed significantly less often than random probing would (p < 0.01). A scanner
        walks its target list once; a host probing at random with k probes over
        N = n addresses × its ports revisits about k(k-1)/2N cells (Poisson approximation of
        the birthday problem; in general k − N(1 − (1 − 1/N)^k)) — the trickle of such hosts
        is what bridging must not join.
        Campaigns failing the test are split by the idle timeout alone.
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
    """

    idle_timeout_s: float = 480.0
    gap_probability: float = 0.001
    sweep_alpha: float = 0.01
    min_destinations: int = 25
    min_ports: int = 15
    internet_wide_min_pps: float = 10.0
    internet_wide_min_destinations: int = 100
    max_share: float = 0.5
    monitored_addresses: int | None = None
    max_ports: int = 10


#: One row per scan campaign.
SCHEMA: Final[pa.Schema] = schema([
    ("src", pa.uint32(), "scanning IPv4 source (null for IPv6)"),
    ("src_ip", pa.string(), "source address as text (IPv4 or IPv6)"),
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
    ("est_pps", pa.float64(), "Internet-wide probe rate: pps * 2^32 / n (IPv4)"),
    ("coverage", pa.float64(), "share of monitored addresses reached (capped at 1; IPv4)"),
    ("size_class", pa.string(), ">=10%, >=1% or <1% of IPv4 (by coverage)"),
    ("internet_wide", pa.bool_(), "extrapolated rate and reach pass the Internet-wide thresholds"),
    ("tool", pa.string(), "majority tool fingerprint of the probes (null if none)"),
    ("tool_share", pa.float64(), "share of the probes carrying that fingerprint"),
    ("country", pa.string(), "source country (most frequent)"),
    ("monitored_addresses", pa.int64(), "n used for the extrapolation"),
    ("ip_version", pa.uint8(), "4 or 6"),
])  # fmt: skip


def _probe_sql(p: str = "") -> str:
    """Probe packets (``p`` qualifies the columns): SYN without ACK/RST, UDP not from 53,
    ICMP/ICMPv6 echo requests, with a port (or type)."""
    return (
        f"(({p}proto = 6 AND ({p}tcp_flags & 22) = 2) OR ({p}proto = 17"
        f" AND coalesce({p}sport, 0) <> 53) OR ({p}proto = 1 AND {p}icmp_type = 8 AND"
        f" {p}ip_version = 4) OR ({p}proto = 58 AND {p}icmp_type = 128 AND {p}ip_version = 6))"
        f" AND coalesce({p}dport, {p}icmp_type) IS NOT NULL"
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
    sid: npt.NDArray[np.int64],
    dst: npt.NDArray[np.int64],
    port: npt.NDArray[np.int64],
    n_s: int,
) -> tuple[npt.NDArray[np.int64], ...]:
    """Per campaign: distinct addresses, distinct ports, max addresses on one port, max ports
    on one address — with two single-key sorts of packed (campaign, port, address) keys."""
    # any numbering of the addresses will do: their offset when they span a narrow range
    # (one telescope block), else a hashed numbering
    lo_dst, hi_dst = (int(dst.min()), int(dst.max())) if len(dst) else (0, 0)
    didx = dst - lo_dst if hi_dst - lo_dst < 1 << 24 else dense_ids(dst.astype(np.uint64))[0]
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


def _is_probe(version: int) -> ds.Expression:
    """:func:`_probe_sql` for one IP version as an Arrow expression."""
    proto, itype = ds.field("proto"), ds.field("icmp_type")
    tcp = (proto == 6) & (pc.bit_wise_and(ds.field("tcp_flags"), 22) == 2)
    udp = (proto == 17) & (pc.coalesce(ds.field("sport"), pa.scalar(0, pa.uint16())) != 53)
    icmp = (proto == 1) & (itype == 8) if version == 4 else (proto == 58) & (itype == 128)
    has_port = ~pc.coalesce(ds.field("dport").cast(pa.int32()), itype.cast(pa.int32())).is_null()
    return (ds.field("ip_version") == version) & (tcp | udp | icmp) & has_port


def take_rows(b: Batch) -> dict[str, npt.NDArray[Any]]:
    """The IPv4 probes of a batch (:func:`_probe_sql` in NumPy; a null field never
    matches): time, source, protocol, destination, port (``dport``, else the ICMP type),
    tool and country codes (part ``probes4`` of the shared pass)."""
    proto = b.int("proto", 0, np.uint8)
    itype = b.int("icmp_type", 0, np.uint8)
    has_type = b.valid("icmp_type")
    has_port = b.valid("dport")
    probe = (proto == 6) & ((b.int("tcp_flags", 0, np.uint8) & 22) == 2)
    probe |= (proto == 17) & (b.int("sport", 0, np.uint16) != 53)
    probe |= (proto == 1) & (itype == 8) & has_type
    probe &= b.int("ip_version", 0, np.uint8) == 4
    probe &= has_port | has_type
    rows = np.flatnonzero(probe)
    port = np.where(has_port[rows], b.int("dport", 0, np.uint16)[rows], itype[rows])
    key = (b.int("src", 0, np.uint32)[rows].astype(np.uint64) << np.uint64(8)) | proto[rows]
    return {"ts": b.int("ts", 0)[rows], "key": key, "dst": b.int("dst", 0, np.uint32)[rows],
            "port": port.astype(np.uint16), "tool": b.codes("tool")[rows],
            "country": b.codes("country")[rows]}  # fmt: skip


def _tool_codes(values: list[str]) -> list[int]:
    """1-based position of each tool name in the vocabulary (0: not in it)."""
    pos = {x: i + 1 for i, x in enumerate(TOOLS)}
    return [pos.get(v, 0) for v in values]


def _country_codes(values: list[str]) -> list[int]:
    """Two-character country codes packed in 16 bits (0: other)."""
    return [ord(v[0]) * 256 + ord(v[1]) if len(v) == 2 else 0 for v in values]


@dataclass(frozen=True, slots=True)
class _Probes:
    """Probe rows: ``ts``, ``dst``, ``port`` per probe (IPv4 then IPv6), their (source,
    protocol) keys, the IPv6 source dictionary (bits 8.. of IPv6 keys index it), and the
    tool and country codes of the probes (:meth:`labels`)."""

    cols: dict[str, npt.NDArray[np.int64]]
    keys: npt.NDArray[np.uint64]
    src6: pa.Array | None
    v4: dict[str, npt.NDArray[Any]]
    vocab: dict[str, list[str]]
    t6: pa.Table

    def labels(self, idx: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[np.int64]]:
        """``tool`` (see :func:`_tool_name`) and ``country`` (:func:`_country_name`) codes of
        the probes ``idx``."""
        n4 = len(self.v4["ts"])
        in4 = idx < n4
        out = {}
        for name, fn in (("tool", _tool_codes), ("country", _country_codes)):
            lut = np.asarray([*fn(self.vocab[name]), 0], dtype=np.int64)
            v = np.zeros(len(idx), dtype=np.int64)
            v[in4] = lut[self.v4[name][idx[in4]]]
            if (~in4).any():
                v6 = string_codes(self.t6.column(name), fn)
                v[~in4] = v6[idx[~in4] - n4]
            out[name] = v
        return out


def _probes(packets: PacketSource, period: Period | None, store: Any = None) -> _Probes:
    """The probe rows of the period (IPv4 from the shared pass, IPv6 read apart)."""
    ex = extract(packets, period, "probes4", store=store,
                 where=f"ip_version = 4 AND {_probe_sql()}")  # fmt: skip
    v4 = ex.part("probes4")
    vocab = {n: ex.vocabulary(n) for n in ("tool", "country")}
    key4 = v4["key"]
    cols = {"ts": v4["ts"], "dst": v4["dst"], "port": v4["port"]}  # widened once subset
    t6 = ex.rows_where(["ts", "src6", "proto", "dst6", "dport", "icmp_type", "tool", "country"],
                       _is_probe(6), f"ip_version = 6 AND {_probe_sql()}")  # fmt: skip
    if t6.num_rows == 0:
        return _Probes(cols, key4, None, v4, vocab, t6)
    dport6 = ints(t6, "dport", -1)
    port6 = np.where(dport6 >= 0, dport6, ints(t6, "icmp_type", 0))
    src6 = pc.dictionary_encode(t6.column("src6")).combine_chunks()
    dst6 = pc.dictionary_encode(t6.column("dst6")).combine_chunks()
    idx6 = np.asarray(src6.indices.to_numpy(), dtype=np.uint64)
    key6 = V6_KEY | (idx6 << np.uint64(8)) | ints(t6, "proto", 0, np.uint64)
    c6 = {"ts": ints(t6, "ts", 0), "port": port6,
          "dst": IPV4_SPACE + np.asarray(dst6.indices.to_numpy(), np.int64)}  # fmt: skip
    cols = {k: np.r_[cols[k].astype(np.int64), c6[k]] for k in cols}
    return _Probes(cols, np.r_[key4, key6], src6.dictionary, v4, vocab, t6)


def _tool_name(code: int) -> str | None:
    """Tool code of :func:`_probes` (1-based position in the vocabulary; 0 none) to name."""
    return TOOLS[code - 1] if code > 0 else None


def _country_name(code: int) -> str | None:
    """Country code of :func:`_probes` (two characters packed in 16 bits; 0 none) to text."""
    return chr(code >> 8) + chr(code & 255) if code > 0 else None


def _poisson_cdf(r: int, mu: float) -> float:
    """P(X <= r) for X ~ Poisson(mu), summed in log space (no underflow for large mu).

    >>> round(_poisson_cdf(0, 2.0), 4), round(_poisson_cdf(100, 2.0), 4)
    (0.1353, 1.0)
    """
    j = np.arange(r + 1, dtype=np.float64)
    logfact = np.r_[0.0, np.cumsum(np.log(j[1:]))]
    logp = -mu + j * math.log(mu) - logfact if mu > 0 else np.where(j == 0, 0.0, -np.inf)
    top = float(logp.max())
    return float(min(1.0, math.exp(top) * np.exp(logp - top).sum()))


def _campaigns(
    gid: npt.NDArray[np.int64],
    cols: dict[str, npt.NDArray[np.int64]],
    n_addr: npt.NDArray[np.int64],
    params: Params,
    need: int,
) -> Sessions:
    """Campaigns of at least ``need`` probes: idle-timeout sessions, bridged across longer
    gaps where :class:`Params` allows it; bridged campaigns that are no sweep (``n_addr``:
    monitored addresses per group) are split again by the timeout alone."""
    idle = params.idle_timeout_s * NS
    ts_all = cols["ts"]
    n_groups = len(n_addr)
    if not 0.0 < params.gap_probability < 1.0:
        return sessionise(gid, ts_all, n_groups, int(idle), need)
    s = sessionise(gid, ts_all, n_groups, int(idle), need, -math.log(params.gap_probability),
                   idle)  # fmt: skip
    if len(s) == 0:
        return s
    sid = s.session_of_rows()
    t = ts_all[s.rows]
    long_gap = np.zeros(len(t), dtype=bool)
    long_gap[1:] = (np.diff(t) > idle) & (sid[1:] == sid[:-1])
    bridged = np.flatnonzero(np.bincount(sid, weights=long_gap, minlength=len(s)) > 0)
    if len(bridged) == 0:
        return s
    npk = np.diff(s.bounds)
    sel = np.isin(sid, bridged)
    sub_sid, rows = sid[sel], s.rows[sel]
    _, compact = np.unique(sub_sid, return_inverse=True)
    port = cols["port"][rows].astype(np.int64)
    cells = distinct_per_group(compact, cols["dst"][rows].astype(np.int64) * 65536 + port,
                               len(bridged))  # fmt: skip
    ports = distinct_per_group(compact, port, len(bridged))
    split = np.zeros(len(s), dtype=bool)
    for i, b in enumerate(bridged.tolist()):  # per bridged campaign, not per packet
        k = int(npk[b])
        n_cells = float(n_addr[s.group[b]]) * float(ports[i])
        # expected revisits of random probing: k minus the expected occupied cells
        expected = k - n_cells * -math.expm1(k * math.log1p(-1.0 / max(n_cells, 2.0)))
        p = _poisson_cdf(k - int(cells[i]), expected)
        split[b] = p >= params.sweep_alpha
    if not split.any():
        return s
    in_split = split[sid]
    rows = s.rows[in_split]
    sub = sessionise(sid[in_split], ts_all[rows], len(s), int(idle), need)
    lengths = np.r_[npk[~split], np.diff(sub.bounds)]
    return Sessions(
        rows=np.r_[s.rows[~in_split], rows[sub.rows]],
        bounds=np.r_[0, np.cumsum(lengths)].astype(np.int64),
        group=np.r_[s.group[~split], s.group[sub.group]],
    )


def detect(packets: PacketSource, period: Period | None, params: Params = Params(),
           store: Any = None) -> pa.Table:  # fmt: skip
    """Find scan campaigns.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB connection or relation, ibis.Table
        The packet table.
    period : teiten.core.periods.Period or None
        Only packets inside the period; None: all.
    params : Params
        Thresholds.
    store : teiten.store.Store, optional
        The store whose packet table ``packets`` is: its files are then read directly with
        Arrow (faster than through SQL; see :func:`~teiten.detections._common.read_columns`).

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, one row per campaign, most destinations first.
    """
    probes = _probes(packets, period, store)
    cols, keys, src6_dict = probes.cols, probes.keys, probes.src6
    if len(keys) == 0:
        return SCHEMA.empty_table()
    n_mon = params.monitored_addresses or monitored_count(packets, period, store)
    h4 = _scaled(params.min_destinations, params.max_share, n_mon)
    if src6_dict is not None:
        n6 = len(np.unique(cols["dst"][cols["dst"] >= IPV4_SPACE]))
        h6 = _scaled(params.min_destinations, params.max_share, n6)
    else:
        n6, h6 = 0, h4
    ids, uniq = dense_ids(keys)
    n_addr = np.where((uniq & V6_KEY) != 0, max(n6, 1), n_mon)
    sess = _campaigns(ids, cols, n_addr, params, min(h4, h6, params.min_ports))
    if len(sess) == 0:
        return SCHEMA.empty_table()
    sid = sess.session_of_rows()
    ts, dst, port = (cols[c][sess.rows].astype(np.int64) for c in ("ts", "dst", "port"))
    n_s = len(sess)
    first, last = sess.bounds[:-1], sess.bounds[1:] - 1
    skey = uniq[sess.group]
    v6 = (skey & V6_KEY) != 0
    h = np.where(v6, h6, h4)

    n_dst, n_ports, dst_per_port, ports_per_dst = _campaign_counts(sid, dst, port, n_s)
    box = (n_ports >= params.min_ports) & (n_dst >= h)
    horizontal = ~box & (dst_per_port >= h)
    vertical = ~box & ~horizontal & (ports_per_dst >= params.min_ports)
    k = np.flatnonzero(box | horizontal | vertical)
    if len(k) == 0:
        return SCHEMA.empty_table()
    kind = np.where(box, "box", np.where(horizontal, "horizontal", "vertical"))

    npk = last - first + 1
    duration = (ts[last] - ts[first]) / NS
    pps = npk / np.maximum(duration, 1.0)
    est = pps * IPV4_SPACE / n_mon
    coverage = np.minimum(n_dst / n_mon, 1.0)
    h_iw = _scaled(params.internet_wide_min_destinations, params.max_share, n_mon)
    iw = (est >= params.internet_wide_min_pps) & (n_dst >= h_iw) & ~v6
    size = np.where(coverage >= 0.1, ">=10%", np.where(coverage >= 0.01, ">=1%", "<1%"))
    offs, pvals, _ = top_values_per_group(sid, port, n_s, params.max_ports)
    proto = (skey & np.uint64(0xFF)).astype(np.int64)
    srcnum = (skey >> np.uint64(8)) & np.uint64(0xFFFFFFFF)

    kv6_mask = v6[k]
    src_text = ip_text(srcnum[k])
    if kv6_mask.any():
        assert src6_dict is not None
        src6 = src6_dict.take(pa.array(srcnum[k][kv6_mask].astype(np.int64)))
        for i, text in zip(np.flatnonzero(kv6_mask).tolist(), ip6_text(src6), strict=True):
            src_text[i] = text
    labels = probes.labels(sess.rows)
    tcode, tcount = majority(sid, np.where(labels["tool"] > 0, labels["tool"], -1), n_s)
    ccode, _ = majority(sid, np.where(labels["country"] > 0, labels["country"], -1), n_s)

    def v4only(x: npt.NDArray[np.float64]) -> pa.Array:
        return pa.array(x, pa.float64(), mask=kv6_mask)

    ports = pa.ListArray.from_arrays(pa.array(offs, pa.int32()), pa.array(pvals, pa.uint16()))
    out = pa.table({
        "src": pa.array(srcnum[k], pa.uint32(), mask=kv6_mask),
        "src_ip": pa.array(src_text, pa.string()),
        "proto": pa.array(proto[k], pa.uint8()),
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
        "est_pps": v4only(est[k]),
        "coverage": v4only(coverage[k]),
        "size_class": pa.array(size[k].tolist(), pa.string(), mask=kv6_mask),
        "internet_wide": iw[k],
        "tool": pa.array([_tool_name(c) for c in tcode[k].tolist()], pa.string()),
        "tool_share": tcount[k] / npk[k],
        "country": pa.array([_country_name(c) for c in ccode[k].tolist()], pa.string()),
        "monitored_addresses": pa.array(np.where(kv6_mask, n6, n_mon), pa.int64()),
        "ip_version": pa.array(np.where(kv6_mask, 6, 4), pa.uint8()),
    })  # fmt: skip
    out = check_schema(out, SCHEMA)
    return out.sort_by([("n_destinations", "descending"), ("start", "ascending")])

"""Scanner-tool fingerprint of single probes (``specs/detections.md`` §3).

Rules run in the spec's order (§3.6); the first that matches labels the packet, and packets
matching none get null. All rules except ``zmap-old`` on ICMP/UDP apply to IPv4 TCP probes with
SYN alone among SYN/ACK/RST.

==================  ==========================================================================
label               rule
==================  ==========================================================================
``zmap-old``        IP ID 54321 (ZMap before v4.1.0, every probe module); TCP also needs window
                    65535 and no options or MSS only (v1–v4.0), ICMP an echo request
``masscan``         IP ID == (dst ^ dport ^ seq) & 0xFFFF, supported by an observed TTL >= 200
                    (initial 255) or by window 1024 or 0 with a TTL above Nmap's 37–59
``mirai``           seq == destination address
``unicornscan``     seq ^ dst ^ ((dport << 16) + sport) constant over >= 3 distinct targets of
                    one source in the chunk (>= 2 with Unicornscan's window 4128); dst tried in
                    both byte orders
``nmap``            window 1024, options exactly MSS (1460), observed TTL <= 59 (initial 37–59)
``zmap-new``        ZMap v4.1+ defaults (random IP ID): window 65535, options MSS 1460, NOP,
                    WS 8, NOP, NOP, SACK-permitted, IP length 52, observed TTL <= 64, ack 0
                    (weaker, multi-field heuristic)
``generic-scanner`` corsaro's large-scale-scan filter: no options, window 1024, TTL >= 200
==================  ==========================================================================

Ordinary OS stacks (Windows TTL 128, Linux TTL 64 with timestamps, macOS) match none of these
except by chance (masscan ~1/65536 per packet with the supporting fields, mirai 1/2^32); the
per-source majority roll-up (:mod:`teiten.detections.tools`) removes such strays.

Examples
--------
>>> import pyarrow as pa
>>> t = pa.table({"ip_version": pa.array([4, 4], pa.uint8()), "proto": pa.array([6, 6], pa.uint8()),
...     "tcp_flags": pa.array([2, 2], pa.uint8()), "ip_id": pa.array([54321, 7], pa.uint16()),
...     "tcp_win": pa.array([65535, 512], pa.uint16()), "src": pa.array([1, 2], pa.uint32()),
...     "dst": pa.array([99, 100], pa.uint32()), "tcp_seq": pa.array([5, 100], pa.uint32())})
>>> fingerprint(t).to_pylist()
['zmap-old', 'mirai']
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from teiten.ingest.enrich import EnrichContext
from teiten.ingest.enrich.traffic_class import (
    IPPROTO_ICMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TH_ACK,
    TH_RST,
    TH_SYN,
    column,
)

ZMAP_OLD: Final = "zmap-old"
ZMAP: Final = "zmap-new"
MASSCAN: Final = "masscan"
MIRAI: Final = "mirai"
UNICORNSCAN: Final = "unicornscan"
NMAP: Final = "nmap"
GENERIC: Final = "generic-scanner"

#: Every label, in the order the rules run (and dictionary order).
VOCABULARY: Final[tuple[str, ...]] = (ZMAP_OLD, MASSCAN, MIRAI, UNICORNSCAN, NMAP, ZMAP, GENERIC)

#: Tool family for reports: both ZMap fingerprints are ZMap.
FAMILY: Final[dict[str, str]] = {ZMAP_OLD: "zmap", ZMAP: "zmap"}

ZMAP_IP_ID: Final = 54321
ZMAP_WINDOW: Final = 65535
#: ZMap >= 4.1 ``--probe-args=windows``: MSS, NOP, WS, NOP, NOP, SACK-permitted.
ZMAP_V41_OPTS: Final = bytes([2, 1, 3, 1, 1, 4])
MASSCAN_WINDOWS: Final = (1024, 0)
SCANNER_WINDOW: Final = 1024
UNICORNSCAN_WINDOW: Final = 4128
HIGH_TTL: Final = 200
NMAP_MAX_TTL: Final = 59
MSS_ONLY: Final = bytes([2])

_CODE = {name: i for i, name in enumerate(VOCABULARY)}


def _opts_equal(packets: pa.Table, value: bytes) -> npt.NDArray[np.bool_]:
    if "tcp_opts" not in packets.column_names:
        return np.full(packets.num_rows, value == b"", dtype=bool)
    opts = pc.fill_null(packets.column("tcp_opts").cast(pa.binary()), b"")
    eq = pc.equal(opts, pa.scalar(value, pa.binary()))
    return np.asarray(eq.to_numpy(zero_copy_only=False), dtype=bool)


def group_distinct(
    keys: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint64]
) -> npt.NDArray[np.int64]:
    """For each element, the number of distinct ``vals`` among elements sharing its key.

    >>> import numpy as np
    >>> group_distinct(np.array([1, 1, 1, 2], np.uint64), np.array([5, 5, 6, 5], np.uint64))
    array([2, 2, 2, 1])
    """
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((vals, keys))
    k, v = keys[order], vals[order]
    new_key = np.ones(n, dtype=bool)
    new_key[1:] = k[1:] != k[:-1]
    new_pair = new_key.copy()
    new_pair[1:] |= v[1:] != v[:-1]
    gid = np.cumsum(new_key) - 1
    distinct = np.bincount(gid, weights=new_pair).astype(np.int64)
    out = np.empty(n, dtype=np.int64)
    out[order] = distinct[gid]
    return out


def _repeated(keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Positions of the elements whose key occurs more than once."""
    order = np.argsort(keys)
    k = keys[order]
    eq = k[1:] == k[:-1]
    dup = np.zeros(len(k), dtype=bool)
    dup[1:] |= eq
    dup[:-1] |= eq
    return np.sort(order[dup])


def _bswap32(x: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    u = x.astype(np.uint32)
    return np.asarray(u.byteswap(), dtype=np.int64)


def tool_codes(packets: pa.Table) -> npt.NDArray[np.int32]:
    """Index into :data:`VOCABULARY` per packet, -1 where no rule matches (vectorised)."""
    n = packets.num_rows
    ver = column(packets, "ip_version", 4)
    proto = column(packets, "proto", -1)
    flags = column(packets, "tcp_flags", 0)
    ip_id = column(packets, "ip_id", -1)
    src = column(packets, "src", 0)
    dst = column(packets, "dst", -1)
    dport = column(packets, "dport", 0)
    sport = column(packets, "sport", 0)
    seq = column(packets, "tcp_seq", -1)
    ack = column(packets, "tcp_ack", 0)
    win = column(packets, "tcp_win", -1)
    ttl = column(packets, "ttl", 0)
    ip_len = column(packets, "ip_len", 0)
    mss = column(packets, "tcp_mss", -1)
    wscale = column(packets, "tcp_wscale", -1)
    itype = column(packets, "icmp_type", -1)

    v4 = (ver == 4) & (dst >= 0)
    probe = v4 & (proto == IPPROTO_TCP) & ((flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN)
    codes = np.full(n, -1, dtype=np.int32)

    def assign(mask: npt.NDArray[np.bool_], label: str) -> None:
        codes[mask & (codes < 0)] = _CODE[label]

    old_opts = _opts_equal(packets, b"") | _opts_equal(packets, MSS_ONLY)
    zmap_old = (ip_id == ZMAP_IP_ID) & (
        (probe & (win == ZMAP_WINDOW) & old_opts)
        | (v4 & (proto == IPPROTO_ICMP) & (itype == 8))
        | (v4 & (proto == IPPROTO_UDP))
    )
    assign(zmap_old, ZMAP_OLD)

    masscan_id = (dst ^ dport ^ seq) & 0xFFFF
    support = (ttl >= HIGH_TTL) | (np.isin(win, MASSCAN_WINDOWS) & (ttl > NMAP_MAX_TTL))
    assign(probe & (seq >= 0) & (ip_id == masscan_id) & support, MASSCAN)

    assign(probe & (seq == dst), MIRAI)

    cand = probe & (codes < 0) & (seq >= 0)
    if cand.any():
        idx = np.flatnonzero(cand)
        ports = ((dport[idx] << 16) + sport[idx]) & 0xFFFFFFFF
        target = ((dst[idx] << 16) | dport[idx]).astype(np.uint64)
        hit = np.zeros(len(idx), dtype=bool)
        for d in (dst[idx], _bswap32(dst[idx])):
            key = (seq[idx] ^ d ^ ports) & 0xFFFFFFFF
            combined = (src[idx].astype(np.uint64) << np.uint64(32)) | key.astype(np.uint64)
            # only keys seen at least twice can reach two distinct targets: count those alone
            shared = _repeated(combined)
            distinct = np.ones(len(idx), dtype=np.int64)
            distinct[shared] = group_distinct(combined[shared], target[shared])
            hit |= (distinct >= 3) | ((distinct >= 2) & (win[idx] == UNICORNSCAN_WINDOW))
        uni = np.zeros(n, dtype=bool)
        uni[idx[hit]] = True
        assign(uni, UNICORNSCAN)

    mss_only = _opts_equal(packets, MSS_ONLY)
    assign(probe & (win == SCANNER_WINDOW) & mss_only & (ttl <= NMAP_MAX_TTL), NMAP)

    zmap_new = (
        probe
        & (win == ZMAP_WINDOW)
        & _opts_equal(packets, ZMAP_V41_OPTS)
        & (mss == 1460)
        & (wscale == 8)
        & (ip_len == 52)
        & (ttl <= 64)
        & (ack == 0)
    )
    assign(zmap_new, ZMAP)

    no_opts = _opts_equal(packets, b"")
    assign(probe & no_opts & (win == SCANNER_WINDOW) & (ttl >= HIGH_TTL), GENERIC)
    return codes


def fingerprint(packets: pa.Table) -> pa.DictionaryArray:
    """Scanner-tool label of every packet, null where no fingerprint matches.

    Parameters
    ----------
    packets : pyarrow.Table
        Packet-table columns (missing ones count as absent fields).

    Returns
    -------
    pyarrow.DictionaryArray
        ``dictionary<int32, string>`` over :data:`VOCABULARY`.
    """
    codes = tool_codes(packets)
    indices = pa.array(codes, pa.int32(), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(VOCABULARY))


class ToolEnricher:
    """Ingest enricher filling ``tool`` (registered in :data:`ENRICHERS`)."""

    column = "tool"

    def __init__(self, ctx: EnrichContext | None = None) -> None:
        self.ctx = ctx

    def __call__(self, packets: pa.Table) -> pa.Array:
        """Return the tool fingerprint of each packet of one ingest chunk."""
        return fingerprint(packets)

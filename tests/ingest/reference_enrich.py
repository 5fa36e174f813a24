"""The NumPy implementation of the traffic-class and tool rules, kept as a reference.

Ingest runs the rules in one compiled pass (:mod:`teiten.ingest.enrich.kernels`); this is the
array-at-a-time version they replaced, the independent oracle of
``test_enrich_kernels.py``. Copied unchanged from ``traffic_class.py``/``tool.py`` as of
commit 9cf501f.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from teiten.ingest.enrich.tool import (
    GENERIC,
    HIGH_TTL,
    MASSCAN,
    MASSCAN_WINDOWS,
    MIRAI,
    MSS_ONLY,
    NMAP,
    NMAP_MAX_TTL,
    SCANNER_WINDOW,
    UNICORNSCAN,
    UNICORNSCAN_WINDOW,
    ZMAP,
    ZMAP_IP_ID,
    ZMAP_OLD,
    ZMAP_V41_OPTS,
    ZMAP_WINDOW,
)
from teiten.ingest.enrich.tool import VOCABULARY as TOOLS
from teiten.ingest.enrich.traffic_class import (
    _CODE,
    _LUT4,
    _LUT6,
    DNS,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    OTHER,
    RST,
    SCAN_TCP,
    SYNACK,
    TCP_OTHER,
    TH_ACK,
    TH_RST,
    TH_SYN,
    UDP,
)

_TOOL_CODE = {name: i for i, name in enumerate(TOOLS)}


def column(table: pa.Table, name: str, fill: int) -> npt.NDArray[np.int64]:
    """A numeric column as an int64 NumPy array with nulls (or a missing column) as ``fill``."""
    if name not in table.column_names:
        return np.full(table.num_rows, fill, dtype=np.int64)
    col = pc.fill_null(table.column(name).cast(pa.int64()), fill)
    return np.asarray(col.to_numpy(), dtype=np.int64)


def class_codes(packets: pa.Table) -> npt.NDArray[np.int32]:
    """Index into :data:`VOCABULARY` for each packet (vectorised)."""
    proto = column(packets, "proto", -1)
    flags = column(packets, "tcp_flags", 0)
    itype = column(packets, "icmp_type", 0)
    sport = column(packets, "sport", -1)
    frag = column(packets, "fragment", 0)
    codes = np.full(packets.num_rows, _CODE[OTHER], dtype=np.int32)

    tcp = proto == IPPROTO_TCP
    rst = (flags & TH_RST) != 0
    syn = (flags & TH_SYN) != 0
    ack = (flags & TH_ACK) != 0
    codes[tcp] = _CODE[TCP_OTHER]
    codes[tcp & syn & ~ack & ~rst] = _CODE[SCAN_TCP]
    codes[tcp & syn & ack & ~rst] = _CODE[SYNACK]
    codes[tcp & rst] = _CODE[RST]

    icmp4 = proto == IPPROTO_ICMP
    icmp6 = proto == IPPROTO_ICMPV6
    codes[icmp4] = _LUT4[itype[icmp4] & 0xFF]
    codes[icmp6] = _LUT6[itype[icmp6] & 0xFF]

    udp = proto == IPPROTO_UDP
    codes[udp] = _CODE[UDP]
    codes[udp & (sport == 53)] = _CODE[DNS]

    codes[frag == 2] = _CODE[OTHER]  # later fragment: no L4 header to judge
    return codes


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
        codes[mask & (codes < 0)] = _TOOL_CODE[label]

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

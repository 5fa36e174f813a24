"""Compiled passes of the traffic-class and tool-fingerprint rules over one chunk.

The rules are documented in :mod:`teiten.ingest.enrich.traffic_class` and
:mod:`teiten.ingest.enrich.tool`; this module only runs them, one pass over the rows, in
Numba kernels that release the GIL (so Parquet encoding of the previous chunk goes on beside
them). Every column arrives as (values, validity) from :mod:`teiten.ingest.enrich.columns`;
what a null reads as is spelled out where each column is read (it follows the NumPy
reference the tests compare against: a null protocol is no protocol, a null window is no
window, and so on).

The Unicornscan rule (a key constant over several targets of one source) needs, per source
and key, the number of distinct targets in the chunk. It is counted with an open-addressing
hash table (distinct targets are only counted up to 3: the rule asks for 2 or 3), so the
whole fingerprint is O(rows); the table is the caller's, reused from chunk to chunk.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from teiten.core.aot import njit

# TCP flag bits and IP protocol numbers (RFC 9293 / RFC 791).
TH_SYN: Final = 0x02
TH_RST: Final = 0x04
TH_ACK: Final = 0x10
PROTO_ICMP: Final = 1
PROTO_TCP: Final = 6
PROTO_UDP: Final = 17
PROTO_ICMP6: Final = 58

# tool codes: index into tool.VOCABULARY (kept in step by tests/ingest/test_enrich_kernels.py)
T_ZMAP_OLD, T_MASSCAN, T_MIRAI, T_UNICORNSCAN, T_NMAP, T_ZMAP, T_GENERIC = range(7)
ZMAP_IP_ID: Final = 54321
ZMAP_WINDOW: Final = 65535
SCANNER_WINDOW: Final = 1024
UNICORNSCAN_WINDOW: Final = 4128
HIGH_TTL: Final = 200
NMAP_MAX_TTL: Final = 59
ZMAP_MAX_TTL: Final = 64
ZMAP_IP_LEN: Final = 52
ZMAP_MSS: Final = 1460
ZMAP_WSCALE: Final = 8
OPT_MSS: Final = 2
#: ZMap >= 4.1 option kinds: MSS, NOP, WS, NOP, NOP, SACK-permitted.
ZMAP_V41_OPTS: Final = np.array([2, 1, 3, 1, 1, 4], np.uint8)

_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier


@njit(inline="always", cache=True)
def _val(values, valid, i, fill):  # type: ignore[no-untyped-def]
    """Row ``i`` of a column as int64, ``fill`` where null."""
    return np.int64(values[i]) if valid[i] else np.int64(fill)


@njit(cache=True, nogil=True)
def traffic_classes(  # type: ignore[no-untyped-def]
    proto, proto_v, flags, flags_v, itype, itype_v, sport, sport_v, frag, frag_v,
    lut4, lut6, c_other, c_tcp_other, c_scan, c_synack, c_rst, c_udp, c_dns, out,
):
    """Traffic-class code of every row into ``out`` (codes and ICMP tables from the caller)."""
    for i in range(out.shape[0]):
        p = _val(proto, proto_v, i, -1)
        code = c_other
        if p == PROTO_TCP:
            f = _val(flags, flags_v, i, 0)
            if f & TH_RST:
                code = c_rst
            elif f & TH_SYN:
                code = c_synack if f & TH_ACK else c_scan
            else:
                code = c_tcp_other
        elif p == PROTO_ICMP:
            code = lut4[_val(itype, itype_v, i, 0) & 0xFF]
        elif p == PROTO_ICMP6:
            code = lut6[_val(itype, itype_v, i, 0) & 0xFF]
        elif p == PROTO_UDP:
            code = c_dns if _val(sport, sport_v, i, -1) == 53 else c_udp
        if _val(frag, frag_v, i, 0) == 2:
            code = c_other  # a later fragment has no L4 header to judge
        out[i] = code


@njit(inline="always", cache=True)
def _opts_are(opt_off, opt_data, opt_v, i, want, n_want):  # type: ignore[no-untyped-def]
    """Whether row ``i``'s option kinds equal ``want[:n_want]`` (null reads as no options)."""
    if not opt_v[i]:
        return n_want == 0
    a = opt_off[i]
    if opt_off[i + 1] - a != n_want:
        return False
    for k in range(n_want):  # noqa: SIM110 - a generator in a kernel costs a closure
        if opt_data[a + k] != want[k]:
            return False
    return True


@njit(inline="always", cache=True)
def _bswap32(x):  # type: ignore[no-untyped-def]
    return (((x & 0xFF) << 24) | (((x >> 8) & 0xFF) << 16) | (((x >> 16) & 0xFF) << 8)
            | ((x >> 24) & 0xFF))  # fmt: skip


#: Generations a scratch table serves before it is cleared (the stamp's 16 bits).
_GENERATIONS: Final = 1 << 16


@njit(cache=True)
def _distinct_targets(keys, targets, table, bits, epoch):  # type: ignore[no-untyped-def]
    """For each element, the distinct ``targets`` (< 2**48) among elements sharing its key
    (max 3). ``table`` (``size x 3``, ``size`` a power of two at least twice the elements),
    ``bits`` (at least ``keys.shape[0] / 2`` words) and ``epoch`` are scratch the caller
    keeps from chunk to chunk.

    Most keys occur once (a scanner's random sequence numbers), and a hash table of every key
    is far larger than the core's cache: each insert was a cache miss. So a first pass marks
    each key's hash in a bitset of 16 bits a key (in cache), and a second set of the same size
    marks hashes seen twice; only the elements whose hash was seen twice (every repeated key,
    and about one in sixteen others) go to the exact table. A key seen once has one target.
    The table's prefix in use is sized to those elements, not to the chunk: on a scanner's
    chunk, where no key repeats, that is a table in cache instead of one of megabytes in
    which each insert was a miss (a third of this function's time).

    A row of ``table`` is one slot, in one cache line: the key; the first target with the
    count in its top byte; the second target with the generation that filled the slot in its
    top 16 bits. Each call is a new generation (``epoch[0]``), so rows of earlier calls read
    as free and the table is never cleared per call.
    """
    n = keys.shape[0]
    out = np.ones(n, np.uint8)
    if n == 0:
        return out
    nbits = 6
    while (1 << nbits) < 16 * n and (4 << nbits) <= 64 * bits.shape[0]:
        nbits += 1  # each of the two sets has 2**nbits bits
    words = 1 << (nbits - 6)
    bits[: 2 * words] = 0
    bshift = np.uint64(64 - nbits)
    hashes = np.empty(n, np.int64)
    for c in range(n):
        h = np.int64((keys[c] * _GOLDEN) >> bshift)
        hashes[c] = h
        w = h >> 6
        m = np.uint64(1) << np.uint64(h & 63)
        if bits[w] & m:
            bits[words + w] |= m
        else:
            bits[w] |= m
    slot = np.empty(n, np.int64)
    m_rep = 0
    for c in range(n):
        hb = hashes[c]
        if bits[words + (hb >> 6)] & (np.uint64(1) << np.uint64(hb & 63)):
            slot[m_rep] = c  # its hash was seen twice: the exact table decides
            m_rep += 1
    tbits = 4  # the table's prefix in use: at least twice as many slots as elements
    while (1 << tbits) < 2 * m_rep:
        tbits += 1
    while (1 << tbits) > table.shape[0]:
        tbits -= 1
    mask = (1 << tbits) - 1
    shift = np.uint64(64 - tbits)
    epoch[0] += np.uint64(1)
    if epoch[0] >= _GENERATIONS:
        table[:] = 0
        epoch[0] = np.uint64(1)
    stamp = epoch[0] << np.uint64(48)
    one = np.uint64(1) << np.uint64(56)
    low = np.uint64((1 << 48) - 1)
    for r in range(m_rep):
        c = slot[r]
        k = keys[c]
        t = np.uint64(targets[c])
        h = np.int64((k * _GOLDEN) >> shift)
        while True:
            s2 = table[h, 2]
            if s2 & ~low != stamp:  # free in this generation
                table[h, 0] = k
                table[h, 1] = t | one
                table[h, 2] = stamp
                break
            if table[h, 0] == k:
                f = table[h, 1]
                count = f >> np.uint64(56)
                if count == 1:
                    if t != f & low:
                        table[h, 2] = stamp | t
                        table[h, 1] = f + one
                elif count == 2 and t != f & low and t != s2 & low:
                    table[h, 1] = f + one
                break
            h = (h + 1) & mask
        hashes[r] = h
    for r in range(m_rep):
        out[slot[r]] = np.uint8(table[hashes[r], 1] >> np.uint64(56))
    return out


@njit(cache=True, nogil=True)
def tool_fingerprints(  # type: ignore[no-untyped-def]
    ver, ver_v, proto, proto_v, flags, flags_v, ip_id, ip_id_v, src, src_v, dst, dst_v,
    sport, sport_v, dport, dport_v, seq, seq_v, ack, ack_v, win, win_v, ttl, ttl_v,
    ip_len, ip_len_v, mss, mss_v, wscale, wscale_v, itype, itype_v, opt_off, opt_data, opt_v,
    table, bits, epoch, out,
):
    """Tool code of every row into ``out`` (-1: no rule matched); rules in the spec's order.

    ``table``, ``bits`` and ``epoch`` are the Unicornscan rule's scratch (see
    :func:`_distinct_targets`: ``table`` at least ``2 * len(out)`` rows)."""
    n = out.shape[0]
    mss_only = np.array([OPT_MSS], np.uint8)
    cand = np.empty(n, np.int64)
    n_cand = 0
    for i in range(n):
        out[i] = -1
        if _val(ver, ver_v, i, 4) != 4 or not dst_v[i]:
            continue  # only IPv4 rows with a destination are fingerprinted
        p = _val(proto, proto_v, i, -1)
        ident = _val(ip_id, ip_id_v, i, -1)
        if p != PROTO_TCP:
            if ident == ZMAP_IP_ID and (
                p == PROTO_UDP or (p == PROTO_ICMP and _val(itype, itype_v, i, -1) == 8)
            ):
                out[i] = T_ZMAP_OLD
            continue
        if (_val(flags, flags_v, i, 0) & (TH_SYN | TH_ACK | TH_RST)) != TH_SYN:
            continue  # not a probe
        w = _val(win, win_v, i, -1)
        d = np.int64(dst[i])
        if ident == ZMAP_IP_ID and w == ZMAP_WINDOW and (
            _opts_are(opt_off, opt_data, opt_v, i, mss_only, 0)
            or _opts_are(opt_off, opt_data, opt_v, i, mss_only, 1)
        ):
            out[i] = T_ZMAP_OLD
            continue
        s = _val(seq, seq_v, i, -1)
        t = _val(ttl, ttl_v, i, 0)
        if s >= 0 and ident == ((d ^ _val(dport, dport_v, i, 0) ^ s) & 0xFFFF) and (
            t >= HIGH_TTL or ((w == SCANNER_WINDOW or w == 0) and t > NMAP_MAX_TTL)
        ):
            out[i] = T_MASSCAN
            continue
        if s == d:
            out[i] = T_MIRAI
            continue
        if s >= 0:
            cand[n_cand] = i
            n_cand += 1
        # the rules after Unicornscan's, while the row is at hand: a match is provisional
        # (-2 - code), the Unicornscan rule (which comes first) may still claim the row
        if (w == SCANNER_WINDOW and t <= NMAP_MAX_TTL
                and _opts_are(opt_off, opt_data, opt_v, i, mss_only, 1)):
            out[i] = -2 - T_NMAP
        elif (w == ZMAP_WINDOW and t <= ZMAP_MAX_TTL
              and _opts_are(opt_off, opt_data, opt_v, i, ZMAP_V41_OPTS, 6)
              and _val(mss, mss_v, i, -1) == ZMAP_MSS
              and _val(wscale, wscale_v, i, -1) == ZMAP_WSCALE
              and _val(ip_len, ip_len_v, i, 0) == ZMAP_IP_LEN and _val(ack, ack_v, i, 0) == 0):
            out[i] = -2 - T_ZMAP
        elif (w == SCANNER_WINDOW and t >= HIGH_TTL
              and _opts_are(opt_off, opt_data, opt_v, i, mss_only, 0)):
            out[i] = -2 - T_GENERIC
    if n_cand:
        _unicornscan(cand[:n_cand], src, src_v, dst, sport, sport_v, dport, dport_v, seq,
                     win, win_v, table, bits, epoch, out)
    for i in range(n):
        if out[i] <= -2:
            out[i] = -2 - out[i]


@njit(cache=True)
def _unicornscan(  # type: ignore[no-untyped-def]
    cand, src, src_v, dst, sport, sport_v, dport, dport_v, seq, win, win_v, table, bits, epoch,
    out,
):
    """Label the candidates whose key ``seq ^ dst ^ ((dport << 16) + sport)`` stays constant
    over >= 3 distinct targets of one source (>= 2 with window 4128), ``dst`` tried in both
    byte orders."""
    m = cand.shape[0]
    keys = np.empty(m, np.uint64)  # dst as is
    keys_swapped = np.empty(m, np.uint64)  # dst byte-swapped
    targets = np.empty(m, np.int64)
    four = np.empty(m, np.uint8)  # Unicornscan's window: two targets suffice
    for c in range(m):  # one pass over the candidates' fields for both keys
        i = cand[c]
        d = np.int64(dst[i])
        dp = _val(dport, dport_v, i, 0)
        ports = ((dp << 16) + _val(sport, sport_v, i, 0)) & 0xFFFFFFFF
        s = np.int64(seq[i]) ^ ports
        hi = np.uint64(_val(src, src_v, i, 0)) << np.uint64(32)
        keys[c] = hi | np.uint64((s ^ d) & 0xFFFFFFFF)
        keys_swapped[c] = hi | np.uint64((s ^ _bswap32(d)) & 0xFFFFFFFF)
        targets[c] = (d << 16) | dp
        four[c] = _val(win, win_v, i, -1) == UNICORNSCAN_WINDOW
    distinct = _distinct_targets(keys, targets, table, bits, epoch)
    distinct_swapped = _distinct_targets(keys_swapped, targets, table, bits, epoch)
    for c in range(m):
        most = max(distinct[c], distinct_swapped[c])
        if most >= 3 or (most >= 2 and four[c]):
            out[cand[c]] = T_UNICORNSCAN


@njit(cache=True, nogil=True)
def dotted_quads(addrs, out):  # type: ignore[no-untyped-def]
    """The dotted-quad text of each IPv4 address (host-order integer) into ``out`` (at least
    16 bytes an address), each followed by a newline; the number of bytes written."""
    pos = 0
    for i in range(addrs.shape[0]):
        a = np.int64(addrs[i])
        for shift in range(24, -8, -8):
            o = (a >> shift) & 0xFF
            if o >= 100:
                out[pos] = 48 + o // 100
                pos += 1
            if o >= 10:
                out[pos] = 48 + (o // 10) % 10
                pos += 1
            out[pos] = 48 + o % 10
            out[pos + 1] = 46 if shift else 10  # "." between octets, "\n" after the last
            pos += 2
    return pos


#: Value of a free slot in an address table (a found but unresolved address holds -1).
FREE: Final = -2
#: A free slot: address 0, value :data:`FREE` (an entry is ``address << 32 | value``).
FREE_ENTRY: Final = np.uint64(FREE & 0xFFFFFFFF)
_LOW: Final = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def addr_slots(table, addrs, slots, fresh):  # type: ignore[no-untyped-def]
    """Find each of ``addrs`` in an open-addressing table (entries ``address << 32 | value``,
    one 8-byte word a slot so that a probe is one cache miss; size a power of two, at most
    three quarters full; a free slot holds :data:`FREE_ENTRY`), inserting the missing ones
    with value -1.

    ``slots[i]`` receives the value of ``addrs[i]`` when it has one (>= 0: read with the
    probe, not gathered again), else ``-1 - slot`` (inserted now, or earlier and not resolved
    yet); the slots inserted now go to ``fresh`` (in order of first sight). Returns how many
    were inserted.
    """
    size = table.shape[0]
    mask = size - 1
    bits = 0
    while (1 << bits) < size:
        bits += 1
    shift = np.uint64(64 - bits)
    n_new = 0
    for i in range(addrs.shape[0]):
        a = np.uint64(addrs[i])
        h = np.int64((a * _GOLDEN) >> shift)
        while True:
            e = table[h]
            if e == FREE_ENTRY:
                table[h] = (a << np.uint64(32)) | _LOW  # value -1: not resolved yet
                fresh[n_new] = h
                n_new += 1
                break
            if e >> np.uint64(32) == a:
                break
            h = (h + 1) & mask
        v = np.int64(np.int32(np.uint32(table[h] & np.uint64(0xFFFFFFFF))))
        slots[i] = v if v >= 0 else -1 - h
    return n_new


@njit(cache=True, nogil=True)
def rehash_addrs(table, new_table):  # type: ignore[no-untyped-def]
    """Move every entry of one address table into a larger, empty one."""
    size = new_table.shape[0]
    mask = size - 1
    bits = 0
    while (1 << bits) < size:
        bits += 1
    shift = np.uint64(64 - bits)
    for s in range(table.shape[0]):
        e = table[s]
        if e == FREE_ENTRY:
            continue
        h = np.int64(((e >> np.uint64(32)) * _GOLDEN) >> shift)
        while new_table[h] != FREE_ENTRY:
            h = (h + 1) & mask
        new_table[h] = e

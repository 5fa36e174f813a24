"""The field-decode kernel: IP and TCP/UDP/ICMP fields of framed records, into columns.

One compiled pass over the records of a batch writes each kept packet's fields into column
``j`` of uint8/uint16/uint32 matrices (a row per output column, + validity), the IPv6
addresses, and flat payload and TCP-option-kind buffers with their offsets;
:mod:`teiten.capture.arrow` turns those into Arrow arrays without copying through Python
objects.

What is decided here (and tested):

* An IP header that cannot be real (version not matching the link layer or not 4/6, IPv4 IHL < 5
  or total length < IHL) skips the record as ``bad-ip-header``; an IP header cut by the
  snapshot skips it as ``truncated-ip-header``.
* An IP length larger than the frame keeps the row (counted ``ip-length-exceeds-frame``):
  ``payload_len`` is what the header claims, ``payload`` what was captured.
* A TCP/UDP/ICMP header cut by the snapshot keeps the row with null ``payload_len``
  (``truncated-l4-header``) and the L4 fields whose bytes were captured: ports from 4 bytes,
  ICMP type/code from 4 bytes (echo id/seq from 8), the other TCP fields only with all 20.
* A TCP data offset < 5 or past the IP packet keeps the row with null ``tcp_opts`` and the
  payload after 20 bytes (``bad-tcp-header``).
* ``payload_len`` is the L4 payload on the wire from the IP lengths (after the 20+ TCP, 8 UDP,
  8 ICMP/ICMPv6 header bytes; the whole IP payload for other protocols and later fragments);
  Ethernet padding is never payload.
* Option kinds stop after EOL (kind 0, kept) or a malformed length (< 2).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from teiten.capture import damage as d
from teiten.capture.framing import TS_NONE
from teiten.capture.linktypes import l3_starts
from teiten.core.aot import njit

# Validity groups: columns that are valid together share one validity row (and bitmap).
(G_V4, G_V6, G_PORTS, G_TCP, G_OPTS, G_MSS, G_WS, G_ICMP, G_ECHO, G_INNER, G_IPORTS, G_PLEN,
 G_TS) = range(13)
N_VALID: Final = 13
ALWAYS: Final = -1  # valid in every row (IP header fields every packet has)

# Output slots: (row in the matrix of the column's width, validity group).
IPV, PROTO, ITYPE, ICODE, FLAGS, TTL, IPFLAGS, FRAG, WS, IPROTO = zip(
    range(10),
    (ALWAYS, ALWAYS, G_ICMP, G_ICMP, G_TCP, ALWAYS, G_V4, ALWAYS, G_WS, G_INNER),
    strict=True,
)
SPORT, DPORT, IPID, IPLEN, WIN, MSS, IID, ISEQ, PLEN, ISPORT, IDPORT, IFACE = zip(
    range(12),
    (G_PORTS, G_PORTS, G_V4, ALWAYS, G_TCP, G_MSS, G_ECHO, G_ECHO, G_PLEN, G_IPORTS, G_IPORTS,
     ALWAYS),
    strict=True,
)
SRC, DST, SEQ, ACK, ISRC, IDST, WIRE = zip(
    range(7), (G_V4, G_V4, G_TCP, G_TCP, G_INNER, G_INNER, ALWAYS), strict=True
)
N8: Final = 10
N16: Final = 12
N32: Final = 7

PROTO_ICMP: Final = 1
PROTO_TCP: Final = 6
PROTO_UDP: Final = 17
PROTO_ICMP6: Final = 58
IP6_HOPOPTS: Final = 0
IP6_ROUTING: Final = 43
IP6_FRAGMENT: Final = 44
IP6_AH: Final = 51
IP6_DSTOPTS: Final = 60
TCP_OPT_EOL: Final = 0
TCP_OPT_NOP: Final = 1
TCP_OPT_MSS: Final = 2
TCP_OPT_WSCALE: Final = 3


@njit(inline="always", cache=True)
def _u16(b, p):  # type: ignore[no-untyped-def]
    return (np.int64(b[p]) << 8) | np.int64(b[p + 1])


@njit(inline="always", cache=True)
def _u32(b, p):  # type: ignore[no-untyped-def]
    return (
        (np.int64(b[p]) << 24) | (np.int64(b[p + 1]) << 16) | (np.int64(b[p + 2]) << 8)
        | np.int64(b[p + 3])
    )


@njit(inline="always", cache=True)
def _icmp_has_id(proto, t):  # type: ignore[no-untyped-def]
    if proto == PROTO_ICMP6:
        return t == 128 or t == 129
    return t == 0 or t == 8 or (13 <= t <= 18)


@njit(cache=True, nogil=True)
def decode(  # type: ignore[no-untyped-def]
    buf, r_off, r_cap, r_wire, r_ts, r_if, if_link, payload_cap,
    M8, M16, M32, V, ts_out, s6, d6, pay, pay_off, opts, opt_off, status,
):
    """Decode records into rows; returns the number of rows (status[i] = code per record)."""
    j = 0
    pp = 0
    op = 0
    pay_off[0] = 0
    opt_off[0] = 0
    n = r_off.shape[0]
    l3s = np.empty(n, np.int64)
    ipvs = np.empty(n, np.int64)
    codes = np.empty(n, np.int64)
    l3_starts(buf, r_off, r_cap, r_if, if_link, l3s, ipvs, codes)
    for i in range(n):
        o = r_off[i]
        lim = o + r_cap[i]
        l3 = l3s[i]
        ipv = ipvs[i]
        code = codes[i]
        if code != d.OK:
            status[i] = code
            continue
        if l3 >= lim:
            status[i] = d.TRUNCATED_IP_HEADER
            continue
        v = buf[l3] >> 4
        if ipv == 0 and (v == 4 or v == 6):
            ipv = v
        if v != ipv:
            status[i] = d.BAD_IP_HEADER
            continue
        on_wire = r_wire[i] - (l3 - o)
        kept = np.int64(d.OK)
        frag = 0
        l4ok = True
        if ipv == 4:
            if l3 + 20 > lim:
                status[i] = d.TRUNCATED_IP_HEADER
                continue
            ihl = (np.int64(buf[l3]) & 15) * 4
            tot = _u16(buf, l3 + 2)
            if ihl < 20 or tot < ihl:
                status[i] = d.BAD_IP_HEADER
                continue
            if l3 + ihl > lim:
                status[i] = d.TRUNCATED_IP_HEADER
                continue
            fo = _u16(buf, l3 + 6)
            proto = np.int64(buf[l3 + 9])
            V[G_V4, j] = 1
            M32[SRC[0], j] = _u32(buf, l3 + 12)
            M32[DST[0], j] = _u32(buf, l3 + 16)
            M16[IPID[0], j] = _u16(buf, l3 + 4)
            M8[IPFLAGS[0], j] = fo >> 13
            M16[IPLEN[0], j] = tot
            M8[TTL[0], j] = buf[l3 + 8]
            if fo & 0x1FFF:
                frag = 2
            elif fo & 0x2000:
                frag = 1
            l4 = l3 + ihl
            ip_end = l3 + tot
            if tot > on_wire:
                kept = np.int64(d.IP_LENGTH_EXCEEDS_FRAME)
        else:
            if l3 + 40 > lim:
                status[i] = d.TRUNCATED_IP_HEADER
                continue
            plen = _u16(buf, l3 + 4)
            nh = np.int64(buf[l3 + 6])
            M8[TTL[0], j] = buf[l3 + 7]
            M16[IPLEN[0], j] = min(plen + 40, 65535)
            for k in range(16):
                s6[j, k] = buf[l3 + 8 + k]
                d6[j, k] = buf[l3 + 24 + k]
            V[G_V6, j] = 1
            ip_end = l3 + 40 + plen
            q = l3 + 40
            for _ in range(64):
                if nh in (IP6_HOPOPTS, IP6_ROUTING, IP6_DSTOPTS, IP6_AH):
                    if q + 2 > lim or q + 2 > ip_end:
                        l4ok = False
                        break
                    if nh == IP6_AH:
                        hl = (np.int64(buf[q + 1]) + 2) * 4
                    else:
                        hl = (np.int64(buf[q + 1]) + 1) * 8
                    nh = np.int64(buf[q])
                    q += hl
                elif nh == IP6_FRAGMENT:
                    if q + 8 > lim or q + 8 > ip_end:
                        l4ok = False
                        break
                    fo = _u16(buf, q + 2)
                    nh = np.int64(buf[q])
                    q += 8
                    if fo >> 3:
                        frag = 2
                        break
                    if fo & 1:
                        frag = 1
                else:
                    break
            proto = nh
            l4 = q
            if plen + 40 > on_wire:
                kept = np.int64(d.IP_LENGTH_EXCEEDS_FRAME)
        M8[IPV[0], j] = ipv
        M8[PROTO[0], j] = proto
        M8[FRAG[0], j] = frag
        ip_pay = max(ip_end - l4, 0)
        end = min(lim, ip_end)  # captured bytes of this IP packet (no link-layer padding)
        avail = end - l4
        hdr = 0
        if frag == 2:
            pass
        elif not l4ok:
            kept = np.int64(d.TRUNCATED_L4_HEADER)
        elif proto == PROTO_TCP:
            if avail < 20:
                kept = np.int64(d.TRUNCATED_L4_HEADER)
                l4ok = False
                if avail >= 4:  # the ports were captured: keep them (as tshark does)
                    V[G_PORTS, j] = 1
                    M16[SPORT[0], j] = _u16(buf, l4)
                    M16[DPORT[0], j] = _u16(buf, l4 + 2)
            else:
                V[G_PORTS, j] = 1
                V[G_TCP, j] = 1
                M16[SPORT[0], j] = _u16(buf, l4)
                M16[DPORT[0], j] = _u16(buf, l4 + 2)
                M32[SEQ[0], j] = _u32(buf, l4 + 4)
                M32[ACK[0], j] = _u32(buf, l4 + 8)
                M8[FLAGS[0], j] = buf[l4 + 13]
                M16[WIN[0], j] = _u16(buf, l4 + 14)
                doff = (int(buf[l4 + 12]) >> 4) * 4
                hdr = 20
                if doff < 20:
                    kept = np.int64(d.BAD_TCP_HEADER)
                else:
                    hdr = doff
                    if doff > ip_pay:
                        kept = np.int64(d.BAD_TCP_HEADER)
                    V[G_OPTS, j] = 1
                    k = l4 + 20
                    kend = min(l4 + doff, end)
                    while k < kend:
                        kind = buf[k]
                        opts[op] = kind
                        op += 1
                        if kind == TCP_OPT_EOL:
                            break
                        if kind == TCP_OPT_NOP:
                            k += 1
                            continue
                        if k + 1 >= kend:
                            break
                        ln = np.int64(buf[k + 1])
                        if ln < 2:
                            break
                        if kind == TCP_OPT_MSS and ln == 4 and k + 4 <= kend:
                            M16[MSS[0], j] = _u16(buf, k + 2)
                            V[G_MSS, j] = 1
                        elif kind == TCP_OPT_WSCALE and ln == 3 and k + 3 <= kend:
                            M8[WS[0], j] = buf[k + 2]
                            V[G_WS, j] = 1
                        k += ln
        elif proto == PROTO_UDP:
            if avail < 8:
                kept = np.int64(d.TRUNCATED_L4_HEADER)
                l4ok = False
                if avail >= 4:
                    V[G_PORTS, j] = 1
                    M16[SPORT[0], j] = _u16(buf, l4)
                    M16[DPORT[0], j] = _u16(buf, l4 + 2)
            else:
                V[G_PORTS, j] = 1
                M16[SPORT[0], j] = _u16(buf, l4)
                M16[DPORT[0], j] = _u16(buf, l4 + 2)
                hdr = 8
        elif proto in (PROTO_ICMP, PROTO_ICMP6):
            if avail < 4:
                kept = np.int64(d.TRUNCATED_L4_HEADER)
                l4ok = False
            else:
                t = np.int64(buf[l4])
                V[G_ICMP, j] = 1
                M8[ITYPE[0], j] = t
                M8[ICODE[0], j] = buf[l4 + 1]
                hdr = 8
                if avail < 8:
                    kept = np.int64(d.TRUNCATED_L4_HEADER)
                elif _icmp_has_id(proto, t):
                    V[G_ECHO, j] = 1
                    M16[IID[0], j] = _u16(buf, l4 + 4)
                    M16[ISEQ[0], j] = _u16(buf, l4 + 6)
                elif proto == PROTO_ICMP and (t == 3 or t == 4 or t == 5 or t == 11 or t == 12):
                    e = l4 + 8
                    if avail >= 28 and (buf[e] >> 4) == 4 and (buf[e] & 15) >= 5:
                        ihl2 = (np.int64(buf[e]) & 15) * 4
                        iproto = np.int64(buf[e + 9])
                        V[G_INNER, j] = 1
                        M8[IPROTO[0], j] = iproto
                        M32[ISRC[0], j] = _u32(buf, e + 12)
                        M32[IDST[0], j] = _u32(buf, e + 16)
                        if (iproto in (PROTO_TCP, PROTO_UDP)) and avail >= 12 + ihl2:
                            V[G_IPORTS, j] = 1
                            M16[ISPORT[0], j] = _u16(buf, e + ihl2)
                            M16[IDPORT[0], j] = _u16(buf, e + ihl2 + 2)
        opt_off[j + 1] = op
        if l4ok:
            plen_wire = max(ip_pay - hdr, 0)
            V[G_PLEN, j] = 1
            M16[PLEN[0], j] = plen_wire
            start = l4 + hdr
            cnt = min(payload_cap, plen_wire, end - start)
            for k in range(max(cnt, 0)):
                pay[pp + k] = buf[start + k]
            pp += max(cnt, 0)
        pay_off[j + 1] = pp
        M32[WIRE[0], j] = r_wire[i]
        M16[IFACE[0], j] = r_if[i]
        ts_out[j] = r_ts[i]
        V[G_TS, j] = r_ts[i] != TS_NONE
        status[i] = kept
        j += 1
    return j

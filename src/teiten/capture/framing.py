"""Framing kernels: find the packet records in a buffer of pcap or pcapng bytes.

Each kernel walks records from ``pos`` and fills preallocated arrays (record start, data
offset, captured and wire length, timestamp in ns, interface, record number) until the buffer
ends, an array is full, or (pcapng) a block that Python handles itself (SHB, IDB) is next.
Problems are written to the damage arrays as codes from :mod:`teiten.capture.damage`.

Garbage is resynchronised, not fatal: after an implausible record header (pcap: captured
length above :data:`MAX_RECORD`; pcapng: a bad block length or trailer) the kernel scans byte by
byte for the next plausible record, confirmed by the record after it (pcap) or by the
trailing block length (pcapng), and goes on from there. The skipped bytes count as one
``garbage-skipped`` / ``bad-block-length`` problem.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from teiten.capture import damage as d
from teiten.core.aot import njit

#: Largest captured length of a classic pcap record accepted (libpcap's maximum snapshot).
MAX_RECORD: Final = 262144
#: Largest pcapng block accepted (libpcap's initial maximum block size).
MAX_BLOCK: Final = 16 << 20
#: A resynchronised pcap record's time must be within this many seconds of the last good one.
RESYNC_WINDOW_S: Final = 30 * 86400
#: Timestamp of records that carry none (pcapng simple packet blocks): null in the output.
TS_NONE: Final = np.iinfo(np.int64).min
#: Largest int64, and the most whole seconds a nanosecond int64 timestamp holds (year 2262).
INT64_MAX: Final = np.iinfo(np.int64).max
MAX_SECONDS: Final = INT64_MAX // 1_000_000_000 - 1

# status returned by the kernels
NEED_MORE: Final = 0  # buffer exhausted (at end of input: done)
FULL: Final = 1  # output or damage arrays full: call again
SPECIAL: Final = 2  # pcapng SHB or IDB at pos: Python reads it

SHB: Final = 0x0A0D0D0A
IDB: Final = 1
PB: Final = 2
SPB: Final = 3
EPB: Final = 6


@njit(inline="always", cache=True)
def rd16(b, p, be):  # type: ignore[no-untyped-def]
    if be:
        return (np.int64(b[p]) << 8) | np.int64(b[p + 1])
    return np.int64(b[p]) | (np.int64(b[p + 1]) << 8)


@njit(inline="always", cache=True)
def rd32(b, p, be):  # type: ignore[no-untyped-def]
    if be:
        return (
            (np.int64(b[p]) << 24)
            | (np.int64(b[p + 1]) << 16)
            | (np.int64(b[p + 2]) << 8)
            | np.int64(b[p + 3])
        )
    return (
        np.int64(b[p])
        | (np.int64(b[p + 1]) << 8)
        | (np.int64(b[p + 2]) << 16)
        | (np.int64(b[p + 3]) << 24)
    )


@njit(inline="always", cache=True)
def _pcap_plausible(b, q, end, be, frac_max, last_sec):  # type: ignore[no-untyped-def]
    """Whether a pcap record header at q looks real; returns (ok, next header position)."""
    sec = rd32(b, q, be)
    frac = rd32(b, q + 4, be)
    incl = rd32(b, q + 8, be)
    orig = rd32(b, q + 12, be)
    ok = incl <= MAX_RECORD and incl <= orig and orig <= MAX_RECORD and frac < frac_max
    if ok and last_sec >= 0:
        ok = abs(sec - last_sec) <= RESYNC_WINDOW_S
    return ok, q + 16 + incl


@njit(cache=True, nogil=True)
def frame_pcap(  # type: ignore[no-untyped-def]
    buf, pos, end, eof, be, frac_mul, frac_max, snaplen, mode, rec_no, last_sec,
    r_hdr, r_off, r_cap, r_wire, r_ts, r_no, d_off, d_no, d_code,
):
    """Frame classic pcap records; returns (status, pos, n, n_damage, mode, rec_no, last_sec)."""
    n = 0
    nd = 0
    p = pos
    status = np.int64(NEED_MORE)
    while True:
        if n >= r_hdr.shape[0] or nd >= d_off.shape[0] - 1:
            status = np.int64(FULL)
            break
        if mode == 1:
            q = p
            found = False
            while q + 16 <= end:
                ok, nxt = _pcap_plausible(buf, q, end, be, frac_max, last_sec)
                if ok:
                    if nxt + 16 <= end:
                        ok2, _ = _pcap_plausible(buf, nxt, end, be, frac_max, last_sec)
                        if ok2:
                            found = True
                            break
                    elif eof:
                        if nxt == end:
                            found = True
                            break
                    else:
                        break  # cannot confirm without more bytes: resume here
                q += 1
            if found:
                p = q
                mode = 0
            else:
                p = end if eof else min(q, end)
                break
        if p + 16 > end:
            if eof and p < end:
                d_off[nd] = p
                d_no[nd] = rec_no
                d_code[nd] = d.TRUNCATED_RECORD
                nd += 1
                rec_no += 1
                p = end
            break
        incl = rd32(buf, p + 8, be)
        if incl > MAX_RECORD:
            d_off[nd] = p
            d_no[nd] = rec_no
            d_code[nd] = d.GARBAGE
            nd += 1
            mode = 1
            p += 1
            continue
        if p + 16 + incl > end:
            if not eof:
                break
            d_off[nd] = p
            d_no[nd] = rec_no
            d_code[nd] = d.TRUNCATED_RECORD
            nd += 1
            rec_no += 1
            mode = 1
            p += 1
            continue
        if snaplen > 0 and incl > snaplen:
            d_off[nd] = p
            d_no[nd] = rec_no
            d_code[nd] = d.CAPLEN_EXCEEDS_SNAPLEN
            nd += 1
        sec = rd32(buf, p, be)
        last_sec = sec
        r_hdr[n] = p
        r_off[n] = p + 16
        r_cap[n] = incl
        r_wire[n] = rd32(buf, p + 12, be)
        r_ts[n] = sec * 1_000_000_000 + rd32(buf, p + 4, be) * frac_mul
        r_no[n] = rec_no
        n += 1
        rec_no += 1
        p += 16 + incl
    return status, p, n, nd, mode, rec_no, last_sec


@njit(inline="always", cache=True)
def _block_plausible(b, q, end, be):  # type: ignore[no-untyped-def]
    """Whether a pcapng block starts at q: 1 yes, 0 no, -1 cannot tell without more bytes."""
    t = rd32(b, q, be)
    if t == SHB:
        bom = rd32(b, q + 8, be)
        return 1 if bom == 0x1A2B3C4D or bom == 0x4D3C2B1A else 0
    if not (1 <= t <= 10 or t == 0xBAD or t == 0x40000BAD):
        return 0
    length = rd32(b, q + 4, be)
    if length < 12 or length & 3 or length > MAX_BLOCK:
        return 0
    if q + length > end:
        return -1
    return 1 if rd32(b, q + length - 4, be) == length else 0


@njit(cache=True, nogil=True)
def frame_pcapng(  # type: ignore[no-untyped-def]
    buf, pos, end, eof, be, mode, rec_no, n_if, if_base, if_snap, if_mul, if_div, if_shift,
    if_off, r_hdr, r_off, r_cap, r_wire, r_ts, r_if, r_no, d_off, d_no, d_code,
):
    """Frame pcapng packet blocks; returns (status, pos, n, n_damage, mode, rec_no)."""
    n = 0
    nd = 0
    p = pos
    status = np.int64(NEED_MORE)
    while True:
        if n >= r_hdr.shape[0] or nd >= d_off.shape[0] - 1:
            status = np.int64(FULL)
            break
        if mode == 1:
            q = p
            found = False
            need = False
            while q + 12 <= end:
                v = _block_plausible(buf, q, end, be)
                if v == 1:
                    found = True
                    break
                if v == -1 and not eof:
                    need = True
                    break
                q += 1
            if found:
                p = q
                mode = 0
            else:
                p = q if (need or not eof) else end
                break
        if p + 12 > end:
            if eof and p < end:
                d_off[nd] = p
                d_no[nd] = rec_no
                d_code[nd] = d.TRUNCATED_RECORD
                nd += 1
                p = end
            break
        t = rd32(buf, p, be)
        if t == SHB:
            status = np.int64(SPECIAL)
            break
        length = rd32(buf, p + 4, be)
        if length < 12 or length & 3 or length > MAX_BLOCK:
            d_off[nd] = p
            d_no[nd] = rec_no
            d_code[nd] = d.BAD_BLOCK_LENGTH
            nd += 1
            mode = 1
            p += 1
            continue
        if p + length > end:
            if not eof:
                break
            d_off[nd] = p
            d_no[nd] = rec_no
            d_code[nd] = d.TRUNCATED_RECORD
            nd += 1
            mode = 1
            p += 1
            continue
        if rd32(buf, p + length - 4, be) != length:
            d_off[nd] = p
            d_no[nd] = rec_no
            d_code[nd] = d.BLOCK_TRAILER_MISMATCH
            nd += 1
            mode = 1
            p += 1
            continue
        if t == IDB:
            status = np.int64(SPECIAL)
            break
        if t in (EPB, PB, SPB):
            code = np.int64(d.OK)
            g = 0
            ts = np.int64(TS_NONE)
            data = 0
            cap = 0
            wire = 0
            if t == SPB:
                if length < 16:
                    code = np.int64(d.BAD_BLOCK_LENGTH)
                elif n_if == 0:
                    code = np.int64(d.NO_INTERFACE)
                else:
                    g = if_base
                    wire = rd32(buf, p + 8, be)
                    cap = min(wire, length - 16)
                    if if_snap[g] > 0:
                        cap = min(cap, if_snap[g])
                    ts = np.int64(TS_NONE)
                    data = p + 12
            else:
                if length < 32:
                    code = np.int64(d.BAD_BLOCK_LENGTH)
                else:
                    iid = rd32(buf, p + 8, be) if t == EPB else rd16(buf, p + 8, be)
                    cap = rd32(buf, p + 20, be)
                    wire = rd32(buf, p + 24, be)
                    data = p + 28
                    if iid >= n_if:
                        code = np.int64(d.NO_INTERFACE)
                    elif cap > length - 32:
                        code = np.int64(d.BAD_CAPLEN)
                    else:
                        g = if_base + iid
                        u = (rd32(buf, p + 12, be) << 32) | rd32(buf, p + 16, be)
                        sh = if_shift[g]
                        if u < 0 or (
                            u > INT64_MAX // if_mul[g] if sh < 0 else (u >> sh) > MAX_SECONDS
                        ):
                            code = np.int64(d.TIMESTAMP_OUT_OF_RANGE)  # after the year 2262
                        elif sh < 0:
                            ts = u * if_mul[g] // if_div[g]
                        elif sh <= 30:
                            mask = (np.int64(1) << sh) - 1
                            ts = (u >> sh) * 1_000_000_000 + (((u & mask) * 1_000_000_000) >> sh)
                        else:
                            mask = (np.int64(1) << sh) - 1
                            ts = (u >> sh) * 1_000_000_000 + np.int64(
                                np.float64(u & mask) * (1e9 / 2.0**sh)
                            )
                        if code == d.OK:
                            if if_off[g] > 0 and ts > INT64_MAX - if_off[g]:
                                code = np.int64(d.TIMESTAMP_OUT_OF_RANGE)
                            else:
                                ts += if_off[g]
            if code != d.OK:
                d_off[nd] = p
                d_no[nd] = rec_no
                d_code[nd] = code
                nd += 1
            else:
                r_hdr[n] = p
                r_off[n] = data
                r_cap[n] = cap
                r_wire[n] = wire
                r_ts[n] = ts
                r_if[n] = g
                r_no[n] = rec_no
                n += 1
            rec_no += 1
        p += length
    return status, p, n, nd, mode, rec_no

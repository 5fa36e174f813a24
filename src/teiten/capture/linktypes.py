"""Link layers: where the IP header starts in a frame, for each supported link type.

Supported (LINKTYPE_* numbers from tcpdump.org): Ethernet (1) with any stack of 802.1Q /
802.1ad / 0x9100 tags, raw IP (101 and the platform aliases 12 and 14; 228 IPv4 only; 229 IPv6
only), Linux cooked SLL (113) and SLL2 (276), BSD null (0) and OpenBSD loop (108) with the
address family in either byte order (AF_INET 2; AF_INET6 24, 28, 30 as BSDs number it).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from teiten.capture import damage as d
from teiten.core.aot import njit

ETHERNET: Final = 1
RAW: Final = 101
RAW_ALIASES: Final = (12, 14)
IPV4: Final = 228
IPV6: Final = 229
LINUX_SLL: Final = 113
LINUX_SLL2: Final = 276
NULL: Final = 0
LOOP: Final = 108

SUPPORTED: Final = frozenset({ETHERNET, RAW, *RAW_ALIASES, IPV4, IPV6, LINUX_SLL, LINUX_SLL2,
                              NULL, LOOP})

ETH_IP4: Final = 0x0800
ETH_IP6: Final = 0x86DD
ETH_8021Q: Final = 0x8100
ETH_8021AD: Final = 0x88A8
ETH_QINQ: Final = 0x9100

AF_INET: Final = 2
AF_INET6_BSD: Final = 24
AF_INET6_FREEBSD: Final = 28
AF_INET6_DARWIN: Final = 30


@njit(inline="always", cache=True)
def _be16(b, p):  # type: ignore[no-untyped-def]
    return (np.int64(b[p]) << 8) | np.int64(b[p + 1])


@njit(cache=True)
def l3_start(b, o, lim, lt):  # type: ignore[no-untyped-def]
    """Find the IP header of the frame ``b[o:lim]`` of link type ``lt``.

    Returns (offset of the IP header, IP version expected or 0 to read it, damage code).
    Called, not inlined: inlined, its early returns made Numba count a reference to ``b``
    for every packet (an atomic increment and decrement each), where a call borrows it.
    """
    if lt in (ETHERNET, LINUX_SLL, LINUX_SLL2):
        if lt == ETHERNET:
            et_at = o + 12
            l3 = o + 14
        elif lt == LINUX_SLL:
            et_at = o + 14
            l3 = o + 16
        else:
            et_at = o
            l3 = o + 20
        if l3 > lim:
            return 0, 0, d.TRUNCATED_L2
        et = _be16(b, et_at)
        while et in (ETH_8021Q, ETH_8021AD, ETH_QINQ):
            if l3 + 4 > lim:
                return 0, 0, d.TRUNCATED_L2
            et = _be16(b, l3 + 2)
            l3 += 4
        if et == ETH_IP4:
            return l3, 4, d.OK
        if et == ETH_IP6:
            return l3, 6, d.OK
        return 0, 0, d.NON_IP
    if lt == RAW or lt == 12 or lt == 14:
        return o, 0, d.OK
    if lt == IPV4:
        return o, 4, d.OK
    if lt == IPV6:
        return o, 6, d.OK
    if lt in (NULL, LOOP):
        if o + 4 > lim:
            return 0, 0, d.TRUNCATED_L2
        le = (
            np.int64(b[o])
            | (np.int64(b[o + 1]) << 8)
            | (np.int64(b[o + 2]) << 16)
            | (np.int64(b[o + 3]) << 24)
        )
        fam = le
        if le > 0xFFFF:  # written big-endian: the low bytes came first
            fam = (
                (np.int64(b[o]) << 24)
                | (np.int64(b[o + 1]) << 16)
                | (np.int64(b[o + 2]) << 8)
                | np.int64(b[o + 3])
            )
        if fam == AF_INET:
            return o + 4, 4, d.OK
        if fam in (AF_INET6_BSD, AF_INET6_FREEBSD, AF_INET6_DARWIN):
            return o + 4, 6, d.OK
        return 0, 0, d.NON_IP
    return 0, 0, d.UNKNOWN_LINKTYPE

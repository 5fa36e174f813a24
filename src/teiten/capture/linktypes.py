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
def l3_starts(b, r_off, r_cap, r_if, if_link, l3, ipv, code):  # type: ignore[no-untyped-def]
    """Find the IP header of every frame ``b[r_off[i]:r_off[i] + r_cap[i]]``, of link type
    ``if_link[r_if[i]]``: its offset into ``l3[i]``, the IP version the link layer names (or
    0: read it from the header) into ``ipv[i]``, and a damage code into ``code[i]``.

    One pass over a chunk, called once by the decoder: a per-packet helper inlined into the
    decoder's loop made Numba count a reference to ``b`` for every packet (an atomic
    increment and decrement each), as it does for an array passed to an inlined function
    that returns early.
    """
    for i in range(r_off.shape[0]):
        o = r_off[i]
        lim = o + r_cap[i]
        lt = if_link[r_if[i]]
        l3[i] = 0
        ipv[i] = 0
        if lt in (ETHERNET, LINUX_SLL, LINUX_SLL2):
            if lt == ETHERNET:
                et_at = o + 12
                at = o + 14
            elif lt == LINUX_SLL:
                et_at = o + 14
                at = o + 16
            else:
                et_at = o
                at = o + 20
            if at > lim:
                code[i] = d.TRUNCATED_L2
                continue
            et = _be16(b, et_at)
            while et in (ETH_8021Q, ETH_8021AD, ETH_QINQ):
                if at + 4 > lim:
                    break
                et = _be16(b, at + 2)
                at += 4
            if et in (ETH_IP4, ETH_IP6):
                l3[i] = at
                ipv[i] = 4 if et == ETH_IP4 else 6
                code[i] = d.OK
            elif et in (ETH_8021Q, ETH_8021AD, ETH_QINQ):
                code[i] = d.TRUNCATED_L2
            else:
                code[i] = d.NON_IP
        elif lt in (RAW, IPV4, IPV6) or lt == 12 or lt == 14:
            l3[i] = o
            ipv[i] = 4 if lt == IPV4 else (6 if lt == IPV6 else 0)
            code[i] = d.OK
        elif lt in (NULL, LOOP):
            if o + 4 > lim:
                code[i] = d.TRUNCATED_L2
                continue
            fam = (
                np.int64(b[o])
                | (np.int64(b[o + 1]) << 8)
                | (np.int64(b[o + 2]) << 16)
                | (np.int64(b[o + 3]) << 24)
            )
            if fam > 0xFFFF:  # written big-endian: the low bytes came first
                fam = (
                    (np.int64(b[o]) << 24)
                    | (np.int64(b[o + 1]) << 16)
                    | (np.int64(b[o + 2]) << 8)
                    | np.int64(b[o + 3])
                )
            if fam == AF_INET:
                l3[i] = o + 4
                ipv[i] = 4
                code[i] = d.OK
            elif fam in (AF_INET6_BSD, AF_INET6_FREEBSD, AF_INET6_DARWIN):
                l3[i] = o + 4
                ipv[i] = 6
                code[i] = d.OK
            else:
                code[i] = d.NON_IP
        else:
            code[i] = d.UNKNOWN_LINKTYPE

"""IP packets covering every protocol quirk the decoder supports, and their link-layer frames."""

from __future__ import annotations

import socket
import struct

import dpkt
from build import eth, ip4, tcp4, udp4

SRC6 = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
DST6 = socket.inet_pton(socket.AF_INET6, "2001:db8:ffff::2")

#: MSS, SACK-permitted, timestamps, NOP, window scale (a Linux SYN).
LINUX_OPTS = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x03\x07"


def _tcp(sport: int = 1234, dport: int = 445, opts: bytes = b"", data: bytes = b"",
         flags: int = dpkt.tcp.TH_SYN) -> bytes:
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=0xDEADBEEF, ack=7, flags=flags, win=29200,
                     opts=opts, data=data)
    t.off = (20 + len(opts)) // 4
    return bytes(t)


def ip6(next_header: int, body: bytes, hlim: int = 55) -> bytes:
    return struct.pack(">IHBB16s16s", 0x60000000, len(body), next_header, hlim, SRC6,
                       DST6) + body


def _ext(nxt: int, size8: int = 0) -> bytes:
    """A generic IPv6 extension header (hop-by-hop, routing, destination options)."""
    return bytes([nxt, size8]) + bytes(6 + 8 * size8)


def _frag4(proto: int, data: bytes, offset8: int, more: bool, ident: int = 99) -> bytes:
    ip = dpkt.ip.IP(src=b"\x0a\x00\x00\x09", dst=b"\xc0\x00\x02\x09", p=proto, ttl=33, id=ident,
                    _flags_offset=(0x2000 if more else 0) | offset8, data=data)
    ip.len = 20 + len(data)
    return bytes(ip)


def _icmp(icmp_type: int, code: int, body: bytes) -> bytes:
    return struct.pack(">BBH", icmp_type, code, 0) + body


def ipv4_packets() -> list[bytes]:
    quoted_tcp = tcp4("192.0.2.7", "198.51.100.1", 445, 51000)[:28]
    quoted_udp = udp4("192.0.2.8", "198.51.100.2", 53, 40000)[:28]
    rr = b"\x07\x07\x04" + bytes(4) + b"\x01"  # record route (7 bytes) + NOP: 8 option bytes
    return [
        tcp4(opts=LINUX_OPTS),
        tcp4(sport=6000, dport=1433, flags=dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, data=b"hello"),
        tcp4(opts=b"\x02\x04\x05\xb4\x01\x00\x00\x00"),  # EOL ends the kinds
        udp4(data=b"\x00" * 700),  # longer than the payload cap
        bytes(ip4(dpkt.udp.UDP(sport=1, dport=2, ulen=12, data=b"opts"), "10.1.1.1",
                  "192.0.2.3", 17, opts=rr)),
        bytes(ip4(_icmp(8, 0, struct.pack(">HH", 0x1234, 7) + b"ping"), "10.0.0.3",
                  "192.0.2.4", 1)),
        bytes(ip4(_icmp(13, 0, struct.pack(">HH", 9, 10) + bytes(12)), "10.0.0.3", "192.0.2.4",
                  1)),
        bytes(ip4(_icmp(3, 3, bytes(4) + quoted_tcp), "10.0.0.4", "192.0.2.5", 1)),
        bytes(ip4(_icmp(11, 0, bytes(4) + quoted_udp), "10.0.0.5", "192.0.2.5", 1)),
        bytes(ip4(_icmp(5, 1, b"\x0a\x00\x00\x01" + quoted_tcp), "10.0.0.6", "192.0.2.5", 1)),
        bytes(ip4(b"\x00\x00\x08\x00" + bytes(20), "10.0.0.7", "192.0.2.6", 47)),  # GRE
        _frag4(6, _tcp(opts=LINUX_OPTS) + bytes(16), 0, True),
        _frag4(6, bytes(24), 5, False),
    ]


def ipv6_packets() -> list[bytes]:
    tcp = _tcp(opts=LINUX_OPTS, data=b"GET /")
    udp = struct.pack(">HHHH", 5000, 161, 8 + 6, 0) + b"public"
    ah = bytes([6, 4]) + bytes(22)  # (4 + 2) * 4 = 24 bytes
    return [
        ip6(6, tcp),
        ip6(17, udp),
        ip6(0, _ext(60) + _ext(43, 1) + _ext(17) + udp),  # hop-by-hop, dest opts, routing
        ip6(51, ah + tcp),
        ip6(50, bytes(32)),  # ESP: stops
        ip6(44, struct.pack(">BBHI", 6, 0, 1, 77) + tcp),  # first fragment
        ip6(44, struct.pack(">BBHI", 6, 0, 8 << 3, 77) + bytes(40)),  # later fragment
        ip6(58, _icmp(128, 0, struct.pack(">HH", 5, 6) + b"echo")),
        ip6(58, _icmp(1, 4, bytes(4) + ip6(17, udp))),
    ]


def frames(linktype: int, packets: list[bytes]) -> list[bytes]:
    """Wrap IP packets into frames of ``linktype`` (several variants where the type has them)."""
    out: list[bytes] = []
    for i, p in enumerate(packets):
        v6 = p[0] >> 4 == 6
        etype = 0x86DD if v6 else 0x0800
        if linktype == 1:
            tags = [(), (0x8100,), (0x88A8, 0x8100), (0x9100, 0x9100, 0x8100)][i % 4]
            out.append(eth(p, etype, tags))
        elif linktype == 113:
            out.append(struct.pack(">HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\0\0", etype) + p)
        elif linktype == 276:
            out.append(struct.pack(">HHIHBB8s", etype, 0, 2, 1, 0, 6, b"\x02" * 6 + b"\0\0")
                       + p)
        elif linktype in (0, 108):
            fam = [24, 28, 30][i % 3] if v6 else 2
            order = "<" if (linktype == 0 and i % 2 == 0) else ">"
            out.append(struct.pack(order + "I", fam) + p)
        else:
            out.append(p)
    return out

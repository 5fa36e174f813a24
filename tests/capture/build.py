"""Byte-by-byte capture builders for the capture tests (struct framing, dpkt packets)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import dpkt

NS = 1_000_000_000
T0 = 1_700_000_000  # a fixed capture time (2023-11-14)


# ------------------------------------------------------------------ classic pcap
def pcap_header(linktype: int = 1, *, be: bool = False, ns: bool = False,
                snaplen: int = 65535) -> bytes:
    magic = 0xA1B23C4D if ns else 0xA1B2C3D4
    return struct.pack((">" if be else "<") + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(data: bytes, ts_ns: int = T0 * NS, *, be: bool = False, ns: bool = False,
                wire_len: int | None = None, caplen: int | None = None) -> bytes:
    sec, frac = divmod(ts_ns, NS)
    if not ns:
        frac //= 1000
    return struct.pack(
        (">" if be else "<") + "IIII", sec, frac,
        len(data) if caplen is None else caplen,
        len(data) if wire_len is None else wire_len,
    ) + data


def pcap(frames: Sequence[bytes], linktype: int = 1, *, be: bool = False, ns: bool = False,
         snaplen: int = 65535, t0: int = T0 * NS) -> bytes:
    return pcap_header(linktype, be=be, ns=ns, snaplen=snaplen) + b"".join(
        pcap_record(fr, t0 + i * 1000, be=be, ns=ns) for i, fr in enumerate(frames)
    )


# ------------------------------------------------------------------------ pcapng
def _pad(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def block(btype: int, body: bytes, *, be: bool = False) -> bytes:
    e = ">" if be else "<"
    body = _pad(body)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def option(code: int, value: bytes, *, be: bool = False) -> bytes:
    return struct.pack((">" if be else "<") + "HH", code, len(value)) + _pad(value)


def shb(*, be: bool = False) -> bytes:
    e = ">" if be else "<"
    return block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), be=be)


def idb(linktype: int = 1, *, snaplen: int = 0, name: str | None = None,
        tsresol: int | None = None, tsoffset: int | None = None, be: bool = False) -> bytes:
    e = ">" if be else "<"
    opts = b""
    if name is not None:
        opts += option(2, name.encode(), be=be)
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), be=be)
    if tsoffset is not None:
        opts += option(14, struct.pack(e + "q", tsoffset), be=be)
    if opts:
        opts += option(0, b"", be=be)
    return block(1, struct.pack(e + "HHI", linktype, 0, snaplen) + opts, be=be)


def epb(data: bytes, units: int = T0 * 1_000_000, *, iface: int = 0, be: bool = False,
        wire_len: int | None = None) -> bytes:
    e = ">" if be else "<"
    head = struct.pack(e + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data),
                       len(data) if wire_len is None else wire_len)
    return block(6, head + data, be=be)


def spb(data: bytes, wire_len: int | None = None, *, be: bool = False) -> bytes:
    e = ">" if be else "<"
    return block(3, struct.pack(e + "I", len(data) if wire_len is None else wire_len) + data,
                 be=be)


def pb(data: bytes, units: int = T0 * 1_000_000, *, iface: int = 0, be: bool = False) -> bytes:
    e = ">" if be else "<"
    head = struct.pack(e + "HHIIII", iface, 0, units >> 32, units & 0xFFFFFFFF, len(data),
                       len(data))
    return block(2, head + data, be=be)


# ----------------------------------------------------------------------- packets
def tcp4(src: str = "10.0.0.1", dst: str = "192.0.2.1", sport: int = 40000, dport: int = 23,
         flags: int = dpkt.tcp.TH_SYN, opts: bytes = b"", data: bytes = b"", **ip: int) -> bytes:
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=12345, ack=0, flags=flags, win=1024,
                     opts=opts, data=data)
    t.off = (20 + len(opts)) // 4
    return bytes(ip4(t, src, dst, dpkt.ip.IP_PROTO_TCP, **ip))


def ip4(l4: dpkt.Packet | bytes, src: str, dst: str, proto: int, **kw: int) -> dpkt.ip.IP:
    import socket

    p = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto,
                   ttl=kw.pop("ttl", 64), id=kw.pop("id", 7), data=l4, **kw)
    p.len = len(bytes(p))  # with options
    return p


def udp4(src: str = "10.0.0.2", dst: str = "192.0.2.2", sport: int = 5353, dport: int = 53,
         data: bytes = b"q") -> bytes:
    u = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
    u.ulen = 8 + len(data)
    return bytes(ip4(u, src, dst, dpkt.ip.IP_PROTO_UDP))


def eth(ip_bytes: bytes, etype: int = 0x0800, tags: Sequence[int] = ()) -> bytes:
    head = b"\x00\x11\x22\x33\x44\x55" + b"\x66\x77\x88\x99\xaa\xbb"
    for tpid in tags:
        head += struct.pack(">HH", tpid, 100)
    frame = head + struct.pack(">H", etype) + ip_bytes
    return frame + b"\0" * max(0, 60 - len(frame))

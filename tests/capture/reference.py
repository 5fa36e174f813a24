"""An independent per-packet decoder built on dpkt: the expected value of every column."""

from __future__ import annotations

import struct
from typing import Any

import dpkt

ECHO4 = {0, 8, 13, 14, 15, 16, 17, 18}
ERRORS4 = {3, 4, 5, 11, 12}


def ip_layer(linktype: int, frame: bytes) -> tuple[Any, int]:
    """The dpkt IP/IP6 object of a frame (None for non-IP frames) and its offset."""
    if linktype == 1:
        e = dpkt.ethernet.Ethernet(frame)
        off = 14
        while frame[off - 2 : off] in (b"\x81\x00", b"\x88\xa8", b"\x91\x00"):
            off += 4
        ip = e.data
    elif linktype == 113:
        ip, off = dpkt.sll.SLL(frame).data, 16
    elif linktype == 276:
        ip, off = dpkt.sll2.SLL2(frame).data, 20
    elif linktype in (0, 108):
        ip, off = dpkt.loopback.Loopback(frame).data, 4
    else:
        ip = dpkt.ip.IP(frame) if frame[0] >> 4 == 4 else dpkt.ip6.IP6(frame)
        off = 0
    return (ip if isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) else None), off


def _u32(b: bytes) -> int:
    return int.from_bytes(b, "big")


def expected(linktype: int, frame: bytes, payload_cap: int = 512) -> dict[str, Any] | None:
    """Expected DECODED_SCHEMA values (minus ts, wire_len, interface) for one frame."""
    ip, off = ip_layer(linktype, frame)
    if ip is None:
        return None
    # L4 bytes are taken from the frame: re-serialising dpkt objects recomputes checksums
    raw = frame[off : off + (ip.len if isinstance(ip, dpkt.ip.IP) else 40 + ip.plen)]
    row: dict[str, Any] = dict.fromkeys(
        ["src", "dst", "src6", "dst6", "sport", "dport", "icmp_type", "icmp_code", "tcp_flags",
         "ip_id", "ip_flags", "tcp_seq", "tcp_ack", "tcp_win", "tcp_opts", "tcp_mss",
         "tcp_wscale", "icmp_id", "icmp_seq", "inner_proto", "inner_src", "inner_dst",
         "inner_sport", "inner_dport"]
    )
    if isinstance(ip, dpkt.ip.IP):
        row.update(ip_version=4, src=_u32(ip.src), dst=_u32(ip.dst), ttl=ip.ttl, ip_id=ip.id,
                   ip_len=ip.len, ip_flags=ip._flags_offset >> 13, proto=ip.p)
        fragment = 2 if ip.offset else (1 if ip.mf else 0)
        l4 = raw[len(raw) - len(bytes(ip.data)) :]
    else:
        proto = getattr(ip, "p", None)
        if proto is None:  # dpkt stops at ESP without naming it; the rest is ESP's
            proto = ip.nxt
            ip.data = raw[40:]
        row.update(ip_version=6, src6=ip.src, dst6=ip.dst, ttl=ip.hlim, ip_len=ip.plen + 40,
                   proto=proto)
        frag = ip.extension_hdrs.get(44) if hasattr(ip, "extension_hdrs") else None
        fragment = 0
        if frag is not None:
            fragment = 2 if frag.frag_off else (1 if frag.m_flag else 0)
        l4 = raw[len(raw) - len(bytes(ip.data)) :]
    row["fragment"] = fragment
    hdr = 0
    if fragment != 2:
        if row["proto"] == 6:
            t = dpkt.tcp.TCP(l4)
            opts = dpkt.tcp.parse_opts(t.opts)
            kinds = [o for o, _ in opts]
            if 0 in kinds:  # teiten (like Wireshark) stops at End of Option List; dpkt goes on
                opts = opts[: kinds.index(0) + 1]
            row.update(sport=t.sport, dport=t.dport, tcp_seq=t.seq, tcp_ack=t.ack,
                       tcp_flags=t.flags, tcp_win=t.win, tcp_opts=bytes(o for o, _ in opts))
            for kind, value in opts:
                if kind == 2 and len(value) == 2:
                    row["tcp_mss"] = struct.unpack(">H", value)[0]
                if kind == 3 and len(value) == 1:
                    row["tcp_wscale"] = value[0]
            hdr = t.off * 4
        elif row["proto"] == 17:
            u = dpkt.udp.UDP(l4)
            row.update(sport=u.sport, dport=u.dport)
            hdr = 8
        elif row["proto"] in (1, 58):
            icmp = dpkt.icmp.ICMP(l4) if row["proto"] == 1 else dpkt.icmp6.ICMP6(l4)
            row.update(icmp_type=icmp.type, icmp_code=icmp.code)
            hdr = 8
            echo6 = row["proto"] == 58 and icmp.type in (128, 129)
            if (row["proto"] == 1 and icmp.type in ECHO4) or echo6:
                row["icmp_id"], row["icmp_seq"] = struct.unpack(">HH", l4[4:8])
            elif row["proto"] == 1 and icmp.type in ERRORS4:
                inner = dpkt.ip.IP(l4[8:])
                row.update(inner_proto=inner.p, inner_src=_u32(inner.src),
                           inner_dst=_u32(inner.dst))
                if inner.p in (6, 17):
                    quoted = l4[8 + inner.hl * 4:]
                    row["inner_sport"], row["inner_dport"] = struct.unpack(">HH", quoted[:4])
    row["payload_len"] = len(l4) - hdr
    row["payload"] = l4[hdr:][:payload_cap]
    return row

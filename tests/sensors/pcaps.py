"""Tiny pcap files built in the test with dpkt (fixed seed)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import dpkt


def syn_pcap(path: Path, n: int, *, seed: int = 1, t0: float = 1_790_000_000.0,
             dst: str = "10.77.0.2") -> Path:
    """Write ``n`` Ethernet/IPv4/TCP SYNs from random sources to ``dst``."""
    rng = random.Random(seed)
    with open(path, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for i in range(n):
            tcp = dpkt.tcp.TCP(sport=rng.randrange(1024, 65535), dport=rng.choice([22, 23, 445]),
                               flags=dpkt.tcp.TH_SYN, seq=rng.getrandbits(32))
            ip = dpkt.ip.IP(src=socket.inet_aton(f"203.0.113.{rng.randrange(1, 255)}"),
                            dst=socket.inet_aton(dst), p=dpkt.ip.IP_PROTO_TCP, ttl=64, data=tcp)
            ip.len = len(ip)
            eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6,
                                         type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
            w.writepkt(bytes(eth), ts=t0 + i)
    return path

"""Per-kind packet field builders: from (source rows, destinations, times) to packet columns.

Every builder is vectorised over the packets of one chunk. Tool fingerprints follow
``specs/detections.md`` §3–4 so the detections can find them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from teiten.capture.writer import (
    IP_DF,
    IP_PROTO_ICMP,
    IP_PROTO_TCP,
    IP_PROTO_UDP,
    TH_ACK,
    TH_RST,
    TH_SYN,
    PacketColumns,
    Ragged,
    quote,
)
from teiten.simulate import payloads
from teiten.simulate.stacks import MSS, syn_options
from teiten.simulate.world import Event, World

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]

ZMAP_IP_ID = 54321
ZMAP_NEW_OPTS = MSS + b"\x01\x03\x03\x08\x01\x01\x04\x02"  # MSS, NOP, WS 8, NOP, NOP, SACKOK


def _ip_id(world: World, gs: I64, ts: I64, rng: np.random.Generator) -> npt.NDArray[np.uint16]:
    """Windows: a per-host counter (rises with time); others: random."""
    S = world.sources
    out = rng.integers(0, 65536, len(gs))
    inc = (S.ipid[gs].astype(np.int64) + (ts - world.start) // (NS_PER_S // 3)) & 0xFFFF
    return np.where(S.counter[gs], inc, out).astype(np.uint16)


NS_PER_S = 1_000_000_000


def population(world: World, kind: str, proto: int, gs: I64, dst: U32, ts: I64,
               rng: np.random.Generator) -> PacketColumns:
    """Packets of a rate population (background, conficker, mirai, slammer, nachi...)."""
    S = world.sources
    n = len(gs)
    src = S.addr[gs]
    ttl = S.ttl[gs]
    fixed = S.sport[gs]
    eph = S.eph_lo[gs] + (rng.random(n) * S.eph_span[gs]).astype(np.int64)
    sport = np.where(fixed == 0, eph, fixed).astype(np.uint16)
    ip_id = _ip_id(world, gs, ts, rng)
    frag = np.where(S.df[gs], IP_DF, 0).astype(np.uint16)
    if kind == "mirai":
        # seq = destination address; 23, every tenth probe of a bot to 2323; no options.
        # A sensor sees a random sample of a bot's probe sequence: draw each packet's index
        # in that sequence, and probes with index % 10 == 0 go to 2323.
        probe = rng.integers(0, 1 << 30, n)
        dport = np.where(probe % 10 == 0, 2323, 23).astype(np.uint16)
        return PacketColumns.make(src, dst, IP_PROTO_TCP, sport=S.sport[gs], dport=dport,
                                  flags=TH_SYN, seq=dst, win=S.win[gs], ttl=ttl,
                                  ip_id=rng.integers(0, 65536, n), ip_frag=0)
    if proto == IP_PROTO_TCP:
        opts = syn_options(S.stack[gs].astype(np.int64), world.stack_names, ts)
        return PacketColumns.make(src, dst, IP_PROTO_TCP, sport=sport, dport=S.port[gs],
                                  flags=TH_SYN, seq=rng.integers(0, 2**32, n, dtype=np.uint32),
                                  win=S.win[gs], ttl=ttl, ip_id=ip_id, ip_frag=frag,
                                  tcp_options=opts)
    if proto == IP_PROTO_UDP:
        if kind == "slammer":
            pay = Ragged.constant(payloads.SLAMMER, n)
            dport = np.full(n, 1434, dtype=np.uint16)
        elif kind == "messenger":
            pay = Ragged.constant(payloads.messenger(), n)
            dport = S.port[gs]
        elif kind == "dns-any":
            pay = Ragged.constant(payloads.dns_any(), n)
            dport = np.full(n, 53, dtype=np.uint16)
        else:
            pay = Ragged.empty(n)
            dport = S.port[gs]
            is53 = dport == 53
            if is53.any():
                pay = _mixed(pay, is53, payloads.dns_any("example.com").replace(b"\x00\xff",
                                                                                b"\x00\x01"))
        return PacketColumns.make(src, dst, IP_PROTO_UDP, sport=sport, dport=dport, ttl=ttl,
                                  ip_id=ip_id, ip_frag=0 if kind == "messenger" else frag,
                                  payload=pay)
    # ICMP echo requests: Nachi (64 x 0xAA) or Windows ping data
    data = payloads.NACHI if kind == "nachi" else payloads.WINDOWS_PING
    return PacketColumns.make(src, dst, IP_PROTO_ICMP, icmp_type=8, icmp_code=0,
                              icmp_id=(S.ipid[gs] | 0x100), icmp_seq=_rank_within(gs) + 1,
                              ttl=ttl, ip_id=ip_id, ip_frag=0,
                              payload=Ragged.constant(data, n))


def _mixed(base: Ragged, mask: npt.NDArray[np.bool_], value: bytes) -> Ragged:
    lens = base.lengths()
    lens[mask] = len(value)
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    data = np.zeros(int(offsets[-1]), dtype=np.uint8)
    idx = np.flatnonzero(mask)
    data[(offsets[idx][:, None] + np.arange(len(value))).ravel()] = np.tile(
        np.frombuffer(value, dtype=np.uint8), len(idx))
    return Ragged(data, offsets)


def _rank_within(keys: I64) -> I64:
    """For each element, how many earlier elements share its key (0, 1, 2, ...)."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    start = np.r_[0, np.flatnonzero(sk[1:] != sk[:-1]) + 1]
    run = np.repeat(start, np.diff(np.r_[start, len(sk)]))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - run
    return rank


def event_packets(ev: Event, dst: U32, dport: npt.NDArray[np.uint16], ts: I64,
                  rng: np.random.Generator) -> PacketColumns:
    """Packets of an event (``dport`` carries the planned port / spoofed port / amplifier)."""
    n = len(ts)
    d = ev.detail
    if ev.kind == "scan":
        return _scan(ev, dst, dport, rng)
    if ev.kind == "smurf":
        amps = ev.src[dport.astype(np.int64)]
        hops = (amps % 17).astype(np.int64) + 5
        return PacketColumns.make(amps, dst, IP_PROTO_ICMP, icmp_type=0, icmp_code=0,
                                  icmp_id=d["icmp_id"], icmp_seq=rng.integers(0, 65536, n),
                                  ttl=(np.where(amps % 3 == 0, 128, 64) - hops),
                                  ip_id=rng.integers(0, 65536, n),
                                  payload=Ragged.constant(payloads.WINDOWS_PING, n))
    # DDoS backscatter from the victim to spoofed (sensor) addresses
    victim = np.full(n, ev.src[0], dtype=np.uint32)
    vport = int(d["victim_port"])
    ttl = 64 - 12
    atype = d["attack"]
    if atype in ("syn", "rst"):
        synack = atype == "syn"
        opts = (Ragged.constant(MSS + b"\x04\x02\x01\x01\x01\x03\x03\x07", n) if synack
                else Ragged.empty(n))
        return PacketColumns.make(
            victim, dst, IP_PROTO_TCP, sport=vport, dport=dport,
            flags=(TH_SYN | TH_ACK) if synack else (TH_RST | TH_ACK),
            seq=rng.integers(0, 2**32, n, dtype=np.uint32),
            ack=rng.integers(0, 2**32, n, dtype=np.uint32), win=29200 if synack else 0,
            ttl=ttl, ip_id=0 if synack else rng.integers(0, 65536, n), ip_frag=IP_DF,
            tcp_options=opts)
    if atype == "ping":
        return PacketColumns.make(victim, dst, IP_PROTO_ICMP, icmp_type=0, icmp_code=0,
                                  icmp_id=rng.integers(0, 65536, n),
                                  icmp_seq=rng.integers(0, 65536, n), ttl=ttl,
                                  ip_id=rng.integers(0, 65536, n),
                                  payload=Ragged.constant(bytes(56), n))
    # UDP flood on a closed port: ICMP port unreachable quoting the spoofed UDP packet
    inner = PacketColumns.make(dst, victim, IP_PROTO_UDP, sport=dport, dport=vport,
                               ttl=rng.integers(30, 250, n), ip_id=rng.integers(0, 65536, n),
                               payload=bytes(32))
    return PacketColumns.make(victim, dst, IP_PROTO_ICMP, icmp_type=3, icmp_code=3, ttl=ttl,
                              ip_id=rng.integers(0, 65536, n), payload=quote(inner))


def _scan(ev: Event, dst: U32, dport: npt.NDArray[np.uint16],
          rng: np.random.Generator) -> PacketColumns:
    n = len(dst)
    d = ev.detail
    v = d["variant"]
    src = np.full(n, ev.src[0], dtype=np.uint32)
    hops = int(ev.src[0] % 13) + 6
    seq = rng.integers(0, 2**32, n, dtype=np.uint32)
    rid = rng.integers(0, 65536, n)
    if v == "zmap-old":  # IP ID 54321, TTL 255, window 65535, MSS 1460 (v3-v4.0)
        return PacketColumns.make(src, dst, IP_PROTO_TCP, sport=rng.integers(32768, 61000, n),
                                  dport=dport, flags=TH_SYN, seq=seq, win=65535,
                                  ttl=255 - hops, ip_id=ZMAP_IP_ID, tcp_options=MSS)
    if v == "zmap-new":  # random IP ID, TTL 64, window 65535, Windows-style options (v4.1+)
        return PacketColumns.make(src, dst, IP_PROTO_TCP, sport=rng.integers(32768, 61000, n),
                                  dport=dport, flags=TH_SYN, seq=seq, win=65535,
                                  ttl=64 - hops, ip_id=rid, tcp_options=ZMAP_NEW_OPTS)
    if v in ("masscan", "masscan-old"):  # ip_id = (dst ^ dport ^ seq) & 0xffff, TTL 255
        ip_id = (dst ^ dport.astype(np.uint32) ^ seq) & 0xFFFF
        sport = d["sport_base"] % 20000 + 40000 + rng.integers(0, 16, n)
        return PacketColumns.make(src, dst, IP_PROTO_TCP, sport=sport, dport=dport,
                                  flags=TH_SYN, seq=seq, win=1024, ttl=255 - hops, ip_id=ip_id,
                                  tcp_options=MSS if v == "masscan" else None)
    if v == "nmap":  # window 1024, MSS 1460 only, TTL 37-59 as sent, fixed source port
        return PacketColumns.make(src, dst, IP_PROTO_TCP, sport=d["sport_base"], dport=dport,
                                  flags=TH_SYN, seq=d["seq_base"], win=1024,
                                  ttl=rng.integers(37, 60, n), ip_id=rid, tcp_options=MSS)
    # unicornscan: seq = K ^ dst ^ ((dport << 16) + sport), TTL 255, window 4128, MSS
    sport = rng.integers(4096, 65536, n).astype(np.uint32)
    key = np.uint32(d["syn_key"])
    useq = key ^ dst ^ (((dport.astype(np.uint32) << np.uint32(16)) + sport) & 0xFFFFFFFF)
    return PacketColumns.make(src, dst, IP_PROTO_TCP, sport=sport, dport=dport, flags=TH_SYN,
                              seq=useq, win=4128, ttl=255 - hops, ip_id=rid, tcp_options=MSS)

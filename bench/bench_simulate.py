"""Simulator benchmark (issue 3): packets written per second, vs a naive dpkt writer.

Run: ``.venv/bin/python bench/bench_simulate.py [--packets 100000000] [--keep DIR]``

- ``teiten simulate`` on the telescope preset, its block widened and its volume scaled so the
  world holds about ``--packets`` packets (default 3 million; the issue's full size is 100
  million). Reports packets/s and MB/s of pcap written, whole run (planning, generation,
  encoding, writing, truth).
- The same kind of packets written by a naive per-packet dpkt writer (build Ethernet/IP/TCP
  objects, let dpkt compute checksums, ``dpkt.pcap.Writer``) on a 50,000-packet sample, and the
  ratio.
- Peak RSS of the simulator process (memory is bounded by the chunk size).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np

from teiten.simulate import Params, load_scenario, simulate

#: Sum of the telescope preset's per-address daily rates is about this many packets.
_RATE_PER_ADDRESS_DAY = 585


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_simulator(packets: int, out: Path, seed: int) -> tuple[int, float, float, int]:
    """Simulate ~``packets`` packets; returns (packets, wall s, CPU s, bytes written)."""
    sc = load_scenario("telescope")
    prefix = 16 if packets >= 20_000_000 else 18 if packets >= 3_000_000 else 20
    sc = replace(sc, sensors=replace(sc.sensors, block=f"100.127.0.0/{prefix}"))
    naddr = 2 ** (32 - prefix)
    days = max(1, int(np.ceil(packets / (naddr * _RATE_PER_ADDRESS_DAY))))
    scale = packets / (naddr * _RATE_PER_ADDRESS_DAY * days)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    t, c = time.perf_counter(), _cpu()
    s = simulate(sc, start, start + timedelta(days=days), out, Params(seed=seed, scale=scale),
                 force=True)
    elapsed, cpu = time.perf_counter() - t, _cpu() - c
    size = sum(p.stat().st_size for p in (out / "captures").rglob("*.pcap"))
    return s.packets, elapsed, cpu, size


def run_dpkt(n: int, out: Path, seed: int) -> tuple[float, float]:
    """Naive per-packet writer: dpkt objects, checksums by dpkt, dpkt.pcap.Writer."""
    import dpkt

    rng = np.random.default_rng(seed)
    src = rng.integers(1 << 24, 224 << 24, n, dtype=np.uint32).tolist()
    dst = (0x647F0000 + rng.integers(0, 65536, n)).tolist()
    dport = rng.choice([23, 445, 22, 80, 3389], n).tolist()
    t, c = time.perf_counter(), _cpu()
    with open(out, "wb") as f:
        w = dpkt.pcap.Writer(f)
        for i in range(n):
            tcp = dpkt.tcp.TCP(sport=40000 + i % 1000, dport=dport[i], seq=i, flags=dpkt.tcp.TH_SYN,
                               win=1024, opts=b"\x02\x04\x05\xb4")
            ip = dpkt.ip.IP(src=src[i].to_bytes(4, "big"), dst=dst[i].to_bytes(4, "big"),
                            p=dpkt.ip.IP_PROTO_TCP, ttl=64, id=i & 0xFFFF, data=tcp)
            ip.len = len(ip)
            eth = dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x02",
                                         dst=b"\x02\x00\x00\x00\x00\x01", data=ip)
            w.writepkt(bytes(eth), ts=1_790_812_800 + i * 1e-3)
    return time.perf_counter() - t, _cpu() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=3_000_000)
    ap.add_argument("--sample", type=int, default=50_000, help="dpkt sample size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="write the world here and keep it")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    out = args.keep or tmp / "world"
    try:
        n, secs, cpu, size = run_simulator(args.packets, out, args.seed)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        d_secs, d_cpu = run_dpkt(args.sample, tmp / "dpkt.pcap", args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average    : {os.getloadavg()[0]:.1f} (wall-clock rates suffer on a busy machine;"
          " CPU rates less)")
    print(f"teiten simulate : {n:>12,} packets, wall {secs:7.1f} s = {n / secs:>11,.0f} packets/s,"
          f" CPU {cpu:7.1f} s = {n / cpu:>11,.0f} packets/s ({size / cpu / 1e6:,.0f} MB/CPU-s of"
          f" pcap), peak RSS {rss_mb:,.0f} MB")
    print(f"dpkt per packet : {args.sample:>12,} packets, wall {d_secs:7.1f} s = "
          f"{args.sample / d_secs:>11,.0f} packets/s, CPU {d_cpu:7.1f} s = "
          f"{args.sample / d_cpu:>11,.0f} packets/s")
    print(f"ratio (CPU)     : {(n / cpu) / (args.sample / d_cpu):,.1f}x")


if __name__ == "__main__":
    main()

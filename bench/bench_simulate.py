"""Simulator benchmark (issue 3): packets written per second, vs a naive dpkt writer.

Run: ``taskset -c 0 .venv/bin/python bench/bench_simulate.py [--packets 100000000] [--memory]``

- ``teiten simulate`` on the telescope preset, its block widened and its volume scaled so the
  world holds about ``--packets`` packets (default 3 million; the issue's full size is 100
  million), in a child process: packets per CPU-second (user + system) and per wall second,
  MB of pcap per CPU-second, and the child's peak RSS. The whole run is timed: planning,
  generation, encoding, writing, truth.
- The same kind of packets written by a naive per-packet dpkt writer (build Ethernet/IP/TCP
  objects, let dpkt compute checksums, ``dpkt.pcap.Writer``) on a 50,000-packet sample, and the
  ratio.
- ``--memory``: peak RSS of longer periods, each in its own child process: a /16 telescope over
  ``--days`` days (default 7, 2 million packets a day) and a month of the ``npa`` preset at
  scale 1.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
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


def _peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``), MiB. Not ``ru_maxrss``: Linux carries
    the parent's peak into a child across ``fork``/``exec``, so a small simulation would
    report the benchmark's own figure."""
    with open("/proc/self/status") as fh:
        kb = next(ln for ln in fh if ln.startswith("VmHWM")).split()[1]
    return int(kb) / 1024


def child(args: argparse.Namespace) -> None:
    """Run one simulation in this (child) process; print its figures as JSON."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    if args.child == "npa":
        sc = load_scenario("npa")
        days = args.days or 31
        scale = 1.0
    else:
        sc = load_scenario("telescope")
        sc = replace(sc, sensors=replace(sc.sensors, block=f"100.127.0.0/{args.prefix}"))
        naddr = 2 ** (32 - args.prefix)
        days = args.days or max(1, int(np.ceil(args.packets / (naddr * _RATE_PER_ADDRESS_DAY))))
        scale = args.packets / (naddr * _RATE_PER_ADDRESS_DAY * days)
    end = start + timedelta(days=days)
    t, c = time.perf_counter(), time.process_time()
    s = simulate(sc, start, end, args.out, Params(seed=args.seed, scale=scale), force=True)
    elapsed, run_cpu = time.perf_counter() - t, time.process_time() - c
    r = resource.getrusage(resource.RUSAGE_SELF)
    size = sum(p.stat().st_size for p in (args.out / "captures").rglob("*.pcap"))
    print(json.dumps({"packets": s.packets, "wall": elapsed, "run_cpu": run_cpu,
                      "user": r.ru_utime,
                      "sys": r.ru_stime, "rss_mb": _peak_rss_mb(), "bytes": size,
                      "days": days, "scale": scale}))


def run_child(kind: str, out: Path, seed: int, packets: int = 0, days: int = 0,
              prefix: int = 16) -> dict[str, float]:
    """Run :func:`child` in a fresh interpreter (its own CPU time and peak RSS).

    The child's CPU time (user + sys) includes the interpreter start and imports (about a
    second); ``run_cpu`` is the CPU time of the ``simulate()`` call alone.
    """
    cmd = [sys.executable, __file__, "--child", kind, "--out", str(out), "--seed", str(seed),
           "--packets", str(packets), "--days", str(days), "--prefix", str(prefix)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    res: dict[str, float] = json.loads(r.stdout.strip().splitlines()[-1])
    return res


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
    ap.add_argument("--memory", action="store_true",
                    help="also peak RSS of a /16 over --days days and of an npa month")
    ap.add_argument("--days", type=int, default=0, help="days of the --memory telescope (7)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--prefix", type=int, default=16, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    out = args.keep or tmp / "world"
    prefix = 16 if args.packets >= 20_000_000 else 18 if args.packets >= 3_000_000 else 20
    try:
        r = run_child("telescope", out, args.seed, packets=args.packets, prefix=prefix)
        mem = []
        if args.memory:
            days = args.days or 7
            for kind, n, d in (("telescope", days * 2_000_000, days), ("npa", 0, 31)):
                shutil.rmtree(out, ignore_errors=True)
                mem.append((kind, run_child(kind, out, args.seed, packets=n, days=d)))
        d_secs, d_cpu = run_dpkt(args.sample, tmp / "dpkt.pcap", args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    n, cpu = int(r["packets"]), r["user"] + r["sys"]
    print(f"load average    : {os.getloadavg()[0]:.1f} (wall-clock rates suffer on a busy machine;"
          " CPU rates less)")
    print(f"teiten simulate : {n:>12,} packets (/{prefix}, {int(r['days'])} days), wall "
          f"{r['wall']:6.1f} s = {n / r['wall']:>10,.0f} packets/s; CPU {cpu:6.1f} s "
          f"(user {r['user']:.1f} + sys {r['sys']:.1f}) = {n / cpu:>10,.0f} packets/s "
          f"({r['bytes'] / cpu / 1e6:,.0f} MB/CPU-s of pcap); peak RSS {r['rss_mb']:,.0f} MB")
    print(f"                  simulate() alone (no interpreter start, imports): CPU "
          f"{r['run_cpu']:6.1f} s = {n / r['run_cpu']:>10,.0f} packets/s")
    for kind, m in mem:
        what = (f"/16 telescope, {int(m['days'])} days" if kind == "telescope"
                else f"npa, {int(m['days'])} days at scale 1")
        print(f"memory          : {what}: {int(m['packets']):,} packets, peak RSS "
              f"{m['rss_mb']:,.0f} MB, CPU {m['user'] + m['sys']:.1f} s")
    print(f"dpkt per packet : {args.sample:>12,} packets, wall {d_secs:6.1f} s = "
          f"{args.sample / d_secs:>10,.0f} packets/s, CPU {d_cpu:6.1f} s = "
          f"{args.sample / d_cpu:>10,.0f} packets/s")
    print(f"ratio (CPU)     : {(n / cpu) / (args.sample / d_cpu):,.1f}x")


if __name__ == "__main__":
    main()

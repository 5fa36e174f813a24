"""Shared helpers for the benchmarks: a darknet-like capture with a fixed seed, timing, memory."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from teiten.capture.writer import (
    IP_PROTO_ICMP,
    IP_PROTO_TCP,
    IP_PROTO_UDP,
    TH_ACK,
    TH_RST,
    TH_SYN,
    CaptureWriter,
    PacketColumns,
    Ragged,
)

T0 = 1_790_812_800 * 10**9  # 2026-10-01T00:00:00Z
MSS_OPTS = bytes.fromhex("020405b4")  # MSS 1460: a 60-byte (+14 Ethernet) SYN
LINUX_OPTS = bytes.fromhex("020405b40402080a0000000000000000010303070000")[:20]


def darknet_columns(n: int, rng: np.random.Generator) -> PacketColumns:
    """Mostly 58-74-byte TCP SYNs, some UDP/ICMP and backscatter, to a /24 darknet."""
    kind = rng.choice(4, n, p=[0.86, 0.06, 0.04, 0.04])  # syn, udp, icmp echo, backscatter
    proto = np.where(kind == 1, IP_PROTO_UDP, np.where(kind == 2, IP_PROTO_ICMP, IP_PROTO_TCP))
    flags = np.where(kind == 0, TH_SYN, np.where(kind == 3, TH_SYN | TH_ACK, 0))
    flags = np.where((kind == 3) & (rng.random(n) < 0.3), TH_RST | TH_ACK, flags)
    ports = np.array([23, 445, 22, 80, 3389, 1433, 8080, 443, 5555, 2323, 135, 139])
    dport = np.where(rng.random(n) < 0.7, rng.choice(ports, n), rng.integers(1, 65535, n))
    sources = rng.integers(0x01000000, 0xDF000000, max(n // 20, 1), dtype=np.uint32)
    opts = np.where(rng.random(n) < 0.5, 1, 0)
    payload = Ragged.from_list([b"", b"\x00" * 12])
    return PacketColumns.make(
        src=sources[rng.integers(0, len(sources), n)],
        dst=0xCB007100 + rng.integers(0, 256, n).astype(np.uint32),
        proto=proto, sport=rng.integers(1024, 65535, n), dport=dport, flags=flags,
        seq=rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32), win=1024,
        ttl=rng.integers(30, 128, n), ip_id=rng.integers(0, 65536, n), icmp_type=8,
        icmp_id=rng.integers(0, 65536, n), icmp_seq=1,
        tcp_options=Ragged.from_list([b"", MSS_OPTS]).take(opts.astype(np.int64)),
        payload=payload.take((kind == 1).astype(np.int64)),
    )


def make_capture(path: Path, packets: int, seed: int = 7, chunk: int = 1_000_000) -> Path:
    """Write (once) a darknet-like pcap of ``packets`` packets spread over a day."""
    if path.exists() and path.stat().st_size > 0:
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    step = 86_400 * 10**9 // max(packets, 1)
    with CaptureWriter(tmp) as w:
        for start in range(0, packets, chunk):
            n = min(chunk, packets - start)
            ts = T0 + (start + np.arange(n, dtype=np.int64)) * step
            w.write(ts, darknet_columns(n, rng))
    os.replace(tmp, path)
    return path


@dataclass
class Run:
    """One timed command."""

    name: str
    seconds: float
    packets: int
    peak_rss_mib: float
    #: user + system CPU seconds of the child (all its threads)
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.packets / self.seconds if self.seconds else 0.0


#: Runs a command and reports its own resource use (``timed``): wall seconds from spawn to
#: exit, then the command's ``wait4`` figures, on the file descriptor named by ``argv[1]``.
#: A separate small process because Linux carries a process's peak RSS over ``fork`` and
#: ``exec`` (``exec`` keeps the larger of the old address space's high-water mark and the new
#: one's; ``posix_spawn`` shares the parent's address space until ``exec``): a command started
#: from the benchmark itself - which has just generated a capture in memory - reported the
#: benchmark's peak, not its own (``tcpdump -r -w /dev/null``: 493 MiB under a 400 MiB parent;
#: its own is 6 MiB). Started from this launcher (~9 MiB, ``-I -S``), a command's peak RSS is
#: its own, or the launcher's when that is larger.
_LAUNCH = """
import os, sys, time
fd, cmd = int(sys.argv[1]), sys.argv[2:]
t = time.perf_counter()
pid = os.posix_spawnp(cmd[0], cmd, os.environ)
_, status, ru = os.wait4(pid, 0)
dt = time.perf_counter() - t
os.write(fd, f"{dt} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss}".encode())
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(name: str, cmd: list[str], packets: int, **kw: object) -> Run:
    """Run a command in its own process; wall time, CPU time (user + system, every thread)
    and peak RSS of that very command (through :data:`_LAUNCH`)."""
    r, w = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _LAUNCH, str(w), *cmd],
                                pass_fds=(w,), **kw)  # type: ignore[call-overload]
        os.close(w)
        w = -1
        with os.fdopen(r, "rb") as fh:
            r = -1
            figures = fh.read().split()
        proc.wait()
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)
    if proc.returncode != 0 or len(figures) != 3:
        raise SystemExit(f"{name}: {cmd[0]} exited with {proc.returncode}")
    dt, cpu, maxrss_kib = float(figures[0]), float(figures[1]), int(figures[2])
    return Run(name, dt, packets, maxrss_kib / 1024, cpu)


def report(runs: list[Run], base: Run) -> str:
    """A Markdown table with each run's rate and its ratio to ``base`` (wall time), and the
    child's CPU time (user + system, every thread)."""
    lines = ["| tool | packets | seconds | CPU s | packets/s | ratio vs " + base.name
             + " | peak RSS MiB |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r.name} | {r.packets:,} | {r.seconds:.2f} | {r.cpu_seconds:.2f} | "
                     f"{r.rate:,.0f} | {r.rate / base.rate:.2f}× | {r.peak_rss_mib:,.0f} |")
    return "\n".join(lines)

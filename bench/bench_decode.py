"""Decode speed: teiten's capture reader vs ``tcpdump -r FILE -w /dev/null`` and a dpkt loop.

Generates a darknet-like classic pcap with a fixed seed (mostly 60-74-byte TCP SYNs with and
without options, some UDP, ICMP echo and SYN-ACK backscatter, all over Ethernet), then times,
side by side in one run:

* ``tcpdump -r FILE -w /dev/null`` (copies records, decodes nothing);
* teiten: :class:`teiten.capture.reader.CaptureReader` decoding every column into Arrow
  batches, in a fresh process that also reports its peak RSS (the kernels are compiled and
  cached by a warm-up run on a tiny file first; loading them is outside the timing);
* a dpkt loop that only counts destination ports (timed on a sample, extrapolated).

tcpdump and teiten are each timed ``--repeat`` times (best run kept), interleaved in one
process run, so both see the same machine load.

Usage::

    .venv/bin/python bench/bench_decode.py                    # 1M packets
    .venv/bin/python bench/bench_decode.py --packets 5000000  # the full run
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from teiten.capture.reader import CaptureReader

SEED = 20261122


def _template(kind: str) -> bytes:
    eth = bytes(6) + b"\x02" + bytes(5) + b"\x08\x00"
    if kind == "syn":
        l4 = struct.pack(">HHIIBBHHH", 0, 0, 0, 0, 0x50, 0x02, 1024, 0, 0)
        proto = 6
    elif kind == "synopt":  # MSS, SACK-perm, TS, NOP, WS: 40-byte TCP header -> 74 bytes
        opts = b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + bytes(8) + b"\x01\x03\x03\x07"
        l4 = struct.pack(">HHIIBBHHH", 0, 0, 0, 0, 0xA0, 0x02, 64240, 0, 0) + opts
        proto = 6
    elif kind == "synack":
        l4 = struct.pack(">HHIIBBHHH", 0, 0, 0, 0, 0x50, 0x12, 8192, 0, 0)
        proto = 6
    elif kind == "udp":
        l4 = struct.pack(">HHHH", 0, 0, 8 + 32, 0) + bytes(32)
        proto = 17
    else:  # icmp echo
        l4 = struct.pack(">BBHHH", 8, 0, 0, 1, 1) + bytes(16)
        proto = 1
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0,
                     bytes(4), bytes(4))
    frame = eth + ip + l4
    return frame + bytes(max(0, 60 - len(frame)))


def generate(path: Path, packets: int, seed: int = SEED) -> None:
    """Write a darknet-like pcap of ``packets`` records (NumPy only, vectorised)."""
    rng = np.random.default_rng(seed)
    kinds = ["syn", "synopt", "synack", "udp", "icmp"]
    share = np.array([0.60, 0.25, 0.05, 0.07, 0.03])
    choice = rng.choice(len(kinds), size=packets, p=share)
    ts = 1_761_955_200_000_000 + np.cumsum(rng.integers(0, 200, packets))  # microseconds
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        step = 1 << 20
        for lo in range(0, packets, step):
            hi = min(lo + step, packets)
            c = choice[lo:hi]
            sizes = np.array([16 + len(_template(k)) for k in kinds])[c]
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            blob = np.zeros(int(sizes.sum()), np.uint8)
            for ki, kind in enumerate(kinds):
                idx = np.flatnonzero(c == ki)
                if idx.size == 0:
                    continue
                tmpl = np.frombuffer(_template(kind), np.uint8)
                m = np.tile(np.concatenate([np.zeros(16, np.uint8), tmpl]), (idx.size, 1))
                t = ts[lo + idx]
                hdr = np.zeros((idx.size, 4), "<u4")
                hdr[:, 0] = t // 1_000_000
                hdr[:, 1] = t % 1_000_000
                hdr[:, 2] = tmpl.size
                hdr[:, 3] = tmpl.size
                m[:, :16] = hdr.view(np.uint8).reshape(idx.size, 16)
                src = rng.integers(0, 2**32, idx.size, dtype=np.uint32).astype(">u4")
                dst = (0xC0000200 + rng.integers(0, 256, idx.size)).astype(">u4")
                m[:, 16 + 26 : 16 + 30] = src.view(np.uint8).reshape(-1, 4)
                m[:, 16 + 30 : 16 + 34] = dst.view(np.uint8).reshape(-1, 4)
                ports = rng.integers(1, 65536, (idx.size, 2)).astype(">u2")
                m[:, 16 + 34 : 16 + 38] = ports.view(np.uint8).reshape(-1, 4)
                rows = starts[idx][:, None] + np.arange(m.shape[1])
                blob[rows] = m
            out.write(blob.tobytes())


def time_tcpdump(path: Path) -> tuple[float, float] | None:
    """Wall and CPU (user + system) seconds of ``tcpdump -r FILE -w /dev/null``."""
    if shutil.which("tcpdump") is None:
        return None
    t = time.perf_counter()
    proc = subprocess.Popen(["tcpdump", "-r", str(path), "-w", "/dev/null"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("tcpdump failed")
    return time.perf_counter() - t, usage.ru_utime + usage.ru_stime


_TEITEN_RUN = """
import sys, time
sys.path.insert(0, {src!r})
from teiten.capture.reader import CaptureReader
best = None
for _ in range({repeat}):
    t = time.perf_counter()
    c = time.process_time()
    with open({path!r}, "rb") as fh:
        reader = CaptureReader(fh, "bench")
        rows = sum(b.num_rows for b in reader.batches())
    took, cpu = time.perf_counter() - t, time.process_time() - c
    best = (took, cpu) if best is None or took < best[0] else best
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM")][0].split()[1]
print(best[0], best[1], rows, hwm)
"""


def time_teiten(path: Path, repeat: int) -> tuple[float, float, int, float]:
    """Best decode time (wall, and CPU of that run: both decode threads), rows, and peak RSS
    in MB of a fresh process decoding the capture.

    (Peak RSS is the process's VmHWM: ``ru_maxrss`` would carry over the parent's at fork.)
    """
    src = str(Path(__file__).resolve().parents[1] / "src")
    code = _TEITEN_RUN.format(src=src, repeat=repeat, path=str(path))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]), int(out[3]) / 1024


def time_dpkt(path: Path, sample: int) -> tuple[float, int]:
    import dpkt

    counts: dict[int, int] = {}
    n = 0
    t = time.perf_counter()
    with path.open("rb") as fh:
        for _ts, frame in dpkt.pcap.Reader(fh):
            ip = dpkt.ethernet.Ethernet(frame).data
            l4 = getattr(ip, "data", None)
            port = getattr(l4, "dport", None)
            if port is not None:
                counts[port] = counts.get(port, 0) + 1
            n += 1
            if n >= sample:
                break
    return time.perf_counter() - t, n


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--dpkt-sample", type=int, default=200_000)
    ap.add_argument("--keep", type=Path, help="write the capture here and keep it")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs per tool")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "darknet.pcap"
        t = time.perf_counter()
        generate(path, args.packets)
        size = os.path.getsize(path)
        print(f"capture: {args.packets:,} packets, {size / 1e6:.1f} MB "
              f"(generated in {time.perf_counter() - t:.1f} s)")
        # warm-up: compile and cache the kernels outside the timing
        small = Path(tmp) / "warm.pcap"
        generate(small, 1000)
        CaptureReader(io.BytesIO(small.read_bytes()), "warm").batches().__next__()
        time_teiten(small, 1)

        rows = {}
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        tds = [time_tcpdump(path) for _ in range(args.repeat)]
        td = None if None in tds else min((t for t in tds if t is not None), key=lambda x: x[0])
        tt, tcpu, rows["teiten"], peak_mb = time_teiten(path, args.repeat)
        dt, dn = time_dpkt(path, args.dpkt_sample)
        rate = {"teiten": args.packets / tt, "dpkt": dn / dt}
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{'tool':<34}{'seconds':>9}{'CPU s':>8}{'packets/s':>14}")
        if td is not None:
            rate["tcpdump"] = args.packets / td[0]
            print(f"{'tcpdump -r FILE -w /dev/null':<34}{td[0]:9.2f}{td[1]:8.2f}"
                  f"{rate['tcpdump']:14,.0f}")
        print(f"{'teiten decode (all columns)':<34}{tt:9.2f}{tcpu:8.2f}{rate['teiten']:14,.0f}")
        print(f"teiten peak RSS (its whole process): {peak_mb:,.0f} MB")
        print(f"{'dpkt loop counting dports':<34}{dt * args.packets / dn:9.2f}"
              f"{rate['dpkt']:14,.0f}  (sampled {dn:,})")
        if td is not None:
            print(f"teiten / tcpdump: {rate['teiten'] / rate['tcpdump']:.2f}x wall, "
                  f"{td[1] / tcpu:.2f}x CPU")
        print(f"teiten / dpkt:    {rate['teiten'] / rate['dpkt']:.1f}x")
        assert rows["teiten"] == args.packets, rows


if __name__ == "__main__":
    main()

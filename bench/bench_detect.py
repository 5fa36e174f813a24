"""Detection speed: all of ``teiten.detections`` over a month of packets, and the growth with size.

Generates a month of darknet-like packets with a fixed seed into a real packet store (one /16
telescope sensor; one Parquet file per UTC date and generated chunk, time-sorted inside, as
ingest writes them; committed to the catalog): background SYNs from ~200k sources over a long
tail of ports, a few thousand scanners, Mirai bots, SYN/ACK, RST and ICMP backscatter from
DDoS victims. Then it times

1. ``materialise`` — the statistics rollups of the month
   (:func:`teiten.analyses.rollups.materialise`, the statistics' own precomputation, which
   ``events`` reads), separately;
2. every detection (backscatter, scans, tools, events, diurnal) over ``Store.duckdb()`` and the
   store (so the detections read its Parquet files with Arrow), inside
   :func:`teiten.detections.shared_reads` (one read of the packet columns for all of them;
   ``--no-shared``: each reads on its own), with wall and CPU time, and the growth factor
   per size step.

Side by side on the smallest size: a naive implementation of the two sessionising detections
(backscatter and scans) — a per-packet Python loop over time-sorted rows with dictionaries,
the way a first script would do it — and the ratio.

Usage::

    .venv/bin/python bench/bench_detect.py                 # 1M and 3M packets
    .venv/bin/python bench/bench_detect.py --full          # 10M, 30M, 100M packets
    .venv/bin/python bench/bench_detect.py --sizes 2000000 --only scans,backscatter
    .venv/bin/python bench/bench_detect.py --keep /tmp/bd  # keep (and reuse) the stores
    .venv/bin/python bench/bench_detect.py --sizes 100000000 --previous-month  # events compares
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from teiten.core.periods import Period
from teiten.core.sensors import Registry
from teiten.detections import DETECTIONS, get, make_params, shared_reads
from teiten.detections import run as run_detection
from teiten.store import create_store, file_schema, open_store
from teiten.store.catalog import InputRecord

SEED = 20261122
MONTH = Period(date(2026, 10, 1), date(2026, 11, 1), "month", "UTC")
PREVIOUS = Period(date(2026, 9, 1), date(2026, 10, 1), "month", "UTC")
T0 = int(np.datetime64("2026-10-01", "ns").astype(np.int64))
DAY = 86400 * 10**9
SPAN = 31 * DAY
MONITORED = 65536  # a /16 telescope: 10.0.0.0/16
SENSOR = "tel"
PORTS = np.array([445, 23, 22, 3389, 1433, 80, 135, 139, 5900, 8080, 443, 2323, 21, 25, 53])
COUNTRIES = np.array(["CN", "US", "JP", "RU", "TW", "KR", "BR", "DE", "IN", "VN"])
REGISTRY = (f'[[sensor]]\nid = "{SENSOR}"\naddresses = ["10.0.0.0/16"]\ncountry = "JP"\n'
            'timezone = "UTC"\n')


def chunk(rng: np.random.Generator, n: int, t0: int = T0, span: int = SPAN) -> pa.Table:
    """``n`` packets over ``[t0, t0 + span)``: 80% background, 12% from 3,000 scanners, 3%
    Mirai, 5% backscatter from 50 victims."""
    kind = rng.choice(4, n, p=[0.80, 0.12, 0.03, 0.05])
    src = np.where(kind == 0, 0x20000000 + rng.integers(0, 200_000, n),
                   np.where(kind == 1, 0x30000000 + rng.integers(0, 3_000, n),
                            np.where(kind == 2, 0x40000000 + rng.integers(0, 20_000, n),
                                     0x50000000 + rng.integers(0, 50, n))))  # fmt: skip
    # scanners run for an hour and victims are attacked for ten minutes, at a start time
    # fixed per source (a hash of the address), so every chunk agrees
    start = (src.astype(np.uint64) * np.uint64(2654435761) % np.uint64(span - 4 * 3600 * 10**9))
    burst = np.where(kind == 1, 3600, 600) * 10**9
    ts = np.where((kind == 1) | (kind == 3), t0 + start.astype(np.int64)
                  + (rng.random(n) * burst).astype(np.int64),
                  t0 + rng.integers(0, span, n))  # fmt: skip
    dst = 0x0A000000 + rng.integers(0, MONITORED, n)
    tail = rng.integers(1, 65536, n)
    dport = np.where(rng.random(n) < 0.7, PORTS[rng.integers(0, len(PORTS), n)], tail)
    dport = np.where(kind == 1, PORTS[(src - 0x30000000) % len(PORTS)], dport)
    dport = np.where(kind == 2, np.where(rng.random(n) < 0.9, 23, 2323), dport)
    back = kind == 3
    dport = np.where(back, rng.integers(1024, 65536, n), dport)
    sport = np.where(back, np.array([80, 443, 53, 22])[src % 4], rng.integers(1024, 65536, n))
    proto = np.where(back & (src % 5 == 0), 1, 6).astype(np.uint8)
    flags = np.where(back, np.where(src % 2 == 0, 0x12, 0x14), 0x02).astype(np.uint8)
    seq = np.where(kind == 2, dst, rng.integers(0, 2**32, n))
    tool = np.array([None, "masscan", "mirai", None], dtype=object)[kind]
    cols = {
        "ts": pa.array(ts, pa.timestamp("ns", "UTC")),
        "ip_version": pa.array(np.full(n, 4), pa.uint8()),
        "src": pa.array(src, pa.uint32()), "dst": pa.array(dst, pa.uint32()),
        "proto": pa.array(proto, pa.uint8()),
        "sport": pa.array(np.where(proto == 1, 0, sport), pa.uint16(), mask=proto == 1),
        "dport": pa.array(np.where(proto == 1, 0, dport), pa.uint16(), mask=proto == 1),
        "icmp_type": pa.array(np.zeros(n), pa.uint8(), mask=proto != 1),
        "tcp_flags": pa.array(flags, pa.uint8(), mask=proto == 1),
        "ttl": pa.array(rng.integers(30, 255, n), pa.uint8()),
        "tcp_seq": pa.array(seq, pa.uint32()),
        "country": pa.array(COUNTRIES[src % len(COUNTRIES)]).dictionary_encode(),
        "tool": pa.array(tool, pa.string()).dictionary_encode(),
    }  # fmt: skip
    fs = file_schema()
    return pa.table([cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type)
                     for f in fs], schema=fs)  # fmt: skip


def generate(n: int, root: Path, previous: bool = False) -> None:
    """Write ``n`` packets of October into a new store at ``root``: per chunk of up to 5M
    packets, one time-sorted file per UTC date, committed as one catalog row. ``previous``:
    also ``n`` packets of September (seed + 1, its own 30 days), so that ``events`` has a
    previous month to compare with."""
    store = create_store(root)
    store.merge_sensors(list(Registry.from_toml_text(REGISTRY).values()))
    months = [(SEED, T0, SPAN)]
    if previous:
        months.insert(0, (SEED + 1, T0 - 30 * DAY, 30 * DAY))
    for seed, t0, span in months:
        rng = np.random.default_rng(seed)
        files: list[str] = []
        done, part = 0, 0
        days = span // DAY
        while done < n:
            m = min(5_000_000, n - done)
            t = chunk(rng, m, t0, span)
            ts = t.column("ts").cast(pa.int64()).to_numpy()
            order = np.argsort(ts, kind="stable")
            t, ts = t.take(pa.array(order)), ts[order]
            bounds = np.searchsorted(ts, t0 + np.arange(days + 1) * DAY)
            for d in range(days):
                lo, hi = int(bounds[d]), int(bounds[d + 1])
                if hi <= lo:
                    continue
                day = np.datetime_as_string(np.datetime64(t0 + d * DAY, "ns"), unit="D")
                rel = f"packets/sensor={SENSOR}/date={day}/bench-{seed}-{part:04d}.parquet"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(t.slice(lo, hi - lo), root / rel, compression="zstd",
                               row_group_size=1 << 20)  # fmt: skip
                files.append(rel)
            done += m
            part += 1
        store.catalog.commit(InputRecord(input_id=f"bench-detect-{n}-{seed}", name="bench",
                                         files=files, packets=n, sensors=[SENSOR]))  # fmt: skip


def naive(con: Any) -> tuple[int, int, float, float]:
    """Per-packet Python loops: backscatter vectors and (src, proto) scan campaigns.
    Returns the counts, wall and CPU seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    rows = con.sql(
        "SELECT epoch_ns(ts) AS ts, src, dst, proto, tcp_flags, icmp_type FROM packets"
        " ORDER BY ts"
    ).fetchall()
    vectors: dict[int, list[Any]] = {}
    attacks = 0
    camps: dict[tuple[int, int], list[Any]] = {}
    scans = 0
    for ts, src, dst, proto, flags, itype in rows:
        back = (proto == 6 and flags is not None and (flags & 4 or flags & 0x12 == 0x12)) or (
            proto == 1 and itype in (0, 3, 4, 5, 11, 12, 14, 16, 18))
        if back:
            v = vectors.get(src)
            if v is None or ts - v[1] > 300 * 10**9:
                if v is not None and v[2] >= 25 and v[1] - v[0] >= 60 * 10**9:
                    attacks += 1
                v = vectors[src] = [ts, ts, 0]
            v[1] = ts
            v[2] += 1
        elif proto == 6 and flags == 2:
            c = camps.get((src, proto))
            if c is None or ts - c[1] > 480 * 10**9:
                if c is not None and len(c[2]) >= 25:
                    scans += 1
                c = camps[(src, proto)] = [ts, ts, set()]
            c[1] = ts
            c[2].add(dst)
    attacks += sum(v[2] >= 25 and v[1] - v[0] >= 60 * 10**9 for v in vectors.values())
    scans += sum(len(c[2]) >= 25 for c in camps.values())
    return attacks, scans, time.perf_counter() - t0, time.process_time() - c0


def detect(name: str, store: Any, con: Any) -> pa.Table:
    """Run one detection; the store goes to those that take it (events reads the rollups)."""
    return run_detection(name, con, MONTH, make_params(name, monitored_addresses=MONITORED),
                         store=store)


def timed(fn: Any) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--full", action="store_true", help="10M, 30M and 100M packets")
    ap.add_argument("--only", default=",".join(DETECTIONS),
                    help="comma-separated detections to time (default: all)")
    ap.add_argument("--naive-max", type=int, default=3_000_000,
                    help="largest size the naive loop runs on (0: never)")
    ap.add_argument("--keep", type=Path, help="generate the stores under DIR, keep and reuse them")
    ap.add_argument("--previous-month", action="store_true",
                    help="also write a September of the same size (events then compares "
                         "October with it; its rollups are materialised first, timed apart)")
    ap.add_argument("--no-shared", dest="shared", action="store_false",
                    help="each detection reads the packets on its own (default: one shared "
                         "read, teiten.detections.shared_reads)")
    args = ap.parse_args()
    only = [x for x in args.only.split(",") if x]
    for name in only:
        get(name)  # fail early on a typo
    sizes = args.sizes or ([10_000_000, 30_000_000, 100_000_000] if args.full
                           else [1_000_000, 3_000_000])  # fmt: skip
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-detect-"))
    totals: dict[int, float] = {}
    try:
        for n in sizes:
            root = tmp / (f"n{n}-2m" if args.previous_month else f"n{n}")
            if not (root / "teiten-store.json").exists():
                shutil.rmtree(root, ignore_errors=True)
                _, dt, _ = timed(lambda: generate(n, root, args.previous_month))  # noqa: B023
                print(f"\n{n:,} packets (store generated in {dt:.1f} s)")
            else:
                print(f"\n{n:,} packets (store reused from {root})")
            store = open_store(root)
            if "events" in only:
                from teiten.analyses import rollups

                for month in ([PREVIOUS, MONTH] if args.previous_month else [MONTH]):
                    _, dt, cpu = timed(lambda: rollups.materialise(store, month))  # noqa: B023
                    print(f"  statistics rollups of {month.label} (materialise) {dt:7.2f} s  "
                          f"({cpu:.2f} s CPU)")  # fmt: skip
            con = store.duckdb()
            total = 0.0
            c0 = time.process_time()
            with shared_reads() if args.shared else contextlib.nullcontext():
                for name in only:
                    res, dt, cpu = timed(lambda: detect(name, store, con))  # noqa: B023
                    total += dt
                    print(f"  teiten {name:<12} {dt:7.2f} s  ({cpu:6.2f} s CPU)  "
                          f"{res.num_rows:>8,} rows")  # fmt: skip
            print(f"  all detections CPU {time.process_time() - c0:.2f} s"
                  f" ({'one shared read' if args.shared else 'each reads on its own'})")
            totals[n] = total
            print(f"  teiten {'+'.join(only)}: {total:7.2f} s  ({n / total / 1e6:.2f} M packets/s)")
            if n <= args.naive_max and n == sizes[0]:
                b = detect("backscatter", store, con)
                s = detect("scans", store, con)
                attacks, scans, dt, dc = naive(con)
                _, tv, tc = timed(lambda: (detect("backscatter", store, con),  # noqa: B023
                                           detect("scans", store, con)))  # noqa: B023
                print(f"  naive Python loop (backscatter+scans) {dt:7.2f} s ({dc:.2f} s CPU; "
                      f"{attacks} vectors >=25 pkts, {scans} campaigns >=25 dsts; teiten "
                      f"{b.num_rows} attacks, {s.num_rows} campaigns) vs teiten {tv:.2f} s "
                      f"({tc:.2f} s CPU): x{dt / tv:.1f} wall, x{dc / tc:.1f} CPU")  # fmt: skip
            con.close()
            if args.keep is None:
                shutil.rmtree(root)
        ns = sorted(totals)
        for a, b in itertools.pairwise(ns):
            print(f"growth {a:,} -> {b:,} packets (x{b / a:.1f}): "
                  f"time x{totals[b] / totals[a]:.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

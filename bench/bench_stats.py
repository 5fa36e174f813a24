"""Benchmark: every statistic for a month of an NPA-like sensor network, teiten vs naive SQL.

Generates a month (October 2026, Asia/Tokyo) of packets directly with NumPy (fixed seed) into
a store directory — 40 sensors × 4 addresses, a Zipf-skewed population of sources that mostly
stick to one favourite port, 60 countries, TCP/UDP/ICMP — then times

1. ``materialise`` — building the rollups from raw packets (once per month, written to the store);
2. ``teiten`` — every registered analysis (and the port/country comparisons) from the rollups;
3. ``naive`` — the same core figures (totals with the TALOT2 source count, ports, countries,
   daily series per port, hourly UTC profile) as hand-written DuckDB SQL over the raw Parquet
   files, each query scanning raw packets — what a user would otherwise write.

Usage::

    python bench/bench_stats.py                   # 2M packets (quick)
    python bench/bench_stats.py --sizes 10e6 100e6
    python bench/bench_stats.py --keep /tmp/st    # keep the generated store
    python bench/bench_stats.py --keep /tmp/st --reuse --skip-naive   # time the statistics again
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from teiten.core.sensors import Registry
from teiten.store import create_store, file_schema
from teiten.store.catalog import InputRecord

SENSORS = 40
ADDRS = 4
COUNTRIES = ["CN", "US", "JP", "RU", "TW", "KR", "BR", "IN", "DE", "NL", "FR", "GB", "VN",
             "ID", "TR", "AR", "IT", "CA", "UA", "PL", "RO", "TH", "MX", "IR", "HK", "SG",
             "ES", "CO", "ZA", "EG", "PK", "BD", "PH", "MY", "CL", "VE", "PE", "SE", "AU",
             "BG", "HU", "CZ", "IL", "SA", "AE", "NG", "KE", "MA", "NP", "LK", "KZ", "BY",
             "LT", "LV", "EE", "FI", "NO", "DK", "BE", "CH"]
PORTS = np.array([445, 135, 23, 1433, 22, 80, 3389, 139, 8080, 443, 5900, 1521, 3306, 2967,
                  4899, 6379, 25, 21, 5060, 8443], np.uint16)
START = datetime(2026, 9, 30, 15, tzinfo=UTC)  # 2026-10-01 00:00 Asia/Tokyo


def registry_toml() -> str:
    out = []
    for s in range(SENSORS):
        base = f"10.{s // 64}.{(s % 64) * 4 // 256}.{(s % 64) * 4}"
        out.append(f'[[sensor]]\nid = "s{s:02d}"\naddresses = ["{base}/30"]\ncountry = "JP"\n'
                   'timezone = "Asia/Tokyo"\n')
    return "\n".join(out)


def generate_store(root: Path, n: int, seed: int = 20261001) -> float:
    """Write ``n`` packets for October 2026 into a new store; return seconds taken."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    store = create_store(root)
    reg = Registry.from_toml_text(registry_toml())
    store.merge_sensors(list(reg.values()))
    n_src = max(1000, n // 40)
    src_pool = rng.integers(0x01000000, 0xDF000000, n_src, dtype=np.uint32)
    src_country = rng.choice(len(COUNTRIES), n_src,
                             p=np.r_[0.3, 0.1, 0.1, 0.05, 0.05, np.full(55, 0.4 / 55)])
    src_port = rng.choice(len(PORTS), n_src, p=np.r_[0.3, 0.15, 0.1, np.full(17, 0.45 / 17)])
    src_sport = np.where(rng.random(n_src) < 0.2, 6000, 0).astype(np.uint16)
    fs = file_schema()
    country_dict = pa.array(COUNTRIES)
    files = []
    days = 32  # UTC dates touched by the Tokyo month
    per_day = np.bincount(rng.integers(0, days, n), minlength=days)
    for d in range(days):
        m = int(per_day[d])
        day0 = START.replace(hour=0) + timedelta(days=d)
        lo = max(int(day0.timestamp()), int(START.timestamp()))
        hi = min(int((day0 + timedelta(days=1)).timestamp()),
                 int((START + timedelta(days=31)).timestamp()))
        if hi <= lo or m == 0:
            continue
        ts = rng.integers(lo * 10**6, hi * 10**6, m, dtype=np.int64) * 1000
        who = np.minimum(rng.zipf(1.3, m) - 1, n_src - 1)
        sensor = rng.integers(0, SENSORS, m)
        proto = rng.choice(np.array([6, 17, 1], np.uint8), m, p=[0.8, 0.12, 0.08])
        fav = rng.random(m) < 0.8
        port = np.where(fav, PORTS[src_port[who]], rng.integers(1, 65536, m)).astype(np.uint16)
        sport = np.where(src_sport[who] > 0, src_sport[who],
                         rng.integers(1024, 65536, m)).astype(np.uint16)
        tcpudp = proto != 1
        dst = (np.uint32(0x0A000000) + (sensor * ADDRS).astype(np.uint32)
               + rng.integers(0, ADDRS, m).astype(np.uint32))
        cols = {
            "ts": pa.array(ts, pa.timestamp("ns", tz="UTC")),
            "ip_version": pa.array(np.full(m, 4, np.uint8)),
            "src": pa.array(src_pool[who]),
            "dst": pa.array(dst),
            "proto": pa.array(proto),
            "sport": pa.array(sport, mask=~tcpudp),
            "dport": pa.array(port, mask=~tcpudp),
            "icmp_type": pa.array(np.full(m, 8, np.uint8), mask=tcpudp),
            "country": pa.DictionaryArray.from_arrays(pa.array(src_country[who], pa.int32()),
                                                      country_dict),
        }
        order = np.argsort(sensor, kind="stable")
        bounds = np.searchsorted(sensor[order], np.arange(SENSORS + 1))
        full = pa.table([cols[f.name] if f.name in cols else pa.nulls(m, f.type)
                         for f in fs], schema=fs).take(pa.array(order))
        date = day0.date().isoformat()
        for s in range(SENSORS):
            part = full.slice(int(bounds[s]), int(bounds[s + 1] - bounds[s]))
            rel = f"packets/sensor=s{s:02d}/date={date}/bench-{d}.parquet"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(part, root / rel, compression="zstd")
            files.append(rel)
    store.catalog.commit(InputRecord(input_id=f"bench-{n}-{seed}", name="bench", files=files,
                                     packets=n))
    return time.perf_counter() - t0


def run_teiten(root: Path, force: bool = False
               ) -> tuple[float, float, float, float, dict[str, int], dict[str, float]]:
    """(materialise wall, statistics wall, materialise CPU, statistics CPU, rows per result,
    wall seconds per step of the statistics)."""
    import ibis

    from teiten.analyses import analysis, compare_periods, context, names, parse_period, rollups
    from teiten.store import open_store

    ibis.get_backend()  # import the default DuckDB backend outside the timings (once per process)
    store = open_store(root)
    p = parse_period("2026-10")
    t0, c0 = time.perf_counter(), time.process_time()
    for month in p.last(6):  # the trend needs them; empty months are cheap
        rollups.materialise(store, month, force=force)
    t1, c1 = time.perf_counter(), time.process_time()
    steps: dict[str, float] = {}
    ctx = context.from_store(store, p)
    steps["context"] = time.perf_counter() - t1
    res = {}
    for name in names():
        s0 = time.perf_counter()
        res[name] = analysis(name)(ctx)
        steps[name] = time.perf_counter() - s0
    for name in ("ports", "countries"):
        s0 = time.perf_counter()
        res[f"{name}_compare"] = compare_periods(ctx, name)
        steps[f"{name}_compare"] = time.perf_counter() - s0
    t2, c2 = time.perf_counter(), time.process_time()
    return (t1 - t0, t2 - t1, c1 - c0, c2 - c1, {k: v.num_rows for k, v in res.items()}, steps)


NAIVE = {
    "totals": """
        select count(*) as accesses,
               (select count(*) from (select distinct sensor, d, proto, port, src from r)) as sc,
               count(distinct src) as distinct_sources
        from r""",
    "ports": """
        select proto, port, count(*) as accesses, count(distinct (sensor, d, src)) as sc,
               count(distinct src) as ds
        from r group by proto, port order by accesses desc""",
    "countries": """
        select country, count(*) as accesses, count(distinct (sensor, d, proto, port, src)) as sc
        from r group by country order by accesses desc""",
    "daily_ports": """
        select d, proto, port, count(*) as accesses, count(distinct (sensor, src)) as sc
        from r where (proto, port) in (select (proto, port) from r group by all
                                       order by count(*) desc limit 5)
        group by d, proto, port""",
    "hourly": "select hour(cast(ts as timestamptz)) as h, count(*) from r group by h",
}


def run_naive(root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds for the naive DuckDB-SQL-over-raw-Parquet run."""
    import duckdb

    con = duckdb.connect()
    glob = str(root / "packets" / "*" / "*" / "*.parquet")
    t0, c0 = time.perf_counter(), time.process_time()
    view = f"""
        create or replace temp view r as
        select sensor, ts, src, proto,
               case when proto in (6, 17) then dport when proto = 1 then icmp_type end as port,
               country,
               cast(timezone('Asia/Tokyo', cast(ts as timestamptz)) as date) as d
        from read_parquet('{glob}', hive_partitioning = true)
        where cast(ts as timestamptz) >= '2026-09-30 15:00:00+00'
          and cast(ts as timestamptz) < '2026-10-31 15:00:00+00'"""
    con.execute(view)
    for sql in NAIVE.values():
        con.execute(sql).fetchall()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=float, default=[2e6],
                    help="packet counts (default 2e6; the issue's figures: 10e6 100e6)")
    ap.add_argument("--keep", type=Path, help="generate into DIR and keep it")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: reuse a store generated by an earlier run (rollups "
                         "already materialised then: only the statistics are timed again)")
    ap.add_argument("--force-materialise", action="store_true",
                    help="rebuild the rollups even when fresh (time them again with --reuse)")
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    rows = []
    for size in args.sizes:
        n = int(size)
        root = (args.keep or Path(tempfile.mkdtemp(prefix="teiten-bench-stats-"))) / f"n{n}"
        if args.reuse and (root / "teiten-store.json").exists():
            gen = 0.0  # the store (and its materialised rollups) from an earlier --keep run
        else:
            if root.exists():
                shutil.rmtree(root)
            gen = generate_store(root, n)
        load0 = os.getloadavg()[0]
        mat, stats, mat_cpu, stats_cpu, out, steps = run_teiten(root, args.force_materialise)
        naive, naive_cpu = (float("nan"), float("nan")) if args.skip_naive else run_naive(root)
        rows.append((n, mat, stats, naive, mat_cpu, stats_cpu, naive_cpu))
        print(f"n={n:,}: generate {gen:.1f}s; teiten materialise {mat:.1f}s ({mat_cpu:.1f}s CPU), "
              f"all statistics {stats:.1f}s ({stats_cpu:.1f}s CPU; {len(out)} tables, "
              f"{out.get('ports', 0):,} port rows); naive SQL {naive:.1f}s ({naive_cpu:.1f}s "
              f"CPU); naive/teiten statistics {naive / stats:.1f}x wall, "
              f"{naive_cpu / stats_cpu:.1f}x CPU; load average {load0:.1f} -> "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        print("  statistics steps (wall s): " + ", ".join(
            f"{k} {v:.2f}" for k, v in steps.items()), flush=True)
        if args.keep is None:
            shutil.rmtree(root.parent, ignore_errors=True)
    print("\n| packets | materialise s (CPU s) | all statistics s (CPU s) "
          "| naive DuckDB SQL s (CPU s) | naive / teiten statistics (wall, CPU) |")
    print("|---:|---:|---:|---:|---:|")
    for n, mat, stats, naive, mc, sc, nc in rows:
        print(f"| {n:,} | {mat:.1f} ({mc:.1f}) | {stats:.1f} ({sc:.1f}) | {naive:.1f} ({nc:.1f}) "
              f"| {naive / stats:.1f}x, {nc / sc:.1f}x |")


if __name__ == "__main__":
    main()

"""Benchmark: signature evaluation over a generated darknet packet table.

Rules: the bundled darknet rules plus N generated content rules of realistic shape (1-3
contents of 4-12 bytes, mixed offset/depth and distance/within, some nocase, header constraints
on protocol, destination port and dsize, as in public rule sets). Packets: a darknet mix at a
fixed seed (TCP SYN scans over a Zipf of ports, UDP probes and ICMP echo with payloads drawn from
a pool of distinct probe payloads, some carrying the generated rules' patterns), built directly
with NumPy/pyarrow in ``PACKET_SCHEMA``.

Prints the engine's time as the rule count grows 100 → 1,000 (the prefilter should keep it
nearly flat), and, side by side, a naive per-rule scan (each rule's header predicates over the
whole batch, Arrow's ``match_substring`` for its longest content, exact inspection of the
candidates) on the same packets, with the ratio. The naive scan runs on ``--naive-packets``
rows (default: all rows of the small size) because at full size it takes minutes.

    .venv/bin/python bench/bench_signatures.py            # 1M packets
    .venv/bin/python bench/bench_signatures.py --full     # 10M packets (target <= 30 s)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from teiten.core.schema import PACKET_SCHEMA
from teiten.signatures.addresses import Variables
from teiten.signatures.compiler import Columns
from teiten.signatures.content import inspect
from teiten.signatures.engine import Engine
from teiten.signatures.loader import RuleSet, bundled_rules_text, load_rules_text

HOME = "10.20.0.0/16"
PORTS_TCP = np.array([445, 23, 22, 80, 3389, 1433, 8080, 135, 139, 5900, 3306, 443, 2323,
                      8443, 6379, 1521, 5555, 81, 8888, 37215])
PORTS_UDP = np.array([53, 1434, 123, 161, 1900, 5060, 137, 500, 11211, 1026, 1027, 69, 389,
                      3702, 19])


def gen_rules(n: int, seed: int) -> tuple[str, list[bytes]]:
    """n content rules and the patterns they use (some get planted in payloads)."""
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    pats: list[bytes] = []
    for k in range(n):
        proto = "udp" if rng.random() < 0.6 else "tcp"
        ports = PORTS_UDP if proto == "udp" else PORTS_TCP
        port = "any" if rng.random() < 0.2 else str(int(rng.choice(ports)))
        opts = [f'msg:"BENCH generated {k}"']
        ncont = int(rng.integers(1, 4))
        for j in range(ncont):
            ln = int(rng.integers(4, 13))
            pat = bytes(rng.integers(0, 256, ln, dtype=np.uint8).tolist())
            if rng.random() < 0.5:  # text-like
                pat = bytes(rng.integers(97, 123, ln, dtype=np.uint8).tolist())
            pats.append(pat)
            opts.append(f'content:"|{pat.hex(" ")}|"')
            r = rng.random()
            if j == 0 and r < 0.4:
                off = int(rng.integers(0, 16))
                opts += [f"offset:{off}", f"depth:{ln + int(rng.integers(0, 64))}"]
            elif j > 0 and r < 0.6:
                opts += ["distance:0", f"within:{ln + int(rng.integers(0, 40))}"]
            if rng.random() < 0.15:
                opts.append("nocase")
        if rng.random() < 0.3:
            opts.append(f"dsize:>{int(rng.integers(8, 64))}")
        opts += ["classtype:attempted-recon", f"sid:{3_000_000 + k}", "rev:1"]
        lines.append(f"alert {proto} $EXTERNAL_NET any -> $HOME_NET {port} ({'; '.join(opts)};)")
    return "\n".join(lines), pats


def gen_pool(npool: int, pats: list[bytes], seed: int) -> list[bytes]:
    """Distinct probe payloads; a tenth carry one of the rule patterns (true or partial hits)."""
    rng = np.random.default_rng(seed)
    pool: list[bytes] = []
    for i in range(npool):
        ln = int(rng.integers(8, 400))
        body = bytearray(rng.integers(0, 256, ln, dtype=np.uint8).tobytes())
        if pats and i % 10 == 0:
            p = pats[int(rng.integers(len(pats)))]
            at = int(rng.integers(0, max(1, ln - len(p))))
            body[at:at + len(p)] = p
        pool.append(bytes(body))
    pool.append(b"\xaa" * 64)  # Nachi
    return pool


def gen_packets(n: int, seed: int, pool: list[bytes]) -> pa.Table:
    """A darknet mix in PACKET_SCHEMA: ~75% TCP SYN, ~18% UDP, ~7% ICMP."""
    rng = np.random.default_rng(seed)
    proto = rng.choice(np.array([6, 17, 1], np.uint8), n, p=[0.75, 0.18, 0.07])
    tcp, udp, icmp = proto == 6, proto == 17, proto == 1
    zipf = np.minimum(rng.zipf(1.6, n) - 1, len(PORTS_TCP) - 1)
    dport = np.where(tcp, PORTS_TCP[zipf], PORTS_UDP[np.minimum(zipf, len(PORTS_UDP) - 1)])
    src = rng.integers(0x01000000, 0xDF000000, n, dtype=np.uint32)
    dst = (0x0A140000 + rng.integers(0, 65536, n)).astype(np.uint32)
    ts = (1_790_812_800 * 10**9 + np.sort(rng.integers(0, 30 * 86400 * 10**9, n))).astype(
        np.int64)
    has_payload = udp | (icmp & (rng.random(n) < 0.5)) | (tcp & (rng.random(n) < 0.02))
    pidx = np.minimum(rng.zipf(1.3, n) - 1, len(pool) - 1)
    pool_arr = pa.array(pool, pa.binary())
    payload = pool_arr.take(pa.array(pidx, mask=~has_payload))
    plen = np.where(has_payload, pc.binary_length(pool_arr).to_numpy()[pidx], 0)

    def arr(v: np.ndarray, typ: pa.DataType, valid: np.ndarray | None = None) -> pa.Array:
        return pa.array(v, typ, mask=None if valid is None else ~valid)

    cols: dict[str, pa.Array] = {
        "ts": pa.array(ts, pa.timestamp("ns", tz="UTC")),
        "sensor": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)),
                                                 pa.array(["s1"])),
        "ip_version": arr(np.full(n, 4, np.uint8), pa.uint8()),
        "src": arr(src, pa.uint32()), "dst": arr(dst, pa.uint32()),
        "proto": arr(proto, pa.uint8()),
        "sport": arr(rng.integers(1024, 65535, n).astype(np.uint16), pa.uint16(), tcp | udp),
        "dport": arr(dport.astype(np.uint16), pa.uint16(), tcp | udp),
        "icmp_type": arr(np.full(n, 8, np.uint8), pa.uint8(), icmp),
        "icmp_code": arr(np.zeros(n, np.uint8), pa.uint8(), icmp),
        "tcp_flags": arr(np.full(n, 2, np.uint8), pa.uint8(), tcp),
        "ttl": arr(rng.integers(30, 256, n).astype(np.uint8), pa.uint8()),
        "ip_id": arr(rng.integers(0, 65536, n).astype(np.uint16), pa.uint16()),
        "tcp_seq": arr(rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32), pa.uint32(),
                       tcp),
        "tcp_ack": arr(np.zeros(n, np.uint32), pa.uint32(), tcp),
        "tcp_win": arr(np.where(rng.random(n) < 0.3, 1024, 65535).astype(np.uint16), pa.uint16(),
                       tcp),
        "icmp_id": arr(np.zeros(n, np.uint16), pa.uint16(), icmp),
        "icmp_seq": arr(np.zeros(n, np.uint16), pa.uint16(), icmp),
        "payload_len": arr(plen.astype(np.uint16), pa.uint16()),
        "payload": payload,
        "country": pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 4, n, dtype=np.int32)),
                                                  pa.array(["CN", "US", "JP", "RU"])),
    }
    return pa.table({f.name: cols[f.name] if f.name in cols else pa.nulls(n, f.type)
                     for f in PACKET_SCHEMA}, schema=PACKET_SCHEMA)


def engine_run(packets: pa.Table, rs: RuleSet, batch: int) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (this process), alerts."""
    t0, c0 = time.perf_counter(), time.process_time()
    eng = Engine(rs)
    for b in packets.to_batches(max_chunksize=batch):
        eng.match(pa.Table.from_batches([b]))
    alerts = eng.finish()
    return time.perf_counter() - t0, time.process_time() - c0, alerts.num_rows


def naive_run(packets: pa.Table, rs: RuleSet) -> tuple[float, int]:
    """Per rule: header predicates over all rows, a substring test of its longest content
    over the header-passing payloads (Arrow's ``match_substring`` when the pattern is ASCII,
    ``bytes.find`` otherwise), exact inspection of what is left."""
    t0 = time.perf_counter()
    cols = Columns(packets)
    payload = packets.column("payload")
    matches = 0
    for r in rs.rules:
        m = r.header_mask(cols)
        if not r.rule.contents:
            matches += int(m.sum())
            continue
        m &= cols.valid("payload") & (cols.get("payload_len") > 0)
        rows = np.flatnonzero(m)
        sub = payload.take(pa.array(rows))
        fp = r.fast_pattern
        if fp is not None:
            rows = rows[_contains(sub, fp.pattern, fp.nocase)]
            sub = payload.take(pa.array(rows))
        matches += sum(inspect(r.rule.contents, v) for v in sub.to_pylist())
    return time.perf_counter() - t0, matches


def _contains(arr: pa.Array | pa.ChunkedArray, pattern: bytes, nocase: bool) -> np.ndarray:
    """Substring test of one pattern over a binary column."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if all(b < 0x80 for b in pattern):
        got = pc.match_substring(arr, pattern=pattern.decode("ascii"), ignore_case=nocase)
        return np.asarray(pc.fill_null(got, False).to_numpy(zero_copy_only=False), dtype=bool)
    return np.array([v is not None and pattern in v for v in arr.to_pylist()], dtype=bool)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="10M packets (default 1M)")
    ap.add_argument("--packets", type=int, default=None)
    ap.add_argument("--naive-packets", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1 << 20)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    n = args.packets or (10_000_000 if args.full else 1_000_000)
    var = Variables.defaults([HOME])
    rules_text, pats = gen_rules(1000, args.seed)
    t0 = time.perf_counter()
    pool = gen_pool(20_000, pats, args.seed + 1)
    packets = gen_packets(n, args.seed + 2, pool)
    print(f"generated {n:,} packets ({packets.nbytes / 1e6:.0f} MB, "
          f"{len(pool):,} distinct payloads) in {time.perf_counter() - t0:.1f} s")
    bundled = bundled_rules_text()
    lines = rules_text.splitlines()
    engine_run(packets.slice(0, 10_000), load_rules_text(bundled, variables=var), args.batch)
    print(f"\n{'rules':>7} {'compile s':>10} {'engine wall s':>14} {'engine cpu s':>13} "
          f"{'alerts':>9}")
    curve = []
    for k in (0, 100, 250, 500, 1000):
        t1 = time.perf_counter()
        rs = load_rules_text(bundled + "\n" + "\n".join(lines[:k]), variables=var)
        tc = time.perf_counter() - t1
        te, tcpu, na = engine_run(packets, rs, args.batch)
        curve.append((k, te, tcpu))
        print(f"{len(rs.rules):>7} {tc:>10.2f} {te:>14.2f} {tcpu:>13.2f} {na:>9,}")
    print(f"\ncost 1000 vs 100 generated rules (rule count x10): wall x"
          f"{curve[-1][1] / curve[1][1]:.2f}, cpu x{curve[-1][2] / curve[1][2]:.2f}; "
          f"bundled + 1000 rules: {curve[-1][1]:.1f} s wall, {curve[-1][2]:.1f} s cpu "
          f"for {n:,} packets")
    m = min(args.naive_packets, n)
    sample = packets.slice(0, m)
    print(f"\nnaive per-rule scan vs engine on {m:,} packets:")
    print(f"{'rules':>7} {'naive s':>9} {'engine s':>9} {'ratio':>7} {'same matches':>13}")
    for k in (100, 1000):
        rs = load_rules_text(bundled + "\n" + "\n".join(lines[:k]), variables=var)
        tn, nn = naive_run(sample, rs)
        eng = Engine(rs)
        t1 = time.perf_counter()
        eng.match(sample)
        te = time.perf_counter() - t1
        same = eng.stats.matches == nn
        print(f"{len(rs.rules):>7} {tn:>9.2f} {te:>9.2f} {tn / te:>6.1f}x {same!s:>13}")


if __name__ == "__main__":
    main()

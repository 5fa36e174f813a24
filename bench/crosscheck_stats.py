"""Cross-check teiten's statistics against tshark's field output, on any directory of captures.

teiten ingests the captures into a store and computes its statistics; independently, every
capture is read with ``tshark -T fields`` (time, addresses, protocol, ports, ICMP type) and the
same figures are computed here in plain Python — observation days with :mod:`zoneinfo`, TALOT2
source units as Python sets, countries with a direct ``iptocc`` lookup — and the two must be
equal, exactly:

* totals — accesses, source count (延べ発信元数), distinct sources, sensor-days, address-days
  and the per-point-per-day / per-address-per-day rates;
* accesses and sources per observation point and day (each sensor-day's packets, each day's
  accesses and source count);
* by destination port and by source country — accesses, source count, distinct sources;
* the hourly profile in UTC.

What is shared: the sensor registry (which file belongs to which sensor, its monitored addresses
and maintenance windows) is configuration both sides read. Coverage is recomputed here with the
simple rule (a sensor-day is covered when it has packets and no declared maintenance window
touches it); when that disagrees with teiten's coverage (a quiet sensor's empty day, a recorded
capture gap) the differing sensor-days are reported and teiten's covered sensor-days are used
for the other figures, so they are still compared.

Usage::

    python bench/crosscheck_stats.py DIR --registry sensors.toml --period 2026-10
    python bench/crosscheck_stats.py DIR --sensor mysensor --period 2026-10-01..2026-10-07 \\
        --tz UTC --store /tmp/st        # keep (or reuse) the store

Exit status 0 when every figure agrees, 1 otherwise. Needs Debian's ``tshark``.
"""

from __future__ import annotations

import argparse
import ipaddress
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from teiten.core.sensors import Registry, Sensor

#: tshark fields, in order; first occurrence only (ICMP errors quote a second IP header).
FIELDS = ["frame.time_epoch", "ip.src", "ip.dst", "ip.proto", "ipv6.src", "ipv6.dst",
          "ipv6.nxt", "tcp.dstport", "udp.dstport", "sctp.dstport", "icmp.type", "icmpv6.type"]
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz")
TCP, UDP, ICMP, ICMP6, SCTP = 6, 17, 1, 58, 132


@dataclass(frozen=True, slots=True)
class Packet:
    """One IP packet as tshark reports it."""

    us: int  # capture time, microseconds since the epoch
    src: str
    dst: str
    version: int
    proto: int
    port: int | None  # TCP/UDP dport, ICMP type, else None


def capture_files(root: Path) -> list[Path]:
    """Capture files under ``root`` (or ``root`` itself), sorted."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def _us(epoch: str) -> int:
    """tshark's decimal epoch seconds → microseconds (nanoseconds rounded to nearest)."""
    whole, _, frac = epoch.partition(".")
    ns = int(whole) * 10**9 + int((frac + "000000000")[:9])
    return (ns + 500) // 1000


def tshark_packets(path: Path) -> Iterator[Packet]:
    """Every IPv4/IPv6 packet of a capture, from ``tshark -T fields``."""
    cmd = ["tshark", "-n", "-r", str(path), "-o", "ip.defragment:FALSE",
           "-o", "ipv6.defragment:FALSE", "-T", "fields", "-E", "occurrence=f",
           "-E", "separator=\t"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        t, s4, d4, p4, s6, d6, p6, tdp, udp, sdp, it, it6 = line.split("\t")
        if s4:
            src, dst, version, proto = s4, d4, 4, int(p4)
        elif s6:
            src, dst, version, proto = s6, d6, 6, int(p6)
        else:
            continue  # not IP
        port: int | None = None
        if proto == TCP and tdp:
            port = int(tdp)
        elif proto == UDP and udp:
            port = int(udp)
        elif proto == SCTP and sdp:
            port = int(sdp)
        elif proto == ICMP and it:
            port = int(it)
        elif proto == ICMP6 and it6:
            port = int(it6)
        yield Packet(_us(t), src, dst, version, proto, port)


def _monitored(sensor: Sensor | None, p: Packet) -> bool:
    if sensor is None or sensor.monitors_everything:
        return True
    a = ipaddress.ip_address(p.dst)
    ns = p.us * 1000
    return any(a.version == b.network.version and a in b.network
               and b.valid_from_ns <= ns < b.valid_until_ns for b in sensor.addresses)


@dataclass
class Reference:
    """Figures computed from tshark output."""

    tz: str
    first: date
    last: date
    rows: list[tuple[str, date, Packet]] = field(default_factory=list)

    def in_period(self, sensor_id: str, p: Packet) -> date | None:
        """The packet's observation day if inside the period."""
        dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=p.us)
        day = dt.astimezone(ZoneInfo(self.tz)).date()
        return day if self.first <= day <= self.last else None


def read_reference(files: list[tuple[Path, Sensor | None, str]], tz: str, first: date,
                   last: date) -> Reference:
    """Monitored packets of the period from tshark, with their sensor and observation day."""
    ref = Reference(tz, first, last)
    for path, sensor, sid in files:
        for p in tshark_packets(path):
            if not _monitored(sensor, p):
                continue
            day = ref.in_period(sid, p)
            if day is not None:
                ref.rows.append((sid, day, p))
    return ref


def simple_coverage(ref: Reference, registry: Registry) -> set[tuple[str, date]]:
    """Sensor-days with packets that no declared maintenance window touches."""
    zone = ZoneInfo(ref.tz)
    out = set()
    for sid, day in {(s, d) for s, d, _ in ref.rows}:
        lo = datetime.combine(day, time(), zone)
        hi = datetime.combine(day + timedelta(days=1), time(), zone)
        windows = registry[sid].maintenance if sid in registry else ()
        if not any(w.start < hi and w.end > lo for w in windows):
            out.add((sid, day))
    return out


def address_days(ref: Reference, registry: Registry, covered: set[tuple[str, date]]) -> int:
    """Monitored addresses of each covered sensor-day (declared ones valid at local noon,
    else the distinct destinations seen that day), summed."""
    zone = ZoneInfo(ref.tz)
    seen: dict[tuple[str, date], set[str]] = defaultdict(set)
    for sid, day, p in ref.rows:
        seen[(sid, day)].add(p.dst)
    total = 0
    for sid, day in covered:
        s = registry.get(sid)
        if s is None or s.monitors_everything:
            total += len(seen[(sid, day)])
            continue
        noon = int(datetime.combine(day, time(12), zone).timestamp()) * 10**9
        total += sum(b.network.num_addresses for b in s.addresses
                     if b.valid_from_ns <= noon < b.valid_until_ns)
    return total


def figures(ref: Reference, covered: set[tuple[str, date]], addr_days: int) -> dict[str, Any]:
    """Every cross-checked figure from the reference rows on ``covered`` sensor-days."""
    import iptocc

    rows = [(s, d, p) for s, d, p in ref.rows if (s, d) in covered]
    srcs = sorted({p.src for _, _, p in rows})
    cc = dict(zip(srcs, iptocc.country_code(srcs), strict=True)) if srcs else {}

    def unit(s: str, d: date, p: Packet) -> tuple[Any, ...]:
        return (s, d, p.proto, p.port, p.version, p.src)

    def measures(key: Any) -> dict[Any, tuple[int, int, int]]:
        acc: Counter[Any] = Counter()
        units: dict[Any, set[Any]] = defaultdict(set)
        distinct: dict[Any, set[Any]] = defaultdict(set)
        for s, d, p in rows:
            k = key(s, d, p)
            acc[k] += 1
            units[k].add(unit(s, d, p))
            distinct[k].add((p.version, p.src))
        return {k: (acc[k], len(units[k]), len(distinct[k])) for k in acc}

    total = measures(lambda s, d, p: ())
    a, sc, ds = total.get((), (0, 0, 0))
    sd = len(covered)
    hourly = Counter((p.us // 3_600_000_000) % 24 for _, _, p in rows)
    return {
        "totals": {"sensor_days": sd, "address_days": addr_days, "accesses": a,
                   "source_count": sc, "distinct_sources": ds,
                   "accesses_per_point_day": a / sd if sd else None,
                   "sources_per_point_day": sc / sd if sd else None,
                   "accesses_per_address_day": a / addr_days if addr_days else None,
                   "sources_per_address_day": sc / addr_days if addr_days else None,
                   "accesses_per_source": a / sc if sc else None},
        "sensor_day_packets": dict(Counter((s, d) for s, d, _ in ref.rows)),
        "per_day": {d: m[:2] for (d,), m in measures(lambda s, d, p: (d,)).items()},
        "ports": measures(lambda s, d, p: (p.proto, p.port)),
        "countries": measures(lambda s, d, p: cc.get(p.src)),
        "hourly_utc": [hourly.get(h, 0) for h in range(24)],
    }


def teiten_figures(store: Any, period: Any) -> tuple[dict[str, Any], set[tuple[str, date]]]:
    """The same figures from teiten's statistics, and teiten's covered sensor-days."""
    from teiten.analyses import analysis, context

    ctx = context.from_store(store, period)
    t = analysis("totals")(ctx).to_pylist()[0]
    cov = analysis("coverage")(ctx).to_pylist()
    covered = {(r["sensor"], r["day"]) for r in cov if r["covered"]}
    per_day: dict[date, tuple[int, int]] = {}
    for r in analysis("daily_ports")(ctx).to_pylist():
        a, s = per_day.get(r["day"], (0, 0))
        per_day[r["day"]] = (a + r["accesses"], s + r["source_count"])
    keys = ("accesses", "source_count", "distinct_sources")
    hourly = [r for r in analysis("hourly")(ctx).to_pylist()
              if r["clock"] == "utc" and r["scope"] == "all"]
    return {
        "totals": {k: t[k] for k in ("sensor_days", "address_days", "accesses", "source_count",
                                     "distinct_sources", "accesses_per_point_day",
                                     "sources_per_point_day", "accesses_per_address_day",
                                     "sources_per_address_day", "accesses_per_source")},
        "sensor_day_packets": {(r["sensor"], r["day"]): r["packets"] for r in cov
                               if r["packets"]},
        "per_day": {d: v for d, v in per_day.items() if v != (0, 0)},
        "ports": {(r["proto"], r["port"]): tuple(r[k] for k in keys)
                  for r in analysis("ports")(ctx).to_pylist()},
        "countries": {r["country"]: tuple(r[k] for k in keys)
                      for r in analysis("countries")(ctx).to_pylist()},
        "hourly_utc": [r["accesses"] for r in sorted(hourly, key=lambda r: r["hour"])],
    }, covered


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Human-readable differences between two figure sets (teiten ``a``, tshark ``b``)."""
    out = []
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, dict):
            for k in sorted(set(x) | set(y), key=repr):
                if x.get(k) != y.get(k):
                    out.append(f"{name}[{k!r}]: teiten {x.get(k)!r}, tshark {y.get(k)!r}")
        elif x != y:
            out.append(f"{name}: teiten {x!r}, tshark {y!r}")
    return out


def crosscheck(root: Path, store_path: Path, period: Any, *, registry: Registry | None = None,
               sensor: str | None = None, ingest: bool = True,
               report: Any = print) -> list[str]:
    """Ingest ``root`` (unless ``ingest`` is false), compute both sides, return differences."""
    from teiten.store import open_store

    reg = registry if registry is not None else Registry([])
    files = []
    for f in capture_files(root):
        s = reg.get(sensor) if sensor else reg.for_path(str(f))
        sid = sensor or (s.id if s else None)
        if sid is None:
            report(f"skipped (no sensor claims it): {f}")
            continue
        files.append((f, s, sid))
    if ingest:
        from teiten.ingest.pipeline import ingest as run_ingest

        run_ingest([str(f) for f, _, _ in files], store_path, sensor=sensor,
                   registry=registry)
    store = open_store(store_path)
    ours, teiten_covered = teiten_figures(store, period)
    ref = read_reference(files, period.tz, period.start, period.days()[-1])
    simple = simple_coverage(ref, store.registry())
    diffs = []
    if simple != teiten_covered:
        extra = sorted(teiten_covered - simple)
        missing = sorted(simple - teiten_covered)
        report(f"coverage: teiten covers {len(extra)} sensor-days without packets or declared "
               f"maintenance (quiet sensors) and leaves out {len(missing)} with packets "
               f"(capture gaps, outage thresholds); comparing on teiten's covered days")
        diffs += [f"coverage: sensor-day {k} has packets and no maintenance but is not covered"
                  for k in missing if not ours["sensor_day_packets"].get(k)]
    theirs = figures(ref, teiten_covered, address_days(ref, store.registry(), teiten_covered))
    return diffs + differences(ours, theirs)


def main() -> None:
    from teiten.core.periods import parse_period

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("captures", type=Path, help="a capture file or a directory of them")
    ap.add_argument("--registry", type=Path, help="sensor registry (TOML) matching the files")
    ap.add_argument("--sensor", help="one sensor id for every file")
    ap.add_argument("--period", required=True, help="2026-10, 2026-10-01..2026-10-07, …")
    ap.add_argument("--tz", default="Asia/Tokyo", help="observation-day time zone")
    ap.add_argument("--store", type=Path, help="store directory (kept); reused if it exists")
    args = ap.parse_args()
    if not args.registry and not args.sensor:
        ap.error("give --registry or --sensor")
    reg = Registry.load(args.registry) if args.registry else None
    period = parse_period(args.period, args.tz)
    store = args.store or Path(tempfile.mkdtemp(prefix="teiten-crosscheck-")) / "store"
    reuse = args.store is not None and (args.store / "teiten-store.json").exists()
    diffs = crosscheck(args.captures, store, period, registry=reg, sensor=args.sensor,
                       ingest=not reuse)
    for d in diffs[:50]:
        print(d)
    print(f"{len(diffs)} differences" if diffs else
          f"teiten and tshark agree on every figure for {period.label} ({period.tz})")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()

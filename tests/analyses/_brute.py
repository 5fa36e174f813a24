"""Generated packets with known coverage, and brute-force plain-Python metrics over them.

Nothing here uses teiten's analyses: observation days come from :mod:`zoneinfo`, units from
Python sets, so a test comparing the two is a real cross-check.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from teiten.core.schema import PACKET_SCHEMA
from teiten.core.sensors import Registry

TZ = "Asia/Tokyo"
REGISTRY_TOML = """
[[sensor]]
id = "a"
addresses = ["192.0.2.0/30"]
country = "JP"

[[sensor]]
id = "b"
addresses = ["198.51.100.1/32"]
country = "JP"

[[sensor.maintenance]]
start = 2026-10-05T00:00:00+09:00
end = 2026-10-06T00:00:00+09:00
reason = "line maintenance"

[[sensor]]
id = "c"
addresses = ["203.0.113.0/31"]
country = "US"
"""
#: Local day on which sensor a captured nothing (an outage: it normally sees ~100 a day).
OUTAGE_DAY = date(2026, 10, 10)
MAINT_DAY = date(2026, 10, 5)
ADDRS = {"a": [0xC0000200 + i for i in range(4)], "b": [0xC6336401], "c": [0xCB007100,
                                                                            0xCB007101]}
COUNTRIES = ["JP", "CN", "US", "IN", "NP", "DE", None]


def registry() -> Registry:
    return Registry.from_toml_text(REGISTRY_TOML)


def _ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 10**9


def generate(n: int = 6000, seed: int = 7) -> pa.Table:
    """Packets over September–October 2026 (Tokyo) plus boundary packets, in PACKET_SCHEMA."""
    rng = np.random.default_rng(seed)
    t0 = _ns(datetime(2026, 8, 31, 12, tzinfo=UTC))
    t1 = _ns(datetime(2026, 11, 1, 3, tzinfo=UTC))
    ts = rng.integers(t0, t1, n, dtype=np.int64) // 1000 * 1000  # microseconds, like pcap
    sensor = rng.choice(np.array(["a", "b", "c"]), n, p=[0.5, 0.2, 0.3])
    # sources: 80 IPv4 + 12 IPv6, each with a fixed country
    nsrc = 92
    src_id = rng.integers(0, nsrc, n)
    src_country = rng.choice(np.array(COUNTRIES, dtype=object), nsrc)
    is6 = src_id >= 80
    proto = rng.choice(np.array([6, 17, 1, 58, 47], np.uint8), n, p=[0.6, 0.2, 0.1, 0.05, 0.05])
    dport = rng.choice(np.array([445, 135, 23, 1433, 1434, 53], np.uint16), n)
    sport = rng.choice(np.array([6000, 1024, 40000, 50000], np.uint16), n, p=[0.5, 0.2, 0.2, 0.1])
    icmp = rng.choice(np.array([8, 0, 3, 128], np.uint8), n)
    dst = np.array([rng.choice(ADDRS[s]) for s in sensor], np.uint32)
    rows: dict[str, list[Any]] = {k: [] for k in ("ts", "sensor", "ip_version", "src", "src6",
                                                  "dst", "proto", "sport", "dport", "icmp_type",
                                                  "country")}
    for i in range(n):
        p = int(proto[i])
        rows["ts"].append(int(ts[i]))
        rows["sensor"].append(str(sensor[i]))
        rows["ip_version"].append(6 if is6[i] else 4)
        rows["src"].append(None if is6[i] else 0x0A000000 + int(src_id[i]))
        rows["src6"].append(bytes([0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [int(src_id[i])])
                            if is6[i] else None)
        rows["dst"].append(int(dst[i]))
        rows["proto"].append(p)
        tcpudp = p in (6, 17)
        rows["sport"].append(int(sport[i]) if tcpudp else None)
        rows["dport"].append(int(dport[i]) if tcpudp else None)
        rows["icmp_type"].append(int(icmp[i]) if p in (1, 58) else None)
        rows["country"].append(src_country[src_id[i]])
    # boundary packets: same source, sensor c, 445/TCP, at Tokyo midnights
    for when in (datetime(2026, 9, 30, 14, 59, 59, tzinfo=UTC),
                 datetime(2026, 9, 30, 15, 0, 0, tzinfo=UTC),
                 datetime(2026, 10, 1, 14, 59, 59, tzinfo=UTC),
                 datetime(2026, 10, 1, 15, 0, 0, tzinfo=UTC),
                 datetime(2026, 10, 31, 14, 59, 59, tzinfo=UTC),
                 datetime(2026, 10, 31, 15, 0, 0, tzinfo=UTC)):
        rows["ts"].append(_ns(when))
        rows["sensor"].append("c")
        rows["ip_version"].append(4)
        rows["src"].append(0x0B000001)
        rows["src6"].append(None)
        rows["dst"].append(ADDRS["c"][0])
        rows["proto"].append(6)
        rows["sport"].append(6000)
        rows["dport"].append(445)
        rows["icmp_type"].append(None)
        rows["country"].append("KR")
    table = _to_packet_table(rows)
    # sensor a: nothing on the outage day
    keep = [not (s == "a" and local_day(t) == OUTAGE_DAY)
            for s, t in zip(rows["sensor"], rows["ts"], strict=True)]
    return table.filter(pa.array(keep))


def _to_packet_table(rows: dict[str, list[Any]]) -> pa.Table:
    n = len(rows["ts"])
    cols = []
    for f in PACKET_SCHEMA:
        if f.name in rows:
            typ = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
            arr = pa.array(rows[f.name], typ)
            cols.append(arr.dictionary_encode() if pa.types.is_dictionary(f.type) else arr)
        else:
            cols.append(pa.nulls(n, f.type))
    return pa.table(cols, schema=PACKET_SCHEMA)


def local_day(ts_ns: int, tz: str = TZ) -> date:
    """Observation day by zoneinfo (microsecond resolution, like the engine)."""
    dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_ns // 1000)
    return dt.astimezone(ZoneInfo(tz)).date()


def period_days(year: int, month: int) -> list[date]:
    d = date(year, month, 1)
    out = []
    while d.month == month:
        out.append(d)
        d += timedelta(days=1)
    return out


def covered(days: list[date]) -> dict[tuple[str, date], int]:
    """Expected covered sensor-days → addresses, by construction."""
    out = {}
    for s, addrs in ADDRS.items():
        for d in days:
            if (s, d) in {("a", OUTAGE_DAY), ("b", MAINT_DAY)}:
                continue
            out[(s, d)] = len(addrs)
    return out


def port_key(r: dict[str, Any]) -> tuple[int, int | None]:
    p = r["proto"]
    if p in (6, 17, 132):
        return p, r["dport"]
    if p in (1, 58):
        return p, r["icmp_type"]
    return p, None


def src_key(r: dict[str, Any]) -> object:
    return r["src"] if r["src"] is not None else r["src6"]


class Brute:
    """Plain-Python metrics over the covered rows of a month."""

    def __init__(self, table: pa.Table, year: int, month: int, tz: str = TZ) -> None:
        self.days = period_days(year, month)
        self.cov = covered(self.days)
        self.homes = {"a": "JP", "b": "JP", "c": "US"}
        self.rows = []
        ns = table["ts"].cast(pa.int64()).to_pylist()
        for r, t in zip(table.to_pylist(), ns, strict=True):
            r["_ns"] = t
            r["sensor"] = str(r["sensor"])
            ts_ns = r["_ns"]
            r["_day"] = local_day(ts_ns, tz)
            if (r["sensor"], r["_day"]) in self.cov:
                self.rows.append(r)
        self.sensor_days = len(self.cov)
        self.address_days = sum(self.cov.values())

    def units(self, rows: list[dict[str, Any]] | None = None) -> set[tuple[Any, ...]]:
        return {(r["sensor"], r["_day"], *port_key(r), src_key(r)) for r in (rows or self.rows)}

    def measures(self, key: Any) -> dict[Any, tuple[int, int, int]]:
        """key(row) → (accesses, source_count, distinct_sources)."""
        groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for r in self.rows:
            groups[key(r)].append(r)
        return {k: (len(v), len(self.units(v)), len({src_key(r) for r in v}))
                for k, v in groups.items()}

    def hourly_utc(self) -> Counter[int]:
        return Counter(datetime.fromtimestamp(r["_ns"] // 10**9, tz=UTC).hour for r in self.rows)

    def hourly_local(self, tzs: dict[str, str]) -> Counter[int]:
        c: Counter[int] = Counter()
        for r in self.rows:
            if r["country"] in tzs:
                t = datetime.fromtimestamp(r["_ns"] // 10**9, tz=UTC)
                c[t.astimezone(ZoneInfo(tzs[r["country"]])).hour] += 1
        return c


def write_store(root: Path, table: pa.Table, reg: Registry) -> Any:
    """A store holding ``table`` (files per sensor and UTC date, one catalog input)."""
    from teiten.store import create_store, file_schema
    from teiten.store.catalog import InputRecord

    store = create_store(root)
    files = []
    dates = [datetime.fromtimestamp(t // 10**9, tz=UTC).date().isoformat()
             for t in table["ts"].cast(pa.int64()).to_pylist()]
    sensors = table["sensor"].cast(pa.string()).to_pylist()
    keys = sorted(set(zip(sensors, dates, strict=True)))
    fs = file_schema()
    for s, d in keys:
        mask = pa.array([x == s and y == d for x, y in zip(sensors, dates, strict=True)])
        part = table.filter(mask).drop_columns(["sensor"]).select(fs.names).cast(fs)
        rel = f"packets/sensor={s}/date={d}/test-0.parquet"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(part, root / rel)
        files.append(rel)
    store.merge_sensors(list(reg.values()))
    store.catalog.commit(InputRecord(input_id="test-input", name="generated", files=files,
                                     packets=table.num_rows))
    return store

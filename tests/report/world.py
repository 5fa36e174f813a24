"""A small fixed-seed darknet world as a packet table: two months, six sensors.

Built in memory (no captures, no store) so report tests run the real statistics and detection
APIs in a few seconds. September and October 2026 (Asia/Tokyo observation days); October adds
the seed reports' phenomena: a 1521/TCP surge from one source on source port 6000, 8909/TCP
entering the top 10, DDoS backscatter (SYN/ACK from one victim) and a horizontal telnet scan.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from teiten.core.schema import PACKET_SCHEMA
from teiten.core.sensors import Registry

SENSORS = 6
BASE = 0xC0000200  # 192.0.2.0: sensor i monitors 192.0.2.(2i) and 192.0.2.(2i+1)
COUNTRIES = np.array(["CN", "US", "JP", "RU", "TW", "KR", "BR", "NL"])
COUNTRY_P = np.array([0.34, 0.18, 0.16, 0.1, 0.07, 0.06, 0.05, 0.04])
#: (proto, dport, weight) of the background; ICMP uses dport as the type.
PORTS = [(6, 445, 30), (6, 135, 14), (1, 8, 10), (6, 1433, 9), (6, 23, 8), (6, 22, 7),
         (6, 3389, 6), (6, 4899, 4), (17, 1026, 3), (6, 80, 3), (6, 8080, 2), (17, 53, 2),
         (6, 5900, 2)]


def registry() -> Registry:
    """The six sensors: two addresses each, home country JP, one responsive."""
    text = []
    for i in range(SENSORS):
        a = f"192.0.2.{2 * i}/31"
        kind = "responsive" if i == SENSORS - 1 else "passive"
        text.append(f'[[sensor]]\nid = "s{i + 1:02d}"\nname = "point {i + 1}"\n'
                    f'addresses = ["{a}"]\nkind = "{kind}"\ncountry = "JP"\n'
                    f'timezone = "Asia/Tokyo"\n')
    return Registry.from_toml_text("\n".join(text))


def _ns(y: int, m: int, d: int, h: int = 0) -> int:
    return int(datetime(y, m, d, h, tzinfo=UTC).timestamp()) * 10**9


def packets(seed: int = 20261001, per_day: int = 220) -> pa.Table:
    """The packet table (``PACKET_SCHEMA``), sorted by time."""
    rng = np.random.default_rng(seed)
    start, end = _ns(2026, 8, 31, 15), _ns(2026, 10, 31, 15)  # JST 1 Sep .. 1 Nov
    days = (end - start) // (86400 * 10**9)
    n = int(days * per_day * SENSORS / 6)
    src_pool = rng.integers(0x0B000000, 0xDF000000, 600, dtype=np.int64).astype(np.uint32)
    src_country = rng.choice(COUNTRIES, len(src_pool), p=COUNTRY_P)
    pick = rng.integers(0, len(src_pool), n)
    w = np.array([p[2] for p in PORTS], float)
    port_i = rng.choice(len(PORTS), n, p=w / w.sum())
    cols: dict[str, np.ndarray] = {
        "ts": np.sort(rng.integers(start, end, n)),
        "src": src_pool[pick],
        "country": src_country[pick],
        "dst": (BASE + rng.integers(0, 2 * SENSORS, n)).astype(np.uint32),
        "proto": np.array([PORTS[i][0] for i in port_i], np.uint8),
        "dport": np.array([PORTS[i][1] for i in port_i], np.int64),
        "sport": rng.integers(1024, 65535, n),
        "tcp_flags": np.full(n, 2),
    }
    oct1 = _ns(2026, 9, 30, 15)
    extra = []
    # 1521/TCP surge: one Chinese source, source port 6000, from 8 October (NPA 2009-07).
    k = 900
    extra.append({"ts": rng.integers(_ns(2026, 10, 8), end, k), "src": np.full(k, 0x3D000001),
                  "country": np.full(k, "CN"), "dst": BASE + rng.integers(0, 12, k),
                  "proto": np.full(k, 6), "dport": np.full(k, 1521), "sport": np.full(k, 6000),
                  "tcp_flags": np.full(k, 2)})
    # 8909/TCP enters the top 10 in October from many sources (IPA 2011-11).
    k = 700
    s = rng.integers(0, len(src_pool), k)
    extra.append({"ts": rng.integers(oct1, end, k), "src": src_pool[s],
                  "country": src_country[s], "dst": BASE + rng.integers(0, 12, k),
                  "proto": np.full(k, 6), "dport": np.full(k, 8909),
                  "sport": rng.integers(1024, 65535, k), "tcp_flags": np.full(k, 2)})
    # Backscatter: SYN/ACK from 198.51.100.20:80 for 15 minutes on 18 October (JST evening).
    k = 600
    t0 = _ns(2026, 10, 18, 11)
    extra.append({"ts": t0 + np.sort(rng.integers(0, 900 * 10**9, k)),
                  "src": np.full(k, 0xC6336414), "country": np.full(k, "US"),
                  "dst": BASE + rng.integers(0, 12, k), "proto": np.full(k, 6),
                  "dport": rng.integers(1024, 65535, k), "sport": np.full(k, 80),
                  "tcp_flags": np.full(k, 0x12)})
    # A horizontal scan: one source sweeps every address on 23/TCP, five times in 10 minutes.
    k = 60
    extra.append({"ts": _ns(2026, 10, 20, 3) + np.arange(k) * 10 * 10**9,
                  "src": np.full(k, 0x5B000001), "country": np.full(k, "RU"),
                  "dst": BASE + np.tile(np.arange(12), 5), "proto": np.full(k, 6),
                  "dport": np.full(k, 23), "sport": np.full(k, 40000),
                  "tcp_flags": np.full(k, 2)})
    for e in extra:
        for key in cols:
            cols[key] = np.concatenate([cols[key], np.asarray(e[key])])
    order = np.argsort(cols["ts"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    return _table(cols)


def _table(c: dict[str, np.ndarray]) -> pa.Table:
    n = len(c["ts"])
    sensor = np.array([f"s{(int(d) - BASE) // 2 + 1:02d}" for d in c["dst"]])
    icmp = c["proto"] == 1
    tcp = c["proto"] == 6
    data = {
        "ts": pa.array(c["ts"], pa.timestamp("ns", tz="UTC")),
        "sensor": pa.array(sensor).dictionary_encode(),
        "ip_version": pa.array(np.full(n, 4), pa.uint8()),
        "src": pa.array(c["src"], pa.uint32()),
        "dst": pa.array(c["dst"], pa.uint32()),
        "proto": pa.array(c["proto"], pa.uint8()),
        "sport": pa.array(np.where(icmp, 0, c["sport"]), pa.uint16(), mask=icmp),
        "dport": pa.array(np.where(icmp, 0, c["dport"]), pa.uint16(), mask=icmp),
        "icmp_type": pa.array(np.where(icmp, c["dport"], 0), pa.uint8(), mask=~icmp),
        "icmp_code": pa.array(np.zeros(n), pa.uint8(), mask=~icmp),
        "tcp_flags": pa.array(c["tcp_flags"], pa.uint8(), mask=~tcp),
        "ttl": pa.array(np.full(n, 113), pa.uint8()),
        "ip_len": pa.array(np.where(tcp, 48, 60), pa.uint16()),
        "payload_len": pa.array(np.zeros(n), pa.uint16()),
        "wire_len": pa.array(np.where(tcp, 62, 74), pa.uint32()),
        "country": pa.array(c["country"]).dictionary_encode(),
    }
    arrays = [data[f.name].cast(f.type) if f.name in data else pa.nulls(n, f.type)
              for f in PACKET_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=PACKET_SCHEMA)

"""A fixed-seed set of report facts, for rendering tests that need no store or analyses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from teiten.core.periods import parse_period
from teiten.report.facts import (
    Attack,
    CmpRow,
    Headline,
    PayloadRow,
    ReportFacts,
    Scan,
    SensorCoverage,
    Series,
    TrendPoint,
)

#: Markup and script an attacker could put on the wire; must come out as text.
EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def sample_facts(seed: int = 7, evil: bool = False) -> ReportFacts:
    """Facts of a small synthetic month (numbers drawn with a fixed seed)."""
    rng = np.random.default_rng(seed)
    period = parse_period("2026-10")
    ports = ["445/TCP", "23/TCP", "135/TCP", "8/ICMP", "1433/TCP", "22/TCP", "3389/TCP",
             "4899/TCP", "1521/TCP", "80/TCP", "8909/TCP", "1026/UDP"]
    values = sorted(rng.uniform(0.5, 130, len(ports)), reverse=True)
    rows = []
    for i, (p, v) in enumerate(zip(ports, values, strict=True)):
        prev = v * rng.uniform(0.6, 1.4)
        if p == "8909/TCP":
            prev = 0.005
        pct = None if prev < 0.01 else 100 * (v - prev) / prev
        rows.append(CmpRow(p, i + 1, (i + 2) if p != "8909/TCP" else None, round(v, 2),
                           round(prev, 2), pct, round(v - prev, 2)))
    inc = sorted(rows, key=lambda r: -r.change_abs)[:5]
    dec = sorted(rows, key=lambda r: r.change_abs)[:5]
    rows = [CmpRow(r.key, r.rank, r.prev_rank, r.value, r.prev_value, r.change_pct, r.change_abs,
                   inc.index(r) + 1 if r in inc and r.change_abs > 0 else None,
                   dec.index(r) + 1 if r in dec and r.change_abs < 0 else None) for r in rows]
    countries = ["CN", "JP", "US", "RU", "TW", "KR", "BR"]
    cvals = sorted(rng.uniform(2, 110, len(countries)), reverse=True)
    crow = [CmpRow(c, i + 1, i + 1, round(v, 2), round(v * 1.1, 2), -9.09, round(-v * 0.1, 2))
            for i, (c, v) in enumerate(zip(countries, cvals, strict=True))]
    days = tuple(period.days())
    tool = EVIL if evil else "zmap"
    head = Headline(accesses=293252, sources=74770, distinct_sources=51234, sensor_days=270,
                    address_days=270, points=10, addresses=10)
    prev_head = Headline(accesses=301000, sources=76000, distinct_sources=52000, sensor_days=300,
                         address_days=300, points=10, addresses=10)
    trend = tuple(TrendPoint(period.shift(k - 5), float(rng.uniform(900, 1200)),
                             float(rng.uniform(250, 300))) for k in range(6))
    return ReportFacts(
        period=period, headline=head, prev_headline=prev_head, trend=trend,
        ports=tuple(rows), countries=tuple(crow),
        daily_ports=Series(days, tuple((p, tuple(float(x) for x in rng.uniform(0, 100, 31)))
                                       for p in ports[:5])),
        daily_countries=Series(days, tuple((c, tuple(float(x) for x in rng.uniform(0, 80, 31)))
                                           for c in countries[:5])),
        port_shares_world=(("445/TCP", 0.42), ("23/TCP", 0.2), ("135/TCP", 0.1),
                           ("other", 0.28)),
        port_shares_home=(("445/TCP", 0.5), ("23/TCP", 0.1), ("135/TCP", 0.15),
                          ("other", 0.25)),
        port_by_country=tuple((c, (("445/TCP", 0.3), ("23/TCP", 0.3), ("other", 0.4)))
                              for c in countries[:5]),
        country_shares=tuple((c, v / sum(cvals)) for c, v in zip(countries, cvals, strict=True)),
        sport_profiles=(("1521/TCP", (("6000", 0.99), ("40000", 0.01))),),
        hourly=(tuple(float(x) for x in rng.uniform(100, 200, 24)),
                tuple(float(x) for x in rng.uniform(50, 250, 24))),
        attacks=(Attack("198.51.100.20", "TCP", 80, datetime(2026, 10, 8, 3, 0, tzinfo=UTC),
                        5400.0, 812, 1_234_567.0, "SYN/ACK"),),
        scans=(Scan("203.0.113.9", "horizontal", tool, "23/TCP", 9, 1200, "CN"),),
        tools=((tool, 5000), ("masscan", 3000), ("mirai", 2500)),
        payloads=(PayloadRow("80/TCP", "HTTP", EVIL if evil else "GET / HTTP/1.1\r\nHost: x",
                             42, 17),),
        coverage=tuple(SensorCoverage(f"tp-{i:02d}", f"point {i}", "passive", 1, 27, 31,
                                      29000, tuple(date(2026, 10, 1) + timedelta(days=d)
                                                   for d in range(4)))
                       for i in range(10)),
        glossary={"445/TCP": {"ja": "ファイル共有 (SMB)", "en": "file sharing (SMB)"}},
        country_names={"JP": {"ja": "日本", "en": "Japan"}, "CN": {"ja": "中国", "en": "China"},
                       "US": {"ja": "米国", "en": "United States"}},
        params=(("events", "surge_pct", "50.0"),),
        reasons={"signatures": "teiten.signatures has not run"},
        meta={"version": "0.1.0", "store": "store", "inputs": "20"},
    )

"""Category, signature, country and daily tables; period comparison like NPA tables 4-1/4-2."""

from __future__ import annotations

import pyarrow as pa
import pytest

from teiten.core.periods import day_number, parse_period
from teiten.signatures import tables
from teiten.signatures.engine import ALERT_SCHEMA

OCT = parse_period("2026-10", "Asia/Tokyo")
D1 = day_number(OCT.start)


def counts(rows: list[tuple[int, str, int, str, str | None, int]]) -> pa.Table:
    names = ["day", "sensor", "sid", "category", "country", "hits"]
    cols = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    cols["msg"] = [f"sig {s}" for s in cols["sid"]]
    return pa.table(cols).select(tables.COUNTS_SCHEMA.names).cast(tables.COUNTS_SCHEMA)


def covered(days: list[int], addresses: int = 10, sensor: str = "s1") -> pa.Table:
    return pa.table({"sensor": [sensor] * len(days), "day": pa.array(days, pa.int32()),
                     "addresses": [addresses] * len(days)})


def test_observation_day_uses_report_time_zone() -> None:
    # 2026-09-30 15:30 UTC is 2026-10-01 00:30 in Tokyo
    ts = pa.array([1_790_782_200 * 10**9], pa.timestamp("ns", tz="UTC"))
    assert tables.observation_days(ts, OCT).to_pylist() == [D1]


def test_hit_counts_groups_and_drops_out_of_period() -> None:
    ts = pa.array([1_790_782_200 * 10**9] * 3 + [1_790_000_000 * 10**9],
                  pa.timestamp("ns", tz="UTC"))
    n = 4
    alerts = pa.table({
        "ts": ts, "sensor": ["s1"] * n, "sid": [1, 1, 2, 1], "gid": pa.array([1] * n, pa.int32()),
        "rev": pa.array([1] * n, pa.int32()), "msg": ["a", "a", "b", "a"], "classtype": [None] * n,
        "category": ["Worm", "Worm", "Scan", "Worm"], "country": ["CN", "CN", None, "CN"],
    })
    for f in ALERT_SCHEMA:
        if f.name not in alerts.column_names:
            alerts = alerts.append_column(f.name, pa.nulls(n, f.type))
    c = tables.hit_counts(alerts.select(ALERT_SCHEMA.names).cast(ALERT_SCHEMA), OCT)
    got = sorted(zip(c.column("sid").to_pylist(), c.column("hits").to_pylist(), strict=True))
    assert got == [(1, 2), (2, 1)]


def test_category_table_divides_by_covered_address_days() -> None:
    c = counts([(D1, "s1", 1, "Worm", "CN", 40), (D1 + 1, "s1", 2, "Scan", "US", 20)])
    t = tables.category_table(c, covered([D1, D1 + 1]))
    rows = {r["category"]: r for r in t.to_pylist()}
    assert rows["Worm"]["per_address_day"] == pytest.approx(2.0)  # 40 / (2 days x 10 addresses)
    assert rows["Scan"]["share_pct"] == pytest.approx(100 / 3)
    assert rows["DNS"]["hits"] == 0  # every category listed


def test_hits_on_uncovered_days_are_left_out() -> None:
    c = counts([(D1, "s1", 1, "Worm", "CN", 40), (D1 + 5, "s1", 1, "Worm", "CN", 1000)])
    t = tables.category_table(c, covered([D1]))
    assert {r["category"]: r["hits"] for r in t.to_pylist()}["Worm"] == 40


def test_signature_and_country_tables() -> None:
    c = counts([(D1, "s1", 1, "Worm", "CN", 30), (D1, "s1", 2, "Worm", "US", 10),
                (D1, "s1", 2, "Worm", "CN", 5)])
    sig = tables.signature_table(c, covered([D1]))
    assert sig.column("sid").to_pylist() == [1, 2]
    ctry = tables.country_table(c, covered([D1]))
    assert ctry.column("country").to_pylist() == ["CN", "US"]
    assert ctry.column("per_address_day").to_pylist() == pytest.approx([3.5, 1.0])


def test_daily_table_uses_that_days_addresses() -> None:
    cov = pa.concat_tables([covered([D1, D1 + 1]), covered([D1 + 1], sensor="s2")])
    c = counts([(D1, "s1", 1, "Worm", "CN", 10), (D1 + 1, "s2", 1, "Worm", "CN", 10)])
    d = tables.daily_table(c, cov)
    worm = [r for r in d.to_pylist() if r["category"] == "Worm"]
    assert [r["per_address_day"] for r in worm] == pytest.approx([1.0, 0.5])


def test_comparison_like_table_4_1() -> None:
    now = counts([(D1, "s1", 1, "Worm", "CN", 60), (D1, "s1", 2, "Scan", "CN", 40)])
    before = counts([(D1 - 31, "s1", 1, "Worm", "CN", 70), (D1 - 31, "s1", 3, "UDP spam",
                                                                   "CN", 50)])
    t = tables.comparison_table(tables.category_table(now, covered([D1])),
                                tables.category_table(before, covered([D1 - 31])),
                                ["category"])
    rows = {r["category"]: r for r in t.to_pylist()}
    assert (rows["Worm"]["rank_now"], rows["Worm"]["rank_before"]) == (1, 1)
    assert rows["Worm"]["change"] == pytest.approx(-1.0)
    assert rows["UDP spam"]["status_now"] == "not_detected"
    assert rows["UDP spam"]["decrease_rank"] == 1
    assert rows["Scan"]["increase_rank"] == 1 and rows["Scan"]["pct_note"]


def test_country_breakdowns() -> None:
    c = counts([(D1, "s1", 1, "Worm", "CN", 30), (D1, "s1", 2, "Scan", "CN", 10),
                (D1, "s1", 2, "Scan", "US", 5)])
    cc = tables.country_category_table(c, covered([D1]))
    assert cc.slice(0, 1).to_pylist()[0]["category"] == "Worm"
    cs = tables.country_signature_table(c, covered([D1]))
    assert sorted(zip(cs.column("country").to_pylist(), cs.column("sid").to_pylist(),
                      strict=True)) == [("CN", 1), ("CN", 2), ("US", 2)]

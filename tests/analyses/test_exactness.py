"""Every metric equals a brute-force plain-Python computation on the same generated packets."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from teiten.analyses import analysis, context, parse_period
from teiten.analyses.labels import port_label
from teiten.analyses.timezones import country_timezone

from ._brute import TZ, Brute, generate, port_key, registry, src_key


def _close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


def test_totals(ctx: Any, brute: Brute) -> None:
    t = analysis("totals")(ctx).to_pylist()[0]
    assert t["accesses"] == len(brute.rows)
    assert t["source_count"] == len(brute.units())
    assert t["distinct_sources"] == len({src_key(r) for r in brute.rows})
    assert _close(t["accesses_per_point_day"], len(brute.rows) / brute.sensor_days)
    assert _close(t["sources_per_point_day"], len(brute.units()) / brute.sensor_days)
    assert _close(t["accesses_per_address_day"], len(brute.rows) / brute.address_days)
    assert _close(t["accesses_per_source"], len(brute.rows) / len(brute.units()))


def test_ports(ctx: Any, brute: Brute) -> None:
    tab = analysis("ports")(ctx)
    got = {(r["proto"], r["port"]): (r["accesses"], r["source_count"], r["distinct_sources"])
           for r in tab.to_pylist()}
    assert got == brute.measures(port_key)
    labels = {(r["proto"], r["port"]): r["label"] for r in tab.to_pylist()}
    assert all(labels[k] == port_label(*k) for k in labels)


def test_ports_rank_and_shares(ctx: Any, brute: Brute) -> None:
    rows = analysis("ports")(ctx).to_pylist()
    acc = [r["accesses"] for r in rows]
    assert acc == sorted(acc, reverse=True)
    assert rows[0]["rank"] == 1
    assert _close(sum(r["access_share"] for r in rows), 1.0)
    assert _close(rows[0]["accesses_per_address_day"], rows[0]["accesses"] / brute.address_days)


def test_countries(ctx: Any, brute: Brute) -> None:
    tab = analysis("countries")(ctx)
    got = {r["country"]: (r["accesses"], r["source_count"], r["distinct_sources"])
           for r in tab.to_pylist()}
    assert got == brute.measures(lambda r: r["country"])


def test_protocols(ctx: Any, brute: Brute) -> None:
    tab = analysis("protocols")(ctx)
    got = {r["proto"]: (r["accesses"], r["source_count"], r["distinct_sources"])
           for r in tab.to_pylist()}
    assert got == brute.measures(lambda r: r["proto"])


def test_home_world(ctx: Any, brute: Brute) -> None:
    from teiten.analyses.home_world import Params

    tab = analysis("home_world")(ctx, Params(top=None)).to_pylist()
    world = {(r["proto"], r["port"]): r["accesses"] for r in tab if r["scope"] == "world"}
    home = {(r["proto"], r["port"]): r["accesses"] for r in tab if r["scope"] == "home"}
    assert world == {k: v[0] for k, v in brute.measures(port_key).items()}
    expect: Counter[tuple[int, int | None]] = Counter(
        port_key(r) for r in brute.rows if r["country"] == brute.homes[r["sensor"]])
    assert home == dict(expect)


def test_port_country(ctx: Any, brute: Brute) -> None:
    from teiten.analyses.port_country import Params

    tab = analysis("port_country")(ctx, Params(top_ports=100, top_countries=100)).to_pylist()
    pairs = brute.measures(lambda r: (*port_key(r), r["country"]))
    assert {(r["proto"], r["port"], r["country"]): (r["accesses"], r["source_count"])
            for r in tab} == {k: v[:2] for k, v in pairs.items()}
    port_tot: Counter[tuple[int, int | None]] = Counter()
    for (p, q, _c), v in pairs.items():
        port_tot[(p, q)] += v[0]
    for r in tab:
        assert _close(r["share_of_port"], r["accesses"] / port_tot[(r["proto"], r["port"])])


def test_port_country_keeps_only_top_rows(ctx: Any) -> None:
    from teiten.analyses.port_country import Params

    tab = analysis("port_country")(ctx, Params(top_ports=1, top_countries=1)).to_pylist()
    assert all(r["port_rank"] == 1 or r["country_rank"] == 1 for r in tab)
    port_rank = {(r["proto"], r["port"]): r["rank"] for r in analysis("ports")(ctx).to_pylist()}
    assert all(r["port_rank"] == port_rank[(r["proto"], r["port"])] for r in tab)
    assert len({r["port_rank"] for r in tab}) > 1


def test_sport_profile(ctx: Any, brute: Brute) -> None:
    from teiten.analyses.sport_profile import Params

    tab = analysis("sport_profile")(ctx, Params(ports=("445/TCP",), top_sports=2)).to_pylist()
    c = Counter(r["sport"] for r in brute.rows if port_key(r) == (6, 445))
    total = sum(c.values())
    top2 = c.most_common(2)
    assert [(r["sport"], r["accesses"]) for r in tab[:2]] == top2
    assert tab[2]["sport"] is None and tab[2]["accesses"] == total - sum(v for _, v in top2)
    assert _close(sum(r["share"] for r in tab), 1.0)


def test_daily_ports(ctx: Any, brute: Brute) -> None:
    from teiten.analyses.daily_ports import Params

    tab = analysis("daily_ports")(ctx, Params(top=3)).to_pylist()
    assert {r["day"] for r in tab} == set(brute.days)
    per: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in brute.rows:
        per[(r["_day"], *port_key(r))].append(r)
    sensors_per_day = Counter(d for (_s, d) in brute.cov)
    for r in tab:
        if r["other"]:
            continue
        rows = per.get((r["day"], r["proto"], r["port"]), [])
        assert r["accesses"] == len(rows)
        assert r["source_count"] == len(brute.units(rows)) if rows else r["source_count"] == 0
        assert _close(r["accesses_per_point"], len(rows) / sensors_per_day[r["day"]])


def test_daily_ports_other_row_sums_the_rest(ctx: Any, brute: Brute) -> None:
    from teiten.analyses.daily_ports import Params

    tab = analysis("daily_ports")(ctx, Params(top=2)).to_pylist()
    by_day = Counter(r["_day"] for r in brute.rows)
    sums: Counter[Any] = Counter()
    for r in tab:
        sums[r["day"]] += r["accesses"]
    assert sums == by_day


def test_daily_countries(ctx: Any, brute: Brute) -> None:
    tab = analysis("daily_countries")(ctx).to_pylist()
    c = Counter((r["_day"], r["country"]) for r in brute.rows)
    for r in tab:
        if not r["other"]:
            assert r["accesses"] == c.get((r["day"], r["country"]), 0)


def test_hourly_utc_and_local(ctx: Any, brute: Brute) -> None:
    tab = analysis("hourly")(ctx).to_pylist()
    utc = {r["hour"]: r["accesses"] for r in tab if r["clock"] == "utc" and r["scope"] == "all"}
    assert utc == {h: brute.hourly_utc().get(h, 0) for h in range(24)}
    tzs = {c: z for c in {r["country"] for r in brute.rows}
           if c and (z := country_timezone(c))}
    local = {r["hour"]: r["accesses"] for r in tab
             if r["clock"] == "local" and r["scope"] == "all"}
    assert local == {h: brute.hourly_local(tzs).get(h, 0) for h in range(24)}


def test_hourly_local_uses_quarter_hour_offsets(ctx: Any, brute: Brute) -> None:
    # Nepal is UTC+5:45: its local profile differs from a whole-hour shift of UTC
    tab = analysis("hourly")(ctx).to_pylist()
    np_rows = {r["hour"]: r["accesses"] for r in tab
               if r["clock"] == "local" and r["country"] == "NP"}
    expect = Counter(
        datetime.fromtimestamp(r["_ns"] // 10**9, tz=UTC).astimezone(
            __import__("zoneinfo").ZoneInfo("Asia/Kathmandu")).hour
        for r in brute.rows if r["country"] == "NP")
    if np_rows:
        assert np_rows == {h: expect.get(h, 0) for h in range(24)}


def test_trend_matches_totals_of_each_month(packets: pa.Table, ctx: Any) -> None:
    from teiten.analyses.trend import Params

    rows = analysis("trend")(ctx, Params(periods=2)).to_pylist()
    sep = Brute(packets, 2026, 9)
    assert [r["period"] for r in rows] == ["2026-09", "2026-10"]
    assert rows[0]["accesses"] == len(sep.rows)
    assert rows[0]["source_count"] == len(sep.units())
    assert rows[1]["accesses"] == analysis("totals")(ctx).to_pylist()[0]["accesses"]


def test_talot2_rule_at_day_boundaries(ctx: Any) -> None:
    # source 11.0.0.1 hits sensor c on 445/TCP at 14:59:59Z and 15:00:00Z around each Tokyo
    # midnight of October: Sep 30 (excluded), Oct 1 twice, Oct 2, Oct 31, Nov 1 (excluded)
    u = ctx.units.filter(ctx.units.src == 0x0B000001).to_pyarrow().to_pylist()
    days = sorted((r["day"], r["packets"]) for r in u)
    from datetime import date

    from teiten.core.periods import day_number

    assert days == [(day_number(date(2026, 10, 1)), 2), (day_number(date(2026, 10, 2)), 1),
                    (day_number(date(2026, 10, 31)), 1)]


def test_talot2_rule_counts_each_sensor_and_port_apart() -> None:
    from ._brute import _to_packet_table

    base = int(datetime(2026, 10, 1, 3, tzinfo=UTC).timestamp()) * 10**9
    rows: dict[str, list[Any]] = {
        "ts": [base, base + 1000, base + 2000, base + 3000],
        "sensor": ["x", "x", "y", "x"],
        "ip_version": [4] * 4, "src": [1, 1, 1, 1], "src6": [None] * 4, "dst": [9] * 4,
        "proto": [6, 6, 6, 6], "sport": [1, 2, 3, 4], "dport": [445, 445, 445, 139],
        "icmp_type": [None] * 4, "country": ["CN"] * 4,
    }
    ctx = context.from_packets(_to_packet_table(rows), parse_period("2026-10-01"))
    t = analysis("totals")(ctx).to_pylist()[0]
    assert (t["accesses"], t["source_count"], t["distinct_sources"]) == (4, 3, 1)


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_other_report_time_zones(packets: pa.Table, tz: str) -> None:
    # Europe/Berlin leaves summer time on 25 October: a 25-hour observation day
    ctx = context.from_packets(packets, parse_period("2026-10", tz), registry=registry())
    b = Brute(packets, 2026, 10, tz)
    keep = {k for k in b.cov if not (k[0] == "a" and k[1].day in (9, 10, 11))}
    # the outage day moves with the zone: compare only on days both call covered
    cov = {(r["sensor"], r["day"]) for r in ctx.coverage.to_pylist() if r["covered"]}
    common = keep & cov
    rows = [r for r in b.rows if (r["sensor"], r["_day"]) in common]
    u = ctx.units.to_pyarrow().to_pylist()
    from teiten.core.periods import from_day_number

    got = Counter()
    for r in u:
        d = from_day_number(r["day"])
        if (r["sensor"], d) in common:
            got[(r["sensor"], d)] += r["packets"]
    assert got == Counter((r["sensor"], r["_day"]) for r in rows)


def test_store_context_equals_packet_context(tmp_path: Any, packets: pa.Table, ctx: Any) -> None:
    from teiten.analyses import CoverageParams, run

    from ._brute import write_store

    store = write_store(tmp_path / "s", packets, registry())
    sctx = context.from_store(store, parse_period("2026-10", TZ),
                              coverage_params=CoverageParams(outage_min_daily=10))
    names = ["totals", "ports", "countries", "hourly", "daily_ports", "sport_profile"]
    a, b = run(sctx, names=names), run(ctx, names=names)
    for n in names:
        assert a[n].equals(b[n]), n


def test_store_rollups_are_reused_until_the_store_changes(tmp_path: Any,
                                                          packets: pa.Table) -> None:
    from teiten.analyses import rollups

    from ._brute import write_store

    store = write_store(tmp_path / "s", generate(300, seed=3), registry())
    p = parse_period("2026-10", TZ)
    assert rollups.materialise(store, p)["units"] > 0
    assert not any(rollups.materialise(store, p).values())


def test_store_rollups_rebuild_when_registry_changes(tmp_path: Any) -> None:
    from teiten.analyses import rollups
    from teiten.core.sensors import Registry

    from ._brute import write_store

    store = write_store(tmp_path / "s", generate(300, seed=5), registry())
    p = parse_period("2026-10", TZ)
    rollups.materialise(store, p)
    store.merge_sensors(list(Registry.from_toml_text(
        '[[sensor]]\nid = "a"\naddresses = ["192.0.2.0/29"]\n').values()))
    assert rollups.materialise(store, p)["units"] > 0


def test_sport_profile_lists_the_heaviest_source_ports_with_ranks() -> None:
    from teiten.analyses.sport_profile import Params

    from ._brute import _to_packet_table

    base = int(datetime(2026, 10, 1, 3, tzinfo=UTC).timestamp()) * 10**9
    sports = [6000] * 50 + [7000] * 20 + [7001] * 20 + list(range(10000, 10040))
    n = len(sports)
    rows: dict[str, list[Any]] = {
        "ts": [base + i * 1000 for i in range(n)], "sensor": ["x"] * n, "ip_version": [4] * n,
        "src": list(range(n)), "src6": [None] * n, "dst": [9] * n, "proto": [6] * n,
        "sport": sports, "dport": [1521] * n, "icmp_type": [None] * n, "country": ["CN"] * n,
    }
    ctx = context.from_packets(_to_packet_table(rows), parse_period("2026-10-01"))
    tab = analysis("sport_profile")(ctx, Params(top_sports=3)).to_pylist()
    assert [(r["sport"], r["accesses"], r["rank"]) for r in tab] == [
        (6000, 50, 1), (7000, 20, 2), (7001, 20, 2), (None, 40, None)]

"""Coverage: maintenance windows, outages, quiet days, address-days."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa

from teiten.analyses import CoverageParams, analysis, context, parse_period
from teiten.analyses.coverage import Params, compute_coverage
from teiten.core.periods import day_number
from teiten.core.sensors import Registry

from ._brute import MAINT_DAY, OUTAGE_DAY, Brute


def _reason(tab: pa.Table, sensor: str, day: date) -> str:
    for r in tab.to_pylist():
        if r["sensor"] == sensor and r["day"] == day:
            return str(r["reason"])
    raise AssertionError("no such row")


def test_one_row_per_sensor_and_day(ctx: Any) -> None:
    assert analysis("coverage")(ctx).num_rows == 3 * 31


def test_maintenance_day_is_not_covered(ctx: Any) -> None:
    assert _reason(ctx.coverage, "b", MAINT_DAY) == "maintenance"


def test_zero_day_on_busy_sensor_is_outage(ctx: Any) -> None:
    assert _reason(ctx.coverage, "a", OUTAGE_DAY) == "outage"


def test_sensor_days_and_address_days_match_construction(ctx: Any, brute: Brute) -> None:
    assert ctx.sensor_days == brute.sensor_days == 91
    assert ctx.address_days == brute.address_days


def _days(rows: list[tuple[str, date, int]]) -> pa.Table:
    return pa.table({
        "sensor": [r[0] for r in rows],
        "day": pa.array([day_number(r[1]) for r in rows], pa.int32()),
        "packets": pa.array([r[2] for r in rows], pa.int64()),
        "dsts": pa.array([None] * len(rows), pa.int64()),
    })


def test_zero_day_on_quiet_sensor_stays_covered() -> None:
    p = parse_period("2026-10-01..2026-10-03", "UTC")
    reg = Registry.from_toml_text('[[sensor]]\nid = "q"\naddresses = ["192.0.2.1/32"]\n')
    days = _days([("q", date(2026, 10, 1), 3), ("q", date(2026, 10, 3), 2)])
    cov = compute_coverage(days, reg, p, Params(outage_min_daily=100))
    assert cov["reason"].to_pylist() == ["observed", "quiet", "observed"]
    assert cov["covered"].to_pylist() == [True, True, True]


def test_sensor_without_packets_has_no_data() -> None:
    p = parse_period("2026-10-01..2026-10-02", "UTC")
    reg = Registry.from_toml_text('[[sensor]]\nid = "q"\naddresses = ["192.0.2.1/32"]\n')
    cov = compute_coverage(_days([]), reg, p, Params())
    assert cov["reason"].to_pylist() == ["no-data", "no-data"]


def test_address_history_counts_addresses_valid_that_day() -> None:
    p = parse_period("2026-10-01..2026-10-02", "UTC")
    reg = Registry.from_toml_text(
        '[[sensor]]\nid = "h"\naddresses = ["192.0.2.0/31"]\n'
        '[[sensor.address_history]]\ncidr = "198.51.100.0/30"\n'
        "from = 2026-10-02T00:00:00Z\n"
    )
    days = _days([("h", date(2026, 10, 1), 5), ("h", date(2026, 10, 2), 5)])
    cov = compute_coverage(days, reg, p, Params())
    assert cov["addresses"].to_pylist() == [2, 6]


def test_unregistered_sensor_counts_distinct_destinations(packets: pa.Table) -> None:
    ctx = context.from_packets(packets, parse_period("2026-10"),
                               coverage_params=CoverageParams(outage_min_daily=10))
    cov = ctx.coverage.filter(ctx.coverage["covered"])
    assert set(cov["addresses"].to_pylist()) <= {1, 2, 3, 4}
    assert max(cov["addresses"].to_pylist()) == 4


def test_packets_on_uncovered_days_are_excluded(ctx: Any, brute: Brute) -> None:
    tot = analysis("totals")(ctx).to_pylist()[0]
    assert tot["accesses"] == len(brute.rows)

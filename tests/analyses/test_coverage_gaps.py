"""Capture gaps recorded by the live capture driver take days out of coverage."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa

from teiten.analyses.coverage import Params, capture_gaps, compute_coverage
from teiten.core.periods import parse_period
from teiten.core.sensors import Registry

REG = Registry.from_toml_text('[[sensor]]\nid = "a"\naddresses = ["192.0.2.1/32"]\n')


def _days(period_days: list[date]) -> pa.Table:
    from teiten.core.periods import day_number

    n = len(period_days)
    return pa.table({"sensor": ["a"] * n, "day": [day_number(d) for d in period_days],
                     "packets": [500] * n, "dsts": [1] * n})


def test_long_gap_uncovers_the_day_and_a_short_restart_does_not() -> None:
    period = parse_period("2026-10-01..2026-10-03", tz="UTC")
    t = lambda d, h, m=0: datetime(2026, 10, d, h, m, tzinfo=UTC)  # noqa: E731
    health = pa.table({
        "sensor": ["a"] * 6,
        "ts": [t(1, 0), t(1, 6), t(1, 6, 5), t(2, 2), t(2, 20), t(3, 0)],
        "event": ["start", "exit", "start", "exit", "start", "stats"],
    })
    gaps = capture_gaps(health)
    assert gaps["a"] == [(t(1, 6), t(1, 6, 5)), (t(2, 2), t(2, 20))]
    cov = compute_coverage(_days(period.days()), REG, period, Params(), None, gaps)
    assert cov.column("reason").to_pylist() == ["observed", "capture-gap", "observed"]
    assert cov.column("covered").to_pylist() == [True, False, True]


def test_capture_that_never_came_back_stays_down() -> None:
    stop = datetime(2026, 10, 2, 1, tzinfo=UTC)
    health = pa.table({"sensor": ["a"], "ts": [stop], "event": ["stop"]})
    period = parse_period("2026-10-01..2026-10-03", tz="UTC")
    cov = compute_coverage(_days(period.days()), REG, period, Params(), None,
                           capture_gaps(health))
    assert cov.column("reason").to_pylist() == ["observed", "capture-gap", "capture-gap"]


def test_no_health_table_means_no_gaps() -> None:
    assert capture_gaps(None) == {}

"""Tests for teiten.core.periods."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime, timedelta

import pytest

from teiten.core import periods
from teiten.core.errors import UsageError
from teiten.core.periods import Period, parse_period, utc_offset_segments


def test_doctests_pass() -> None:
    assert doctest.testmod(periods).failed == 0


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026-10", "month", date(2026, 10, 1), date(2026, 11, 1)),
        ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1)),
        ("2026-Q1", "quarter", date(2026, 1, 1), date(2026, 4, 1)),
        ("2026-H2", "half", date(2026, 7, 1), date(2027, 1, 1)),
        ("2026", "year", date(2026, 1, 1), date(2027, 1, 1)),
        ("2026-10-05", "day", date(2026, 10, 5), date(2026, 10, 6)),
        ("2026-10-01..2026-10-15", "range", date(2026, 10, 1), date(2026, 10, 16)),
    ],
)
def test_parse_period_kinds(text: str, kind: str, start: date, end: date) -> None:
    p = parse_period(text)
    assert (p.kind, p.start, p.end) == (kind, start, end)
    assert parse_period(p.label) == p


@pytest.mark.parametrize("text", ["2026-13", "Oct 2026", "2026-10-10..2026-10-01", "2026-Q5", ""])
def test_parse_period_rejects_garbage(text: str) -> None:
    with pytest.raises(UsageError):
        parse_period(text)


def test_unknown_time_zone_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_period("2026-10", tz="Mars/Olympus")


def test_previous_month_across_year() -> None:
    assert parse_period("2026-01").previous().label == "2025-12"


def test_previous_quarter_and_half() -> None:
    assert parse_period("2026-Q1").previous().label == "2025-Q4"
    assert parse_period("2026-H1").previous().label == "2025-H2"


def test_previous_range_has_equal_length_and_abuts() -> None:
    p = parse_period("2026-10-01..2026-10-15")
    q = p.previous()
    assert q.n_days == p.n_days
    assert q.end == p.start


def test_last_six_months_oldest_first() -> None:
    labels = [p.label for p in parse_period("2026-03").last(6)]
    assert labels == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]


def test_tokyo_month_starts_at_15z_previous_day() -> None:
    p = parse_period("2026-10")
    assert p.start_utc == datetime(2026, 9, 30, 15, tzinfo=UTC)
    assert p.end_utc == datetime(2026, 10, 31, 15, tzinfo=UTC)
    assert p.end_ns - p.start_ns == 31 * 86400 * 10**9


def test_observation_day_tokyo_boundary() -> None:
    before = datetime(2026, 9, 30, 14, 59, 59, tzinfo=UTC)
    assert periods.observation_day(before, "Asia/Tokyo") == date(2026, 9, 30)
    assert periods.observation_day(before + timedelta(seconds=1), "Asia/Tokyo") == date(
        2026, 10, 1
    )


def test_days_lists_every_day() -> None:
    days = parse_period("2026-02").days()
    assert len(days) == 28
    assert days[0] == date(2026, 2, 1)
    assert days[-1] == date(2026, 2, 28)


def test_dst_transition_found_to_the_second() -> None:
    segs = utc_offset_segments(
        "Europe/Berlin", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    )
    # CEST -> CET at 2026-10-25T01:00:00Z
    assert segs == [
        (int(datetime(2026, 10, 1, tzinfo=UTC).timestamp()), 7200),
        (int(datetime(2026, 10, 25, 1, tzinfo=UTC).timestamp()), 3600),
    ]


def test_dst_day_is_23_or_25_hours_long() -> None:
    p = Period(date(2026, 10, 25), date(2026, 10, 26), "day", "Europe/Berlin")
    assert (p.end_utc - p.start_utc) == timedelta(hours=25)


def test_day_number_roundtrip() -> None:
    d = date(2026, 10, 31)
    assert periods.from_day_number(periods.day_number(d)) == d

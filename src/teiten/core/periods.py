"""Reporting periods and observation days, in the report's time zone.

Storage is UTC; a report speaks in *observation days* — calendar days in the report's time
zone (a Japanese report uses ``Asia/Tokyo``, so its 1 October starts at 2026-09-30T15:00Z).
Every module that needs a period, its previous period or the last N periods gets them here.

A :class:`Period` is a half-open range of observation days ``[start, end)`` in a time zone,
with a *kind* that decides what "the previous period" means:

==========  =====================  ===========================================
kind        text                   previous period
==========  =====================  ===========================================
``month``   ``2026-10``            the previous calendar month
``quarter`` ``2026-Q4``            the previous quarter
``half``    ``2026-H2``            the previous half-year
``year``    ``2026``               the previous year
``day``     ``2026-10-05``         the previous day
``range``   ``2026-10-01..2026-10-15`` (end inclusive)  the same number of days just before
==========  =====================  ===========================================

Examples
--------
>>> p = parse_period("2026-10")
>>> p.label, p.n_days, p.tz
('2026-10', 31, 'Asia/Tokyo')
>>> p.start_utc.isoformat()
'2026-09-30T15:00:00+00:00'
>>> p.previous().label
'2026-09'
>>> [q.label for q in p.last(3)]
['2026-08', '2026-09', '2026-10']
>>> parse_period("2026-10-01..2026-10-10", tz="UTC").previous().label
'2026-09-21..2026-09-30'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from teiten.core.errors import UsageError

#: The time zone the report presets use unless told otherwise.
DEFAULT_TZ: Final = "Asia/Tokyo"

PeriodKind = Literal["day", "month", "quarter", "half", "year", "range"]

_EPOCH: Final = date(1970, 1, 1)
_NS: Final = 1_000_000_000


@lru_cache(maxsize=64)
def zone(tz: str) -> ZoneInfo:
    """The :class:`~zoneinfo.ZoneInfo` for ``tz``; :class:`UsageError` if unknown.

    >>> zone("Asia/Tokyo").key
    'Asia/Tokyo'
    """
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown time zone {tz!r}") from exc


def day_start_utc(day: date, tz: str) -> datetime:
    """The UTC instant at which observation day ``day`` starts in ``tz``.

    >>> day_start_utc(date(2026, 10, 1), "Asia/Tokyo").isoformat()
    '2026-09-30T15:00:00+00:00'
    """
    return datetime.combine(day, time(0), tzinfo=zone(tz)).astimezone(UTC)


def observation_day(ts: datetime, tz: str) -> date:
    """The observation day (calendar day in ``tz``) of an aware instant.

    >>> observation_day(datetime(2026, 9, 30, 14, 59, 59, tzinfo=UTC), "Asia/Tokyo")
    datetime.date(2026, 9, 30)
    >>> observation_day(datetime(2026, 9, 30, 15, 0, 0, tzinfo=UTC), "Asia/Tokyo")
    datetime.date(2026, 10, 1)
    """
    if ts.tzinfo is None:
        raise UsageError("observation_day needs an aware datetime (UTC in storage)")
    return ts.astimezone(zone(tz)).date()


def day_number(day: date) -> int:
    """Days since 1970-01-01 (the ``date32`` representation).

    >>> day_number(date(1970, 1, 2))
    1
    """
    return (day - _EPOCH).days


def from_day_number(n: int) -> date:
    """Inverse of :func:`day_number`."""
    return _EPOCH + timedelta(days=n)


def utc_offset_segments(tz: str, start: datetime, end: datetime) -> list[tuple[int, int]]:
    """Piecewise-constant UTC offsets of ``tz`` over ``[start, end)``.

    Returns ``[(from_epoch_s, offset_s), ...]`` sorted by time: from ``from_epoch_s`` on (until
    the next segment) local time is UTC + ``offset_s``. The first segment starts at ``start``.
    Transitions are found by sampling every 6 hours and bisecting to the second, so every real
    time-zone rule (at most a few transitions a year) is resolved exactly.

    >>> utc_offset_segments("Asia/Tokyo", datetime(2026, 10, 1, tzinfo=UTC),
    ...                     datetime(2026, 11, 1, tzinfo=UTC))
    [(1790812800, 32400)]
    >>> len(utc_offset_segments("Europe/Berlin", datetime(2026, 10, 1, tzinfo=UTC),
    ...                         datetime(2026, 11, 1, tzinfo=UTC)))
    2
    """
    z = zone(tz)
    s0, s1 = int(start.timestamp()), int(end.timestamp())

    def off(s: int) -> int:
        o = datetime.fromtimestamp(s, tz=UTC).astimezone(z).utcoffset()
        return int(o.total_seconds()) if o is not None else 0

    segs = [(s0, off(s0))]
    step = 6 * 3600
    prev_s, prev_o = s0, segs[0][1]
    s = s0
    while s < s1:
        s = min(s + step, s1)
        o = off(s)
        if o != prev_o:
            lo, hi = prev_s, s  # off(lo) == prev_o, off(hi) == o
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if off(mid) == prev_o:
                    lo = mid
                else:
                    hi = mid
            if hi < s1:
                segs.append((hi, o))
            prev_o = o
        prev_s = s
    return segs


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open range of observation days ``[start, end)`` in time zone ``tz``.

    Parameters
    ----------
    start : datetime.date
        First observation day (inclusive).
    end : datetime.date
        Day after the last observation day (exclusive).
    kind : str
        ``day``, ``month``, ``quarter``, ``half``, ``year`` or ``range``; decides
        :meth:`previous` and :attr:`label`.
    tz : str
        IANA time zone of the observation days (default ``Asia/Tokyo``).
    """

    start: date
    end: date
    kind: PeriodKind = "range"
    tz: str = DEFAULT_TZ

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise UsageError(f"empty period: {self.start} .. {self.end}")
        zone(self.tz)

    # -- derived values ------------------------------------------------------------------
    @property
    def n_days(self) -> int:
        """Number of observation days."""
        return (self.end - self.start).days

    @property
    def label(self) -> str:
        """Canonical text, parseable by :func:`parse_period` (e.g. ``2026-10``, ``2026-Q4``)."""
        s = self.start
        if self.kind == "month":
            return f"{s.year:04d}-{s.month:02d}"
        if self.kind == "quarter":
            return f"{s.year:04d}-Q{(s.month - 1) // 3 + 1}"
        if self.kind == "half":
            return f"{s.year:04d}-H{(s.month - 1) // 6 + 1}"
        if self.kind == "year":
            return f"{s.year:04d}"
        if self.kind == "day":
            return s.isoformat()
        return f"{s.isoformat()}..{(self.end - timedelta(days=1)).isoformat()}"

    @property
    def start_utc(self) -> datetime:
        """UTC instant of the first observation day's local midnight."""
        return day_start_utc(self.start, self.tz)

    @property
    def end_utc(self) -> datetime:
        """UTC instant at which the period ends (exclusive)."""
        return day_start_utc(self.end, self.tz)

    @property
    def start_ns(self) -> int:
        """:attr:`start_utc` as nanoseconds since the epoch."""
        return int(self.start_utc.timestamp()) * _NS

    @property
    def end_ns(self) -> int:
        """:attr:`end_utc` as nanoseconds since the epoch."""
        return int(self.end_utc.timestamp()) * _NS

    def days(self) -> list[date]:
        """Every observation day of the period, in order."""
        return [self.start + timedelta(days=i) for i in range(self.n_days)]

    def contains(self, day: date) -> bool:
        """Whether observation day ``day`` lies in the period."""
        return self.start <= day < self.end

    def offset_segments(self) -> list[tuple[int, int]]:
        """UTC-offset segments of :attr:`tz` over the period (see :func:`utc_offset_segments`)."""
        return utc_offset_segments(self.tz, self.start_utc, self.end_utc)

    def with_tz(self, tz: str) -> Period:
        """The same observation days in another time zone."""
        return Period(self.start, self.end, self.kind, tz)

    # -- navigation ----------------------------------------------------------------------
    def previous(self) -> Period:
        """The previous period of equal length (calendar-aligned for calendar kinds)."""
        return self.shift(-1)

    def next(self) -> Period:
        """The following period of equal length."""
        return self.shift(1)

    def shift(self, n: int) -> Period:
        """The period ``n`` steps later (negative: earlier)."""
        months = {"month": 1, "quarter": 3, "half": 6, "year": 12}.get(self.kind)
        if months is not None:
            start = _add_months(self.start, n * months)
            return Period(start, _add_months(start, months), self.kind, self.tz)
        delta = timedelta(days=n * self.n_days)
        return Period(self.start + delta, self.end + delta, self.kind, self.tz)

    def last(self, n: int) -> list[Period]:
        """The last ``n`` periods ending with this one, oldest first."""
        if n < 1:
            raise UsageError("last(n) needs n >= 1")
        return [self.shift(i) for i in range(-(n - 1), 1)]

    def __str__(self) -> str:
        return self.label


def _add_months(d: date, n: int) -> date:
    m = d.year * 12 + (d.month - 1) + n
    return date(m // 12, m % 12 + 1, 1)


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_HALF = re.compile(r"^(\d{4})-?[Hh]([12])$")
_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_period(text: str, tz: str = DEFAULT_TZ) -> Period:
    """Parse a period: ``2026-10``, ``2026-Q4``, ``2026-H2``, ``2026``, ``2026-10-05`` or a
    range ``2026-10-01..2026-10-15`` (both ends inclusive).

    Raises :class:`teiten.core.errors.UsageError` for anything else.

    >>> parse_period("2026-Q4").n_days
    92
    >>> parse_period("2026-H1", tz="UTC").label
    '2026-H1'
    """
    t = text.strip()
    try:
        if m := _MONTH.match(t):
            y, mo = int(m[1]), int(m[2])
            start = date(y, mo, 1)
            return Period(start, _add_months(start, 1), "month", tz)
        if m := _QUARTER.match(t):
            start = date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1)
            return Period(start, _add_months(start, 3), "quarter", tz)
        if m := _HALF.match(t):
            start = date(int(m[1]), (int(m[2]) - 1) * 6 + 1, 1)
            return Period(start, _add_months(start, 6), "half", tz)
        if m := _YEAR.match(t):
            start = date(int(m[1]), 1, 1)
            return Period(start, date(start.year + 1, 1, 1), "year", tz)
        if _DAY.match(t):
            d = date.fromisoformat(t)
            return Period(d, d + timedelta(days=1), "day", tz)
        if ".." in t:
            a, b = (x.strip() for x in t.split("..", 1))
            first, last = date.fromisoformat(a), date.fromisoformat(b)
            if last < first:
                raise UsageError(f"period {text!r} ends before it starts")
            return Period(first, last + timedelta(days=1), "range", tz)
    except ValueError as exc:
        raise UsageError(f"not a valid period: {text!r} ({exc})") from exc
    raise UsageError(
        f"not a period: {text!r} (expected 2026-10, 2026-Q4, 2026-H2, 2026, 2026-10-05 "
        "or 2026-10-01..2026-10-15)"
    )


__all__ = [
    "DEFAULT_TZ",
    "Period",
    "PeriodKind",
    "day_number",
    "day_start_utc",
    "from_day_number",
    "observation_day",
    "parse_period",
    "utc_offset_segments",
    "zone",
]

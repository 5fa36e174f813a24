"""Parse simulation periods: a month, a range of months, a day or a range of days (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from teiten.core.errors import UsageError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _bound(text: str, end: bool) -> datetime:
    m = _MONTH.match(text)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        if not 1 <= mo <= 12:
            raise UsageError(f"period: bad month {text!r}")
        if end:
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
        return datetime(y, mo, 1, tzinfo=UTC)
    d = _DAY.match(text)
    if d:
        try:
            day = date(int(d.group(1)), int(d.group(2)), int(d.group(3)))
        except ValueError as exc:
            raise UsageError(f"period: bad date {text!r}") from exc
        if end:
            day += timedelta(days=1)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    raise UsageError(f"period: expected YYYY-MM or YYYY-MM-DD, got {text!r}")


def parse_period(text: str) -> tuple[datetime, datetime]:
    """Return the half-open UTC interval ``[start, end)`` of a period.

    Accepts ``2026-10`` (a month), ``2026-09..2026-10`` (months, inclusive), ``2026-10-05``
    (a day) and ``2026-10-01..2026-10-07`` (days, inclusive).

    Examples
    --------
    >>> s, e = parse_period("2026-09..2026-10")
    >>> s.isoformat(), e.isoformat()
    ('2026-09-01T00:00:00+00:00', '2026-11-01T00:00:00+00:00')
    >>> parse_period("2026-10-05")[1].isoformat()
    '2026-10-06T00:00:00+00:00'
    """
    parts = text.strip().split("..")
    if len(parts) > 2 or not all(parts):
        raise UsageError(f"period: expected A or A..B, got {text!r}")
    start = _bound(parts[0], end=False)
    end = _bound(parts[-1], end=True)
    if end <= start:
        raise UsageError(f"period: {text!r} ends before it starts")
    return start, end

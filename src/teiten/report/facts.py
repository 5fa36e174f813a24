"""Language-neutral inputs of a report: the numbers the analyses produced for one period.

:class:`ReportFacts` holds one optional field per report section. ``None`` means the analysis
behind it has not run (or could not), and ``reasons`` says why; the composer then renders the
section as "not analysed" instead of inventing content. Every number here is copied from an
analysis result, never computed from raw packets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from teiten.core.periods import Period


@dataclass(frozen=True, slots=True)
class Headline:
    """Headline figures of one period (design.md, "Metric definitions")."""

    accesses: int
    sources: int
    distinct_sources: int
    sensor_days: float
    address_days: float
    points: int
    addresses: int

    @property
    def acc_ppd(self) -> float:
        """Accesses per point per day."""
        return self.accesses / self.sensor_days if self.sensor_days else 0.0

    @property
    def src_ppd(self) -> float:
        """Sources (TALOT2 rule) per point per day."""
        return self.sources / self.sensor_days if self.sensor_days else 0.0

    @property
    def acc_pad(self) -> float:
        """Accesses per address per day (NPA)."""
        return self.accesses / self.address_days if self.address_days else 0.0


@dataclass(frozen=True, slots=True)
class CmpRow:
    """One row of a period-comparison table (ports, countries, signature categories).

    ``change_pct`` is None when the previous value is below the display floor (footnoted);
    ``inc_rank``/``dec_rank`` are the rise/fall ranks (top 5 each) or None. ``change_abs`` is
    None when the previous period was not observed at all (nothing to compare with).
    """

    key: str
    rank: int | None
    prev_rank: int | None
    value: float
    prev_value: float
    change_pct: float | None
    change_abs: float | None
    inc_rank: int | None = None
    dec_rank: int | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """Daily values per key (a port or a country) over the period's observation days."""

    days: tuple[date, ...]
    lines: tuple[tuple[str, tuple[float, ...]], ...]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Headline per-point-per-day figures of one period of the trend."""

    period: Period
    acc_ppd: float
    src_ppd: float


@dataclass(frozen=True, slots=True)
class Attack:
    """One DDoS attack inferred from backscatter."""

    victim: str
    proto: str
    port: int | None
    start: datetime
    duration_s: float
    packets: int
    est_pps: float
    kind: str = ""
    #: monitored IPv4 addresses the rate was extrapolated from (None for IPv6)
    monitored: int | None = None


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan campaign."""

    source: str
    kind: str
    tool: str | None
    port: str
    targets: int
    packets: int
    country: str | None = None


@dataclass(frozen=True, slots=True)
class PayloadRow:
    """A first-payload class seen by responsive sensors; ``sample`` is raw wire text."""

    port: str
    protocol: str
    sample: str
    count: int
    sources: int


@dataclass(frozen=True, slots=True)
class Event:
    """A notable event: a template key and the numbers that fill it.

    ``kind`` names a template ``event.<kind>`` in the catalog; ``fields`` are its values (numbers,
    port labels, country codes); ``table`` is the id of the table the numbers come from.
    """

    kind: str
    fields: dict[str, float | int | str]
    table: str
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class DetectedEvent:
    """One row of teiten.detections' ``events`` table (numbers are packets)."""

    kind: str
    dimension: str
    key: str
    value: float
    previous: float
    change_pct: float | None
    day: date | None
    subject: str | None
    share: float | None
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Diurnal:
    """An entity (country, /24, source) whose activity follows a 24-hour cycle."""

    level: str
    entity: str
    packets: int
    peak_local_hour: int | None
    p_value: float


@dataclass(frozen=True, slots=True)
class SensorCoverage:
    """Coverage of one sensor over the period."""

    sensor: str
    name: str
    kind: str
    addresses: int
    covered_days: int
    calendar_days: int
    accesses: int
    missing: tuple[date, ...] = ()


@dataclass
class ReportFacts:
    """Everything a report shows for one period, as analysis results (None = not analysed)."""

    period: Period
    home_country: str = "JP"
    headline: Headline | None = None
    prev_headline: Headline | None = None
    trend: tuple[TrendPoint, ...] | None = None
    ports: tuple[CmpRow, ...] | None = None
    countries: tuple[CmpRow, ...] | None = None
    daily_ports: Series | None = None
    daily_countries: Series | None = None
    port_shares_world: tuple[tuple[str, float], ...] | None = None
    port_shares_home: tuple[tuple[str, float], ...] | None = None
    port_by_country: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] | None = None
    country_shares: tuple[tuple[str, float], ...] | None = None
    sport_profiles: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] | None = None
    hourly: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    signatures: tuple[CmpRow, ...] | None = None
    signatures_pad: float | None = None
    attacks: tuple[Attack, ...] | None = None
    scans: tuple[Scan, ...] | None = None
    tools: tuple[tuple[str, int], ...] | None = None
    events: tuple[Event, ...] | None = None
    detected_events: tuple[DetectedEvent, ...] | None = None
    diurnal: tuple[Diurnal, ...] | None = None
    payloads: tuple[PayloadRow, ...] | None = None
    coverage: tuple[SensorCoverage, ...] | None = None
    glossary: dict[str, dict[str, str]] = field(default_factory=dict)
    country_names: dict[str, dict[str, str]] = field(default_factory=dict)
    params: tuple[tuple[str, str, str], ...] = ()
    reasons: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    display_floor: float = 0.01


__all__ = ["Attack", "CmpRow", "DetectedEvent", "Diurnal", "Event", "Headline", "PayloadRow",
           "ReportFacts", "Scan", "SensorCoverage", "Series", "TrendPoint"]

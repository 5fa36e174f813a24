"""Diurnal activity: sources, /24s and countries whose traffic follows a 24-hour cycle.

Method (``specs/detections.md`` §6): for each entity with enough data (at least
``min_packets`` packets on at least ``min_days`` days), the hourly packet counts over the
entity's active span (first to last active UTC day, N = 24·days bins) are mean-removed and
transformed; the periodogram I_k, k = 1..⌊N/2⌋, is tested with Fisher's g (g = max I_k / Σ I_k,
p ≈ 1 − (1 − e^{−m g})^m). An entity is **diurnal** when the strongest frequency is exactly one
cycle per day (k = days) and p < ``alpha``; otherwise **flat**. The m-lab ratio (I_k / mean I)
and the 24-hour power share are reported too.

Phase, for labelling only: counts are folded into local hours with the UTC offset of the
entity's (most frequent) country at the period start — one representative zone per country
from tzdata's ``zone.tab`` (first listed, with a few populous-zone overrides) — giving the peak
local hour and the day/night ratio (mean per hour 08–24 vs 00–08 local, each +0.1 smoothing).
Sensor outages are not masked yet: an outage day reads as zero activity.

Examples
--------
>>> import numpy as np
>>> from teiten.detections._common import packets_from_columns
>>> hours = np.arange(7 * 24)  # a week; source 1 only 09-17 UTC, source 2 all day
>>> day = hours[(hours % 24 >= 9) & (hours % 24 < 17)]
>>> ts = np.r_[np.repeat(day, 5), np.repeat(hours, 2)] * 3600 * 10**9
>>> src = [1] * (len(day) * 5) + [2] * (len(hours) * 2)
>>> t = packets_from_columns({"ts": ts, "ip_version": [4] * len(src), "src": src})
>>> r = detect(t, None, Params(levels=("source",)))
>>> sorted(zip(r.column("entity").to_pylist(), r.column("label").to_pylist()))
[('0.0.0.1', 'diurnal'), ('0.0.0.2', 'flat')]
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.core.periods import Period, zone
from teiten.detections._common import (
    NS,
    PacketSource,
    check_schema,
    ip_text,
    period_where,
    query,
    schema,
)

NAME: Final = "diurnal"

#: Entity levels: SQL expression of the entity, and of its display text.
_LEVELS: Final[dict[str, str]] = {
    "source": "src::BIGINT",
    "prefix24": "(src >> 8)::BIGINT",
    "country": "country::VARCHAR",
}

#: A populous zone for countries spanning several (zone.tab lists another first).
_ZONE_OVERRIDES: Final[dict[str, str]] = {
    "RU": "Europe/Moscow", "CN": "Asia/Shanghai", "BR": "America/Sao_Paulo",
    "AU": "Australia/Sydney", "CA": "America/Toronto", "US": "America/New_York",
    "MX": "America/Mexico_City", "ID": "Asia/Jakarta", "KZ": "Asia/Almaty",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Params:
    """Thresholds of the diurnal test.

    Attributes
    ----------
    levels : tuple of str
        Entities to test: ``source``, ``prefix24``, ``country``.
    min_packets : int
        Least packets of an entity in the period (72: one an hour over three days).
    min_days : int
        Least distinct active UTC days (3, spec §6.1).
    alpha : float
        Significance level of Fisher's g test (0.01).
    max_entities : int
        Most entities tested per level (the busiest first), to bound the work.
    """

    levels: tuple[str, ...] = ("source", "prefix24", "country")
    min_packets: int = 72
    min_days: int = 3
    alpha: float = 0.01
    max_entities: int = 200_000


#: One row per tested entity.
SCHEMA: Final[pa.Schema] = schema([
    ("level", pa.string(), "source, prefix24 or country"),
    ("entity", pa.string(), "the address, a.b.c.0/24, or the country code"),
    ("country", pa.string(), "most frequent source country of the entity"),
    ("packets", pa.int64(), "packets in the period"),
    ("days", pa.int64(), "length of the active span in days (N = 24 * days hourly bins)"),
    ("g", pa.float64(), "Fisher's g statistic"),
    ("p_value", pa.float64(), "Fisher g p-value of the strongest frequency (any period)"),
    ("dominant_period_h", pa.float64(), "period of the strongest frequency, hours"),
    ("power_share_24h", pa.float64(), "share of the periodogram at one cycle per day"),
    ("mlab_ratio", pa.float64(), "power at 1/day over the mean non-DC power (m-lab rule: > 2)"),
    ("utc_offset_h", pa.float64(), "UTC offset used for the local-time fold"),
    ("peak_local_hour", pa.int64(), "local hour with the most packets"),
    ("day_night_ratio", pa.float64(), "mean packets/hour 08-24 over 00-08 local (+0.1 each)"),
    ("label", pa.string(), "diurnal or flat"),
])  # fmt: skip


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, str]:
    text = importlib.resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text()
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            out.setdefault(parts[0], parts[2])
    out.update(_ZONE_OVERRIDES)
    return out


def country_utc_offset_h(country: str | None, at: datetime) -> float:
    """UTC offset in hours of a country's representative zone at ``at`` (0 if unknown).

    >>> from datetime import datetime, UTC
    >>> country_utc_offset_h("JP", datetime(2026, 10, 1, tzinfo=UTC))
    9.0
    """
    tz = _country_zones().get(country or "")
    if tz is None:
        return 0.0
    off = at.astimezone(zone(tz)).utcoffset()
    return off.total_seconds() / 3600 if off is not None else 0.0


def fisher_g_pvalue(g: npt.NDArray[np.float64], m: int) -> npt.NDArray[np.float64]:
    """Approximate p-value of Fisher's g for ``m`` periodogram ordinates.

    >>> import numpy as np
    >>> float(fisher_g_pvalue(np.array([0.5]), 100)[0]) < 1e-15
    True
    """
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        p = -np.expm1(m * np.log1p(-np.exp(-m * g)))
    return np.asarray(np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0), dtype=np.float64)


def _test_block(
    counts: npt.NDArray[np.float64], days: int
) -> tuple[npt.NDArray[np.float64], ...]:
    """Spectral test for a block of series of N = 24·days bins (rows = entities)."""
    x = counts - counts.mean(axis=1, keepdims=True)
    power = np.abs(np.fft.rfft(x, axis=1)) ** 2
    m = counts.shape[1] // 2
    ords = power[:, 1 : m + 1]
    total = np.maximum(ords.sum(axis=1), 1e-300)
    kmax = np.argmax(ords, axis=1) + 1
    g = ords.max(axis=1) / total
    p = fisher_g_pvalue(g, m)
    share = ords[:, days - 1] / total
    mlab = ords[:, days - 1] / np.maximum(ords.mean(axis=1), 1e-300)
    period_h = counts.shape[1] / kmax
    return g, p, share, mlab, period_h.astype(np.float64), (kmax == days).astype(np.float64)


def _level(
    packets: PacketSource, period: Period | None, level: str, params: Params
) -> pa.Table | None:
    where, args = period_where(period)
    ent = _LEVELS[level]
    cond = f"{where} AND ip_version = 4 AND {ent} IS NOT NULL"
    t = query(
        packets,
        f"""WITH hourly AS (
              SELECT {ent} AS entity, epoch_ns(ts) // {3600 * NS} AS h, count(*) AS n,
                     any_value(country::VARCHAR) AS country
              FROM packets WHERE {cond} GROUP BY ALL),
            ent AS (
              SELECT entity, sum(n)::BIGINT AS packets, min(h // 24) AS d0, max(h // 24) AS d1,
                     count(DISTINCT h // 24) AS active_days, arg_max(country, n) AS country
              FROM hourly GROUP BY entity
              HAVING sum(n) >= ? AND count(DISTINCT h // 24) >= ?
              ORDER BY packets DESC, entity LIMIT ?)
            SELECT e.entity::VARCHAR AS entity, e.packets, e.country, e.d0,
                   (e.d1 - e.d0 + 1)::BIGINT AS days, (h.h - e.d0 * 24)::BIGINT AS bin,
                   h.n::BIGINT AS n
            FROM hourly h JOIN ent e USING (entity) ORDER BY e.packets DESC, e.entity, bin""",
        [*args, params.min_packets, params.min_days, params.max_entities],
    )
    if t.num_rows == 0:
        return None
    ent_s = np.asarray(t.column("entity").to_pylist(), dtype=object)
    days_a = np.asarray(t.column("days").to_numpy(), dtype=np.int64)
    bins = np.asarray(t.column("bin").to_numpy(), dtype=np.int64)
    n = np.asarray(t.column("n").to_numpy(), dtype=np.float64)
    first = np.flatnonzero(np.r_[True, ent_s[1:] != ent_s[:-1]])
    eid = np.cumsum(np.r_[True, ent_s[1:] != ent_s[:-1]]) - 1
    n_e = len(first)
    e_days = days_a[first]
    e_d0 = np.asarray(t.column("d0").to_numpy(), dtype=np.int64)[first]
    e_country = [t.column("country")[int(i)].as_py() for i in first]
    at = period.start_utc if period is not None else datetime.now(UTC)
    offset = np.array([country_utc_offset_h(c, at) for c in e_country], dtype=np.float64)
    if level == "country":
        offset = np.array([country_utc_offset_h(str(e), at) for e in ent_s[first]])

    g = np.zeros(n_e)
    p = np.ones(n_e)
    share = np.zeros(n_e)
    mlab = np.zeros(n_e)
    per_h = np.zeros(n_e)
    at_k = np.zeros(n_e)
    peak = np.zeros(n_e, dtype=np.int64)
    ratio = np.zeros(n_e)
    for d in np.unique(e_days):
        sel = np.flatnonzero(e_days == d)
        for lo in range(0, len(sel), 20_000):
            block = sel[lo : lo + 20_000]
            rows = np.isin(eid, block)
            pos = np.searchsorted(block, eid[rows])
            mat = np.zeros((len(block), int(d) * 24))
            mat[pos, bins[rows]] = n[rows]
            gb, pb, sb, mb, phb, kb = _test_block(mat, int(d))
            g[block], p[block], share[block], mlab[block], per_h[block] = gb, pb, sb, mb, phb
            at_k[block] = kb
            utc_hour = (e_d0[block, None] * 24 + np.arange(int(d) * 24)[None, :]) % 24
            local = (utc_hour + np.floor(offset[block, None]).astype(np.int64)) % 24
            fold = np.zeros((len(block), 24))
            np.add.at(fold, (np.repeat(np.arange(len(block)), int(d) * 24), local.ravel()),
                      mat.ravel())  # fmt: skip
            fold /= d
            peak[block] = np.argmax(fold, axis=1)
            ratio[block] = (fold[:, 8:].mean(axis=1) + 0.1) / (fold[:, :8].mean(axis=1) + 0.1)
    diurnal = (at_k > 0) & (p < params.alpha)
    if level == "source":
        names = ip_text(np.asarray([int(x) for x in ent_s[first]], dtype=np.int64))
    elif level == "prefix24":
        names = [f"{x}/24" for x in ip_text(np.asarray([int(x) << 8 for x in ent_s[first]]))]
    else:
        names = [str(x) for x in ent_s[first]]
    return pa.table({
        "level": [level] * n_e,
        "entity": names,
        "country": pa.array(e_country, pa.string()),
        "packets": np.asarray(t.column("packets").to_numpy(), dtype=np.int64)[first],
        "days": e_days,
        "g": g,
        "p_value": p,
        "dominant_period_h": per_h,
        "power_share_24h": share,
        "mlab_ratio": mlab,
        "utc_offset_h": offset,
        "peak_local_hour": peak,
        "day_night_ratio": ratio,
        "label": np.where(diurnal, "diurnal", "flat").tolist(),
    })  # fmt: skip


def detect(packets: PacketSource, period: Period | None, params: Params = Params()) -> pa.Table:
    """Test sources, /24s and countries for diurnal activity.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB relation or ibis.Table
        The packet table.
    period : teiten.core.periods.Period or None
        Only packets inside the period; None: all.
    params : Params
        Thresholds and levels.

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, per level, busiest entities first.
    """
    parts = []
    for level in params.levels:
        if level not in _LEVELS:
            from teiten.core.errors import UsageError

            raise UsageError(f"unknown diurnal level {level!r} (one of {sorted(_LEVELS)})")
        part = _level(packets, period, level, params)
        if part is not None:
            parts.append(check_schema(part, SCHEMA))
    if not parts:
        return SCHEMA.empty_table()
    return pa.concat_tables(parts)

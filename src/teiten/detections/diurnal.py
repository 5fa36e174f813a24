"""Diurnal activity: sources, /24s, ASes and countries whose traffic follows a 24-hour cycle.

Method (``specs/detections.md`` §6): for each entity with enough data (at least
``min_packets`` packets on at least ``min_days`` days), the hourly packet counts over the
entity's active span (first to last active UTC day, N = 24·days bins) are mean-removed and
transformed; the periodogram I_k, k = 1..⌊N/2⌋, is tested with Fisher's g (g = max I_k / Σ I_k,
p ≈ 1 − (1 − e^{−m g})^m). An entity is **diurnal** when the strongest frequency is exactly one
cycle per day (k = days) and p < ``alpha``; otherwise **flat**. The m-lab ratio (I_k / mean I)
and the 24-hour power share are reported too.

Two passes over the packets serve every level:

1. one aggregate per source — packets, first and last hour, active days (a 64-bit day mask)
   and the one-cycle-per-day Fourier sums Σ cos(2πh/24), Σ sin(2πh/24) over its packets' UTC
   hours h. These are additive, so /24, AS and country entities are sums of their sources.
   Because the span is whole days, |Σ e^{−2πih/24}|² *is* the periodogram ordinate I_k at one
   cycle per day of the entity's hourly series. Under Poisson noise I_k / packets is about
   exponential with mean 1, and a series that passes Fisher's test has I_k of about ten times
   its packets or more; entities below ``screen`` (3: 5 % of pure Poisson noise passes) are
   labelled flat without the full test (their ``g``, ``p_value`` and phase columns are null).
2. the hourly series of the remaining candidates only (a join on their sources), on which the
   full test above runs.

Phase, for labelling only: counts are folded into local hours with the UTC offset of the
entity's (most frequent) country at the period start — one representative zone per country
from tzdata's ``zone.tab`` (first listed, with a few populous-zone overrides) — giving the peak
local hour and the day/night ratio (mean per hour 08–24 vs 00–08 local, each +0.1 smoothing).
Sensor outages are not masked yet: an outage day reads as zero activity.

The AS level needs a MaxMind-format ASN database (``asn_mmdb``: GeoLite2-ASN, DB-IP ASN lite,
IPinfo lite…), looked up once per distinct source; without one it is skipped
(:func:`skipped_levels` says why). The active-day mask counts days modulo 64, so for spans
longer than 64 days ``min_days`` is checked on a lower bound.

Examples
--------
>>> import numba
import numpy as np
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
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numba
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.dataset as ds

from teiten.core.errors import InputError, UsageError
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

#: Entity levels, in output order.
LEVELS: Final[tuple[str, ...]] = ("source", "prefix24", "asn", "country")

#: A populous zone for countries spanning several (zone.tab lists another first).
_ZONE_OVERRIDES: Final[dict[str, str]] = {
    "RU": "Europe/Moscow", "CN": "Asia/Shanghai", "BR": "America/Sao_Paulo",
    "AU": "Australia/Sydney", "CA": "America/Toronto", "US": "America/New_York",
    "MX": "America/Mexico_City", "ID": "Asia/Jakarta", "KZ": "Asia/Almaty",
}  # fmt: skip

_HOUR: Final = 3600 * NS
_COS: Final = "[" + ",".join(f"{math.cos(math.pi * j / 12):.17g}" for j in range(24)) + "]"
_SIN: Final = "[" + ",".join(f"{math.sin(math.pi * j / 12):.17g}" for j in range(24)) + "]"


@dataclass(frozen=True, slots=True)
class Params:
    """Thresholds of the diurnal test.

    Attributes
    ----------
    levels : tuple of str
        Entities to test: ``source``, ``prefix24``, ``asn`` (needs ``asn_mmdb``), ``country``.
    min_packets : int
        Least packets of an entity in the period (72: one an hour over three days).
    min_days : int
        Least distinct active UTC days (3, spec §6.1).
    alpha : float
        Significance level of Fisher's g test (0.01).
    max_entities : int
        Most entities tested per level (the busiest first), to bound the work.
    screen : float
        Entities whose periodogram power at one cycle per day is below ``screen`` times their
        packet count are flat without the full test (3.0: Poisson noise passes 5 % of the
        time; Fisher's test at ``alpha`` needs about 8 or more).
    asn_mmdb : str or None
        A MaxMind-format ASN database for the ``asn`` level (None: that level is skipped).
    """

    levels: tuple[str, ...] = LEVELS
    min_packets: int = 72
    min_days: int = 3
    alpha: float = 0.01
    max_entities: int = 200_000
    screen: float = 3.0
    asn_mmdb: str | None = None


#: One row per entity with enough data.
SCHEMA: Final[pa.Schema] = schema([
    ("level", pa.string(), "source, prefix24, asn or country"),
    ("entity", pa.string(), "the address, a.b.c.0/24, AS<number>, or the country code"),
    ("country", pa.string(), "most frequent source country of the entity"),
    ("packets", pa.int64(), "packets in the period"),
    ("days", pa.int64(), "length of the active span in days (N = 24 * days hourly bins)"),
    ("g", pa.float64(), "Fisher's g statistic (null: screened out, see screen_ratio)"),
    ("p_value", pa.float64(), "Fisher g p-value of the strongest frequency (null: screened out)"),
    ("dominant_period_h", pa.float64(), "period of the strongest frequency, h (null: screened)"),
    ("power_share_24h", pa.float64(), "periodogram share at 1/day (null: screened)"),
    ("mlab_ratio", pa.float64(), "power at 1/day over the mean non-DC power (m-lab rule: > 2)"),
    ("screen_ratio", pa.float64(), "power at 1/day over the packet count (Poisson noise: ~1)"),
    ("utc_offset_h", pa.float64(), "UTC offset used for the local-time fold"),
    ("peak_local_hour", pa.int64(), "local hour with the most packets (null: screened out)"),
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

    >>> import numba
import numpy as np
    >>> float(fisher_g_pvalue(np.array([0.5]), 100)[0]) < 1e-15
    True
    """
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        p = -np.expm1(m * np.log1p(-np.exp(-m * g)))
    return np.asarray(np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0), dtype=np.float64)


def skipped_levels(params: Params) -> dict[str, str]:
    """Requested levels that will not be tested, with the reason.

    >>> skipped_levels(Params())
    {'asn': 'no ASN database given (Params.asn_mmdb, teiten detect --asn-mmdb)'}
    """
    if "asn" in params.levels and not params.asn_mmdb:
        return {"asn": "no ASN database given (Params.asn_mmdb, teiten detect --asn-mmdb)"}
    return {}


def asn_of(src: npt.NDArray[np.int64], mmdb: str | Path) -> npt.NDArray[np.int64]:
    """Autonomous system numbers of IPv4 sources from a MaxMind-format ASN database (-1: none).

    One lookup per database network touched: the sources are sorted and every source inside
    the network returned for the first one shares its record. Records in the GeoLite2/DB-IP
    form (``autonomous_system_number``) and the IPinfo form (``asn``: ``"AS15169"``) are read.
    """
    import maxminddb

    try:
        reader = maxminddb.open_database(str(mmdb))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise InputError(f"{mmdb}: cannot open MaxMind ASN database: {exc}") from exc
    uniq, inverse = np.unique(src, return_inverse=True)
    out = np.full(len(uniq), -1, dtype=np.int64)
    texts = ip_text(uniq)
    i = 0
    with reader:
        while i < len(uniq):
            rec, plen = reader.get_with_prefix_len(str(texts[i]))
            if reader.metadata().ip_version == 6 and plen > 32:  # IPv4 inside an IPv6 tree
                plen -= 96
            plen = max(0, min(32, plen))
            end = (int(uniq[i]) >> (32 - plen) << (32 - plen)) + (1 << (32 - plen))
            j = max(i + 1, int(np.searchsorted(uniq, end, side="left")))
            out[i:j] = _asn_number(rec)
            i = j
    result: npt.NDArray[np.int64] = out[inverse]
    return result


def _asn_number(rec: Any) -> int:
    if not isinstance(rec, dict):
        return -1
    num = rec.get("autonomous_system_number")
    if isinstance(num, int):
        return num
    text = rec.get("asn")
    if isinstance(text, str) and text.upper().startswith("AS") and text[2:].isdigit():
        return int(text[2:])
    if isinstance(text, int):
        return text
    return -1


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


@dataclass
class _Level:
    """The entities of one level: keys, sums over their sources, candidate flags."""

    name: str
    key: npt.NDArray[np.int64]  # entity key (address, /24, AS number, country code index)
    of_source: npt.NDArray[np.int64]  # per source: index into key (-1: no entity)
    packets: npt.NDArray[np.int64]
    h0: npt.NDArray[np.int64]
    days: npt.NDArray[np.int64]
    screen: npt.NDArray[np.float64]
    country: list[str | None]
    keep: npt.NDArray[np.intp]  # entities reported (enough data, busiest first)
    candidate: npt.NDArray[np.bool_]  # per entity: fully tested


def _group(
    name: str, key: npt.NDArray[np.int64], src: dict[str, Any], params: Params
) -> _Level:
    """Sum the per-source aggregate into the entities of one level."""
    valid = key >= 0
    ukey, inv = np.unique(key[valid], return_inverse=True)
    of_source = np.full(len(key), -1, dtype=np.int64)
    of_source[valid] = inv
    k = len(ukey)
    n = np.bincount(inv, weights=src["n"][valid], minlength=k)
    xc = np.bincount(inv, weights=src["xc"][valid], minlength=k)
    xs = np.bincount(inv, weights=src["xs"][valid], minlength=k)
    h0 = np.full(k, np.iinfo(np.int64).max)
    h1 = np.full(k, np.iinfo(np.int64).min)
    bits = np.zeros(k, dtype=np.uint64)
    np.minimum.at(h0, inv, src["h0"][valid])
    np.maximum.at(h1, inv, src["h1"][valid])
    np.bitwise_or.at(bits, inv, src["bits"][valid])
    active = np.bitwise_count(bits).astype(np.int64)
    packets = n.astype(np.int64)
    days = h1 // 24 - h0 // 24 + 1
    screen = (xc**2 + xs**2) / np.maximum(n, 1.0)
    ok = np.flatnonzero((packets >= params.min_packets) & (active >= params.min_days))
    keep = ok[np.lexsort((ukey[ok], -packets[ok]))][: params.max_entities]
    candidate = np.zeros(k, dtype=bool)
    candidate[keep] = screen[keep] >= params.screen
    # most frequent country of the entity, by packets
    cc = src["ccode"][valid]
    country: list[str | None] = [None] * k
    has = cc >= 0
    if has.any():
        pair = inv[has] * (len(src["cnames"]) + 1) + cc[has]
        upair, pinv = np.unique(pair, return_inverse=True)
        w = np.bincount(pinv, weights=src["n"][valid][has])
        ent, code = upair // (len(src["cnames"]) + 1), upair % (len(src["cnames"]) + 1)
        order = np.lexsort((code, -w, ent))
        first = order[np.r_[True, ent[order][1:] != ent[order][:-1]]]
        for e, c in zip(ent[first].tolist(), code[first].tolist(), strict=True):
            country[e] = src["cnames"][c]
    return _Level(name, ukey, of_source, packets, h0, days, screen, country, keep, candidate)


def _per_source(packets: PacketSource, period: Period | None) -> dict[str, Any] | None:
    """Pass 1: the additive aggregate of every IPv4 source.

    When the period spans at most 64 UTC days, the day mask is relative to its first day and
    also gives the first and last active day (no min/max aggregates needed)."""
    where, args = period_where(period)
    d_lo = int(period.start_utc.timestamp()) // 86400 if period is not None else 0
    exact = period is not None and (int(period.end_utc.timestamp()) - 1) // 86400 - d_lo < 64
    span = "" if exact else "min(h) AS h0, max(h) AS h1,"
    t = query(packets, f"""
        SELECT src, count(*) AS n, sum({_COS}[h % 24 + 1]) AS xc, sum({_SIN}[h % 24 + 1]) AS xs,
               {span} bit_or(1::UBIGINT << ((h // 24 - {d_lo}) % 64)::INTEGER) AS bits,
               any_value(country)::VARCHAR AS country
        FROM (SELECT src::BIGINT AS src, epoch_ns(ts) // {_HOUR} AS h, country FROM packets
              WHERE {where} AND ip_version = 4 AND src IS NOT NULL)
        GROUP BY src ORDER BY src""", args)  # fmt: skip
    if t.num_rows == 0:
        return None
    enc = t.column("country").combine_chunks().dictionary_encode()
    ccode = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    bits = np.asarray(t.column("bits").to_numpy(), dtype=np.uint64)
    if exact:  # lowest and highest set bit of the day mask
        low = np.log2((bits & (~bits + np.uint64(1))).astype(np.float64)).astype(np.int64)
        high = np.zeros(len(bits), dtype=np.int64)
        rest = bits.copy()
        for shift in (32, 16, 8, 4, 2, 1):
            big = rest >= (np.uint64(1) << np.uint64(shift))
            high[big] += shift
            rest[big] >>= np.uint64(shift)
        h0, h1 = (d_lo + low) * 24, (d_lo + high) * 24 + 23
    else:
        h0 = np.asarray(t.column("h0").to_numpy(), dtype=np.int64)
        h1 = np.asarray(t.column("h1").to_numpy(), dtype=np.int64)
    return {
        "src": np.asarray(t.column("src").to_numpy(), dtype=np.int64),
        "n": np.asarray(t.column("n").to_numpy(), dtype=np.float64),
        "xc": np.asarray(t.column("xc").to_numpy(), dtype=np.float64),
        "xs": np.asarray(t.column("xs").to_numpy(), dtype=np.float64),
        "h0": h0, "h1": h1, "bits": bits, "ccode": ccode,
        "cnames": [str(c) for c in enc.dictionary.to_pylist()],
    }  # fmt: skip


@numba.njit(cache=True)
def _source_kernel(
    ids: npt.NDArray[np.int64], h: npt.NDArray[np.int64], cc: npt.NDArray[np.int64],
    n_src: int, d_lo: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64], npt.NDArray[np.int64],
           npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # fmt: skip  # pragma: no cover
    hod = np.zeros((n_src, 24), np.int64)
    bits = np.zeros(n_src, np.uint64)
    h0 = np.full(n_src, np.iinfo(np.int64).max, np.int64)
    h1 = np.full(n_src, np.iinfo(np.int64).min, np.int64)
    first = np.full(n_src, -1, np.int64)
    for i in range(len(ids)):
        g, hh = ids[i], h[i]
        hod[g, hh % 24] += 1
        bits[g] |= np.uint64(1) << np.uint64((hh // 24 - d_lo) % 64)
        h0[g] = min(h0[g], hh)
        h1[g] = max(h1[g], hh)
        if first[g] < 0 and cc[i] >= 0:
            first[g] = i
    return hod, bits, h0, h1, first


def _read_rows(
    packets: PacketSource, period: Period | None, store: Any
) -> dict[str, Any]:
    """The Arrow route's rows (IPv4 with a source, part ``sources4`` of the shared pass,
    numbered as the tools detection numbers them): source number, hour, country code."""
    from teiten.detections.tools import sources

    part = sources(packets, period, store)
    return {"ids": part["ids"], "uniq": part["uniq"].astype(np.int64), "h": part["h"],
            "cc": part["country"], "vocab": part["vocab"]["country"]}  # fmt: skip


def _per_source_rows(rows: dict[str, Any], period: Period | None) -> dict[str, Any] | None:
    """Pass 1 (:func:`_per_source`) over the rows of :func:`_read_rows`, compiled; the
    Fourier sums come from each source's hour-of-day counts."""
    n_src = len(rows["uniq"])
    if len(rows["ids"]) == 0:
        return None
    d_lo = int(period.start_utc.timestamp()) // 86400 if period is not None else 0
    hod, bits, h0, h1, first = _source_kernel(rows["ids"], rows["h"], rows["cc"], n_src, d_lo)
    seen = np.flatnonzero(hod.sum(axis=1) > 0)  # numbers of sources with IPv4 rows
    order = seen[np.argsort(rows["uniq"][seen], kind="stable")]  # by source, as SQL orders
    vocab = np.array([*rows["vocab"], None], dtype=object)
    has = first[order] >= 0
    ctext = vocab[np.where(has, rows["cc"][np.maximum(first[order], 0)], len(rows["vocab"]))]
    enc = pa.array(ctext.tolist(), pa.string()).dictionary_encode()
    hod = hod[order].astype(np.float64)
    rank = np.full(n_src, -1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rows["rank"] = rank  # source number -> position in the output
    return {
        "src": rows["uniq"][order].astype(np.int64),
        "n": hod.sum(axis=1),
        "xc": hod @ np.cos(np.pi * np.arange(24) / 12),
        "xs": hod @ np.sin(np.pi * np.arange(24) / 12),
        "h0": h0[order], "h1": h1[order], "bits": bits[order],
        "ccode": np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64),
        "cnames": [str(c) for c in enc.dictionary.to_pylist()],
    }  # fmt: skip


@numba.njit(cache=True)
def _hourly_kernel(
    ids: npt.NDArray[np.int64], h: npt.NDArray[np.int64], ent: npt.NDArray[np.int64],
    n_ent: int, h_lo: int, span: int,
) -> npt.NDArray[np.int64]:  # pragma: no cover - compiled
    counts = np.zeros(n_ent * span, np.int64)
    for i in range(len(ids)):
        e = ent[ids[i]]
        if e >= 0:
            counts[e * span + h[i] - h_lo] += 1
    return counts


def _hourly(
    ids: npt.NDArray[np.int64], h: npt.NDArray[np.int64], ent: npt.NDArray[np.int64],
    names: npt.NDArray[np.int64],
) -> pa.Table:
    """Rows counted per (entity, hour) as a table ``e, h, n``: ``ent`` maps each row's number
    (``ids``) to a compact candidate index (-1: none) and ``names`` that index to ``e``."""
    empty = pa.table({"e": pa.array([], pa.int64()), "h": pa.array([], pa.int64()),
                      "n": pa.array([], pa.int64())})  # fmt: skip
    if len(ids) == 0 or len(names) == 0:
        return empty
    h_lo = int(h.min())
    span = int(h.max()) - h_lo + 1
    if len(names) * span <= 1 << 27:
        counts = _hourly_kernel(ids, h, ent, len(names), h_lo, span)
        k = np.flatnonzero(counts)
        n = counts[k]
    else:  # too many cells for a dense count: sort the rows' keys
        e = ent[ids]
        sel = e >= 0
        k, n = np.unique(e[sel] * span + (h[sel] - h_lo), return_counts=True)
    return pa.table({"e": names[k // span], "h": k % span + h_lo, "n": n.astype(np.int64)})


def _series_rows(
    rows: dict[str, Any], levels: list[_Level], cnames: list[str]
) -> list[pa.Table]:
    """Pass 2 (:func:`_series`) over the rows of :func:`_read_rows`, compiled."""
    out: dict[str, pa.Table] = {}
    rank = rows["rank"]  # source number -> output position (-1: no IPv4 rows)
    for lv in levels:
        if not lv.candidate.any():
            continue
        names = np.flatnonzero(lv.candidate).astype(np.int64)
        compact = np.full(len(lv.key) + 1, -1, dtype=np.int64)  # last: no entity
        compact[names] = np.arange(len(names))
        if lv.name == "country":  # the packet's own country
            cand = {cnames[int(k)]: int(compact[i]) for i, k in enumerate(lv.key.tolist())}
            ent = np.asarray([cand.get(c, -1) for c in rows["vocab"]] + [-1], dtype=np.int64)
            out[lv.name] = _hourly(np.where(rows["cc"] >= 0, rows["cc"], len(rows["vocab"])),
                                   rows["h"], ent, names)  # fmt: skip
        else:
            of_pos = np.r_[compact[np.where(lv.of_source >= 0, lv.of_source, len(lv.key))], -1]
            out[lv.name] = _hourly(rows["ids"], rows["h"], of_pos[rank], names)
    empty = _hourly(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                    np.zeros(0, np.int64))  # fmt: skip
    return [out.get(lv.name, empty) for lv in levels]


def _query_with(packets: PacketSource, sql: str, params: list[Any], table: pa.Table) -> pa.Table:
    """:func:`query` with one more Arrow table visible to the SQL as ``m``."""
    import duckdb

    if isinstance(packets, duckdb.DuckDBPyConnection):
        name = f"teiten_diurnal_m_{id(table)}"
        packets.register(name, table)
        try:
            return query(packets, sql.replace("{m}", name), params)
        finally:
            packets.unregister(name)
    con = duckdb.connect()
    try:
        if not isinstance(packets, pa.Table | ds.Dataset):  # a relation or ibis expression
            packets = query(packets, "SELECT ts, ip_version, src FROM packets")
        con.register("packets", packets)
        con.register("m", table)
        return query(con, sql.replace("{m}", "m"), params)
    finally:
        con.close()


def _series(
    packets: PacketSource, period: Period | None, src: npt.NDArray[np.int64],
    levels: list[_Level], cnames: list[str],
) -> list[pa.Table]:  # fmt: skip
    """Pass 2: hourly counts (entity, h, n) of every candidate entity, one table per level.

    Source-based levels read the candidates' sources through a join; countries group by the
    packet's own country column (cheap: few groups)."""
    where, args = period_where(period)
    empty = pa.table({"e": pa.array([], pa.int64()), "h": pa.array([], pa.int64()),
                      "n": pa.array([], pa.int64())})  # fmt: skip
    out: dict[str, pa.Table] = {}
    by_src = [lv for lv in levels if lv.name != "country"]
    cols = []
    for lv in by_src:
        e = lv.of_source
        cols.append(np.where((e >= 0) & lv.candidate[np.maximum(e, 0)], e, -1))
    need = np.vstack(cols).max(axis=0) >= 0 if cols else np.zeros(len(src), dtype=bool)
    if need.any():
        names = [f"e{i}" for i in range(len(by_src))]
        m = pa.table({"src": src[need], **{c: x[need] for c, x in zip(names, cols, strict=True)}})
        sets = ", ".join(f"({c}, h)" for c in names)
        grouping = f"GROUPING({', '.join(names)})" if len(names) > 1 else "0"
        t = _query_with(packets, f"""
            SELECT {grouping} AS gid, {', '.join(names)}, h, count(*) AS n
            FROM (SELECT src::BIGINT AS src, epoch_ns(ts) // {_HOUR} AS h FROM packets
                  WHERE {where} AND ip_version = 4 AND src IS NOT NULL) p JOIN {{m}} USING (src)
            GROUP BY GROUPING SETS ({sets})""", args, m)  # fmt: skip
        gid = np.asarray(t.column("gid").to_numpy(), dtype=np.int64)
        full = (1 << len(names)) - 1
        for i, (c, lv) in enumerate(zip(names, by_src, strict=True)):
            want = full & ~(1 << (len(names) - 1 - i)) if len(names) > 1 else 0
            sub = t.filter(pa.array(gid == want))
            e = np.asarray(sub.column(c).fill_null(-1).to_numpy(), dtype=np.int64)
            keep = e >= 0
            out[lv.name] = pa.table({
                "e": e[keep], "h": np.asarray(sub.column("h").to_numpy())[keep],
                "n": np.asarray(sub.column("n").to_numpy())[keep]})  # fmt: skip
    for lv in levels:
        if lv.name != "country" or not lv.candidate.any():
            continue
        wanted = [cnames[int(k)] for k in lv.key[lv.candidate]]
        t = query(packets, f"""
            SELECT country::VARCHAR AS country, epoch_ns(ts) // {_HOUR} AS h, count(*) AS n
            FROM packets WHERE {where} AND ip_version = 4 AND src IS NOT NULL
              AND list_contains(?, country::VARCHAR)
            GROUP BY ALL""", [*args, wanted])  # fmt: skip
        pos = {cnames[int(k)]: i for i, k in enumerate(lv.key.tolist())}
        e = np.asarray([pos[c] for c in t.column("country").to_pylist()], dtype=np.int64)
        out["country"] = pa.table({"e": e, "h": t.column("h"), "n": t.column("n")})
    return [out.get(lv.name, empty) for lv in levels]


def _names(lv: _Level, idx: npt.NDArray[np.intp], cnames: list[str]) -> list[str]:
    keys = lv.key[idx]
    if lv.name == "source":
        return [str(x) for x in ip_text(keys)]
    if lv.name == "prefix24":
        return [f"{x}/24" for x in ip_text(keys << 8)]
    if lv.name == "asn":
        return [f"AS{int(x)}" for x in keys]
    return [cnames[int(x)] for x in keys]


def _report(
    lv: _Level, series: pa.Table, period: Period | None, params: Params, cnames: list[str]
) -> pa.Table:
    """Run the full test on the candidates of one level and build its result rows."""
    idx = lv.keep
    n_e = len(idx)
    pos = np.full(len(lv.key), -1, dtype=np.int64)
    pos[idx] = np.arange(n_e)
    at = period.start_utc if period is not None else datetime.now(UTC)
    country = [lv.country[int(i)] for i in idx]
    names = _names(lv, idx, cnames)
    if lv.name == "country":
        offset = np.array([country_utc_offset_h(c, at) for c in names], dtype=np.float64)
    else:
        offset = np.array([country_utc_offset_h(c, at) for c in country], dtype=np.float64)
    nan = np.full(n_e, np.nan)
    g, p, share, mlab, per_h, ratio = (nan.copy() for _ in range(6))
    at_k = np.zeros(n_e)
    peak = np.full(n_e, -1, dtype=np.int64)
    e = np.asarray(series.column("e").to_numpy(), dtype=np.int64)
    r = pos[e]
    ok = r >= 0
    e, r = e[ok], r[ok]
    h = np.asarray(series.column("h").to_numpy(), dtype=np.int64)[ok]
    n = np.asarray(series.column("n").to_numpy(), dtype=np.float64)[ok]
    bins = h - (lv.h0[e] // 24) * 24
    days = lv.days[idx]
    tested = np.flatnonzero(lv.candidate[idx])
    for d in np.unique(days[tested]):
        sel = tested[days[tested] == d]
        for lo in range(0, len(sel), 20_000):
            block = sel[lo : lo + 20_000]
            rows = np.isin(r, block)
            bpos = np.searchsorted(block, r[rows])
            mat = np.zeros((len(block), int(d) * 24))
            np.add.at(mat, (bpos, bins[rows]), n[rows])
            gb, pb, sb, mb, phb, kb = _test_block(mat, int(d))
            g[block], p[block], share[block], mlab[block], per_h[block] = gb, pb, sb, mb, phb
            at_k[block] = kb
            d0 = lv.h0[idx[block]] // 24
            utc_hour = (d0[:, None] * 24 + np.arange(int(d) * 24)[None, :]) % 24
            local = (utc_hour + np.floor(offset[block, None]).astype(np.int64)) % 24
            fold = np.zeros((len(block), 24))
            np.add.at(fold, (np.repeat(np.arange(len(block)), int(d) * 24), local.ravel()),
                      mat.ravel())  # fmt: skip
            fold /= d
            peak[block] = np.argmax(fold, axis=1)
            ratio[block] = (fold[:, 8:].mean(axis=1) + 0.1) / (fold[:, :8].mean(axis=1) + 0.1)
    diurnal = (at_k > 0) & (p < params.alpha)

    def col(x: npt.NDArray[np.float64]) -> pa.Array:
        return pa.array(x, pa.float64(), mask=np.isnan(x))

    return pa.table({
        "level": [lv.name] * n_e,
        "entity": names,
        "country": pa.array(country, pa.string()),
        "packets": lv.packets[idx],
        "days": days,
        "g": col(g),
        "p_value": col(p),
        "dominant_period_h": col(per_h),
        "power_share_24h": col(share),
        "mlab_ratio": col(mlab),
        "screen_ratio": lv.screen[idx],
        "utc_offset_h": offset,
        "peak_local_hour": pa.array(peak, pa.int64(), mask=peak < 0),
        "day_night_ratio": col(ratio),
        "label": np.where(diurnal, "diurnal", "flat").tolist(),
    })  # fmt: skip


def detect(packets: PacketSource, period: Period | None, params: Params = Params(),
           store: Any = None) -> pa.Table:  # fmt: skip
    """Test sources, /24s, ASes and countries for diurnal activity.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB connection or relation, ibis.Table
        The packet table.
    period : teiten.core.periods.Period or None
        Only packets inside the period; None: all.
    params : Params
        Thresholds and levels.
    store : teiten.store.Store, optional
        The store whose packet table ``packets`` is: its files are then read directly with
        Arrow, once for both passes (see :func:`~teiten.detections._common.read_columns`);
        the hourly series are not in the statistics rollups.

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, per level, busiest entities first. The schema metadata
        ``skipped_levels`` (JSON) names levels not tested and why.
    """
    for level in params.levels:
        if level not in LEVELS:
            raise UsageError(f"unknown diurnal level {level!r} (one of {', '.join(LEVELS)})")
    skipped = skipped_levels(params)
    levels = [lv for lv in LEVELS if lv in params.levels and lv not in skipped]
    meta = {b"skipped_levels": json.dumps(skipped).encode()}
    arrow = store is not None or isinstance(packets, pa.Table | ds.Dataset)
    rows = _read_rows(packets, period, store) if levels and arrow else None
    if rows is not None:
        src = _per_source_rows(rows, period)
    else:
        src = _per_source(packets, period) if levels else None
    if src is None:
        return SCHEMA.empty_table().replace_schema_metadata(meta)
    keys = {
        "source": src["src"],
        "prefix24": src["src"] >> 8,
        "country": src["ccode"],
    }
    if "asn" in levels:
        keys["asn"] = asn_of(src["src"], str(params.asn_mmdb))
    groups = [_group(lv, keys[lv], src, params) for lv in levels]
    if rows is not None:
        series = _series_rows(rows, groups, src["cnames"])
        del rows
    else:
        series = _series(packets, period, src["src"], groups, src["cnames"])
    parts = [check_schema(_report(lv, s, period, params, src["cnames"]), SCHEMA)
             for lv, s in zip(groups, series, strict=True) if len(lv.keep)]  # fmt: skip
    out = pa.concat_tables(parts) if parts else SCHEMA.empty_table()
    return out.replace_schema_metadata(meta)

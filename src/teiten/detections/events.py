"""Notable events, period over period: what a report's prose should mention.

Event kinds (column ``kind``; the numbers behind each are in ``params`` as JSON, so the report
turns an event into a sentence from a template):

====================  ========================================================================
kind                  rule (thresholds in :class:`Params`)
====================  ========================================================================
``new-entrant``       a port/country in the top ``top_n`` now that was not in the previous
                      period's top ``top_n``
``rank-jump``         in the top ``top_n`` in both periods, up at least ``rank_jump`` places
``surge``             some observation day is a robust spike against the previous period's
                      days (packets > median + ``spike_k`` · max(1.4826·MAD, √median, 1)) and
                      either the ISC trend score √((S−s)²/s + (T−t)²/t) (S sources and T
                      targets that day, s and t their daily means over the baseline; ISC
                      compares a day with the previous 30) reaches ``trend_min`` or the day has
                      ``surge_ratio`` × the baseline median; at least ``min_day_packets``
``single-source``     one source accounts for at least ``driver_share`` of a port's increase
                      over the previous period (checked on surges, entrants, jumps, and ports
                      up ``min_increase`` with at least ``min_packets``)
``single-prefix``     the same for one /24, when no single source does
``dominant-sport``    one source port carries at least ``sport_share`` of a checked port's
                      packets (the NPA's 1521/TCP from source port 6000)
``signature-trend``   a signature's count changed by at least ``min_increase`` (up or down);
                      hook for the signature analysis' table (``signature``, ``current``,
                      ``previous``)
====================  ========================================================================

Severity is ``low``/``medium``/``high`` from the event's score (documented per kind in
:func:`_severity`). Observation days use the period's time zone. The previous period comes from
:meth:`teiten.core.periods.Period.previous`; the ranking is this module's own (the statistics
comparison module ranks the same way: by packets, ties by key).

Examples
--------
>>> import numpy as np
>>> from datetime import date
>>> from teiten.core.periods import Period
>>> from teiten.detections._common import packets_from_columns
>>> day = 86400 * 10**9
>>> t0 = np.datetime64("2026-10-01", "ns").astype(np.int64)
>>> ts = t0 + np.r_[np.arange(200) * day // 10, 30 * day + np.arange(60) * 10**9]
>>> port = [445] * 200 + [1521] * 60
>>> t = packets_from_columns({"ts": ts, "ip_version": [4] * 260, "src": [1] * 200 + [9] * 60,
...     "dst": [5] * 260, "proto": [6] * 260, "dport": port, "sport": [6000] * 260})
>>> p = Period(date(2026, 10, 21), date(2026, 11, 1), "range", "UTC")
>>> r = detect(t, p)
>>> sorted(set(zip(r.column("kind").to_pylist(), r.column("key").to_pylist())))[:3]
[('dominant-sport', '1521/TCP'), ('new-entrant', '1521/TCP'), ('single-source', '1521/TCP')]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.analyses.labels import port_label
from teiten.core.periods import Period, day_number, from_day_number, utc_offset_segments
from teiten.detections._common import (
    TS,
    PacketSource,
    check_schema,
    ip_text,
    query,
    schema,
)
from teiten.ingest.enrich import traffic_class as tc

NAME: Final = "events"


@dataclass(frozen=True, slots=True)
class Params:
    """Event thresholds (project choices unless noted; see the module table).

    Attributes
    ----------
    top_n : int
        Size of the top lists (the seed reports' top 10).
    rank_jump : int
        Places gained within the top list for a rank jump.
    spike_k : float
        Robust spike: multiples of the baseline's scaled MAD above its median.
    trend_min : float
        ISC trend score for a surge (noise: ≈1.4 typical, 5.3 at p=1e-6).
    surge_ratio : float
        Alternatively, the day's packets over the baseline median (floored at 1).
    min_day_packets : int
        Least packets on a surge day.
    min_packets : int
        Least packets in the period for a port to be checked for drivers.
    min_increase : float
        Relative change (0.5 = +50 %) for checking drivers and for signature trends.
    driver_share : float
        Share of the increase from one source (or /24).
    sport_share : float
        Share of one source port.
    """

    top_n: int = 10
    rank_jump: int = 3
    spike_k: float = 6.0
    trend_min: float = 6.0
    surge_ratio: float = 10.0
    min_day_packets: int = 50
    min_packets: int = 50
    min_increase: float = 0.5
    driver_share: float = 0.5
    sport_share: float = 0.9


#: One row per event.
SCHEMA: Final[pa.Schema] = schema([
    ("kind", pa.string(), "event kind (see the module table)"),
    ("dimension", pa.string(), "port, country or signature"),
    ("key", pa.string(), "the port label (445/TCP), country code or signature"),
    ("severity", pa.string(), "low, medium or high"),
    ("score", pa.float64(), "kind-specific strength, used for ordering"),
    ("value", pa.float64(), "packets in the current period"),
    ("previous", pa.float64(), "packets in the previous period"),
    ("change_pct", pa.float64(), "change in percent (null when the previous value is 0)"),
    ("day", pa.date32(), "the (first) surge day, observation day in the period's zone"),
    ("subject", pa.string(), "the driving source, /24 or source port"),
    ("share", pa.float64(), "the subject's share"),
    ("params", pa.string(), "every number of the event as a JSON object (for templates)"),
])  # fmt: skip

_PORT_SQL: Final = (
    "CASE WHEN proto IN (6, 17, 132) THEN dport::INTEGER "
    "WHEN proto IN (1, 58) THEN icmp_type::INTEGER END"
)


def _day_sql(period: Period, start: Any) -> str:
    """SQL for the observation day number (integers only: offsets come from tzdata)."""
    segs = utc_offset_segments(period.tz, start, period.end_utc)
    off = str(int(segs[0][1]))
    for s, o in segs[1:]:
        off = f"CASE WHEN epoch_ns(ts) >= {int(s) * 10**9} THEN {int(o)} ELSE {off} END"
    return f"((epoch_ns(ts) // 1000000000 + {off}) // 86400)::INTEGER"


def _severity(kind: str, score: float) -> str:
    """new-entrant/rank-jump: places (rank-now based); surge: trend; drivers: share."""
    cuts = {
        "new-entrant": (5.0, 8.0), "rank-jump": (4.0, 6.0), "surge": (10.0, 20.0),
        "single-source": (0.7, 0.9), "single-prefix": (0.7, 0.9),
        "dominant-sport": (0.95, 0.99), "signature-trend": (1.0, 3.0),
    }[kind]  # fmt: skip
    return "high" if score >= cuts[1] else "medium" if score >= cuts[0] else "low"


def _event(kind: str, dim: str, key: str, score: float, **nums: Any) -> dict[str, Any]:
    value = nums.get("value")
    prev = nums.get("previous")
    change = None
    if value is not None and prev:
        change = (value - prev) / prev * 100.0
    return {
        "kind": kind, "dimension": dim, "key": key, "severity": _severity(kind, score),
        "score": float(score), "value": value, "previous": prev, "change_pct": change,
        "day": nums.get("day"), "subject": nums.get("subject"), "share": nums.get("share"),
        "params": json.dumps({k: v for k, v in nums.items() if v is not None},
                             default=str, sort_keys=True),
    }  # fmt: skip


def _ranks(keys: list[str], values: npt.NDArray[np.float64]) -> dict[str, int]:
    pos = [i for i in range(len(keys)) if values[i] > 0]
    pos.sort(key=lambda i: (-values[i], keys[i]))
    return {keys[i]: r + 1 for r, i in enumerate(pos)}


def _dimension(
    daily: pa.Table, dim: str, d_now: int, n_days: int, params: Params
) -> tuple[list[dict[str, Any]], set[str]]:
    """Rank and surge events of one dimension from its daily table (day, key, p, s, t)."""
    events: list[dict[str, Any]] = []
    flagged: set[str] = set()
    if daily.num_rows == 0:
        return events, flagged
    keys_all = np.asarray(daily.column("key").to_pylist(), dtype=object)
    keys, kid = np.unique(keys_all, return_inverse=True)
    day = np.asarray(daily.column("day").to_numpy(), dtype=np.int64)
    col = {c: np.asarray(daily.column(c).to_numpy(), dtype=np.float64)
           for c in ("packets", "sources", "targets")}  # fmt: skip
    d_prev = d_now - n_days
    width = 2 * n_days
    idx = day - d_prev
    ok = (idx >= 0) & (idx < width)
    mats = {}
    for c, v in col.items():
        m = np.zeros((len(keys), width))
        np.add.at(m, (kid[ok], idx[ok]), v[ok])
        mats[c] = m
    pk = mats["packets"]
    now, prev = pk[:, n_days:].sum(axis=1), pk[:, :n_days].sum(axis=1)
    klist = [str(k) for k in keys]
    r_now, r_prev = _ranks(klist, now), _ranks(klist, prev)
    for i, k in enumerate(klist):
        rn, rp = r_now.get(k), r_prev.get(k)
        if rn is None or rn > params.top_n:
            continue
        nums = {"value": float(now[i]), "previous": float(prev[i]), "rank": rn, "rank_previous": rp}
        if rp is None or rp > params.top_n:
            score = float(params.top_n - rn + 1)
            events.append(_event("new-entrant", dim, k, score, **nums))
            flagged.add(k)
        elif rp - rn >= params.rank_jump:
            events.append(_event("rank-jump", dim, k, float(rp - rn), **nums))
            flagged.add(k)

    base = pk[:, :n_days]
    med = np.median(base, axis=1)
    mad = np.median(np.abs(base - med[:, None]), axis=1) * 1.4826
    floor = np.maximum.reduce([mad, np.sqrt(med), np.ones_like(med)])
    cur = pk[:, n_days:]
    s_mean = mats["sources"][:, :n_days].mean(axis=1)
    t_mean = mats["targets"][:, :n_days].mean(axis=1)
    S, T = mats["sources"][:, n_days:], mats["targets"][:, n_days:]
    trend = np.sqrt((S - s_mean[:, None]) ** 2 / np.maximum(s_mean, 1.0)[:, None]
                    + (T - t_mean[:, None]) ** 2 / np.maximum(t_mean, 1.0)[:, None])  # fmt: skip
    spike = cur > (med + params.spike_k * floor)[:, None]
    strong = (trend >= params.trend_min) & (s_mean[:, None] <= S)
    strong |= cur >= params.surge_ratio * np.maximum(med, 1.0)[:, None]
    hit = spike & strong & (cur >= params.min_day_packets)
    for i in np.flatnonzero(hit.any(axis=1)).tolist():
        days = np.flatnonzero(hit[i])
        peak = int(days[np.argmax(trend[i, days])])
        events.append(_event(
            "surge", dim, klist[i], float(trend[i, peak]),
            value=float(now[i]), previous=float(prev[i]),
            day=from_day_number(d_now + int(days[0])), peak_day=from_day_number(d_now + peak),
            peak_packets=float(cur[i, peak]), baseline_median=float(med[i]),
            baseline_mad=float(mad[i]), trend_score=float(trend[i, peak]),
            sources=float(S[i, peak]), targets=float(T[i, peak]),
            baseline_sources=float(s_mean[i]), baseline_targets=float(t_mean[i]),
            surge_days=len(days),
        ))  # fmt: skip
        flagged.add(klist[i])
    grow = (now >= params.min_packets) & (now >= (1 + params.min_increase) * prev)
    flagged |= {klist[i] for i in np.flatnonzero(grow)}
    return events, flagged


def _drivers(
    packets: PacketSource, period: Period, keys: set[str], params: Params, where: str,
    args: list[Any],
) -> list[dict[str, Any]]:
    """single-source / single-prefix / dominant-sport events for flagged port labels."""
    if not keys:
        return []
    t = query(
        packets,
        f"""SELECT proto, {_PORT_SQL} AS port, src, sport,
                   count(*) FILTER (WHERE ts >= {TS}) AS now,
                   count(*) FILTER (WHERE ts < {TS}) AS prev
            FROM packets WHERE {where} AND ip_version = 4 AND proto IN (1, 6, 17, 58, 132)
            GROUP BY ALL""",
        [period.start_utc, period.start_utc, *args],
    )
    if t.num_rows == 0:
        return []
    proto = t.column("proto").to_pylist()
    port = t.column("port").to_pylist()
    label = np.asarray([port_label(a, b) for a, b in zip(proto, port, strict=True)], dtype=object)
    sel = np.isin(label, np.asarray(sorted(keys), dtype=object))
    t = t.filter(pa.array(sel))
    label = label[sel]
    src = tc.column(t, "src", 0)
    sport = tc.column(t, "sport", -1)
    now = np.asarray(t.column("now").to_numpy(), dtype=np.float64)
    prev = np.asarray(t.column("prev").to_numpy(), dtype=np.float64)
    events: list[dict[str, Any]] = []
    for k in sorted(set(label.tolist())):
        m = label == k
        tot_now, tot_prev = now[m].sum(), prev[m].sum()
        if tot_now < params.min_packets:
            continue
        inc = tot_now - tot_prev
        base = {"value": float(tot_now), "previous": float(tot_prev)}
        if inc > 0:
            for kind, ent in (("single-source", src[m]), ("single-prefix", src[m] >> 8)):
                u, inv = np.unique(ent, return_inverse=True)
                d = np.bincount(inv, weights=now[m] - prev[m])
                j = int(np.argmax(d))
                share = float(d[j] / inc)
                if share >= params.driver_share:
                    who = ip_text(np.array([u[j] << (8 if kind == "single-prefix" else 0)]))[0]
                    subject = f"{who}/24" if kind == "single-prefix" else who
                    events.append(_event(kind, "port", k, share, subject=subject, share=share,
                                         increase=float(inc), subject_increase=float(d[j]),
                                         **base))  # fmt: skip
                    break
        sp = sport[m]
        if (sp >= 0).any():
            u, inv = np.unique(sp, return_inverse=True)
            c = np.bincount(inv, weights=now[m])
            j = int(np.argmax(c))
            share = float(c[j] / tot_now)
            if u[j] >= 0 and share >= params.sport_share:
                events.append(_event("dominant-sport", "port", k, share, subject=str(int(u[j])),
                                     share=share, sport=int(u[j]), **base))  # fmt: skip
    return events


def _signatures(sig: pa.Table, params: Params) -> list[dict[str, Any]]:
    events = []
    for row in sig.to_pylist():
        cur, prev = float(row["current"] or 0), float(row["previous"] or 0)
        if max(cur, prev) < params.min_packets:
            continue
        change = (cur - prev) / max(prev, 1.0)
        if abs(change) >= params.min_increase:
            events.append(_event("signature-trend", "signature", str(row["signature"]),
                                 abs(change), value=cur, previous=prev,
                                 direction="up" if change > 0 else "down"))  # fmt: skip
    return events


def detect(
    packets: PacketSource,
    period: Period,
    params: Params = Params(),
    signatures: pa.Table | None = None,
) -> pa.Table:
    """Notable events of ``period`` against its previous period.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB relation or ibis.Table
        The packet table, covering the period and its previous period.
    period : teiten.core.periods.Period
        The current period (observation days in its time zone).
    params : Params
        Thresholds.
    signatures : pyarrow.Table, optional
        Signature counts (``signature``, ``current``, ``previous``) for ``signature-trend``.

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, highest severity and score first.
    """
    prev = period.previous()
    n_days = period.n_days
    d_now = day_number(period.start)
    where = f"ts >= {TS} AND ts < {TS}"
    args: list[Any] = [prev.start_utc, period.end_utc]
    day = _day_sql(period, prev.start_utc)
    agg = "count(*) AS packets, count(DISTINCT src) AS sources, count(DISTINCT dst) AS targets"
    ports = query(
        packets,
        f"""SELECT {day} AS day, proto, {_PORT_SQL} AS port, {agg} FROM packets
            WHERE {where} AND ip_version = 4 GROUP BY ALL""",
        args,
    )
    labels = [port_label(a, b) for a, b in zip(ports.column("proto").to_pylist(),
                                                ports.column("port").to_pylist(), strict=True)]
    ports = ports.append_column("key", pa.array(labels, pa.string()))
    countries = query(
        packets,
        f"""SELECT {day} AS day, country::VARCHAR AS key, {agg} FROM packets
            WHERE {where} AND ip_version = 4 AND country IS NOT NULL GROUP BY ALL""",
        args,
    )
    events, flagged = _dimension(ports, "port", d_now, n_days, params)
    events += _dimension(countries, "country", d_now, n_days, params)[0]
    events += _drivers(packets, period, flagged, params, where, args)
    if signatures is not None:
        events += _signatures(signatures, params)
    if not events:
        return SCHEMA.empty_table()
    out = check_schema(pa.Table.from_pylist(events, schema=SCHEMA), SCHEMA)
    sev = {"high": 0, "medium": 1, "low": 2}
    order = sorted(range(len(events)), key=lambda i: (sev[events[i]["severity"]],
                                                      -events[i]["score"], events[i]["key"]))
    return out.take(pa.array(order, pa.int64()))

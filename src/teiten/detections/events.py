"""Notable events, period over period: what a report's prose should mention.

Event kinds (column ``kind``; the numbers behind each are in ``params`` as JSON, so the report
turns an event into a sentence from a template):

====================  ========================================================================
kind                  rule (thresholds in :class:`Params`)
====================  ========================================================================
``new-entrant``       a port/country in the top ``top_n`` now that was not in the previous
                      period's top ``top_n``, its value up at least ``rank_min_change``
``rank-jump``         in the top ``top_n`` in both periods, up at least ``rank_jump`` places
                      and ``rank_min_change`` in value
``surge``             some observation day is a robust spike against the previous period's
                      days (packets > median + ``spike_k`` · max(1.4826·MAD, √median, 1)) and
                      either the ISC trend score √((S−s)²/s + (T−t)²/t) (S sources and T
                      targets that day, s and t their daily means over the baseline; ISC
                      compares a day with the previous 30) reaches ``trend_min`` or the day has
                      ``surge_ratio`` × the baseline median; at least ``min_day_packets``
                      and ``surge_min_sources`` sources that day, twice the baseline's and
                      ``surge_sources_z`` Poisson deviations above it (or
                      ``surge_min_days`` consecutive surge days)
``single-source``     one source accounts for at least ``driver_share`` of a port's increase
                      over the previous period (checked on surges, entrants, jumps, and ports
                      up ``min_increase`` with at least ``min_packets`` ranked in the top
                      ``driver_max_rank``)
``single-prefix``     the same for one /24, when no single source does
``dominant-sport``    one source port carries at least ``sport_share`` of a checked port's
                      packets (the NPA's 1521/TCP from source port 6000)
``signature-trend``   a signature's or NPA category's hits (per covered address-day) rose or
                      fell by a factor of at least 1 + ``min_increase`` (doubled and halved
                      score alike), with at least ``min_packets`` hits in one of the periods;
                      read from the stored ``signatures`` results of both periods
====================  ========================================================================

Severity is ``low``/``medium``/``high`` from the event's score (documented per kind in
:func:`_severity`). Observation days use the period's time zone. The previous period comes from
:meth:`teiten.core.periods.Period.previous`; the ranks come from the statistics module's
period comparison (:mod:`teiten.analyses.comparison`, competition ranks over packets), so "new
to the top 10" agrees with the report's tables.

Where the numbers come from: given ``store=``, the daily volumes per port and country are the
statistics' ``cells`` rollup and the surge candidates' daily distinct sources come from the
``units`` rollup (both materialised once per month and shared with the statistics); packets are
read only for the destinations of candidates whose sources rose, and for the drivers of flagged
ports (source, /24, source port). Without a store the same quantities come from the packets.
When the previous period has no packets at all, nothing is compared.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from teiten.core.periods import Period, day_number, from_day_number, utc_offset_segments
from teiten.detections._common import (
    TS,
    PacketSource,
    check_schema,
    ip_text,
    query,
    schema,
)

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
    rank_min_change : float
        A new entrant or rank jump also needs its value up by this fraction over the previous
        period (0.1 = +10 %): ports or countries of near-equal volume trading places are not
        reported.
    spike_k : float
        Robust spike: multiples of the baseline's scaled MAD above its median.
    trend_min : float
        ISC trend score for a surge (noise: ≈1.4 typical, 5.3 at p=1e-6).
    surge_ratio : float
        Alternatively, the day's packets over the baseline median (floored at 1).
    min_day_packets : int
        Least packets on a surge day.
    surge_min_sources : int
        Least sources on a surge day, which must also be at least twice the baseline's daily
        sources — unless the surge lasts ``surge_min_days`` days (a burst from one scanner is
        a scan campaign, reported by the scans detection).
    surge_sources_z : float
        The rise in sources on a surge day must also be this many Poisson standard deviations
        (√ of the baseline's daily sources, at least 1): one scanner among a handful of regular
        sources on a rare port is not a surge.
    surge_min_days : int
        Consecutive surge days that make a surge without a rise in sources (a sustained single
        source; separate one-day bursts are scan campaigns, reported by the scans detection).
    min_packets : int
        Least packets in the period for a port to be checked for drivers.
    min_increase : float
        Relative change (0.5 = +50 %) for checking drivers and for signature trends.
    driver_max_rank : int
        Ports that grew are checked for drivers only when ranked this high now.
    driver_share : float
        Share of the increase from one source (or /24).
    sport_share : float
        Share of one source port.
    broad_min_keys : int
        A day on which at least this many keys (ports) spike at once is a traffic-wide change,
        not that many surges: backscatter from a flood spread over the ephemeral ports, or a
        full-range vertical scan (the backscatter and scans detections report those). That
        day's spikes are not surge candidates (1000: far more than any campaign of port
        surges, far fewer than the 64,512 ephemeral ports).
    """

    top_n: int = 10
    rank_jump: int = 3
    rank_min_change: float = 0.1
    spike_k: float = 6.0
    trend_min: float = 6.0
    surge_ratio: float = 10.0
    min_day_packets: int = 50
    surge_min_sources: int = 5
    surge_sources_z: float = 3.0
    surge_min_days: int = 3
    min_packets: int = 50
    min_increase: float = 0.5
    driver_max_rank: int = 20
    driver_share: float = 0.5
    sport_share: float = 0.9
    broad_min_keys: int = 1000


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
#: Distinct sources and destinations per day for the trend score: HyperLogLog estimates
#: (DuckDB's ``approx_count_distinct``, relative error about 2 %; a sixth of the exact count's
#: cost), ample for a score whose threshold is several standard deviations.
_DISTINCT: Final = "approx_count_distinct"
#: Integer key of (proto, port) for filtering in SQL.
_KID_SQL: Final = "(proto::BIGINT * 131072 + coalesce(port + 1, 0))"
#: The port label of :func:`teiten.analyses.labels.port_label`, on grouped (proto, port).
_LABEL_SQL: Final = (
    "CASE WHEN proto IN (6, 17, 132, 1, 58) THEN coalesce(port::VARCHAR, '?') || '/' || "
    "CASE proto WHEN 6 THEN 'TCP' WHEN 17 THEN 'UDP' WHEN 132 THEN 'SCTP' WHEN 1 THEN 'ICMP' "
    "ELSE 'ICMPv6' END ELSE 'proto ' || proto::VARCHAR END"
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


def _ranks(
    keys: list[str], now: npt.NDArray[np.float64], prev: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Ranks now and before (0 = not ranked) with the report tables' rules: the statistics
    module's period comparison (competition ranks; zero and "very few" values unranked)."""
    from teiten.analyses.comparison import Params as CompareParams
    from teiten.analyses.comparison import compare

    karr = pa.array(keys, pa.string())
    cmp = compare(pa.table({"key": karr, "v": now}), pa.table({"key": karr, "v": prev}), ["key"],
                  CompareParams(value="v", display_floor=0.5))  # fmt: skip
    pos = {k: i for i, k in enumerate(keys)}
    r_now = np.zeros(len(keys), dtype=np.int64)
    r_prev = np.zeros(len(keys), dtype=np.int64)
    for k, rn, rp in zip(cmp.column("key").to_pylist(), cmp.column("rank_now").to_pylist(),
                         cmp.column("rank_before").to_pylist(), strict=True):  # fmt: skip
        r_now[pos[k]], r_prev[pos[k]] = rn or 0, rp or 0
    return r_now, r_prev


def _longest_run(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Per row: the longest run of consecutive True values.

    >>> import numpy as np
    >>> _longest_run(np.array([[1, 0, 1, 1], [1, 0, 1, 0]], bool)).tolist()
    [2, 1]
    """
    run = np.zeros(flags.shape[0], dtype=np.int64)
    best = run.copy()
    for j in range(flags.shape[1]):
        run = np.where(flags[:, j], run + 1, 0)
        best = np.maximum(best, run)
    return best


def _dimension(
    counts: pa.Table,
    distinct: Callable[[str, list[Any], list[int]], pa.Table],
    dim: str,
    d_now: int,
    n_days: int,
    params: Params,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rank and surge events of one dimension.

    ``counts`` has (day, key, ref, packets); ``distinct(which, refs, days)`` returns (day, key,
    ``which``) — distinct ``sources`` or ``targets`` per day — for some surge candidates only,
    on the baseline days and the current ``days`` with a spike (the expensive part). Returns
    the events and the flagged keys (key -> ref) whose drivers should be checked.
    """
    events: list[dict[str, Any]] = []
    flagged: dict[str, Any] = {}
    if counts.num_rows == 0:
        return events, flagged
    enc = counts.column("key").combine_chunks()
    if not pa.types.is_dictionary(enc.type):
        enc = enc.dictionary_encode()
    kid = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    klist = [str(k) for k in enc.dictionary.to_pylist()]
    _, first = np.unique(kid, return_index=True)
    refs = counts.column("ref").take(pa.array(first)).to_pylist()
    ref_of = dict(zip(klist, refs, strict=True))
    d_prev = d_now - n_days
    width = 2 * n_days

    def matrix(keys: npt.NDArray[np.int64], day: npt.NDArray[np.int64],
               val: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:  # fmt: skip
        idx = day - d_prev
        ok = (idx >= 0) & (idx < width)
        m = np.zeros((len(klist), width))
        np.add.at(m, (keys[ok], idx[ok]), val[ok])
        return m

    day = np.asarray(counts.column("day").to_numpy(), dtype=np.int64)
    pk = matrix(kid, day, np.asarray(counts.column("packets").to_numpy(), dtype=np.float64))
    now, prev = pk[:, n_days:].sum(axis=1), pk[:, :n_days].sum(axis=1)
    r_now, r_prev = _ranks(klist, now, prev)
    for i in np.flatnonzero((r_now > 0) & (r_now <= params.top_n)).tolist():
        k, rn = klist[i], int(r_now[i])
        rp = int(r_prev[i]) or None
        nums = {"value": float(now[i]), "previous": float(prev[i]), "rank": rn, "rank_previous": rp}
        if now[i] < (1.0 + params.rank_min_change) * prev[i]:
            continue  # near-equal values trading places is not news
        if rp is None or rp > params.top_n:
            events.append(_event("new-entrant", dim, k, float(params.top_n - rn + 1), **nums))
            flagged[k] = ref_of[k]
        elif rp - rn >= params.rank_jump:
            events.append(_event("rank-jump", dim, k, float(rp - rn), **nums))
            flagged[k] = ref_of[k]

    base = pk[:, :n_days]
    med = np.median(base, axis=1)
    mad = np.median(np.abs(base - med[:, None]), axis=1) * 1.4826
    floor = np.maximum.reduce([mad, np.sqrt(med), np.ones_like(med)])
    cur = pk[:, n_days:]
    spike = (cur > (med + params.spike_k * floor)[:, None]) & (cur >= params.min_day_packets)
    spike[:, spike.sum(axis=0) >= params.broad_min_keys] = False  # traffic-wide days
    cand = np.flatnonzero(spike.any(axis=1))
    if len(cand):
        pos = {k: i for i, k in enumerate(klist)}

        def fetch(which: str, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
            days = (d_now + np.flatnonzero(spike[rows].any(axis=0))).tolist()
            dt = distinct(which, [ref_of[klist[i]] for i in rows.tolist()], days)
            dk = np.asarray([pos[k] for k in dt.column("key").to_pylist()], dtype=np.int64)
            dday = np.asarray(dt.column("day").to_numpy(), dtype=np.int64)
            return matrix(dk, dday, np.asarray(dt.column(which).to_numpy(), dtype=np.float64))

        # sources first: a surge day needs them doubled (or the surge to last), which rules
        # out most candidates (one scanner's burst) before destinations are counted
        src_m = fetch("sources", cand)
        s_mean = src_m[:, :n_days].mean(axis=1)
        S = src_m[:, n_days:]
        many = (params.surge_min_sources <= S) & (2 * s_mean[:, None] <= S)
        many &= S - s_mean[:, None] >= params.surge_sources_z * np.sqrt(
            np.maximum(s_mean, 1.0))[:, None]
        lasting = (_longest_run(spike) >= params.surge_min_days)[:, None]
        live = cand[(spike[cand] & (many[cand] | lasting[cand])).any(axis=1)]
        dst_m = fetch("targets", live) if len(live) else np.zeros_like(src_m)
        t_mean = dst_m[:, :n_days].mean(axis=1)
        T = dst_m[:, n_days:]
        s_base, t_base = np.maximum(s_mean, 1.0)[:, None], np.maximum(t_mean, 1.0)[:, None]
        trend = np.sqrt((S - s_mean[:, None]) ** 2 / s_base + (T - t_mean[:, None]) ** 2 / t_base)
        strong = (trend >= params.trend_min) & (s_mean[:, None] <= S)
        strong |= cur >= params.surge_ratio * np.maximum(med, 1.0)[:, None]
        hit = spike & strong
        hit[np.setdiff1d(cand, live)] = False
        # a burst from one scanner is a scan campaign (the scans detection reports it), not a
        # surge: a surge day needs the sources to (at least) double, or the surge to last
        hit &= many | (_longest_run(hit) >= params.surge_min_days)[:, None]
        for i in cand.tolist():
            if not hit[i].any():
                continue
            days = np.flatnonzero(hit[i])
            peak = int(days[np.argmax(trend[i, days])])
            events.append(_event(
                "surge", dim, klist[i], float(trend[i, peak]),
                value=float(now[i]), previous=float(prev[i]),
                day=from_day_number(d_now + int(days[0])),
                peak_day=from_day_number(d_now + peak), peak_packets=float(cur[i, peak]),
                baseline_median=float(med[i]), baseline_mad=float(mad[i]),
                trend_score=float(trend[i, peak]), sources=float(S[i, peak]),
                targets=float(T[i, peak]), baseline_sources=float(s_mean[i]),
                baseline_targets=float(t_mean[i]), surge_days=len(days),
            ))  # fmt: skip
            flagged[klist[i]] = ref_of[klist[i]]
    grow = (now >= params.min_packets) & (now >= (1 + params.min_increase) * prev)
    grow &= (r_now > 0) & (r_now <= params.driver_max_rank)
    for i in np.flatnonzero(grow).tolist():
        flagged.setdefault(klist[i], ref_of[klist[i]])
    return events, flagged


def _drivers(
    packets: PacketSource, period: Period, keys: dict[str, Any], params: Params, where: str,
    args: list[Any],
) -> list[dict[str, Any]]:
    """single-source / single-prefix / dominant-sport events for flagged ports."""
    if not keys:
        return []
    refs = sorted({int(v) for v in keys.values()})
    base = f"""WITH b AS (
          SELECT proto, {_PORT_SQL} AS port, src, sport, ts >= {TS} AS cur FROM packets
          WHERE {where} AND ip_version = 4 AND ({_port_filter(refs)}))"""
    bargs = [period.start_utc, *args]
    # one pass: totals and per-source, per-/24 and per-source-port counts (grouping sets)
    rows = query(packets, base + f""",
        g AS (SELECT proto, port, src, pfx, sport, GROUPING(src, pfx, sport) AS gid,
                     count(*) FILTER (WHERE cur) AS now, count(*) FILTER (WHERE NOT cur) AS prev
              FROM (SELECT proto, port, src, src >> 8 AS pfx, sport, cur FROM b)
              GROUP BY GROUPING SETS ((proto, port), (proto, port, src), (proto, port, pfx),
                                      (proto, port, sport)))
        SELECT {_LABEL_SQL} AS key, t.now, t.prev, s.ent AS src_ent, s.inc AS src_inc,
               p.ent AS pfx_ent, p.inc AS pfx_inc, sp.sport, sp.n AS sport_n
        FROM (SELECT proto, port, now, prev FROM g WHERE gid = 7) t
        LEFT JOIN (SELECT proto, port, arg_max(src, now - prev) AS ent, max(now - prev) AS inc
                   FROM g WHERE gid = 3 GROUP BY ALL) s USING (proto, port)
        LEFT JOIN (SELECT proto, port, arg_max(pfx, now - prev) AS ent, max(now - prev) AS inc
                   FROM g WHERE gid = 5 GROUP BY ALL) p USING (proto, port)
        LEFT JOIN (SELECT proto, port, arg_max(sport, now) AS sport, max(now) AS n
                   FROM g WHERE gid = 6 AND sport IS NOT NULL GROUP BY ALL) sp
          USING (proto, port)""", bargs).to_pylist()  # fmt: skip
    events: list[dict[str, Any]] = []
    for r in rows:
        now, prev = float(r["now"]), float(r["prev"])
        if now < params.min_packets:
            continue
        inc = now - prev
        base_nums = {"value": now, "previous": prev}
        if inc > 0:
            drivers = (("single-source", r["src_ent"], r["src_inc"], 0),
                       ("single-prefix", r["pfx_ent"], r["pfx_inc"], 8))  # fmt: skip
            for kind, ent, ent_inc, shift in drivers:
                if ent is None or ent_inc is None:
                    continue
                share = float(ent_inc) / inc
                if share >= params.driver_share:
                    who = ip_text(np.array([int(ent) << shift]))[0]
                    subject = f"{who}/24" if shift else who
                    events.append(_event(kind, "port", r["key"], share, subject=subject,
                                         share=share, increase=inc,
                                         subject_increase=float(ent_inc), **base_nums))  # fmt: skip
                    break
        if r["sport"] is not None:
            share = float(r["sport_n"]) / now
            if share >= params.sport_share:
                events.append(_event("dominant-sport", "port", r["key"], share,
                                     subject=str(int(r["sport"])), share=share,
                                     sport=int(r["sport"]), **base_nums))  # fmt: skip
    return events


def _signatures(sig: pa.Table, params: Params) -> list[dict[str, Any]]:
    """signature-trend events from (signature, current, previous[, dimension, rate_current,
    rate_previous]) rows: judged on the rates when given (hits per covered address-day, so a
    sensor added or lost is not a trend), else on the counts."""
    events = []
    for row in sig.to_pylist():
        cur, prev = float(row["current"] or 0), float(row["previous"] or 0)
        if max(cur, prev) < params.min_packets:
            continue
        r_cur, r_prev = row.get("rate_current"), row.get("rate_previous")
        rated = r_cur is not None and r_prev is not None
        a, b = (float(r_cur), float(r_prev)) if rated else (cur, prev)
        lo = min(a, b) or min(1.0, max(a, b))
        fold = max(a, b) / lo  # symmetric: doubled and halved are both 2
        if fold - 1.0 < params.min_increase:
            continue
        nums: dict[str, Any] = {"value": cur, "previous": prev, "fold_change": fold,
                                "direction": "up" if a > b else "down"}  # fmt: skip
        if rated:
            nums |= {"per_address_day": a, "per_address_day_previous": b}
        events.append(_event("signature-trend", str(row.get("dimension") or "signature"),
                             str(row["signature"]), fold - 1.0, **nums))  # fmt: skip
    return events


def signature_counts(store: Any, period: Period) -> pa.Table | None:
    """Hits per signature and per category in ``period`` and its previous period, from the
    stored ``signatures`` results (``teiten signatures``); None without a current result.

    Rows for :func:`detect`'s ``signatures``: ``dimension`` (signature or category),
    ``signature`` (the rule message or the category), ``current``, ``previous`` and, when both
    results carry their covered address-days, ``rate_current``/``rate_previous`` (hits per
    covered address-day).
    """
    got = store.read_result("signatures", period.label)
    if got is None:
        return None
    before = store.read_result("signatures", period.previous().label)
    results = (got, before)
    ad = [float(r[1].get("address_days") or 0) if r is not None else 0.0 for r in results]
    rows: dict[tuple[str, str], list[float]] = {}
    for i, res in enumerate(results):
        if res is None or res[0].num_rows == 0:
            continue
        for dim, col in (("signature", "msg"), ("category", "category")):
            g = res[0].group_by(col, use_threads=False).aggregate([("hits", "sum")])
            for k, h in zip(g.column(col).to_pylist(), g.column("hits_sum").to_pylist(),
                            strict=True):  # fmt: skip
                rows.setdefault((dim, str(k)), [0.0, 0.0])[i] += float(h or 0)
    rated = ad[0] > 0 and ad[1] > 0

    def rate(i: int) -> pa.Array:
        return pa.array([v[i] / ad[i] if rated else None for v in rows.values()], pa.float64())

    return pa.table({
        "dimension": pa.array([d for d, _ in rows], pa.string()),
        "signature": pa.array([k for _, k in rows], pa.string()),
        "current": pa.array([v[0] for v in rows.values()], pa.float64()),
        "previous": pa.array([v[1] for v in rows.values()], pa.float64()),
        "rate_current": rate(0), "rate_previous": rate(1),
    })  # fmt: skip


def _port_filter(refs: list[int]) -> str:
    """A pushdown-friendly SQL condition for the (proto, port) keys ``refs`` (integers only).

    >>> _port_filter([6 * 131072 + 446, 1 * 131072 + 9])
    '(proto = 1 AND icmp_type IN (8)) OR (proto = 6 AND dport IN (445))'
    """
    by_proto: dict[int, list[int]] = {}
    for r in refs:
        by_proto.setdefault(int(r) // 131072, []).append(int(r) % 131072 - 1)
    parts = []
    for proto, ports in sorted(by_proto.items()):
        col = "dport" if proto in (6, 17, 132) else "icmp_type" if proto in (1, 58) else None
        known = sorted(p for p in ports if p >= 0)
        if col is None:
            parts.append(f"proto = {proto}")
            continue
        if known:
            parts.append(f"(proto = {proto} AND {col} IN ({', '.join(map(str, known))}))")
        if any(p < 0 for p in ports):
            parts.append(f"(proto = {proto} AND {col} IS NULL)")
    return " OR ".join(parts) or "FALSE"


def _cells(packets: PacketSource, period: Period, store: Any) -> tuple[pa.Table, pa.Table]:
    """Accesses per (day, proto, port, country) over the period and its previous period, as
    (rows for the port table, rows for the country table).

    With a store: the statistics' month summaries ``day_port`` and ``day_country`` (the
    ``cells`` rollup grouped once per month, materialised with the rollups); without one, the
    same cells computed from the packets (both tables are then the same)."""
    prev = period.previous()
    if store is None:
        day = _day_sql(period, prev.start_utc)
        cells = query(packets, f"""
            SELECT {day} AS day, proto, {_PORT_SQL} AS port, country::VARCHAR AS country,
                   count(*) AS accesses
            FROM packets WHERE ts >= {TS} AND ts < {TS} GROUP BY ALL""",
            [prev.start_utc, period.end_utc])  # fmt: skip
        return cells, cells
    import pyarrow.compute as pc

    from teiten.analyses import rollups

    cols = ["day", "proto", "port", "country", "accesses"]
    months: list[Period] = []
    for p in (prev, period):
        rollups.materialise(store, p)
        months += [m for m in rollups.months_covering(p) if m not in months]
    d0, d1 = day_number(prev.start), day_number(period.end)
    out = []
    for grouping in ("day_port", "day_country"):
        t = pa.concat_tables([rollups.load_summary(store, m, grouping).select(cols)
                              for m in months])  # fmt: skip
        out.append(t.filter(pc.and_(pc.greater_equal(t["day"], d0), pc.less(t["day"], d1))))
    return out[0], out[1]


_PROTO_NAMES: Final = {6: "TCP", 17: "UDP", 132: "SCTP", 1: "ICMP", 58: "ICMPv6"}


def port_label(ref: int) -> str:
    """The port label of a (proto, port) key as :data:`_KID_SQL` makes it (``_LABEL_SQL``).

    >>> port_label(6 * 131072 + 446), port_label(1 * 131072 + 9), port_label(47 * 131072)
    ('445/TCP', '8/ICMP', 'proto 47')
    """
    proto, port = int(ref) // 131072, int(ref) % 131072 - 1
    if proto not in _PROTO_NAMES:
        return f"proto {proto}"
    return f"{port if port >= 0 else '?'}/{_PROTO_NAMES[proto]}"


def _port_keys(t: pa.Table) -> pa.Table:
    """(day, proto, port, packets) -> (day, key, ref, packets); labels built once per key."""
    proto = np.asarray(t.column("proto").to_numpy(zero_copy_only=False), dtype=np.int64)
    port = np.asarray(t.column("port").fill_null(-1).to_numpy(zero_copy_only=False),
                      dtype=np.int64)  # fmt: skip
    ref = proto * 131072 + port + 1
    uref, inv = np.unique(ref, return_inverse=True)
    key = pa.DictionaryArray.from_arrays(pa.array(inv.astype(np.int32)),
                                         pa.array([port_label(r) for r in uref.tolist()]))
    return pa.table({"day": t.column("day"), "key": key, "ref": ref,
                     "packets": t.column("packets")})  # fmt: skip


def _unit_sources(store: Any, period: Period, dim: str, refs: list[Any],
                  days: list[int]) -> pa.Table:  # fmt: skip
    """Distinct IPv4 sources per (day, key) from the statistics' ``units`` rollup, read with a
    filter (only the candidates' rows, on the baseline days and the current ``days``)."""
    import pyarrow.compute as pc

    from teiten.analyses import rollups

    prev = period.previous()
    wanted = list(range(day_number(prev.start), day_number(prev.end))) + [int(d) for d in days]
    cond = pc.field("day").isin(pa.array(wanted, pa.int32()))
    if dim == "port":
        by_proto: dict[int, list[int]] = {}
        for r in refs:
            by_proto.setdefault(int(r) // 131072, []).append(int(r) % 131072 - 1)
        keys = None
        for proto, ports in by_proto.items():
            k = (pc.field("proto") == proto) & pc.field("port").isin(pa.array(ports, pa.int32()))
            keys = k if keys is None else keys | k
        cond = cond & keys if keys is not None else cond
        cols = ["day", "proto", "port", "src"]
    else:
        cond = cond & pc.field("country").isin(pa.array([str(r) for r in refs], pa.string()))
        cols = ["day", "country", "src"]
    parts = [t for m in rollups.months_covering(prev) + rollups.months_covering(period)
             if (t := store.read_table(rollups.table_name("units", m), filter=cond,
                                       columns=cols)) is not None]  # fmt: skip
    units = pa.concat_tables(parts) if parts else pa.table(
        {c: pa.array([], pa.int64()) for c in cols})  # fmt: skip
    if dim == "port":
        sql = f"""SELECT day, {_LABEL_SQL} AS key, sources FROM (
                    SELECT day, proto, port, {_DISTINCT}(src) AS sources FROM packets
                    WHERE src IS NOT NULL GROUP BY ALL)"""
    else:
        sql = f"""SELECT day, country AS key, {_DISTINCT}(src) AS sources FROM packets
                  WHERE src IS NOT NULL GROUP BY ALL"""
    return query(units, sql)


def detect(
    packets: PacketSource,
    period: Period,
    params: Params = Params(),
    signatures: pa.Table | None = None,
    store: Any = None,
) -> pa.Table:
    """Notable events of ``period`` against its previous period.

    Parameters
    ----------
    packets : pyarrow.Table, pyarrow.dataset.Dataset, DuckDB connection or relation, ibis.Table
        The packet table, covering the period and its previous period.
    period : teiten.core.periods.Period
        The current period (observation days in its time zone).
    params : Params
        Thresholds.
    signatures : pyarrow.Table, optional
        Signature counts (``signature``, ``current``, ``previous``; optionally ``dimension``,
        ``rate_current``, ``rate_previous``) for ``signature-trend``; by default read from the
        store's ``signatures`` results when a store is given (:func:`signature_counts`).
    store : teiten.store.Store, optional
        The store the packets come from: daily volumes and source counts are then read from
        the statistics rollups (:func:`teiten.analyses.rollups.materialise`: built once per
        month, shared with the statistics); only the surge candidates' distinct destinations
        and the drivers of flagged ports read packets (distinct sources and destinations are
        not in the rollups).

    Returns
    -------
    pyarrow.Table
        :data:`SCHEMA`, highest severity and score first. When the previous period has no
        packets at all there is nothing to compare with: no port or country events.
    """
    prev = period.previous()
    n_days = period.n_days
    d_now = day_number(period.start)
    where = f"ts >= {TS} AND ts < {TS}"
    args: list[Any] = [prev.start_utc, period.end_utc]
    day = _day_sql(period, prev.start_utc)
    sel = f"FROM packets WHERE {where} AND ip_version = 4"
    cells, country_cells = _cells(packets, period, store)
    before = query(cells, "SELECT count(*) AS n FROM packets WHERE day >= ? AND day < ?",
                   [d_now - n_days, d_now]).column("n")[0].as_py()  # fmt: skip
    events: list[dict[str, Any]] = []
    if before:
        # the long tail of ports that can neither rank nor spike is dropped first: a port with
        # no current day of min_day_packets that ranks below max(top_n, driver_max_rank) in both
        # periods can make no event, and dropping it changes no rank within that bound
        ranked = max(params.top_n, params.driver_max_rank)
        ports = _port_keys(query(cells, f"""
            WITH d AS (SELECT day, proto, port, {_KID_SQL} AS ref, sum(accesses) AS packets
                       FROM packets GROUP BY ALL),
            t AS (SELECT ref, coalesce(sum(packets) FILTER (WHERE day >= ?), 0) AS now,
                         coalesce(sum(packets) FILTER (WHERE day < ?), 0) AS prev,
                         coalesce(max(packets) FILTER (WHERE day >= ?), 0) AS top_day
                  FROM d GROUP BY ref),
            k AS (SELECT ref FROM t QUALIFY top_day >= ? OR rank() OVER (ORDER BY now DESC) <= ?
                                            OR rank() OVER (ORDER BY prev DESC) <= ?)
            SELECT day, proto, port, packets FROM d SEMI JOIN k USING (ref)""",
            [d_now, d_now, d_now, params.min_day_packets, ranked, ranked]))  # fmt: skip
        countries = query(country_cells, """
            SELECT day, country AS key, country AS ref, sum(accesses) AS packets
            FROM packets WHERE country IS NOT NULL GROUP BY ALL""")

        def days_sql(days: list[int]) -> str:  # the baseline and the current spike days
            return f"(ts < {TS} OR {day} IN ({', '.join(str(int(d)) for d in days) or 'NULL'}))"

        def port_distinct(which: str, refs: list[Any], days: list[int]) -> pa.Table:
            if which == "sources" and store is not None:
                return _unit_sources(store, period, "port", refs, days)
            col = "src" if which == "sources" else "dst"
            return query(packets, f"""
                SELECT day, {_LABEL_SQL} AS key, n AS {which} FROM (
                  SELECT {day} AS day, proto, {_PORT_SQL} AS port, {_DISTINCT}({col}) AS n
                  {sel} AND ({_port_filter([int(r) for r in refs])}) AND {days_sql(days)}
                  GROUP BY ALL)""", [*args, period.start_utc])  # fmt: skip

        def country_distinct(which: str, refs: list[Any], days: list[int]) -> pa.Table:
            if which == "sources" and store is not None:
                return _unit_sources(store, period, "country", refs, days)
            col = "src" if which == "sources" else "dst"
            return query(packets, f"""
                SELECT {day} AS day, country::VARCHAR AS key, {_DISTINCT}({col}) AS {which}
                {sel} AND list_contains(?, country::VARCHAR) AND {days_sql(days)}
                GROUP BY ALL""", [*args, refs, period.start_utc])  # fmt: skip

        events, flagged = _dimension(ports, port_distinct, "port", d_now, n_days, params)
        events += _dimension(countries, country_distinct, "country", d_now, n_days, params)[0]
        events += _drivers(packets, period, flagged, params, where, args)
    if signatures is None and store is not None:
        signatures = signature_counts(store, period)
    if signatures is not None:
        events += _signatures(signatures, params)
    if not events:
        return SCHEMA.empty_table()
    out = check_schema(pa.Table.from_pylist(events, schema=SCHEMA), SCHEMA)
    sev = {"high": 0, "medium": 1, "low": 2}
    order = sorted(range(len(events)), key=lambda i: (sev[events[i]["severity"]],
                                                      -events[i]["score"], events[i]["key"]))
    return out.take(pa.array(order, pa.int64()))

"""Signature hits in the NPA report's tables: per category, signature, country, day; comparison.

Every figure is *hits per address per day*: alerts on covered sensor-days divided by the
covered address-days (``covered``: one row per covered sensor-day with its monitored address
count — :attr:`teiten.analyses.context.Context.covered_days`). Alerts on sensor-days that were
not covered are left out of the numerator as well.

:func:`hit_counts` reduces an alerts table to a small long table (:data:`COUNTS_SCHEMA`) that is
stored per period; every other table is computed from it, so a report never needs alerts.

Examples
--------
>>> import pyarrow as pa
>>> counts = pa.table({"day": pa.array([0, 0], pa.int32()), "sensor": ["s", "s"],
...                    "sid": [1, 2], "msg": ["a", "b"], "category": ["Worm", "Scan"],
...                    "country": ["CN", "US"], "hits": [30, 10]})
>>> cov = pa.table({"sensor": ["s"], "day": pa.array([0], pa.int32()), "addresses": [10]})
>>> category_table(counts, cov).column("per_address_day").to_pylist()[:2]
[3.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from teiten.analyses.comparison import Params as CompareParams
from teiten.analyses.comparison import compare
from teiten.core.periods import Period
from teiten.signatures.categories import NPA_CATEGORIES

#: Stored per period: hits per (observation day, sensor, signature, source country).
COUNTS_SCHEMA = pa.schema([
    pa.field("day", pa.int32(), metadata={"doc": "observation day (days since 1970-01-01)"}),
    pa.field("sensor", pa.string(), metadata={"doc": "sensor id"}),
    pa.field("sid", pa.int64(), metadata={"doc": "signature id"}),
    pa.field("msg", pa.string(), metadata={"doc": "signature message"}),
    pa.field("category", pa.string(), metadata={"doc": "NPA category"}),
    pa.field("country", pa.string(), metadata={"doc": "source country (null unknown)"}),
    pa.field("hits", pa.int64(), metadata={"doc": "alerts"}),
])


@dataclass(frozen=True, slots=True)
class Params:
    """Table settings.

    Parameters
    ----------
    top : int
        Rows kept in the signature and country tables (0 keeps all). Default 20.
    compare : CompareParams
        Period-comparison settings; the value compared is ``per_address_day``.
    """

    top: int = 20
    compare: CompareParams = field(default_factory=lambda: CompareParams(value="per_address_day"))


def observation_days(ts: pa.Array | pa.ChunkedArray, period: Period) -> pa.Array:
    """Observation day numbers (int32) of UTC timestamps in the period's time zone."""
    secs = np.asarray(pc.cast(ts, pa.int64()).to_numpy(zero_copy_only=False)) // 1_000_000_000
    segs = period.offset_segments()
    starts = np.array([s for s, _ in segs], dtype=np.int64)
    offs = np.array([o for _, o in segs], dtype=np.int64)
    k = np.clip(np.searchsorted(starts, secs, side="right") - 1, 0, len(segs) - 1)
    return pa.array(((secs + offs[k]) // 86400).astype(np.int32))


def hit_counts(alerts: pa.Table, period: Period) -> pa.Table:
    """Reduce an alerts table (:data:`~teiten.signatures.engine.ALERT_SCHEMA`) to counts."""
    if alerts.num_rows == 0:
        return COUNTS_SCHEMA.empty_table()
    t = pa.table({
        "day": observation_days(alerts.column("ts"), period),
        "sensor": alerts.column("sensor").cast(pa.string()),
        "sid": alerts.column("sid"), "msg": alerts.column("msg"),
        "category": alerts.column("category"),
        "country": alerts.column("country").cast(pa.string()),
    })
    lo, hi = period.start_ns, period.end_ns
    ts = pc.cast(alerts.column("ts"), pa.int64())
    t = t.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)))
    g = t.group_by(["day", "sensor", "sid", "msg", "category", "country"], use_threads=False)
    out = g.aggregate([("day", "count")])
    out = out.rename_columns(["hits" if n == "day_count" else n for n in out.column_names])
    return out.select(COUNTS_SCHEMA.names).cast(COUNTS_SCHEMA).sort_by(
        [("day", "ascending"), ("sid", "ascending")])


def _covered_only(counts: pa.Table, covered: pa.Table) -> pa.Table:
    keys = covered.select(["sensor", "day"]).cast(pa.schema([("sensor", pa.string()),
                                                             ("day", pa.int32())]))
    return counts.join(keys, ["sensor", "day"], join_type="left semi")


def _address_days(covered: pa.Table) -> float:
    return float(pc.sum(covered.column("addresses")).as_py() or 0)


def _per_key(counts: pa.Table, covered: pa.Table, keys: list[str]) -> pa.Table:
    c = _covered_only(counts, covered)
    ad = _address_days(covered)
    g = c.group_by(keys, use_threads=False).aggregate([("hits", "sum")])
    g = g.rename_columns(["hits" if n == "hits_sum" else n for n in g.column_names])
    g = g.select([*keys, "hits"])
    hits = np.asarray(g.column("hits").to_numpy(zero_copy_only=False), dtype=np.float64)
    total = hits.sum()
    g = g.append_column("per_address_day", pa.array(hits / ad if ad else hits * np.nan))
    g = g.append_column("share_pct", pa.array(100 * hits / total if total else hits * 0))
    return g.sort_by([("hits", "descending")] + [(k, "ascending") for k in keys])


def category_table(counts: pa.Table, covered: pa.Table,
                   categories: tuple[str, ...] = NPA_CATEGORIES) -> pa.Table:
    """Hits, hits per address-day and share per category (every category listed, 0 included)."""
    t = _per_key(counts, covered, ["category"])
    present = set(t.column("category").to_pylist())
    missing = [c for c in categories if c not in present]
    if missing:
        zeros = pa.table({"category": missing, "hits": pa.array([0] * len(missing), pa.int64()),
                          "per_address_day": [0.0] * len(missing),
                          "share_pct": [0.0] * len(missing)})
        t = pa.concat_tables([t.cast(zeros.schema), zeros])
    return t


def signature_table(counts: pa.Table, covered: pa.Table, params: Params = Params()) -> pa.Table:
    """Per signature (sid, msg, category): hits, per address-day, share of all hits."""
    t = _per_key(counts, covered, ["sid", "msg", "category"])
    return t.slice(0, params.top) if params.top else t


def country_table(counts: pa.Table, covered: pa.Table, params: Params = Params()) -> pa.Table:
    """Per source country: hits, per address-day, share (NPA table 4-2's value column)."""
    t = _per_key(counts, covered, ["country"])
    return t.slice(0, params.top) if params.top else t


def country_category_table(counts: pa.Table, covered: pa.Table) -> pa.Table:
    """Per (country, category): hits and per address-day (NPA figure 4-4)."""
    return _per_key(counts, covered, ["country", "category"])


def country_signature_table(counts: pa.Table, covered: pa.Table) -> pa.Table:
    """Per (country, signature): hits and per address-day (NPA figure 4-8)."""
    return _per_key(counts, covered, ["country", "sid", "msg"])


def daily_table(counts: pa.Table, covered: pa.Table,
                categories: tuple[str, ...] = NPA_CATEGORIES) -> pa.Table:
    """Per observation day and category: hits and hits per address covered *that day*."""
    c = _covered_only(counts, covered)
    per_day = covered.group_by("day", use_threads=False).aggregate([("addresses", "sum")])
    days = per_day.column("day").to_pylist()
    ad = dict(zip(days, per_day.column("addresses_sum").to_pylist(), strict=True))
    g = c.group_by(["day", "category"], use_threads=False).aggregate([("hits", "sum")])
    hits = {(d, k): h for d, k, h in zip(g.column("day").to_pylist(),
                                         g.column("category").to_pylist(),
                                         g.column("hits_sum").to_pylist(), strict=True)}
    rows = [(d, k, hits.get((d, k), 0)) for d in sorted(days) for k in categories]
    return pa.table({
        "day": pa.array([r[0] for r in rows], pa.int32()),
        "category": pa.array([r[1] for r in rows], pa.string()),
        "hits": pa.array([r[2] for r in rows], pa.int64()),
        "address_days": pa.array([ad[r[0]] for r in rows], pa.int64()),
        "per_address_day": pa.array([r[2] / ad[r[0]] if ad[r[0]] else 0.0 for r in rows]),
    })


def comparison_table(now: pa.Table, before: pa.Table, keys: list[str],
                     params: Params = Params(), labels: list[str] | None = None) -> pa.Table:
    """NPA tables 4-1 / 4-2: rank now and before, value, change, increase/decrease ranks.

    ``now`` and ``before`` are outputs of :func:`category_table`, :func:`country_table` (use
    ``top=0``) or :func:`signature_table` for two periods; uses
    :func:`teiten.analyses.comparison.compare`.
    """
    return compare(now, before, keys, params.compare, labels)


__all__ = ["COUNTS_SCHEMA", "Params", "category_table", "comparison_table",
           "country_category_table", "country_signature_table", "country_table", "daily_table",
           "hit_counts", "observation_days", "signature_table"]

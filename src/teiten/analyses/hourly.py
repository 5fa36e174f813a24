"""Hourly profile: accesses by hour of day, in UTC and in the source's local time.

``clock = utc`` — hour of the capture time in UTC. ``clock = local`` — hour in the source
country's representative time zone (:mod:`teiten.analyses.timezones`), with that zone's offset
at the moment of capture (daylight saving included); sources of unknown country have no local
time and are left out of the ``local`` rows. Rows come for all sources together (``scope =
all``, ``country`` null) and for each of the ``top_countries`` countries (``scope = country``).
Exact for every zone: the rollup keeps 15-minute UTC buckets and every zone's offset is a whole
number of quarter hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from teiten.analyses._common import execute, f
from teiten.analyses.base import Analysis, finish
from teiten.analyses.rollups import BUCKET_SECONDS
from teiten.analyses.timezones import country_timezone
from teiten.core.periods import utc_offset_segments

NAME: Final = "hourly"
SCHEMA: Final = pa.schema([
    f("clock", pa.string(), "utc or local (the source country's time zone)"),
    f("scope", pa.string(), "all (every source) or country"),
    f("country", pa.string(), "the country for scope=country, else null"),
    f("hour", pa.int8(), "hour of day 0-23"),
    f("accesses", pa.int64(), "accesses in that hour of day over the period"),
    f("share", pa.float64(), "accesses / all accesses of the clock and scope"),
])


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters.

    Parameters
    ----------
    top_countries : int
        Countries (by accesses) with their own profile. Default 10.
    """

    top_countries: int = 10


def _local_hours(codes: np.ndarray, names: list[str], bucket: np.ndarray,
                 ctx: Any) -> np.ndarray:
    """Local hour of each (country code, bucket) row; -1 where the country has no time zone.

    ``codes`` index ``names`` (-1: unknown country).
    """
    out = np.full(len(bucket), -1, dtype=np.int64)
    secs = bucket.astype(np.int64) * BUCKET_SECONDS
    for i, c in enumerate(names):
        tz = country_timezone(c)
        if tz is None:
            continue
        sel = codes == i
        segs = utc_offset_segments(tz, ctx.period.start_utc, ctx.period.end_utc)
        starts = np.array([s for s, _ in segs], dtype=np.int64)
        offs = np.array([o for _, o in segs], dtype=np.int64)
        idx = np.clip(np.searchsorted(starts, secs[sel], side="right") - 1, 0, None)
        out[sel] = ((secs[sel] + offs[idx]) // 3600) % 24
    return out


def _profile(hours: np.ndarray, weights: np.ndarray) -> np.ndarray:
    ok = hours >= 0
    return np.bincount(hours[ok], weights=weights[ok], minlength=24).astype(np.int64)


def hourly(ctx: Any, params: Params = Params()) -> pa.Table:
    """24 rows per (clock, scope, country) with accesses by hour."""
    tab = execute(ctx.hour_buckets())
    enc = pc.dictionary_encode(tab["country"]).combine_chunks()
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    names = [str(c) for c in enc.dictionary.to_pylist()]
    bucket = tab["bucket"].to_numpy(zero_copy_only=False)
    acc = tab["accesses"].to_numpy(zero_copy_only=False).astype(np.float64)
    utc_h = (bucket.astype(np.int64) * BUCKET_SECONDS // 3600) % 24
    loc_h = _local_hours(codes, names, bucket, ctx)
    per_code = np.bincount(codes + 1, weights=acc, minlength=len(names) + 1)
    keys = [None, *names]  # code + 1 → country
    # by accesses, then country; unknown (null) last among equals, as the SQL order puts it
    order = sorted(range(len(keys)), key=lambda k: (-per_code[k], keys[k] is None,
                                                    keys[k] or ""))
    tops = [k for k in order if per_code[k] > 0][:params.top_countries]
    rows: list[dict[str, Any]] = []

    def emit(clock: str, scope: str, c: str | None, prof: np.ndarray) -> None:
        total = int(prof.sum())
        for h in range(24):
            rows.append({"clock": clock, "scope": scope, "country": c, "hour": h,
                         "accesses": int(prof[h]),
                         "share": prof[h] / total if total else None})

    emit("utc", "all", None, _profile(utc_h, acc))
    emit("local", "all", None, _profile(loc_h, acc))
    for k in tops:
        c, sel = keys[k], codes == k - 1
        emit("utc", "country", c, _profile(utc_h[sel], acc[sel]))
        if c is not None and country_timezone(c):
            emit("local", "country", c, _profile(loc_h[sel], acc[sel]))
    return finish(pa.Table.from_pylist(rows, schema=SCHEMA), SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, hourly, Params, SCHEMA, "hourly profile, UTC and local time")

"""Daily series per top key (port or country): shared by ``daily_ports`` and
``daily_countries``.

For each observation day of the period and each of the top ``n`` keys (by the period's
accesses), plus one ``other`` row per day for every remaining key: accesses and source counts
that day, and the same divided by that day's covered sensors and addresses. Every day appears
for every top key (zero when nothing came).
"""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa

from teiten.analyses._common import (
    NULL_COUNTRY,
    NULL_PORT,
    execute,
    f,
    key_expr,
    top_keys,
)
from teiten.core.periods import day_number

DAILY_FIELDS = [
    f("accesses", pa.int64(), "accesses that day"),
    f("source_count", pa.int64(), "TALOT2 source count that day"),
    f("accesses_per_point", pa.float64(), "accesses / sensors covered that day"),
    f("sources_per_point", pa.float64(), "source_count / sensors covered that day"),
    f("accesses_per_address", pa.float64(), "accesses / addresses covered that day"),
    f("other", pa.bool_(), "true for the row summing every key outside the top n"),
]


def daily_rows(ctx: Any, keys: list[str], n: int) -> list[dict[str, Any]]:
    """Rows (as dicts) of the daily series for ``keys`` (the top ``n`` keys + other)."""
    tk = top_keys(ctx.by(keys), keys, n)
    tk = tk.order_by([ibis.desc(tk._acc), *[f"_k_{k}" for k in keys]]).limit(n)
    u = ctx.by(["day", *keys])
    per = execute(u.mutate(**{f"_k_{k}": key_expr(u, k) for k in keys}).semi_join(
        tk, [f"_k_{k}" for k in keys]).select("day", *keys, "accesses", "source_count"))
    day_tot = execute(ctx.by(["day"]))
    tops = execute(tk)
    top_list = list(zip(*(tops[f"_k_{k}"].to_pylist() for k in keys), strict=True))
    top_list = [tuple(_unsentinel(k, v) for k, v in zip(keys, key, strict=True))
                for key in top_list]
    cov = ctx.per_day_coverage()
    cov_by_day = {d: (s, a) for d, s, a in zip(cov["day"].to_pylist(), cov["sensors"].to_pylist(),
                                               cov["addresses"].to_pylist(), strict=True)}
    cells: dict[tuple[int, tuple[Any, ...] | None], list[int]] = {}
    for vals in zip(per["day"].to_pylist(), *(per[k].to_pylist() for k in keys),
                    per["accesses"].to_pylist(), per["source_count"].to_pylist(), strict=True):
        cells[(vals[0], tuple(vals[1:-2]))] = [vals[-2], vals[-1]]
    totals = {d: (a, s) for d, a, s in zip(day_tot["day"].to_pylist(),
                                            day_tot["accesses"].to_pylist(),
                                            day_tot["source_count"].to_pylist(), strict=True)}
    out: list[dict[str, Any]] = []
    for day in ctx.period.days():
        d = day_number(day)
        sensors, addresses = cov_by_day.get(d, (0, 0))
        ta, ts = totals.get(d, (0, 0))
        shown_a = shown_s = 0
        keys_today: list[tuple[Any, ...] | None] = [*top_list, None]
        for kk in keys_today:
            if kk is None:
                a, s = ta - shown_a, ts - shown_s
                if not a:
                    continue
            else:
                a, s = cells.get((d, kk), [0, 0])
                shown_a, shown_s = shown_a + a, shown_s + s
            row: dict[str, Any] = {
                "day": day, "accesses": a, "source_count": s,
                "accesses_per_point": a / sensors if sensors else None,
                "sources_per_point": s / sensors if sensors else None,
                "accesses_per_address": a / addresses if addresses else None,
                "other": kk is None}
            for i, k in enumerate(keys):
                row[k] = None if kk is None else kk[i]
            out.append(row)
    return out


def _unsentinel(key: str, v: Any) -> Any:
    if (key == "port" and v == NULL_PORT) or (key == "country" and v == NULL_COUNTRY):
        return None
    return v

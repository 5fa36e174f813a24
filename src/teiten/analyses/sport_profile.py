"""Source-port profile of a destination port: share of its accesses by source port.

The NPA spotted the July 2009 1521/TCP campaign because 99 % of it came from source port 6000
(figure 2-4). This analysis reads the ``sports`` rollup (the month's busiest source ports of its
busiest ports, :mod:`teiten.analyses.summary`) when that answers exactly, and otherwise the raw
packets of the chosen ports on the period's covered sensor-days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import ibis
import numpy as np
import pyarrow as pa

from teiten.analyses._common import add_port_label, execute, f
from teiten.analyses.base import Analysis, finish
from teiten.analyses.labels import parse_port_label
from teiten.core.errors import UsageError

NAME: Final = "sport_profile"
SCHEMA: Final = pa.schema([
    f("proto", pa.uint8(), "IP protocol number (TCP/UDP)"),
    f("port", pa.int32(), "destination port"),
    f("label", pa.string(), "port label"),
    f("sport", pa.int32(), "source port (null: all other source ports together)"),
    f("accesses", pa.int64(), "accesses to the port from this source port"),
    f("share", pa.float64(), "accesses / the port's accesses"),
    f("rank", pa.int32(), "rank within the port (null for the 'other' row)"),
])


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters.

    Parameters
    ----------
    ports : tuple of str
        Port labels to profile (``("1521/TCP",)``); empty (default): the ``top_ports`` TCP/UDP
        ports by accesses.
    top_ports : int
        How many ports when ``ports`` is empty. Default 5.
    top_sports : int
        Source ports listed per port; the rest are summed into one row with a null ``sport``.
        Default 10.
    """

    ports: tuple[str, ...] = ()
    top_ports: int = 5
    top_sports: int = 10


def _chosen_ports(ctx: Any, params: Params) -> list[tuple[int, int]]:
    if params.ports:
        out = []
        for label in params.ports:
            proto, port = parse_port_label(label)
            if proto not in (6, 17) or port is None:
                raise UsageError(f"source-port profile needs a TCP or UDP port, not {label!r}")
            out.append((proto, port))
        return out
    u = ctx.by(["proto", "port"])
    u = u.filter(u.proto.isin([6, 17]) & u.port.notnull())
    tab = execute(u.order_by([ibis.desc("accesses"), "proto", "port"]).limit(params.top_ports))
    return list(zip(tab["proto"].to_pylist(), tab["port"].to_pylist(), strict=True))


def _wanted(t: Any, chosen: list[tuple[int, int]], column: str) -> Any:
    cond = ibis.literal(False)
    for proto, port in chosen:
        cond = cond | ((t.proto == proto) & (t[column] == port))
    return cond


Listed = dict[tuple[int, int], list[dict[str, Any]]]


def _from_rollups(ctx: Any, chosen: list[tuple[int, int]],
                  params: Params) -> tuple[Listed, dict[tuple[int, int], int]] | None:
    """Listed source ports and port totals from the ``sports`` rollup, or None when it cannot
    answer exactly (no rollup, a port without one, or a source port left out could rank)."""
    got = ctx.sport_rollups()
    if got is None:
        return None
    rows, bounds = got
    bound = dict(zip(zip(bounds["proto"].to_pylist(), bounds["port"].to_pylist(), strict=True),
                     bounds["bound"].to_pylist(), strict=True))
    if any(key not in bound for key in chosen):
        return None
    g = rows.filter(_wanted(rows, chosen, "port"))
    tab = execute(g.group_by(["proto", "port", "sport"]).aggregate(
        accesses=g.packets.sum().cast("int64")))
    tot = ctx.by(["proto", "port"])
    tot = execute(tot.filter(_wanted(tot, chosen, "port")))
    totals = {(p, q): int(a) for p, q, a in zip(tot["proto"].to_pylist(), tot["port"].to_pylist(),
                                                 tot["accesses"].to_pylist(), strict=True)}
    kept: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for p, q, sp, a in zip(tab["proto"].to_pylist(), tab["port"].to_pylist(),
                           tab["sport"].to_pylist(), tab["accesses"].to_pylist(), strict=True):
        kept.setdefault((p, q), []).append((-a, sp))
    listed: Listed = {}
    for key in chosen:
        items = sorted(kept.get(key, []))
        shown = items[:params.top_sports]
        b = bound[key]
        if b and (len(shown) < params.top_sports or -shown[-1][0] <= b):
            return None  # a source port the rollup left out could be listed
        counts = np.array([-x for x, _ in items], np.int64)
        listed[key] = [
            {"sport": sp, "accesses": -na,
             "rank": int(np.count_nonzero(counts > -na)) + 1} for na, sp in shown]
    return listed, totals


def _from_packets(ctx: Any, chosen: list[tuple[int, int]],
                  params: Params) -> tuple[Listed, dict[tuple[int, int], int]]:
    """Listed source ports and port totals from the raw packets of the chosen ports."""
    t = ctx.covered_packets(lambda t: _wanted(t, chosen, "dport"))
    if t is None:
        raise UsageError("the source-port profile needs raw packets (none in this context)")
    g = t.group_by(["proto", "port", "sport"]).aggregate(accesses=ibis._.count())
    by_port = [g.proto, g.port]
    g = g.mutate(
        total=g.accesses.sum().over(ibis.window(group_by=by_port)),
        rank=(ibis.rank().over(ibis.window(group_by=by_port,
                                           order_by=ibis.desc(g.accesses))) + 1).cast("int32"),
        row=ibis.row_number().over(ibis.window(
            group_by=by_port, order_by=[ibis.desc(g.accesses), g.sport])),
    )
    tab = execute(g.filter(g.row < params.top_sports))
    totals: dict[tuple[int, int], int] = {}
    listed: Listed = {}
    for r in tab.to_pylist():
        key = (r["proto"], r["port"])
        totals[key] = r["total"]
        listed.setdefault(key, []).append(
            {"sport": r["sport"], "accesses": r["accesses"], "rank": r["rank"]})
    for key in listed:
        listed[key].sort(key=lambda x: (-x["accesses"], x["sport"]))
    return listed, totals


def sport_profile(ctx: Any, params: Params = Params()) -> pa.Table:
    """Accesses by source port for each chosen destination port.

    Read from the ``sports`` rollup when it answers exactly (:mod:`teiten.analyses.summary`),
    else from the raw packets of the chosen ports.
    """
    chosen = _chosen_ports(ctx, params)
    rows: list[dict[str, Any]] = []
    if chosen:
        got = _from_rollups(ctx, chosen, params)
        listed, totals = got if got is not None else _from_packets(ctx, chosen, params)
        for key in chosen:
            total = totals.get(key, 0)
            shown = 0
            for r in listed.get(key, []):
                shown += r["accesses"]
                rows.append({"proto": key[0], "port": key[1], "sport": r["sport"],
                             "accesses": r["accesses"], "share": r["accesses"] / total,
                             "rank": r["rank"]})
            rest = total - shown
            if rest:
                rows.append({"proto": key[0], "port": key[1], "sport": None, "accesses": rest,
                             "share": rest / total, "rank": None})
    base = pa.schema([fl for fl in SCHEMA if fl.name != "label"])
    out = add_port_label(pa.Table.from_pylist(rows, schema=base))
    return finish(out, SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, sport_profile, Params, SCHEMA,
                           "source-port profile of top ports")

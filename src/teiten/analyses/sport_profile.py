"""Source-port profile of a destination port: share of its accesses by source port.

The NPA spotted the July 2009 1521/TCP campaign because 99 % of it came from source port 6000
(figure 2-4). This analysis reads raw packets (the rollups keep no source ports), restricted to
the period's covered sensor-days and to the chosen ports, so it stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import ibis
import pyarrow as pa

from teiten.analyses._common import add_port_label, execute, f, measures
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
    u = ctx.units.filter(ctx.units.proto.isin([6, 17]) & ctx.units.port.notnull())
    tab = execute(measures(u, ["proto", "port"]).order_by(
        [ibis.desc("accesses"), "proto", "port"]).limit(params.top_ports))
    return list(zip(tab["proto"].to_pylist(), tab["port"].to_pylist(), strict=True))


def sport_profile(ctx: Any, params: Params = Params()) -> pa.Table:
    """Accesses by source port for each chosen destination port."""
    chosen = _chosen_ports(ctx, params)

    def wanted(t: Any) -> Any:
        cond = ibis.literal(False)
        for proto, port in chosen:
            cond = cond | ((t.proto == proto) & (t.dport == port))
        return cond

    t = ctx.period_packets(wanted)
    if t is None:
        raise UsageError("the source-port profile needs raw packets (none in this context)")
    rows: list[dict[str, Any]] = []
    if chosen:
        t = ctx.covered_only(t)
        g = t.group_by(["proto", "port", "sport"]).aggregate(accesses=ibis._.count())
        by_port = [g.proto, g.port]
        g = g.mutate(
            total=g.accesses.sum().over(ibis.window(group_by=by_port)),
            rank=(ibis.rank().over(ibis.window(group_by=by_port,
                                               order_by=ibis.desc(g.accesses))) + 1
                  ).cast("int32"),
            row=ibis.row_number().over(ibis.window(
                group_by=by_port, order_by=[ibis.desc(g.accesses), g.sport])),
        )
        tab = execute(g.filter(g.row < params.top_sports))
        totals: dict[tuple[int, int], int] = {}
        shown: dict[tuple[int, int], int] = {}
        listed: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for r in tab.to_pylist():
            key = (r["proto"], r["port"])
            totals[key] = r["total"]
            shown[key] = shown.get(key, 0) + r["accesses"]
            listed.setdefault(key, []).append(
                {"proto": key[0], "port": key[1], "sport": r["sport"], "accesses": r["accesses"],
                 "share": r["accesses"] / r["total"], "rank": r["rank"]})
        for key in chosen:
            items = sorted(listed.get(key, []), key=lambda x: (-x["accesses"], x["sport"]))
            rows.extend(items)
            rest = totals.get(key, 0) - shown.get(key, 0)
            if rest:
                rows.append({"proto": key[0], "port": key[1], "sport": None, "accesses": rest,
                             "share": rest / totals[key], "rank": None})
    base = pa.schema([fl for fl in SCHEMA if fl.name != "label"])
    out = add_port_label(pa.Table.from_pylist(rows, schema=base))
    return finish(out, SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, sport_profile, Params, SCHEMA,
                           "source-port profile of top ports")

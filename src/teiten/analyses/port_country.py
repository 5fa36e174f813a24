"""Port × country: which countries make up each top port, which ports each top country hits
(NPA figures 3-3 宛先ポートの国別比率 and 3-12 発信元国・地域別上位のポート別比率).

Rows: every (port, country) pair whose port is among the ``top_ports`` ports or whose country
is among the ``top_countries`` countries (by accesses). ``share_of_port`` is the pair's part of
the port's accesses, ``share_of_country`` its part of the country's accesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from teiten.analyses._common import (
    add_country_names,
    add_port_label,
    execute,
    f,
    key_expr,
    top_keys,
)
from teiten.analyses.base import Analysis, finish

NAME: Final = "port_country"
SCHEMA: Final = pa.schema([
    f("proto", pa.uint8(), "IP protocol number"),
    f("port", pa.int32(), "destination port / ICMP type"),
    f("label", pa.string(), "port label"),
    f("country", pa.string(), "source country (null unknown)"),
    f("name_en", pa.string(), "country name in English"),
    f("name_ja", pa.string(), "country name in Japanese"),
    f("accesses", pa.int64(), "accesses of the pair"),
    f("source_count", pa.int64(), "TALOT2 source count of the pair"),
    f("share_of_port", pa.float64(), "accesses / the port's accesses"),
    f("share_of_country", pa.float64(), "accesses / the country's accesses"),
    f("port_rank", pa.int32(), "the port's rank by accesses"),
    f("country_rank", pa.int32(), "the country's rank by accesses"),
])


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters.

    Parameters
    ----------
    top_ports : int
        Ports whose country breakdown is kept. Default 10.
    top_countries : int
        Countries whose port breakdown is kept. Default 10.
    """

    top_ports: int = 10
    top_countries: int = 10


def port_country(ctx: Any, params: Params = Params()) -> pa.Table:
    """The port × country table restricted to top ports and top countries."""
    u = ctx.by(["proto", "port", "country"])
    pairs = u.mutate(_k_proto=u.proto, _k_port=key_expr(u, "port"),
                     _k_country=key_expr(u, "country"))
    ports = top_keys(ctx.by(["proto", "port"]), ["proto", "port"], None).select(
        "_k_proto", "_k_port", port_total="_acc", port_rank="_rank")
    countries = top_keys(ctx.by(["country"]), ["country"], None).select(
        "_k_country", country_total="_acc", country_rank="_rank")
    j = pairs.join(ports, ["_k_proto", "_k_port"]).join(countries, ["_k_country"])
    j = j.filter((j.port_rank <= params.top_ports) | (j.country_rank <= params.top_countries))
    j = j.mutate(share_of_port=j.accesses / j.port_total,
                 share_of_country=j.accesses / j.country_total)
    j = j.select("proto", "port", "country", "accesses", "source_count", "share_of_port",
                 "share_of_country", "port_rank", "country_rank")
    # sorted by the engine (nulls last, as Arrow would), before the string labels are added
    tab = execute(j.order_by(["port_rank", "proto", "port", "country_rank", "country"]))
    tab = add_country_names(add_port_label(tab))
    return finish(tab, SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, port_country, Params, SCHEMA, "port × country shares")

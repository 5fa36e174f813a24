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
import pyarrow.compute as pc

from teiten.analyses._common import (
    add_country_names,
    add_port_label,
    execute,
    f,
    measures,
    rank_desc,
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
    pairs = execute(measures(ctx.units, ["proto", "port", "country"]))
    # keys may be null (unknown country, portless protocol): group in Python, not by joins
    pk = list(zip(pairs["proto"].to_pylist(), pairs["port"].to_pylist(), strict=True))
    ck = pairs["country"].to_pylist()
    acc = pairs["accesses"].to_pylist()
    port_tot: dict[tuple[int, int | None], int] = {}
    country_tot: dict[str | None, int] = {}
    for p, c, a in zip(pk, ck, acc, strict=True):
        port_tot[p] = port_tot.get(p, 0) + a
        country_tot[c] = country_tot.get(c, 0) + a
    port_rank = dict(zip(port_tot, rank_desc(pa.array(list(port_tot.values()),
                                                      pa.int64())).to_pylist(), strict=True))
    country_rank = dict(zip(country_tot, rank_desc(pa.array(list(country_tot.values()),
                                                            pa.int64())).to_pylist(),
                            strict=True))
    pr = pa.array([port_rank[p] for p in pk], pa.int32())
    cr = pa.array([country_rank[c] for c in ck], pa.int32())
    pairs = pairs.append_column("share_of_port", pa.array(
        [a / port_tot[p] for p, a in zip(pk, acc, strict=True)], pa.float64()))
    pairs = pairs.append_column("share_of_country", pa.array(
        [a / country_tot[c] for c, a in zip(ck, acc, strict=True)], pa.float64()))
    pairs = pairs.append_column("port_rank", pr).append_column("country_rank", cr)
    keep = pc.or_(pc.less_equal(pr, params.top_ports),
                  pc.less_equal(cr, params.top_countries))
    pairs = add_country_names(add_port_label(pairs.filter(keep)))
    pairs = pairs.sort_by([("port_rank", "ascending"), ("proto", "ascending"),
                           ("port", "ascending"), ("country_rank", "ascending"),
                           ("country", "ascending")])
    return finish(pairs, SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, port_country, Params, SCHEMA, "port × country shares")

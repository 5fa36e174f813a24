"""Home country vs world: port shares for all sources and for sources in the sensor's home
country (NPA figures 3-1 世界の宛先ポート比率 and 3-2 日本の宛先ポート比率).

A unit is *home* when its source country equals the home country (``country`` in the sensor
registry) of the sensor that saw it; sensors without a home country contribute to ``world``
only. Shares are within each scope; rates divide by the selection's covered sensor-/address-days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import pyarrow as pa

from teiten.analyses._common import (
    MEASURE_FIELDS,
    PORT_KEY_FIELDS,
    add_port_label,
    execute,
    f,
    top,
    with_rates,
)
from teiten.analyses.base import Analysis, finish

NAME: Final = "home_world"
SCHEMA: Final = pa.schema(
    [f("scope", pa.string(), "world (all sources) or home"), *PORT_KEY_FIELDS,
     *MEASURE_FIELDS]
)


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters.

    Parameters
    ----------
    sort_by : str
        Rank measure, ``accesses`` (default) or ``source_count``.
    top : int or None
        Rows kept per scope (None: all ports). Default 10.
    """

    sort_by: Literal["accesses", "source_count"] = "accesses"
    top: int | None = 10


def home_world(ctx: Any, params: Params = Params()) -> pa.Table:
    """Port tables for ``world`` and ``home`` scopes, one after the other."""
    from teiten.analyses.ports import Params as PortParams
    from teiten.analyses.registry import get

    parts = []
    world = get("ports")(ctx, PortParams(sort_by=params.sort_by, top=None))
    home_tab = execute(ctx.by(["proto", "port"], distinct=True, home=True))
    home = with_rates(add_port_label(home_tab), ctx, params.sort_by)
    for scope, tab in (("world", world.replace_schema_metadata(None)), ("home", home)):
        tab = top(tab, params.top)
        parts.append(tab.add_column(0, "scope", pa.array([scope] * tab.num_rows, pa.string())))
    return finish(pa.concat_tables(parts), SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, home_world, Params, SCHEMA, "port shares, home country vs world")

"""Accesses and sources by destination port (宛先ポート別): the seed reports' port tables.

One row per (protocol, port) — the port is the TCP/UDP destination port or the ICMP type;
other protocols have a null port and read ``proto N``.
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
    top,
    with_rates,
)
from teiten.analyses.base import Analysis, finish

NAME: Final = "ports"
SCHEMA: Final = pa.schema(PORT_KEY_FIELDS + MEASURE_FIELDS)


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters of the port table.

    Parameters
    ----------
    sort_by : str
        ``accesses`` (default) or ``source_count``: the rank measure.
    top : int or None
        Keep the first ``top`` rows (None, the default: every port). Shares are always of the
        whole selection.
    """

    sort_by: Literal["accesses", "source_count"] = "accesses"
    top: int | None = None


def ports(ctx: Any, params: Params = Params()) -> pa.Table:
    """Accesses, source counts, shares, rates and rank per destination port."""
    tab = execute(ctx.by(["proto", "port"], distinct=True))
    tab = with_rates(add_port_label(tab), ctx, params.sort_by)
    return finish(top(tab, params.top), SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, ports, Params, SCHEMA, "by destination port")

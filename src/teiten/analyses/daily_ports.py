"""Daily series of the top destination ports (NPA figures 3-4 … 3-9, TALOT2 figure 2.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from teiten.analyses._common import PORT_KEY_FIELDS, add_port_label, f
from teiten.analyses._daily import DAILY_FIELDS, daily_rows
from teiten.analyses.base import Analysis, finish

NAME: Final = "daily_ports"
SCHEMA: Final = pa.schema(
    [f("day", pa.date32(), "observation day"), *PORT_KEY_FIELDS, *DAILY_FIELDS]
)


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters.

    Parameters
    ----------
    top : int
        Ports with their own series (by the period's accesses); the rest form ``other``.
        Default 5.
    """

    top: int = 5


def daily_ports(ctx: Any, params: Params = Params()) -> pa.Table:
    """One row per observation day and top port (and an ``other`` row per day)."""
    rows = daily_rows(ctx, ["proto", "port"], params.top)
    base = pa.schema([fl for fl in SCHEMA if fl.name != "label"])
    return finish(add_port_label(pa.Table.from_pylist(rows, schema=base)), SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, daily_ports, Params, SCHEMA, "daily series of the top ports")

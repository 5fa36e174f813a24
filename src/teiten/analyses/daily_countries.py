"""Daily series of the top source countries (NPA figures 3-13 … 3-17, TALOT2 figure 2.4.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from teiten.analyses._common import COUNTRY_KEY_FIELDS, add_country_names, f
from teiten.analyses._daily import DAILY_FIELDS, daily_rows
from teiten.analyses.base import Analysis, finish

NAME: Final = "daily_countries"
SCHEMA: Final = pa.schema(
    [f("day", pa.date32(), "observation day"), *COUNTRY_KEY_FIELDS, *DAILY_FIELDS]
)


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters.

    Parameters
    ----------
    top : int
        Countries with their own series; the rest form ``other``. Default 5.
    """

    top: int = 5


def daily_countries(ctx: Any, params: Params = Params()) -> pa.Table:
    """One row per observation day and top country (and an ``other`` row per day)."""
    rows = daily_rows(ctx, ["country"], params.top)
    base = pa.schema([fl for fl in SCHEMA if fl.name not in ("name_en", "name_ja")])
    tab = add_country_names(pa.Table.from_pylist(rows, schema=base))
    for col, text in (("name_en", "other"), ("name_ja", "その他")):
        i = tab.column_names.index(col)
        tab = tab.set_column(i, col, pc.if_else(tab["other"], text, tab[col]))
    return finish(tab, SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, daily_countries, Params, SCHEMA,
                           "daily series of the top countries")

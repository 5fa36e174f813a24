"""Accesses and sources by source country (発信元国・地域別)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import pyarrow as pa

from teiten.analyses._common import (
    COUNTRY_KEY_FIELDS,
    MEASURE_FIELDS,
    add_country_names,
    execute,
    top,
    with_rates,
)
from teiten.analyses.base import Analysis, finish

NAME: Final = "countries"
SCHEMA: Final = pa.schema(COUNTRY_KEY_FIELDS + MEASURE_FIELDS)


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters of the country table.

    Parameters
    ----------
    sort_by : str
        ``accesses`` (default) or ``source_count``.
    top : int or None
        Keep the first ``top`` rows (None: all). Shares are of the whole selection.
    """

    sort_by: Literal["accesses", "source_count"] = "accesses"
    top: int | None = None


def countries(ctx: Any, params: Params = Params()) -> pa.Table:
    """Accesses, source counts, shares, rates and rank per source country (null = unknown)."""
    tab = execute(ctx.by(["country"], distinct=True))
    tab = with_rates(add_country_names(tab), ctx, params.sort_by)
    return finish(top(tab, params.top), SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, countries, Params, SCHEMA, "by source country")

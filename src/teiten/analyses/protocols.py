"""Template analysis: accesses and sources by IP protocol. Copy this file to start a new one.

An analysis module holds exactly:

1. ``NAME`` — the registry name;
2. ``SCHEMA`` — the declared output schema, one ``doc`` per field;
3. ``Params`` — a frozen dataclass of documented parameters with defaults (may be empty);
4. the function ``(ctx, params) -> pyarrow.Table`` — Ibis expressions over the context's
   rollups (``ctx.units``, ``ctx.buckets``; never raw SQL, never I/O), finished with
   :func:`teiten.analyses.base.finish` (checks the schema, echoes the parameters);
5. ``ANALYSIS`` — the :class:`~teiten.analyses.base.Analysis` record.

Then add one line to ``teiten/analyses/registry.py`` and a test that compares the result with
a brute-force computation on generated packets (``tests/analyses/test_protocols.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import pyarrow as pa

from teiten.analyses._common import MEASURE_FIELDS, execute, f, with_rates
from teiten.analyses.base import Analysis, finish
from teiten.analyses.labels import PROTO_NAMES

NAME: Final = "protocols"
SCHEMA: Final = pa.schema([
    f("proto", pa.uint8(), "IP protocol number"),
    f("name", pa.string(), "protocol name (TCP, UDP, ICMP, …) or the number"),
    *MEASURE_FIELDS,
])


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters.

    Parameters
    ----------
    sort_by : str
        Rank measure, ``accesses`` (default) or ``source_count``.
    """

    sort_by: Literal["accesses", "source_count"] = "accesses"


def protocols(ctx: Any, params: Params = Params()) -> pa.Table:
    """Accesses, source counts, shares, rates and rank per IP protocol."""
    tab = execute(ctx.by(["proto"], distinct=True))
    names = [PROTO_NAMES.get(p, str(p)) for p in tab["proto"].to_pylist()]
    tab = tab.add_column(1, "name", pa.array(names, pa.string()))
    return finish(with_rates(tab, ctx, params.sort_by), SCHEMA, params)


ANALYSIS: Final = Analysis(NAME, protocols, Params, SCHEMA, "by IP protocol (template)")

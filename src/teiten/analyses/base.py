"""What every analysis module shares: the :class:`Analysis` record and result finishing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from teiten.core.schema import conform


@dataclass(frozen=True, slots=True)
class Analysis:
    """One registered analysis.

    Parameters
    ----------
    name : str
        Registry name (also the store's result name and ``teiten stats --by`` value).
    compute : callable
        ``compute(ctx, params) -> pyarrow.Table``.
    params : type
        The frozen dataclass of its parameters (defaults documented there).
    schema : pyarrow.Schema
        The declared output schema, each field with a ``doc``.
    doc : str
        One line for listings.
    """

    name: str
    compute: Callable[..., pa.Table]
    params: type
    schema: pa.Schema
    doc: str

    def __call__(self, ctx: Any, params: Any = None) -> pa.Table:
        """Run on a :class:`~teiten.analyses.context.Context` (default parameters if None).

        Results are memoised per context and parameters (a report and a comparison asking for
        the same table compute it once).
        """
        p = params if params is not None else self.params()
        memo = getattr(ctx, "memo", None)
        if memo is None:
            return self.compute(ctx, p)
        result: pa.Table = memo((self.name, p), lambda: self.compute(ctx, p))
        return result


def params_dict(params: Any) -> dict[str, Any]:
    """A JSON-ready mapping of a Params dataclass."""
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


def finish(table: pa.Table, schema: pa.Schema, params: Any, **meta: Any) -> pa.Table:
    """Check a result against its declared schema and echo the parameters into its metadata.

    The schema metadata key ``teiten.params`` holds the parameters as JSON (so a report can say
    which settings produced it); further ``meta`` keys are stored as ``teiten.<key>``.
    """
    tab = conform(table.select(schema.names), schema)
    md = {b"teiten.params": json.dumps(params_dict(params), default=str, sort_keys=True)}
    md.update({f"teiten.{k}".encode(): json.dumps(v, default=str) for k, v in meta.items()})
    return tab.replace_schema_metadata(md)


def result_params(table: pa.Table) -> dict[str, Any]:
    """The parameters echoed into a result table by :func:`finish`."""
    md = table.schema.metadata or {}
    raw = md.get(b"teiten.params")
    return dict(json.loads(raw)) if raw else {}

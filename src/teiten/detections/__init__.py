"""Detections: DDoS backscatter, scan campaigns, tool verdicts, notable events, diurnal activity.

Each detection is one module exposing ``NAME``, a frozen-dataclass ``Params`` of documented
thresholds, the declared output ``SCHEMA`` and ``detect(packets, period, params) -> Table``.
Adding one is one module and one line in :data:`DETECTIONS`. Definitions and sources:
``specs/detections.md``.

Examples
--------
>>> sorted(DETECTIONS)
['backscatter', 'diurnal', 'events', 'scans', 'tools']
>>> get("scans").Params().idle_timeout_s
480.0
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import json
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any, Final

import pyarrow as pa

from teiten.core.errors import UsageError
from teiten.core.periods import Period

#: name -> module, in the order ``teiten detect`` runs them.
DETECTIONS: Final[dict[str, str]] = {
    "backscatter": "teiten.detections.backscatter",
    "scans": "teiten.detections.scans",
    "tools": "teiten.detections.tools",
    "events": "teiten.detections.events",
    "diurnal": "teiten.detections.diurnal",
}


def get(name: str) -> ModuleType:
    """The module of detection ``name``; :class:`UsageError` if unknown."""
    if name not in DETECTIONS:
        raise UsageError(f"unknown detection {name!r} (one of {', '.join(DETECTIONS)})")
    return importlib.import_module(DETECTIONS[name])


def make_params(name: str, **overrides: Any) -> Any:
    """The detection's ``Params`` with the given fields replaced (unknown fields are ignored
    when the detection does not have them, so one ``monitored_addresses`` fits all)."""
    cls = get(name).Params
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in overrides.items() if k in fields})


def run(name: str, packets: Any, period: Period | None, params: Any = None, **kw: Any) -> pa.Table:
    """Run detection ``name`` (default parameters unless given).

    ``store=`` (the :class:`~teiten.store.Store` behind ``packets``) lets a detection read the
    store's Parquet files, rollups and stored results directly; it is dropped for detections
    that only take the packet table.
    """
    mod = get(name)
    if "store" in kw and "store" not in inspect.signature(mod.detect).parameters:
        del kw["store"]
    table: pa.Table = mod.detect(
        packets, period, params if params is not None else mod.Params(), **kw
    )
    return table


@contextlib.contextmanager
def shared_reads() -> Iterator[None]:
    """Within the block, detections run over the same store and period read its packet
    files once between them (pass ``store=`` to :func:`run`); the columns stay in memory
    until the block ends (about 40 bytes per packet when all five run).

    >>> with shared_reads():
    ...     pass
    """
    from teiten.detections._columns import shared_columns

    with shared_columns():
        yield


def run_store(
    store: Any, period: Period, names: list[str] | None = None, *,
    monitored: int | None = None, save: bool = True, **overrides: Any,
) -> Iterator[tuple[str, pa.Table, float]]:  # fmt: skip
    """Run detections ``names`` (default: all, in :data:`DETECTIONS` order) over a store for
    ``period`` with one shared read of its packet files (:func:`shared_reads`); store each
    result with its parameters, period and skipped levels (``Store.write_result``, unless
    ``save`` is false), and yield ``(name, table, seconds)`` as each one ends.

    ``monitored`` is n for the extrapolations (default: :func:`monitored_v4` of the store's
    registry); ``overrides`` are further ``Params`` fields (see :func:`make_params`).
    """
    if monitored is None:
        monitored = monitored_v4(store.registry(), period)
    con = store.duckdb()
    with shared_reads():
        for name in names or list(DETECTIONS):
            params = make_params(name, monitored_addresses=monitored, **overrides)
            t0 = time.perf_counter()
            table = run(name, con, period, params, store=store)
            elapsed = time.perf_counter() - t0
            if save:
                meta: dict[str, Any] = {
                    "params": dataclasses.asdict(params), "period": period.label,
                    "tz": period.tz, "detection": name, "monitored_addresses": monitored}
                if skipped := levels_skipped(table):
                    meta["skipped_levels"] = skipped
                store.write_result(name, period.label, table, meta)
            yield name, table, elapsed


def levels_skipped(table: pa.Table) -> dict[str, str]:
    """Levels a detection did not run, with the reason (schema metadata ``skipped_levels``).

    >>> levels_skipped(pa.table({"x": [1]}))
    {}
    """
    raw = (table.schema.metadata or {}).get(b"skipped_levels")
    out: dict[str, str] = json.loads(raw) if raw else {}
    return out


def monitored_v4(registry: Any, period: Period) -> int | None:
    """IPv4 addresses the registry's sensors monitor at the period start (None if unknown:
    a sensor without declared addresses monitors everything it sees)."""
    total = 0
    at = period.start_ns
    for sensor in registry.values():
        if sensor.monitors_everything:
            return None
        total += sum(
            b.network.num_addresses
            for b in sensor.addresses
            if b.version == 4 and b.valid_from_ns <= at < b.valid_until_ns
        )
    return total or None

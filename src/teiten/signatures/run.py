"""Run signature detection for a store and a period, and store the result.

:func:`run_store` loads the rules (bundled + user files) with ``$HOME_NET`` = the monitored
addresses of the store's registry (overridable from a variables file), streams the period's
packets through the :class:`~teiten.signatures.engine.Engine`, reduces the alerts to
:data:`~teiten.signatures.tables.COUNTS_SCHEMA` and stores them with
``store.write_result("signatures", period, counts, meta)``. The metadata carries the rule
summary, the engine statistics, the covered sensor-days used as denominators and the
parameters, so a report (or the next period's comparison) needs nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from teiten.core.periods import Period
from teiten.core.sensors import Registry
from teiten.signatures.addresses import Variables
from teiten.signatures.categories import CategoryMap
from teiten.signatures.engine import Engine, Params
from teiten.signatures.loader import RuleSet, load_rules
from teiten.signatures.tables import hit_counts

ANALYSIS = "signatures"

#: Packet columns the engine reads.
NEEDED = ("ts", "sensor", "ip_version", "src", "dst", "src6", "dst6", "proto", "sport", "dport",
          "icmp_type", "icmp_code", "tcp_flags", "ttl", "ip_id", "tcp_seq", "tcp_ack",
          "tcp_win", "tcp_mss", "ip_flags", "icmp_id", "icmp_seq", "payload_len", "payload",
          "country")


@dataclass
class Result:
    """What :func:`run_store` produced."""

    period: Period
    counts: pa.Table
    covered: pa.Table
    ruleset: RuleSet
    meta: dict[str, Any] = field(default_factory=dict)


def home_net(registry: Registry) -> list[str]:
    """Every monitored CIDR of the registry (empty when a sensor monitors everything)."""
    nets: list[str] = []
    for s in registry.values():
        if s.monitors_everything:
            return []
        nets += [str(b.network) for b in s.addresses]
    return sorted(set(nets))


def period_batches(dataset: ds.Dataset, period: Period,
                   batch_size: int = 1 << 20) -> Any:
    """Record batches of the packets in ``period`` (only the columns the engine needs)."""
    typ = pa.timestamp("ns", tz="UTC")
    flt = ((pc.field("ts") >= pa.scalar(period.start_ns, typ))
           & (pc.field("ts") < pa.scalar(period.end_ns, typ)))
    cols = [c for c in NEEDED if c in dataset.schema.names]
    return dataset.to_batches(columns=cols, filter=flt, batch_size=batch_size)


def coalesce(batches: Iterable[pa.RecordBatch], rows: int = 1 << 20) -> Iterator[pa.Table]:
    """Group small record batches (Parquet row groups) into tables of about ``rows`` rows, so
    the per-batch fixed cost of the engine is paid rarely."""
    buf: list[pa.RecordBatch] = []
    n = 0
    for b in batches:
        if b.num_rows == 0:
            continue
        buf.append(b)
        n += b.num_rows
        if n >= rows:
            yield pa.Table.from_batches(buf)
            buf, n = [], 0
    if buf:
        yield pa.Table.from_batches(buf)


def covered_days(store: Any, period: Period) -> pa.Table:
    """Covered sensor-days (sensor, day, addresses) from the statistics' coverage module."""
    from teiten.analyses.context import from_store

    return from_store(store, period).covered_days


def run_store(store: Any, period: Period, *, rules: Sequence[str | Path] = (),
              bundled: bool = True, variables: str | Path | None = None,
              categories: str | Path | None = None, params: Params | None = None,
              write: bool = True) -> Result:
    """Evaluate the rules over the store's packets of ``period``; store and return counts."""
    var = Variables.defaults(home_net(store.registry()))
    if variables is not None:
        var = var.merged(Variables.load(variables))
    ruleset = load_rules(rules, variables=var, bundled=bundled)
    cmap = CategoryMap.load(categories) if categories else CategoryMap.bundled()
    eng = Engine(ruleset, cmap, params)
    for table in coalesce(period_batches(store.packets(), period)):
        eng.match(table)
    alerts = eng.finish()
    counts = hit_counts(alerts, period)
    covered = covered_days(store, period)
    stats = asdict(eng.stats)
    stats["per_rule_matches"] = {str(k): v for k, v in stats["per_rule_matches"].items()}
    meta: dict[str, Any] = {
        "period": period.label, "tz": period.tz,
        "rules": ruleset.summary(),
        "skipped": [str(s) for s in ruleset.skipped],
        "stats": stats,
        "params": asdict(eng.params),
        "covered": {c: covered.column(c).to_pylist() for c in covered.column_names},
        "address_days": int(pc.sum(covered.column("addresses")).as_py() or 0),
        "truncation_note": "content matches are decided on the stored payload prefix only",
    }
    if write:
        store.write_result(ANALYSIS, period.label, counts, meta)
    return Result(period, counts, covered, ruleset, meta)


def stored_or_run(store: Any, period: Period, **kwargs: Any) -> tuple[pa.Table, pa.Table]:
    """(counts, covered) of a period: the stored result if any, else computed (not written)."""
    got = store.read_result(ANALYSIS, period.label)
    if got is not None:
        counts, meta = got
        cov = meta.get("covered") or {"sensor": [], "day": [], "addresses": []}
        covered = pa.table({"sensor": pa.array(cov["sensor"], pa.string()),
                            "day": pa.array(cov["day"], pa.int32()),
                            "addresses": pa.array(cov["addresses"], pa.int64())})
        return counts, covered
    res = run_store(store, period, write=False, **kwargs)
    return res.counts, res.covered


__all__ = ["ANALYSIS", "Result", "coalesce", "covered_days", "home_net", "period_batches",
           "run_store", "stored_or_run"]

"""``teiten signatures --store DIR --period P``: NPA category and signature tables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pyarrow as pa


def register(sub: Any) -> None:
    """Add the ``signatures`` sub-command."""
    p: argparse.ArgumentParser = sub.add_parser(
        "signatures", help="signature detection in the NPA report's categories")
    p.add_argument("--store", required=True, type=Path)
    p.add_argument("--period", required=True, help="e.g. 2026-10, 2026-Q4")
    p.add_argument("--tz", default=None, help="report time zone (default: the period default)")
    p.add_argument("--rules", nargs="*", default=[], type=Path, metavar="FILE",
                   help="rule files in addition to the bundled darknet rules")
    p.add_argument("--no-bundled", action="store_true", help="do not load the bundled rules")
    p.add_argument("--vars", type=Path, help="TOML/YAML rule variables")
    p.add_argument("--categories", type=Path, help="category mapping TOML")
    p.add_argument("--top", type=int, default=20, help="rows in signature/country tables")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=run)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    return "" if v is None else str(v)


def _print(title: str, t: pa.Table, cols: list[str]) -> None:
    print(f"\n{title}")
    rows = [[_fmt(r[c]) for c in cols] for r in t.to_pylist()]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
              for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def run(args: argparse.Namespace) -> int:
    """Evaluate, store the result, print the tables."""
    from teiten.core.periods import parse_period
    from teiten.signatures import tables
    from teiten.signatures.run import run_store, stored_or_run
    from teiten.store import open_store

    store = open_store(args.store)
    period = parse_period(args.period, args.tz) if args.tz else parse_period(args.period)
    kw: dict[str, Any] = {"rules": args.rules, "bundled": not args.no_bundled,
                          "variables": args.vars, "categories": args.categories}
    res = run_store(store, period, **kw)
    prev_counts, prev_cov = stored_or_run(store, period.previous(), **kw)
    tp = tables.Params(top=args.top)
    allp = tables.Params(top=0)
    cat = tables.comparison_table(tables.category_table(res.counts, res.covered),
                                  tables.category_table(prev_counts, prev_cov), ["category"], tp)
    ctry = tables.comparison_table(tables.country_table(res.counts, res.covered, allp),
                                   tables.country_table(prev_counts, prev_cov, allp),
                                   ["country"], tp)
    sig = tables.signature_table(res.counts, res.covered, tp)
    if args.format == "json":
        print(json.dumps({"meta": res.meta, "categories": cat.to_pylist(),
                          "countries": ctry.slice(0, args.top).to_pylist(),
                          "signatures": sig.to_pylist()}, default=str, indent=1))
        return 0
    s = res.meta["rules"]
    print(f"signatures {period.label} ({period.tz}): {s['compiled']} rules "
          f"({s['skipped']} skipped), {res.meta['stats']['packets']:,} packets, "
          f"{res.meta['stats']['alerts']:,} alerts, {res.meta['address_days']:,} address-days")
    cmp_cols = ["rank_now", "rank_before", "value_now", "change_pct", "change",
                "increase_rank", "decrease_rank"]
    _print("Table 4-1: hits per address per day by category", cat, ["category", *cmp_cols])
    _print("Table 4-2: hits per address per day by source country", ctry.slice(0, args.top),
           ["country", *cmp_cols])
    _print("Signatures", sig, ["sid", "msg", "category", "hits", "per_address_day"])
    return 0

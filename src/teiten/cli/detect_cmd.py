"""``teiten detect``: backscatter/DDoS, scans, tool verdicts, notable events, diurnal activity.

Runs the detections over a store for a period, stores each result with
``Store.write_result(name, period, ...)`` (parameters echoed into the metadata) so the report
reads them, and prints them as a table, CSV or JSON (or writes Parquet files).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from teiten.core.errors import UsageError
from teiten.core.periods import DEFAULT_TZ, parse_period


def register(sub: Any) -> None:
    """Add the ``detect`` sub-command."""
    from teiten.detections import DETECTIONS

    p: argparse.ArgumentParser = sub.add_parser(
        "detect", help="DDoS backscatter, scan campaigns, tools, notable events, diurnal activity"
    )
    p.add_argument("which", nargs="*", metavar="DETECTION",
                   help=f"any of {', '.join(DETECTIONS)} (default: all)")
    p.add_argument("--store", required=True, type=Path, help="the packet store")
    p.add_argument("--period", required=True, help="2026-10, 2026-Q4, 2026-10-01..2026-10-15 …")
    p.add_argument("--tz", default=DEFAULT_TZ,
                   help=f"time zone of the period (default {DEFAULT_TZ})")
    p.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table")
    p.add_argument("--out", type=Path, help="directory for --format parquet (NAME.parquet)")
    p.add_argument("--limit", type=int, default=20, help="rows shown per table (table format)")
    p.add_argument("--monitored", type=int,
                   help="monitored IPv4 addresses for extrapolation (default: from the registry)")
    p.add_argument("--asn-mmdb", type=Path, metavar="FILE",
                   help="MaxMind-format ASN database for the diurnal AS level (else skipped)")
    p.add_argument("--no-save", action="store_true", help="do not store results in the store")
    p.set_defaults(func=run)  # fmt: skip


#: Columns shown by ``--format table`` (csv/json/parquet carry every column).
DISPLAY: dict[str, tuple[str, ...]] = {
    "backscatter": ("victim_ip", "protocol", "attack_type", "victim_ports", "start", "end",
                    "packets", "peak_pps", "est_peak_pps", "spoofed_addresses"),
    "scans": ("src_ip", "proto", "kind", "ports", "n_destinations", "packets", "start",
              "duration_s", "est_pps", "coverage", "internet_wide", "tool"),
    "tools": ("src_ip", "tool", "tool_packets", "packets", "share", "runner_up"),
    "events": ("kind", "dimension", "key", "severity", "value", "previous", "change_pct", "day",
               "subject", "share"),
    "diurnal": ("level", "entity", "country", "packets", "days", "p_value", "peak_local_hour",
                "day_night_ratio", "label"),
}  # fmt: skip


def _print_table(name: str, table: pa.Table, limit: int) -> None:
    from rich.console import Console
    from rich.table import Table

    cols = [c for c in DISPLAY.get(name, ()) if c in table.column_names] or table.column_names
    table = table.select(cols)
    t = Table(title=f"{name}: {table.num_rows} rows")
    for col in table.column_names:
        t.add_column(col, overflow="fold")
    for row in table.slice(0, limit).to_pylist():
        t.add_row(*(_cell(v) for v in row.values()))
    Console().print(t)


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, list):
        return " ".join(map(str, v))
    return str(v)


def run(args: argparse.Namespace) -> int:
    """Run the requested detections."""
    from teiten.detections import DETECTIONS, levels_skipped, run_store
    from teiten.store import open_store

    which = args.which or list(DETECTIONS)
    for name in which:
        if name not in DETECTIONS:
            raise UsageError(f"unknown detection {name!r} (one of {', '.join(DETECTIONS)})")
    if args.format == "parquet" and args.out is None:
        raise UsageError("--format parquet needs --out DIR")
    period = parse_period(args.period, tz=args.tz)
    store = open_store(args.store)
    if args.asn_mmdb is not None and not args.asn_mmdb.is_file():
        raise UsageError(f"--asn-mmdb {args.asn_mmdb}: no such file")
    asn = str(args.asn_mmdb) if args.asn_mmdb else None
    results: dict[str, pa.Table] = {}
    for name, table, elapsed in run_store(store, period, which, monitored=args.monitored or None,
                                          save=not args.no_save, asn_mmdb=asn):
        print(f"teiten detect: {name}: {table.num_rows} rows in {elapsed:.1f} s", file=sys.stderr)
        for level, why in levels_skipped(table).items():
            print(f"teiten detect: {name}: {level} level skipped: {why}", file=sys.stderr)
        results[name] = table
    _emit(results, args)
    return 0


def _emit(results: dict[str, pa.Table], args: argparse.Namespace) -> None:
    if args.format == "table":
        for name, table in results.items():
            _print_table(name, table, args.limit)
    elif args.format == "json":
        print(json.dumps({n: t.to_pylist() for n, t in results.items()}, default=str, indent=1))
    elif args.format == "csv":
        import pyarrow.csv as pcsv

        for name, table in results.items():
            if len(results) > 1:
                sys.stdout.write(f"# {name}\n")
            flat = table.select([c for c in table.column_names
                                 if not pa.types.is_list(table.schema.field(c).type)])
            for c in table.column_names:
                if pa.types.is_list(table.schema.field(c).type):
                    text = [" ".join(map(str, v)) if v else "" for v in table.column(c).to_pylist()]
                    flat = flat.append_column(c, pa.array(text, pa.string()))
            sink = pa.BufferOutputStream()
            pcsv.write_csv(flat, sink)
            sys.stdout.write(sink.getvalue().to_pybytes().decode())
    else:
        import pyarrow.parquet as pq

        args.out.mkdir(parents=True, exist_ok=True)
        for name, table in results.items():
            pq.write_table(table, args.out / f"{name}.parquet")

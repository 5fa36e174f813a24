"""``teiten store info``: what a store holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from teiten.store import open_store


def register(sub: Any) -> None:
    """Add the ``store`` sub-command."""
    p: argparse.ArgumentParser = sub.add_parser("store", help="inspect a packet store")
    ssub = p.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    info = ssub.add_parser("info", help="sensors, days, packets and inputs")
    info.add_argument("--store", required=True, type=Path)
    info.add_argument("--format", choices=["table", "json"], default="table")
    info.set_defaults(func=run_info)
    inputs = ssub.add_parser("inputs", help="the catalog of ingested inputs")
    inputs.add_argument("--store", required=True, type=Path)
    inputs.set_defaults(func=run_inputs)


def run_info(args: argparse.Namespace) -> int:
    """Print the store summary."""
    info = open_store(args.store).info()
    if args.format == "json":
        print(json.dumps(info, default=str, indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"teiten store {info['root']}")
    for col in ("sensor", "days", "packets", "first", "last"):
        t.add_column(col, justify="right" if col in ("days", "packets") else "left")
    for s in info["sensors"]:
        t.add_row(s["sensor"], str(s["days"]), f"{s['packets']:,}", str(s["first"]),
                  str(s["last"]))
    console = Console()
    console.print(t)
    console.print(f"inputs {info['inputs']:,}; packets {info['packets']:,}; skipped records "
                  f"{info['skipped']:,}; to unmonitored addresses {info['unmonitored']:,}")
    return 0


def run_inputs(args: argparse.Namespace) -> int:
    """Print the catalog rows."""
    for r in open_store(args.store).catalog.records().values():
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.skipped_by_reason.items()))
        print(f"{r.input_id[:12]}  {r.name}  {r.format}  {r.packets:,} packets"
              + (f"  skipped: {reasons}" if reasons else ""))
    return 0

"""``teiten ingest``: captures into the packet store."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from teiten.core.sensors import Registry
from teiten.ingest.pipeline import IngestSummary, expand_inputs, ingest


def register(sub: Any) -> None:
    """Add the ``ingest`` sub-command."""
    p: argparse.ArgumentParser = sub.add_parser(
        "ingest",
        help="decode captures into the packet store",
        description="Decode pcap/pcapng captures (optionally gzip/xz/zstd) into the store. "
        "Inputs already ingested (same content) are skipped unless --force. Exit codes: 0 ok, "
        "2 usage/config, 3 an input unusable, 4 damage under --strict, 5 store error.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, or - for stdin")
    p.add_argument("--store", required=True, type=Path, help="store directory (created if new)")
    p.add_argument("--sensor", help="sensor id for every input")
    p.add_argument("--registry", type=Path, help="sensor registry TOML")
    p.add_argument("--force", action="store_true", help="re-ingest inputs already ingested")
    p.add_argument("--strict", action="store_true", help="fail on any damaged or skipped record")
    p.add_argument("--payload-cap", type=int, default=512, help="payload bytes kept (512)")
    p.add_argument("--mmdb", type=Path, help="MaxMind-format country database to use")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the ingest and print its summary."""
    registry = Registry.load(args.registry) if args.registry else None
    inputs = expand_inputs(args.paths)
    show = sys.stderr.isatty() and not args.quiet
    if show:
        summary = _with_progress(args, registry, inputs)
    else:
        summary = ingest(inputs, args.store, sensor=args.sensor, registry=registry,
                         force=args.force, strict=args.strict, payload_cap=args.payload_cap,
                         mmdb=args.mmdb)
    if not args.quiet:
        print_summary(summary)
    return 3 if summary.failed else 0


def _with_progress(args: argparse.Namespace, registry: Registry | None,
                   inputs: list[str]) -> IngestSummary:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    total = sum(os.path.getsize(p) for p in inputs if p != "-" and os.path.isfile(p)) or None
    with Progress(
        TextColumn("ingest"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TextColumn("{task.fields[packets]:,} packets, {task.fields[pps]:,.0f}/s"),
        TimeRemainingColumn(), transient=True,
    ) as progress:
        task = progress.add_task("ingest", total=total, packets=0, pps=0.0)
        count = [0]

        def on_progress(nbytes: int, npackets: int) -> None:
            count[0] += npackets
            elapsed = progress.tasks[0].elapsed or 1e-9
            progress.update(task, advance=nbytes, packets=count[0], pps=count[0] / elapsed)

        return ingest(inputs, args.store, sensor=args.sensor, registry=registry,
                      force=args.force, strict=args.strict, payload_cap=args.payload_cap,
                      mmdb=args.mmdb, on_progress=on_progress)


def print_summary(summary: IngestSummary) -> None:
    """The final lines: stored, skipped by reason, duplicates, failures, elapsed, rate."""
    ingested = sum(i.status == "ingested" for i in summary.inputs)
    print(f"inputs: {ingested} ingested, {summary.duplicates} already in the store, "
          f"{summary.failed} failed")
    unmonitored = sum(i.unmonitored for i in summary.inputs)
    print(f"packets stored: {summary.packets:,} of {summary.records:,} records"
          + (f" ({unmonitored:,} to unmonitored addresses left out)" if unmonitored else ""))
    skipped = summary.skipped_by_reason
    if skipped:
        print("skipped: " + ", ".join(f"{k} {v:,}" for k, v in sorted(skipped.items())))
    for i in summary.inputs:
        if i.status == "failed":
            print(f"failed: {i.message}", file=sys.stderr)
    print(f"elapsed: {summary.elapsed:.2f} s ({summary.rate:,.0f} records/s)")

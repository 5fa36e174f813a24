"""``teiten simulate``: a synthetic darknet with ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from teiten.simulate import Params, load_scenario, parse_period, preset_names, simulate


def register(sub: Any) -> None:
    """Add the ``simulate`` sub-command."""
    p: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="write a synthetic darknet: captures, sensor registry and ground truth",
        description="Simulate sensors and the traffic that hits them (background radiation, "
        "worms, scanners, DDoS backscatter...) and write DIR/captures/<sensor>/*, "
        "DIR/sensors.toml and DIR/truth.{parquet,json}; responsive sensors also get their "
        "first-payload records in DIR/payloads/. Deterministic for a seed. "
        "Then: teiten ingest DIR/captures --registry DIR/sensors.toml --store STORE, and "
        "teiten sensor payloads --segments DIR/payloads --store STORE. "
        "Exit codes: 0 ok, 2 usage/config error.",
    )
    p.add_argument("--scenario", required=True,
                   help=f"preset ({', '.join(preset_names())}) or a scenario TOML file")
    p.add_argument("--period", required=True,
                   help="2026-10, 2026-09..2026-10, 2026-10-05 or 2026-10-01..2026-10-07 (UTC)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--seed", type=int, default=1, help="random seed (1)")
    p.add_argument("--scale", type=float, default=1.0, help="volume multiplier (1.0)")
    p.add_argument("--format", dest="fmt", choices=["pcap", "pcapng"], default="pcap",
                   help="capture format (pcap)")
    p.add_argument("--rotate", choices=["daily", "hourly"], default="daily",
                   help="one file per sensor per day (default) or per hour")
    p.add_argument("--compression", choices=["none", "gzip", "xz", "zstd"], default="none",
                   help="compress each capture (.gz/.xz/.zst; ingest reads them as they are)")
    p.add_argument("--nanosecond", action="store_true", help="nanosecond timestamps")
    p.add_argument("--force", action="store_true", help="replace an existing DIR/captures")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress and no summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the simulation and print a one-line summary."""
    scenario = load_scenario(args.scenario)
    start, end = parse_period(args.period)
    params = Params(seed=args.seed, scale=args.scale, fmt=args.fmt, rotate=args.rotate,
                    nanosecond=args.nanosecond, compression=args.compression)
    show = sys.stderr.isatty() and not args.quiet

    def progress(done: int, total: int) -> None:
        print(f"\rsimulate: {done}/{total} chunks", end="", file=sys.stderr, flush=True)

    summary = simulate(scenario, start, end, args.out, params, force=args.force,
                       progress=progress if show else None)
    if show:
        print(file=sys.stderr)
    if not args.quiet:
        print(f"{scenario.name}: {summary.packets:,} packets, {summary.files} files, "
              f"{summary.sensors} sensors, {summary.actors} actors in {summary.elapsed:.1f} s "
              f"({summary.rate:,.0f} packets/s), {summary.payload_records:,} first-payload "
              f"records -> {summary.out}")
    return 0

"""``teiten sensor``: live capture, spool ingest, the responsive sensor, first payloads."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from teiten.core.sensors import Registry
from teiten.sensors import capture, payloads, respond, spool
from teiten.store import create_store, open_store


def register(sub: Any) -> None:
    """Add ``sensor capture|ingest|respond|payloads``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "sensor", help="run sensors: capture, spool ingest, responder, first payloads",
        description="Live sensors. See docs/sensors.md for the operator guide.")
    s = p.add_subparsers(dest="sensor_command", metavar="ACTION", required=True)

    c = s.add_parser("capture", help="run tcpdump with rotation into a spool, keep it alive")
    c.add_argument("--interface", "-i", required=True, help="capture interface")
    c.add_argument("--sensor", required=True, help="sensor id (names files; registry entry "
                   "gives the monitored addresses for the filter)")
    c.add_argument("--spool", required=True, type=Path, help="spool directory")
    c.add_argument("--registry", type=Path, help="sensor registry TOML")
    c.add_argument("--rotate", type=int, default=3600, help="seconds per file (3600)")
    c.add_argument("--rotate-mb", type=int, help="also rotate past this many MB")
    c.add_argument("--snaplen", type=int, default=0, help="bytes per packet (tcpdump default)")
    c.add_argument("--buffer-kib", type=int, default=32768, help="kernel buffer KiB (32768)")
    c.add_argument("--packet-buffered", action="store_true", help="write each packet at once")
    c.add_argument("--both-directions", action="store_true", default=None,
                   help="also capture traffic from the monitored addresses")
    c.add_argument("--stats-seconds", type=float, default=60.0, help="drop-count period (60)")
    c.add_argument("--tcpdump", default="tcpdump", help="tcpdump program")
    c.set_defaults(func=run_capture)

    i = s.add_parser("ingest", help="ingest each closed file of a spool once, follow it")
    i.add_argument("--spool", required=True, type=Path, help="spool directory")
    i.add_argument("--store", required=True, type=Path, help="store directory")
    i.add_argument("--sensor", help="sensor id for every file (default: registry or name)")
    i.add_argument("--registry", type=Path, help="sensor registry TOML")
    i.add_argument("--after", choices=spool.AFTER_POLICIES, default="keep",
                   help="what to do with ingested files (keep)")
    i.add_argument("--archive", type=Path, help="archive directory for --after archive")
    i.add_argument("--quiet-seconds", type=float, default=120.0,
                   help="newest file counts as closed after this long unchanged (120)")
    i.add_argument("--poll-seconds", type=float, default=10.0, help="seconds between passes")
    i.add_argument("--once", action="store_true", help="one pass, then exit")
    i.set_defaults(func=run_ingest)

    r = s.add_parser("respond", help="the responsive sensor: record first payloads")
    r.add_argument("--sensor", required=True, help="sensor id")
    r.add_argument("--listen", action="append", default=[], metavar="ADDR:PORT",
                   help="endpoint to listen on (repeat)")
    r.add_argument("--address", action="append", default=[], help="address for --ports")
    r.add_argument("--ports", default="", help="comma-separated ports to listen on per address")
    r.add_argument("--redirect", action="store_true",
                   help="recover the original destination (nftables redirect to this port)")
    r.add_argument("--out", required=True, type=Path, help="segment directory")
    d = respond.Params()
    r.add_argument("--max-bytes", type=int, default=d.max_bytes)
    r.add_argument("--wait", type=float, default=d.wait_seconds, help="seconds to wait for data")
    r.add_argument("--max-connections", type=int, default=d.max_connections)
    r.add_argument("--per-source-rate", type=float, default=d.per_source_rate)
    r.add_argument("--per-source-burst", type=int, default=d.per_source_burst)
    r.add_argument("--budget-mb", type=int, default=d.budget_bytes >> 20,
                   help="disk budget of the segment directory")
    r.add_argument("--flush-seconds", type=float, default=d.flush_seconds)
    r.add_argument("--duration", type=float, help="stop after this many seconds")
    r.set_defaults(func=run_respond)

    y = s.add_parser("payloads", help="load responder segments into a store, show tables")
    y.add_argument("--store", required=True, type=Path, help="store directory")
    y.add_argument("--segments", type=Path, help="responder segment directory to load")
    y.add_argument("--delete", action="store_true", help="delete segments once stored")
    y.add_argument("--top", type=int, default=10, help="rows per table (10)")
    y.set_defaults(func=run_payloads)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")


def _on_signals(stop: Any) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop())


def run_capture(args: argparse.Namespace) -> int:
    """``teiten sensor capture``."""
    _logging()
    reg = Registry.load(args.registry) if args.registry else None
    params = capture.Params(
        rotate_seconds=args.rotate, rotate_megabytes=args.rotate_mb, snaplen=args.snaplen,
        buffer_kib=args.buffer_kib, packet_buffered=args.packet_buffered,
        both_directions=args.both_directions, stats_seconds=args.stats_seconds,
        tcpdump=args.tcpdump)
    driver = capture.CaptureDriver(args.interface, capture.sensor_for(args.sensor, reg),
                                   args.spool, params)
    _on_signals(driver.stop)
    restarts = driver.run()
    print(f"capture stopped after {restarts} restart(s)")
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    """``teiten sensor ingest``."""
    _logging()
    reg = Registry.load(args.registry) if args.registry else None
    params = spool.Params(quiet_seconds=args.quiet_seconds, poll_seconds=args.poll_seconds,
                          after=args.after, archive_dir=args.archive)
    follower = spool.SpoolFollower(args.spool, args.store, sensor=args.sensor, registry=reg,
                                   params=params)
    _on_signals(follower.stop)
    s = follower.follow(once=args.once)
    print(f"spool: {s.ingested} ingested, {s.duplicates} already stored, {s.failed} failed, "
          f"{s.packets:,} packets, {s.health_rows} health rows")
    return 3 if s.failed else 0


def run_respond(args: argparse.Namespace) -> int:
    """``teiten sensor respond``."""
    _logging()
    endpoints = [respond.parse_endpoint(e) for e in args.listen]
    ports = [int(p) for p in args.ports.split(",") if p.strip()]
    endpoints += [(a, p) for a in (args.address or ["0.0.0.0"]) for p in ports]
    params = respond.Params(
        max_bytes=args.max_bytes, wait_seconds=args.wait, max_connections=args.max_connections,
        per_source_rate=args.per_source_rate, per_source_burst=args.per_source_burst,
        budget_bytes=args.budget_mb << 20, flush_seconds=args.flush_seconds)
    responder = respond.Responder(args.sensor, endpoints, args.out, params,
                                  redirected=args.redirect)
    st = respond.run(responder, args.duration)
    print(f"responder: {st.accepted} accepted, {st.recorded} recorded, "
          f"{st.reset_busy} reset (busy), {st.reset_rate} reset (rate), "
          f"{st.dropped_records} records dropped, {st.segments_written} segments written, "
          f"{st.segments_deleted} deleted for the budget")
    return 0


def run_payloads(args: argparse.Namespace) -> int:
    """``teiten sensor payloads``."""
    if args.segments is not None:
        store = create_store(args.store)
        n, added = payloads.load_segments(args.segments, store, delete=args.delete)
        print(f"payloads: {n} segments, {added} new rows")
    else:
        store = open_store(args.store)
    table = payloads.read_payloads(store)
    for title, t in (("by protocol", payloads.by_protocol(table)),
                     ("by port", payloads.by_port(table, args.top)),
                     ("top User-Agents", payloads.top_user_agents(table, args.top)),
                     ("TNS PROGRAM", payloads.tns_programs(table, args.top))):
        print(f"\n{title}")
        for row in t.to_pylist():
            print("  " + "  ".join(str(v) for v in row.values()))
    return 0

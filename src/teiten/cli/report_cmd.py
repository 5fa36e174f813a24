"""``teiten report``: the monthly situation report (HTML, PDF, Markdown; Japanese, English).

Reads the statistics from the store's rollups, and the detection and signature results stored
by ``teiten detect`` / signature runs (computing those that are missing unless
``--no-detections``), then writes one file per language and format and prints their paths.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from teiten.core.periods import DEFAULT_TZ

LANGS = ("ja", "en")
FORMATS = ("html", "pdf", "md")


def register(sub: Any) -> None:
    """Add the ``report`` sub-command."""
    p: argparse.ArgumentParser = sub.add_parser(
        "report", help="the monthly situation report (HTML/PDF/Markdown, ja/en)")
    p.add_argument("--store", required=True, type=Path, help="the packet store")
    p.add_argument("--period", required=True,
                   help="2026-10, 2026-Q4, 2026-H2, 2026-10-01..2026-10-15 …")
    p.add_argument("--tz", default=DEFAULT_TZ,
                   help=f"time zone of the observation days (default {DEFAULT_TZ})")
    p.add_argument("--lang", choices=[*LANGS, "all"], default="all")
    p.add_argument("--format", choices=[*FORMATS, "all"], default="html")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--no-detections", action="store_true",
                   help="use stored detection/signature results only; do not compute missing ones")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Collect the facts once, then compose and write each language and format."""
    from teiten.core.periods import parse_period
    from teiten.report.build import collect
    from teiten.report.compose import compose
    from teiten.report.render import write_report
    from teiten.store import open_store

    period = parse_period(args.period, tz=args.tz)
    store = open_store(args.store)
    t0 = time.perf_counter()
    facts = collect(store, period, detections=not args.no_detections)
    for key, reason in sorted(facts.reasons.items()):
        print(f"teiten report: {key}: not analysed ({reason})", file=sys.stderr)
    langs = LANGS if args.lang == "all" else (args.lang,)
    formats = FORMATS if args.format == "all" else (args.format,)
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for lang in langs:
        paths = write_report(compose(facts, lang, generated_at=generated), args.out, formats)
        for fmt in formats:
            print(paths[fmt])
    print(f"teiten report: {period.label} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0
